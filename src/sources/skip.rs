//! Why a row was skipped: bounded values of the `reason` label of
//! `backup_source_rows_skipped_total`.

use std::collections::BTreeMap;

use super::record::BadValue;

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
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
    pub const ALL: [SkipReason; 4] = [
        SkipReason::NotAnObject,
        SkipReason::MissingField,
        SkipReason::InvalidValue,
        SkipReason::Duplicate,
    ];

    pub fn as_str(self) -> &'static str {
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

/// Rows skipped during one refresh, by reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct SkipCounts(BTreeMap<SkipReason, u64>);

impl SkipCounts {
    pub fn add(&mut self, reason: SkipReason) {
        *self.0.entry(reason).or_default() += 1;
    }

    pub fn merge(&mut self, other: &SkipCounts) {
        for (reason, count) in &other.0 {
            *self.0.entry(*reason).or_default() += count;
        }
    }

    pub fn get(&self, reason: SkipReason) -> u64 {
        self.0.get(&reason).copied().unwrap_or(0)
    }

    pub fn total(&self) -> u64 {
        self.0.values().sum()
    }

    /// "none", or the counts by reason: "2 invalid_value, 1 duplicate".
    pub fn describe(&self) -> String {
        if self.total() == 0 {
            return "none".into();
        }
        let parts: Vec<String> = self
            .0
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(reason, n)| format!("{n} {}", reason.as_str()))
            .collect();
        parts.join(", ")
    }
}
