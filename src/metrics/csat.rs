//! CSAT over Samespace `csat_answers`: one row per question (questions are never pooled),
//! booked by the answer's timestamp.
//!
//! A response is a whole number from 0 to 10: no survey scale reaches past 0–10, so a
//! "-5" or a "42" is a broken answer, counted apart and left out, not a score that would
//! pull the mean and hide the question's scale. The scale of a question is detected from
//! all its responses: the smallest of 5, 7 and 10 that holds the highest. Top-2-box: the
//! two highest points of the scale (4–5, 6–7, 9–10).
//!
//! | column | formula |
//! |---|---|
//! | question | the question's text |
//! | scale_max | the detected scale |
//! | responses | answers that are whole numbers from 0 to 10 |
//! | non_numeric_answers | answers that are not whole numbers (left out) |
//! | out_of_range_answers | whole numbers below 0 or above 10 (left out) |
//! | avg_score | mean response |
//! | satisfied, csat_share | N(response ≥ scale_max − 1) / responses |

use std::collections::HashMap;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::Int64Type;
use polars::prelude::*;

use super::{aggregate, count_if, frame, lead, names, ratio, Query, Spec};
use crate::error::Result;

pub const DIMENSIONS: &[&str] = &["question_id", "team_name", "user_display_name", "direction"];

pub const COLUMNS: &[&str] = &[
    "question",
    "scale_max",
    "responses",
    "non_numeric_answers",
    "out_of_range_answers",
    "avg_score",
    "satisfied",
    "csat_share",
];

/// The answers that count as responses: whole numbers on some survey scale.
const RESPONSE: std::ops::RangeInclusive<i64> = 0..=10;

/// The scale of each question from its highest response.
fn scales(answers: &RecordBatch) -> Result<HashMap<Option<i64>, i64>> {
    let schema = answers.schema();
    let qid = answers
        .column(schema.index_of("question_id")?)
        .as_primitive::<Int64Type>();
    let ans = answers
        .column(schema.index_of("answer")?)
        .as_primitive::<Int64Type>();
    let mut max: HashMap<Option<i64>, i64> = HashMap::new();
    for (q, a) in qid.iter().zip(ans.iter()) {
        if let Some(a) = a.filter(|a| RESPONSE.contains(a)) {
            let m = max.entry(q).or_insert(a);
            *m = (*m).max(a);
        }
    }
    Ok(max
        .into_iter()
        .filter_map(|(q, m)| [5, 7, 10].into_iter().find(|s| m <= *s).map(|s| (q, s)))
        .collect())
}

pub fn compute(answers: &RecordBatch, q: &Query) -> Result<DataFrame> {
    let q = &lead(q, "question_id");
    let scale = scales(answers)?;
    let mut df = frame(
        answers,
        &["answered_at", "question", "answer", "answer_text"],
        &q.by,
    )?;
    let qids: Vec<Option<i64>> = df
        .column("question_id")?
        .as_materialized_series()
        .i64()?
        .iter()
        .collect();
    let scale_col: Int64Chunked = qids.iter().map(|q| scale.get(q).copied()).collect();
    df.with_column(scale_col.with_name("scale".into()).into_column())?;
    let score: Int64Chunked = (df.column("answer")?.as_materialized_series().i64()?)
        .iter()
        .map(|a| a.filter(|a| RESPONSE.contains(a)))
        .collect();
    df.with_column(score.with_name("score".into()).into_column())?;
    aggregate(
        df,
        q,
        Spec {
            time_column: "answered_at",
            dimensions: DIMENSIONS,
            aggs: vec![
                col("question").drop_nulls().first().alias("question"),
                col("scale").max().alias("scale_max"),
                col("score")
                    .count()
                    .cast(DataType::Int64)
                    .alias("responses"),
                count_if(
                    col("answer_text")
                        .is_not_null()
                        .and(col("answer").is_null()),
                    "non_numeric_answers",
                ),
                count_if(
                    col("answer").is_not_null().and(col("score").is_null()),
                    "out_of_range_answers",
                ),
                col("score")
                    .cast(DataType::Float64)
                    .mean()
                    .alias("avg_score"),
                count_if(col("score").gt_eq(col("scale") - lit(1)), "satisfied"),
            ],
            finals: vec![ratio(col("satisfied"), col("responses"), "csat_share")],
            columns: names(COLUMNS),
        },
    )
}
