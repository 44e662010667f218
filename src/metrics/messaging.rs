//! Dialpad Digital Engagement views over `messages` and `interactions`: the dashboard APIs'
//! numbers (Intents, Interactions, InteractionType, CustomerEndpoint) over any range and
//! interval, plus what those APIs lack (sentiment, hand-off, agent response times).
//!
//! Sender and chat types are compared case-insensitively (`customer`, `bot`, `agent`).
//! Booking: interactions by their first message, messages by their own `ts`, customer
//! sessions by their first interaction.

use polars::prelude::*;

use super::{
    count_if, finish, frame, group, is_word, lead, merge, names, rate, ratio, rows,
    with_word_codes, Grouped, Query, Spec,
};
use crate::error::Result;
use crate::source::dialpad::Tables;

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum View {
    /// interactions, customer_sessions, messages by sender type (Dialpad "Interactions").
    Interactions,
    /// interactions and messages per chattype, bot vs agent (Dialpad "InteractionType").
    InteractionType,
    /// interactions and customer sessions per sessionchannel (Dialpad "CustomerEndpoint").
    CustomerEndpoint,
    /// messages carrying each topic and their mean score (Dialpad "Intents").
    Intents,
    /// sentiment of customer messages.
    Sentiment,
    /// customer sessions that went from a bot to an agent.
    Handoff,
    /// agent first and average response times.
    ResponseTimes,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum IntentType {
    Bot,
    Agent,
}

#[derive(Debug, Clone)]
pub struct Options {
    pub view: View,
    /// For `intents`: keep messages of bot or of agent interactions (the message's chattype),
    /// as Dialpad's `intenttype`.
    pub intent_type: Option<IntentType>,
}

/// The dimensions `--by` accepts for a view.
pub fn dimensions(view: View) -> &'static [&'static str] {
    match view {
        View::Interactions | View::InteractionType | View::CustomerEndpoint => {
            &["chattype", "sessionchannel", "lang", "workflow"]
        }
        View::Intents => &[
            "topic",
            "chattype",
            "sessionchannel",
            "lang",
            "workflow",
            "sendertype",
        ],
        View::Sentiment => &["chattype", "sessionchannel", "lang", "workflow", "topic"],
        View::Handoff => &["sessionchannel"],
        View::ResponseTimes => &["sessionchannel", "lang", "workflow"],
    }
}

/// The `messages` columns a view reads (the intents view with `intent_type`, the filter
/// on the chattype): its own, its leading dimension's and `by`'s. A metrics-only read
/// copies no others (a view asking for a column left out fails loudly, as the column is
/// absent, not null).
pub fn message_columns(view: View, intent_type: Option<IntentType>, by: &[String]) -> Vec<String> {
    let own: &[&str] = match view {
        View::Interactions => &MESSAGE_COUNT_COLUMNS,
        View::InteractionType => &["ts", "sendertype", "chattype"],
        View::Intents if intent_type.is_some() => &["ts", "score", "chattype", "topic"],
        View::Intents => &["ts", "score", "topic"],
        View::Sentiment => &SENTIMENT_COLUMNS,
        // These read the interactions only.
        View::CustomerEndpoint | View::Handoff | View::ResponseTimes => return Vec::new(),
    };
    super::read_columns(own, by)
}

/// Whether a view may take the messages in any order: it counts them, or reads none. (A
/// mean of floats, as the intents and sentiment views take, depends on the order it adds
/// them in, so those keep the canonical order.)
pub fn messages_in_any_order(view: View) -> bool {
    !matches!(view, View::Intents | View::Sentiment)
}

/// The words a read may give the `sendertype` column as codes of (see
/// `source::dialpad::Lean::sender_words`): this module's [`SENDERS`], unless `by` groups by
/// the sender type, which then stays text.
pub fn sender_words(by: &[String]) -> Option<&'static [&'static str]> {
    (!by.iter().any(|d| d == "sendertype")).then_some(&SENDERS[..])
}

/// The `interactions` columns a view reads: its own and `by`'s (see [`message_columns`]).
pub fn interaction_columns(view: View, by: &[String]) -> Vec<String> {
    let own: &[&str] = match view {
        View::Interactions => &INTERACTION_COUNT_COLUMNS,
        View::InteractionType => &["first_ts", "customersessionid", "chattype"],
        View::CustomerEndpoint => &["first_ts", "customersessionid", "sessionchannel"],
        View::Handoff => &HANDOFF_COLUMNS,
        View::ResponseTimes => &RESPONSE_TIME_COLUMNS,
        // These read the messages only.
        View::Intents | View::Sentiment => return Vec::new(),
    };
    super::read_columns(own, by)
}

const INTERACTION_COUNT_COLUMNS: [&str; 2] = ["first_ts", "customersessionid"];
const HANDOFF_COLUMNS: [&str; 4] = [
    "first_ts",
    "customersessionid",
    "chattype",
    "sessionchannel",
];
const RESPONSE_TIME_COLUMNS: [&str; 4] = [
    "first_ts",
    "chattype",
    "first_response_sec",
    "avg_response_sec",
];
const MESSAGE_COUNT_COLUMNS: [&str; 2] = ["ts", "sendertype"];
const SENTIMENT_COLUMNS: [&str; 3] = ["ts", "sendertype", "sentiment"];

/// Computes a view.
pub fn compute(t: &Tables, q: &Query, o: &Options) -> Result<DataFrame> {
    let dims = dimensions(o.view);
    match o.view {
        View::Interactions => {
            let a = interaction_counts(t, q, dims)?;
            let b = message_counts(t, q, dims)?;
            finish(merge(a, b, &COUNTS)?, q)
        }
        View::InteractionType => {
            // The Interactions view's counts per chattype, keeping Dialpad's two columns.
            let q = &lead(q, "chattype");
            let both = merge(
                interaction_counts(t, q, dims)?,
                message_counts(t, q, dims)?,
                &COUNTS,
            )?;
            let mut keep = both.keys.clone();
            keep.extend(["interactions", "messages"].map(String::from));
            Ok(finish(both, q)?.select(keep)?)
        }
        View::CustomerEndpoint => {
            let q = &lead(q, "sessionchannel");
            finish(interaction_counts(t, q, dims)?, q)
        }
        View::Intents => intents(t, q, o, dims),
        View::Sentiment => sentiment(t, q, dims),
        View::Handoff => handoff(t, q, dims),
        View::ResponseTimes => response_times(t, q, dims),
    }
}

const COUNTS: [&str; 6] = [
    "interactions",
    "customer_sessions",
    "messages",
    "customer_messages",
    "bot_messages",
    "agent_messages",
];

fn lower_eq(column: &str, value: &str) -> Expr {
    col(column).str().to_lowercase().eq(lit(value))
}

fn interaction_counts(t: &Tables, q: &Query, dims: &'static [&'static str]) -> Result<Grouped> {
    group(
        frame(&t.interactions, &INTERACTION_COUNT_COLUMNS, &q.by)?,
        q,
        Spec {
            time_column: "first_ts",
            dimensions: dims,
            aggs: vec![
                rows("interactions"),
                col("customersessionid")
                    .drop_nulls()
                    .n_unique()
                    .cast(DataType::Int64)
                    .alias("customer_sessions"),
            ],
            finals: vec![],
            columns: names(&["interactions", "customer_sessions"]),
        },
    )
}

fn message_counts(t: &Tables, q: &Query, dims: &'static [&'static str]) -> Result<Grouped> {
    group(
        with_sender(t, &["ts"], &q.by)?,
        q,
        Spec {
            time_column: "ts",
            dimensions: dims,
            aggs: vec![
                rows("messages"),
                count_if(is_word(SENDER, CUSTOMER), "customer_messages"),
                count_if(is_word(SENDER, BOT), "bot_messages"),
                count_if(is_word(SENDER, AGENT), "agent_messages"),
            ],
            finals: vec![],
            columns: names(&[
                "messages",
                "customer_messages",
                "bot_messages",
                "agent_messages",
            ]),
        },
    )
}

/// The column of [`with_sender`], a code of [`SENDERS`].
const SENDER: &str = "__sender";
const SENDERS: [&str; 3] = ["customer", "bot", "agent"];
const CUSTOMER: usize = 0;
const BOT: usize = 1;
const AGENT: usize = 2;

/// The `messages` frame of `columns` and `by`, plus each message's sendertype as a code.
fn with_sender(t: &Tables, columns: &[&str], by: &[String]) -> Result<DataFrame> {
    let df = frame(&t.messages, columns, by)?;
    with_word_codes(df, &t.messages, "sendertype", &SENDERS, SENDER)
}

/// Messages carrying a topic (non-empty), per topic: the count and the mean score.
fn intents(t: &Tables, q: &Query, o: &Options, dims: &'static [&'static str]) -> Result<DataFrame> {
    let q = &lead(q, "topic");
    let mut keep = col("topic").is_not_null().and(col("topic").neq(lit("")));
    let mut columns = vec!["ts", "score"];
    if let Some(kind) = o.intent_type {
        let name = match kind {
            IntentType::Bot => "bot",
            IntentType::Agent => "agent",
        };
        keep = keep.and(lower_eq("chattype", name).fill_null(lit(false)));
        // Read for this filter only (see `message_columns`).
        columns.push("chattype");
    }
    let df = frame(&t.messages, &columns, &q.by)?
        .lazy()
        .filter(keep)
        .collect()?;
    finish(
        group(
            df,
            q,
            Spec {
                time_column: "ts",
                dimensions: dims,
                aggs: vec![rows("intents"), col("score").mean().alias("avg_score")],
                finals: vec![],
                columns: names(&["intents", "avg_score"]),
            },
        )?,
        q,
    )
}

/// Customer messages: mean sentiment and the negative / neutral / positive shares of those
/// with a sentiment.
fn sentiment(t: &Tables, q: &Query, dims: &'static [&'static str]) -> Result<DataFrame> {
    let df = with_sender(t, &["ts", "sentiment"], &q.by)?
        .lazy()
        .filter(is_word(SENDER, CUSTOMER))
        .collect()?;
    let s = || col("sentiment");
    finish(
        group(
            df,
            q,
            Spec {
                time_column: "ts",
                dimensions: dims,
                aggs: vec![
                    rows("customer_messages"),
                    s().count().cast(DataType::Int64).alias("scored_messages"),
                    s().mean().alias("avg_sentiment"),
                    count_if(s().lt(lit(0.0)), "negative_messages"),
                    count_if(s().eq(lit(0.0)), "neutral_messages"),
                    count_if(s().gt(lit(0.0)), "positive_messages"),
                ],
                finals: vec![
                    rate("negative_messages", "scored_messages", "negative_share"),
                    rate("neutral_messages", "scored_messages", "neutral_share"),
                    rate("positive_messages", "scored_messages", "positive_share"),
                ],
                columns: names(&[
                    "customer_messages",
                    "scored_messages",
                    "avg_sentiment",
                    "negative_messages",
                    "negative_share",
                    "neutral_messages",
                    "neutral_share",
                    "positive_messages",
                    "positive_share",
                ]),
            },
        )?,
        q,
    )
}

/// Customer sessions with a bot interaction, and those that then reached an agent (an
/// agent interaction starting at or after the first bot interaction). Booked by the
/// session's first interaction; its channel is that of its first interaction.
fn handoff(t: &Tables, q: &Query, dims: &'static [&'static str]) -> Result<DataFrame> {
    let first = || col("first_ts");
    let sessions = frame(&t.interactions, &HANDOFF_COLUMNS, &[])?
        .lazy()
        .filter(col("customersessionid").is_not_null())
        .sort(
            ["first_ts"],
            SortMultipleOptions::default().with_maintain_order(true),
        )
        .group_by([col("customersessionid")])
        .agg([
            first().min().alias("session_start"),
            first()
                .filter(lower_eq("chattype", "bot").fill_null(lit(false)))
                .min()
                .alias("bot_start"),
            first()
                .filter(lower_eq("chattype", "agent").fill_null(lit(false)))
                .max()
                .alias("last_agent_start"),
            col("sessionchannel")
                .drop_nulls()
                .first()
                .alias("sessionchannel"),
        ])
        .collect()?;
    let has_bot = || col("bot_start").is_not_null();
    let escalated = || has_bot().and(col("last_agent_start").gt_eq(col("bot_start")));
    finish(
        group(
            sessions,
            q,
            Spec {
                time_column: "session_start",
                dimensions: dims,
                aggs: vec![
                    rows("customer_sessions"),
                    count_if(has_bot(), "bot_customer_sessions"),
                    count_if(escalated(), "escalated_customer_sessions"),
                ],
                finals: vec![
                    rate(
                        "escalated_customer_sessions",
                        "bot_customer_sessions",
                        "escalation_rate",
                    ),
                    (col("bot_customer_sessions") - col("escalated_customer_sessions"))
                        .alias("contained_customer_sessions"),
                    ratio(
                        col("bot_customer_sessions") - col("escalated_customer_sessions"),
                        col("bot_customer_sessions"),
                        "containment_rate",
                    ),
                ],
                columns: names(&[
                    "customer_sessions",
                    "bot_customer_sessions",
                    "escalated_customer_sessions",
                    "escalation_rate",
                    "contained_customer_sessions",
                    "containment_rate",
                ]),
            },
        )?,
        q,
    )
}

/// Agent interactions: first and average response times (see `interactions`), mean and
/// exact percentiles (linear interpolation, as SQL `quantile_cont`).
fn response_times(t: &Tables, q: &Query, dims: &'static [&'static str]) -> Result<DataFrame> {
    let df = frame(&t.interactions, &RESPONSE_TIME_COLUMNS, &q.by)?
        .lazy()
        .filter(lower_eq("chattype", "agent").fill_null(lit(false)))
        .collect()?;
    let p =
        |c: &str, q: f64, name: &str| col(c).quantile(lit(q), QuantileMethod::Linear).alias(name);
    finish(
        group(
            df,
            q,
            Spec {
                time_column: "first_ts",
                dimensions: dims,
                aggs: vec![
                    rows("agent_interactions"),
                    col("first_response_sec")
                        .count()
                        .cast(DataType::Int64)
                        .alias("answered_interactions"),
                    col("first_response_sec")
                        .mean()
                        .alias("first_response_mean_sec"),
                    p("first_response_sec", 0.5, "first_response_p50_sec"),
                    p("first_response_sec", 0.9, "first_response_p90_sec"),
                    col("avg_response_sec")
                        .mean()
                        .alias("avg_response_mean_sec"),
                    p("avg_response_sec", 0.5, "avg_response_p50_sec"),
                    p("avg_response_sec", 0.9, "avg_response_p90_sec"),
                ],
                finals: vec![],
                columns: names(&[
                    "agent_interactions",
                    "answered_interactions",
                    "first_response_mean_sec",
                    "first_response_p50_sec",
                    "first_response_p90_sec",
                    "avg_response_mean_sec",
                    "avg_response_p50_sec",
                    "avg_response_p90_sec",
                ]),
            },
        )?,
        q,
    )
}
