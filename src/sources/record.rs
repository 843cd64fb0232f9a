//! Tolerant decoding of vendor report rows.
//!
//! Vendors send numbers and booleans as JSON strings or native values, dates as strings,
//! numbers or `null`, and lists as arrays or delimited strings. A [`Record`] captures the
//! known fields of one row as [`Scalar`]s without ever failing on a value's type, so a bad
//! value is found afterwards, field by field, and the row is skipped instead of the page.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::dates;

/// One JSON value of a row, with strings borrowed from the page when they need no unescaping.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Scalar<'a> {
    Null,
    Bool(bool),
    Int(i64),
    UInt(u64),
    Float(f64),
    Str(Cow<'a, str>),
    List(Vec<Scalar<'a>>),
    Object,
}

/// The longest text value read (64 KiB): a longer one, such as a name of megabytes that
/// would become a label value on every scrape, is unreadable, and counted as such.
pub(crate) const MAX_TEXT_BYTES: usize = 64 * 1024;

/// Why a value could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct BadValue;

impl<'a> Scalar<'a> {
    /// `None` for JSON null, an empty string or the literal `"null"` that CSV-derived feeds carry.
    fn is_absent(&self) -> bool {
        match self {
            Scalar::Null => true,
            Scalar::Str(s) => {
                let s = s.trim();
                s.is_empty() || s.eq_ignore_ascii_case("null")
            }
            _ => false,
        }
    }

    /// A count or a size: a non-negative integer that fits a signed 64-bit integer (no
    /// real byte count or identifier is larger; larger means garbage).
    pub(crate) fn as_u64(&self) -> Result<Option<u64>, BadValue> {
        let value = self.as_unbounded_u64()?;
        match value {
            Some(v) if v > i64::MAX as u64 => Err(BadValue),
            v => Ok(v),
        }
    }

    fn as_unbounded_u64(&self) -> Result<Option<u64>, BadValue> {
        if self.is_absent() {
            return Ok(None);
        }
        match self {
            Scalar::UInt(v) => Ok(Some(*v)),
            Scalar::Int(v) => u64::try_from(*v).map(Some).map_err(|_| BadValue),
            Scalar::Float(v) => float_to_u64(*v).map(Some),
            Scalar::Str(s) => {
                let s = s.trim();
                match s.parse::<u64>() {
                    Ok(v) => Ok(Some(v)),
                    Err(_) => float_to_u64(s.parse::<f64>().map_err(|_| BadValue)?).map(Some),
                }
            }
            _ => Err(BadValue),
        }
    }

    pub(crate) fn as_f64(&self) -> Result<Option<f64>, BadValue> {
        if self.is_absent() {
            return Ok(None);
        }
        let value = match self {
            Scalar::UInt(v) => *v as f64,
            Scalar::Int(v) => *v as f64,
            Scalar::Float(v) => *v,
            Scalar::Str(s) => s.trim().parse::<f64>().map_err(|_| BadValue)?,
            _ => return Err(BadValue),
        };
        if value.is_finite() {
            Ok(Some(value))
        } else {
            Err(BadValue)
        }
    }

    /// Accepts `true`/`false` in any case, `1`/`0`, `"yes"`/`"no"`.
    pub(crate) fn as_bool(&self) -> Result<Option<bool>, BadValue> {
        if self.is_absent() {
            return Ok(None);
        }
        match self {
            Scalar::Bool(b) => Ok(Some(*b)),
            Scalar::UInt(0) | Scalar::Int(0) => Ok(Some(false)),
            Scalar::UInt(1) | Scalar::Int(1) => Ok(Some(true)),
            Scalar::Str(s) => match s.trim().to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(Some(true)),
                "false" | "0" | "no" => Ok(Some(false)),
                _ => Err(BadValue),
            },
            _ => Err(BadValue),
        }
    }

    /// Text of a string value; numbers are rendered as text because identifiers such as
    /// `deviceUid` or `siteDbId` arrive either way.
    pub(crate) fn as_text(&self) -> Result<Option<Cow<'a, str>>, BadValue> {
        match self {
            Scalar::Null => Ok(None),
            Scalar::Str(s) if s.len() > MAX_TEXT_BYTES => Err(BadValue),
            Scalar::Str(s) => Ok(Some(s.clone())),
            Scalar::UInt(v) => Ok(Some(Cow::Owned(v.to_string()))),
            Scalar::Int(v) => Ok(Some(Cow::Owned(v.to_string()))),
            Scalar::Bool(b) => Ok(Some(Cow::Owned(b.to_string()))),
            Scalar::Float(_) | Scalar::List(_) | Scalar::Object => Err(BadValue),
        }
    }

    /// A date as Unix milliseconds: a date string in any format [`dates::parse_date_ms`]
    /// knows, or a bare epoch number.
    pub(crate) fn as_timestamp_ms(&self) -> Result<Option<i64>, BadValue> {
        if self.is_absent() {
            return Ok(None);
        }
        match self {
            Scalar::Str(s) => match dates::parse_date_ms(s) {
                Some(ms) => Ok(Some(ms)),
                None => match s.trim().parse::<f64>() {
                    Ok(n) => dates::epoch_number_to_ms(n).map(Some).ok_or(BadValue),
                    Err(_) => Err(BadValue),
                },
            },
            Scalar::UInt(v) => dates::epoch_number_to_ms(*v as f64)
                .map(Some)
                .ok_or(BadValue),
            Scalar::Int(v) => dates::epoch_number_to_ms(*v as f64)
                .map(Some)
                .ok_or(BadValue),
            Scalar::Float(v) => dates::epoch_number_to_ms(*v).map(Some).ok_or(BadValue),
            _ => Err(BadValue),
        }
    }

    /// A list of words: a JSON array of strings, or one string with items separated by
    /// commas, semicolons or whitespace.
    pub(crate) fn as_words(&self) -> Result<Vec<Cow<'a, str>>, BadValue> {
        match self {
            Scalar::Null => Ok(Vec::new()),
            Scalar::Str(s) => Ok(split_words(s)),
            Scalar::List(items) => {
                let mut words = Vec::with_capacity(items.len());
                for item in items {
                    match item {
                        Scalar::Str(s) => words.extend(split_words(s)),
                        Scalar::Null => {}
                        _ => return Err(BadValue),
                    }
                }
                Ok(words)
            }
            _ => Err(BadValue),
        }
    }
}

const WORD_SEPARATORS: [char; 6] = [',', ';', ' ', '\t', '\n', '|'];

fn split_words<'a>(s: &Cow<'a, str>) -> Vec<Cow<'a, str>> {
    match s {
        Cow::Borrowed(b) => b
            .split(WORD_SEPARATORS)
            .filter(|w| !w.is_empty())
            .map(Cow::Borrowed)
            .collect(),
        Cow::Owned(o) => o
            .split(WORD_SEPARATORS)
            .filter(|w| !w.is_empty())
            .map(|w| Cow::Owned(w.to_string()))
            .collect(),
    }
}

fn float_to_u64(v: f64) -> Result<u64, BadValue> {
    if v.is_finite() && v >= 0.0 && v.fract() == 0.0 && v < 1.8e19 {
        Ok(v as u64)
    } else {
        Err(BadValue)
    }
}

impl<'de> de::Deserialize<'de> for Scalar<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(ScalarVisitor)
    }
}

struct ScalarVisitor;

impl<'de> Visitor<'de> for ScalarVisitor {
    type Value = Scalar<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_none<E>(self) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Null)
    }
    fn visit_bool<E>(self, v: bool) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Int(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::UInt(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Float(v))
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Borrowed(v)))
    }
    fn visit_str<E>(self, v: &str) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v.to_string())))
    }
    fn visit_string<E>(self, v: String) -> Result<Scalar<'de>, E> {
        Ok(Scalar::Str(Cow::Owned(v)))
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Scalar<'de>, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element::<Scalar<'de>>()? {
            items.push(item);
        }
        Ok(Scalar::List(items))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Scalar<'de>, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Scalar::Object)
    }
}

/// The known fields of one row.
#[derive(Debug)]
pub(crate) struct Record<'a> {
    names: &'static [&'static str],
    values: Vec<Option<Scalar<'a>>>,
}

impl<'a> Record<'a> {
    /// The value of a field of the row type's field list; `Null` when the row lacks it.
    pub(crate) fn field(&self, name: &str) -> &Scalar<'a> {
        const NULL: Scalar<'static> = Scalar::Null;
        let index = self.names.iter().position(|n| *n == name);
        debug_assert!(index.is_some(), "{name} is not in the field list");
        index.and_then(|i| self.values[i].as_ref()).unwrap_or(&NULL)
    }

    /// The first of `names` the row has a non-null value for (vendors disagree on spellings
    /// such as `isDeleted` / `isdeleted`).
    pub(crate) fn either(&self, names: &[&str]) -> &Scalar<'a> {
        const NULL: Scalar<'static> = Scalar::Null;
        names
            .iter()
            .map(|n| self.field(n))
            .find(|v| **v != Scalar::Null)
            .unwrap_or(&NULL)
    }
}

/// A row of a report page: an object becomes a [`Record`]; anything else is kept as
/// `NotAnObject` so the row can be skipped and counted.
#[derive(Debug)]
pub(crate) enum Row<'a> {
    Record(Record<'a>),
    NotAnObject,
}

/// Deserializes one row for a field list. Keys of one report arrive in the same order row
/// after row, so each key is first compared with the field after the previous match.
#[derive(Clone, Copy)]
pub(crate) struct RowSeed {
    pub(crate) fields: &'static [&'static str],
}

impl<'de> DeserializeSeed<'de> for RowSeed {
    type Value = Row<'de>;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<Row<'de>, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for RowSeed {
    type Value = Row<'de>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a report row")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Row<'de>, A::Error> {
        let mut values: Vec<Option<Scalar<'de>>> = vec![None; self.fields.len()];
        let mut hint = 0usize;
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let key = key.0.as_ref();
            let found = if self.fields.get(hint) == Some(&key) {
                Some(hint)
            } else {
                self.fields.iter().position(|f| *f == key)
            };
            match found {
                Some(index) => {
                    values[index] = Some(map.next_value::<Scalar<'de>>()?);
                    hint = index + 1;
                }
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Row::Record(Record {
            names: self.fields,
            values,
        }))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Row<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Row::NotAnObject)
    }

    fn visit_bool<E>(self, _: bool) -> Result<Row<'de>, E> {
        Ok(Row::NotAnObject)
    }
    fn visit_i64<E>(self, _: i64) -> Result<Row<'de>, E> {
        Ok(Row::NotAnObject)
    }
    fn visit_u64<E>(self, _: u64) -> Result<Row<'de>, E> {
        Ok(Row::NotAnObject)
    }
    fn visit_f64<E>(self, _: f64) -> Result<Row<'de>, E> {
        Ok(Row::NotAnObject)
    }
    fn visit_str<E>(self, _: &str) -> Result<Row<'de>, E> {
        Ok(Row::NotAnObject)
    }
    fn visit_unit<E>(self) -> Result<Row<'de>, E> {
        Ok(Row::NotAnObject)
    }
}

/// An object key, borrowed when it needs no unescaping.
struct Key<'a>(Cow<'a, str>);

impl<'de> de::Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct KeyVisitor;
        impl<'de> Visitor<'de> for KeyVisitor {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a field name")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        deserializer.deserialize_str(KeyVisitor)
    }
}

/// Deserializes a JSON array of rows, handing each to `on_row` as it is read, so a page is
/// never held twice (once as bytes, once as a vector of rows).
pub(crate) struct RowsSeed<'f, F> {
    pub(crate) seed: RowSeed,
    pub(crate) on_row: &'f mut F,
}

impl<'de, F: FnMut(Row<'de>)> DeserializeSeed<'de> for RowsSeed<'_, F> {
    type Value = usize;

    fn deserialize<D: Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de, F: FnMut(Row<'de>)> Visitor<'de> for RowsSeed<'_, F> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an array of rows")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<usize, A::Error> {
        let mut count = 0;
        while let Some(row) = seq.next_element_seed(self.seed)? {
            (self.on_row)(row);
            count += 1;
        }
        Ok(count)
    }

    /// `"data": null` is an empty page.
    fn visit_unit<E>(self) -> Result<usize, E> {
        Ok(0)
    }
}

/// What a page held besides its rows.
#[derive(Debug, Default)]
pub(crate) struct PageInfo {
    /// Rows in the page, skipped ones included.
    pub(crate) rows: usize,
    /// The values of the requested keys the page had.
    kept: serde_json::Map<String, serde_json::Value>,
}

impl PageInfo {
    /// A kept key's value if it is a string.
    pub(crate) fn text(&self, key: &str) -> Option<&str> {
        self.kept.get(key).and_then(|v| v.as_str())
    }

    /// A kept key's value if it is a boolean.
    pub(crate) fn flag(&self, key: &str) -> Option<bool> {
        self.kept.get(key).and_then(|v| v.as_bool())
    }
}

/// A body that is not a page of rows: an HTML error page, a truncated body, an error array.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PageError {
    #[error("malformed JSON: {0}")]
    Malformed(String),
    #[error("the response has no \"{0}\" array")]
    NoRows(String),
}

/// Decodes a page `{"<rows_key>": [rows], ...}`, handing each row to `on_row` as it is read
/// and keeping the values of the `keep` keys. A body that is not such an object (an HTML
/// error page, a truncated body, an error array) is an error, never an empty page.
pub(crate) fn decode_page<'de>(
    body: &'de [u8],
    rows_key: &str,
    seed: RowSeed,
    keep: &[&str],
    on_row: impl FnMut(Row<'de>),
) -> Result<PageInfo, PageError> {
    crate::runtime::background::debug_assert_low_priority("decoding a page");
    // A page checked as UTF-8 once is read without checking each string again (a sixth of
    // the decoding time); a page that is not UTF-8 is read as bytes, so a bad byte in a
    // field the exporter ignores still loses nothing.
    match std::str::from_utf8(body) {
        Ok(text) => decode_page_from(
            serde_json::Deserializer::from_str(text),
            rows_key,
            seed,
            keep,
            on_row,
        ),
        Err(_) => decode_page_from(
            serde_json::Deserializer::from_slice(body),
            rows_key,
            seed,
            keep,
            on_row,
        ),
    }
}

fn decode_page_from<'de, R: serde_json::de::Read<'de>>(
    mut deserializer: serde_json::Deserializer<R>,
    rows_key: &str,
    seed: RowSeed,
    keep: &[&str],
    mut on_row: impl FnMut(Row<'de>),
) -> Result<PageInfo, PageError> {
    let visitor = PageVisitor {
        rows_key,
        seed,
        keep,
        on_row: &mut on_row,
    };
    let info = deserializer
        .deserialize_map(visitor)
        .and_then(|info| deserializer.end().map(|_| info))
        .map_err(|e| PageError::Malformed(e.to_string()))?;
    info.ok_or_else(|| PageError::NoRows(rows_key.to_string()))
}

/// Decodes a body that is a bare array of rows. A single object is one row (Druva's legacy
/// Events API documentation shows its reply so), and an empty body is no rows.
pub(crate) fn decode_rows<'de>(
    body: &'de [u8],
    seed: RowSeed,
    mut on_row: impl FnMut(Row<'de>),
) -> Result<usize, PageError> {
    crate::runtime::background::debug_assert_low_priority("decoding a page");
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    let malformed = |e: serde_json::Error| PageError::Malformed(e.to_string());
    match body.iter().find(|b| !b.is_ascii_whitespace()) {
        None => Ok(0),
        Some(b'{') => {
            let row = seed.deserialize(&mut deserializer).map_err(malformed)?;
            deserializer.end().map_err(malformed)?;
            on_row(row);
            Ok(1)
        }
        Some(_) => RowsSeed {
            seed,
            on_row: &mut on_row,
        }
        .deserialize(&mut deserializer)
        .and_then(|rows| deserializer.end().map(|_| rows))
        .map_err(malformed),
    }
}

struct PageVisitor<'k, 'f, F> {
    rows_key: &'k str,
    seed: RowSeed,
    keep: &'k [&'k str],
    on_row: &'f mut F,
}

impl<'de, F: FnMut(Row<'de>)> Visitor<'de> for PageVisitor<'_, '_, F> {
    type Value = Option<PageInfo>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "an object with a {} array", self.rows_key)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<PageInfo>, A::Error> {
        let mut rows = None;
        let mut kept = serde_json::Map::new();
        while let Some(key) = map.next_key::<Key<'de>>()? {
            let key = key.0.as_ref();
            if key == self.rows_key {
                rows = Some(map.next_value_seed(RowsSeed {
                    seed: self.seed,
                    on_row: &mut *self.on_row,
                })?);
            } else if self.keep.contains(&key) {
                kept.insert(key.to_string(), map.next_value::<serde_json::Value>()?);
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(rows.map(|rows| PageInfo { rows, kept }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FIELDS: &[&str] = &["a", "b", "c"];

    fn parse(json: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut on_row = |row: Row| match row {
            Row::Record(r) => out.push(format!(
                "{:?}|{:?}|{:?}",
                r.field("a"),
                r.field("b"),
                r.field("c")
            )),
            Row::NotAnObject => out.push("junk".into()),
        };
        let mut de = serde_json::Deserializer::from_str(json);
        RowsSeed {
            seed: RowSeed { fields: FIELDS },
            on_row: &mut on_row,
        }
        .deserialize(&mut de)
        .unwrap();
        out
    }

    #[test]
    fn rows_accept_any_value_types_and_ignore_unknown_fields() {
        let rows = parse(r#"[{"c":1,"a":"x","zz":{"deep":[1,2]},"b":null}, 7, {"b":[true,"y"]}]"#);
        assert_eq!(rows[0], r#"Str("x")|Null|UInt(1)"#);
        assert_eq!(rows[1], "junk");
        assert_eq!(rows[2], r#"Null|List([Bool(true), Str("y")])|Null"#);
    }

    #[test]
    fn a_text_of_more_than_64_kib_is_unreadable() {
        let long = "x".repeat(MAX_TEXT_BYTES + 1);
        assert_eq!(Scalar::Str(long.as_str().into()).as_text(), Err(BadValue));
        let longest = "x".repeat(MAX_TEXT_BYTES);
        assert_eq!(
            Scalar::Str(longest.as_str().into()).as_text(),
            Ok(Some(longest.as_str().into()))
        );
    }

    #[test]
    fn numbers_from_strings_or_natives() {
        assert_eq!(
            Scalar::Str("1745757673".into()).as_u64(),
            Ok(Some(1_745_757_673))
        );
        assert_eq!(Scalar::UInt(12).as_u64(), Ok(Some(12)));
        assert_eq!(Scalar::Float(12.0).as_u64(), Ok(Some(12)));
        assert_eq!(Scalar::Str("1.5e3".into()).as_u64(), Ok(Some(1500)));
        assert_eq!(Scalar::Str("null".into()).as_u64(), Ok(None));
        assert_eq!(Scalar::Str("-4".into()).as_u64(), Err(BadValue));
        assert_eq!(Scalar::Str("12kB".into()).as_u64(), Err(BadValue));
        assert_eq!(Scalar::Str("99.7".into()).as_f64(), Ok(Some(99.7)));
        assert_eq!(Scalar::Str("NaN".into()).as_f64(), Err(BadValue));
        assert_eq!(Scalar::Object.as_f64(), Err(BadValue));
    }

    #[test]
    fn booleans_from_strings_or_natives() {
        assert_eq!(Scalar::Str("true".into()).as_bool(), Ok(Some(true)));
        assert_eq!(Scalar::Str("FALSE".into()).as_bool(), Ok(Some(false)));
        assert_eq!(Scalar::Bool(true).as_bool(), Ok(Some(true)));
        assert_eq!(Scalar::UInt(0).as_bool(), Ok(Some(false)));
        assert_eq!(Scalar::Str("maybe".into()).as_bool(), Err(BadValue));
    }

    #[test]
    fn words_from_strings_or_arrays() {
        let words = |s: Scalar| {
            s.as_words()
                .unwrap()
                .iter()
                .map(|w| w.to_string())
                .collect::<Vec<_>>()
        };
        assert_eq!(words(Scalar::Str("OK".into())), ["OK"]);
        assert_eq!(
            words(Scalar::Str(
                "WarningBackupAlert, CriticalConnectionAlert".into()
            )),
            ["WarningBackupAlert", "CriticalConnectionAlert"]
        );
        assert_eq!(
            words(Scalar::List(vec![
                Scalar::Str("A".into()),
                Scalar::Str("B C".into())
            ])),
            ["A", "B", "C"]
        );
        assert!(Scalar::List(vec![Scalar::UInt(1)]).as_words().is_err());
    }

    #[test]
    fn dates_from_strings_numbers_or_null() {
        assert_eq!(Scalar::Null.as_timestamp_ms(), Ok(None));
        assert_eq!(
            Scalar::Str("2020-10-12T20:17:52.084Z".into()).as_timestamp_ms(),
            Ok(Some(1_602_533_872_084))
        );
        assert_eq!(
            Scalar::UInt(1_602_533_872_084).as_timestamp_ms(),
            Ok(Some(1_602_533_872_084))
        );
        assert_eq!(Scalar::Str("soon".into()).as_timestamp_ms(), Err(BadValue));
    }

    #[test]
    fn a_bare_body_may_be_an_array_one_object_or_nothing() {
        let count = |body: &str| {
            let mut rows = 0;
            let n = decode_rows(body.as_bytes(), RowSeed { fields: FIELDS }, |row| {
                assert!(matches!(row, Row::Record(_)));
                rows += 1;
            });
            n.map(|n| (n, rows))
        };
        assert_eq!(count(r#"[{"a":1},{"b":2}]"#), Ok((2, 2)));
        assert_eq!(count(r#" {"a":1,"c":"x"} "#), Ok((1, 1)));
        assert_eq!(count("[]"), Ok((0, 0)));
        assert_eq!(count(""), Ok((0, 0)));
        assert_eq!(count(" \n"), Ok((0, 0)));
        assert!(count(r#"{"a":1"#).is_err());
        assert!(count(r#"{"a":1} {"#).is_err());
        assert!(count("<html>").is_err());
    }

    #[test]
    fn a_page_that_is_not_utf8_is_read_unless_a_used_value_is_broken() {
        let decode = |body: &[u8]| {
            let mut values = Vec::new();
            decode_page(body, "data", RowSeed { fields: FIELDS }, &[], |row| {
                if let Row::Record(r) = row {
                    values.push(format!("{:?}", r.field("a")));
                }
            })
            .map(|info| (info.rows, values))
        };
        let clean = br#"{"data":[{"a":"caf\u00e9","z":"x"},{"a":2}]}"#;
        let expected = (2, vec![r#"Str("café")"#.to_string(), "UInt(2)".to_string()]);
        assert_eq!(decode(clean), Ok(expected.clone()));
        // A stray Latin-1 byte in a field the row type does not read.
        let ignored = b"{\"data\":[{\"a\":\"caf\\u00e9\",\"z\":\"\xe9\"},{\"a\":2}]}";
        assert_eq!(decode(ignored), Ok(expected));
        let used = b"{\"data\":[{\"a\":\"caf\xe9\"}]}";
        assert!(matches!(decode(used), Err(PageError::Malformed(_))));
    }
}
