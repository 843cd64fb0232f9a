//! One scrape: content negotiation and the response body, produced in chunks.

use bytes::Bytes;

use super::gzip::GzipWriter;
use super::{Exposition, Family, HELP_SUFFIX, Kind};

/// The exposition formats served.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4, the default.
    Text,
    /// OpenMetrics 1.0.0 (or 0.0.1 when only that is accepted).
    OpenMetrics { v1: bool },
}

impl Format {
    /// Picks the format from an `Accept` header: OpenMetrics when the client prefers it
    /// (higher q) over plain text, as Prometheus does by default.
    pub(crate) fn negotiate(accept: Option<&str>) -> Format {
        let Some(accept) = accept else {
            return Format::Text;
        };
        let mut best_om: Option<(f32, bool)> = None;
        let mut best_text: f32 = -1.0;
        for item in accept.split(',') {
            let mut parts = item.split(';').map(str::trim);
            let media = parts.next().unwrap_or("").to_ascii_lowercase();
            let mut q = 1.0f32;
            let mut version = None;
            for param in parts {
                if let Some((k, v)) = param.split_once('=') {
                    match k.trim().to_ascii_lowercase().as_str() {
                        "q" => q = v.trim().parse().unwrap_or(0.0),
                        "version" => version = Some(v.trim().to_string()),
                        _ => {}
                    }
                }
            }
            if q <= 0.0 {
                continue;
            }
            match media.as_str() {
                "application/openmetrics-text" => {
                    let v1 = version.as_deref() != Some("0.0.1");
                    if best_om.is_none_or(|(bq, bv1)| q > bq || (q == bq && v1 && !bv1)) {
                        best_om = Some((q, v1));
                    }
                }
                "text/plain" | "*/*" | "text/*" => best_text = best_text.max(q),
                _ => {}
            }
        }
        match best_om {
            Some((q, v1)) if q > best_text => Format::OpenMetrics { v1 },
            _ => Format::Text,
        }
    }

    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Text => "text/plain; version=0.0.4; charset=utf-8",
            Format::OpenMetrics { v1: true } => {
                "application/openmetrics-text; version=1.0.0; charset=utf-8"
            }
            Format::OpenMetrics { v1: false } => {
                "application/openmetrics-text; version=0.0.1; charset=utf-8"
            }
        }
    }

    fn is_open_metrics(self) -> bool {
        matches!(self, Format::OpenMetrics { .. })
    }
}

/// Whether an `Accept-Encoding` header allows gzip.
pub(crate) fn accepts_gzip(accept_encoding: Option<&str>) -> bool {
    accept_encoding.is_some_and(|header| {
        header.split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let coding = parts.next().unwrap_or("");
            let q = parts
                .find_map(|p| p.strip_prefix("q="))
                .map_or(1.0, |q| q.trim().parse::<f32>().unwrap_or(0.0));
            (coding.eq_ignore_ascii_case("gzip") || coding == "*") && q > 0.0
        })
    })
}

/// `# HELP` and `# TYPE` lines of a family. OpenMetrics names counter and info families
/// without their `_total` / `_info` suffix; the sample lines are the same in both formats.
fn write_header(family: Family, format: Format, out: &mut Vec<u8>) {
    let name = family.name;
    let (metadata_name, type_name) = match (format.is_open_metrics(), family.kind) {
        (_, Kind::Gauge) => (name, "gauge"),
        (false, Kind::Counter) => (name, "counter"),
        (false, Kind::Info) => (name, "gauge"),
        (true, Kind::Counter) => (name.trim_end_matches("_total"), "counter"),
        (true, Kind::Info) => (name.trim_end_matches("_info"), "info"),
        (_, Kind::Histogram) => (name, "histogram"),
    };
    let help = family.help();
    for part in [
        "# HELP ",
        metadata_name,
        " ",
        &help,
        HELP_SUFFIX,
        "\n# TYPE ",
        metadata_name,
        " ",
        type_name,
        "\n",
    ] {
        out.extend_from_slice(part.as_bytes());
    }
}

/// Size of the chunks handed to the sink. Up to four wait in each response's channel, so
/// this bounds what every scrape in flight holds.
const CHUNK: usize = 64 * 1024;

/// Writes a whole response body: `head` (already encoded, e.g. the exporter's own metrics),
/// then each of `families` in that order across all sources, handing chunks to `send`.
/// Stops early when `send` returns false (the client went away).
pub fn produce(
    head: &[u8],
    sources: &[&Exposition],
    families: &[Family],
    now_ms: i64,
    format: Format,
    gzip: bool,
    mut send: impl FnMut(Bytes) -> bool,
) {
    let mut out = Sink {
        gzip: gzip.then(GzipWriter::new),
        plain: Vec::with_capacity(CHUNK + 4096),
    };
    out.write(head);
    let mut header = Vec::new();
    for &family in families {
        let tables: Vec<_> = sources
            .iter()
            .filter_map(|s| s.table(family).map(|t| (*s, t)))
            .filter(|(_, t)| !t.is_empty())
            .collect();
        if tables.is_empty() {
            continue;
        }
        header.clear();
        write_header(family, format, &mut header);
        out.write(&header);
        for (exposition, table) in tables {
            match (out.gzip.as_mut(), table.deflated()) {
                (Some(writer), Some(segment)) => {
                    // A segment is pieces of about 10 KiB: they go out in the writer's
                    // chunks, so that a body is not thousands of small writes.
                    if !writer.splice(segment, |writer| flush_gzip(writer, &mut send)) {
                        return;
                    }
                }
                _ => {
                    let mut alive = true;
                    exposition.render_chunks(table, now_ms, CHUNK, |chunk| {
                        if alive {
                            out.write(chunk);
                            alive = out.flush_if_full(&mut send);
                        }
                    });
                    if !alive {
                        return;
                    }
                }
            }
            if !out.flush_if_full(&mut send) {
                return;
            }
        }
    }
    if format.is_open_metrics() {
        out.write(b"# EOF\n");
    }
    out.finish(send);
}

struct Sink {
    gzip: Option<GzipWriter>,
    plain: Vec<u8>,
}

impl Sink {
    fn write(&mut self, data: &[u8]) {
        match &mut self.gzip {
            Some(writer) => writer.write(data),
            None => self.plain.extend_from_slice(data),
        }
    }

    fn flush_if_full(&mut self, send: &mut impl FnMut(Bytes) -> bool) -> bool {
        match &mut self.gzip {
            Some(writer) => flush_gzip(writer, send),
            None if self.plain.len() >= CHUNK => send(Bytes::from(std::mem::replace(
                &mut self.plain,
                Vec::with_capacity(CHUNK + 4096),
            ))),
            _ => true,
        }
    }

    fn finish(self, mut send: impl FnMut(Bytes) -> bool) {
        let rest = match self.gzip {
            Some(writer) => writer.finish(),
            None => Bytes::from(self.plain),
        };
        if !rest.is_empty() {
            send(rest);
        }
    }
}

/// Sends what `writer` has compressed once it is a chunk.
fn flush_gzip(writer: &mut GzipWriter, send: &mut impl FnMut(Bytes) -> bool) -> bool {
    writer.pending() < CHUNK || send(writer.take())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exposition::table::tests::{ARCHIVE_BYTES, BACKUP_AGE, INFO};
    use crate::exposition::{ExpositionBuilder, Value};
    use std::io::Read;

    #[test]
    fn negotiation_follows_prometheus_accept_headers() {
        let prometheus3 = "application/openmetrics-text;version=1.0.0;q=0.5,application/openmetrics-text;version=0.0.1;q=0.4,text/plain;version=1.0.0;q=0.3,text/plain;version=0.0.4;q=0.2,*/*;q=0.1";
        assert_eq!(
            Format::negotiate(Some(prometheus3)),
            Format::OpenMetrics { v1: true }
        );
        let prometheus2 = "application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1";
        assert_eq!(
            Format::negotiate(Some(prometheus2)),
            Format::OpenMetrics { v1: false }
        );
        assert_eq!(Format::negotiate(Some("text/plain")), Format::Text);
        assert_eq!(Format::negotiate(Some("*/*")), Format::Text);
        assert_eq!(Format::negotiate(None), Format::Text);
        assert_eq!(
            Format::negotiate(Some("application/openmetrics-text;q=0")),
            Format::Text
        );
    }

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip(Some("gzip")));
        assert!(accepts_gzip(Some("deflate, gzip;q=0.5")));
        assert!(!accepts_gzip(Some("gzip;q=0")));
        assert!(!accepts_gzip(Some("identity")));
        assert!(!accepts_gzip(None));
    }

    const FAMILIES: &[Family] = &[&BACKUP_AGE, &ARCHIVE_BYTES];

    fn two_sources() -> (Exposition, Exposition) {
        let build = |name: &str| {
            let mut b = ExpositionBuilder::new(name, &[]);
            for i in 0..3000 {
                let l = b.labels(&[("org", "o"), ("device_uid", &i.to_string())]);
                b.push(&ARCHIVE_BYTES, l, Value::Int(i));
                b.push(&BACKUP_AGE, l, Value::AgeSinceMs(0));
            }
            b.finish()
        };
        (build("a"), build("b"))
    }

    fn body(gzip: bool, format: Format) -> String {
        let (a, b) = two_sources();
        serve(&[&a, &b], gzip, format)
    }

    /// The body of a scrape of `sources`, inflated if gzip (which checks its CRC and length).
    fn serve(sources: &[&Exposition], gzip: bool, format: Format) -> String {
        let mut bytes = Vec::new();
        produce(
            b"# head\n",
            sources,
            FAMILIES,
            10_000,
            format,
            gzip,
            |chunk| {
                bytes.extend_from_slice(&chunk);
                true
            },
        );
        if gzip {
            let mut plain = String::new();
            flate2::read::GzDecoder::new(&bytes[..])
                .read_to_string(&mut plain)
                .unwrap();
            plain
        } else {
            String::from_utf8(bytes).unwrap()
        }
    }

    #[test]
    fn gzip_and_plain_bodies_are_identical_and_families_are_contiguous() {
        let plain = body(false, Format::Text);
        assert_eq!(body(true, Format::Text), plain);
        assert!(plain.starts_with("# head\n# HELP backup_device_backup_age_seconds "));
        // One header per family, all sources' samples under it.
        assert_eq!(
            plain
                .matches("# TYPE backup_device_archive_bytes gauge")
                .count(),
            1
        );
        assert_eq!(plain.matches("backup_device_archive_bytes{").count(), 6000);
        assert!(plain.contains(
            "backup_device_backup_age_seconds{source=\"b\",org=\"o\",device_uid=\"2999\"} 10\n"
        ));
    }

    #[test]
    fn refreshes_that_share_pieces_serve_what_fresh_ones_would() {
        let mut seed = 7u64;
        let mut random = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        let build = |devices: &[(usize, i64)], earlier: Option<&Exposition>| {
            let mut b = ExpositionBuilder::new("s", &[]);
            if let Some(earlier) = earlier {
                b = b.replacing(earlier);
            }
            for &(uid, bytes) in devices {
                let l = b.labels(&[("org", "o"), ("device_uid", &uid.to_string())]);
                b.push(&ARCHIVE_BYTES, l, Value::Int(bytes));
                b.push(&BACKUP_AGE, l, Value::AgeSinceMs(bytes));
            }
            b.finish()
        };
        let pieces = |ex: &Exposition| {
            ex.table(&ARCHIVE_BYTES)
                .unwrap()
                .deflated()
                .unwrap()
                .pieces
                .clone()
        };
        // Twelve refreshes of 20,000 devices, each built from the one before after a few
        // devices were added, removed or changed at random.
        let mut devices: Vec<(usize, i64)> = (0..20_000).map(|uid| (uid, 0)).collect();
        let mut earlier = build(&devices, None);
        for refresh in 0..12 {
            for change in 0..3 {
                let at = random(devices.len());
                match random(3) {
                    0 => devices.insert(at, (100_000 + refresh * 3 + change, 1)),
                    1 => drop(devices.remove(at)),
                    _ => devices[at].1 += 1,
                }
            }
            let shared = build(&devices, Some(&earlier));
            let fresh = build(&devices, None);
            for (gzip, format) in [
                (false, Format::Text),
                (true, Format::OpenMetrics { v1: true }),
            ] {
                assert!(serve(&[&shared], gzip, format) == serve(&[&fresh], gzip, format));
            }
            let before = pieces(&earlier);
            let now = pieces(&shared);
            let reused = now
                .iter()
                .filter(|p| {
                    before
                        .iter()
                        .any(|b| b.deflate.as_ptr() == p.deflate.as_ptr())
                })
                .count();
            assert!(
                reused * 2 >= now.len(),
                "{reused} of {} pieces reused",
                now.len()
            );
            assert!(reused < now.len(), "a changed device changes its piece");
            earlier = shared;
        }
    }

    #[test]
    fn open_metrics_ends_with_eof_and_names_suffixless_families() {
        let om = body(true, Format::OpenMetrics { v1: true });
        assert!(om.ends_with("# EOF\n"));
        let mut header = Vec::new();
        write_header(&INFO, Format::OpenMetrics { v1: true }, &mut header);
        let header = String::from_utf8(header).unwrap();
        assert!(header.contains("# TYPE backup_device info\n"), "{header}");
    }

    #[test]
    fn a_client_that_goes_away_stops_production() {
        let (a, b) = two_sources();
        let mut calls = 0;
        produce(b"", &[&a, &b], FAMILIES, 0, Format::Text, false, |_| {
            calls += 1;
            false
        });
        assert_eq!(calls, 1);
    }
}
