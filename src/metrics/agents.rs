//! Agent KPIs from Samespace agent session logs and the productivity report.
//!
//! `--source logs` (default), booked by the session's start: `sessions`, `logged_in_sec`
//! (Σ session_duration), `avg_session_sec`, `max_session_sec`; `--by logout_reason` breaks
//! sessions down by why they ended.
//!
//! `--source productivity` recombines the per-user figures with their weights, never as an
//! average of averages: `asa_sec` and `avg_ring_sec` weighted by inbound conversations;
//! `acd_sec`, `acw_sec` and `avg_hold_sec` by all conversations; `session_sec`, `away_sec`
//! and the conversation counts summed; `away_share` = away / session. The report has no
//! timestamps, so it takes no range or interval.

use arrow::array::RecordBatch;
use polars::prelude::*;

use super::{
    aggregate, check_sums_fit, names, ratio, rows, sum_or_null, weighted_mean, Query, Spec,
};
use crate::error::{Error, Result};
use crate::time::Interval;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum Source {
    /// Agent session logs (`logs`).
    #[default]
    Logs,
    /// The productivity report (`productivity/v2`).
    Productivity,
}

pub fn dimensions(source: Source) -> &'static [&'static str] {
    match source {
        Source::Logs => &["user_display_name", "logout_reason", "activity"],
        Source::Productivity => &["user"],
    }
}

/// The productivity report has no timestamps: a range or buckets cannot apply.
pub fn check_untimed(q: &Query) -> Result<()> {
    if q.from.is_some() || q.to.is_some() || q.interval != Interval::Total {
        return Err(Error::Usage(
            "the productivity report has no timestamps: --from, --to and --interval do not apply"
                .into(),
        ));
    }
    Ok(())
}

pub fn compute(
    sessions: &RecordBatch,
    productivity: &RecordBatch,
    source: Source,
    q: &Query,
) -> Result<DataFrame> {
    match source {
        Source::Logs => aggregate(
            super::frame(sessions, &["start_time", "session_duration_sec"], &q.by)?,
            q,
            Spec {
                time_column: "start_time",
                dimensions: dimensions(source),
                aggs: vec![
                    rows("sessions"),
                    sum_or_null(col("session_duration_sec"), "logged_in_sec"),
                    col("session_duration_sec").mean().alias("avg_session_sec"),
                    col("session_duration_sec").max().alias("max_session_sec"),
                ],
                finals: vec![],
                columns: names(&[
                    "sessions",
                    "logged_in_sec",
                    "avg_session_sec",
                    "max_session_sec",
                ]),
            },
        ),
        Source::Productivity => {
            check_untimed(q)?;
            let df = super::frame(
                productivity,
                &[
                    "session_duration_sec",
                    "away_time_sec",
                    "acd_sec",
                    "acw_sec",
                    "asa_sec",
                    "avg_hold_time_sec",
                    "avg_ring_duration_sec",
                    "inbound_conversations",
                    "outbound_conversations",
                ],
                &q.by,
            )?
            .lazy()
            .with_column(
                (col("inbound_conversations").fill_null(lit(0i64))
                    + col("outbound_conversations").fill_null(lit(0i64)))
                .alias("conversations"),
            )
            .collect()?;
            check_sums_fit(&df, &["inbound_conversations", "outbound_conversations"])?;
            aggregate(
                df,
                q,
                Spec {
                    time_column: "",
                    dimensions: dimensions(source),
                    aggs: vec![
                        rows("records"),
                        sum_or_null(col("session_duration_sec"), "session_sec"),
                        sum_or_null(col("away_time_sec"), "away_sec"),
                        sum_or_null(col("inbound_conversations"), "inbound_conversations"),
                        sum_or_null(col("outbound_conversations"), "outbound_conversations"),
                        weighted_mean("asa_sec", "inbound_conversations", "asa_sec"),
                        weighted_mean(
                            "avg_ring_duration_sec",
                            "inbound_conversations",
                            "avg_ring_sec",
                        ),
                        weighted_mean("acd_sec", "conversations", "acd_sec"),
                        weighted_mean("acw_sec", "conversations", "acw_sec"),
                        weighted_mean("avg_hold_time_sec", "conversations", "avg_hold_sec"),
                    ],
                    finals: vec![ratio(col("away_sec"), col("session_sec"), "away_share")],
                    columns: names(&[
                        "records",
                        "session_sec",
                        "away_sec",
                        "away_share",
                        "inbound_conversations",
                        "outbound_conversations",
                        "asa_sec",
                        "avg_ring_sec",
                        "acd_sec",
                        "acw_sec",
                        "avg_hold_sec",
                    ]),
                },
            )
        }
    }
}
