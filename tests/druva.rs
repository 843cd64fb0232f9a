//! The Druva client against the simulator: every value matches the tenant's ground truth
//! (including resources quiet for more than 24 hours), incremental reads, page-token and
//! access-token expiry, retryable errors, and events counted exactly once across pages,
//! refreshes and lost cursors, for both Events APIs.
#![cfg(feature = "druva")]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use backup_exporter::Clock;
use backup_exporter::RefreshError;
use backup_exporter::simulator::druva::DruvaOptions;
use backup_exporter::simulator::{Fault, FaultRule, SimulatorOptions};
use common::{Harness, Metrics, NOW_MS, druva_yaml, ms};

const SOURCE: &str = "druva-m365";
const HOUR: i64 = 3_600_000;
const DAY: i64 = 24 * HOUR;

fn options() -> SimulatorOptions {
    SimulatorOptions::default().with(DruvaOptions {
        users: 280,
        ..DruvaOptions::default()
    })
}

async fn start(extra: &str) -> Harness {
    start_with(extra, Vec::new()).await
}

async fn start_with(extra: &str, faults: Vec<FaultRule>) -> Harness {
    let extra = extra.to_string();
    let harness = Harness::start_unready(
        options(),
        Clock::manual(NOW_MS),
        faults,
        move |url, secret| druva_yaml(url, secret, &extra),
    )
    .await;
    harness.wait_until(|h| h.engine.is_ready()).await;
    harness
}

/// The `status` label the README documents for a Druva job status.
fn status_label(status: &str) -> &'static str {
    match status {
        "Backed Up Successfully" | "Restore Successful" => "success",
        "Backed Up With Errors" | "Restored With Errors" => "with_errors",
        "Backup Failed" | "Restore Failed" => "failed",
        "Backup Cancelled" => "cancelled",
        other => panic!("unexpected status {other}"),
    }
}

fn snake(text: &str) -> String {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect::<Vec<_>>()
        .join("_")
}

/// Compares the exporter's output with what the tenant reports at the harness clock.
/// `jobs_since` is where job counting started (24 hours before the first refresh).
fn assert_matches_truth(metrics: &Metrics, harness: &Harness, jobs_since: i64) {
    assert_matches_truth_at(metrics, harness, jobs_since, harness.clock.now_ms());
}

/// The metrics hold the tenant as it was at `read_ms` (the last successful refresh); ages
/// are still computed at the scrape.
fn assert_matches_truth_at(metrics: &Metrics, harness: &Harness, jobs_since: i64, read_ms: i64) {
    let now = harness.clock.now_ms();
    let tenant = &harness.sim.simulator.druva();
    let source = ("source", SOURCE);

    let all = tenant.resources(read_ms);
    let resources: Vec<_> = all.iter().filter(|r| !r.deleted && !r.purged).collect();
    // Purged resources (gone without a deletion row) stay until the next full read; the
    // test about purges checks when they leave.
    let purged_still_known = all
        .iter()
        .filter(|r| {
            r.purged
                && !metrics
                    .find("backup_resource_info", &[source, ("id", r.id.as_str())])
                    .is_empty()
        })
        .count();
    assert_eq!(
        metrics.count("backup_resource_info"),
        resources.len() + purged_still_known
    );
    let mut quiet_for_days = 0;
    for r in resources {
        let labels = [
            source,
            ("workload", r.workload.as_str()),
            ("id", r.id.as_str()),
        ];
        let get = |name: &str| metrics.get(name, &labels);
        let context = format!("{} {}", r.workload, r.id);
        let info = metrics.find("backup_resource_info", &labels);
        assert_eq!(info.len(), 1, "{context}");
        assert_eq!(info[0].labels["name"], r.name, "{context}");
        assert_eq!(
            get("backup_resource_last_success_timestamp_seconds").map(ms),
            r.last_success_ms,
            "{context}"
        );
        assert_eq!(
            get("backup_resource_last_attempt_timestamp_seconds").map(ms),
            r.last_attempt_ms,
            "{context}"
        );
        let age_from = r.last_success_ms.unwrap_or(r.added_ms);
        assert_eq!(
            get("backup_resource_backup_age_seconds").map(ms),
            Some(now - age_from),
            "{context}"
        );
        assert_eq!(
            get("backup_resource_never_backed_up"),
            r.last_success_ms.is_none().then_some(1.0),
            "{context}"
        );
        assert_eq!(
            get("backup_resource_expected_interval_seconds"),
            r.interval_seconds.map(|s| s as f64),
            "{context}"
        );
        assert_eq!(
            get("backup_resource_bytes"),
            Some(r.bytes as f64),
            "{context}"
        );
        assert_eq!(
            get("backup_resource_last_backup_failed"),
            Some(if r.status == "Backup Failed" {
                1.0
            } else {
                0.0
            }),
            "{context}"
        );
        let outcome = match r.status {
            "Backed Up Successfully" => "success",
            "Backed Up With Errors" => "with_errors",
            "Backup Failed" => "failed",
            "Never Backed Up" => "never",
            other => panic!("unexpected status {other}"),
        };
        let outcome_labels = [labels[0], labels[1], labels[2], ("outcome", outcome)];
        assert_eq!(
            metrics.get("backup_resource_last_backup_outcome", &outcome_labels),
            Some(1.0),
            "{context}"
        );
        assert_eq!(
            metrics
                .find("backup_resource_last_backup_outcome", &labels)
                .len(),
            1,
            "{context}: one outcome"
        );
        assert_eq!(
            get("backup_resource_backup_enabled"),
            Some(f64::from(u8::from(r.enabled))),
            "{context}"
        );
        assert_eq!(
            get("backup_resource_archived"),
            (r.workload == "Teams").then_some(f64::from(u8::from(r.archived))),
            "{context}"
        );
        let scheduled = r.interval_seconds.is_some() || r.unscheduled;
        assert_eq!(
            get("backup_resource_scheduled"),
            scheduled.then_some(f64::from(u8::from(!r.unscheduled))),
            "{context}"
        );
        if r.last_updated_ms < read_ms - DAY {
            quiet_for_days += 1;
        }
    }
    let mut by_protection: BTreeMap<(&str, &str), usize> = BTreeMap::new();
    for r in all.iter().filter(|r| {
        !r.deleted
            && !metrics
                .find("backup_resource_info", &[source, ("id", r.id.as_str())])
                .is_empty()
    }) {
        let protection = if !r.enabled {
            "disabled"
        } else if r.archived {
            "archived"
        } else if r.unscheduled {
            "unscheduled"
        } else {
            "protected"
        };
        *by_protection.entry((&r.workload, protection)).or_default() += 1;
    }
    assert!(by_protection.keys().any(|(_, p)| *p != "protected"));
    for ((workload, protection), count) in &by_protection {
        assert_eq!(
            metrics.get(
                "backup_resources",
                &[source, ("workload", workload), ("protection", protection)]
            ),
            Some(*count as f64),
            "{workload} {protection}"
        );
    }
    assert!(
        quiet_for_days >= 10,
        "the tenant should have resources quiet for more than 24 hours ({quiet_for_days})"
    );

    for (workload, enabled, enabled_bytes, disabled, disabled_bytes) in tenant.storage(read_ms) {
        let get = |name: &str, state: &str| {
            metrics.get(name, &[source, ("workload", workload), ("state", state)])
        };
        assert_eq!(
            get("backup_workload_storage_bytes", "enabled"),
            Some(enabled_bytes as f64),
            "{workload}"
        );
        assert_eq!(
            get("backup_workload_storage_bytes", "disabled"),
            Some(disabled_bytes as f64),
            "{workload}"
        );
        assert_eq!(
            get("backup_workload_resources", "enabled"),
            Some(enabled as f64),
            "{workload}"
        );
        assert_eq!(
            get("backup_workload_resources", "disabled"),
            Some(disabled as f64),
            "{workload}"
        );
    }

    let users = tenant.options().users as f64;
    assert_eq!(
        metrics.get("backup_license_allocated", &[source, ("license", "active")]),
        Some(tenant.active_licenses() as f64)
    );
    assert_eq!(
        metrics.get("backup_license_used", &[source, ("license", "active")]),
        Some(users)
    );
    assert_eq!(
        metrics.get(
            "backup_license_allocated",
            &[source, ("license", "preserved")]
        ),
        Some(50.0)
    );
    assert_eq!(
        metrics.get("backup_license_used", &[source, ("license", "preserved")]),
        Some(20.0)
    );
    assert_eq!(
        metrics.get("backup_users", &[source, ("state", "active")]),
        Some(users)
    );
    assert_eq!(
        metrics.get("backup_users", &[source, ("state", "preserved")]),
        Some(20.0)
    );

    let alerts = tenant.active_alerts(read_ms);
    for (severity, label) in [
        ("Warning", "warning"),
        ("Critical", "critical"),
        ("High", "high"),
    ] {
        assert_eq!(
            metrics.get("backup_alerts_active", &[source, ("severity", label)]),
            Some(alerts.get(severity).copied().unwrap_or(0) as f64),
            "{severity}"
        );
    }

    let mut jobs: BTreeMap<(String, &str, &str), u64> = BTreeMap::new();
    let mut job_bytes: BTreeMap<(String, &str), u64> = BTreeMap::new();
    let mut files_missed: BTreeMap<(String, &str), u64> = BTreeMap::new();
    let mut job_reasons: BTreeMap<JobReason, u64> = BTreeMap::new();
    let mut durations: BTreeMap<(String, &str), Vec<f64>> = BTreeMap::new();
    for job in tenant
        .jobs(read_ms)
        .iter()
        .filter(|j| j.end_ms.is_some() && j.last_updated_ms >= jobs_since)
    {
        let operation = if job.backup { "backup" } else { "restore" };
        *jobs
            .entry((
                job.workload.to_string(),
                operation,
                status_label(job.status),
            ))
            .or_default() += 1;
        *job_bytes
            .entry((job.workload.to_string(), operation))
            .or_default() += job.bytes;
        *files_missed
            .entry((job.workload.to_string(), operation))
            .or_default() += job.files_missed;
        for (code, reason) in job.reasons {
            *job_reasons
                .entry((
                    job.workload.to_string(),
                    operation,
                    status_label(job.status),
                    code.to_string(),
                    reason.to_string(),
                ))
                .or_default() += 1;
        }
        let seconds = (job.end_ms.unwrap() - job.start_ms) as f64 / 1000.0;
        durations
            .entry((job.workload.to_string(), operation))
            .or_default()
            .push(seconds);
    }
    assert_job_reasons_and_durations(metrics, &job_reasons, &durations);
    assert!(files_missed.values().any(|n| *n > 0));
    for ((workload, operation), missed) in &files_missed {
        assert_eq!(
            metrics.get(
                "backup_job_files_missed_total",
                &[source, ("workload", workload), ("operation", operation)]
            ),
            Some(*missed as f64),
            "{workload} {operation}"
        );
    }
    assert!(jobs.len() > 10);
    for ((workload, operation, status), count) in &jobs {
        assert_eq!(
            metrics.get(
                "backup_jobs_total",
                &[
                    source,
                    ("workload", workload),
                    ("operation", operation),
                    ("status", status)
                ]
            ),
            Some(*count as f64),
            "{workload} {operation} {status}"
        );
    }
    let counted: f64 = metrics
        .find("backup_jobs_total", &[source])
        .iter()
        .map(|s| s.value)
        .sum();
    assert_eq!(
        counted,
        jobs.values().sum::<u64>() as f64,
        "no job counted that the tenant did not finish"
    );
    for ((workload, operation), bytes) in &job_bytes {
        assert_eq!(
            metrics.get(
                "backup_job_bytes_total",
                &[source, ("workload", workload), ("operation", operation)]
            ),
            Some(*bytes as f64)
        );
    }

    assert_last_backups_and_failures(metrics, &all);
    assert_users(metrics, harness, read_ms);
    assert_events(metrics, harness);
}

/// (workload, operation, status, code, reason) of `backup_job_failure_reasons_total`.
type JobReason = (String, &'static str, &'static str, String, String);

/// Each reason a finished job gave, counted once per job, and how long the jobs took: the
/// count, the sum and every bucket of the histogram, from the jobs' own start and end.
fn assert_job_reasons_and_durations(
    metrics: &Metrics,
    reasons: &BTreeMap<JobReason, u64>,
    durations: &BTreeMap<(String, &str), Vec<f64>>,
) {
    let source = ("source", SOURCE);
    assert!(
        reasons.keys().any(|r| r.2 == "with_errors") && reasons.keys().any(|r| r.2 == "failed"),
        "the tenant's SharePoint jobs fail and finish with errors: {reasons:?}"
    );
    for ((workload, operation, status, code, reason), count) in reasons {
        let labels = [
            source,
            ("workload", workload.as_str()),
            ("operation", operation),
            ("status", status),
            ("code", code.as_str()),
            ("reason", reason.as_str()),
        ];
        assert_eq!(
            metrics.get("backup_job_failure_reasons_total", &labels),
            Some(*count as f64),
            "{labels:?}"
        );
    }
    assert_eq!(
        metrics.count("backup_job_failure_reasons_total"),
        reasons.len(),
        "no reason the jobs did not give"
    );
    for ((workload, operation), seconds) in durations {
        let labels = [
            source,
            ("workload", workload.as_str()),
            ("operation", operation),
        ];
        let get = |name: &str| metrics.get(name, &labels);
        let context = format!("{workload} {operation}");
        assert_eq!(
            get("backup_job_duration_seconds_count"),
            Some(seconds.len() as f64),
            "{context}"
        );
        let sum = get("backup_job_duration_seconds_sum").unwrap();
        assert!(
            (sum - seconds.iter().sum::<f64>()).abs() < 1e-6,
            "{context}: {sum}"
        );
        for le in [
            "60", "300", "900", "1800", "3600", "7200", "14400", "28800", "43200", "86400",
        ] {
            let bound: f64 = le.parse().unwrap();
            let within = seconds.iter().filter(|s| **s <= bound).count();
            let mut bucket = labels.to_vec();
            bucket.push(("le", le));
            assert_eq!(
                metrics.get("backup_job_duration_seconds_bucket", &bucket),
                Some(within as f64),
                "{context} le={le}"
            );
        }
    }
}

/// Failure reasons exactly for the failing resources; each user workload's last backup.
fn assert_last_backups_and_failures(
    metrics: &Metrics,
    resources: &[backup_exporter::simulator::druva::ResourceTruth],
) {
    let source = ("source", SOURCE);
    let mut expected = BTreeSet::new();
    let mut last_backups = 0;
    // A purged resource stays until the next full read, its reasons with it.
    let known = |r: &&backup_exporter::simulator::druva::ResourceTruth| {
        !r.deleted
            && (!r.purged
                || !metrics
                    .find("backup_resource_info", &[source, ("id", r.id.as_str())])
                    .is_empty())
    };
    for r in resources.iter().filter(known) {
        for (code, reason) in &r.failure {
            expected.insert((
                r.workload.clone(),
                r.id.clone(),
                code.clone(),
                reason.clone(),
            ));
        }
        let Some(last) = &r.last_backup else { continue };
        last_backups += 1;
        let labels = [
            source,
            ("workload", r.workload.as_str()),
            ("id", r.id.as_str()),
        ];
        let get = |name: &str| metrics.get(name, &labels);
        let context = format!("{} {}", r.workload, r.id);
        assert_eq!(
            get("backup_resource_last_backup_items"),
            Some(last.items_backed_up as f64),
            "{context}"
        );
        assert_eq!(
            get("backup_resource_last_backup_items_missed"),
            Some(last.items_missed as f64),
            "{context}"
        );
        assert_eq!(
            get("backup_resource_last_backup_bytes"),
            Some(last.bytes as f64),
            "{context}"
        );
        assert_eq!(
            get("backup_resource_last_backup_start_timestamp_seconds").map(ms),
            Some(last.start_ms),
            "{context}"
        );
        assert_eq!(
            get("backup_resource_last_backup_end_timestamp_seconds").map(ms),
            Some(last.end_ms),
            "{context}"
        );
    }
    assert!(last_backups > 0);
    let exposed: BTreeSet<_> = metrics
        .find("backup_resource_last_backup_error", &[source])
        .iter()
        .map(|s| {
            assert_eq!(s.value, 1.0);
            (
                s.labels["workload"].clone(),
                s.labels["id"].clone(),
                s.labels["code"].clone(),
                s.labels["reason"].clone(),
            )
        })
        .collect();
    assert_eq!(exposed, expected);
    let workloads: BTreeSet<&str> = expected.iter().map(|e| e.0.as_str()).collect();
    assert!(
        workloads.len() >= 4,
        "reasons from errorDetailsNew and statusDetails: {workloads:?}"
    );
}

/// Provisioned users by status, licence state and management; preserved users, their
/// data and when Druva deletes it.
fn assert_users(metrics: &Metrics, harness: &Harness, read_ms: i64) {
    let source = ("source", SOURCE);
    let tenant = &harness.sim.simulator.druva();
    let users = tenant.users(read_ms);
    let word = |text: &str| match text {
        "-" => "none".to_string(),
        text => text.to_lowercase(),
    };
    let mut counts: BTreeMap<(String, String, String), u64> = BTreeMap::new();
    for u in &users {
        *counts
            .entry((word(u.status), word(u.license_state), word(u.managed_by)))
            .or_default() += 1;
    }
    assert!(counts.len() > 4);
    for ((status, license_state, managed_by), count) in &counts {
        assert_eq!(
            metrics.get(
                "backup_users_provisioned",
                &[
                    source,
                    ("status", status),
                    ("license_state", license_state),
                    ("managed_by", managed_by)
                ]
            ),
            Some(*count as f64),
            "{status} {license_state} {managed_by}"
        );
    }
    assert_eq!(
        metrics.count("backup_users_provisioned"),
        counts.len(),
        "no other combination"
    );
    let (active, preserved, smb) = tenant.provisioned_licenses();
    for (license, value) in [("active", active), ("preserved", preserved), ("smb", smb)] {
        assert_eq!(
            metrics.get(
                "backup_users_provisioned_license_allocated",
                &[source, ("license", license)]
            ),
            Some(value as f64)
        );
    }
    let preserved: Vec<_> = users.iter().filter(|u| u.preserved).collect();
    assert_eq!(
        metrics.get("backup_preserved_users", &[source]),
        Some(preserved.len() as f64)
    );
    assert_eq!(
        metrics.get("backup_preserved_users_bytes", &[source]),
        Some(preserved.iter().map(|u| u.bytes).sum::<u64>() as f64)
    );
    let deletes: BTreeSet<(String, i64)> = preserved
        .iter()
        .filter_map(|u| Some((u.email.clone(), u.auto_delete_ms?)))
        .collect();
    assert!(deletes.len() >= 2);
    let exposed: BTreeSet<(String, i64)> = metrics
        .find(
            "backup_preserved_user_auto_delete_timestamp_seconds",
            &[source],
        )
        .iter()
        .map(|s| (s.labels["id"].clone(), ms(s.value)))
        .collect();
    assert_eq!(exposed, deletes);
}

/// `backup_source_stream_up` of one of the source's streams.
fn stream_up(metrics: &Metrics, stream: &str) -> Option<f64> {
    metrics.get(
        "backup_source_stream_up",
        &[("source", SOURCE), ("stream", stream)],
    )
}

fn assert_events(metrics: &Metrics, harness: &Harness) {
    const SYSLOG: [&str; 8] = [
        "emergency",
        "alert",
        "critical",
        "error",
        "warning",
        "notice",
        "info",
        "debug",
    ];
    let mut events: BTreeMap<(String, String, &str), u64> = BTreeMap::new();
    for event in harness.sim.simulator.druva().events(harness.clock.now_ms()) {
        *events
            .entry((
                snake(event.event_type),
                snake(event.event_state),
                SYSLOG[event.severity as usize],
            ))
            .or_default() += 1;
    }
    let total: f64 = metrics
        .find("backup_events_total", &[("source", SOURCE)])
        .iter()
        .map(|s| s.value)
        .sum();
    assert_eq!(
        total,
        events.values().sum::<u64>() as f64,
        "every retained event counted exactly once"
    );
    for ((event_type, event_state, severity), count) in &events {
        assert_eq!(
            metrics.get(
                "backup_events_total",
                &[
                    ("source", SOURCE),
                    ("event_type", event_type),
                    ("event_state", event_state),
                    ("severity", severity)
                ]
            ),
            Some(*count as f64),
            "{event_type} {event_state} {severity}"
        );
    }
}

fn requests(metrics: &Metrics, endpoint: &str, code: &str) -> f64 {
    metrics
        .get(
            "backup_source_api_requests_total",
            &[("source", SOURCE), ("endpoint", endpoint), ("code", code)],
        )
        .unwrap_or(0.0)
}

#[tokio::test(flavor = "multi_thread")]
async fn every_value_matches_the_tenant_including_resources_quiet_for_days() {
    let harness = start("").await;
    let status = harness.source(SOURCE).status();
    assert!(status.up, "{:?}", status.last_error);
    let metrics = harness.metrics().await;
    assert_matches_truth(&metrics, &harness, NOW_MS - DAY);
    // 560 user workloads need two pages of 500; the events three pages of 500.
    assert_eq!(requests(&metrics, "m365UserWorkload", "200"), 2.0);
    assert!(requests(&metrics, "events", "200") >= 3.0);
    assert_eq!(requests(&metrics, "token", "200"), 1.0);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn incremental_refreshes_merge_changes_count_new_jobs_and_events_once() {
    let harness = start("").await;
    for step in [2 * HOUR, 20 * 60_000, 7 * HOUR] {
        harness.clock.advance_ms(step);
        let status = harness.refresh(SOURCE).await;
        assert!(status.up, "{:?}", status.last_error);
        assert_matches_truth(&harness.metrics().await, &harness, NOW_MS - DAY);
    }
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn purged_resources_disappear_at_the_next_full_read() {
    let harness = start("    full_read_interval: 3h\n").await;
    // Some resources vanish from the reports without a deletion row half an hour in. An
    // incremental read cannot see that; the next full read (every 3 hours here) does.
    harness.clock.advance_ms(HOUR);
    assert!(harness.refresh(SOURCE).await.up);
    let tenant = &harness.sim.simulator.druva();
    let purged: Vec<_> = tenant
        .resources(harness.clock.now_ms())
        .into_iter()
        .filter(|r| r.purged)
        .collect();
    assert_eq!(purged.len(), 3, "one site, one team and one group");
    let metrics = harness.metrics().await;
    for r in &purged {
        assert_eq!(
            metrics
                .find("backup_resource_info", &[("id", r.id.as_str())])
                .len(),
            1,
            "still known after an incremental read"
        );
    }
    harness.clock.advance_ms(3 * HOUR);
    assert!(harness.refresh(SOURCE).await.up);
    let metrics = harness.metrics().await;
    for r in &purged {
        assert!(
            metrics
                .find("backup_resource_info", &[("id", r.id.as_str())])
                .is_empty(),
            "gone after the full read"
        );
    }
    assert_matches_truth(&metrics, &harness, NOW_MS - DAY);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_page_token_restarts_the_report_once() {
    // The second request of the user workload report (its first follow-up page) finds the
    // tokens expired: the report is read again from the first page.
    let rule = FaultRule::new(Fault::ExpirePageTokens)
        .on("m365UserWorkload")
        .after(1)
        .times(1);
    let harness = start_with("    full_read_interval: 1s\n", vec![rule]).await;
    let status = harness.source(SOURCE).status();
    assert!(status.up, "{:?}", status.last_error);
    let metrics = harness.metrics().await;
    assert_eq!(requests(&metrics, "m365UserWorkload", "400"), 1.0);
    assert_eq!(requests(&metrics, "m365UserWorkload", "200"), 3.0);
    assert_matches_truth(&metrics, &harness, NOW_MS - DAY);

    // Twice in a row is a failure; the last good data stays. (A second passes, so the
    // next read is a full read again, two pages long.)
    harness.clock.advance_ms(2_000);
    harness.sim.simulator.faults.add(
        FaultRule::new(Fault::ExpirePageTokens)
            .on("m365UserWorkload")
            .after(1)
            .times(1),
    );
    harness.sim.simulator.faults.add(
        FaultRule::new(Fault::ExpirePageTokens)
            .on("m365UserWorkload")
            .after(3)
            .times(1),
    );
    let status = harness.refresh(SOURCE).await;
    assert!(!status.up);
    assert!(matches!(
        status.last_error,
        Some(RefreshError::Status {
            endpoint: "m365UserWorkload",
            status: 400,
            ..
        })
    ));
    assert_matches_truth_at(&harness.metrics().await, &harness, NOW_MS - DAY, NOW_MS);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_access_token_is_renewed() {
    let harness = start("").await;
    harness.clock.advance_ms(31 * 60_000);
    let status = harness.refresh(SOURCE).await;
    assert!(status.up, "{:?}", status.last_error);
    let metrics = harness.metrics().await;
    assert_eq!(requests(&metrics, "token", "200"), 2.0);
    // Only the requests already sent with the expired token are rejected (at most
    // `max_in_flight`, 4 by default), each once; those still waiting for a slot take the
    // new token instead of going out with the rejected one.
    let rejected = metrics.find(
        "backup_source_api_requests_total",
        &[("source", SOURCE), ("code", "401")],
    );
    let total: f64 = rejected.iter().map(|s| s.value).sum();
    assert!((1.0..=4.0).contains(&total), "{rejected:?}");
    assert!(rejected.iter().all(|s| s.value == 1.0), "{rejected:?}");
    assert_matches_truth(&metrics, &harness, NOW_MS - DAY);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn retryable_errors_are_retried_and_persistent_ones_fail_the_refresh() {
    let harness = start("").await;
    let sim = &harness.sim.simulator;
    sim.faults.add(
        FaultRule::new(Fault::Status {
            status: 503,
            retry_after: None,
        })
        .on("m365Alerts")
        .times(1),
    );
    let status = harness.refresh(SOURCE).await;
    assert!(
        status.up,
        "one retryable 503 is retried: {:?}",
        status.last_error
    );
    sim.faults.add(
        FaultRule::new(Fault::Status {
            status: 503,
            retry_after: None,
        })
        .on("m365Alerts"),
    );
    let status = harness.refresh(SOURCE).await;
    assert!(!status.up);
    assert_eq!(
        status.last_error,
        Some(RefreshError::Status {
            endpoint: "m365Alerts",
            status: 503,
            message: "Simulated-503 simulated failure".into(),
            retry_after: None,
        })
    );
    sim.faults.clear();
    // A non-retryable error is not retried.
    sim.faults.add(
        FaultRule::new(Fault::Status {
            status: 404,
            retry_after: None,
        })
        .on("m365TeamsDiscovery"),
    );
    let before = requests(&harness.metrics().await, "m365TeamsDiscovery", "404");
    assert!(!harness.refresh(SOURCE).await.up);
    assert_eq!(
        requests(&harness.metrics().await, "m365TeamsDiscovery", "404"),
        before + 1.0
    );
    sim.faults.clear();
    assert!(harness.refresh(SOURCE).await.up);
    assert_matches_truth(&harness.metrics().await, &harness, NOW_MS - DAY);
    harness.stop().await;
}

/// The events are a stream of their own: an Events API down for the whole run (rate
/// limited here) keeps the reports fresh and the source up, shows the events stream down,
/// loses no event and counts none twice once it answers again.
#[tokio::test(flavor = "multi_thread")]
async fn a_failing_events_stream_keeps_the_reports_fresh() {
    let harness = start("").await;
    let before = harness.metrics().await;
    let total = |m: &Metrics, name: &str| {
        m.find(name, &[("source", SOURCE)])
            .iter()
            .map(|s| s.value)
            .sum::<f64>()
    };
    // Time passes (new jobs, new events), and the events API refuses every call.
    harness.clock.advance_ms(3 * HOUR);
    harness.sim.simulator.faults.add(
        FaultRule::new(Fault::Status {
            status: 429,
            retry_after: Some(60),
        })
        .on("eventmanagement"),
    );
    for _ in 0..2 {
        let status = harness.refresh(SOURCE).await;
        assert!(status.up, "{:?}", status.last_error);
    }
    let during = harness.metrics().await;
    assert_eq!(stream_up(&during, "reports"), Some(1.0));
    assert_eq!(stream_up(&during, "events"), Some(0.0));
    assert_eq!(
        total(&during, "backup_events_total"),
        total(&before, "backup_events_total"),
        "the event counters and cursor stay"
    );
    assert!(
        total(&during, "backup_jobs_total") > total(&before, "backup_jobs_total"),
        "the reports stay fresh: new jobs are counted"
    );
    assert_eq!(
        during
            .get(
                "backup_source_stream_last_success_timestamp_seconds",
                &[("source", SOURCE), ("stream", "reports")]
            )
            .map(ms),
        Some(NOW_MS + 3 * HOUR)
    );
    harness.sim.simulator.faults.clear();
    assert!(harness.refresh(SOURCE).await.up);
    let after = harness.metrics().await;
    assert_eq!(stream_up(&after, "events"), Some(1.0));
    assert_matches_truth(&after, &harness, NOW_MS - DAY);
    harness.stop().await;
}

/// The other way round: reports failing while the events answer. The source is down (its
/// data is getting old), and the events keep being counted on top of the last good reports.
#[tokio::test(flavor = "multi_thread")]
async fn failing_reports_keep_the_events_counted() {
    let harness = start("").await;
    let before = harness.metrics().await;
    harness.clock.advance_ms(2 * HOUR);
    harness.sim.simulator.faults.add(
        FaultRule::new(Fault::Status {
            status: 500,
            retry_after: None,
        })
        .on("reports/m365Alerts"),
    );
    let status = harness.refresh(SOURCE).await;
    assert!(!status.up);
    let during = harness.metrics().await;
    assert_eq!(stream_up(&during, "events"), Some(1.0));
    assert_events(&during, &harness);
    assert_eq!(
        during.get(
            "backup_source_last_success_timestamp_seconds",
            &[("source", SOURCE)]
        ),
        before.get(
            "backup_source_last_success_timestamp_seconds",
            &[("source", SOURCE)]
        ),
        "the data age keeps growing"
    );
    harness.sim.simulator.faults.clear();
    assert!(harness.refresh(SOURCE).await.up);
    assert_matches_truth(&harness.metrics().await, &harness, NOW_MS - DAY);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn an_expired_tracker_reads_the_retained_events_again_without_double_counting() {
    let harness = start("").await;
    harness.clock.advance_ms(49 * HOUR);
    let status = harness.refresh(SOURCE).await;
    assert!(status.up, "{:?}", status.last_error);
    let metrics = harness.metrics().await;
    // Refused (after a token renewal, unless the reports renewed it first), then read again.
    assert!(requests(&metrics, "events", "403") >= 1.0);
    assert_events(&metrics, &harness);
    harness.stop().await;
}

const LEGACY: &str = "    events: legacy\n    legacy_events:\n      url: URL\n      admin_email: insync-admin@example.com\n      api_token_file: TOKEN\n";

async fn start_legacy() -> Harness {
    start_legacy_with(options()).await
}

async fn start_legacy_with(options: SimulatorOptions) -> Harness {
    let harness =
        Harness::start_unready(options, Clock::manual(NOW_MS), Vec::new(), |url, secret| {
            let extra = LEGACY.replace("URL", url).replace(
                "TOKEN",
                &secret.with_file_name("insync-token").display().to_string(),
            );
            druva_yaml(url, secret, &extra)
        })
        .await;
    harness.wait_until(|h| h.engine.is_ready()).await;
    harness
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_events_api_with_cookie_and_nextpage() {
    let harness = start_legacy().await;
    assert!(
        harness.source(SOURCE).status().up,
        "{:?}",
        harness.source(SOURCE).status().last_error
    );
    assert_events(&harness.metrics().await, &harness);
    harness.clock.advance_ms(5 * HOUR);
    assert!(harness.refresh(SOURCE).await.up);
    assert_events(&harness.metrics().await, &harness);
    // The cookie lives 48 hours; after that the API answers 400 "Cookie expired".
    harness.clock.advance_ms(49 * HOUR);
    assert!(harness.refresh(SOURCE).await.up);
    let metrics = harness.metrics().await;
    assert_eq!(requests(&metrics, "events", "400"), 1.0);
    assert_events(&metrics, &harness);
    harness.stop().await;
}

/// Druva's page shows the legacy reply as a single event object; with nothing new it may be
/// an empty body. Both are read, and counted once.
#[tokio::test(flavor = "multi_thread")]
async fn legacy_events_as_a_single_object_or_an_empty_body() {
    let mut opts = options();
    opts.druva().legacy_bare_shapes = true;
    let harness = start_legacy_with(opts).await;
    assert!(harness.source(SOURCE).status().up);
    assert_events(&harness.metrics().await, &harness);
    let events_before = harness
        .sim
        .simulator
        .druva()
        .events(harness.clock.now_ms())
        .len();
    // Less than one event spacing later: nothing new, an empty body.
    harness.clock.advance_ms(60_000);
    assert_eq!(
        harness
            .sim
            .simulator
            .druva()
            .events(harness.clock.now_ms())
            .len(),
        events_before
    );
    let status = harness.refresh(SOURCE).await;
    assert!(status.up, "{:?}", status.last_error);
    assert_events(&harness.metrics().await, &harness);
    // One event spacing on: exactly one new event, sent as an object.
    harness.clock.advance_ms(4 * 60_000);
    assert_eq!(
        harness
            .sim
            .simulator
            .druva()
            .events(harness.clock.now_ms())
            .len(),
        events_before + 1
    );
    let status = harness.refresh(SOURCE).await;
    assert!(status.up, "{:?}", status.last_error);
    let metrics = harness.metrics().await;
    assert_eq!(stream_up(&metrics, "events"), Some(1.0));
    assert_events(&metrics, &harness);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reports_can_be_chosen_and_events_turned_off() {
    let harness =
        start("    reports: [m365StorageConsumption, m365TeamsDiscovery]\n    events: none\n")
            .await;
    let metrics = harness.metrics().await;
    assert!(metrics.count("backup_workload_storage_bytes") > 0);
    assert_eq!(
        metrics.count("backup_resource_info"),
        harness
            .sim
            .simulator
            .druva()
            .resources(NOW_MS)
            .iter()
            .filter(|r| r.workload == "Teams" && !r.deleted)
            .count()
    );
    assert_eq!(metrics.count("backup_events_total"), 0);
    assert_eq!(metrics.count("backup_jobs_total"), 0);
    assert_eq!(metrics.count("backup_license_used"), 0);
    assert_eq!(requests(&metrics, "events", "200"), 0.0);
    harness.stop().await;
}

/// The simulator answers every Microsoft 365 report ID of the reference, not only those the
/// exporter reads, with the vendor's envelope.
#[tokio::test(flavor = "multi_thread")]
async fn simulator_serves_every_m365_report_of_the_reference() {
    let harness = start("    events: none\n").await;
    let client = common::http_client();
    let url = harness.sim.url();
    let token = client
        .post(format!("{url}/token"))
        .basic_auth("druva-demo-client", Some("druva-demo-secret"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("grant_type=client_credentials&scope=read")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let token: serde_json::Value = serde_json::from_str(&token).unwrap();
    let token = token["access_token"].as_str().unwrap().to_string();
    for report in [
        "m365SharePointSiteDiscovery",
        "m365TeamsDiscovery",
        "m365GroupsDiscovery",
        "m365GroupsBackupActivity",
        "m365GroupsRestoreActivity",
        "m365Alerts",
        "m365LicenseUsage",
        "m365PreservedUsersDatasources",
        "m365StorageConsumption",
        "m365UserCountAndStatus",
        "m365UserLastBackupStatus",
        "m365UserProvisioning",
        "m365UserRestoreActivity",
        "m365UserWorkload",
        "m365PublicFolderBackupActivity",
        "m365PublicFolderRestoreActivity",
        "m365SharePointBackupActivity",
        "m365SharePointRestoreActivity",
        "m365TeamsBackupActivity",
        "m365TeamsRestoreActivity",
    ] {
        let totals = [
            "m365LicenseUsage",
            "m365StorageConsumption",
            "m365UserCountAndStatus",
        ]
        .contains(&report);
        let filter = if totals {
            "[]"
        } else {
            r#"[{"fieldName":"lastUpdatedTime","operator":"gte","value":"2000-01-01T00:00:00Z"}]"#
        };
        let body = client
            .post(format!("{url}/platform/reporting/v1/reports/{report}"))
            .bearer_auth(&token)
            .header("Content-Type", "application/json")
            .body(format!(
                r#"{{"filters":{{"pageSize":500,"filterBy":{filter}}},"pageToken":""}}"#
            ))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_str(&body).unwrap();
        let rows = body["data"]
            .as_array()
            .unwrap_or_else(|| panic!("{report}: {body}"));
        assert!(!rows.is_empty(), "{report} has rows");
        assert!(
            body["lastSyncTimestamp"].is_string() && body["nextPageToken"].is_string(),
            "{report}: {body}"
        );
    }
    let unknown = client
        .post(format!("{url}/platform/reporting/v1/reports/m365Nothing"))
        .bearer_auth(&token)
        .body(r#"{"filters":{"pageSize":10},"pageToken":""}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), 404);
    let envelope: serde_json::Value = serde_json::from_str(&unknown.text().await.unwrap()).unwrap();
    assert_eq!(envelope["retryable"], false);
    harness.stop().await;
}

/// Drives one fault through a Druva refresh: it fails with `expected` in its error, the
/// last good data, jobs and events stay exactly as they were with `up` 0, and the next
/// refresh without the fault recovers and matches the tenant.
async fn druva_fault_keeps_last_snapshot(rule: FaultRule, expected: fn(&RefreshError) -> bool) {
    let harness = Harness::start(options(), Clock::manual(NOW_MS), |url, secret| {
        druva_yaml(url, secret, "").replace("timeout: 20s", "timeout: 3s")
    })
    .await;
    let before = harness.metrics().await;
    let data = |m: &Metrics| {
        let mut lines: Vec<String> =
            m.0.iter()
                .filter(|s| {
                    !s.name.starts_with("backup_source_")
                        && !s.name.starts_with("backup_exporter_")
                        && !s.name.ends_with("_age_seconds")
                        && s.name != "backup_events_total"
                })
                .map(|s| format!("{} {:?} {}", s.name, s.labels, s.value))
                .collect();
        lines.sort();
        lines
    };
    harness.clock.advance_ms(HOUR);
    harness.sim.simulator.faults.add(rule);
    let status = harness.refresh(SOURCE).await;
    assert!(!status.up, "the refresh should fail");
    let error = status.last_error.unwrap();
    assert!(expected(&error), "unexpected error {error:?}");
    let during = harness.metrics().await;
    assert_eq!(
        data(&during),
        data(&before),
        "the last good reports and jobs stay"
    );
    // The events are a stream of their own: read when the fault spared them, kept when not.
    assert_eq!(stream_up(&during, "reports"), Some(0.0));
    let events = |m: &Metrics| {
        m.find("backup_events_total", &[])
            .iter()
            .map(|s| s.value)
            .sum::<f64>()
    };
    if events(&during) != events(&before) {
        assert_eq!(stream_up(&during, "events"), Some(1.0));
        assert_events(&during, &harness);
    }
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
    assert_matches_truth(&harness.metrics().await, &harness, NOW_MS - DAY);
    harness.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_server_errors_after_the_retries() {
    let rule = FaultRule::new(Fault::Status {
        status: 502,
        retry_after: None,
    })
    .on("m365UserWorkload");
    druva_fault_keeps_last_snapshot(rule, |e| {
        matches!(
            e,
            RefreshError::Status {
                endpoint: "m365UserWorkload",
                status: 502,
                ..
            }
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_rate_limited() {
    let rule = FaultRule::new(Fault::Status {
        status: 429,
        retry_after: Some(60),
    })
    .on("m365Alerts");
    druva_fault_keeps_last_snapshot(rule, |e| {
        matches!(
            e,
            RefreshError::Status {
                endpoint: "m365Alerts",
                status: 429,
                ..
            }
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_truncated_body() {
    druva_fault_keeps_last_snapshot(FaultRule::new(Fault::Truncate).on("m365Alerts"), |e| {
        matches!(
            e,
            RefreshError::Body {
                endpoint: "m365Alerts",
                ..
            }
        )
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_malformed_json() {
    druva_fault_keeps_last_snapshot(
        FaultRule::new(Fault::Malformed).on("m365TeamsBackupActivity"),
        |e| {
            matches!(
                e,
                RefreshError::Decode {
                    endpoint: "m365TeamsBackupActivity",
                    ..
                }
            )
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_error_page_instead_of_a_report() {
    // A proxy's HTML page with status 200: not an empty report.
    druva_fault_keeps_last_snapshot(
        FaultRule::new(Fault::ErrorPage).on("m365TeamsDiscovery"),
        |e| {
            matches!(e, RefreshError::Decode { endpoint: "m365TeamsDiscovery", detail }
                if detail.starts_with("page 1: malformed JSON"))
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_dropped_connection() {
    druva_fault_keeps_last_snapshot(
        FaultRule::new(Fault::Drop).on("m365StorageConsumption"),
        |e| matches!(e, RefreshError::Transport { .. }),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_slow_upstream() {
    druva_fault_keeps_last_snapshot(
        FaultRule::new(Fault::Delay { millis: 5000 }).on("m365GroupsDiscovery"),
        |e| *e == RefreshError::Timeout(std::time::Duration::from_secs(3)),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn fault_token_rejected_twice_in_the_middle_of_a_refresh() {
    let rule = FaultRule::new(Fault::Status {
        status: 401,
        retry_after: None,
    })
    .on("m365LicenseUsage")
    .times(2);
    druva_fault_keeps_last_snapshot(rule, |e| {
        matches!(
            e,
            RefreshError::Status {
                endpoint: "m365LicenseUsage",
                status: 401,
                ..
            }
        )
    })
    .await;
}
