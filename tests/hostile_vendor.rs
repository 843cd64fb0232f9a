//! A vendor endpoint that is broken or hostile: absurd token lifetimes, reports that never
//! end, pages of rows that are not rows. Each fails at most one refresh, the last good data
//! stays served, and the source keeps refreshing.

mod common;

use backup_exporter::simulator::{Fault, FaultRule, SimulatorOptions};
use backup_exporter::{Clock, RefreshError};
use common::{Harness, NOW_MS, code42_yaml, druva_yaml};

const HOUR: i64 = 3_600_000;

async fn both(code42: &str, druva: &str) -> Harness {
    let (code42, druva) = (code42.to_string(), druva.to_string());
    Harness::start(
        SimulatorOptions::default(),
        Clock::manual(NOW_MS),
        move |url, secret| {
            code42_yaml(url, secret, &code42)
                + druva_yaml(url, secret, &format!("{druva}    events: none\n"))
                    .trim_start_matches("sources:\n")
        },
    )
    .await
}

/// `"expires_in": 9223372036854775807` (Code42) or 1e19 (Druva) once panicked the refresh
/// task, freezing the source while it still showed up.
#[tokio::test(flavor = "multi_thread")]
async fn absurd_token_lifetimes_leave_both_sources_refreshing() {
    let harness = both("", "").await;
    for lifetime in [i64::MAX as u64, 10_000_000_000_000_000_000] {
        harness.sim.simulator.tokens.revoke_all();
        harness.sim.simulator.tokens.set_lifetime(Some(lifetime));
        for round in 0..3 {
            harness.clock.advance_ms(HOUR);
            for source in ["crashplan-us", "druva-m365"] {
                let before = harness.source(source).status().attempts;
                let status = harness.refresh(source).await;
                assert!(
                    status.up,
                    "{source}, lifetime {lifetime}, round {round}: {:?}",
                    status.last_error
                );
                assert!(status.attempts > before);
                assert_eq!(status.failures_total, 0);
            }
        }
    }
    harness.stop().await;
}

async fn assert_fails_and_keeps_the_data(
    harness: &Harness,
    source: &str,
    fault: FaultRule,
    expected: impl Fn(&RefreshError) -> bool,
) {
    let series = |m: &common::Metrics| {
        m.0.iter()
            .filter(|s| s.labels.get("source").is_some_and(|v| v == source))
            .filter(|s| !s.name.starts_with("backup_source_") && !s.name.ends_with("_seconds"))
            .count()
    };
    let before = harness.metrics().await;
    let requests = harness.sim.simulator.requests();
    harness.sim.simulator.faults.add(fault);
    let status = harness.refresh(source).await;
    assert!(!status.up, "{source}");
    let error = status.last_error.unwrap();
    assert!(expected(&error), "{source}: {error}");
    // A vendor that never ends a report is left within the source's page limit. Druva's
    // other reports are read side by side meanwhile, so its refresh sends more requests.
    let sent = harness.sim.simulator.requests() - requests;
    let most = if source.starts_with("druva") { 60 } else { 30 };
    assert!(sent < most, "{source}: stopped early ({sent} requests)");
    assert_eq!(
        series(&harness.metrics().await),
        series(&before),
        "{source}"
    );
    harness.sim.simulator.faults.clear();
    assert!(harness.refresh(source).await.up, "{source} recovers");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_report_without_end_fails_the_refresh_at_its_limit() {
    // Limits above what the simulated tenants need (260 rows; 40 pages, 3,000 rows).
    let harness = both(
        "    max_rows: 2600\n",
        "    max_pages: 60\n    max_rows: 9000\n",
    )
    .await;
    assert_fails_and_keeps_the_data(
        &harness,
        "crashplan-us",
        FaultRule::new(Fault::EndlessPages).on("DeviceBackupReport"),
        |e| {
            matches!(e, RefreshError::Paging { detail, .. } if detail.contains("more than 2600 rows in one refresh (the source's max_rows)"))
        },
    )
    .await;
    assert_fails_and_keeps_the_data(
        &harness,
        "druva-m365",
        FaultRule::new(Fault::EndlessPages).on("m365UserWorkload"),
        |e| {
            matches!(e, RefreshError::Paging { detail, .. } if detail.contains("more than 9000 rows"))
        },
    )
    .await;
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_page_of_rows_that_are_not_rows_is_an_error_not_more_data() {
    let harness = both("", "").await;
    let unreadable = |e: &RefreshError| matches!(e, RefreshError::Decode { detail, .. } if detail.contains("not one the exporter can read"));
    assert_fails_and_keeps_the_data(
        &harness,
        "crashplan-us",
        FaultRule::new(Fault::UnreadableRows).on("DeviceBackupReport"),
        unreadable,
    )
    .await;
    assert_fails_and_keeps_the_data(
        &harness,
        "druva-m365",
        FaultRule::new(Fault::UnreadableRows).on("m365TeamsDiscovery"),
        unreadable,
    )
    .await;
    harness.stop().await;
}
