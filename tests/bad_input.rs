//! Label values of any text survive escaping, read back identical and pass `promtool check
//! metrics`. (Any JSON in any field of a vendor's row is the vendors' own property tests,
//! `src/sources/*/proptests.rs`.)

mod common;

use std::io::Write;
use std::process::{Command, Stdio};

use backup_exporter::{ExpositionBuilder, FamilyDef, Format, Value};
use common::Metrics;
use proptest::prelude::*;
use proptest::strategy::ValueTree;

/// A family whose label values are any text.
static LABELLED: FamilyDef = FamilyDef::gauge("backup_test_labelled", "Label values of any text.");

#[test]
fn label_values_of_any_text_round_trip_and_pass_promtool() {
    let mut runner = proptest::test_runner::TestRunner::default();
    let strategy = prop::collection::vec(
        prop_oneof!["\\PC{0,30}", "[\"\\\\\n a-z]{0,12}", ".{0,20}"],
        300,
    );
    let values = strategy.new_tree(&mut runner).unwrap().current();
    let mut builder = ExpositionBuilder::new(
        "source \"with\" \\ quirks",
        &[("tenant".into(), "a\nb".into())],
    );
    for (i, value) in values.iter().enumerate() {
        let labels = builder.labels(&[
            ("org", value),
            ("device_uid", &i.to_string()),
            ("destination", value),
        ]);
        builder.push(&LABELLED, labels, Value::Int(i as i64));
    }
    let exposition = builder.finish();
    let mut body = Vec::new();
    backup_exporter::produce(
        b"",
        &[&exposition],
        &[&LABELLED],
        0,
        Format::Text,
        false,
        |chunk| {
            body.extend_from_slice(&chunk);
            true
        },
    );
    let text = String::from_utf8(body).unwrap();
    let parsed = Metrics::parse(&text);
    assert_eq!(parsed.0.len(), values.len());
    for (i, sample) in parsed.0.iter().enumerate() {
        assert_eq!(sample.labels["org"], values[i]);
        assert_eq!(sample.labels["destination"], values[i]);
        assert_eq!(sample.labels["source"], "source \"with\" \\ quirks");
        assert_eq!(sample.labels["tenant"], "a\nb");
    }
    let Some(promtool) = common::required_tool(&["promtool"], "prometheus") else {
        return;
    };
    let mut promtool = Command::new(promtool)
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    promtool
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    let output = promtool.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
}
