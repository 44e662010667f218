//! CSAT over Samespace `csat_answers`: one row per question (questions are never pooled),
//! booked by the answer's timestamp.
//!
//! The scale of a question is detected from all its answers: the smallest of 5, 7 and 10 that
//! holds the highest answer (none above 10: no share). Top-2-box: the two highest points of
//! the scale (4–5, 6–7, 9–10).
//!
//! | column | formula |
//! |---|---|
//! | question | the question's text |
//! | scale_max | the detected scale |
//! | responses | numeric answers |
//! | non_numeric_answers | answers that are not whole numbers (left out) |
//! | avg_score | mean numeric answer |
//! | satisfied, csat_share | N(answer ≥ scale_max − 1) / responses |

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
    "avg_score",
    "satisfied",
    "csat_share",
];

/// The scale of each question from its highest answer.
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
        if let Some(a) = a {
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
    aggregate(
        df,
        q,
        Spec {
            time_column: "answered_at",
            dimensions: DIMENSIONS,
            aggs: vec![
                col("question").drop_nulls().first().alias("question"),
                col("scale").max().alias("scale_max"),
                col("answer")
                    .count()
                    .cast(DataType::Int64)
                    .alias("responses"),
                count_if(
                    col("answer_text")
                        .is_not_null()
                        .and(col("answer").is_null()),
                    "non_numeric_answers",
                ),
                col("answer")
                    .cast(DataType::Float64)
                    .mean()
                    .alias("avg_score"),
                count_if(col("answer").gt_eq(col("scale") - lit(1)), "satisfied"),
            ],
            finals: vec![ratio(col("satisfied"), col("responses"), "csat_share")],
            columns: names(COLUMNS),
        },
    )
}
