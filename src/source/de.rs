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

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserialize, DeserializeSeed, MapAccess, SeqAccess, Visitor};

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

// ---------------------------------------------------------------------------------------
// Byte scanning: 64-byte blocks classified with SSE2 (part of every x86_64), with a
// byte-at-a-time fallback elsewhere that the tests check against the SSE2 version.
// ---------------------------------------------------------------------------------------

/// One bit per byte of a 64-byte block, for each class of byte the scanners look for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Masks {
    quote: u64,
    backslash: u64,
    /// `{` or `[`.
    open: u64,
    /// `}` or `]`.
    close: u64,
    /// Bytes below 0x20, which JSON strings may not hold raw.
    control: u64,
    /// Bytes of 0x80 and above (non-ASCII).
    high: u64,
    /// Bytes with bit 0x20 set: of the brackets, `{` and `}` (which kind a bracket is,
    /// without reading its byte again).
    bit20: u64,
}

#[cfg(any(test, not(target_arch = "x86_64")))]
fn classify_scalar(block: &[u8; 64]) -> Masks {
    let mut m = Masks::default();
    for (i, &b) in block.iter().enumerate() {
        let bit = 1u64 << i;
        if b & 0x20 != 0 {
            m.bit20 |= bit;
        }
        match b {
            b'"' => m.quote |= bit,
            b'\\' => m.backslash |= bit,
            b'{' | b'[' => m.open |= bit,
            b'}' | b']' => m.close |= bit,
            0..=0x1f => m.control |= bit,
            0x80.. => m.high |= bit,
            _ => {}
        }
    }
    m
}

#[cfg(target_arch = "x86_64")]
fn classify(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::*;
    let mut m = Masks::default();
    for k in 0..4 {
        // SAFETY: SSE2 is in the x86_64 baseline, and the unaligned load reads 16 bytes at
        // offset 16·k < 64 of a 64-byte array.
        unsafe {
            let v = _mm_loadu_si128(block.as_ptr().add(16 * k) as *const __m128i);
            let bits = |x: __m128i| (_mm_movemask_epi8(x) as u32 as u64) << (16 * k);
            let eq = |c: u8| _mm_cmpeq_epi8(v, _mm_set1_epi8(c as i8));
            // `[`/`{` and `]`/`}` differ only in bit 0x20.
            let folded = _mm_or_si128(v, _mm_set1_epi8(0x20));
            m.quote |= bits(eq(b'"'));
            m.backslash |= bits(eq(b'\\'));
            m.open |= bits(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'{' as i8)));
            m.close |= bits(_mm_cmpeq_epi8(folded, _mm_set1_epi8(b'}' as i8)));
            m.control |= bits(_mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v));
            m.high |= bits(v);
            // Bit 0x20 of each byte moved to its top bit (16-bit lanes: a low byte's top
            // bits go to its neighbour's low bits, which the mask does not read).
            m.bit20 |= bits(_mm_slli_epi16(v, 2));
        }
    }
    m
}

#[cfg(not(target_arch = "x86_64"))]
fn classify(block: &[u8; 64]) -> Masks {
    classify_scalar(block)
}

/// [`classify`] with AVX2: two 32-byte halves instead of four 16-byte quarters. Only
/// called where AVX2 was detected at run time (see [`scan_container`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
fn classify_avx2(block: &[u8; 64]) -> Masks {
    use std::arch::x86_64::*;
    let mut m = Masks::default();
    for k in 0..2 {
        // SAFETY: the unaligned load reads 32 bytes at offset 32·k < 64 of a 64-byte array.
        let v = unsafe { _mm256_loadu_si256(block.as_ptr().add(32 * k) as *const __m256i) };
        let bits = |x: __m256i| (_mm256_movemask_epi8(x) as u32 as u64) << (32 * k);
        let eq = |c: u8| _mm256_cmpeq_epi8(v, _mm256_set1_epi8(c as i8));
        let folded = _mm256_or_si256(v, _mm256_set1_epi8(0x20));
        m.quote |= bits(eq(b'"'));
        m.backslash |= bits(eq(b'\\'));
        m.open |= bits(_mm256_cmpeq_epi8(folded, _mm256_set1_epi8(b'{' as i8)));
        m.close |= bits(_mm256_cmpeq_epi8(folded, _mm256_set1_epi8(b'}' as i8)));
        m.control |= bits(_mm256_cmpeq_epi8(
            _mm256_min_epu8(v, _mm256_set1_epi8(0x1f)),
            v,
        ));
        m.high |= bits(v);
        m.bit20 |= bits(_mm256_slli_epi16(v, 2));
    }
    m
}

/// The 64 bytes at `i`: borrowed from `buf` where it holds them all, else a padded copy
/// (see [`block_at`]). Why: copying every block to the stack first had the classifying
/// loads wait on the copy's stores, a fifth of skipping a container.
enum Block<'a> {
    In(&'a [u8; 64]),
    Tail([u8; 64]),
}

impl<'a> Block<'a> {
    #[inline]
    fn at(buf: &'a [u8], i: usize) -> Self {
        match buf
            .get(i..i + 64)
            .and_then(|b| <&[u8; 64]>::try_from(b).ok())
        {
            Some(b) => Block::In(b),
            None => Block::Tail(block_at(buf, i)),
        }
    }
}

impl std::ops::Deref for Block<'_> {
    type Target = [u8; 64];
    #[inline]
    fn deref(&self) -> &[u8; 64] {
        match self {
            Block::In(b) => b,
            Block::Tail(b) => b,
        }
    }
}

/// The bytes of `buf` from `i` to its end (fewer than 64), padded with spaces.
fn block_at(buf: &[u8], i: usize) -> [u8; 64] {
    let mut b = [b' '; 64];
    let n = buf.len().saturating_sub(i).min(64);
    b[..n].copy_from_slice(&buf[i..i + n]);
    b
}

/// Bits of the characters escaped by a backslash: the byte after each odd-length run of
/// backslashes. `carry` says whether the first byte of the block is escaped by a run that
/// ended the previous block, and is updated for the next block.
fn escaped(backslash: u64, carry: &mut u64) -> u64 {
    const EVEN: u64 = 0x5555_5555_5555_5555;
    let backslash = backslash & !*carry;
    let follows = (backslash << 1) | *carry;
    // Runs starting on an odd bit; adding the run to its start carries past its end,
    // leaving a bit on the byte after every run that started on an even bit.
    let odd_starts = backslash & !EVEN & !follows;
    let (sum, overflow) = odd_starts.overflowing_add(backslash);
    *carry = u64::from(overflow);
    (EVEN ^ (sum << 1)) & follows
}

/// Bit i = parity of the set bits at or below i: 1 from an opening quote up to, not
/// including, its closing quote.
fn prefix_xor(mut x: u64) -> u64 {
    for s in [1, 2, 4, 8, 16, 32] {
        x ^= x << s;
    }
    x
}

/// [`prefix_xor`] in one carry-less multiplication by all ones, where the CPU has it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
fn prefix_xor_clmul(x: u64) -> u64 {
    use std::arch::x86_64::*;
    let product = _mm_clmulepi64_si128(_mm_set_epi64x(0, x as i64), _mm_set1_epi8(-1), 0);
    _mm_cvtsi128_si64(product) as u64
}

/// A syntax error found by a scan: where, and what.
pub type ScanError = (usize, &'static str);

/// Where the string whose content starts at `start` ends: the index of its closing quote,
/// or of its first backslash (escapes are the caller's), and whether the bytes before it
/// are all ASCII. Most strings are short, so this works 16 bytes at a time.
#[cfg(target_arch = "x86_64")]
fn string_scan(buf: &[u8], start: usize) -> Result<(usize, bool), ScanError> {
    use std::arch::x86_64::*;
    let mut i = start;
    let mut high = 0u32;
    while i + 16 <= buf.len() {
        // SAFETY: SSE2 is in the x86_64 baseline; the load reads buf[i..i + 16], in bounds.
        let (stop, control, h) = unsafe {
            let v = _mm_loadu_si128(buf.as_ptr().add(i) as *const __m128i);
            let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
            let stop = _mm_or_si128(
                _mm_or_si128(
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8)),
                    _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8)),
                ),
                control,
            );
            (
                _mm_movemask_epi8(stop) as u32,
                _mm_movemask_epi8(control) as u32,
                _mm_movemask_epi8(v) as u32,
            )
        };
        if stop != 0 {
            let at = stop.trailing_zeros();
            if control >> at & 1 == 1 {
                return Err((i + at as usize, "control character inside a string"));
            }
            return Ok((i + at as usize, (high | (h & ((1 << at) - 1))) == 0));
        }
        high |= h;
        i += 16;
    }
    string_scan_bytes(buf, i, high == 0, start)
}

#[cfg(not(target_arch = "x86_64"))]
fn string_scan(buf: &[u8], start: usize) -> Result<(usize, bool), ScanError> {
    string_scan_bytes(buf, start, true, start)
}

/// [`string_scan`] a byte at a time from `i` (`ascii`: so far; `start`: for the error).
fn string_scan_bytes(
    buf: &[u8],
    mut i: usize,
    mut ascii: bool,
    start: usize,
) -> Result<(usize, bool), ScanError> {
    while let Some(&b) = buf.get(i) {
        match b {
            b'"' | b'\\' => return Ok((i, ascii)),
            0..=0x1f => return Err((i, "control character inside a string")),
            0x80.. => ascii = false,
            _ => {}
        }
        i += 1;
    }
    Err((
        start.saturating_sub(1),
        "unexpected end of input inside a string (truncated file?)",
    ))
}

/// The index just past the closing quote of the string whose content starts at `start`,
/// when that quote is among its first 32 bytes with no backslash or control character
/// (nor, with `ascii`, a byte of 0x80 or above) before it; `None` for any other string,
/// which the full scans then read (and report). Inlined into the record walk: ids,
/// timestamps and codes are that short.
#[inline(always)]
fn short_string_end(buf: &[u8], start: usize, ascii: bool) -> Option<usize> {
    #[cfg(target_arch = "x86_64")]
    if start + 16 <= buf.len() {
        use std::arch::x86_64::*;
        // The quotes, and the bytes that stop a short string, of the 16 bytes at `at`.
        let masks = |at: usize| {
            // SAFETY: SSE2 is in the x86_64 baseline; every call reads buf[at..at + 16],
            // in bounds as checked before it.
            unsafe {
                let v = _mm_loadu_si128(buf.as_ptr().add(at) as *const __m128i);
                let control = _mm_cmpeq_epi8(_mm_min_epu8(v, _mm_set1_epi8(0x1f)), v);
                let backslash = _mm_cmpeq_epi8(v, _mm_set1_epi8(b'\\' as i8));
                let high = if ascii {
                    _mm_movemask_epi8(v) as u32
                } else {
                    0
                };
                (
                    _mm_movemask_epi8(_mm_cmpeq_epi8(v, _mm_set1_epi8(b'"' as i8))) as u32,
                    _mm_movemask_epi8(_mm_or_si128(control, backslash)) as u32 | high,
                )
            }
        };
        let (mut quote, mut stop) = masks(start);
        if quote | stop == 0 && start + 32 <= buf.len() {
            let (q, s) = masks(start + 16);
            (quote, stop) = (q << 16, s << 16);
        }
        let first = quote & quote.wrapping_neg();
        if first != 0 && stop & (first - 1) == 0 {
            return Some(start + first.trailing_zeros() as usize + 1);
        }
    }
    let _ = (buf, start, ascii);
    None
}

/// The index just past the closing quote of the string whose content starts at `i`.
pub fn string_end(buf: &[u8], i: usize) -> Result<usize, ScanError> {
    let open = i.saturating_sub(1);
    let (j, _) = string_scan(buf, i).map_err(|(at, msg)| (at.max(open), msg))?;
    if buf[j] == b'"' {
        return Ok(j + 1);
    }
    escaped_string_end(buf, j, open)
}

/// [`string_end`] from `i`, the first backslash of a string that opened at `open`: by
/// 64-byte blocks, escapes resolved by bit arithmetic ([`escaped`]). Why: skipped strings
/// that hold JSON (Ultimate's `conversations_data`, `{\"country\":…}`) have a backslash
/// every few bytes, and a scan restarted after each escape cost one pass per escape.
/// Escaped bytes are not checked (as when the escape is parsed: it rejects them).
fn escaped_string_end(buf: &[u8], mut i: usize, open: usize) -> Result<usize, ScanError> {
    let mut carry = 0;
    while i < buf.len() {
        let m = classify(&Block::at(buf, i));
        let escaped = escaped(m.backslash, &mut carry);
        let quotes = m.quote & !escaped;
        // The bytes before the closing quote (all of the block without one).
        let inside = quotes.wrapping_sub(1) & !quotes;
        let bad = m.control & !escaped & inside;
        if bad != 0 && i + (bad.trailing_zeros() as usize) < buf.len() {
            return Err((
                i + bad.trailing_zeros() as usize,
                "control character inside a string",
            ));
        }
        if quotes != 0 && i + (quotes.trailing_zeros() as usize) < buf.len() {
            return Ok(i + quotes.trailing_zeros() as usize + 1);
        }
        i += 64;
    }
    Err((
        open,
        "unexpected end of input inside a string (truncated file?)",
    ))
}

/// The index just past the object or array opening at `start`. Brackets must pair up,
/// strings must close and hold no raw control characters; the scalars inside are not
/// looked at. Works on 64-byte blocks: quotes not escaped by a backslash delimit strings
/// (a prefix XOR), and only the brackets outside strings are visited one by one.
pub fn container_end(buf: &[u8], start: usize) -> Result<usize, ScanError> {
    scan_container(buf, start, true)
}

/// [`container_end`] for framing: counts brackets without pairing their kinds, so a record
/// with a syntax error inside is still framed and its parse then names the exact spot.
pub fn record_end(buf: &[u8], start: usize) -> Result<usize, ScanError> {
    scan_container(buf, start, false)
}

/// Every skipped value and the framing of every record come through here, so it runs on
/// AVX2 where the CPU has it (about twice the bytes per instruction), SSE2 elsewhere.
fn scan_container(buf: &[u8], start: usize, pair_kinds: bool) -> Result<usize, ScanError> {
    #[cfg(target_arch = "x86_64")]
    if std::arch::is_x86_feature_detected!("avx2")
        && std::arch::is_x86_feature_detected!("pclmulqdq")
    {
        // SAFETY: the CPU supports AVX2 and PCLMULQDQ, checked just above.
        return unsafe { scan_container_avx2(buf, start, pair_kinds) };
    }
    scan_blocks(buf, start, pair_kinds, classify, prefix_xor)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,pclmulqdq")]
fn scan_container_avx2(buf: &[u8], start: usize, pair_kinds: bool) -> Result<usize, ScanError> {
    scan_blocks(
        buf,
        start,
        pair_kinds,
        |b| classify_avx2(b),
        |x| prefix_xor_clmul(x),
    )
}

/// [`scan_container`]'s loop, for one way of classifying a block and of computing
/// [`prefix_xor`].
#[inline(always)]
fn scan_blocks(
    buf: &[u8],
    start: usize,
    pair_kinds: bool,
    classify: impl Fn(&[u8; 64]) -> Masks,
    prefix_xor: impl Fn(u64) -> u64,
) -> Result<usize, ScanError> {
    // One bit per open level, 1 for an object; MAX_DEPTH bits fit in a u128.
    let mut kinds: u128 = 0;
    let mut depth = 0usize;
    let mut in_string = 0u64;
    let mut carry = 0u64;
    let mut i = start;
    while i < buf.len() {
        let m = classify(&Block::at(buf, i));
        let escaped = escaped(m.backslash, &mut carry);
        let quotes = m.quote & !escaped;
        let strings = prefix_xor(quotes) ^ in_string;
        let bad = m.control & strings;
        if bad != 0 {
            let at = i + bad.trailing_zeros() as usize;
            if at < buf.len() {
                return Err((at, "control character inside a string"));
            }
        }
        let mut brackets = (m.open | m.close) & !strings & !escaped;
        while brackets != 0 {
            let b = brackets.trailing_zeros() as usize;
            brackets &= brackets - 1;
            let curly = (m.bit20 >> b) & 1 == 1;
            if (m.open >> b) & 1 == 1 {
                if depth == MAX_DEPTH {
                    return Err((i + b, "nested too deeply"));
                }
                kinds = (kinds << 1) | u128::from(curly);
                depth += 1;
            } else {
                if depth == 0 || (pair_kinds && (kinds & 1 == 1) != curly) {
                    return Err((i + b, "mismatched closing bracket"));
                }
                kinds >>= 1;
                depth -= 1;
                if depth == 0 {
                    return Ok(i + b + 1);
                }
            }
        }
        in_string = 0u64.wrapping_sub(strings >> 63);
        i += 64;
    }
    Err((
        start,
        if in_string != 0 {
            "unexpected end of input inside a string (truncated file?)"
        } else {
            "unexpected end of input: this value is not closed (truncated file?)"
        },
    ))
}

// ---------------------------------------------------------------------------------------
// The deserializer
// ---------------------------------------------------------------------------------------

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

/// A number as [`Deserializer::number`] hands it to a visitor: `visit_u64`, `visit_i64` or
/// `visit_f64`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    U64(u64),
    I64(i64),
    F64(f64),
}

impl Number {
    /// The number as a float, as a visitor that takes any number as one converts it.
    pub fn as_f64(self) -> f64 {
        match self {
            Number::U64(v) => v as f64,
            Number::I64(v) => v as f64,
            Number::F64(v) => v,
        }
    }
}

/// The powers of ten a short number's fraction is divided by (at most 18 digits), each
/// exact in `f64`.
const EXACT_POWERS_OF_TEN: [f64; 19] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18,
];

/// A number as JSON's grammar reads it (see [`scan_number`]).
struct NumberScan {
    /// Just past its last byte.
    end: usize,
    /// Whether it has a fraction or an exponent.
    float: bool,
    /// Its value, when it is short: at most 19 digits, no exponent, and a fraction only when
    /// its digits as an integer are at most 2^53. The value is the one its text parses to
    /// (the same visitor call, the same bits); longer numbers are parsed from their text.
    ///
    /// Why: the durations, scores and ids of the exports are such numbers, and checking the
    /// grammar and then parsing the text scanned each twice; it was 15% of an Anywhere365
    /// queue run. A fraction is the integer of its digits divided by a power of ten: both
    /// are exact in `f64` here, and IEEE division rounds correctly, so the quotient is the
    /// correctly rounded value of the decimal, as `str::parse` gives (Clinger's fast path,
    /// which `str::parse` takes for these numbers too).
    exact: Option<Number>,
}

/// The number at `start` read by JSON's grammar, `None` when there is none there: one pass
/// over its bytes checks it and reads the value of a short one.
#[inline]
fn scan_number(buf: &[u8], start: usize) -> Option<NumberScan> {
    /// The end of the run of digits from `i`, each added to `mantissa` (wrapping: a run too
    /// long for it has no exact value anyway).
    fn run(buf: &[u8], mut i: usize, mantissa: &mut u64) -> usize {
        while let Some(&c @ b'0'..=b'9') = buf.get(i) {
            *mantissa = mantissa.wrapping_mul(10).wrapping_add(u64::from(c - b'0'));
            i += 1;
        }
        i
    }
    let negative = buf.get(start) == Some(&b'-');
    let mut i = start + usize::from(negative);
    let mut mantissa = 0u64;
    // JSON's integer part: `0`, or a digit 1–9 and more digits.
    let digits = match buf.get(i) {
        Some(b'0') => 1,
        Some(b'1'..=b'9') => run(buf, i, &mut mantissa) - i,
        _ => return None,
    };
    i += digits;
    let mut fraction = 0;
    if buf.get(i) == Some(&b'.') {
        fraction = run(buf, i + 1, &mut mantissa) - (i + 1);
        if fraction == 0 {
            return None;
        }
        i += 1 + fraction;
    }
    let mut exponent = false;
    if matches!(buf.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(buf.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let end = run(buf, i, &mut 0);
        if end == i {
            return None;
        }
        (i, exponent) = (end, true);
    }
    // 19 digits cannot overflow a u64 (10^19 - 1 < 2^64).
    let exact = match () {
        _ if exponent || digits + fraction > 19 => None,
        _ if fraction > 0 => (mantissa <= 1 << 53).then(|| {
            let f = mantissa as f64 / EXACT_POWERS_OF_TEN[fraction];
            Number::F64(if negative { -f } else { f })
        }),
        _ if !negative => Some(Number::U64(mantissa)),
        // -2^63 is i64::MIN: `as` gives it, and its negation wraps to itself.
        _ => (mantissa <= 1 << 63).then(|| Number::I64((mantissa as i64).wrapping_neg())),
    };
    Some(NumberScan {
        end: i,
        float: fraction > 0 || exponent,
        exact,
    })
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

/// The keys a reader has met, with the field each resolved to, in the order objects write
/// them. Exports write every record with the same keys in the same order, so the next key is
/// nearly always the one after the last key matched: one byte comparison then replaces
/// finding the key's end, lower-casing it and looking it up. A record that leaves a key out
/// costs a search of the memo, not a miss for every key after it.
pub struct KeyMemo<'de, F> {
    slots: Vec<Slot<'de, F>>,
    lowered: String,
}

struct Slot<'de, F> {
    /// The key's content as written, its closing quote and, when the key was first met
    /// with one right after it (as in compact exports), the colon: complete string
    /// content (its backslashes pair up), so input starting with these bytes is this key
    /// and its end. Matching the colon with the key spares a separator check per key.
    quoted: &'de [u8],
    /// Whether `quoted` ends in the colon.
    colon: bool,
    /// As written, for messages.
    key: &'de str,
    field: Option<F>,
    /// `quoted` padded to 32 bytes, and one bit per byte of it (none when it is longer):
    /// two 16-byte comparisons match most keys (see [`Slot::at`]).
    padded: [u8; 32],
    mask: u32,
}

impl<'de, F> Slot<'de, F> {
    fn new(quoted: &'de [u8], colon: bool, key: &'de str, field: Option<F>) -> Self {
        let mut padded = [0u8; 32];
        let mask = match quoted.len() {
            n @ 1..=32 => {
                padded[..n].copy_from_slice(quoted);
                (((1u64 << n) - 1) & 0xffff_ffff) as u32
            }
            _ => 0,
        };
        Slot {
            quoted,
            colon,
            key,
            field,
            padded,
            mask,
        }
    }

    /// Whether the key at `at` of `buf` is this one (see [`Slot::quoted`]).
    #[inline]
    fn at(&self, buf: &[u8], at: usize) -> bool {
        #[cfg(target_arch = "x86_64")]
        if self.mask != 0 && at + 32 <= buf.len() {
            use std::arch::x86_64::*;
            // SAFETY: SSE2 is in the x86_64 baseline; the loads read buf[at..at + 32],
            // in bounds as checked above, and the 32 bytes of `padded`.
            let equal = unsafe {
                let eq = |k: usize| {
                    let a = _mm_loadu_si128(buf.as_ptr().add(at + k) as *const __m128i);
                    let b = _mm_loadu_si128(self.padded.as_ptr().add(k) as *const __m128i);
                    _mm_movemask_epi8(_mm_cmpeq_epi8(a, b)) as u32
                };
                eq(0) | eq(16) << 16
            };
            return equal & self.mask == self.mask;
        }
        bytes_at(buf, at, self.quoted)
    }
}

/// Keys remembered at most: far above any record's, but bounded for input whose keys
/// never repeat.
const MEMO_KEYS: usize = 256;

impl<F> Default for KeyMemo<'_, F> {
    fn default() -> Self {
        KeyMemo {
            slots: Vec::new(),
            lowered: String::new(),
        }
    }
}

/// Whether `buf` holds `pat` at `at`: eight bytes at a time (keys are short, and a call to
/// `memcmp` per key costs more than the comparison).
#[inline]
pub(crate) fn bytes_at(buf: &[u8], at: usize, pat: &[u8]) -> bool {
    let Some(b) = buf.get(at..at + pat.len()) else {
        return false;
    };
    let word = |s: &[u8], i: usize| u64::from_ne_bytes(s[i..i + 8].try_into().unwrap_or_default());
    let n = pat.len();
    if n < 8 {
        return b.iter().zip(pat).all(|(x, y)| x == y);
    }
    let mut i = 0;
    while i + 8 < n {
        if word(b, i) != word(pat, i) {
            return false;
        }
        i += 8;
    }
    // The last (possibly overlapping) eight.
    word(b, n - 8) == word(pat, n - 8)
}

impl<'de> Deserializer<'de> {
    /// Walks the object at the current position, which must be `what`. Each key is
    /// resolved to a field by `resolve` (given the key lower-cased: exports mix
    /// `startTimestamp`, `StartTimestamp` and UPPER_CASE), and `read` gets the field, the key
    /// as written (for messages) and the deserializer at its value; it reads the value with
    /// [`Deserializer::value`] or returns false to have it skipped unread, as the values
    /// of unknown keys are.
    ///
    /// This is the record loop of every reader, so it does not go through serde's map
    /// visitor: keys are matched against a [`KeyMemo`] and skipped values are only scanned.
    pub fn fields<F: Copy>(
        &mut self,
        what: &str,
        memo: &mut KeyMemo<'de, F>,
        resolve: impl Fn(&str) -> Option<F>,
        mut read: impl FnMut(&mut Self, F, &'de str) -> Result<bool, Error>,
    ) -> Result<(), Error> {
        if self.peek()? != b'{' {
            return self.fail(self.pos, format_args!("expected {what}"));
        }
        self.enter()?;
        let buf = self.buf;
        let mut b = self.peek()?;
        // The memo slot expected next.
        let mut next = 0;
        if b != b'}' {
            loop {
                if b != b'"' {
                    return self.fail(self.pos, "expected a key (a string) in an object");
                }
                let start = self.pos + 1;
                let at = |s: &Slot<F>| s.at(buf, start);
                // The slot after the last key's, else the one after it (a record without
                // one optional key skips its slot: Dialpad's bot messages have no
                // `topmatches`, two keys a message on average), else the next ones, else
                // the ones before.
                let from = next.min(memo.slots.len());
                let found = match (memo.slots.get(next), memo.slots.get(next + 1)) {
                    (Some(s), _) if at(s) => Some(next),
                    (_, Some(s)) if at(s) => Some(next + 1),
                    _ => (memo.slots[from..].iter().position(at).map(|j| from + j))
                        .or_else(|| memo.slots[..from].iter().position(at)),
                };
                let j = match found {
                    Some(j) => j,
                    None => self.new_key(next, memo, &resolve)?,
                };
                let slot = &memo.slots[j];
                let (key, f) = (slot.key, slot.field);
                self.pos = start + slot.quoted.len();
                next = j + 1;
                if !slot.colon {
                    if self.peek()? != b':' {
                        return self.fail(self.pos, "expected ':' after an object key");
                    }
                    self.pos += 1;
                }
                let read_it = match f {
                    Some(f) => read(self, f, key)?,
                    None => false,
                };
                if !read_it {
                    // Most skipped values are short strings: found here, without the calls
                    // of the general skip (a tenth of a metrics run's instructions).
                    match buf.get(self.pos) {
                        // Strict, only ASCII is taken here: other bytes must be checked
                        // as UTF-8, which the full skip does.
                        Some(b'"') => match short_string_end(buf, self.pos + 1, self.strict) {
                            Some(end) => self.pos = end,
                            None => self.skip_field(key)?,
                        },
                        // `[]` or `{}` (the closing bracket is two code points on).
                        Some(&open @ (b'[' | b'{'))
                            if buf.get(self.pos + 1) == Some(&(open + 2)) =>
                        {
                            self.pos += 2
                        }
                        _ => self.skip_field(key)?,
                    }
                }
                // The next key, in compact JSON.
                if buf.get(self.pos..self.pos + 2) == Some(b",\"") {
                    self.pos += 1;
                    b = b'"';
                    continue;
                }
                b = self.peek()?;
                match b {
                    b',' => {
                        self.pos += 1;
                        b = self.peek()?;
                    }
                    b'}' => break,
                    _ => return self.fail(self.pos, "expected ',' or '}' in an object"),
                }
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(())
    }

    /// Walks the array at the current position, calling `read` at each element, which must
    /// read exactly that element: the array form of [`Deserializer::fields`], for arrays of
    /// objects inside a record, walked without serde's sequence visitor.
    pub fn elements(
        &mut self,
        mut read: impl FnMut(&mut Self) -> Result<(), Error>,
    ) -> Result<(), Error> {
        if self.peek()? != b'[' {
            return self.fail(self.pos, "expected an array");
        }
        self.enter()?;
        if self.peek()? != b']' {
            loop {
                read(self)?;
                match self.peek()? {
                    // A trailing comma fails in `read`, at the `]`.
                    b',' => self.pos += 1,
                    b']' => break,
                    _ => return self.fail(self.pos, "expected ',' or ']' in an array"),
                }
            }
        }
        self.pos += 1;
        self.depth -= 1;
        Ok(())
    }

    /// The key at `pos`, met for the first time: read, resolved, and remembered at `next`.
    /// Returns its slot; `pos` is left at its start.
    #[cold]
    fn new_key<F: Copy>(
        &mut self,
        next: usize,
        memo: &mut KeyMemo<'de, F>,
        resolve: impl Fn(&str) -> Option<F>,
    ) -> Result<usize, Error> {
        let (at, start) = (self.pos, self.pos + 1);
        let lowered = &mut memo.lowered;
        lowered.clear();
        match self.string()? {
            Text::Borrowed(s) | Text::Copied(s) => lowered.push_str(s),
        }
        lowered.make_ascii_lowercase();
        let field = resolve(lowered);
        let colon = self.buf.get(self.pos) == Some(&b':');
        let quoted = &self.buf[start..self.pos + usize::from(colon)];
        // As written, escapes and all: valid UTF-8 because its unescaped form was.
        let key = match std::str::from_utf8(&self.buf[start..self.pos - 1]) {
            Ok(key) => key,
            Err(_) => return self.fail(start, "invalid UTF-8 in a string"),
        };
        self.pos = at;
        if memo.slots.len() == MEMO_KEYS {
            memo.slots.clear();
        }
        let next = next.min(memo.slots.len());
        memo.slots
            .insert(next, Slot::new(quoted, colon, key, field));
        Ok(next)
    }

    /// Reads the value at the current position as a `T`, naming the field `key` in any
    /// error.
    pub fn value<T: Deserialize<'de>>(&mut self, key: &str) -> Result<T, Error> {
        T::deserialize(&mut *self).map_err(|e| Error(format!("field `{key}`: {}", e.0)))
    }

    /// [`Deserializer::value`] for a type read from text ([`FromText`]): a value written as
    /// a short ASCII string without escapes is handed to [`FromText::from_text`] straight
    /// from the input, the function `T`'s serde visitor calls on a string, so the result is
    /// the same; so are a short number, `true`, `false` and `null` to the functions that
    /// stand for the visitor's other calls. Anything else, and a value those refuse (for its
    /// error), is read by `T`'s `Deserialize`. Why: timestamps, durations, flags and counts
    /// are most of a record's values, and the general read and the visitor's dispatch
    /// around each cost more than parsing them.
    ///
    /// Strings and numbers, the usual values, are read inline; the others out of line
    /// ([`Deserializer::text_value_other`]).
    #[inline(always)]
    pub fn text_value<T: Deserialize<'de> + FromText>(&mut self, key: &str) -> Result<T, Error> {
        match self.buf.get(self.pos) {
            Some(b'"') => {
                if let Some((text, end)) = self.short_ascii() {
                    if let Ok(v) = T::from_text(text) {
                        self.pos = end;
                        return Ok(v);
                    }
                }
                self.general(key)
            }
            // A short number (durations, scores, epoch times): its value as `number` gives
            // it to the visitor, taken as the visitor takes it, without the dispatch; a long
            // one (no exact value from the scan) and a bad one go to the general read.
            Some(b'-' | b'0'..=b'9') => {
                if let Some(NumberScan {
                    end,
                    exact: Some(n),
                    ..
                }) = scan_number(self.buf, self.pos)
                {
                    if let Some(v) = T::from_number(n) {
                        self.pos = end;
                        return Ok(v);
                    }
                }
                self.general(key)
            }
            _ => self.text_value_other(key),
        }
    }

    /// [`Deserializer::text_value`] of a value that is neither a string nor a number.
    #[inline(never)]
    fn text_value_other<T: Deserialize<'de> + FromText>(&mut self, key: &str) -> Result<T, Error> {
        match self.buf.get(self.pos) {
            // A missing value (Anywhere365's `InSLA`, `QuickDrop` and `acceptTimestamp` of
            // a third of the dialogues): taken as the visitor takes it, without its dispatch.
            Some(b'n') => {
                if let Some(v) = bytes_at(self.buf, self.pos, b"null")
                    .then(T::from_null)
                    .flatten()
                {
                    self.pos += 4;
                    return Ok(v);
                }
            }
            // A flag written as a JSON literal (Ultimate's `test_mode`, `is_llm_conversation`):
            // taken as the visitor takes it, without its dispatch (2% of a bot-KPI run).
            Some(&b @ (b't' | b'f')) => {
                let word: &[u8] = if b == b't' { b"true" } else { b"false" };
                if let Some(v) = bytes_at(self.buf, self.pos, word)
                    .then(|| T::from_bool(b == b't'))
                    .flatten()
                {
                    self.pos += word.len();
                    return Ok(v);
                }
            }
            _ => {}
        }
        self.value(key)
    }

    /// [`Deserializer::value`] for a type that holds a string as it lies in the input
    /// (`From<&'de str>` is what its serde visitor makes of a borrowed string): a value
    /// written as a short ASCII string without escapes is taken straight from the input;
    /// anything else (numbers, escapes, null, long or non-ASCII text) is read by `T`'s
    /// `Deserialize`. Why: ids, sender types and codes are most of a record's strings, and
    /// serde's dispatch around each (a newtype token, then the any-value read) cost more than
    /// finding its end.
    ///
    /// Always inlined, the general read kept out of line ([`Deserializer::general`]): left
    /// to the compiler, whether it was inlined into a reader's record loop changed with the
    /// number of readers calling it (a Dialpad run read 2% more instructions when
    /// Anywhere365's reader began to call it too).
    #[inline(always)]
    pub fn str_value<T: Deserialize<'de> + From<&'de str>>(
        &mut self,
        key: &str,
    ) -> Result<T, Error> {
        let quoted = self.buf.get(self.pos) == Some(&b'"');
        if let Some((text, end)) = quoted.then(|| self.short_ascii()).flatten() {
            self.pos = end;
            return Ok(T::from(text));
        }
        self.general(key)
    }

    /// [`Deserializer::value`], never inlined: the rare path of the fast reads.
    #[inline(never)]
    fn general<T: Deserialize<'de>>(&mut self, key: &str) -> Result<T, Error> {
        self.value(key)
    }

    /// Skips the value of the field `key` (see [`Deserializer::skip`]) and says where it
    /// lay: for a caller that needs only the place of a value, without a [`Raw`]'s UTF-8
    /// check of its text. (Framing a Samespace report, a whole-file envelope, checked its
    /// whole record array that way only to find where it was: 4% of a calls run; the
    /// records' strings are checked when they are parsed.)
    pub fn value_span(&mut self, key: &str) -> Result<std::ops::Range<usize>, Error> {
        self.peek()?;
        let start = self.pos;
        self.skip_field(key)?;
        Ok(start..self.pos)
    }
}

impl<'de> de::Deserializer<'de> for &mut Deserializer<'de> {
    type Error = Error;

    // Inlined into each reader's value types: the call itself was a tenth of the cost of
    // reading a short value.
    #[inline]
    fn deserialize_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        let first = self.peek()?;
        let start = self.pos;
        let r = match first {
            b'"' => match self.string()? {
                Text::Borrowed(s) => v.visit_borrowed_str(s),
                Text::Copied(s) => v.visit_str(s),
            },
            b'{' => {
                self.enter()?;
                let mut map = Map {
                    de: &mut *self,
                    first: true,
                    done: false,
                };
                let r = v.visit_map(&mut map);
                let done = map.done;
                self.depth -= 1;
                match r {
                    Ok(_) if !done => self.fail(self.pos, "expected the end of the object"),
                    r => r,
                }
            }
            b'[' => {
                self.enter()?;
                let mut seq = Seq {
                    de: &mut *self,
                    first: true,
                    done: false,
                };
                let r = v.visit_seq(&mut seq);
                let done = seq.done;
                self.depth -= 1;
                match r {
                    Ok(_) if !done => self.fail(self.pos, "expected the end of the array"),
                    r => r,
                }
            }
            b'n' => self.literal(b"null").and_then(|_| v.visit_unit()),
            b't' => self.literal(b"true").and_then(|_| v.visit_bool(true)),
            b'f' => self.literal(b"false").and_then(|_| v.visit_bool(false)),
            b'-' | b'0'..=b'9' => self.number(v),
            _ => self.fail(start, "expected a JSON value"),
        };
        if r.is_err() {
            self.err_at.get_or_insert(start);
        }
        r
    }

    fn deserialize_option<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            v.visit_none()
        } else {
            v.visit_some(self)
        }
    }

    fn deserialize_ignored_any<V: Visitor<'de>>(self, v: V) -> Result<V::Value, Error> {
        self.skip()?;
        v.visit_unit()
    }

    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        v: V,
    ) -> Result<V::Value, Error> {
        let start = match name {
            RAW_TOKEN => {
                self.peek()?;
                self.pos
            }
            TEXT_TOKEN => match self.peek()? {
                b'"' | b'n' => return self.deserialize_any(v),
                _ => self.pos,
            },
            NUMBER_TEXT_TOKEN => match self.peek()? {
                b'-' | b'0'..=b'9' => {
                    let (text, _) = self.number_text()?;
                    return v.visit_borrowed_str(text);
                }
                _ => return self.deserialize_any(v),
            },
            _ => return v.visit_newtype_struct(self),
        };
        self.skip()?;
        let buf = self.buf;
        match std::str::from_utf8(&buf[start..self.pos]) {
            Ok(text) => v.visit_borrowed_str(text),
            Err(_) => self.fail(start, "invalid UTF-8"),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string bytes byte_buf
        unit unit_struct seq tuple tuple_struct map struct enum identifier
    }
}

struct Map<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    first: bool,
    done: bool,
}

impl<'de> MapAccess<'de> for &mut Map<'_, 'de> {
    type Error = Error;

    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, Error> {
        if self.done {
            return Ok(None);
        }
        let de = &mut *self.de;
        let mut b = de.peek()?;
        if b == b'}' {
            if self.first {
                de.pos += 1;
                self.done = true;
                return Ok(None);
            }
            return de.fail(de.pos, "trailing comma in an object");
        }
        if !self.first {
            if b != b',' {
                return de.fail(de.pos, "expected ',' or '}' in an object");
            }
            de.pos += 1;
            b = de.peek()?;
        }
        self.first = false;
        if b != b'"' {
            return de.fail(de.pos, "expected a key (a string) in an object");
        }
        // Keys are nearly always plain ASCII: hand those over borrowed, straight to the
        // visitor (every field of every record comes through here).
        let (buf, start) = (de.buf, de.pos + 1);
        let key = match string_scan(buf, start) {
            Ok((end, true)) if buf[end] == b'"' => {
                de.pos = end + 1;
                // SAFETY: the scan saw only ASCII bytes, which are valid UTF-8.
                let key = unsafe { std::str::from_utf8_unchecked(&buf[start..end]) };
                seed.deserialize(de::value::BorrowedStrDeserializer::<Error>::new(key))?
            }
            _ => seed.deserialize(&mut *de)?,
        };
        if de.peek()? != b':' {
            return de.fail(de.pos, "expected ':' after an object key");
        }
        de.pos += 1;
        Ok(Some(key))
    }

    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, Error> {
        let value = seed.deserialize(&mut *self.de)?;
        // Look for the end here so a visitor that stops at the last key ends the object.
        let de = &mut *self.de;
        if de.peek()? == b'}' {
            de.pos += 1;
            self.done = true;
        }
        Ok(value)
    }
}

struct Seq<'a, 'de> {
    de: &'a mut Deserializer<'de>,
    first: bool,
    done: bool,
}

impl<'de> SeqAccess<'de> for &mut Seq<'_, 'de> {
    type Error = Error;

    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, Error> {
        if self.done {
            return Ok(None);
        }
        let de = &mut *self.de;
        let b = de.peek()?;
        if b == b']' {
            if self.first {
                de.pos += 1;
                self.done = true;
                return Ok(None);
            }
            return de.fail(de.pos, "trailing comma in an array");
        }
        if !self.first {
            if b != b',' {
                return de.fail(de.pos, "expected ',' or ']' in an array");
            }
            de.pos += 1;
        }
        self.first = false;
        let value = seed.deserialize(&mut *de)?;
        if de.peek()? == b']' {
            de.pos += 1;
            self.done = true;
        }
        Ok(Some(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::de::IgnoredAny;
    use std::collections::BTreeMap;

    /// A small deterministic generator (xorshift), so the tests need no crate.
    fn bytes(seed: u64, n: usize, alphabet: &[u8]) -> Vec<u8> {
        let mut x = seed | 1;
        (0..n)
            .map(|_| {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                alphabet[(x % alphabet.len() as u64) as usize]
            })
            .collect()
    }

    #[test]
    fn block_classification_matches_the_byte_by_byte_one() {
        let all: Vec<u8> = (0..=255).collect();
        for seed in 0..200 {
            let b: [u8; 64] = bytes(seed, 64, &all).try_into().unwrap();
            assert_eq!(classify(&b), classify_scalar(&b));
            #[cfg(target_arch = "x86_64")]
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: the CPU supports AVX2, checked just above.
                assert_eq!(unsafe { classify_avx2(&b) }, classify_scalar(&b));
            }
        }
    }

    #[test]
    fn string_scans_agree_with_the_byte_by_byte_one() {
        for seed in 0..2000 {
            let b = bytes(seed, 1 + seed as usize % 70, b"abcdefgh\"\\\x01\xc3\xa9");
            for start in [0, 1, 5].into_iter().filter(|s| *s < b.len()) {
                assert_eq!(
                    string_scan(&b, start),
                    string_scan_bytes(&b, start, true, start),
                    "{b:?} from {start}"
                );
            }
        }
    }

    #[test]
    fn prefix_xor_by_multiplication_matches_the_shifts() {
        #[cfg(target_arch = "x86_64")]
        if std::arch::is_x86_feature_detected!("pclmulqdq") {
            let mut x = 0x9e37_79b9_7f4a_7c15u64;
            for _ in 0..10_000 {
                x ^= x << 13;
                x ^= x >> 7;
                x ^= x << 17;
                for v in [x, x & x >> 3, 1 << (x % 64), 0, !0] {
                    // SAFETY: the CPU supports PCLMULQDQ, checked above.
                    assert_eq!(unsafe { prefix_xor_clmul(v) }, prefix_xor(v), "{v:#x}");
                }
            }
        }
    }

    #[test]
    fn short_string_ends_agree_with_the_full_scan() {
        let (mut short, mut long) = (0, 0);
        for seed in 0..3000 {
            let alphabet: &[u8] = match seed % 3 {
                0 => b"abcdefgh\\\"\"\x01\xc3\xa9",
                _ => b"abcdefghijklmnopqrstuvwxyz0123456789\"\\\x01\xc3\xa9",
            };
            let b = bytes(seed, 1 + seed as usize % 60, alphabet);
            for start in [1, 2, 7].into_iter().filter(|s| *s <= b.len()) {
                if let Some(end) = short_string_end(&b, start, false) {
                    assert_eq!(Ok(end), string_end(&b, start), "{b:?} from {start}");
                    short += 1;
                    long += usize::from(end > start + 17);
                }
                if let Some(end) = short_string_end(&b, start, true) {
                    assert_eq!(string_scan(&b, start), Ok((end - 1, true)), "{b:?}");
                }
            }
        }
        assert!(
            short > 500 && long > 50,
            "the generator makes short strings too ({short}, {long} past 16 bytes)"
        );
    }

    #[test]
    fn string_ends_agree_with_a_byte_walk() {
        // Reference: the walk `string_end` replaces; a backslash skips the byte after it.
        fn walk(b: &[u8], mut i: usize) -> Result<usize, ScanError> {
            let open = i.saturating_sub(1);
            while i < b.len() {
                match b[i] {
                    b'"' => return Ok(i + 1),
                    b'\\' => i += 2,
                    0..=0x1f => return Err((i.max(open), "control character inside a string")),
                    _ => i += 1,
                }
            }
            Err((
                open,
                "unexpected end of input inside a string (truncated file?)",
            ))
        }
        let mut ended = 0;
        for seed in 0..3000 {
            let b = bytes(
                seed,
                1 + seed as usize % 200,
                b"abcdefgh\\\\\\\"\x01\xc3\xa9",
            );
            for start in [1, 2, 7].into_iter().filter(|s| *s <= b.len()) {
                let r = string_end(&b, start);
                assert_eq!(r, walk(&b, start), "{b:?} from {start}");
                ended += usize::from(r.is_ok());
            }
        }
        assert!(ended > 1000, "the generator closes strings too ({ended})");
    }

    #[test]
    fn escapes_are_found_across_block_boundaries() {
        // Reference: walk the bytes, a backslash escapes the next byte unless escaped itself.
        for seed in 0..300 {
            let b = bytes(seed, 256, b"\\\\\\a\"");
            let mut expected = vec![false; b.len()];
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'\\' && i + 1 < b.len() {
                    expected[i + 1] = true;
                    i += 2;
                } else {
                    i += 1;
                }
            }
            let mut carry = 0;
            for (k, chunk) in b.chunks(64).enumerate() {
                let m = classify_scalar(&chunk.try_into().unwrap());
                let e = escaped(m.backslash, &mut carry);
                for j in 0..64 {
                    assert_eq!(
                        e >> j & 1 == 1,
                        expected[64 * k + j],
                        "seed {seed} at {}",
                        64 * k + j
                    );
                }
            }
        }
    }

    #[test]
    fn containers_end_where_a_byte_walk_says() {
        // Reference: the straightforward walk the block scanner replaces. (A backslash
        // outside a string, invalid JSON anyway, escapes the next byte in both.)
        fn walk(b: &[u8]) -> Option<usize> {
            let (mut depth, mut i) = (0, 0);
            while i < b.len() {
                match b[i] {
                    b'\\' => i += 1,
                    b'"' => {
                        i += 1;
                        while i < b.len() && b[i] != b'"' {
                            i += if b[i] == b'\\' { 2 } else { 1 };
                        }
                    }
                    b'[' => depth += 1,
                    b']' => {
                        depth -= 1;
                        if depth == 0 {
                            return Some(i + 1);
                        }
                    }
                    _ => {}
                }
                i += 1;
            }
            None
        }
        let mut found = 0;
        for seed in 0..3000 {
            let mut b = b"[".to_vec();
            b.extend(bytes(seed, 50 + (seed as usize % 150), b"[]\"\\ab"));
            if let Some(end) = walk(&b) {
                found += 1;
                assert_eq!(
                    container_end(&b, 0),
                    Ok(end),
                    "{}",
                    String::from_utf8_lossy(&b)
                );
            } else {
                assert!(container_end(&b, 0).is_err());
            }
        }
        assert!(
            found > 100,
            "the generator makes closed arrays too ({found})"
        );
        for n in 0..130 {
            let s = format!("{{\"{}\":[1]}}", "é".repeat(n));
            assert_eq!(container_end(s.as_bytes(), 0), Ok(s.len()));
            assert_eq!(string_end(s.as_bytes(), 2), Ok(3 + 2 * n));
        }
        assert!(container_end(b"[\"a\nb\"]", 0).is_err());
    }

    #[test]
    fn values_of_every_kind() {
        let v: BTreeMap<String, serde_json::Value> = from_str(
            r#" {"s":"a\"b\\c\u00e9\ud83d\ude00\n", "i":-12, "u":18446744073709551615,
                "f":1.5e3, "t":true, "n":null, "a":[1,[2,{"x":[]}]], "o":{} } "#,
        )
        .unwrap();
        assert_eq!(v["s"], "a\"b\\cé😀\n");
        assert_eq!(v["i"], -12);
        assert_eq!(v["u"], u64::MAX);
        assert_eq!(v["f"], 1500.0);
        assert_eq!(v["t"], true);
        assert!(v["n"].is_null());
        assert_eq!(v["a"], serde_json::json!([1, [2, {"x": []}]]));
        assert_eq!(v["o"], serde_json::json!({}));
        let raw: BTreeMap<&str, Raw> = from_str(r#"{"a": [1, "]"] , "b":12.10}"#).unwrap();
        assert_eq!(raw["a"].0, r#"[1, "]"]"#);
        assert_eq!(raw["b"].0, "12.10");
    }

    #[test]
    fn numbers_are_correctly_rounded_and_the_skip_is_strict_unless_lenient() {
        for text in [
            "184467446744073709551615",
            "18446744073767440737161518446744073709551616",
            "0.1",
            "2.2250738585072011e-308",
            "-9223372036854775809",
        ] {
            let v: f64 = from_str(text).unwrap();
            assert_eq!(v, text.parse::<f64>().unwrap(), "{text}");
        }
        for bad in [
            "[tru]",
            "[1,]",
            "[01]",
            r#"["\u+041"]"#,
            r#"["\q"]"#,
            "{1:1}",
        ] {
            assert!(from_str::<de::IgnoredAny>(bad).is_err(), "strict: {bad}");
        }
        // Lenient: structure only.
        let mut d = Deserializer::new(b"[tru, 01, 1e]", 0).lenient();
        assert!(d
            .read(|d| de::Deserialize::deserialize(&mut *d).map(|_: de::IgnoredAny| ()))
            .is_ok());
        let mut d = Deserializer::new(b"[1, [2]", 0).lenient();
        assert!(d
            .read(|d| de::Deserialize::deserialize(&mut *d).map(|_: de::IgnoredAny| ()))
            .is_err());
    }

    /// The short path must give what the general one gives, bit for bit, and end where it
    /// ends: on the edges of its limits (19 digits, 2^53, -2^63, a fraction of 18 digits)
    /// and on random numbers of every shape.
    #[test]
    fn short_numbers_read_as_the_general_path_reads_them() {
        // The value parsed from the text, and where the number ends.
        let general = |text: &str| {
            let mut d = Deserializer::new(text.as_bytes(), 0);
            let n = d
                .number_text()
                .and_then(|(t, float)| d.parsed_number(0, t, float))
                .ok();
            (n, d.pos)
        };
        let short_number = |buf: &[u8], start: usize| {
            scan_number(buf, start).and_then(|s| s.exact.map(|n| (n, s.end)))
        };
        let same = |a: Number, b: Number| match (a, b) {
            (Number::F64(x), Number::F64(y)) => x.to_bits() == y.to_bits(),
            _ => a == b,
        };
        let mut texts: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1",
            "-1",
            "0.1",
            "0.3",
            "37.855",
            "-2.5",
            "1.000",
            "01",
            "1.",
            "-",
            "1e5",
            "1.5E-3",
            "9999999999999999999",
            "-9999999999999999999",
            "10000000000000000000",
            "18446744073709551615",
            "9223372036854775807",
            "-9223372036854775808",
            "-9223372036854775809",
            "9007199254740992.0",
            "9007199254740993.0",
            "900719925474099.3",
            "0.000000000000000001",
            "0.9007199254740993",
            "123456789012345678.9",
            "1.7976931348623157",
            "5,",
            "7}",
            "2.5 ",
            "3.25]",
        ]
        .iter()
        .map(|t| t.to_string())
        .collect();
        let fixed = texts.len();
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..20_000 {
            let digits = |n: u64, r: u64| -> String {
                (0..n)
                    .map(|k| char::from(b'0' + ((r >> (k % 60)) % 10) as u8))
                    .collect()
            };
            let r = next();
            let mut t = String::new();
            if r & 1 == 1 {
                t.push('-');
            }
            t += &digits(1 + (r >> 1) % 21, next());
            if r & 2 == 2 {
                t.push('.');
                t += &digits(1 + (r >> 8) % 21, next());
            }
            if r & 4 == 4 && r & 8 == 8 {
                t += "e-7";
            }
            texts.push(t);
        }
        let mut short = 0;
        for t in &texts {
            let Some((n, end)) = short_number(t.as_bytes(), 0) else {
                continue;
            };
            short += 1;
            let (g, g_end) = general(t);
            assert!(g.is_some_and(|g| same(n, g)), "{t}: {n:?} against {g:?}");
            assert_eq!(end, g_end, "{t}");
        }
        // The short path is taken for most of them (a test of nothing otherwise).
        assert!(short > texts.len() / 3, "{short} of {}", texts.len());
        // Inside a record: the number ends where its text does (found here without the
        // scan: the random numbers are JSON's but for an integer part with a leading zero,
        // which ends after that zero), and its value is the one it has alone.
        for t in &texts[fixed..] {
            let int = t.trim_start_matches('-');
            let leading_zero =
                int.starts_with('0') && int.as_bytes()[1..].first().is_some_and(u8::is_ascii_digit);
            let want_end = 5 + t.len() - if leading_zero { int.len() - 1 } else { 0 };
            for after in [
                ",\"k\":12345678}",
                "}\n{\"a\":1}",
                "]    ",
                " 9999999",
                "x0",
            ] {
                let buf = format!("{{\"a\":{t}{after}");
                let inside = scan_number(buf.as_bytes(), 5);
                assert_eq!(inside.as_ref().map(|s| s.end), Some(want_end), "{buf}");
                let alone = short_number(t.as_bytes(), 0).map(|(n, _)| n);
                let inside = inside.and_then(|s| s.exact);
                match (inside, alone) {
                    (Some(a), Some(b)) => assert!(same(a, b), "{buf}: {a:?} against {b:?}"),
                    (a, b) => assert_eq!(a.is_none(), b.is_none(), "{buf}"),
                }
            }
        }
        for t in [
            "1e5",
            "01.5",
            "-",
            "1.",
            "10000000000000000000",
            "9007199254740993.0",
        ] {
            let taken = short_number(t.as_bytes(), 0).map(|(_, end)| end);
            assert!(taken.is_none_or(|end| end < t.len()), "{t} is not short");
        }
    }

    #[test]
    fn errors_point_at_the_failing_value() {
        let text = r#"{"a": 1, "b": [1, 2 3]}"#;
        let e = from_str::<serde_json::Value>(text).unwrap_err();
        assert_eq!(e.offset, text.find(" 3").unwrap() + 1, "{e:?}");
        let e = from_str::<BTreeMap<String, u32>>(r#"{"a": 1, "b": "x"}"#).unwrap_err();
        assert_eq!(e.offset, 14, "{e:?}");
        assert!(e.message.contains("invalid type"), "{e:?}");
        for bad in [
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            r#"{"a":tru}"#,
            r#"{"a":"x"#,
            "{\"a\":\"x\ny\"}",
            r#"{"a":01}"#,
            r#"{"a":[1,]}"#,
            r#"{"a":1} x"#,
            r#"{"a":"\ud800"}"#,
            r#"{"a":"\q"}"#,
            r#"{"a":-}"#,
        ] {
            assert!(from_str::<serde_json::Value>(bad).is_err(), "{bad}");
        }
        // Skipped values are checked for structure.
        for bad in [r#"{"a":[1,{]}"#, r#"{"a":[1,"]}"#, r#"{"a":[[1]"#] {
            assert!(
                from_str::<BTreeMap<String, IgnoredAny>>(bad).is_err(),
                "{bad}"
            );
        }
        let deep = "[".repeat(200) + &"]".repeat(200);
        assert!(from_str::<serde_json::Value>(&deep).is_err());
        assert!(from_str::<IgnoredAny>(&deep).is_err());
    }

    /// Walks each object of `texts` with one memo, as a reader walks a chunk's records:
    /// the (field, value) pairs read, or the first failure (offset, message).
    fn walk(texts: &[&str]) -> Result<Vec<(u8, u64)>, (usize, String)> {
        walk_in(texts, true)
    }

    /// [`walk`], strict or lenient.
    fn walk_in(texts: &[&str], strict: bool) -> Result<Vec<(u8, u64)>, (usize, String)> {
        let buf = texts.concat();
        let mut memo = KeyMemo::default();
        let mut out = Vec::new();
        let mut at = 0;
        for t in texts {
            let record = &buf.as_bytes()[at..at + t.len()];
            let resolve = |k: &str| match k {
                "a" => Some(b'a'),
                "b" => Some(b'b'),
                "c" => Some(b'c'),
                _ => None,
            };
            let mut d = Deserializer::new(record, 0);
            if !strict {
                d = d.lenient();
            }
            d.read(|d| {
                d.fields("a test object", &mut memo, resolve, |d, f, key| {
                    out.push((f, d.value(key)?));
                    Ok(f != b'c' || out.len() < 100)
                })
            })
            .and_then(|()| d.expect_end())
            .map_err(|e| (at + e.offset, e.message))?;
            at += t.len();
        }
        Ok(out)
    }

    #[test]
    fn objects_walked_with_a_key_memo() {
        // The memo's guesses must never change what is read: keys left out, reordered,
        // in other cases, escaped, unknown (skipped whatever they hold), or a prefix of
        // another key.
        let texts = [
            r#"{"a":1,"B":2,"c":3}"#,
            r#"{"a":4,"c":5}"#,
            r#" { "c" : 6 , "a":7,"b":8,"x":[1,{"y":"}\""}],"ab":"q"} "#,
            r#"{"\u0061":9,"b\"":{"a":1},"A":10}"#,
            r#"{}"#,
            r#"{"aa":1,"a":11}"#,
            r#"{"x":[],"y":{},"z":[ ],"a":12,"w":{"a":[]},"b":13}"#,
        ];
        let read = walk(&texts).unwrap();
        let want: Vec<(u8, u64)> = [
            (b'a', 1),
            (b'b', 2),
            (b'c', 3),
            (b'a', 4),
            (b'c', 5),
            (b'c', 6),
            (b'a', 7),
            (b'b', 8),
            (b'a', 9),
            (b'a', 10),
            (b'a', 11),
            (b'a', 12),
            (b'b', 13),
        ]
        .to_vec();
        assert_eq!(read, want);
    }

    #[test]
    fn keys_are_found_with_or_without_a_colon_right_after() {
        // A key's memo slot holds the colon when it was first met right after the key;
        // the same key met with space before its colon, in either order, reads the same.
        let texts = [
            r#"{"a" :1,"b": 2}"#,
            r#"{"a":3,"b":4}"#,
            r#"{ "b" : 5 , "a"	:6 }"#,
            r#"{"b":7,"a":8}"#,
        ];
        let want = [(b'a', 1), (b'b', 2), (b'a', 3), (b'b', 4)];
        let want = [&want[..], &[(b'b', 5), (b'a', 6), (b'b', 7), (b'a', 8)]].concat();
        assert_eq!(walk(&texts).unwrap(), want);
        assert_eq!(walk(&[r#"{"a":1}"#, r#"{"a"}"#]).unwrap_err().0, 11);
    }

    #[test]
    fn keys_of_every_length_are_matched_exactly() {
        // Keys of 1 to 40 bytes, then the same keys with their last byte changed, then keys
        // one byte longer two ways, each followed by enough bytes that the 16-byte
        // comparisons apply.
        let key = |n: usize, last: char| format!("{}{last}", "k".repeat(n - 1));
        // `longer` adds a byte before the last one, `then` one after it (the old key is
        // then a prefix of the new one).
        let record = |last: char, longer: usize, then: &str| -> String {
            let fields: String = (1..=40)
                .map(|n| format!(r#""{}{then}":{n},"#, key(n + longer, last)))
                .collect();
            format!(r#"{{{fields}"pad":"{}"}}"#, "p".repeat(64))
        };
        let texts = [
            (record('z', 0, ""), 'z', 0),
            (record('z', 0, ""), 'z', 0),
            (record('y', 0, ""), 'y', 0),
            (record('z', 1, ""), 'z', 1),
            (record('z', 0, "x"), 'x', 1),
        ];
        let buf: String = texts.iter().map(|t| t.0.as_str()).collect();
        let mut memo = KeyMemo::default();
        let mut at = 0;
        for (t, last, longer) in &texts {
            let mut read = Vec::new();
            let resolve = |k: &str| Some((k.len(), k.as_bytes()[k.len() - 1]));
            from_slice_with(&buf.as_bytes()[at..at + t.len()], |d| {
                d.fields("a test object", &mut memo, resolve, |d, f, key| {
                    if f.1 == b'd' {
                        return Ok(false); // "pad"
                    }
                    read.push((f, d.value::<usize>(key)?));
                    Ok(true)
                })
            })
            .unwrap();
            at += t.len();
            let want: Vec<_> = (1..=40).map(|n| ((n + longer, *last as u8), n)).collect();
            assert_eq!(read, want, "{t}");
        }
    }

    #[test]
    fn objects_with_more_keys_than_the_memo_holds() {
        // Unknown keys beyond the memo's bound clear it; the known ones are still found.
        let many: String = (0..300).map(|i| format!(r#""k{i}":{i},"#)).collect();
        let text = format!(r#"{{{many}"a":1,"b":2}}"#);
        let read = walk(&[&text, &text]).unwrap();
        assert_eq!(read, [(b'a', 1), (b'b', 2), (b'a', 1), (b'b', 2)]);
    }

    #[test]
    fn skipped_literals_are_passed_over() {
        let text = r#"{"x":true,"a":1,"y":false,"z":null,"b":2,"w":[true,null]}"#;
        for strict in [true, false] {
            assert_eq!(walk_in(&[text], strict).unwrap(), [(b'a', 1), (b'b', 2)]);
        }
    }

    #[test]
    fn object_walk_errors_point_at_the_spot() {
        let first = r#"{"a":1,"b":2}"#;
        for (bad, at, msg) in [
            ("[1]", 0, "expected a test object"),
            (r#"{"a":1,}"#, 7, "expected a key"),
            (r#"{"a" 1}"#, 5, "expected ':'"),
            (r#"{"a":1 "b":2}"#, 7, "expected ',' or '}'"),
            (r#"{"a":"x"}"#, 5, "field `a`: invalid type"),
            (r#"{"b":2,"x":[1}"#, 13, "mismatched closing bracket"),
            (r#"{"b":2,"x":[}"#, 12, "mismatched closing bracket"),
            (r#"{"b":2,"x":{]}"#, 12, "mismatched closing bracket"),
            (r#"{"a":1"#, 6, "unexpected end of input"),
            (r#"{"b":2,"x":tru}"#, 11, "expected a JSON value"),
            (r#"{"b":2,"x":nul,"a":1}"#, 11, "expected a JSON value"),
            (r#"{"b":2,"x":falsey}"#, 16, "expected ',' or '}'"),
        ] {
            // The structural skip (lenient) names the bracket; a skipped field is named.
            let (offset, message) = walk_in(&[first, bad], false).unwrap_err();
            assert_eq!(offset - first.len(), at, "{bad}: {message}");
            let message = message.trim_start_matches("field `x`: ");
            assert!(message.starts_with(msg), "{bad}: {message}");
            // The strict skip fails too, inside the bad record.
            let (offset, message) = walk_in(&[first, bad], true).unwrap_err();
            assert!(
                offset >= first.len() && offset <= first.len() + bad.len(),
                "{bad}: {message}"
            );
        }
    }
}
