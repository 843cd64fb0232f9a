//! What every encoded snapshot must satisfy, whatever text went into its labels and
//! whatever numbers into its values: checked by the fuzz targets on every snapshot they
//! build. The gzip body inflates to exactly the plain body, the text and OpenMetrics
//! bodies carry the same sample lines, and every sample line reads back as a metric name,
//! well-escaped label pairs and a number.

use std::io::Read;

use super::{Exposition, Family, Format, produce};

/// A sample line, read back.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sample {
    pub(crate) name: String,
    /// Label names and their values, unescaped, in order.
    pub(crate) labels: Vec<(String, String)>,
    pub(crate) value: f64,
}

/// Encodes `exposition` as every scrape can ask for it, panics if an invariant does not
/// hold, and returns its samples.
pub(crate) fn check(exposition: &Exposition, families: &[Family], now_ms: i64) -> Vec<Sample> {
    let body = |format: Format, gzip: bool| {
        let mut out = Vec::new();
        produce(
            b"",
            &[exposition],
            families,
            now_ms,
            format,
            gzip,
            |chunk| {
                out.extend_from_slice(&chunk);
                true
            },
        );
        out
    };
    let mut bodies = Vec::new();
    for format in [Format::Text, Format::OpenMetrics { v1: true }] {
        let plain = body(format, false);
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&body(format, true)[..])
            .read_to_end(&mut inflated)
            .expect("the gzip body is one complete gzip member");
        assert!(
            inflated == plain,
            "the gzip body inflates to the plain body ({format:?})"
        );
        bodies.push(String::from_utf8(plain).expect("the body is UTF-8"));
    }
    let sample_lines = |body: &str| -> Vec<String> {
        body.lines()
            .filter(|line| !line.starts_with('#'))
            .map(str::to_string)
            .collect()
    };
    let lines = sample_lines(&bodies[0]);
    assert_eq!(
        lines,
        sample_lines(&bodies[1]),
        "both formats carry the same samples"
    );
    assert!(bodies[0].is_empty() || bodies[0].ends_with('\n'));
    assert!(
        bodies[1].ends_with("# EOF\n"),
        "OpenMetrics ends with # EOF"
    );
    lines
        .iter()
        .map(|line| read_sample(line).unwrap_or_else(|e| panic!("{e}: {line:?}")))
        .collect()
}

/// Reads a sample line of the text format: `name{label="value",...} number`.
pub(crate) fn read_sample(line: &str) -> Result<Sample, &'static str> {
    let end = line.find(['{', ' ']).ok_or("no value")?;
    let name = &line[..end];
    if !is_name(name, true) {
        return Err("not a metric name");
    }
    let mut rest = &line[end..];
    let mut labels = Vec::new();
    if let Some(after) = rest.strip_prefix('{') {
        rest = after;
        loop {
            let (label, after) = rest.split_once("=\"").ok_or("no label value")?;
            if !is_name(label, false) {
                return Err("not a label name");
            }
            let (value, after) = unescape(after)?;
            labels.push((label.to_string(), value));
            rest = match after.as_bytes().first() {
                Some(b',') => &after[1..],
                Some(b'}') => {
                    rest = &after[1..];
                    break;
                }
                _ => return Err("label pairs are not separated"),
            };
        }
    }
    let value = rest.strip_prefix(' ').ok_or("no space before the value")?;
    let value = match value {
        "NaN" => f64::NAN,
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        number
            if number
                .bytes()
                .all(|b| b.is_ascii_digit() || b"+-.eE".contains(&b)) =>
        {
            number.parse().map_err(|_| "not a number")?
        }
        _ => return Err("not a number"),
    };
    Ok(Sample {
        name: name.to_string(),
        labels,
        value,
    })
}

fn is_name(text: &str, colons: bool) -> bool {
    let ok = |b: u8| b.is_ascii_alphanumeric() || b == b'_' || (colons && b == b':');
    text.bytes()
        .next()
        .is_some_and(|b| ok(b) && !b.is_ascii_digit())
        && text.bytes().all(ok)
}

/// A label value up to its closing quote, unescaped, and what follows the quote. Only
/// `\\`, `\"` and `\n` may be escaped; a raw quote would have ended it.
fn unescape(text: &str) -> Result<(String, &str), &'static str> {
    let mut value = String::new();
    let mut chars = text.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Ok((value, &text[i + 1..])),
            '\\' => match chars.next() {
                Some((_, '\\')) => value.push('\\'),
                Some((_, '"')) => value.push('"'),
                Some((_, 'n')) => value.push('\n'),
                _ => return Err("a backslash escapes something else"),
            },
            c => value.push(c),
        }
    }
    Err("a label value is not closed")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_back_what_the_encoder_writes_and_refuses_what_it_must_not() {
        let sample = read_sample(r#"backup_x{source="a\"b\\c\nd",org=""} -1.5e3"#).unwrap();
        assert_eq!(sample.name, "backup_x");
        assert_eq!(
            sample.labels,
            [
                ("source".into(), "a\"b\\c\nd".into()),
                ("org".into(), "".into())
            ]
        );
        assert_eq!(sample.value, -1500.0);
        assert!(read_sample("backup_x NaN").unwrap().value.is_nan());
        for bad in [
            r#"backup_x{source="a"b"} 1"#,
            r#"backup_x{source="a\tb"} 1"#,
            r#"backup_x{source="a} 1"#,
            "backup_x 1 2",
            "backup_x inf",
            "1backup 1",
        ] {
            assert!(read_sample(bad).is_err(), "{bad}");
        }
    }
}
