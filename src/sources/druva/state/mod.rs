//! What the exporter knows about a Druva tenant: the merged current state of resources and
//! alerts, the latest totals, job and event counters, and the cursors to continue from.
//! A refresh works on a copy and the engine swaps it in only when everything succeeded:
//! how rows merge into it ([`merge`]), the event counters ([`events`]), its series
//! ([`exposition`]) and the status page's health ([`health`]).

mod events;
mod exposition;
mod health;
mod merge;
#[cfg(test)]
mod tests;

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use super::errors::FailureReason;
use super::reports::{
    Alert, Allocation, JobStatus, LastBackup, Operation, PeriodCounts, PreservedUser,
    ProvisionedUser, Resource, WorkloadStorage,
};
use crate::exposition::{ExposeContext, ExpositionBuilder};
use crate::health::HealthSummary;
use crate::sources::VendorState;
pub(crate) use events::{EventKind, EventLog};
pub(crate) use health::resource_thresholds;

/// The upper bounds of `backup_job_duration_seconds`, in seconds: a minute to a day (and
/// `+Inf`), so a backup window growing from 2 h to 9 h shows.
pub(crate) const JOB_DURATION_BUCKETS: [f64; 10] = [
    60.0, 300.0, 900.0, 1800.0, 3600.0, 7200.0, 14400.0, 28800.0, 43200.0, 86400.0,
];

/// How long the jobs of one workload and operation took, as a Prometheus histogram keeps
/// them: a count per bucket (not cumulative; the last is beyond every bound), the sum and
/// the count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Durations {
    pub(crate) buckets: Vec<u64>,
    pub(crate) sum_seconds: f64,
    pub(crate) count: u64,
}

impl Durations {
    pub(crate) fn observe(&mut self, seconds: f64) {
        self.buckets.resize(JOB_DURATION_BUCKETS.len() + 1, 0);
        let bucket = JOB_DURATION_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(JOB_DURATION_BUCKETS.len());
        self.buckets[bucket] = self.buckets[bucket].saturating_add(1);
        self.sum_seconds += seconds;
        self.count = self.count.saturating_add(1);
    }
}

/// Adds `n` to a counter, saturating at u64::MAX: a restored state (or a vendor's byte
/// count) may already be at the limit, and a wrapped counter would read as a reset.
pub(crate) fn add<K: Ord>(counter: std::collections::btree_map::Entry<'_, K, u64>, n: u64) {
    let counter = counter.or_default();
    *counter = counter.saturating_add(n);
}

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
    /// How long the counted jobs took, by workload and operation.
    #[serde(default, with = "entries")]
    pub(crate) job_durations: BTreeMap<(String, Operation), Durations>,
    /// Why counted jobs failed or finished with errors: one count per reason per job.
    #[serde(default, with = "entries")]
    pub(crate) job_reasons: BTreeMap<(String, Operation, JobStatus, FailureReason), u64>,
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

impl VendorState for DruvaState {
    fn summarize(&self, ctx: &ExposeContext) -> HealthSummary {
        self.summary(ctx)
    }

    fn expose(&self, out: &mut ExpositionBuilder, ctx: &ExposeContext) {
        self.expose_all(out, ctx);
    }
}
