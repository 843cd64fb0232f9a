//! The state's merging, counting, thresholds and persistence.

use super::events::{EventKey, severity_label};
use super::health::{INTERVAL_FACTORS, RESOURCE_AGE_FLOORS};
use super::*;
use crate::health::Thresholds;
use crate::sources::druva::reports::{Job, JobStatus, Operation, Outcome, Parsed, Resource, find};

fn resource(id: &str, last_success_ms: Option<i64>) -> Parsed {
    Parsed::Resource {
        key: format!("Teams\u{0}{id}"),
        resource: Resource {
            workload: "Teams".into(),
            id: id.into(),
            name: id.into(),
            added_ms: Some(0),
            last_success_ms,
            last_attempt_ms: last_success_ms,
            interval_seconds: Some(86_400),
            bytes: Some(1),
            last_failed: false,
            outcome: Outcome::Success,
            enabled: Some(true),
            archived: false,
            unscheduled: false,
            failure: Vec::new(),
        },
    }
}

#[test]
fn incremental_reads_merge_by_key_and_full_reads_drop_the_missing() {
    let teams = find("m365TeamsDiscovery").unwrap();
    let mut state = DruvaState::default();
    state.apply(
        teams,
        vec![
            resource("1", Some(10)),
            resource("2", None),
            resource("3", Some(5)),
        ],
        true,
    );
    state.apply(
        teams,
        vec![
            resource("2", Some(20)),
            Parsed::ResourceDeleted {
                key: "Teams\u{0}3".into(),
            },
        ],
        false,
    );
    let ids = |s: &DruvaState| {
        s.resources["m365TeamsDiscovery"]
            .values()
            .map(|r| (r.id.clone(), r.last_success_ms))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        ids(&state),
        vec![("1".into(), Some(10)), ("2".into(), Some(20))]
    );
    state.apply(teams, vec![resource("2", Some(30))], true);
    assert_eq!(ids(&state), vec![("2".into(), Some(30))]);
}

fn job(id: u64, status: Option<JobStatus>, updated_ms: i64) -> Parsed {
    Parsed::Job(Job {
        id,
        workload: "Teams".into(),
        operation: Operation::Backup,
        status,
        bytes: 100,
        files_missed: 2,
        updated_ms,
        duration_ms: Some(90_000),
        reasons: Vec::new(),
    })
}

#[test]
fn each_job_is_counted_once_when_final() {
    let report = find("m365TeamsBackupActivity").unwrap();
    let mut state = DruvaState::default();
    state.apply(
        report,
        vec![job(1, Some(JobStatus::Success), 0), job(2, None, 0)],
        false,
    );
    // Overlapping read: job 1 again, job 2 now final, job 3 failed.
    state.apply(
        report,
        vec![
            job(1, Some(JobStatus::Success), 0),
            job(2, Some(JobStatus::Success), 5),
            job(3, Some(JobStatus::Failed), 6),
        ],
        false,
    );
    let key = |s| ("Teams".to_string(), Operation::Backup, s);
    assert_eq!(state.jobs[&key(JobStatus::Success)], 2);
    assert_eq!(state.jobs[&key(JobStatus::Failed)], 1);
    assert_eq!(state.job_bytes[&("Teams".into(), Operation::Backup)], 300);
    // Forgotten two days (of the vendor's time) after newer jobs: memory stays bounded.
    state.apply(
        report,
        vec![job(4, Some(JobStatus::Success), 3 * 24 * 3600 * 1000)],
        false,
    );
    assert_eq!(
        state.counted_jobs["m365TeamsBackupActivity"]
            .keys()
            .copied()
            .collect::<Vec<_>>(),
        [4]
    );
}

fn kind<'a>(event_type: &'a str, event_state: &'a str) -> EventKind<'a> {
    EventKind {
        event_type,
        event_state,
        severity: "6",
    }
}

#[test]
fn events_before_a_lost_cursor_are_not_counted_again() {
    let mut log = EventLog::default();
    log.count(1000, 1, kind("Backup", "Success"), false);
    log.count(2000, 2, kind("Backup", "Backed up with Errors"), false);
    log.count(2000, 3, kind("Restore", "Success"), false);
    // A late event older than the newest is still counted while following the cursor.
    log.count(1500, 9, kind("Backup", "Success"), false);
    // The cursor expired; the stream is read again from the start and continues.
    for (ts, fp) in [
        (1000, 1),
        (1500, 9),
        (2000, 2),
        (2000, 3),
        (2000, 4),
        (3000, 5),
    ] {
        log.count(ts, fp, kind("Backup", "Success"), true);
    }
    assert_eq!(log.total(), 6);
    let key = EventKey {
        event_type: "backup".into(),
        event_state: "backed_up_with_errors".into(),
        severity: "info".into(),
    };
    assert_eq!(log.counts[&key], 1);
}

#[test]
fn event_severities_are_bounded_words() {
    for (text, label) in [
        ("6", "info"),
        ("3", "error"),
        (" Warning", "warning"),
        ("High", "high"),
        ("", "unknown"),
        ("12", "other"),
        ("very bad", "other"),
    ] {
        assert_eq!(severity_label(text), label, "{text:?}");
    }
}

#[test]
fn event_counts_saved_before_severities_still_load() {
    let old = r#"{"cursor":"t","counts":[[["backup","success"],4]],"newest_ms":null,"newest_fingerprints":[]}"#;
    let log: EventLog = serde_json::from_str(old).unwrap();
    let key = EventKey {
        event_type: "backup".into(),
        event_state: "success".into(),
        severity: "unknown".into(),
    };
    assert_eq!(log.counts[&key], 4);
    let round: EventLog = serde_json::from_str(&serde_json::to_string(&log).unwrap()).unwrap();
    assert_eq!(round, log);
}

#[test]
fn thresholds_are_the_alerting_rules_defaults() {
    let config = include_str!("../../../../alerts/config.libsonnet");
    let line = RESOURCE_AGE_FLOORS.libsonnet("resourceAge");
    assert!(
        config.contains(&line),
        "alerts/config.libsonnet lacks {line:?}"
    );
    let (warning, critical) = INTERVAL_FACTORS;
    let factor = format!("resourceIntervalFactor: {{ warning: {warning}, critical: {critical} }}");
    assert!(
        config.contains(&factor),
        "alerts/config.libsonnet lacks {factor:?}"
    );
}

#[test]
fn tiers_are_tiers_for_every_schedule() {
    let day = 86_400_000;
    // A 12-hour schedule warns after a day; a daily one is critical after three.
    assert_eq!(resource_thresholds(Some(43_200)), Thresholds::days(1, 2));
    assert_eq!(resource_thresholds(Some(86_400)), Thresholds::days(2, 3));
    assert_eq!(resource_thresholds(Some(604_800)), Thresholds::days(14, 21));
    assert_eq!(resource_thresholds(None), Thresholds::days(1, 2));
    for minutes in [240u64, 480, 720, 1440, 2880, 4320, 10080] {
        let t = resource_thresholds(Some(minutes * 60));
        assert!(
            t.warning_ms < t.critical_ms && t.warning_ms >= day,
            "{minutes}: {t:?}"
        );
    }
}

#[test]
fn label_values_are_bounded() {
    assert_eq!(
        label_value("Backed up with Errors"),
        "backed_up_with_errors"
    );
    assert_eq!(label_value("API Login"), "api_login");
    assert_eq!(label_value(" -- "), "unknown");
    assert_eq!(label_value(&"x".repeat(100)).len(), 64);
}

#[test]
fn state_round_trips_through_json() {
    let mut state = DruvaState::default();
    state.apply(
        find("m365TeamsDiscovery").unwrap(),
        vec![resource("1", Some(1))],
        true,
    );
    state.apply(
        find("m365TeamsBackupActivity").unwrap(),
        vec![job(9, Some(JobStatus::Success), 0)],
        false,
    );
    state.events = Some(EventLog::default());
    state
        .events
        .as_mut()
        .unwrap()
        .count(5, 5, kind("Backup", "Success"), false);
    let json = serde_json::to_string(&state).unwrap();
    assert_eq!(serde_json::from_str::<DruvaState>(&json).unwrap(), state);
}

/// The series of `family` that `state` exposes, as text.
fn exposed(state: &DruvaState, family: &'static crate::exposition::FamilyDef) -> String {
    use crate::sources::VendorState;
    let mut out = crate::exposition::ExpositionBuilder::new("m365", &[]);
    state.expose(&mut out, &crate::exposition::ExposeContext::all(0));
    let exposition = out.finish();
    let mut text = Vec::new();
    if let Some(table) = exposition.table(family) {
        exposition.render_chunks(table, 0, 1 << 16, |chunk| text.extend_from_slice(chunk));
    }
    String::from_utf8(text).unwrap()
}

#[test]
fn a_last_backup_gives_its_reasons_whatever_the_workload_row_says() {
    use crate::sources::druva::errors::FailureReason;
    use crate::sources::druva::families::{LAST_BACKUP_ERROR, LAST_BACKUP_OUTCOME, RESOURCE_INFO};
    use crate::sources::druva::reports::LastBackup;
    let last = |id: &str| LastBackup {
        workload: "OneDrive".into(),
        id: id.into(),
        name: id.into(),
        failed: true,
        outcome: Outcome::Failed,
        items_backed_up: Some(0),
        items_missed: Some(3),
        bytes: Some(0),
        start_ms: Some(1),
        end_ms: Some(2),
        failure: vec![FailureReason {
            code: "EINTERNAL".into(),
            reason: "EINTERNAL".into(),
        }],
    };
    let mut state = DruvaState::default();
    // The workload report says its last backup went well; its last-backup row says not.
    let Parsed::Resource { mut resource, .. } = resource("a@example.com", Some(1)) else {
        unreachable!()
    };
    resource.workload = "OneDrive".into();
    state
        .resources
        .entry("m365UserWorkload".into())
        .or_default()
        .insert("OneDrive\u{0}a@example.com".into(), resource);
    state
        .last_backups
        .insert("OneDrive\u{0}a@example.com".into(), last("a@example.com"));
    // And one that only m365UserLastBackupStatus lists.
    state
        .last_backups
        .insert("OneDrive\u{0}b@example.com".into(), last("b@example.com"));
    let errors = exposed(&state, &LAST_BACKUP_ERROR);
    for id in ["a@example.com", "b@example.com"] {
        assert!(
            errors.contains(&format!(
                r#"id="{id}",code="EINTERNAL",reason="EINTERNAL"}} 1"#
            )),
            "{errors}"
        );
    }
    let outcomes = exposed(&state, &LAST_BACKUP_OUTCOME);
    assert!(
        outcomes.contains(r#"id="a@example.com",outcome="success"} 1"#),
        "{outcomes}"
    );
    assert!(
        outcomes.contains(r#"id="b@example.com",outcome="failed"} 1"#),
        "{outcomes}"
    );
    assert!(
        exposed(&state, &RESOURCE_INFO).contains(r#"id="b@example.com",name="b@example.com"} 1"#)
    );
}
