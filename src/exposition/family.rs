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
        "Active vendor alerts by severity. Code42: distinct devices with a warning-level or critical-level alert state.";
    OrgDevices => "backup_org_devices", Gauge, false,
        "Code42: number of devices in the org.";
    OrgArchiveBytes => "backup_org_archive_bytes", Gauge, false,
        "Code42: total archive bytes of the org's archives.";
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
