//! Property tests: any JSON in any field of a row of any Druva report never panics and never
//! loses the other rows of the page; a row that cannot be used is counted.

use proptest::prelude::*;
use serde_json::{Map, json};

use super::reports::{self, Parsed};
use crate::sources::SkipCounts;
use crate::sources::arbitrary_json::{any_json, fuzz_field};
use crate::sources::record::{Row, decode_page};

/// A valid row of each Druva report (the documentation's samples).
fn druva_rows() -> Vec<(&'static str, Map<String, serde_json::Value>)> {
    let samples = [
        (
            "m365SharePointSiteDiscovery",
            json!({"addedOn":"2024-08-08T14:05:50.000Z","appStatus":"Disabled","backupFrequency":720,"isDeleted":0,"lastBackupAttempted":"2024-08-29T05:36:43.000Z","lastBackupStatus":"Backed Up Successfully","lastSuccessfulBackup":"2024-08-29T05:36:43.000Z","lastUpdatedTime":"2024-08-29T11:59:14.000Z","siteDbId":131432,"siteName":"007","totalBackupData":482739}),
        ),
        (
            "m365TeamsDiscovery",
            json!({"addedOn":"2024-07-26T11:56:29.000Z","backupFrequency":1440,"isDeleted":0,"lastBackupAttempted":null,"lastBackupStatus":"Never Backed Up","lastSuccessfulBackup":null,"lastUpdatedTime":"2024-09-02T00:00:23.000Z","teamDbId":12805,"teamName":"t","totalBackupData":54608032}),
        ),
        (
            "m365GroupsDiscovery",
            json!({"addedOn":"2024-07-26T11:56:04.000Z","backupFrequency":1440,"groupDbId":85279,"groupName":"g","isDeleted":0,"lastBackupAttempted":"2024-08-28T07:29:43.000Z","lastBackupStatus":"Backed Up Successfully","lastSuccessfulBackup":"2024-08-28T07:29:43.000Z","lastUpdatedTime":"2024-09-01T14:36:07.000Z","totalBackupData":1053228}),
        ),
        (
            "m365UserWorkload",
            json!({"addedOn":"2024-05-24T14:19:54.000Z","lastAttemptedBackup":"2024-09-01T18:10:28.000Z","lastBackupStatus":"Backed Up Successfully","lastSuccessfulbackup":"2024-09-01T18:10:28.000Z","lastUpdatedTime":"2024-09-02T09:35:20.000Z","totalBackupData":1720261,"userEmail":"a@example.com","userName":"A","workloadType":"OneDrive"}),
        ),
        (
            "m365UserLastBackupStatus",
            json!({"endTime":"2024-07-25T07:43:49.000Z","itemsBackedUp":0,"itemsMissed":3,"lastBackupData":0,"lastBackupStatus":"Backup Failed","lastUpdatedTime":"2024-09-01T18:08:44.000Z","startTime":"2024-07-25T07:41:53.000Z","statusDetails":"EINTERNAL","userEmail":"a@example.com","userName":"A","workloadType":"Exchange Online"}),
        ),
        (
            "m365UserProvisioning",
            json!({"activeLicenseAllocated":100,"lastUpdatedTime":"2024-08-02T10:24:09.000Z","m365LicenseState":"-","managedBy":"Manually","preservedLicenseAllocated":20,"smbLicenseAllocated":55,"userEmail":"a@example.com","userStatus":"Active"}),
        ),
        (
            "m365PreservedUsersDatasources",
            json!({"autoDeleteOn":"2024-11-01T04:34:05.000Z","lastUpdatedTime":"2024-08-01T04:34:05.000Z","totalBackupData":0,"userEmail":"a@example.com","userName":"A"}),
        ),
        (
            "m365Alerts",
            json!({"alertId":4574,"isActive":"Yes","isDeleted":0,"lastUpdatedTime":"2024-07-17T16:22:49.000Z","severity":"Warning"}),
        ),
        (
            "m365StorageConsumption",
            json!({"disabled":18,"disabledBackupData":1136092778,"enabled":441,"enabledBackupData":17248458766_u64,"resourceCount":459,"totalBackupData":18384551544_u64,"workloadName":"SharePoint"}),
        ),
        (
            "m365LicenseUsage",
            json!({"activeLicenseUsed":3,"endDate":"2024-03-31T23:59:59.000Z","period":"month","preservedLicenseUsed":0,"startDate":"2024-03-01T00:00:00.000Z","totalActiveLicense":100,"totalPreservedLicense":20}),
        ),
        (
            "m365UserCountAndStatus",
            json!({"endDate":"2024-03-31T23:59:59.000Z","period":"month","startDate":"2024-03-01T00:00:00.000Z","totalPreservedUsers":0,"totalUsers":16}),
        ),
        (
            "m365GroupsBackupActivity",
            json!({"backupStatus":"Backed Up Successfully","endTime":"2024-03-24T09:31:26.000Z","jobId":1601,"lastUpdatedTime":"2024-03-24T09:31:26.000Z","snapshotSize":947937271,"startTime":"2024-03-24T07:40:11.000Z"}),
        ),
        (
            "m365UserRestoreActivity",
            json!({"endTime":"2024-07-31T10:44:04.000Z","jobId":48,"lastUpdatedTime":"2024-07-31T10:44:05.000Z","restoreSize":130867297,"restoreStatus":"Restore Successful","startTime":"2024-07-31T10:43:31.000Z","workloadType":"OneDrive"}),
        ),
        (
            "m365SharePointBackupActivity",
            json!({"backupStatus":"Backup Cancelled","endTime":"2024-08-26T09:49:04.000Z","jobId":79831,"lastUpdatedTime":"2024-08-26T09:49:04.000Z","snapshotSize":0,"starTtime":"2024-03-08T09:39:09.000Z"}),
        ),
    ];
    samples
        .into_iter()
        .map(|(id, v)| (id, v.as_object().unwrap().clone()))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// The same for every Druva report.
    #[test]
    fn druva_rows_with_any_value_in_any_field(report_pick in 0usize..14, pick in 0usize..32, value in any_json(), junk_row in any_json()) {
        let rows = druva_rows();
        let (id, valid) = rows[report_pick % rows.len()].clone();
        let report = reports::find(id).unwrap();
        let page = json!({"data": [valid.clone(), fuzz_field(valid.clone(), pick, value), valid, junk_row], "nextPageToken": ""}).to_string();
        let mut outcomes: Vec<Result<Parsed, _>> = Vec::new();
        let info = decode_page(page.as_bytes(), "data", report.seed(), &[], |row| match row {
            Row::Record(record) => outcomes.push(report.parse(&record, &mut SkipCounts::default())),
            Row::NotAnObject => outcomes.push(Err(crate::sources::SkipReason::NotAnObject)),
        }).unwrap();
        prop_assert_eq!(info.rows, 4);
        prop_assert_eq!(outcomes.len(), 4);
        prop_assert!(outcomes[0].is_ok() && outcomes[2].is_ok(), "{}: valid rows are used", id);
    }
}
