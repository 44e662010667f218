//! A file framed and its records read: [`Framed`] is its content with where its records
//! are (found by `frame`'s scanners: a guess from lines that the parse confirms, or a
//! structural scan) and which of them a window takes; the share of the records each
//! parallel task parses; the cursor [`Records`] every vendor reader parses through; and
//! the location of an offset for error messages.

use std::ops::Range;
use std::path::{Path, PathBuf};

use super::detect::vendor_of;
use super::load::{looks_like_json, Bytes};
use super::{de, frame, Candidate, Vendor};
use crate::error::{Error, Location, Result};

/// Records parsed per parallel task: small enough to spread a file over both cores, large
/// enough that scheduling costs nothing. Each task makes one chunk (its builders, its Arrow
/// arrays, later a chunk of the polars columns): 2048 records per chunk cost 5–12% more CPU
/// than 8192 on bot KPIs, Dialpad and Anywhere365 runs, and 10–30 MB more peak memory.
pub(super) const RECORDS_PER_TASK: usize = 8192;

/// A file's bytes and where its records are, checked to be of the expected vendor.
pub struct Framed {
    pub path: PathBuf,
    pub bytes: Bytes,
    pub(super) layout: Layout,
    /// The format detected from the first record (the first accepted one if empty).
    pub vendor: Vendor,
    /// The layout is a guess from lines ([`frame::pieces`], [`frame::line_spans`]), to be
    /// confirmed by the parse.
    pub(super) by_lines: bool,
    /// A window's records: those starting in this range (see [`Window`](super::Window));
    /// `None`: all.
    pub(super) window: Option<Range<usize>>,
    /// Where `bytes` begin in the file's content: a piece of a gzip stream (see
    /// [`stream`](super::stream)) is not its start.
    pub(super) origin: Origin,
}

/// The offset and the lines of content before a framed piece of a file.
#[derive(Debug, Clone, Copy, Default)]
pub(super) struct Origin {
    pub(super) offset: usize,
    pub(super) lines: usize,
}

/// Which of a file's records a read takes (see [`Window`](super::Window)).
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
pub(super) enum Layout {
    /// The span of every record, from a structural scan or from lines.
    Spans(Vec<Range<usize>>),
    /// Pieces of the file whose records are framed by their own parse ([`frame::pieces`]).
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
pub(super) enum Part<'a> {
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
    pub(super) fn range(&self) -> Range<usize> {
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
    pub(super) fn new(file: &'a Framed, part: Part<'a>, strict: bool) -> Self {
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
    pub(super) fn parts(&self) -> Vec<Part<'_>> {
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
pub(super) fn locate(path: &Path, bytes: &[u8], offset: usize) -> Location {
    let (line, column) = frame::line_col(bytes, offset);
    Location {
        path: path.to_path_buf(),
        line,
        column,
        offset,
    }
}

/// Frames a candidate's content (decoded: see [`decode`](super::load::decode)): the share of
/// its records it reads, where they lie, its vendor; `None` for a file found in a folder that
/// is not JSON.
pub(super) fn frame_loaded(
    c: &Candidate,
    bytes: Bytes,
    vendors: &[Vendor],
) -> Result<Option<Framed>> {
    if c.from_dir && !looks_like_json(&bytes) {
        return Ok(None);
    }
    // Where each line is one record (NDJSON, or an array's elements), the file is cut at
    // newlines and each piece's parse frames its records: nothing else looks at every byte
    // first. Lines of envelopes are framed by a newline search. Both are guesses the parse
    // confirms (see `read_all`).
    let first = frame::first_record(&bytes);
    let share = match (c.window, &first) {
        (None, _) => Share::All,
        (Some(w), Some(f)) if !f.envelope => {
            let bounds = frame::window_bounds(&bytes, f, w.count);
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
        match frame::envelope_lines(&bytes, &first, &framed)
            .and_then(|s| frame::unwrap_envelopes_after(&bytes, s, Some(&first)).ok())
        {
            Some(spans) => Layout::Spans(spans),
            None => return frame_by_structure(&c.path, bytes, vendors, None).map(Some),
        }
    } else {
        Layout::Pieces {
            // Each piece's pages handed back once cut: the parse maps them again
            // (`Bytes::populate`), and cutting a 738 MB Dialpad dump had left 393 MB of it
            // mapped, the run's peak, where the parsed data peaks at 240 MB.
            pieces: frame::pieces(&bytes, &first, RECORDS_PER_TASK, range, &|piece| {
                bytes.release(piece)
            }),
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
pub(super) fn frame_by_structure(
    path: &Path,
    mut bytes: Bytes,
    vendors: &[Vendor],
    window: Option<Range<usize>>,
) -> Result<Framed> {
    if let Some(plain) = frame::normalize_mongo_shell(&bytes) {
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

/// The records of `bytes` found by a structural scan, envelopes unwrapped.
fn structural_spans(path: &Path, bytes: &[u8]) -> Result<Vec<Range<usize>>> {
    frame::record_spans(bytes)
        .and_then(|(_, spans)| frame::unwrap_envelopes(bytes, spans))
        .map_err(|e| {
            let (line, column) = frame::line_col(bytes, e.offset);
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
    use crate::source::load::MAP_THRESHOLD;
    use crate::source::Window;

    /// The records of `text` cut into pieces of `size` bytes, each as its offset and text,
    /// or the first error.
    fn records_of_pieces(text: &[u8], size: usize) -> Result<Vec<(usize, String)>> {
        let first = frame::first_record(text).expect("one record per line");
        let file = Framed {
            path: "t.json".into(),
            bytes: Bytes::Owned(text.to_vec()),
            layout: Layout::Pieces {
                pieces: frame::cut_at_lines(
                    text,
                    first.span.start..text.len(),
                    size,
                    first.array,
                    &|_| {},
                ),
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
        let (ndjson, array) = frame::tests::one_per_line(40, b"", b"[\n", |i| {
            format!("{{\"id\":{i},\"s\":\"x\\\"}}\\n,\",\"l\":[{{}},[]]}}")
        });
        for text in [&ndjson, &array] {
            let spans = frame::record_spans(text).expect("valid").1;
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
            let whole: Vec<(usize, String)> = frame::record_spans(text.as_bytes())
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
}
