//! A source's series, ready to write: label sets escaped once per refresh, values as numbers.
//!
//! A refresh builds one [`Exposition`] per source. Families whose values do not depend on the
//! time of the scrape are deflated once and kept only deflated ([`GzSegment`]): a gzip scrape
//! copies them instead of encoding and compressing hundreds of megabytes each time, and the
//! snapshot of 100,000 devices stays a few tens of megabytes. A plain scrape inflates them.
//! Only the label sets of families written at each scrape (ages) are kept as text; a static
//! family's lines are rendered as its series are added and deflated beside the thread that
//! adds them, so a large refresh never holds the text of a million series.

use std::ops::Range;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::exposition::Family;
use crate::exposition::gzip::{GzSegment, SegmentCompressor, inflate};

/// A sample value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Value {
    Int(i64),
    Float(f64),
    /// A Unix time in milliseconds, written as seconds.
    TimestampMs(i64),
    /// Seconds elapsed since this Unix time (milliseconds) at the moment of the scrape.
    AgeSinceMs(i64),
}

impl Value {
    fn write(self, now_ms: i64, out: &mut Vec<u8>) {
        match self {
            Value::Int(v) => out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes()),
            Value::Float(v) => write_float(v, out),
            Value::TimestampMs(ms) => write_seconds(out, ms),
            // A timestamp slightly in the future (clock skew) is an age of zero, not negative.
            Value::AgeSinceMs(ms) => write_seconds(out, now_ms.saturating_sub(ms).max(0)),
        }
    }
}

fn write_float(v: f64, out: &mut Vec<u8>) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
    } else if v.fract() == 0.0 && v.abs() < 1e15 {
        out.extend_from_slice(itoa::Buffer::new().format(v as i64).as_bytes());
    } else {
        out.extend_from_slice(ryu::Buffer::new().format_finite(v).as_bytes());
    }
}

/// Writes Unix milliseconds as Prometheus seconds with at most three decimals, e.g. `1602533872.084`.
pub(crate) fn write_seconds(out: &mut Vec<u8>, ms: i64) {
    let mut buf = itoa::Buffer::new();
    if ms < 0 {
        out.push(b'-');
    }
    let abs = ms.unsigned_abs();
    out.extend_from_slice(buf.format(abs / 1000).as_bytes());
    let frac = abs % 1000;
    if frac != 0 {
        let digits = [
            b'0' + (frac / 100) as u8,
            b'0' + (frac / 10 % 10) as u8,
            b'0' + (frac % 10) as u8,
        ];
        let len = if frac % 100 == 0 {
            1
        } else if frac % 10 == 0 {
            2
        } else {
            3
        };
        out.push(b'.');
        out.extend_from_slice(&digits[..len]);
    }
}

/// Appends `value` escaped for a label value in both text formats.
pub(crate) fn escape_label_value(value: &str, out: &mut String) {
    if !value.contains(['\\', '"', '\n']) {
        out.push_str(value);
        return;
    }
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
}

/// Index of a label set in an [`Exposition`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LabelId(u32);

/// Label sets, escaped, without braces, kept in blocks of at most about a megabyte. A
/// block is never moved once full, so a million label sets never exist twice: one string
/// grown by doubling held two copies of the text for a moment, at the peak of every large
/// refresh.
#[derive(Debug, Default)]
struct LabelTexts {
    blocks: Vec<String>,
    /// (block, start, end) of each label set.
    spans: Vec<(u32, u32, u32)>,
}

impl LabelTexts {
    /// The largest block; the first ones are smaller, so a small exposition stays small.
    const BLOCK: usize = 1 << 20;

    fn get(&self, id: LabelId) -> &str {
        let (block, start, end) = self.spans[id.0 as usize];
        &self.blocks[block as usize][start as usize..end as usize]
    }

    /// Adds the label set `write` writes.
    fn push(&mut self, write: impl FnOnce(&mut String)) -> LabelId {
        let full = self
            .blocks
            .last()
            .is_none_or(|block| block.len() >= block.capacity().min(Self::BLOCK) * 15 / 16);
        if full {
            let written: usize = self.blocks.iter().map(String::len).sum();
            let size = written.clamp(4096, Self::BLOCK);
            self.blocks.push(String::with_capacity(size));
        }
        let index = self.blocks.len() - 1;
        let block = &mut self.blocks[index];
        let start = block.len();
        write(block);
        let id = LabelId(self.spans.len() as u32);
        self.spans
            .push((index as u32, start as u32, block.len() as u32));
        id
    }

    fn shrink_to_fit(&mut self) {
        if let Some(block) = self.blocks.last_mut() {
            block.shrink_to_fit();
        }
        self.spans.shrink_to_fit();
    }
}

/// The series of one family for one source.
#[derive(Debug)]
pub struct Table {
    family: Family,
    len: usize,
    samples: Samples,
}

#[derive(Debug)]
enum Samples {
    /// Label sets and values, written at each scrape: families whose values depend on the
    /// time of the scrape.
    Live {
        labels: Vec<LabelId>,
        values: Vec<Value>,
    },
    /// The sample lines, deflated once per refresh.
    Deflated(GzSegment),
}

impl Table {
    pub fn family(&self) -> Family {
        self.family
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The deflated sample lines of a static family.
    pub fn deflated(&self) -> Option<&GzSegment> {
        match &self.samples {
            Samples::Deflated(segment) => Some(segment),
            Samples::Live { .. } => None,
        }
    }
}

/// All series of one source, ready to be written by a scrape.
#[derive(Debug)]
pub struct Exposition {
    labels: LabelTexts,
    /// One per family with series, in the order the first series was added.
    tables: Vec<Table>,
    /// Series left out because of `max_series`.
    dropped: usize,
}

impl Exposition {
    pub fn table(&self, family: Family) -> Option<&Table> {
        self.tables.iter().find(|t| t.family.is(family))
    }

    /// Total number of series.
    pub fn series_count(&self) -> usize {
        self.tables.iter().map(Table::len).sum()
    }

    /// Series left out because of the source's `max_series`.
    pub fn dropped_series(&self) -> usize {
        self.dropped
    }

    fn label_text(&self, id: LabelId) -> &str {
        self.labels.get(id)
    }

    /// Writes samples `range` of a live table in the text format shared by 0.0.4 and
    /// OpenMetrics.
    fn render(
        &self,
        family: Family,
        (labels, values): (&[LabelId], &[Value]),
        range: Range<usize>,
        now_ms: i64,
        out: &mut Vec<u8>,
    ) {
        for i in range {
            write_sample(out, family, self.label_text(labels[i]), values[i], now_ms);
        }
    }

    /// Renders a whole table in chunks of about `chunk` bytes, handing each to `sink`.
    pub fn render_chunks(
        &self,
        table: &Table,
        now_ms: i64,
        chunk: usize,
        mut sink: impl FnMut(&mut Vec<u8>),
    ) {
        let live = match &table.samples {
            Samples::Live { labels, values } => (&labels[..], &values[..]),
            Samples::Deflated(segment) => return inflate(segment, chunk, sink),
        };
        let mut buf = Vec::with_capacity(chunk + 1024);
        let mut start = 0;
        // Series lines are roughly the same length, so estimate the step from the first ones.
        let mut step = 64;
        while start < table.len() {
            let end = (start + step).min(table.len());
            self.render(table.family, live, start..end, now_ms, &mut buf);
            if buf.len() >= chunk {
                sink(&mut buf);
                buf.clear();
            } else if step < 1 << 20 {
                step *= 2;
            }
            start = end;
        }
        if !buf.is_empty() {
            sink(&mut buf);
        }
    }
}

/// Collects the series of one source; [`ExpositionBuilder::finish`] deflates the static
/// families.
pub struct ExpositionBuilder {
    /// `source="..."` and the source's extra labels, escaped, each followed by a comma
    /// except the last.
    source_labels: String,
    extra_labels: String,
    /// The label set being used: made by [`ExpositionBuilder::labels`], used by the pushes
    /// that follow it, and stored only if a live family uses it.
    current: String,
    current_id: u32,
    current_stored: Option<LabelId>,
    /// The label sets of live families.
    labels: LabelTexts,
    tables: Vec<Building>,
    deflater: Deflater,
    series: usize,
    max_series: Option<usize>,
    dropped: usize,
}

impl ExpositionBuilder {
    /// `source` is the source name; `extra` are the source's configured labels.
    pub fn new(source: &str, extra: &[(String, String)]) -> Self {
        let mut source_labels = String::from("source=\"");
        escape_label_value(source, &mut source_labels);
        source_labels.push('"');
        let mut extra_labels = String::new();
        for (name, value) in extra {
            extra_labels.push(',');
            extra_labels.push_str(name);
            extra_labels.push_str("=\"");
            escape_label_value(value, &mut extra_labels);
            extra_labels.push('"');
        }
        ExpositionBuilder {
            source_labels,
            extra_labels,
            current: String::new(),
            current_id: 0,
            current_stored: None,
            labels: LabelTexts::default(),
            deflater: Deflater::default(),
            tables: Vec::new(),
            series: 0,
            max_series: None,
            dropped: 0,
        }
    }

    /// Caps the series of the source; see [`ExpositionBuilder::admit`].
    pub fn limit(&mut self, max_series: Option<usize>) {
        self.max_series = max_series;
    }

    pub fn is_limited(&self) -> bool {
        self.max_series.is_some()
    }

    /// Whether `n` more series fit under the cap. Vendors add their aggregates first and
    /// then ask before each device's or resource's series, stalest first, so a cap cuts
    /// whole items and never an aggregate. Once an item does not fit, no later one is
    /// admitted either: what is left out is always the least stale; it is counted as dropped.
    pub fn admit(&mut self, n: usize) -> bool {
        match self.max_series {
            Some(max) if self.dropped > 0 || self.series + n > max => {
                self.dropped += n;
                false
            }
            _ => true,
        }
    }

    /// Reserves room for about `label_sets` label sets of live families.
    pub fn reserve_labels(&mut self, label_sets: usize) {
        self.labels.spans.reserve(label_sets);
    }

    /// Makes a label set: `source`, then `pairs` in order, then the source's extra labels.
    /// It is used by the pushes that follow, until the next one is made.
    pub fn labels(&mut self, pairs: &[(&str, &str)]) -> LabelId {
        let text = &mut self.current;
        text.clear();
        text.push_str(&self.source_labels);
        for (name, value) in pairs {
            text.push(',');
            text.push_str(name);
            text.push_str("=\"");
            escape_label_value(value, text);
            text.push('"');
        }
        text.push_str(&self.extra_labels);
        self.current_id += 1;
        self.current_stored = None;
        LabelId(self.current_id)
    }

    /// Adds a series of `family` with the label set made last (`labels`).
    pub fn push(&mut self, family: Family, labels: LabelId, value: Value) {
        assert_eq!(
            labels.0, self.current_id,
            "a label set is used before the next one is made"
        );
        let index = match self.tables.iter().position(|t| t.family.is(family)) {
            Some(index) => index,
            None => {
                self.tables.push(Building {
                    family,
                    len: 0,
                    samples: if family.dynamic {
                        Pending::Live(Vec::new(), Vec::new())
                    } else {
                        Pending::Static(Vec::new())
                    },
                });
                self.tables.len() - 1
            }
        };
        let table = &mut self.tables[index];
        table.len += 1;
        self.series += 1;
        match &mut table.samples {
            Pending::Live(labels, values) => {
                let current = &self.current;
                let stored = *self
                    .current_stored
                    .get_or_insert_with(|| self.labels.push(|text| text.push_str(current)));
                labels.push(stored);
                values.push(value);
            }
            Pending::Static(text) => {
                write_sample(text, family, &self.current, value, 0);
                if text.len() >= DEFLATE_CHUNK {
                    let full = std::mem::replace(text, Vec::with_capacity(DEFLATE_CHUNK + 1024));
                    self.deflater.start();
                    self.deflater.send(index, full);
                }
            }
        }
    }

    /// Freezes the series: deflates what is left of every static family.
    pub fn finish(mut self) -> Exposition {
        for (index, table) in self.tables.iter_mut().enumerate() {
            if let Pending::Static(text) = &mut table.samples {
                self.deflater.send(index, std::mem::take(text));
            }
        }
        let mut segments = self.deflater.finish().into_iter();
        let tables = self
            .tables
            .into_iter()
            .map(|table| {
                let segment = segments.next().flatten();
                Table {
                    family: table.family,
                    len: table.len,
                    samples: match (table.samples, segment) {
                        (_, Some(segment)) => Samples::Deflated(segment),
                        (Pending::Live(mut labels, mut values), None) => {
                            labels.shrink_to_fit();
                            values.shrink_to_fit();
                            Samples::Live { labels, values }
                        }
                        (Pending::Static(_), None) => {
                            unreachable!("every static table was handed to the deflater")
                        }
                    },
                }
            })
            .collect();
        self.labels.shrink_to_fit();
        Exposition {
            labels: self.labels,
            tables,
            dropped: self.dropped,
        }
    }
}

/// One sample line, in the text format shared by 0.0.4 and OpenMetrics: `labels` is a label
/// set as stored, escaped and without braces.
fn write_sample(out: &mut Vec<u8>, family: Family, labels: &str, value: Value, now_ms: i64) {
    out.extend_from_slice(family.name.as_bytes());
    out.push(b'{');
    out.extend_from_slice(labels.as_bytes());
    out.extend_from_slice(b"} ");
    value.write(now_ms, out);
    out.push(b'\n');
}

/// A family's series while the exposition is built.
struct Building {
    family: Family,
    len: usize,
    samples: Pending,
}

enum Pending {
    /// Label sets and values of a family written at each scrape.
    Live(Vec<LabelId>, Vec<Value>),
    /// Lines of a static family not yet handed to the deflater.
    Static(Vec<u8>),
}

/// How much of a static family's text is deflated at once.
const DEFLATE_CHUNK: usize = 256 * 1024;

/// Deflates static families' text, a chunk at a time: on the building thread until the
/// first chunk is full (a small exposition never starts a thread), then on a helper thread
/// beside it, below the scrapes' priority, a few chunks behind at most.
#[derive(Default)]
struct Deflater {
    /// A compressor per table index.
    local: Vec<Option<SegmentCompressor>>,
    helper: Option<DeflateHelper>,
}

/// The helper thread: where chunks go, and the compressors it hands back when done.
type DeflateHelper = (
    SyncSender<(usize, Vec<u8>)>,
    JoinHandle<Vec<Option<SegmentCompressor>>>,
);

impl Deflater {
    fn start(&mut self) {
        if self.helper.is_some() {
            return;
        }
        let (chunks, received) = sync_channel::<(usize, Vec<u8>)>(4);
        let mut compressors = std::mem::take(&mut self.local);
        let helper = std::thread::Builder::new()
            .name("deflate".into())
            .spawn(move || {
                crate::runtime::background::lower_priority();
                for (table, text) in received {
                    compress(&mut compressors, table, &text);
                }
                compressors
            })
            .expect("the deflate thread starts");
        self.helper = Some((chunks, helper));
    }

    fn send(&mut self, table: usize, text: Vec<u8>) {
        match &self.helper {
            Some((chunks, _)) => chunks
                .send((table, text))
                .expect("the deflate thread runs until finish"),
            None => compress(&mut self.local, table, &text),
        }
    }

    /// Each table's deflated lines, by table index (`None` for live tables).
    fn finish(self) -> Vec<Option<GzSegment>> {
        let compressors = match self.helper {
            Some((chunks, helper)) => {
                drop(chunks);
                helper.join().expect("deflate does not panic")
            }
            None => self.local,
        };
        compressors
            .into_iter()
            .map(|c| c.map(SegmentCompressor::finish))
            .collect()
    }
}

fn compress(compressors: &mut Vec<Option<SegmentCompressor>>, table: usize, text: &[u8]) {
    if compressors.len() <= table {
        compressors.resize_with(table + 1, || None);
    }
    compressors[table]
        .get_or_insert_with(SegmentCompressor::new)
        .write(text);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::exposition::FamilyDef;

    pub(crate) static INFO: FamilyDef = FamilyDef::info("backup_device_info", "Device.");
    pub(crate) static ARCHIVE_BYTES: FamilyDef =
        FamilyDef::gauge("backup_device_archive_bytes", "Archive size.");
    pub(crate) static COMPLETE_RATIO: FamilyDef =
        FamilyDef::gauge("backup_device_backup_complete_ratio", "Ratio.");
    pub(crate) static BACKUP_AGE: FamilyDef =
        FamilyDef::age("backup_device_backup_age_seconds", "Age.");
    pub(crate) static LAST_COMPLETED: FamilyDef = FamilyDef::gauge(
        "backup_device_last_completed_backup_timestamp_seconds",
        "Last completed.",
    );
    pub(crate) static SELECTED_BYTES: FamilyDef =
        FamilyDef::gauge("backup_device_selected_bytes", "Selected.");

    #[test]
    fn label_values_are_escaped() {
        let mut out = String::new();
        escape_label_value("a\"b\\c\nd é", &mut out);
        assert_eq!(out, r#"a\"b\\c\nd é"#);
    }

    #[test]
    fn renders_lines_with_source_and_extra_labels() {
        let mut builder = ExpositionBuilder::new("us", &[("tenant".into(), "ac\"me".into())]);
        let a = builder.labels(&[("org", "Eng"), ("device_uid", "1")]);
        builder.push(&ARCHIVE_BYTES, a, Value::Int(1745757673));
        builder.push(&COMPLETE_RATIO, a, Value::Float(0.997));
        builder.push(&BACKUP_AGE, a, Value::AgeSinceMs(1_000));
        builder.push(&LAST_COMPLETED, a, Value::TimestampMs(1_602_533_872_084));
        let ex = builder.finish();
        let mut out = Vec::new();
        for family in [
            &ARCHIVE_BYTES,
            &COMPLETE_RATIO,
            &BACKUP_AGE,
            &LAST_COMPLETED,
        ] {
            let table = ex.table(family).unwrap();
            ex.render_chunks(table, 61_500, 1024, |chunk| out.extend_from_slice(chunk));
        }
        let labels = r#"{source="us",org="Eng",device_uid="1",tenant="ac\"me"}"#;
        assert_eq!(
            String::from_utf8(out).unwrap(),
            format!(
                "backup_device_archive_bytes{labels} 1745757673\n\
                 backup_device_backup_complete_ratio{labels} 0.997\n\
                 backup_device_backup_age_seconds{labels} 60.5\n\
                 backup_device_last_completed_backup_timestamp_seconds{labels} 1602533872.084\n"
            )
        );
        let deflated = |family| ex.table(family).unwrap().deflated().is_some();
        assert!(deflated(&ARCHIVE_BYTES));
        assert!(!deflated(&BACKUP_AGE), "ages are written at each scrape");
    }

    #[test]
    fn seconds_keep_milliseconds_exactly() {
        let render = |ms| {
            let mut out = Vec::new();
            write_seconds(&mut out, ms);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(render(1_602_533_872_084), "1602533872.084");
        assert_eq!(render(1_602_533_872_080), "1602533872.08");
        assert_eq!(render(1_602_533_872_000), "1602533872");
        assert_eq!(render(5), "0.005");
        assert_eq!(render(-1500), "-1.5");
    }

    #[test]
    fn floats() {
        let render = |v| {
            let mut out = Vec::new();
            write_float(v, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(render(1.0), "1");
        assert_eq!(render(0.5), "0.5");
        assert_eq!(render(f64::NAN), "NaN");
        assert_eq!(render(f64::INFINITY), "+Inf");
        assert_eq!(render(1e20), "1e20");
    }

    #[test]
    fn chunked_rendering_covers_every_series_once() {
        let build = || {
            let mut builder = ExpositionBuilder::new("s", &[]);
            for i in 0..5000 {
                let l = builder.labels(&[("device_uid", &i.to_string())]);
                builder.push(&SELECTED_BYTES, l, Value::Int(i));
                builder.push(&BACKUP_AGE, l, Value::AgeSinceMs(i * 1000));
            }
            builder.finish()
        };
        let ex = build();
        for (family, line) in [
            (
                &SELECTED_BYTES,
                (|i: i64| {
                    format!("backup_device_selected_bytes{{source=\"s\",device_uid=\"{i}\"}} {i}\n")
                }) as fn(i64) -> String,
            ),
            (&BACKUP_AGE, |i: i64| {
                format!(
                    "backup_device_backup_age_seconds{{source=\"s\",device_uid=\"{i}\"}} {}\n",
                    10_000 - i
                )
            }),
        ] {
            let expected: String = (0..5000).map(line).collect();
            let mut chunks = Vec::new();
            let mut count = 0;
            ex.render_chunks(ex.table(family).unwrap(), 10_000_000, 4096, |c| {
                chunks.extend_from_slice(c);
                count += 1;
            });
            assert_eq!(String::from_utf8(chunks).unwrap(), expected);
            assert!(count > 10, "{count} chunks");
        }
    }

    #[test]
    fn only_the_label_sets_of_live_tables_are_kept() {
        let mut builder = ExpositionBuilder::new("s", &[]);
        for i in 0..100 {
            let device = builder.labels(&[("device_uid", &i.to_string()), ("name", "laptop")]);
            builder.push(&INFO, device, Value::Int(1));
            let archive = builder.labels(&[("device_uid", &i.to_string())]);
            builder.push(&BACKUP_AGE, archive, Value::AgeSinceMs(0));
        }
        let ex = builder.finish();
        assert_eq!(ex.labels.spans.len(), 100);
        assert!(!ex.labels.blocks.iter().any(|b| b.contains("laptop")));
        assert_eq!(ex.series_count(), 200);
    }
}
