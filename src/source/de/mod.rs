//! The one JSON parser of every reader: a zero-copy serde `Deserializer` over a record's bytes.
//!
//! Why not serde_json: on 1.5M bot conversations the profile of the serde_json version showed
//! about 40% of the time in its string handling (per-string UTF-8 validation, escape scanning
//! a byte at a time) and in validating every byte of values no reader wants. Exports are
//! mostly short ASCII strings and long nested arrays that a metrics-only read skips. So this
//! parser
//! - finds where a string ends 16 bytes at a time (SSE2; strings of up to 32 bytes inline,
//!   with no call) and borrows every string without escapes;
//! - matches each key against the keys of the record before, in order (see [`KeyMemo`]);
//! - skips a value nobody asked for (unknown keys, the heavy fields of a lean read) with a
//!   structural scan that checks brackets, strings and nesting but not the scalars inside;
//! - records the byte offset of the innermost value that failed, so errors point at the
//!   value and not at the end of the record.
//!
//! Everything the readers deserialize (`Loose*`, records, intents) keeps its `Deserialize`
//! impl; only the deserializer changed. [`RAW_TOKEN`] asks for a value's raw JSON text.
//!
//! Its files, one job each: this one holds the [`Deserializer`] and its reads of single
//! values (strings, numbers, literals, skips); `walk.rs` the walk over a record's fields
//! with the [`KeyMemo`]; `visit.rs` the serde `Deserializer` impl; `scan.rs` the vector
//! scans for where strings and containers end; `number.rs` the number grammar.

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, MapAccess, SeqAccess, Visitor};

mod number;
mod scan;
#[cfg(test)]
mod tests;
mod visit;
mod walk;

pub use number::Number;
use number::{scan_number, NumberScan};
pub use scan::{container_end, record_end, string_end, ScanError};
use scan::{short_string_end, string_scan};
pub(crate) use walk::bytes_at;
pub use walk::KeyMemo;

/// Newtype-struct name that makes [`Deserializer`] hand a value's raw JSON text to the
/// visitor as a borrowed `&str` (the role serde_json's `RawValue` plays).
pub const RAW_TOKEN: &str = "$cxkpi::RawJson";

/// Newtype-struct name that makes [`Deserializer`] hand over a value as text: a string's
/// content (borrowed, or unescaped into the deserializer's scratch buffer), null as a
/// unit, any other value's raw JSON text (see `json::RawText`).
pub const TEXT_TOKEN: &str = "$cxkpi::JsonText";

/// Newtype-struct name that makes [`Deserializer`] hand a number to the visitor as its text
/// (borrowed), any other value as `deserialize_any` would: ids that arrive as numbers keep
/// their digits, at any size, where a number read as `u64` or `f64` would round them
/// (`100000000000000000001` and `…002` would become one id).
pub const NUMBER_TEXT_TOKEN: &str = "$cxkpi::NumberText";

/// Deepest nesting accepted, as serde_json's recursion limit.
const MAX_DEPTH: usize = 128;

/// A deserialization error message; the offset lives in the [`Deserializer`].
#[derive(Debug)]
pub struct Error(String);

impl de::Error for Error {
    fn custom<T: fmt::Display>(msg: T) -> Self {
        Error(msg.to_string())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

/// A failed parse: the message and the byte offset (in the parsed slice) of the innermost
/// value that failed, or of the syntax error.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    pub offset: usize,
    pub message: String,
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// Deserializes one JSON value filling all of `buf` (surrounding whitespace allowed).
pub fn from_slice_seed<'de, S: DeserializeSeed<'de>>(
    seed: S,
    buf: &'de [u8],
) -> Result<S::Value, Failure> {
    from_slice_with(buf, |d| seed.deserialize(d))
}

/// Runs `read` on a deserializer over `buf` (a record's bytes), which must hold one JSON value
/// and nothing but whitespace after it; failures carry the offset of the innermost failing
/// value.
pub fn from_slice_with<'de, T>(
    buf: &'de [u8],
    read: impl FnOnce(&mut Deserializer<'de>) -> Result<T, Error>,
) -> Result<T, Failure> {
    let mut d = Deserializer::new(buf, 0);
    let v = d.read(read)?;
    d.expect_end()?;
    Ok(v)
}

/// [`from_slice_seed`] for a plain `Deserialize` type.
pub fn from_slice<'de, T: Deserialize<'de>>(buf: &'de [u8]) -> Result<T, Failure> {
    from_slice_seed(PhantomData::<T>, buf)
}

/// [`from_slice`] over text (JSON carried inside a JSON string, a raw field value).
pub fn from_str<'de, T: Deserialize<'de>>(s: &'de str) -> Result<T, Failure> {
    from_slice(s.as_bytes())
}

/// A value's raw JSON text, borrowed from the input (see [`RAW_TOKEN`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Raw<'a>(pub &'a str);

impl<'de> Deserialize<'de> for Raw<'de> {
    fn deserialize<D: de::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Raw<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Raw<'de>, E> {
                Ok(Raw(v))
            }
        }
        d.deserialize_newtype_struct(RAW_TOKEN, V)
    }
}

/// The parser's state over one record's bytes (or a piece of a file of records).
pub struct Deserializer<'de> {
    buf: &'de [u8],
    pos: usize,
    /// Unescaped copies of strings with escapes.
    scratch: Vec<u8>,
    depth: usize,
    /// Offset of the innermost value that failed: set once, by the first failure.
    err_at: Option<usize>,
    /// Skipped values are parsed in full (every scalar, escape and UTF-8 sequence checked,
    /// RFC 8259) rather than scanned for structure only. On by default: only metrics-only
    /// reads, which keep nothing they skip, turn it off for speed ([`Deserializer::lenient`]).
    strict: bool,
}

/// A string's content: borrowed from the input, or unescaped into the scratch buffer.
enum Text<'de, 's> {
    Borrowed(&'de str),
    Copied(&'s str),
}

/// A type whose value may be written as a JSON string, parsed from it by one function: its
/// serde visitor calls it on a string, and [`Deserializer::text_value`] calls it on short
/// strings in place.
pub trait FromText: Sized {
    fn from_text(text: &str) -> Result<Self, String>;

    /// What the type's serde visitor makes of a JSON `true` or `false` (`visit_bool`), for
    /// a type that takes one; `None` leaves the literal to its `Deserialize`.
    fn from_bool(_: bool) -> Option<Self> {
        None
    }

    /// What the type's serde visitor makes of a JSON `null` (`visit_unit`), for a type that
    /// takes one; `None` leaves the literal to its `Deserialize`.
    fn from_null() -> Option<Self> {
        None
    }

    /// What the type's serde visitor makes of a JSON number, as [`Deserializer::number`]
    /// hands it over; `None` leaves the number to its `Deserialize` (and its errors).
    fn from_number(_: Number) -> Option<Self> {
        None
    }
}

fn utf8(bytes: &[u8]) -> Result<&str, Error> {
    std::str::from_utf8(bytes).map_err(|_| Error("invalid UTF-8 in a string".into()))
}

impl<'de> Deserializer<'de> {
    /// A deserializer over `buf` at `pos`. Records are parsed where they lie in their file
    /// (`buf` ending where the record or the piece of the file must end), so every offset,
    /// in values and in failures, is the file's.
    pub fn new(buf: &'de [u8], pos: usize) -> Self {
        Deserializer {
            buf,
            pos,
            scratch: Vec::new(),
            depth: 0,
            err_at: None,
            strict: true,
        }
    }

    /// This deserializer, skipping unread values by structure only: brackets pair, strings
    /// close, no raw control characters, but scalars, escapes and UTF-8 inside them are not
    /// checked. For metrics-only reads, which keep no value they skip.
    pub fn lenient(mut self) -> Self {
        self.strict = false;
        self
    }

    /// Moves to `pos` of `buf`, keeping the scratch buffer: the next record's parse.
    pub fn reset(&mut self, buf: &'de [u8], pos: usize) {
        self.buf = buf;
        self.pos = pos;
        self.depth = 0;
        self.err_at = None;
    }

    /// The offset reached: just past the value last read.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// The first byte after blanks (moving past them), or `None` at the end of the input.
    pub fn next_byte(&mut self) -> Option<u8> {
        self.skip_ws();
        self.buf.get(self.pos).copied()
    }

    /// Steps over one byte, one [`Deserializer::next_byte`] returned.
    pub fn bump(&mut self) {
        self.pos += 1;
    }

    /// Runs `read` on the value at the current position; a failure carries the offset of
    /// the innermost value that failed, or of the syntax error.
    pub fn read<T>(
        &mut self,
        read: impl FnOnce(&mut Self) -> Result<T, Error>,
    ) -> Result<T, Failure> {
        self.err_at = None;
        read(self).map_err(|e| Failure {
            offset: self.err_at.unwrap_or(self.pos).min(self.buf.len()),
            message: e.0,
        })
    }

    /// Checks that only blanks are left in the input.
    pub fn expect_end(&mut self) -> Result<(), Failure> {
        match self.next_byte() {
            None => Ok(()),
            Some(_) => Err(Failure {
                offset: self.pos,
                message: "unexpected content after the end of the JSON value".into(),
            }),
        }
    }

    fn fail<T>(&mut self, at: usize, msg: impl fmt::Display) -> Result<T, Error> {
        self.err_at.get_or_insert(at);
        Err(Error(msg.to_string()))
    }

    fn scan<T>(&mut self, r: Result<T, ScanError>) -> Result<T, Error> {
        r.or_else(|(at, msg)| self.fail(at, msg))
    }

    #[inline]
    fn skip_ws(&mut self) {
        while let Some(&b) = self.buf.get(self.pos) {
            if !matches!(b, b' ' | b'\n' | b'\t' | b'\r') {
                break;
            }
            self.pos += 1;
        }
    }

    // Always inlined: it is called for every key and value, and as a call (LLVM's choice
    // moves with unrelated changes) it cost 1.5% of a Samespace read.
    #[inline(always)]
    fn peek(&mut self) -> Result<u8, Error> {
        self.skip_ws();
        match self.buf.get(self.pos) {
            Some(&b) => Ok(b),
            None => self.fail(self.pos, "unexpected end of input (truncated record?)"),
        }
    }

    fn literal(&mut self, word: &[u8]) -> Result<(), Error> {
        // `bytes_at` rather than `starts_with`, whose `memcmp` call cost more than the
        // four or five bytes compared.
        if bytes_at(self.buf, self.pos, word) {
            self.pos += word.len();
            Ok(())
        } else {
            self.fail(self.pos, "expected a JSON value")
        }
    }

    /// The string whose opening quote is at `pos`.
    #[inline(always)]
    fn string<'s>(&'s mut self) -> Result<Text<'de, 's>, Error> {
        // Most strings read are short ASCII without escapes: borrowed here, without a call.
        if let Some((text, end)) = self.short_ascii() {
            self.pos = end;
            return Ok(Text::Borrowed(text));
        }
        self.any_string()
    }

    /// The content of the string whose opening quote is at `pos` and the index past its
    /// closing quote, when it is a short ASCII string without escapes (see
    /// [`short_string_end`]): the one check behind every read that borrows such a string in
    /// place. The caller has seen the opening quote (`string` is called at one).
    #[inline(always)]
    fn short_ascii(&self) -> Option<(&'de str, usize)> {
        let (buf, at) = (self.buf, self.pos);
        let end = short_string_end(buf, at + 1, true)?;
        // SAFETY: with `ascii`, `short_string_end` saw only ASCII bytes before the closing
        // quote, and ASCII is valid UTF-8.
        Some((
            unsafe { std::str::from_utf8_unchecked(&buf[at + 1..end - 1]) },
            end,
        ))
    }

    /// [`Deserializer::string`] of any string.
    #[inline(never)]
    fn any_string<'s>(&'s mut self) -> Result<Text<'de, 's>, Error> {
        let start = self.pos + 1;
        let scanned = string_scan(self.buf, start);
        let (i, ascii) = self.scan(scanned)?;
        let buf = self.buf;
        if buf[i] == b'"' {
            self.pos = i + 1;
            let bytes = &buf[start..i];
            if ascii {
                // SAFETY: the scan saw no byte of 0x80 or above, and ASCII is valid UTF-8.
                return Ok(Text::Borrowed(unsafe {
                    std::str::from_utf8_unchecked(bytes)
                }));
            }
            return match utf8(bytes) {
                Ok(s) => Ok(Text::Borrowed(s)),
                Err(e) => {
                    self.err_at.get_or_insert(start);
                    Err(e)
                }
            };
        }
        self.scratch.clear();
        self.scratch.extend_from_slice(&buf[start..i]);
        let mut i = self.escape(i)?;
        loop {
            let scanned = string_scan(buf, i);
            let (j, _) = self.scan(scanned)?;
            self.scratch.extend_from_slice(&buf[i..j]);
            if buf[j] == b'"' {
                self.pos = j + 1;
                break;
            }
            i = self.escape(j)?;
        }
        match std::str::from_utf8(&self.scratch) {
            Ok(s) => Ok(Text::Copied(s)),
            Err(_) => {
                self.err_at.get_or_insert(start);
                Err(Error("invalid UTF-8 in a string".into()))
            }
        }
    }

    /// Appends the escape at `at` (a backslash) to the scratch buffer; returns the index
    /// after it.
    fn escape(&mut self, at: usize) -> Result<usize, Error> {
        let c = match self.buf.get(at + 1) {
            Some(b'"') => b'"',
            Some(b'\\') => b'\\',
            Some(b'/') => b'/',
            Some(b'b') => 0x08,
            Some(b'f') => 0x0c,
            Some(b'n') => b'\n',
            Some(b'r') => b'\r',
            Some(b't') => b'\t',
            Some(b'u') => {
                let (ch, next) = self.unicode(at)?;
                let mut tmp = [0u8; 4];
                self.scratch
                    .extend_from_slice(ch.encode_utf8(&mut tmp).as_bytes());
                return Ok(next);
            }
            _ => return self.fail(at, "invalid escape in a string"),
        };
        self.scratch.push(c);
        Ok(at + 2)
    }

    /// The `\uXXXX` escape at `at` (with its low surrogate if it is a high one).
    fn unicode(&mut self, at: usize) -> Result<(char, usize), Error> {
        // Exactly four hex digits: `from_str_radix` alone also takes a sign (`\u+041`).
        let hex = |buf: &[u8], i: usize| -> Option<u32> {
            let h = buf.get(i..i + 4)?;
            if !h.iter().all(u8::is_ascii_hexdigit) {
                return None;
            }
            u32::from_str_radix(std::str::from_utf8(h).ok()?, 16).ok()
        };
        let Some(hi) = hex(self.buf, at + 2) else {
            return self.fail(at, "invalid \\u escape in a string");
        };
        if (0xD800..0xDC00).contains(&hi) {
            let lo = match self.buf.get(at + 6..at + 8) {
                Some(b"\\u") => hex(self.buf, at + 8),
                _ => None,
            };
            if let Some(lo @ 0xDC00..=0xDFFF) = lo {
                let c = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
                if let Some(ch) = char::from_u32(c) {
                    return Ok((ch, at + 12));
                }
            }
            return self.fail(at, "lone surrogate in a \\u escape");
        }
        match char::from_u32(hi) {
            Some(ch) => Ok((ch, at + 6)),
            None => self.fail(at, "lone surrogate in a \\u escape"),
        }
    }

    /// The number at `pos`, checked against JSON's grammar: its text, whether it has a
    /// fraction or an exponent, and its value when short (see [`NumberScan`]). Moves past it.
    fn scanned_number(&mut self) -> Result<(&'de str, bool, Option<Number>), Error> {
        let (buf, start) = (self.buf, self.pos);
        let Some(NumberScan { end, float, exact }) = scan_number(buf, start) else {
            return self.fail(start, "invalid number");
        };
        self.pos = end;
        // SAFETY: the scan accepted only ASCII bytes (digits, '-', '+', '.', 'e', 'E'), and
        // ASCII is valid UTF-8. (Checking it again was 4% of an Anywhere365 run.)
        let text = unsafe { std::str::from_utf8_unchecked(&buf[start..end]) };
        Ok((text, float, exact))
    }

    /// [`Deserializer::scanned_number`] without the value.
    fn number_text(&mut self) -> Result<(&'de str, bool), Error> {
        self.scanned_number().map(|(text, float, _)| (text, float))
    }

    /// The number at `pos`, handed to `v` as a u64 or i64 when it is an integer in their
    /// range, else as a (finite) f64. Moves past it.
    fn number<V: Visitor<'de>>(&mut self, v: V) -> Result<V::Value, Error> {
        let start = self.pos;
        let n = match self.scanned_number()? {
            (_, _, Some(n)) => n,
            (text, float, None) => self.parsed_number(start, text, float)?,
        };
        match n {
            Number::U64(n) => v.visit_u64(n),
            Number::I64(n) => v.visit_i64(n),
            Number::F64(f) => v.visit_f64(f),
        }
    }

    /// The value of the number `text` (which starts at `start` and is `float` as
    /// [`Deserializer::scanned_number`] says), parsed from its text.
    fn parsed_number(&mut self, start: usize, text: &str, float: bool) -> Result<Number, Error> {
        if !float {
            if text.starts_with('-') {
                if let Ok(n) = text.parse::<i64>() {
                    return Ok(Number::I64(n));
                }
            } else if let Ok(n) = text.parse::<u64>() {
                return Ok(Number::U64(n));
            }
        }
        match text.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(Number::F64(f)),
            _ => self.fail(start, "number out of range"),
        }
    }

    /// Skips the value at `pos` (after whitespace): parsed in full when strict, else checked
    /// for structure only.
    fn skip(&mut self) -> Result<(), Error> {
        if self.strict {
            return de::Deserializer::deserialize_any(&mut *self, de::IgnoredAny).map(|_| ());
        }
        match self.peek()? {
            b'{' | b'[' => {
                let end = container_end(self.buf, self.pos);
                self.pos = self.scan(end)?;
            }
            b'"' => {
                let end = string_end(self.buf, self.pos + 1);
                self.pos = self.scan(end)?;
            }
            // A number's syntax is checked, its value not computed (decoding the skipped
            // scores and sentiments of a Dialpad dump as f64 was 3% of a run).
            b'-' | b'0'..=b'9' => {
                self.number_text()?;
            }
            // Literals (unread flags) without the dispatch of the any-value read.
            b't' => self.literal(b"true")?,
            b'f' => self.literal(b"false")?,
            b'n' => self.literal(b"null")?,
            _ => {
                de::Deserializer::deserialize_any(&mut *self, de::IgnoredAny)?;
            }
        }
        Ok(())
    }

    /// [`Deserializer::skip`] of the value of the field `key`, named in any error.
    fn skip_field(&mut self, key: &str) -> Result<(), Error> {
        self.skip()
            .map_err(|e| Error(format!("field `{key}`: {}", e.0)))
    }

    fn enter(&mut self) -> Result<(), Error> {
        if self.depth == MAX_DEPTH {
            return self.fail(self.pos, "nested too deeply");
        }
        self.depth += 1;
        self.pos += 1;
        Ok(())
    }
}
