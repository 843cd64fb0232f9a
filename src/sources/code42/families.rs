//! The Code42 metric families, in the order they are written. Names are public API.

use crate::exposition::{Family, FamilyDef};
use crate::sources::families::ALERTS_ACTIVE;

pub(crate) static DEVICE_INFO: FamilyDef = FamilyDef::info(
    "backup_device_info",
    "Code42 device attributes; value is always 1. user is the row's username.",
);
pub(crate) static LAST_COMPLETED: FamilyDef = FamilyDef::gauge(
    "backup_device_last_completed_backup_timestamp_seconds",
    "Code42 archive (device x destination): Unix time of the last completed backup (100% backed up). Absent if the archive never completed a backup.",
);
pub(crate) static BACKUP_AGE: FamilyDef = FamilyDef::age(
    "backup_device_backup_age_seconds",
    "Code42 archive: seconds since the last completed backup, computed at scrape time; for an archive that never completed, seconds since the device was created.",
);
pub(crate) static NEVER_COMPLETED: FamilyDef = FamilyDef::gauge(
    "backup_device_never_completed",
    "Code42 archive that has never completed a backup; value is always 1, other archives have no series.",
);
pub(crate) static LAST_ACTIVITY: FamilyDef = FamilyDef::gauge(
    "backup_device_last_activity_timestamp_seconds",
    "Code42 archive: Unix time of the last backup activity.",
);
pub(crate) static LAST_CONNECTED: FamilyDef = FamilyDef::gauge(
    "backup_device_last_connected_timestamp_seconds",
    "Code42 device: Unix time it last connected to the Code42 cloud.",
);
pub(crate) static COMPLETE_RATIO: FamilyDef = FamilyDef::gauge(
    "backup_device_backup_complete_ratio",
    "Code42 archive: fraction of the selected data that is backed up (backupCompletePercentage / 100).",
);
pub(crate) static ARCHIVE_BYTES: FamilyDef = FamilyDef::gauge(
    "backup_device_archive_bytes",
    "Code42 archive: size of the archive at the destination in bytes.",
);
pub(crate) static SELECTED_BYTES: FamilyDef = FamilyDef::gauge(
    "backup_device_selected_bytes",
    "Code42 archive: bytes selected for backup.",
);
pub(crate) static COLD_STORAGE: FamilyDef = FamilyDef::gauge(
    "backup_device_cold_storage",
    "Code42 archive: 1 if the archive is in cold storage, else 0.",
);
pub(crate) static ALERT_STATE: FamilyDef = FamilyDef::gauge(
    "backup_device_alert_state",
    "Code42 device: 1 for each alert state Code42 itself reports for the device's live archives (WarningBackupAlert, CriticalBackupAlert, WarningConnectionAlert, CriticalConnectionAlert), by the thresholds set in the Code42 console; absent when not in that state.",
);
pub(crate) static DESTINATION_ALERT_STATE: FamilyDef = FamilyDef::gauge(
    "backup_device_destination_alert_state",
    "Code42 archive (device x destination): 1 for each backup alert state Code42 reports for the archive itself (WarningBackupAlert, CriticalBackupAlert); absent when not in that state. Code42 alerts when a device has not backed up to any destination, so a device is in a backup state only when every live destination is.",
);
pub(crate) static DEVICE_ALERTS: FamilyDef = FamilyDef::gauge(
    "backup_device_alerts",
    "Code42: number of distinct devices in each alert state, per org.",
);
pub(crate) static ORG_DEVICES: FamilyDef = FamilyDef::gauge(
    "backup_org_devices",
    "Code42: number of devices in the org.",
);
pub(crate) static ORG_DEVICES_UNPROTECTED: FamilyDef = FamilyDef::gauge(
    "backup_org_devices_unprotected",
    "Code42: devices of the org with every archive in cold storage (destination removed or device deactivated): they cannot back up and never alert.",
);
pub(crate) static ORG_ARCHIVE_BYTES: FamilyDef = FamilyDef::gauge(
    "backup_org_archive_bytes",
    "Code42: total archive bytes of the org's archives.",
);

pub(crate) const FAMILIES: &[Family] = &[
    &DEVICE_INFO,
    &LAST_COMPLETED,
    &BACKUP_AGE,
    &NEVER_COMPLETED,
    &LAST_ACTIVITY,
    &LAST_CONNECTED,
    &COMPLETE_RATIO,
    &ARCHIVE_BYTES,
    &SELECTED_BYTES,
    &COLD_STORAGE,
    &ALERT_STATE,
    &DESTINATION_ALERT_STATE,
    &DEVICE_ALERTS,
    &ALERTS_ACTIVE,
    &ORG_DEVICES,
    &ORG_DEVICES_UNPROTECTED,
    &ORG_ARCHIVE_BYTES,
];

/// Label names the Code42 series set.
pub(crate) const LABELS: &[&str] = &[
    "org",
    "device_uid",
    "device_name",
    "destination",
    "user",
    "os",
    "os_version",
    "app_version",
    "alert",
    "severity",
];

#[cfg(test)]
mod tests {
    #[test]
    fn names_follow_prometheus_conventions() {
        crate::exposition::check_names(super::FAMILIES).unwrap();
    }
}
