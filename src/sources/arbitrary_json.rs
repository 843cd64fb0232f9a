//! Arbitrary JSON for the vendors' property tests: any value in any field of a row.

use proptest::prelude::*;
use serde_json::Map;

/// Any JSON value, nested a few levels, with the strings vendors' parsers trip on.
pub(crate) fn any_json() -> impl Strategy<Value = serde_json::Value> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::Bool),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<u64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("JSON has no NaN", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        ".{0,40}".prop_map(serde_json::Value::String),
        prop_oneof![
            Just("2020-10-12T20:17:52.084Z"),
            Just("Apr 13, 2015 10:22:33 AM"),
            Just("99.7"),
            Just("-1"),
            Just("1e400"),
            Just("null"),
            Just("true"),
            Just("OK, CriticalBackupAlert"),
            Just(""),
        ]
        .prop_map(|s| serde_json::Value::String(s.into())),
    ];
    leaf.prop_recursive(3, 24, 4, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::Array),
            prop::collection::btree_map(".{0,8}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    })
}

/// `row` with `value` in its field number `pick` (counting one field the row did not have).
pub(crate) fn fuzz_field(
    mut row: Map<String, serde_json::Value>,
    pick: usize,
    value: serde_json::Value,
) -> Map<String, serde_json::Value> {
    let keys: Vec<String> = row
        .keys()
        .cloned()
        .chain(["unexpectedField".to_string()])
        .collect();
    row.insert(keys[pick % keys.len()].clone(), value);
    row
}
