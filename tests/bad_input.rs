//! Property tests: arbitrary JSON in any field of any row type never panics, never loses
//! the other rows of the page, and a row that cannot be used is counted; label values of
//! any text survive escaping, read back identical and pass `promtool check metrics`.

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use backup_exporter::druva_reports::{self as reports, Parsed};
use backup_exporter::{
    EstateBuilder, ExpositionBuilder, Format, Row, SkipCounts, Value, code42_families as families,
    decode_page, parse_page,
};
use common::Metrics;
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use serde_json::{Map, json};

/// Any JSON value, nested a few levels, with the strings vendors' parsers trip on.
fn any_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::String),
        prop_oneof![
            Just("2020-10-12T20:17:52.084Z"),
            Just("Apr 13, 2015 10:22:33 AM"),
            Just("99.7"),
            Just("-1"),
            Just("1e400"),
            Just("null"),
            Just("true"),
            Just("OK, CriticalBackupAlert"),
            Just(""),
        ]
        .prop_map(|s| serde_json::Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

fn code42_row(device: &str) -> Map<String, serde_json::Value> {
    let row = json!({"archiveGuid": format!("g{device}"), "orgUid": "915323705751579872", "orgName": "Accounting", "orgExtRef": null,
        "userUid": "938960273869958201", "username": "jdoe@example.com", "email": "jdoe@example.com", "userExtRef": "1001",
        "deviceUid": device, "deviceName": "JDOE-MBP", "deviceOsHostname": "jdoe-mbp", "deviceExtRef": null,
        "destinationUid": "632540230984925185", "destinationName": "Code42 Cloud USA West", "serverUid": "836476656572622471",
        "serverName": "cif-sea", "version": "7.0.3.55", "status": "Active", "userStatus": "Active", "alertStates": "OK", "os": "mac",
        "osVersion": "10.15.7", "address": "192.168.1.10:4242", "remoteAddress": "73.53.78.104", "creationDate": "2020-05-14T13:03:20.302Z",
        "selectedBytes": "1658317953", "backupCompletePercentage": "100.0", "archiveBytes": "1745757673", "coldStorage": "false",
        "lastConnectedDate": "2020-10-12T16:55:40.632Z", "lastCompletedBackupDate": "2020-10-12T20:17:52.084Z",
        "lastActivity": "2020-10-12T20:17:52.084Z", "mostRecentUserProfileCreationResult": null, "mostRecentUserProfileBackupResult": null});
    row.as_object().unwrap().clone()
}

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

fn fuzz_field(
    mut row: Map<String, serde_json::Value>,
    pick: usize,
    value: serde_json::Value,
) -> Map<String, serde_json::Value> {
    let keys: Vec<String> = row
        .keys()
        .cloned()
        .chain(["unexpectedField".to_string()])
        .collect();
    row.insert(keys[pick % keys.len()].clone(), value);
    row
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    /// A Code42 page with one mangled row: the row is used or skipped and counted, the
    /// others are always used.
    #[test]
    fn code42_rows_with_any_value_in_any_field(pick in 0usize..64, value in any_json(), junk_row in any_json()) {
        let mangled = fuzz_field(code42_row("2"), pick, value);
        let page = json!({"data": [code42_row("1"), mangled, code42_row("3"), junk_row]}).to_string();
        let mut builder = EstateBuilder::default();
        let rows = parse_page(page.as_bytes(), &mut builder).unwrap();
        prop_assert_eq!(rows, 4);
        let used = builder.rows();
        let skipped = builder.skipped.total() as usize;
        let (estate, _) = builder.finish();
        prop_assert_eq!(used + skipped, 4);
        for uid in ["1", "3"] {
            prop_assert!(estate.devices.iter().any(|d| &*d.uid == uid), "device {} survives", uid);
        }
    }

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
            Row::NotAnObject => outcomes.push(Err(backup_exporter::SkipReason::NotAnObject)),
        }).unwrap();
        prop_assert_eq!(info.rows, 4);
        prop_assert_eq!(outcomes.len(), 4);
        prop_assert!(outcomes[0].is_ok() && outcomes[2].is_ok(), "{}: valid rows are used", id);
    }
}

#[test]
fn label_values_of_any_text_round_trip_and_pass_promtool() {
    let mut runner = proptest::test_runner::TestRunner::default();
    let strategy = prop::collection::vec(
        prop_oneof!["\\PC{0,30}", "[\"\\\\\n a-z]{0,12}", ".{0,20}"],
        300,
    );
    let values = strategy.new_tree(&mut runner).unwrap().current();
    let mut builder = ExpositionBuilder::new(
        "source \"with\" \\ quirks",
        &[("tenant".into(), "a\nb".into())],
    );
    for (i, value) in values.iter().enumerate() {
        let labels = builder.labels(&[
            ("org", value),
            ("device_uid", &i.to_string()),
            ("destination", value),
        ]);
        builder.push(&families::ARCHIVE_BYTES, labels, Value::Int(i as i64));
    }
    let exposition = builder.finish();
    let mut body = Vec::new();
    backup_exporter::produce(
        b"",
        &[&exposition],
        families::FAMILIES,
        0,
        Format::Text,
        false,
        |chunk| {
            body.extend_from_slice(&chunk);
            true
        },
    );
    let text = String::from_utf8(body).unwrap();
    let parsed = Metrics::parse(&text);
    assert_eq!(parsed.0.len(), values.len());
    for (i, sample) in parsed.0.iter().enumerate() {
        assert_eq!(sample.labels["org"], values[i]);
        assert_eq!(sample.labels["destination"], values[i]);
        assert_eq!(sample.labels["source"], "source \"with\" \\ quirks");
        assert_eq!(sample.labels["tenant"], "a\nb");
    }
    let Some(promtool) = common::required_tool(&["promtool"], "prometheus") else {
        return;
    };
    let mut promtool = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = promtool.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
