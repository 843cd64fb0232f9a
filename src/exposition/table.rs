//! A source's series, ready to write: label sets escaped once per refresh, values as numbers.
//!
//! A refresh builds one [`Exposition`] per source. Families whose values do not depend on the
//! time of the scrape are deflated once and kept only deflated ([`GzSegment`]): a gzip scrape
//! copies them instead of encoding and compressing hundreds of megabytes each time, and the
//! snapshot of 100,000 devices stays a few tens of megabytes. A plain scrape inflates them.
//! Only the label sets of families written at each scrape (ages) are kept as text; a static
//! family's lines are rendered as its series are added and deflated beside the thread that
//! adds them, so a large refresh never holds the text of a million series.
//!
//! Both are kept in pieces of about 100 KiB that end where the text itself says (a label
//! set whose hash ends in eight zero bits), not at fixed offsets: a device added or removed
//! changes the pieces around it and no others. A refresh built from the snapshot it
//! replaces takes every piece that did not change from that snapshot instead of storing it
//! again, so the two snapshots alive during a refresh share what they have in common.

use std::ops::Range;
use std::sync::Arc;
use std::sync::mpsc::{SyncSender, sync_channel};
use std::thread::JoinHandle;

use crate::exposition::Family;
use crate::exposition::gzip::{GzSegment, Piece, PieceCompressor, inflate};

/// A piece of text ends at the first label set that says so after this many bytes...
const PIECE_MIN: usize = 64 * 1024;
/// ...or after this many in any case.
const PIECE_MAX: usize = 256 * 1024;

/// Whether a piece may end after the label set `text`: about one in 256 may.
fn ends_piece(text: &str) -> bool {
    crc32fast::hash(text.as_bytes()) & 0xff == 0
}

/// Whether a piece of `len` bytes ends after a label set that may end one (`cut`).
fn piece_full(len: usize, cut: bool) -> bool {
    len >= PIECE_MIN && cut || len >= PIECE_MAX
}

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
    /// A count or a size: one too large for the formats' i64 (a state file or a vendor can
    /// say u64::MAX) is written as i64::MAX, never wrapped to a negative number.
    pub fn count(n: impl TryInto<i64>) -> Value {
        Value::Int(n.try_into().unwrap_or(i64::MAX))
    }

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

/// Label sets, escaped, without braces, in blocks (pieces) that are never moved once full.
#[derive(Debug, Default)]
struct LabelTexts {
    blocks: Vec<Arc<str>>,
    /// The block being written.
    open: String,
    /// (block, start, end) of each label set.
    spans: Vec<(u32, u32, u32)>,
}

/// The blocks of the exposition being replaced, to be shared where a block is the same.
type EarlierBlocks = foldhash::HashSet<Arc<str>>;

impl LabelTexts {
    fn get(&self, id: LabelId) -> &str {
        let (block, start, end) = self.spans[id.0 as usize];
        &self.blocks[block as usize][start as usize..end as usize]
    }

    /// Adds the label set `text`; `cut`: a block may end after it.
    fn push(&mut self, text: &str, cut: bool, earlier: &EarlierBlocks) -> LabelId {
        let start = self.open.len();
        self.open.push_str(text);
        let id = LabelId(self.spans.len() as u32);
        self.spans.push((
            self.blocks.len() as u32,
            start as u32,
            self.open.len() as u32,
        ));
        if piece_full(self.open.len(), cut) {
            self.seal(earlier);
        }
        id
    }

    /// Ends the open block, sharing the earlier exposition's block if it is the same.
    fn seal(&mut self, earlier: &EarlierBlocks) {
        if self.open.is_empty() {
            return;
        }
        let block = match earlier.get(self.open.as_str()) {
            Some(same) => same.clone(),
            None => Arc::from(self.open.as_str()),
        };
        self.blocks.push(block);
        self.open.clear();
    }

    fn finish(&mut self, earlier: &EarlierBlocks) {
        self.seal(earlier);
        self.open = String::new();
        self.spans.shrink_to_fit();
    }
}

/// The series of one family for one source.
#[derive(Debug)]
pub(crate) struct Table {
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
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The deflated sample lines of a static family.
    pub(crate) fn deflated(&self) -> Option<&GzSegment> {
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
    pub(crate) fn table(&self, family: Family) -> Option<&Table> {
        self.tables.iter().find(|t| t.family.is(family))
    }

    /// Total number of series.
    pub(crate) fn series_count(&self) -> usize {
        self.tables.iter().map(Table::len).sum()
    }

    /// Series left out because of the source's `max_series`.
    pub(crate) fn dropped_series(&self) -> usize {
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
            write_sample(
                out,
                family,
                "",
                self.label_text(labels[i]),
                values[i],
                now_ms,
            );
        }
    }

    /// Renders a whole table in chunks of about `chunk` bytes, handing each to `sink`.
    pub(crate) fn render_chunks(
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
    /// A piece of text may end after the current label set.
    current_cut: bool,
    /// The label sets of live families.
    labels: LabelTexts,
    earlier_labels: EarlierBlocks,
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
            current_cut: false,
            labels: LabelTexts::default(),
            earlier_labels: EarlierBlocks::default(),
            deflater: Deflater::new(PieceCompressor::new([])),
            tables: Vec::new(),
            series: 0,
            max_series: None,
            dropped: 0,
        }
    }

    /// Builds the exposition that replaces `earlier`: every piece of text the same as one of
    /// `earlier`'s is shared with it instead of stored again.
    pub(crate) fn replacing(mut self, earlier: &Exposition) -> Self {
        assert!(
            self.tables.is_empty(),
            "replacing is set before the first series"
        );
        self.earlier_labels = earlier.labels.blocks.iter().cloned().collect();
        let segments = earlier.tables.iter().filter_map(Table::deflated);
        self.deflater = Deflater::new(PieceCompressor::new(segments));
        self
    }

    /// Caps the series of the source; see [`ExpositionBuilder::admit`].
    pub(crate) fn limit(&mut self, max_series: Option<usize>) {
        self.max_series = max_series;
    }

    pub(crate) fn is_limited(&self) -> bool {
        self.max_series.is_some()
    }

    /// Whether `n` more series fit under the cap. Vendors add their aggregates first and
    /// then ask before each device's or resource's series, stalest first, so a cap cuts
    /// whole items and never an aggregate. Once an item does not fit, no later one is
    /// admitted either: what is left out is always the least stale; it is counted as dropped.
    pub(crate) fn admit(&mut self, n: usize) -> bool {
        match self.max_series {
            Some(max) if self.dropped > 0 || self.series + n > max => {
                self.dropped += n;
                false
            }
            _ => true,
        }
    }

    /// Reserves room for about `label_sets` label sets of live families.
    pub(crate) fn reserve_labels(&mut self, label_sets: usize) {
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
        self.current_cut = ends_piece(text);
        LabelId(self.current_id)
    }

    /// Adds a series of `family` with the label set made last (`labels`).
    pub fn push(&mut self, family: Family, labels: LabelId, value: Value) {
        self.push_part(family, "", labels, value);
    }

    /// Adds a sample of a histogram `family` named with `suffix` (`_bucket`, `_sum` or
    /// `_count`), with the label set made last.
    pub(crate) fn push_part(
        &mut self,
        family: Family,
        suffix: &'static str,
        labels: LabelId,
        value: Value,
    ) {
        debug_assert!(
            suffix.is_empty() || !family.dynamic,
            "a histogram is written once per refresh"
        );
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
                let stored = *self.current_stored.get_or_insert_with(|| {
                    self.labels
                        .push(&self.current, self.current_cut, &self.earlier_labels)
                });
                labels.push(stored);
                values.push(value);
            }
            Pending::Static(text) => {
                write_sample(text, family, suffix, &self.current, value, 0);
                if piece_full(text.len(), self.current_cut) {
                    let full = std::mem::replace(text, Vec::with_capacity(PIECE_MAX + 1024));
                    self.deflater.start();
                    self.deflater.send(index, full);
                }
            }
        }
    }

    /// Freezes the series: deflates what is left of every static family.
    pub fn finish(mut self) -> Exposition {
        for (index, table) in self.tables.iter_mut().enumerate() {
            if let Pending::Static(text) = &mut table.samples
                && !text.is_empty()
            {
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
        self.labels.finish(&self.earlier_labels);
        Exposition {
            labels: self.labels,
            tables,
            dropped: self.dropped,
        }
    }
}

/// One sample line, in the text format shared by 0.0.4 and OpenMetrics: `labels` is a label
/// set as stored, escaped and without braces.
fn write_sample(
    out: &mut Vec<u8>,
    family: Family,
    suffix: &str,
    labels: &str,
    value: Value,
    now_ms: i64,
) {
    out.extend_from_slice(family.name.as_bytes());
    out.extend_from_slice(suffix.as_bytes());
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

/// Deflates static families' text, a piece at a time: on the building thread until the
/// first piece is full (a small exposition never starts a thread), then on a helper thread
/// beside it, below the scrapes' priority, a few pieces behind at most.
struct Deflater {
    /// Until the helper starts.
    local: Option<Deflation>,
    helper: Option<DeflateHelper>,
}

/// The helper thread: where pieces of text go, and what it hands back when done.
type DeflateHelper = (SyncSender<(usize, Vec<u8>)>, JoinHandle<Deflation>);

/// The compressor, and each table's deflated pieces so far by table index.
struct Deflation {
    compressor: PieceCompressor,
    tables: Vec<Option<Vec<Piece>>>,
}

impl Deflation {
    fn add(&mut self, table: usize, text: &[u8]) {
        if self.tables.len() <= table {
            self.tables.resize_with(table + 1, || None);
        }
        let piece = self.compressor.piece(text);
        self.tables[table].get_or_insert_with(Vec::new).push(piece);
    }
}

impl Deflater {
    fn new(compressor: PieceCompressor) -> Self {
        Deflater {
            local: Some(Deflation {
                compressor,
                tables: Vec::new(),
            }),
            helper: None,
        }
    }

    fn start(&mut self) {
        let Some(mut deflation) = self.local.take() else {
            return;
        };
        let (pieces, received) = sync_channel::<(usize, Vec<u8>)>(4);
        let helper = std::thread::Builder::new()
            .name("deflate".into())
            .spawn(move || {
                crate::runtime::background::lower_priority();
                for (table, text) in received {
                    deflation.add(table, &text);
                }
                deflation
            })
            .expect("the deflate thread starts");
        self.helper = Some((pieces, helper));
    }

    fn send(&mut self, table: usize, text: Vec<u8>) {
        match (&mut self.local, &self.helper) {
            (Some(deflation), _) => deflation.add(table, &text),
            (None, Some((pieces, _))) => pieces
                .send((table, text))
                .expect("the deflate thread runs until finish"),
            (None, None) => unreachable!("the deflation is here or on the helper"),
        }
    }

    /// Each table's deflated lines, by table index (`None` for live tables).
    fn finish(self) -> Vec<Option<GzSegment>> {
        let deflation = match (self.local, self.helper) {
            (Some(deflation), _) => deflation,
            (None, Some((pieces, helper))) => {
                drop(pieces);
                helper.join().expect("deflate does not panic")
            }
            (None, None) => unreachable!("the deflation is here or on the helper"),
        };
        deflation
            .tables
            .into_iter()
            .map(|pieces| pieces.map(GzSegment::new))
            .collect()
    }
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
    fn counts_beyond_i64_saturate_instead_of_turning_negative() {
        let written = |value: Value| {
            let mut out = Vec::new();
            value.write(0, &mut out);
            String::from_utf8(out).unwrap()
        };
        assert_eq!(written(Value::count(u64::MAX)), "9223372036854775807");
        assert_eq!(written(Value::count(usize::MAX)), "9223372036854775807");
        assert_eq!(written(Value::count(42u32)), "42");
        assert_eq!(written(Value::count(-3i64)), "-3");
    }

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

    /// 20,000 devices with a static and a live series each; `change` edits the list first.
    fn estate(
        earlier: Option<&Exposition>,
        change: impl FnOnce(&mut Vec<(u32, i64)>),
    ) -> Exposition {
        let mut devices: Vec<(u32, i64)> = (0..20_000).map(|i| (i, 7)).collect();
        change(&mut devices);
        let mut builder = ExpositionBuilder::new("s", &[]);
        if let Some(earlier) = earlier {
            builder = builder.replacing(earlier);
        }
        for (uid, bytes) in devices {
            let l = builder.labels(&[("org", "Engineering"), ("device_uid", &uid.to_string())]);
            builder.push(&SELECTED_BYTES, l, Value::Int(bytes));
            builder.push(&BACKUP_AGE, l, Value::AgeSinceMs(bytes * 1000));
        }
        builder.finish()
    }

    fn text(ex: &Exposition) -> Vec<u8> {
        let mut out = Vec::new();
        for family in [&SELECTED_BYTES, &BACKUP_AGE] {
            ex.render_chunks(ex.table(family).unwrap(), 10_000_000, 4096, |c| {
                out.extend_from_slice(c)
            });
        }
        out
    }

    /// How many of `ex`'s label blocks and deflated pieces are `earlier`'s own, of how many.
    fn shared(ex: &Exposition, earlier: &Exposition) -> ((usize, usize), (usize, usize)) {
        let blocks = &ex.labels.blocks;
        let same_block = |b: &Arc<str>| earlier.labels.blocks.iter().any(|e| Arc::ptr_eq(b, e));
        let pieces = &ex
            .table(&SELECTED_BYTES)
            .unwrap()
            .deflated()
            .unwrap()
            .pieces;
        let earlier_pieces = &earlier
            .table(&SELECTED_BYTES)
            .unwrap()
            .deflated()
            .unwrap()
            .pieces;
        let same_piece = |p: &Piece| {
            earlier_pieces
                .iter()
                .any(|e| e.deflate.as_ptr() == p.deflate.as_ptr())
        };
        (
            (
                blocks.iter().filter(|b| same_block(b)).count(),
                blocks.len(),
            ),
            (
                pieces.iter().filter(|p| same_piece(p)).count(),
                pieces.len(),
            ),
        )
    }

    #[test]
    fn an_unchanged_refresh_shares_all_its_text_with_the_snapshot_it_replaces() {
        let earlier = estate(None, |_| {});
        let ex = estate(Some(&earlier), |_| {});
        let ((blocks_shared, blocks), (pieces_shared, pieces)) = shared(&ex, &earlier);
        assert!(blocks > 5 && pieces > 5, "{blocks} blocks, {pieces} pieces");
        assert_eq!((blocks_shared, pieces_shared), (blocks, pieces));
        assert!(text(&ex) == text(&earlier));
    }

    #[test]
    fn a_device_added_and_a_value_changed_leave_the_other_pieces_shared() {
        let earlier = estate(None, |_| {});
        let changed = |devices: &mut Vec<(u32, i64)>| {
            devices.insert(5_000, (99_999, 7));
            devices[15_000].1 = 8;
        };
        let ex = estate(Some(&earlier), changed);
        // The same text as an exposition built from nothing.
        assert!(text(&ex) == text(&estate(None, changed)));
        let ((blocks_shared, blocks), (pieces_shared, pieces)) = shared(&ex, &earlier);
        // The added device changes a block or two around it; the value only its piece.
        assert!(
            blocks_shared >= blocks - 2,
            "{blocks_shared} of {blocks} blocks shared"
        );
        assert!(
            pieces_shared >= pieces - 3,
            "{pieces_shared} of {pieces} pieces shared"
        );
        assert!(pieces_shared < pieces);
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
