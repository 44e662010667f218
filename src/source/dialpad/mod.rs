//! Dialpad Digital Engagement (formerly Koopid) redacted message dumps.
//!
//! Every shape seen is read: a top-level array of messages, `[{"messages":[…]}]`,
//! `{"messages":[…]}`, NDJSON; gzip or not (the envelopes are unwrapped by the shared framing
//! layer). `ts` (epoch ms) is the authoritative time. Ids stay text: `sessionid` "12.10" is
//! segment 10 of conversation 12, and `customersessionid` may start with "-". Optional fields
//! may be missing. There is no message id, so a message delivered again by an overlapping
//! pull is recognised by (sessionid, ts, sendertype, text) and counted once.

mod dedupe;
mod derive;

use std::sync::Arc;

use arrow::array::{
    ArrayRef, Float64Builder, Int64Builder, RecordBatch, StringArray, StringBuilder,
    TimestampMicrosecondBuilder,
};

use crate::error::Result;
use crate::source::de::KeyMemo;
use crate::source::json::{parse_timestamp, LooseF64, LooseStr, LooseTime, RawText};
use crate::source::{read_all, Candidate, Keyless, OnBadFile, Records, Rejects, Stats, Vendor};
use crate::table::{Col, Nulls, MESSAGES};
use dedupe::{latest_in_canonical_order, Kept, Listed, Sender};

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Metrics-only read (see [`Lean`]); `None` reads every column of both tables.
    pub only: Option<Lean>,
}

/// What a metrics-only read keeps: the fields no view reads (`topmatches`,
/// `sessionchannelinfo`, sender name and e-mail, `timestamp` text, `workflownodeid`), and
/// those of [`READ_IF_ASKED`] that neither list names, are skipped undecoded; each table
/// comes out with only its listed columns (a column a view forgot is absent, not null).
#[derive(Debug, Clone, Default)]
pub struct Lean {
    /// The `messages` columns read.
    pub messages: Vec<String>,
    /// The `interactions` columns read (the others are derived from nulls).
    pub interactions: Vec<String>,
    /// The messages come out in delivery order rather than canonical order: for a view
    /// whose message aggregates are counts, which no row order changes (see
    /// [`crate::table::in_delivery_order`]).
    pub in_delivery_order: bool,
    /// The `sendertype` column may come as codes of these words, as
    /// `metrics::with_word_codes` reads them (`metrics::messaging::sender_words`): for a
    /// view that only counts by it.
    pub sender_words: Option<&'static [&'static str]>,
}

impl Lean {
    /// How the kept messages are listed: not at all for a view that reads none of their
    /// columns; for a view of counts that reads only what the dedupe's slots hold (ts, and
    /// the sender type as codes), built from the slots; else in delivery order for a view
    /// of counts, in canonical order for the others.
    fn listed(&self) -> Listed<'_> {
        if self.messages.is_empty() {
            return Listed::Counted;
        }
        if !self.in_delivery_order {
            return Listed::Canonical;
        }
        let codes = self.sender_words.and_then(Sender::codes_in);
        let held = |c: &String| c == "ts" || (c == "sendertype" && codes.is_some());
        match codes {
            Some(codes) if self.messages.iter().all(held) => Listed::Held(&self.messages, codes),
            _ => Listed::Delivery,
        }
    }
}

#[derive(Debug)]
pub struct Tables {
    pub messages: RecordBatch,
    pub interactions: RecordBatch,
    pub stats: Stats,
}

/// Reads Dialpad message dumps into `messages` and the derived `interactions`.
pub fn read(
    candidates: &[Candidate],
    opts: &Options,
    on_bad: OnBadFile,
    rejects: &mut Rejects,
) -> Result<Tables> {
    let keyless = Keyless::default();
    let nulls = Nulls::default();
    let chunks = read_all(
        candidates,
        &[Vendor::Dialpad],
        on_bad,
        opts.only.is_none(),
        rejects,
        &keyless,
        |records, keyless| parse_chunk(records, opts, keyless, &nulls),
    )?;
    let files = rejects.read_of(candidates.len());
    let records = chunks.iter().map(|(c, _)| c.num_rows()).sum();
    // A metrics-only read derives only the interactions columns its view reads.
    let derived = opts.only.as_ref().map(|l| l.interactions.as_slice());
    let listed = opts.only.as_ref().map_or(Listed::Canonical, Lean::listed);
    let (kept, interactions) = latest_in_canonical_order(chunks, derived, listed)?;
    // The interactions come out with the columns asked for already.
    let messages = match (kept, &opts.only) {
        (Kept::Built(messages), _) => messages,
        (Kept::Listed(messages), Some(lean)) => messages.select(&lean.messages)?,
        (Kept::Listed(messages), None) => messages.into_batch(|_| true)?,
    };
    let mut stats = Stats {
        files,
        records,
        duplicates: records - messages.num_rows(),
        ..Stats::default()
    };
    keyless.report(&mut stats);
    Ok(Tables {
        stats,
        messages,
        interactions,
    })
}

#[derive(Debug, Default)]
struct Message<'a> {
    sessionid: RawText<'a>,
    customersessionid: RawText<'a>,
    ts: LooseTime,
    timestamp: LooseStr<'a>,
    sendertype: LooseStr<'a>,
    sendername: LooseStr<'a>,
    senderemail: LooseStr<'a>,
    chattype: LooseStr<'a>,
    text: LooseStr<'a>,
    sentiment: LooseF64,
    topic: LooseStr<'a>,
    score: LooseF64,
    topmatches: RawText<'a>,
    lang: LooseStr<'a>,
    workflow: LooseStr<'a>,
    workflownodeid: RawText<'a>,
    sessionchannel: LooseStr<'a>,
    sessionchannelinfo: RawText<'a>,
}

/// Fields a metrics-only read skips unparsed.
/// (`timestamp` is read, though no view reads its column: it fills a missing `ts`.)
const LEAN_SKIPPED: [&str; 5] = [
    "topmatches",
    "sessionchannelinfo",
    "sendername",
    "senderemail",
    "workflownodeid",
];

/// The `messages` columns every read builds: the identity of a message and what the
/// interactions are derived from in every view.
const ALWAYS_BUILT: [&str; 4] = ["sessionid", "ts", "sendertype", "text"];

/// Fields (and the column of either table they fill) a metrics-only read skips unless its
/// view reads that column: the dedupe reads none of them, and the interactions view, for
/// one, only the customer session of the derived columns.
const READ_IF_ASKED: [(&str, &str); 8] = [
    ("topic", "topic"),
    ("score", "score"),
    ("sentiment", "sentiment"),
    ("customersessionid", "customersessionid"),
    ("chattype", "chattype"),
    ("sessionchannel", "sessionchannel"),
    ("lang", "lang"),
    ("workflow", "workflow"),
];

impl Options {
    /// The fields to skip unparsed.
    fn skipped(&self) -> Vec<&'static str> {
        let read = self.only.as_ref().map(|lean| {
            let mut read = lean.messages.clone();
            read.extend(lean.interactions.iter().cloned());
            read
        });
        super::lean_skipped(read.as_deref(), &LEAN_SKIPPED, &READ_IF_ASKED)
    }

    /// Whether the `messages` column `name` is built (the others come out all null).
    fn builds(&self, name: &str) -> bool {
        self.only.as_ref().is_none_or(|lean| {
            ALWAYS_BUILT.contains(&name)
                || lean.messages.iter().any(|c| c == name)
                || lean.interactions.iter().any(|c| c == name)
        })
    }
}

keys! {
    /// The fields of a message the reader knows.
    Key, KEYS:
    SessionId = "sessionid",
    CustomerSessionId = "customersessionid",
    Ts = "ts",
    Timestamp = "timestamp",
    SenderType = "sendertype",
    SenderName = "sendername",
    SenderEmail = "senderemail",
    ChatType = "chattype",
    Text = "text",
    Sentiment = "sentiment",
    Topic = "topic",
    Score = "score",
    TopMatches = "topmatches",
    Lang = "lang",
    Workflow = "workflow",
    WorkflowNodeId = "workflownodeid",
    SessionChannel = "sessionchannel",
    SessionChannelInfo = "sessionchannelinfo",
}

/// Reads one message at `d` into `m`, a fresh message of the caller's, skipping the
/// `skipped` fields (see [`Options::skipped`]; `memo` carries the key order from one record
/// of a chunk to the next). Filled where it lives rather than returned: a message is a few
/// hundred bytes, and moving it out of the parse copied it twice per record.
fn message<'de>(
    d: &mut super::de::Deserializer<'de>,
    skipped: &[&str],
    memo: &mut KeyMemo<'de, Key>,
    m: &mut Message<'de>,
) -> Result<(), super::de::Error> {
    let resolve = |k: &str| super::known_key(&KEYS, skipped, k);
    d.fields("a Dialpad message object", memo, resolve, |d, k, key| {
        match k {
            Key::SessionId => m.sessionid = d.str_value(key)?,
            Key::CustomerSessionId => m.customersessionid = d.str_value(key)?,
            Key::Ts => m.ts = d.text_value(key)?,
            Key::Timestamp => m.timestamp = d.str_value(key)?,
            Key::SenderType => m.sendertype = d.str_value(key)?,
            Key::SenderName => m.sendername = d.str_value(key)?,
            Key::SenderEmail => m.senderemail = d.str_value(key)?,
            Key::ChatType => m.chattype = d.str_value(key)?,
            Key::Text => m.text = d.str_value(key)?,
            Key::Sentiment => m.sentiment = d.text_value(key)?,
            Key::Topic => m.topic = d.str_value(key)?,
            Key::Score => m.score = d.text_value(key)?,
            Key::TopMatches => m.topmatches = d.str_value(key)?,
            Key::Lang => m.lang = d.str_value(key)?,
            Key::Workflow => m.workflow = d.str_value(key)?,
            Key::WorkflowNodeId => m.workflownodeid = d.str_value(key)?,
            Key::SessionChannel => m.sessionchannel = d.str_value(key)?,
            Key::SessionChannelInfo => m.sessionchannelinfo = d.str_value(key)?,
        }
        Ok(true)
    })
}

/// Splits `sessionid` "x.y" into the conversation id and the integer segment.
pub fn split_sessionid(sessionid: &str) -> Result<(&str, Option<i64>), String> {
    match sessionid.rsplit_once('.') {
        Some((conv, seg)) => seg.parse::<i64>().map(|s| (conv, Some(s))).map_err(|_| {
            format!("field `sessionid`: expected \"conversation.segment\", found {sessionid:?}")
        }),
        None => Ok((sessionid, None)),
    }
}

struct Builders {
    sessionid: StringBuilder,
    conversation_id: Col<StringBuilder>,
    segment: Col<Int64Builder>,
    customersessionid: Col<StringBuilder>,
    ts: TimestampMicrosecondBuilder,
    timestamp_text: Col<StringBuilder>,
    sendertype: StringBuilder,
    sendername: Col<StringBuilder>,
    senderemail: Col<StringBuilder>,
    chattype: Col<StringBuilder>,
    text: StringBuilder,
    sentiment: Col<Float64Builder>,
    topic: Col<StringBuilder>,
    score: Col<Float64Builder>,
    topmatches: Col<StringBuilder>,
    lang: Col<StringBuilder>,
    workflow: Col<StringBuilder>,
    workflownodeid: Col<StringBuilder>,
    sessionchannel: Col<StringBuilder>,
    sessionchannelinfo: Col<StringBuilder>,
}

/// Bytes of a dump per message, at least: a message of the four fields every read builds
/// and little text is about 150 bytes (the generated dumps' are 360).
const MIN_MESSAGE_BYTES: usize = 150;

impl Builders {
    /// Builders for the columns `opts` builds (see [`Options::builds`]), those every read
    /// builds sized for the messages `input` bytes can hold: grown by doubling instead,
    /// they copied themselves and had the kernel clear fresh pages for each copy (a sixth
    /// of the parse). Capacity never written to is never paged in.
    ///
    /// The other columns start at the builders' default of 1,024 values, or fewer when the
    /// input holds fewer: at the default, a file of one message kept 90 KB of room (20,000
    /// such files, 1.8 GB).
    fn new(opts: &Options, input: usize) -> Self {
        let rows = input / MIN_MESSAGE_BYTES + 1;
        let schema = MESSAGES.schema();
        let room = rows.min(1024);
        let text = |name| {
            let make = || StringBuilder::with_capacity(room, room);
            Col::new(&schema, name, opts.builds(name), make)
        };
        let float = |name| {
            let make = || Float64Builder::with_capacity(room);
            Col::new(&schema, name, opts.builds(name), make)
        };
        Builders {
            // Each field's bytes at most: ids, sender types and texts are shorter.
            sessionid: StringBuilder::with_capacity(rows, input / 8),
            conversation_id: text("conversation_id"),
            segment: Col::new(&schema, "segment", opts.builds("segment"), || {
                Int64Builder::with_capacity(room)
            }),
            customersessionid: text("customersessionid"),
            ts: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            timestamp_text: text("timestamp_text"),
            sendertype: StringBuilder::with_capacity(rows, input / 8),
            sendername: text("sendername"),
            senderemail: text("senderemail"),
            chattype: text("chattype"),
            text: StringBuilder::with_capacity(rows, input / 2),
            sentiment: float("sentiment"),
            topic: text("topic"),
            score: float("score"),
            topmatches: text("topmatches"),
            lang: text("lang"),
            workflow: text("workflow"),
            workflownodeid: text("workflownodeid"),
            sessionchannel: text("sessionchannel"),
            sessionchannelinfo: text("sessionchannelinfo"),
        }
    }

    /// Appends a message; `Ok(false)` when it has no sessionid (left out, see [`Keyless`]).
    fn push(&mut self, m: &Message<'_>) -> Result<bool, String> {
        let Some(sessionid) = m.sessionid.0.as_deref() else {
            return Ok(false);
        };
        let (conversation, segment) = split_sessionid(sessionid)?;
        // `ts` is authoritative; the human-readable `timestamp` only fills a missing ts.
        let ts = match (m.ts.0, m.timestamp.0.as_deref()) {
            (Some(t), _) => Some(t),
            (None, Some(text)) => {
                parse_timestamp(text).map_err(|e| format!("field `timestamp`: {e}"))?
            }
            (None, None) => None,
        };
        self.sessionid.append_value(sessionid);
        self.conversation_id.put(|b| b.append_value(conversation));
        self.segment.put(|b| b.append_option(segment));
        self.ts.append_option(ts);
        self.sendertype.append_option(m.sendertype.0.as_deref());
        self.text.append_option(m.text.0.as_deref());
        self.customersessionid
            .put(|b| b.append_option(m.customersessionid.0.as_deref()));
        self.timestamp_text
            .put(|b| b.append_option(m.timestamp.0.as_deref()));
        self.sendername
            .put(|b| b.append_option(m.sendername.0.as_deref()));
        self.senderemail
            .put(|b| b.append_option(m.senderemail.0.as_deref()));
        self.chattype
            .put(|b| b.append_option(m.chattype.0.as_deref()));
        self.sentiment.put(|b| b.append_option(m.sentiment.0));
        self.topic.put(|b| b.append_option(m.topic.0.as_deref()));
        self.score.put(|b| b.append_option(m.score.0));
        self.topmatches
            .put(|b| b.append_option(m.topmatches.0.as_deref()));
        self.lang.put(|b| b.append_option(m.lang.0.as_deref()));
        self.workflow
            .put(|b| b.append_option(m.workflow.0.as_deref()));
        self.workflownodeid
            .put(|b| b.append_option(m.workflownodeid.0.as_deref()));
        self.sessionchannel
            .put(|b| b.append_option(m.sessionchannel.0.as_deref()));
        self.sessionchannelinfo
            .put(|b| b.append_option(m.sessionchannelinfo.0.as_deref()));
        Ok(true)
    }

    fn finish(mut self, nulls: &Nulls) -> Result<RecordBatch> {
        let rows = arrow::array::ArrayBuilder::len(&self.sessionid);
        let cols: Vec<ArrayRef> = vec![
            Arc::new(self.sessionid.finish()),
            self.conversation_id.finish(rows, nulls),
            self.segment.finish(rows, nulls),
            self.customersessionid.finish(rows, nulls),
            Arc::new(self.ts.finish()),
            self.timestamp_text.finish(rows, nulls),
            Arc::new(self.sendertype.finish()),
            self.sendername.finish(rows, nulls),
            self.senderemail.finish(rows, nulls),
            self.chattype.finish(rows, nulls),
            Arc::new(self.text.finish()),
            self.sentiment.finish(rows, nulls),
            self.topic.finish(rows, nulls),
            self.score.finish(rows, nulls),
            self.topmatches.finish(rows, nulls),
            self.lang.finish(rows, nulls),
            self.workflow.finish(rows, nulls),
            self.workflownodeid.finish(rows, nulls),
            self.sessionchannel.finish(rows, nulls),
            self.sessionchannelinfo.finish(rows, nulls),
            // `source_file`: the chunk's, filled in by the gather (see `table::Deferred`).
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n("", rows))),
        ];
        Ok(RecordBatch::try_new(MESSAGES.schema(), cols)?)
    }
}

fn parse_chunk(
    mut records: Records<'_>,
    opts: &Options,
    keyless: &Keyless,
    nulls: &Nulls,
) -> Result<(RecordBatch, Arc<str>)> {
    let f = records.file();
    let mut b = Builders::new(opts, records.input_len());
    let mut memo = KeyMemo::default();
    let skipped = opts.skipped();
    loop {
        let mut m = Message::default();
        let Some((start, ())) = records.next(|d| message(d, &skipped, &mut memo, &mut m))? else {
            break;
        };
        let kept = b.push(&m).map_err(|message| f.error_at(start, message))?;
        if !kept {
            keyless.note(f, start, "sessionid");
        }
    }
    Ok((b.finish(nulls)?, f.path.to_string_lossy().into()))
}

pub use derive::interactions_of;

#[cfg(test)]
mod tests {
    use super::dedupe::{latest_in_canonical_order, opt, strings, Kept, Listed, Sender};
    use super::*;
    use arrow::array::{Array, AsArray};
    use arrow::datatypes::TimestampMicrosecondType;

    #[test]
    fn sessionids_split_into_conversation_and_integer_segment() {
        assert_eq!(split_sessionid("12.10"), Ok(("12", Some(10))));
        assert_eq!(split_sessionid("12.1"), Ok(("12", Some(1))));
        assert_eq!(
            split_sessionid("-1710432.4821"),
            Ok(("-1710432", Some(4821)))
        );
        assert_eq!(split_sessionid("77"), Ok(("77", None)));
        assert!(split_sessionid("12.x").is_err());
    }

    /// The message `text` holds, every field read.
    fn one(text: &str) -> Message<'_> {
        let mut m = Message::default();
        crate::source::de::from_slice_with(text.as_bytes(), |d| {
            message(d, &[], &mut KeyMemo::default(), &mut m)
        })
        .unwrap();
        m
    }

    #[test]
    fn messages_parse_with_optional_fields_and_raw_ids() {
        let text = r#"{"text":"I moved to ****GPE****","ts":1710432131000,"sessionid":12.10,
            "customersessionid":"-1710432.4821","sentiment":"-0.2","topic":"change_address",
            "score":0.87,"topmatches":[{"topic":"a","score":0.8}],"sessionchannelinfo":{"n":"+1"},
            "chattype":"bot","unknown":{"x":1}}"#;
        let m = one(text);
        assert_eq!(m.sessionid.0.as_deref(), Some("12.10"));
        assert_eq!(m.customersessionid.0.as_deref(), Some("-1710432.4821"));
        assert_eq!(m.ts.0, Some(1_710_432_131_000_000));
        assert_eq!(m.sentiment.0, Some(-0.2));
        assert_eq!(m.sendertype.0, None);
        assert_eq!(
            m.topmatches.0.as_deref(),
            Some(r#"[{"topic":"a","score":0.8}]"#)
        );
        assert_eq!(m.sessionchannelinfo.0.as_deref(), Some(r#"{"n":"+1"}"#));
        assert_eq!(m.text.0.as_deref(), Some("I moved to ****GPE****"));
    }

    /// Messages parsed from JSON lines, as one part.
    fn part(lines: &[&str]) -> RecordBatch {
        let mut b = Builders::new(&Options::default(), 0);
        for line in lines {
            let m = one(line);
            assert!(b.push(&m).unwrap());
        }
        b.finish(&Nulls::default()).unwrap()
    }

    /// One derived interaction, as the reference computes it.
    #[derive(Debug, PartialEq)]
    struct Expected {
        sessionid: String,
        customersessionid: Option<String>,
        first_ts: Option<i64>,
        last_ts: Option<i64>,
        counts: [i64; 4],
        first_response: Option<f64>,
        responses: i64,
    }

    #[test]
    fn dedupe_and_derive_agree_with_a_plain_reference_on_random_messages() {
        // Ids that share their first eight bytes or differ only past them (or are a prefix
        // of the head: the slots' sort key orders those without a look-up), times that tie
        // or are missing, sender types in any case, copies across parts.
        let ids = [
            "1",
            "1234567",
            "12345678",
            "12345678.1",
            "12345678.10",
            "12345678.9",
            "2.3",
            "abcdefgh",
        ];
        let senders = [
            Some("customer"),
            Some("Customer"),
            Some("agent"),
            Some("bot"),
            None,
        ];
        let mut seed = 7u64;
        let mut pick = |n: usize| {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 33) as usize % n
        };
        let mut parts: Vec<Vec<String>> = vec![Vec::new(); 3];
        let mut all = Vec::new(); // (position, sessionid, ts ms, sender, text, customer session)
        for (p, lines) in parts.iter_mut().enumerate() {
            for r in 0..120 {
                let sid = ids[pick(ids.len())];
                let ts = [
                    None,
                    Some(0),
                    Some(1000),
                    Some(2000),
                    Some(5000),
                    Some(9000),
                ][pick(6)]
                .map(|t| 1_710_432_000_000i64 + t);
                let sender = senders[pick(senders.len())];
                let text = ["a", "b"][pick(2)];
                let csid = [None, Some("c1"), Some("c2")][pick(3)];
                let mut line = format!(r#"{{"sessionid":"{sid}","text":"{text}""#);
                if let Some(t) = ts {
                    line += &format!(r#","ts":{t}"#);
                }
                if let Some(s) = sender {
                    line += &format!(r#","sendertype":"{s}""#);
                }
                if let Some(c) = csid {
                    line += &format!(r#","customersessionid":"{c}""#);
                }
                lines.push(line + "}");
                all.push(((p, r), sid, ts.map(|t| t * 1000), sender, text, csid));
            }
        }
        // The reference: the last copy of each (sessionid, ts, sendertype, text), in the
        // order of the full key; each session's kept messages by ts (untimed last), ties in
        // that order.
        all.sort_by(|a, b| (a.1, a.2, a.3, a.4, a.0).cmp(&(b.1, b.2, b.3, b.4, b.0)));
        let kept: Vec<_> = (0..all.len())
            .filter(|&i| {
                all.get(i + 1).is_none_or(|n| {
                    (n.1, n.2, n.3, n.4) != (all[i].1, all[i].2, all[i].3, all[i].4)
                })
            })
            .map(|i| all[i])
            .collect();
        let mut want = Vec::new();
        let mut sessions: Vec<&str> = kept.iter().map(|m| m.1).collect();
        sessions.dedup();
        for sid in sessions {
            let mut group: Vec<_> = kept
                .iter()
                .enumerate()
                .filter(|(_, m)| m.1 == sid)
                .collect();
            group.sort_by_key(|(i, m)| (m.2.is_none(), m.2, *i));
            let mut counts = [0i64; 4];
            for (_, m) in &group {
                counts[Sender::of(m.3) as usize] += 1;
            }
            // Each agent message answers the first customer message since the previous
            // agent message, if any (timed messages only).
            let timed: Vec<(Sender, i64)> = (group.iter())
                .filter_map(|(_, m)| Some((Sender::of(m.3), m.2?)))
                .collect();
            let mut responses = Vec::new();
            let mut since = 0;
            for (i, &(who, t)) in timed.iter().enumerate() {
                if who == Sender::Agent {
                    let asked = timed[since..i].iter().find(|(w, _)| *w == Sender::Customer);
                    responses.extend(asked.map(|&(_, t0)| (t - t0) as f64 / 1e6));
                    since = i + 1;
                }
            }
            let times: Vec<i64> = group.iter().filter_map(|(_, m)| m.2).collect();
            want.push(Expected {
                sessionid: sid.to_string(),
                customersessionid: group.iter().find_map(|(_, m)| m.5).map(str::to_string),
                first_ts: times.iter().copied().min(),
                last_ts: times.iter().copied().max(),
                counts,
                first_response: responses.first().copied(),
                responses: responses.len() as i64,
            });
        }
        // The draw covers what it is meant to: copies dropped, answered turns.
        assert!(kept.len() < 360 && want.iter().any(|w| w.responses > 1));
        let got_of = |t: &RecordBatch| -> Vec<Expected> {
            let text = |n: &str| {
                t.column(t.schema().index_of(n).unwrap())
                    .as_string::<i32>()
                    .clone()
            };
            let ints = |n: &str| {
                let c = t.column(t.schema().index_of(n).unwrap());
                c.as_primitive::<arrow::datatypes::Int64Type>().clone()
            };
            let times = |n: &str| {
                let c = t.column(t.schema().index_of(n).unwrap());
                c.as_primitive::<TimestampMicrosecondType>().clone()
            };
            let (sid, csid) = (text("sessionid"), text("customersessionid"));
            let (first, last) = (times("first_ts"), times("last_ts"));
            let counts = [
                "customer_messages",
                "bot_messages",
                "agent_messages",
                "messages",
            ]
            .map(ints);
            let (responses, first_response) = (
                ints("responses"),
                t.column(t.schema().index_of("first_response_sec").unwrap())
                    .as_primitive::<arrow::datatypes::Float64Type>()
                    .clone(),
            );
            (0..t.num_rows())
                .map(|i| {
                    let [c, b, a, all] = counts.each_ref().map(|c| c.value(i));
                    Expected {
                        sessionid: sid.value(i).to_string(),
                        customersessionid: opt(&csid, i).map(str::to_string),
                        first_ts: first.is_valid(i).then(|| first.value(i)),
                        last_ts: last.is_valid(i).then(|| last.value(i)),
                        counts: [c, b, a, all - c - b - a],
                        first_response: first_response.is_valid(i).then(|| first_response.value(i)),
                        responses: responses.value(i),
                    }
                })
                .collect()
        };
        let batches: Vec<RecordBatch> = parts
            .iter()
            .map(|lines| part(&lines.iter().map(String::as_str).collect::<Vec<_>>()))
            .collect();
        let chunks = || -> Vec<(RecordBatch, Arc<str>)> {
            (batches.iter())
                .map(|b| (b.clone(), Arc::from("f")))
                .collect()
        };
        let (messages, got) = latest_in_canonical_order(chunks(), None, Listed::Canonical)
            .map(|(m, got)| (listed(m), got))
            .unwrap();
        assert_eq!(messages.positions.len(), kept.len());
        assert_eq!(
            messages.positions,
            kept.iter().map(|m| m.0).collect::<Vec<_>>(),
            "kept copies in canonical order"
        );
        assert_eq!(got_of(&got), want);
        // A metrics-only read derives only the columns its view reads, in the order asked
        // (with or without the response times, the ids or the counts): the same values.
        let lists: [&[&str]; 4] = [
            &["customersessionid", "first_ts", "avg_response_sec"],
            &["first_ts", "customersessionid"],
            &[
                "segment",
                "responses",
                "conversation_id",
                "last_ts",
                "sessionid",
            ],
            &[
                "agent_messages",
                "messages",
                "first_response_sec",
                "chattype",
            ],
        ];
        for list in lists {
            let columns: Vec<String> = list.iter().map(|c| c.to_string()).collect();
            let (_, lean) =
                latest_in_canonical_order(chunks(), Some(&columns), Listed::Canonical).unwrap();
            assert_eq!(lean, crate::table::project(&got, &columns).unwrap());
        }
        // The lake's way, from the kept table.
        let table = messages.into_batch(|_| true).unwrap();
        assert_eq!(got_of(&interactions_of(&table).unwrap()), want);
        // Only counted: no column, a row per kept message.
        let (counted, _) = latest_in_canonical_order(chunks(), Some(&[]), Listed::Counted).unwrap();
        let Kept::Built(counted) = counted else {
            panic!("counted messages are built")
        };
        assert_eq!((counted.num_columns(), counted.num_rows()), (0, kept.len()));
        // Held: ts and the sender type's codes from the slots, as the kept table has them
        // (both in canonical order); a code is the index of the text's word among `words`,
        // compared without case, 255 for another text or a null.
        let ts = table.column(table.schema().index_of("ts").unwrap());
        let sender = strings(&table, "sendertype").unwrap();
        let columns = ["sendertype".to_string(), "ts".to_string()];
        let codes = |words: &[&str]| Sender::codes_in(words).expect("sender types");
        let word_lists: [&'static [&'static str]; 2] =
            [&["customer", "bot", "agent"], &["agent", "customer"]];
        for words in word_lists {
            let (held, _) = latest_in_canonical_order(
                chunks(),
                Some(&[]),
                Listed::Held(&columns, codes(words)),
            )
            .unwrap();
            let Kept::Built(held) = held else {
                panic!("held columns are built")
            };
            let names: Vec<String> = (held.schema().fields().iter())
                .map(|f| f.name().clone())
                .collect();
            assert_eq!(names, columns);
            assert_eq!(held.column(1), ts);
            let want: Vec<u8> = (0..sender.len())
                .map(|i| {
                    let text = opt(sender, i).map(str::to_ascii_lowercase);
                    let at = words.iter().position(|w| text.as_deref() == Some(*w));
                    at.map_or(255, |at| at as u8)
                })
                .collect();
            let got = held.column(0).as_primitive::<arrow::datatypes::UInt8Type>();
            assert_eq!(got.values().to_vec(), want, "{words:?}");
        }
        // Words that are not all sender types are not held.
        assert!(Sender::codes_in(&["customer", "system"]).is_none());
        assert!(Sender::codes_in(&["bot"]).is_some());
    }

    fn listed(kept: Kept) -> crate::table::Deferred {
        match kept {
            Kept::Listed(messages) => messages,
            Kept::Built(_) => panic!("the messages are listed"),
        }
    }

    #[test]
    fn interactions_take_each_session_by_ts_with_its_untimed_messages_last() {
        // Two sessions whose ids share their first eight bytes; the untimed message sorts
        // first in canonical order but is taken last (its customer session is not the one).
        let lines = [
            r#"{"sessionid":"12345678.90","ts":1710432009000,"sendertype":"agent","text":"d"}"#,
            r#"{"sessionid":"12345678.91","ts":1710432002000,"sendertype":"bot","text":"b","customersessionid":"c1"}"#,
            r#"{"sessionid":"12345678.90","sendertype":"customer","text":"u","customersessionid":"u"}"#,
            r#"{"sessionid":"12345678.90","ts":1710432001000,"sendertype":"customer","text":"a","customersessionid":"t"}"#,
            r#"{"sessionid":"12345678.90","ts":1710432005000,"sendertype":"Customer","text":"c"}"#,
            r#"{"sessionid":"12345678.90","ts":1710432004000,"sendertype":"agent","text":"b"}"#,
            r#"{"sessionid":"12345678.90","ts":1710432004000,"sendertype":"agent","text":"b"}"#,
        ];
        let raw = part(&lines);
        let (messages, got) =
            latest_in_canonical_order(vec![(raw.clone(), Arc::from("f"))], None, Listed::Canonical)
                .map(|(m, got)| (listed(m), got))
                .unwrap();
        assert_eq!(messages.positions.len(), 6, "one copy dropped");
        let col = |name: &str| got.column(got.schema().index_of(name).unwrap()).clone();
        let text = |name: &str| {
            let c = col(name);
            let c = c.as_string::<i32>();
            (0..c.len())
                .map(|i| opt(c, i).map(str::to_string))
                .collect::<Vec<_>>()
        };
        fn values<T: arrow::datatypes::ArrowPrimitiveType>(c: &ArrayRef) -> Vec<Option<T::Native>> {
            c.as_primitive::<T>().iter().collect()
        }
        let int = |name: &str| values::<arrow::datatypes::Int64Type>(&col(name));
        let float = |name: &str| values::<arrow::datatypes::Float64Type>(&col(name));
        let time = |name: &str| values::<TimestampMicrosecondType>(&col(name));
        let s = |v: &str| Some(v.to_string());
        assert_eq!(text("sessionid"), [s("12345678.90"), s("12345678.91")]);
        assert_eq!(text("customersessionid"), [s("t"), s("c1")]);
        assert_eq!(int("messages"), [Some(5), Some(1)]);
        assert_eq!(int("customer_messages"), [Some(3), Some(0)]);
        assert_eq!(int("agent_messages"), [Some(2), Some(0)]);
        assert_eq!(int("bot_messages"), [Some(0), Some(1)]);
        assert_eq!(
            time("first_ts"),
            [Some(1_710_432_001_000_000), Some(1_710_432_002_000_000)]
        );
        assert_eq!(
            time("last_ts"),
            [Some(1_710_432_009_000_000), Some(1_710_432_002_000_000)]
        );
        // Turns: 1 s (customer) answered at 4 s, then 5 s answered at 9 s.
        assert_eq!(int("responses"), [Some(2), Some(0)]);
        assert_eq!(float("first_response_sec"), [Some(3.0), None]);
        assert_eq!(float("avg_response_sec"), [Some(3.5), None]);
        // The lake's way: from a table, in any order, the same interactions.
        let kept = messages.into_batch(|_| true).unwrap();
        assert_eq!(interactions_of(&kept).unwrap(), got);
        let unique = raw.slice(0, raw.num_rows() - 1);
        assert_eq!(interactions_of(&unique).unwrap(), got);
    }

    #[test]
    fn the_compact_dedupe_keeps_the_last_copy_in_the_order_of_the_full_key() {
        // Ids of up to eight bytes live whole in the slot, longer ones tie on their head;
        // "a" and "a\u0000" differ only by length; untimed messages sort first.
        let first = part(&[
            r#"{"sessionid":"12345678.90","ts":5,"sendertype":"bot","text":"x"}"#,
            r#"{"sessionid":"12345678.9","ts":5,"sendertype":"bot","text":"x"}"#,
            r#"{"sessionid":"a","ts":2,"sendertype":"agent","text":"hi"}"#,
            r#"{"sessionid":"a\u0000","ts":1,"sendertype":"agent","text":"hi"}"#,
            r#"{"sessionid":"a","sendertype":"customer","text":"untimed"}"#,
            r#"{"sessionid":"a","ts":2,"sendertype":"agent","text":"hi"}"#,
            r#"{"sessionid":"a","ts":2,"sendertype":"Agent","text":"hi"}"#,
            r#"{"sessionid":"a","ts":2,"sendertype":"agent"}"#,
        ]);
        let second = part(&[
            r#"{"sessionid":"12345678.90","ts":5,"sendertype":"bot","text":"x"}"#,
            r#"{"sessionid":"b","ts":-3,"sendertype":"bot","text":"y"}"#,
        ]);
        let parts = [first, second];
        let got = latest_in_canonical_order(
            parts.iter().map(|b| (b.clone(), Arc::from("f"))).collect(),
            None,
            Listed::Canonical,
        )
        .map(|(m, _)| listed(m).positions)
        .unwrap();
        // The reference: sort full keys with positions, keep the last of each key.
        let mut all = Vec::new();
        for (p, b) in parts.iter().enumerate() {
            let (sid, st, text) = (
                strings(b, "sessionid").unwrap(),
                strings(b, "sendertype").unwrap(),
                strings(b, "text").unwrap(),
            );
            let ts = b.column(b.schema().index_of("ts").unwrap());
            let ts = ts.as_primitive::<TimestampMicrosecondType>();
            for r in 0..b.num_rows() {
                let key = (
                    sid.value(r).to_string(),
                    ts.is_valid(r).then(|| ts.value(r)),
                    opt(st, r).map(str::to_string),
                    opt(text, r).map(str::to_string),
                );
                all.push((key, (p, r)));
            }
        }
        all.sort();
        let want: Vec<(usize, usize)> = (0..all.len())
            .filter(|&i| all.get(i + 1).is_none_or(|n| n.0 != all[i].0))
            .map(|i| all[i].1)
            .collect();
        assert_eq!(got, want);
        assert_eq!(got.len(), 8, "two copies dropped");
        assert!(
            got.contains(&(0, 5)) && !got.contains(&(0, 2)),
            "the later copy"
        );
        assert!(
            got.contains(&(1, 0)) && !got.contains(&(0, 0)),
            "across parts"
        );
    }
}
