//! A simulated Code42 tenant: OAuth and legacy tokens, and `DeviceBackupReport` with its
//! paging, filters, sorting quirk and CSV export, over a generated estate whose healthy
//! devices keep completing backups as time passes.

use std::sync::{Arc, Mutex};

mod api;
mod generate;
mod rows;
mod vendor;

use api::fault_body;

use super::wire::{DateStyle, date_precision};

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
/// Code42's alert defaults: warning after 3 days, critical after 5 (minutesUntilWarning
/// 4320, minutesUntilSevere 7200).
const WARNING_AFTER: i64 = 3 * DAY;
const CRITICAL_AFTER: i64 = 5 * DAY;
/// The documented default and maximum page size.
pub const MAX_PAGE_SIZE: usize = 1000;

/// How the tenant writes values.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueStyle {
    /// Everything as JSON strings, `alertStates` as one comma-separated string (cloud).
    Strings,
    /// Numbers and booleans as JSON natives, `alertStates` as an array.
    Native,
}

#[derive(Debug, Clone)]
pub struct Code42Options {
    pub devices: usize,
    pub seed: u64,
    pub values: ValueStyle,
    pub dates: DateStyle,
    pub client_id: String,
    pub client_secret: String,
    pub username: String,
    pub password: String,
    /// The report lists the first this many archives again after the last one, as it does
    /// for users with several backup sets (with a page size of this many, the last page
    /// holds nothing but rows already read).
    pub repeated_rows: usize,
    /// The first this many archives carry a `lastActivity` no parser knows ("Invalid
    /// Date", as a JavaScript tool in between writes it).
    pub unreadable_dates: usize,
    /// The first this many archives that completed a backup send its date as "Invalid
    /// Date": a faithful client knows a backup completed, not when.
    pub unreadable_completion: usize,
    /// The first this many archives send a `coldStorage` that says nothing: `null` and
    /// `"unknown"` in turn.
    pub unknown_cold_storage: usize,
    /// The devices of this org (an index into its list of orgs) arrive with a null
    /// `orgName`: the org is known by its `orgUid` alone.
    pub unnamed_org: Option<usize>,
}

impl Default for Code42Options {
    fn default() -> Self {
        Code42Options {
            devices: 200,
            seed: 42,
            values: ValueStyle::Strings,
            dates: DateStyle::Utc,
            client_id: "demo-client".into(),
            client_secret: "demo-secret".into(),
            username: "admin@example.com".into(),
            password: "demo-password".into(),
            repeated_rows: 0,
            unreadable_dates: 0,
            unreadable_completion: 0,
            unknown_cold_storage: 0,
            unnamed_org: None,
        }
    }
}

const ORGS: &[&str] = &[
    "Engineering",
    "Sales",
    "Finance",
    "R&D \"Labs\"",
    "Zürich\\Support",
    "東京オフィス",
];
const DESTINATIONS: &[&str] = &[
    "Code42 Cloud USA West",
    "PROe Cloud, US - West",
    "Local NAS \"backup\"",
];
const SERVERS: &[&str] = &["cif-sea", "cif-iad", "nas-01"];
const OSES: &[(&str, &[&str])] = &[
    ("win", &["10.0", "11.0", "6.1"]),
    ("mac", &["14.5", "13.6.1", "10.15.7"]),
    ("linux", &["6.1", "5.15"]),
];
const APP_VERSIONS: &[&str] = &["11.4.1.7", "11.3.0.42", "10.4.2.8", "7.0.3.55"];

/// When an archive last completed a backup.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Health {
    /// Completes every `period`; `phase` spreads devices apart.
    Healthy {
        period: i64,
        phase: i64,
    },
    /// Stopped completing at this instant.
    StaleSince(i64),
    Never,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Connection {
    /// Connects every few minutes.
    Online {
        phase: i64,
    },
    Since(i64),
}

struct Device {
    uid: String,
    name: String,
    hostname: String,
    org: usize,
    user: usize,
    os: usize,
    os_version: &'static str,
    app_version: &'static str,
    active: bool,
    creation_ms: i64,
    connection: Connection,
}

struct Archive {
    /// Its place in the report.
    index: usize,
    guid: String,
    device: usize,
    destination: usize,
    health: Health,
    selected_bytes: u64,
    archive_bytes: u64,
    cold_storage: bool,
}

/// What the tenant reports for one archive at some instant: the ground truth tests compare
/// the exporter's output with.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveTruth {
    pub archive_guid: String,
    pub device_uid: String,
    pub device_name: String,
    pub hostname: String,
    /// The org's name, sent as `orgName` unless `org_named` is false.
    pub org: String,
    pub org_uid: String,
    pub org_named: bool,
    pub username: String,
    pub os: String,
    pub os_version: String,
    pub app_version: String,
    pub destination: String,
    pub active: bool,
    pub creation_ms: i64,
    pub last_connected_ms: i64,
    pub last_completed_ms: Option<i64>,
    pub last_activity_ms: Option<i64>,
    pub complete_percent: f64,
    pub selected_bytes: u64,
    pub archive_bytes: u64,
    pub cold_storage: bool,
    pub alert_states: Vec<&'static str>,
    /// `lastActivity` is sent unreadable: a faithful client reports no last activity.
    pub unreadable_activity: bool,
    /// `lastCompletedBackupDate` is sent unreadable (the backup did complete, at
    /// `last_completed_ms`): a faithful client neither reports it nor calls the archive
    /// never completed.
    pub completion_unreadable: bool,
    /// `coldStorage` is sent as this value that says nothing (`null` or `"unknown"`;
    /// `cold_storage` is the truth): a faithful client reports no cold storage sample and
    /// keeps alerting on the archive.
    pub cold_storage_unknown: Option<&'static str>,
}

pub struct Code42Tenant {
    options: Code42Options,
    devices: Vec<Device>,
    archives: Vec<Archive>,
    /// The archives the last filter selected, by the filter: without it every page of a
    /// 100,000-device report would filter the whole estate again.
    last_selection: Mutex<Option<(String, Arc<Vec<usize>>)>>,
}

impl Code42Tenant {
    pub fn options(&self) -> &Code42Options {
        &self.options
    }

    /// Every archive as the tenant would report it at `now_ms`, in report order.
    pub fn truth(&self, now_ms: i64) -> Vec<ArchiveTruth> {
        self.archives
            .iter()
            .map(|a| self.archive_at(a, now_ms))
            .collect()
    }

    /// (last connected, last completed, last activity, complete %) at `now`.
    fn times(&self, archive: &Archive, now: i64) -> (i64, Option<i64>, Option<i64>, f64) {
        let device = &self.devices[archive.device];
        let last_connected = match device.connection {
            Connection::Online { phase } => now - (now + phase).rem_euclid(10 * MINUTE),
            Connection::Since(t) => t,
        };
        let (last_completed, last_activity, percent) = match archive.health {
            Health::Healthy { period, phase } => {
                let completed = now - (now + phase).rem_euclid(period);
                (
                    Some(completed),
                    Some(completed.max(last_connected - 2 * MINUTE)),
                    100.0,
                )
            }
            // Online but unable to finish (locked files, huge selection): activity goes on.
            Health::StaleSince(t) => (Some(t), Some(last_connected.max(t)), 87.3),
            Health::Never => (None, Some(device.creation_ms + 2 * HOUR), 42.5),
        };
        (last_connected, last_completed, last_activity, percent)
    }

    /// Code42's alert states for an archive at `now`, from the default thresholds.
    fn alert_states(&self, archive: &Archive, now: i64) -> Vec<&'static str> {
        let (last_connected, last_completed, _, _) = self.times(archive, now);
        let backup_age = now - last_completed.unwrap_or(self.devices[archive.device].creation_ms);
        let connection_age = now - last_connected;
        let mut states = Vec::new();
        if backup_age >= CRITICAL_AFTER {
            states.push("CriticalBackupAlert");
        } else if backup_age >= WARNING_AFTER {
            states.push("WarningBackupAlert");
        }
        if connection_age >= CRITICAL_AFTER {
            states.push("CriticalConnectionAlert");
        } else if connection_age >= WARNING_AFTER {
            states.push("WarningConnectionAlert");
        }
        states
    }

    fn archive_at(&self, archive: &Archive, now: i64) -> ArchiveTruth {
        let device = &self.devices[archive.device];
        let dates = self.options.dates;
        let (last_connected, last_completed, last_activity, percent) = self.times(archive, now);
        let alert_states = self.alert_states(archive, now);
        let growth = ((now - device.creation_ms).max(0) / DAY) as u64 * 1_048_576;
        let unreadable_activity = archive.index < self.options.unreadable_dates;
        let completion_unreadable =
            last_completed.is_some() && archive.index < self.options.unreadable_completion;
        ArchiveTruth {
            archive_guid: archive.guid.clone(),
            device_uid: device.uid.clone(),
            device_name: device.name.clone(),
            hostname: device.hostname.clone(),
            org: ORGS[device.org].to_string(),
            org_uid: format!("9153237057515{:05}", device.org),
            org_named: self.options.unnamed_org != Some(device.org),
            username: format!("user{:05}@example.com", device.user),
            os: OSES[device.os].0.to_string(),
            os_version: device.os_version.to_string(),
            app_version: device.app_version.to_string(),
            destination: DESTINATIONS[archive.destination].to_string(),
            active: device.active,
            creation_ms: date_precision(device.creation_ms, dates),
            last_connected_ms: date_precision(last_connected, dates),
            last_completed_ms: last_completed.map(|t| date_precision(t, dates)),
            last_activity_ms: last_activity
                .map(|t| date_precision(t, dates))
                .filter(|_| !unreadable_activity),
            complete_percent: percent,
            selected_bytes: archive.selected_bytes,
            archive_bytes: archive.archive_bytes + growth,
            cold_storage: archive.cold_storage,
            alert_states,
            unreadable_activity,
            completion_unreadable,
            cold_storage_unknown: (archive.index < self.options.unknown_cold_storage)
                .then_some(["null", "unknown"][archive.index % 2]),
        }
    }
}

fn destination_index(name: &str) -> usize {
    DESTINATIONS.iter().position(|d| *d == name).unwrap_or(0)
}
