//! Byte scanning: where a string or a container ends, found 64 bytes at a time. Blocks are
//! classified with SSE2 (part of every x86_64) or AVX2 where the CPU has it, with a
//! byte-at-a-time fallback elsewhere that the tests check against the vector versions.

use super::MAX_DEPTH;

/// One bit per byte of a 64-byte block, for each class of byte the scanners look for.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub(super) struct Masks {
    pub(super) quote: u64,
    pub(super) backslash: u64,
    /// `{` or `[`.
    pub(super) open: u64,
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
pub(super) fn classify_scalar(block: &[u8; 64]) -> Masks {
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
pub(super) fn classify(block: &[u8; 64]) -> Masks {
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
pub(super) fn classify(block: &[u8; 64]) -> Masks {
    classify_scalar(block)
}

/// [`classify`] with AVX2: two 32-byte halves instead of four 16-byte quarters. Only
/// called where AVX2 was detected at run time (see [`scan_container`]).
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
pub(super) fn classify_avx2(block: &[u8; 64]) -> Masks {
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
pub(super) fn escaped(backslash: u64, carry: &mut u64) -> u64 {
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
pub(super) fn prefix_xor(mut x: u64) -> u64 {
    for s in [1, 2, 4, 8, 16, 32] {
        x ^= x << s;
    }
    x
}

/// [`prefix_xor`] in one carry-less multiplication by all ones, where the CPU has it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "pclmulqdq")]
pub(super) fn prefix_xor_clmul(x: u64) -> u64 {
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
pub(super) fn string_scan(buf: &[u8], start: usize) -> Result<(usize, bool), ScanError> {
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
pub(super) fn string_scan(buf: &[u8], start: usize) -> Result<(usize, bool), ScanError> {
    string_scan_bytes(buf, start, true, start)
}

/// [`string_scan`] a byte at a time from `i` (`ascii`: so far; `start`: for the error).
pub(super) fn string_scan_bytes(
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
pub(super) fn short_string_end(buf: &[u8], start: usize, ascii: bool) -> Option<usize> {
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
