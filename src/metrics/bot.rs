//! Bot KPIs over `bot_conversations`: the Ultimate "Popular Metrics", defined as the vendor's
//! SQL defines them, NULL semantics included.
//!
//! | column | formula (N = conversations in the group) |
//! |---|---|
//! | total_conversations | N (one row per deduplicated conversation_id) |
//! | bot_handled_rate | N(status = 'botHandled') / N |
//! | deflection_rate | N(status NOT IN ('email','agent','customEscalation')) / N — a null status is *not* deflected (SQL `NOT IN` on NULL) |
//! | escalation_rate | N(status IN ('email','agent','customEscalation')) / N |
//! | failed_escalation_rate | N(status = 'failedEscalation') / N |
//! | informed_rate | N(last_resolution = 'informed') / N |
//! | automation_rate | N(last_resolution IN ('informed','resolved')) / N |
//! | messages_understood_rate | (Σvisitor − Σnot_understood) / Σvisitor, each Σ over non-null values (SQL SUM; all-null is null) |
//! | llm_fallback_rate | N(is_llm ∧ llm_fallback_count > 0) / N(is_llm) |
//! | avg_duration_sec | mean(end − start) over conversations with both times |
//!
//! Every rate is null when its denominator is 0.

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, DictionaryArray, RecordBatch, StringArray,
};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{
    ArrowDictionaryKeyType, ArrowNativeType, DataType as ArrowType, Field, Int32Type, Schema,
    TimestampMicrosecondType, UInt8Type,
};
use polars::prelude::*;

use super::{
    aggregate, check_sums_fit, count_if, exact_mean_seconds, names, rate, ratio, rows, sql_sum,
    Query, Spec,
};
use rayon::prelude::*;

use crate::bridge::to_polars;
use crate::error::Result;
use crate::table::BOT_CONVERSATIONS;
use crate::time::utc_date;

/// The statuses the vendor SQL counts as an escalation.
pub const ESCALATION_STATUSES: &[&str] = &["email", "agent", "customEscalation"];
pub const BOT_HANDLED: &str = "botHandled";
pub const FAILED_ESCALATION: &str = "failedEscalation";
pub const INFORMED: &str = "informed";
pub const AUTOMATED_RESOLUTIONS: &[&str] = &["informed", "resolved"];

pub const DIMENSIONS: &[&str] = &[
    "bot_id",
    "bot_name",
    "language",
    "channel",
    "conversation_status",
    "last_resolution",
    "first_intent",
    "last_intent",
    "first_meaningful_intent",
    "is_llm_conversation",
    "test_mode",
];

/// Which timestamp books a conversation into the range and a bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum TimeBasis {
    /// conversation_start_time (the arrival view).
    #[default]
    Start,
    /// conversation_end_time (the export's own day attribution).
    End,
}

/// How statuses and resolutions are compared with the vendor's values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum StatusMatch {
    /// Exactly, as the vendor SQL does (`bot_handled` is not `botHandled`).
    #[default]
    Exact,
    /// Ignoring case and separators, so `bot_handled`, `BOT-HANDLED` and `botHandled` match.
    Normalized,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub time: TimeBasis,
    /// Drop conversations with test_mode = true.
    pub exclude_test: bool,
    /// Bot Summary parity (vendor FAQ): keep only bot_messages_count > 0.
    pub bot_summary: bool,
    pub status_match: StatusMatch,
    /// With `--by first_meaningful_intent`, keep conversations that have none as a null
    /// group (the vendor SQL's inner join drops them).
    pub include_no_intent: bool,
}

/// The KPI table and what the user should know about it.
pub struct Report {
    pub frame: DataFrame,
    pub warnings: Vec<String>,
}

/// The metric columns, in output order.
pub const COLUMNS: &[&str] = &[
    "total_conversations",
    "bot_handled_conversations",
    "bot_handled_rate",
    "deflected_conversations",
    "deflection_rate",
    "escalated_conversations",
    "escalation_rate",
    "failed_escalation_conversations",
    "failed_escalation_rate",
    "informed_conversations",
    "informed_rate",
    "automated_conversations",
    "automation_rate",
    "visitor_messages",
    "not_understood_messages",
    "understood_messages",
    "messages_understood_rate",
    "llm_conversations",
    "llm_fallback_conversations",
    "llm_fallback_rate",
    "avg_duration_sec",
];

/// Chunks smaller than this are concatenated before polars sees them (see
/// [`crate::table::coalesce`]): a read's chunks hold up to 8,192 records, so only the
/// chunks of small files (and files' last chunks) are copied.
const COALESCE_ROWS: usize = 4096;

/// Computes the bot KPIs from `bot_conversations`, given as batches in any order (one
/// batch, or the chunks of a metrics-only read): every KPI is order-independent.
pub fn compute(conversations: &[RecordBatch], q: &Query, o: &Options) -> Result<Report> {
    let time_column = time_column(o);
    let needed = needed_columns(q, o);
    let empty = [RecordBatch::new_empty(BOT_CONVERSATIONS.schema())];
    let parts = match conversations {
        [] => &empty[..],
        parts => parts,
    };
    // The chunks become chunks of the polars columns: shared, not copied (strings are
    // converted to polars' views, in parallel).
    // The statuses are counted as flags (see `status_flags`); they stay as text only when
    // they are dimensions.
    // The end time goes in only when it books the rows: the mean duration reads the
    // durations `select` computes per chunk.
    let columns: Vec<&str> = needed
        .iter()
        .copied()
        .filter(|c| !STATUS_COLUMNS.contains(c) || q.by.iter().any(|d| d == c))
        .filter(|&c| c != END || time_column == END)
        .collect();
    let selected = parts
        .par_iter()
        .map(|part| select(part, &columns, o.status_match))
        .collect::<Result<Vec<RecordBatch>>>()?;
    let frames = crate::table::coalesce(selected, COALESCE_ROWS)?
        .par_iter()
        .map(to_polars)
        .collect::<Result<Vec<DataFrame>>>()?;
    let mut df: Option<DataFrame> = None;
    for next in frames {
        match df.as_mut() {
            Some(df) => {
                df.vstack_mut_owned(next)?;
            }
            None => df = Some(next),
        }
    }
    let df = df.unwrap_or_default();

    let mut filter: Option<Expr> = None;
    let mut and = |e: Expr| filter = Some(filter.take().map_or(e.clone(), |f| f.and(e)));
    if o.exclude_test {
        and(col("test_mode").eq(lit(true)).fill_null(lit(false)).not());
    }
    if o.bot_summary {
        and(col("bot_messages_count").gt(lit(0)).fill_null(lit(false)));
    }
    if q.by.iter().any(|d| d == "first_meaningful_intent") && !o.include_no_intent {
        and(col("first_meaningful_intent").is_not_null());
    }
    let df = match filter {
        Some(f) => df.lazy().filter(f).collect()?,
        None => df,
    };
    check_sums_fit(
        &df,
        &["visitor_messages_count", "not_understood_messages_count"],
    )?;
    check_sums_fit(&df, &[DURATION])?;

    let flag = |f: Flag| col(FLAGS[f as usize]);
    let aggs = vec![
        rows("total_conversations"),
        count_if(flag(Flag::BotHandled), "bot_handled_conversations"),
        count_if(flag(Flag::Deflected), "deflected_conversations"),
        count_if(flag(Flag::Escalated), "escalated_conversations"),
        count_if(
            flag(Flag::FailedEscalation),
            "failed_escalation_conversations",
        ),
        count_if(flag(Flag::Informed), "informed_conversations"),
        count_if(flag(Flag::Automated), "automated_conversations"),
        sql_sum("visitor_messages_count", "visitor_messages"),
        sql_sum("not_understood_messages_count", "not_understood_messages"),
        count_if(
            col("is_llm_conversation").eq(lit(true)),
            "llm_conversations",
        ),
        count_if(
            col("is_llm_conversation")
                .eq(lit(true))
                .and(col("llm_fallback_count").gt(lit(0))),
            "llm_fallback_conversations",
        ),
        exact_mean_seconds(col(DURATION), "avg_duration_sec"),
    ];
    let understood = || col("visitor_messages") - col("not_understood_messages");
    let finals = vec![
        rate(
            "bot_handled_conversations",
            "total_conversations",
            "bot_handled_rate",
        ),
        rate(
            "deflected_conversations",
            "total_conversations",
            "deflection_rate",
        ),
        rate(
            "escalated_conversations",
            "total_conversations",
            "escalation_rate",
        ),
        rate(
            "failed_escalation_conversations",
            "total_conversations",
            "failed_escalation_rate",
        ),
        rate(
            "informed_conversations",
            "total_conversations",
            "informed_rate",
        ),
        rate(
            "automated_conversations",
            "total_conversations",
            "automation_rate",
        ),
        understood().alias("understood_messages"),
        ratio(
            understood(),
            col("visitor_messages"),
            "messages_understood_rate",
        ),
        rate(
            "llm_fallback_conversations",
            "llm_conversations",
            "llm_fallback_rate",
        ),
    ];
    let frame = aggregate(
        df,
        q,
        Spec {
            time_column,
            dimensions: DIMENSIONS,
            aggs,
            finals,
            columns: names(COLUMNS),
        },
    )?;
    let mut warnings = missing_next_day(conversations, q, o);
    // The understood rate is printed: say when its counter is never filled.
    warnings.extend(
        crate::inspect::findings::understood_counter_all_zero(conversations).map(|f| f.message),
    );
    Ok(Report { frame, warnings })
}

/// The `bot_conversations` columns the KPIs read for this query.
fn needed_columns<'a>(q: &'a Query, o: &Options) -> Vec<&'a str> {
    // Both times: the booking time is one of them, and the mean duration needs both.
    let mut needed: Vec<&str> = vec![
        "conversation_status",
        "last_resolution",
        "visitor_messages_count",
        "not_understood_messages_count",
        "is_llm_conversation",
        "llm_fallback_count",
        START,
        END,
    ];
    // Columns only a filter reads are read only for that filter: a read skips the fields
    // of the columns not asked for, and the intents array (behind the first meaningful
    // intent) is the heaviest field a metrics run would otherwise decode.
    if o.bot_summary {
        needed.push("bot_messages_count");
    }
    if o.exclude_test {
        needed.push("test_mode");
    }
    for d in &q.by {
        if !needed.contains(&d.as_str()) && DIMENSIONS.contains(&d.as_str()) {
            needed.push(d);
        }
    }
    needed
}

/// The columns to read for this query, from the lake or the files: what the KPIs read
/// (both times among them: booking and the missing-next-day check). Rows read this way are
/// not put in canonical order, so the key is not needed either.
pub fn lake_columns(q: &Query, o: &Options) -> Vec<String> {
    needed_columns(q, o).into_iter().map(String::from).collect()
}

fn time_column(o: &Options) -> &'static str {
    match o.time {
        TimeBasis::Start => START,
        TimeBasis::End => END,
    }
}

const START: &str = "conversation_start_time";
const END: &str = "conversation_end_time";

/// Each row's `END − START` in microseconds (null when either is null), the column the
/// mean duration is taken of (a name no table column has).
///
/// Why computed per chunk rather than by polars: polars subtracts the two columns of the
/// whole history at once, a column as large as one of the times (24 MB for 3 million
/// conversations) at the peak of a run, and needs the end time only for it.
const DURATION: &str = "_duration_us";

/// [`DURATION`] of every row of `batch` (polars' subtraction: wrapping, as its kernels do).
fn durations(batch: &RecordBatch) -> Result<ArrayRef> {
    let schema = batch.schema();
    let time = |name: &str| -> Result<_> {
        Ok(batch
            .column(schema.index_of(name)?)
            .as_primitive::<TimestampMicrosecondType>()
            .reinterpret_cast::<arrow::datatypes::Int64Type>())
    };
    let (start, end) = (time(START)?, time(END)?);
    let d: arrow::array::Int64Array =
        arrow::compute::kernels::arity::binary(&end, &start, i64::wrapping_sub)?;
    Ok(Arc::new(d))
}

/// The columns the status flags are computed from.
pub const STATUS_COLUMNS: [&str; 2] = ["conversation_status", "last_resolution"];

/// What a conversation's status and last resolution count as (see the module table).
#[derive(Clone, Copy)]
enum Flag {
    BotHandled,
    Deflected,
    Escalated,
    FailedEscalation,
    Informed,
    Automated,
}

/// The flags' columns in the frame the KPIs aggregate, in [`Flag`] order (names no table
/// column has).
const FLAGS: [&str; 6] = [
    "_bot_handled",
    "_deflected",
    "_escalated",
    "_failed_escalation",
    "_informed",
    "_automated",
];

/// The [`Flag`]s of every row of `batch`, as boolean columns without nulls: a null status
/// or resolution counts as none of the values (SQL `=` and `IN` on NULL), and a null status
/// is not deflected (`NOT IN` on NULL). Why here: computed per chunk, in parallel, instead
/// of polars comparing the two columns as text once per value, after converting them to
/// its own strings: that was a tenth of a metrics run. A read from the files gives the
/// statuses as codes, whose values are each matched once (see [`or_each_row`]).
fn status_flags(batch: &RecordBatch, status_match: StatusMatch) -> Result<Vec<ArrayRef>> {
    let schema = batch.schema();
    let column = |name: &str| -> Result<&ArrayRef> { Ok(batch.column(schema.index_of(name)?)) };
    let m = |s: &str| match status_match {
        StatusMatch::Exact => s.to_string(),
        StatusMatch::Normalized => normalize(s),
    };
    let (handled, failed, informed) = (m(BOT_HANDLED), m(FAILED_ESCALATION), m(INFORMED));
    let escalation: Vec<String> = ESCALATION_STATUSES.iter().map(|s| m(s)).collect();
    let automated: Vec<String> = AUTOMATED_RESOLUTIONS.iter().map(|s| m(s)).collect();
    let is = |v: Option<&str>, c: &String| v.is_some_and(|v| same(v, c));
    let bit = |f: Flag, on: bool| u8::from(on) << f as u8;
    // Each row's flags as the bits of a byte, then each flag's column from those bytes, 64
    // rows at a time.
    let mut bits = vec![0u8; batch.num_rows()];
    or_each_row(&mut bits, column(STATUS_COLUMNS[0])?, status_match, |s| {
        let escalated = escalation.iter().any(|e| is(s, e));
        bit(Flag::BotHandled, is(s, &handled))
            | bit(Flag::Deflected, s.is_some() && !escalated)
            | bit(Flag::Escalated, escalated)
            | bit(Flag::FailedEscalation, is(s, &failed))
    })?;
    or_each_row(&mut bits, column(STATUS_COLUMNS[1])?, status_match, |r| {
        bit(Flag::Informed, is(r, &informed))
            | bit(Flag::Automated, automated.iter().any(|a| is(r, a)))
    })?;
    Ok((0..FLAGS.len())
        .map(|f| {
            let column = BooleanBuffer::collect_bool(bits.len(), |i| bits[i] >> f & 1 == 1);
            Arc::new(BooleanArray::new(column, None)) as ArrayRef
        })
        .collect())
}

/// ORs `flags` of each row's text of `column` (`None` when null; normalized first when
/// asked) into `bits`. Codes (dictionaries of text: `UInt8` keys from the files, `Int32`
/// from the lake) are looked up in `flags` of each distinct value; any other column is read
/// as text, exact matching with no copy.
fn or_each_row(
    bits: &mut [u8],
    column: &ArrayRef,
    status_match: StatusMatch,
    flags: impl Fn(Option<&str>) -> u8,
) -> Result<()> {
    let of = |v: Option<&str>| match status_match {
        StatusMatch::Exact => flags(v),
        StatusMatch::Normalized => flags(v.map(normalize).as_deref()),
    };
    if let Some(codes) = column.as_dictionary_opt::<UInt8Type>() {
        if or_each_code(bits, codes, &of) {
            return Ok(());
        }
    }
    if let Some(codes) = column.as_dictionary_opt::<Int32Type>() {
        if or_each_code(bits, codes, &of) {
            return Ok(());
        }
    }
    let text = arrow::compute::cast(column, &ArrowType::Utf8)?;
    let text = text.as_string::<i32>();
    // Each distinct text's flags are worked out once, up to a few hundred texts (statuses
    // are a handful of words; a column of free text is matched row by row past that). On
    // the lake's text, matching every row against every status was 90 of 300 ms.
    const DISTINCT: usize = 256;
    let mut seen: std::collections::HashMap<&str, u8, foldhash::fast::FixedState> =
        std::collections::HashMap::with_capacity_and_hasher(DISTINCT, Default::default());
    let null = of(None);
    for (i, b) in bits.iter_mut().enumerate() {
        *b |= match text_at(text, i) {
            None => null,
            Some(v) => match seen.get(v) {
                Some(&f) => f,
                None => {
                    let f = of(Some(v));
                    if seen.len() < DISTINCT {
                        seen.insert(v, f);
                    }
                    f
                }
            },
        };
    }
    Ok(())
}

/// [`or_each_row`] for codes of text: false (nothing done) if the values are not text.
fn or_each_code<K: ArrowDictionaryKeyType>(
    bits: &mut [u8],
    codes: &DictionaryArray<K>,
    of: &impl Fn(Option<&str>) -> u8,
) -> bool {
    let Some(values) = codes.values().as_string_opt::<i32>() else {
        return false;
    };
    let by_code: Vec<u8> = (0..values.len()).map(|c| of(text_at(values, c))).collect();
    let null = of(None);
    let keys = codes.keys();
    for (i, b) in bits.iter_mut().enumerate() {
        *b |= match keys.is_valid(i) {
            // A key is below the values' length (checked when the array was made).
            true => by_code[keys.value(i).as_usize()],
            false => null,
        };
    }
    true
}

/// Lower case without separators: `bot_handled`, `Bot-Handled` and `botHandled` agree.
pub fn normalize(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// `a == b`, for the short texts of statuses without a call to `memcmp`: texts of 4 to 16
/// bytes are compared as two overlapping words. Why: called a few times per row, `memcmp`
/// was half the cost of the flags.
#[inline]
fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    let word = |s: &[u8], i: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&s[i..i + 8]);
        u64::from_le_bytes(w)
    };
    let half = |s: &[u8], i: usize| {
        let mut w = [0u8; 4];
        w.copy_from_slice(&s[i..i + 4]);
        u32::from_le_bytes(w)
    };
    match n {
        8..=16 => word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8),
        4..=7 => half(a, 0) == half(b, 0) && half(a, n - 4) == half(b, n - 4),
        _ => a == b,
    }
}

/// Row `i` of `a`, `None` when null.
fn text_at(a: &StringArray, i: usize) -> Option<&str> {
    a.is_valid(i).then(|| a.value(i))
}

/// The named columns of the batch (statuses normalized when asked), then the
/// [`status_flags`].
fn select(batch: &RecordBatch, names: &[&str], status_match: StatusMatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    let mut fields = Vec::with_capacity(names.len());
    let mut arrays = Vec::with_capacity(names.len());
    for name in names {
        let i = schema.index_of(name)?;
        let mut array = batch.column(i).clone();
        // Statuses read as codes are dimensions here: polars groups text.
        if STATUS_COLUMNS.contains(name) && array.data_type() != &ArrowType::Utf8 {
            array = arrow::compute::cast(&array, &ArrowType::Utf8)?;
        }
        if status_match == StatusMatch::Normalized
            && (*name == "conversation_status" || *name == "last_resolution")
        {
            let normalized: StringArray = array
                .as_string::<i32>()
                .iter()
                .map(|v| v.map(normalize))
                .collect();
            array = std::sync::Arc::new(normalized);
        }
        fields.push(
            schema
                .field(i)
                .clone()
                .with_data_type(array.data_type().clone()),
        );
        arrays.push(array);
    }
    fields.push(Field::new(DURATION, ArrowType::Int64, true));
    arrays.push(durations(batch)?);
    for (name, flag) in FLAGS.iter().zip(status_flags(batch, status_match)?) {
        fields.push(Field::new(*name, ArrowType::Boolean, false));
        arrays.push(flag);
    }
    Ok(RecordBatch::try_new(
        std::sync::Arc::new(Schema::new(fields)),
        arrays,
    )?)
}

/// Export files hold conversations by *end* day, so a range booked by start time is only
/// complete once the file for the day after it has been read (vendor FAQ).
fn missing_next_day(conversations: &[RecordBatch], q: &Query, o: &Options) -> Vec<String> {
    let (Some(to), TimeBasis::Start) = (q.to, o.time) else {
        return Vec::new();
    };
    let Some(next) = utc_date(to - 1).succ_opt() else {
        return Vec::new();
    };
    let latest = conversations
        .iter()
        .filter_map(|part| {
            let i = part.schema().index_of(END).ok()?;
            let ends = part.column(i).as_primitive::<TimestampMicrosecondType>();
            ends.iter().flatten().max()
        })
        .max();
    if latest.is_some_and(|t| utc_date(t) >= next) {
        return Vec::new();
    }
    vec![format!(
        "no conversation ending on {next} (UTC) was read: the export for the day after the range seems missing, \
         so conversations that started in the range but ended after it are not counted \
         (add that day's file for complete numbers)"
    )]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalization_matches_spellings() {
        assert_eq!(normalize("bot_handled"), normalize("botHandled"));
        assert_eq!(
            normalize("Custom-Escalation"),
            normalize("customEscalation")
        );
        assert_ne!(normalize("agent"), normalize("email"));
    }

    #[test]
    fn short_texts_compare_as_equality_does() {
        let texts = [
            "",
            "a",
            "ab",
            "abc",
            "abcd",
            "abce",
            "abcde",
            "abcdf",
            "xbcde",
            "agent",
            "email",
            "informed",
            "resolved",
            "informee",
            "botHandled",
            "botHandlee",
            "customEscalation",
            "failedEscalation",
            "customEscalatioN",
            "CustomEscalation",
            "customEscalations",
            "customEscalationx",
        ];
        for a in texts {
            for b in texts {
                assert_eq!(same(a, b), a == b, "{a} {b}");
            }
        }
    }

    #[test]
    fn status_flags_follow_the_vendor_sql() {
        let status = [
            Some("botHandled"),
            Some("email"),
            Some("agent"),
            Some("customEscalation"),
            Some("failedEscalation"),
            None,
            Some(""),
            Some("Bot-Handled"),
            Some("EMAIL"),
        ];
        let resolution = [
            Some("informed"),
            Some("resolved"),
            None,
            Some("Informed"),
            Some("other"),
            Some("resolved"),
            None,
            Some("RESOLVED"),
            Some("informed"),
        ];
        let batch = RecordBatch::try_from_iter([
            (
                "conversation_status",
                Arc::new(StringArray::from(status.to_vec())) as ArrayRef,
            ),
            (
                "last_resolution",
                Arc::new(StringArray::from(resolution.to_vec())) as ArrayRef,
            ),
        ])
        .expect("batch");
        // Per flag, in `Flag` order, the rows set: `bot_handled`, `deflected`,
        // `escalated`, `failed_escalation`, `informed`, `automated`.
        // The same statuses as codes, as a read from the files gives them.
        let codes = {
            let code = ArrowType::Dictionary(Box::new(ArrowType::UInt8), Box::new(ArrowType::Utf8));
            let columns = batch.columns().iter();
            let cast = columns.map(|c| arrow::compute::cast(c, &code).expect("codes"));
            let names = ["conversation_status", "last_resolution"];
            RecordBatch::try_from_iter(names.into_iter().zip(cast)).expect("batch")
        };
        assert!(matches!(
            codes.column(0).data_type(),
            ArrowType::Dictionary(..)
        ));
        let set = |m| -> Vec<Vec<usize>> {
            let from_codes = status_flags(&codes, m).expect("flags");
            let from_text = status_flags(&batch, m).expect("flags");
            assert_eq!(from_codes.len(), from_text.len());
            for (a, b) in from_codes.iter().zip(&from_text) {
                assert_eq!(a.to_data(), b.to_data());
            }
            from_text
                .iter()
                .map(|f| {
                    let f = f.as_boolean();
                    assert_eq!(f.null_count(), 0);
                    (0..f.len()).filter(|&i| f.value(i)).collect()
                })
                .collect()
        };
        assert_eq!(
            set(StatusMatch::Exact),
            [
                vec![0],
                vec![0, 4, 6, 7, 8],
                vec![1, 2, 3],
                vec![4],
                vec![0, 8],
                vec![0, 1, 5, 8],
            ]
        );
        assert_eq!(
            set(StatusMatch::Normalized),
            [
                vec![0, 7],
                vec![0, 4, 6, 7],
                vec![1, 2, 3, 8],
                vec![4],
                vec![0, 3, 8],
                vec![0, 1, 3, 5, 7, 8],
            ]
        );
    }
}
