//! What differs between the engines `cxkpi sql` writes for: function names, and time in a
//! zone. Everything else in the templates is SQL both engines read alike.
//!
//! Time is handled as integer microseconds since the epoch, so no expression depends on
//! the session's time zone (Spark renders and truncates timestamps in
//! `spark.sql.session.timeZone`, DuckDB in `TimeZone`): only the conversion between an
//! instant and its wall-clock time in the query's zone names the zone, and it names it
//! explicitly.

use chrono_tz::Tz;

use crate::time::Interval;

/// The SQL engine to write for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Engine {
    /// DuckDB 1.x (views from `cxkpi ddl --engine duckdb`).
    Duckdb,
    /// Spark SQL 3.4+ (tables from `cxkpi ddl --engine spark`; also Databricks SQL).
    Spark,
}

const SEC: i64 = 1_000_000;
const HOUR: i64 = 3_600 * SEC;
const DAY: i64 = 24 * HOUR;

/// `a` modulo `b`, never negative (SQL `%` takes the sign of `a`).
fn pmod(a: &str, b: i64) -> String {
    format!("((({a}) % {b}) + {b}) % {b}")
}

impl Engine {
    /// A text literal.
    pub fn text(self, s: &str) -> String {
        match self {
            // Spark reads backslash escapes in literals; DuckDB does not.
            Engine::Spark => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
            Engine::Duckdb => format!("'{}'", s.replace('\'', "''")),
        }
    }

    /// Integer division (truncating).
    pub fn idiv(self, a: &str, b: i64) -> String {
        match self {
            Engine::Duckdb => format!("(({a}) // {b})"),
            Engine::Spark => format!("(({a}) div {b})"),
        }
    }

    /// Microseconds since the epoch of a timestamp.
    pub fn us(self, ts: &str) -> String {
        match self {
            Engine::Duckdb => format!("epoch_us({ts})"),
            Engine::Spark => format!("unix_micros({ts})"),
        }
    }

    /// The exact percentile `p` (linear interpolation between the closest ranks).
    pub fn quantile(self, x: &str, p: &str) -> String {
        match self {
            Engine::Duckdb => format!("quantile_cont({x}, {p})"),
            Engine::Spark => format!("percentile({x}, {p})"),
        }
    }

    /// The value of `x` in the row with the smallest `by`.
    pub fn min_by(self, x: &str, by: &str) -> String {
        match self {
            Engine::Duckdb => format!("arg_min({x}, {by})"),
            Engine::Spark => format!("min_by({x}, {by})"),
        }
    }

    /// Text with every character that is not a letter or a digit removed, lower-cased
    /// (`--status-match normalized`).
    pub fn normalized(self, x: &str) -> String {
        format!(
            "regexp_replace(lower({x}), {}, '')",
            self.text(r"[^\p{L}\p{N}]")
        )
    }

    /// Wall-clock microseconds in `tz` of a timestamp column.
    fn local_of_ts(self, ts: &str, tz: &Tz) -> String {
        let z = self.text(tz.name());
        match self {
            Engine::Duckdb => format!("epoch_us(timezone({z}, {ts}))"),
            Engine::Spark => format!("unix_micros(from_utc_timestamp({ts}, {z}))"),
        }
    }

    /// Wall-clock microseconds in `tz` of an instant given in microseconds.
    fn local_of_us(self, us: &str, tz: &Tz) -> String {
        let z = self.text(tz.name());
        match self {
            Engine::Duckdb => {
                format!("epoch_us(timezone({z}, timezone('UTC', make_timestamp({us}))))")
            }
            Engine::Spark => {
                format!("unix_micros(from_utc_timestamp(timestamp_micros({us}), {z}))")
            }
        }
    }

    /// The instant (µs) of a wall-clock time in `tz` (µs): a time skipped by a DST change
    /// moves forward by the gap; a repeated time takes one occurrence (the caller picks the
    /// right one first, see [`Engine::bucket`]).
    fn utc_of_local(self, local: &str, tz: &Tz) -> String {
        let z = self.text(tz.name());
        match self {
            Engine::Duckdb => format!("epoch_us(timezone({z}, make_timestamp({local})))"),
            Engine::Spark => {
                format!("unix_micros(to_utc_timestamp(timestamp_micros({local}), {z}))")
            }
        }
    }

    /// The first day of the month of a wall-clock time, as wall-clock µs.
    fn month_start(self, local: &str) -> String {
        match self {
            Engine::Duckdb => format!("epoch_us(date_trunc('month', make_timestamp({local})))"),
            Engine::Spark => format!(
                "CAST(unix_date(trunc(date_from_unix_date(CAST({} AS INT)), 'MM')) AS BIGINT) * {DAY}",
                self.idiv(local, DAY)
            ),
        }
    }

    /// A wall-clock time (µs) as `YYYY-MM-DDTHH:MM:SS`.
    fn wall_text(self, local: &str) -> String {
        match self {
            Engine::Duckdb => format!("strftime(make_timestamp({local}), '%Y-%m-%dT%H:%M:%S')"),
            Engine::Spark => {
                let two = |e: String| format!("lpad(CAST({e} AS STRING), 2, '0')");
                format!(
                    "concat(CAST(date_from_unix_date(CAST({} AS INT)) AS STRING), 'T', {}, ':', {}, ':', {})",
                    self.idiv(local, DAY),
                    two(self.idiv(&pmod(local, DAY), HOUR)),
                    two(self.idiv(&pmod(local, HOUR), 60 * SEC)),
                    two(self.idiv(&pmod(local, 60 * SEC), SEC)),
                )
            }
        }
    }

    /// The start (UTC µs) of the bucket of timestamp column `ts`: the rule of
    /// [`crate::time::bucket_start`]. The wall-clock time is truncated to the interval; the
    /// truncated time is taken back to an instant with the row's own UTC offset when that
    /// is one of its occurrences (so each occurrence of a repeated autumn hour is its own
    /// bucket), else by the engine's rule (a time in a spring gap moves forward to where
    /// local time resumes); a bucket never starts after the instant it holds.
    pub fn bucket(self, ts: &str, interval: Interval, tz: &Tz) -> String {
        let t = self.us(ts);
        let utc = *tz == Tz::UTC;
        let l = match utc {
            true => t.clone(),
            false => self.local_of_ts(ts, tz),
        };
        let trunc = match interval {
            Interval::Total => return "CAST(NULL AS BIGINT)".into(),
            Interval::Minutes(m) => format!("{l} - {}", pmod(&l, i64::from(m) * 60 * SEC)),
            Interval::Hours(h) => format!("{l} - {}", pmod(&l, i64::from(h) * HOUR)),
            Interval::Day => format!("{l} - {}", pmod(&l, DAY)),
            // 1970-01-01 was a Thursday: weeks start 3 days before the epoch's multiples of 7.
            Interval::Week => format!("{l} - {}", pmod(&format!("{l} + {}", 3 * DAY), 7 * DAY)),
            Interval::Month => self.month_start(&l),
        };
        if utc {
            return format!("({trunc})");
        }
        let same_offset = format!("{t} - ({l} - ({trunc}))");
        format!(
            "least(CASE WHEN {} = ({trunc}) THEN {same_offset} ELSE {} END, {t})",
            self.local_of_us(&same_offset, tz),
            self.utc_of_local(&format!("({trunc})"), tz),
        )
    }

    /// A bucket start (UTC µs) as RFC 3339 text with the zone's offset at that instant,
    /// as [`crate::time::format_instant`] writes it.
    pub fn instant_text(self, us: &str, tz: &Tz) -> String {
        let str_of = |e: String| format!("CAST({e} AS STRING)");
        let l = match *tz == Tz::UTC {
            true => us.to_string(),
            false => self.local_of_us(us, tz),
        };
        let frac = format!(
            "CASE WHEN {} = 0 THEN '' ELSE concat('.', lpad({}, 6, '0')) END",
            pmod(&l, SEC),
            str_of(pmod(&l, SEC))
        );
        let offset = match *tz == Tz::UTC {
            true => "'+00:00'".to_string(),
            false => {
                let off = format!("({l} - {us})");
                let abs = format!("abs{off}");
                format!(
                    "concat(CASE WHEN {off} < 0 THEN '-' ELSE '+' END, lpad({}, 2, '0'), ':', lpad({}, 2, '0'))",
                    str_of(self.idiv(&abs, HOUR)),
                    str_of(self.idiv(&pmod(&abs, HOUR), 60 * SEC)),
                )
            }
        };
        format!("concat({}, {frac}, {offset})", self.wall_text(&l))
    }
}
