//! The Druva metric families, in the order they are written. Names are public API.

use crate::exposition::{Family, FamilyDef};
use crate::sources::families::ALERTS_ACTIVE;

pub(crate) static WORKLOAD_STORAGE_BYTES: FamilyDef = FamilyDef::gauge(
    "backup_workload_storage_bytes",
    "Druva: backup data of a Microsoft 365 workload's enabled or disabled resources, in bytes (m365StorageConsumption).",
);
pub(crate) static WORKLOAD_RESOURCES: FamilyDef = FamilyDef::gauge(
    "backup_workload_resources",
    "Druva: number of a workload's enabled or disabled resources (m365StorageConsumption).",
);
pub(crate) static LICENSE_ALLOCATED: FamilyDef = FamilyDef::gauge(
    "backup_license_allocated",
    "Druva: licenses allocated in the newest month of m365LicenseUsage.",
);
pub(crate) static LICENSE_USED: FamilyDef = FamilyDef::gauge(
    "backup_license_used",
    "Druva: licenses used in the newest month of m365LicenseUsage.",
);
pub(crate) static USERS: FamilyDef = FamilyDef::gauge(
    "backup_users",
    "Druva: active and preserved users in the newest month of m365UserCountAndStatus.",
);
pub(crate) static RESOURCE_INFO: FamilyDef = FamilyDef::info(
    "backup_resource_info",
    "Druva Microsoft 365 resource (user mailbox or OneDrive, site, team, group); value is always 1. id is the user's e-mail or the siteDbId, teamDbId or groupDbId.",
);
pub(crate) static LAST_SUCCESS: FamilyDef = FamilyDef::gauge(
    "backup_resource_last_success_timestamp_seconds",
    "Druva resource: Unix time of the last successful backup. Absent if never backed up.",
);
pub(crate) static LAST_ATTEMPT: FamilyDef = FamilyDef::gauge(
    "backup_resource_last_attempt_timestamp_seconds",
    "Druva resource: Unix time of the last backup attempt.",
);
pub(crate) static BACKUP_AGE: FamilyDef = FamilyDef::age(
    "backup_resource_backup_age_seconds",
    "Druva resource: seconds since the last successful backup, computed at scrape time; for a resource never backed up, seconds since it was added.",
);
pub(crate) static NEVER_BACKED_UP: FamilyDef = FamilyDef::gauge(
    "backup_resource_never_backed_up",
    "Druva resource never backed up; value is always 1, other resources have no series.",
);
pub(crate) static EXPECTED_INTERVAL: FamilyDef = FamilyDef::gauge(
    "backup_resource_expected_interval_seconds",
    "Druva resource: configured backup frequency as an interval in seconds. Absent for 'never' and for user workloads, whose report has no frequency.",
);
pub(crate) static RESOURCE_BYTES: FamilyDef = FamilyDef::gauge(
    "backup_resource_bytes",
    "Druva resource: total backup data in bytes.",
);
pub(crate) static LAST_BACKUP_FAILED: FamilyDef = FamilyDef::gauge(
    "backup_resource_last_backup_failed",
    "Druva resource: 1 if the last backup attempt failed or was cancelled, else 0.",
);
pub(crate) static BACKUP_ENABLED: FamilyDef = FamilyDef::gauge(
    "backup_resource_backup_enabled",
    "Druva resource: 1 if its backup is enabled (appStatus Enabled), 0 if an administrator disabled it; a disabled resource never alerts.",
);
pub(crate) static ARCHIVED: FamilyDef = FamilyDef::gauge(
    "backup_resource_archived",
    "Druva team: 1 if the team is archived (teamState Archived), else 0; an archived team never alerts.",
);
pub(crate) static SCHEDULED: FamilyDef = FamilyDef::gauge(
    "backup_resource_scheduled",
    "Druva site, team or group: 0 if its backup frequency is never (backupFrequency 0), else 1; an unscheduled resource never alerts. Absent for user workloads, whose report has no frequency.",
);
pub(crate) static RESOURCES: FamilyDef = FamilyDef::gauge(
    "backup_resources",
    "Druva: resources of each workload by protection: protected, or not backed up by choice (disabled, archived, unscheduled), over every resource whatever resource_metrics; deleted resources are not counted.",
);
pub(crate) static LAST_BACKUP_ERROR: FamilyDef = FamilyDef::gauge(
    "backup_resource_last_backup_error",
    "Druva resource whose last backup failed or finished with errors: 1 for each reason Druva gives (errorDetailsNew's codes, else errorDetailsOld's or statusDetails' code, from the resource's row or else its m365UserLastBackupStatus row), with what the code means; absent while the last backup went well. Free text is code=\"other\".",
);
pub(crate) static LAST_BACKUP_OUTCOME: FamilyDef = FamilyDef::gauge(
    "backup_resource_last_backup_outcome",
    "Druva resource: 1, with how its last backup ended as outcome: success, with_errors (finished, some items not saved), failed, cancelled, never, other (a status the exporter does not know), unknown (not said). From lastBackupStatus of its report, or of m365UserLastBackupStatus for a user workload that report alone lists.",
);
pub(crate) static LAST_BACKUP_ITEMS: FamilyDef = FamilyDef::gauge(
    "backup_resource_last_backup_items",
    "Druva user workload: items its last backup saved (itemsBackedUp of m365UserLastBackupStatus).",
);
pub(crate) static LAST_BACKUP_ITEMS_MISSED: FamilyDef = FamilyDef::gauge(
    "backup_resource_last_backup_items_missed",
    "Druva user workload: items its last backup could not save (itemsMissed of m365UserLastBackupStatus).",
);
pub(crate) static LAST_BACKUP_BYTES: FamilyDef = FamilyDef::gauge(
    "backup_resource_last_backup_bytes",
    "Druva user workload: bytes its last backup transferred (lastBackupData of m365UserLastBackupStatus).",
);
pub(crate) static LAST_BACKUP_START: FamilyDef = FamilyDef::gauge(
    "backup_resource_last_backup_start_timestamp_seconds",
    "Druva user workload: Unix time its last backup started (m365UserLastBackupStatus).",
);
pub(crate) static LAST_BACKUP_END: FamilyDef = FamilyDef::gauge(
    "backup_resource_last_backup_end_timestamp_seconds",
    "Druva user workload: Unix time its last backup ended (m365UserLastBackupStatus).",
);
pub(crate) static USERS_PROVISIONED: FamilyDef = FamilyDef::gauge(
    "backup_users_provisioned",
    "Druva: users by status (active, preserved), Microsoft 365 licence state and how they are managed (m365UserProvisioning).",
);
pub(crate) static PROVISIONING_LICENSES: FamilyDef = FamilyDef::gauge(
    "backup_users_provisioned_license_allocated",
    "Druva: licences allocated per kind (active, preserved, smb), as m365UserProvisioning reports them.",
);
pub(crate) static PRESERVED_USERS: FamilyDef = FamilyDef::gauge(
    "backup_preserved_users",
    "Druva: preserved users (m365PreservedUsersDatasources).",
);
pub(crate) static PRESERVED_USERS_BYTES: FamilyDef = FamilyDef::gauge(
    "backup_preserved_users_bytes",
    "Druva: backup data of the preserved users, in bytes (m365PreservedUsersDatasources).",
);
pub(crate) static PRESERVED_AUTO_DELETE: FamilyDef = FamilyDef::gauge(
    "backup_preserved_user_auto_delete_timestamp_seconds",
    "Druva preserved user: Unix time Druva deletes the user's backup data (autoDeleteOn); absent when it never will. id and name are the user's e-mail and name (hashed with hash_identities).",
);
pub(crate) static JOBS: FamilyDef = FamilyDef::counter(
    "backup_jobs_total",
    "Druva backup and restore jobs by final status (success, with_errors, failed, cancelled, other), each job counted once, from the activity reports.",
);
pub(crate) static JOB_BYTES: FamilyDef = FamilyDef::counter(
    "backup_job_bytes_total",
    "Druva: bytes of finished jobs (snapshotSize of backups, restoreSize of restores).",
);
pub(crate) static JOB_FILES_MISSED: FamilyDef = FamilyDef::counter(
    "backup_job_files_missed_total",
    "Druva: files (or items) finished jobs missed (filesMissed, itemsMissed of the activity reports).",
);
pub(crate) static JOB_DURATION: FamilyDef = FamilyDef::histogram(
    "backup_job_duration_seconds",
    "Druva: how long finished jobs took, from startTime (starTtime) to endTime, by workload and operation; each job observed once.",
);
pub(crate) static JOB_FAILURE_REASONS: FamilyDef = FamilyDef::counter(
    "backup_job_failure_reasons_total",
    "Druva: reasons finished jobs that failed, were cancelled or finished with errors gave (statusDetails, with what the code means; free text is code=\"other\"), one per reason per job, by workload, operation and status.",
);
pub(crate) static EVENTS: FamilyDef = FamilyDef::counter(
    "backup_events_total",
    "Druva inSync events by type, state (lower-case) and severity (syslog severity as a word), from the Events API; each event counted once.",
);

pub(crate) const FAMILIES: &[Family] = &[
    &ALERTS_ACTIVE,
    &WORKLOAD_STORAGE_BYTES,
    &WORKLOAD_RESOURCES,
    &LICENSE_ALLOCATED,
    &LICENSE_USED,
    &USERS,
    &RESOURCE_INFO,
    &LAST_SUCCESS,
    &LAST_ATTEMPT,
    &BACKUP_AGE,
    &NEVER_BACKED_UP,
    &EXPECTED_INTERVAL,
    &RESOURCE_BYTES,
    &LAST_BACKUP_FAILED,
    &BACKUP_ENABLED,
    &ARCHIVED,
    &SCHEDULED,
    &LAST_BACKUP_ERROR,
    &LAST_BACKUP_OUTCOME,
    &LAST_BACKUP_ITEMS,
    &LAST_BACKUP_ITEMS_MISSED,
    &LAST_BACKUP_BYTES,
    &LAST_BACKUP_START,
    &LAST_BACKUP_END,
    &RESOURCES,
    &USERS_PROVISIONED,
    &PROVISIONING_LICENSES,
    &PRESERVED_USERS,
    &PRESERVED_USERS_BYTES,
    &PRESERVED_AUTO_DELETE,
    &JOBS,
    &JOB_BYTES,
    &JOB_FILES_MISSED,
    &JOB_DURATION,
    &JOB_FAILURE_REASONS,
    &EVENTS,
];

/// Label names the Druva series set.
pub(crate) const LABELS: &[&str] = &[
    "workload",
    "state",
    "license",
    "id",
    "name",
    "operation",
    "status",
    "event_type",
    "event_state",
    "severity",
    "protection",
    "code",
    "reason",
    "license_state",
    "managed_by",
    "outcome",
    "le",
];

#[cfg(test)]
mod tests {
    #[test]
    fn names_follow_prometheus_conventions() {
        crate::exposition::check_names(super::FAMILIES).unwrap();
    }
}
