//! The Code42 client against the simulator: every value matches the tenant's ground truth,
//! paging and authentication work in all their variants, and every fault keeps the last
//! good snapshot served with `backup_source_up` 0.
#![cfg(feature = "code42")]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use backup_exporter::Clock;
use backup_exporter::RefreshError;
use backup_exporter::simulator::code42::{Code42Options, ValueStyle};
use backup_exporter::simulator::{DateStyle, Fault, FaultRule, SimulatorOptions};
use common::{Harness, Metrics, NOW_MS, code42_yaml, ms};

const SOURCE: &str = "crashplan-us";

fn options(devices: usize, values: ValueStyle, dates: DateStyle) -> SimulatorOptions {
    SimulatorOptions::default().with(Code42Options {
        devices,
        values,
        dates,
        ..Code42Options::default()
    })
}

async fn start(options: SimulatorOptions, extra: &str) -> Harness {
    let extra = extra.to_string();
    Harness::start(options, Clock::manual(NOW_MS), move |url, secret| {
        code42_yaml(url, secret, &extra)
    })
    .await
}

/// The `org` label a row's device should carry: the org's name, or its uid when the report
/// names only that.
fn org_label(row: &backup_exporter::simulator::code42::ArchiveTruth) -> &str {
    if row.org_named {
        &row.org
    } else {
        &row.org_uid
    }
}

/// Compares every archive, device, org and alert count with the simulator's ground truth.
fn assert_matches_truth(metrics: &Metrics, harness: &Harness) {
    let now = harness.clock.now_ms();
    let truth: Vec<_> = harness
        .sim
        .simulator
        .code42()
        .truth(now)
        .into_iter()
        .filter(|row| row.active)
        .collect();
    assert!(!truth.is_empty());
    let source = ("source", SOURCE);
    for row in &truth {
        let archive = [
            source,
            ("device_uid", row.device_uid.as_str()),
            ("destination", row.destination.as_str()),
        ];
        let get = |name: &str| metrics.get(name, &archive);
        let context = format!("{} → {}", row.device_uid, row.destination);
        match row.last_completed_ms {
            // Completed, but the date is unreadable: unknown, neither aged nor "never".
            Some(_) if row.completion_unreadable => {
                for name in [
                    "backup_device_last_completed_backup_timestamp_seconds",
                    "backup_device_backup_age_seconds",
                    "backup_device_never_completed",
                ] {
                    assert_eq!(get(name), None, "{context}: {name}");
                }
            }
            Some(completed) => {
                assert_eq!(
                    get("backup_device_last_completed_backup_timestamp_seconds").map(ms),
                    Some(completed),
                    "{context}"
                );
                assert_eq!(
                    get("backup_device_backup_age_seconds").map(ms),
                    Some(now - completed),
                    "{context}"
                );
                assert_eq!(get("backup_device_never_completed"), None, "{context}");
            }
            None => {
                assert_eq!(
                    get("backup_device_last_completed_backup_timestamp_seconds"),
                    None,
                    "{context}"
                );
                assert_eq!(
                    get("backup_device_backup_age_seconds").map(ms),
                    Some(now - row.creation_ms),
                    "{context}"
                );
                assert_eq!(get("backup_device_never_completed"), Some(1.0), "{context}");
            }
        }
        assert_eq!(
            get("backup_device_last_activity_timestamp_seconds").map(ms),
            row.last_activity_ms,
            "{context}"
        );
        assert_eq!(
            get("backup_device_backup_complete_ratio"),
            Some(row.complete_percent / 100.0),
            "{context}"
        );
        assert_eq!(
            get("backup_device_archive_bytes"),
            Some(row.archive_bytes as f64),
            "{context}"
        );
        assert_eq!(
            get("backup_device_selected_bytes"),
            Some(row.selected_bytes as f64),
            "{context}"
        );
        assert_eq!(
            get("backup_device_cold_storage"),
            match row.cold_storage_unknown {
                Some(_) => None,
                None => Some(f64::from(u8::from(row.cold_storage))),
            },
            "{context}"
        );
        let device = [source, ("device_uid", row.device_uid.as_str())];
        assert_eq!(
            metrics
                .get("backup_device_last_connected_timestamp_seconds", &device)
                .map(ms),
            Some(row.last_connected_ms),
            "{context}"
        );
        let info = metrics.find("backup_device_info", &device);
        assert_eq!(info.len(), 1, "{context}");
        let labels = &info[0].labels;
        assert_eq!(labels["org"], org_label(row));
        assert_eq!(labels["device_name"], row.device_name);
        assert_eq!(labels["user"], row.username);
        assert_eq!(labels["os"], row.os);
        assert_eq!(labels["os_version"], row.os_version);
        assert_eq!(labels["app_version"], row.app_version);
    }
    assert_eq!(metrics.count("backup_device_archive_bytes"), truth.len());

    // Org totals and alert counts, computed here from the truth.
    let mut devices: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    let mut bytes: BTreeMap<&str, u64> = BTreeMap::new();
    let mut states: BTreeMap<(&str, &str), BTreeSet<&str>> = BTreeMap::new();
    let mut severities: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for row in &truth {
        devices
            .entry(org_label(row))
            .or_default()
            .insert(&row.device_uid);
        *bytes.entry(org_label(row)).or_default() += row.archive_bytes;
        for state in &row.alert_states {
            states
                .entry((org_label(row), state))
                .or_default()
                .insert(&row.device_uid);
            let severity = if state.starts_with("Critical") {
                "critical"
            } else {
                "warning"
            };
            severities
                .entry(severity)
                .or_default()
                .insert(&row.device_uid);
        }
    }
    for (org, uids) in &devices {
        assert_eq!(
            metrics.get("backup_org_devices", &[source, ("org", org)]),
            Some(uids.len() as f64),
            "{org}"
        );
        assert_eq!(
            metrics.get("backup_org_archive_bytes", &[source, ("org", org)]),
            Some(bytes[org] as f64),
            "{org}"
        );
        for alert in [
            "WarningBackupAlert",
            "CriticalBackupAlert",
            "WarningConnectionAlert",
            "CriticalConnectionAlert",
        ] {
            let expected = states.get(&(*org, alert)).map_or(0, BTreeSet::len);
            assert_eq!(
                metrics.get(
                    "backup_device_alerts",
                    &[source, ("org", org), ("alert", alert)]
                ),
                Some(expected as f64),
                "{org} {alert}"
            );
        }
    }
    for severity in ["warning", "critical"] {
        let expected = severities.get(severity).map_or(0, BTreeSet::len);
        assert!(expected > 0, "the estate should have {severity} devices");
        assert_eq!(
            metrics.get("backup_alerts_active", &[source, ("severity", severity)]),
            Some(expected as f64),
            "{severity}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_value_matches_the_tenant_across_many_pages() {
    let harness = start(
        options(150, ValueStyle::Strings, DateStyle::Utc),
        "    page_size: 7\n",
    )
    .await;
    let status = harness.source(SOURCE).status();
    assert!(status.up, "{:?}", status.last_error);
    let metrics = harness.metrics().await;
    assert_matches_truth(&metrics, &harness);
    // Pages of 7 until an empty one; one token.
    let rows = harness
        .sim
        .simulator
        .code42()
        .truth(NOW_MS)
        .iter()
        .filter(|r| r.active)
        .count();
    let pages = rows.div_ceil(7) + 1;
    let requests = |endpoint: &str| {
        metrics.get(
            "backup_source_api_requests_total",
            &[("source", SOURCE), ("endpoint", endpoint), ("code", "200")],
        )
    };
    // Pages are requested up to max_in_flight (4) ahead: after the empty last page, up to
    // three more may have been asked for.
    let asked = requests("device_backup_report").unwrap() as usize;
    assert!(
        (pages..pages + 4).contains(&asked),
        "{asked} requests for {pages} pages"
    );
    assert_eq!(requests("token"), Some(1.0));
    assert_eq!(
        metrics.get(
            "backup_source_up",
            &[("source", SOURCE), ("vendor", "code42")]
        ),
        Some(1.0)
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn native_values_and_offset_dates_parse_the_same() {
    let harness = start(options(60, ValueStyle::Native, DateStyle::Offset), "").await;
    assert_matches_truth(&harness.metrics().await, &harness);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn on_premises_dates_parse_as_utc() {
    let harness = start(options(60, ValueStyle::Strings, DateStyle::OnPremises), "").await;
    assert_matches_truth(&harness.metrics().await, &harness);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn newer_java_dates_parse_as_utc() {
    let harness = start(options(60, ValueStyle::Strings, DateStyle::JavaMedium), "").await;
    assert_matches_truth(&harness.metrics().await, &harness);
    harness.stop().await;
}

/// Payloads as real tenants send them: the report repeats archives of users with several
/// backup sets (here so many that the last page holds nothing else), and some rows carry a
/// date no parser knows. The source stays up, every archive is served once, the unreadable
/// dates alone are left out and counted.
#[tokio::test(flavor = "multi_thread")]
async fn repeated_rows_and_unreadable_dates_never_take_the_source_down() {
    let mut opts = options(120, ValueStyle::Strings, DateStyle::Utc);
    opts.code42().repeated_rows = 40;
    opts.code42().unreadable_dates = 5;
    let harness = start(opts, "    page_size: 40\n").await;
    let status = harness.source(SOURCE).status();
    assert!(status.up, "{:?}", status.last_error);
    let metrics = harness.metrics().await;
    assert_matches_truth(&metrics, &harness);
    let truth = harness.sim.simulator.code42().truth(NOW_MS);
    let active = truth.iter().filter(|r| r.active).count();
    assert!(
        active % 40 != 0 && active % 40 < 40,
        "the repeats fill the last page alone"
    );
    let source = ("source", SOURCE);
    assert_eq!(
        metrics.get(
            "backup_source_rows_skipped_total",
            &[source, ("reason", "duplicate")]
        ),
        Some(40.0)
    );
    let unreadable: Vec<_> = truth
        .iter()
        .filter(|r| r.active && r.unreadable_activity)
        .collect();
    assert_eq!(unreadable.len(), 5);
    assert_eq!(
        metrics.get(
            "backup_source_values_skipped_total",
            &[source, ("field", "lastActivity")]
        ),
        Some(5.0)
    );
    for row in unreadable {
        let archive = [
            source,
            ("device_uid", row.device_uid.as_str()),
            ("destination", row.destination.as_str()),
        ];
        assert_eq!(
            metrics.get("backup_device_last_activity_timestamp_seconds", &archive),
            None
        );
        assert_eq!(
            metrics.get("backup_device_archive_bytes", &archive),
            Some(row.archive_bytes as f64),
            "the rest of the row is served"
        );
    }
    harness.stop().await;
}

/// What a report does not say is unknown, never a guess: a completion date no parser reads
/// is neither "never completed" nor an age from the device's creation; a `coldStorage` of
/// `null` or `"unknown"` gives no cold storage sample and leaves the archive alerting (a
/// guess of "cold" would silence it); an org the report names only by its uid is labelled
/// by the uid. Unreadable values are counted by field; nothing else of the row is lost.
#[tokio::test(flavor = "multi_thread")]
async fn unreadable_values_are_unknown_not_never() {
    let mut opts = options(120, ValueStyle::Strings, DateStyle::Utc);
    opts.code42().unreadable_completion = 12;
    opts.code42().unknown_cold_storage = 6;
    opts.code42().unnamed_org = Some(1);
    let harness = start(opts, "").await;
    let status = harness.source(SOURCE).status();
    assert!(status.up, "{:?}", status.last_error);
    let metrics = harness.metrics().await;
    assert_matches_truth(&metrics, &harness);
    let truth: Vec<_> = harness
        .sim
        .simulator
        .code42()
        .truth(NOW_MS)
        .into_iter()
        .filter(|r| r.active)
        .collect();
    let source = ("source", SOURCE);
    let unreadable_completion = truth.iter().filter(|r| r.completion_unreadable).count();
    assert!(unreadable_completion >= 5, "{unreadable_completion}");
    assert_eq!(
        metrics.get(
            "backup_source_values_skipped_total",
            &[source, ("field", "lastCompletedBackupDate")]
        ),
        Some(unreadable_completion as f64)
    );
    let unreadable_cold = truth
        .iter()
        .filter(|r| r.cold_storage_unknown == Some("unknown"))
        .count();
    assert!(unreadable_cold >= 2);
    assert_eq!(
        metrics.get(
            "backup_source_values_skipped_total",
            &[source, ("field", "coldStorage")]
        ),
        Some(unreadable_cold as f64),
        "a null says nothing and is not counted; \"unknown\" is unreadable"
    );
    // A device whose only live destination's completion is unknown is not "never
    // completed" on the status page either.
    let page = common::get(harness.url("/"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for row in truth.iter().filter(|r| r.completion_unreadable) {
        let listed = format!("<td>{}</td>", row.device_name);
        for line in page.lines().filter(|l| l.contains(&listed)) {
            assert!(!line.contains("never completed"), "{line}");
        }
    }
    let unnamed = truth.iter().find(|r| !r.org_named).expect("an unnamed org");
    assert!(
        metrics
            .get("backup_org_devices", &[source, ("org", &unnamed.org_uid)])
            .is_some_and(|n| n >= 1.0)
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_user_token_authentication() {
    let opts = options(40, ValueStyle::Strings, DateStyle::Utc);
    let harness = Harness::start(opts, Clock::manual(NOW_MS), |url, secret| {
        let password = secret.with_file_name("password");
        std::fs::write(&password, "demo-password\n").unwrap();
        code42_yaml(url, secret, "")
            .replace(
                "    client_id: demo-client\n",
                "    username: admin@example.com\n",
            )
            .replace(
                &format!("client_secret_file: {}", secret.display()),
                &format!("password_file: {}", password.display()),
            )
    })
    .await;
    assert!(harness.source(SOURCE).status().up);
    assert_matches_truth(&harness.metrics().await, &harness);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn expired_and_revoked_tokens_are_renewed_once() {
    let harness = start(options(30, ValueStyle::Strings, DateStyle::Utc), "").await;
    let sim = &harness.sim.simulator;

    // The token expires at the vendor (15 minutes pass) while the client still holds it.
    harness.clock.advance_ms(16 * 60 * 1000);
    assert!(harness.refresh(SOURCE).await.up);
    // Revoked between refreshes: the first request is rejected, a new token is fetched.
    sim.tokens.revoke_all();
    assert!(harness.refresh(SOURCE).await.up);
    let metrics = harness.metrics().await;
    let count = |endpoint, code| {
        metrics.get(
            "backup_source_api_requests_total",
            &[("source", SOURCE), ("endpoint", endpoint), ("code", code)],
        )
    };
    assert_eq!(count("device_backup_report", "401"), Some(2.0));
    assert_eq!(count("token", "200"), Some(3.0));
    assert_matches_truth(&metrics, &harness);

    // Rejected twice in a row: the refresh fails, the data stays.
    sim.faults.add(
        FaultRule::new(Fault::Status {
            status: 401,
            retry_after: None,
        })
        .on("DeviceBackupReport")
        .times(2),
    );
    let status = harness.refresh(SOURCE).await;
    assert!(!status.up);
    assert!(
        matches!(
            status.last_error,
            Some(RefreshError::TokenRejected {
                endpoint: "device_backup_report",
                ..
            })
        ),
        "{:?}",
        status.last_error
    );
    assert_matches_truth(&harness.metrics().await, &harness);
    harness.stop().await;
}

/// Drives one fault through a refresh: the refresh fails with an error `expected` accepts,
/// `/metrics` still serves the same device data with `up` 0 and one more failure, and the
/// next refresh without the fault recovers.
async fn fault_keeps_last_snapshot(rule: FaultRule, expected: fn(&RefreshError) -> bool) {
    let harness = start(
        options(60, ValueStyle::Strings, DateStyle::Utc),
        "    page_size: 20\n",
    )
    .await;
    let before = harness.metrics().await;
    let devices = |m: &Metrics| {
        let mut lines: Vec<String> = m
            .0
            .iter()
            .filter(|s| s.name.starts_with("backup_device_") || s.name.starts_with("backup_org_"))
            .map(|s| format!("{} {:?} {}", s.name, s.labels, s.value))
            .collect();
        lines.sort();
        lines
    };
    harness.sim.simulator.faults.add(rule);
    let status = harness.refresh(SOURCE).await;
    assert!(!status.up, "the refresh should fail");
    assert_eq!(status.failures_total, 1);
    let error = status.last_error.unwrap();
    assert!(expected(&error), "unexpected error {error:?}");
    let during = harness.metrics().await;
    assert_eq!(
        devices(&during),
        devices(&before),
        "the last good snapshot stays served"
    );
    assert_eq!(
        during.get("backup_source_up", &[("source", SOURCE)]),
        Some(0.0)
    );
    assert_eq!(
        during.get(
            "backup_source_refresh_failures_total",
            &[("source", SOURCE)]
        ),
        Some(1.0)
    );

    harness.sim.simulator.faults.clear();
    let status = harness.refresh(SOURCE).await;
    assert!(status.up, "{:?}", status.last_error);
    assert_eq!(
        harness
            .metrics()
            .await
            .get("backup_source_up", &[("source", SOURCE)]),
        Some(1.0)
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn server_error_on_a_later_page() {
    let rule = FaultRule::new(Fault::Status {
        status: 503,
        retry_after: None,
    })
    .on("DeviceBackupReport")
    .after(1);
    fault_keeps_last_snapshot(rule, |e| {
        matches!(
            e,
            RefreshError::Status {
                endpoint: "device_backup_report",
                status: 503,
                ..
            }
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limited_with_retry_after() {
    let rule = FaultRule::new(Fault::Status {
        status: 429,
        retry_after: Some(120),
    })
    .on("DeviceBackupReport");
    fault_keeps_last_snapshot(rule, |e| {
        matches!(
            e,
            RefreshError::Status {
                status: 429,
                retry_after: Some(_),
                ..
            }
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retry_after_delays_the_next_attempt() {
    let harness = start(options(20, ValueStyle::Strings, DateStyle::Utc), "").await;
    harness.sim.simulator.faults.add(
        FaultRule::new(Fault::Status {
            status: 429,
            retry_after: Some(120),
        })
        .on("DeviceBackupReport"),
    );
    let status = harness.refresh(SOURCE).await;
    let wait = status.next_refresh_ms.unwrap() - harness.clock.now_ms();
    assert!(
        wait >= 120_000,
        "next attempt in {wait} ms, Retry-After asked for 120 s"
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn truncated_body() {
    fault_keeps_last_snapshot(
        FaultRule::new(Fault::Truncate)
            .on("DeviceBackupReport")
            .after(1),
        |e| matches!(e, RefreshError::Body { .. }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_json() {
    fault_keeps_last_snapshot(
        FaultRule::new(Fault::Malformed)
            .on("DeviceBackupReport")
            .after(2),
        |e| matches!(e, RefreshError::Decode { detail, .. } if detail.contains("malformed JSON")),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn html_error_page_in_the_middle_is_not_the_end_of_the_data() {
    fault_keeps_last_snapshot(
        FaultRule::new(Fault::ErrorPage)
            .on("DeviceBackupReport")
            .after(1),
        |e| matches!(e, RefreshError::Decode { detail, .. } if detail.contains("malformed JSON")),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dropped_connection() {
    fault_keeps_last_snapshot(FaultRule::new(Fault::Drop).on("DeviceBackupReport"), |e| {
        matches!(e, RefreshError::Transport { .. })
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn token_endpoint_down() {
    let harness = start(options(20, ValueStyle::Strings, DateStyle::Utc), "").await;
    harness.sim.simulator.tokens.revoke_all();
    harness.clock.advance_ms(20 * 60 * 1000);
    harness.sim.simulator.faults.add(
        FaultRule::new(Fault::Status {
            status: 500,
            retry_after: None,
        })
        .on("oauth"),
    );
    let status = harness.refresh(SOURCE).await;
    assert!(!status.up);
    assert!(matches!(
        status.last_error,
        Some(RefreshError::Status {
            endpoint: "token",
            status: 500,
            ..
        })
    ));
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_upstream_hits_the_refresh_timeout() {
    let opts = options(20, ValueStyle::Strings, DateStyle::Utc);
    let harness = Harness::start(opts, Clock::manual(NOW_MS), |url, secret| {
        code42_yaml(url, secret, "").replace("timeout: 20s", "timeout: 1s")
    })
    .await;
    assert!(harness.source(SOURCE).status().up);
    harness
        .sim
        .simulator
        .faults
        .add(FaultRule::new(Fault::Delay { millis: 30_000 }).on("DeviceBackupReport"));
    let status = harness.refresh(SOURCE).await;
    assert!(!status.up);
    assert_eq!(
        status.last_error,
        Some(RefreshError::Timeout(std::time::Duration::from_secs(1)))
    );
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_credentials_fail_without_leaking_the_secret() {
    let opts = options(20, ValueStyle::Strings, DateStyle::Utc);
    let harness = Harness::start(opts, Clock::manual(NOW_MS), |url, secret| {
        std::fs::write(secret, "wrong-canary-secret\n").unwrap();
        code42_yaml(url, secret, "")
    })
    .await;
    let status = harness.source(SOURCE).status();
    assert!(!status.up);
    let error = status.last_error.unwrap();
    assert!(
        matches!(
            error,
            RefreshError::Status {
                endpoint: "token",
                status: 401,
                ..
            }
        ),
        "{error}"
    );
    assert!(!error.to_string().contains("wrong-canary-secret"));
    let body = harness.scrape().await;
    assert!(!body.contains("wrong-canary-secret"));
    assert!(body.contains("backup_source_up{source=\"crashplan-us\",vendor=\"code42\"} 0"));
    harness.stop().await;
}

/// A later refresh shares the pieces of text that did not change with the snapshot it
/// replaces and deflates the others again; what it serves must still be the tenant, gzip or
/// plain. 3,000 devices make every per-archive family many pieces long.
#[tokio::test(flavor = "multi_thread")]
async fn later_refreshes_match_the_tenant_as_it_changes() {
    let harness = start(options(3000, ValueStyle::Strings, DateStyle::Utc), "").await;
    assert_matches_truth(&harness.metrics().await, &harness);
    let plain_client = common::http_client_builder().no_gzip().build().unwrap();
    // An hour moves some devices' backups and connections; a day and a half moves most,
    // and crosses alert thresholds.
    for hours in [1, 36] {
        harness.clock.advance_ms(hours * 3_600_000);
        let status = harness.refresh(SOURCE).await;
        assert!(status.up, "{:?}", status.last_error);
        assert_matches_truth(&harness.metrics().await, &harness);
        let plain = harness.scrape_with(&plain_client).await;
        assert_matches_truth(&Metrics::parse(&plain), &harness);
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn time_moves_and_ages_are_computed_at_scrape_time() {
    let harness = start(options(30, ValueStyle::Strings, DateStyle::Utc), "").await;
    let labels: Vec<(String, String)> = {
        let m = harness.metrics().await;
        let s = m.find("backup_device_backup_age_seconds", &[])[0].clone();
        s.labels.into_iter().collect()
    };
    let labels: Vec<(&str, &str)> = labels
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let age = |m: &Metrics| m.get("backup_device_backup_age_seconds", &labels).unwrap();
    let first = age(&harness.metrics().await);
    harness.clock.advance_ms(90_000);
    // No refresh in between: the age still grows by exactly the time that passed.
    assert_eq!(age(&harness.metrics().await), first + 90.0);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stopped_upstream_leaves_the_last_values_served() {
    let harness = start(options(40, ValueStyle::Strings, DateStyle::Utc), "").await;
    let before = harness.metrics().await;
    // The vendor stops answering: every connection is closed unanswered.
    harness
        .sim
        .simulator
        .faults
        .add(FaultRule::new(Fault::Drop));
    let status = harness.refresh(SOURCE).await;
    assert!(!status.up);
    assert!(
        matches!(status.last_error, Some(RefreshError::Transport { .. })),
        "{:?}",
        status.last_error
    );
    let during = harness.metrics().await;
    assert_eq!(
        during.count("backup_device_archive_bytes"),
        before.count("backup_device_archive_bytes")
    );
    assert_eq!(
        during.get("backup_source_up", &[("source", SOURCE)]),
        Some(0.0)
    );
    harness.stop().await;
}
