//! The tolerant scalars every vendor reader shares. Exports carry counts as strings,
//! booleans as "True"/"false", timestamps in several notations, ids as strings or numbers,
//! values in MongoDB Extended JSON wrappers. The `Loose*` types accept every documented
//! notation and reject the rest with a message naming what was expected.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

use super::de::{FromText, Number};
use super::digits;
use serde::de::{self, Deserializer, Visitor};

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

/// A string, as [`LooseStrVisitor`] takes a borrowed one (see
/// [`super::de::Deserializer::str_value`]).
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

/// A string, as [`LooseStrVisitor`] takes a borrowed one (see
/// [`super::de::Deserializer::str_value`]).
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

    fn from_null() -> Option<Self> {
        Some(LooseCount(None))
    }

    /// An integer in range, as the visitor takes it (its `visit_u64` calls this); a float
    /// goes to the visitor.
    fn from_number(n: Number) -> Option<Self> {
        match n {
            Number::I64(v) => Some(LooseCount(Some(v))),
            Number::U64(v) => i64::try_from(v).ok().map(|v| LooseCount(Some(v))),
            Number::F64(_) => None,
        }
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
                LooseCount::from_number(Number::U64(v))
                    .ok_or_else(|| E::custom(format!("count {v} is out of range")))
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

impl FromText for LooseF64 {
    fn from_text(v: &str) -> Result<Self, String> {
        let t = v.trim();
        if t.is_empty() {
            return Ok(LooseF64(None));
        }
        // Rust's float syntax takes "NaN" and "inf", which no JSON number can be: the text
        // of a number is held to what a number may hold.
        match t.parse::<f64>() {
            Ok(f) if f.is_finite() => Ok(LooseF64(Some(f))),
            _ => Err(format!("expected a finite number, found {v:?}")),
        }
    }

    fn from_null() -> Option<Self> {
        Some(LooseF64(None))
    }

    /// As the visitor takes any number.
    fn from_number(n: Number) -> Option<Self> {
        Some(LooseF64(Some(n.as_f64())))
    }
}

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
                LooseF64::from_text(v).map_err(E::custom)
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

impl LooseSeconds {
    /// `s` as a duration, if a count of microseconds holds it (see `I64_FLOATS`).
    fn of(s: LooseF64) -> Result<Self, String> {
        match s.0 {
            Some(s) if !crate::time::I64_FLOATS.contains(&(s * 1e6)) => Err(format!(
                "{s} seconds is longer than a duration can be (±292,000 years)"
            )),
            s => Ok(LooseSeconds(s)),
        }
    }
}

impl<'de> de::Deserialize<'de> for LooseSeconds {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        LooseSeconds::of(LooseF64::deserialize(d)?).map_err(de::Error::custom)
    }
}

impl FromText for LooseSeconds {
    fn from_text(v: &str) -> Result<Self, String> {
        LooseSeconds::of(LooseF64::from_text(v)?)
    }

    fn from_null() -> Option<Self> {
        Some(LooseSeconds(None))
    }

    /// As the visitor takes a number of seconds a duration holds; a longer one goes to the
    /// visitor (for its error).
    fn from_number(n: Number) -> Option<Self> {
        LooseF64::from_number(n).and_then(|s| LooseSeconds::of(s).ok())
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

    fn from_null() -> Option<Self> {
        Some(LooseBool(None))
    }

    /// 0 and 1, as the visitor takes them (its `visit_i64` calls this); any other number
    /// goes to the visitor (for its error).
    fn from_number(n: Number) -> Option<Self> {
        match n {
            Number::I64(0) | Number::U64(0) => Some(LooseBool(Some(false))),
            Number::I64(1) | Number::U64(1) => Some(LooseBool(Some(true))),
            _ => None,
        }
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
                LooseBool::from_number(Number::I64(v))
                    .ok_or_else(|| E::custom(format!("expected a boolean, found {v}")))
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

    fn from_null() -> Option<Self> {
        Some(LooseTime(None))
    }

    /// As the visitor takes epoch numbers.
    fn from_number(n: Number) -> Option<Self> {
        Some(LooseTime(Some(epoch_to_micros(n.as_f64()))))
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
mod tests {
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
            "0",
            "1",
            "2",
            "-0",
            "-7",
            "0.25",
            "-0.0",
            "18.000",
            "1e3",
            "01",
            "-",
            "1.",
            "9223372036854775807",
            "9223372036854775808",
            "-9223372036854775808",
            "12345678901234567890",
            "99999999999999999999999",
            "1e400",
            "9999999999999999999.5",
            "1715073123.5",
            "1715073123512",
            "9.3e12",
            "9300000000000",
            "-9300000000000.5",
            "true",
            "false",
            "truex",
            "tru",
            "f",
            "falsch",
            "null",
            "nullx",
            "nul",
            "n",
            "None",
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
                both::<LooseF64>(v, strict);
                both::<LooseSeconds>(v, strict);
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
    fn extended_json_wrappers_become_plain_values() {
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
}
