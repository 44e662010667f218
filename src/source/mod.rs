//! Reading export files. One file per job: `discover` (which files), `load` (their bytes),
//! `detect` (which vendor's), `frame` (where records lie in the bytes), `records` (a file
//! framed, and the cursor a reader parses its records through), `stream` (a big gzip file
//! in pieces), `de` (the JSON parser), `json` (the tolerant scalars), one reader per
//! vendor; here, the parallel driver every reader runs on ([`read_all`]) and what the
//! readers share.

pub use frame::strip_position;

/// Declares a reader's fields as an enum and its table of keys (lower-cased) and fields,
/// one line per field, for [`known_key`] and the reader's `de::Deserializer::fields` loop:
/// `keys! { Key, KEYS: Id = "id", Start = "starttimestamp" }`. Why an enum: named by the
/// key string, each value was matched against every key again after the key memo had
/// found it.
macro_rules! keys {
    ($(#[$meta:meta])* $field:ident, $table:ident: $($variant:ident = $key:literal),+ $(,)?) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq)]
        enum $field {
            $($variant),+
        }

        /// The keys the reader knows (lower-cased), and their fields.
        const $table: [(&str, $field); [$($key),+].len()] = [$(($key, $field::$variant)),+];
    };
}

pub mod anywhere365;
pub mod codes;
pub mod de;
mod detect;
pub mod dialpad;
mod digits;
mod discover;
pub mod frame;
pub mod json;
mod load;
pub mod mapped;
mod records;
pub mod samespace;
mod stream;
pub mod ultimate;

pub use detect::{detect, record_keys, sniff, Vendor, ALL, SAMESPACE};
pub use discover::{discover, Candidate, Discovered, Window};
pub use load::{
    changed_while_read, content_size, decompress_to, gzip_head, is_gzip, load, looks_like_json,
    Bytes, ContentSize, Digest, Hasher,
};
pub use records::{Framed, Records};

use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::error::{Error, Result};
use load::{decode, stored_of, text_of};
use records::{frame_by_structure, frame_loaded};

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

/// The field of the known key (of `keys`, lower-cased, with their fields) equal to the
/// lower-cased key `k`, unless it is in `skipped`: the key resolution of readers whose
/// fields are named by their keys.
pub fn known_key<F: Copy>(keys: &[(&'static str, F)], skipped: &[&str], k: &str) -> Option<F> {
    let &(k, field) = keys.iter().find(|&&(known, _)| known == k)?;
    (!skipped.contains(&k)).then_some(field)
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
/// parallel tasks of about [`records::RECORDS_PER_TASK`] records (a piece of the file, or a run of
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
