//! The KPI engine: one module per KPI family on a shared query layer.
//!
//! Every family hands [`aggregate`] a polars frame with one row per entity (conversation,
//! message, call…), the name of the timestamp that books the row, and its aggregate and
//! rate expressions. The query layer owns what is common: the half-open range, buckets in
//! a zone, the group-by dimensions, ordering, and rendering `bucket_start`.

pub mod agents;
pub mod bot;
pub mod calls;
pub mod csat;
pub mod messaging;
pub mod queue;

use chrono_tz::Tz;
use polars::prelude::*;

use crate::error::{Error, Result};
use crate::time::{bucket_start, format_instant, Interval};

/// What to compute over: range, buckets, zone and dimensions.
#[derive(Debug, Clone)]
pub struct Query {
    /// Inclusive start, UTC µs.
    pub from: Option<i64>,
    /// Exclusive end, UTC µs.
    pub to: Option<i64>,
    pub interval: Interval,
    pub tz: Tz,
    pub by: Vec<String>,
}

impl Default for Query {
    fn default() -> Self {
        Query {
            from: None,
            to: None,
            interval: Interval::Total,
            tz: Tz::UTC,
            by: Vec::new(),
        }
    }
}

/// A family's aggregation: `aggs` per group, then `finals` computed from them (rates), and
/// the metric columns to emit, in order.
pub struct Spec {
    pub time_column: &'static str,
    pub dimensions: &'static [&'static str],
    pub aggs: Vec<Expr>,
    pub finals: Vec<Expr>,
    pub columns: Vec<String>,
}

/// Owned column names for a [`Spec`].
pub fn names(columns: &[&str]) -> Vec<String> {
    columns.iter().map(|c| c.to_string()).collect()
}

const BUCKET: &str = "bucket_start";

/// Range filter, buckets, grouping and aggregation shared by every family: [`group`] then
/// [`finish`].
pub fn aggregate(df: DataFrame, q: &Query, spec: Spec) -> Result<DataFrame> {
    let grouped = group(df, q, spec)?;
    finish(grouped, q)
}

/// A grouped result before ordering and rendering: `bucket_start` is still UTC µs, so
/// results booked by different timestamps can be joined with [`merge`].
pub struct Grouped {
    pub frame: DataFrame,
    pub keys: Vec<String>,
}

/// Filters to the range, buckets, groups and aggregates.
///
/// Rows whose booking timestamp is null are kept when no range is given (the vendor SQL
/// counts them) and fall in a null bucket; with a range they cannot be in it.
pub fn group(df: DataFrame, q: &Query, spec: Spec) -> Result<Grouped> {
    for d in &q.by {
        if !spec.dimensions.contains(&d.as_str()) {
            return Err(Error::Usage(format!(
                "unknown dimension {d:?} for --by: expected one of {}",
                spec.dimensions.join(", ")
            )));
        }
    }
    let mut df = df;
    if q.from.is_some() || q.to.is_some() {
        let t = times(&df, spec.time_column)?;
        let (from, to) = (q.from.unwrap_or(i64::MIN), q.to.unwrap_or(i64::MAX));
        let mask: BooleanChunked = t
            .iter()
            .map(|v| Some(v.is_some_and(|v| v >= from && v < to)))
            .collect();
        df = df.filter(&mask)?;
    }
    let mut keys: Vec<String> = Vec::new();
    if q.interval != Interval::Total {
        let t = times(&df, spec.time_column)?;
        let buckets: Int64Chunked = t
            .iter()
            .map(|v| v.map(|v| bucket_start(v, q.interval, &q.tz)))
            .collect();
        df.with_column(buckets.with_name(BUCKET.into()).into_column())?;
        keys.push(BUCKET.to_string());
    }
    keys.extend(q.by.iter().cloned());

    let lf = df.lazy();
    let lf = if keys.is_empty() {
        lf.select(spec.aggs)
    } else {
        let key_exprs: Vec<Expr> = keys.iter().map(|k| col(k.as_str())).collect();
        lf.group_by(key_exprs).agg(spec.aggs)
    };
    let outputs: Vec<Expr> = keys
        .iter()
        .map(|k| col(k.as_str()))
        .chain(spec.columns.iter().map(|c| col(c.as_str())))
        .collect();
    let frame = lf.with_columns(spec.finals).select(outputs).collect()?;
    Ok(Grouped { frame, keys })
}

/// Joins two grouped results on their keys (a full join: a group present on one side only
/// gets nulls on the other, and `fill_zero` columns become 0 there).
pub fn merge(left: Grouped, right: Grouped, fill_zero: &[&str]) -> Result<Grouped> {
    if left.keys.is_empty() {
        // Totals: one row on each side.
        let frame = left.frame.hstack(right.frame.columns())?;
        return Ok(Grouped {
            frame,
            keys: left.keys,
        });
    }
    let on: Vec<Expr> = left.keys.iter().map(|k| col(k.as_str())).collect();
    let args = JoinArgs {
        nulls_equal: true,
        coalesce: JoinCoalesce::CoalesceColumns,
        ..JoinArgs::new(JoinType::Full)
    };
    let frame = left
        .frame
        .lazy()
        .join(right.frame.lazy(), &on, &on, args)
        .with_columns(
            fill_zero
                .iter()
                .map(|c| col(*c).fill_null(lit(0i64)))
                .collect::<Vec<_>>(),
        )
        .collect()?;
    Ok(Grouped {
        frame,
        keys: left.keys,
    })
}

/// Sorts by the keys (nulls last) and renders `bucket_start` in the zone.
pub fn finish(g: Grouped, q: &Query) -> Result<DataFrame> {
    let mut out = if g.keys.is_empty() {
        g.frame
    } else {
        g.frame.sort(
            g.keys.iter().map(|k| k.as_str()).collect::<Vec<_>>(),
            SortMultipleOptions::default()
                .with_nulls_last(true)
                .with_maintain_order(true),
        )?
    };
    if q.interval != Interval::Total {
        let b = times(&out, BUCKET)?;
        let text: StringChunked = b
            .iter()
            .map(|v| v.map(|v| format_instant(v, &q.tz)))
            .collect();
        out.replace(BUCKET, text.with_name(BUCKET.into()).into_column())?;
    }
    Ok(out)
}

/// A timestamp column as UTC µs values, whatever its polars type (Datetime or Int64).
fn times(df: &DataFrame, name: &str) -> Result<Vec<Option<i64>>> {
    let s = df
        .column(name)?
        .as_materialized_series()
        .cast(&DataType::Int64)?;
    Ok(s.i64()?.iter().collect())
}

/// `num / den` as Float64, null when the denominator is zero or null (never 0 or 1).
pub fn rate(num: &str, den: &str, name: &str) -> Expr {
    ratio(col(num), col(den), name)
}

/// Count of rows where `cond` is true (null counts as not true, as in SQL).
pub fn count_if(cond: Expr, name: &str) -> Expr {
    cond.fill_null(lit(false))
        .sum()
        .cast(DataType::Int64)
        .alias(name)
}

/// SQL `SUM` of `expr`: null when every value is null (polars would give 0).
pub fn sum_or_null(expr: Expr, name: &str) -> Expr {
    when(expr.clone().count().gt(lit(0)))
        .then(expr.sum())
        .otherwise(lit(NULL))
        .alias(name)
}

/// SQL `SUM` of a column.
pub fn sql_sum(column: &str, name: &str) -> Expr {
    sum_or_null(col(column), name)
}

/// Refuses a run in which the integer columns `columns` of `df`, taken together, could add
/// up past i64 in some group: polars sums Int64 by wrapping around, so such a total would
/// come out wrong without a word (two counts of 2^62 summed to a negative number). The
/// sum of the absolute values over every row bounds every group's sum, and the sums and
/// differences of these sums (understood = visitor − not understood), so one pass before
/// grouping is enough. Real exports are many orders of magnitude below the limit.
pub fn check_sums_fit(df: &DataFrame, columns: &[&str]) -> Result<()> {
    let values = |c: &str| -> Result<&Int64Chunked> { Ok(df.column(c)?.i64()?) };
    // A bound on the largest size times the count first (one pass over each column's
    // slices, the slots of nulls included: whatever they hold only raises the bound, and
    // the exact sum skips them): it settles every real export; the exact sum only when it
    // does not. The bound is the bitwise OR of the values, at most twice the largest
    // (a negative value sets the top bit, leaving the run to the exact sum). Why not polars'
    // min and max: with nulls they visit the valid rows one by one, 5 ms of a 175 ms bot
    // run; why not the largest absolute value: the compiler vectorizes an OR, not an
    // unsigned maximum on baseline x86-64 (1.7 ms on one core of a 165 ms run, against
    // 0.1 ms).
    let mut bound: u128 = 0;
    for &c in columns {
        let v = values(c)?;
        let size = (v.downcast_iter())
            .map(|a| a.values().iter().fold(0u64, |m, &x| m | x as u64))
            .fold(0, |m, x| m | x);
        bound += u128::from(size) * (v.len() - v.null_count()) as u128;
    }
    let exact = || -> Result<u128> {
        let mut total = 0;
        for &c in columns {
            total += (values(c)?.iter().flatten())
                .map(|v| u128::from(v.unsigned_abs()))
                .sum::<u128>();
        }
        Ok(total)
    };
    match bound <= i64::MAX as u128 || exact()? <= i64::MAX as u128 {
        true => Ok(()),
        false => Err(Error::Overflow {
            columns: columns
                .iter()
                .map(|c| format!("`{c}`"))
                .collect::<Vec<_>>()
                .join(" and "),
        }),
    }
}

/// The name of the column of whole microseconds [`with_micros`] adds for the durations in
/// seconds of `seconds`.
pub fn micros_column(seconds: &str) -> String {
    format!("{seconds}__us")
}

/// `df` plus, for each Float64 column of durations in seconds named in `columns`, its
/// [`micros_column`]: each duration taken to the nearest microsecond, ties to even, as an
/// exact integer (Int64; a null stays null), for [`duration_mean_if`] to average.
///
/// Refuses the run when a column's microseconds, taken together, could add up past i64 in
/// some group (the sum of their sizes over every row bounds every group's sum, which
/// polars would wrap around; as [`check_sums_fit`]), or when a duration is not a number.
///
/// Why not polars' `round`: on the baseline x86-64 it calls the C library's `rint` for
/// every value (1.7% of a queue run's CPU over 600,000 dialogues), after a copy of the
/// column for the product and before one for the cast; here each value is a
/// multiplication and two additions, on both cores, into one new column (−2% wall).
pub fn with_micros(mut df: DataFrame, columns: &[&str]) -> Result<DataFrame> {
    for &c in columns {
        let v = df.column(c)?.f64()?;
        let mut total: u128 = 0;
        let mut chunks = Vec::with_capacity(v.chunks().len());
        for a in v.downcast_iter() {
            let (micros, size) = micros_of(a).map_err(|x| match x.is_nan() {
                true => Error::Internal(format!("`{c}` holds a duration that is not a number")),
                false => Error::Overflow {
                    columns: format!("`{c}` (in microseconds)"),
                },
            })?;
            total += size;
            let ints = polars_arrow::array::PrimitiveArray::<i64>::from_vec(micros)
                .with_validity(a.validity().cloned());
            chunks.push(ints);
        }
        if total > i64::MAX as u128 {
            return Err(Error::Overflow {
                columns: format!("`{c}` (in microseconds)"),
            });
        }
        let ints = Int64Chunked::from_chunk_iter(micros_column(c).as_str().into(), chunks);
        df.with_column(ints.into_column())?;
    }
    Ok(df)
}

/// The microseconds of every slot of `a` ([`round_micros`]; 0 for a null) and the sum of
/// their sizes over the valid ones; the first value that is not an i64 of microseconds
/// (NaN, or too long) as the error.
fn micros_of(
    a: &polars_arrow::array::PrimitiveArray<f64>,
) -> std::result::Result<(Vec<i64>, u128), f64> {
    use polars_arrow::array::Array as _;
    use rayon::prelude::*;
    const PIECE: usize = 1 << 16;
    let values = a.values().as_slice();
    let valid = |i: usize| a.is_valid(i);
    let mut micros = vec![0i64; values.len()];
    let sizes = (micros
        .par_chunks_mut(PIECE)
        .zip(values.par_chunks(PIECE))
        .enumerate())
    .map(|(k, (out, seconds))| {
        let mut size: u128 = 0;
        for (j, (out, &x)) in out.iter_mut().zip(seconds).enumerate() {
            if !valid(k * PIECE + j) {
                continue;
            }
            let us = round_micros(x).ok_or(x)?;
            *out = us;
            size += u128::from(us.unsigned_abs());
        }
        Ok(size)
    })
    .collect::<std::result::Result<Vec<u128>, f64>>()?;
    Ok((micros, sizes.into_iter().sum()))
}

/// `seconds` × 10^6 to the nearest integer, ties to even (IEEE arithmetic's own rounding,
/// SQL's `round_even`, polars' `HalfToEven`); none when that is not an i64 (or NaN).
#[inline]
fn round_micros(seconds: f64) -> Option<i64> {
    // Below 2^52 in size, adding 2^52 of the value's sign leaves no bit for a fraction, so
    // the sum is the value rounded to an integer, ties to even (2^52 is even), and taking
    // 2^52 away again is exact. From 2^52 on every float is an integer already.
    const TWO_52: f64 = 4_503_599_627_370_496.0;
    let us = seconds * 1e6;
    let rounded = match us.abs() < TWO_52 {
        true => {
            let m = TWO_52.copysign(us);
            (us + m) - m
        }
        false => us,
    };
    crate::time::I64_FLOATS
        .contains(&rounded)
        .then_some(rounded as i64)
}

/// Mean in seconds of `micros`, an integer expression in microseconds (null when every
/// value is null). The sum is exact and rounded once, so the mean is the same to the last
/// bit whatever order the rows arrive in: metrics-only reads rely on that to skip sorting.
pub fn exact_mean_seconds(micros: Expr, name: &str) -> Expr {
    let n = micros.clone().count();
    when(n.clone().gt(lit(0)))
        .then(micros.sum().cast(DataType::Float64) / (n.cast(DataType::Float64) * lit(1e6)))
        .otherwise(lit(NULL).cast(DataType::Float64))
        .alias(name)
}

/// Mean in seconds of the Float64 durations of column `seconds` over the rows where `cond`
/// holds (null when none). Each duration is first taken to the nearest microsecond, an
/// exact integer (the column [`with_micros`] added), and then averaged by
/// [`exact_mean_seconds`]: the mean is the same to the last bit in any row order, so a
/// metrics-only read may leave its rows in delivery order instead of sorting them. Exports
/// give durations to the millisecond: nothing is lost. A duration beyond ±292,000 years
/// fails the run ([`with_micros`]) rather than being left out.
pub fn duration_mean_if(seconds: &str, cond: Expr, name: &str) -> Expr {
    exact_mean_seconds(
        col(micros_column(seconds)).filter(cond.fill_null(lit(false))),
        name,
    )
}

/// Mean of `expr` over the rows where `cond` holds (null when none).
pub fn mean_if(expr: Expr, cond: Expr, name: &str) -> Expr {
    expr.filter(cond.fill_null(lit(false))).mean().alias(name)
}

/// Exact percentile (linear interpolation, as SQL `quantile_cont`) of `expr` where `cond`.
///
/// The values are taken in one piece without nulls (which no percentile reads): polars
/// picks a percentile of such a column by selection, and of any other by sorting it (a
/// parallel filter leaves a column in several pieces). Totals of queue KPIs −2.8% wall;
/// per hour +1% (the piece is made per group).
pub fn quantile_if(expr: Expr, cond: Expr, q: f64, name: &str) -> Expr {
    let keep = cond.fill_null(lit(false)).and(expr.clone().is_not_null());
    expr.filter(keep)
        .rechunk()
        .quantile(lit(q), QuantileMethod::Linear)
        .alias(name)
}

/// Weighted mean Σ(x·w) / Σw over rows where both are present: recombines per-group
/// averages (an agent's ASA over their inbound calls) without averaging averages.
pub fn weighted_mean(x: &str, w: &str, name: &str) -> Expr {
    let both = || col(x).is_not_null().and(col(w).is_not_null());
    let num = (col(x) * col(w).cast(DataType::Float64))
        .filter(both())
        .sum();
    let den = col(w).cast(DataType::Float64).filter(both()).sum();
    when(den.clone().gt(lit(0.0)))
        .then(num / den)
        .otherwise(lit(NULL).cast(DataType::Float64))
        .alias(name)
}

/// `df` (made from `batch`, row for row) plus the column `name`: for each row, the index in
/// `words` (lower-case ASCII) of its `column` text, compared case-insensitively; null when
/// the text is null or none of them. Test it with [`is_word`].
///
/// Why not polars' `to_lowercase`: copying a column of texts into polars and lower-casing
/// every row to compare it with a few words was a seventh of an interactions-view run and a
/// third of a queue run's aggregation. ASCII case folding is the same test for these words:
/// the only other character that lower-cases to an ASCII letter is the Kelvin sign (to
/// `k`), and a word holding a `k` is refused.
pub fn with_word_codes(
    df: DataFrame,
    batch: &arrow::array::RecordBatch,
    column: &str,
    words: &[&str],
    name: &str,
) -> Result<DataFrame> {
    use arrow::array::AsArray;
    if let Some(w) = words
        .iter()
        .find(|w| w.contains('k') || *w != &w.to_lowercase())
    {
        return Err(Error::Internal(format!(
            "{w:?} cannot be matched by ASCII case folding"
        )));
    }
    // Codes are bytes, and the last byte value is the null of `word_codes`.
    if words.len() > usize::from(u8::MAX) {
        return Err(Error::Internal(format!(
            "{} words need more than a byte",
            words.len()
        )));
    }
    let texts = batch.column(batch.schema().index_of(column)?);
    let codes = match texts.as_primitive_opt::<arrow::datatypes::UInt8Type>() {
        // Read as codes of these `words` already (`source::codes::WordCodes`: a
        // metrics-only read told the same words, as `queue::coded` tells it).
        Some(read) => code_column(name, read.values().to_vec()),
        None => word_codes(texts.as_string::<i32>(), words, name),
    };
    let mut df = df;
    df.with_column(codes.into_column())?;
    Ok(df)
}

/// The codes of [`with_word_codes`], worked out in pieces of [`CODE_ROWS`] rows on every
/// core. Why: a status column holds a few values over and over, so each row is first
/// compared with the row before it, and the lookup ran alone after the parse (a queue
/// run's two columns took 20 ms of its 360, one core idle).
fn word_codes(texts: &arrow::array::StringArray, words: &[&str], name: &str) -> UInt8Chunked {
    use arrow::array::Array;
    use rayon::prelude::*;
    let starts: Vec<usize> = (0..texts.len()).step_by(CODE_ROWS).collect();
    let pieces: Vec<Vec<u8>> = starts
        .into_par_iter()
        .map(|start| {
            let piece = texts.slice(start, CODE_ROWS.min(texts.len() - start));
            let mut last: Option<(&str, u8)> = None;
            (0..piece.len())
                .map(|r| {
                    if piece.is_null(r) {
                        return NONE;
                    }
                    let text = piece.value(r);
                    match last {
                        Some((t, code)) if t == text => code,
                        _ => {
                            let code = crate::source::codes::word_index(text, words)
                                .map_or(NONE, |i| i as u8);
                            last = Some((text, code));
                            code
                        }
                    }
                })
                .collect()
        })
        .collect();
    code_column(name, pieces.concat())
}

/// `codes` as the column `name`, [`NONE`] as null.
fn code_column(name: &str, codes: Vec<u8>) -> UInt8Chunked {
    let valid: polars_arrow::bitmap::Bitmap = codes.iter().map(|&c| c != NONE).collect();
    UInt8Chunked::from_vec_validity(name.into(), codes, Some(valid))
}

/// Codes past the words' indices: no code (null).
const NONE: u8 = crate::source::codes::NO_WORD;

/// Rows per task of [`word_codes`].
const CODE_ROWS: usize = 1 << 16;

/// The rows whose code in `column` (see [`with_word_codes`]) is that of the word at `index`
/// (null is not).
pub fn is_word(column: &str, index: usize) -> Expr {
    col(column).eq(lit(index as u8)).fill_null(lit(false))
}

/// The columns a metrics-only read keeps: a family's own and `by`'s, each once. A read
/// copies no others (a column left out is absent, not null, so a mistake fails loudly).
pub fn read_columns(own: &[&str], by: &[String]) -> Vec<String> {
    let mut columns: Vec<String> = own.iter().map(|c| c.to_string()).collect();
    for d in by {
        if !columns.contains(d) {
            columns.push(d.clone());
        }
    }
    columns
}

/// The named columns of a canonical batch (plus the dimensions asked for), as polars.
pub fn frame(
    batch: &arrow::array::RecordBatch,
    columns: &[&str],
    by: &[String],
) -> Result<DataFrame> {
    let mut names: Vec<&str> = columns.to_vec();
    for d in by {
        if !names.contains(&d.as_str()) {
            names.push(d);
        }
    }
    crate::bridge::to_polars(&crate::table::project(batch, &names)?)
}

/// The query with `dim` as the first dimension (a view's own breakdown).
pub fn lead(q: &Query, dim: &str) -> Query {
    let mut q = q.clone();
    q.by.retain(|d| d != dim);
    q.by.insert(0, dim.to_string());
    q
}

/// `num / den` from two expressions, null when the denominator is zero or null.
pub fn ratio(num: Expr, den: Expr, name: &str) -> Expr {
    when(den.clone().gt(lit(0)))
        .then(num.cast(DataType::Float64) / den.cast(DataType::Float64))
        .otherwise(lit(NULL).cast(DataType::Float64))
        .alias(name)
}

/// The number of rows in the group.
pub fn rows(name: &str) -> Expr {
    len().cast(DataType::Int64).alias(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mean_of(micros: &[i64]) -> Option<f64> {
        let df = DataFrame::new(
            micros.len(),
            vec![Column::new("us".into(), micros.to_vec())],
        )
        .unwrap();
        let out = df
            .lazy()
            .select([exact_mean_seconds(col("us"), "m")])
            .collect()
            .unwrap();
        out.column("m").unwrap().f64().unwrap().get(0)
    }

    #[test]
    fn sums_past_i64_are_refused_before_polars_wraps_them() {
        let df = |a: &[Option<i64>], b: &[Option<i64>]| {
            DataFrame::new(
                a.len(),
                vec![
                    Column::new("a".into(), a.to_vec()),
                    Column::new("b".into(), b.to_vec()),
                ],
            )
            .unwrap()
        };
        let fits = |d: &DataFrame, c: &[&str]| check_sums_fit(d, c).is_ok();
        let max = i64::MAX;
        assert!(fits(&df(&[Some(max), None], &[Some(0), None]), &["a", "b"]));
        assert!(!fits(&df(&[Some(max), Some(1)], &[None, None]), &["a"]));
        // The largest value times the count is past it, the exact sum is not.
        assert!(fits(
            &df(&[Some(max / 2), Some(1)], &[Some(1), None]),
            &["a", "b"]
        ));
        // Negative values count by their size: -MAX and -1 sum past i64::MIN + 1.
        assert!(!fits(&df(&[Some(-max), Some(-2)], &[None, None]), &["a"]));
        // Taken together: each column fits, the two do not.
        let both = df(&[Some(max / 2 + 1), None], &[Some(max / 2 + 1), None]);
        assert!(fits(&both, &["a"]) && fits(&both, &["b"]));
        let e = check_sums_fit(&both, &["a", "b"]).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::DATA);
        assert!(e.to_string().contains("`a` and `b` add up past"), "{e}");

        let secs =
            |v: &[f64]| DataFrame::new(v.len(), vec![Column::new("s".into(), v.to_vec())]).unwrap();
        let fits = |v: &[f64]| with_micros(secs(v), &["s"]).is_ok();
        // 9.2e12 s is 9.2e18 µs: one fits, two do not.
        assert!(fits(&[9.2e12]));
        assert!(!fits(&[9.2e12, 9.2e12]));
        assert!(fits(&[9.2e12, 1.0]));
        assert!(!fits(&[-9.2e12, -9.2e12]));
        assert!(fits(&[20.5; 1000]));
        // One value past i64 on its own, and one that is no number.
        let e = with_micros(secs(&[1.0, 9.3e12]), &["s"]).unwrap_err();
        assert_eq!(e.exit_code(), crate::error::exit::DATA);
        assert!(e.to_string().contains("`s` (in microseconds)"), "{e}");
        let e = with_micros(secs(&[1.0, f64::NAN]), &["s"]).unwrap_err();
        assert!(e.to_string().contains("not a number"), "{e}");
    }

    #[test]
    fn word_codes_match_as_polars_lower_casing_does() {
        use std::sync::Arc;
        let texts = vec![
            Some("Accepted"),
            Some("ABANDONED"),
            Some("accepted "),
            Some("İvrdrop"),
            Some("IvrDrop"),
            None,
            Some("ACCEPTED\u{212A}"),
            Some(""),
        ];
        let batch = arrow::array::RecordBatch::try_from_iter([(
            "outcome",
            Arc::new(arrow::array::StringArray::from(texts.clone())) as arrow::array::ArrayRef,
        )])
        .unwrap();
        let df = DataFrame::new(
            texts.len(),
            vec![Column::new("outcome".into(), texts.clone())],
        )
        .unwrap();
        let words = ["accepted", "abandoned", "ivrdrop"];
        let df = with_word_codes(df, &batch, "outcome", &words, "code").unwrap();
        for (i, w) in words.iter().enumerate() {
            let by_codes = df
                .clone()
                .lazy()
                .select([is_word("code", i).alias("m")])
                .collect()
                .unwrap();
            let by_polars = df
                .clone()
                .lazy()
                .select([col("outcome")
                    .str()
                    .to_lowercase()
                    .eq(lit(*w))
                    .fill_null(lit(false))
                    .alias("m")])
                .collect()
                .unwrap();
            assert_eq!(by_codes, by_polars, "{w}");
        }
        let hits = df.column("code").unwrap().u8().unwrap().iter();
        let hits: Vec<Option<u8>> = hits.collect();
        assert_eq!(
            hits,
            [Some(0), Some(1), None, None, Some(2), None, None, None]
        );
        // Read as codes already, as a metrics-only read gives them: the same column.
        static WORDS: [&str; 3] = ["accepted", "abandoned", "ivrdrop"];
        let mut read = crate::source::codes::WordCodes::new(&WORDS, 0);
        for t in &texts {
            read.append_option(*t);
        }
        let coded = arrow::array::RecordBatch::try_from_iter([("outcome", read.finish())]).unwrap();
        let empty = DataFrame::new(texts.len(), vec![]).unwrap();
        let from_codes = with_word_codes(empty, &coded, "outcome", &WORDS, "code").unwrap();
        let codes_of = |df: &DataFrame| -> Vec<Option<u8>> {
            df.column("code").unwrap().u8().unwrap().iter().collect()
        };
        assert_eq!(codes_of(&from_codes), codes_of(&df));
        let kelvin = with_word_codes(df, &batch, "outcome", &["ok"], "k");
        assert!(kelvin.is_err(), "a word with a k is refused");
    }

    #[test]
    fn word_codes_over_many_pieces_are_each_rows_own() {
        // Runs of a value and changes at every distance, across the pieces the rows are
        // split into; the previous row's code is reused only for the same text.
        let texts = ["Accepted", "accepted", "ACCEPTED ", "Abandoned", "x", ""];
        let rows: Vec<Option<&str>> = (0..3 * CODE_ROWS + 17)
            .map(|i| match (i / (1 + i % 7)) % 9 {
                6 | 7 => None,
                k => Some(texts[k % texts.len()]),
            })
            .collect();
        let array = arrow::array::StringArray::from(rows.clone());
        let words = ["accepted", "abandoned"];
        let codes = word_codes(&array, &words, "c");
        let expected: Vec<Option<u8>> = (rows.iter())
            .map(|t| t.and_then(|t| crate::source::codes::word_index(t, &words)))
            .map(|i| i.map(|i| i as u8))
            .collect();
        assert_eq!(codes.len(), rows.len());
        assert_eq!(codes.iter().collect::<Vec<_>>(), expected);
        assert!(expected.contains(&None) && expected.contains(&Some(1)));
    }

    #[test]
    fn size_bounds_look_past_nulls_into_every_chunk() {
        // Counts: the largest size after a null and in a later chunk still counts.
        let counts = |v: &[Option<i64>]| Int64Chunked::from_slice_options("a".into(), v);
        let mut a = counts(&[Some(1), None]);
        a.append(&counts(&[None, Some(-(1 << 62)), Some(-(1 << 62))]))
            .unwrap();
        assert_eq!(a.chunks().len(), 2);
        let df = DataFrame::new(a.len(), vec![a.into_column()]).unwrap();
        assert!(check_sums_fit(&df, &["a"]).is_err());
        let one = counts(&[None, Some(i64::MIN + 1), None]);
        let df = DataFrame::new(one.len(), vec![one.into_column()]).unwrap();
        assert!(check_sums_fit(&df, &["a"]).is_ok());
        // Durations in seconds, the same.
        // The largest size after a null and in a later chunk still counts.
        let chunk = |v: &[Option<f64>]| Float64Chunked::from_slice_options("s".into(), v);
        let mut s = chunk(&[Some(1.0), None]);
        s.append(&chunk(&[None, Some(-9.2e12), Some(-9.2e12)]))
            .unwrap();
        assert_eq!(s.chunks().len(), 2);
        let df = DataFrame::new(s.len(), vec![s.into_column()]).unwrap();
        assert!(with_micros(df, &["s"]).is_err());
        let one = chunk(&[None, Some(-9.2e12), None]);
        let df = DataFrame::new(one.len(), vec![one.into_column()]).unwrap();
        assert!(with_micros(df, &["s"]).is_ok());
        // What a null's slot holds is not read: neither counted nor refused.
        let slots =
            polars_arrow::array::PrimitiveArray::<f64>::from_vec(vec![1.0, f64::NAN, 9.2e12])
                .with_validity(Some([true, false, false].into_iter().collect()));
        let nulls = Float64Chunked::from_chunk_iter("s".into(), [slots.clone(), slots]);
        let df = DataFrame::new(nulls.len(), vec![nulls.into_column()]).unwrap();
        let us = with_micros(df, &["s"]).unwrap();
        let us = us.column(&micros_column("s")).unwrap().i64().unwrap();
        assert_eq!(
            us.iter().collect::<Vec<_>>(),
            [Some(1_000_000), None, None, Some(1_000_000), None, None]
        );
    }

    #[test]
    fn microseconds_are_rounded_as_polars_rounds_half_to_even() {
        // Durations of every kind: to the millisecond as exports write them, ties of half a
        // microsecond either way, negative ones, fractions below a microsecond, and sizes
        // where a float holds no fraction; polars' own rounding (to the nearest, ties to
        // even) of the same products is the reference.
        let mut seconds = vec![0.0, -0.0, 0.5e-6, 1.5e-6, 2.5e-6, -0.5e-6, -2.5e-6, 4.4e-7];
        seconds.extend([
            4_503_599_627.370_496,
            -4_503_599_627.370_497,
            1e10,
            -1.000_000_000_5e10,
        ]);
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for i in 0..50_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let v = match i % 4 {
                0 => (x % 10_000_000) as f64 / 1000.0,
                1 => (x % 100_000_000) as f64 / 2e6 - 25.0,
                2 => f64::from_bits(x >> 12 | 0x3ff0_0000_0000_0000) * 1e3 - 1.5e3,
                _ => (x % 1_000_000) as f64 + 0.5e-6 * ((x >> 40) % 3) as f64,
            };
            seconds.push(v);
        }
        let df = DataFrame::new(seconds.len(), vec![Column::new("s".into(), seconds)]).unwrap();
        let reference = df
            .clone()
            .lazy()
            .select([(col("s") * lit(1e6))
                .round(0, RoundMode::HalfToEven)
                .strict_cast(DataType::Int64)
                .alias("r")])
            .collect()
            .unwrap();
        let ours = with_micros(df, &["s"]).unwrap();
        let ours = ours.column(&micros_column("s")).unwrap().i64().unwrap();
        let reference = reference.column("r").unwrap().i64().unwrap();
        assert_eq!(ours.len(), reference.len());
        let differ = (ours.iter().zip(reference.iter()))
            .filter(|(a, b)| a != b)
            .count();
        assert_eq!(differ, 0);
        // Ties went both ways.
        assert_eq!(ours.get(2), Some(0));
        assert_eq!(ours.get(3), Some(2));
        assert_eq!(ours.get(4), Some(2));
        assert_eq!(ours.get(6), Some(-2));
    }

    #[test]
    fn percentiles_skip_nulls_and_rows_left_out_in_every_piece() {
        // Two pieces, nulls and rows the condition leaves out: the kept values are 1, 3 and
        // 4 (linear interpolation: the median 3, the 90th percentile 3 + 0.8).
        let piece = |v: &[Option<f64>], c: &[bool]| {
            DataFrame::new(
                v.len(),
                vec![
                    Column::new("v".into(), v.to_vec()),
                    Column::new("c".into(), c.to_vec()),
                    Column::new("g".into(), vec![1i64; v.len()]),
                ],
            )
            .unwrap()
        };
        let mut df = piece(&[Some(4.0), None, Some(10.0)], &[true, true, false]);
        df.vstack_mut_owned(piece(&[Some(3.0), Some(1.0), None], &[true, true, false]))
            .unwrap();
        assert_eq!(df.column("v").unwrap().n_chunks(), 2);
        let aggs = || [0.5, 0.9].map(|q| quantile_if(col("v"), col("c"), q, &format!("p{q}")));
        let totals = df.clone().lazy().select(aggs()).collect().unwrap();
        let grouped = df
            .lazy()
            .group_by([col("g")])
            .agg(aggs())
            .collect()
            .unwrap();
        for out in [totals, grouped] {
            let at = |c: &str| out.column(c).unwrap().f64().unwrap().get(0).unwrap();
            assert_eq!(at("p0.5"), 3.0);
            assert!((at("p0.9") - 3.8).abs() < 1e-12, "{}", at("p0.9"));
        }
    }

    #[test]
    fn exact_mean_does_not_depend_on_row_order() {
        // In f64 seconds, 0.1 + 0.2 + 0.3 and 0.3 + 0.2 + 0.1 differ in the last bit; the
        // integer sum does not, and the mean is the correctly rounded 0.2.
        assert_ne!((0.1 + 0.2) + 0.3, (0.3 + 0.2) + 0.1);
        let a = mean_of(&[100_000, 200_000, 300_000]);
        let b = mean_of(&[300_000, 200_000, 100_000]);
        assert_eq!(a, Some(0.2));
        assert_eq!(a, b);
        assert_eq!(mean_of(&[]), None);
    }
}
