//! Framing: where the records of an export lie. An export is either one JSON array of
//! records or a sequence of whitespace-separated JSON documents (NDJSON being the common
//! case), sometimes inside an envelope (`{"value": [...]}`), sometimes in MongoDB shell
//! notation. [`record_spans`] finds the byte range of every record with a structural scan;
//! where records are one per line, the file is cut into pieces at newlines
//! ([`pieces`], [`line_spans`]) and each piece's parse frames its own records. Also the
//! locations of errors (line and column of an offset).

use std::ops::Range;

/// How the records of a file are laid out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// One top-level JSON array of records.
    Array,
    /// Records one after another, separated by whitespace (NDJSON, or pretty-printed
    /// concatenated documents).
    Concatenated,
}

/// A framing error at a byte offset of the buffer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameError {
    pub offset: usize,
    pub message: String,
}

impl FrameError {
    fn new(offset: usize, message: impl Into<String>) -> Self {
        FrameError {
            offset,
            message: message.into(),
        }
    }
}

/// serde_json appends " at line L column C" relative to the slice it parsed; cxkpi reports
/// the position in the file instead.
pub fn strip_position(msg: &str) -> String {
    match msg.rfind(" at line ") {
        Some(i) => msg[..i].to_string(),
        None => msg.to_string(),
    }
}

/// 1-based line and column of a byte offset, counted only when an error is reported.
pub fn line_col(buf: &[u8], offset: usize) -> (usize, usize) {
    let offset = offset.min(buf.len());
    let before = &buf[..offset];
    let line = memchr::memchr_iter(b'\n', before).count() + 1;
    let line_start = memchr::memrchr(b'\n', before).map_or(0, |p| p + 1);
    (line, offset - line_start + 1)
}

/// Byte offset of a serde_json error position (1-based line/column) inside `buf[base..]`.
pub fn offset_of(buf: &[u8], base: usize, line: usize, column: usize) -> usize {
    let mut pos = base;
    for _ in 1..line {
        match memchr::memchr(b'\n', &buf[pos..]) {
            Some(p) => pos += p + 1,
            None => return buf.len(),
        }
    }
    (pos + column.saturating_sub(1)).min(buf.len())
}

fn skip_ws(buf: &[u8], mut pos: usize) -> usize {
    while pos < buf.len() && matches!(buf[pos], b' ' | b'\t' | b'\n' | b'\r') {
        pos += 1;
    }
    pos
}

/// Finds the framing and the byte range of every top-level record.
///
/// Only structure is checked here (balanced brackets, strings closed, separators); the
/// records themselves are validated when parsed.
pub fn record_spans(buf: &[u8]) -> Result<(Framing, Vec<Range<usize>>), FrameError> {
    let start = skip_ws(buf, 0);
    if start == buf.len() {
        return Err(FrameError::new(
            0,
            "the file is empty: expected a JSON array or JSON records",
        ));
    }
    let mut spans = Vec::new();
    if buf[start] == b'[' {
        let mut pos = skip_ws(buf, start + 1);
        if pos < buf.len() && buf[pos] == b']' {
            expect_end(buf, pos + 1)?;
            return Ok((Framing::Array, spans));
        }
        loop {
            let end = value_end(buf, pos)?;
            spans.push(pos..end);
            pos = skip_ws(buf, end);
            match buf.get(pos) {
                Some(b',') => pos = skip_ws(buf, pos + 1),
                Some(b']') => {
                    expect_end(buf, pos + 1)?;
                    return Ok((Framing::Array, spans));
                }
                Some(_) => {
                    return Err(FrameError::new(
                        pos,
                        "expected ',' or ']' after an array element",
                    ))
                }
                None => {
                    return Err(FrameError::new(
                        pos,
                        "unexpected end of file: the JSON array is not closed (truncated file?)",
                    ))
                }
            }
        }
    }
    let mut pos = start;
    while pos < buf.len() {
        let end = value_end(buf, pos)?;
        spans.push(pos..end);
        pos = skip_ws(buf, end);
    }
    Ok((Framing::Concatenated, spans))
}

/// The first record of a file whose records could be one per line.
#[derive(Debug, PartialEq)]
pub struct First {
    pub span: Range<usize>,
    /// The file is an array (the record is its first element).
    pub array: bool,
    /// The record is an envelope (see [`unwrap_envelopes`]).
    pub envelope: bool,
    /// Its record array, when it is an envelope: found by the walk that found its end, so
    /// the framing need not walk it again (see [`unwrap_envelopes_after`]).
    pub inner: Option<Range<usize>>,
}

/// The first record of `buf`, when the file starts with a record (or an array whose first
/// element is one) written on one line; `None` otherwise: pretty-printed files, empty
/// arrays, arrays of scalars, anything not JSON. One walk of the record finds its end and
/// whether it is an envelope, so an envelope holding a whole file is scanned once.
pub fn first_record(buf: &[u8]) -> Option<First> {
    let start = skip_ws(buf, 0);
    let (at, array) = match buf.get(start)? {
        b'{' => (start, false),
        b'[' => (skip_ws(buf, start + 1), true),
        _ => return None,
    };
    if buf.get(at) != Some(&b'{') {
        return None;
    }
    let (end, inner) = envelope_walk(buf, at, false).ok()?;
    let span = at..end;
    if memchr::memchr(b'\n', &buf[span.clone()]).is_some() {
        return None;
    }
    Some(First {
        span,
        array,
        envelope: inner.is_some(),
        inner,
    })
}

/// Bounds of a piece's size, whatever the size of the first record.
const PIECE_BYTES: Range<usize> = (1 << 20)..(32 << 20);

/// Cuts `range` of a file of records one per line (NDJSON, or a JSON array with one element
/// per line), whose first record is `first` (not an envelope), into pieces of about
/// `per_piece` records each, to be parsed in parallel, each parse finding where its
/// records end (see [`super::Records`]). Why: framing the lines first (a newline search)
/// read every byte once more, from memory, before the parse read it again: a tenth of a
/// metrics run's CPU.
///
/// The cuts are a guess the parse confirms: when a cut falls inside a record (one written
/// over several lines), the parse of the piece before it fails, and the file must be
/// framed again by [`record_spans`].
///
/// `touched` is told each piece once it is cut (see [`cut_at_lines`]).
pub fn pieces(
    buf: &[u8],
    first: &First,
    per_piece: usize,
    range: Range<usize>,
    touched: &dyn Fn(Range<usize>),
) -> Vec<Range<usize>> {
    let size = first
        .span
        .len()
        .saturating_mul(per_piece)
        .clamp(PIECE_BYTES.start, PIECE_BYTES.end);
    cut_at_lines(buf, range, size, first.array, touched)
}

/// `buf[range]` cut into pieces of at least `size` bytes, each but the last ending just
/// past a newline (in an array, past a newline after a comma); `range` ends at the end of
/// `buf` or at such a cut.
///
/// Finding a cut reads the bytes just before it; `touched` is told each piece as it is cut,
/// so a caller can hand back a mapped file's pages (a file cached in 2 MiB folios is mapped a
/// whole folio at a touch: a cut every few MiB mapped half of a big file at once).
pub(super) fn cut_at_lines(
    buf: &[u8],
    range: Range<usize>,
    size: usize,
    array: bool,
    touched: &dyn Fn(Range<usize>),
) -> Vec<Range<usize>> {
    let Range {
        start: mut from,
        end: to,
    } = range;
    let mut pieces = Vec::new();
    'cut: while to - from > size {
        let mut at = from + size;
        let cut = loop {
            let Some(i) = memchr::memchr(b'\n', &buf[at..to]) else {
                break 'cut;
            };
            let line = &buf[from..at + i];
            if !array || line.iter().rev().find(|b| !is_blank(b)) == Some(&b',') {
                break at + i + 1;
            }
            at += i + 1;
        };
        if cut == to {
            break;
        }
        touched(from..cut);
        pieces.push(from..cut);
        from = cut;
    }
    pieces.push(from..to);
    pieces
}

/// Where the windows of a file of records one per line (see [`pieces`]) begin: at most
/// `count` shares of about equal size, each after the first starting at a cut as a piece
/// does (so every window's records are framed by their own parse), then the end of `buf`.
/// Only the bytes around each cut are read.
pub fn window_bounds(buf: &[u8], first: &First, count: usize) -> Vec<usize> {
    let from = first.span.start;
    let size = (buf.len() - from).div_ceil(count.max(1)).max(1);
    let mut bounds: Vec<usize> = cut_at_lines(buf, from..buf.len(), size, first.array, &|_| {})
        .into_iter()
        .map(|piece| piece.start)
        .collect();
    bounds.push(buf.len());
    bounds
}

/// The records of a file that looks like NDJSON (one record per line) or like a JSON array
/// with one element per line (`[`, then elements each followed by a comma but the last,
/// then `]`), found with a newline search instead of a structural scan; `None` when the
/// file does not look that way (a first record not alone on its line, an array on one line,
/// commas or brackets elsewhere).
///
/// The spans are a guess that the parse must confirm: a raw newline can never sit inside a
/// JSON string, so when every span parses as exactly one value, the spans are exactly the
/// ones [`record_spans`] finds. Any failure must be retried with [`record_spans`] (a
/// pretty-printed record, two records on one line), which also gives the exact error.
///
/// `framed` is called with pieces of `buf` whose lines are found, so the caller may hand
/// their memory back (see [`super::Bytes::release`]).
pub fn line_spans(buf: &[u8], framed: &(dyn Fn(Range<usize>) + Sync)) -> Option<Vec<Range<usize>>> {
    let start = skip_ws(buf, 0);
    let first_end = match buf.get(start)? {
        b'{' => super::de::record_end(buf, start).ok()?,
        b'[' => start + 1,
        _ => return None,
    };
    lines_after(buf, start, first_end, framed)
}

/// [`line_spans`] of a file whose first record, an envelope, is known.
pub fn envelope_lines(
    buf: &[u8],
    first: &First,
    framed: &(dyn Fn(Range<usize>) + Sync),
) -> Option<Vec<Range<usize>>> {
    let start = skip_ws(buf, 0);
    let first_end = if first.array {
        start + 1
    } else {
        first.span.end
    };
    lines_after(buf, start, first_end, framed)
}

/// [`line_spans`] once the first record (or the opening bracket) is found at
/// `start..first_end`.
fn lines_after(
    buf: &[u8],
    start: usize,
    first_end: usize,
    framed: &(dyn Fn(Range<usize>) + Sync),
) -> Option<Vec<Range<usize>>> {
    // A first record over several lines: pretty-printed, the lines would not parse.
    if memchr::memchr(b'\n', &buf[start..first_end]).is_some() {
        return None;
    }
    // The first record (or the opening bracket) ends its line.
    let line_end = memchr::memchr(b'\n', &buf[first_end..]).map_or(buf.len(), |i| first_end + i);
    if !buf[first_end..line_end].iter().all(|b| is_blank(&b)) {
        return None;
    }
    let rest = all_lines(buf, line_end, framed);
    if buf[start] == b'{' {
        let mut spans = Vec::with_capacity(rest.len() + 1);
        spans.push(start..first_end);
        spans.extend(rest);
        return Some(spans);
    }
    let mut lines = rest.into_iter();
    let mut spans: Vec<Range<usize>> = Vec::new();
    // Whether the last element was followed by its comma.
    let mut comma = false;
    for line in lines.by_ref() {
        if buf[line.clone()] == *b"]" {
            return match (comma, lines.next()) {
                (false, None) => Some(spans),
                _ => None, // a trailing comma, or content after the array
            };
        }
        if !spans.is_empty() && !comma {
            return None;
        }
        comma = buf[line.end - 1] == b',';
        let end = line.end - usize::from(comma);
        let end = end
            - buf[line.start..end]
                .iter()
                .rev()
                .take_while(is_blank)
                .count();
        if end == line.start {
            return None;
        }
        spans.push(line.start..end);
    }
    None // no closing bracket
}

pub(super) fn is_blank(b: &&u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r')
}

/// Remainders from this size on are cut into pieces of about this size at newlines, and
/// the pieces framed in parallel: a big file would otherwise be framed by one core while
/// the other waits (a 370 MB Dialpad dump spent a sixth of its run there).
const LINES_PIECE: usize = 4 << 20;

/// The non-blank lines of `buf` from `from`, without their surrounding blanks.
fn all_lines(buf: &[u8], from: usize, framed: &(dyn Fn(Range<usize>) + Sync)) -> Vec<Range<usize>> {
    use rayon::prelude::*;
    let len = buf.len().saturating_sub(from);
    if len < 2 * LINES_PIECE {
        return lines(buf, from, buf.len()).collect();
    }
    // Piece boundaries just past a newline, so no line spans two pieces.
    let mut bounds = vec![from];
    for k in 1..len / LINES_PIECE {
        let at = from + k * LINES_PIECE;
        let b = memchr::memchr(b'\n', &buf[at..]).map_or(buf.len(), |i| at + i + 1);
        if b > bounds[bounds.len() - 1] && b < buf.len() {
            bounds.push(b);
        }
    }
    bounds.push(buf.len());
    let pieces: Vec<Vec<Range<usize>>> = bounds
        .par_windows(2)
        .map(|w| {
            let found = lines(buf, w[0], w[1]).collect();
            framed(w[0]..w[1]);
            found
        })
        .collect();
    pieces.concat()
}

/// The non-blank lines of `buf[from..to]`, where `to` is the end of `buf` or just past a
/// newline.
fn lines(buf: &[u8], from: usize, to: usize) -> impl Iterator<Item = Range<usize>> + '_ {
    let mut next = (from < to).then_some(from);
    std::iter::from_fn(move || loop {
        let from = next?;
        let end = memchr::memchr(b'\n', &buf[from..to]).map_or(to, |i| from + i);
        next = (end + 1 < to).then_some(end + 1);
        let line = &buf[from..end];
        let lead = line.iter().take_while(is_blank).count();
        if lead < line.len() {
            let trail = line[lead..].iter().rev().take_while(is_blank).count();
            return Some(from + lead..end - trail);
        }
    })
}

fn expect_end(buf: &[u8], pos: usize) -> Result<(), FrameError> {
    let pos = skip_ws(buf, pos);
    if pos < buf.len() {
        return Err(FrameError::new(
            pos,
            "unexpected content after the end of the JSON array",
        ));
    }
    Ok(())
}

/// End (exclusive) of the object or array starting at `pos`.
fn value_end(buf: &[u8], pos: usize) -> Result<usize, FrameError> {
    match buf.get(pos) {
        Some(b'{') | Some(b'[') => {}
        Some(_) => {
            return Err(FrameError::new(
                pos,
                "expected a JSON object (each record of an export is an object)",
            ))
        }
        None => return Err(FrameError::new(pos, "unexpected end of file")),
    }
    super::de::record_end(buf, pos).map_err(|(offset, message)| FrameError::new(offset, message))
}

/// Position just past the closing quote of a string whose content starts at `pos`.
fn string_end(buf: &[u8], pos: usize) -> Option<usize> {
    super::de::string_end(buf, pos).ok()
}

/// Keys whose array value wraps the records of an export: Dialpad's `[{"messages":[…]}]`,
/// OData's `{"value":[…]}`, Samespace's `{"total":…,"data":[…]}`.
pub const ENVELOPE_KEYS: [&str; 3] = ["messages", "value", "data"];

/// When the first record is an envelope (an object with one of [`ENVELOPE_KEYS`] holding an
/// array), replaces every envelope by the spans of its array's elements, so wrapped records
/// are framed, detected and parsed in parallel like bare ones. Files whose first record is
/// not an envelope are returned as they are, without a second look at any record.
pub fn unwrap_envelopes(
    buf: &[u8],
    spans: Vec<Range<usize>>,
) -> Result<Vec<Range<usize>>, FrameError> {
    unwrap_envelopes_after(buf, spans, None)
}

/// [`unwrap_envelopes`], the first span being the record `first` when given (its array
/// already found). Why: a Samespace report is one envelope holding the whole file, and
/// walking it again to find its array was a fifth of the framing of a calls run.
pub fn unwrap_envelopes_after(
    buf: &[u8],
    spans: Vec<Range<usize>>,
    first: Option<&First>,
) -> Result<Vec<Range<usize>>, FrameError> {
    let first_inner = match (spans.first(), first) {
        (Some(span), Some(f)) if *span == f.span && f.inner.is_some() => f.inner.clone(),
        (Some(span), _) => envelope_array(buf, span)?,
        (None, _) => None,
    };
    let Some(first_inner) = first_inner else {
        return Ok(spans);
    };
    let mut out = Vec::with_capacity(spans.len());
    for (i, span) in spans.into_iter().enumerate() {
        let inner = match i {
            0 => Some(first_inner.clone()),
            _ => envelope_array(buf, &span)?,
        };
        match inner {
            Some(inner) => {
                let (framing, elements) =
                    record_spans(&buf[inner.clone()]).map_err(|e| FrameError {
                        offset: inner.start + e.offset,
                        message: e.message,
                    })?;
                debug_assert_eq!(framing, Framing::Array);
                out.extend(
                    elements
                        .into_iter()
                        .map(|r| r.start + inner.start..r.end + inner.start),
                );
            }
            None => out.push(span),
        }
    }
    Ok(out)
}

/// The byte range of the envelope array inside the object at `span`, if it is one.
fn envelope_array(buf: &[u8], span: &Range<usize>) -> Result<Option<Range<usize>>, FrameError> {
    // An envelope holds the whole file: find its array with the structural scan (both cores
    // are idle until it is found), and only when that fails, walk it again strictly, which
    // checks every value and so reports the exact spot and field.
    let walked = envelope_walk(&buf[..span.end], span.start, false)
        .or_else(|_| envelope_walk(&buf[..span.end], span.start, true));
    match walked {
        Ok((end, found)) if skip_ws(buf, end) >= span.end => Ok(found),
        Ok((end, _)) => Err(FrameError {
            offset: skip_ws(buf, end),
            message: "unexpected content after the end of the JSON value".into(),
        }),
        Err(e) => Err(FrameError {
            offset: e.offset,
            message: e.message,
        }),
    }
}

/// One walk of the object at `at`: where it ends, and the range of its envelope array if
/// it is an envelope.
fn envelope_walk(
    buf: &[u8],
    at: usize,
    strict: bool,
) -> Result<(usize, Option<Range<usize>>), super::de::Failure> {
    let mut found = None;
    let mut memo = super::de::KeyMemo::default();
    // Lenient first: the records inside are parsed (strictly, in a full read) by the
    // reader; a strict walk here would parse a whole OData page once more, on one core.
    let mut d = super::de::Deserializer::new(buf, at);
    if !strict {
        d = d.lenient();
    }
    d.read(|d| {
        let resolve = |k: &str| ENVELOPE_KEYS.contains(&k).then_some(());
        d.fields("a JSON object", &mut memo, resolve, |d, (), key| {
            if found.is_some() {
                return Ok(false);
            }
            let span = d.value_span(key)?;
            if buf.get(span.start) == Some(&b'[') {
                found = Some(span);
            }
            Ok(true)
        })
    })?;
    let end = d.position();
    if let Some(array) = &found {
        check_envelope(buf, at..end, array)?;
    }
    Ok((end, found))
}

/// Parses an envelope in full but for its record array, which the readers parse (strictly
/// in a full read): its other values (`@odata.nextLink`, counts, paging) are a few bytes,
/// and a file that is not JSON there must not pass a full read. Errors carry the file's
/// offsets.
fn check_envelope(
    buf: &[u8],
    span: Range<usize>,
    array: &Range<usize>,
) -> Result<(), super::de::Failure> {
    let head = &buf[span.start..array.start];
    let mut doc = Vec::with_capacity(head.len() + 2 + span.end - array.end);
    doc.extend_from_slice(head);
    doc.extend_from_slice(b"[]");
    doc.extend_from_slice(&buf[array.end..span.end]);
    super::de::from_slice::<serde::de::IgnoredAny>(&doc)
        .map(|_| ())
        .map_err(|mut e| {
            e.offset = match e.offset {
                o if o < head.len() => span.start + o,
                o => array.end + (o - head.len()).saturating_sub(2),
            };
            e
        })
}

/// Calls of the MongoDB shell notation that wrap a plain value.
const SHELL_CALLS: [&str; 7] = [
    "ObjectId(",
    "ISODate(",
    "new Date(",
    "NumberLong(",
    "NumberInt(",
    "NumberDecimal(",
    "UUID(",
];

/// Rewrites MongoDB shell notation into JSON: `ObjectId("h")` → `"h"`, `ISODate("t")` and
/// `new Date("t")` → `"t"`, `NumberLong(5)` → `5`, and drops trailing commas before `}` or
/// `]`. Returns `None` (nothing to do) for text without shell calls, so plain JSON is never
/// copied. Lines are kept, so error positions keep their line numbers.
pub fn normalize_mongo_shell(buf: &[u8]) -> Option<Vec<u8>> {
    // One fast pass first: without a '(' there is no shell call (most exports).
    memchr::memchr(b'(', buf)?;
    let finder = SHELL_CALLS.map(|c| memchr::memmem::Finder::new(c.as_bytes()));
    if !finder.iter().any(|f| f.find(buf).is_some()) {
        return None;
    }
    let mut out = Vec::with_capacity(buf.len());
    let mut i = 0;
    while i < buf.len() {
        let b = buf[i];
        if b == b'"' {
            let end = string_end(buf, i + 1).unwrap_or(buf.len());
            out.extend_from_slice(&buf[i..end]);
            i = end;
            continue;
        }
        if let Some(call) = SHELL_CALLS
            .iter()
            .find(|c| buf[i..].starts_with(c.as_bytes()))
        {
            // Copy the argument (a string or a number) and skip the closing parenthesis.
            let mut j = skip_ws(buf, i + call.len());
            let arg_start = j;
            if buf.get(j) == Some(&b'"') {
                j = string_end(buf, j + 1).unwrap_or(buf.len());
            } else {
                while j < buf.len() && !matches!(buf[j], b')' | b'\n') {
                    j += 1;
                }
            }
            out.extend_from_slice(buf[arg_start..j].trim_ascii_end());
            j = skip_ws(buf, j);
            i = if buf.get(j) == Some(&b')') { j + 1 } else { j };
            continue;
        }
        if b == b',' {
            let next = skip_ws(buf, i + 1);
            if matches!(buf.get(next), Some(b'}') | Some(b']')) {
                out.push(b' ');
                i += 1;
                continue;
            }
        }
        out.push(b);
        i += 1;
    }
    Some(out)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    /// `n` records made by `record`, one per line, as NDJSON and as a JSON array (after
    /// `ndjson_head` and `array_head`), with blanks, `\r\n` and commas placed each way.
    pub(in crate::source) fn one_per_line(
        n: usize,
        ndjson_head: &[u8],
        array_head: &[u8],
        record: impl Fn(usize) -> String,
    ) -> (Vec<u8>, Vec<u8>) {
        let (mut ndjson, mut array) = (ndjson_head.to_vec(), array_head.to_vec());
        for i in 0..n {
            let record = record(i);
            ndjson.extend(format!("{record}{}", ["\n", "\r\n", " \n\n"][i % 3]).bytes());
            let sep = if i + 1 == n {
                "\n]\n"
            } else {
                [",\n", ", \r\n", "\n,"][i % 3]
            };
            array.extend(format!("{record}{sep}").bytes());
        }
        (ndjson, array)
    }

    #[test]
    fn pieces_are_cut_just_past_newlines_between_records() {
        let (ndjson, array) = one_per_line(60, b"\n ", b"[\r\n", |i| {
            format!("{{\"id\":\"{i}\",\"n\":[{i},{{\"x\":\"a,\\\"b\"}}]}}")
        });
        for (text, is_array) in [(&ndjson, false), (&array, true)] {
            let first = first_record(text).expect("one record per line");
            assert_eq!((first.array, first.envelope), (is_array, false));
            assert_eq!(
                &text[first.span.clone()],
                br#"{"id":"0","n":[0,{"x":"a,\"b"}]}"#
            );
            assert_eq!(
                pieces(text, &first, 8192, first.span.start..text.len(), &|_| {}),
                vec![first.span.start..text.len()]
            );
            for size in [1, 40, 100, 333] {
                // Every piece but the last is told once cut (the last one is never cut).
                let touched = std::cell::RefCell::new(Vec::new());
                let cuts = cut_at_lines(
                    text,
                    first.span.start..text.len(),
                    size,
                    is_array,
                    &|piece| touched.borrow_mut().push(piece),
                );
                assert_eq!(touched.into_inner(), cuts[..cuts.len() - 1]);
                assert!(cuts.len() > 3, "{size}: {cuts:?}");
                assert_eq!(cuts[0].start, first.span.start);
                assert_eq!(cuts[cuts.len() - 1].end, text.len());
                for w in cuts.windows(2) {
                    assert_eq!(w[0].end, w[1].start);
                    assert!(w[0].len() > size);
                    let piece = &text[w[0].clone()];
                    assert_eq!(piece.last(), Some(&b'\n'));
                    if is_array {
                        let last = piece.iter().rev().find(|b| !b.is_ascii_whitespace());
                        assert_eq!(last, Some(&b','), "{size}: {w:?}");
                    }
                }
            }
        }
    }

    #[test]
    fn first_records_are_found_where_records_are_one_per_line() {
        for text in [
            &b"{\n  \"id\": 1\n}\n{\"id\":2}\n"[..],
            b"[\n  {\"id\": 1,\n \"b\": 2}\n]",
            b"[]",
            b"[1, 2]",
            b"ObjectId(\"x\")",
            b"{\"id\":\"not closed}",
            b"",
        ] {
            assert_eq!(
                first_record(text),
                None,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        let first = |text: &[u8]| first_record(text).map(|f| (f.span, f.array, f.envelope));
        assert_eq!(
            first(b" [ {\"id\":1}, {\"id\":2}]"),
            Some((3..11, true, false))
        );
        assert_eq!(
            first(b"{\"id\":[1]}\n{\"id\":2}"),
            Some((0..10, false, false))
        );
        let envelope = b"{\"total\":2,\"data\":[{\"id\":1},{\"id\":2}],\"n\":{}}\n";
        assert_eq!(first(envelope), Some((0..envelope.len() - 1, false, true)));
        assert_eq!(first(b"[{\"messages\":[]}]"), Some((1..16, true, true)));
        // The array the walk found is the one the framing would find again, and framing
        // with it gives the same records.
        let f = first_record(envelope).unwrap();
        assert_eq!(f.inner, envelope_array(envelope, &f.span).unwrap());
        assert_eq!(f.inner, Some(18..37));
        let spans = vec![f.span.clone()];
        assert_eq!(
            unwrap_envelopes_after(envelope, spans.clone(), Some(&f)).unwrap(),
            unwrap_envelopes(envelope, spans).unwrap()
        );
    }

    #[test]
    fn line_spans_are_the_structural_spans_of_ndjson() {
        let text = b"\n {\"a\":\"x\\ny\"}\r\n\n\t{\"b\":[1,{\"c\":2}]}  \n{}\n{\"d\":null}";
        let lines = line_spans(text, &|_| ()).expect("NDJSON");
        assert_eq!(lines, record_spans(text).unwrap().1);
        assert_eq!(&text[lines[1].clone()], b"{\"b\":[1,{\"c\":2}]}");
        // Arrays, and first records that do not end their line, are left to the scan.
        assert_eq!(line_spans(b"[{\"a\":1}]", &|_| ()), None);
        assert_eq!(line_spans(b"{\"a\":1} {\"b\":2}\n", &|_| ()), None);
        assert_eq!(line_spans(b"{\n\"a\":1\n}\n", &|_| ()), None);
        // A later record spread over lines gives spans that do not parse (the caller's
        // cue to fall back).
        let spans = line_spans(b"{\"a\":1}\n{\n\"b\":2}\n", &|_| ()).expect("first line");
        assert_eq!(spans.len(), 3);
    }

    #[test]
    fn big_files_are_framed_in_pieces_exactly_as_in_one_pass() {
        // Records of varied length with blank lines, CRLF and padding, so piece boundaries
        // fall at every kind of spot; well over two pieces' worth.
        let mut text = Vec::new();
        let mut i = 0u64;
        while text.len() < 5 * LINES_PIECE / 2 {
            let pad = "x".repeat((i * 7919 % 300) as usize);
            text.extend_from_slice(format!("{{\"n\":{i},\"p\":\"{pad}\"}}").as_bytes());
            text.extend_from_slice(match i % 5 {
                0 => b"\r\n".as_slice(),
                1 => b"\n\n".as_slice(),
                2 => b"  \n \t\n".as_slice(),
                _ => b"\n".as_slice(),
            });
            i += 1;
        }
        let one_pass: Vec<Range<usize>> = lines(&text, 0, text.len()).collect();
        assert_eq!(one_pass.len() as u64, i);
        let pieces = std::sync::Mutex::new(Vec::new());
        let framed = |r: Range<usize>| pieces.lock().unwrap().push(r);
        assert_eq!(all_lines(&text, 0, &framed), one_pass);
        // Every byte is handed back once, in pieces that meet.
        let mut pieces = pieces.into_inner().unwrap();
        pieces.sort_by_key(|r| r.start);
        assert!(pieces.len() > 1 && pieces[0].start == 0);
        assert!(pieces.windows(2).all(|w| w[0].end == w[1].start));
        assert_eq!(pieces.last().map(|r| r.end), Some(text.len()));
        assert_eq!(
            line_spans(&text, &|_| ()).expect("NDJSON"),
            record_spans(&text).unwrap().1
        );
        // Without a final newline, and as a JSON array one element per line.
        text.truncate(text.len() - 1);
        assert_eq!(all_lines(&text, 0, &|_| ()), one_pass);
        let body: Vec<&[u8]> = one_pass.iter().map(|r| &text[r.clone()]).collect();
        let array = [b"[\n".as_slice(), &body.join(b",\n".as_slice()), b"\n]\n"].concat();
        assert_eq!(
            line_spans(&array, &|_| ()).expect("array"),
            record_spans(&array).unwrap().1
        );
    }

    #[test]
    fn line_spans_are_the_structural_spans_of_arrays_one_element_per_line() {
        for text in [
            &b"[\n{\"a\":\"x,\"},\n {\"b\":[1,{\"c\":2}]} ,\r\n\n{}\n]\n"[..],
            b" [ \n]",
        ] {
            let lines = line_spans(text, &|_| ()).expect("array by lines");
            assert_eq!(lines, record_spans(text).unwrap().1);
        }
        // Anything else is left to the structural scan (which reports the errors).
        for text in [
            &b"[{\"a\":1}]"[..],
            b"[{\"a\":1},\n{\"b\":2}\n]",
            b"[\n{\"a\":1},\n]",
            b"[\n{\"a\":1}\n{\"b\":2}\n]",
            b"[\n{\"a\":1}\n]\n[\n{\"b\":2}\n]",
            b"[\n{\"a\":1}\n",
            b"[\n,\n]",
            b"[\n{\"a\":1}\n] x",
        ] {
            assert_eq!(
                line_spans(text, &|_| ()),
                None,
                "{}",
                String::from_utf8_lossy(text)
            );
        }
        // Elements over several lines give spans that do not parse (the cue to fall back).
        let spans =
            line_spans(b"[\n{\"a\":1},\n{\"b\":2,\n\"c\":3}\n]", &|_| ()).expect("by lines");
        assert_eq!(spans.len(), 3);
    }

    #[test]
    fn framing_of_arrays_and_ndjson() {
        let a = br#" [ {"a":"x]}"} , {"b":[1,{"c":2}]} ] "#;
        let (f, s) = record_spans(a).unwrap();
        assert_eq!(f, Framing::Array);
        assert_eq!(s.len(), 2);
        assert_eq!(&a[s[0].clone()], br#"{"a":"x]}"}"#);
        let n = b"{\"a\":\"\\\"{\"}\n\n{\"b\":1}\n";
        let (f, s) = record_spans(n).unwrap();
        assert_eq!(f, Framing::Concatenated);
        assert_eq!(s.len(), 2);
        assert_eq!(record_spans(b"[]").unwrap().1.len(), 0);
    }

    #[test]
    fn envelopes_are_unwrapped_into_their_records() {
        let b = br#"[{"messages":[{"a":1},{"a":2}]},{"MESSAGES":[{"a":3}]}] "#;
        let (_, spans) = record_spans(b).unwrap();
        let inner = unwrap_envelopes(b, spans).unwrap();
        let texts: Vec<&[u8]> = inner.iter().map(|r| &b[r.clone()]).collect();
        assert_eq!(texts, vec![&b"{\"a\":1}"[..], b"{\"a\":2}", b"{\"a\":3}"]);
        let b = br#"{"total":2,"data":[{"x":1},{"x":2}]}"#;
        let (_, spans) = record_spans(b).unwrap();
        assert_eq!(unwrap_envelopes(b, spans).unwrap().len(), 2);
        let b = br#"{"sessionid":"1.1","data":"not an array"}"#;
        let (_, spans) = record_spans(b).unwrap();
        assert_eq!(unwrap_envelopes(b, spans).unwrap(), vec![0..b.len()]);
    }

    #[test]
    fn envelopes_are_found_by_the_fast_scan_and_errors_by_the_strict_walk() {
        // The first envelope key holding an array, in any case; other shapes are no envelope.
        let b = br#"{"total":2,"Data":[{"x":1},{"x":"]"}],"data":[]}"#;
        let at = b.windows(7).position(|w| w == b"[{\"x\":1").unwrap();
        let end = b.windows(3).position(|w| w == b"}],").unwrap() + 2;
        assert_eq!(envelope_array(b, &(0..b.len())).unwrap(), Some(at..end));
        for b in [
            &br#"{"value":{"a":1},"x":[{"value":[]}]}"#[..],
            br#"{"a":1}"#,
        ] {
            assert_eq!(envelope_array(b, &(0..b.len())).unwrap(), None);
        }
        let b = br#"{"total":2,"data":[{"x":1},{"x":2}]}"#;
        assert_eq!(
            envelope_array(&b[..], &(0..b.len())).unwrap(),
            Some(18..b.len() - 1)
        );
        // A broken envelope is reported where it breaks, as serde_json sees it.
        for b in [
            &br#"{"total":2,"data":[{"x":1},{"x":[2}]}"#[..],
            br#"{"total":tru,"data":[]}"#,
            br#"{"total":2,"data":[]}x"#,
            br#"{"total":2,"data":[{"x":1}],"next":"a\uogues"}"#,
            br#"{"total":01,"data":[{"x":1}]}"#,
        ] {
            let e = envelope_array(b, &(0..b.len())).unwrap_err();
            let theirs = serde_json::from_slice::<serde_json::Value>(b).unwrap_err();
            let at = offset_of(b, 0, theirs.line(), theirs.column());
            // Within the bad token: ours points at its start (a `\u` escape's backslash),
            // serde_json after what it read of it.
            assert!(e.offset <= at && at <= e.offset + 6, "{e:?} vs {theirs}");
        }
    }

    #[test]
    fn mongo_shell_notation_becomes_plain_json() {
        let shell = b"{ \"_id\" : ObjectId(\"5ff4\"),\n \"start_time\" : ISODate(\"2021-01-05T06:37:36.936Z\"),\n \"n\" : NumberLong(7), \"s\": \"ISODate(x)\", }";
        let plain = normalize_mongo_shell(shell).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(v["_id"], "5ff4");
        assert_eq!(v["start_time"], "2021-01-05T06:37:36.936Z");
        assert_eq!(v["n"], 7);
        assert_eq!(v["s"], "ISODate(x)"); // inside a string: untouched
        assert_eq!(memchr::memchr_iter(b'\n', &plain).count(), 2);
        assert!(normalize_mongo_shell(b"{\"a\":1}").is_none());
    }

    #[test]
    fn framing_errors_have_offsets() {
        let e = record_spans(b"[{\"a\":1},\n{\"a\":").unwrap_err();
        assert!(e.message.contains("truncated"), "{e:?}");
        let e = record_spans(b"[{\"a\":1} {\"a\":2}]").unwrap_err();
        assert_eq!(e.offset, 9);
        let e = record_spans(b"{\"a\":1}\nhello").unwrap_err();
        assert_eq!(line_col(b"{\"a\":1}\nhello", e.offset), (2, 1));
        assert!(record_spans(b"  \n").is_err());
        assert!(record_spans(b"[{\"a\":1}] x").is_err());
        assert!(record_spans(b"{\"a\":\"abc").is_err());
    }
}
