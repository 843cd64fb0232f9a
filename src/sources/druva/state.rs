//! What the exporter knows about a Druva tenant: the merged current state of resources and
//! alerts, the latest totals, job and event counters, and the cursors to continue from.
//! A refresh works on a copy and the engine swaps it in only when everything succeeded.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::families::{
    ARCHIVED, BACKUP_AGE, BACKUP_ENABLED, EVENTS, EXPECTED_INTERVAL, JOB_BYTES, JOB_FILES_MISSED,
    JOBS, LAST_ATTEMPT, LAST_BACKUP_BYTES, LAST_BACKUP_END, LAST_BACKUP_ERROR, LAST_BACKUP_FAILED,
    LAST_BACKUP_ITEMS, LAST_BACKUP_ITEMS_MISSED, LAST_BACKUP_START, LAST_SUCCESS,
    LICENSE_ALLOCATED, LICENSE_USED, NEVER_BACKED_UP, PRESERVED_AUTO_DELETE, PRESERVED_USERS,
    PRESERVED_USERS_BYTES, PROVISIONING_LICENSES, RESOURCE_BYTES, RESOURCE_INFO, RESOURCES,
    SCHEDULED, USERS, USERS_PROVISIONED, WORKLOAD_RESOURCES, WORKLOAD_STORAGE_BYTES,
};
use super::reports::{
    Alert, Allocation, Job, JobStatus, Kind, LastBackup, Operation, Parsed, PeriodCounts,
    PreservedUser, Protection, ProvisionedUser, Report, Resource, WorkloadStorage,
};
use crate::exposition::{Detail, ExposeContext, ExpositionBuilder, Value};
use crate::health::{Crossing, HealthSummary, StaleItem, SummaryBuilder, Thresholds};
use crate::sources::VendorState;
use crate::sources::families::ALERTS_ACTIVE;

/// The default thresholds of the alerting rules (`alerts/config.libsonnet`): a resource
/// without a successful backup for this many of its backup intervals...
const INTERVAL_FACTORS: (i64, i64) = (2, 3);
/// ...and at least this long (all a resource without a schedule, a user workload, gets).
const RESOURCE_AGE_FLOORS: Thresholds = Thresholds::days(1, 2);

/// When a resource backed up every `interval_seconds` (if known) turns warning and critical.
pub(crate) fn resource_thresholds(interval_seconds: Option<u64>) -> Thresholds {
    let interval_ms = (interval_seconds.unwrap_or(0) as i64).saturating_mul(1000);
    Thresholds {
        warning_ms: RESOURCE_AGE_FLOORS
            .warning_ms
            .max(interval_ms.saturating_mul(INTERVAL_FACTORS.0)),
        critical_ms: RESOURCE_AGE_FLOORS
            .critical_ms
            .max(interval_ms.saturating_mul(INTERVAL_FACTORS.1)),
    }
}

/// How long a counted job is remembered, so an overlapping or repeated read does not count
/// it twice: jobs updated this long before the newest job seen (vendor time, so a skewed
/// local clock cannot make the exporter forget too early). Reads overlap by minutes.
const REMEMBER_JOBS_MS: i64 = 2 * 24 * 3600 * 1000;
/// At most this many distinct (event_type, event_state) pairs per source; more are counted
/// under `other` so a vendor change cannot explode the series count.
pub(crate) const MAX_EVENT_LABEL_PAIRS: usize = 500;

/// Where an incremental report continues from.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub(crate) struct Cursor {
    /// `lastSyncTimestamp` of the last successful read, Unix ms.
    pub(crate) last_sync_ms: i64,
    /// When the report was last read completely (current-state reports only).
    pub(crate) last_full_ms: Option<i64>,
    /// How many pages its last read took.
    #[serde(default)]
    pub(crate) pages: u32,
}

/// Counters from the inSync Events API and where the stream continues.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct EventLog {
    /// The v2 tracker or the legacy progress cookie.
    pub(crate) cursor: Option<String>,
    /// Events by type, state and severity.
    #[serde(with = "event_entries")]
    pub(crate) counts: BTreeMap<EventKey, u64>,
    /// Newest event counted, and fingerprints of the events counted at that instant: when
    /// the cursor is lost and the stream is read again from the oldest retained event,
    /// everything up to here is skipped.
    pub(crate) newest_ms: Option<i64>,
    pub(crate) newest_fingerprints: BTreeSet<u64>,
}

impl EventLog {
    /// Counts an event. While `replaying` (the cursor was lost and the stream is read again
    /// from its oldest retained event), events up to the newest one counted before are
    /// recognised and skipped.
    pub(crate) fn count(
        &mut self,
        timestamp_ms: i64,
        fingerprint: u64,
        event: EventKind<'_>,
        replaying: bool,
    ) {
        let seen = match self.newest_ms {
            Some(newest) if timestamp_ms < newest => true,
            Some(newest) if timestamp_ms == newest => {
                self.newest_fingerprints.contains(&fingerprint)
            }
            _ => false,
        };
        if replaying && seen {
            return;
        }
        match self.newest_ms {
            Some(newest) if timestamp_ms < newest => {}
            Some(newest) if timestamp_ms == newest => {
                self.newest_fingerprints.insert(fingerprint);
            }
            _ => {
                self.newest_ms = Some(timestamp_ms);
                self.newest_fingerprints = BTreeSet::from([fingerprint]);
            }
        }
        let mut key = EventKey {
            event_type: label_value(event.event_type),
            event_state: label_value(event.event_state),
            severity: severity_label(event.severity),
        };
        if !self.counts.contains_key(&key) && self.counts.len() >= MAX_EVENT_LABEL_PAIRS {
            key = EventKey {
                event_type: "other".into(),
                event_state: "other".into(),
                severity: "other".into(),
            };
        }
        *self.counts.entry(key).or_default() += 1;
    }

    #[cfg(test)]
    pub(crate) fn total(&self) -> u64 {
        self.counts.values().sum()
    }
}

/// What an event is, as read from its row.
pub(crate) struct EventKind<'a> {
    pub(crate) event_type: &'a str,
    pub(crate) event_state: &'a str,
    /// `Severity` (v1) or `severity` (v2): a syslog number, or a word; empty when absent.
    pub(crate) severity: &'a str,
}

/// The labels an event is counted under.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct EventKey {
    pub(crate) event_type: String,
    pub(crate) event_state: String,
    pub(crate) severity: String,
}

/// An event's severity as a bounded label value: syslog's numbers (0–7, what inSync
/// sends) as their names, those names and Druva's alert words as they are, `unknown` when
/// absent, `other` for anything else.
fn severity_label(text: &str) -> String {
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
    const WORDS: [&str; 3] = ["high", "notification", "informational"];
    let text = text.trim().to_ascii_lowercase();
    if text.is_empty() {
        return "unknown".into();
    }
    if let Ok(n) = text.parse::<usize>() {
        return SYSLOG.get(n).map_or("other", |s| s).into();
    }
    if SYSLOG.contains(&text.as_str()) || WORDS.contains(&text.as_str()) {
        text
    } else {
        "other".into()
    }
}

/// Event counters as saved: a list of (key, count), where the key is [type, state,
/// severity], or [type, state] in files saved before the severity was counted.
mod event_entries {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::EventKey;

    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Saved {
        Current((String, String, String)),
        BeforeSeverity((String, String)),
    }

    pub(crate) fn serialize<S: Serializer>(
        map: &BTreeMap<EventKey, u64>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(
            map.iter()
                .map(|(k, n)| ((&k.event_type, &k.event_state, &k.severity), n)),
        )
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(
        d: D,
    ) -> Result<BTreeMap<EventKey, u64>, D::Error> {
        let mut map = BTreeMap::new();
        for (key, count) in Vec::<(Saved, u64)>::deserialize(d)? {
            let (event_type, event_state, severity) = match key {
                Saved::Current(k) => k,
                Saved::BeforeSeverity((t, s)) => (t, s, "unknown".into()),
            };
            *map.entry(EventKey {
                event_type,
                event_state,
                severity,
            })
            .or_default() += count;
        }
        Ok(map)
    }
}

/// A vendor vocabulary word as a bounded label value: lower case, words joined by `_`, at
/// most 64 characters ("Backed up with Errors" → `backed_up_with_errors`).
pub(crate) fn label_value(text: &str) -> String {
    let mut out = String::new();
    for word in text
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
    {
        if !out.is_empty() {
            out.push('_');
        }
        out.extend(word.chars().flat_map(char::to_lowercase));
    }
    let mut out: String = out.chars().take(64).collect();
    if out.is_empty() {
        out.push_str("unknown");
    }
    out
}

/// Serializes maps with tuple keys as lists of entries (JSON keys must be strings).
mod entries {
    use serde::de::DeserializeOwned;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use std::collections::BTreeMap;

    pub(crate) fn serialize<K: Serialize, V: Serialize, S: Serializer>(
        map: &BTreeMap<K, V>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.collect_seq(map.iter())
    }

    pub(crate) fn deserialize<
        'de,
        K: DeserializeOwned + Ord,
        V: DeserializeOwned,
        D: Deserializer<'de>,
    >(
        d: D,
    ) -> Result<BTreeMap<K, V>, D::Error> {
        Ok(Vec::<(K, V)>::deserialize(d)?.into_iter().collect())
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct DruvaState {
    /// Rows of each current-state resource report, by key.
    pub(crate) resources: BTreeMap<String, BTreeMap<String, Resource>>,
    /// m365Alerts rows by alertId; `None` until the report was read.
    pub(crate) alerts: Option<BTreeMap<u64, Alert>>,
    pub(crate) storage: Option<Vec<WorkloadStorage>>,
    pub(crate) license: Option<PeriodCounts>,
    pub(crate) users: Option<PeriodCounts>,
    pub(crate) cursors: BTreeMap<String, Cursor>,
    #[serde(with = "entries")]
    pub(crate) jobs: BTreeMap<(String, Operation, JobStatus), u64>,
    #[serde(with = "entries")]
    pub(crate) job_bytes: BTreeMap<(String, Operation), u64>,
    /// Jobs already counted: report → jobId → lastUpdatedTime.
    pub(crate) counted_jobs: BTreeMap<String, BTreeMap<u64, i64>>,
    /// Workloads seen per activity report, so their counters exist (at 0) from the start.
    pub(crate) job_workloads: BTreeMap<String, BTreeSet<String>>,
    /// `None` when events are not read.
    pub(crate) events: Option<EventLog>,
    #[serde(default, with = "entries")]
    pub(crate) job_files_missed: BTreeMap<(String, Operation), u64>,
    /// m365UserLastBackupStatus rows, by the key of their resource.
    #[serde(default)]
    pub(crate) last_backups: BTreeMap<String, LastBackup>,
    /// m365UserProvisioning rows by e-mail, and the licences they say are allocated;
    /// `None` until the report was read.
    #[serde(default)]
    pub(crate) provisioned: Option<BTreeMap<String, ProvisionedUser>>,
    #[serde(default)]
    pub(crate) allocation: Allocation,
    /// m365PreservedUsersDatasources rows by e-mail; `None` until the report was read.
    #[serde(default)]
    pub(crate) preserved: Option<BTreeMap<String, PreservedUser>>,
}

/// Merges a current-state report's rows into `map`, in the order they came: a row replaces
/// its key's entry, `None` (a deletion row) removes it. A full read replaces the whole map.
fn merge<K: Ord, T>(
    map: &mut BTreeMap<K, T>,
    rows: impl Iterator<Item = (K, Option<T>)>,
    full: bool,
) {
    if full {
        // Built in one go, the map's nodes are full; inserted one by one, they end up
        // about half empty, which at 100,000 resources is tens of megabytes. The old rows go
        // first, so the two maps never exist together.
        map.clear();
        let latest: BTreeMap<K, Option<T>> = rows.collect();
        *map = latest
            .into_iter()
            .filter_map(|(k, v)| Some((k, v?)))
            .collect();
        return;
    }
    for (key, row) in rows {
        match row {
            Some(value) => map.insert(key, value),
            None => map.remove(&key),
        };
    }
}

/// The newest row of week/month counts: the newest month when there is one.
fn newest(rows: Vec<PeriodCounts>) -> Option<PeriodCounts> {
    let monthly = rows.iter().any(|r| r.monthly);
    rows.into_iter()
        .filter(|r| r.monthly == monthly)
        .max_by_key(|r| r.start_ms)
}

impl DruvaState {
    /// Applies one report's rows. `full` means the rows are the complete current state
    /// (deletions are whatever is missing); otherwise they are changes since the cursor.
    pub(crate) fn apply(&mut self, report: &Report, rows: impl IntoIterator<Item = Parsed>, full: bool) {
        match report.kind {
            Kind::Totals => self.apply_totals(rows),
            Kind::CurrentState if report.id == "m365Alerts" => {
                let rows = rows.into_iter().filter_map(|row| match row {
                    Parsed::Alert { id, alert } => Some((id, Some(alert))),
                    Parsed::AlertDeleted { id } => Some((id, None)),
                    _ => None,
                });
                merge(self.alerts.get_or_insert_default(), rows, full);
            }
            Kind::CurrentState if report.id == "m365UserLastBackupStatus" => {
                let rows = rows.into_iter().filter_map(|row| match row {
                    Parsed::LastBackup { key, last } => Some((key, Some(last))),
                    _ => None,
                });
                merge(&mut self.last_backups, rows, full);
            }
            Kind::CurrentState if report.id == "m365UserProvisioning" => {
                let mut users = Vec::new();
                for row in rows {
                    if let Parsed::Provisioned {
                        key,
                        user,
                        allocation,
                    } = row
                    {
                        // Every row repeats the tenant's allocation; the newest read wins.
                        let a = &mut self.allocation;
                        a.active = allocation.active.or(a.active);
                        a.preserved = allocation.preserved.or(a.preserved);
                        a.smb = allocation.smb.or(a.smb);
                        users.push((key, Some(user)));
                    }
                }
                merge(
                    self.provisioned.get_or_insert_default(),
                    users.into_iter(),
                    full,
                );
            }
            Kind::CurrentState if report.id == "m365PreservedUsersDatasources" => {
                let rows = rows.into_iter().filter_map(|row| match row {
                    Parsed::Preserved { key, user } => Some((key, Some(user))),
                    _ => None,
                });
                merge(self.preserved.get_or_insert_default(), rows, full);
            }
            Kind::CurrentState => {
                let rows = rows.into_iter().filter_map(|row| match row {
                    Parsed::Resource { key, resource } => Some((key, Some(resource))),
                    Parsed::ResourceDeleted { key } => Some((key, None)),
                    _ => None,
                });
                let resources = self.resources.entry(report.id.to_string()).or_default();
                merge(resources, rows, full);
            }
            Kind::Activity => self.apply_jobs(report, rows),
        }
    }

    fn apply_totals(&mut self, rows: impl IntoIterator<Item = Parsed>) {
        let mut storage = Vec::new();
        let mut license = Vec::new();
        let mut users = Vec::new();
        for row in rows {
            match row {
                Parsed::Storage(s) => storage.push(s),
                Parsed::License(l) => license.push(l),
                Parsed::Users(u) => users.push(u),
                _ => {}
            }
        }
        if !storage.is_empty() || self.storage.is_none() {
            self.storage = Some(storage);
        }
        if let Some(l) = newest(license) {
            self.license = Some(l);
        }
        if let Some(u) = newest(users) {
            self.users = Some(u);
        }
    }

    /// Counts each job once, when it has a final status.
    fn apply_jobs(&mut self, report: &Report, rows: impl IntoIterator<Item = Parsed>) {
        let counted = self.counted_jobs.entry(report.id.to_string()).or_default();
        let workloads = self.job_workloads.entry(report.id.to_string()).or_default();
        if let Some(workload) = report.workload {
            workloads.insert(workload.to_string());
        }
        for row in rows {
            let Parsed::Job(Job {
                id,
                workload,
                operation,
                status,
                bytes,
                files_missed,
                updated_ms,
            }) = row
            else {
                continue;
            };
            workloads.insert(workload.clone());
            let Some(status) = status else { continue };
            if counted.contains_key(&id) {
                continue;
            }
            counted.insert(id, updated_ms);
            *self
                .jobs
                .entry((workload.clone(), operation, status))
                .or_default() += 1;
            *self
                .job_files_missed
                .entry((workload.clone(), operation))
                .or_default() += files_missed;
            *self.job_bytes.entry((workload, operation)).or_default() += bytes;
        }
        if let Some(newest) = counted.values().max().copied() {
            counted.retain(|_, updated| newest - *updated < REMEMBER_JOBS_MS);
        }
    }
}

/// How a resource's health is decided, for the status page.
fn health_rule() -> String {
    let days = |ms: i64| ms / crate::health::DAY_MS;
    format!(
        "A resource is a warning when its last successful backup is older than {} of its backup intervals, critical after {}, and never sooner than {} and {} days; a failed last backup is a warning, a resource never backed up is at most a warning, and one whose backup is disabled, archived or never scheduled is not protected, neither healthy nor unhealthy.",
        INTERVAL_FACTORS.0,
        INTERVAL_FACTORS.1,
        days(RESOURCE_AGE_FLOORS.warning_ms),
        days(RESOURCE_AGE_FLOORS.critical_ms),
    )
}

impl VendorState for DruvaState {
    /// Every resource's health and the stalest resources.
    fn summarize(&self, ctx: &ExposeContext) -> HealthSummary {
        let items = self.resources.values().map(|rows| rows.len()).sum();
        let mut summary = SummaryBuilder::new("resource", health_rule(), items);
        for (report, rows) in &self.resources {
            let personal = report == "m365UserWorkload";
            for r in rows.values() {
                if r.protection() != Protection::Protected {
                    summary.count_unprotected();
                    continue;
                }
                let thresholds = resource_thresholds(r.interval_seconds);
                let never = r.last_success_ms.is_none();
                let mut crossing = Crossing::default();
                if r.last_failed {
                    crossing = crossing.warning_now();
                }
                let Some(since_ms) = r.last_success_ms.or(r.added_ms) else {
                    summary.count(crossing);
                    continue;
                };
                summary.count(crossing.age(since_ms, thresholds, never));
                summary.offer(since_ms, || StaleItem {
                    name: if personal {
                        ctx.identity(&r.name).into_owned()
                    } else {
                        r.name.clone()
                    },
                    group: r.workload.clone(),
                    since_ms,
                    never_completed: never,
                });
            }
        }
        summary.finish()
    }

    /// Adds the tenant's series: totals, alert, job and event counts always, then each
    /// resource's series as `ctx` keeps them and `out` admits them (the stalest first when
    /// the source's series are capped).
    fn expose(&self, out: &mut ExpositionBuilder, ctx: &ExposeContext) {
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
            if out.admit(resource.series() + last.map_or(0, LastBackup::series)) {
                expose_resource(resource, last, personal, ctx, out);
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
                    out.push(&WORKLOAD_STORAGE_BYTES, labels, Value::Int(bytes as i64));
                    out.push(&WORKLOAD_RESOURCES, labels, Value::Int(resources as i64));
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
                out.push(family, labels, Value::Int(*value as i64));
            }
        }
        if let Some(users) = &self.users {
            for (state, value) in &users.counts {
                let labels = out.labels(&[("state", state)]);
                out.push(&USERS, labels, Value::Int(*value as i64));
            }
        }
        if let Some(alerts) = &self.alerts {
            for severity in ["warning", "critical", "high"] {
                let active = alerts
                    .values()
                    .filter(|a| a.active && a.severity == severity)
                    .count();
                let labels = out.labels(&[("severity", severity)]);
                out.push(&ALERTS_ACTIVE, labels, Value::Int(active as i64));
            }
        }
        let mut jobs = self.jobs.clone();
        let mut bytes = self.job_bytes.clone();
        for (report, workloads) in &self.job_workloads {
            let Some(operation) = super::reports::find(report).and_then(|r| r.operation) else {
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
            out.push(&JOBS, labels, Value::Int(*count as i64));
        }
        for ((workload, operation), total) in &bytes {
            let labels = out.labels(&[("workload", workload), ("operation", operation.as_str())]);
            out.push(&JOB_BYTES, labels, Value::Int(*total as i64));
            let missed = self
                .job_files_missed
                .get(&(workload.clone(), *operation))
                .copied()
                .unwrap_or(0);
            out.push(&JOB_FILES_MISSED, labels, Value::Int(missed as i64));
        }
        self.expose_users(out);
        if let Some(events) = &self.events {
            for (key, count) in &events.counts {
                let labels = out.labels(&[
                    ("event_type", &key.event_type),
                    ("event_state", &key.event_state),
                    ("severity", &key.severity),
                ]);
                out.push(&EVENTS, labels, Value::Int(*count as i64));
            }
        }
    }
}

impl DruvaState {
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
                out.push(&USERS_PROVISIONED, labels, Value::Int(count as i64));
            }
            let a = self.allocation;
            for (license, value) in [
                ("active", a.active),
                ("preserved", a.preserved),
                ("smb", a.smb),
            ] {
                if let Some(value) = value {
                    let labels = out.labels(&[("license", license)]);
                    out.push(&PROVISIONING_LICENSES, labels, Value::Int(value as i64));
                }
            }
        }
        if let Some(preserved) = &self.preserved {
            let labels = out.labels(&[]);
            out.push(&PRESERVED_USERS, labels, Value::Int(preserved.len() as i64));
            let bytes: u64 = preserved.values().filter_map(|p| p.bytes).sum();
            out.push(&PRESERVED_USERS_BYTES, labels, Value::Int(bytes as i64));
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
            out.push(&RESOURCES, labels, Value::Int(count as i64));
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
        2 + self.failure.len() + optional.iter().filter(|b| **b).count()
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
        out.push(&EXPECTED_INTERVAL, labels, Value::Int(seconds as i64));
    }
    if let Some(bytes) = r.bytes {
        out.push(&RESOURCE_BYTES, labels, Value::Int(bytes as i64));
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
        let values = [
            (
                &LAST_BACKUP_ITEMS,
                last.items_backed_up.map(|n| Value::Int(n as i64)),
            ),
            (
                &LAST_BACKUP_ITEMS_MISSED,
                last.items_missed.map(|n| Value::Int(n as i64)),
            ),
            (&LAST_BACKUP_BYTES, last.bytes.map(|n| Value::Int(n as i64))),
            (&LAST_BACKUP_START, last.start_ms.map(Value::TimestampMs)),
            (&LAST_BACKUP_END, last.end_ms.map(Value::TimestampMs)),
        ];
        for (family, value) in values {
            if let Some(value) = value {
                out.push(family, labels, value);
            }
        }
    }
    // Why it failed: the resource report's reasons, else its last-backup row's.
    let failure = match (r.last_failed, last) {
        (true, _) if !r.failure.is_empty() => &r.failure[..],
        (true, Some(last)) if last.failed => &last.failure[..],
        _ => &[],
    };
    for reason in failure {
        let labels = out.labels(&[
            ("workload", &r.workload),
            ("id", &id),
            ("code", &reason.code),
            ("reason", &reason.reason),
        ]);
        out.push(&LAST_BACKUP_ERROR, labels, Value::Int(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::druva::reports::find;

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
        let config = include_str!("../../../alerts/config.libsonnet");
        let line = RESOURCE_AGE_FLOORS.libsonnet("resourceAge");
        assert!(
            config.contains(&line),
            "alerts/config.libsonnet lacks {line:?}"
        );
        let (warning, critical) = INTERVAL_FACTORS;
        let factor =
            format!("resourceIntervalFactor: {{ warning: {warning}, critical: {critical} }}");
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
}
