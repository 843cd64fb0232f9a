//! Code42's fuzz targets: a report page and a row's dates (its state file is the
//! registry's `code42_state`).

use super::{EstateBuilder, families, parse_page};
use crate::sources::fuzzing::{FuzzTarget, NOW_MS, enter, expose};

pub(super) const TARGETS: &[FuzzTarget] = &[
    FuzzTarget {
        name: "code42_page",
        run: page,
    },
    FuzzTarget {
        name: "code42_dates",
        run: dates,
    },
];

/// A page of `DeviceBackupReport`, read as a refresh reads every page, then exposed.
fn page(data: &[u8]) {
    enter();
    let mut builder = EstateBuilder::default();
    if parse_page(data, &mut builder).is_ok() {
        let (estate, _skipped) = builder.finish();
        expose(&estate, families::FAMILIES, NOW_MS);
    }
}

/// The text as each of a row's dates (the completion, connection and creation dates, and
/// the alert date), and as a number of each JSON kind, through the row's decoder.
fn dates(data: &[u8]) {
    enter();
    let text = String::from_utf8_lossy(data);
    let mut rows = vec![serde_json::json!({
        "deviceUid": "1", "destinationName": "cloud",
        "lastCompletedBackupDate": text, "lastConnectedDate": text,
        "creationDate": text, "lastActivity": text, "backupCompletePercentage": text,
    })];
    if let Ok(number) = text.trim().parse::<serde_json::Number>() {
        rows.push(serde_json::json!({
            "deviceUid": "2", "destinationName": "cloud",
            "lastCompletedBackupDate": number, "lastConnectedDate": number,
            "creationDate": number, "backupCompletePercentage": number,
        }));
    }
    let body = serde_json::json!({ "data": rows }).to_string();
    let mut builder = EstateBuilder::default();
    parse_page(body.as_bytes(), &mut builder).expect("a well-formed page");
    let (estate, _skipped) = builder.finish();
    expose(&estate, families::FAMILIES, NOW_MS);
}
