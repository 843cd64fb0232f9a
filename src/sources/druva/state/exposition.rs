//! The tenant's series: totals always, each resource's as the detail keeps them.

use std::collections::BTreeMap;

use super::{DruvaState, Durations, JOB_DURATION_BUCKETS, resource_thresholds};
use crate::exposition::{Detail, ExposeContext, ExpositionBuilder, LabelId, Value};
use crate::sources::druva::errors::FailureReason;
use crate::sources::druva::families::{
    ARCHIVED, BACKUP_AGE, BACKUP_ENABLED, EVENTS, EXPECTED_INTERVAL, JOB_BYTES, JOB_DURATION,
    JOB_FAILURE_REASONS, JOB_FILES_MISSED, JOBS, LAST_ATTEMPT, LAST_BACKUP_BYTES, LAST_BACKUP_END,
    LAST_BACKUP_ERROR, LAST_BACKUP_FAILED, LAST_BACKUP_ITEMS, LAST_BACKUP_ITEMS_MISSED,
    LAST_BACKUP_OUTCOME, LAST_BACKUP_START, LAST_SUCCESS, LICENSE_ALLOCATED, LICENSE_USED,
    NEVER_BACKED_UP, PRESERVED_AUTO_DELETE, PRESERVED_USERS, PRESERVED_USERS_BYTES,
    PROVISIONING_LICENSES, RESOURCE_BYTES, RESOURCE_INFO, RESOURCES, SCHEDULED, USERS,
    USERS_PROVISIONED, WORKLOAD_RESOURCES, WORKLOAD_STORAGE_BYTES,
};
use crate::sources::druva::reports::{
    JobStatus, LastBackup, Operation, Outcome, Protection, ProvisionedUser, Resource,
};
use crate::sources::families::ALERTS_ACTIVE;

impl DruvaState {
    /// Adds the tenant's series: totals, alert, job and event counts always, then each
    /// resource's series as `ctx` keeps them and `out` admits them (the stalest first when
    /// the source's series are capped).
    pub(super) fn expose_all(&self, out: &mut ExpositionBuilder, ctx: &ExposeContext) {
        self.expose_totals(out);
        self.expose_auto_deletes(out, ctx);
        if ctx.detail == Detail::None {
            return;
        }
        let age = |r: &Resource| r.last_success_ms.or(r.added_ms).map(|t| ctx.now_ms - t);
        let mut kept: Vec<(&Resource, bool)> = self
            .resources
            .iter()
            .flat_map(|(report, rows)| {
                // User workloads are named by the user's e-mail and name: personal data.
                let personal = report == "m365UserWorkload";
                rows.values().map(move |r| (r, personal))
            })
            .filter(|(r, _)| {
                // What cannot back up by choice never alerts: with `alerting` it is left out.
                let warning = resource_thresholds(r.interval_seconds).warning_ms;
                ctx.detail == Detail::All
                    || r.protection() == Protection::Protected
                        && ctx.keeps(
                            age(r),
                            r.last_failed || r.last_success_ms.is_none(),
                            Some(warning),
                        )
            })
            .collect();
        if out.is_limited() {
            kept.sort_by_key(|(r, _)| std::cmp::Reverse(age(r)));
        }
        for (resource, personal) in kept {
            // A user workload's last backup comes from m365UserLastBackupStatus.
            let last = personal
                .then(|| {
                    self.last_backups
                        .get(&format!("{}\u{0}{}", resource.workload, resource.id))
                })
                .flatten();
            if out.admit(series(resource, last)) {
                expose_resource(resource, last, personal, ctx, out);
            }
        }
        self.expose_lone_last_backups(out, ctx);
    }

    /// m365UserLastBackupStatus rows whose user workload m365UserWorkload does not list:
    /// exported on their own (with `alerting`, those that failed or finished with errors).
    fn expose_lone_last_backups(&self, out: &mut ExpositionBuilder, ctx: &ExposeContext) {
        let workloads = self.resources.get("m365UserWorkload");
        for (key, last) in &self.last_backups {
            let listed = workloads.is_some_and(|rows| rows.contains_key(key));
            let kept = ctx.detail == Detail::All || last.has_errors();
            if listed || !kept {
                continue;
            }
            if out.admit(2 + last.series()) {
                let (id, name) = (ctx.identity(&last.id), ctx.identity(&last.name));
                let info =
                    out.labels(&[("workload", &last.workload), ("id", &id), ("name", &name)]);
                out.push(&RESOURCE_INFO, info, Value::Int(1));
                let labels = out.labels(&[("workload", &last.workload), ("id", &id)]);
                expose_last_backup(last, labels, out);
                expose_outcome(&last.workload, &id, last.outcome, out);
                expose_reasons(&last.workload, &id, &last.failure, out);
            }
        }
    }
}

impl DruvaState {
    /// Storage, licences, users, alerts, jobs and events: complete whatever the detail.
    fn expose_totals(&self, out: &mut ExpositionBuilder) {
        self.expose_protection(out);
        if let Some(storage) = &self.storage {
            for s in storage {
                for (state, resources, bytes) in [
                    ("enabled", s.enabled, s.enabled_bytes),
                    ("disabled", s.disabled, s.disabled_bytes),
                ] {
                    let labels = out.labels(&[("workload", &s.workload), ("state", state)]);
                    out.push(&WORKLOAD_STORAGE_BYTES, labels, Value::count(bytes));
                    out.push(&WORKLOAD_RESOURCES, labels, Value::count(resources));
                }
            }
        }
        if let Some(license) = &self.license {
            for (name, value) in &license.counts {
                let (license, family) = match name.split_once('_') {
                    Some((license, "allocated")) => (license, &LICENSE_ALLOCATED),
                    Some((license, _)) => (license, &LICENSE_USED),
                    None => continue,
                };
                let labels = out.labels(&[("license", license)]);
                out.push(family, labels, Value::count(*value));
            }
        }
        if let Some(users) = &self.users {
            for (state, value) in &users.counts {
                let labels = out.labels(&[("state", state)]);
                out.push(&USERS, labels, Value::count(*value));
            }
        }
        if let Some(alerts) = &self.alerts {
            for severity in ["warning", "critical", "high"] {
                let active = alerts
                    .values()
                    .filter(|a| a.active && a.severity == severity)
                    .count();
                let labels = out.labels(&[("severity", severity)]);
                out.push(&ALERTS_ACTIVE, labels, Value::count(active));
            }
        }
        self.expose_jobs(out);
        self.expose_users(out);
        if let Some(events) = &self.events {
            for (key, count) in &events.counts {
                let labels = out.labels(&[
                    ("event_type", &key.event_type),
                    ("event_state", &key.event_state),
                    ("severity", &key.severity),
                ]);
                out.push(&EVENTS, labels, Value::count(*count));
            }
        }
    }
}

impl DruvaState {
    /// Jobs by workload, operation and status, their bytes and missed files: every status
    /// of every workload an activity report has shown, at 0 until one happens.
    fn expose_jobs(&self, out: &mut ExpositionBuilder) {
        let mut jobs = self.jobs.clone();
        let mut bytes = self.job_bytes.clone();
        for (report, workloads) in &self.job_workloads {
            let Some(operation) =
                crate::sources::druva::reports::find(report).and_then(|r| r.operation)
            else {
                continue;
            };
            for workload in workloads {
                bytes.entry((workload.clone(), operation)).or_default();
                for status in [
                    JobStatus::Success,
                    JobStatus::WithErrors,
                    JobStatus::Failed,
                    JobStatus::Cancelled,
                ] {
                    jobs.entry((workload.clone(), operation, status))
                        .or_default();
                }
            }
        }
        for ((workload, operation, status), count) in &jobs {
            let labels = out.labels(&[
                ("workload", workload),
                ("operation", operation.as_str()),
                ("status", status.as_str()),
            ]);
            out.push(&JOBS, labels, Value::count(*count));
        }
        for ((workload, operation), total) in &bytes {
            let labels = out.labels(&[("workload", workload), ("operation", operation.as_str())]);
            out.push(&JOB_BYTES, labels, Value::count(*total));
            let missed = self
                .job_files_missed
                .get(&(workload.clone(), *operation))
                .copied()
                .unwrap_or(0);
            out.push(&JOB_FILES_MISSED, labels, Value::count(missed));
        }
        for (workload, operation) in bytes.keys() {
            let durations = self.job_durations.get(&(workload.clone(), *operation));
            expose_durations(workload, *operation, durations, out);
        }
        for ((workload, operation, status, reason), count) in &self.job_reasons {
            let labels = out.labels(&[
                ("workload", workload),
                ("operation", operation.as_str()),
                ("status", status.as_str()),
                ("code", &reason.code),
                ("reason", &reason.reason),
            ]);
            out.push(&JOB_FAILURE_REASONS, labels, Value::count(*count));
        }
    }

    /// Provisioned users by status, licence state and management; preserved users and
    /// their data. Complete whatever the detail.
    fn expose_users(&self, out: &mut ExpositionBuilder) {
        if let Some(provisioned) = &self.provisioned {
            let mut counts: BTreeMap<&ProvisionedUser, u64> = BTreeMap::new();
            for user in provisioned.values() {
                *counts.entry(user).or_default() += 1;
            }
            for (user, count) in counts {
                let labels = out.labels(&[
                    ("status", &user.status),
                    ("license_state", &user.license_state),
                    ("managed_by", &user.managed_by),
                ]);
                out.push(&USERS_PROVISIONED, labels, Value::count(count));
            }
            let a = self.allocation;
            for (license, value) in [
                ("active", a.active),
                ("preserved", a.preserved),
                ("smb", a.smb),
            ] {
                if let Some(value) = value {
                    let labels = out.labels(&[("license", license)]);
                    out.push(&PROVISIONING_LICENSES, labels, Value::count(value));
                }
            }
        }
        if let Some(preserved) = &self.preserved {
            let labels = out.labels(&[]);
            out.push(&PRESERVED_USERS, labels, Value::count(preserved.len()));
            let bytes: u64 = preserved.values().filter_map(|p| p.bytes).sum();
            out.push(&PRESERVED_USERS_BYTES, labels, Value::count(bytes));
        }
    }

    /// Each preserved user Druva will delete, when: personal data, so subject to the
    /// detail (not with `none`) and hashed with `hash_identities`.
    fn expose_auto_deletes(&self, out: &mut ExpositionBuilder, ctx: &ExposeContext) {
        if ctx.detail == Detail::None {
            return;
        }
        for user in self.preserved.iter().flat_map(BTreeMap::values) {
            if let Some(ms) = user.auto_delete_ms
                && out.admit(1)
            {
                let labels = out.labels(&[
                    ("id", &ctx.identity(&user.email)),
                    ("name", &ctx.identity(&user.name)),
                ]);
                out.push(&PRESERVED_AUTO_DELETE, labels, Value::TimestampMs(ms));
            }
        }
    }

    /// Resources by workload and protection, over every resource whatever the detail.
    fn expose_protection(&self, out: &mut ExpositionBuilder) {
        let mut counts: BTreeMap<(&str, Protection), u64> = BTreeMap::new();
        for r in self.resources.values().flat_map(BTreeMap::values) {
            for protection in Protection::ALL {
                counts.entry((&r.workload, protection)).or_default();
            }
            *counts.entry((&r.workload, r.protection())).or_default() += 1;
        }
        for ((workload, protection), count) in counts {
            let labels = out.labels(&[("workload", workload), ("protection", protection.as_str())]);
            out.push(&RESOURCES, labels, Value::count(count));
        }
    }
}

impl Resource {
    /// Series this resource adds.
    fn series(&self) -> usize {
        let optional = [
            self.last_success_ms.is_some(),
            self.last_success_ms.or(self.added_ms).is_some(),
            self.last_success_ms.is_none(),
            self.last_attempt_ms.is_some(),
            self.interval_seconds.is_some(),
            self.bytes.is_some(),
            self.enabled.is_some(),
            self.workload == "Teams",
            self.interval_seconds.is_some() || self.unscheduled,
        ];
        // Info, failed and outcome, then the optional ones.
        3 + optional.iter().filter(|b| **b).count()
    }

    /// It failed or finished with errors (in a state saved before outcomes were kept,
    /// only failures are known).
    fn has_errors(&self) -> bool {
        self.outcome.has_errors() || self.last_failed
    }
}

impl LastBackup {
    /// Series it adds to its resource's.
    fn series(&self) -> usize {
        let values = [
            self.items_backed_up.is_some(),
            self.items_missed.is_some(),
            self.bytes.is_some(),
            self.start_ms.is_some(),
            self.end_ms.is_some(),
        ];
        self.failure.len() + values.iter().filter(|b| **b).count()
    }

    fn has_errors(&self) -> bool {
        self.outcome.has_errors() || self.failed
    }
}

/// Why a resource's last backup failed or finished with errors: its own report's reasons,
/// else (a user workload) those of its m365UserLastBackupStatus row, whatever the
/// workload report says.
fn failure<'a>(r: &'a Resource, last: Option<&'a LastBackup>) -> &'a [FailureReason] {
    match last {
        _ if r.has_errors() && !r.failure.is_empty() => &r.failure,
        Some(last) if last.has_errors() => &last.failure,
        _ => &[],
    }
}

/// The series a resource adds, with its last backup's.
fn series(r: &Resource, last: Option<&LastBackup>) -> usize {
    let last_values = last.map_or(0, |l| l.series() - l.failure.len());
    r.series() + last_values + failure(r, last).len()
}

fn expose_resource(
    r: &Resource,
    last: Option<&LastBackup>,
    personal: bool,
    ctx: &ExposeContext,
    out: &mut ExpositionBuilder,
) {
    let (id, name) = if personal {
        (ctx.identity(&r.id), ctx.identity(&r.name))
    } else {
        (r.id.as_str().into(), r.name.as_str().into())
    };
    let info = out.labels(&[("workload", &r.workload), ("id", &id), ("name", &name)]);
    out.push(&RESOURCE_INFO, info, Value::Int(1));
    let labels = out.labels(&[("workload", &r.workload), ("id", &id)]);
    match r.last_success_ms {
        Some(ms) => {
            out.push(&LAST_SUCCESS, labels, Value::TimestampMs(ms));
            out.push(&BACKUP_AGE, labels, Value::AgeSinceMs(ms));
        }
        None => {
            if let Some(added) = r.added_ms {
                out.push(&BACKUP_AGE, labels, Value::AgeSinceMs(added));
            }
            out.push(&NEVER_BACKED_UP, labels, Value::Int(1));
        }
    }
    if let Some(ms) = r.last_attempt_ms {
        out.push(&LAST_ATTEMPT, labels, Value::TimestampMs(ms));
    }
    if let Some(seconds) = r.interval_seconds {
        out.push(&EXPECTED_INTERVAL, labels, Value::count(seconds));
    }
    if let Some(bytes) = r.bytes {
        out.push(&RESOURCE_BYTES, labels, Value::count(bytes));
    }
    out.push(
        &LAST_BACKUP_FAILED,
        labels,
        Value::Int(i64::from(r.last_failed)),
    );
    if let Some(enabled) = r.enabled {
        out.push(&BACKUP_ENABLED, labels, Value::Int(i64::from(enabled)));
    }
    if r.workload == "Teams" {
        out.push(&ARCHIVED, labels, Value::Int(i64::from(r.archived)));
    }
    if r.interval_seconds.is_some() || r.unscheduled {
        out.push(&SCHEDULED, labels, Value::Int(i64::from(!r.unscheduled)));
    }
    if let Some(last) = last {
        expose_last_backup(last, labels, out);
    }
    expose_outcome(&r.workload, &id, r.outcome, out);
    expose_reasons(&r.workload, &id, failure(r, last), out);
}

/// How a resource's last backup ended.
fn expose_outcome(workload: &str, id: &str, outcome: Outcome, out: &mut ExpositionBuilder) {
    let labels = out.labels(&[
        ("workload", workload),
        ("id", id),
        ("outcome", outcome.as_str()),
    ]);
    out.push(&LAST_BACKUP_OUTCOME, labels, Value::Int(1));
}

/// A user workload's last backup, from m365UserLastBackupStatus.
fn expose_last_backup(last: &LastBackup, labels: LabelId, out: &mut ExpositionBuilder) {
    let values = [
        (&LAST_BACKUP_ITEMS, last.items_backed_up.map(Value::count)),
        (
            &LAST_BACKUP_ITEMS_MISSED,
            last.items_missed.map(Value::count),
        ),
        (&LAST_BACKUP_BYTES, last.bytes.map(Value::count)),
        (&LAST_BACKUP_START, last.start_ms.map(Value::TimestampMs)),
        (&LAST_BACKUP_END, last.end_ms.map(Value::TimestampMs)),
    ];
    for (family, value) in values {
        if let Some(value) = value {
            out.push(family, labels, value);
        }
    }
}

/// The reasons a resource's last backup gave.
fn expose_reasons(
    workload: &str,
    id: &str,
    reasons: &[FailureReason],
    out: &mut ExpositionBuilder,
) {
    for reason in reasons {
        let labels = out.labels(&[
            ("workload", workload),
            ("id", id),
            ("code", &reason.code),
            ("reason", &reason.reason),
        ]);
        out.push(&LAST_BACKUP_ERROR, labels, Value::Int(1));
    }
}

/// The histogram of one workload's and operation's job durations (all zero until a job
/// is counted): cumulative buckets, then the sum and the count.
fn expose_durations(
    workload: &str,
    operation: Operation,
    durations: Option<&Durations>,
    out: &mut ExpositionBuilder,
) {
    let empty = Durations::default();
    let durations = durations.unwrap_or(&empty);
    let mut cumulative = 0u64;
    let bounds = JOB_DURATION_BUCKETS.iter().map(|b| b.to_string());
    for (i, le) in bounds.chain(["+Inf".to_string()]).enumerate() {
        cumulative = cumulative.saturating_add(durations.buckets.get(i).copied().unwrap_or(0));
        let labels = out.labels(&[
            ("workload", workload),
            ("operation", operation.as_str()),
            ("le", &le),
        ]);
        out.push_part(&JOB_DURATION, "_bucket", labels, Value::count(cumulative));
    }
    let labels = out.labels(&[("workload", workload), ("operation", operation.as_str())]);
    out.push_part(
        &JOB_DURATION,
        "_sum",
        labels,
        Value::Float(durations.sum_seconds),
    );
    out.push_part(
        &JOB_DURATION,
        "_count",
        labels,
        Value::count(durations.count),
    );
}
