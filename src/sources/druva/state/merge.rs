//! How a report's rows merge into the state: current state by key, totals replaced, jobs
//! counted once when final.

use std::collections::BTreeMap;

use super::DruvaState;
use crate::sources::druva::errors::FailureReason;
use crate::sources::druva::reports::{
    Job, JobStatus, Kind, Operation, Parsed, PeriodCounts, Report,
};

/// At most this many distinct (workload, operation, status, reason) series of
/// `backup_job_failure_reasons_total` per source; more are counted as `other`.
pub(crate) const MAX_JOB_REASONS: usize = 200;

/// How long a counted job is remembered, so an overlapping or repeated read does not count
/// it twice: jobs updated this long before the newest job seen (vendor time, so a skewed
/// local clock cannot make the exporter forget too early). Reads overlap by minutes.
const REMEMBER_JOBS_MS: i64 = 2 * 24 * 3600 * 1000;

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
    pub(crate) fn apply(
        &mut self,
        report: &Report,
        rows: impl IntoIterator<Item = Parsed>,
        full: bool,
    ) {
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
                duration_ms,
                reasons,
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
            super::add(self.jobs.entry((workload.clone(), operation, status)), 1);
            super::add(
                self.job_files_missed.entry((workload.clone(), operation)),
                files_missed,
            );
            if let Some(ms) = duration_ms {
                self.job_durations
                    .entry((workload.clone(), operation))
                    .or_default()
                    .observe(ms as f64 / 1000.0);
            }
            for reason in reasons {
                count_job_reason(&mut self.job_reasons, &workload, operation, status, reason);
            }
            super::add(self.job_bytes.entry((workload, operation)), bytes);
        }
        if let Some(newest) = counted.values().max().copied() {
            counted.retain(|_, updated| newest - *updated < REMEMBER_JOBS_MS);
        }
    }
}

/// Counts a reason a job gave; past [`MAX_JOB_REASONS`] distinct ones, as `other`, so a
/// vendor that writes free-form codes cannot grow the series without bound.
fn count_job_reason(
    counts: &mut BTreeMap<(String, Operation, JobStatus, FailureReason), u64>,
    workload: &str,
    operation: Operation,
    status: JobStatus,
    reason: FailureReason,
) {
    let mut key = (workload.to_string(), operation, status, reason);
    if !counts.contains_key(&key) && counts.len() >= MAX_JOB_REASONS {
        key.3 = FailureReason::other();
    }
    super::add(counts.entry(key), 1);
}
