//! Call KPIs over Samespace `calls`, joined to the CSAT records (`csat_calls`) by uuid for
//! after-call work, booked by `start_time`.
//!
//! Which field holds what: `duration` is the connected time of a call (answer → end) and
//! *includes* `hold_duration`; after-call work exists only in the CSAT record of a call
//! (`acw_duration`). So talk = duration, AHT = duration + ACW (talk + hold + ACW, without
//! counting hold twice), over answered calls that have an ACW value: a missing ACW is not
//! taken as 0.
//!
//! | column | formula |
//! |---|---|
//! | calls, inbound_calls, outbound_calls | rows; direction in/inbound, out/outbound |
//! | answered_calls | answer_time set |
//! | answered_inbound, unanswered_inbound, answer_rate | answered_inbound / inbound_calls |
//! | avg_talk_sec | mean duration of answered calls |
//! | avg_hold_sec, held_calls, hold_rate | mean hold_duration of answered calls; held_calls (hold > 0) / answered_calls |
//! | acw_calls, avg_acw_sec | answered calls with ACW; their mean ACW |
//! | aht_sec | mean (duration + ACW) over acw_calls |
//! | avg_time_to_answer_sec, time_to_answer_p50_sec, time_to_answer_p90_sec | answer_time − start_time of answered inbound calls (includes ring/IVR) |
//! | avg_mos | mean mos of answered calls (a failed call may carry a default MOS) |

use arrow::array::RecordBatch;
use polars::prelude::*;

use super::{
    aggregate, count_if, frame, is_word, mean_if, names, quantile_if, ratio, rows, with_word_codes,
    Query, Spec,
};
use crate::error::Result;

pub const DIMENSIONS: &[&str] = &["team_name", "user_display_name", "direction", "status"];

pub const COLUMNS: &[&str] = &[
    "calls",
    "inbound_calls",
    "outbound_calls",
    "answered_calls",
    "answered_inbound",
    "unanswered_inbound",
    "answer_rate",
    "avg_talk_sec",
    "avg_hold_sec",
    "held_calls",
    "hold_rate",
    "acw_calls",
    "avg_acw_sec",
    "aht_sec",
    "avg_time_to_answer_sec",
    "time_to_answer_p50_sec",
    "time_to_answer_p90_sec",
    "avg_mos",
];

/// The `calls` columns the call KPIs read, besides the `--by` dimensions.
pub const READ: &[&str] = &[
    "uuid",
    "start_time",
    "answer_time",
    "direction",
    "duration_sec",
    "hold_duration_sec",
    "mos",
];

/// The `calls` columns a run reads: [`READ`] and `by`'s.
pub fn columns(by: &[String]) -> Vec<String> {
    super::read_columns(READ, by)
}

/// `direction` as a code of these (compared case-insensitively).
const DIRECTION: &str = "__direction";
const DIRECTIONS: [&str; 4] = ["in", "inbound", "out", "outbound"];

pub fn compute(calls: &RecordBatch, csat_calls: &RecordBatch, q: &Query) -> Result<DataFrame> {
    let df = frame(calls, READ, &q.by)?;
    let df = with_word_codes(df, calls, "direction", &DIRECTIONS, DIRECTION)?;
    let acw = frame(csat_calls, &["call_uuid", "acw_duration_sec"], &[])?;
    let joined = df
        .lazy()
        .join(
            acw.lazy(),
            [col("uuid")],
            [col("call_uuid")],
            JoinArgs::new(JoinType::Left),
        )
        .with_column(
            ((col("answer_time").cast(DataType::Int64) - col("start_time").cast(DataType::Int64))
                .cast(DataType::Float64)
                / lit(1e6))
            .alias("time_to_answer_sec"),
        )
        .collect()?;
    let inbound = || is_word(DIRECTION, 0).or(is_word(DIRECTION, 1));
    let answered = || col("answer_time").is_not_null();
    let with_acw = || answered().and(col("acw_duration_sec").is_not_null());
    aggregate(
        joined,
        q,
        Spec {
            time_column: "start_time",
            dimensions: DIMENSIONS,
            aggs: vec![
                rows("calls"),
                count_if(inbound(), "inbound_calls"),
                count_if(
                    is_word(DIRECTION, 2).or(is_word(DIRECTION, 3)),
                    "outbound_calls",
                ),
                count_if(answered(), "answered_calls"),
                count_if(inbound().and(answered()), "answered_inbound"),
                count_if(inbound().and(answered().not()), "unanswered_inbound"),
                mean_if(col("duration_sec"), answered(), "avg_talk_sec"),
                mean_if(col("hold_duration_sec"), answered(), "avg_hold_sec"),
                count_if(
                    answered().and(col("hold_duration_sec").gt(lit(0.0))),
                    "held_calls",
                ),
                count_if(with_acw(), "acw_calls"),
                mean_if(col("acw_duration_sec"), with_acw(), "avg_acw_sec"),
                mean_if(
                    col("duration_sec") + col("acw_duration_sec"),
                    with_acw(),
                    "aht_sec",
                ),
                mean_if(
                    col("time_to_answer_sec"),
                    inbound().and(answered()),
                    "avg_time_to_answer_sec",
                ),
                quantile_if(
                    col("time_to_answer_sec"),
                    inbound().and(answered()),
                    0.5,
                    "time_to_answer_p50_sec",
                ),
                quantile_if(
                    col("time_to_answer_sec"),
                    inbound().and(answered()),
                    0.9,
                    "time_to_answer_p90_sec",
                ),
                mean_if(col("mos"), answered(), "avg_mos"),
            ],
            finals: vec![
                ratio(col("answered_inbound"), col("inbound_calls"), "answer_rate"),
                ratio(col("held_calls"), col("answered_calls"), "hold_rate"),
            ],
            columns: names(COLUMNS),
        },
    )
}
