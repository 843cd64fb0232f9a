//! The Code42 estate of one refresh: devices and their archives, built row by row, and the
//! series it exposes.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::families::{
    ALERT_STATE, ARCHIVE_BYTES, BACKUP_AGE, COLD_STORAGE, COMPLETE_RATIO, DESTINATION_ALERT_STATE,
    DEVICE_ALERTS, DEVICE_INFO, LAST_ACTIVITY, LAST_COMPLETED, LAST_CONNECTED, NEVER_COMPLETED,
    ORG_ARCHIVE_BYTES, ORG_DEVICES, ORG_DEVICES_UNPROTECTED, SELECTED_BYTES,
};
use super::packed::Packed;
use super::row::{AlertStates, ArchiveRow};
use crate::exposition::{Detail, ExposeContext, ExpositionBuilder, Value};
use crate::health::{Crossing, HealthSummary, StaleItem, SummaryBuilder, Thresholds};
use crate::runtime::intern::Interner;
use crate::sources::families::ALERTS_ACTIVE;
use crate::sources::{SkipCounts, SkipReason, VendorState};

/// The default thresholds of the alerting rules (`alerts/config.libsonnet`).
/// Code42's alert e-mail defaults: warning after 3 days, critical after 5.
const BACKUP_AGE_THRESHOLDS: Thresholds = Thresholds::days(3, 5);
/// The console's yellow and red progress bar: 3 and 7 days without new data.
const NO_NEW_DATA_THRESHOLDS: Thresholds = Thresholds::days(3, 7);
const CONNECTION_THRESHOLDS: Thresholds = Thresholds::days(3, 5);

// The estate is the largest thing a refresh holds besides the snapshots (at 100,000
// devices, over a third of a later refresh's peak), so its rows are kept small: the
// strings a device shares with thousands of others are one shared profile, and optional
// numbers take the space of the number.

/// A device (computer) with the attributes of `backup_device_info`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Device {
    pub(crate) uid: Arc<str>,
    pub(crate) name: Box<str>,
    pub(crate) user: Box<str>,
    /// Saved as the device's own `org`, `os`, `os_version` and `app_version` fields.
    #[serde(flatten)]
    pub(crate) profile: Arc<Profile>,
    pub(crate) last_connected_ms: Packed<i64>,
    /// Union of the alert states of the device's archives.
    pub(crate) alerts: AlertStates,
}

/// Where a device belongs and what it runs: a few combinations, shared by many devices.
#[derive(Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub(crate) struct Profile {
    pub(crate) org: Arc<str>,
    pub(crate) os: Arc<str>,
    pub(crate) os_version: Arc<str>,
    pub(crate) app_version: Arc<str>,
}

/// An archive: one device backing up to one destination.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub(crate) struct Archive {
    /// Index into [`Code42Estate::devices`].
    pub(crate) device: u32,
    pub(crate) destination: Arc<str>,
    pub(crate) creation_ms: Packed<i64>,
    pub(crate) last_completed_ms: Packed<i64>,
    /// The report gave a completion date that could not be read: unknown, not "never".
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub(crate) completion_unknown: bool,
    pub(crate) last_activity_ms: Packed<i64>,
    pub(crate) complete_ratio: Packed<f64>,
    pub(crate) archive_bytes: Packed<u64>,
    pub(crate) selected_bytes: Packed<u64>,
    /// `None` when the report did not say: the archive then counts as live, because a
    /// guess of "cold" would silence its alerts.
    pub(crate) cold_storage: Option<bool>,
    /// The archive's own alert states.
    #[serde(default)]
    pub(crate) alerts: AlertStates,
}

/// Everything one successful refresh learned about a Code42 tenant.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "SavedEstate")]
pub(crate) struct Code42Estate {
    pub(crate) devices: Vec<Device>,
    pub(crate) archives: Vec<Archive>,
}

/// An estate as a state file holds it, before its archives' device indices are checked:
/// a file that names a device it does not have is refused whole (fuzzing found one that
/// panicked the first scrape after a restart).
#[derive(Deserialize)]
struct SavedEstate {
    devices: Vec<Device>,
    archives: Vec<Archive>,
}

impl TryFrom<SavedEstate> for Code42Estate {
    type Error = String;

    fn try_from(saved: SavedEstate) -> Result<Self, String> {
        let devices = saved.devices.len();
        match saved
            .archives
            .iter()
            .position(|a| a.device as usize >= devices)
        {
            Some(i) => Err(format!(
                "archive {i} belongs to device {} of {devices}",
                saved.archives[i].device
            )),
            None => Ok(Code42Estate {
                devices: saved.devices,
                archives: saved.archives,
            }),
        }
    }
}

/// Accumulates rows page by page.
#[derive(Default)]
pub(crate) struct EstateBuilder {
    /// Org, OS, version and destination names repeat across thousands of rows.
    strings: Interner,
    profiles: Interner<Profile>,
    device_index: foldhash::HashMap<Arc<str>, u32>,
    /// (device, interned destination): its address identifies the destination.
    archive_keys: foldhash::HashSet<(u32, usize)>,
    estate: Code42Estate,
    pub(crate) skipped: SkipCounts,
    /// The device and destination of the current page's first row.
    page_first: Option<(Arc<str>, Arc<str>)>,
}

impl EstateBuilder {
    /// Starts a page; returns the first row of the previous one.
    pub(crate) fn start_page(&mut self) -> Option<(Arc<str>, Arc<str>)> {
        self.page_first.take()
    }

    /// The device and destination of the first row of the page being read.
    pub(crate) fn page_first(&self) -> Option<&(Arc<str>, Arc<str>)> {
        self.page_first.as_ref()
    }

    /// Adds a row; `false` when it repeats an archive already read (skipped as a duplicate).
    pub(crate) fn add(&mut self, row: ArchiveRow<'_>) -> bool {
        let device = match self.device_index.get(row.device_uid.as_ref()) {
            Some(&index) => {
                let device = &mut self.estate.devices[index as usize];
                device.alerts.0 |= row.alerts.0;
                let connected = device.last_connected_ms.get().max(row.last_connected_ms);
                device.last_connected_ms = Packed::new(connected);
                index
            }
            None => {
                let index = self.estate.devices.len() as u32;
                let uid: Arc<str> = Arc::from(row.device_uid.as_ref());
                self.device_index.insert(uid.clone(), index);
                let profile = Profile {
                    org: self.strings.get(row.org_name.as_ref()),
                    os: self.strings.get(row.os.as_ref()),
                    os_version: self.strings.get(row.os_version.as_ref()),
                    app_version: self.strings.get(row.app_version.as_ref()),
                };
                self.estate.devices.push(Device {
                    uid,
                    name: Box::from(row.device_name.as_ref()),
                    user: Box::from(row.username.as_ref()),
                    profile: self.profiles.get(profile),
                    last_connected_ms: Packed::new(row.last_connected_ms),
                    alerts: row.alerts,
                });
                index
            }
        };
        // The report lists an archive twice when a user has several backup sets; one series
        // per device and destination is what the metrics promise, so later copies are skipped.
        let destination = self.strings.get(row.destination.as_ref());
        if self.page_first.is_none() {
            let uid = self.estate.devices[device as usize].uid.clone();
            self.page_first = Some((uid, destination.clone()));
        }
        let key = (device, Arc::as_ptr(&destination) as *const u8 as usize);
        if !self.archive_keys.insert(key) {
            self.skipped.add(SkipReason::Duplicate);
            return false;
        }
        self.estate.archives.push(Archive {
            device,
            destination,
            creation_ms: Packed::new(row.creation_ms),
            last_completed_ms: Packed::new(row.last_completed_ms),
            completion_unknown: row.completion_unknown,
            last_activity_ms: Packed::new(row.last_activity_ms),
            complete_ratio: Packed::new(row.complete_ratio),
            archive_bytes: Packed::new(row.archive_bytes),
            selected_bytes: Packed::new(row.selected_bytes),
            cold_storage: row.cold_storage,
            alerts: row.alerts,
        });
        true
    }

    pub(crate) fn rows(&self) -> usize {
        self.estate.archives.len()
    }

    pub(crate) fn finish(mut self) -> (Code42Estate, SkipCounts) {
        self.estate.devices.shrink_to_fit();
        self.estate.archives.shrink_to_fit();
        (self.estate, self.skipped)
    }
}

/// Per-org totals.
#[derive(Default)]
struct OrgTotals {
    devices: u64,
    /// Devices with every archive in cold storage.
    unprotected: u64,
    archive_bytes: u64,
    /// Devices per alert state, in the order of [`AlertStates::NAMED`].
    alerts: [u64; 4],
}

impl Archive {
    /// The backup alert states Code42 reports for this archive, by name.
    fn backup_states(&self) -> impl Iterator<Item = &'static str> {
        AlertStates::NAMED
            .into_iter()
            .filter(|(_, bit)| *bit & AlertStates::BACKUP != 0 && self.alerts.has(*bit))
            .map(|(name, _)| name)
    }

    /// In cold storage, as far as the report says: it can no longer back up.
    fn is_cold(&self) -> bool {
        self.cold_storage == Some(true)
    }

    /// It never completed a backup, as far as the report says.
    fn never_completed(&self) -> bool {
        self.last_completed_ms.get().is_none() && !self.completion_unknown
    }

    /// What the age series counts from: the last completed backup, or the device's creation
    /// if it never completed one; nothing when that is unknown.
    fn age_from_ms(&self) -> Option<i64> {
        match self.last_completed_ms.get() {
            Some(ms) => Some(ms),
            None if self.completion_unknown => None,
            None => self.creation_ms.get(),
        }
    }

    /// Series this archive adds.
    fn series(&self) -> usize {
        let optional = [
            self.last_completed_ms.get().is_some(),
            self.age_from_ms().is_some(),
            self.never_completed(),
            self.last_activity_ms.get().is_some(),
            self.complete_ratio.get().is_some(),
            self.archive_bytes.get().is_some(),
            self.selected_bytes.get().is_some(),
            self.cold_storage.is_some(),
        ];
        optional.iter().filter(|b| **b).count() + self.backup_states().count()
    }
}

/// How a device's health is decided, for the status page.
fn health_rule() -> String {
    let days = |ms: i64| ms / crate::health::DAY_MS;
    format!(
        "A device is a warning when none of its destinations completed a backup for {} days, a destination received no new data for {} days or the device has not connected for {} days; critical after {}, {} and {} days. A device that never completed a backup is at most a warning; one whose every archive is in cold storage is not protected, neither healthy nor unhealthy.",
        days(BACKUP_AGE_THRESHOLDS.warning_ms),
        days(NO_NEW_DATA_THRESHOLDS.warning_ms),
        days(CONNECTION_THRESHOLDS.warning_ms),
        days(BACKUP_AGE_THRESHOLDS.critical_ms),
        days(NO_NEW_DATA_THRESHOLDS.critical_ms),
        days(CONNECTION_THRESHOLDS.critical_ms),
    )
}

/// One device as the health rules see it: its live archives (not in cold storage) taken
/// together, as Code42's own alert is ("hasn't backed up to any destination").
struct DeviceView<'e> {
    device: &'e Device,
    /// All its archives, live and cold.
    archives: &'e [&'e Archive],
    /// Some archive is not in cold storage: the device can back up.
    live: bool,
    /// The youngest last completed backup over its live archives.
    freshest_ms: Option<i64>,
    /// A live archive's last completed backup is unknown (its date could not be read).
    completion_unknown: bool,
    /// When the device was created: the age of one that never completed a backup.
    created_ms: Option<i64>,
    /// The oldest last activity over its live archives.
    oldest_activity_ms: Option<i64>,
    /// The union of its live archives' alert states.
    alerts: AlertStates,
}

impl DeviceView<'_> {
    /// What its backup age counts from: the freshest completed backup, else its creation
    /// (unless a live destination's completion is unknown: it may have completed one).
    fn backup_since_ms(&self) -> Option<i64> {
        match self.freshest_ms {
            Some(ms) => Some(ms),
            None if self.completion_unknown => None,
            None => self.created_ms,
        }
    }

    /// It can back up, and no live destination ever completed a backup, as far as known.
    fn never_completed(&self) -> bool {
        self.live && self.freshest_ms.is_none() && !self.completion_unknown
    }

    /// The oldest of its backup, activity and connection ages at `now_ms`.
    fn worst_age_ms(&self, now_ms: i64) -> Option<i64> {
        [
            self.backup_since_ms(),
            self.oldest_activity_ms,
            self.device.last_connected_ms.get(),
        ]
        .into_iter()
        .flatten()
        .min()
        .map(|since| now_ms - since)
    }

    /// When it turns warning and critical.
    fn crossing(&self) -> Crossing {
        let mut crossing = Crossing::default();
        if let Some(since) = self.backup_since_ms() {
            crossing = crossing.age(since, BACKUP_AGE_THRESHOLDS, self.never_completed());
        }
        if let Some(activity) = self.oldest_activity_ms {
            crossing = crossing.age(activity, NO_NEW_DATA_THRESHOLDS, false);
        }
        match self.device.last_connected_ms.get() {
            Some(connected) => crossing.age(connected, CONNECTION_THRESHOLDS, false),
            None => crossing,
        }
    }
}

/// The estate's archives grouped by device, in one allocation (a list per device was
/// 100,000 allocations, and every view held at once about 10 MiB at the refresh's peak).
struct ArchivesByDevice<'e> {
    devices: &'e [Device],
    archives: Vec<&'e Archive>,
    /// Where each device's archives start in `archives`; one more entry than devices.
    starts: Vec<u32>,
}

impl<'e> ArchivesByDevice<'e> {
    fn new(estate: &'e Code42Estate) -> Self {
        let mut starts = vec![0u32; estate.devices.len() + 1];
        for archive in &estate.archives {
            starts[archive.device as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut next = starts.clone();
        let mut archives = vec![None; estate.archives.len()];
        for archive in &estate.archives {
            let slot = &mut next[archive.device as usize];
            archives[*slot as usize] = Some(archive);
            *slot += 1;
        }
        ArchivesByDevice {
            devices: &estate.devices,
            archives: archives.into_iter().flatten().collect(),
            starts,
        }
    }

    /// Every device with its archives and what its live archives say together, in the
    /// order of the estate's devices.
    fn views(&self) -> impl Iterator<Item = DeviceView<'_>> {
        self.devices.iter().enumerate().map(|(i, device)| {
            let archives = &self.archives[self.starts[i] as usize..self.starts[i + 1] as usize];
            DeviceView::new(device, archives)
        })
    }
}

impl<'e> DeviceView<'e> {
    fn new(device: &'e Device, archives: &'e [&'e Archive]) -> Self {
        let mut view = DeviceView {
            device,
            archives,
            live: false,
            freshest_ms: None,
            completion_unknown: false,
            created_ms: None,
            oldest_activity_ms: None,
            alerts: AlertStates::default(),
        };
        for archive in archives {
            view.created_ms = view.created_ms.or(archive.creation_ms.get());
            if archive.is_cold() {
                continue;
            }
            view.live = true;
            view.freshest_ms = view.freshest_ms.max(archive.last_completed_ms.get());
            view.completion_unknown |= archive.completion_unknown;
            if let Some(activity) = archive.last_activity_ms.get() {
                view.oldest_activity_ms = Some(
                    view.oldest_activity_ms
                        .map_or(activity, |a| a.min(activity)),
                );
            }
            view.alerts.0 |= archive.alerts.0;
        }
        view
    }
}

impl VendorState for Code42Estate {
    /// Every device's health and the stalest devices. A device's backup is as old as its
    /// freshest live destination's; it is as unhealthy as that, its live destinations'
    /// new data and its connection make it. A device with every archive in cold storage
    /// cannot back up: it is counted as not protected, never as unhealthy.
    fn summarize(&self, ctx: &ExposeContext) -> HealthSummary {
        let mut summary = SummaryBuilder::new("device", health_rule(), self.devices.len());
        for view in ArchivesByDevice::new(self).views() {
            if !view.live {
                summary.count_unprotected();
                continue;
            }
            summary.count(view.crossing());
            if let Some(since_ms) = view.backup_since_ms() {
                summary.offer(since_ms, || StaleItem {
                    name: ctx.identity(&view.device.name).into_owned(),
                    group: view.device.profile.org.to_string(),
                    since_ms,
                    never_completed: view.never_completed(),
                });
            }
        }
        summary.finish()
    }

    /// Adds the estate's series: org and alert totals over every device, then per-device
    /// series as `ctx` keeps them and `out` admits them (the stalest devices first when
    /// the source's series are capped). A device kept keeps all its archives, so rules
    /// that take the freshest destination see every destination.
    fn expose(&self, out: &mut ExpositionBuilder, ctx: &ExposeContext) {
        // Only an archive's backup age is written at scrape time: one label set each.
        out.reserve_labels(self.archives.len());
        self.expose_totals(out);
        if ctx.detail == Detail::None {
            return;
        }
        let grouped = ArchivesByDevice::new(self);
        // Capped, the stalest devices go first: only then are all the views held at once.
        let views: Box<dyn Iterator<Item = DeviceView>> = if out.is_limited() {
            let mut views: Vec<_> = grouped.views().collect();
            views.sort_by_cached_key(|v| std::cmp::Reverse(v.worst_age_ms(ctx.now_ms)));
            Box::new(views.into_iter())
        } else {
            Box::new(grouped.views())
        };
        for view in views {
            // A device that cannot back up never alerts: with `alerting` it is left out.
            let in_trouble = view.never_completed() || view.alerts.0 != 0;
            if !(ctx.detail == Detail::All
                || view.live && ctx.keeps(view.worst_age_ms(ctx.now_ms), in_trouble, None))
            {
                continue;
            }
            let device = view.device;
            let states = AlertStates::NAMED
                .iter()
                .filter(|(_, bit)| view.alerts.has(*bit))
                .count();
            let series = 1
                + usize::from(device.last_connected_ms.get().is_some())
                + states
                + view.archives.iter().map(|a| a.series()).sum::<usize>();
            if !out.admit(series) {
                continue;
            }
            let info = out.labels(&[
                ("org", &device.profile.org),
                ("device_uid", &device.uid),
                ("device_name", &ctx.identity(&device.name)),
                ("user", &ctx.identity(&device.user)),
                ("os", &device.profile.os),
                ("os_version", &device.profile.os_version),
                ("app_version", &device.profile.app_version),
            ]);
            out.push(&DEVICE_INFO, info, Value::Int(1));
            if let Some(ms) = device.last_connected_ms.get() {
                let labels =
                    out.labels(&[("org", &device.profile.org), ("device_uid", &device.uid)]);
                out.push(&LAST_CONNECTED, labels, Value::TimestampMs(ms));
            }
            for (name, bit) in AlertStates::NAMED {
                if view.alerts.has(bit) {
                    let labels = out.labels(&[
                        ("org", &device.profile.org),
                        ("device_uid", &device.uid),
                        ("alert", name),
                    ]);
                    out.push(&ALERT_STATE, labels, Value::Int(1));
                }
            }
            for archive in view.archives {
                expose_archive(device, archive, out);
            }
        }
    }
}

impl Code42Estate {
    /// Org totals and alert counts, over every device whatever the detail.
    fn expose_totals(&self, out: &mut ExpositionBuilder) {
        let mut orgs: BTreeMap<&str, OrgTotals> = BTreeMap::new();
        let mut warning_devices = 0;
        let mut critical_devices = 0;
        for device in &self.devices {
            let org = orgs.entry(&device.profile.org).or_default();
            org.devices += 1;
            for (i, (_, bit)) in AlertStates::NAMED.iter().enumerate() {
                if device.alerts.has(*bit) {
                    org.alerts[i] += 1;
                }
            }
            warning_devices += u64::from(device.alerts.is_warning());
            critical_devices += u64::from(device.alerts.is_critical());
        }
        let mut live = vec![false; self.devices.len()];
        for archive in &self.archives {
            let device = &self.devices[archive.device as usize];
            let org = orgs.entry(&device.profile.org).or_default();
            org.archive_bytes = org
                .archive_bytes
                .saturating_add(archive.archive_bytes.get().unwrap_or(0));
            live[archive.device as usize] |= !archive.is_cold();
        }
        for (device, live) in self.devices.iter().zip(live) {
            orgs.entry(&device.profile.org).or_default().unprotected += u64::from(!live);
        }
        for (org, totals) in &orgs {
            let labels = out.labels(&[("org", org)]);
            out.push(&ORG_DEVICES, labels, Value::count(totals.devices));
            out.push(
                &ORG_DEVICES_UNPROTECTED,
                labels,
                Value::count(totals.unprotected),
            );
            out.push(
                &ORG_ARCHIVE_BYTES,
                labels,
                Value::count(totals.archive_bytes),
            );
            for (i, (name, _)) in AlertStates::NAMED.iter().enumerate() {
                let labels = out.labels(&[("org", org), ("alert", name)]);
                out.push(&DEVICE_ALERTS, labels, Value::count(totals.alerts[i]));
            }
        }
        for (severity, count) in [("warning", warning_devices), ("critical", critical_devices)] {
            let labels = out.labels(&[("severity", severity)]);
            out.push(&ALERTS_ACTIVE, labels, Value::count(count));
        }
    }
}

fn expose_archive(device: &Device, archive: &Archive, out: &mut ExpositionBuilder) {
    let labels = out.labels(&[
        ("org", &device.profile.org),
        ("device_uid", &device.uid),
        ("destination", &archive.destination),
    ]);
    if let Some(ms) = archive.last_completed_ms.get() {
        out.push(&LAST_COMPLETED, labels, Value::TimestampMs(ms));
    }
    if let Some(since) = archive.age_from_ms() {
        out.push(&BACKUP_AGE, labels, Value::AgeSinceMs(since));
    }
    if archive.never_completed() {
        out.push(&NEVER_COMPLETED, labels, Value::Int(1));
    }
    if let Some(ms) = archive.last_activity_ms.get() {
        out.push(&LAST_ACTIVITY, labels, Value::TimestampMs(ms));
    }
    if let Some(ratio) = archive.complete_ratio.get() {
        out.push(&COMPLETE_RATIO, labels, Value::Float(ratio));
    }
    if let Some(bytes) = archive.archive_bytes.get() {
        out.push(&ARCHIVE_BYTES, labels, Value::count(bytes));
    }
    if let Some(bytes) = archive.selected_bytes.get() {
        out.push(&SELECTED_BYTES, labels, Value::count(bytes));
    }
    if let Some(cold) = archive.cold_storage {
        out.push(&COLD_STORAGE, labels, Value::Int(i64::from(cold)));
    }
    for state in archive.backup_states() {
        let labels = out.labels(&[
            ("org", &device.profile.org),
            ("device_uid", &device.uid),
            ("destination", &archive.destination),
            ("alert", state),
        ]);
        out.push(&DESTINATION_ALERT_STATE, labels, Value::Int(1));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::borrow::Cow;

    #[test]
    fn a_saved_estate_naming_a_device_it_does_not_have_is_refused() {
        let mut builder = EstateBuilder::default();
        builder.add(row("1", "cloud", "Eng", 0));
        let (estate, _) = builder.finish();
        let saved = serde_json::to_string(&estate).unwrap();
        assert_eq!(
            serde_json::from_str::<Code42Estate>(&saved).unwrap(),
            estate
        );
        let broken = saved.replace("\"device\":0", "\"device\":5");
        let error = serde_json::from_str::<Code42Estate>(&broken).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("archive 0 belongs to device 5 of 1"),
            "{error}"
        );
    }

    fn row<'a>(device: &'a str, destination: &'a str, org: &'a str, alerts: u8) -> ArchiveRow<'a> {
        ArchiveRow {
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
            completion_unknown: false,
            last_activity_ms: None,
            complete_ratio: None,
            archive_bytes: Some(10),
            selected_bytes: None,
            cold_storage: Some(false),
        }
    }

    #[test]
    fn thresholds_are_the_alerting_rules_defaults() {
        let config = include_str!("../../../alerts/config.libsonnet");
        for (key, thresholds) in [
            ("backupAge", BACKUP_AGE_THRESHOLDS),
            ("noNewData", NO_NEW_DATA_THRESHOLDS),
            ("connection", CONNECTION_THRESHOLDS),
        ] {
            let line = thresholds.libsonnet(key);
            assert!(
                config.contains(&line),
                "alerts/config.libsonnet lacks {line:?}"
            );
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

    /// The saved state (`--storage.path`) keeps the format it had before devices shared
    /// profiles and optional numbers were packed: files written before still load.
    #[test]
    fn saved_format_is_unchanged() {
        let saved = serde_json::json!({
            "devices": [{
                "uid": "1", "name": "pc", "user": "u", "org": "Eng", "os": "win",
                "os_version": "10", "app_version": "7", "last_connected_ms": 5000,
                "alerts": 0,
            }],
            "archives": [{
                "device": 0, "destination": "cloud", "creation_ms": 1000,
                "last_completed_ms": null, "last_activity_ms": null, "complete_ratio": null,
                "archive_bytes": 10, "selected_bytes": null, "cold_storage": false, "alerts": 0,
            }],
        });
        let mut builder = EstateBuilder::default();
        builder.add(row("1", "cloud", "Eng", 0));
        let (estate, _) = builder.finish();
        assert_eq!(serde_json::to_value(&estate).unwrap(), saved);
        let loaded: Code42Estate = serde_json::from_value(saved).unwrap();
        assert_eq!(loaded, estate);
    }

    #[test]
    fn devices_share_their_profile() {
        let mut builder = EstateBuilder::default();
        builder.add(row("1", "cloud", "Eng", 0));
        builder.add(row("2", "cloud", "Eng", 0));
        builder.add(row("3", "cloud", "Sales", 0));
        let (estate, _) = builder.finish();
        let [a, b, c] = &estate.devices[..] else {
            panic!("three devices")
        };
        assert!(Arc::ptr_eq(&a.profile, &b.profile));
        assert_eq!(&*c.profile.org, "Sales");
        assert_eq!(c.profile.os, a.profile.os);
    }
}
