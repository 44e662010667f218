//! Queue KPIs over Anywhere365 Dialogues (inbound by default), booked by `start_time`.
//!
//! | column | formula |
//! |---|---|
//! | inbound_dialogues | dialogues in the direction filter (all outcomes) |
//! | offered | accepted + abandoned (dialogues that entered the queue) |
//! | accepted, abandoned, ivr_drops | Outcome Accepted / Abandoned / IvrDrop (case-insensitive) |
//! | in_sla, sla_accepted_known, sla_share | N(InSLA = True) / N(accepted with InSLA known): the vendor's InSLA share |
//! | quick_drops, quick_drop_share | N(abandoned ∧ QuickDrop = True) / abandoned |
//! | abandon_rate | abandoned / offered |
//! | abandon_rate_excl_quick | (abandoned − quick_drops) / (offered − quick_drops) |
//! | asa_sec, queue_p50_sec, queue_p90_sec | mean and exact percentiles of queue_sec over accepted |
//! | avg_talk_sec | mean initial_talk_sec over accepted: initial talk, not AHT (no hold/ACW in this export) |
//! | avg_ivr_sec | mean ivr_sec over all dialogues (IVR drops too) |
//!
//! The means are exact (durations to the microsecond, an integer sum: see
//! [`duration_mean_if`]), and every other aggregate is a count, a percentile or a maximum:
//! nothing depends on row order, so a read from the files keeps delivery order.
//! | max_queue_sec | max wait: queue_sec of accepted, abandon_wait_sec of abandoned |
//!
//! `--sla-threshold T` recomputes in_sla as accepted with queue_sec ≤ T (columns suffixed
//! `_Ts`); `--quick-drop-threshold Q` recomputes quick drops as abandoned with
//! abandon_wait_sec ≤ Q (suffixed `_Qs`). Service-level variants (kpi-definitions §2) are
//! added by name as `service_level_vN_Ts` with their `_num` and `_den`.

use polars::prelude::*;

use super::{
    aggregate, count_if, duration_mean_if, frame, is_word, quantile_if, ratio, rows, with_micros,
    with_word_codes, Query, Spec,
};
use crate::error::{Error, Result};
use arrow::array::RecordBatch;

pub const DIMENSIONS: &[&str] = &["queue_id", "agent_id", "ivr_id", "direction", "outcome"];

/// The `outcome` the aggregates test, as a code of [`OUTCOMES`] (outcomes and directions
/// match case-insensitively).
const OUTCOME: &str = "__outcome";
const OUTCOMES: [&str; 3] = ["accepted", "abandoned", "ivrdrop"];
const DIRECTION: &str = "__direction";
const DIRECTIONS: [&str; 2] = ["inbound", "outbound"];

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum DirectionFilter {
    #[default]
    Inbound,
    Outbound,
    All,
}

/// Service-level variants of kpi-definitions.md §2 (AwT = accepted within T, A = accepted,
/// Ab = abandoned, Sh = quick drops, AbT = abandoned within T, Off = A + Ab).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceLevel {
    /// AwT / A: abandons ignored (equals the InSLA share).
    V1,
    /// AwT / (A + Ab): abandons count against.
    V2,
    /// AwT / (A + Ab − Sh): quick drops excluded.
    V3,
    /// AwT / (Off − AbT): abandons within T ignored.
    V4,
    /// (AwT + AbT) / Off: abandons within T count for.
    V5,
    /// AwT / Off: strict (the same as V2 here: the export has no flow-outs).
    V6,
}

#[derive(Debug, Clone, Default)]
pub struct Options {
    pub direction: DirectionFilter,
    pub sla_threshold: Option<f64>,
    pub quick_drop_threshold: Option<f64>,
    pub service_levels: Vec<ServiceLevel>,
}

/// The default threshold of the service-level variants when `--sla-threshold` is not given.
pub const DEFAULT_SLA_THRESHOLD: f64 = 20.0;

/// `20` → `20s`, `7.5` → `7.5s`.
pub fn secs(t: f64) -> String {
    format!("{t}s")
}

/// The `dialogues` columns the queue KPIs read, besides the `--by` dimensions.
const COLUMNS: [&str; 9] = [
    "start_time",
    "direction",
    "outcome",
    "in_sla",
    "quick_drop",
    "queue_sec",
    "initial_talk_sec",
    "ivr_sec",
    "abandon_wait_sec",
];

/// The `dialogues` columns a run reads: [`COLUMNS`] and `by`'s.
pub fn columns(by: &[String]) -> Vec<String> {
    super::read_columns(&COLUMNS, by)
}

/// The `dialogues` columns a metrics-only read may give as codes of the words the KPIs
/// test (see [`with_word_codes`]): direction and outcome, unless `by` groups by them (then
/// they are read as text).
pub fn coded(by: &[String]) -> Vec<(&'static str, &'static [&'static str])> {
    let coded: [(&'static str, &'static [&'static str]); 2] =
        [("direction", &DIRECTIONS), ("outcome", &OUTCOMES)];
    coded
        .into_iter()
        .filter(|(c, _)| !by.iter().any(|d| d == c))
        .collect()
}

/// Thresholds are seconds, finite and not negative.
pub fn check_thresholds(o: &Options) -> Result<()> {
    for t in [o.sla_threshold, o.quick_drop_threshold]
        .into_iter()
        .flatten()
    {
        if !(t.is_finite() && t >= 0.0) {
            return Err(Error::Usage(format!(
                "a threshold must be a number of seconds ≥ 0, got {t}"
            )));
        }
    }
    Ok(())
}

/// The column of a service-level variant at threshold `t`: `service_level_v3_20s`.
pub fn service_level_name(v: ServiceLevel, t: f64) -> String {
    format!(
        "service_level_{}_{}",
        format!("{v:?}").to_lowercase(),
        secs(t)
    )
}

pub fn compute(dialogues: &RecordBatch, q: &Query, o: &Options) -> Result<DataFrame> {
    check_thresholds(o)?;
    // Direction and outcome are read as codes only (unless `--by` names them).
    let own: Vec<&str> = (COLUMNS.iter().copied())
        .filter(|c| !["direction", "outcome"].contains(c))
        .collect();
    let df = frame(dialogues, &own, &q.by)?;
    let df = with_word_codes(df, dialogues, "direction", &DIRECTIONS, DIRECTION)?;
    let df = with_word_codes(df, dialogues, "outcome", &OUTCOMES, OUTCOME)?;
    let df = match o.direction {
        DirectionFilter::All => df,
        DirectionFilter::Inbound => df.lazy().filter(is_word(DIRECTION, 0)).collect()?,
        DirectionFilter::Outbound => df.lazy().filter(is_word(DIRECTION, 1)).collect()?,
    };
    let df = with_micros(df, &["queue_sec", "initial_talk_sec", "ivr_sec"])?;
    let acc = || is_word(OUTCOME, 0);
    let ab = || is_word(OUTCOME, 1);

    // In SLA: the vendor's flag, or recomputed from queue time.
    let (sla_suffix, in_sla, sla_known) = match o.sla_threshold {
        None => (
            String::new(),
            acc().and(col("in_sla").eq(lit(true))),
            acc().and(col("in_sla").is_not_null()),
        ),
        Some(t) => (
            format!("_{}", secs(t)),
            acc().and(col("queue_sec").lt_eq(lit(t))),
            acc().and(col("queue_sec").is_not_null()),
        ),
    };
    let (quick_suffix, quick) = match o.quick_drop_threshold {
        None => (String::new(), ab().and(col("quick_drop").eq(lit(true)))),
        Some(t) => (
            format!("_{}", secs(t)),
            ab().and(col("abandon_wait_sec").lt_eq(lit(t))),
        ),
    };
    let n = |base: &str, suffix: &str| format!("{base}{suffix}");
    let (c_in_sla, c_known, c_share) = (
        n("in_sla", &sla_suffix),
        n("sla_accepted_known", &sla_suffix),
        n("sla_share", &sla_suffix),
    );
    let (c_quick, c_quick_share, c_excl) = (
        n("quick_drops", &quick_suffix),
        n("quick_drop_share", &quick_suffix),
        n("abandon_rate_excl_quick", &quick_suffix),
    );
    let wait = || {
        when(acc())
            .then(col("queue_sec"))
            .when(ab())
            .then(col("abandon_wait_sec"))
            .otherwise(lit(NULL).cast(DataType::Float64))
    };
    let mut aggs = vec![
        rows("inbound_dialogues"),
        count_if(acc(), "accepted"),
        count_if(ab(), "abandoned"),
        count_if(is_word(OUTCOME, 2), "ivr_drops"),
        count_if(in_sla, &c_in_sla),
        count_if(sla_known, &c_known),
        count_if(quick, &c_quick),
        duration_mean_if("queue_sec", acc(), "asa_sec"),
        quantile_if(col("queue_sec"), acc(), 0.5, "queue_p50_sec"),
        quantile_if(col("queue_sec"), acc(), 0.9, "queue_p90_sec"),
        duration_mean_if("initial_talk_sec", acc(), "avg_talk_sec"),
        duration_mean_if("ivr_sec", lit(true), "avg_ivr_sec"),
        wait().max().alias("max_queue_sec"),
    ];
    let offered = || col("accepted") + col("abandoned");
    let mut finals = vec![
        offered().alias("offered"),
        ratio(col(&c_in_sla), col(&c_known), &c_share),
        ratio(col(&c_quick), col("abandoned"), &c_quick_share),
        ratio(col("abandoned"), offered(), "abandon_rate"),
        ratio(
            col("abandoned") - col(&c_quick),
            offered() - col(&c_quick),
            &c_excl,
        ),
    ];
    let mut columns: Vec<String> = [
        "inbound_dialogues",
        "offered",
        "accepted",
        "abandoned",
        "ivr_drops",
    ]
    .iter()
    .map(|s| s.to_string())
    .chain([
        c_in_sla.clone(),
        c_known.clone(),
        c_share.clone(),
        c_quick.clone(),
        c_quick_share.clone(),
    ])
    .chain(["abandon_rate".to_string(), c_excl.clone()])
    .chain(
        [
            "asa_sec",
            "queue_p50_sec",
            "queue_p90_sec",
            "avg_talk_sec",
            "avg_ivr_sec",
            "max_queue_sec",
        ]
        .iter()
        .map(|s| s.to_string()),
    )
    .collect();

    if !o.service_levels.is_empty() {
        let t = o.sla_threshold.unwrap_or(DEFAULT_SLA_THRESHOLD);
        let awt = format!("_awt_{}", secs(t));
        let abt = format!("_abt_{}", secs(t));
        aggs.push(count_if(acc().and(col("queue_sec").lt_eq(lit(t))), &awt));
        aggs.push(count_if(
            ab().and(col("abandon_wait_sec").lt_eq(lit(t))),
            &abt,
        ));
        for v in &o.service_levels {
            let (num, den) = match v {
                ServiceLevel::V1 => (col(&awt), col("accepted")),
                ServiceLevel::V2 | ServiceLevel::V6 => (col(&awt), offered()),
                ServiceLevel::V3 => (col(&awt), offered() - col(&c_quick)),
                ServiceLevel::V4 => (col(&awt), offered() - col(&abt)),
                ServiceLevel::V5 => (col(&awt) + col(&abt), offered()),
            };
            let name = service_level_name(*v, t);
            finals.push(num.clone().alias(format!("{name}_num")));
            finals.push(den.clone().alias(format!("{name}_den")));
            finals.push(ratio(num, den, &name));
            columns.extend([format!("{name}_num"), format!("{name}_den"), name]);
        }
    }
    aggregate(
        df,
        q,
        Spec {
            time_column: "start_time",
            dimensions: DIMENSIONS,
            aggs,
            finals,
            columns,
        },
    )
}
