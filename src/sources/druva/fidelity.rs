//! `docs/seed-fidelity.md` held to the decoders: every field its Druva tables say is read
//! changes a row's reading when it carries a value nothing can read, and every field they
//! say is not read changes nothing. The rows are the recorded samples of Druva's
//! documentation (`tests/fixtures/recorded/druva/`), as they are and as after a failed
//! backup of a resource that is not deleted (some fields are read only then).

use serde::de::DeserializeSeed;
use serde_json::{Map, Value, json};

use super::reports::{Parsed, find};
use crate::sources::record::Row;
use crate::sources::{SkipCounts, SkipReason};

const DOC: &str = include_str!("../../../docs/seed-fidelity.md");
const SAMPLES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/recorded/druva");

/// A report's line of the page: the fields it reads (each a group of alternative
/// spellings) and those it does not.
struct Line {
    report: String,
    read: Vec<Vec<String>>,
    not_read: Vec<String>,
}

/// The backticked names of a cell.
fn names(cell: &str) -> Vec<String> {
    cell.split('`')
        .skip(1)
        .step_by(2)
        .map(str::to_string)
        .collect()
}

fn lines() -> Vec<Line> {
    let section = &DOC[DOC.find("## Druva Microsoft 365 reports").unwrap()..];
    let section = &section[..section.find("\n## ").unwrap()];
    section
        .lines()
        .filter(|l| l.starts_with("| `m365"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").collect();
            assert_eq!(cells.len(), 5, "{l}");
            Line {
                report: names(cells[0]).remove(0),
                read: cells[3].split(", ").map(names).collect(),
                not_read: names(cells[4]),
            }
        })
        .collect()
}

/// How a report reads `row`: the row decoded (or why it was skipped), and what was dropped.
fn reading(report: &str, row: &Map<String, Value>) -> (Result<Parsed, SkipReason>, SkipCounts) {
    let report = find(report).unwrap();
    let text: &'static str = Box::leak(Value::Object(row.clone()).to_string().into_boxed_str());
    let mut de = serde_json::Deserializer::from_str(text);
    let mut skipped = SkipCounts::default();
    let parsed = match report.seed().deserialize(&mut de).unwrap() {
        Row::Record(record) => report.parse(&record, &mut skipped),
        Row::NotAnObject => Err(SkipReason::NotAnObject),
    };
    (parsed, skipped)
}

/// The sample, and the sample after a failed backup of a resource that is not deleted.
fn variants(sample: &Map<String, Value>) -> Vec<Map<String, Value>> {
    let mut failed = sample.clone();
    for (status, text) in [
        ("lastBackupStatus", "Backup Failed"),
        ("backupStatus", "Backup Failed"),
        ("restoreStatus", "Restore Failed"),
    ] {
        if failed.contains_key(status) {
            failed.insert(status.into(), text.into());
        }
    }
    for deleted in ["isDeleted", "isdeleted"] {
        if failed.contains_key(deleted) {
            failed.insert(deleted.into(), 0.into());
        }
    }
    vec![sample.clone(), failed]
}

/// Whether giving `field` a value nothing can read changes the reading of any variant;
/// `others` (its alternative spellings) are taken out first.
fn changes(report: &str, sample: &Map<String, Value>, field: &str, others: &[String]) -> bool {
    variants(sample).into_iter().any(|mut row| {
        for other in others {
            row.remove(other);
        }
        let before = reading(report, &row);
        row.insert(field.into(), json!({"unreadable": [1]}));
        reading(report, &row) != before
    })
}

#[test]
fn the_page_says_what_each_report_reads() {
    let lines = lines();
    assert_eq!(lines.len(), 20, "a line per report");
    let mut wrong = Vec::new();
    for line in &lines {
        let path = format!("{SAMPLES}/{}.json", line.report);
        let page: Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        let sample = page["data"][0].as_object().unwrap();
        for group in &line.read {
            for field in group {
                let others: Vec<String> = group.iter().filter(|f| *f != field).cloned().collect();
                if !changes(&line.report, sample, field, &others) {
                    wrong.push(format!(
                        "{}: {field} is said to be read but is not",
                        line.report
                    ));
                }
            }
        }
        for field in &line.not_read {
            if changes(&line.report, sample, field, &[]) {
                wrong.push(format!(
                    "{}: {field} is said not to be read but is",
                    line.report
                ));
            }
        }
        // Every field of the sample is on the page, one way or the other.
        for field in sample.keys() {
            let listed = line
                .read
                .iter()
                .flatten()
                .chain(&line.not_read)
                .any(|f| f == field);
            if !listed {
                wrong.push(format!(
                    "{}: {field} of the sample is not on the page",
                    line.report
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
