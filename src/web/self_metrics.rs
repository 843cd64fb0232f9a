//! The exporter's own metrics (build, configuration reloads, each source's refresh health
//! and upstream cost), encoded with prometheus-client on every scrape. Snapshot data is
//! written by [`crate::exposition`].

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::Registry;

use crate::engine::reload::ReloadMetrics;
use crate::engine::{RefreshStatus, Snapshot, SourceHandle, SourceList};
use crate::exposition::Format;
use crate::sources::SkipReason;
use crate::sources::http::RequestCounts;

pub(crate) const VERSION: &str = env!("CARGO_PKG_VERSION");
/// Set by build.rs from git (or the BACKUP_EXPORTER_REVISION variable at build time).
pub(crate) const REVISION: &str = env!("BACKUP_EXPORTER_REVISION");

/// Builds the registry of the exporter's own metrics.
pub(crate) fn registry(sources: SourceList, reload: &ReloadMetrics) -> Registry {
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
pub(crate) fn encode(registry: &Registry, format: Format) -> String {
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

/// A source as its metrics see it during one scrape.
struct View<'a> {
    source: &'a SourceHandle,
    status: RefreshStatus,
    requests: RequestCounts,
    snapshot: Option<std::sync::Arc<Snapshot>>,
}

/// A sample's value.
enum Number {
    Int(i64),
    Float(f64),
    Count(u64),
}

/// A sample of a source-level family: its labels besides `source` and the source's own,
/// and its value.
type Sample = (Vec<(&'static str, String)>, Number);

/// A family of source-level series, and how a source's samples are read.
struct SourceFamily {
    name: &'static str,
    help: Help,
    kind: MetricType,
    samples: fn(&View) -> Vec<Sample>,
}

/// A HELP text: fixed, or written from the vendors of the build.
enum Help {
    Fixed(&'static str),
    OfVendors(fn() -> String),
}

impl Help {
    fn text(&self) -> std::borrow::Cow<'static, str> {
        match self {
            Help::Fixed(text) => (*text).into(),
            Help::OfVendors(write) => write().into(),
        }
    }
}

/// One unlabelled sample, or none.
fn one(value: Option<Number>) -> Vec<Sample> {
    value.map(|v| (Vec::new(), v)).into_iter().collect()
}

/// Every source-level family, in the order they are written.
const SOURCE_FAMILIES: &[SourceFamily] = &[
    SourceFamily {
        name: "backup_source_up",
        help: Help::Fixed("1 if the last refresh of the source succeeded, else 0."),
        kind: MetricType::Gauge,
        samples: |v| {
            let vendor = v.source.spec.vendor.name().to_string();
            vec![(
                vec![("vendor", vendor)],
                Number::Int(i64::from(v.status.up)),
            )]
        },
    },
    SourceFamily {
        name: "backup_source_last_success_timestamp_seconds",
        help: Help::Fixed(
            "Unix time when the last successful refresh finished; absent until one has.",
        ),
        kind: MetricType::Gauge,
        samples: |v| {
            one(v
                .status
                .last_success_ms
                .map(|ms| Number::Float(ms as f64 / 1000.0)))
        },
    },
    SourceFamily {
        name: "backup_source_start_timestamp_seconds",
        help: Help::Fixed(
            "Unix time when this exporter started serving the source (at its own start, or when a reload added or changed the source). Without backup_source_last_success_timestamp_seconds, the source has had no data since then.",
        ),
        kind: MetricType::Gauge,
        samples: |v| one(Some(Number::Float(v.source.started_ms as f64 / 1000.0))),
    },
    SourceFamily {
        name: "backup_source_stream_up",
        help: Help::OfVendors(|| {
            format!(
                "1 if the last read of the source's stream succeeded, else 0: {}. Streams fail alone: failing events keep the reports fresh; backup_source_up follows the primary stream ({}).",
                crate::engine::vendor_parts(|v| v.streams).join(", "),
                crate::engine::vendor_parts(|v| v.primary_stream).join(", "),
            )
        }),
        kind: MetricType::Gauge,
        samples: |v| {
            v.status
                .streams
                .iter()
                .map(|(stream, s)| {
                    (
                        vec![("stream", stream.to_string())],
                        Number::Int(i64::from(s.up)),
                    )
                })
                .collect()
        },
    },
    SourceFamily {
        name: "backup_source_stream_last_success_timestamp_seconds",
        help: Help::Fixed(
            "Unix time of the last successful read of the source's stream; absent until one.",
        ),
        kind: MetricType::Gauge,
        samples: |v| {
            v.status
                .streams
                .iter()
                .filter_map(|(stream, s)| {
                    let ms = s.last_success_ms?;
                    Some((
                        vec![("stream", stream.to_string())],
                        Number::Float(ms as f64 / 1000.0),
                    ))
                })
                .collect()
        },
    },
    SourceFamily {
        name: "backup_source_refresh_duration_seconds",
        help: Help::Fixed("Duration of the last refresh, successful or not."),
        kind: MetricType::Gauge,
        samples: |v| {
            one(v
                .status
                .last_duration
                .map(|d| Number::Float(d.as_secs_f64())))
        },
    },
    SourceFamily {
        name: "backup_source_refresh_interval_seconds",
        help: Help::Fixed("Configured refresh interval of the source."),
        kind: MetricType::Gauge,
        samples: |v| {
            one(Some(Number::Float(
                v.source.spec.refresh_interval.as_secs_f64(),
            )))
        },
    },
    SourceFamily {
        name: "backup_source_refresh_failures",
        help: Help::Fixed("Refreshes that failed (the last good data stays served)."),
        kind: MetricType::Counter,
        samples: |v| one(Some(Number::Count(v.status.failures_total))),
    },
    SourceFamily {
        name: "backup_source_api_requests",
        help: Help::Fixed(
            "HTTP requests to the vendor API by endpoint and status code (\"error\" when no response arrived).",
        ),
        kind: MetricType::Counter,
        samples: |v| {
            v.requests
                .requests
                .iter()
                .map(|(endpoint, code, count)| {
                    (
                        vec![("endpoint", endpoint.clone()), ("code", code.clone())],
                        Number::Count(*count),
                    )
                })
                .collect()
        },
    },
    SourceFamily {
        name: "backup_source_response_bytes",
        help: Help::Fixed("Bytes of vendor API response bodies received."),
        kind: MetricType::Counter,
        samples: |v| one(Some(Number::Count(v.requests.response_bytes))),
    },
    SourceFamily {
        name: "backup_source_rows_skipped",
        help: Help::Fixed("Report rows skipped because they were malformed, by reason."),
        kind: MetricType::Counter,
        samples: |v| {
            SkipReason::ALL
                .iter()
                .map(|reason| {
                    (
                        vec![("reason", reason.as_str().to_string())],
                        Number::Count(v.status.rows_skipped.get(*reason)),
                    )
                })
                .collect()
        },
    },
    SourceFamily {
        name: "backup_source_values_skipped",
        help: Help::Fixed(
            "Values left out of rows that were otherwise kept, because they could not be read (a date in an unknown format, a number that is not one), by the field's wire name.",
        ),
        kind: MetricType::Counter,
        samples: |v| {
            v.status
                .rows_skipped
                .values()
                .map(|(field, count)| (vec![("field", field.to_string())], Number::Count(count)))
                .collect()
        },
    },
    SourceFamily {
        name: "backup_source_last_refresh_requests",
        help: Help::Fixed("HTTP requests the last refresh made to the vendor (tokens included)."),
        kind: MetricType::Gauge,
        samples: |v| {
            one(v
                .status
                .attempted
                .then_some(Number::Int(v.status.last_cost.requests as i64)))
        },
    },
    SourceFamily {
        name: "backup_source_last_refresh_response_bytes",
        help: Help::Fixed("Bytes of vendor responses the last refresh read."),
        kind: MetricType::Gauge,
        samples: |v| {
            one(v
                .status
                .attempted
                .then_some(Number::Int(v.status.last_cost.response_bytes as i64)))
        },
    },
    SourceFamily {
        name: "backup_source_last_refresh_pages",
        help: Help::Fixed("Report and event pages the last refresh read."),
        kind: MetricType::Gauge,
        samples: |v| {
            one(v
                .status
                .attempted
                .then_some(Number::Int(v.status.last_cost.pages as i64)))
        },
    },
    SourceFamily {
        name: "backup_source_series",
        help: Help::Fixed("Series the source's current snapshot exposes."),
        kind: MetricType::Gauge,
        samples: |v| {
            one(v
                .snapshot
                .as_ref()
                .map(|s| Number::Int(s.exposition.series_count() as i64)))
        },
    },
    SourceFamily {
        name: "backup_source_series_dropped",
        help: Help::Fixed(
            "Per-device and per-resource series left out because max_series was reached.",
        ),
        kind: MetricType::Gauge,
        samples: |v| {
            one(v
                .snapshot
                .as_ref()
                .map(|s| Number::Int(s.exposition.dropped_series() as i64)))
        },
    },
];

#[derive(Debug)]
struct SourceCollector {
    sources: SourceList,
}

impl Collector for SourceCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let sources = self.sources.load();
        let views: Vec<View> = sources
            .iter()
            .map(|source| View {
                source,
                status: source.status(),
                requests: source.requests.counts(),
                snapshot: source.snapshot(),
            })
            .collect();
        for family in SOURCE_FAMILIES {
            let mut encoder =
                encoder.encode_descriptor(family.name, &family.help.text(), None, family.kind)?;
            for view in &views {
                for (extra, value) in (family.samples)(view) {
                    // `source`, the family's own labels, then the source's configured ones.
                    let mut labels: Vec<(&str, &str)> = vec![("source", &view.source.spec.name)];
                    labels.extend(extra.iter().map(|(k, v)| (*k, v.as_str())));
                    labels.extend(
                        view.source
                            .spec
                            .labels
                            .iter()
                            .map(|(k, v)| (k.as_str(), v.as_str())),
                    );
                    let metric = encoder.encode_family(&labels)?;
                    match value {
                        Number::Int(v) => ConstGauge::new(v).encode(metric)?,
                        Number::Float(v) => ConstGauge::new(v).encode(metric)?,
                        Number::Count(v) => ConstCounter::new(v).encode(metric)?,
                    }
                }
            }
        }
        Ok(())
    }
}
