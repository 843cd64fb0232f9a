//! One DeviceBackupReport row (one archive: device × destination) and how it is validated.

use std::borrow::Cow;

use crate::sources::SkipReason;
use crate::sources::record::{Record, RowSeed};

/// The report's columns in the order of its CSV export, which is also the order of the keys
/// in JSON rows (the decoder looks for each key where the previous one left off).
pub(crate) const FIELDS: &[&str] = &[
    "archiveGuid",
    "orgUid",
    "orgName",
    "orgExtRef",
    "userUid",
    "username",
    "email",
    "userExtRef",
    "deviceUid",
    "deviceName",
    "deviceOsHostname",
    "deviceExtRef",
    "destinationUid",
    "destinationName",
    "serverUid",
    "serverName",
    "version",
    "status",
    "userStatus",
    "alertStates",
    "os",
    "osVersion",
    "address",
    "remoteAddress",
    "creationDate",
    "selectedBytes",
    "backupCompletePercentage",
    "archiveBytes",
    "coldStorage",
    "lastConnectedDate",
    "lastCompletedBackupDate",
    "lastActivity",
    "mostRecentUserProfileCreationResult",
    "mostRecentUserProfileBackupResult",
];

pub(crate) const SEED: RowSeed = RowSeed { fields: FIELDS };

/// Code42 alert states, as bits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
pub struct AlertStates(pub u8);

impl AlertStates {
    pub const WARNING_BACKUP: u8 = 1;
    pub const CRITICAL_BACKUP: u8 = 2;
    pub const WARNING_CONNECTION: u8 = 4;
    pub const CRITICAL_CONNECTION: u8 = 8;

    /// The states exported in `backup_device_alerts{alert}`, with their bits.
    pub const NAMED: [(&'static str, u8); 4] = [
        ("WarningBackupAlert", Self::WARNING_BACKUP),
        ("CriticalBackupAlert", Self::CRITICAL_BACKUP),
        ("WarningConnectionAlert", Self::WARNING_CONNECTION),
        ("CriticalConnectionAlert", Self::CRITICAL_CONNECTION),
    ];

    pub fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    pub fn is_warning(self) -> bool {
        self.has(Self::WARNING_BACKUP | Self::WARNING_CONNECTION)
    }

    pub fn is_critical(self) -> bool {
        self.has(Self::CRITICAL_BACKUP | Self::CRITICAL_CONNECTION)
    }

    /// Parses state names; `OK` and states the exporter does not export (such as
    /// `RepositoryMissing`) set no bit.
    fn parse(words: &[Cow<str>]) -> AlertStates {
        let mut bits = 0;
        for word in words {
            for (name, bit) in Self::NAMED {
                if word.eq_ignore_ascii_case(name) {
                    bits |= bit;
                }
            }
        }
        AlertStates(bits)
    }
}

/// A validated row. Strings borrow from the page when they can.
#[derive(Debug, Clone, PartialEq)]
pub struct ArchiveRow<'a> {
    pub device_uid: Cow<'a, str>,
    pub device_name: Cow<'a, str>,
    pub org_name: Cow<'a, str>,
    pub username: Cow<'a, str>,
    pub os: Cow<'a, str>,
    pub os_version: Cow<'a, str>,
    pub app_version: Cow<'a, str>,
    pub destination: Cow<'a, str>,
    pub alerts: AlertStates,
    pub creation_ms: Option<i64>,
    pub last_connected_ms: Option<i64>,
    pub last_completed_ms: Option<i64>,
    pub last_activity_ms: Option<i64>,
    pub complete_ratio: Option<f64>,
    pub archive_bytes: Option<u64>,
    pub selected_bytes: Option<u64>,
    pub cold_storage: bool,
}

fn text<'a>(record: &Record<'a>, name: &str) -> Result<Cow<'a, str>, SkipReason> {
    Ok(record.field(name).as_text()?.unwrap_or(Cow::Borrowed("")))
}

impl<'a> ArchiveRow<'a> {
    /// Validates a decoded row: the device and destination must be identified, and every
    /// value present must have a usable type and format.
    pub fn parse(record: &Record<'a>) -> Result<ArchiveRow<'a>, SkipReason> {
        let device_uid = text(record, "deviceUid")?;
        if device_uid.trim().is_empty() {
            return Err(SkipReason::MissingField);
        }
        // The destination's name is the label; rows from old servers may carry only its uid.
        let mut destination = text(record, "destinationName")?;
        if destination.is_empty() {
            destination = text(record, "destinationUid")?;
        }
        if destination.is_empty() {
            return Err(SkipReason::MissingField);
        }
        let ts = |name| {
            record
                .field(name)
                .as_timestamp_ms()
                .map_err(SkipReason::from)
        };
        let ratio = match record.field("backupCompletePercentage").as_f64()? {
            Some(pct) if !(0.0..=100.0).contains(&pct) => return Err(SkipReason::InvalidValue),
            pct => pct.map(|p| p / 100.0),
        };
        Ok(ArchiveRow {
            device_name: text(record, "deviceName")?,
            org_name: text(record, "orgName")?,
            username: text(record, "username")?,
            os: text(record, "os")?,
            os_version: text(record, "osVersion")?,
            app_version: text(record, "version")?,
            alerts: AlertStates::parse(&record.field("alertStates").as_words()?),
            creation_ms: ts("creationDate")?,
            last_connected_ms: ts("lastConnectedDate")?,
            last_completed_ms: ts("lastCompletedBackupDate")?,
            last_activity_ms: ts("lastActivity")?,
            complete_ratio: ratio,
            archive_bytes: record.field("archiveBytes").as_u64()?,
            selected_bytes: record.field("selectedBytes").as_u64()?,
            cold_storage: record.field("coldStorage").as_bool()?.unwrap_or(false),
            device_uid,
            destination,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::record::Row;
    use serde::de::DeserializeSeed;

    fn parse(json: &str) -> Result<ArchiveRow<'static>, SkipReason> {
        let json: &'static str = Box::leak(json.to_string().into_boxed_str());
        let mut de = serde_json::Deserializer::from_str(json);
        match SEED.deserialize(&mut de).unwrap() {
            Row::Record(r) => ArchiveRow::parse(&r),
            Row::NotAnObject => Err(SkipReason::NotAnObject),
        }
    }

    /// The reference's example row, values as strings.
    const EXAMPLE: &str = r#"{"archiveGuid":"954143426849296547","orgUid":"915323705751579872","orgName":"Accounting","orgExtRef":null,
 "userUid":"938960273869958201","username":"jdoe@example.com","email":"jdoe@example.com","userExtRef":"1001",
 "deviceUid":"954143368874689941","deviceName":"JDOE-MBP","deviceOsHostname":"jdoe-mbp","deviceExtRef":null,
 "destinationUid":"632540230984925185","destinationName":"Code42 Cloud USA West","serverUid":"836476656572622471",
 "serverName":"cif-sea","version":"7.0.3.55","status":"Active","userStatus":"Active","alertStates":"OK","os":"mac",
 "osVersion":"10.15.7","address":"192.168.1.10:4242","remoteAddress":"73.53.78.104","creationDate":"2020-05-14T13:03:20.302Z",
 "selectedBytes":"1658317953","backupCompletePercentage":"99.7","archiveBytes":"1745757673","coldStorage":"false",
 "lastConnectedDate":"2020-10-12T16:55:40.632Z","lastCompletedBackupDate":"2020-10-12T20:17:52.084Z",
 "lastActivity":"2020-10-12T20:17:52.084Z","mostRecentUserProfileCreationResult":null,"mostRecentUserProfileBackupResult":null}"#;

    #[test]
    fn reference_example_row() {
        let row = parse(EXAMPLE).unwrap();
        assert_eq!(row.device_uid, "954143368874689941");
        assert_eq!(row.org_name, "Accounting");
        assert_eq!(row.username, "jdoe@example.com");
        assert_eq!(row.destination, "Code42 Cloud USA West");
        assert_eq!(row.app_version, "7.0.3.55");
        assert_eq!(row.selected_bytes, Some(1_658_317_953));
        assert_eq!(row.archive_bytes, Some(1_745_757_673));
        assert_eq!(row.complete_ratio, Some(0.997));
        assert!(!row.cold_storage);
        assert_eq!(row.alerts, AlertStates(0));
        assert_eq!(row.last_completed_ms, Some(1_602_533_872_084));
        assert_eq!(row.creation_ms, Some(1_589_461_400_302));
    }

    #[test]
    fn native_json_types_are_accepted() {
        let native = EXAMPLE
            .replace(
                r#""selectedBytes":"1658317953""#,
                r#""selectedBytes":1658317953"#,
            )
            .replace(
                r#""backupCompletePercentage":"99.7""#,
                r#""backupCompletePercentage":99.7"#,
            )
            .replace(r#""coldStorage":"false""#, r#""coldStorage":true"#)
            .replace(
                r#""alertStates":"OK""#,
                r#""alertStates":["CriticalBackupAlert","WarningConnectionAlert"]"#,
            )
            .replace(
                r#""deviceUid":"954143368874689941""#,
                r#""deviceUid":954143368874689941"#,
            );
        let row = parse(&native).unwrap();
        assert_eq!(row.selected_bytes, Some(1_658_317_953));
        assert_eq!(row.complete_ratio, Some(0.997));
        assert!(row.cold_storage);
        assert_eq!(row.device_uid, "954143368874689941");
        assert_eq!(
            row.alerts,
            AlertStates(AlertStates::CRITICAL_BACKUP | AlertStates::WARNING_CONNECTION)
        );
    }

    #[test]
    fn alert_states_as_delimited_strings() {
        for states in [
            "WarningBackupAlert, CriticalConnectionAlert",
            "WarningBackupAlert CriticalConnectionAlert",
            "WarningBackupAlert,CriticalConnectionAlert",
        ] {
            let row = parse(&EXAMPLE.replace(
                r#""alertStates":"OK""#,
                &format!(r#""alertStates":"{states}""#),
            ))
            .unwrap();
            assert_eq!(
                row.alerts,
                AlertStates(AlertStates::WARNING_BACKUP | AlertStates::CRITICAL_CONNECTION),
                "{states}"
            );
        }
    }

    #[test]
    fn null_dates_and_other_formats() {
        let row = parse(
            &EXAMPLE
                .replace(
                    r#""lastCompletedBackupDate":"2020-10-12T20:17:52.084Z""#,
                    r#""lastCompletedBackupDate":null"#,
                )
                .replace(
                    r#""lastConnectedDate":"2020-10-12T16:55:40.632Z""#,
                    r#""lastConnectedDate":"Apr 13, 2015 10:22:33 AM""#,
                )
                .replace(
                    r#""lastActivity":"2020-10-12T20:17:52.084Z""#,
                    r#""lastActivity":"2020-10-12T14:17:52.084-06:00""#,
                ),
        )
        .unwrap();
        assert_eq!(row.last_completed_ms, None);
        assert_eq!(row.last_connected_ms, Some(1_428_920_553_000));
        assert_eq!(row.last_activity_ms, Some(1_602_533_872_084));
    }

    #[test]
    fn unknown_fields_are_ignored() {
        let row = parse(&EXAMPLE.replace(
            "{\"archiveGuid\"",
            "{\"newField\":{\"x\":[1]},\"archiveGuid\"",
        ))
        .unwrap();
        assert_eq!(row.device_uid, "954143368874689941");
    }

    #[test]
    fn malformed_rows_are_skipped_with_a_reason() {
        let cases = [
            (
                EXAMPLE.replace(r#""deviceUid":"954143368874689941","#, ""),
                SkipReason::MissingField,
            ),
            (
                EXAMPLE.replace(r#""deviceUid":"954143368874689941""#, r#""deviceUid":"""#),
                SkipReason::MissingField,
            ),
            (
                EXAMPLE.replace(r#""archiveBytes":"1745757673""#, r#""archiveBytes":"lots""#),
                SkipReason::InvalidValue,
            ),
            (
                EXAMPLE.replace(
                    r#""archiveBytes":"1745757673""#,
                    r#""archiveBytes":{"v":1}"#,
                ),
                SkipReason::InvalidValue,
            ),
            (
                EXAMPLE.replace(
                    r#""lastActivity":"2020-10-12T20:17:52.084Z""#,
                    r#""lastActivity":"yesterday""#,
                ),
                SkipReason::InvalidValue,
            ),
            (
                EXAMPLE.replace(r#""coldStorage":"false""#, r#""coldStorage":"perhaps""#),
                SkipReason::InvalidValue,
            ),
            (
                EXAMPLE.replace(
                    r#""backupCompletePercentage":"99.7""#,
                    r#""backupCompletePercentage":"140""#,
                ),
                SkipReason::InvalidValue,
            ),
            (
                EXAMPLE.replace(r#""alertStates":"OK""#, r#""alertStates":7"#),
                SkipReason::InvalidValue,
            ),
            ("[1,2]".to_string(), SkipReason::NotAnObject),
            ("\"row\"".to_string(), SkipReason::NotAnObject),
        ];
        for (json, reason) in cases {
            assert_eq!(parse(&json).unwrap_err(), reason, "{json}");
        }
    }
}
