//! Why a backup or a job failed or finished with errors, as bounded codes: Druva's
//! `errorDetailsNew` (comma-separated hex codes), `errorDetailsOld` and `statusDetails`
//! (E-codes such as `EUSERNOTFOUND`).

use serde::{Deserialize, Serialize};

use crate::sources::SkipCounts;
use crate::sources::record::Record;

/// The hex codes of `errorDetailsNew` and what they mean, as seed 003 lists them.
pub(crate) const MEANINGS: &[(&str, &str)] = &[
    ("100000001", "Internal error"),
    ("1000000f7", "Throttling Issue"),
    ("10000000b", "Quota limit reached"),
    ("10000000a", "Task Aborted"),
    ("100000016", "Authorization Failed"),
    ("100000046", "Insufficient Permissions"),
    ("10000004b", "Task Canceled"),
    ("100010001", "File is checked out"),
    ("100010002", "MS Team site channel update failed"),
    ("100010007", "Character Limit Exceeded"),
    ("100010009", "Token Invalid"),
    ("10001000f", "User Not Found"),
    ("100010010", "Microsoft List View Threshold Reached"),
    ("100010011", "Virus Infected File"),
    ("100010013", "File Not Found"),
    ("100010014", "Connection Error From Microsoft"),
    (
        "100010015",
        "The site level feature is not available in SharePoint Online",
    ),
    ("100010016", "Site Not Found"),
    ("100010017", "Metadata Restore Failed"),
    ("100010018", "Site Feature Restore Failed"),
    ("100010019", "Quick Launch Node Restore Failed"),
    ("10001001a", "Top Navigation Bar Restore Failed"),
    ("10001001b", "Term Store Restore Failed"),
    ("10001001c", "List Item Restore Failed"),
    ("10001001d", "Site Not Found in SharePoint PowerShell"),
    ("10001001f", "SharePoint Site Busy"),
    ("100010020", "SharePoint Storage Issue"),
    ("100010023", "Cannot Restore Active Solution"),
    ("100010024", "SharePoint Site Locked"),
];

/// A failure reason: its code and, in words, what it means.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub(crate) struct FailureReason {
    /// A hex code in lower case, an E-code in upper case, or `other` for free text.
    pub(crate) code: String,
    /// Seed 003's words for a hex code; the code itself otherwise.
    pub(crate) reason: String,
}

impl FailureReason {
    /// Text that is not a code, or a code past a bound.
    pub(crate) fn other() -> FailureReason {
        FailureReason::new("other".to_string())
    }

    fn new(code: String) -> FailureReason {
        let reason = MEANINGS
            .iter()
            .find(|(c, _)| *c == code)
            .map_or_else(|| code.clone(), |(_, meaning)| meaning.to_string());
        FailureReason { code, reason }
    }
}

/// A code as a bounded label value, or `None` when the text is not one.
fn code(text: &str) -> Option<String> {
    let text = text.trim();
    let hex = (6..=16).contains(&text.len()) && text.chars().all(|c| c.is_ascii_hexdigit());
    let e_code = (2..=48).contains(&text.len())
        && text.starts_with('E')
        && text
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
    if hex {
        Some(text.to_ascii_lowercase())
    } else if e_code {
        Some(text.to_string())
    } else {
        None
    }
}

/// The failure reasons a row gives, from the first of `errorDetailsNew`, `errorDetailsOld`
/// and `statusDetails` that says anything ("-" and empty say nothing). Text that is not a
/// code becomes `other`, and is counted as a dropped value of its field.
pub(crate) fn reasons(record: &Record, skipped: &mut SkipCounts) -> Vec<FailureReason> {
    for field in ["errorDetailsNew", "errorDetailsOld", "statusDetails"] {
        let Some(text) = skipped.optional(field, record.field(field).as_text()) else {
            continue;
        };
        // Only errorDetailsNew is a list; the others are one code (or a sentence).
        let parts: Vec<&str> = if field == "errorDetailsNew" {
            text.split(',').collect()
        } else {
            vec![&text]
        };
        // Seed 003 writes an example as `""100010016,100000001""`: quotes around the list
        // (or a code) are not part of it.
        let parts: Vec<&str> = parts
            .into_iter()
            .map(|p| p.trim().trim_matches('"').trim())
            .filter(|p| !p.is_empty() && *p != "-")
            .collect();
        if parts.is_empty() {
            continue;
        }
        let mut reasons: Vec<FailureReason> = parts
            .into_iter()
            .map(|part| {
                code(part).unwrap_or_else(|| {
                    skipped.drop_value(field);
                    "other".to_string()
                })
            })
            .map(FailureReason::new)
            .collect();
        reasons.sort();
        reasons.dedup();
        return reasons;
    }
    Vec::new()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::record::{Row, RowSeed};
    use serde::de::DeserializeSeed;

    fn reasons_of(json: &'static str) -> (Vec<(String, String)>, SkipCounts) {
        let seed = RowSeed {
            fields: &["errorDetailsNew", "errorDetailsOld", "statusDetails"],
        };
        let mut de = serde_json::Deserializer::from_str(json);
        let Row::Record(record) = seed.deserialize(&mut de).unwrap() else {
            panic!()
        };
        let mut skipped = SkipCounts::default();
        let found = reasons(&record, &mut skipped)
            .into_iter()
            .map(|r| (r.code, r.reason))
            .collect();
        (found, skipped)
    }

    #[test]
    fn new_codes_come_first_with_their_meaning() {
        let (found, skipped) = reasons_of(
            r#"{"errorDetailsNew":"100010016,100000001","errorDetailsOld":"EUSERNOTFOUND"}"#,
        );
        assert_eq!(
            found,
            [
                ("100000001".into(), "Internal error".into()),
                ("100010016".into(), "Site Not Found".into())
            ]
        );
        assert_eq!(skipped, SkipCounts::default());
        // Quoted, as seed 003's description writes its example.
        assert_eq!(
            reasons_of(r#"{"errorDetailsNew":"\"\"100010016,100000001\"\""}"#).0,
            [
                ("100000001".into(), "Internal error".into()),
                ("100010016".into(), "Site Not Found".into())
            ]
        );
        // Upper-case hex as the seed writes 10000000A.
        assert_eq!(
            reasons_of(r#"{"errorDetailsNew":"10000000A"}"#).0,
            [("10000000a".into(), "Task Aborted".into())]
        );
    }

    #[test]
    fn old_codes_and_status_details() {
        assert_eq!(
            reasons_of(r#"{"errorDetailsNew":null,"errorDetailsOld":"EUSERNOTFOUND "}"#).0,
            [("EUSERNOTFOUND".into(), "EUSERNOTFOUND".into())]
        );
        assert_eq!(
            reasons_of(r#"{"errorDetailsOld":"-","statusDetails":"EINTERNAL"}"#).0,
            [("EINTERNAL".into(), "EINTERNAL".into())]
        );
        assert!(reasons_of(r#"{"statusDetails":"-"}"#).0.is_empty());
        assert!(reasons_of(r#"{"statusDetails":null}"#).0.is_empty());
    }

    #[test]
    fn free_text_is_other_and_counted() {
        let (found, skipped) =
            reasons_of(r#"{"statusDetails":"The mailbox of Jane Doe is full, please act"}"#);
        assert_eq!(found, [("other".into(), "other".into())]);
        assert_eq!(skipped.values().collect::<Vec<_>>(), [("statusDetails", 1)]);
    }
}
