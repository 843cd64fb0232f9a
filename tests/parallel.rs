//! Reads side by side (`max_in_flight`): never more requests at once than allowed, counted
//! by the simulator itself; a vendor rate-limiting a third of the requests slows the source
//! down without failing it and never sees a request before the `Retry-After` it gave; and
//! the snapshot is the same as a read one request at a time.

mod common;

use std::time::Duration;

use backup_exporter::Clock;
use backup_exporter::simulator::code42::Code42Options;
use backup_exporter::simulator::druva::DruvaOptions;
use backup_exporter::simulator::{Fault, FaultRule, SimulatorOptions};
use common::{Harness, Metrics, NOW_MS, code42_yaml, druva_yaml};

fn options(latency_ms: u64) -> SimulatorOptions {
    SimulatorOptions::default()
        .with(Code42Options {
            devices: 600,
            ..Code42Options::default()
        })
        .with(DruvaOptions {
            users: 200,
            ..DruvaOptions::default()
        })
        .with_latency(Duration::from_millis(latency_ms))
}

/// One source of `vendor` with `extra` settings (small pages, so there are many).
async fn start(vendor: &str, latency_ms: u64, extra: &str) -> Harness {
    start_paged(
        vendor,
        latency_ms,
        if vendor == "code42" { 25 } else { 50 },
        extra,
    )
    .await
}

async fn start_paged(vendor: &str, latency_ms: u64, page_size: u32, extra: &str) -> Harness {
    let (vendor, extra) = (
        vendor.to_string(),
        format!("    page_size: {page_size}\n{extra}"),
    );
    Harness::start(
        options(latency_ms),
        Clock::manual(NOW_MS),
        move |url, secret| {
            if vendor == "code42" {
                code42_yaml(url, secret, &extra)
            } else {
                druva_yaml(url, secret, &extra)
            }
        },
    )
    .await
}

/// The snapshot's data: every series but the exporter's own bookkeeping.
fn data(metrics: &Metrics) -> Vec<String> {
    let mut lines: Vec<String> = metrics
        .0
        .iter()
        .filter(|s| {
            !s.name.starts_with("backup_source_") && !s.name.starts_with("backup_exporter_")
        })
        .map(|s| format!("{} {:?} {}", s.name, s.labels, s.value))
        .collect();
    lines.sort();
    lines
}

const SOURCES: [(&str, &str); 2] = [("code42", "crashplan-us"), ("druva", "druva-m365")];

#[tokio::test(flavor = "multi_thread")]
async fn never_more_requests_at_once_than_max_in_flight() {
    for (vendor, source) in SOURCES {
        let harness = start(vendor, 40, "    max_in_flight: 3\n").await;
        let status = harness.source(source).status();
        assert!(status.up, "{vendor}: {:?}", status.last_error);
        let peak = harness.sim.simulator.peak_concurrent_requests();
        assert!(
            (2..=3).contains(&peak),
            "{vendor}: {peak} requests at once (max_in_flight 3)"
        );
        harness.stop().await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn parallel_reads_give_the_same_snapshot_as_one_at_a_time() {
    for (vendor, source) in SOURCES {
        let one = start(vendor, 5, "    max_in_flight: 1\n").await;
        let many = start(vendor, 5, "    max_in_flight: 8\n").await;
        assert!(one.source(source).status().up && many.source(source).status().up);
        assert_eq!(one.sim.simulator.peak_concurrent_requests(), 1, "{vendor}");
        assert!(
            many.sim.simulator.peak_concurrent_requests() > 1,
            "{vendor}"
        );
        let (a, b) = (data(&one.metrics().await), data(&many.metrics().await));
        assert!(a.len() > 500, "{vendor}: {} series", a.len());
        assert_eq!(a, b, "{vendor}");
        one.stop().await;
        many.stop().await;
    }
}

/// A third of the requests answered 429 with `Retry-After: 1`: the whole source waits,
/// every request is sent again, and the values are those of an undisturbed read.
#[tokio::test(flavor = "multi_thread")]
async fn rate_limiting_slows_the_source_down_without_failing_it() {
    for (vendor, source) in SOURCES {
        // Large pages: each 429 pauses the source a second.
        let calm = start_paged(vendor, 0, 500, "").await;
        let limited = start_paged(vendor, 0, 500, "").await;
        limited.sim.simulator.faults.add(
            FaultRule::new(Fault::Status {
                status: 429,
                retry_after: Some(1),
            })
            .every(3),
        );
        let status = limited.refresh(source).await;
        assert!(status.up, "{vendor}: {:?}", status.last_error);
        let metrics = limited.metrics().await;
        let code = |code: &str| {
            metrics
                .find(
                    "backup_source_api_requests_total",
                    &[("source", source), ("code", code)],
                )
                .iter()
                .map(|s| s.value)
                .sum::<f64>()
        };
        assert!(code("429") >= 1.0, "{vendor}: {} answered 429", code("429"));
        assert_eq!(
            limited.sim.simulator.requests_before_retry_after(),
            0,
            "{vendor}: a request arrived before the Retry-After"
        );
        assert_eq!(data(&metrics), data(&calm.metrics().await), "{vendor}");
        calm.stop().await;
        limited.stop().await;
    }
}
