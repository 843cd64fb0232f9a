//! `docs/seed-fidelity.md` held to the decoder: every field its Code42 table says is read
//! (a metric named) changes the reading of a row when it carries a value nothing can read,
//! and every field it says is not read (`—`) changes nothing. The row is the recorded one
//! (`tests/fixtures/recorded/code42/`), as it is and with an unnamed org on an old server
//! that names destinations by UID only (some fields are read only then).

use serde::de::DeserializeSeed;
use serde_json::{Map, Value, json};

use super::row::{ArchiveRow, SEED};
use crate::sources::SkipCounts;
use crate::sources::record::Row;

const DOC: &str = include_str!("../../../docs/seed-fidelity.md");
const SAMPLE: &str = include_str!("../../../tests/fixtures/recorded/code42/code42cli-archive.json");

/// The table's fields: (name, whether it is read).
fn fields() -> Vec<(String, bool)> {
    let section = &DOC[DOC.find("## Code42 DeviceBackupReport").unwrap()..];
    let section = &section[..section.find("\n## ").unwrap()];
    section
        .lines()
        .filter(|l| l.starts_with("| `"))
        .map(|l| {
            let cells: Vec<&str> = l.trim_matches('|').split(" | ").collect();
            let name = cells[0].trim().trim_matches('`').to_string();
            (name, cells[1].trim() != "—")
        })
        .collect()
}

/// How the decoder reads `row`: the row (or why it was skipped) and what it dropped.
fn reading(row: &Map<String, Value>) -> (String, SkipCounts) {
    let text: &'static str = Box::leak(Value::Object(row.clone()).to_string().into_boxed_str());
    let mut de = serde_json::Deserializer::from_str(text);
    let mut skipped = SkipCounts::default();
    let parsed = match SEED.deserialize(&mut de).unwrap() {
        Row::Record(record) => format!("{:?}", ArchiveRow::parse(&record, &mut skipped)),
        Row::NotAnObject => "not an object".into(),
    };
    (parsed, skipped)
}

#[test]
fn the_page_says_what_the_report_reads() {
    let page: Value = serde_json::from_str(SAMPLE).unwrap();
    let sample = page["data"][0].as_object().unwrap().clone();
    let mut old_server = sample.clone();
    old_server.insert("orgName".into(), Value::Null);
    old_server.insert("destinationName".into(), "".into());
    let fields = fields();
    assert_eq!(fields.len(), 34, "a line per field of the row");
    let mut wrong = Vec::new();
    for (field, read) in &fields {
        let changes = [&sample, &old_server].into_iter().any(|row| {
            let mut row = row.clone();
            let before = reading(&row);
            row.insert(field.clone(), json!({"unreadable": [1]}));
            reading(&row) != before
        });
        if changes != *read {
            wrong.push(format!(
                "{field}: said {}read, but is{}",
                if *read { "" } else { "not " },
                if changes { "" } else { " not" }
            ));
        }
    }
    // Every field of the recorded row is on the page.
    for field in sample.keys() {
        if !fields.iter().any(|(f, _)| f == field) {
            wrong.push(format!("{field} of the row is not on the page"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
