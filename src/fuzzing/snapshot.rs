//! A structured target: `arbitrary` builds a snapshot of any source name, label values and
//! sample values (every kind of value, NaN and the limits of i64 included), and the
//! snapshot's invariants are checked (`exposition::invariants`): gzip inflates to the plain
//! body, both formats carry the same samples, and every label value reads back escaped to
//! exactly what went in.

use arbitrary::{Result, Unstructured};

use crate::exposition::{ExpositionBuilder, Family, FamilyDef, Value, invariants};

static GAUGE: FamilyDef = FamilyDef::gauge("backup_fuzz", "A gauge.");
static COUNTER: FamilyDef = FamilyDef::counter("backup_fuzz_total", "A counter.");
static INFO: FamilyDef = FamilyDef::info("backup_fuzz_info", "An info family.");
static AGE: FamilyDef = FamilyDef::age("backup_fuzz_age_seconds", "An age, at scrape time.");
const FAMILIES: [Family; 4] = [&GAUGE, &COUNTER, &INFO, &AGE];

pub(super) fn snapshot(data: &[u8]) {
    crate::sources::fuzzing::enter();
    let _ = build_and_check(&mut Unstructured::new(data));
}

fn build_and_check(u: &mut Unstructured) -> Result<()> {
    let source: String = u.arbitrary()?;
    let tenant: String = u.arbitrary()?;
    let mut builder = ExpositionBuilder::new(&source, &[("tenant".into(), tenant.clone())]);
    let mut pushed = Vec::new();
    for _ in 0..u.int_in_range(0..=64)? {
        let family = FAMILIES[u.choose_index(FAMILIES.len())?];
        let (org, device): (String, String) = (u.arbitrary()?, u.arbitrary()?);
        let value = match u.int_in_range(0..=3)? {
            0 => Value::Int(u.arbitrary()?),
            1 => Value::Float(f64::from_bits(u.arbitrary()?)),
            2 => Value::TimestampMs(u.arbitrary()?),
            _ => Value::AgeSinceMs(u.arbitrary()?),
        };
        let labels = builder.labels(&[("org", &org), ("device_uid", &device)]);
        builder.push(family, labels, value);
        pushed.push((family.name, org, device));
    }
    let now_ms: i64 = u.arbitrary()?;
    let samples = invariants::check(&builder.finish(), &FAMILIES, now_ms);
    // Samples come family by family, each family's in the order they were pushed.
    pushed.sort_by_key(|(name, _, _)| FAMILIES.iter().position(|f| f.name == *name));
    assert_eq!(samples.len(), pushed.len(), "one sample per series pushed");
    for (sample, (name, org, device)) in samples.iter().zip(&pushed) {
        let expected = [
            ("source", source.as_str()),
            ("org", org),
            ("device_uid", device),
            ("tenant", tenant.as_str()),
        ];
        let read: Vec<(&str, &str)> = sample
            .labels
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect();
        assert_eq!(read, expected, "labels read back as they went in");
        assert_eq!(sample.name, *name);
    }
    Ok(())
}
