//! Vendor date strings (and bare epoch numbers in date fields) to Unix milliseconds.

use chrono::{DateTime, NaiveDateTime};

/// Parses the date formats the vendors are known to send:
/// ISO-8601 with `Z` or an offset (`2020-10-12T20:17:52.084Z`, `2019-12-02T09:34:28.364-06:00`),
/// ISO-8601 without a zone (taken as UTC), Java's medium US format as Code42 servers write
/// it — `Apr 13, 2015 10:22:33 AM` (2015 on-premises), `Oct 12, 2020, 8:17:52 PM` (newer
/// JDKs, with a comma after the year and, from JDK 20, a narrow no-break space before
/// AM/PM) — taken as UTC, and the legacy inSync Events API's `09/21/17 13:41` (UTC,
/// minutes).
pub(crate) fn parse_date_ms(text: &str) -> Option<i64> {
    let text = text.trim();
    if let Ok(dt) = DateTime::parse_from_rfc3339(text) {
        return Some(dt.timestamp_millis());
    }
    // JDK 20+ (CLDR 42) puts U+202F before AM/PM; some locales a no-break space.
    let text = text.replace(['\u{202f}', '\u{a0}'], " ");
    const NAIVE: [&str; 7] = [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%b %d, %Y %I:%M:%S %p",
        "%b %d, %Y, %I:%M:%S %p",
        "%B %d, %Y %I:%M:%S %p",
        "%B %d, %Y, %I:%M:%S %p",
        "%m/%d/%y %H:%M",
    ];
    NAIVE
        .iter()
        .find_map(|format| NaiveDateTime::parse_from_str(&text, format).ok())
        .map(|naive| naive.and_utc().timestamp_millis())
}

/// Interprets a bare number in a date field as Unix time: milliseconds when it is too large
/// to be seconds (after the year 5138), seconds otherwise.
pub(crate) fn epoch_number_to_ms(value: f64) -> Option<i64> {
    if !value.is_finite() || value < 0.0 {
        return None;
    }
    if value >= 1e11 {
        Some(value as i64)
    } else {
        Some((value * 1000.0).round() as i64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_with_z_and_offset() {
        assert_eq!(
            parse_date_ms("2020-10-12T20:17:52.084Z"),
            Some(1_602_533_872_084)
        );
        // -06:00 means the UTC instant is six hours later.
        assert_eq!(
            parse_date_ms("2019-12-02T09:34:28.364-06:00"),
            parse_date_ms("2019-12-02T15:34:28.364Z")
        );
        assert_eq!(
            parse_date_ms("2024-09-02T10:01:22Z"),
            Some(1_725_271_282_000)
        );
    }

    #[test]
    fn iso_without_zone_is_utc() {
        assert_eq!(
            parse_date_ms("2020-10-12T20:17:52.084"),
            parse_date_ms("2020-10-12T20:17:52.084Z")
        );
    }

    #[test]
    fn on_premises_format_is_utc() {
        assert_eq!(
            parse_date_ms("Apr 13, 2015 10:22:33 AM"),
            parse_date_ms("2015-04-13T10:22:33Z")
        );
        assert_eq!(
            parse_date_ms("Apr 13, 2015 10:22:33 PM"),
            parse_date_ms("2015-04-13T22:22:33Z")
        );
        assert_eq!(
            parse_date_ms("Dec 01, 2015 12:00:00 AM"),
            parse_date_ms("2015-12-01T00:00:00Z")
        );
    }

    #[test]
    fn newer_java_medium_formats_are_utc() {
        let expected = parse_date_ms("2020-10-12T20:17:52Z");
        for text in [
            "Oct 12, 2020, 8:17:52 PM",
            "Oct 12, 2020, 8:17:52\u{202f}PM",
            "Oct 12, 2020 8:17:52\u{202f}PM",
            "Oct 12, 2020, 08:17:52\u{a0}PM",
            "October 12, 2020, 8:17:52 PM",
        ] {
            assert_eq!(parse_date_ms(text), expected, "{text:?}");
        }
    }

    #[test]
    fn legacy_event_format_is_utc() {
        assert_eq!(
            parse_date_ms("09/21/17 13:41 "),
            parse_date_ms("2017-09-21T13:41:00Z")
        );
    }

    #[test]
    fn garbage_is_rejected() {
        for bad in ["", "yesterday", "2020-13-01T00:00:00Z", "Apr 13 2015"] {
            assert_eq!(parse_date_ms(bad), None, "{bad}");
        }
    }

    #[test]
    fn epoch_numbers() {
        assert_eq!(epoch_number_to_ms(1_602_533_872.0), Some(1_602_533_872_000));
        assert_eq!(
            epoch_number_to_ms(1_602_533_872_084.0),
            Some(1_602_533_872_084)
        );
        assert_eq!(epoch_number_to_ms(-1.0), None);
    }
}
