//! Every metric family the snapshots expose: name, help and type, in output order.
//! Names are public API; changing one breaks users' rules and dashboards.

/// How a family's samples are typed in the exposition formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Gauge,
    Counter,
    /// A `*_info` gauge of value 1 carrying descriptive labels.
    Info,
}

macro_rules! families {
    ($( $variant:ident => $name:literal, $kind:ident, $dynamic:literal, $help:literal; )*) => {
        /// A metric family of snapshot data.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Family { $( $variant, )* }

        impl Family {
            /// All families, in the order they are written.
            pub const ALL: &'static [Family] = &[ $( Family::$variant, )* ];

            pub fn name(self) -> &'static str {
                match self { $( Family::$variant => $name, )* }
            }

            pub fn help(self) -> &'static str {
                match self { $( Family::$variant => $help, )* }
            }

            pub fn kind(self) -> Kind {
                match self { $( Family::$variant => Kind::$kind, )* }
            }

            /// Whether values depend on the time of the scrape (ages), so they cannot be
            /// encoded ahead of time.
            pub fn is_dynamic(self) -> bool {
                match self { $( Family::$variant => $dynamic, )* }
            }

            pub fn index(self) -> usize {
                self as usize
            }
        }
    };
}

families! {
    DeviceInfo => "backup_device_info", Info, false,
        "Code42 device attributes; value is always 1. user is the row's username.";
    DeviceLastCompleted => "backup_device_last_completed_backup_timestamp_seconds", Gauge, false,
        "Code42 archive (device x destination): Unix time of the last completed backup (100% backed up). Absent if the archive never completed a backup.";
    DeviceBackupAge => "backup_device_backup_age_seconds", Gauge, true,
        "Code42 archive: seconds since the last completed backup, computed at scrape time; for an archive that never completed, seconds since the device was created.";
    DeviceNeverCompleted => "backup_device_never_completed", Gauge, false,
        "Code42 archive that has never completed a backup; value is always 1, other archives have no series.";
    DeviceLastActivity => "backup_device_last_activity_timestamp_seconds", Gauge, false,
        "Code42 archive: Unix time of the last backup activity.";
    DeviceLastConnected => "backup_device_last_connected_timestamp_seconds", Gauge, false,
        "Code42 device: Unix time it last connected to the Code42 cloud.";
    DeviceCompleteRatio => "backup_device_backup_complete_ratio", Gauge, false,
        "Code42 archive: fraction of the selected data that is backed up (backupCompletePercentage / 100).";
    DeviceArchiveBytes => "backup_device_archive_bytes", Gauge, false,
        "Code42 archive: size of the archive at the destination in bytes.";
    DeviceSelectedBytes => "backup_device_selected_bytes", Gauge, false,
        "Code42 archive: bytes selected for backup.";
    DeviceColdStorage => "backup_device_cold_storage", Gauge, false,
        "Code42 archive: 1 if the archive is in cold storage, else 0.";
    DeviceAlerts => "backup_device_alerts", Gauge, false,
        "Code42: number of distinct devices in each alert state, per org.";
    AlertsActive => "backup_alerts_active", Gauge, false,
        "Active vendor alerts by severity. Code42: distinct devices with a warning-level or critical-level alert state. Druva: m365Alerts rows that are active and not deleted.";
    OrgDevices => "backup_org_devices", Gauge, false,
        "Code42: number of devices in the org.";
    OrgArchiveBytes => "backup_org_archive_bytes", Gauge, false,
        "Code42: total archive bytes of the org's archives.";
    WorkloadStorageBytes => "backup_workload_storage_bytes", Gauge, false,
        "Druva: backup data of a Microsoft 365 workload's enabled or disabled resources, in bytes (m365StorageConsumption).";
    WorkloadResources => "backup_workload_resources", Gauge, false,
        "Druva: number of a workload's enabled or disabled resources (m365StorageConsumption).";
    LicenseAllocated => "backup_license_allocated", Gauge, false,
        "Druva: licenses allocated in the newest month of m365LicenseUsage.";
    LicenseUsed => "backup_license_used", Gauge, false,
        "Druva: licenses used in the newest month of m365LicenseUsage.";
    Users => "backup_users", Gauge, false,
        "Druva: active and preserved users in the newest month of m365UserCountAndStatus.";
    ResourceInfo => "backup_resource_info", Info, false,
        "Druva Microsoft 365 resource (user mailbox or OneDrive, site, team, group); value is always 1. id is the user's e-mail or the siteDbId, teamDbId or groupDbId.";
    ResourceLastSuccess => "backup_resource_last_success_timestamp_seconds", Gauge, false,
        "Druva resource: Unix time of the last successful backup. Absent if never backed up.";
    ResourceLastAttempt => "backup_resource_last_attempt_timestamp_seconds", Gauge, false,
        "Druva resource: Unix time of the last backup attempt.";
    ResourceBackupAge => "backup_resource_backup_age_seconds", Gauge, true,
        "Druva resource: seconds since the last successful backup, computed at scrape time; for a resource never backed up, seconds since it was added.";
    ResourceNeverBackedUp => "backup_resource_never_backed_up", Gauge, false,
        "Druva resource never backed up; value is always 1, other resources have no series.";
    ResourceExpectedInterval => "backup_resource_expected_interval_seconds", Gauge, false,
        "Druva resource: configured backup frequency as an interval in seconds. Absent for 'never' and for user workloads, whose report has no frequency.";
    ResourceBytes => "backup_resource_bytes", Gauge, false,
        "Druva resource: total backup data in bytes.";
    ResourceLastBackupFailed => "backup_resource_last_backup_failed", Gauge, false,
        "Druva resource: 1 if the last backup attempt failed or was cancelled, else 0.";
    JobsTotal => "backup_jobs_total", Counter, false,
        "Druva backup and restore jobs by final status (success, with_errors, failed, cancelled, other), each job counted once, from the activity reports.";
    JobBytesTotal => "backup_job_bytes_total", Counter, false,
        "Druva: bytes of finished jobs (snapshotSize of backups, restoreSize of restores).";
    EventsTotal => "backup_events_total", Counter, false,
        "Druva inSync events by type and state (lower-case), from the Events API; each event counted once.";
}

/// Appended to every family's HELP: values come from the background refresh.
pub const HELP_SUFFIX: &str = " Refreshed in the background every refresh_interval of its source (see backup_source_refresh_interval_seconds).";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_prometheus_conventions() {
        for family in Family::ALL {
            let name = family.name();
            assert!(name.starts_with("backup_"), "{name}");
            match family.kind() {
                Kind::Counter => assert!(name.ends_with("_total"), "{name}"),
                Kind::Info => assert!(name.ends_with("_info"), "{name}"),
                Kind::Gauge => assert!(!name.ends_with("_total"), "{name}"),
            }
            assert_eq!(Family::ALL[family.index()], *family);
        }
    }
}
