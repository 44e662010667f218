//! `cxkpi report`: one self-contained HTML page of the KPI families found in the input.
//!
//! Every number on the page is a cell of a `metrics` result computed by the same functions
//! `cxkpi metrics` calls (`metrics::<family>::compute`), with the same query layer; this
//! module only picks the queries, draws ([`chart`]) and lays out ([`html`]). The one figure
//! derived here is the intraday profile, which sums the offered counts of the 30-minute
//! buckets by local weekday and time of day.

pub mod chart;
pub mod html;

use arrow::array::RecordBatch;
use chrono::{Datelike, NaiveDateTime};
use chrono_tz::Tz;
use polars::prelude::{DataFrame, DataType};

use crate::error::{Error, Result};
use crate::metrics::{self, agents, bot, messaging, queue, Query};
use crate::source::{anywhere365, dialpad, samespace, ultimate};
use crate::time::{bucket_start, format_instant, Interval, DAY_US};
use chart::{Series, Unit};
use html::{esc, Fmt, Headline};

/// What the report covers.
#[derive(Debug, Clone)]
pub struct Options {
    pub from: Option<i64>,
    pub to: Option<i64>,
    pub tz: Tz,
    /// None: days up to a quarter, weeks beyond.
    pub interval: Option<Interval>,
    /// The queue section's service level: recomputed at this many seconds (else InSLA).
    pub sla_threshold: Option<f64>,
    pub service_levels: Vec<queue::ServiceLevel>,
}

/// The tables of each vendor found in the input (None: that vendor is absent).
#[derive(Default)]
pub struct Inputs {
    pub ultimate: Option<ultimate::Tables>,
    pub dialpad: Option<dialpad::Tables>,
    pub anywhere365: Option<anywhere365::Tables>,
    pub samespace: Option<samespace::Tables>,
}

/// Ranges up to this long (in days) are shown by hour: one or two days by day were a bar
/// or a dot per chart (a day of a real call centre read as one point).
const DAYS_BY_HOUR: i64 = 3;

/// Ranges longer than this (in days) are shown by week.
const DAYS_BY_DAY: i64 = 92;

/// The page.
pub fn render(inputs: &Inputs, o: &Options) -> Result<String> {
    let (first, last) = span(inputs).ok_or_else(|| {
        Error::Usage("nothing to report: the input holds no records with a time".into())
    })?;
    // Without bounds, the range is the local days the records fall on.
    let from = o
        .from
        .unwrap_or_else(|| bucket_start(first, Interval::Day, &o.tz));
    let to = o.to.unwrap_or_else(|| {
        let day = bucket_start(last, Interval::Day, &o.tz);
        // 26 hours on is within the next local day, whether days have 23, 24 or 25 hours.
        bucket_start(day + 26 * 3_600_000_000, Interval::Day, &o.tz)
    });
    let days = (to - from).div_euclid(DAY_US).max(1);
    let chosen = match days {
        1 => "chosen for a range of 1 day".to_string(),
        _ => format!("chosen for a range of {days} days"),
    };
    let (interval, why) = match o.interval {
        Some(i) => (i, "as asked".to_string()),
        None if days <= DAYS_BY_HOUR => (Interval::Hours(1), chosen),
        None if days <= DAYS_BY_DAY => (Interval::Day, chosen),
        None => (Interval::Week, chosen),
    };
    let q = Query {
        from: o.from,
        to: o.to,
        interval,
        tz: o.tz,
        by: Vec::new(),
    };
    let sub_day = matches!(interval, Interval::Minutes(_) | Interval::Hours(_));
    let first_day = bucket_start(from, Interval::Day, &o.tz);
    let day = (sub_day && to > from && bucket_start(to - 1, Interval::Day, &o.tz) == first_day)
        .then(|| format_instant(first_day, &o.tz)[..10].to_string());
    let r = Report { q, o, day };
    let mut sections = Vec::new();
    if let Some(t) = inputs
        .ultimate
        .as_ref()
        .filter(|t| rows(&t.conversations) > 0)
    {
        sections.push(("bot", "Bot conversations", r.bot(t)?));
    }
    if let Some(t) = inputs
        .dialpad
        .as_ref()
        .filter(|t| t.messages.num_rows() > 0)
    {
        sections.push(("messaging", "Messaging", r.messaging(t)?));
    }
    if let Some(t) = inputs
        .anywhere365
        .as_ref()
        .filter(|t| t.dialogues.num_rows() > 0)
    {
        sections.push(("queue", "Queue", r.queue(t)?));
    }
    if let Some(t) = inputs.samespace.as_ref() {
        let mut s = String::new();
        if t.calls.num_rows() > 0 {
            s += &r.calls(t)?;
        }
        if t.csat_answers.num_rows() > 0 {
            s += &r.csat(t)?;
        }
        if t.agent_sessions.num_rows() > 0 {
            s += &r.agents(t)?;
        }
        if !s.is_empty() {
            sections.push(("calls", "Calls, CSAT and agents", s));
        }
    }
    let mut page = format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>Contact-center KPIs, {} to {}</title>\n<style>{}</style>\n</head>\n<body>\n<header>\n<h1>Contact-center KPIs</h1>\n<p>From {} to {} (end exclusive), time zone {}.</p>\n<p>Buckets of {} ({why}). Rates are shares of the group named beside them; a dash is a rate with a zero denominator.</p>\n<nav>",
        esc(&format_instant(from, &o.tz)[..10]),
        esc(&format_instant(to, &o.tz)[..10]),
        html::CSS,
        esc(&format_instant(from, &o.tz)),
        esc(&format_instant(to, &o.tz)),
        esc(o.tz.name()),
        interval_words(interval),
    );
    for (id, title, _) in &sections {
        page += &format!("<a href=\"#{id}\">{}</a>", esc(title));
    }
    page += "</nav>\n</header>\n<main>\n";
    for (id, title, body) in &sections {
        page += &format!(
            "<section id=\"{id}\">\n<h2>{}</h2>\n{body}</section>\n",
            esc(title)
        );
    }
    page += &format!(
        "</main>\n<footer>cxkpi {} · every number is what <code>cxkpi metrics</code> prints for the same input and options</footer>\n</body>\n</html>\n",
        env!("CARGO_PKG_VERSION")
    );
    Ok(page)
}

fn interval_words(i: Interval) -> &'static str {
    match i {
        Interval::Total => "the whole range",
        Interval::Minutes(15) => "15 minutes",
        Interval::Minutes(30) => "30 minutes",
        Interval::Minutes(_) => "minutes",
        Interval::Hours(1) => "one hour",
        Interval::Hours(_) => "hours",
        Interval::Day => "one day",
        Interval::Week => "one week (from Monday)",
        Interval::Month => "one month",
    }
}

fn rows(batches: &[RecordBatch]) -> usize {
    batches.iter().map(|b| b.num_rows()).sum()
}

/// The first and last instant (UTC µs) of the records' booking times.
fn span(inputs: &Inputs) -> Option<(i64, i64)> {
    let mut tables: Vec<(&str, &RecordBatch)> = Vec::new();
    if let Some(t) = &inputs.ultimate {
        tables.extend(t.conversations.iter().map(|b| ("bot_conversations", b)));
    }
    if let Some(t) = &inputs.dialpad {
        tables.push(("messages", &t.messages));
    }
    if let Some(t) = &inputs.anywhere365 {
        tables.push(("dialogues", &t.dialogues));
    }
    if let Some(t) = &inputs.samespace {
        tables.push(("calls", &t.calls));
        tables.push(("agent_sessions", &t.agent_sessions));
        tables.push(("csat_answers", &t.csat_answers));
    }
    crate::table::time_span(tables)
}

/// A numeric column of a result.
fn nums(df: &DataFrame, name: &str) -> Result<Vec<Option<f64>>> {
    let s = df
        .column(name)?
        .as_materialized_series()
        .cast(&DataType::Float64)?;
    Ok(s.f64()?.iter().collect())
}

/// A text column of a result (nulls shown as "(none)").
fn texts(df: &DataFrame, name: &str) -> Result<Vec<String>> {
    let s = df
        .column(name)?
        .as_materialized_series()
        .cast(&DataType::String)?;
    Ok(s.str()?
        .iter()
        .map(|v| v.unwrap_or("(none)").to_string())
        .collect())
}

/// The one row of a totals result.
fn total(df: &DataFrame, name: &str) -> Result<Option<f64>> {
    Ok(nums(df, name)?.first().copied().flatten())
}

struct Report<'a> {
    q: Query,
    o: &'a Options,
    /// The local date every bucket starts on, when the buckets are shorter than a day and
    /// the range is one day: their labels are then the time alone and the axis names the
    /// date (sixteen-character labels every two hours ran into each other).
    day: Option<String>,
}

/// A chart of buckets or categories and the table of its numbers.
struct Fig<'a> {
    id: &'a str,
    title: String,
    definition: &'a str,
    x_desc: String,
    labels: Vec<String>,
    series: Vec<Series>,
    unit: Unit,
    kind: Kind,
}

enum Kind {
    Lines,
    Bars,
    Stacked,
}

/// Side-by-side bars past this many (buckets × series) are drawn as lines: on the 760-pixel
/// chart each bar would be under about four pixels wide, and five years of weekly offered,
/// accepted and abandoned dialogues (783 bars) showed a moiré of slivers, not counts.
const MAX_BARS: usize = 150;

impl Fig<'_> {
    fn html(&self) -> Result<String> {
        let kind = match &self.kind {
            Kind::Bars if self.labels.len() * self.series.len() > MAX_BARS => &Kind::Lines,
            k => k,
        };
        let svg = match kind {
            Kind::Lines => chart::lines(&self.x_desc, &self.labels, &self.series, self.unit)?,
            Kind::Bars => chart::bars(&self.x_desc, &self.labels, &self.series, self.unit, false)?,
            Kind::Stacked => {
                chart::bars(&self.x_desc, &self.labels, &self.series, self.unit, true)?
            }
        };
        let fmt = match self.unit {
            Unit::Count => Fmt::Count,
            Unit::Percent => Fmt::Percent,
            Unit::Seconds => Fmt::Seconds,
            Unit::Hours => Fmt::Number,
        };
        let mut header = vec![self.x_desc.clone()];
        header.extend(self.series.iter().map(|s| s.name.clone()));
        let rows: Vec<Vec<(String, String)>> = self
            .labels
            .iter()
            .enumerate()
            .map(|(i, l)| {
                let mut row = vec![(l.clone(), l.clone())];
                row.extend(
                    self.series
                        .iter()
                        .map(|s| (html::show(s.values[i], fmt), html::exact(s.values[i]))),
                );
                row
            })
            .collect();
        let legend: Vec<(String, String)> = self
            .series
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name.clone(), chart::css_color(i)))
            .collect();
        Ok(html::figure(
            self.id,
            &self.title,
            &legend,
            self.definition,
            &svg,
            &html::table(&header, &rows),
        ))
    }
}

impl Report<'_> {
    fn totals(&self) -> Query {
        Query {
            interval: Interval::Total,
            ..self.q.clone()
        }
    }

    fn by(&self, dims: &[&str], interval: Interval) -> Query {
        Query {
            interval,
            by: dims.iter().map(|d| d.to_string()).collect(),
            ..self.q.clone()
        }
    }

    fn x_desc(&self) -> String {
        match &self.day {
            Some(day) => format!("bucket start on {day} ({})", self.o.tz.name()),
            None => format!("bucket start ({})", self.o.tz.name()),
        }
    }

    /// The buckets' labels: their local start (`2024-03-25T08:30:00+01:00`), as short as
    /// the interval and the range allow: `08:30` within one day (see `day`), `03-25 08:30`
    /// over several, `2024-03-25` by day or week, `2024-03` by month.
    fn labels(&self, df: &DataFrame) -> Result<Vec<String>> {
        let (from, to) = match (self.q.interval, &self.day) {
            (Interval::Minutes(_) | Interval::Hours(_), Some(_)) => (11, 16),
            (Interval::Minutes(_) | Interval::Hours(_), None) => (5, 16),
            (Interval::Month, _) => (0, 7),
            _ => (0, 10),
        };
        Ok(texts(df, "bucket_start")?
            .into_iter()
            .map(|t| t.get(from..to).unwrap_or(&t).replace('T', " "))
            .collect())
    }

    fn over_time(
        &self,
        df: &DataFrame,
        (id, title, definition): (&'static str, &str, &'static str),
        columns: &[(&str, &str)],
        unit: Unit,
        kind: Kind,
    ) -> Result<String> {
        let series = columns
            .iter()
            .map(|(c, name)| Ok(Series::new(name, nums(df, c)?)))
            .collect::<Result<Vec<_>>>()?;
        Fig {
            id,
            title: title.to_string(),
            definition,
            x_desc: self.x_desc(),
            labels: self.labels(df)?,
            series,
            unit,
            kind,
        }
        .html()
    }

    fn bot(&self, t: &ultimate::Tables) -> Result<String> {
        let o = bot::Options::default();
        let tot = bot::compute(&t.conversations, &self.totals(), &o)?.frame;
        let mut out = html::headlines(&[
            head("conversations", "total_conversations", &tot, Fmt::Count)?,
            head("bot-handled", "bot_handled_rate", &tot, Fmt::Percent)?,
            head("deflection", "deflection_rate", &tot, Fmt::Percent)?,
            head("escalation", "escalation_rate", &tot, Fmt::Percent)?,
            head("automation", "automation_rate", &tot, Fmt::Percent)?,
            head(
                "messages understood",
                "messages_understood_rate",
                &tot,
                Fmt::Percent,
            )?,
        ]);
        let per = bot::compute(&t.conversations, &self.q, &o)?.frame;
        out += &self.over_time(
            &per,
            (
                "bot-volume",
                "Conversations per bucket",
                "Distinct deduplicated conversations booked by their start time.",
            ),
            &[("total_conversations", "conversations")],
            Unit::Count,
            Kind::Bars,
        )?;
        out += &self.over_time(
            &per,
            ("bot-rates", "Bot KPIs over time", "Shares of all conversations: bot-handled = status botHandled; deflection = status not email, agent or customEscalation; escalation = status email, agent or customEscalation; automation = last resolution informed or resolved. Understood = (visitor messages − not understood) / visitor messages."),
            &[
                ("bot_handled_rate", "bot-handled"),
                ("deflection_rate", "deflection"),
                ("escalation_rate", "escalation"),
                ("automation_rate", "automation"),
                ("messages_understood_rate", "understood"),
            ],
            Unit::Percent,
            Kind::Lines,
        )?;
        let mix = bot::compute(
            &t.conversations,
            &self.by(&["conversation_status"], Interval::Total),
            &o,
        )?
        .frame;
        out += &Fig {
            id: "bot-status",
            title: "Status mix".into(),
            definition: "Conversations per conversation_status over the whole range (the export's own values).",
            x_desc: "conversation_status".into(),
            labels: texts(&mix, "conversation_status")?,
            series: vec![Series::new("conversations", nums(&mix, "total_conversations")?)],
            unit: Unit::Count,
            kind: Kind::Bars,
        }
        .html()?;
        let intents = bot::compute(
            &t.conversations,
            &self.by(&["first_meaningful_intent"], Interval::Total),
            &o,
        )?
        .frame;
        let (names, volume, rate) = (
            texts(&intents, "first_meaningful_intent")?,
            nums(&intents, "total_conversations")?,
            nums(&intents, "bot_handled_rate")?,
        );
        let mut order: Vec<usize> = (0..names.len()).collect();
        order.sort_by(|&a, &b| {
            volume[b]
                .partial_cmp(&volume[a])
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(names[a].cmp(&names[b]))
        });
        order.truncate(10);
        out += &Fig {
            id: "bot-intents",
            title: "Top first meaningful intents".into(),
            definition: "The ten first meaningful intents with the most conversations (the vendor's definition: the earliest intent not flagged not_meaningful and not Greeting or Talk to a human/agent), with the bot-handled rate of their conversations.",
            x_desc: "first meaningful intent".into(),
            labels: order.iter().map(|&i| names[i].clone()).collect(),
            series: vec![
                Series::new("conversations", order.iter().map(|&i| volume[i]).collect()),
            ],
            unit: Unit::Count,
            kind: Kind::Bars,
        }
        .html()?;
        out += &html::table(
            &[
                "first meaningful intent".into(),
                "conversations".into(),
                "bot-handled rate".into(),
            ],
            &order
                .iter()
                .map(|&i| {
                    vec![
                        (names[i].clone(), names[i].clone()),
                        (html::show(volume[i], Fmt::Count), html::exact(volume[i])),
                        (html::show(rate[i], Fmt::Percent), html::exact(rate[i])),
                    ]
                })
                .collect::<Vec<_>>(),
        );
        Ok(out)
    }

    fn messaging(&self, t: &dialpad::Tables) -> Result<String> {
        let view = |v: messaging::View, q: &Query| {
            messaging::compute(
                t,
                q,
                &messaging::Options {
                    view: v,
                    intent_type: None,
                },
            )
        };
        let tot = self.totals();
        let i = view(messaging::View::Interactions, &tot)?;
        let h = view(messaging::View::Handoff, &tot)?;
        let rt = view(messaging::View::ResponseTimes, &tot)?;
        let mut out = html::headlines(&[
            head("interactions", "interactions", &i, Fmt::Count)?,
            head("customer sessions", "customer_sessions", &i, Fmt::Count)?,
            head("messages", "messages", &i, Fmt::Count)?,
            head("hand-off to agent", "escalation_rate", &h, Fmt::Percent)?,
            head("contained by the bot", "containment_rate", &h, Fmt::Percent)?,
            head(
                "first response p50",
                "first_response_p50_sec",
                &rt,
                Fmt::Seconds,
            )?,
        ]);
        // Bot vs agent interactions: the InteractionType view, one series per chat type.
        let it = view(messaging::View::InteractionType, &self.q)?;
        let (buckets, kinds, counts) = (
            self.labels(&it)?,
            texts(&it, "chattype")?,
            nums(&it, "interactions")?,
        );
        let mut labels: Vec<String> = Vec::new();
        for b in &buckets {
            if labels.last() != Some(b) {
                labels.push(b.clone());
            }
        }
        let mut series: Vec<Series> = Vec::new();
        for kind in ["bot", "agent"] {
            let mut values = vec![None; labels.len()];
            for ((b, k), n) in buckets.iter().zip(&kinds).zip(&counts) {
                if k.eq_ignore_ascii_case(kind) {
                    if let Some(at) = labels.iter().position(|l| l == b) {
                        values[at] = Some(values[at].unwrap_or(0.0) + n.unwrap_or(0.0));
                    }
                }
            }
            series.push(Series::new(&format!("{kind} interactions"), values));
        }
        out += &Fig {
            id: "messaging-types",
            title: "Bot and agent interactions".into(),
            definition: "Interactions (one per sessionid) by their chattype, booked by their first message (Dialpad's InteractionType).",
            x_desc: self.x_desc(),
            labels,
            series,
            unit: Unit::Count,
            kind: Kind::Bars,
        }
        .html()?;
        let hb = view(messaging::View::Handoff, &self.q)?;
        out += &self.over_time(
            &hb,
            ("messaging-handoff", "Hand-off and containment", "Of customer sessions with a bot interaction: hand-off = an agent interaction starts at or after the first bot interaction; containment = the rest. Sessions are booked by their first interaction."),
            &[("escalation_rate", "hand-off"), ("containment_rate", "containment")],
            Unit::Percent,
            Kind::Lines,
        )?;
        let rb = view(messaging::View::ResponseTimes, &self.q)?;
        out += &self.over_time(
            &rb,
            ("messaging-response", "Agents' first response time", "Per agent interaction: the time from the first customer message of a turn to the agent's next message, for the first turn; p50 and p90 exact (linear interpolation)."),
            &[("first_response_p50_sec", "p50"), ("first_response_p90_sec", "p90")],
            Unit::Seconds,
            Kind::Lines,
        )?;
        let ce = view(messaging::View::CustomerEndpoint, &tot)?;
        out += &Fig {
            id: "messaging-channels",
            title: "Channel mix".into(),
            definition: "Interactions per sessionchannel, the customer's endpoint (Dialpad's CustomerEndpoint), over the whole range.",
            x_desc: "sessionchannel".into(),
            labels: texts(&ce, "sessionchannel")?,
            series: vec![Series::new("interactions", nums(&ce, "interactions")?)],
            unit: Unit::Count,
            kind: Kind::Bars,
        }
        .html()?;
        let s = view(messaging::View::Sentiment, &tot)?;
        out += &Fig {
            id: "messaging-sentiment",
            title: "Sentiment of customer messages".into(),
            definition:
                "Customer messages with a sentiment score, by its sign, over the whole range.",
            x_desc: "sentiment".into(),
            labels: vec!["negative".into(), "neutral".into(), "positive".into()],
            series: vec![Series::new(
                "messages",
                vec![
                    total(&s, "negative_messages")?,
                    total(&s, "neutral_messages")?,
                    total(&s, "positive_messages")?,
                ],
            )],
            unit: Unit::Count,
            kind: Kind::Bars,
        }
        .html()?;
        Ok(out)
    }

    fn queue_options(&self) -> queue::Options {
        queue::Options {
            direction: queue::DirectionFilter::Inbound,
            sla_threshold: self.o.sla_threshold,
            quick_drop_threshold: None,
            service_levels: self.o.service_levels.clone(),
        }
    }

    fn queue(&self, t: &anywhere365::Tables) -> Result<String> {
        let o = self.queue_options();
        let sla = match self.o.sla_threshold {
            None => "sla_share".to_string(),
            Some(s) => format!("sla_share_{}", queue::secs(s)),
        };
        let tot = queue::compute(&t.dialogues, &self.totals(), &o)?;
        let mut out = html::headlines(&[
            head("offered", "offered", &tot, Fmt::Count)?,
            head("accepted", "accepted", &tot, Fmt::Count)?,
            head("abandoned", "abandoned", &tot, Fmt::Count)?,
            Headline {
                label: "service level",
                column: "sla_share",
                value: total(&tot, &sla)?,
                fmt: Fmt::Percent,
            },
            head("abandon rate", "abandon_rate", &tot, Fmt::Percent)?,
            head("speed of answer (mean)", "asa_sec", &tot, Fmt::Seconds)?,
        ]);
        let per = queue::compute(&t.dialogues, &self.q, &o)?;
        out += &self.over_time(
            &per,
            ("queue-volume", "Offered, accepted and abandoned dialogues", "Inbound dialogues: offered = accepted + abandoned (outcome Accepted or Abandoned), booked by their start time."),
            &[("offered", "offered"), ("accepted", "accepted"), ("abandoned", "abandoned")],
            Unit::Count,
            Kind::Bars,
        )?;
        let mut rates: Vec<(String, String)> = vec![
            (sla.clone(), "service level (InSLA share)".into()),
            ("abandon_rate".into(), "abandon rate".into()),
        ];
        let t_sl = self.o.sla_threshold.unwrap_or(queue::DEFAULT_SLA_THRESHOLD);
        for v in &self.o.service_levels {
            let name = queue::service_level_name(*v, t_sl);
            rates.push((name.clone(), name));
        }
        let cols: Vec<(&str, &str)> = rates
            .iter()
            .map(|(a, b)| (a.as_str(), b.as_str()))
            .collect();
        out += &self.over_time(
            &per,
            ("queue-rates", "Service level and abandonment", "Service level = accepted in SLA / accepted with InSLA known (the export's flag, or queue time ≤ the threshold); abandon rate = abandoned / offered; variants vN as in the README."),
            &cols,
            Unit::Percent,
            Kind::Lines,
        )?;
        out += &self.over_time(
            &per,
            (
                "queue-wait",
                "Speed of answer",
                "Queue time of accepted dialogues: mean (ASA) and exact 90th percentile.",
            ),
            &[("asa_sec", "ASA (mean)"), ("queue_p90_sec", "p90")],
            Unit::Seconds,
            Kind::Lines,
        )?;
        out += &self.intraday(t, &o)?;
        Ok(out)
    }

    /// Offered dialogues by local weekday and half hour: the 30-minute buckets' offered
    /// counts summed by the weekday and time of their local start.
    fn intraday(&self, t: &anywhere365::Tables, o: &queue::Options) -> Result<String> {
        let q = Query {
            interval: Interval::Minutes(30),
            ..self.q.clone()
        };
        let df = queue::compute(&t.dialogues, &q, o)?;
        let starts = texts(&df, "bucket_start")?;
        let offered = nums(&df, "offered")?;
        let mut grid = vec![vec![0.0; 48]; 7];
        for (s, n) in starts.iter().zip(&offered) {
            let Ok(local) =
                NaiveDateTime::parse_from_str(&s[..s.len().min(19)], "%Y-%m-%dT%H:%M:%S")
            else {
                continue;
            };
            let slot = (chrono::Timelike::hour(&local) * 2 + chrono::Timelike::minute(&local) / 30)
                as usize;
            grid[local.weekday().num_days_from_monday() as usize][slot] += n.unwrap_or(0.0);
        }
        let days: Vec<String> = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]
            .map(String::from)
            .into();
        let slots: Vec<String> = (0..48)
            .map(|i| format!("{:02}:{:02}", i / 2, i % 2 * 30))
            .collect();
        let svg = chart::heatmap(
            &days,
            &grid,
            &format!("local time of day ({})", self.o.tz.name()),
        )?;
        let mut header = vec!["weekday".to_string()];
        header.extend(slots.iter().cloned());
        let rows: Vec<Vec<(String, String)>> = days
            .iter()
            .zip(&grid)
            .map(|(d, row)| {
                let mut r = vec![(d.clone(), d.clone())];
                r.extend(
                    row.iter()
                        .map(|v| (html::show(Some(*v), Fmt::Count), v.to_string())),
                );
                r
            })
            .collect();
        Ok(html::figure(
            "queue-intraday",
            "When dialogues are offered: weekday by half hour",
            &[],
            "Offered dialogues (accepted + abandoned) summed over the range by the local weekday and half hour of their start: a staffing view.",
            &svg,
            &html::table(&header, &rows),
        ))
    }

    fn calls(&self, t: &samespace::Tables) -> Result<String> {
        let tot = metrics::calls::compute(&t.calls, &t.csat_calls, &self.totals())?;
        let mut out = String::from("<h3>Calls</h3>\n");
        out += &html::headlines(&[
            head("calls", "calls", &tot, Fmt::Count)?,
            head("answer rate (inbound)", "answer_rate", &tot, Fmt::Percent)?,
            head("AHT", "aht_sec", &tot, Fmt::Seconds)?,
            head(
                "time to answer p90",
                "time_to_answer_p90_sec",
                &tot,
                Fmt::Seconds,
            )?,
        ]);
        let per = metrics::calls::compute(&t.calls, &t.csat_calls, &self.q)?;
        out += &self.over_time(
            &per,
            (
                "calls-volume",
                "Calls and answered calls",
                "Calls booked by their start time; answered = has an answer time.",
            ),
            &[("calls", "calls"), ("answered_calls", "answered")],
            Unit::Count,
            Kind::Bars,
        )?;
        out += &self.over_time(
            &per,
            (
                "calls-answer-rate",
                "Answer rate",
                "Answered inbound calls / inbound calls (answered = has an answer time).",
            ),
            &[("answer_rate", "answer rate (inbound)")],
            Unit::Percent,
            Kind::Lines,
        )?;
        // AHT's parts: talk without hold, hold, after-call work (each a mean over answered calls).
        let talk = nums(&per, "avg_talk_sec")?;
        let hold = nums(&per, "avg_hold_sec")?;
        let talk_only = talk
            .iter()
            .zip(&hold)
            .map(|(t, h)| t.map(|t| t - h.unwrap_or(0.0)))
            .collect();
        out += &Fig {
            id: "calls-aht",
            title: "Handle time: talk, hold and after-call work".into(),
            definition: "Means over answered calls: talk = duration − hold (duration includes hold), hold, and after-call work from the call's CSAT record; AHT = duration + ACW.",
            x_desc: self.x_desc(),
            labels: self.labels(&per)?,
            series: vec![
                Series::new("talk", talk_only),
                Series::new("hold", hold),
                Series::new("after-call work", nums(&per, "avg_acw_sec")?),
            ],
            unit: Unit::Seconds,
            kind: Kind::Stacked,
        }
        .html()?;
        out += &self.over_time(
            &per,
            ("calls-tta", "Time to answer", "Answer time − start time of answered inbound calls (ring and IVR included): median and 90th percentile, exact (linear interpolation)."),
            &[("time_to_answer_p50_sec", "p50"), ("time_to_answer_p90_sec", "p90")],
            Unit::Seconds,
            Kind::Lines,
        )?;
        Ok(out)
    }

    fn csat(&self, t: &samespace::Tables) -> Result<String> {
        let df = metrics::csat::compute(&t.csat_answers, &self.totals())?;
        let questions = texts(&df, "question")?;
        let ids = texts(&df, "question_id")?;
        let labels: Vec<String> = ids
            .iter()
            .zip(&questions)
            .map(|(i, q)| format!("{i}: {q}"))
            .collect();
        let mut out = String::from("<h3>CSAT</h3>\n");
        out += &Fig {
            id: "csat",
            title: "CSAT per question".into(),
            definition: "Per survey question, never pooled: the share of responses (whole numbers from 0 to 10) in the top two boxes of the question's scale (5, 7 or 10, the smallest holding its highest response).",
            x_desc: "question".into(),
            labels,
            series: vec![Series::new("CSAT (top-2-box share)", nums(&df, "csat_share")?)],
            unit: Unit::Percent,
            kind: Kind::Bars,
        }
        .html()?;
        Ok(out)
    }

    fn agents(&self, t: &samespace::Tables) -> Result<String> {
        let df = agents::compute(
            &t.agent_sessions,
            &t.productivity,
            agents::Source::Logs,
            &self.q,
        )?;
        let hours: Vec<Option<f64>> = nums(&df, "logged_in_sec")?
            .into_iter()
            .map(|v| v.map(|s| s / 3600.0))
            .collect();
        let mut out = String::from("<h3>Agents</h3>\n");
        out += &Fig {
            id: "agents",
            title: "Agents' logged-in time".into(),
            definition: "The sum of agent sessions' durations, in hours, booked by the session's start (logged_in_sec / 3600).",
            x_desc: self.x_desc(),
            labels: self.labels(&df)?,
            series: vec![Series::new("logged-in hours", hours)],
            unit: Unit::Hours,
            kind: Kind::Bars,
        }
        .html()?;
        Ok(out)
    }
}

fn head(label: &'static str, column: &'static str, df: &DataFrame, fmt: Fmt) -> Result<Headline> {
    Ok(Headline {
        label,
        column,
        value: total(df, column)?,
        fmt,
    })
}
