//! Gzip responses assembled from pre-compressed segments.
//!
//! A deflate stream is a sequence of blocks. A segment compressed on its own and ended with a
//! sync flush is a run of complete, byte-aligned blocks that refer to nothing before them, so
//! it can be spliced into another deflate stream at any byte-aligned point where the other
//! compressor has been fully flushed (its history reset). The gzip trailer needs the CRC-32
//! and length of the whole body, which [`crc32fast::Hasher::combine`] derives from each
//! segment's own CRC without reading the data again. The result is one ordinary gzip member.

use bytes::Bytes;
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress};

/// Deflated bytes of one static family, with what the gzip trailer needs.
#[derive(Debug, Clone)]
pub struct GzSegment {
    /// In blocks of up to 1 MiB: a block is never moved once written, so deflating a
    /// large family never copies its output into a larger buffer.
    pub deflate: Vec<Bytes>,
    pub crc: u32,
    pub len: u64,
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

/// Builds a [`GzSegment`] from text written in pieces.
pub(crate) struct SegmentCompressor {
    compress: Compress,
    crc: crc32fast::Hasher,
    /// Full blocks, and the one being written.
    blocks: Vec<Bytes>,
    out: Vec<u8>,
}

/// The largest output block; the first ones are smaller, so a small family stays small.
const SEGMENT_BLOCK: usize = 1 << 20;

impl Default for SegmentCompressor {
    fn default() -> Self {
        Self::new()
    }
}

impl SegmentCompressor {
    pub(crate) fn new() -> Self {
        SegmentCompressor {
            compress: Compress::new(level(), false),
            crc: crc32fast::Hasher::new(),
            blocks: Vec::new(),
            out: Vec::new(),
        }
    }

    pub(crate) fn write(&mut self, data: &[u8]) {
        self.crc.update(data);
        self.deflate(data, FlushCompress::None);
    }

    fn deflate(&mut self, data: &[u8], flush: FlushCompress) {
        let blocks = &mut self.blocks;
        deflate_into(&mut self.compress, data, &mut self.out, flush, |out, _| {
            if out.len() == out.capacity() {
                let written = blocks.iter().map(Bytes::len).sum::<usize>() + out.len();
                let next = Vec::with_capacity(written.clamp(4096, SEGMENT_BLOCK));
                let full = std::mem::replace(out, next);
                if !full.is_empty() {
                    blocks.push(Bytes::from(full));
                }
            }
        });
    }

    pub(crate) fn finish(mut self) -> GzSegment {
        self.deflate(&[], FlushCompress::Sync);
        self.out.shrink_to_fit();
        self.blocks.push(Bytes::from(self.out));
        GzSegment {
            len: self.compress.total_in(),
            crc: self.crc.finalize(),
            deflate: self.blocks,
        }
    }
}

/// Inflates a segment back to its text, handing it to `sink` in chunks of about `chunk`
/// bytes (a plain-text scrape of a family kept only deflated).
pub(crate) fn inflate(segment: &GzSegment, chunk: usize, mut sink: impl FnMut(&mut Vec<u8>)) {
    let mut decompress = Decompress::new(false);
    let mut blocks = segment.deflate.iter();
    let mut input: &[u8] = &[];
    let mut out = Vec::with_capacity(chunk);
    while decompress.total_out() < segment.len {
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

    /// Splices a pre-compressed segment: returns the bytes to send before it (everything
    /// compressed so far, fully flushed so that nothing after refers back across the splice).
    pub(crate) fn splice(&mut self, segment: &GzSegment) -> Bytes {
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
        self.take()
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
        let mut seg = SegmentCompressor::new();
        seg.write(repeated.as_bytes());
        seg.write(b"tail of segment one\n");
        let seg = seg.finish();

        let mut writer = GzipWriter::new();
        let mut body = Vec::new();
        writer.write(b"# HELP a b\n");
        body.extend_from_slice(&writer.splice(&seg));
        seg.deflate.iter().for_each(|b| body.extend_from_slice(b));
        writer.write(b"# HELP c d\nlive text after the splice that repeats # HELP a b\n");
        body.extend_from_slice(&writer.splice(&seg));
        seg.deflate.iter().for_each(|b| body.extend_from_slice(b));
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
    fn a_segment_of_many_blocks_inflates_and_splices_whole() {
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
        let mut seg = SegmentCompressor::new();
        for piece in text.as_bytes().chunks(7_000) {
            seg.write(piece);
        }
        let seg = seg.finish();
        assert!(seg.deflate.len() > 3, "{} blocks", seg.deflate.len());
        let mut inflated = Vec::new();
        inflate(&seg, 4096, |chunk| inflated.extend_from_slice(chunk));
        assert!(inflated == text.as_bytes());
        let mut writer = GzipWriter::new();
        let mut body = writer.splice(&seg).to_vec();
        seg.deflate.iter().for_each(|b| body.extend_from_slice(b));
        body.extend_from_slice(&writer.finish());
        assert!(gunzip(&body) == text.as_bytes());
    }

    #[test]
    fn empty_body_is_valid() {
        let writer = GzipWriter::new();
        assert!(gunzip(&writer.finish()).is_empty());
    }
}
