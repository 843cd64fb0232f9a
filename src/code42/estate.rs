//! The Code42 estate of one refresh: devices and their archives, built row by row, and the
//! series it exposes.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::row::{AlertStates, ArchiveRow};
use crate::exposition::{ExpositionBuilder, Family, Value};
use crate::intern::Interner;
use crate::source::{SkipCounts, SkipReason};

/// A device (computer) with the attributes of `backup_device_info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Device {
    pub uid: Arc<str>,
    pub name: Arc<str>,
    pub org: Arc<str>,
    pub user: Arc<str>,
    pub os: Arc<str>,
    pub os_version: Arc<str>,
    pub app_version: Arc<str>,
    pub last_connected_ms: Option<i64>,
    /// Union of the alert states of the device's archives.
    pub alerts: AlertStates,
}

/// An archive: one device backing up to one destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Archive {
    /// Index into [`Code42Estate::devices`].
    pub device: u32,
    pub destination: Arc<str>,
    pub creation_ms: Option<i64>,
    pub last_completed_ms: Option<i64>,
    pub last_activity_ms: Option<i64>,
    pub complete_ratio: Option<f64>,
    pub archive_bytes: Option<u64>,
    pub selected_bytes: Option<u64>,
    pub cold_storage: bool,
}

/// Everything one successful refresh learned about a Code42 tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Code42Estate {
    pub devices: Vec<Device>,
    pub archives: Vec<Archive>,
}

/// Accumulates rows page by page.
#[derive(Default)]
pub struct EstateBuilder {
    strings: Interner,
    device_index: HashMap<Arc<str>, u32>,
    archive_keys: HashSet<(u32, Arc<str>)>,
    archive_guids: HashSet<Box<str>>,
    estate: Code42Estate,
    pub skipped: SkipCounts,
}

impl EstateBuilder {
    pub fn add(&mut self, row: ArchiveRow<'_>) {
        // The report lists an archive twice when a user has several backup sets; one series
        // per device and destination is what the metrics promise, so later copies are skipped.
        if let Some(guid) = &row.archive_guid
            && !guid.is_empty()
            && !self.archive_guids.insert(Box::from(guid.as_ref()))
        {
            self.skipped.add(SkipReason::Duplicate);
            return;
        }
        let device = match self.device_index.get(row.device_uid.as_ref()) {
            Some(&index) => {
                let device = &mut self.estate.devices[index as usize];
                device.alerts.0 |= row.alerts.0;
                device.last_connected_ms = device.last_connected_ms.max(row.last_connected_ms);
                index
            }
            None => {
                let index = self.estate.devices.len() as u32;
                let uid = self.strings.get(&row.device_uid);
                self.device_index.insert(uid.clone(), index);
                self.estate.devices.push(Device {
                    uid,
                    name: self.strings.get(&row.device_name),
                    org: self.strings.get(&row.org_name),
                    user: self.strings.get(&row.username),
                    os: self.strings.get(&row.os),
                    os_version: self.strings.get(&row.os_version),
                    app_version: self.strings.get(&row.app_version),
                    last_connected_ms: row.last_connected_ms,
                    alerts: row.alerts,
                });
                index
            }
        };
        let destination = self.strings.get(&row.destination);
        if !self.archive_keys.insert((device, destination.clone())) {
            self.skipped.add(SkipReason::Duplicate);
            return;
        }
        self.estate.archives.push(Archive {
            device,
            destination,
            creation_ms: row.creation_ms,
            last_completed_ms: row.last_completed_ms,
            last_activity_ms: row.last_activity_ms,
            complete_ratio: row.complete_ratio,
            archive_bytes: row.archive_bytes,
            selected_bytes: row.selected_bytes,
            cold_storage: row.cold_storage,
        });
    }

    pub fn rows(&self) -> usize {
        self.estate.archives.len()
    }

    pub fn finish(mut self) -> (Code42Estate, SkipCounts) {
        self.estate.devices.shrink_to_fit();
        self.estate.archives.shrink_to_fit();
        (self.estate, self.skipped)
    }
}

/// Per-org totals.
#[derive(Default)]
struct OrgTotals {
    devices: u64,
    archive_bytes: u64,
    /// Devices per alert state, in the order of [`AlertStates::NAMED`].
    alerts: [u64; 4],
}

impl Code42Estate {
    /// Adds the estate's series to a source's exposition.
    pub fn expose(&self, out: &mut ExpositionBuilder) {
        out.reserve_labels(self.devices.len() * 2 + self.archives.len(), 96);
        let mut orgs: BTreeMap<&str, OrgTotals> = BTreeMap::new();
        let mut warning_devices = 0;
        let mut critical_devices = 0;
        for device in &self.devices {
            let info = out.labels(&[
                ("org", &device.org),
                ("device_uid", &device.uid),
                ("device_name", &device.name),
                ("user", &device.user),
                ("os", &device.os),
                ("os_version", &device.os_version),
                ("app_version", &device.app_version),
            ]);
            out.push(Family::DeviceInfo, info, Value::Int(1));
            if let Some(ms) = device.last_connected_ms {
                let labels = out.labels(&[("org", &device.org), ("device_uid", &device.uid)]);
                out.push(Family::DeviceLastConnected, labels, Value::TimestampMs(ms));
            }
            let org = orgs.entry(&device.org).or_default();
            org.devices += 1;
            for (i, (_, bit)) in AlertStates::NAMED.iter().enumerate() {
                if device.alerts.has(*bit) {
                    org.alerts[i] += 1;
                }
            }
            warning_devices += u64::from(device.alerts.is_warning());
            critical_devices += u64::from(device.alerts.is_critical());
        }
        for archive in &self.archives {
            let device = &self.devices[archive.device as usize];
            let labels = out.labels(&[
                ("org", &device.org),
                ("device_uid", &device.uid),
                ("destination", &archive.destination),
            ]);
            match archive.last_completed_ms {
                Some(ms) => {
                    out.push(Family::DeviceLastCompleted, labels, Value::TimestampMs(ms));
                    out.push(Family::DeviceBackupAge, labels, Value::AgeSinceMs(ms));
                }
                None => {
                    if let Some(created) = archive.creation_ms {
                        out.push(Family::DeviceBackupAge, labels, Value::AgeSinceMs(created));
                    }
                    out.push(Family::DeviceNeverCompleted, labels, Value::Int(1));
                }
            }
            if let Some(ms) = archive.last_activity_ms {
                out.push(Family::DeviceLastActivity, labels, Value::TimestampMs(ms));
            }
            if let Some(ratio) = archive.complete_ratio {
                out.push(Family::DeviceCompleteRatio, labels, Value::Float(ratio));
            }
            if let Some(bytes) = archive.archive_bytes {
                out.push(Family::DeviceArchiveBytes, labels, Value::Int(bytes as i64));
            }
            if let Some(bytes) = archive.selected_bytes {
                out.push(
                    Family::DeviceSelectedBytes,
                    labels,
                    Value::Int(bytes as i64),
                );
            }
            out.push(
                Family::DeviceColdStorage,
                labels,
                Value::Int(i64::from(archive.cold_storage)),
            );
            orgs.entry(&device.org).or_default().archive_bytes +=
                archive.archive_bytes.unwrap_or(0);
        }
        for (org, totals) in &orgs {
            let labels = out.labels(&[("org", org)]);
            out.push(
                Family::OrgDevices,
                labels,
                Value::Int(totals.devices as i64),
            );
            out.push(
                Family::OrgArchiveBytes,
                labels,
                Value::Int(totals.archive_bytes as i64),
            );
            for (i, (name, _)) in AlertStates::NAMED.iter().enumerate() {
                let labels = out.labels(&[("org", org), ("alert", name)]);
                out.push(
                    Family::DeviceAlerts,
                    labels,
                    Value::Int(totals.alerts[i] as i64),
                );
            }
        }
        for (severity, count) in [("warning", warning_devices), ("critical", critical_devices)] {
            let labels = out.labels(&[("severity", severity)]);
            out.push(Family::AlertsActive, labels, Value::Int(count as i64));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    fn row<'a>(device: &'a str, destination: &'a str, org: &'a str, alerts: u8) -> ArchiveRow<'a> {
        ArchiveRow {
            archive_guid: None,
            device_uid: Cow::Borrowed(device),
            device_name: Cow::Borrowed("pc"),
            org_name: Cow::Borrowed(org),
            username: Cow::Borrowed("u"),
            os: Cow::Borrowed("win"),
            os_version: Cow::Borrowed("10"),
            app_version: Cow::Borrowed("7"),
            destination: Cow::Borrowed(destination),
            alerts: AlertStates(alerts),
            creation_ms: Some(1_000),
            last_connected_ms: Some(5_000),
            last_completed_ms: None,
            last_activity_ms: None,
            complete_ratio: None,
            archive_bytes: Some(10),
            selected_bytes: None,
            cold_storage: false,
        }
    }

    #[test]
    fn devices_are_grouped_and_duplicates_skipped() {
        let mut builder = EstateBuilder::default();
        builder.add(row("1", "cloud", "Eng", AlertStates::WARNING_BACKUP));
        builder.add(row("1", "local", "Eng", AlertStates::CRITICAL_CONNECTION));
        builder.add(row("1", "cloud", "Eng", 0));
        builder.add(row("2", "cloud", "Sales", 0));
        let (estate, skipped) = builder.finish();
        assert_eq!(estate.devices.len(), 2);
        assert_eq!(estate.archives.len(), 3);
        assert_eq!(skipped.get(SkipReason::Duplicate), 1);
        assert_eq!(
            estate.devices[0].alerts,
            AlertStates(AlertStates::WARNING_BACKUP | AlertStates::CRITICAL_CONNECTION)
        );
    }
}
