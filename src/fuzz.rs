//! The properties the fuzzers check, shared by the seeded loop of the test suite
//! (`tests/fuzz.rs`) and the coverage-guided `cargo fuzz` targets (`fuzz/`), so both check
//! the same thing. Each `check_*` panics when a property fails, which is what a fuzzer
//! reports; anything else (an error for bad input) is a pass.
//!
//! - [`check_json`]: `source::de` against serde_json, the reference. The same documents
//!   are accepted, with the same values, by a full decode, by a strict skip (a value under
//!   a key no reader wants in a record walk; a lenient skip (metrics-only reads)
//!   accepts at least what serde_json accepts.
//! - [`check_file`]: every vendor reader, over a file of any bytes, in full and
//!   metrics-only reads, returns a table or an error: never a panic. A full read that
//!   succeeds read valid JSON: every document of the file (or the file, an array or an
//!   envelope) parses with serde_json. And the windows an ingest reads a big file in
//!   ([`check_windows`]) take every record of the file once, in order, or fail where a
//!   whole read fails.

use std::path::Path;

use serde::de::IgnoredAny;
use serde_json::Value;

use crate::source::{self, de, Candidate, OnBadFile, Rejects, Window};

/// Checks `source::de` against serde_json on one document (see the module doc).
pub fn check_json(doc: &[u8]) {
    let theirs = serde_json::from_slice::<Value>(doc);
    let ours = de::from_slice::<Value>(doc);
    match (&ours, &theirs) {
        (Ok(a), Ok(b)) => assert!(
            same(a, b),
            "values differ on {:?}: ours {a:?}, serde_json {b:?}",
            String::from_utf8_lossy(doc)
        ),
        (Err(_), Err(_)) => {}
        _ => panic!(
            "acceptance differs on {:?}: ours {:?}, serde_json {:?}",
            String::from_utf8_lossy(doc),
            ours.as_ref().map(|_| ()).map_err(|e| e.to_string()),
            theirs.as_ref().map(|_| ()).map_err(|e| e.to_string()),
        ),
    }
    let accepted = theirs.is_ok();
    // The strict skip: a value no one reads, alone and under an unknown key of a record.
    let skipped = de::from_slice::<IgnoredAny>(doc).is_ok();
    assert_eq!(
        skipped,
        accepted,
        "a strict skip disagrees with serde_json on {:?}",
        String::from_utf8_lossy(doc)
    );
    // Under a key no reader wants, as a reader's record walk skips it (its own fast path
    // for short strings and empty containers included).
    let mut record = b"{\"zz_unknown\":".to_vec();
    record.extend_from_slice(doc);
    record.extend_from_slice(b",\"conversation_id\":\"1\"}");
    let record_ok = serde_json::from_slice::<Value>(&record).is_ok();
    assert_eq!(
        walk_record(&record, true),
        record_ok,
        "a strict record walk disagrees with serde_json on {:?}",
        String::from_utf8_lossy(&record)
    );
    if record_ok {
        assert!(
            walk_record(&record, false) && source::record_keys(&record).is_ok(),
            "a lenient record walk rejects valid JSON {:?}",
            String::from_utf8_lossy(&record)
        );
    }
    // The lenient skip may accept more, never less.
    if accepted {
        let mut d = de::Deserializer::new(doc, 0).lenient();
        let r = d.read(|d| serde::Deserialize::deserialize(&mut *d).map(|_: IgnoredAny| ()));
        assert!(
            r.is_ok() && d.expect_end().is_ok(),
            "a lenient skip rejects valid JSON {:?}",
            String::from_utf8_lossy(doc)
        );
    }
}

/// Whether a reader's walk of the object `record`, reading no field, accepts it.
fn walk_record(record: &[u8], strict: bool) -> bool {
    let mut memo = de::KeyMemo::default();
    let mut d = de::Deserializer::new(record, 0);
    if !strict {
        d = d.lenient();
    }
    d.read(|d| d.fields("a record", &mut memo, |_| Some(()), |_, (), _| Ok(false)))
        .is_ok()
        && d.expect_end().is_ok()
}

/// JSON values equal, numbers compared by value (serde_json may hold one number as an
/// integer where ours holds it as a float, e.g. `-0`). Floats may differ in their last
/// digits: serde_json's default float parse is not correctly rounded for long mantissas
/// (its `float_roundtrip` feature is, at a cost; turning it on would rebuild polars). The
/// fuzzer found `184467446744073709551615`, which it reads as 1.844674467440737e23 where the
/// correctly rounded value, Rust's `str::parse` and ours, is 1.8446744674407372e23 (a test
/// in `de` checks ours against `str::parse`).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => match (x.as_f64(), y.as_f64()) {
            _ if x == y => true,
            (Some(p), Some(q)) => p == q || (p - q).abs() <= 8.0 * f64::EPSILON * p.abs(),
            _ => false,
        },
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len()
                && x.iter()
                    .zip(y)
                    .all(|((ka, va), (kb, vb))| ka == kb && same(va, vb))
        }
        _ => a == b,
    }
}

/// Whether `bytes` is JSON as a file of exports may hold it: one value (an array, an
/// envelope) or values one after another (NDJSON, concatenated objects), after a UTF-8 BOM.
pub fn is_json_stream(bytes: &[u8]) -> bool {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let mut n = 0;
    for v in serde_json::Deserializer::from_slice(bytes).into_iter::<IgnoredAny>() {
        if v.is_err() {
            return false;
        }
        n += 1;
    }
    n > 0
}

/// Runs every vendor reader over `bytes` written to `path` (see the module doc).
pub fn check_file(path: &Path, bytes: &[u8]) {
    if std::fs::write(path, bytes).is_err() {
        return;
    }
    let c = [Candidate {
        path: path.to_path_buf(),
        from_dir: false,
        digest: None,
        window: None,
        content: None,
    }];
    let mut kept = Vec::new();
    let lean = Some(vec!["conversation_status".to_string()]);
    let full_ultimate = source::ultimate::Options::default();
    let lean_ultimate = source::ultimate::Options {
        only: lean.clone(),
        ..Default::default()
    };
    let mut rejects = Rejects::default();
    kept.push(source::ultimate::read(&c, &full_ultimate, OnBadFile::Fail, &mut rejects).is_ok());
    let _ = source::ultimate::read(&c, &lean_ultimate, OnBadFile::Fail, &mut rejects);
    let full = source::dialpad::Options::default();
    kept.push(source::dialpad::read(&c, &full, OnBadFile::Fail, &mut rejects).is_ok());
    let only = source::dialpad::Options {
        only: Some(source::dialpad::Lean {
            messages: vec!["sessionid".into()],
            interactions: vec!["first_ts".into()],
            in_delivery_order: true,
            sender_words: None,
        }),
    };
    let _ = source::dialpad::read(&c, &only, OnBadFile::Fail, &mut rejects);
    // The messages' columns built from the dedupe's slots, and none (only counted).
    for messages in [vec!["ts".into(), "sendertype".into()], vec![]] {
        let only = source::dialpad::Options {
            only: Some(source::dialpad::Lean {
                messages,
                interactions: vec!["customersessionid".into()],
                in_delivery_order: true,
                sender_words: crate::metrics::messaging::sender_words(&[]),
            }),
        };
        let _ = source::dialpad::read(&c, &only, OnBadFile::Fail, &mut rejects);
    }
    let full = source::anywhere365::Options::default();
    kept.push(source::anywhere365::read(&c, &full, OnBadFile::Fail, &mut rejects).is_ok());
    let only = source::anywhere365::Options {
        only: Some(vec!["outcome".into(), "direction".into()]),
        words: crate::metrics::queue::coded(&[]),
    };
    let _ = source::anywhere365::read(&c, &only, OnBadFile::Fail, &mut rejects);
    let full = source::samespace::Options::default();
    let samespace = source::samespace::read(&c, &full, OnBadFile::Fail, &mut rejects).is_ok();
    let calls_only = source::samespace::Options {
        calls_only: Some(vec!["uuid".into(), "start_time".into(), "direction".into()]),
    };
    let _ = source::samespace::read(&c, &calls_only, OnBadFile::Fail, &mut rejects);
    // Samespace reads MongoDB shell notation, which is not JSON but is rewritten to it; so
    // do the others (the framing rewrites it for any file), so the property holds for text
    // that has none.
    // The property is about the content: a gzip file is judged by what it holds (cargo
    // fuzz found the check judging a gzipped sample by its compressed bytes).
    let Ok(content) = source::load(path) else {
        assert!(
            !kept.iter().any(|&k| k),
            "a full read kept a file that cannot be loaded"
        );
        return;
    };
    let shell = source::frame::normalize_mongo_shell(&content).is_some();
    if kept.iter().any(|&k| k) && !shell {
        assert!(
            is_json_stream(&content),
            "a full read kept a file that is not JSON: {:?}",
            String::from_utf8_lossy(&content)
        );
    }
    let _ = samespace;
    if !shell {
        check_windows(path);
    }
    check_stream(path, bytes);
}

/// A gzip file read in pieces as it is decompressed (see `source::streamed_records`),
/// pieces of 1, 16 and 100 bytes: whenever the pieces read it, a whole read succeeds and
/// takes the same records at the same offsets, and each record's line is its line in the
/// content (a piece's lines count on from the pieces before it). A file not gzipped is
/// gzipped first.
pub fn check_stream(path: &Path, bytes: &[u8]) {
    let gz = path.with_extension("pieces.gz");
    let stored = match source::is_gzip(bytes) {
        true => bytes.to_vec(),
        false => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            match std::io::Write::write_all(&mut e, bytes).and_then(|()| e.finish()) {
                Ok(gz) => gz,
                Err(_) => return,
            }
        }
    };
    if std::fs::write(&gz, &stored).is_err() {
        return;
    }
    let whole = records_of(&gz, None);
    let content = source::load(&gz);
    for size in [1, 16, 100] {
        let Some(streamed) = source::streamed_records(&gz, size) else {
            continue;
        };
        let (Ok(whole), Ok(content)) = (&whole, &content) else {
            panic!("pieces of {size} bytes read a file a whole read rejects");
        };
        let read: Vec<(usize, String)> = (streamed.iter())
            .map(|(offset, _, raw)| (*offset, raw.clone()))
            .collect();
        assert!(
            read == *whole,
            "pieces of {size} bytes read other records than the whole file"
        );
        for (offset, line, _) in &streamed {
            assert_eq!(
                *line,
                source::frame::line_col(content, *offset).0,
                "the line of the record at {offset} (pieces of {size} bytes)"
            );
        }
    }
    let _ = std::fs::remove_file(&gz);
}

/// The records (offset, raw text) a read of the file at `path` takes, all of them or a
/// window's (see [`Window`]), checked as strictly as a full read: what an ingest's reader
/// gets to parse.
pub fn records_of(
    path: &Path,
    window: Option<Window>,
) -> crate::error::Result<Vec<(usize, String)>> {
    let c = Candidate {
        path: path.to_path_buf(),
        from_dir: false,
        digest: None,
        window,
        content: None,
    };
    let chunks = source::read_all(
        &[c],
        source::ALL,
        OnBadFile::Fail,
        true,
        &mut Rejects::default(),
        &source::Keyless::default(),
        |mut records, _| {
            let mut out = Vec::new();
            while let Some((at, raw)) =
                records.next(|d| <de::Raw as serde::Deserialize>::deserialize(d))?
            {
                out.push((at, raw.0.to_string()));
            }
            Ok(out)
        },
    )?;
    Ok(chunks.concat())
}

/// The windows of the file at `path`, 2, 3 and 7 of them, read one after another: when a
/// whole read succeeds, they take exactly its records, in order; when it fails, so does
/// one of them. (Files with MongoDB shell notation are left out: their rewrite moves the
/// offsets windows are cut at, so a windowed read refuses them by design.)
pub fn check_windows(path: &Path) {
    let whole = records_of(path, None);
    for count in [2, 3, 7] {
        let windows: Vec<crate::error::Result<Vec<(usize, String)>>> = (0..count)
            .map(|index| {
                let window = Window {
                    index,
                    count,
                    modified: None,
                };
                records_of(path, Some(window))
            })
            .collect();
        match &whole {
            Ok(records) => {
                let mut read = Vec::new();
                for w in &windows {
                    match w {
                        Ok(w) => read.extend(w.iter().cloned()),
                        Err(e) => panic!("a window of a good file failed ({count} windows): {e}"),
                    }
                }
                assert!(
                    read == *records,
                    "{count} windows read other records than the whole file"
                );
            }
            Err(e) => assert!(
                windows.iter().any(|w| w.is_err()),
                "every one of {count} windows read a file a whole read rejects ({e})"
            ),
        }
    }
}

/// The seeded loop's generator: the synthetic exports' SplitMix64.
pub use crate::generate::Rng;

fn below(rng: &mut Rng, n: usize) -> usize {
    (rng.next_u64() % n.max(1) as u64) as usize
}

/// Bytes JSON parsers trip on.
const INTERESTING: &[&[u8]] = &[
    b"\"",
    b"\\",
    b"{",
    b"}",
    b"[",
    b"]",
    b",",
    b":",
    b"\\u",
    b"\\u00",
    b"\\ud800",
    b"\\udc00",
    b"0",
    b"-",
    b"+",
    b"e",
    b"E",
    b".",
    b"1e400",
    b"00",
    b"-0",
    b"true",
    b"tru",
    b"null",
    b"nul",
    b"\x00",
    b"\x1f",
    b"\x7f",
    b"\x80",
    b"\xC3",
    b"\xC3\xA9",
    b"\xE2\x82",
    b"\xF0\x9F\x98\x80",
    b"\xFF",
    b" ",
    b"\n",
    b"\t",
    b"\r",
    b"\xEF\xBB\xBF",
    b"18446744073709551616",
    b"1.",
    b"\"\"",
    b"{}",
    b"[]",
    b"\"a\":",
    b"/",
    b"'",
    b"\\x",
    b"NaN",
    b"Infinity",
];

/// One mutation of `doc`: a byte or a token replaced, inserted or deleted, a span
/// duplicated or removed, or a span of `other` spliced in.
pub fn mutate(rng: &mut Rng, doc: &[u8], other: &[u8]) -> Vec<u8> {
    let mut out = doc.to_vec();
    let rounds = 1 + below(rng, 3);
    for _ in 0..rounds {
        let at = below(rng, out.len() + 1);
        match below(rng, 6) {
            0 if !out.is_empty() => {
                let at = at.min(out.len() - 1);
                out[at] = rng.next_u64() as u8;
            }
            1 => {
                let t = INTERESTING[below(rng, INTERESTING.len())];
                out.splice(at..at, t.iter().copied());
            }
            2 if !out.is_empty() => {
                let t = INTERESTING[below(rng, INTERESTING.len())];
                let end = (at + t.len()).min(out.len());
                out.splice(at..end, t.iter().copied());
            }
            3 => {
                let end = (at + 1 + below(rng, 8)).min(out.len());
                out.drain(at..end);
            }
            4 => {
                let end = (at + 1 + below(rng, 16)).min(out.len());
                let span = out[at..end].to_vec();
                out.splice(at..at, span);
            }
            _ if !other.is_empty() => {
                let from = below(rng, other.len());
                let end = (from + 1 + below(rng, 32)).min(other.len());
                out.splice(at..at, other[from..end].iter().copied());
            }
            _ => {}
        }
    }
    out
}
