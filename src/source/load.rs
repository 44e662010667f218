//! A file's bytes: mapped or read, gunzipped, UTF-16 turned into UTF-8, a byte-order mark
//! dropped; the digest that is the lake's identity of a delivery; content sizes; and the
//! pages of a big mapped file handed back once they are parsed.

use std::io::Read;
use std::path::Path;
use std::sync::OnceLock;

use super::{mapped, Candidate};
use crate::error::{Error, Location, Result};

/// The error of a file that changed while a run read it (another program still writing
/// it): a run reading a file in several loads (windows, or a hash then a read) must not mix
/// two versions of it.
pub fn changed_while_read(path: &Path, what: &str) -> Error {
    Error::io(
        path,
        std::io::Error::other(format!(
            "the file changed while cxkpi read it ({what}); nothing was written. Run again \
             once the file is complete."
        )),
    )
}

/// A file's size and content hash (xxh3, 16 hex digits): the lake's identity of a delivery.
pub type Digest = (u64, String);

/// A [`Digest`] taken in pieces, for a file read through a buffer.
#[derive(Default)]
pub struct Hasher {
    len: u64,
    xxh3: twox_hash::XxHash3_64,
}

impl Hasher {
    pub fn update(&mut self, bytes: &[u8]) {
        self.len += bytes.len() as u64;
        std::hash::Hasher::write(&mut self.xxh3, bytes);
    }

    pub fn finish(&self) -> Digest {
        let hash = std::hash::Hasher::finish(&self.xxh3);
        (self.len, format!("{hash:016x}"))
    }
}

/// A file's content: mapped when it is plain JSON (no copy of the page cache), owned when it
/// had to be decompressed or rewritten. Derefs to the bytes after any UTF-8 byte-order mark.
pub enum Bytes {
    Mapped(mapped::Mapped, usize),
    Owned(Vec<u8>),
}

impl std::ops::Deref for Bytes {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Mapped(m, skip) => &m[*skip..],
            Bytes::Owned(v) => v,
        }
    }
}

/// Files below this size are read rather than mapped (a mapping costs more than the copy).
pub(super) const MAP_THRESHOLD: u64 = 1 << 20;

/// Mapped files from this size on hand back the pages of bytes already framed or parsed.
const RELEASE_MAPPED_AT: usize = 64 << 20;

impl Bytes {
    /// Maps the pages of `range` of a mapped file in one call, before its parse: the
    /// parse otherwise takes a page fault every few pages (the kernel maps 64 KiB around
    /// each), a tenth of a bot-KPI run's CPU. Each part is mapped by the core that parses
    /// it, just before it does, so the mapping is spread like the parse (populating the
    /// whole file when it was mapped, on one core, was slower). Advice only: any failure
    /// leaves the pages to be faulted in as before.
    pub fn populate(&self, range: std::ops::Range<usize>) {
        #[cfg(target_os = "linux")]
        if let Bytes::Mapped(map, skip) = self {
            const PAGE: usize = 4096;
            let start = (range.start + skip) / PAGE * PAGE;
            let end = (range.end + skip).min(map.len());
            if end > start {
                let _ = map.advise_range(memmap2::Advice::PopulateRead, start, end - start);
            }
        }
        #[cfg(not(target_os = "linux"))]
        let _ = range;
    }

    /// The [`Digest`] of the bytes, a piece at a time, each piece's pages handed back after
    /// it is hashed (see [`Bytes::release`]): hashing a mapped file touches every page, so
    /// the first window of a file read in windows (see [`Window`](super::Window)) held all of it.
    fn digest(&self) -> Digest {
        const PIECE: usize = 16 << 20;
        let mut h = Hasher::default();
        for start in (0..self.len()).step_by(PIECE) {
            let range = start..(start + PIECE).min(self.len());
            h.update(&self[range.clone()]);
            self.release(range);
        }
        h.finish()
    }

    /// Hands back the memory of `range` of a big mapped file, whose bytes were framed or
    /// parsed: a mapped page counts in the process's memory until unmapped, so a 370 MB
    /// dump was all resident at once, twice the peak of its parsed columns. The pages stay
    /// in the page cache; touching them again (a retried parse) maps them again.
    pub fn release(&self, range: std::ops::Range<usize>) {
        #[cfg(unix)]
        if let Bytes::Mapped(map, skip) = self {
            if map.len() < RELEASE_MAPPED_AT {
                return;
            }
            // Whole pages only (4 KiB, the smallest page), so neighbours keep theirs.
            const PAGE: usize = 4096;
            let start = (range.start + skip).next_multiple_of(PAGE);
            let end = (range.end + skip) / PAGE * PAGE;
            if end > start {
                // SAFETY: the map is a private, read-only mapping of a file. DONTNEED drops
                // this process's page table entries; the next access reads the same bytes
                // from the file again (or, if a writer has cut the file short meanwhile,
                // faults into the error of `mapped`).
                let _ = unsafe {
                    map.unchecked_advise_range(
                        memmap2::UncheckedAdvice::DontNeed,
                        start,
                        end - start,
                    )
                };
            }
        }
    }
}

/// Reads a file whole, gunzipping it when it starts with the gzip magic bytes (whatever
/// its name), turning UTF-16 text into UTF-8, and dropping a byte-order mark. Large plain
/// files are memory-mapped (a file cut short mid-read is an I/O error naming it: [`mapped`]).
pub fn load(path: &Path) -> Result<Bytes> {
    load_digested(path, None)
}

/// [`load`], putting the [`Digest`] of the file as stored (before any gzip is undone) in
/// `digest` if it is not there yet.
fn load_digested(path: &Path, digest: Option<&OnceLock<Digest>>) -> Result<Bytes> {
    decode(path, stored(path, digest)?)
}

/// A file's bytes as stored (a gzip file still compressed), with [`load_digested`]'s digest
/// and size check.
fn stored(path: &Path, digest: Option<&OnceLock<Digest>>) -> Result<Bytes> {
    let io = |e| Error::io(path, e);
    let file = std::fs::File::open(path).map_err(io)?;
    let len = file.metadata().map_err(io)?.len();
    let bytes = if len >= MAP_THRESHOLD {
        let map = mapped::Mapped::new(&file, path).map_err(io)?;
        #[cfg(unix)]
        let _ = map.advise(memmap2::Advice::Sequential);
        // The pages this read brings into the page cache (a file not cached yet) come in
        // 2 MiB folios where the file system keeps large folios (ext4 on Linux 6.18 here),
        // and mapping the file again later, in any run, then costs a tenth: 2.5 ms instead
        // of 25–40 for 332 MB, so the next run over a history read from disk takes 9% less
        // time (BENCHMARKS.md, eighteenth session). Pages already cached keep their size;
        // the advice changes nothing else, and is ignored where unsupported.
        #[cfg(target_os = "linux")]
        let _ = map.advise(memmap2::Advice::HugePage);
        Bytes::Mapped(map, 0)
    } else {
        let mut v = Vec::with_capacity(len as usize);
        (&file).read_to_end(&mut v).map_err(io)?;
        Bytes::Owned(v)
    };
    if let Some(slot) = digest {
        let (size, _) = slot.get_or_init(|| bytes.digest());
        // A file read in windows is loaded once per window: one that changed size in
        // between would mix two versions under the first one's digest.
        if *size != bytes.len() as u64 {
            let what = format!("{size} bytes, now {}", bytes.len());
            return Err(changed_while_read(path, &what));
        }
    }
    Ok(bytes)
}

/// Whether stored bytes are gzip (by its magic bytes).
pub fn is_gzip(stored: &[u8]) -> bool {
    stored.starts_with(&GZIP_MAGIC)
}

/// The byte-order mark some tools write at the start of UTF-8 text.
pub(super) const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// The first two bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The text of a file's stored bytes: gunzipped, as UTF-8 (see [`text_of`]).
pub(super) fn decode(path: &Path, bytes: Bytes) -> Result<Bytes> {
    let bytes = if is_gzip(&bytes) {
        let mut out = Vec::with_capacity(bytes.len() * 8);
        flate2::read::MultiGzDecoder::new(&bytes[..])
            .read_to_end(&mut out)
            .map_err(|e| corrupt_gzip(path, out.len() as u64, e))?;
        Bytes::Owned(out)
    } else {
        bytes
    };
    text_of(path, bytes)
}

/// Content as UTF-8 text: UTF-16 turned into UTF-8, a byte-order mark dropped.
pub(super) fn text_of(path: &Path, bytes: Bytes) -> Result<Bytes> {
    let bytes = match utf16_order(&bytes) {
        Some(big_endian) => Bytes::Owned(utf16_to_utf8(path, &bytes, big_endian)?),
        None => bytes,
    };
    Ok(match bytes {
        Bytes::Mapped(m, _) if m.starts_with(&UTF8_BOM) => Bytes::Mapped(m, UTF8_BOM.len()),
        Bytes::Owned(mut v) if v.starts_with(&UTF8_BOM) => {
            v.drain(..UTF8_BOM.len());
            Bytes::Owned(v)
        }
        b => b,
    })
}

/// The first `limit` bytes of a gzip file's content, as text (see [`text_of`]); `None` when
/// the file is not gzip, or its head is not readable on its own (the full load then says
/// why, or reads it).
pub fn gzip_head(path: &Path, limit: u64) -> Result<Option<Bytes>> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut magic = [0u8; 2];
    if file.read_exact(&mut magic).is_err() || magic != GZIP_MAGIC {
        return Ok(None);
    }
    file.seek(SeekFrom::Start(0))
        .map_err(|e| Error::io(path, e))?;
    let mut head = Vec::new();
    let gz = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(file));
    if gz.take(limit).read_to_end(&mut head).is_err() {
        return Ok(None);
    }
    Ok(text_of(path, Bytes::Owned(head)).ok())
}

/// The error of a gzip stream that fails after `decompressed` bytes.
fn corrupt_gzip(path: &Path, decompressed: u64, e: std::io::Error) -> Error {
    Error::Data {
        location: Location {
            path: path.to_path_buf(),
            line: 1,
            column: 1,
            offset: decompressed as usize,
        },
        message: format!(
            "gzip stream is corrupt or truncated after {decompressed} decompressed bytes: {e}"
        ),
    }
}

/// Decompresses the gzip file at `path` into a new file at `to`, streaming (the memory of a
/// buffer, whatever the file's size), and returns the [`Digest`] of the file as stored.
/// Why: a gzip file larger than a batch is read in windows from this copy, mapped as a
/// plain file is (`lake::ingest` puts it in the run's staging, on the lake's disk, and
/// removes it after the file's last window); decompressed into memory it was all resident.
pub fn decompress_to(path: &Path, to: &Path) -> Result<Digest> {
    /// Hashes what is read through it: the file as stored.
    struct Hashing<R> {
        inner: R,
        hasher: Hasher,
    }
    impl<R: Read> Read for Hashing<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.hasher.update(&buf[..n]);
            Ok(n)
        }
    }
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let hashing = Hashing {
        inner: std::io::BufReader::with_capacity(1 << 20, file),
        hasher: Hasher::default(),
    };
    let mut gz = flate2::read::MultiGzDecoder::new(hashing);
    let out = std::fs::File::create(to).map_err(|e| Error::io(to, e))?;
    let mut out = std::io::BufWriter::with_capacity(1 << 20, out);
    let mut buf = vec![0u8; 1 << 20];
    let mut written = 0u64;
    loop {
        let n = match gz.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(corrupt_gzip(path, written, e)),
        };
        std::io::Write::write_all(&mut out, &buf[..n]).map_err(|e| Error::io(to, e))?;
        written += n as u64;
    }
    std::io::Write::flush(&mut out).map_err(|e| Error::io(to, e))?;
    // Anything after the last gzip member was hashed as it was read, but to be sure the
    // digest covers the whole file, read what the decoder left.
    let mut hashing = gz.into_inner();
    std::io::copy(&mut hashing, &mut std::io::sink()).map_err(|e| Error::io(path, e))?;
    Ok(hashing.hasher.finish())
}

/// Whether `bytes` are UTF-16 text, and then whether big-endian: by its byte-order mark, or
/// without one by the zero byte beside the first character, which in JSON is ASCII (RFC
/// 4627, section 3). Why: Windows PowerShell 5 writes UTF-16 with `>` and `Out-File`, so an
/// export saved by a script there arrives that way.
pub(super) fn utf16_order(bytes: &[u8]) -> Option<bool> {
    match bytes {
        // Not UTF-32LE's mark (FF FE 00 00): its first character would be a zero.
        [0xFF, 0xFE, a, b, ..] if (*a, *b) != (0, 0) => Some(false),
        [0xFF, 0xFE] => Some(false),
        [0xFE, 0xFF, ..] => Some(true),
        [0, b, ..] if *b != 0 => Some(true),
        [a, 0, ..] if *a != 0 => Some(false),
        _ => None,
    }
}

/// UTF-16 text as UTF-8 (a byte-order mark becomes UTF-8's, which the caller drops). An
/// odd length or a lone surrogate is an error at its place in the file.
fn utf16_to_utf8(path: &Path, bytes: &[u8], big_endian: bool) -> Result<Vec<u8>> {
    let units = bytes.chunks_exact(2).map(|u| match big_endian {
        true => u16::from_be_bytes([u[0], u[1]]),
        false => u16::from_le_bytes([u[0], u[1]]),
    });
    let mut out = String::with_capacity(bytes.len() / 2);
    let (mut line, mut column, mut offset) = (1, 1, 0);
    let failed = |line, column, offset, message: &str| Error::Data {
        location: Location {
            path: path.to_path_buf(),
            line,
            column,
            offset,
        },
        message: message.into(),
    };
    for c in char::decode_utf16(units) {
        let Ok(c) = c else {
            let lone = "invalid UTF-16 (a lone surrogate) in a UTF-16 file";
            return Err(failed(line, column, offset, lone));
        };
        out.push(c);
        offset += 2 * c.len_utf16();
        (line, column) = match c {
            '\n' => (line + 1, 1),
            _ => (line, column + 1),
        };
    }
    if bytes.len() % 2 == 1 {
        let odd = "a UTF-16 file with an odd number of bytes (truncated?)";
        return Err(failed(line, column, offset, odd));
    }
    Ok(out.into_bytes())
}

/// How many bytes of content a file holds, and whether it is gzip.
#[derive(Debug, Clone, Copy)]
pub struct ContentSize {
    /// Its size, or for a gzip file the size its trailer records (modulo 4 GiB, as the
    /// format stores it; never less than the compressed size).
    pub bytes: u64,
    pub gzip: bool,
    /// Its size as stored.
    pub stored: u64,
    /// Its modification time, where the file system keeps one.
    pub modified: Option<std::time::SystemTime>,
}

/// The [`ContentSize`] of a file: an ingest sizes its batches by it without decompressing
/// anything.
pub fn content_size(path: &Path) -> Result<ContentSize> {
    use std::io::{Seek, SeekFrom};
    let mut file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let meta = file.metadata().map_err(|e| Error::io(path, e))?;
    let (size, modified) = (meta.len(), meta.modified().ok());
    let mut magic = [0u8; 2];
    if size < 18 || file.read_exact(&mut magic).is_err() || magic != GZIP_MAGIC {
        return Ok(ContentSize {
            bytes: size,
            gzip: false,
            stored: size,
            modified,
        });
    }
    let mut trailer = [0u8; 4];
    file.seek(SeekFrom::End(-4))
        .and_then(|_| file.read_exact(&mut trailer))
        .map_err(|e| Error::io(path, e))?;
    Ok(ContentSize {
        bytes: u64::from(u32::from_le_bytes(trailer)).max(size),
        gzip: true,
        stored: size,
        modified,
    })
}

/// True when the content could be a JSON export at all (first non-blank byte `[` or `{`).
pub fn looks_like_json(bytes: &[u8]) -> bool {
    bytes
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|b| *b == b'[' || *b == b'{')
}

/// The bytes of the file a candidate reads (its decompressed copy, if it has one) as
/// stored, and that file's path.
pub(super) fn stored_of(c: &Candidate) -> Result<(Bytes, &Path)> {
    let (bytes, path) = match &c.content {
        // Digested as it was made (see `decompress_to`).
        Some(copy) => (stored(copy, None)?, copy.as_path()),
        None => (stored(&c.path, c.digest.as_deref())?, c.path.as_path()),
    };
    // A window of a file rewritten in place since the windows were planned (the size
    // check of `stored` misses one of the same size).
    if let (None, Some(planned)) = (&c.content, c.window.and_then(|w| w.modified)) {
        let now = std::fs::metadata(&c.path).and_then(|m| m.modified());
        if now.map_err(|e| Error::io(&c.path, e))? != planned {
            return Err(changed_while_read(&c.path, "modified since the run began"));
        }
    }
    Ok((bytes, path))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn released_pages_of_a_big_mapped_file_read_back_the_same() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("big.json");
        let text: Vec<u8> = (0..RELEASE_MAPPED_AT + 12_345)
            .map(|i| b"{}[],:\"ab\n"[i * 7 % 10])
            .collect();
        std::fs::write(&path, &text).expect("written");
        let bytes = load(&path).expect("loaded");
        assert!(matches!(bytes, Bytes::Mapped(..)));
        assert_eq!(&bytes[..], &text[..]);
        // Unaligned ends, the whole file, and an empty range.
        bytes.release(1_000..RELEASE_MAPPED_AT / 2 + 3);
        bytes.release(0..bytes.len());
        bytes.release(10..10);
        assert_eq!(&bytes[..], &text[..]);
    }

    #[test]
    fn a_file_is_digested_as_stored_whether_mapped_read_gzipped_or_with_a_bom() {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, b"[{\"a\":1}]").expect("gzipped");
        let big: Vec<u8> = (0..MAP_THRESHOLD as usize + 5)
            .map(|i| b"[]"[i % 2])
            .collect();
        let cases = [
            ("small.json", b"[{\"a\":1}]".to_vec()),
            ("bom.json", b"\xEF\xBB\xBF[{\"a\":1}]".to_vec()),
            ("gz.json", gz.finish().expect("gzipped")),
            ("mapped.json", big),
        ];
        for (name, stored) in cases {
            let path = dir.path().join(name);
            std::fs::write(&path, &stored).expect("written");
            let slot = OnceLock::new();
            load_digested(&path, Some(&slot)).expect("loaded");
            let mut pieces = Hasher::default();
            for piece in stored.chunks(7) {
                pieces.update(piece);
            }
            let expected = (
                stored.len() as u64,
                format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&stored)),
            );
            assert_eq!(slot.get(), Some(&expected), "{name}");
            assert_eq!(pieces.finish(), expected, "{name} in pieces");
        }
    }

    #[test]
    fn gzip_is_detected_by_content() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("export.json"); // a gzip file with a .json name
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(b"\xEF\xBB\xBF[{\"a\":1}]").unwrap();
        std::fs::write(&p, enc.finish().unwrap()).unwrap();
        assert_eq!(&load(&p).unwrap()[..], b"[{\"a\":1}]");
        let bad = dir.path().join("cut.json.gz");
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&[b'x'; 10000]).unwrap();
        let full = enc.finish().unwrap();
        std::fs::write(&bad, &full[..full.len() / 2]).unwrap();
        assert!(matches!(load(&bad), Err(Error::Data { .. })));
    }

    #[test]
    fn utf16_files_read_as_their_utf8_text() {
        use std::io::Write;
        let dir = tempfile::tempdir().unwrap();
        let text = "{\"id\":\"é→𝄞\"}\n{\"id\":\"b\"}\n";
        let utf16 = |big: bool, bom: bool| -> Vec<u8> {
            let units = (bom.then_some(0xFEFF_u16).into_iter()).chain(text.encode_utf16());
            units
                .flat_map(|u| match big {
                    true => u.to_be_bytes(),
                    false => u.to_le_bytes(),
                })
                .collect()
        };
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&utf16(false, true)).unwrap();
        let variants = [
            utf16(false, true),
            utf16(true, true),
            utf16(false, false),
            utf16(true, false),
            gz.finish().unwrap(),
        ];
        for (i, bytes) in variants.iter().enumerate() {
            let p = dir.path().join(format!("{i}.json"));
            std::fs::write(&p, bytes).unwrap();
            assert_eq!(&*load(&p).unwrap(), text.as_bytes(), "variant {i}");
        }
        // A lone surrogate (after the mark, `{` and `"`), and an odd length: located.
        let bad = dir.path().join("bad.json");
        std::fs::write(&bad, b"\xff\xfe{\0\"\0\0\xd8").unwrap();
        let e = load(&bad).err().unwrap().to_string();
        assert!(
            e.ends_with(
                "bad.json:1:4 (byte 6): invalid UTF-16 (a lone surrogate) in a UTF-16 file"
            ),
            "{e}"
        );
        std::fs::write(&bad, &variants[0][..7]).unwrap();
        let e = load(&bad).err().unwrap().to_string();
        assert!(
            e.contains("bad.json:1:4 (byte 6): a UTF-16 file with an odd number"),
            "{e}"
        );
    }
}
