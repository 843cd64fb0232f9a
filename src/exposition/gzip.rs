//! Gzip responses assembled from pre-compressed segments.
//!
//! A deflate stream is a sequence of blocks. A segment compressed on its own and ended with a
//! sync flush is a run of complete, byte-aligned blocks that refer to nothing before them, so
//! it can be spliced into another deflate stream at any byte-aligned point where the other
//! compressor has been fully flushed (its history reset). The gzip trailer needs the CRC-32
//! and length of the whole body, which [`crc32fast::Hasher::combine`] derives from each
//! segment's own CRC without reading the data again. The result is one ordinary gzip member.
//!
//! A family's segment is itself a run of such pieces, each deflated on its own. A piece
//! whose text has not changed since the previous refresh is taken from the previous
//! snapshot as it is, so two snapshots alive at once share what they have in common.

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

/// A piece of a family's text deflated on its own: it refers to nothing before it.
#[derive(Debug, Clone)]
pub(crate) struct Piece {
    pub(crate) deflate: Bytes,
    /// CRC-32 and length of the piece's text: how a later refresh finds it again.
    crc: u32,
    len: u64,
}

/// Deflated bytes of one static family, with what the gzip trailer needs.
#[derive(Debug, Clone)]
pub(crate) struct GzSegment {
    pub(crate) pieces: Vec<Piece>,
    pub(crate) crc: u32,
    pub(crate) len: u64,
}

impl GzSegment {
    pub(crate) fn new(pieces: Vec<Piece>) -> GzSegment {
        let mut crc = crc32fast::Hasher::new();
        for piece in &pieces {
            crc.combine(&crc32fast::Hasher::new_with_initial_len(
                piece.crc, piece.len,
            ));
        }
        GzSegment {
            len: pieces.iter().map(|p| p.len).sum(),
            crc: crc.finalize(),
            pieces,
        }
    }

    /// The deflated bytes, in order.
    pub(crate) fn blocks(&self) -> impl Iterator<Item = &Bytes> {
        self.pieces.iter().map(|p| &p.deflate)
    }
}

/// Level 1: the text is so repetitive that higher levels cost time for little gain
/// (figures in docs/performance.md).
fn level() -> Compression {
    Compression::fast()
}

/// Compresses `input` into `out`; `make_room` makes room in `out` for about that many more
/// bytes before each step.
fn deflate_into(
    compress: &mut Compress,
    mut input: &[u8],
    out: &mut Vec<u8>,
    flush: FlushCompress,
    mut make_room: impl FnMut(&mut Vec<u8>, usize),
) {
    loop {
        make_room(out, input.len() / 4 + 4096);
        let before = compress.total_in();
        compress
            .compress_vec(input, out, flush)
            .expect("deflate of in-memory data cannot fail");
        input = &input[(compress.total_in() - before) as usize..];
        // Done when all input is consumed and the output had room left (nothing pending).
        if input.is_empty() && out.len() < out.capacity() {
            return;
        }
    }
}

/// Deflates pieces of text, each on its own, or takes an earlier snapshot's piece of the
/// same text.
pub(crate) struct PieceCompressor {
    compress: Compress,
    /// The earlier snapshot's pieces by the CRC-32 and length of their text.
    earlier: foldhash::HashMap<(u32, u64), Bytes>,
}

impl PieceCompressor {
    /// `earlier`: the segments of the snapshot being replaced, whose pieces may be reused.
    pub(crate) fn new<'a>(earlier: impl IntoIterator<Item = &'a GzSegment>) -> Self {
        let earlier = earlier
            .into_iter()
            .flat_map(|segment| &segment.pieces)
            .map(|piece| ((piece.crc, piece.len), piece.deflate.clone()))
            .collect();
        PieceCompressor {
            compress: Compress::new(level(), false),
            earlier,
        }
    }

    pub(crate) fn piece(&mut self, text: &[u8]) -> Piece {
        let (crc, len) = (crc32fast::hash(text), text.len() as u64);
        // Same CRC and length is only a candidate: the text is compared in full.
        if let Some(deflate) = self.earlier.get(&(crc, len))
            && inflates_to(deflate, text)
        {
            return Piece {
                deflate: deflate.clone(),
                crc,
                len,
            };
        }
        self.compress.reset();
        let mut out = Vec::new();
        deflate_into(
            &mut self.compress,
            text,
            &mut out,
            FlushCompress::Sync,
            Vec::reserve,
        );
        out.shrink_to_fit();
        Piece {
            deflate: Bytes::from(out),
            crc,
            len,
        }
    }
}

/// Whether `deflate` (one piece) inflates to exactly `text`.
fn inflates_to(deflate: &Bytes, text: &[u8]) -> bool {
    let mut rest = text;
    let mut same = true;
    inflate_blocks(
        std::slice::from_ref(deflate),
        text.len() as u64,
        64 * 1024,
        |chunk| {
            same = same && rest.starts_with(chunk);
            rest = rest.get(chunk.len()..).unwrap_or_default();
        },
    );
    same && rest.is_empty()
}

/// Inflates a segment back to its text, handing it to `sink` in chunks of about `chunk`
/// bytes (a plain-text scrape of a family kept only deflated).
pub(crate) fn inflate(segment: &GzSegment, chunk: usize, sink: impl FnMut(&mut Vec<u8>)) {
    inflate_blocks(segment.blocks(), segment.len, chunk, sink);
}

/// Inflates deflated `blocks` that hold `len` bytes of text.
fn inflate_blocks<'a>(
    blocks: impl IntoIterator<Item = &'a Bytes>,
    len: u64,
    chunk: usize,
    mut sink: impl FnMut(&mut Vec<u8>),
) {
    let mut decompress = Decompress::new(false);
    let mut blocks = blocks.into_iter();
    let mut input: &[u8] = &[];
    let mut out = Vec::with_capacity(chunk);
    while decompress.total_out() < len {
        if input.is_empty()
            && let Some(block) = blocks.next()
        {
            input = block;
        }
        let (before_in, before_out) = (decompress.total_in(), decompress.total_out());
        decompress
            .decompress_vec(input, &mut out, FlushDecompress::Sync)
            .expect("a segment deflated by this process inflates");
        input = &input[(decompress.total_in() - before_in) as usize..];
        if out.len() == out.capacity() {
            sink(&mut out);
            out.clear();
        } else if decompress.total_out() == before_out && decompress.total_in() == before_in {
            unreachable!("a complete segment always makes progress");
        }
    }
    if !out.is_empty() {
        sink(&mut out);
    }
}

const GZIP_HEADER: [u8; 10] = [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];

/// Writes one gzip member from live text and spliced [`GzSegment`]s, in order.
pub(crate) struct GzipWriter {
    compress: Compress,
    crc: crc32fast::Hasher,
    out: Vec<u8>,
    started: bool,
    /// Uncompressed bytes contributed by spliced segments.
    spliced_len: u64,
}

impl Default for GzipWriter {
    fn default() -> Self {
        Self::new()
    }
}

impl GzipWriter {
    pub(crate) fn new() -> Self {
        GzipWriter {
            compress: Compress::new(level(), false),
            crc: crc32fast::Hasher::new(),
            out: Vec::with_capacity(64 * 1024),
            started: false,
            spliced_len: 0,
        }
    }

    fn header(&mut self) {
        if !self.started {
            self.out.extend_from_slice(&GZIP_HEADER);
            self.started = true;
        }
    }

    /// Compresses text. Compressed bytes accumulate until [`GzipWriter::take`].
    pub(crate) fn write(&mut self, data: &[u8]) {
        self.header();
        self.crc.update(data);
        deflate_into(
            &mut self.compress,
            data,
            &mut self.out,
            FlushCompress::None,
            Vec::reserve,
        );
    }

    /// Bytes compressed so far and not yet taken.
    pub(crate) fn pending(&self) -> usize {
        self.out.len()
    }

    /// Takes the compressed bytes produced so far.
    pub(crate) fn take(&mut self) -> Bytes {
        Bytes::from(std::mem::replace(
            &mut self.out,
            Vec::with_capacity(64 * 1024),
        ))
    }

    /// Splices a pre-compressed segment after everything compressed so far (fully flushed,
    /// so that nothing after refers back across the splice), a piece at a time: `flush` is
    /// called after each piece, may take the bytes, and returns false to stop.
    pub(crate) fn splice(
        &mut self,
        segment: &GzSegment,
        mut flush: impl FnMut(&mut Self) -> bool,
    ) -> bool {
        self.header();
        deflate_into(
            &mut self.compress,
            &[],
            &mut self.out,
            FlushCompress::Full,
            Vec::reserve,
        );
        self.crc.combine(&crc32fast::Hasher::new_with_initial_len(
            segment.crc,
            segment.len,
        ));
        self.spliced_len += segment.len;
        segment.blocks().all(|block| {
            self.out.extend_from_slice(block);
            flush(self)
        })
    }

    /// Ends the member: final block and trailer. Returns the remaining bytes.
    pub(crate) fn finish(mut self) -> Bytes {
        self.header();
        deflate_into(
            &mut self.compress,
            &[],
            &mut self.out,
            FlushCompress::Finish,
            Vec::reserve,
        );
        let total = self.compress.total_in() + self.spliced_len;
        let crc = self.crc.clone().finalize();
        self.out.extend_from_slice(&crc.to_le_bytes());
        self.out.extend_from_slice(&(total as u32).to_le_bytes());
        Bytes::from(self.out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn gunzip(bytes: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(bytes)
            .read_to_end(&mut out)
            .unwrap();
        out
    }

    #[test]
    fn live_text_and_spliced_segments_make_one_valid_gzip_member() {
        let repeated = "backup_device_archive_bytes{source=\"s\",org=\"o\"} 12345\n".repeat(5000);
        let mut pieces = PieceCompressor::new([]);
        let seg = GzSegment::new(vec![
            pieces.piece(repeated.as_bytes()),
            pieces.piece(b"tail of segment one\n"),
        ]);

        let mut writer = GzipWriter::new();
        let mut body = Vec::new();
        let mut take = |w: &mut GzipWriter| {
            body.extend_from_slice(&w.take());
            true
        };
        writer.write(b"# HELP a b\n");
        assert!(writer.splice(&seg, &mut take));
        writer.write(b"# HELP c d\nlive text after the splice that repeats # HELP a b\n");
        assert!(writer.splice(&seg, &mut take));
        body.extend_from_slice(&writer.finish());

        let expected = format!(
            "# HELP a b\n{repeated}tail of segment one\n# HELP c d\nlive text after the splice that repeats # HELP a b\n{repeated}tail of segment one\n"
        );
        let plain = gunzip(&body);
        assert_eq!(plain.len(), expected.len());
        assert!(plain == expected.as_bytes());
        // The decoder above checks the CRC-32 and length in the trailer.
    }

    #[test]
    fn a_segment_of_many_pieces_inflates_and_splices_whole() {
        // Hex digits of a pseudo-random sequence: compressible to about half, so the output
        // spans many blocks.
        let mut x = 1u64;
        let text: String = (0..60_000)
            .map(|_| {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                format!("{:x}", x >> 60)
            })
            .collect();
        let mut pieces = PieceCompressor::new([]);
        let seg = GzSegment::new(
            text.as_bytes()
                .chunks(7_000)
                .map(|text| pieces.piece(text))
                .collect(),
        );
        assert_eq!(seg.pieces.len(), 9);
        let mut inflated = Vec::new();
        inflate(&seg, 4096, |chunk| inflated.extend_from_slice(chunk));
        assert!(inflated == text.as_bytes());
        let mut writer = GzipWriter::new();
        assert!(writer.splice(&seg, |_| true));
        let body = writer.finish();
        assert!(gunzip(&body) == text.as_bytes());
    }

    #[test]
    fn a_piece_is_reused_only_for_the_very_same_text() {
        let lines = |value: u32| {
            (0..2000)
                .map(|i| format!("backup_device_selected_bytes{{device_uid=\"{i}\"}} {value}\n"))
                .collect::<String>()
        };
        let (old, same, changed) = (lines(7), lines(7), lines(8));
        let earlier = GzSegment::new(vec![PieceCompressor::new([]).piece(old.as_bytes())]);
        let mut pieces = PieceCompressor::new([&earlier]);
        let reused = pieces.piece(same.as_bytes());
        assert_eq!(reused.deflate.as_ptr(), earlier.pieces[0].deflate.as_ptr());
        let fresh = pieces.piece(changed.as_bytes());
        assert_ne!(fresh.deflate.as_ptr(), earlier.pieces[0].deflate.as_ptr());

        // A piece of another text filed under this text's CRC and length (a collision) is
        // not taken: the text itself is compared.
        let mut forged = PieceCompressor::new([]);
        let other = forged.piece(changed.as_bytes()).deflate;
        forged.earlier.insert(
            (crc32fast::hash(old.as_bytes()), old.len() as u64),
            other.clone(),
        );
        let piece = forged.piece(old.as_bytes());
        assert_ne!(piece.deflate.as_ptr(), other.as_ptr());
        let mut inflated = Vec::new();
        inflate(&GzSegment::new(vec![piece]), 4096, |c| {
            inflated.extend_from_slice(c)
        });
        assert!(inflated == old.as_bytes());
    }

    #[test]
    fn empty_body_is_valid() {
        let writer = GzipWriter::new();
        assert!(gunzip(&writer.finish()).is_empty());
    }
}
