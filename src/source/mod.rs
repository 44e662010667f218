//! Reading export files: discovery, decompression, vendor detection by content, and the
//! parallel record driver every vendor reader uses.

pub use json::strip_position;

pub mod anywhere365;
pub mod codes;
pub mod de;
pub mod dialpad;
mod digits;
pub mod json;
pub mod mapped;
pub mod samespace;
mod stream;
pub mod ultimate;

use std::io::Read;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rayon::prelude::*;

use crate::error::{Error, Location, Result};

/// Records parsed per parallel task: small enough to spread a file over both cores, large
/// enough that scheduling costs nothing. Each task makes one chunk (its builders, its Arrow
/// arrays, later a chunk of the polars columns): 2048 records per chunk cost 5–12% more CPU
/// than 8192 on bot KPIs, Dialpad and Anywhere365 runs, and 10–30 MB more peak memory.
const RECORDS_PER_TASK: usize = 8192;

/// An input file found on the command line or below a directory given there.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub path: PathBuf,
    /// Found by walking a directory rather than named explicitly: such a file is skipped,
    /// with a note, when its content is not JSON at all (a README beside the exports).
    pub from_dir: bool,
    /// Where a read puts the file's [`Digest`] when it loads the file, if asked to. Why:
    /// an ingest records the digest of every new file, and taking it from the bytes the
    /// parse maps anyway saves reading each file a second time (from disk, on a night
    /// whose files are not in the page cache).
    pub digest: Option<Arc<OnceLock<Digest>>>,
    /// The share of the file's records this read takes, when an ingest reads a file larger
    /// than its batch in several batches (see `lake::ingest::batches`); `None`: all of them.
    pub window: Option<Window>,
    /// Where the content is read from instead of `path`: the decompressed copy of a gzip
    /// file read in windows (see [`decompress_to`]); `path` still names it everywhere.
    pub content: Option<PathBuf>,
}

/// One of `count` consecutive shares of a big file's records, by byte offset: window `index`
/// takes the records that start at or after its first byte and before the next window's.
///
/// Why: an ingest bounds its memory by reading batches of files, but a file larger than a
/// batch was a batch of its own, so a single 1.8 GB dump peaked at 1.1 GB of rows where the
/// same records in daily files peaked at 0.46 GB. Only a file of records one per line
/// (NDJSON, or a JSON array with an element per line) is cut: its windows begin just past a
/// newline found near equal shares of its size, as the parse's pieces do, so finding them
/// reads a few pages, not the file (see [`json::window_bounds`]). Any other file
/// (pretty-printed, envelopes, MongoDB shell notation) is read whole by its first window,
/// and its other windows read nothing. (A gzip file's windows read a decompressed copy,
/// `content`, mapped as a plain file is; a UTF-16 file is converted whole by each window.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub index: usize,
    pub count: usize,
    /// The file's modification time when the windows were planned: a window that finds
    /// another stops the run (see [`changed_while_read`]); `None`: not checked.
    pub modified: Option<std::time::SystemTime>,
}

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

/// The files a command's paths expand into, and the lakes skipped on the way.
#[derive(Debug, Default)]
pub struct Discovered {
    pub candidates: Vec<Candidate>,
    /// cxkpi lakes found below a directory given (an inbox that holds its own lake, or a
    /// run's `--lake` inside it): their Parquet files and manifest are not exports, so
    /// they are passed over, and the commands say so.
    pub lakes: Vec<PathBuf>,
    /// Files reached again after their first path (named twice, named and inside a folder
    /// given, or two links to one file): read once, through the first path.
    pub repeated: Vec<PathBuf>,
}

/// Expands the paths into files: directories recursively, in sorted order so that "the
/// later delivery wins" is well defined (export names carry their date). A path that does
/// not exist is an error, and so is a lake named as an input (it is read with `--lake`).
///
/// Symbolic links are followed, to files and to directories (an inbox often links the
/// folders of other mounts into it); a directory already walked, through another link or
/// as an ancestor of a link that loops back, is walked once.
///
/// A file is read once however often it is reached: the same bytes read twice are not a
/// second delivery, and counting them as one made every record "delivered more than once"
/// in the notes of `metrics data data/ultimate`. Files are told apart by their canonical
/// path (links followed), which a folder's walk knows without a look-up for each of its
/// plain files (a `stat` of each of 20,000 files cost 11% of reading them); only links and
/// files named on the command line are resolved. (Two names of one file, hard links or
/// mounts, stay two files, as they always were: no file is ever taken for another.)
pub fn discover(paths: &[PathBuf]) -> Result<Discovered> {
    let mut out = Discovered::default();
    let (mut candidates, ids) = reached(paths, &mut out.lakes)?;
    let mut seen: std::collections::HashMap<FileId, usize, foldhash::fast::RandomState> =
        Default::default();
    // Each candidate's first occurrence (itself, if it is one).
    let mut first = Vec::with_capacity(candidates.len());
    for (i, (c, id)) in candidates.iter().zip(ids).enumerate() {
        // A file that cannot be resolved stays, so that its read fails naming it.
        let id = id.or_else(|| {
            let real = std::fs::canonicalize(&c.path).ok()?;
            Some(file_id(real.as_os_str().as_encoded_bytes()))
        });
        first.push(id.map_or(i, |id| *seen.entry(id).or_insert(i)));
    }
    for (i, &at) in first.iter().enumerate() {
        if at != i {
            // Named on the command line as well as found in a folder: the stricter rules
            // of a named file apply (an error, not a note, if it is not JSON).
            candidates[at].from_dir &= candidates[i].from_dir;
            out.repeated.push(candidates[i].path.clone());
        }
    }
    let mut at = first.iter().enumerate();
    candidates.retain(|_| at.next().is_some_and(|(i, &f)| f == i));
    out.candidates = candidates;
    Ok(out)
}

/// A file's identity: two 64-bit hashes (two seeds) of its canonical path's bytes, a
/// 128-bit key no two paths of a run share by chance. Why not the paths themselves: they
/// cost 8 MB of peak memory over 20,000 files.
type FileId = (u64, u64);

fn file_id(canonical: &[u8]) -> FileId {
    use twox_hash::XxHash3_64;
    (
        XxHash3_64::oneshot_with_seed(0, canonical),
        XxHash3_64::oneshot_with_seed(1, canonical),
    )
}

/// Every file `paths` reach, in order, repeats included, and beside them the identity of
/// those a walk found as plain files; lakes found go to `lakes`.
fn reached(
    paths: &[PathBuf],
    lakes: &mut Vec<PathBuf>,
) -> Result<(Vec<Candidate>, Vec<Option<FileId>>)> {
    let candidate = |path: PathBuf, from_dir: bool| Candidate {
        path,
        from_dir,
        digest: None,
        window: None,
        content: None,
    };
    let (mut out, mut ids) = (Vec::new(), Vec::new());
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
        if meta.is_dir() {
            if is_lake(p) {
                return Err(Error::Usage(format!(
                    "{} is a cxkpi lake, not a folder of exports: read it with --lake {}",
                    p.display(),
                    p.display()
                )));
            }
            let mut walk = Walk::default();
            walk.dir(p)?;
            lakes.extend(walk.lakes);
            out.reserve(walk.found.len());
            ids.reserve(walk.found.len());
            for (path, id) in walk.found {
                out.push(candidate(path, true));
                ids.push(id);
            }
        } else {
            out.push(candidate(p.clone(), false));
            ids.push(None);
        }
    }
    Ok((out, ids))
}

/// Whether `dir` is the root of a cxkpi lake (it holds the lake's own directory).
fn is_lake(dir: &Path) -> bool {
    dir.join(crate::lake::META_DIR).is_dir()
}

/// A walk of one directory given on the command line.
#[derive(Default)]
struct Walk {
    /// In sorted path order without a sort: each directory's entries are taken in name
    /// order, depth first, which is the order paths compare in (component by component).
    /// (A set of paths sorted them by comparing components, a third of a re-run's time over
    /// 20,000 files.)
    /// With the identity of plain files (see [`discover`]).
    found: Vec<(PathBuf, Option<FileId>)>,
    /// A canonical path being put together.
    scratch: Vec<u8>,
    lakes: Vec<PathBuf>,
    /// Directories walked, by their canonical path.
    walked: std::collections::HashSet<PathBuf>,
}

impl Walk {
    fn dir(&mut self, dir: &Path) -> Result<()> {
        let io = |e| Error::io(dir, e);
        let real = std::fs::canonicalize(dir).map_err(io)?;
        if self.walked.contains(&real) {
            return Ok(());
        }
        self.walked.insert(real.clone());
        // By name: the files come out in path order (see `found`), and which of two links
        // to one directory is walked does not depend on the order the file system lists
        // them in.
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            entries.push(entry.map_err(io)?);
        }
        entries.sort_by_cached_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            // Hidden files, and the documentation that sits beside exports in an inbox.
            if name.starts_with('.') || name.starts_with("README") || name.ends_with(".md") {
                continue;
            }
            let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
            // A link is what it points to; a dangling one stays a file, whose read fails
            // naming it.
            let is_dir = kind.is_dir()
                || (kind.is_symlink() && std::fs::metadata(&path).is_ok_and(|m| m.is_dir()));
            if !is_dir {
                let id = kind.is_file().then(|| {
                    // The canonical path: the folder's, then the name (as `join` makes it).
                    let canonical = &mut self.scratch;
                    canonical.clear();
                    canonical.extend(real.as_os_str().as_encoded_bytes());
                    let separator = std::path::MAIN_SEPARATOR as u8;
                    if canonical.last() != Some(&separator) {
                        canonical.push(separator);
                    }
                    canonical.extend(entry.file_name().as_encoded_bytes());
                    file_id(canonical)
                });
                self.found.push((path, id));
            } else if is_lake(&path) {
                self.lakes.push(path);
            } else {
                self.dir(&path)?;
            }
        }
        Ok(())
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
const MAP_THRESHOLD: u64 = 1 << 20;

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
    /// the first window of a file read in windows (see [`Window`]) held all of it.
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
const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

/// The first two bytes of a gzip stream.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// The text of a file's stored bytes: gunzipped, as UTF-8 (see [`text_of`]).
fn decode(path: &Path, bytes: Bytes) -> Result<Bytes> {
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
fn text_of(path: &Path, bytes: Bytes) -> Result<Bytes> {
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

/// How much of a gzip file [`sniff`] decompresses to tell its format first.
const SNIFF_BYTES: u64 = 1 << 20;

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
fn utf16_order(bytes: &[u8]) -> Option<bool> {
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

/// The export formats cxkpi reads, told apart by the keys of the first record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Vendor {
    Ultimate,
    Dialpad,
    Anywhere365,
    SamespaceCalls,
    SamespaceLogs,
    SamespaceProductivity,
    SamespaceCsat,
}

/// Every format cxkpi reads.
pub const ALL: &[Vendor] = &[
    Vendor::Ultimate,
    Vendor::Dialpad,
    Vendor::Anywhere365,
    Vendor::SamespaceCalls,
    Vendor::SamespaceLogs,
    Vendor::SamespaceProductivity,
    Vendor::SamespaceCsat,
];

/// The format of one file, from its first record (`None`: not JSON, below a directory).
///
/// Most files are NDJSON, whose first line alone names the format: framing (and so paging
/// in) the whole file here, only for the read to frame it again, was a twentieth of an
/// ingest. Any other layout is framed whole, as the read will.
pub fn sniff(c: &Candidate) -> Result<Option<Vendor>> {
    // A gzip file's first MiB first: loading it whole decompressed all of it into memory
    // here (every new file at once, in parallel), and its read decompresses it again.
    if let Some(head) = gzip_head(&c.path, SNIFF_BYTES)? {
        if let Some(vendor) = first_line_vendor(&c.path, &head) {
            return Ok(Some(vendor));
        }
    }
    let bytes = load(&c.path)?;
    if c.from_dir && !looks_like_json(&bytes) {
        return Ok(None);
    }
    if let Some(vendor) = first_line_vendor(&c.path, &bytes) {
        return Ok(Some(vendor));
    }
    Ok(frame_loaded(c, bytes, ALL)?.map(|f| f.vendor))
}

/// The format told by the first line of `bytes`, when that line is a whole record (or
/// envelope) of a known vendor.
fn first_line_vendor(path: &Path, bytes: &[u8]) -> Option<Vendor> {
    let first = &bytes[..memchr::memchr(b'\n', bytes).map_or(bytes.len(), |i| i + 1)];
    json::line_spans(first, &|_| ())
        .and_then(|s| json::unwrap_envelopes(first, s).ok())
        .and_then(|spans| vendor_of(path, first, &spans, ALL).ok())
}

/// The Samespace reports: one directory may hold all of them.
pub const SAMESPACE: &[Vendor] = &[
    Vendor::SamespaceCalls,
    Vendor::SamespaceLogs,
    Vendor::SamespaceProductivity,
    Vendor::SamespaceCsat,
];

impl Vendor {
    /// The vendor's short name: Ultimate, Dialpad, Anywhere365, Samespace.
    pub fn short_name(self) -> &'static str {
        match self {
            Vendor::Ultimate => "Ultimate",
            Vendor::Dialpad => "Dialpad",
            Vendor::Anywhere365 => "Anywhere365",
            _ => "Samespace",
        }
    }

    /// The format's name with its article, for messages.
    pub fn name(self) -> &'static str {
        match self {
            Vendor::Ultimate => "an Ultimate / Zendesk AI agents export",
            Vendor::Dialpad => "a Dialpad Digital Engagement message dump",
            Vendor::Anywhere365 => "an Anywhere365 Insights Dialogues export",
            Vendor::SamespaceCalls
            | Vendor::SamespaceLogs
            | Vendor::SamespaceProductivity
            | Vendor::SamespaceCsat => "a Samespace report (calls, logs, productivity or CSAT)",
        }
    }
}

/// Detects the vendor from the keys of one record (case-insensitively).
pub fn detect(keys: &[String]) -> Option<Vendor> {
    let has = |k: &str| keys.iter().any(|x| x.eq_ignore_ascii_case(k));
    if has("conversation_id")
        && (has("conversation_status")
            || has("bot_id")
            || has("triggered_intent_replies")
            || has("conversation_start_time"))
    {
        return Some(Vendor::Ultimate);
    }
    if has("sessionid") && (has("ts") || has("customersessionid") || has("chattype")) {
        return Some(Vendor::Dialpad);
    }
    if has("id") && (has("outcome") || has("queueentertimestamp") || has("starttimestamp")) {
        return Some(Vendor::Anywhere365);
    }
    if has("csat") {
        return Some(Vendor::SamespaceCsat);
    }
    if has("uuid") && (has("answer_time") || has("hold_duration") || has("termination_cause")) {
        return Some(Vendor::SamespaceCalls);
    }
    if has("session_id") && (has("activity") || has("logout_reason") || has("session_duration")) {
        return Some(Vendor::SamespaceLogs);
    }
    if has("user") && (has("away_time") || has("acw") || has("asa") || has("acd")) {
        return Some(Vendor::SamespaceProductivity);
    }
    None
}

/// The top-level keys of a JSON object record (as written), for detection and error
/// messages; a record that is not a JSON object fails where it goes wrong. Values are
/// checked for structure only: the reader parses this record again, strictly in a full
/// read, and then names the field of a bad value.
pub fn record_keys(record: &[u8]) -> std::result::Result<Vec<String>, de::Failure> {
    let mut keys = Vec::new();
    let mut memo = de::KeyMemo::default();
    let mut d = de::Deserializer::new(record, 0).lenient();
    d.read(|d| {
        d.fields(
            "an object (a record)",
            &mut memo,
            |_| Some(()),
            |_, (), key| {
                keys.push(key.to_string());
                Ok(false)
            },
        )
    })?;
    d.expect_end()?;
    Ok(keys)
}

/// A file's bytes and where its records are, checked to be of the expected vendor.
pub struct Framed {
    pub path: PathBuf,
    pub bytes: Bytes,
    layout: Layout,
    /// The format detected from the first record (the first accepted one if empty).
    pub vendor: Vendor,
    /// The layout is a guess from lines ([`json::pieces`], [`json::line_spans`]), to be
    /// confirmed by the parse.
    by_lines: bool,
    /// A window's records: those starting in this range (see [`Window`]); `None`: all.
    window: Option<Range<usize>>,
    /// Where `bytes` begin in the file's content: a piece of a gzip stream (see
    /// [`stream`]) is not its start.
    origin: Origin,
}

/// The offset and the lines of content before a framed piece of a file.
#[derive(Debug, Clone, Copy, Default)]
struct Origin {
    offset: usize,
    lines: usize,
}

/// Which of a file's records a read takes (see [`Window`]).
enum Share {
    All,
    /// The records starting in `range`; `last`: the file's last window.
    Window {
        range: Range<usize>,
        last: bool,
    },
    Nothing,
}

/// Where a file's records are.
enum Layout {
    /// The span of every record, from a structural scan or from lines.
    Spans(Vec<Range<usize>>),
    /// Pieces of the file whose records are framed by their own parse ([`json::pieces`]).
    Pieces {
        pieces: Vec<Range<usize>>,
        array: bool,
        /// The last piece holds the end of the file (in an array, its closing bracket):
        /// false in every window of a file but its last.
        closes: bool,
    },
}

/// One parallel task's share of a file's records.
#[derive(Clone)]
enum Part<'a> {
    Spans(&'a [Range<usize>]),
    Piece {
        range: Range<usize>,
        array: bool,
        /// The file's last piece: in an array, the one that holds the closing bracket.
        last: bool,
    },
}

impl Part<'_> {
    /// The bytes the part covers.
    fn range(&self) -> Range<usize> {
        match self {
            Part::Spans(spans) => match (spans.first(), spans.last()) {
                (Some(first), Some(last)) => first.start..last.end,
                _ => 0..0,
            },
            Part::Piece { range, .. } => range.clone(),
        }
    }
}

/// A task's records, each parsed where it lies in the file: a reader calls
/// [`Records::next`] with the parse of one record until it returns `None`.
pub struct Records<'a> {
    file: &'a Framed,
    d: de::Deserializer<'a>,
    part: Part<'a>,
    /// The part's records are all read.
    done: bool,
    /// The input before this offset has been prefetched (see [`read_ahead`]).
    ahead: usize,
}

/// How far ahead of the record being parsed its input is prefetched. On a 1.5M
/// conversation metrics run (Intel Xeon VM), prefetching took 9–13% off the CPU time, with
/// no difference between distances of 1 to 8 KiB: the parse stalled on loads of input not
/// yet in the cache (the hardware prefetchers stop at every 4 KiB page).
const READ_AHEAD: usize = 2048;

/// Prefetches the input from `*ahead` (or just past `start`) up to `READ_AHEAD` bytes past
/// `start`, where the record being parsed begins, a cache line at a time; lines already
/// asked for are not asked for again.
fn read_ahead(bytes: &[u8], start: usize, ahead: &mut usize) {
    let end = (start + READ_AHEAD).min(bytes.len());
    let mut at = (*ahead).max(start + 64);
    while at < end {
        #[cfg(target_arch = "x86_64")]
        // SAFETY: `at` < `bytes.len()`; a prefetch only hints the cache and never faults.
        unsafe {
            use std::arch::x86_64::{_mm_prefetch, _MM_HINT_T0};
            _mm_prefetch::<_MM_HINT_T0>(bytes.as_ptr().add(at) as *const i8);
        }
        at += 64;
    }
    *ahead = at;
}

impl<'a> Records<'a> {
    /// The records of `part`; unread values are parsed in full when `strict` (see
    /// [`de::Deserializer::lenient`]).
    fn new(file: &'a Framed, part: Part<'a>, strict: bool) -> Self {
        let d = match &part {
            Part::Spans(_) => de::Deserializer::new(&[], 0),
            Part::Piece { range, .. } => {
                de::Deserializer::new(&file.bytes[..range.end], range.start)
            }
        };
        let d = if strict { d } else { d.lenient() };
        Records {
            file,
            d,
            part,
            done: false,
            ahead: 0,
        }
    }

    /// The file the records are in.
    /// How many input bytes the part covers.
    pub fn input_len(&self) -> usize {
        self.part.range().len()
    }

    pub fn file(&self) -> &'a Framed {
        self.file
    }

    /// Reads the next record with `read`, which must read exactly one value; returns the
    /// record's offset in the file and what `read` returned, or `None` after the last one.
    pub fn next<T>(
        &mut self,
        read: impl FnOnce(&mut de::Deserializer<'a>) -> std::result::Result<T, de::Error>,
    ) -> Result<Option<(usize, T)>> {
        let Records {
            file,
            d,
            part,
            done,
            ahead,
        } = self;
        let bytes: &'a [u8] = &file.bytes;
        if *done {
            return Ok(None);
        }
        let failed = |e: de::Failure| file.error_at(e.offset, e.message);
        match part {
            Part::Spans(spans) => {
                let Some((span, rest)) = spans.split_first() else {
                    *done = true;
                    return Ok(None);
                };
                *spans = rest;
                read_ahead(bytes, span.start, ahead);
                d.reset(&bytes[..span.end], span.start);
                let v = d.read(read).map_err(failed)?;
                d.expect_end().map_err(failed)?;
                Ok(Some((span.start, v)))
            }
            Part::Piece { array, last, .. } => {
                if d.next_byte().is_none() {
                    *done = true;
                    // Pieces but the last end past an element's comma.
                    return match *array && *last {
                        true => Err(file.error_at(
                            d.position(),
                            "unexpected end of file: the JSON array is not closed",
                        )),
                        false => Ok(None),
                    };
                }
                let start = d.position();
                read_ahead(bytes, start, ahead);
                let v = d.read(read).map_err(failed)?;
                if *array {
                    match d.next_byte() {
                        Some(b',') => d.bump(),
                        Some(b']') if *last => {
                            d.bump();
                            d.expect_end().map_err(failed)?;
                            *done = true;
                        }
                        _ => {
                            return Err(file.error_at(
                                d.position(),
                                "expected ',' or ']' after an array element",
                            ))
                        }
                    }
                }
                Ok(Some((start, v)))
            }
        }
    }
}

impl Framed {
    /// The tasks' shares of the records.
    fn parts(&self) -> Vec<Part<'_>> {
        match &self.layout {
            Layout::Spans(spans) => spans.chunks(RECORDS_PER_TASK).map(Part::Spans).collect(),
            Layout::Pieces {
                pieces,
                array,
                closes,
            } => pieces
                .iter()
                .enumerate()
                .map(|(i, range)| Part::Piece {
                    range: range.clone(),
                    array: *array,
                    last: *closes && i + 1 == pieces.len(),
                })
                .collect(),
        }
    }

    /// A data error at `offset`.
    pub fn error_at(&self, offset: usize, message: impl Into<String>) -> Error {
        Error::Data {
            location: self.location(offset),
            message: message.into(),
        }
    }

    /// The location of a byte offset, for error messages.
    pub fn location(&self, offset: usize) -> Location {
        let mut at = locate(&self.path, &self.bytes, offset);
        // A piece starts a line: only the line and the offset move.
        at.line += self.origin.lines;
        at.offset += self.origin.offset;
        at
    }
}

/// The location of a byte offset of a file's content, for error messages.
fn locate(path: &Path, bytes: &[u8], offset: usize) -> Location {
    let (line, column) = json::line_col(bytes, offset);
    Location {
        path: path.to_path_buf(),
        line,
        column,
        offset,
    }
}

/// What a reader read: files, records, and records dropped as re-deliveries.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Stats {
    pub files: usize,
    pub records: usize,
    /// Records dropped because the same record (by the table's key) was delivered again.
    pub duplicates: usize,
    /// Records left out because they have no key (see [`Keyless`]).
    pub keyless: usize,
    /// Where the first of them is, and which field it lacks.
    pub first_keyless: Option<String>,
}

/// Counts records without their key (`conversation_id`, `sessionid`, `id`, `uuid`). The
/// vendors' own SQL ignores them (`COUNT(DISTINCT id)` skips NULL), so they are left out of
/// the tables, and reported with the location of the first, never dropped silently.
#[derive(Debug, Default)]
pub struct Keyless {
    count: std::sync::atomic::AtomicUsize,
    first: std::sync::Mutex<Option<(PathBuf, usize, String)>>,
}

impl Keyless {
    /// Notes a keyless record at `offset` of `file`, lacking `field`. Only the first one's
    /// line and column are worked out: finding them counts the lines before it, so doing it
    /// for every keyless record took time growing with the square of a file's size (an
    /// 11 MB file of records all without their key: 2.3 s).
    pub fn note(&self, file: &Framed, offset: usize, field: &str) {
        self.count
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if let Ok(mut first) = self.first.lock() {
            // By the offset in the file's content (a piece of it may start further on).
            let at = file.origin.offset + offset;
            let earlier = first
                .as_ref()
                .is_some_and(|(p, o, _)| (p, *o) <= (&file.path, at));
            if !earlier {
                let location = file.location(offset);
                *first = Some((
                    location.path.clone(),
                    at,
                    format!("{location}: no `{field}`"),
                ));
            }
        }
    }

    /// Adds what `other` noted (one file's) to this record.
    fn absorb(&self, other: Keyless) {
        let count = other.count.into_inner();
        if count == 0 {
            return;
        }
        self.count
            .fetch_add(count, std::sync::atomic::Ordering::Relaxed);
        if let Ok(Some((path, offset, message))) = other.first.into_inner() {
            if let Ok(mut first) = self.first.lock() {
                if first
                    .as_ref()
                    .is_none_or(|(p, o, _)| (&path, offset) < (p, *o))
                {
                    *first = Some((path, offset, message));
                }
            }
        }
    }

    /// Adds the count and the first location to `stats`.
    pub fn report(self, stats: &mut Stats) {
        stats.keyless = self.count.into_inner();
        stats.first_keyless = self.first.into_inner().ok().flatten().map(|(_, _, m)| m);
    }
}

/// Reads a record field's value, prefixing any error with the field's name (as it appears
/// in the file).
pub fn field<'de, A: serde::de::MapAccess<'de>, T: serde::de::Deserialize<'de>>(
    map: &mut A,
    key: &str,
) -> std::result::Result<T, A::Error> {
    map.next_value::<T>().map_err(|e| {
        serde::de::Error::custom(format_args!(
            "field `{key}`: {}",
            strip_position(&e.to_string())
        ))
    })
}

/// The keys a metrics-only read skips undecoded: `always` (no metric reads them) and each
/// key of `unless_asked` whose column (its pair) `only` does not name. A full read (`only`
/// is `None`) skips nothing.
pub fn lean_skipped(
    only: Option<&[String]>,
    always: &[&'static str],
    unless_asked: &[(&'static str, &str)],
) -> Vec<&'static str> {
    let Some(only) = only else {
        return Vec::new();
    };
    let unread = (unless_asked.iter())
        .filter(|(_, column)| !wanted(Some(only), column))
        .map(|&(key, _)| key);
    always.iter().copied().chain(unread).collect()
}

/// Whether a read keeps `column`: a full read (`only` is `None`) keeps every column.
pub fn wanted(only: Option<&[String]>, column: &str) -> bool {
    only.is_none_or(|only| only.iter().any(|c| c == column))
}

/// The known key (of `keys`) equal to the lower-cased key `k`, unless it is in `skipped`:
/// the key resolution of readers whose fields are named by their keys.
pub fn known_key(keys: &[&'static str], skipped: &[&str], k: &str) -> Option<&'static str> {
    let k = keys.iter().copied().find(|&known| known == k)?;
    (!skipped.contains(&k)).then_some(k)
}

/// Visits an object's fields by lower-cased key (exports mix `startTimestamp`,
/// `StartTimestamp` and UPPER_CASE): `read` gets the lower-cased key, the key as written (for
/// error messages) and the map, reads the value if it wants the field and says whether it
/// did. Values of other keys, and of keys in `skip`, are skipped without being decoded.
pub fn for_each_field<'de, A: serde::de::MapAccess<'de>>(
    map: &mut A,
    skip: &[&str],
    mut read: impl FnMut(&str, &str, &mut A) -> std::result::Result<bool, A::Error>,
) -> std::result::Result<(), A::Error> {
    // One buffer per object for the keys that need lower-casing (no allocation per key,
    // and no UTF-8 check: lower-casing ASCII letters keeps a `str` valid).
    let mut lowered = String::new();
    while let Some(key) = map.next_key::<json::LooseStr<'de>>()? {
        let key = key.0.unwrap_or_default();
        // Most exports write lower-case keys: only copy the others.
        let k: &str = match json::has_ascii_uppercase(&key) {
            true => {
                lowered.clear();
                lowered.push_str(&key);
                lowered.make_ascii_lowercase();
                &lowered
            }
            false => &key,
        };
        if skip.contains(&k) || !read(k, &key, map)? {
            map.next_value::<serde::de::IgnoredAny>()?;
        }
    }
    Ok(())
}

/// What happened to the files of a run that tolerated bad files.
#[derive(Debug, Default)]
pub struct Rejects {
    pub files: Vec<(PathBuf, String)>,
    pub skipped_not_json: Vec<PathBuf>,
    /// Files found by walking a directory that are another vendor's exports: passed over
    /// (a mixed inbox), where a file named explicitly is an error.
    pub other_vendor: Vec<(PathBuf, Vendor)>,
}

impl Rejects {
    /// Candidates neither rejected nor passed over: the files read.
    pub fn read_of(&self, candidates: usize) -> usize {
        candidates - self.files.len() - self.skipped_not_json.len() - self.other_vendor.len()
    }
}

/// What a reader does with a file whose content is bad.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnBadFile {
    /// Fail the run (the default): nothing is written.
    Fail,
    /// Set the file aside in `Rejects` and go on.
    Skip,
}

/// Reads every candidate of `vendor`: files in parallel, and each file's records in
/// parallel tasks of about [`RECORDS_PER_TASK`] records (a piece of the file, or a run of
/// spans), with `parse` reading them through [`Records`] into one chunk-local builder
/// and noting keyless records in the `Keyless` it is given. A file's bytes are dropped as
/// soon as its chunks are parsed, so memory holds the parsed columns plus the files being
/// read, not the whole input.
///
/// Returns the chunks in file and record order; keyless records are added to `keyless`.
/// Files below a directory that are not JSON at all are skipped with a note (in
/// `rejects.skipped_not_json`).
///
/// `strict` reads check every value of every record as JSON (RFC 8259), the ones no
/// column keeps included: what a full read keeps (a table, the lake) is valid. Metrics-only
/// reads pass false and skip unread values by structure (see
/// [`de::Deserializer::lenient`]).
#[allow(clippy::too_many_arguments)]
pub fn read_all<B, F>(
    candidates: &[Candidate],
    vendors: &[Vendor],
    on_bad: OnBadFile,
    strict: bool,
    rejects: &mut Rejects,
    keyless: &Keyless,
    parse: F,
) -> Result<Vec<B>>
where
    B: Send,
    F: Fn(Records<'_>, &Keyless) -> Result<B> + Sync,
{
    let parse_noting = |file: &Framed, noted: &Keyless| -> Result<Vec<B>> {
        file.parts()
            .into_par_iter()
            .map(|part| {
                let range = part.range();
                file.bytes.populate(range.clone());
                let chunk = parse(Records::new(file, part, strict), noted);
                file.bytes.release(range);
                chunk
            })
            .collect::<Result<Vec<B>>>()
    };
    let parse_file = |file: &Framed| -> Result<Vec<B>> {
        // Keyless records are noted per attempt: a retried file must not count them twice.
        let noted = Keyless::default();
        let chunks = parse_noting(file, &noted)?;
        keyless.absorb(noted);
        Ok(chunks)
    };
    let per_file: Vec<Result<Option<Vec<B>>>> = candidates
        .par_iter()
        .map(|c| {
            let (stored, path) = stored_of(c)?;
            // A gzip file of more than a piece, read as a metrics or table command reads
            // it (the ingest reads big ones in windows of a copy, and digests them).
            let streamable = c.digest.is_none() && c.window.is_none() && c.content.is_none();
            let noted = Keyless::default();
            let content = match streamable && is_gzip(&stored) {
                true => {
                    let parse = |f: &Framed| parse_noting(f, &noted);
                    stream::read_gzip(c, &stored, vendors, stream::PIECE, parse)
                }
                false => stream::Streamed::NotHere,
            };
            let content = match content {
                stream::Streamed::Read(chunks) => {
                    keyless.absorb(noted);
                    return Ok(Some(chunks));
                }
                stream::Streamed::Whole(content) => text_of(path, content)?,
                stream::Streamed::NotHere => decode(path, stored)?,
            };
            let Some(file) = frame_loaded(c, content, vendors)? else {
                return Ok(None);
            };
            match parse_file(&file) {
                Err(_) if file.by_lines => {
                    // The lines were not one record each (or not JSON: shell notation):
                    // frame by structure and parse again, which gives the exact error if
                    // the file is bad.
                    let file = frame_by_structure(&file.path, file.bytes, vendors, file.window)?;
                    parse_file(&file).map(Some)
                }
                chunks => chunks.map(Some),
            }
        })
        .collect();
    let mut out = Vec::new();
    for (c, r) in candidates.iter().zip(per_file) {
        match r {
            Ok(Some(chunks)) => out.extend(chunks),
            Ok(None) => rejects.skipped_not_json.push(c.path.clone()),
            Err(Error::OtherVendor { found, .. }) if c.from_dir => {
                rejects.other_vendor.push((c.path.clone(), found))
            }
            Err(e) if on_bad == OnBadFile::Skip && e.is_bad_file() => {
                rejects.files.push((c.path.clone(), e.to_string()))
            }
            Err(e) => return Err(e),
        }
    }
    Ok(out)
}

/// The records of the gzip file at `path` read in pieces of about `size` bytes (see
/// `source/stream.rs`), each as its offset in the content, its line and its text; `None` when the
/// file is not read that way (it fits in one piece, or is not one record per line, or is
/// bad: a whole read says how). For the fuzzers' property and the tests.
pub fn streamed_records(path: &Path, size: usize) -> Option<Vec<(usize, usize, String)>> {
    let c = Candidate {
        path: path.to_path_buf(),
        from_dir: false,
        digest: None,
        window: None,
        content: None,
    };
    let (stored, _) = stored_of(&c).ok()?;
    let parse = |file: &Framed| -> Result<Vec<(usize, usize, String)>> {
        let mut out = Vec::new();
        for part in file.parts() {
            let mut records = Records::new(file, part, true);
            while let Some((at, raw)) =
                records.next(|d| <de::Raw as serde::Deserialize>::deserialize(d))?
            {
                let location = file.location(at);
                out.push((location.offset, location.line, raw.0.to_string()));
            }
        }
        Ok(out)
    };
    match stream::read_gzip(&c, &stored, ALL, size, parse) {
        stream::Streamed::Read(records) => Some(records),
        _ => None,
    }
}

/// The bytes of the file a candidate reads (its decompressed copy, if it has one) as
/// stored, and that file's path.
fn stored_of(c: &Candidate) -> Result<(Bytes, &Path)> {
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

/// Frames a candidate's content (decoded: see [`decode`]): the share of its records it
/// reads, where they lie, its vendor; `None` for a file found in a folder that is not JSON.
fn frame_loaded(c: &Candidate, bytes: Bytes, vendors: &[Vendor]) -> Result<Option<Framed>> {
    if c.from_dir && !looks_like_json(&bytes) {
        return Ok(None);
    }
    // Where each line is one record (NDJSON, or an array's elements), the file is cut at
    // newlines and each piece's parse frames its records: nothing else looks at every byte
    // first. Lines of envelopes are framed by a newline search. Both are guesses the parse
    // confirms (see `read_all`).
    let first = json::first_record(&bytes);
    let share = match (c.window, &first) {
        (None, _) => Share::All,
        (Some(w), Some(f)) if !f.envelope => {
            let bounds = json::window_bounds(&bytes, f, w.count);
            match bounds.get(w.index..w.index + 2) {
                Some(&[start, end]) => Share::Window {
                    range: start..end,
                    last: w.index + 2 == bounds.len(),
                },
                _ => Share::Nothing,
            }
        }
        // A file that cannot be cut is read whole by its first window.
        (Some(w), _) if w.index == 0 => Share::All,
        (Some(_), _) => Share::Nothing,
    };
    let (range, closes, window) = match share {
        Share::All => (
            first.as_ref().map_or(0, |f| f.span.start)..bytes.len(),
            true,
            None,
        ),
        Share::Window { range, last } => (range.clone(), last, Some(range)),
        Share::Nothing => {
            return Ok(Some(Framed {
                path: c.path.clone(),
                bytes,
                layout: Layout::Spans(Vec::new()),
                vendor: vendors[0],
                by_lines: false,
                window: None,
                origin: Origin::default(),
            }))
        }
    };
    let Some(first) = first else {
        return frame_by_structure(&c.path, bytes, vendors, None).map(Some);
    };
    let layout = if first.envelope {
        let framed = |piece| bytes.release(piece);
        match json::envelope_lines(&bytes, &first, &framed)
            .and_then(|s| json::unwrap_envelopes_after(&bytes, s, Some(&first)).ok())
        {
            Some(spans) => Layout::Spans(spans),
            None => return frame_by_structure(&c.path, bytes, vendors, None).map(Some),
        }
    } else {
        Layout::Pieces {
            pieces: json::pieces(&bytes, &first, RECORDS_PER_TASK, range),
            array: first.array,
            closes,
        }
    };
    let detected = match &layout {
        Layout::Spans(spans) => vendor_of(&c.path, &bytes, spans, vendors),
        Layout::Pieces { .. } => vendor_of(&c.path, &bytes, &[first.span], vendors),
    };
    match detected {
        Ok(vendor) => Ok(Some(Framed {
            path: c.path.clone(),
            bytes,
            layout,
            vendor,
            by_lines: true,
            window,
            origin: Origin::default(),
        })),
        // Another vendor's export: framing it by structure would only say so again.
        Err(e @ Error::OtherVendor { .. }) => Err(e),
        Err(_) => frame_by_structure(&c.path, bytes, vendors, window).map(Some),
    }
}

/// Frames a file by a structural scan, after rewriting MongoDB shell notation if it has
/// any: the exact framing, and the one whose errors are reported. A window keeps the
/// records that start in it (the scan still reads the file from its start: where a record
/// begins is only known from there).
fn frame_by_structure(
    path: &Path,
    mut bytes: Bytes,
    vendors: &[Vendor],
    window: Option<Range<usize>>,
) -> Result<Framed> {
    if let Some(plain) = json::normalize_mongo_shell(&bytes) {
        if window.is_some() {
            // The rewrite moves every offset after its first change: the windows found in
            // the file as it is would no longer say which records are whose.
            return Err(Error::Format {
                path: path.to_path_buf(),
                message: "the file is larger than a batch and uses MongoDB shell notation \
                          after its first line, so it cannot be read in windows: read it \
                          with a --batch-size larger than the file"
                    .into(),
            });
        }
        bytes = Bytes::Owned(plain);
    }
    let mut spans = structural_spans(path, &bytes)?;
    let vendor = vendor_of(path, &bytes, &spans, vendors)?;
    if let Some(w) = &window {
        spans.retain(|s| w.contains(&s.start));
    }
    Ok(Framed {
        path: path.to_path_buf(),
        bytes,
        layout: Layout::Spans(spans),
        vendor,
        by_lines: false,
        window,
        origin: Origin::default(),
    })
}

/// The format of a file, detected from its first record (the first of `vendors` if it has
/// none); an error when that is not one of `vendors`.
fn vendor_of(
    path: &Path,
    bytes: &[u8],
    spans: &[Range<usize>],
    vendors: &[Vendor],
) -> Result<Vendor> {
    let Some(first) = spans.first() else {
        return Ok(vendors[0]);
    };
    // A first record that is not valid says so where it fails, not as "no keys".
    let keys = record_keys(&bytes[first.clone()]).map_err(|f| Error::Data {
        location: locate(path, bytes, first.start + f.offset),
        message: format!("the first record, read to tell the format: {}", f.message),
    })?;
    let detected = detect(&keys);
    if let Some(v) = detected.filter(|v| vendors.contains(v)) {
        return Ok(v);
    }
    let mut shown: Vec<&str> = keys.iter().map(String::as_str).take(8).collect();
    if keys.len() > 8 {
        shown.push("…");
    }
    let expected = if vendors.len() == ALL.len() {
        "a recognized export (Ultimate, Dialpad, Anywhere365 or Samespace)"
    } else {
        vendors[0].name()
    };
    match detected {
        Some(found) => Err(Error::OtherVendor {
            path: path.to_path_buf(),
            expected,
            found,
        }),
        None => Err(Error::Format {
            path: path.to_path_buf(),
            message: format!(
                "not {expected}: the first record has keys [{}]",
                shown.join(", ")
            ),
        }),
    }
}

/// The records of `bytes` found by a structural scan, envelopes unwrapped.
fn structural_spans(path: &Path, bytes: &[u8]) -> Result<Vec<Range<usize>>> {
    json::record_spans(bytes)
        .and_then(|(_, spans)| json::unwrap_envelopes(bytes, spans))
        .map_err(|e| {
            let (line, column) = json::line_col(bytes, e.offset);
            Error::Data {
                location: Location {
                    path: path.to_path_buf(),
                    line,
                    column,
                    offset: e.offset,
                },
                message: e.message,
            }
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The records of `text` cut into pieces of `size` bytes, each as its offset and text,
    /// or the first error.
    fn records_of_pieces(text: &[u8], size: usize) -> Result<Vec<(usize, String)>> {
        let first = json::first_record(text).expect("one record per line");
        let file = Framed {
            path: "t.json".into(),
            bytes: Bytes::Owned(text.to_vec()),
            layout: Layout::Pieces {
                pieces: json::cut_at_lines(text, first.span.start..text.len(), size, first.array),
                array: first.array,
                closes: true,
            },
            vendor: Vendor::Ultimate,
            by_lines: true,
            window: None,
            origin: Origin::default(),
        };
        let mut out = Vec::new();
        for part in file.parts() {
            let mut records = Records::new(&file, part, true);
            while let Some((start, raw)) =
                records.next(|d| <de::Raw as serde::Deserialize>::deserialize(d))?
            {
                out.push((start, raw.0.to_string()));
            }
        }
        Ok(out)
    }

    #[test]
    fn records_framed_by_their_parse_are_the_structural_records() {
        let (ndjson, array) = json::tests::one_per_line(40, b"", b"[\n", |i| {
            format!("{{\"id\":{i},\"s\":\"x\\\"}}\\n,\",\"l\":[{{}},[]]}}")
        });
        for text in [&ndjson, &array] {
            let spans = json::record_spans(text).expect("valid").1;
            let expected: Vec<(usize, String)> = spans
                .iter()
                .map(|s| {
                    (
                        s.start,
                        String::from_utf8_lossy(&text[s.clone()]).into_owned(),
                    )
                })
                .collect();
            assert_eq!(expected.len(), 40);
            for size in [1, 50, 200, 100_000] {
                assert_eq!(records_of_pieces(text, size).expect("valid"), expected);
            }
        }
    }

    #[test]
    fn broken_arrays_fail_in_pieces() {
        for (text, message) in [
            (
                &b"[\n{\"a\":1},\n{\"a\":2},\n]"[..],
                "expected a JSON value",
            ),
            (
                b"[\n{\"a\":1},\n{\"a\":2},\n",
                "the JSON array is not closed",
            ),
            (b"[\n{\"a\":1},\n{\"a\":2}\n", "expected ',' or ']'"),
            (
                b"[\n{\"a\":1},\n{\"a\":2}\n]\n{}",
                "unexpected content after",
            ),
            (b"[\n{\"a\":1}\n{\"a\":2}\n]", "expected ',' or ']'"),
        ] {
            for size in [1, 100] {
                let err = records_of_pieces(text, size)
                    .expect_err("broken")
                    .to_string();
                assert!(
                    err.contains(message),
                    "{}: {err}",
                    String::from_utf8_lossy(text)
                );
            }
        }
    }

    #[test]
    fn a_cut_inside_a_record_fails_the_piece_before_it() {
        // Valid JSON, but the second record is over two lines: cut there, its first piece
        // ends inside it (the caller then frames the file by structure).
        let text = b"{\"a\":1}\n{\"a\":\n2}\n{\"a\":3}\n";
        let err = records_of_pieces(text, 1)
            .expect_err("cut inside")
            .to_string();
        assert!(err.contains("unexpected end of input"), "{err}");
        let whole = records_of_pieces(text, 100).expect("one piece");
        assert_eq!(whole[1], (8, "{\"a\":\n2}".to_string()));
    }

    /// The records (offset, raw text) each of `count` windows of the file at `path` reads.
    fn windows_of(path: &Path, count: usize) -> Result<Vec<Vec<(usize, String)>>> {
        (0..count)
            .map(|index| {
                let window = Window {
                    index,
                    count,
                    modified: None,
                };
                crate::fuzz::records_of(path, Some(window))
            })
            .collect()
    }

    #[test]
    fn the_windows_of_a_big_file_take_each_record_once_in_order() {
        let dir = tempfile::tempdir().expect("temp dir");
        let record = |i: usize| {
            format!(
                "{{\"conversation_id\":\"c{i}\",\"conversation_status\":\"agent\",\"x\":\"{}\"}}",
                "y".repeat(i % 300)
            )
        };
        let records: Vec<String> = (0..12_000).map(record).collect();
        let ndjson = records.join("\n") + "\n";
        let array = format!("[\n{}\n]\n", records.join(",\n"));
        // A first record on one line, the rest pretty-printed: the pieces' parse fails and
        // each window is framed by structure, keeping the records that start in it.
        let multi_line = format!(
            "{}\n{}",
            records[0],
            records[1..].join("\n").replace(',', ",\n  ")
        );
        let pretty = format!("[\n  {}\n]", records.join(",\n  ").replace(',', ",\n    "));
        for (name, text) in [
            ("ndjson", &ndjson),
            ("array", &array),
            ("multi-line", &multi_line),
            ("pretty", &pretty),
        ] {
            assert!(
                text.len() > 2 * MAP_THRESHOLD as usize,
                "{name}: mapped and cut"
            );
            let path = dir.path().join(format!("{name}.json"));
            std::fs::write(&path, text).expect("written");
            let whole: Vec<(usize, String)> = json::record_spans(text.as_bytes())
                .expect("valid")
                .1
                .into_iter()
                .map(|s| (s.start, text[s].to_string()))
                .collect();
            assert_eq!(whole.len(), records.len(), "{name}");
            for count in [1, 2, 3, 7] {
                let windows = windows_of(&path, count).expect("read");
                let read: Vec<(usize, String)> = windows.concat();
                assert_eq!(read, whole, "{name}, {count} windows");
                let nonempty = windows.iter().filter(|w| !w.is_empty()).count();
                match name {
                    // Not cut: the first window reads it whole.
                    "pretty" => assert_eq!(nonempty, 1, "{name}, {count} windows"),
                    _ => assert_eq!(nonempty, count, "{name}, {count} windows"),
                }
            }
        }
        // A broken array fails in its last window, where the bracket is missing.
        let path = dir.path().join("broken.json");
        std::fs::write(&path, &array[..array.len() - 2]).expect("written");
        let err = windows_of(&path, 3).expect_err("not closed").to_string();
        assert!(err.contains("not closed"), "{err}");
    }

    #[test]
    fn a_gzip_file_read_in_pieces_takes_the_records_of_a_whole_read() {
        let dir = tempfile::tempdir().expect("temp dir");
        let record = |i: usize| {
            format!(
                "{{\"conversation_id\":\"c{i}\",\"conversation_status\":\"agent\",\"x\":\"{}\"}}",
                "y".repeat(i % 30)
            )
        };
        let records: Vec<String> = (0..500).map(record).collect();
        let gzip = |text: &[u8]| {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, text).expect("gzipped");
            gz.finish().expect("gzipped")
        };
        let ndjson = records.join("\n") + "\n";
        let files = [
            ("ndjson", gzip(ndjson.as_bytes())),
            (
                "array",
                gzip(format!("[\n{}\n]\n", records.join(",\n")).as_bytes()),
            ),
            // Blank lines and spaces between records, CRLF line ends.
            ("blank", gzip(records.join("\r\n\r\n  ").as_bytes())),
            // Two gzip members, cut inside a record.
            ("members", {
                let (a, b) = ndjson.split_at(ndjson.len() / 2);
                [gzip(a.as_bytes()), gzip(b.as_bytes())].concat()
            }),
        ];
        for (name, stored) in &files {
            let path = dir.path().join(format!("{name}.json.gz"));
            std::fs::write(&path, stored).expect("written");
            let whole = crate::fuzz::records_of(&path, None).expect("a whole read");
            assert_eq!(whole.len(), records.len(), "{name}");
            for size in [1, 100, 5000] {
                let read = streamed_records(&path, size).expect("read in pieces");
                let read: Vec<(usize, String)> = (read.into_iter())
                    .map(|(offset, _, raw)| (offset, raw))
                    .collect();
                assert_eq!(read, whole, "{name}, pieces of {size} bytes");
            }
            // The lines too (and the same for 1 and 16 bytes).
            crate::fuzz::check_stream(&path, stored);
        }
        // A record over several lines after the first: not read in pieces, and the whole
        // read frames it by structure.
        let multi_line = format!(
            "{}\n{}",
            records[0],
            records[1..].join("\n").replace(',', ",\n  ")
        );
        let path = dir.path().join("multi.json.gz");
        std::fs::write(&path, gzip(multi_line.as_bytes())).expect("written");
        assert_eq!(streamed_records(&path, 100), None);
        assert_eq!(
            crate::fuzz::records_of(&path, None).expect("read").len(),
            500
        );
        // A bad record in a late piece: not read in pieces; the whole read names its line.
        let bad = ndjson.replacen("\"c450\"", "\"c450", 1);
        let path = dir.path().join("bad.json.gz");
        std::fs::write(&path, gzip(bad.as_bytes())).expect("written");
        assert_eq!(streamed_records(&path, 100), None);
        let err = crate::fuzz::records_of(&path, None)
            .expect_err("bad")
            .to_string();
        assert!(err.contains(":451:"), "{err}");
        // Content that fits in one piece is left to the whole read.
        assert_eq!(
            streamed_records(&dir.path().join("ndjson.json.gz"), 1 << 20),
            None
        );
    }

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
    fn detects_ultimate_by_keys() {
        let keys =
            record_keys(br#"{"CONVERSATION_ID":"a","CONVERSATION_STATUS":"agent"}"#).unwrap();
        assert_eq!(detect(&keys), Some(Vendor::Ultimate));
        let keys = record_keys(br#"{"sessionid":"1.1","ts":1}"#).unwrap();
        assert_eq!(detect(&keys), Some(Vendor::Dialpad));
        let keys = record_keys(br#"{"Id":"1","StartTimestamp":"x","Outcome":"Accepted"}"#).unwrap();
        assert_eq!(detect(&keys), Some(Vendor::Anywhere365));
        let keys = record_keys(br#"{"_id":"1","csat":[]}"#).unwrap();
        assert_eq!(detect(&keys), Some(Vendor::SamespaceCsat));
        let keys = record_keys(br#"{"name":"x","value":1}"#).unwrap();
        assert_eq!(detect(&keys), None);
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

    #[test]
    fn a_walk_finds_files_in_sorted_path_order() {
        let dir = tempfile::tempdir().unwrap();
        // Names whose order as paths differs from their order as strings ("a/…" sorts
        // before "a-b" as a path, after it as text) and a bare and a nested file.
        for f in [
            "a/z.json",
            "a/b/c.json",
            "a-b.json",
            "a.json",
            "B/x.json",
            "b.json",
        ] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "{}").unwrap();
        }
        let found: Vec<PathBuf> = (discover(&[dir.path().to_path_buf()]).unwrap().candidates)
            .into_iter()
            .map(|c| c.path)
            .collect();
        let mut sorted = found.clone();
        sorted.sort();
        assert_eq!(found.len(), 6);
        assert_eq!(found, sorted);
    }

    #[test]
    fn a_missing_path_is_an_io_error() {
        let e = discover(&[PathBuf::from("/no/such/file.json")]).unwrap_err();
        assert!(matches!(e, Error::Io { .. }));
    }
}
