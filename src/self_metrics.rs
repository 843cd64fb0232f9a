//! The exporter's own metrics (build, sources' refresh health, upstream requests), encoded
//! with prometheus-client on every scrape. Snapshot data is written by [`crate::exposition`].

use std::sync::atomic::AtomicU64;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::engine::{SourceHandle, SourceList};
use crate::exposition::Format;
use crate::source::SkipReason;

pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Set by build.rs from git (or the BACKUP_EXPORTER_REVISION variable at build time).
pub const REVISION: &str = env!("BACKUP_EXPORTER_REVISION");

/// Outcome of configuration reloads (SIGHUP, `POST /-/reload`).
#[derive(Debug, Clone, Default)]
pub struct ReloadMetrics {
    pub successful: Gauge,
    pub last_success_seconds: Gauge<f64, AtomicU64>,
}

impl ReloadMetrics {
    /// The configuration the exporter started with counts as the last successful load.
    pub fn loaded_at(clock: &crate::clock::Clock) -> ReloadMetrics {
        let metrics = ReloadMetrics::default();
        metrics.successful.set(1);
        metrics
            .last_success_seconds
            .set(clock.now_ms() as f64 / 1000.0);
        metrics
    }
}

/// Builds the registry of the exporter's own metrics.
pub fn registry(sources: SourceList, reload: &ReloadMetrics) -> Registry {
    let mut registry = Registry::default();
    registry.register(
        "backup_exporter_build",
        "Version and git revision of backup-exporter; value is always 1",
        Info::new(vec![("version", VERSION), ("revision", REVISION)]),
    );
    registry.register(
        "backup_exporter_config_last_reload_successful",
        "1 if the last configuration reload succeeded (or none was attempted), 0 if it failed and the previous configuration is still in use",
        reload.successful.clone(),
    );
    registry.register(
        "backup_exporter_config_last_reload_success_timestamp_seconds",
        "Unix time of the last successful configuration load",
        reload.last_success_seconds.clone(),
    );
    registry.register_collector(Box::new(SourceCollector { sources }));
    registry
}

/// Encodes the registry in the negotiated format, without the OpenMetrics `# EOF` (the
/// snapshot families follow).
pub fn encode(registry: &Registry, format: Format) -> String {
    let mut out = String::new();
    let result = match format {
        Format::Text => prometheus_client::encoding::prometheus_text::encode(&mut out, registry),
        Format::OpenMetrics { .. } => {
            prometheus_client::encoding::text::encode_registry(&mut out, registry)
        }
    };
    result.expect("writing to a String cannot fail");
    out
}

#[derive(Debug)]
struct SourceCollector {
    sources: SourceList,
}

/// Labels of a source-level series: `source`, the given ones, then the source's own labels.
fn labels<'a>(source: &'a SourceHandle, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut labels = vec![("source", source.spec.name.as_str())];
    labels.extend_from_slice(extra);
    labels.extend(
        source
            .spec
            .labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str())),
    );
    labels
}

impl Collector for SourceCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let sources = self.sources.load();
        let statuses: Vec<_> = sources.iter().map(|s| (s, s.status())).collect();

        let mut family = encoder.encode_descriptor(
            "backup_source_up",
            "1 if the last refresh of the source succeeded, else 0.",
            None,
            MetricType::Gauge,
        )?;
        for (source, status) in &statuses {
            let labels = labels(source, &[("vendor", source.spec.vendor.name())]);
            ConstGauge::new(i64::from(status.up)).encode(family.encode_family(&labels)?)?;
        }

        let mut family = encoder.encode_descriptor(
            "backup_source_last_success_timestamp_seconds",
            "Unix time when the last successful refresh finished; absent until one has.",
            None,
            MetricType::Gauge,
        )?;
        for (source, status) in &statuses {
            if let Some(ms) = status.last_success_ms {
                ConstGauge::new(ms as f64 / 1000.0)
                    .encode(family.encode_family(&labels(source, &[]))?)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "backup_source_refresh_duration_seconds",
            "Duration of the last refresh, successful or not.",
            None,
            MetricType::Gauge,
        )?;
        for (source, status) in &statuses {
            if let Some(duration) = status.last_duration {
                ConstGauge::new(duration.as_secs_f64())
                    .encode(family.encode_family(&labels(source, &[]))?)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "backup_source_refresh_interval_seconds",
            "Configured refresh interval of the source.",
            None,
            MetricType::Gauge,
        )?;
        for (source, _) in &statuses {
            ConstGauge::new(source.spec.refresh_interval.as_secs_f64())
                .encode(family.encode_family(&labels(source, &[]))?)?;
        }

        let mut family = encoder.encode_descriptor(
            "backup_source_refresh_failures",
            "Refreshes that failed (the last good data stays served).",
            None,
            MetricType::Counter,
        )?;
        for (source, status) in &statuses {
            ConstCounter::new(status.failures_total)
                .encode(family.encode_family(&labels(source, &[]))?)?;
        }

        let mut family = encoder.encode_descriptor(
            "backup_source_api_requests",
            "HTTP requests to the vendor API by endpoint and status code (\"error\" when no response arrived).",
            None,
            MetricType::Counter,
        )?;
        let counts: Vec<_> = statuses
            .iter()
            .map(|(source, _)| source.requests.counts())
            .collect();
        for ((source, _), counts) in statuses.iter().zip(&counts) {
            for (endpoint, code, count) in &counts.requests {
                let labels = labels(source, &[("endpoint", endpoint), ("code", code)]);
                ConstCounter::new(*count).encode(family.encode_family(&labels)?)?;
            }
        }

        let mut family = encoder.encode_descriptor(
            "backup_source_response_bytes",
            "Bytes of vendor API response bodies received.",
            None,
            MetricType::Counter,
        )?;
        for ((source, _), counts) in statuses.iter().zip(&counts) {
            ConstCounter::new(counts.response_bytes)
                .encode(family.encode_family(&labels(source, &[]))?)?;
        }

        let mut family = encoder.encode_descriptor(
            "backup_source_rows_skipped",
            "Report rows skipped because they were malformed, by reason.",
            None,
            MetricType::Counter,
        )?;
        for (source, status) in &statuses {
            for reason in SkipReason::ALL {
                let labels = labels(source, &[("reason", reason.as_str())]);
                ConstCounter::new(status.rows_skipped.get(reason))
                    .encode(family.encode_family(&labels)?)?;
            }
        }

        for (name, help, value) in [
            (
                "backup_source_last_refresh_requests",
                "HTTP requests the last refresh made to the vendor (tokens included).",
                (|s: &crate::engine::Status| s.last_cost.requests)
                    as fn(&crate::engine::Status) -> u64,
            ),
            (
                "backup_source_last_refresh_response_bytes",
                "Bytes of vendor responses the last refresh read.",
                |s| s.last_cost.response_bytes,
            ),
            (
                "backup_source_last_refresh_pages",
                "Report and event pages the last refresh read.",
                |s| s.last_cost.pages,
            ),
        ] {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (source, status) in statuses.iter().filter(|(_, s)| s.attempted) {
                ConstGauge::new(value(status) as i64)
                    .encode(family.encode_family(&labels(source, &[]))?)?;
            }
        }

        let snapshots: Vec<_> = statuses
            .iter()
            .filter_map(|(source, _)| Some((*source, source.snapshot()?)))
            .collect();
        for (name, help, value) in [
            (
                "backup_source_series",
                "Series the source's current snapshot exposes.",
                (|e: &crate::exposition::Exposition| e.series_count())
                    as fn(&crate::exposition::Exposition) -> usize,
            ),
            (
                "backup_source_series_dropped",
                "Per-device and per-resource series left out because max_series was reached.",
                |e| e.dropped_series(),
            ),
        ] {
            let mut family = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
            for (source, snapshot) in &snapshots {
                ConstGauge::new(value(&snapshot.exposition) as i64)
                    .encode(family.encode_family(&labels(source, &[]))?)?;
            }
        }
        Ok(())
    }
}
