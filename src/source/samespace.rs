//! Samespace Analytics API: calls (`sessions`), agent session logs (`logs`), `productivity/v2`
//! and `csat`, told apart by content so one directory may hold all four.
//!
//! Every notation seen is read: plain JSON `{"total":…,"data":[…]}`, bare arrays, single or
//! concatenated documents, mongo-shell notation (`ObjectId("…")`, `ISODate("…")`,
//! `NumberLong(…)`, normalized by the framing layer) and Extended JSON (`{"$oid"}`,
//! `{"$date"}`, `{"$numberLong"}`, read by the tolerant scalars).

use std::borrow::Cow;
use std::collections::HashMap;
use std::ops::Range;

use super::de::{KeyMemo, Raw};
use arrow::array::{AsArray, RecordBatch};
use serde::Deserialize;

use super::json::{parse_count, LooseCount, LooseF64, LooseStr, LooseTime, RawText};
use super::{
    read_all, strip_position, Candidate, Framed, Keyless, OnBadFile, Records, Rejects, Stats,
    Vendor, SAMESPACE,
};
use crate::error::{Error, Result};
use crate::table::{
    latest_by_text_key, latest_in_canonical_order, Capacity, Deferred, Nulls, TableBuilder,
    TableDef, AGENT_SESSIONS, CALLS, CSAT_ANSWERS, CSAT_CALLS, PRODUCTIVITY,
};

#[derive(Debug)]
pub struct Tables {
    pub calls: RecordBatch,
    pub csat_calls: RecordBatch,
    pub csat_answers: RecordBatch,
    pub agent_sessions: RecordBatch,
    pub productivity: RecordBatch,
    pub stats: Stats,
}

/// The key each table is deduplicated on (the later delivery wins).
const KEYS: [(&TableDef, &str); 5] = [
    (&CALLS, "uuid"),
    (&CSAT_CALLS, "call_uuid"),
    (&CSAT_ANSWERS, "answer_id"),
    (&AGENT_SESSIONS, "id"),
    (&PRODUCTIVITY, "id"),
];

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Metrics-only read of the calls: `calls` comes out with only these columns (still in
    /// canonical order, so a mean sums its values in the order a full read does), and the
    /// keys of [`CALL_LEAN_SKIPPED`] whose columns are not asked for are skipped undecoded.
    /// `None` reads every column. The other tables are read in full.
    pub calls_only: Option<Vec<String>>,
}

impl Options {
    /// The keys of a call to skip unparsed.
    fn skipped(&self) -> Vec<&'static str> {
        super::lean_skipped(self.calls_only.as_deref(), &[], &CALL_LEAN_SKIPPED)
    }
}

/// Reads every Samespace report among the candidates.
pub fn read(
    candidates: &[Candidate],
    opts: &Options,
    on_bad: OnBadFile,
    rejects: &mut Rejects,
) -> Result<Tables> {
    let keyless = Keyless::default();
    let skipped = opts.skipped();
    let nulls = Nulls::default();
    let chunks = read_all(
        candidates,
        SAMESPACE,
        on_bad,
        opts.calls_only.is_none(),
        rejects,
        &keyless,
        |records, keyless| parse_chunk(records, opts, &skipped, keyless, &nulls),
    )?;
    let files = rejects.read_of(candidates.len());
    let mut stats = Stats {
        files,
        ..Stats::default()
    };
    let mut tables: HashMap<&str, RecordBatch> = HashMap::new();
    for (def, key) in KEYS {
        let parts: Vec<RecordBatch> = match def.name == CSAT_ANSWERS.name {
            true => answers_of_latest_copies(&chunks)?,
            false => (chunks.iter().flatten())
                .filter(|(d, _)| d.name == def.name)
                .map(|(_, b)| b.clone())
                .collect(),
        };
        let records = parts.iter().map(RecordBatch::num_rows).sum::<usize>();
        let (kept, dropped) = match &opts.calls_only {
            Some(columns) if def.name == CALLS.name => latest_calls(parts, columns)?,
            _ => latest_in_canonical_order(parts, None, def, key)?,
        };
        if def.name != CSAT_ANSWERS.name {
            stats.records += records;
            stats.duplicates += dropped;
        }
        tables.insert(def.name, kept);
    }
    keyless.report(&mut stats);
    let mut take = |def: &TableDef| {
        tables
            .remove(def.name)
            .unwrap_or_else(|| RecordBatch::new_empty(def.schema()))
    };
    Ok(Tables {
        calls: take(&CALLS),
        csat_calls: take(&CSAT_CALLS),
        csat_answers: take(&CSAT_ANSWERS),
        agent_sessions: take(&AGENT_SESSIONS),
        productivity: take(&PRODUCTIVITY),
        stats,
    })
}

/// The answers of the last delivered copy of each CSAT call, chunk by chunk. Why: a call
/// delivered again brings its survey as it now stands, so an answer stays with the copy it
/// came with, as the lake keeps a child row (`lake::merge::KeptRows`). Deduplicated by
/// answer id alone, a later copy with fewer answers kept the earlier copy's others: a file
/// read differed from the lake, and the lake from itself by batch size.
///
/// A chunk's answers follow its calls in order, `answers` of them per call (see
/// [`csat_record`]), which tells each answer's copy.
fn answers_of_latest_copies(chunks: &[Chunk]) -> Result<Vec<RecordBatch>> {
    let table = |chunk: &Chunk, def: &TableDef| {
        (chunk.iter())
            .find(|(d, _)| d.name == def.name)
            .map(|(_, b)| b.clone())
    };
    // Per chunk: each call copy's uuid and the range of its answers.
    // Per chunk: its calls' uuids, and the range of each call copy's answers.
    let mut copies: Vec<(Option<arrow::array::StringArray>, Vec<Range<usize>>)> =
        Vec::with_capacity(chunks.len());
    for chunk in chunks {
        let Some(calls) = table(chunk, &CSAT_CALLS) else {
            copies.push((None, Vec::new()));
            continue;
        };
        let column = |name: &str| {
            (calls.column_by_name(name).cloned())
                .ok_or_else(|| Error::Internal(format!("csat_calls has no `{name}`")))
        };
        let (uuids, counts) = (column("call_uuid")?, column("answers")?);
        let typed = || Error::Internal("csat_calls has columns of other types".into());
        let uuids = uuids.as_string_opt::<i32>().ok_or_else(typed)?.clone();
        let counts =
            (counts.as_primitive_opt::<arrow::datatypes::Int64Type>()).ok_or_else(typed)?;
        let mut at = 0;
        let ranges = (counts.values().iter())
            .map(|&n| {
                let n = usize::try_from(n).unwrap_or(0);
                at += n;
                at - n..at
            })
            .collect();
        copies.push((Some(uuids), ranges));
    }
    let mut last: HashMap<&str, (usize, usize)> = HashMap::new();
    for (c, (uuids, _)) in copies.iter().enumerate() {
        for (i, uuid) in uuids.iter().flatten().enumerate() {
            last.insert(uuid.unwrap_or_default(), (c, i));
        }
    }
    let mut parts = Vec::new();
    for (c, chunk) in chunks.iter().enumerate() {
        let Some(answers) = table(chunk, &CSAT_ANSWERS) else {
            continue;
        };
        let mut keep = vec![false; answers.num_rows()];
        let (uuids, ranges) = &copies[c];
        let uuids = uuids.iter().flatten();
        for (i, (uuid, rows)) in uuids.zip(ranges).enumerate() {
            if last.get(uuid.unwrap_or_default()) == Some(&(c, i)) {
                (keep.get_mut(rows.clone()))
                    .ok_or_else(|| Error::Internal("a CSAT call's answers are missing".into()))?
                    .fill(true);
            }
        }
        parts.push(match keep.iter().all(|&k| k) {
            true => answers,
            false => arrow::compute::filter_record_batch(
                &answers,
                &arrow::array::BooleanArray::from(keep),
            )?,
        });
    }
    Ok(parts)
}

/// The latest delivery of each call, in delivery order, with only the `columns` asked for
/// (see [`Options::calls_only`]); and how many copies were dropped.
fn latest_calls(parts: Vec<RecordBatch>, columns: &[String]) -> Result<(RecordBatch, usize)> {
    let schema = CALLS.schema();
    let (positions, dropped) = latest_by_text_key(&parts, schema.index_of("uuid")?);
    // Each part is one chunk of one file, whose rows all carry its name.
    let sources = parts
        .iter()
        .map(|p| {
            let names = p.column(schema.index_of("source_file")?).as_string::<i32>();
            Ok(std::sync::Arc::from(
                match arrow::array::Array::is_empty(names) {
                    true => "",
                    false => names.value(0),
                },
            ))
        })
        .collect::<Result<Vec<_>>>()?;
    let kept = Deferred {
        schema,
        parts,
        sources,
        positions,
        parent_key: None,
    };
    Ok((kept.select(columns)?, dropped))
}

/// A record's fields by lower-cased key, as raw JSON borrowed from the file. A list, not a
/// map: a record has a few dozen fields, and building a hash map per record (SipHash, then
/// growth) was a third of a Samespace run.
struct Fields<'a> {
    file: &'a Framed,
    fields: Vec<(Cow<'a, str>, Raw<'a>)>,
}

/// An object's fields in order, keys lower-cased (copied only when they need it).
struct Pairs<'a>(Vec<(Cow<'a, str>, Raw<'a>)>);

impl<'de> Deserialize<'de> for Pairs<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Pairs<'de>;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> std::result::Result<Pairs<'de>, A::Error> {
                let mut fields = Vec::with_capacity(32);
                while let Some(k) = map.next_key::<&'de str>()? {
                    let key = match super::json::has_ascii_uppercase(k) {
                        true => Cow::Owned(k.to_ascii_lowercase()),
                        false => Cow::Borrowed(k),
                    };
                    fields.push((key, map.next_value::<Raw<'de>>()?));
                }
                Ok(Pairs(fields))
            }
        }
        d.deserialize_map(V)
    }
}

impl<'a> Fields<'a> {
    /// The fields of the value at `span` (an item nested in a record).
    fn parse(file: &'a Framed, span: &Range<usize>) -> Result<Self> {
        let Pairs(fields) = super::de::from_slice(&file.bytes[span.clone()])
            .map_err(|e| file.error_at(span.start + e.offset, e.message))?;
        Ok(Fields { file, fields })
    }

    /// The fields of the next record, with its offset.
    fn next(records: &mut Records<'a>) -> Result<Option<(usize, Self)>> {
        let file = records.file();
        Ok(records
            .next(|d| Pairs::deserialize(d))?
            .map(|(start, Pairs(fields))| (start, Fields { file, fields })))
    }

    /// The value of `key` read as `T` (`T::default()` when absent), with the error located
    /// at the value. A key given twice counts in its last occurrence, as in a map.
    fn get<T: Deserialize<'a> + Default>(&self, key: &str) -> Result<T> {
        let Some((_, raw)) = self.fields.iter().rev().find(|(k, _)| k == key) else {
            return Ok(T::default());
        };
        super::de::from_str(raw.0).map_err(|e| Error::Data {
            location: self
                .file
                .location(raw.0.as_ptr() as usize - self.file.bytes.as_ptr() as usize + e.offset),
            message: format!("field `{key}`: {}", strip_position(&e.message)),
        })
    }

    /// Borrowed from the file unless the value had escapes (no allocation per field).
    fn str(&self, key: &str) -> Result<Option<Cow<'a, str>>> {
        Ok(self.get::<LooseStr>(key)?.0)
    }

    fn time(&self, key: &str) -> Result<Option<i64>> {
        Ok(self.get::<LooseTime>(key)?.0)
    }

    fn num(&self, key: &str) -> Result<Option<f64>> {
        Ok(self.get::<LooseF64>(key)?.0)
    }

    fn count(&self, key: &str) -> Result<Option<i64>> {
        Ok(self.get::<LooseCount>(key)?.0)
    }
}

type Chunk = Vec<(&'static TableDef, RecordBatch)>;

/// Bytes of a report's record at least (a CSAT answer's are about 150, an agent log's and a
/// call's 300 and more).
const MIN_REPORT_RECORD_BYTES: usize = 100;

fn parse_chunk(
    mut records: Records<'_>,
    opts: &Options,
    skipped: &[&str],
    keyless: &Keyless,
    nulls: &Nulls,
) -> Result<Chunk> {
    let f = records.file();
    let source = f.path.to_string_lossy();
    let source = Some(source.as_ref());
    // Sized for what the input can hold: at the builders' default of 1,024 rows, each file
    // of one record kept room for a thousand.
    let capacity = Capacity::of_input(records.input_len(), MIN_REPORT_RECORD_BYTES);
    let builder = |def| TableBuilder::sized(def, |_| true, capacity);
    match f.vendor {
        Vendor::SamespaceCsat => {
            let (mut calls, mut answers) = (builder(&CSAT_CALLS), builder(&CSAT_ANSWERS));
            while let Some((start, r)) = Fields::next(&mut records)? {
                csat_record(f, start, r, &mut calls, &mut answers, source, keyless)?;
            }
            Ok(vec![
                (&CSAT_CALLS, calls.finish()?),
                (&CSAT_ANSWERS, answers.finish()?),
            ])
        }
        Vendor::SamespaceLogs => {
            let mut b = builder(&AGENT_SESSIONS);
            while let Some((start, r)) = Fields::next(&mut records)? {
                let Some(id) = required(
                    f,
                    start,
                    r.str("_id")?.or(r.str("session_id")?),
                    "_id",
                    keyless,
                ) else {
                    continue;
                };
                b.str(Some(&id))
                    .str(r.str("session_id")?.as_deref())
                    .str(r.str("user_display_name")?.as_deref())
                    .str(r.str("user_login_id")?.as_deref())
                    .str(r.str("user_system_id")?.as_deref())
                    .ts(r.time("start_time")?)
                    .ts(r.time("end_time")?)
                    .str(r.str("activity")?.as_deref())
                    .str(r.str("logout_reason")?.as_deref())
                    .f64(r.num("session_duration")?)
                    .str(r.str("ip_address")?.as_deref())
                    .i64(r.count("domain_id")?)
                    .str(source);
                b.end_row();
            }
            Ok(vec![(&AGENT_SESSIONS, b.finish()?)])
        }
        Vendor::SamespaceProductivity => {
            let mut b = builder(&PRODUCTIVITY);
            while let Some((start, r)) = Fields::next(&mut records)? {
                let Some(id) = required(f, start, r.str("_id")?.or(r.str("user")?), "_id", keyless)
                else {
                    continue;
                };
                b.str(Some(&id)).str(r.str("user")?.as_deref());
                for k in [
                    "session_duration",
                    "away_time",
                    "acd",
                    "acw",
                    "asa",
                    "avg_hold_time",
                    "avg_ring_duration",
                ] {
                    b.f64(r.num(k)?);
                }
                b.i64(r.count("inbound_conversations")?)
                    .i64(r.count("outbound_conversations")?)
                    .str(source);
                b.end_row();
            }
            Ok(vec![(&PRODUCTIVITY, b.finish()?)])
        }
        _ => {
            let want = |c: &str| super::wanted(opts.calls_only.as_deref(), c);
            let mut b = TableBuilder::sized(&CALLS, want, capacity);
            let mut memo = KeyMemo::default();
            loop {
                let mut c = Call::default();
                let Some((start, ())) = records.next(|d| call(d, skipped, &mut memo, &mut c))?
                else {
                    break;
                };
                let Some(uuid) = required(f, start, c.uuid.0.or(c.id.0.clone()), "uuid", keyless)
                else {
                    continue;
                };
                b.str(Some(&uuid))
                    .str(c.id.0.as_deref())
                    .str(c.channel.0.as_deref())
                    .str(c.direction.0.as_deref())
                    .str(c.kind.0.as_deref())
                    .str(c.user_display_name.0.as_deref())
                    .str(c.user_login_id.0.as_deref())
                    .str(c.caller.0.as_deref())
                    .str(c.callee.0.as_deref())
                    .str(c.team_name.0.as_deref())
                    .ts(c.start_time.0)
                    .ts(c.answer_time.0)
                    .ts(c.end_time.0)
                    .f64(c.progress_duration.0)
                    .f64(c.duration.0)
                    .f64(c.hold_duration.0)
                    .f64(c.conference_duration.0)
                    .str(c.status.0.as_deref())
                    .str(c.terminated_by.0.as_deref())
                    .str(c.termination_cause.0.as_deref())
                    .f64(c.mos.0)
                    .i64(c.domain_id.0)
                    .str(c.custom_data.0.as_deref())
                    .str(source);
                b.end_row();
            }
            Ok(vec![(&CALLS, b.finish_sharing(nulls)?)])
        }
    }
}

/// A call (an item of the `sessions` report).
#[derive(Debug, Default)]
struct Call<'a> {
    id: LooseStr<'a>,
    uuid: LooseStr<'a>,
    channel: LooseStr<'a>,
    direction: LooseStr<'a>,
    kind: LooseStr<'a>,
    user_display_name: LooseStr<'a>,
    user_login_id: LooseStr<'a>,
    caller: LooseStr<'a>,
    callee: LooseStr<'a>,
    team_name: LooseStr<'a>,
    start_time: LooseTime,
    answer_time: LooseTime,
    end_time: LooseTime,
    progress_duration: LooseF64,
    duration: LooseF64,
    hold_duration: LooseF64,
    conference_duration: LooseF64,
    status: LooseStr<'a>,
    terminated_by: LooseStr<'a>,
    termination_cause: LooseStr<'a>,
    mos: LooseF64,
    domain_id: LooseCount,
    custom_data: RawText<'a>,
}

keys! {
    /// The fields of a call the reader knows.
    CallKey, CALL_KEYS:
    Id = "_id",
    Uuid = "uuid",
    Channel = "channel",
    Direction = "direction",
    Type = "type",
    UserDisplayName = "user_display_name",
    UserLoginId = "user_login_id",
    Caller = "caller",
    Callee = "callee",
    TeamName = "team_name",
    StartTime = "start_time",
    AnswerTime = "answer_time",
    EndTime = "end_time",
    ProgressDuration = "progress_duration",
    Duration = "duration",
    HoldDuration = "hold_duration",
    ConferenceDuration = "conference_duration",
    Status = "status",
    TerminatedBy = "terminated_by",
    TerminationCause = "termination_cause",
    Mos = "mos",
    DomainId = "domain_id",
    CustomData = "custom_data",
}

/// The keys of a call (with their columns) a metrics-only read skips undecoded unless their
/// columns are asked for: no call KPI and no `--by` dimension reads them (see
/// `metrics::calls`).
const CALL_LEAN_SKIPPED: [(&str, &str); 12] = [
    ("channel", "channel"),
    ("type", "type"),
    ("user_login_id", "user_login_id"),
    ("caller", "caller"),
    ("callee", "callee"),
    ("end_time", "end_time"),
    ("progress_duration", "progress_duration_sec"),
    ("conference_duration", "conference_duration_sec"),
    ("terminated_by", "terminated_by"),
    ("termination_cause", "termination_cause"),
    ("domain_id", "domain_id"),
    ("custom_data", "custom_data"),
];

/// Reads one call at `d` into `c`, a fresh one of the caller's, skipping the `skipped` keys
/// (`memo` carries the key order from one record of a chunk to the next). The record loop of
/// the calls reports, which are most of a Samespace export's bytes, so it matches keys
/// against the memo as the other vendors' readers do rather than listing every field first,
/// and fills the call where it lives rather than moving it out of the parse.
fn call<'de>(
    d: &mut super::de::Deserializer<'de>,
    skipped: &[&str],
    memo: &mut KeyMemo<'de, CallKey>,
    c: &mut Call<'de>,
) -> Result<(), super::de::Error> {
    let resolve = |k: &str| super::known_key(&CALL_KEYS, skipped, k);
    d.fields("a Samespace call object", memo, resolve, |d, k, key| {
        match k {
            CallKey::Id => c.id = d.str_value(key)?,
            CallKey::Uuid => c.uuid = d.str_value(key)?,
            CallKey::Channel => c.channel = d.str_value(key)?,
            CallKey::Direction => c.direction = d.str_value(key)?,
            CallKey::Type => c.kind = d.str_value(key)?,
            CallKey::UserDisplayName => c.user_display_name = d.str_value(key)?,
            CallKey::UserLoginId => c.user_login_id = d.str_value(key)?,
            CallKey::Caller => c.caller = d.str_value(key)?,
            CallKey::Callee => c.callee = d.str_value(key)?,
            CallKey::TeamName => c.team_name = d.str_value(key)?,
            CallKey::StartTime => c.start_time = d.text_value(key)?,
            CallKey::AnswerTime => c.answer_time = d.text_value(key)?,
            CallKey::EndTime => c.end_time = d.text_value(key)?,
            CallKey::ProgressDuration => c.progress_duration = d.text_value(key)?,
            CallKey::Duration => c.duration = d.text_value(key)?,
            CallKey::HoldDuration => c.hold_duration = d.text_value(key)?,
            CallKey::ConferenceDuration => c.conference_duration = d.text_value(key)?,
            CallKey::Status => c.status = d.str_value(key)?,
            CallKey::TerminatedBy => c.terminated_by = d.str_value(key)?,
            CallKey::TerminationCause => c.termination_cause = d.str_value(key)?,
            CallKey::Mos => c.mos = d.text_value(key)?,
            CallKey::DomainId => c.domain_id = d.text_value(key)?,
            CallKey::CustomData => c.custom_data = d.str_value(key)?,
        }
        Ok(true)
    })
}

/// The record's key, or `None` (noted in `keyless`) when it has none.
fn required<'a>(
    f: &Framed,
    start: usize,
    v: Option<Cow<'a, str>>,
    name: &str,
    keyless: &Keyless,
) -> Option<Cow<'a, str>> {
    if v.is_none() {
        keyless.note(f, start, name);
    }
    v
}

/// `SURVEY_ANSWER_3:How courteous was the agent?` → (Some(3), "How courteous was the agent?").
pub fn split_question(q: &str) -> (Option<i64>, &str) {
    let t = q.trim();
    let prefix = "SURVEY_ANSWER_";
    // `get`, not indexing: a question whose first bytes are not ASCII has no char boundary
    // where the prefix would end (the fuzz loop found the panic).
    let head = t.get(..prefix.len()).filter(|_| t.len() > prefix.len());
    if head.is_some_and(|h| h.eq_ignore_ascii_case(prefix)) {
        if let Some((n, text)) = t[prefix.len()..].split_once(':') {
            if let Ok(n) = n.trim().parse::<i64>() {
                return (Some(n), text.trim());
            }
        }
    }
    (None, t)
}

fn csat_record(
    f: &Framed,
    start: usize,
    r: Fields,
    calls: &mut TableBuilder,
    answers: &mut TableBuilder,
    source: Option<&str>,
    keyless: &Keyless,
) -> Result<()> {
    let Some(call) = required(f, start, r.str("_id")?.or(r.str("uuid")?), "_id", keyless) else {
        return Ok(());
    };
    let items: Option<Vec<Raw>> = r.get("csat")?;
    let items = items.unwrap_or_default();
    let (team, agent, direction) = (
        r.str("team_name")?,
        r.str("user_display_name")?,
        r.str("direction")?,
    );
    let started = r.time("start_time")?;
    let tags: Option<Vec<LooseStr>> = r.get("conversation_tags")?;
    calls
        .str(Some(&call))
        .str(direction.as_deref())
        .str(r.str("caller")?.as_deref())
        .str(r.str("callee")?.as_deref())
        .str(agent.as_deref())
        .str(team.as_deref())
        .ts(started)
        .ts(r.time("end_time")?)
        .f64(r.num("duration")?)
        .f64(r.num("acw_duration")?)
        .list(tags.as_ref().map(|t| t.iter().map(|s| s.0.as_deref())))
        .str(r.str("notes")?.as_deref())
        .i64(Some(items.len() as i64))
        .str(source);
    calls.end_row();
    for item in items {
        let start_of_item = item.0.as_ptr() as usize - f.bytes.as_ptr() as usize;
        let item_span = start_of_item..start_of_item + item.0.len();
        let a = Fields::parse(f, &item_span)?;
        let question = a.str("question")?;
        let (question_id, text) = match question.as_deref() {
            Some(q) => split_question(q),
            None => (None, ""),
        };
        let answer = a.str("answer")?;
        let numeric = answer
            .as_deref()
            .and_then(|t| parse_count(t).ok().flatten());
        answers
            .str(Some(&call))
            .str(a.str("_id")?.as_deref())
            .i64(question_id)
            .str(question.is_some().then_some(text))
            .str(answer.as_deref())
            .i64(numeric)
            .ts(a.time("timestamp")?.or(started))
            .str(agent.as_deref())
            .str(team.as_deref())
            .str(direction.as_deref())
            .str(source);
        answers.end_row();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The calls-only read (skipped fields, columns selected) gives the full read's rows
    /// and values, in the same order, over every notation of the samples.
    #[test]
    fn calls_only_read_equals_the_full_read() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("data-samples/samespace");
        let candidates: Vec<Candidate> = [
            "calls_2024-03-30.json",
            "calls_extended.json",
            "calls_shell.json",
        ]
        .iter()
        .map(|f| Candidate {
            path: dir.join(f),
            from_dir: false,
            digest: None,
            window: None,
            content: None,
        })
        .collect();
        let full = read(
            &candidates,
            &Options::default(),
            OnBadFile::Fail,
            &mut Rejects::default(),
        )
        .unwrap();
        let columns = crate::metrics::calls::columns(&["team_name".to_string()]);
        let opts = Options {
            calls_only: Some(columns.clone()),
        };
        let lean = read(&candidates, &opts, OnBadFile::Fail, &mut Rejects::default()).unwrap();
        assert!(full.calls.num_rows() > 3);
        assert_eq!(lean.stats.duplicates, full.stats.duplicates);
        assert_eq!(lean.calls.num_columns(), columns.len());
        for c in &columns {
            assert_eq!(
                lean.calls.column_by_name(c).unwrap().as_ref(),
                full.calls.column_by_name(c).unwrap().as_ref(),
                "{c}"
            );
        }
    }

    #[test]
    fn survey_questions_split_into_id_and_text() {
        assert_eq!(
            split_question("SURVEY_ANSWER_3:How courteous was the agent?"),
            (Some(3), "How courteous was the agent?")
        );
        assert_eq!(
            split_question("survey_answer_12: Again?"),
            (Some(12), "Again?")
        );
        assert_eq!(split_question("Free text"), (None, "Free text"));
        // No char boundary where the prefix would end: free text, not a panic.
        assert_eq!(
            split_question("SURVEY_ANSWER\u{e9}1:x"),
            (None, "SURVEY_ANSWER\u{e9}1:x")
        );
        assert_eq!(
            split_question("\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}"),
            (None, "\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}\u{e9}")
        );
        assert_eq!(
            split_question("SURVEY_ANSWER_x:oops"),
            (None, "SURVEY_ANSWER_x:oops")
        );
    }
}
