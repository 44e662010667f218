//! Time ranges and buckets in an IANA zone.
//!
//! Buckets are half-open `[start, end)` ranges of *local wall-clock time*: a day bucket in
//! Europe/Amsterdam is 23 hours long on the spring DST change and 25 on the autumn one;
//! an hourly bucket in a +05:30 zone starts at local :00. In the repeated autumn hour,
//! each occurrence is its own bucket (02:00+02:00 and 02:00+01:00), so no instant is ever
//! booked twice and none is lost.

use std::fmt;
use std::str::FromStr;

use chrono::{
    DateTime, Datelike, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone, Timelike,
};
use chrono_tz::Tz;

use crate::error::{Error, Result};

/// Microseconds in a UTC day (timestamps are microseconds since the epoch).
pub const DAY_US: i64 = 86_400_000_000;

/// The floats that convert to an i64 (a count of microseconds): -2^63 included, 2^63 not
/// (NaN is in neither). Near either end every float is a whole number, so a duration
/// rounded to the microsecond cannot cross one.
pub const I64_FLOATS: std::ops::Range<f64> =
    -9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0;

/// The width of a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Interval {
    /// One bucket for the whole range.
    Total,
    /// N minutes, N dividing 60 (15m, 30m).
    Minutes(u32),
    /// N hours, N dividing 24 (1h, 2h, 6h, …), counted from local midnight.
    Hours(u32),
    Day,
    /// ISO week, starting Monday 00:00 local time.
    Week,
    Month,
}

impl FromStr for Interval {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        let bad = || {
            format!("invalid interval {s:?}: expected total, 15m, 30m, 1h, Nh (N dividing 24), 1d, 1w or 1mo")
        };
        let s = s.trim();
        Ok(match s {
            "total" | "" => Interval::Total,
            "1d" | "d" | "day" => Interval::Day,
            "1w" | "w" | "week" => Interval::Week,
            "1mo" | "mo" | "month" => Interval::Month,
            _ => {
                let (num, unit) =
                    s.split_at(s.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?);
                let n: u32 = num.parse().map_err(|_| bad())?;
                match unit {
                    "m" | "min" if n > 0 && 60 % n == 0 => Interval::Minutes(n),
                    "h" if n > 0 && 24 % n == 0 => Interval::Hours(n),
                    _ => return Err(bad()),
                }
            }
        })
    }
}

impl fmt::Display for Interval {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Interval::Total => f.write_str("total"),
            Interval::Minutes(n) => write!(f, "{n}m"),
            Interval::Hours(n) => write!(f, "{n}h"),
            Interval::Day => f.write_str("1d"),
            Interval::Week => f.write_str("1w"),
            Interval::Month => f.write_str("1mo"),
        }
    }
}

pub fn parse_tz(s: &str) -> Result<Tz> {
    s.parse::<Tz>().map_err(|_| {
        Error::Usage(format!(
            "unknown time zone {s:?}: expected an IANA name such as UTC or Europe/Amsterdam"
        ))
    })
}

fn utc(t_us: i64) -> DateTime<chrono::Utc> {
    DateTime::from_timestamp_micros(t_us).unwrap_or_default()
}

/// The UTC instant of a local wall-clock time: where the time is repeated, the occurrence
/// with offset `prefer` if it has one (else the earlier); where it is skipped by a DST
/// change, the first instant after the gap.
fn resolve_local(tz: &Tz, local: NaiveDateTime, prefer: Option<i32>) -> i64 {
    match tz.from_local_datetime(&local) {
        LocalResult::Single(t) => t.timestamp_micros(),
        LocalResult::Ambiguous(a, b) => {
            if prefer == Some(b.offset().fix().local_minus_utc()) {
                b.timestamp_micros()
            } else {
                a.timestamp_micros()
            }
        }
        LocalResult::None => {
            // Skipped by a DST change: the bucket starts where local time resumes.
            let mut probe = local;
            for _ in 0..(4 * 60) {
                probe += Duration::minutes(1);
                if let Some(t) = tz.from_local_datetime(&probe).earliest() {
                    return t.timestamp_micros();
                }
            }
            local.and_utc().timestamp_micros()
        }
    }
}

/// The start (UTC µs) of the bucket holding instant `t_us`.
pub fn bucket_start(t_us: i64, interval: Interval, tz: &Tz) -> i64 {
    let local = utc(t_us).with_timezone(tz);
    let offset = local.offset().fix().local_minus_utc();
    let n = local.naive_local();
    let d = n.date();
    let trunc: NaiveDateTime = match interval {
        Interval::Total => return i64::MIN,
        Interval::Minutes(m) => d.and_hms_opt(n.hour(), n.minute() / m * m, 0).unwrap_or(n),
        Interval::Hours(h) => d.and_hms_opt(n.hour() / h * h, 0, 0).unwrap_or(n),
        Interval::Day => d.and_hms_opt(0, 0, 0).unwrap_or(n),
        Interval::Week => (d - Duration::days(d.weekday().num_days_from_monday() as i64))
            .and_hms_opt(0, 0, 0)
            .unwrap_or(n),
        Interval::Month => NaiveDate::from_ymd_opt(d.year(), d.month(), 1)
            .and_then(|d| d.and_hms_opt(0, 0, 0))
            .unwrap_or(n),
    };
    let start = resolve_local(tz, trunc, Some(offset));
    // A bucket never starts after the instant it holds (guards the gap case).
    start.min(t_us)
}

/// RFC 3339 with the zone's offset at that instant, e.g. `2024-03-31T00:00:00+01:00`.
pub fn format_instant(t_us: i64, tz: &Tz) -> String {
    let local = utc(t_us).with_timezone(tz);
    if local.nanosecond() == 0 {
        local.format("%Y-%m-%dT%H:%M:%S%:z").to_string()
    } else {
        local.format("%Y-%m-%dT%H:%M:%S%.6f%:z").to_string()
    }
}

/// A `--from`/`--to` bound: a date (local midnight in `tz`), a local date-time without
/// offset (in `tz`), or RFC 3339 with an offset.
pub fn parse_bound(s: &str, tz: &Tz) -> Result<i64> {
    let t = s.trim();
    if let Ok(d) = NaiveDate::parse_from_str(t, "%Y-%m-%d") {
        return Ok(resolve_local(
            tz,
            d.and_hms_opt(0, 0, 0).unwrap_or_default(),
            None,
        ));
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(t) {
        return Ok(dt.timestamp_micros());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(n) = NaiveDateTime::parse_from_str(t, fmt) {
            return Ok(resolve_local(tz, n, None));
        }
    }
    Err(Error::Usage(format!(
        "invalid time {s:?}: expected a date (2024-03-31), a local date-time (2024-03-31T06:00) or RFC 3339 (2024-03-31T06:00:00+02:00)"
    )))
}

/// The UTC calendar date of an instant.
pub fn utc_date(t_us: i64) -> NaiveDate {
    utc(t_us).date_naive()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> i64 {
        DateTime::parse_from_rfc3339(s).unwrap().timestamp_micros()
    }

    #[test]
    fn intervals_parse() {
        assert_eq!("15m".parse(), Ok(Interval::Minutes(15)));
        assert_eq!("6h".parse(), Ok(Interval::Hours(6)));
        assert_eq!("1mo".parse(), Ok(Interval::Month));
        assert!("7m".parse::<Interval>().is_err());
        assert!("5h".parse::<Interval>().is_err());
        assert!("1y".parse::<Interval>().is_err());
    }

    #[test]
    fn days_across_dst_in_amsterdam() {
        let tz: Tz = "Europe/Amsterdam".parse().unwrap();
        // Spring forward on 2024-03-31: the day is 23 hours long.
        let b = bucket_start(at("2024-03-31T22:30:00Z"), Interval::Day, &tz);
        assert_eq!(format_instant(b, &tz), "2024-04-01T00:00:00+02:00");
        let b = bucket_start(at("2024-03-31T21:59:59Z"), Interval::Day, &tz);
        assert_eq!(format_instant(b, &tz), "2024-03-31T00:00:00+01:00");
        assert_eq!(b, at("2024-03-30T23:00:00Z"));
        // Autumn: the repeated hour 02:00–03:00 is two buckets.
        let first = bucket_start(at("2024-10-27T00:30:00Z"), Interval::Hours(1), &tz);
        let second = bucket_start(at("2024-10-27T01:30:00Z"), Interval::Hours(1), &tz);
        assert_eq!(format_instant(first, &tz), "2024-10-27T02:00:00+02:00");
        assert_eq!(format_instant(second, &tz), "2024-10-27T02:00:00+01:00");
        assert_eq!(second - first, 3_600_000_000);
    }

    #[test]
    fn sub_hour_buckets_align_to_local_time() {
        let tz: Tz = "Asia/Kolkata".parse().unwrap();
        let b = bucket_start(at("2024-05-07T09:50:00Z"), Interval::Hours(1), &tz);
        assert_eq!(format_instant(b, &tz), "2024-05-07T15:00:00+05:30");
        let b = bucket_start(at("2024-05-07T09:50:00Z"), Interval::Minutes(15), &tz);
        assert_eq!(format_instant(b, &tz), "2024-05-07T15:15:00+05:30");
    }

    #[test]
    fn weeks_and_months() {
        let tz = Tz::UTC;
        let b = bucket_start(at("2024-05-08T10:00:00Z"), Interval::Week, &tz);
        assert_eq!(format_instant(b, &tz), "2024-05-06T00:00:00+00:00");
        let b = bucket_start(at("2024-02-29T23:59:59Z"), Interval::Month, &tz);
        assert_eq!(format_instant(b, &tz), "2024-02-01T00:00:00+00:00");
    }

    #[test]
    fn bounds() {
        let tz: Tz = "Europe/Amsterdam".parse().unwrap();
        assert_eq!(
            parse_bound("2024-03-31", &tz).unwrap(),
            at("2024-03-30T23:00:00Z")
        );
        assert_eq!(
            parse_bound("2024-04-01", &tz).unwrap(),
            at("2024-03-31T22:00:00Z")
        );
        assert_eq!(
            parse_bound("2024-03-31T12:00:00Z", &tz).unwrap(),
            at("2024-03-31T12:00:00Z")
        );
        assert_eq!(
            parse_bound("2024-03-31T12:00", &tz).unwrap(),
            at("2024-03-31T10:00:00Z")
        );
        assert!(parse_bound("31/03/2024", &tz).is_err());
    }
}
