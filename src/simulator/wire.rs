//! The simulator's own writers for what it sends: JSON objects written field by field
//! (fast enough for 100,000-device tenants), CSV, and dates in the vendors' formats.
//! Deliberately independent of the exporter's decoding code.

use chrono::{DateTime, FixedOffset, SecondsFormat, Utc};

/// Writes a JSON string literal.
pub(crate) fn json_str(out: &mut String, value: &str) {
    out.push('"');
    let mut plain_from = 0;
    for (i, byte) in value.bytes().enumerate() {
        let escaped = match byte {
            b'"' => "\\\"",
            b'\\' => "\\\\",
            b'\n' => "\\n",
            b'\r' => "\\r",
            b'\t' => "\\t",
            0..0x20 => "",
            _ => continue,
        };
        // Bytes below 0x80 are whole characters, so `i` is a character boundary.
        out.push_str(&value[plain_from..i]);
        match escaped {
            "" => out.push_str(&format!("\\u{byte:04x}")),
            escaped => out.push_str(escaped),
        }
        plain_from = i + 1;
    }
    out.push_str(&value[plain_from..]);
    out.push('"');
}

/// A JSON object under construction.
pub(crate) struct Obj<'a> {
    out: &'a mut String,
    first: bool,
}

impl<'a> Obj<'a> {
    pub(super) fn new(out: &'a mut String) -> Obj<'a> {
        out.push('{');
        Obj { out, first: true }
    }

    fn key(&mut self, key: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        json_str(self.out, key);
        self.out.push(':');
    }

    pub(crate) fn str(&mut self, key: &str, value: &str) -> &mut Self {
        self.key(key);
        json_str(self.out, value);
        self
    }

    pub(crate) fn opt_str(&mut self, key: &str, value: Option<&str>) -> &mut Self {
        match value {
            Some(v) => self.str(key, v),
            None => self.null(key),
        }
    }

    pub(crate) fn null(&mut self, key: &str) -> &mut Self {
        self.key(key);
        self.out.push_str("null");
        self
    }

    /// A number, bool or other literal written as is.
    pub(crate) fn raw(&mut self, key: &str, literal: &str) -> &mut Self {
        self.key(key);
        self.out.push_str(literal);
        self
    }

    pub(crate) fn int(&mut self, key: &str, value: i64) -> &mut Self {
        self.raw(key, &value.to_string())
    }

    pub(crate) fn end(&mut self) {
        self.out.push('}');
    }
}

/// Writes one CSV field, quoted when needed.
pub(crate) fn csv_field(out: &mut String, value: &str) {
    if value.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(value);
    }
}

/// How a tenant writes dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateStyle {
    /// `2020-10-12T20:17:52.084Z` (cloud).
    Utc,
    /// The same instant at UTC-06:00: `2020-10-12T14:17:52.084-06:00`.
    Offset,
    /// The 2015 on-premises format, UTC, whole seconds: `Oct 12, 2020 08:17:52 PM`.
    OnPremises,
    /// Java's medium US format of JDK 20 and later (CLDR 42), as a Code42 server on a newer
    /// runtime writes it: `Oct 12, 2020, 8:17:52 PM` with a narrow no-break space (U+202F)
    /// before PM; UTC, whole seconds.
    JavaMedium,
    /// Druva's reports: `2024-08-29T05:36:43.000Z`.
    UtcMillis,
    /// Druva's event and sync timestamps: `2024-09-02T10:01:22Z`.
    UtcSeconds,
}

pub(crate) fn format_date(ms: i64, style: DateStyle) -> String {
    let utc: DateTime<Utc> = DateTime::from_timestamp_millis(ms).expect("date in range");
    match style {
        DateStyle::Utc => utc.to_rfc3339_opts(SecondsFormat::Millis, true),
        DateStyle::Offset => {
            let offset = FixedOffset::west_opt(6 * 3600).expect("offset");
            utc.with_timezone(&offset)
                .to_rfc3339_opts(SecondsFormat::Millis, false)
        }
        DateStyle::OnPremises => utc.format("%b %d, %Y %I:%M:%S %p").to_string(),
        DateStyle::JavaMedium => utc.format("%b %-d, %Y, %-I:%M:%S\u{202f}%p").to_string(),
        DateStyle::UtcMillis => utc.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        DateStyle::UtcSeconds => utc.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
    }
}

/// What a date looks like after a round trip through a format (on-premises drops the
/// milliseconds): the value a faithful client must report.
pub(crate) fn date_precision(ms: i64, style: DateStyle) -> i64 {
    match style {
        DateStyle::OnPremises | DateStyle::JavaMedium | DateStyle::UtcSeconds => {
            ms.div_euclid(1000) * 1000
        }
        _ => ms,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_in_every_style() {
        let ms = 1_602_533_872_084;
        assert_eq!(format_date(ms, DateStyle::Utc), "2020-10-12T20:17:52.084Z");
        assert_eq!(
            format_date(ms, DateStyle::Offset),
            "2020-10-12T14:17:52.084-06:00"
        );
        assert_eq!(
            format_date(ms, DateStyle::OnPremises),
            "Oct 12, 2020 08:17:52 PM"
        );
        assert_eq!(
            format_date(ms, DateStyle::UtcSeconds),
            "2020-10-12T20:17:52Z"
        );
    }

    #[test]
    fn json_strings_are_escaped() {
        let mut out = String::new();
        json_str(&mut out, "a\"b\\c\nd\u{1}é");
        assert_eq!(out, r#""a\"b\\c\nd\u0001é""#);
    }
}
