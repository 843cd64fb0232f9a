//! What a report's row decodes to: resources, alerts, totals, jobs and users, as the
//! state keeps them.

use serde::{Deserialize, Serialize};

use super::Operation;
use crate::sources::druva::errors::FailureReason;

/// A protected Microsoft 365 resource: a user's mailbox or OneDrive, a site, a team, a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Resource {
    pub(crate) workload: String,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) added_ms: Option<i64>,
    pub(crate) last_success_ms: Option<i64>,
    pub(crate) last_attempt_ms: Option<i64>,
    /// `backupFrequency` in seconds; absent for "never" and for reports without it.
    pub(crate) interval_seconds: Option<u64>,
    pub(crate) bytes: Option<u64>,
    /// The last attempt failed or was cancelled.
    pub(crate) last_failed: bool,
    /// How the last attempt ended (`lastBackupStatus`); unknown in states saved before it
    /// was kept.
    #[serde(default)]
    pub(crate) outcome: Outcome,
    /// `appStatus`: whether backup is enabled for it; absent when the row does not say.
    #[serde(default)]
    pub(crate) enabled: Option<bool>,
    /// `teamState` "Archived" (Teams).
    #[serde(default)]
    pub(crate) archived: bool,
    /// `backupFrequency` 0: never scheduled.
    #[serde(default)]
    pub(crate) unscheduled: bool,
    /// Why the last backup failed or finished with errors, while it does.
    #[serde(default)]
    pub(crate) failure: Vec<FailureReason>,
}

/// A row of m365UserLastBackupStatus: a user workload's last backup.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct LastBackup {
    pub(crate) workload: String,
    pub(crate) id: String,
    pub(crate) name: String,
    pub(crate) failed: bool,
    /// How it ended (`lastBackupStatus`); unknown in states saved before it was kept.
    #[serde(default)]
    pub(crate) outcome: Outcome,
    pub(crate) items_backed_up: Option<u64>,
    pub(crate) items_missed: Option<u64>,
    pub(crate) bytes: Option<u64>,
    pub(crate) start_ms: Option<i64>,
    pub(crate) end_ms: Option<i64>,
    pub(crate) failure: Vec<FailureReason>,
}

/// A row of m365UserProvisioning, as counted: status, licence state and how it is managed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct ProvisionedUser {
    pub(crate) status: String,
    pub(crate) license_state: String,
    pub(crate) managed_by: String,
}

/// A row of m365PreservedUsersDatasources.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PreservedUser {
    pub(crate) email: String,
    pub(crate) name: String,
    pub(crate) bytes: Option<u64>,
    /// When Druva deletes the user's data; absent ("-") when never.
    pub(crate) auto_delete_ms: Option<i64>,
}

/// Licences allocated per kind, as m365UserProvisioning rows repeat them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Allocation {
    pub(crate) active: Option<u64>,
    pub(crate) preserved: Option<u64>,
    pub(crate) smb: Option<u64>,
}

/// Whether a resource is meant to be backed up, and if not, why: the vendor's own state,
/// set by an administrator. Only protected resources can be stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Protection {
    Protected,
    /// `appStatus` "Disabled".
    Disabled,
    /// `teamState` "Archived".
    Archived,
    /// `backupFrequency` 0 ("never").
    Unscheduled,
}

impl Protection {
    pub(crate) const ALL: [Protection; 4] = [
        Protection::Protected,
        Protection::Disabled,
        Protection::Archived,
        Protection::Unscheduled,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Protection::Protected => "protected",
            Protection::Disabled => "disabled",
            Protection::Archived => "archived",
            Protection::Unscheduled => "unscheduled",
        }
    }
}

impl Resource {
    /// The first reason it is not backed up by choice, if any.
    pub(crate) fn protection(&self) -> Protection {
        if self.enabled == Some(false) {
            Protection::Disabled
        } else if self.archived {
            Protection::Archived
        } else if self.unscheduled {
            Protection::Unscheduled
        } else {
            Protection::Protected
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Alert {
    /// Lower-case: warning, critical, high.
    pub(crate) severity: String,
    pub(crate) active: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct WorkloadStorage {
    pub(crate) workload: String,
    pub(crate) enabled: u64,
    pub(crate) enabled_bytes: u64,
    pub(crate) disabled: u64,
    pub(crate) disabled_bytes: u64,
}

/// A row of m365LicenseUsage or m365UserCountAndStatus: counts for a week or a month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct PeriodCounts {
    pub(crate) monthly: bool,
    pub(crate) start_ms: i64,
    /// Named counts (`active_allocated`, `active_used`, ... or `active`, `preserved`).
    pub(crate) counts: Vec<(String, u64)>,
}

/// How a backup ended, as a bounded label (`outcome`): Druva's status words, classified.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum Outcome {
    Success,
    /// Finished, but some items were not saved ("Backed Up With Errors").
    WithErrors,
    Failed,
    Cancelled,
    /// "Never Backed Up".
    Never,
    /// A status the exporter does not know.
    Other,
    /// Not said: no status, or a state saved before outcomes were kept.
    #[default]
    Unknown,
}

impl Outcome {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Outcome::Success => "success",
            Outcome::WithErrors => "with_errors",
            Outcome::Failed => "failed",
            Outcome::Cancelled => "cancelled",
            Outcome::Never => "never",
            Outcome::Other => "other",
            Outcome::Unknown => "unknown",
        }
    }

    /// Classifies a status text such as "Backed Up With Errors", "Backup Failed",
    /// "Restored With Errors" or "Never Backed Up"; `-` and empty say nothing.
    pub(crate) fn classify(text: &str) -> Outcome {
        let text = text.trim().to_ascii_lowercase();
        if text.is_empty() || text == "-" {
            Outcome::Unknown
        } else if text.contains("with error") || text.contains("partial") {
            Outcome::WithErrors
        } else if text.contains("fail") {
            Outcome::Failed
        } else if text.contains("cancel") {
            Outcome::Cancelled
        } else if text.contains("never") {
            Outcome::Never
        } else if text.contains("success") || text == "backed up" || text == "restored" {
            Outcome::Success
        } else {
            Outcome::Other
        }
    }

    /// Failed or cancelled: no backup was made.
    pub(crate) fn failed(self) -> bool {
        matches!(self, Outcome::Failed | Outcome::Cancelled)
    }

    /// Something went wrong, and the row may say why.
    pub(crate) fn has_errors(self) -> bool {
        matches!(
            self,
            Outcome::WithErrors | Outcome::Failed | Outcome::Cancelled
        )
    }
}

/// The bounded `status` label of `backup_jobs_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(crate) enum JobStatus {
    Success,
    WithErrors,
    Failed,
    Cancelled,
    /// A final status the exporter does not know.
    Other,
}

impl JobStatus {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            JobStatus::Success => "success",
            JobStatus::WithErrors => "with_errors",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Other => "other",
        }
    }

    /// Classifies a Druva status text; `None` while the job is still running.
    pub(crate) fn classify(text: &str, ended: bool) -> Option<JobStatus> {
        let lower = text.to_ascii_lowercase();
        if [
            "progress",
            "running",
            "queued",
            "pending",
            "scheduled",
            "waiting",
            "started",
            "initiated",
        ]
        .iter()
        .any(|w| lower.contains(w))
        {
            return None;
        }
        Some(match Outcome::classify(text) {
            Outcome::Success => JobStatus::Success,
            Outcome::WithErrors => JobStatus::WithErrors,
            Outcome::Failed => JobStatus::Failed,
            Outcome::Cancelled => JobStatus::Cancelled,
            _ if ended => JobStatus::Other,
            _ => return None,
        })
    }

    /// The job did not end cleanly, and its row may say why.
    pub(crate) fn has_errors(self) -> bool {
        matches!(
            self,
            JobStatus::WithErrors | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Job {
    pub(crate) id: u64,
    pub(crate) workload: String,
    pub(crate) operation: Operation,
    /// `None` while the job runs.
    pub(crate) status: Option<JobStatus>,
    pub(crate) bytes: u64,
    /// Files (or items) the job missed.
    pub(crate) files_missed: u64,
    pub(crate) updated_ms: i64,
    /// From its start to its end, when the row has both.
    pub(crate) duration_ms: Option<i64>,
    /// Why it failed or finished with errors (`statusDetails`), when it did.
    pub(crate) reasons: Vec<FailureReason>,
}

/// A decoded row.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Parsed {
    Resource {
        key: String,
        resource: Resource,
    },
    ResourceDeleted {
        key: String,
    },
    Alert {
        id: u64,
        alert: Alert,
    },
    AlertDeleted {
        id: u64,
    },
    Storage(WorkloadStorage),
    License(PeriodCounts),
    Users(PeriodCounts),
    Job(Job),
    LastBackup {
        key: String,
        last: LastBackup,
    },
    Provisioned {
        key: String,
        user: ProvisionedUser,
        allocation: Allocation,
    },
    Preserved {
        key: String,
        user: PreservedUser,
    },
}
