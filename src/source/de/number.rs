//! Numbers as JSON's grammar reads them: one pass over a number's bytes checks it and
//! reads the value of a short one.

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
pub(super) struct NumberScan {
    /// Just past its last byte.
    pub(super) end: usize,
    /// Whether it has a fraction or an exponent.
    pub(super) float: bool,
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
    pub(super) exact: Option<Number>,
}

/// The number at `start` read by JSON's grammar, `None` when there is none there: one pass
/// over its bytes checks it and reads the value of a short one.
#[inline]
pub(super) fn scan_number(buf: &[u8], start: usize) -> Option<NumberScan> {
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
