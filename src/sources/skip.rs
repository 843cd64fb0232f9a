//! Why a row was skipped: bounded values of the `reason` label of
//! `backup_source_rows_skipped_total`; and the values dropped from rows that were kept,
//! by field (`backup_source_values_skipped_total`).

use std::collections::BTreeMap;

use super::record::BadValue;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub(crate) enum SkipReason {
    /// The row is not a JSON object.
    NotAnObject,
    /// A field the exporter needs (such as `deviceUid`) is absent or empty.
    MissingField,
    /// A field has a value of the wrong type or format (a date that is not a date, …).
    InvalidValue,
    /// A second row for the same key (the same archive, resource or alert).
    Duplicate,
}

impl SkipReason {
    pub(crate) const ALL: [SkipReason; 4] = [
        SkipReason::NotAnObject,
        SkipReason::MissingField,
        SkipReason::InvalidValue,
        SkipReason::Duplicate,
    ];

    pub(crate) fn as_str(self) -> &'static str {
        match self {
            SkipReason::NotAnObject => "not_an_object",
            SkipReason::MissingField => "missing_field",
            SkipReason::InvalidValue => "invalid_value",
            SkipReason::Duplicate => "duplicate",
        }
    }
}

impl From<BadValue> for SkipReason {
    fn from(_: BadValue) -> SkipReason {
        SkipReason::InvalidValue
    }
}

/// Rows skipped during one refresh, by reason, and values dropped from the rows that were
/// kept, by the field's wire name (a report's known fields: a bounded set).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct SkipCounts {
    // Flattened, so status files written before value counts existed still load.
    #[serde(flatten)]
    rows: BTreeMap<SkipReason, u64>,
    #[serde(default)]
    values: BTreeMap<String, u64>,
}

impl SkipCounts {
    pub(crate) fn add(&mut self, reason: SkipReason) {
        *self.rows.entry(reason).or_default() += 1;
    }

    /// A value of `field` could not be read; the rest of its row is kept.
    pub(crate) fn drop_value(&mut self, field: &str) {
        match self.values.get_mut(field) {
            Some(count) => *count += 1,
            None => {
                self.values.insert(field.to_string(), 1);
            }
        }
    }

    /// `value` of an optional field, or `None` (counted) when it cannot be read.
    pub(crate) fn optional<T, E>(&mut self, field: &str, value: Result<Option<T>, E>) -> Option<T> {
        value.unwrap_or_else(|_| {
            self.drop_value(field);
            None
        })
    }

    pub(crate) fn merge(&mut self, other: &SkipCounts) {
        for (reason, count) in &other.rows {
            *self.rows.entry(*reason).or_default() += count;
        }
        for (field, count) in &other.values {
            *self.values.entry(field.clone()).or_default() += count;
        }
    }

    pub(crate) fn get(&self, reason: SkipReason) -> u64 {
        self.rows.get(&reason).copied().unwrap_or(0)
    }

    /// Rows skipped.
    pub(crate) fn total(&self) -> u64 {
        self.rows.values().sum()
    }

    /// Values dropped, by field.
    pub(crate) fn values(&self) -> impl Iterator<Item = (&str, u64)> {
        self.values.iter().map(|(f, n)| (f.as_str(), *n))
    }

    /// "none", or the counts by reason and field: "2 invalid_value, 1 duplicate; values
    /// dropped: 3 lastActivity".
    pub(crate) fn describe(&self) -> String {
        let rows: Vec<String> = self
            .rows
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(reason, n)| format!("{n} {}", reason.as_str()))
            .collect();
        let values: Vec<String> = self.values().map(|(f, n)| format!("{n} {f}")).collect();
        match (rows.is_empty(), values.is_empty()) {
            (true, true) => "none".into(),
            (false, true) => rows.join(", "),
            (true, false) => format!("none; values dropped: {}", values.join(", ")),
            (false, false) => format!("{}; values dropped: {}", rows.join(", "), values.join(", ")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_saved_before_value_counts_existed_still_load() {
        let old: SkipCounts = serde_json::from_str(r#"{"invalid_value":3,"duplicate":1}"#).unwrap();
        assert_eq!(old.get(SkipReason::InvalidValue), 3);
        assert_eq!(old.values().count(), 0);
        let mut new = old.clone();
        new.drop_value("lastActivity");
        let round: SkipCounts =
            serde_json::from_str(&serde_json::to_string(&new).unwrap()).unwrap();
        assert_eq!(round, new);
        assert_eq!(
            round.describe(),
            "3 invalid_value, 1 duplicate; values dropped: 1 lastActivity"
        );
    }
}
