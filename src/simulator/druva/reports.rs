//! The simulated tenant's reports: one builder per report, writing rows with the wire field
//! names of Druva's documentation, misspellings included.

use serde_json::Value;

use super::{ACTIVITY, DruvaTenant, HOUR, JobTruth, Kind, Resource, ResourceTruth, failure_text};
use crate::simulator::wire::{DateStyle, format_date};

/// A report row: a JSON object.
pub(super) type Row = serde_json::Map<String, Value>;

fn date(ms: i64) -> Value {
    Value::from(format_date(ms, DateStyle::UtcMillis))
}

fn opt_date(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, date)
}

fn object(pairs: Vec<(&str, Value)>) -> Row {
    pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

impl DruvaTenant {
    /// The rows of a report at `now`.
    pub(super) fn rows(&self, report: &str, now: i64) -> Vec<Row> {
        match report {
            "m365UserWorkload" => self.user_workload(now),
            "m365SharePointSiteDiscovery" => self.site_discovery(now),
            "m365TeamsDiscovery" => self.team_discovery(now),
            "m365GroupsDiscovery" => self.group_discovery(now),
            "m365UserLastBackupStatus" => self.last_backup_status(now),
            "m365UserProvisioning" | "m365PreservedUsersDatasources" => self.user_rows(report, now),
            "m365Alerts" => self.alerts(now),
            "m365StorageConsumption" => self.storage_rows(now),
            "m365LicenseUsage" | "m365UserCountAndStatus" => self.period_rows(report, now),
            _ => self.job_rows(report, now),
        }
    }

    /// The resources of `kind` the tenant still reports at `now` (purged ones are gone).
    fn live(&self, now: i64, kind: Kind) -> impl Iterator<Item = (&Resource, ResourceTruth)> {
        self.resources
            .iter()
            .filter(move |r| r.kind == kind)
            .map(move |r| (r, self.resource_at(r, now)))
            .filter(|(_, t)| !t.purged)
    }

    /// Rows of `m365UserWorkload`: a user's Exchange Online or OneDrive (`lastSuccessfulbackup` with a lower-case b).
    fn user_workload(&self, now: i64) -> Vec<Row> {
        self.live(now, Kind::User)
            .map(|(r, t)| {
                object(vec![
                    ("addedOn", date(t.added_ms)),
                    (
                        "appStatus",
                        (if r.enabled { "Enabled" } else { "Disabled" }).into(),
                    ),
                    ("lastAttemptedBackup", opt_date(t.last_attempt_ms)),
                    ("lastBackupStatus", t.status.into()),
                    ("lastSuccessfulbackup", opt_date(t.last_success_ms)),
                    ("lastUpdatedTime", date(t.last_updated_ms)),
                    ("preferredDataLocation", "-".into()),
                    ("profileId", 55.into()),
                    ("profileName", "Default".into()),
                    (
                        "statusDetails",
                        if t.failure.is_empty() {
                            serde_json::Value::Null
                        } else {
                            failure_text(r).1.into()
                        },
                    ),
                    ("storageId", 1_000_021.into()),
                    ("storageName", format!("{}_us-east-1", r.email).into()),
                    ("totalBackupData", r.bytes.into()),
                    ("userEmail", r.email.clone().into()),
                    ("userName", r.name.clone().into()),
                    ("userPrincipalName", r.email.clone().into()),
                    ("workloadType", r.workload.into()),
                ])
            })
            .collect()
    }

    /// Rows of `m365SharePointSiteDiscovery`. The documentation's field table says
    /// `isdeleted`, its sample response `isDeleted`: the sample is what the API sent.
    fn site_discovery(&self, now: i64) -> Vec<Row> {
        self.live(now, Kind::Site)
            .map(|(r, t)| {
                let mut row = discovery(r, &t, "siteDbId", "siteName", "isDeleted");
                row.insert("siteType".into(), "MS Teams Site".into());
                row.insert(
                    "siteURL".into(),
                    format!("https://m365.example.com/sites/{}", r.id).into(),
                );
                row.insert("geolocation".into(), "FRA (France)".into());
                // Sites give their reasons as errorDetailsNew codes.
                row.insert("errorDetailsOld".into(), "-".into());
                row.insert(
                    "errorDetailsNew".into(),
                    if t.failure.is_empty() {
                        serde_json::Value::Null
                    } else {
                        failure_text(r).1.into()
                    },
                );
                row.remove("statusDetails");
                row
            })
            .collect()
    }

    /// Rows of `m365TeamsDiscovery`.
    fn team_discovery(&self, now: i64) -> Vec<Row> {
        self.live(now, Kind::Team)
            .map(|(r, t)| {
                let mut row = discovery(r, &t, "teamDbId", "teamName", "isDeleted");
                row.insert("privacy".into(), "Public".into());
                row.insert(
                    "teamState".into(),
                    (if r.archived { "Archived" } else { "Active" }).into(),
                );
                row.insert("sharedChannelCount".into(), 0.into());
                row.insert("privateChannelCount".into(), 1.into());
                row
            })
            .collect()
    }

    /// Rows of `m365GroupsDiscovery`.
    fn group_discovery(&self, now: i64) -> Vec<Row> {
        self.live(now, Kind::Group)
            .map(|(r, t)| {
                let mut row = discovery(r, &t, "groupDbId", "groupName", "isDeleted");
                row.insert("groupEmail".into(), r.email.clone().into());
                row.insert("groupType".into(), "Microsoft 365".into());
                row.insert("teamsEnabled".into(), "Enabled".into());
                row.insert("plannerEnabled".into(), "Enabled".into());
                row
            })
            .collect()
    }

    /// Rows of `m365UserLastBackupStatus`: each user workload's last backup (none for a
    /// workload never attempted).
    fn last_backup_status(&self, now: i64) -> Vec<Row> {
        self.live(now, Kind::User)
            .filter_map(|(r, t)| Some((r, t.last_backup.clone()?, t)))
            .map(|(r, last, t)| {
                object(vec![
                    (
                        "appStatus",
                        (if r.enabled { "Enabled" } else { "Disabled" }).into(),
                    ),
                    ("endTime", date(last.end_ms)),
                    ("itemsBackedUp", last.items_backed_up.into()),
                    ("itemsMissed", last.items_missed.into()),
                    ("lastBackupData", last.bytes.into()),
                    ("lastBackupStatus", t.status.into()),
                    ("lastUpdatedTime", date(t.last_updated_ms)),
                    ("profileId", 55.into()),
                    ("profileName", "Default".into()),
                    ("startTime", date(last.start_ms)),
                    (
                        "statusDetails",
                        (if t.failure.is_empty() {
                            "-"
                        } else {
                            failure_text(r).1
                        })
                        .into(),
                    ),
                    ("totalBackupData", serde_json::Value::Null),
                    ("userEmail", r.email.clone().into()),
                    ("userName", r.name.clone().into()),
                    ("workloadType", r.workload.into()),
                ])
            })
            .collect()
    }

    /// Rows of `m365UserProvisioning` (every user) and `m365PreservedUsersDatasources` (the
    /// preserved ones).
    fn user_rows(&self, report: &str, now: i64) -> Vec<Row> {
        let (active, preserved, smb) = self.provisioned_licenses();
        self.users(now)
            .into_iter()
            .filter(|u| report == "m365UserProvisioning" || u.preserved)
            .map(|u| {
                let mut row = object(vec![
                    ("lastUpdatedTime", date(self.start_ms - 3_600_000)),
                    ("profileId", 55.into()),
                    ("profileName", "Default".into()),
                    ("totalBackupData", u.bytes.into()),
                    ("userEmail", u.email.clone().into()),
                    ("userName", u.name.clone().into()),
                    ("smbLicenseState", "No".into()),
                    ("m365LicenseState", u.license_state.into()),
                ]);
                if report == "m365UserProvisioning" {
                    row.insert("userStatus".into(), u.status.into());
                    row.insert("createdOn".into(), date(self.start_ms - 90 * 86_400_000));
                    row.insert("managedBy".into(), u.managed_by.into());
                    row.insert("mapping".into(), "-".into());
                    row.insert("customAttributeName".into(), "-".into());
                    row.insert("customAttributeValue".into(), "-".into());
                    row.insert("activeLicenseAllocated".into(), active.into());
                    row.insert("preservedLicenseAllocated".into(), preserved.into());
                    row.insert("smbLicenseAllocated".into(), smb.into());
                } else {
                    row.insert("preservedOn".into(), date(self.start_ms - 30 * 86_400_000));
                    row.insert("mode".into(), "AZUREAD".into());
                    row.insert(
                        "autoDeleteOn".into(),
                        u.auto_delete_ms.map_or_else(|| "-".into(), date),
                    );
                    row.insert("preserveLicenseAllocated".into(), preserved.into());
                }
                row
            })
            .collect()
    }

    /// Rows of `m365Alerts`.
    fn alerts(&self, now: i64) -> Vec<Row> {
        self.alerts
            .iter()
            .filter(|a| a.first_ms <= now)
            .map(|a| {
                let resolved = a.resolved_at.filter(|r| *r <= now);
                object(vec![
                    ("alertDetails", a.details.into()),
                    ("alertId", a.id.into()),
                    ("entity", "M365".into()),
                    ("firstOccurrence", date(a.first_ms)),
                    (
                        "isActive",
                        (if resolved.is_none() { "Yes" } else { "No" }).into(),
                    ),
                    ("isDeleted", i64::from(a.deleted).into()),
                    ("lastUpdatedTime", date(resolved.unwrap_or(a.first_ms))),
                    ("latestOccurrence", date(resolved.unwrap_or(a.first_ms))),
                    ("severity", a.severity.into()),
                ])
            })
            .collect()
    }

    /// Rows of `m365StorageConsumption`: one per workload.
    fn storage_rows(&self, now: i64) -> Vec<Row> {
        self.storage(now)
            .into_iter()
            .map(
                |(workload, enabled, enabled_bytes, disabled, disabled_bytes)| {
                    object(vec![
                        ("disabled", disabled.into()),
                        ("disabledBackupData", disabled_bytes.into()),
                        ("enabled", enabled.into()),
                        ("enabledBackupData", enabled_bytes.into()),
                        ("resourceCount", (enabled + disabled).into()),
                        ("totalBackupData", (enabled_bytes + disabled_bytes).into()),
                        ("workloadName", workload.into()),
                    ])
                },
            )
            .collect()
    }

    /// Rows of `m365LicenseUsage` and `m365UserCountAndStatus`: six months and eight weeks.
    fn period_rows(&self, report: &str, now: i64) -> Vec<Row> {
        self.periods(now)
            .into_iter()
            .map(|(period, start, end, scale)| {
                let users = (self.options.users as u64 * scale / 100).max(1);
                let mut row = object(vec![
                    ("period", period.into()),
                    ("startDate", date(start)),
                    ("endDate", date(end)),
                ]);
                if report == "m365LicenseUsage" {
                    row.insert("usersAdded".into(), (users / 10).into());
                    row.insert("usersDeleted".into(), 1.into());
                    row.insert("totalActiveLicense".into(), self.active_licenses().into());
                    row.insert("activeLicenseUsed".into(), users.into());
                    row.insert("totalPreservedLicense".into(), 50.into());
                    row.insert("preservedLicenseUsed".into(), 20.into());
                } else {
                    row.insert("totalUsers".into(), users.into());
                    row.insert("totalPreservedUsers".into(), 20.into());
                    row.insert("userAdded".into(), (users / 10).into());
                    row.insert("usersDeleted".into(), 1.into());
                    row.insert("usersPreserved".into(), 2.into());
                }
                row
            })
            .collect()
    }

    /// Rows of an activity report: one per job.
    fn job_rows(&self, report: &str, now: i64) -> Vec<Row> {
        let subjects = ACTIVITY
            .iter()
            .find(|a| a.0 == report)
            .map(|a| self.subject_resources(a.3))
            .unwrap_or_default();
        self.jobs(now)
            .into_iter()
            .filter(|j| j.report == report)
            .map(|j| job_row(&j, subjects.get(j.subject as usize).copied()))
            .collect()
    }
}

/// The fields the three discovery reports share.
fn discovery(
    r: &Resource,
    t: &ResourceTruth,
    id_key: &str,
    name_key: &str,
    deleted_key: &str,
) -> Row {
    let mut row = object(vec![
        ("addedOn", date(t.added_ms)),
        (
            "appStatus",
            (if r.enabled { "Enabled" } else { "Disabled" }).into(),
        ),
        ("backupFrequency", r.frequency.into()),
        (deleted_key, i64::from(t.deleted).into()),
        ("lastBackupAttempted", opt_date(t.last_attempt_ms)),
        ("lastBackupStatus", t.status.into()),
        ("lastSuccessfulBackup", opt_date(t.last_success_ms)),
        ("lastUpdatedTime", date(t.last_updated_ms)),
        ("retention", "7D, 4W, 12M".into()),
        (id_key, r.id.parse::<u64>().unwrap_or(0).into()),
        (name_key, r.name.clone().into()),
        ("storageRegion", "us-east-1".into()),
        ("totalBackupData", r.bytes.into()),
    ]);
    row.insert(
        "statusDetails".into(),
        (if t.failure.is_empty() {
            "-"
        } else {
            failure_text(r).1
        })
        .into(),
    );
    row
}

/// A job's row, with the fields its report's sample has; `subject` is the user, site, team
/// or group it is about, as the discovery reports list it.
fn job_row(j: &JobTruth, subject: Option<&Resource>) -> Row {
    let date = |ms: i64| Value::from(format_date(ms, DateStyle::UtcMillis));
    let mut row = serde_json::Map::new();
    let mut put = |k: &str, v: Value| {
        row.insert(k.to_string(), v);
    };
    // Users start their own restores: their report names no administrator.
    if j.report != "m365UserRestoreActivity" {
        put("administrator", "Rohit Patil".into());
    }
    put("endTime", j.end_ms.map_or(Value::Null, date));
    put("jobId", j.id.into());
    put("lastUpdatedTime", date(j.last_updated_ms));
    // SharePoint backup activity spells it `starTtime`.
    put(
        if j.report == "m365SharePointBackupActivity" {
            "starTtime"
        } else {
            "startTime"
        },
        date(j.start_ms),
    );
    if let Some(details) = j.status_details {
        put("statusDetails", details.into());
    }
    if j.backup {
        put("backupStatus", j.status.into());
        put("snapshotSize", j.bytes.into());
        put("filesBackedUp", 0.into());
        put("filesMissed", j.files_missed.into());
        put("appStatus", "Enabled".into());
    } else {
        put_restore(j, &mut put);
    }
    put_subject(j, subject, &mut put);
    row
}

/// What a restore's row says of how it went; each report spells its counts its own way.
fn put_restore(j: &JobTruth, put: &mut impl FnMut(&str, Value)) {
    put("restoreStatus", j.status.into());
    put("restoreSize", j.bytes.into());
    if j.report != "m365UserRestoreActivity" {
        put(
            "snapshotTimestamp",
            format_date(j.start_ms - 6 * HOUR, DateStyle::UtcMillis).into(),
        );
    }
    match j.report {
        "m365PublicFolderRestoreActivity" => put("filesreStored", 0.into()),
        "m365UserRestoreActivity" => put("itemsRestored", 0.into()),
        "m365TeamsRestoreActivity" => put("channelsRestored", 1.into()),
        _ => put("filesRestored", 0.into()),
    }
    match j.report {
        "m365TeamsRestoreActivity" => put("filesmissed", j.files_missed.into()),
        "m365UserRestoreActivity" => put("itemsMissed", j.files_missed.into()),
        _ => put("filesMissed", j.files_missed.into()),
    }
    match j.report {
        "m365UserRestoreActivity" => {
            put("restoreLocation", "Same user account".into());
            put("restoreMode", "Admin".into());
        }
        "m365GroupsRestoreActivity" => {}
        "m365SharePointRestoreActivity" => {
            put("restoreLocation", "rp_test".into());
            put("restoreOption", "As a New Site".into());
        }
        _ => {
            put("restoreLocation", "-".into());
            put("restoreOption", "-".into());
        }
    }
}

/// Who or what a job was about, as its report names it.
fn put_subject(j: &JobTruth, subject: Option<&Resource>, put: &mut impl FnMut(&str, Value)) {
    let name = || subject.map_or(Value::Null, |r| r.name.clone().into());
    let email = || subject.map_or(Value::Null, |r| r.email.clone().into());
    match j.report {
        "m365UserRestoreActivity" => {
            put("workloadType", j.workload.into());
            put("userEmail", email());
            put("userName", name());
            put("profileId", 55.into());
            put("profileName", "Default".into());
        }
        "m365GroupsBackupActivity" | "m365GroupsRestoreActivity" => {
            put("groupName", name());
            put("groupEmail", email());
            put("groupType", "Microsoft 365".into());
            if !j.backup {
                put("activityType", "Group".into());
            }
        }
        "m365SharePointBackupActivity" | "m365SharePointRestoreActivity" => {
            put("siteName", name());
            if j.backup {
                put("siteCollectionUrl", "".into());
            }
        }
        "m365TeamsBackupActivity" | "m365TeamsRestoreActivity" => {
            put("teamName", name());
            put("privacy", "Public".into());
            put(
                "activityType",
                ["Team Metadata", "Team Conversation"][(j.id % 2) as usize].into(),
            );
            if j.backup {
                put("numberOfChannels", 1.into());
            }
        }
        _ => {
            put("publicFolderName", format!("pf-{}", j.subject).into());
            put("publicFolderPath", format!("\\\\pf-{}", j.subject).into());
        }
    }
}

/// Whether a report exists and whether it has `lastUpdatedTime`.
pub(super) fn report_has_last_updated(report: &str) -> Option<bool> {
    match report {
        "m365StorageConsumption" | "m365LicenseUsage" | "m365UserCountAndStatus" => Some(false),
        "m365UserWorkload"
        | "m365SharePointSiteDiscovery"
        | "m365TeamsDiscovery"
        | "m365GroupsDiscovery"
        | "m365Alerts"
        | "m365UserLastBackupStatus"
        | "m365UserProvisioning"
        | "m365PreservedUsersDatasources" => Some(true),
        _ if ACTIVITY.iter().any(|a| a.0 == report) => Some(true),
        _ => None,
    }
}

pub(super) fn date_ms(text: &str) -> i64 {
    chrono::DateTime::parse_from_rfc3339(text)
        .map(|d| d.timestamp_millis())
        .unwrap_or(i64::MIN)
}

/// One entry of `filters.filterBy`. Operators are case-insensitive (the documentation's
/// examples use both `GTE` and `gte`).
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Filter {
    pub(super) field_name: String,
    operator: String,
    value: Value,
}

impl Filter {
    pub(super) fn matches(&self, row: &Row) -> bool {
        let Some(actual) = row.get(&self.field_name) else {
            return false;
        };
        let op = self.operator.to_ascii_uppercase();
        let ordering = match (actual, &self.value) {
            (Value::String(a), Value::String(b))
                if self.field_name.ends_with("Time")
                    || self.field_name.ends_with("Date")
                    || self.field_name == "addedOn" =>
            {
                date_ms(a).cmp(&date_ms(b))
            }
            (Value::String(a), Value::String(b)) => a.cmp(b),
            (a, b) => match (a.as_f64(), b.as_f64()) {
                (Some(a), Some(b)) => a.partial_cmp(&b).unwrap_or(std::cmp::Ordering::Equal),
                _ => return false,
            },
        };
        use std::cmp::Ordering::*;
        match op.as_str() {
            "EQUAL" => ordering == Equal,
            "NOTEQUAL" => ordering != Equal,
            "LT" => ordering == Less,
            "LTE" => ordering != Greater,
            "GT" => ordering == Greater,
            "GTE" => ordering != Less,
            "CONTAINS" => actual
                .as_str()
                .zip(self.value.as_str())
                .is_some_and(|(a, b)| a.contains(b)),
            _ => false,
        }
    }

    pub(super) fn to_json(&self) -> Value {
        serde_json::json!({"fieldName": self.field_name, "value": self.value, "operator": self.operator})
    }
}

#[cfg(test)]
mod tests {
    use super::super::{DruvaOptions, DruvaTenant};

    /// Where a recorded payload and the simulator disagree, the simulator changes: every
    /// report's rows carry every field its sample in Druva's documentation carries
    /// (`tests/fixtures/recorded/druva/`), spelt the same.
    #[test]
    fn every_report_serves_every_field_of_its_recorded_sample() {
        let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/recorded/druva");
        let now = 1_736_241_695_000;
        let tenant = DruvaTenant::generate(DruvaOptions::default(), now);
        let mut missing = Vec::new();
        let mut reports = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let report = path.file_stem().unwrap().to_string_lossy().into_owned();
            if !report.starts_with("m365") || path.extension().is_none_or(|e| e != "json") {
                continue;
            }
            reports += 1;
            let sample: serde_json::Value =
                serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
            let rows = tenant.rows(&report, now);
            assert!(!rows.is_empty(), "{report}: the simulator serves no row");
            for field in sample["data"][0].as_object().unwrap().keys() {
                if !rows.iter().any(|row| row.contains_key(field)) {
                    missing.push(format!("{report}.{field}"));
                }
            }
        }
        assert_eq!(reports, 20);
        assert!(missing.is_empty(), "not served: {missing:?}");
    }

    /// `docs/seed-fidelity.md` says the simulator serves every field of its Druva table,
    /// read or not (of names written `a` / `b`, one spelling).
    #[test]
    fn every_report_serves_every_field_the_fidelity_page_lists() {
        let doc = include_str!("../../../docs/seed-fidelity.md");
        let start = doc.find("## Druva Microsoft 365 reports").unwrap();
        let table = &doc[start..][..doc[start..].find("\n## ").unwrap()];
        let now = 1_736_241_695_000;
        let tenant = DruvaTenant::generate(DruvaOptions::default(), now);
        let mut missing = Vec::new();
        let mut reports = 0;
        for line in table.lines().filter(|l| l.starts_with("| `m365")) {
            reports += 1;
            let cells: Vec<&str> = line.split(" | ").collect();
            let report = cells[0].trim_start_matches("| ").trim_matches('`');
            let rows = tenant.rows(report, now);
            for item in cells[3].split(", ").chain(cells[4].split(", ")) {
                let spellings: Vec<&str> = item.split('`').skip(1).step_by(2).collect();
                let served = spellings
                    .iter()
                    .any(|name| rows.iter().any(|row| row.contains_key(*name)));
                if !spellings.is_empty() && !served {
                    missing.push(format!("{report}: {}", spellings.join(" / ")));
                }
            }
        }
        assert_eq!(reports, 20);
        assert!(missing.is_empty(), "not served: {missing:?}");
    }
}
