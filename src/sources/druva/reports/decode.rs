//! How each report's rows are decoded. Field names are the wire names of Druva's samples,
//! misspellings included.

use super::{
    Alert, Allocation, Job, JobStatus, Kind, LastBackup, Operation, Outcome, Parsed, PeriodCounts,
    PreservedUser, ProvisionedUser, Report, Resource, WorkloadStorage,
};
use crate::sources::druva::errors;
use crate::sources::druva::state::label_value;
use crate::sources::record::{Record, Scalar};
use crate::sources::{SkipCounts, SkipReason};

fn text(value: &Scalar) -> Result<String, SkipReason> {
    Ok(value
        .as_text()?
        .map(|t| t.trim().to_string())
        .unwrap_or_default())
}

/// A field that identifies the row: without it the row is skipped.
fn required_text(value: &Scalar) -> Result<String, SkipReason> {
    let value = text(value)?;
    if value.is_empty() {
        Err(SkipReason::MissingField)
    } else {
        Ok(value)
    }
}

fn required_id(record: &Record, field: &str) -> Result<u64, SkipReason> {
    record
        .field(field)
        .as_u64()?
        .ok_or(SkipReason::MissingField)
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

/// The optional values of a row: one that cannot be read is left out (`None`, or 0 and ""
/// for counts and texts) and counted in `skipped` by field; the row is kept.
struct Values<'r, 'a> {
    record: &'r Record<'a>,
    skipped: &'r mut SkipCounts,
}

impl Values<'_, '_> {
    fn text(&mut self, field: &str) -> String {
        self.skipped
            .optional(field, text(self.record.field(field)).map(Some))
            .unwrap_or_default()
    }

    fn u64(&mut self, field: &str) -> Option<u64> {
        self.skipped
            .optional(field, self.record.field(field).as_u64())
    }

    fn count(&mut self, field: &str) -> u64 {
        self.u64(field).unwrap_or(0)
    }

    fn bool(&mut self, field: &str) -> Option<bool> {
        self.skipped
            .optional(field, self.record.field(field).as_bool())
    }

    /// The first of `fields` the row has, as a timestamp.
    fn timestamp(&mut self, fields: &[&str]) -> Option<i64> {
        let field = present(self.record, fields).unwrap_or(fields[0]);
        self.skipped
            .optional(field, self.record.field(field).as_timestamp_ms())
    }

    fn deleted(&mut self) -> bool {
        ["isDeleted", "isdeleted"]
            .iter()
            .find_map(|f| self.bool(f))
            .unwrap_or(false)
    }

    fn outcome(&mut self, field: &str) -> Outcome {
        Outcome::classify(&self.text(field))
    }
}

impl Report {
    /// Decodes one row of this report. A row without its identity (a resource's id, an
    /// alert's or job's ID, a workload's name) is skipped with a reason; any other value
    /// that cannot be read is left out of the row and counted in `skipped` by field.
    pub(crate) fn parse(
        &self,
        record: &Record,
        skipped: &mut SkipCounts,
    ) -> Result<Parsed, SkipReason> {
        let mut v = Values { record, skipped };
        match self.id {
            "m365StorageConsumption" => Ok(Parsed::Storage(WorkloadStorage {
                workload: required_text(record.field("workloadName"))?,
                enabled: v.count("enabled"),
                enabled_bytes: v.count("enabledBackupData"),
                disabled: v.count("disabled"),
                disabled_bytes: v.count("disabledBackupData"),
            })),
            "m365LicenseUsage" => Ok(Parsed::License(period(
                &mut v,
                &[
                    ("active_allocated", "totalActiveLicense"),
                    ("active_used", "activeLicenseUsed"),
                    ("preserved_allocated", "totalPreservedLicense"),
                    ("preserved_used", "preservedLicenseUsed"),
                ],
            )?)),
            "m365UserCountAndStatus" => Ok(Parsed::Users(period(
                &mut v,
                &[
                    ("active", "totalUsers"),
                    ("preserved", "totalPreservedUsers"),
                ],
            )?)),
            "m365Alerts" => alert(&mut v),
            "m365UserLastBackupStatus" => last_backup(&mut v),
            "m365UserProvisioning" => provisioned(&mut v),
            "m365PreservedUsersDatasources" => preserved(&mut v),
            _ if self.kind == Kind::Activity => self.parse_job(&mut v).map(Parsed::Job),
            _ => self.parse_resource(&mut v),
        }
    }

    fn parse_resource(&self, v: &mut Values) -> Result<Parsed, SkipReason> {
        let record = v.record;
        let (workload, id, name) = match self.id {
            "m365SharePointSiteDiscovery" => (
                "SharePoint".to_string(),
                required_text(record.field("siteDbId"))?,
                v.text("siteName"),
            ),
            "m365TeamsDiscovery" => (
                "Teams".to_string(),
                required_text(record.field("teamDbId"))?,
                v.text("teamName"),
            ),
            "m365GroupsDiscovery" => (
                "Groups".to_string(),
                required_text(record.field("groupDbId"))?,
                v.text("groupName"),
            ),
            _ => (
                required_text(record.field("workloadType"))?,
                required_text(record.field("userEmail"))?,
                v.text("userName"),
            ),
        };
        // One user has a row per workload; sites, teams and groups one row each.
        let key = format!("{workload}\u{0}{id}");
        if v.deleted() {
            return Ok(Parsed::ResourceDeleted { key });
        }
        let frequency = v
            .skipped
            .optional("backupFrequency", interval(record.field("backupFrequency")));
        let unscheduled =
            frequency.is_none() && record.field("backupFrequency").as_u64() == Ok(Some(0));
        let outcome = v.outcome("lastBackupStatus");
        Ok(Parsed::Resource {
            key,
            resource: Resource {
                workload,
                id,
                name,
                added_ms: v.timestamp(&["addedOn"]),
                last_success_ms: v.timestamp(&["lastSuccessfulbackup", "lastSuccessfulBackup"]),
                last_attempt_ms: v.timestamp(&["lastAttemptedBackup", "lastBackupAttempted"]),
                interval_seconds: frequency,
                unscheduled,
                enabled: match v.text("appStatus").to_ascii_lowercase().as_str() {
                    "enabled" => Some(true),
                    "disabled" => Some(false),
                    _ => None,
                },
                archived: v.text("teamState").eq_ignore_ascii_case("archived"),
                bytes: v.u64("totalBackupData"),
                last_failed: outcome.failed(),
                outcome,
                failure: if outcome.has_errors() {
                    errors::reasons(record, v.skipped)
                } else {
                    Vec::new()
                },
            },
        })
    }

    fn parse_job(&self, v: &mut Values) -> Result<Job, SkipReason> {
        let record = v.record;
        let operation = self.operation.expect("activity reports have an operation");
        let id = required_id(record, "jobId")?;
        let workload = match self.workload {
            Some(workload) => workload.to_string(),
            None => required_text(record.field("workloadType"))?,
        };
        let (status, bytes) = match operation {
            Operation::Backup => ("backupStatus", "snapshotSize"),
            Operation::Restore => ("restoreStatus", "restoreSize"),
        };
        // A job is counted by its status: without one it cannot be.
        let status = required_text(record.field(status))?;
        let ended = v.timestamp(&["endTime"]);
        let updated_ms = v
            .timestamp(&["lastUpdatedTime"])
            .or(ended)
            .ok_or(SkipReason::MissingField)?;
        let missed = present(record, &["filesMissed", "filesmissed", "itemsMissed"])
            .map_or(0, |f| v.count(f));
        // SharePoint's backup report spells it starTtime.
        let started = v.timestamp(&["startTime", "starTtime"]);
        let status = JobStatus::classify(&status, ended.is_some());
        Ok(Job {
            id,
            workload,
            operation,
            bytes: v.count(bytes),
            files_missed: missed,
            updated_ms,
            // A start after the end says nothing of how long it took.
            duration_ms: started
                .zip(ended)
                .map(|(start, end)| end - start)
                .filter(|ms| *ms >= 0),
            reasons: if status.is_some_and(JobStatus::has_errors) {
                errors::reasons(record, v.skipped)
            } else {
                Vec::new()
            },
            status,
        })
    }
}

/// A row of m365Alerts; a deleted alert is one to forget.
fn alert(v: &mut Values) -> Result<Parsed, SkipReason> {
    let id = required_id(v.record, "alertId")?;
    if v.deleted() {
        return Ok(Parsed::AlertDeleted { id });
    }
    Ok(Parsed::Alert {
        id,
        alert: Alert {
            severity: required_text(v.record.field("severity"))?.to_ascii_lowercase(),
            active: v.bool("isActive").unwrap_or(false),
        },
    })
}

/// A row of m365UserLastBackupStatus, with its reasons when it failed or finished with
/// errors.
fn last_backup(v: &mut Values) -> Result<Parsed, SkipReason> {
    let record = v.record;
    let (workload, id) = (
        required_text(record.field("workloadType"))?,
        required_text(record.field("userEmail"))?,
    );
    let outcome = v.outcome("lastBackupStatus");
    Ok(Parsed::LastBackup {
        key: format!("{workload}\u{0}{id}"),
        last: LastBackup {
            name: v.text("userName"),
            failed: outcome.failed(),
            outcome,
            items_backed_up: v.u64("itemsBackedUp"),
            items_missed: v.u64("itemsMissed"),
            bytes: v.u64("lastBackupData"),
            start_ms: v.timestamp(&["startTime"]),
            end_ms: v.timestamp(&["endTime"]),
            failure: if outcome.has_errors() {
                errors::reasons(record, v.skipped)
            } else {
                Vec::new()
            },
            workload,
            id,
        },
    })
}

/// A row of m365UserProvisioning: its words as bounded label values ("-" is none).
fn provisioned(v: &mut Values) -> Result<Parsed, SkipReason> {
    let email = required_text(v.record.field("userEmail"))?;
    let mut word = |field: &str| match v.text(field).as_str() {
        "" | "-" => "none".to_string(),
        text => label_value(text),
    };
    let user = ProvisionedUser {
        status: word("userStatus"),
        license_state: word("m365LicenseState"),
        managed_by: word("managedBy"),
    };
    Ok(Parsed::Provisioned {
        key: email,
        user,
        allocation: Allocation {
            active: v.u64("activeLicenseAllocated"),
            preserved: v.u64("preservedLicenseAllocated"),
            smb: v.u64("smbLicenseAllocated"),
        },
    })
}

/// A row of m365PreservedUsersDatasources.
fn preserved(v: &mut Values) -> Result<Parsed, SkipReason> {
    let email = required_text(v.record.field("userEmail"))?;
    // "-" when Druva will not delete the data.
    let auto_delete_ms = match v.text("autoDeleteOn").as_str() {
        "" | "-" => None,
        _ => v.timestamp(&["autoDeleteOn"]),
    };
    Ok(Parsed::Preserved {
        key: email.clone(),
        user: PreservedUser {
            name: v.text("userName"),
            bytes: v.u64("totalBackupData"),
            auto_delete_ms,
            email,
        },
    })
}

/// The first of `fields` the row has a value for.
fn present<'f>(record: &Record, fields: &[&'f str]) -> Option<&'f str> {
    fields
        .iter()
        .find(|f| *record.field(f) != Scalar::Null)
        .copied()
}

fn period(v: &mut Values, counts: &[(&str, &str)]) -> Result<PeriodCounts, SkipReason> {
    let kind = required_text(v.record.field("period"))?.to_ascii_lowercase();
    let start_ms = v
        .record
        .field("startDate")
        .as_timestamp_ms()?
        .ok_or(SkipReason::MissingField)?;
    Ok(PeriodCounts {
        monthly: kind == "month",
        start_ms,
        counts: counts
            .iter()
            .map(|(name, field)| (name.to_string(), v.count(field)))
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::druva::reports::find;
    use crate::sources::record::Row;
    use serde::de::DeserializeSeed;

    fn parse(report: &str, json: &str) -> Result<Parsed, SkipReason> {
        let report = find(report).unwrap();
        let json: &'static str = Box::leak(json.to_string().into_boxed_str());
        let mut de = serde_json::Deserializer::from_str(json);
        match report.seed().deserialize(&mut de).unwrap() {
            Row::Record(r) => report.parse(&r, &mut SkipCounts::default()),
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
    fn rows_without_an_identity_are_skipped() {
        assert_eq!(
            parse("m365Alerts", r#"{"severity":"High"}"#),
            Err(SkipReason::MissingField)
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
            parse("m365UserProvisioning", r#"{"userStatus":"Active"}"#),
            Err(SkipReason::MissingField)
        );
        assert_eq!(parse("m365Alerts", "[1]"), Err(SkipReason::NotAnObject));
    }

    fn parse_counting(report: &str, json: &str) -> (Parsed, Vec<(String, u64)>) {
        let report = find(report).unwrap();
        let json: &'static str = Box::leak(json.to_string().into_boxed_str());
        let mut de = serde_json::Deserializer::from_str(json);
        let Row::Record(r) = report.seed().deserialize(&mut de).unwrap() else {
            panic!()
        };
        let mut skipped = SkipCounts::default();
        let parsed = report.parse(&r, &mut skipped).unwrap();
        let values = skipped.values().map(|(f, n)| (f.to_string(), n)).collect();
        (parsed, values)
    }

    #[test]
    fn an_unreadable_value_is_dropped_and_counted_and_the_row_kept() {
        let (row, values) = parse_counting(
            "m365TeamsDiscovery",
            r#"{"teamDbId":1,"teamName":"t","lastSuccessfulBackup":"soon","totalBackupData":"lots","backupFrequency":1440}"#,
        );
        let Parsed::Resource { resource, .. } = row else {
            panic!()
        };
        assert_eq!(resource.last_success_ms, None);
        assert_eq!(resource.bytes, None);
        assert_eq!(resource.interval_seconds, Some(86_400));
        assert_eq!(
            values,
            [
                ("lastSuccessfulBackup".into(), 1),
                ("totalBackupData".into(), 1)
            ]
        );
        let (row, values) = parse_counting(
            "m365StorageConsumption",
            r#"{"workloadName":"Teams","enabled":-3,"enabledBackupData":7}"#,
        );
        let Parsed::Storage(storage) = row else {
            panic!()
        };
        assert_eq!((storage.enabled, storage.enabled_bytes), (0, 7));
        assert_eq!(values, [("enabled".into(), 1)]);
    }

    #[test]
    fn failure_reasons_only_while_failing() {
        let site = r#"{"siteDbId":7,"siteName":"s","lastBackupStatus":"Backup Failed","errorDetailsNew":"100010016,100000001","errorDetailsOld":"EUSERNOTFOUND"}"#;
        let Ok(Parsed::Resource { resource, .. }) = parse("m365SharePointSiteDiscovery", site)
        else {
            panic!()
        };
        let codes: Vec<&str> = resource.failure.iter().map(|f| f.code.as_str()).collect();
        assert_eq!(codes, ["100000001", "100010016"]);
        assert_eq!(resource.failure[1].reason, "Site Not Found");
        let fine = site.replace("Backup Failed", "Backed Up Successfully");
        let Ok(Parsed::Resource { resource, .. }) = parse("m365SharePointSiteDiscovery", &fine)
        else {
            panic!()
        };
        assert!(resource.failure.is_empty());
    }

    #[test]
    fn user_last_backup_status_sample() {
        let row = parse("m365UserLastBackupStatus", r#"{"appStatus":"Enabled","endTime":"2024-07-25T07:43:49.000Z","itemsBackedUp":0,"itemsMissed":3,"lastBackupData":0,"lastBackupStatus":"Backup Failed","lastUpdatedTime":"2024-09-01T18:08:44.000Z","profileId":55,"profileName":"Default","startTime":"2024-07-25T07:41:53.000Z","statusDetails":"EINTERNAL","totalBackupData":null,"userEmail":"arfa@example.com","userName":"Arfa_DO_NOT_DELETE","workloadType":"Exchange Online"}"#).unwrap();
        let Parsed::LastBackup { key, last } = row else {
            panic!()
        };
        assert_eq!(key, "Exchange Online\u{0}arfa@example.com");
        assert!(last.failed);
        assert_eq!(
            (last.items_backed_up, last.items_missed),
            (Some(0), Some(3))
        );
        assert_eq!(last.start_ms, Some(1_721_893_313_000));
        assert_eq!(last.end_ms, Some(1_721_893_429_000));
        assert_eq!(last.failure[0].code, "EINTERNAL");
    }

    #[test]
    fn user_provisioning_sample() {
        let row = parse("m365UserProvisioning", r#"{"activeLicenseAllocated":100,"createdOn":"2024-07-10T14:18:18.000Z","customAttributeName":"-","customAttributeValue":"-","lastUpdatedTime":"2024-08-02T10:24:09.000Z","m365LicenseState":"-","managedBy":"Manually","mapping":"Manual","preservedLicenseAllocated":20,"profileId":55,"profileName":"Default","smbLicenseAllocated":55,"smbLicenseState":"No","totalBackupData":0,"userEmail":"admin@example.com","userName":"arfaAdmin7102 arfaAdmin7102","userStatus":"Active"}"#).unwrap();
        assert_eq!(
            row,
            Parsed::Provisioned {
                key: "admin@example.com".into(),
                user: ProvisionedUser {
                    status: "active".into(),
                    license_state: "none".into(),
                    managed_by: "manually".into()
                },
                allocation: Allocation {
                    active: Some(100),
                    preserved: Some(20),
                    smb: Some(55)
                }
            }
        );
    }

    #[test]
    fn preserved_users_sample_with_and_without_auto_delete() {
        let sample = r#"{"autoDeleteOn":"-","lastUpdatedTime":"2024-08-01T04:34:05.000Z","m365LicenseState":"Preserved","mode":"Manual","preserveLicenseAllocated":20,"preservedOn":"2024-08-01T04:34:05.000Z","profileId":55,"profileName":"Default","smbLicenseState":"No","totalBackupData":0,"userEmail":"abhi@example.com","userName":"abhi singh"}"#;
        let Ok(Parsed::Preserved { key, user }) = parse("m365PreservedUsersDatasources", sample)
        else {
            panic!()
        };
        assert_eq!(key, "abhi@example.com");
        assert_eq!((user.auto_delete_ms, user.bytes), (None, Some(0)));
        let dated = sample.replace(
            r#""autoDeleteOn":"-""#,
            r#""autoDeleteOn":"2024-11-01T04:34:05.000Z""#,
        );
        let Ok(Parsed::Preserved { user, .. }) = parse("m365PreservedUsersDatasources", &dated)
        else {
            panic!()
        };
        assert_eq!(user.auto_delete_ms, Some(1_730_435_645_000));
    }
}
