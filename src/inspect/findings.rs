//! Data-quality findings: values that read fine but change what a KPI means. Each check
//! looks at one canonical table; `cxkpi inspect` runs them all, and `cxkpi metrics` prints
//! those that change the meaning of a KPI it prints.

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Float64Type, Int64Type, TimestampMicrosecondType};

use crate::metrics::bot::normalize;
use crate::time::{utc_date, DAY_US};

/// One finding: what, in which table, how many rows, and the first file holding one.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Finding {
    pub table: &'static str,
    pub check: &'static str,
    pub rows: usize,
    pub file: Option<String>,
    pub message: String,
}

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Option<&'a ArrayRef> {
    batch.column_by_name(name)
}

fn texts(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    match utf8(batch, name) {
        Some(c) => (c.as_string::<i32>().iter())
            .map(|v| v.map(str::to_string))
            .collect(),
        None => vec![None; batch.num_rows()],
    }
}

fn times(batch: &RecordBatch, name: &str) -> Vec<Option<i64>> {
    match column(batch, name).and_then(|c| c.as_primitive_opt::<TimestampMicrosecondType>()) {
        Some(c) => c.iter().collect(),
        None => vec![None; batch.num_rows()],
    }
}

fn floats(batch: &RecordBatch, name: &str) -> Vec<Option<f64>> {
    let n = Numbers::of(batch, name);
    (0..batch.num_rows()).map(|i| n.at(i)).collect()
}

/// The text column `name` as Utf8 (a dictionary-coded column cast once), if present.
fn utf8(batch: &RecordBatch, name: &str) -> Option<ArrayRef> {
    let c = column(batch, name)?;
    match c.data_type() {
        DataType::Utf8 => Some(c.clone()),
        _ => arrow::compute::cast(c, &DataType::Utf8).ok(),
    }
}

/// A count column read in place as numbers (integer or float), absent as all null.
enum Numbers<'a> {
    Float(&'a arrow::array::Float64Array),
    Int(&'a arrow::array::Int64Array),
    Absent,
}

impl<'a> Numbers<'a> {
    fn of(batch: &'a RecordBatch, name: &str) -> Self {
        let Some(c) = column(batch, name) else {
            return Numbers::Absent;
        };
        if let Some(c) = c.as_primitive_opt::<Float64Type>() {
            return Numbers::Float(c);
        }
        match c.as_primitive_opt::<Int64Type>() {
            Some(c) => Numbers::Int(c),
            None => Numbers::Absent,
        }
    }

    fn at(&self, i: usize) -> Option<f64> {
        match self {
            Numbers::Float(c) => c.is_valid(i).then(|| c.value(i)),
            Numbers::Int(c) => c.is_valid(i).then(|| c.value(i) as f64),
            Numbers::Absent => None,
        }
    }
}

/// Rows of `batch` where `bad` holds: their count and the first one's source file.
fn count(batch: &RecordBatch, bad: impl Fn(usize) -> bool) -> (usize, Option<String>) {
    let files = texts(batch, "source_file");
    let mut n = 0;
    let mut first = None;
    for (i, file) in files.iter().enumerate() {
        if bad(i) {
            n += 1;
            if first.is_none() {
                first = file.clone();
            }
        }
    }
    (n, first.filter(|f| !f.is_empty()))
}

/// Per bot: visitor messages, whether any not-understood count is above 0, rows, and the
/// first file.
type BotCounts = (f64, bool, usize, Option<String>);

/// The runs of `b`'s rows by bot id (an export file is one bot's, so its rows come in
/// runs), each counted: the bot id (empty when missing) and its [`BotCounts`].
fn bot_runs(b: &RecordBatch) -> Vec<(String, BotCounts)> {
    let (bot, files) = (utf8(b, "bot_id"), utf8(b, "source_file"));
    let (bot, files) = (
        bot.as_ref().map(|c| c.as_string::<i32>()),
        files.as_ref().map(|c| c.as_string::<i32>()),
    );
    fn at<'a>(c: &Option<&'a arrow::array::StringArray>, i: usize) -> Option<&'a str> {
        c.filter(|c| c.is_valid(i)).map(|c| c.value(i))
    }
    let (visitors, nu) = (
        Numbers::of(b, "visitor_messages_count"),
        Numbers::of(b, "not_understood_messages_count"),
    );
    let mut runs = Vec::new();
    let mut start = 0;
    while start < b.num_rows() {
        let key = at(&bot, start);
        let end = (start + 1..b.num_rows())
            .find(|&i| at(&bot, i) != key)
            .unwrap_or(b.num_rows());
        let sent: f64 = (start..end).filter_map(|i| visitors.at(i)).sum();
        let misunderstood = (start..end).any(|i| nu.at(i).is_some_and(|v| v > 0.0));
        let file = (start..end).find_map(|i| at(&files, i).filter(|f| !f.is_empty()));
        let counts = (sent, misunderstood, end - start, file.map(str::to_string));
        runs.push((key.unwrap_or_default().to_string(), counts));
        start = end;
    }
    runs
}

/// The understood rate reads 100% when no conversation counts a misunderstood message
/// (LLM-era bots report 0 on every row): the bots with visitor messages but no
/// `not_understood_messages_count` above 0.
///
/// Runs on every `metrics bot`, so it reads the columns in place: a bot's rows come in runs
/// (an export file is one bot's), and each run is looked up once. (Copying every bot id and
/// file name into a map per row took a third of a run over a lake.)
pub fn understood_counter_all_zero(conversations: &[RecordBatch]) -> Option<Finding> {
    use rayon::prelude::*;
    // Each batch's runs on whichever core takes it, then merged in batch order, so a
    // bot's first file is still the first delivered. (One core took 2% of a bot run
    // over 0.4 GB of exports, while the other waited.)
    let runs: Vec<Vec<(String, BotCounts)>> = conversations.par_iter().map(bot_runs).collect();
    let mut bots: BTreeMap<String, BotCounts> = BTreeMap::new();
    for (bot, (visitors, misunderstood, rows, file)) in runs.into_iter().flatten() {
        let e = bots.entry(bot).or_default();
        e.0 += visitors;
        e.1 |= misunderstood;
        e.2 += rows;
        if e.3.is_none() {
            e.3 = file;
        }
    }
    let silent: Vec<(&String, &BotCounts)> =
        bots.iter().filter(|(_, v)| v.0 > 0.0 && !v.1).collect();
    if silent.is_empty() {
        return None;
    }
    let rows = silent.iter().map(|(_, v)| v.2).sum();
    let names: Vec<&str> = silent
        .iter()
        .map(|(k, _)| k.as_str())
        .filter(|k| !k.is_empty())
        .take(5)
        .collect();
    let whose = match names.is_empty() {
        true => String::new(),
        false => format!(" for bot(s) {}", names.join(", ")),
    };
    Some(Finding {
        table: "bot_conversations",
        check: "counter_all_zero",
        rows,
        file: silent.iter().find_map(|(_, v)| v.3.clone()),
        message: format!(
            "every not_understood_messages_count is 0 or missing{whose} although visitors sent messages: \
             messages_understood_rate reads 100% there (recent LLM-based bots do not fill this counter)"
        ),
    })
}

fn edit_distance(a: &str, b: &str) -> usize {
    let (a, b): (Vec<char>, Vec<char>) = (a.chars().collect(), b.chars().collect());
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.iter().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// The documented value `value` seems meant as, if it is a variant spelling or a typo of
/// one (and not one itself).
pub fn typo_of<'a>(value: &str, documented: &[&'a str], exact: bool) -> Option<&'a str> {
    if documented.iter().any(|d| match exact {
        true => *d == value,
        false => d.eq_ignore_ascii_case(value),
    }) {
        return None;
    }
    let n = normalize(value);
    documented
        .iter()
        .find(|d| {
            let d = normalize(d);
            // Two edits on a long word, one on a short one ("in" is not a typo of "on"'s
            // neighbours two letters away).
            let near = if d.chars().count() >= 6 { 2 } else { 1 };
            d == n || edit_distance(&d, &n) <= near
        })
        .copied()
}

/// Values of `column` that are near misses of `documented`, grouped.
fn unknown_values(
    table: &'static str,
    batch: &RecordBatch,
    column: &str,
    documented: &[&str],
    exact: bool,
    what: &str,
) -> Option<Finding> {
    let values = texts(batch, column);
    let mut seen: BTreeMap<String, &str> = BTreeMap::new();
    for v in values.iter().flatten() {
        if let Some(d) = typo_of(v, documented, exact) {
            seen.insert(v.clone(), d);
        }
    }
    if seen.is_empty() {
        return None;
    }
    let (rows, file) = count(batch, |i| {
        values[i].as_ref().is_some_and(|v| seen.contains_key(v))
    });
    let pairs: Vec<String> = seen
        .iter()
        .take(5)
        .map(|(v, d)| format!("{v:?} (for {d:?}?)"))
        .collect();
    Some(Finding {
        table,
        check: "unknown_value",
        rows,
        file,
        message: format!(
            "{column}: {} — not a documented {what}, so the KPIs that test for it do not count these rows",
            pairs.join(", ")
        ),
    })
}

/// Rows ending before they start.
fn end_before_start(
    table: &'static str,
    batch: &RecordBatch,
    start: &str,
    end: &str,
) -> Option<Finding> {
    let (s, e) = (times(batch, start), times(batch, end));
    let (rows, file) = count(
        batch,
        |i| matches!((s[i], e[i]), (Some(s), Some(e)) if e < s),
    );
    (rows > 0).then(|| Finding {
        table,
        check: "end_before_start",
        rows,
        file,
        message: format!("{end} is before {start}: durations from these rows are negative"),
    })
}

/// Durations below 0 or above a day.
fn implausible(table: &'static str, batch: &RecordBatch, columns: &[&str]) -> Vec<Finding> {
    columns
        .iter()
        .filter_map(|c| {
            let v = floats(batch, c);
            let (rows, file) = count(batch, |i| {
                v[i].is_some_and(|v| !(0.0..=86_400.0).contains(&v))
            });
            (rows > 0).then(|| Finding {
                table,
                check: "implausible_duration",
                rows,
                file,
                message: format!(
                    "{c} is negative or longer than a day: means and percentiles include it"
                ),
            })
        })
        .collect()
}

/// Timestamps more than a day after now (clock or time-zone errors).
fn in_the_future(
    table: &'static str,
    batch: &RecordBatch,
    column: &str,
    now_us: i64,
) -> Option<Finding> {
    let t = times(batch, column);
    let (rows, file) = count(batch, |i| t[i].is_some_and(|t| t > now_us + DAY_US));
    (rows > 0).then(|| Finding {
        table,
        check: "future_time",
        rows,
        file,
        message: format!(
            "{column} is in the future: these rows fall in buckets that have not happened"
        ),
    })
}

/// Days without any conversation ending, between days with some, per bot: the export of
/// that day seems missing (a conversation is in the file of the day it ended).
fn missing_days(conversations: &[RecordBatch], now_us: i64) -> Option<Finding> {
    let today = utc_date(now_us);
    let mut days: BTreeMap<String, BTreeSet<chrono::NaiveDate>> = BTreeMap::new();
    for b in conversations {
        let (bot, ends) = (texts(b, "bot_id"), times(b, "conversation_end_time"));
        for i in 0..b.num_rows() {
            if let Some(t) = ends[i].filter(|&t| utc_date(t) <= today) {
                days.entry(bot[i].clone().unwrap_or_default())
                    .or_default()
                    .insert(utc_date(t));
            }
        }
    }
    let mut missing = Vec::new();
    for (bot, d) in &days {
        let (Some(first), Some(last)) = (d.first(), d.last()) else {
            continue;
        };
        let mut day = *first;
        while day < *last {
            if !d.contains(&day) {
                missing.push(format!("{day} (bot {bot})"));
            }
            day = day.succ_opt().unwrap_or(*last);
        }
    }
    (!missing.is_empty()).then(|| Finding {
        table: "bot_conversations",
        check: "missing_export_day",
        rows: 0,
        file: None,
        message: format!(
            "no conversation ends on {}: that day's export seems missing (conversations are exported by the day they end)",
            missing.iter().take(5).cloned().collect::<Vec<_>>().join(", ")
        ),
    })
}

const STATUSES: &[&str] = &[
    "botHandled",
    "agent",
    "email",
    "customEscalation",
    "failedEscalation",
];
const RESOLUTIONS: &[&str] = &["informed", "resolved"];
const OUTCOMES: &[&str] = &["Accepted", "Abandoned", "IvrDrop"];
const SENDERS: &[&str] = &["customer", "bot", "agent"];
const CHAT_TYPES: &[&str] = &["bot", "agent"];
const DIRECTIONS: &[&str] = &["inbound", "outbound", "in", "out"];

/// The row checks of one table: its start and end, the time that books it, durations in
/// seconds, and text columns with their documented values (compared exactly or ignoring
/// case, as its KPIs compare them).
struct Rules {
    start_end: Option<(&'static str, &'static str)>,
    time: &'static str,
    durations: &'static [&'static str],
    values: &'static [(&'static str, &'static [&'static str], bool, &'static str)],
}

fn rules(table: &str) -> Option<Rules> {
    Some(match table {
        "bot_conversations" => Rules {
            start_end: Some(("conversation_start_time", "conversation_end_time")),
            time: "conversation_start_time",
            durations: &[],
            values: &[
                ("conversation_status", STATUSES, true, "status"),
                ("last_resolution", RESOLUTIONS, true, "resolution"),
            ],
        },
        "messages" => Rules {
            start_end: None,
            time: "ts",
            durations: &[],
            values: &[
                ("sendertype", SENDERS, false, "sender type"),
                ("chattype", CHAT_TYPES, false, "chat type"),
            ],
        },
        "dialogues" => Rules {
            start_end: Some(("start_time", "end_time")),
            time: "start_time",
            durations: &[
                "queue_sec",
                "initial_talk_sec",
                "ivr_sec",
                "abandon_wait_sec",
            ],
            values: &[
                ("outcome", OUTCOMES, false, "outcome"),
                ("direction", DIRECTIONS, false, "direction"),
            ],
        },
        "calls" => Rules {
            start_end: Some(("start_time", "end_time")),
            time: "start_time",
            durations: &["duration_sec", "hold_duration_sec"],
            values: &[("direction", DIRECTIONS, false, "direction")],
        },
        "agent_sessions" => Rules {
            start_end: Some(("start_time", "end_time")),
            time: "start_time",
            durations: &[],
            values: &[],
        },
        _ => return None,
    })
}

/// Every check of one table.
pub fn check(table: &'static str, batches: &[RecordBatch], now_us: i64) -> Vec<Finding> {
    let mut out = Vec::new();
    if table == "bot_conversations" {
        out.extend(understood_counter_all_zero(batches));
        out.extend(missing_days(batches, now_us));
    }
    if let Some(r) = rules(table) {
        for b in batches {
            if let Some((start, end)) = r.start_end {
                out.extend(end_before_start(table, b, start, end));
            }
            out.extend(in_the_future(table, b, r.time, now_us));
            out.extend(implausible(table, b, r.durations));
            for (column, documented, exact, what) in r.values {
                out.extend(unknown_values(table, b, column, documented, *exact, what));
            }
        }
    }
    // The same finding from several batches: one line, counts added.
    let mut merged: Vec<Finding> = Vec::new();
    for f in out {
        match merged
            .iter_mut()
            .find(|m| m.check == f.check && m.message == f.message)
        {
            Some(m) => m.rows += f.rows,
            None => merged.push(f),
        }
    }
    merged
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_of_documented_values() {
        assert_eq!(typo_of("bot_handled", STATUSES, true), Some("botHandled"));
        assert_eq!(typo_of("botHandeld", STATUSES, true), Some("botHandled"));
        assert_eq!(typo_of("botHandled", STATUSES, true), None);
        assert_eq!(typo_of("Accepted", OUTCOMES, false), None);
        assert_eq!(typo_of("accepted", OUTCOMES, false), None);
        assert_eq!(typo_of("Acepted", OUTCOMES, false), Some("Accepted"));
        assert_eq!(typo_of("Transferred", OUTCOMES, false), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }

    /// A conversation: bot_id, visitor count, not-understood count, file.
    type Row = (Option<&'static str>, Option<i64>, Option<i64>, &'static str);

    fn conversations(rows: &[Row]) -> RecordBatch {
        use arrow::array::{Int64Array, StringArray};
        let text = |f: fn(&Row) -> Option<&'static str>| {
            std::sync::Arc::new(rows.iter().map(f).collect::<StringArray>()) as ArrayRef
        };
        let count = |f: fn(&Row) -> Option<i64>| {
            std::sync::Arc::new(rows.iter().map(f).collect::<Int64Array>()) as ArrayRef
        };
        RecordBatch::try_from_iter([
            ("bot_id", text(|r| r.0)),
            ("visitor_messages_count", count(|r| r.1)),
            ("not_understood_messages_count", count(|r| r.2)),
            ("source_file", text(|r| Some(r.3))),
        ])
        .unwrap()
    }

    #[test]
    fn a_silent_counter_is_judged_over_every_batch_of_a_bot() {
        // Bot a counts a misunderstood message only in the second batch: not silent. Bot b
        // never does, and its visitors write only in the second batch: silent, with its
        // rows of all three batches and the first file naming it (the first row's is
        // empty). A missing bot id is a bot of its own (here one that counts).
        let batches = [
            conversations(&[
                (Some("a"), Some(3), Some(0), "a1"),
                (Some("b"), Some(0), Some(0), ""),
                (Some("b"), None, Some(0), "b1"),
            ]),
            conversations(&[
                (Some("b"), Some(2), None, "b2"),
                (Some("a"), Some(1), Some(1), "a2"),
                (None, Some(1), Some(1), "n2"),
            ]),
            conversations(&[
                (Some("a"), Some(1), Some(0), "a3"),
                (Some("b"), Some(0), Some(0), "b3"),
            ]),
        ];
        let f = understood_counter_all_zero(&batches).unwrap();
        assert_eq!(f.rows, 4, "{f:?}");
        assert_eq!(f.file.as_deref(), Some("b1"));
        assert!(f.message.contains("for bot(s) b "), "{}", f.message);
        assert!(!f.message.contains("bot(s) a"), "{}", f.message);
        // Without the second batch bot a is silent, and bot b's visitors wrote nothing.
        let f = understood_counter_all_zero(&[batches[0].clone(), batches[2].clone()]).unwrap();
        assert_eq!(f.rows, 2, "{f:?}");
        assert_eq!(f.file.as_deref(), Some("a1"));
        assert!(f.message.contains("for bot(s) a "), "{}", f.message);
    }
}
