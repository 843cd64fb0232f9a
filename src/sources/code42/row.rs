//! One DeviceBackupReport row (one archive: device × destination) and how it is validated.

use std::borrow::Cow;

use crate::sources::record::{BadValue, Record, RowSeed};
use crate::sources::{SkipCounts, SkipReason};

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
pub(crate) struct AlertStates(pub u8);

impl AlertStates {
    pub(crate) const WARNING_BACKUP: u8 = 1;
    pub(crate) const CRITICAL_BACKUP: u8 = 2;
    pub(crate) const WARNING_CONNECTION: u8 = 4;
    pub(crate) const CRITICAL_CONNECTION: u8 = 8;
    /// The backup states (not the connection ones).
    pub(crate) const BACKUP: u8 = Self::WARNING_BACKUP | Self::CRITICAL_BACKUP;

    /// The states exported in `backup_device_alerts{alert}`, with their bits.
    pub(crate) const NAMED: [(&'static str, u8); 4] = [
        ("WarningBackupAlert", Self::WARNING_BACKUP),
        ("CriticalBackupAlert", Self::CRITICAL_BACKUP),
        ("WarningConnectionAlert", Self::WARNING_CONNECTION),
        ("CriticalConnectionAlert", Self::CRITICAL_CONNECTION),
    ];

    pub(crate) fn has(self, bit: u8) -> bool {
        self.0 & bit != 0
    }

    pub(crate) fn is_warning(self) -> bool {
        self.has(Self::WARNING_BACKUP | Self::WARNING_CONNECTION)
    }

    pub(crate) fn is_critical(self) -> bool {
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
pub(crate) struct ArchiveRow<'a> {
    pub(crate) device_uid: Cow<'a, str>,
    pub(crate) device_name: Cow<'a, str>,
    pub(crate) org_name: Cow<'a, str>,
    pub(crate) username: Cow<'a, str>,
    pub(crate) os: Cow<'a, str>,
    pub(crate) os_version: Cow<'a, str>,
    pub(crate) app_version: Cow<'a, str>,
    pub(crate) destination: Cow<'a, str>,
    pub(crate) alerts: AlertStates,
    pub(crate) creation_ms: Option<i64>,
    pub(crate) last_connected_ms: Option<i64>,
    pub(crate) last_completed_ms: Option<i64>,
    /// `lastCompletedBackupDate` was there but could not be read: when the last backup
    /// completed is unknown, which is not "never".
    pub(crate) completion_unknown: bool,
    pub(crate) last_activity_ms: Option<i64>,
    pub(crate) complete_ratio: Option<f64>,
    pub(crate) archive_bytes: Option<u64>,
    pub(crate) selected_bytes: Option<u64>,
    /// `None` when the row does not say (null, absent or unreadable).
    pub(crate) cold_storage: Option<bool>,
}

fn text<'a>(record: &Record<'a>, name: &str) -> Result<Cow<'a, str>, SkipReason> {
    Ok(record.field(name).as_text()?.unwrap_or(Cow::Borrowed("")))
}

impl<'a> ArchiveRow<'a> {
    /// Validates a decoded row. Only its identity is required: a row without a device or a
    /// destination is skipped. Any other value that cannot be read (a date in an unknown
    /// format, a number that is not one) is left out of the row and counted in `skipped`
    /// by field, and the rest of the row is kept.
    pub(crate) fn parse(
        record: &Record<'a>,
        skipped: &mut SkipCounts,
    ) -> Result<ArchiveRow<'a>, SkipReason> {
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
        let mut text = |name: &str| {
            skipped
                .optional(name, record.field(name).as_text())
                .unwrap_or(Cow::Borrowed(""))
        };
        let (device_name, mut org_name, username) =
            (text("deviceName"), text("orgName"), text("username"));
        // An org known only by its uid is labelled by it rather than left blank.
        if org_name.trim().is_empty() {
            org_name = text("orgUid");
        }
        let (os, os_version, app_version) = (text("os"), text("osVersion"), text("version"));
        let mut ts = |name: &str| skipped.optional(name, record.field(name).as_timestamp_ms());
        let (creation_ms, last_connected_ms) = (ts("creationDate"), ts("lastConnectedDate"));
        let last_activity_ms = ts("lastActivity");
        let completed = record.field("lastCompletedBackupDate").as_timestamp_ms();
        let completion_unknown = completed.is_err();
        let last_completed_ms = skipped.optional("lastCompletedBackupDate", completed);
        let percentage =
            record
                .field("backupCompletePercentage")
                .as_f64()
                .and_then(|pct| match pct {
                    Some(pct) if !(0.0..=100.0).contains(&pct) => Err(BadValue),
                    pct => Ok(pct),
                });
        let complete_ratio = skipped
            .optional("backupCompletePercentage", percentage)
            .map(|p| p / 100.0);
        let words = skipped
            .optional(
                "alertStates",
                record.field("alertStates").as_words().map(Some),
            )
            .unwrap_or_default();
        Ok(ArchiveRow {
            device_name,
            org_name,
            username,
            os,
            os_version,
            app_version,
            alerts: AlertStates::parse(&words),
            creation_ms,
            last_connected_ms,
            last_completed_ms,
            completion_unknown,
            last_activity_ms,
            complete_ratio,
            archive_bytes: skipped.optional("archiveBytes", record.field("archiveBytes").as_u64()),
            selected_bytes: skipped
                .optional("selectedBytes", record.field("selectedBytes").as_u64()),
            cold_storage: skipped.optional("coldStorage", record.field("coldStorage").as_bool()),
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
            Row::Record(r) => ArchiveRow::parse(&r, &mut SkipCounts::default()),
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
        assert_eq!(row.cold_storage, Some(false));
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
        assert_eq!(row.cold_storage, Some(true));
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

    /// An unreadable value is unknown, not a default: a completion date no parser reads is
    /// not "never" (and is counted), a `coldStorage` that says nothing is not "live" or
    /// "cold", and an org without a name is known by its uid.
    #[test]
    fn what_a_row_does_not_say_is_unknown() {
        let json: &'static str = Box::leak(
            EXAMPLE
                .replace(
                    r#""lastCompletedBackupDate":"2020-10-12T20:17:52.084Z""#,
                    r#""lastCompletedBackupDate":"Invalid Date""#,
                )
                .replace(r#""coldStorage":"false""#, r#""coldStorage":"maybe""#)
                .replace(r#""orgName":"Accounting""#, r#""orgName":null"#)
                .into_boxed_str(),
        );
        let mut de = serde_json::Deserializer::from_str(json);
        let Row::Record(record) = SEED.deserialize(&mut de).unwrap() else {
            panic!("a row")
        };
        let mut skipped = SkipCounts::default();
        let row = ArchiveRow::parse(&record, &mut skipped).unwrap();
        assert_eq!(row.last_completed_ms, None);
        assert!(row.completion_unknown);
        assert_eq!(row.cold_storage, None);
        assert_eq!(row.org_name, "915323705751579872");
        let dropped: Vec<_> = skipped
            .values()
            .map(|(field, n)| (field.to_string(), n))
            .collect();
        assert_eq!(
            dropped,
            [
                ("coldStorage".to_string(), 1),
                ("lastCompletedBackupDate".to_string(), 1)
            ]
        );

        let row =
            parse(&EXAMPLE.replace(r#""coldStorage":"false""#, r#""coldStorage":null"#)).unwrap();
        assert_eq!(row.cold_storage, None);
        assert!(!row.completion_unknown);
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
    fn rows_without_an_identity_are_skipped() {
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
                EXAMPLE
                    .replace(r#""destinationName":"Code42 Cloud USA West","#, "")
                    .replace(r#""destinationUid":"632540230984925185","#, ""),
                SkipReason::MissingField,
            ),
            (
                EXAMPLE.replace(
                    r#""deviceUid":"954143368874689941""#,
                    r#""deviceUid":{"a":1}"#,
                ),
                SkipReason::InvalidValue,
            ),
            ("[1,2]".to_string(), SkipReason::NotAnObject),
            ("\"row\"".to_string(), SkipReason::NotAnObject),
        ];
        for (json, reason) in cases {
            assert_eq!(parse(&json).unwrap_err(), reason, "{json}");
        }
    }

    #[test]
    fn an_unreadable_value_is_dropped_and_counted_and_the_row_kept() {
        let cases = [
            (
                "archiveBytes",
                r#""archiveBytes":"1745757673""#,
                r#""archiveBytes":"lots""#,
            ),
            (
                "archiveBytes",
                r#""archiveBytes":"1745757673""#,
                r#""archiveBytes":{"v":1}"#,
            ),
            (
                "lastActivity",
                r#""lastActivity":"2020-10-12T20:17:52.084Z""#,
                r#""lastActivity":"yesterday""#,
            ),
            (
                "coldStorage",
                r#""coldStorage":"false""#,
                r#""coldStorage":"perhaps""#,
            ),
            (
                "backupCompletePercentage",
                r#""backupCompletePercentage":"99.7""#,
                r#""backupCompletePercentage":"140""#,
            ),
            ("alertStates", r#""alertStates":"OK""#, r#""alertStates":7"#),
            (
                "deviceName",
                r#""deviceName":"JDOE-MBP""#,
                r#""deviceName":[1]"#,
            ),
        ];
        for (field, from, to) in cases {
            let json: &'static str = Box::leak(EXAMPLE.replace(from, to).into_boxed_str());
            let mut de = serde_json::Deserializer::from_str(json);
            let Row::Record(record) = SEED.deserialize(&mut de).unwrap() else {
                panic!()
            };
            let mut skipped = SkipCounts::default();
            let row =
                ArchiveRow::parse(&record, &mut skipped).unwrap_or_else(|e| panic!("{to}: {e:?}"));
            assert_eq!(skipped.values().collect::<Vec<_>>(), [(field, 1)], "{to}");
            assert_eq!(skipped.total(), 0);
            // Everything else is still there.
            assert_eq!(row.device_uid, "954143368874689941");
            assert_eq!(row.selected_bytes, Some(1_658_317_953));
            assert_eq!(row.creation_ms, Some(1_589_461_400_302));
        }
    }

    #[test]
    fn a_newer_java_date_is_read() {
        let row = parse(&EXAMPLE.replace(
            r#""lastCompletedBackupDate":"2020-10-12T20:17:52.084Z""#,
            "\"lastCompletedBackupDate\":\"Oct 12, 2020, 8:17:52\u{202f}PM\"",
        ))
        .unwrap();
        assert_eq!(row.last_completed_ms, Some(1_602_533_872_000));
    }
}
