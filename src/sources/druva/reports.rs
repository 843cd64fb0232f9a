//! The Microsoft 365 reports the exporter reads, and how each report's rows are decoded.
//! Field names are the wire names of Druva's samples, misspellings included.

use serde::{Deserialize, Serialize};

use crate::sources::SkipReason;
use crate::sources::record::{Record, RowSeed, Scalar};

/// How a report is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Rows describe the current state of resources or alerts and carry `lastUpdatedTime`:
    /// read completely (the API otherwise returns only the last 24 hours), then
    /// incrementally, merged by key.
    CurrentState,
    /// Totals without `lastUpdatedTime`: never filtered by it, replaced on every read.
    Totals,
    /// Backup and restore jobs: counted once each, when final.
    Activity,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Operation {
    Backup,
    Restore,
}

impl Operation {
    pub fn as_str(self) -> &'static str {
        match self {
            Operation::Backup => "backup",
            Operation::Restore => "restore",
        }
    }
}

/// One report of the catalogue.
#[derive(Debug)]
pub struct Report {
    pub id: &'static str,
    pub kind: Kind,
    /// The workload label of the report's rows, when the report is about one workload.
    pub workload: Option<&'static str>,
    pub operation: Option<Operation>,
    fields: &'static [&'static str],
}

impl Report {
    pub fn seed(&self) -> RowSeed {
        RowSeed {
            fields: self.fields,
        }
    }
}

const RESOURCE_FIELDS: &[&str] = &[
    "addedOn",
    "appStatus",
    "backupFrequency",
    "groupDbId",
    "groupName",
    "isDeleted",
    "isdeleted",
    "lastAttemptedBackup",
    "lastBackupAttempted",
    "lastBackupStatus",
    "lastSuccessfulBackup",
    "lastSuccessfulbackup",
    "lastUpdatedTime",
    "siteDbId",
    "siteName",
    "teamDbId",
    "teamName",
    "teamState",
    "totalBackupData",
    "userEmail",
    "userName",
    "workloadType",
];

const ACTIVITY_FIELDS: &[&str] = &[
    "backupStatus",
    "endTime",
    "jobId",
    "lastUpdatedTime",
    "restoreSize",
    "restoreStatus",
    "snapshotSize",
    "starTtime",
    "startTime",
    "workloadType",
];

const fn report(
    id: &'static str,
    kind: Kind,
    workload: Option<&'static str>,
    operation: Option<Operation>,
    fields: &'static [&'static str],
) -> Report {
    Report {
        id,
        kind,
        workload,
        operation,
        fields,
    }
}

/// Every supported report, in reading order.
pub static REPORTS: &[Report] = &[
    report(
        "m365StorageConsumption",
        Kind::Totals,
        None,
        None,
        &[
            "disabled",
            "disabledBackupData",
            "enabled",
            "enabledBackupData",
            "resourceCount",
            "totalBackupData",
            "workloadName",
        ],
    ),
    report(
        "m365LicenseUsage",
        Kind::Totals,
        None,
        None,
        &[
            "activeLicenseUsed",
            "endDate",
            "period",
            "preservedLicenseUsed",
            "startDate",
            "totalActiveLicense",
            "totalPreservedLicense",
        ],
    ),
    report(
        "m365UserCountAndStatus",
        Kind::Totals,
        None,
        None,
        &[
            "endDate",
            "period",
            "startDate",
            "totalPreservedUsers",
            "totalUsers",
        ],
    ),
    report(
        "m365Alerts",
        Kind::CurrentState,
        None,
        None,
        &[
            "alertId",
            "isActive",
            "isDeleted",
            "isdeleted",
            "lastUpdatedTime",
            "severity",
        ],
    ),
    report(
        "m365UserWorkload",
        Kind::CurrentState,
        None,
        None,
        RESOURCE_FIELDS,
    ),
    report(
        "m365SharePointSiteDiscovery",
        Kind::CurrentState,
        Some("SharePoint"),
        None,
        RESOURCE_FIELDS,
    ),
    report(
        "m365TeamsDiscovery",
        Kind::CurrentState,
        Some("Teams"),
        None,
        RESOURCE_FIELDS,
    ),
    report(
        "m365GroupsDiscovery",
        Kind::CurrentState,
        Some("Groups"),
        None,
        RESOURCE_FIELDS,
    ),
    report(
        "m365GroupsBackupActivity",
        Kind::Activity,
        Some("Groups"),
        Some(Operation::Backup),
        ACTIVITY_FIELDS,
    ),
    report(
        "m365GroupsRestoreActivity",
        Kind::Activity,
        Some("Groups"),
        Some(Operation::Restore),
        ACTIVITY_FIELDS,
    ),
    report(
        "m365UserRestoreActivity",
        Kind::Activity,
        None,
        Some(Operation::Restore),
        ACTIVITY_FIELDS,
    ),
    report(
        "m365PublicFolderBackupActivity",
        Kind::Activity,
        Some("Public Folders"),
        Some(Operation::Backup),
        ACTIVITY_FIELDS,
    ),
    report(
        "m365PublicFolderRestoreActivity",
        Kind::Activity,
        Some("Public Folders"),
        Some(Operation::Restore),
        ACTIVITY_FIELDS,
    ),
    report(
        "m365SharePointBackupActivity",
        Kind::Activity,
        Some("SharePoint"),
        Some(Operation::Backup),
        ACTIVITY_FIELDS,
    ),
    report(
        "m365SharePointRestoreActivity",
        Kind::Activity,
        Some("SharePoint"),
        Some(Operation::Restore),
        ACTIVITY_FIELDS,
    ),
    report(
        "m365TeamsBackupActivity",
        Kind::Activity,
        Some("Teams"),
        Some(Operation::Backup),
        ACTIVITY_FIELDS,
    ),
    report(
        "m365TeamsRestoreActivity",
        Kind::Activity,
        Some("Teams"),
        Some(Operation::Restore),
        ACTIVITY_FIELDS,
    ),
];

/// The IDs of every supported report: the default of `reports`.
pub static DEFAULT_REPORTS: &[&str] = &[
    "m365StorageConsumption",
    "m365LicenseUsage",
    "m365UserCountAndStatus",
    "m365Alerts",
    "m365UserWorkload",
    "m365SharePointSiteDiscovery",
    "m365TeamsDiscovery",
    "m365GroupsDiscovery",
    "m365GroupsBackupActivity",
    "m365GroupsRestoreActivity",
    "m365UserRestoreActivity",
    "m365PublicFolderBackupActivity",
    "m365PublicFolderRestoreActivity",
    "m365SharePointBackupActivity",
    "m365SharePointRestoreActivity",
    "m365TeamsBackupActivity",
    "m365TeamsRestoreActivity",
];

pub fn find(id: &str) -> Option<&'static Report> {
    REPORTS.iter().find(|r| r.id == id)
}

/// A protected Microsoft 365 resource: a user's mailbox or OneDrive, a site, a team, a group.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Resource {
    pub workload: String,
    pub id: String,
    pub name: String,
    pub added_ms: Option<i64>,
    pub last_success_ms: Option<i64>,
    pub last_attempt_ms: Option<i64>,
    /// `backupFrequency` in seconds; absent for "never" and for reports without it.
    pub interval_seconds: Option<u64>,
    pub bytes: Option<u64>,
    /// The last attempt failed or was cancelled.
    pub last_failed: bool,
    /// `appStatus`: whether backup is enabled for it; absent when the row does not say.
    #[serde(default)]
    pub enabled: Option<bool>,
    /// `teamState` "Archived" (Teams).
    #[serde(default)]
    pub archived: bool,
    /// `backupFrequency` 0: never scheduled.
    #[serde(default)]
    pub unscheduled: bool,
}

/// Whether a resource is meant to be backed up, and if not, why: the vendor's own state,
/// set by an administrator. Only protected resources can be stale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Protection {
    Protected,
    /// `appStatus` "Disabled".
    Disabled,
    /// `teamState` "Archived".
    Archived,
    /// `backupFrequency` 0 ("never").
    Unscheduled,
}

impl Protection {
    pub const ALL: [Protection; 4] = [
        Protection::Protected,
        Protection::Disabled,
        Protection::Archived,
        Protection::Unscheduled,
    ];

    pub fn as_str(self) -> &'static str {
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
    pub fn protection(&self) -> Protection {
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
pub struct Alert {
    /// Lower-case: warning, critical, high.
    pub severity: String,
    pub active: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WorkloadStorage {
    pub workload: String,
    pub enabled: u64,
    pub enabled_bytes: u64,
    pub disabled: u64,
    pub disabled_bytes: u64,
}

/// A row of m365LicenseUsage or m365UserCountAndStatus: counts for a week or a month.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PeriodCounts {
    pub monthly: bool,
    pub start_ms: i64,
    /// Named counts (`active_allocated`, `active_used`, ... or `active`, `preserved`).
    pub counts: Vec<(String, u64)>,
}

/// The bounded `status` label of `backup_jobs_total`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobStatus {
    Success,
    WithErrors,
    Failed,
    Cancelled,
    /// A final status the exporter does not know.
    Other,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Success => "success",
            JobStatus::WithErrors => "with_errors",
            JobStatus::Failed => "failed",
            JobStatus::Cancelled => "cancelled",
            JobStatus::Other => "other",
        }
    }

    /// Classifies a Druva status text; `None` while the job is still running.
    pub fn classify(text: &str, ended: bool) -> Option<JobStatus> {
        let text = text.to_ascii_lowercase();
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
        .any(|w| text.contains(w))
        {
            return None;
        }
        Some(if text.contains("with error") {
            JobStatus::WithErrors
        } else if text.contains("fail") {
            JobStatus::Failed
        } else if text.contains("cancel") {
            JobStatus::Cancelled
        } else if text.contains("success") || text == "backed up" || text == "restored" {
            JobStatus::Success
        } else if ended {
            JobStatus::Other
        } else {
            return None;
        })
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Job {
    pub id: u64,
    pub workload: String,
    pub operation: Operation,
    /// `None` while the job runs.
    pub status: Option<JobStatus>,
    pub bytes: u64,
    pub updated_ms: i64,
}

/// A decoded row.
#[derive(Debug, Clone, PartialEq)]
pub enum Parsed {
    Resource { key: String, resource: Resource },
    ResourceDeleted { key: String },
    Alert { id: u64, alert: Alert },
    AlertDeleted { id: u64 },
    Storage(WorkloadStorage),
    License(PeriodCounts),
    Users(PeriodCounts),
    Job(Job),
}

fn text(value: &Scalar) -> Result<String, SkipReason> {
    Ok(value
        .as_text()?
        .map(|t| t.trim().to_string())
        .unwrap_or_default())
}

fn required_text(value: &Scalar) -> Result<String, SkipReason> {
    let value = text(value)?;
    if value.is_empty() {
        Err(SkipReason::MissingField)
    } else {
        Ok(value)
    }
}

fn count(value: &Scalar) -> Result<u64, SkipReason> {
    Ok(value.as_u64()?.unwrap_or(0))
}

fn deleted(record: &Record) -> Result<bool, SkipReason> {
    Ok(record
        .either(&["isDeleted", "isdeleted"])
        .as_bool()?
        .unwrap_or(false))
}

/// `backupFrequency` is in minutes; 0 means never.
fn interval(value: &Scalar) -> Result<Option<u64>, SkipReason> {
    value
        .as_u64()?
        .filter(|m| *m > 0)
        .map(|m| {
            m.checked_mul(60)
                .filter(|s| *s <= i64::MAX as u64)
                .ok_or(SkipReason::InvalidValue)
        })
        .transpose()
}

impl Report {
    /// Decodes and validates one row of this report.
    pub fn parse(&self, record: &Record) -> Result<Parsed, SkipReason> {
        match self.id {
            "m365StorageConsumption" => Ok(Parsed::Storage(WorkloadStorage {
                workload: required_text(record.field("workloadName"))?,
                enabled: count(record.field("enabled"))?,
                enabled_bytes: count(record.field("enabledBackupData"))?,
                disabled: count(record.field("disabled"))?,
                disabled_bytes: count(record.field("disabledBackupData"))?,
            })),
            "m365LicenseUsage" => Ok(Parsed::License(period(
                record,
                &[
                    ("active_allocated", "totalActiveLicense"),
                    ("active_used", "activeLicenseUsed"),
                    ("preserved_allocated", "totalPreservedLicense"),
                    ("preserved_used", "preservedLicenseUsed"),
                ],
            )?)),
            "m365UserCountAndStatus" => Ok(Parsed::Users(period(
                record,
                &[
                    ("active", "totalUsers"),
                    ("preserved", "totalPreservedUsers"),
                ],
            )?)),
            "m365Alerts" => {
                let id = record
                    .field("alertId")
                    .as_u64()?
                    .ok_or(SkipReason::MissingField)?;
                if deleted(record)? {
                    return Ok(Parsed::AlertDeleted { id });
                }
                Ok(Parsed::Alert {
                    id,
                    alert: Alert {
                        severity: required_text(record.field("severity"))?.to_ascii_lowercase(),
                        active: record.field("isActive").as_bool()?.unwrap_or(false),
                    },
                })
            }
            _ if self.kind == Kind::Activity => self.parse_job(record).map(Parsed::Job),
            _ => self.parse_resource(record),
        }
    }

    fn parse_resource(&self, record: &Record) -> Result<Parsed, SkipReason> {
        let (workload, id, name) = match self.id {
            "m365SharePointSiteDiscovery" => (
                "SharePoint".to_string(),
                required_text(record.field("siteDbId"))?,
                text(record.field("siteName"))?,
            ),
            "m365TeamsDiscovery" => (
                "Teams".to_string(),
                required_text(record.field("teamDbId"))?,
                text(record.field("teamName"))?,
            ),
            "m365GroupsDiscovery" => (
                "Groups".to_string(),
                required_text(record.field("groupDbId"))?,
                text(record.field("groupName"))?,
            ),
            _ => (
                required_text(record.field("workloadType"))?,
                required_text(record.field("userEmail"))?,
                text(record.field("userName"))?,
            ),
        };
        // One user has a row per workload; sites, teams and groups one row each.
        let key = format!("{workload}\u{0}{id}");
        if deleted(record)? {
            return Ok(Parsed::ResourceDeleted { key });
        }
        let timestamp = |names: &[&str]| {
            record
                .either(names)
                .as_timestamp_ms()
                .map_err(SkipReason::from)
        };
        let status = text(record.field("lastBackupStatus"))?.to_ascii_lowercase();
        Ok(Parsed::Resource {
            key,
            resource: Resource {
                workload,
                id,
                name,
                added_ms: timestamp(&["addedOn"])?,
                last_success_ms: timestamp(&["lastSuccessfulbackup", "lastSuccessfulBackup"])?,
                last_attempt_ms: timestamp(&["lastAttemptedBackup", "lastBackupAttempted"])?,
                interval_seconds: interval(record.field("backupFrequency"))?,
                unscheduled: record.field("backupFrequency").as_u64()? == Some(0),
                enabled: match text(record.field("appStatus"))?
                    .to_ascii_lowercase()
                    .as_str()
                {
                    "enabled" => Some(true),
                    "disabled" => Some(false),
                    _ => None,
                },
                archived: text(record.field("teamState"))?.eq_ignore_ascii_case("archived"),
                bytes: record.field("totalBackupData").as_u64()?,
                last_failed: status.contains("fail") || status.contains("cancel"),
            },
        })
    }

    fn parse_job(&self, record: &Record) -> Result<Job, SkipReason> {
        let operation = self.operation.expect("activity reports have an operation");
        let id = record
            .field("jobId")
            .as_u64()?
            .ok_or(SkipReason::MissingField)?;
        let workload = match self.workload {
            Some(workload) => workload.to_string(),
            None => required_text(record.field("workloadType"))?,
        };
        let (status, bytes) = match operation {
            Operation::Backup => ("backupStatus", "snapshotSize"),
            Operation::Restore => ("restoreStatus", "restoreSize"),
        };
        let status = required_text(record.field(status))?;
        let ended = record.field("endTime").as_timestamp_ms()?;
        record
            .either(&["startTime", "starTtime"])
            .as_timestamp_ms()?;
        let updated_ms = record
            .field("lastUpdatedTime")
            .as_timestamp_ms()?
            .or(ended)
            .ok_or(SkipReason::MissingField)?;
        Ok(Job {
            id,
            workload,
            operation,
            status: JobStatus::classify(&status, ended.is_some()),
            bytes: count(record.field(bytes))?,
            updated_ms,
        })
    }
}

fn period(record: &Record, counts: &[(&str, &str)]) -> Result<PeriodCounts, SkipReason> {
    let kind = required_text(record.field("period"))?.to_ascii_lowercase();
    let start_ms = record
        .field("startDate")
        .as_timestamp_ms()?
        .ok_or(SkipReason::MissingField)?;
    Ok(PeriodCounts {
        monthly: kind == "month",
        start_ms,
        counts: counts
            .iter()
            .map(|(name, field)| Ok((name.to_string(), count(record.field(field))?)))
            .collect::<Result<_, SkipReason>>()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::record::Row;
    use serde::de::DeserializeSeed;

    fn parse(report: &str, json: &str) -> Result<Parsed, SkipReason> {
        let report = find(report).unwrap();
        let json: &'static str = Box::leak(json.to_string().into_boxed_str());
        let mut de = serde_json::Deserializer::from_str(json);
        match report.seed().deserialize(&mut de).unwrap() {
            Row::Record(r) => report.parse(&r),
            Row::NotAnObject => Err(SkipReason::NotAnObject),
        }
    }

    #[test]
    fn backup_frequency_beyond_the_range_of_seconds_is_invalid() {
        assert_eq!(interval(&Scalar::Int(1440)), Ok(Some(86_400)));
        assert_eq!(interval(&Scalar::Int(0)), Ok(None));
        assert_eq!(
            interval(&Scalar::Int(i64::MAX / 59)),
            Err(SkipReason::InvalidValue)
        );
        assert_eq!(
            interval(&Scalar::UInt(u64::MAX / 60)),
            Err(SkipReason::InvalidValue)
        );
    }

    // Each sample is the row of the report's sample response in Druva's documentation.

    #[test]
    fn sharepoint_site_discovery_sample() {
        let row = parse("m365SharePointSiteDiscovery", r#"{"addedOn":"2024-08-08T14:05:50.000Z","appStatus":"Disabled","backupFrequency":720,"errorDetailsNew":null,"errorDetailsOld":"-","geolocation":"FRA (France)","isDeleted":0,"lastBackupAttempted":"2024-08-29T05:36:43.000Z","lastBackupStatus":"Backed Up Successfully","lastSuccessfulBackup":"2024-08-29T05:36:43.000Z","lastUpdatedTime":"2024-08-29T11:59:14.000Z","retention":"8D, 5W, 13M","siteDbId":131432,"siteName":"007 - pvt-channel-new","siteType":"MS Teams Private Channel Site","siteURL":"","storageRegion":"us-east-1","totalBackupData":482739}"#).unwrap();
        let Parsed::Resource { key, resource } = row else {
            panic!("{row:?}")
        };
        assert_eq!(key, "SharePoint\u{0}131432");
        assert_eq!(resource.name, "007 - pvt-channel-new");
        assert_eq!(resource.interval_seconds, Some(43_200));
        assert_eq!(resource.last_success_ms, Some(1_724_909_803_000));
        assert_eq!(resource.last_attempt_ms, Some(1_724_909_803_000));
        assert_eq!(resource.bytes, Some(482_739));
        assert!(!resource.last_failed);
    }

    #[test]
    fn teams_discovery_sample_never_backed_up() {
        let row = parse("m365TeamsDiscovery", r#"{"addedOn":"2024-07-26T11:56:29.000Z","appStatus":"Enabled","backupFrequency":1440,"isDeleted":0,"lastBackupAttempted":null,"lastBackupStatus":"Never Backed Up","lastSuccessfulBackup":null,"lastUpdatedTime":"2024-09-02T00:00:23.000Z","privacy":"Public","privateChannelCount":1,"retention":"7D, 4W, 12M","sharedChannelCount":0,"statusDetails":"-","storageRegion":"us-east-1","teamDbId":12805,"teamName":"¡¢£¤¥µ¶ÝÞß¿-उत्तम-!$pc2","teamState":"Active","totalBackupData":54608032}"#).unwrap();
        let Parsed::Resource { resource, .. } = row else {
            panic!()
        };
        assert_eq!(resource.workload, "Teams");
        assert_eq!(resource.id, "12805");
        assert_eq!(resource.name, "¡¢£¤¥µ¶ÝÞß¿-उत्तम-!$pc2");
        assert_eq!(resource.last_success_ms, None);
        assert_eq!(resource.added_ms, Some(1_721_994_989_000));
        assert_eq!(resource.interval_seconds, Some(86_400));
    }

    #[test]
    fn groups_discovery_sample_and_deleted_spellings() {
        let sample = r#"{"addedOn":"2024-07-26T11:56:04.000Z","appStatus":"Enabled","backupFrequency":1440,"groupDbId":85279,"groupEmail":"grp@example.com","groupName":"Test_GRP_7","groupType":"Microsoft 365","isDeleted":0,"lastBackupAttempted":"2024-08-28T07:29:43.000Z","lastBackupStatus":"Backed Up Successfully","lastSuccessfulBackup":"2024-08-28T07:29:43.000Z","lastUpdatedTime":"2024-09-01T14:36:07.000Z","plannerEnabled":"Enabled","retention":"7D, 4W, 12M","statusDetails":"-","storageRegion":"us-east-1","teamsEnabled":"Enabled","totalBackupData":1053228}"#;
        assert!(matches!(
            parse("m365GroupsDiscovery", sample),
            Ok(Parsed::Resource { .. })
        ));
        let deleted = sample.replace(r#""isDeleted":0"#, r#""isdeleted":1"#);
        assert_eq!(
            parse("m365GroupsDiscovery", &deleted),
            Ok(Parsed::ResourceDeleted {
                key: "Groups\u{0}85279".into()
            })
        );
    }

    #[test]
    fn user_workload_sample_with_lower_case_b() {
        let row = parse("m365UserWorkload", r#"{"addedOn":"2024-05-24T14:19:54.000Z","appStatus":"Enabled","lastAttemptedBackup":"2024-09-01T18:10:28.000Z","lastBackupStatus":"Backed Up Successfully","lastSuccessfulbackup":"2024-09-01T18:10:28.000Z","lastUpdatedTime":"2024-09-02T09:35:20.000Z","preferredDataLocation":"-","profileId":55,"profileName":"Default","statusDetails":null,"storageId":1000021,"storageName":"x_us-east-1","totalBackupData":1720261,"userEmail":"arfa@example.com","userName":"Arfa_DO_NOT_DELETE","userPrincipalName":"arfa@example.com","workloadType":"OneDrive"}"#).unwrap();
        let Parsed::Resource { key, resource } = row else {
            panic!()
        };
        assert_eq!(key, "OneDrive\u{0}arfa@example.com");
        assert_eq!(resource.name, "Arfa_DO_NOT_DELETE");
        assert_eq!(resource.last_success_ms, Some(1_725_214_228_000));
        assert_eq!(resource.interval_seconds, None);
    }

    #[test]
    fn alert_sample() {
        let sample = r#"{"alertDetails":"Google Shared Drives Backup Failed","alertId":4574,"entity":"09Oct","firstOccurrence":"2024-08-20T05:24:12.000Z","isActive":"No","isDeleted":1,"lastUpdatedTime":"2024-07-17T16:22:49.000Z","latestOccurrence":"2024-08-28T07:23:07.000Z","severity":"Warning"}"#;
        assert_eq!(
            parse("m365Alerts", sample),
            Ok(Parsed::AlertDeleted { id: 4574 })
        );
        let active = sample
            .replace(r#""isDeleted":1"#, r#""isDeleted":0"#)
            .replace(r#""isActive":"No""#, r#""isActive":"Yes""#);
        assert_eq!(
            parse("m365Alerts", &active),
            Ok(Parsed::Alert {
                id: 4574,
                alert: Alert {
                    severity: "warning".into(),
                    active: true
                }
            })
        );
    }

    #[test]
    fn totals_samples() {
        assert_eq!(
            parse(
                "m365StorageConsumption",
                r#"{"disabled":18,"disabledBackupData":1136092778,"enabled":441,"enabledBackupData":17248458766,"resourceCount":459,"totalBackupData":18384551544,"workloadName":"SharePoint"}"#
            ),
            Ok(Parsed::Storage(WorkloadStorage {
                workload: "SharePoint".into(),
                enabled: 441,
                enabled_bytes: 17_248_458_766,
                disabled: 18,
                disabled_bytes: 1_136_092_778
            }))
        );
        let Ok(Parsed::License(license)) = parse(
            "m365LicenseUsage",
            r#"{"activeLicenseUsed":3,"endDate":"2024-03-31T23:59:59.000Z","period":"month","preservedLicenseUsed":0,"startDate":"2024-03-01T00:00:00.000Z","totalActiveLicense":100,"totalPreservedLicense":20,"usersAdded":17,"usersDeleted":1}"#,
        ) else {
            panic!()
        };
        assert!(license.monthly);
        assert_eq!(license.counts[0], ("active_allocated".into(), 100));
        assert_eq!(license.counts[1], ("active_used".into(), 3));
        let Ok(Parsed::Users(users)) = parse(
            "m365UserCountAndStatus",
            r#"{"endDate":"2024-03-31T23:59:59.000Z","period":"month","startDate":"2024-03-01T00:00:00.000Z","totalPreservedUsers":0,"totalUsers":16,"userAdded":17,"usersDeleted":1,"usersPreserved":0}"#,
        ) else {
            panic!()
        };
        assert_eq!(
            users.counts,
            vec![("active".into(), 16), ("preserved".into(), 0)]
        );
    }

    #[test]
    fn activity_samples_with_misspelled_fields() {
        let job = |report, json| match parse(report, json) {
            Ok(Parsed::Job(job)) => job,
            other => panic!("{other:?}"),
        };
        let groups = job(
            "m365GroupsBackupActivity",
            r#"{"administrator":"Rohit Patil","appStatus":"Disabled","backupStatus":"Backed Up Successfully","endTime":"2024-03-24T09:31:26.000Z","filesBackedUp":0,"filesMissed":0,"groupEmail":"g@example.com","groupName":"Apoorav Team Site","groupType":"Microsoft 365","jobId":1601,"lastUpdatedTime":"2024-03-24T09:31:26.000Z","snapshotSize":947937271,"startTime":"2024-03-24T07:40:11.000Z"}"#,
        );
        assert_eq!(
            (
                groups.id,
                groups.workload.as_str(),
                groups.status,
                groups.bytes
            ),
            (1601, "Groups", Some(JobStatus::Success), 947_937_271)
        );
        let sharepoint = job(
            "m365SharePointBackupActivity",
            r#"{"administrator":"Rohit Patil","appStatus":"Disabled","backupStatus":"Backup Cancelled","endTime":"2024-08-26T09:49:04.000Z","filesBackedUp":0,"filesMissed":0,"jobId":79831,"lastUpdatedTime":"2024-08-26T09:49:04.000Z","siteCollectionUrl":"","siteName":"25104-auto-team-different","snapshotSize":0,"starTtime":"2024-03-08T09:39:09.000Z","statusDetails":"-"}"#,
        );
        assert_eq!(sharepoint.status, Some(JobStatus::Cancelled));
        let folder = job(
            "m365PublicFolderRestoreActivity",
            r#"{"administrator":"Rohit Patil","endTime":"2024-08-23T11:15:19.000Z","filesMissed":0,"filesreStored":0,"jobId":131268,"lastUpdatedTime":"2024-08-23T11:15:19.000Z","publicFolderName":"max_PF","publicFolderPath":"\\\\max_PF","restoreLocation":"-","restoreOption":"-","restoreSize":0,"restoreStatus":"Restore Successful","snapshotTimestamp":"2024-08-23T11:08:56.000Z","startTime":"2024-08-23T11:14:09.000Z"}"#,
        );
        assert_eq!(
            (folder.workload.as_str(), folder.operation),
            ("Public Folders", Operation::Restore)
        );
        let teams = job(
            "m365TeamsRestoreActivity",
            r#"{"activityType":"Team Conversation","administrator":"Rohit Patil","channelsRestored":0,"endTime":"2024-03-06T12:26:51.000Z","filesmissed":0,"jobId":52755,"lastUpdatedTime":"2024-03-06T12:26:51.000Z","privacy":"Public","restoreLocation":"-","restoreOption":"-","restoreSize":9733,"restoreStatus":"Restore Successful","snapshotTimestamp":"2024-03-06T11:34:38.000Z","startTime":"2024-03-06T12:26:30.000Z","teamName":"79484-auto-team-☺"}"#,
        );
        assert_eq!(teams.bytes, 9733);
        let user = job(
            "m365UserRestoreActivity",
            r#"{"endTime":"2024-07-31T10:44:04.000Z","itemsMissed":0,"itemsRestored":117,"jobId":48,"lastUpdatedTime":"2024-07-31T10:44:05.000Z","profileId":55,"profileName":"Profile_pranali","restoreLocation":"Same user account","restoreMode":"Admin","restoreSize":130867297,"restoreStatus":"Restore Successful","startTime":"2024-07-31T10:43:31.000Z","userEmail":"a@example.com","userName":"abhinandan singh","workloadType":"OneDrive"}"#,
        );
        assert_eq!(user.workload, "OneDrive");
        let sharepoint_restore = job(
            "m365SharePointRestoreActivity",
            r#"{"administrator":"Rohit Patil","endTime":"2024-08-26T09:49:04.000Z","filesMissed":0,"filesRestored":0,"jobId":79546,"lastUpdatedTime":"2024-08-26T09:49:04.000Z","restoreLocation":"rp_test","restoreOption":"As a New Site","restoreSize":0,"restoreStatus":"Restored With Errors","siteName":"Druva Data Solutions Pvt. Ltd.","snapshotTimestamp":"2024-03-05T06:12:05.000Z","startTime":"2024-03-06T14:23:27.000Z","statusDetails":"-"}"#,
        );
        assert_eq!(sharepoint_restore.status, Some(JobStatus::WithErrors));
        let groups_restore = job(
            "m365GroupsRestoreActivity",
            r#"{"activityType":"Group","administrator":"Rohit Patil","endTime":"2024-04-23T14:41:28.000Z","filesMissed":0,"filesRestored":0,"groupEmail":"g@example.com","groupName":"25104-auto-team-☺","groupType":"Microsoft 365","jobId":2701,"lastUpdatedTime":"2024-04-23T14:41:28.000Z","restoreSize":1043665,"restoreStatus":"Restore Successful","snapshotTimestamp":"2024-03-11T09:06:58.000Z","startTime":"2024-04-23T14:05:15.000Z"}"#,
        );
        assert_eq!(
            (
                groups_restore.id,
                groups_restore.bytes,
                groups_restore.status
            ),
            (2701, 1_043_665, Some(JobStatus::Success))
        );
        let folder_backup = job(
            "m365PublicFolderBackupActivity",
            r#"{"administrator":"Rohit Patil","appStatus":"Enabled","backupStatus":"Backup Failed","endTime":"2024-08-23T10:09:14.000Z","filesBackedUp":0,"filesMissed":0,"jobId":131186,"lastUpdatedTime":"2024-08-23T10:09:14.000Z","publicFolderName":"public_folder_mail_enabled_auto_DND","publicFolderPath":"\\\\public_folder_mail_enabled_auto_DND","snapshotSize":0,"startTime":"2024-08-23T10:09:11.000Z"}"#,
        );
        assert_eq!(
            (folder_backup.workload.as_str(), folder_backup.status),
            ("Public Folders", Some(JobStatus::Failed))
        );
        let teams_backup = job(
            "m365TeamsBackupActivity",
            r#"{"activityType":"Team Metadata","administrator":"Rohit Patil","appStatus":"Disabled","backupStatus":"Backed Up Successfully","endTime":"2024-03-01T11:50:29.000Z","filesBackedUp":0,"filesMissed":0,"jobId":51255,"lastUpdatedTime":"2024-03-01T11:50:29.000Z","numberOfChannels":1,"privacy":"Private","snapshotSize":44497,"startTime":"2024-03-01T11:49:03.000Z","teamName":"Galdiator_Team_Site_DND"}"#,
        );
        assert_eq!(
            (teams_backup.workload.as_str(), teams_backup.bytes),
            ("Teams", 44_497)
        );
    }

    #[test]
    fn job_statuses() {
        assert_eq!(
            JobStatus::classify("Backup Failed", true),
            Some(JobStatus::Failed)
        );
        assert_eq!(
            JobStatus::classify("Backed Up With Errors", true),
            Some(JobStatus::WithErrors)
        );
        assert_eq!(JobStatus::classify("In Progress", false), None);
        assert_eq!(
            JobStatus::classify("Something New", true),
            Some(JobStatus::Other)
        );
        assert_eq!(JobStatus::classify("Something New", false), None);
    }

    #[test]
    fn malformed_rows_are_skipped_with_a_reason() {
        assert_eq!(
            parse("m365Alerts", r#"{"severity":"High"}"#),
            Err(SkipReason::MissingField)
        );
        assert_eq!(
            parse(
                "m365TeamsDiscovery",
                r#"{"teamDbId":1,"lastSuccessfulBackup":"soon"}"#
            ),
            Err(SkipReason::InvalidValue)
        );
        assert_eq!(
            parse(
                "m365UserWorkload",
                r#"{"userEmail":"a@b","workloadType":""}"#
            ),
            Err(SkipReason::MissingField)
        );
        assert_eq!(
            parse(
                "m365GroupsBackupActivity",
                r#"{"jobId":"x","backupStatus":"Backup Failed"}"#
            ),
            Err(SkipReason::InvalidValue)
        );
        assert_eq!(
            parse(
                "m365StorageConsumption",
                r#"{"workloadName":"Teams","enabled":-3}"#
            ),
            Err(SkipReason::InvalidValue)
        );
        assert_eq!(parse("m365Alerts", "[1]"), Err(SkipReason::NotAnObject));
    }
}
