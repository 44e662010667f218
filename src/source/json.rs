//! JSON framing and tolerant scalars shared by every vendor reader.
//!
//! Framing: an export is either one JSON array of records or a sequence of whitespace-
//! separated JSON documents (NDJSON being the common case). [`record_spans`] finds the byte
//! range of every record with a structural scan, which is several times faster than
//! parsing; the records are then parsed in parallel chunks by the vendor modules.
//!
//! Scalars: exports carry counts as strings, booleans as "True"/"false", timestamps in
//! several notations. The `Loose*` types accept every documented notation and reject the
//! rest with a message naming what was expected.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use super::de::FromText;
use super::digits;
use serde::de::{self, Deserializer, Visitor};

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
pub fn pieces(
    buf: &[u8],
    first: &First,
    per_piece: usize,
    range: Range<usize>,
) -> Vec<Range<usize>> {
    let size = first
        .span
        .len()
        .saturating_mul(per_piece)
        .clamp(PIECE_BYTES.start, PIECE_BYTES.end);
    cut_at_lines(buf, range, size, first.array)
}

/// `buf[range]` cut into pieces of at least `size` bytes, each but the last ending just
/// past a newline (in an array, past a newline after a comma); `range` ends at the end of
/// `buf` or at such a cut.
pub(super) fn cut_at_lines(
    buf: &[u8],
    range: Range<usize>,
    size: usize,
    array: bool,
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
    let mut bounds: Vec<usize> = cut_at_lines(buf, from..buf.len(), size, first.array)
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
    super::de::from_slice::<de::IgnoredAny>(&doc)
        .map(|_| ())
        .map_err(|mut e| {
            e.offset = match e.offset {
                o if o < head.len() => span.start + o,
                o => array.end + (o - head.len()).saturating_sub(2),
            };
            e
        })
}

// ---------------------------------------------------------------------------------------
// Tolerant scalars
// ---------------------------------------------------------------------------------------

/// JSON kept as text: a JSON string's content, or the raw text of any other value (a number
/// keeps its exact digits: `12.10` stays `"12.10"`); null is missing. For ids that must not
/// pass through a float and for fields that carry JSON (`conversations_data`, `topmatches`).
#[derive(Debug, Default, Clone, PartialEq)]
pub struct RawText<'a>(pub Option<Cow<'a, str>>);

impl<'de> de::Deserialize<'de> for RawText<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // One token for all three cases, so that a string is read where it lies. Why: its
        // raw text parsed again by a fresh deserializer grew a new scratch buffer for each
        // escaped string (a JSON object held as a string has many), 2% of an ingest. The
        // token hands over only strings (content or raw text) and null, which
        // `LooseStrVisitor` takes as `RawText` wants them.
        let s = d.deserialize_newtype_struct(super::de::TEXT_TOKEN, LooseStrVisitor)?;
        Ok(RawText(s.0))
    }
}

/// A string, as [`LooseStrVisitor`] takes a borrowed one (see [`super::de::Deserializer::str_value`]).
impl<'a> From<&'a str> for RawText<'a> {
    fn from(s: &'a str) -> Self {
        RawText(Some(Cow::Borrowed(s)))
    }
}

/// A string that may arrive as a JSON string, number or boolean (ids are sometimes
/// numbers). Borrowed from the input unless it contained escapes.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct LooseStr<'a>(pub Option<Cow<'a, str>>);

impl<'de: 'a, 'a> de::Deserialize<'de> for LooseStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // A number comes as its text: ids keep every digit (see the token's doc).
        d.deserialize_newtype_struct(super::de::NUMBER_TEXT_TOKEN, LooseStrVisitor)
    }
}

/// A string, as [`LooseStrVisitor`] takes a borrowed one (see [`super::de::Deserializer::str_value`]).
impl<'a> From<&'a str> for LooseStr<'a> {
    fn from(s: &'a str) -> Self {
        LooseStr(Some(Cow::Borrowed(s)))
    }
}

/// Reads a [`LooseStr`] (and, through the text token, a [`RawText`]).
struct LooseStrVisitor;

impl<'de> Visitor<'de> for LooseStrVisitor {
    type Value = LooseStr<'de>;
    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a string")
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(LooseStr(Some(Cow::Borrowed(v))))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(LooseStr(Some(Cow::Owned(v.to_owned()))))
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(LooseStr(Some(Cow::Owned(v))))
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(LooseStr(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(LooseStr(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(LooseStr(Some(Cow::Owned(v.to_string()))))
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(LooseStr(Some(Cow::Borrowed(if v {
            "true"
        } else {
            "false"
        }))))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(LooseStr(None))
    }
    fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        extended(map, EXT_STRING, "a string")
    }
    // Another deserializer, which does not know the number-text token.
    fn visit_newtype_struct<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

/// Reads the one entry of a MongoDB Extended JSON wrapper (`{"$oid": …}`, `{"$date": …}`,
/// `{"$numberLong": …}` …) whose key is in `keys`, as `T`.
fn extended<'de, A: de::MapAccess<'de>, T: de::Deserialize<'de>>(
    mut map: A,
    keys: &[&str],
    what: &str,
) -> Result<T, A::Error> {
    let key: LooseStr<'de> = map
        .next_key()?
        .ok_or_else(|| de::Error::custom(format_args!("expected {what}, found an empty object")))?;
    let key = key.0.unwrap_or_default();
    if !keys.contains(&key.as_ref()) {
        return Err(de::Error::custom(format_args!(
            "expected {what}, found an object with key {key:?}"
        )));
    }
    let value = map.next_value::<T>()?;
    if map.next_key::<de::IgnoredAny>()?.is_some() {
        return Err(de::Error::custom(format_args!(
            "expected {what}: an Extended JSON {key} object has one key"
        )));
    }
    Ok(value)
}

const EXT_STRING: &[&str] = &[
    "$oid",
    "$numberLong",
    "$numberInt",
    "$numberDouble",
    "$numberDecimal",
    "$uuid",
    "$date",
    "$symbol",
];
const EXT_NUMBER: &[&str] = &[
    "$numberLong",
    "$numberInt",
    "$numberDouble",
    "$numberDecimal",
];

/// A count carried as a number, a string of digits (`"12"`, `"12.0"`), `""` or null.
/// `""` and null mean *missing*, never 0: a missing count leaves the row out of sums.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct LooseCount(pub Option<i64>);

/// Parses a count from text; `Ok(None)` for an empty string.
pub fn parse_count(s: &str) -> Result<Option<i64>, String> {
    // The common case first, without the trims and the two parses below: counts are
    // short strings of digits, several per Ultimate record.
    if (1..=18).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_digit()) {
        return Ok(Some(s.bytes().fold(0, |v, c| v * 10 + i64::from(c - b'0'))));
    }
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("null") {
        return Ok(None);
    }
    if let Ok(v) = t.parse::<i64>() {
        return Ok(Some(v));
    }
    match t.parse::<f64>() {
        Ok(f) if f.is_finite() && f.fract() == 0.0 && f.abs() < 9.0e15 => Ok(Some(f as i64)),
        _ => Err(format!("expected a whole number, found {s:?}")),
    }
}

impl FromText for LooseCount {
    fn from_text(text: &str) -> Result<Self, String> {
        parse_count(text).map(LooseCount)
    }
}

impl<'de> de::Deserialize<'de> for LooseCount {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LooseCount;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a count (number or string of digits)")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LooseCount, E> {
                Ok(LooseCount(Some(v)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LooseCount, E> {
                i64::try_from(v)
                    .map(|v| LooseCount(Some(v)))
                    .map_err(|_| E::custom(format!("count {v} is out of range")))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<LooseCount, E> {
                parse_count(&v.to_string())
                    .map(LooseCount)
                    .map_err(E::custom)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LooseCount, E> {
                LooseCount::from_text(v).map_err(E::custom)
            }
            fn visit_unit<E: de::Error>(self) -> Result<LooseCount, E> {
                Ok(LooseCount(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<LooseCount, A::Error> {
                extended(map, EXT_NUMBER, "a count")
            }
        }
        d.deserialize_any(V)
    }
}

/// A number (float) carried as a JSON number or a numeric string; `""`/null is missing.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct LooseF64(pub Option<f64>);

impl<'de> de::Deserialize<'de> for LooseF64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LooseF64;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a number")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LooseF64, E> {
                Ok(LooseF64(Some(v as f64)))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LooseF64, E> {
                Ok(LooseF64(Some(v as f64)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<LooseF64, E> {
                Ok(LooseF64(Some(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LooseF64, E> {
                let t = v.trim();
                if t.is_empty() {
                    return Ok(LooseF64(None));
                }
                // Rust's float syntax takes "NaN" and "inf", which no JSON number can be:
                // the text of a number is held to what a number may hold.
                match t.parse::<f64>() {
                    Ok(f) if f.is_finite() => Ok(LooseF64(Some(f))),
                    _ => Err(E::custom(format!("expected a finite number, found {v:?}"))),
                }
            }
            fn visit_unit<E: de::Error>(self) -> Result<LooseF64, E> {
                Ok(LooseF64(None))
            }
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<LooseF64, A::Error> {
                extended(map, EXT_NUMBER, "a number")
            }
        }
        d.deserialize_any(V)
    }
}

/// A duration in seconds, carried as [`LooseF64`] is, and within what a count of
/// microseconds (an i64) holds, about ±292,000 years: the queue KPIs average durations as
/// whole microseconds (`metrics::duration_mean_if`), so a longer one is refused where it
/// is read, with its file, line and field, rather than failing a KPI run over the lake
/// later.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct LooseSeconds(pub Option<f64>);

impl<'de> de::Deserialize<'de> for LooseSeconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match LooseF64::deserialize(d)?.0 {
            // Microseconds an i64 holds (see `I64_FLOATS`).
            Some(s) if !crate::time::I64_FLOATS.contains(&(s * 1e6)) => Err(de::Error::custom(
                format!("{s} seconds is longer than a duration can be (±292,000 years)"),
            )),
            s => Ok(LooseSeconds(s)),
        }
    }
}

/// A boolean carried as `true`, `"true"`, `"True"`, `"FALSE"`, `1`/`0`, `""` or null.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct LooseBool(pub Option<bool>);

/// Parses a boolean from text; `Ok(None)` for an empty string.
pub fn parse_bool(s: &str) -> Result<Option<bool>, String> {
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("null") {
        Ok(None)
    } else if t.eq_ignore_ascii_case("true") || t == "1" {
        Ok(Some(true))
    } else if t.eq_ignore_ascii_case("false") || t == "0" {
        Ok(Some(false))
    } else {
        Err(format!("expected true or false, found {s:?}"))
    }
}

impl FromText for LooseBool {
    fn from_text(text: &str) -> Result<Self, String> {
        parse_bool(text).map(LooseBool)
    }

    fn from_bool(b: bool) -> Option<Self> {
        Some(LooseBool(Some(b)))
    }
}

impl<'de> de::Deserialize<'de> for LooseBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = LooseBool;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<LooseBool, E> {
                Ok(LooseBool(Some(v)))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LooseBool, E> {
                match v {
                    0 => Ok(LooseBool(Some(false))),
                    1 => Ok(LooseBool(Some(true))),
                    _ => Err(E::custom(format!("expected a boolean, found {v}"))),
                }
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LooseBool, E> {
                self.visit_i64(v.min(2) as i64)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LooseBool, E> {
                LooseBool::from_text(v).map_err(E::custom)
            }
            fn visit_unit<E: de::Error>(self) -> Result<LooseBool, E> {
                Ok(LooseBool(None))
            }
        }
        d.deserialize_any(V)
    }
}

/// An instant as UTC microseconds since the epoch, from any notation in the exports:
/// `YYYY-MM-DD HH:MM:SS[.ffffff] UTC`, RFC 3339 (`T`/space, `Z` or `±HH[:MM]`), a zone-less
/// `YYYY-MM-DD HH:MM:SS` (read as UTC), or epoch seconds / ms / µs (by magnitude).
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct LooseTime(pub Option<i64>);

impl FromText for LooseTime {
    fn from_text(text: &str) -> Result<Self, String> {
        parse_timestamp(text).map(LooseTime)
    }
}

impl<'de> de::Deserialize<'de> for LooseTime {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LooseTime;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a timestamp")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<LooseTime, E> {
                Ok(LooseTime(Some(epoch_to_micros(v as f64))))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<LooseTime, E> {
                Ok(LooseTime(Some(epoch_to_micros(v as f64))))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<LooseTime, E> {
                Ok(LooseTime(Some(epoch_to_micros(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<LooseTime, E> {
                LooseTime::from_text(v).map_err(E::custom)
            }
            fn visit_unit<E: de::Error>(self) -> Result<LooseTime, E> {
                Ok(LooseTime(None))
            }
            /// Extended JSON `{"$date": "ISO"}`, `{"$date": ms}` or
            /// `{"$date": {"$numberLong": "ms"}}`.
            fn visit_map<A: de::MapAccess<'de>>(self, map: A) -> Result<LooseTime, A::Error> {
                let v: LooseStr = extended(map, &["$date"], "a timestamp")?;
                match v.0.as_deref() {
                    Some(t) if t.bytes().all(|b| b.is_ascii_digit() || b == b'-') => t
                        .parse::<i64>()
                        .map(|ms| LooseTime(Some(ms * 1000)))
                        .map_err(de::Error::custom),
                    Some(t) => parse_timestamp(t).map(LooseTime).map_err(de::Error::custom),
                    None => Ok(LooseTime(None)),
                }
            }
        }
        d.deserialize_any(V)
    }
}

/// Epoch seconds, milliseconds or microseconds, told apart by magnitude (seconds up to the
/// year 5138, milliseconds up to 5138 too, and so on), as UTC microseconds.
pub fn epoch_to_micros(v: f64) -> i64 {
    let a = v.abs();
    let micros = if a < 1e11 {
        v * 1e6
    } else if a < 1e14 {
        v * 1e3
    } else if a < 1e17 {
        v
    } else {
        v / 1e3
    };
    micros.round() as i64
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m as i64 + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The number the digits of `b[range]` write; `None` when one is not a digit.
fn number_in(b: &[u8], range: Range<usize>) -> Option<u32> {
    let mut v = 0u32;
    for &c in b.get(range)? {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + (c - b'0') as u32;
    }
    Some(v)
}

/// The shape every vendor's exports write, `YYYY-MM-DD HH:MM:SS` (or with a `T`), with a
/// fraction of up to six digits and ` UTC`, `Z` or nothing after it, as UTC microseconds;
/// `None` for anything else, valid or not, which [`parse_timestamp`]'s general path then
/// decides. Why: a read parses two or three timestamps per record, and the general path's
/// trims, searches and checks were 5% of a metrics run.
#[inline]
fn common_timestamp(b: &[u8]) -> Option<i64> {
    let head: &[u8; 19] = b.get(..19)?.try_into().ok()?;
    let days = day_number(head[..10].try_into().ok()?)?;
    if !matches!(head[10], b' ' | b'T') {
        return None;
    }
    // `HH:MM:SS`, its eight bytes checked and converted as one word.
    let clock = u64::from_le_bytes(head[11..19].try_into().ok()?);
    const COLONS: u64 = 0x0000_3a00_003a_0000;
    if clock & 0x0000_ff00_00ff_0000 != COLONS || !digits::digits_at(clock, 0xf0f0_00f0_f000_f0f0) {
        return None;
    }
    let pairs = digits::pair_values(clock);
    let (h, mi, sec) = (pairs & 0xff, pairs >> 24 & 0xff, pairs >> 48 & 0xff);
    if h > 23 || mi > 59 || sec > 60 {
        return None;
    }
    let (h, mi, sec) = (h as i64, mi as i64, sec as i64);
    let (mut frac, mut i) = (0, 19);
    if b.get(19) == Some(&b'.') {
        // One to six digits of fraction (Ultimate writes six, Anywhere365 three), read as
        // one word: the eight bytes after the point, or, nearer the end of the text, its
        // last eight moved down (the zero bytes shifted in are no digits). Seven or more
        // digits are not this shape.
        let w = match digits::word_at(b, 20) {
            Some(w) => w,
            None if b.len() > 20 => digits::word_at(b, b.len() - 8)? >> (8 * (28 - b.len())),
            None => return None,
        };
        let n = digits::leading(w);
        if n == 0 || n > 6 {
            return None;
        }
        const SCALE: [i64; 7] = [0, 100_000, 10_000, 1_000, 100, 10, 1];
        frac = digits::value(w, n) as i64 * SCALE[n];
        i = 20 + n;
    }
    if !matches!(&b[i..], b"" | b" UTC" | b"Z") {
        return None;
    }
    Some(days * 86_400_000_000 + (h * 3600 + mi * 60 + sec) * 1_000_000 + frac)
}

/// The two digits at `i` as a number; `not_digit` is set when either is not a digit, so a
/// group of them is checked at once.
#[inline(always)]
fn two_digits(b: &[u8], i: usize, not_digit: &mut u8) -> i64 {
    let (hi, lo) = (b[i].wrapping_sub(b'0'), b[i + 1].wrapping_sub(b'0'));
    *not_digit |= u8::from(hi > 9) | u8::from(lo > 9);
    i64::from(hi) * 10 + i64::from(lo)
}

thread_local! {
    /// The last date [`day_number`] read on this thread, and its day number. Zero bytes are
    /// no date, so the first call always computes.
    static LAST_DATE: std::cell::Cell<([u8; 10], i64)> =
        const { std::cell::Cell::new(([0; 10], 0)) };
}

/// The day number (days since 1970-01-01) of a valid `YYYY-MM-DD`. Why the cache: the
/// records of a file come in time order, so nearly every timestamp has the date of the one
/// before, and checking and converting the date was half of a timestamp's cost.
#[inline]
fn day_number(date: &[u8; 10]) -> Option<i64> {
    let (last, days) = LAST_DATE.get();
    if *date == last {
        return Some(days);
    }
    if date[4] != b'-' || date[7] != b'-' {
        return None;
    }
    let mut not_digit = 0u8;
    let mut two = |i| two_digits(date, i, &mut not_digit);
    let (c, yy, mo, d) = (two(0), two(2), two(5), two(8));
    let y = c * 100 + yy;
    if not_digit != 0
        || !(1..=12).contains(&mo)
        || d == 0
        || d > i64::from(days_in_month(y, mo as u32))
    {
        return None;
    }
    let days = days_from_civil(y, mo as u32, d as u32);
    LAST_DATE.set((*date, days));
    Some(days)
}

/// Parses a timestamp (see [`LooseTime`]); `Ok(None)` for an empty string.
pub fn parse_timestamp(s: &str) -> Result<Option<i64>, String> {
    match common_timestamp(s.as_bytes()) {
        Some(t) => Ok(Some(t)),
        None => any_timestamp(s),
    }
}

/// [`parse_timestamp`] of every notation [`LooseTime`] accepts.
fn any_timestamp(s: &str) -> Result<Option<i64>, String> {
    let t = s.trim();
    if t.is_empty() || t.eq_ignore_ascii_case("null") {
        return Ok(None);
    }
    let bad = || {
        format!("expected a timestamp like 2024-05-07 09:12:03 UTC, RFC 3339 or epoch, found {s:?}")
    };
    let b = t.as_bytes();
    if b[0].is_ascii_digit() && b.len() <= 20 && b.iter().all(|c| c.is_ascii_digit() || *c == b'.')
    {
        return t
            .parse::<f64>()
            .map(|v| Some(epoch_to_micros(v)))
            .map_err(|_| bad());
    }
    if b.len() < 10 || b[4] != b'-' || b[7] != b'-' {
        return Err(bad());
    }
    let (y, mo, d) = (
        number_in(b, 0..4).ok_or_else(bad)?,
        number_in(b, 5..7).ok_or_else(bad)?,
        number_in(b, 8..10).ok_or_else(bad)?,
    );
    if !(1..=12).contains(&mo) || d == 0 || d > days_in_month(y as i64, mo) {
        return Err(bad());
    }
    let mut micros_of_day: i64 = 0;
    let mut pos = 10;
    if b.len() > 10 {
        if !matches!(b[10], b'T' | b't' | b' ') || b.len() < 16 || b[13] != b':' {
            return Err(bad());
        }
        let h = number_in(b, 11..13).ok_or_else(bad)?;
        let mi = number_in(b, 14..16).ok_or_else(bad)?;
        let mut sec = 0;
        pos = 16;
        if b.get(16) == Some(&b':') {
            sec = number_in(b, 17..19).ok_or_else(bad)?;
            pos = 19;
        }
        if h > 23 || mi > 59 || sec > 60 {
            return Err(bad());
        }
        micros_of_day = (h as i64 * 3600 + mi as i64 * 60 + sec as i64) * 1_000_000;
        if b.get(pos) == Some(&b'.') || b.get(pos) == Some(&b',') {
            pos += 1;
            let start = pos;
            let mut frac: i64 = 0;
            while pos < b.len() && b[pos].is_ascii_digit() {
                if pos - start < 6 {
                    frac = frac * 10 + (b[pos] - b'0') as i64;
                }
                pos += 1;
            }
            if pos == start {
                return Err(bad());
            }
            for _ in (pos - start)..6 {
                frac *= 10;
            }
            micros_of_day += frac;
        }
    }
    let rest = t[pos..].trim_start();
    let offset_secs: i64 = match rest {
        "" | "Z" | "z" | "UTC" | "utc" | "GMT" => 0,
        _ => parse_offset(rest).ok_or_else(bad)?,
    };
    let days = days_from_civil(y as i64, mo, d);
    Ok(Some(
        days * 86_400_000_000 + micros_of_day - offset_secs * 1_000_000,
    ))
}

fn parse_offset(s: &str) -> Option<i64> {
    let s = s.strip_prefix("UTC").unwrap_or(s);
    let b = s.as_bytes();
    let sign = match b.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = match b.len() {
        3 => (number_in(b, 1..3)?, 0),
        5 => (number_in(b, 1..3)?, number_in(b, 3..5)?),
        6 if b[3] == b':' => (number_in(b, 1..3)?, number_in(b, 4..6)?),
        _ => return None,
    };
    if h > 23 || m > 59 {
        return None;
    }
    Some(sign * (h as i64 * 3600 + m as i64 * 60))
}

fn days_in_month(y: i64, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        _ if (y % 4 == 0 && y % 100 != 0) || y % 400 == 0 => 29,
        _ => 28,
    }
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

/// Whether `s` holds a byte `A`..=`Z`: eight bytes per step, since every field of every
/// record asks (most exports write lower-case keys, so the answer is almost always no).
pub fn has_ascii_uppercase(s: &str) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    let mut words = s.as_bytes().chunks_exact(8);
    for w in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(w);
        let x = u64::from_le_bytes(b);
        // For bytes below 0x80 the high bit of (x + 0x80 - 'A') is set from 'A' up, and
        // that of (x + 0x80 - '[') from '[' up; bytes of 0x80 and above are ruled out.
        let from_a = x.wrapping_add((0x80 - b'A' as u64) * ONES);
        let from_bracket = x.wrapping_add((0x80 - b'[' as u64) * ONES);
        let upper = from_a & !from_bracket & !x & (0x80 * ONES);
        if upper != 0 {
            return true;
        }
    }
    words.remainder().iter().any(u8::is_ascii_uppercase)
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    const T0: i64 = 1_715_073_123_512_000; // 2024-05-07 09:12:03.512 UTC

    /// `text_value` reads what `value` reads, to the same end, and fails as it fails: for
    /// each type read from text, on short strings it takes in place, on strings its
    /// `from_text` refuses, and on values it must leave to the general read (escapes,
    /// non-ASCII, longer than its window, numbers, null, objects, a blank before the value).
    /// Reads `json` with `fast` and with the general `Deserializer::value`, strict or
    /// lenient, and checks both give the same value or error, and end at the same place.
    fn fast_read_agrees<'de, T: de::Deserialize<'de> + PartialEq + fmt::Debug>(
        json: &'de str,
        strict: bool,
        fast: impl Fn(&mut crate::source::de::Deserializer<'de>) -> Result<T, crate::source::de::Error>,
    ) {
        let read = |use_fast: bool| {
            let mut d = crate::source::de::Deserializer::new(json.as_bytes(), 0);
            if !strict {
                d = d.lenient();
            }
            let v = if use_fast {
                fast(&mut d)
            } else {
                d.value::<T>("f")
            };
            (v.map_err(|e| e.to_string()), d.position())
        };
        let (general, fast) = (read(false), read(true));
        assert_eq!(fast.0, general.0, "{json}");
        if general.0.is_ok() {
            assert_eq!(fast.1, general.1, "{json}");
        }
    }

    #[test]
    fn text_values_read_as_values_read() {
        fn both<T>(json: &str, strict: bool)
        where
            T: for<'de> de::Deserialize<'de> + FromText + PartialEq + fmt::Debug,
        {
            fast_read_agrees(json, strict, |d| d.text_value::<T>("f"));
        }
        let values = [
            r#""12""#,
            r#""0""#,
            r#""""#,
            r#"" 7 ""#,
            r#""abc""#,
            r#""-3""#,
            r#""1.0""#,
            r#""123456789012345678""#,
            r#""1234567890123456789""#,
            r#""true""#,
            r#""True""#,
            r#""FALSE""#,
            r#""1""#,
            r#""null""#,
            r#""yes""#,
            r#""2024-05-07 09:12:03.512 UTC""#,
            r#""2024-05-07T09:12:03.512Z""#,
            r#""2024-05-07 09:12:03.512000 UTC""#,
            r#""2024-05-07 09:12:03.5120000 UTC""#,
            r#""2024-05-07T09:12:03+02:00""#,
            r#""2024-02-30 00:00:00""#,
            r#""1715073123""#,
            r#""2024-05-07""#,
            r#""2024-05-07T09:12:03.512\u005a""#,
            r#""été""#,
            r#""\u0031\u0032""#,
            "12",
            "1715073123.5",
            "true",
            "false",
            "truex",
            "tru",
            "f",
            "falsch",
            "null",
            r#"{"$date": "2024-05-07T09:12:03Z"}"#,
            r#" "12""#,
            "\"1\u{1}2\"",
            r#""12"#,
            r#""12"x"#,
        ];
        for v in values {
            for strict in [true, false] {
                both::<LooseCount>(v, strict);
                both::<LooseBool>(v, strict);
                both::<LooseTime>(v, strict);
            }
        }
    }

    #[test]
    fn str_values_read_as_values_read() {
        fn both<'de, T>(json: &'de str, strict: bool)
        where
            T: de::Deserialize<'de> + From<&'de str> + PartialEq + fmt::Debug,
        {
            fast_read_agrees(json, strict, |d| d.str_value::<T>("f"));
        }
        let values = [
            r#""12""#,
            r#""""#,
            r#"" a b ""#,
            r#""48289.1""#,
            r#""-1711324.0289""#,
            r#""customer""#,
            r#""a string of thirty-one bytes..""#,
            r#""a string of thirty-two bytes...""#,
            r#""a string of thirty-three bytes..""#,
            r#""a string longer than any short string the fast path takes""#,
            r#""été""#,
            r#""a\"b""#,
            r#""\u0031\u0032""#,
            "\"1\u{1}2\"",
            "\"1\t2\"",
            "12",
            "103.10",
            "-0.5e3",
            "true",
            "null",
            r#"{"number": "+15550100"}"#,
            r#"[1, "a"]"#,
            r#" "12""#,
            r#""12"#,
            r#""12"x"#,
        ];
        // Bare, the fast path cannot look 16 bytes ahead; padded, it takes what it can.
        let pad = " ".repeat(40);
        for v in values {
            for json in [
                v.to_string(),
                format!("{v}{pad}"),
                format!("{v},\"next\":1}}{pad}"),
            ] {
                for strict in [true, false] {
                    both::<LooseStr>(&json, strict);
                    both::<RawText>(&json, strict);
                }
            }
        }
    }

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
                pieces(text, &first, 8192, first.span.start..text.len()),
                vec![first.span.start..text.len()]
            );
            for size in [1, 40, 100, 333] {
                let cuts = cut_at_lines(text, first.span.start..text.len(), size, is_array);
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
    fn uppercase_detection_matches_the_bytewise_check() {
        let samples = [
            "",
            "a",
            "conversation_id",
            "conversation_Id",
            "Z",
            "@[`{",
            "llm_errorOccurred_count",
            "ÄÖÜ_lower_only_after",
            "abcdefghijklmnopqrstuvwxyz@[`{",
            "abcdefgH",
            "ABCDEFGHIJKLMNOPQRSTUVWXYZ",
            "éééééééA",
            "\u{7f}\u{80}Ab",
        ];
        for s in samples {
            assert_eq!(
                has_ascii_uppercase(s),
                s.bytes().any(|b| b.is_ascii_uppercase()),
                "{s:?}"
            );
        }
        for b in 0u8..128 {
            let s = format!("abcdefg{}", b as char);
            assert_eq!(has_ascii_uppercase(&s), b.is_ascii_uppercase(), "{b}");
            let s = format!("{}bcdefgh", b as char);
            assert_eq!(has_ascii_uppercase(&s), b.is_ascii_uppercase(), "{b}");
        }
    }

    #[test]
    fn the_common_timestamp_shape_parses_as_the_general_path_does() {
        let mut seen = 0;
        for date in [
            "2024-05-07",
            "2024-02-29",
            "2023-02-29",
            "1999-12-31",
            "2024-13-01",
            "2024-04-31",
            "0000-01-01",
            "2024-0a-07",
            "2024-05-07",
            "2024-05-08",
            "2024/05/08",
        ] {
            for sep in [" ", "T", "t", "_"] {
                for time in [
                    "09:12:03",
                    "23:59:60",
                    "24:00:00",
                    "09:60:00",
                    "9:12:03",
                    "09:12",
                    "00:00:00",
                    "19:59:59",
                    "0/:12:03",
                    "09:1::03",
                    "09:12:0/",
                    "09;12:03",
                    "09:12;03",
                    "0\u{e9}:1:03",
                ] {
                    for frac in [
                        "",
                        ".5",
                        ".512",
                        ".512000",
                        ".5120001",
                        ".",
                        ",5",
                        ".5x",
                        ".000001",
                        ".999999",
                        ".51200/",
                        ".51200:",
                        ".5120000",
                        ".123456789",
                        ".51/000",
                        ":512000",
                        ".51200",
                        ".51200\u{e9}",
                    ] {
                        for zone in ["", " UTC", "Z", "z", "+02:00", " utc", "UTC", "  UTC"] {
                            let s = format!("{date}{sep}{time}{frac}{zone}");
                            if let Some(t) = common_timestamp(s.as_bytes()) {
                                assert_eq!(any_timestamp(&s), Ok(Some(t)), "{s}");
                                seen += 1;
                            }
                        }
                    }
                }
            }
        }
        // The shapes the exports write are taken by the fast path.
        for s in [
            "2024-05-07 09:12:03.512000 UTC",
            "2024-05-07 09:12:03.000001 UTC",
            "2024-05-07T23:59:59.999999Z",
            "2024-05-07 00:00:00.5",
            "2024-05-07 19:09:60",
        ] {
            let fast = common_timestamp(s.as_bytes());
            assert!(fast.is_some(), "{s}");
            assert_eq!(any_timestamp(s), Ok(fast), "{s}");
        }
        assert!(seen > 100, "{seen}");
    }

    #[test]
    fn timestamps_in_every_notation() {
        for s in [
            "2024-05-07 09:12:03.512000 UTC",
            "2024-05-07 09:12:03.512 UTC",
            "2024-05-07T09:12:03.512Z",
            "2024-05-07T09:12:03.512+00:00",
            "2024-05-07T11:12:03.512+02:00",
            "2024-05-07T04:12:03.512-0500",
            "2024-05-07 09:12:03.512",
            "1715073123.512",
            "1715073123512",
        ] {
            assert_eq!(parse_timestamp(s), Ok(Some(T0)), "{s}");
        }
        assert_eq!(
            parse_timestamp("2024-05-07 09:12:03 UTC"),
            Ok(Some(1_715_073_123_000_000))
        );
        assert_eq!(
            parse_timestamp("2024-05-07"),
            Ok(Some(1_715_040_000_000_000))
        );
        assert_eq!(parse_timestamp(""), Ok(None));
        assert!(parse_timestamp("2024-02-30 00:00:00").is_err());
        assert!(parse_timestamp("yesterday").is_err());
        assert!(parse_timestamp("2024-05-07 25:00:00").is_err());
        assert_eq!(epoch_to_micros(1_715_073_123.0), 1_715_073_123_000_000);
        assert_eq!(epoch_to_micros(1_715_073_123_000.0), 1_715_073_123_000_000);
        assert_eq!(
            epoch_to_micros(1_715_073_123_000_000.0),
            1_715_073_123_000_000
        );
    }

    #[test]
    fn civil_days_match_chrono() {
        for (y, m, d) in [
            (1970, 1, 1),
            (2000, 2, 29),
            (2024, 3, 31),
            (1969, 12, 31),
            (2100, 3, 1),
        ] {
            let c = chrono::NaiveDate::from_ymd_opt(y, m, d).unwrap();
            let e = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
            assert_eq!(days_from_civil(y as i64, m, d), (c - e).num_days());
        }
    }

    #[test]
    fn counts_and_bools() {
        assert_eq!(parse_count("12"), Ok(Some(12)));
        assert_eq!(parse_count("0"), Ok(Some(0)));
        assert_eq!(parse_count("007"), Ok(Some(7)));
        assert_eq!(
            parse_count("123456789012345678"),
            Ok(Some(123456789012345678))
        );
        assert_eq!(
            parse_count("1234567890123456789"),
            Ok(Some(1234567890123456789))
        );
        assert_eq!(parse_count("-3"), Ok(Some(-3)));
        assert_eq!(parse_count("12.0"), Ok(Some(12)));
        assert_eq!(parse_count(" 7 "), Ok(Some(7)));
        assert_eq!(parse_count(""), Ok(None));
        assert!(parse_count("12.5").is_err());
        assert!(parse_count("twelve").is_err());
        let c: LooseCount = crate::source::de::from_str("\"3\"").unwrap();
        assert_eq!(c, LooseCount(Some(3)));
        let c: LooseCount = crate::source::de::from_str("3").unwrap();
        assert_eq!(c, LooseCount(Some(3)));
        let c: LooseCount = crate::source::de::from_str("null").unwrap();
        assert_eq!(c, LooseCount(None));
        assert!(crate::source::de::from_str::<LooseCount>("\"x\"").is_err());
        for (s, v) in [
            ("true", Some(true)),
            ("\"false\"", Some(false)),
            ("\"True\"", Some(true)),
            ("\"FALSE\"", Some(false)),
            ("null", None),
            ("\"\"", None),
            ("1", Some(true)),
        ] {
            assert_eq!(
                crate::source::de::from_str::<LooseBool>(s).unwrap(),
                LooseBool(v),
                "{s}"
            );
        }
        assert!(crate::source::de::from_str::<LooseBool>("\"maybe\"").is_err());
        let s: LooseStr = crate::source::de::from_str("14523").unwrap();
        assert_eq!(s.0.as_deref(), Some("14523"));
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
    fn raw_text_keeps_number_digits_and_json() {
        let t: RawText = crate::source::de::from_str("12.10").unwrap();
        assert_eq!(t.0.as_deref(), Some("12.10"));
        let t: RawText = crate::source::de::from_str(r#"{"a": [1]}"#).unwrap();
        assert_eq!(t.0.as_deref(), Some(r#"{"a": [1]}"#));
        let t: RawText = crate::source::de::from_str(r#""-17.48""#).unwrap();
        assert_eq!(t.0.as_deref(), Some("-17.48"));
        let t: RawText = crate::source::de::from_str("null").unwrap();
        assert_eq!(t.0, None);
        // A JSON object held as a string comes back unescaped; the string "null" is text.
        let t: RawText = crate::source::de::from_str(r#""{\"a\":\"\u00e9\"}""#).unwrap();
        assert_eq!(t.0.as_deref(), Some(r#"{"a":"é"}"#));
        let t: RawText = crate::source::de::from_str(r#""null""#).unwrap();
        assert_eq!(t.0.as_deref(), Some("null"));
        let t: RawText = crate::source::de::from_str("true").unwrap();
        assert_eq!(t.0.as_deref(), Some("true"));
        assert!(crate::source::de::from_str::<RawText>(r#""bad \q escape""#).is_err());
        let f: LooseF64 = crate::source::de::from_str(r#""-0.25""#).unwrap();
        assert_eq!(f.0, Some(-0.25));
        assert_eq!(
            crate::source::de::from_str::<LooseF64>("0.87").unwrap().0,
            Some(0.87)
        );
        assert_eq!(
            crate::source::de::from_str::<LooseF64>(r#""""#).unwrap().0,
            None
        );
        assert!(crate::source::de::from_str::<LooseF64>(r#""high""#).is_err());
    }

    #[test]
    fn numbers_in_text_are_finite_and_durations_fit_in_microseconds() {
        use crate::source::de::from_str;
        // Rust's float syntax would take these; a JSON number cannot be any of them.
        for text in [
            r#""NaN""#,
            r#""nan""#,
            r#""inf""#,
            r#""-Infinity""#,
            r#""1e400""#,
            r#"{"$numberDouble":"NaN"}"#,
        ] {
            let e = from_str::<LooseF64>(text).unwrap_err().to_string();
            assert!(e.contains("expected a finite number"), "{text}: {e}");
            assert!(from_str::<LooseSeconds>(text).is_err(), "{text}");
        }
        assert_eq!(from_str::<LooseF64>(r#"" 2.5 ""#).unwrap().0, Some(2.5));
        // A duration is at most what an i64 of microseconds holds: 2^63 µs is one past it,
        // -2^63 µs in it (9223372036854.775 s is 2^63 µs once multiplied as floats are).
        let secs = |text: &str| from_str::<LooseSeconds>(text).map(|s| s.0);
        assert_eq!(secs("9223372036854.773").unwrap(), Some(9223372036854.773));
        assert_eq!(
            secs("-9223372036854.775").unwrap(),
            Some(-9223372036854.775)
        );
        assert_eq!(secs(r#""12.5""#).unwrap(), Some(12.5));
        assert_eq!(secs("null").unwrap(), None);
        for text in [
            "9223372036854.775",
            "-9223372036854.777",
            "1e20",
            r#""1e300""#,
        ] {
            let e = secs(text).unwrap_err().to_string();
            assert!(e.contains("longer than a duration can be"), "{text}: {e}");
        }
    }

    #[test]
    fn mongo_shell_and_extended_json_become_plain_values() {
        let shell = b"{ \"_id\" : ObjectId(\"5ff4\"),\n \"start_time\" : ISODate(\"2021-01-05T06:37:36.936Z\"),\n \"n\" : NumberLong(7), \"s\": \"ISODate(x)\", }";
        let plain = normalize_mongo_shell(shell).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(v["_id"], "5ff4");
        assert_eq!(v["start_time"], "2021-01-05T06:37:36.936Z");
        assert_eq!(v["n"], 7);
        assert_eq!(v["s"], "ISODate(x)"); // inside a string: untouched
        assert_eq!(memchr::memchr_iter(b'\n', &plain).count(), 2);
        assert!(normalize_mongo_shell(b"{\"a\":1}").is_none());
        let t: LooseTime =
            crate::source::de::from_str(r#"{"$date":"2021-01-05T06:37:36.936Z"}"#).unwrap();
        assert_eq!(t.0, Some(1_609_828_656_936_000));
        let t: LooseTime =
            crate::source::de::from_str(r#"{"$date":{"$numberLong":"1609828656936"}}"#).unwrap();
        assert_eq!(t.0, Some(1_609_828_656_936_000));
        let s: LooseStr = crate::source::de::from_str(r#"{"$oid":"5ff4"}"#).unwrap();
        assert_eq!(s.0.as_deref(), Some("5ff4"));
        let c: LooseCount = crate::source::de::from_str(r#"{"$numberLong":"12"}"#).unwrap();
        assert_eq!(c.0, Some(12));
        let f: LooseF64 = crate::source::de::from_str(r#"{"$numberDouble":"4.5"}"#).unwrap();
        assert_eq!(f.0, Some(4.5));
        assert!(crate::source::de::from_str::<LooseCount>(r#"{"$oid":"x"}"#).is_err());
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
