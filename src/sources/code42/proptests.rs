//! Property tests: any JSON in any field of a Code42 row never panics and never loses the
//! other rows of the page; a row that cannot be used is counted.

use proptest::prelude::*;
use serde_json::{Map, json};

use super::{EstateBuilder, parse_page};
use crate::sources::arbitrary_json::{any_json, fuzz_field};

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
}
