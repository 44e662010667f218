//! Ultimate / Zendesk "AI agents – Advanced" Data Export: daily files of bot conversations.
//!
//! Every documented variant is read: JSON array or NDJSON, gzip or not, lower- or UPPER_CASE
//! keys, v2 and v3 fields (unknown ones ignored), counts as strings or numbers, the
//! `conversations_data` / `conversation_data` spellings, `test_mode` as bool or text, intent
//! items as objects or as JSON strings. Values outside the documented vocabularies are kept
//! as delivered; the metrics decide what they mean.

use std::borrow::Cow;
use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::fmt;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, BooleanBuilder, Float64Builder, Int64Builder,
    ListBuilder, RecordBatch, StringArray, StringBuilder, TimestampMicrosecondBuilder,
};
use arrow::datatypes::TimestampMicrosecondType;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};

use super::codes::CodesBuilder;
use super::de::KeyMemo;
use super::json::{LooseBool, LooseCount, LooseStr, LooseTime, RawText};
use super::{
    field, for_each_field, read_all, Candidate, Keyless, OnBadFile, Records, Rejects, Stats, Vendor,
};
use crate::error::Result;
use crate::table::{
    sorted_by_group_and_text, Col, Deferred, ParentKey, PassThrough, BOT_CONVERSATIONS, BOT_INTENTS,
};

/// Intent names the vendor SQL leaves out of "first meaningful intent".
pub const DEFAULT_EXCLUDED_INTENTS: &[&str] = &["Greeting", "Talk to a human/agent"];

#[derive(Debug, Clone)]
pub struct Options {
    /// Intent names never taken as the first meaningful intent.
    pub excluded_intents: Vec<String>,
    /// Metrics-only read of these `bot_conversations` columns: the fields feeding no other
    /// column are skipped without being decoded and left null (the key and both times are
    /// always read), `source_file` is left empty, and `bot_intents` stays empty. Rows come
    /// in delivery order rather than canonical order, so only order-independent metrics
    /// (the bot KPIs: counts, integer sums, exact means) may read this way. `None` reads
    /// everything, in canonical order.
    pub only: Option<Vec<String>>,
    /// Full reads: order the rows by the UTC day of `conversation_start_time` first (nulls
    /// first), then by key. That is the lake's partitioning, so each partition an ingest
    /// writes is a run of rows it can slice instead of copying.
    pub by_start_day: bool,
}

impl Options {
    fn lean(&self) -> bool {
        self.only.is_some()
    }

    /// One bit per [`Field`] to skip.
    fn skipped(&self) -> u64 {
        let Some(only) = &self.only else {
            return 0;
        };
        Field::all()
            .filter(|f| {
                let cols = f.columns();
                !cols.is_empty() && !cols.iter().any(|c| only.iter().any(|o| o == c))
            })
            .fold(0, |m, f| m | 1 << f.bit())
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            excluded_intents: DEFAULT_EXCLUDED_INTENTS
                .iter()
                .map(|s| s.to_string())
                .collect(),
            only: None,
            by_start_day: false,
        }
    }
}

/// The canonical tables of a set of Ultimate files.
#[derive(Debug)]
pub struct Tables {
    /// One batch in canonical order for a full read; for a metrics-only read (see
    /// [`Options::only`]), the parsed chunks as they are, in delivery order.
    pub conversations: Vec<RecordBatch>,
    pub intents: RecordBatch,
    pub stats: Stats,
}

/// Reads Ultimate export files into the canonical tables.
pub fn read(
    candidates: &[Candidate],
    opts: &Options,
    on_bad: OnBadFile,
    rejects: &mut Rejects,
) -> Result<Tables> {
    let (chunks, mut stats) = parse(candidates, opts, false, on_bad, rejects)?;
    if opts.lean() {
        let (conversations, duplicates) = kept_in_delivery_order(chunks)?;
        stats.duplicates = duplicates;
        return Ok(Tables {
            conversations,
            intents: RecordBatch::new_empty(BOT_INTENTS.schema()),
            stats,
        });
    }
    let t = deferred(chunks, opts, stats);
    Ok(Tables {
        conversations: vec![t.conversations.into_batch(|_| true)?],
        intents: t.intents.into_batch(|_| true)?,
        stats: t.stats,
    })
}

/// A full read's tables with their rows chosen and ordered but not yet copied out of the
/// parsed chunks (see [`Deferred`]).
pub struct DeferredTables {
    pub conversations: Deferred,
    pub intents: Deferred,
    pub stats: Stats,
}

/// [`read`] for a writer that copies the rows out part by part (the lake). Always a full
/// read: `opts.only` does not apply.
pub fn read_deferred(
    candidates: &[Candidate],
    opts: &Options,
    on_bad: OnBadFile,
    rejects: &mut Rejects,
) -> Result<DeferredTables> {
    let opts = Options {
        only: None,
        ..opts.clone()
    };
    // Shrunk: the lake holds every chunk until it has written them.
    let (chunks, stats) = parse(candidates, &opts, true, on_bad, rejects)?;
    Ok(deferred(chunks, &opts, stats))
}

/// The parsed chunks of every file, and the stats known before deduplication; `shrink` as
/// in [`Builders::finish`].
fn parse(
    candidates: &[Candidate],
    opts: &Options,
    shrink: bool,
    on_bad: OnBadFile,
    rejects: &mut Rejects,
) -> Result<(Vec<Chunk>, Stats)> {
    let keyless = Keyless::default();
    let nulls = crate::table::Nulls::default();
    let chunks = read_all(
        candidates,
        &[Vendor::Ultimate],
        on_bad,
        opts.only.is_none(),
        rejects,
        &keyless,
        |records, keyless| parse_chunk(records, opts, shrink, keyless, &nulls),
    )?;
    let mut stats = Stats {
        files: rejects.read_of(candidates.len()),
        records: chunks.iter().map(|c| c.conversations.num_rows()).sum(),
        ..Stats::default()
    };
    keyless.report(&mut stats);
    Ok((chunks, stats))
}

// ---------------------------------------------------------------------------------------
// One record, borrowed from the input buffer
// ---------------------------------------------------------------------------------------

#[derive(Debug, Default)]
struct Record<'a> {
    conversation_id: LooseStr<'a>,
    platform_conversation_id: LooseStr<'a>,
    bot_id: LooseStr<'a>,
    bot_name: LooseStr<'a>,
    start: LooseTime,
    end: LooseTime,
    language: LooseStr<'a>,
    channel: LooseStr<'a>,
    labels: Option<Vec<LooseStr<'a>>>,
    conversations_data: RawText<'a>,
    test_mode: LooseBool,
    status: LooseStr<'a>,
    last_resolution: LooseStr<'a>,
    triggered_replies: RawText<'a>,
    is_llm: LooseBool,
    automated_resolution: LooseBool,
    conversation_type: LooseStr<'a>,
    counts: [LooseCount; COUNT_FIELDS.len()],
    intents: Vec<Intent<'a>>,
}

/// The count fields, in the order of `Record::counts` and of the table's count columns
/// (lower-cased source key, canonical column).
const COUNT_FIELDS: [(&str, &str); 8] = [
    ("llm_notunderstood_count", "llm_not_understood_count"),
    (
        "llm_responsegenerated_count",
        "llm_response_generated_count",
    ),
    ("llm_erroroccurred_count", "llm_error_occurred_count"),
    (
        "llm_escalationrequired_count",
        "llm_escalation_required_count",
    ),
    ("llm_fallback_count", "llm_fallback_count"),
    ("bot_messages_count", "bot_messages_count"),
    ("visitor_messages_count", "visitor_messages_count"),
    (
        "not_understood_messages_count",
        "not_understood_messages_count",
    ),
];

/// Declares [`Field`] and the list of its named variants in one place.
macro_rules! fields {
    ($($name:ident),* $(,)?) => {
        /// The fields of a record the reader knows.
        #[derive(Debug, Clone, Copy, PartialEq)]
        enum Field {
            $($name,)*
            /// An entry of [`COUNT_FIELDS`].
            Count(usize),
        }

        impl Field {
            /// Every variant but `Count`, in bit order (the counts follow).
            const NAMED: &'static [Field] = &[$(Field::$name),*];
        }
    };
}

fields!(
    ConversationId,
    PlatformConversationId,
    BotId,
    BotName,
    Start,
    End,
    Language,
    Channel,
    Labels,
    ConversationsData,
    TestMode,
    Status,
    LastResolution,
    TriggeredReplies,
    Intents,
    IsLlm,
    AutomatedResolution,
    ConversationType,
);

impl Field {
    fn all() -> impl Iterator<Item = Field> {
        Field::NAMED
            .iter()
            .copied()
            .chain((0..COUNT_FIELDS.len()).map(Field::Count))
    }

    /// The field of a lower-cased key.
    fn of(key: &str) -> Option<Field> {
        use Field::*;
        Some(match key {
            "conversation_id" => ConversationId,
            "platform_conversation_id" => PlatformConversationId,
            "bot_id" => BotId,
            "bot_name" => BotName,
            "conversation_start_time" => Start,
            "conversation_end_time" => End,
            "language" => Language,
            "channel" => Channel,
            "labels" => Labels,
            "conversations_data" | "conversation_data" => ConversationsData,
            "test_mode" => TestMode,
            "conversation_status" => Status,
            "last_resolution" => LastResolution,
            "triggered_replies" => TriggeredReplies,
            "triggered_intent_replies" => Intents,
            "is_llm_conversation" => IsLlm,
            "automated_resolution" => AutomatedResolution,
            "conversation_type" => ConversationType,
            _ => Count(COUNT_FIELDS.iter().position(|(src, _)| *src == key)?),
        })
    }

    fn bit(self) -> u32 {
        match self {
            Field::Count(i) => (Field::NAMED.len() + i) as u32,
            f => Field::NAMED.iter().position(|g| *g == f).unwrap_or(0) as u32,
        }
    }

    /// The `bot_conversations` columns this field feeds; empty for the fields every read
    /// needs (the key, and the times that pick the copy kept and book the row).
    fn columns(self) -> &'static [&'static str] {
        use Field::*;
        match self {
            ConversationId | Start | End => &[],
            PlatformConversationId => &["platform_conversation_id"],
            BotId => &["bot_id"],
            BotName => &["bot_name"],
            Language => &["language"],
            Channel => &["channel"],
            Labels => &["labels"],
            ConversationsData => &["conversations_data"],
            TestMode => &["test_mode"],
            Status => &["conversation_status"],
            LastResolution => &["last_resolution"],
            TriggeredReplies => &["triggered_replies"],
            Intents => &[
                "intent_count",
                "first_intent",
                "last_intent",
                "first_meaningful_intent",
            ],
            IsLlm => &["is_llm_conversation"],
            AutomatedResolution => &["automated_resolution"],
            ConversationType => &["conversation_type"],
            Count(i) => std::slice::from_ref(&COUNT_FIELDS[i].1),
        }
    }
}

/// Reads one record at `d`, skipping the fields whose bit is set in `skip` (`memo` carries
/// the key order from one record of a chunk to the next). The tests' form of [`fill`].
#[cfg(test)]
fn record<'de>(
    d: &mut super::de::Deserializer<'de>,
    skip: u64,
    memo: &mut Memos<'de>,
) -> Result<Record<'de>, super::de::Error> {
    let mut r = Record::default();
    fill(d, skip, memo, &mut r)?;
    Ok(r)
}

/// The key orders [`fill`] carries from one record of a chunk to the next: the records'
/// and their intents'.
#[derive(Default)]
struct Memos<'de> {
    record: KeyMemo<'de, Field>,
    intent: KeyMemo<'de, IntentField>,
}

/// [`record`] into `r`, a fresh record of the caller's: filled where it lives instead of
/// being built inside the parse and moved out of it (two copies of a few hundred bytes per
/// record).
fn fill<'de>(
    d: &mut super::de::Deserializer<'de>,
    skip: u64,
    memo: &mut Memos<'de>,
    r: &mut Record<'de>,
) -> Result<(), super::de::Error> {
    let resolve = |k: &str| Field::of(k).filter(|f| skip >> f.bit() & 1 == 0);
    let Memos {
        record: memo,
        intent: intent_memo,
    } = memo;
    d.fields(
        "an Ultimate conversation object",
        memo,
        resolve,
        |d, f, key| {
            match f {
                Field::ConversationId => r.conversation_id = d.str_value(key)?,
                Field::PlatformConversationId => r.platform_conversation_id = d.str_value(key)?,
                Field::BotId => r.bot_id = d.str_value(key)?,
                Field::BotName => r.bot_name = d.str_value(key)?,
                Field::Start => r.start = d.text_value(key)?,
                Field::End => r.end = d.text_value(key)?,
                Field::Language => r.language = d.str_value(key)?,
                Field::Channel => r.channel = d.str_value(key)?,
                Field::Labels => r.labels = d.value::<Labels>(key)?.0,
                Field::ConversationsData => r.conversations_data = d.str_value(key)?,
                Field::TestMode => r.test_mode = d.text_value(key)?,
                Field::Status => r.status = d.str_value(key)?,
                Field::LastResolution => r.last_resolution = d.str_value(key)?,
                Field::TriggeredReplies => r.triggered_replies = d.str_value(key)?,
                Field::Intents => read_intents(d, key, intent_memo, &mut r.intents)?,
                Field::IsLlm => r.is_llm = d.text_value(key)?,
                Field::AutomatedResolution => r.automated_resolution = d.text_value(key)?,
                Field::ConversationType => r.conversation_type = d.str_value(key)?,
                Field::Count(i) => r.counts[i] = d.text_value(key)?,
            }
            Ok(true)
        },
    )
}

/// `labels`: an array of strings, null, or (tolerated) one string.
struct Labels<'a>(Option<Vec<LooseStr<'a>>>);

impl<'de> Deserialize<'de> for Labels<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Labels<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of labels")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Labels<'de>, A::Error> {
                let mut v = Vec::new();
                while let Some(s) = seq.next_element::<LooseStr<'de>>()? {
                    v.push(s);
                }
                Ok(Labels(Some(v)))
            }
            fn visit_borrowed_str<E: de::Error>(self, s: &'de str) -> Result<Labels<'de>, E> {
                Ok(Labels(Some(vec![LooseStr(Some(Cow::Borrowed(s)))])))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Labels<'de>, E> {
                Ok(Labels(Some(vec![LooseStr(Some(Cow::Owned(s.to_owned())))])))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Labels<'de>, E> {
                Ok(Labels(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Debug, Default, Clone, PartialEq)]
struct Intent<'a> {
    id: LooseStr<'a>,
    name: LooseStr<'a>,
    timestamp: LooseTime,
    not_meaningful: LooseBool,
}

impl Intent<'_> {
    fn into_owned(self) -> Intent<'static> {
        let own = |s: LooseStr<'_>| LooseStr(s.0.map(|c| Cow::Owned(c.into_owned())));
        Intent {
            id: own(self.id),
            name: own(self.name),
            timestamp: self.timestamp,
            not_meaningful: self.not_meaningful,
        }
    }
}

impl<'de> Deserialize<'de> for Intent<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Intent<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an intent object, or a JSON string holding one")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Intent<'de>, A::Error> {
                let mut it = Intent::default();
                for_each_field(&mut map, &[], |k, key, map| {
                    match k {
                        "intent_id" => it.id = field(map, key)?,
                        "intent_name" => it.name = field(map, key)?,
                        "intent_timestamp" => it.timestamp = field(map, key)?,
                        "not_meaningful" => it.not_meaningful = field(map, key)?,
                        _ => return Ok(false),
                    }
                    Ok(true)
                })?;
                Ok(it)
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Intent<'de>, E> {
                super::de::from_str::<Intent>(s)
                    .map(Intent::into_owned)
                    .map_err(|e| E::custom(format_args!("intent JSON text: {e}")))
            }
        }
        d.deserialize_any(V)
    }
}

/// The fields of an intent the reader keeps.
#[derive(Debug, Clone, Copy)]
enum IntentField {
    Id,
    Name,
    Timestamp,
    NotMeaningful,
}

impl IntentField {
    /// The field of a lower-cased key.
    fn of(key: &str) -> Option<IntentField> {
        Some(match key {
            "intent_id" => IntentField::Id,
            "intent_name" => IntentField::Name,
            "intent_timestamp" => IntentField::Timestamp,
            "not_meaningful" => IntentField::NotMeaningful,
            _ => return None,
        })
    }
}

/// `triggered_intent_replies` into `out`. The usual shape, an array of intent objects, is
/// walked as records are (by `Deserializer::fields`, with the intents' key memo); the
/// others (null, the array or an intent as JSON text) go through [`Intents`]. Why: through
/// serde's visitors the intents were a quarter of an ingest's parse.
fn read_intents<'de>(
    d: &mut super::de::Deserializer<'de>,
    key: &str,
    memo: &mut KeyMemo<'de, IntentField>,
    out: &mut Vec<Intent<'de>>,
) -> Result<(), super::de::Error> {
    if d.next_byte() != Some(b'[') {
        *out = d.value::<Intents>(key)?.0;
        return Ok(());
    }
    out.clear();
    d.elements(|d| {
        if d.next_byte() != Some(b'{') {
            out.push(Intent::deserialize(&mut *d)?);
            return Ok(());
        }
        let mut it = Intent::default();
        d.fields("an intent object", memo, IntentField::of, |d, f, k| {
            match f {
                IntentField::Id => it.id = d.str_value(k)?,
                IntentField::Name => it.name = d.str_value(k)?,
                IntentField::Timestamp => it.timestamp = d.text_value(k)?,
                IntentField::NotMeaningful => it.not_meaningful = d.text_value(k)?,
            }
            Ok(true)
        })?;
        out.push(it);
        Ok(())
    })
    .map_err(|e| serde::de::Error::custom(format_args!("field `{key}`: {e}")))
}

/// `triggered_intent_replies`: an array of intents, null, or the array as JSON text.
struct Intents<'a>(Vec<Intent<'a>>);

impl<'de> Deserialize<'de> for Intents<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Intents<'de>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an array of intents")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Intents<'de>, A::Error> {
                let mut v = Vec::new();
                while let Some(it) = seq.next_element::<Intent<'de>>()? {
                    v.push(it);
                }
                Ok(Intents(v))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Intents<'de>, E> {
                if s.trim().is_empty() {
                    return Ok(Intents(Vec::new()));
                }
                super::de::from_str::<Intents>(s)
                    .map(|i| Intents(i.0.into_iter().map(Intent::into_owned).collect()))
                    .map_err(|e| E::custom(format_args!("intents JSON text: {e}")))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Intents<'de>, E> {
                Ok(Intents(Vec::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// Index of the first meaningful intent: the earliest by `intent_timestamp` (a null
/// timestamp sorts first, as in BigQuery's ascending order), ties broken by array order,
/// among items with `not_meaningful` false (null fails the SQL's `is false`), a non-null
/// name, and a name not in `excluded` (SQL `NOT IN` drops null names too).
fn first_meaningful(intents: &[Intent<'_>], excluded: &[String]) -> Option<usize> {
    intents
        .iter()
        .enumerate()
        .filter(|(_, it)| {
            it.not_meaningful.0 == Some(false)
                && it
                    .name
                    .0
                    .as_deref()
                    .is_some_and(|n| !excluded.iter().any(|x| x == n))
        })
        .min_by_key(|(i, it)| (it.timestamp.0, *i))
        .map(|(i, _)| i)
}

// ---------------------------------------------------------------------------------------
// Chunk builders
// ---------------------------------------------------------------------------------------

/// A parsed chunk: its rows of both tables, and for each intent row the chunk-local row
/// of its conversation (to drop the intents of deduplicated conversations).
struct Chunk {
    conversations: RecordBatch,
    intents: RecordBatch,
    intent_parent: Vec<u32>,
    /// The conversation ids' hashes, grouped by deduplication shard (see [`superseded`]).
    keys: Keys,
    /// The file the chunk came from. `source_file` is left empty in the chunk's batches and
    /// filled in once, after the gather: copying the same path per row through the gather
    /// cost more than the rest of the columns together.
    source: Arc<str>,
}

struct Builders {
    /// The key and both times: every read needs them (dedupe, booking).
    conversation_id: StringBuilder,
    start: TimestampMicrosecondBuilder,
    end: TimestampMicrosecondBuilder,
    platform_conversation_id: Col<StringBuilder>,
    bot_id: Col<StringBuilder>,
    bot_name: Col<StringBuilder>,
    language: Col<StringBuilder>,
    channel: Col<StringBuilder>,
    labels: Col<ListBuilder<StringBuilder>>,
    conversations_data: Col<StringBuilder>,
    test_mode: Col<BooleanBuilder>,
    status: Col<CodesBuilder>,
    last_resolution: Col<CodesBuilder>,
    triggered_replies: Col<StringBuilder>,
    is_llm: Col<BooleanBuilder>,
    automated_resolution: Col<BooleanBuilder>,
    conversation_type: Col<StringBuilder>,
    counts: Vec<Col<Int64Builder>>,
    intent_count: Col<Int64Builder>,
    first_intent: Col<StringBuilder>,
    last_intent: Col<StringBuilder>,
    first_meaningful_intent: Col<StringBuilder>,
    duration_sec: Col<Float64Builder>,
    // bot_intents
    i_position: Int64Builder,
    i_id: StringBuilder,
    i_name: StringBuilder,
    i_timestamp: TimestampMicrosecondBuilder,
    i_not_meaningful: BooleanBuilder,
    intent_parent: Vec<u32>,
    rows: u32,
    /// [`id_hash`] of each row's conversation_id.
    hashes: Vec<u64>,
}

/// What the deduplication reads of a chunk's row, grouped by [`shard`] (see [`Keys`]). The
/// end time, which only a repeated id needs, is looked up in the chunk: kept here, it made
/// the keys half as big again, for 1.5M conversations 12 MB more to fault in.
#[derive(Clone, Copy)]
struct KeyRow {
    /// [`id_hash`] of the conversation_id.
    hash: u64,
    row: u32,
}

/// A chunk's rows as the deduplication reads them, grouped by [`shard`] in row order: each
/// shard reads only its own rows, front to back. Why: reading the hash of a shard's rows
/// where they sit in the chunk touched a cache line per row, for one row in sixteen.
struct Keys {
    by_shard: Vec<KeyRow>,
    /// Shard `s` holds `by_shard[starts[s]..starts[s + 1]]`.
    starts: [u32; SHARDS as usize + 1],
}

impl Keys {
    /// Groups the rows by shard (a counting sort, so each shard's rows stay in order).
    fn new(hashes: &[u64]) -> Self {
        let mut starts = [0u32; SHARDS as usize + 1];
        for &h in hashes {
            starts[shard(h) + 1] += 1;
        }
        for s in 0..SHARDS as usize {
            starts[s + 1] += starts[s];
        }
        let mut next = starts;
        let blank = KeyRow { hash: 0, row: 0 };
        let mut by_shard = vec![blank; hashes.len()];
        for (row, &hash) in hashes.iter().enumerate() {
            let at = &mut next[shard(hash)];
            by_shard[*at as usize] = KeyRow {
                hash,
                row: row as u32,
            };
            *at += 1;
        }
        Keys { by_shard, starts }
    }

    /// The rows of shard `s`, in order.
    fn rows(&self, s: usize) -> &[KeyRow] {
        &self.by_shard[self.starts[s] as usize..self.starts[s + 1] as usize]
    }
}

/// The hash a conversation id is deduplicated by: computed as the id is parsed, while its
/// bytes are in cache (a separate pass over the ids was a twentieth of a metrics run).
fn id_hash(id: &str) -> u64 {
    use std::hash::BuildHasher;
    foldhash::fast::FixedState::with_seed(0x5eed).hash_one(id)
}

/// The deduplication shard of a hash: bits 32.. of it, which the maps do not use for
/// their buckets or tags.
fn shard(h: u64) -> usize {
    ((h >> 32) % SHARDS) as usize
}

fn utc_ts(rows: usize) -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC")
}

/// How big the last chunk a thread parsed came out, for the builders of its next chunk.
///
/// Why: builders that start small double their way up, and every doubling copies the
/// column into fresh pages: a quarter of an ingest's page faults, and page faults are
/// much of a run's system time. Started at the size the last chunk reached for as many
/// input bytes, a builder is allocated once; capacity a chunk does not fill is never
/// touched, so it costs no memory.
#[derive(Clone, Default)]
struct Sizes {
    input: usize,
    rows: usize,
    intents: usize,
    /// Bytes of string values per column, by name (`i_` for `bot_intents`' columns).
    text: Vec<(&'static str, usize)>,
}

thread_local! {
    static LAST_SIZES: std::cell::RefCell<Sizes> = std::cell::RefCell::default();
}

/// [`Sizes`] scaled to a chunk's input, with room to spare.
struct Hint {
    sizes: Sizes,
    scale: f64,
}

impl Hint {
    fn for_input(input: usize) -> Hint {
        let sizes = LAST_SIZES.with(|s| s.borrow().clone());
        let scale = match sizes.input {
            0 => 0.0,
            last => input as f64 / last as f64 * 1.15,
        };
        Hint { sizes, scale }
    }

    fn scaled(&self, n: usize) -> usize {
        (n as f64 * self.scale) as usize
    }

    fn rows(&self) -> usize {
        self.scaled(self.sizes.rows)
    }

    fn intents(&self) -> usize {
        self.scaled(self.sizes.intents)
    }

    fn bytes(&self, column: &str) -> usize {
        let at = self.sizes.text.iter().find(|(c, _)| *c == column);
        at.map_or(0, |&(_, n)| self.scaled(n))
    }

    fn text(&self, column: &str) -> StringBuilder {
        StringBuilder::with_capacity(self.rows(), self.bytes(column))
    }
}

impl Builders {
    /// Builders for the columns `want` names (the key and both times always), sized by `hint`;
    /// `lean` for a metrics-only read.
    fn new(want: &dyn Fn(&str) -> bool, lean: bool, hint: &Hint) -> Self {
        let (rows, intents) = (hint.rows(), hint.intents());
        let schema = BOT_CONVERSATIONS.schema();
        let col = |name, make| Col::new(&schema, name, want(name), make);
        let text = |name| col(name, || hint.text(name));
        let flag = |name| {
            Col::new(&schema, name, want(name), || {
                BooleanBuilder::with_capacity(rows)
            })
        };
        let int = |name| {
            Col::new(&schema, name, want(name), || {
                Int64Builder::with_capacity(rows)
            })
        };
        // Metrics-only reads keep statuses as codes (see `codes`); tables keep text.
        let codes = |name| {
            Col::new(&schema, name, want(name), || match lean {
                true => CodesBuilder::codes(rows),
                false => CodesBuilder::plain(hint.text(name)),
            })
        };
        Builders {
            conversation_id: hint.text("conversation_id"),
            start: utc_ts(rows),
            end: utc_ts(rows),
            platform_conversation_id: text("platform_conversation_id"),
            bot_id: text("bot_id"),
            bot_name: text("bot_name"),
            language: text("language"),
            channel: text("channel"),
            labels: Col::new(&schema, "labels", want("labels"), || {
                ListBuilder::with_capacity(hint.text("labels"), rows)
            }),
            conversations_data: text("conversations_data"),
            test_mode: flag("test_mode"),
            status: codes("conversation_status"),
            last_resolution: codes("last_resolution"),
            triggered_replies: text("triggered_replies"),
            is_llm: flag("is_llm_conversation"),
            automated_resolution: flag("automated_resolution"),
            conversation_type: text("conversation_type"),
            counts: COUNT_FIELDS.iter().map(|(_, name)| int(name)).collect(),
            intent_count: int("intent_count"),
            first_intent: text("first_intent"),
            last_intent: text("last_intent"),
            first_meaningful_intent: text("first_meaningful_intent"),
            duration_sec: Col::new(&schema, "duration_sec", want("duration_sec"), || {
                Float64Builder::with_capacity(rows)
            }),
            i_position: Int64Builder::with_capacity(intents),
            i_id: StringBuilder::with_capacity(intents, hint.bytes("i_intent_id")),
            i_name: StringBuilder::with_capacity(intents, hint.bytes("i_intent_name")),
            i_timestamp: utc_ts(intents),
            i_not_meaningful: BooleanBuilder::with_capacity(intents),
            intent_parent: Vec::with_capacity(intents),
            rows: 0,
            hashes: Vec::with_capacity(rows),
        }
    }

    /// Appends a record; `false` when it has no conversation_id (left out, see [`Keyless`]).
    fn push<'a>(&mut self, r: &'a Record<'_>, opts: &Options) -> bool {
        let Some(id) = r.conversation_id.0.as_deref() else {
            return false;
        };
        self.conversation_id.append_value(id);
        self.hashes.push(id_hash(id));
        self.start.append_option(r.start.0);
        self.end.append_option(r.end.0);
        let text = |c: &mut Col<StringBuilder>, v: Option<&str>| c.put(|b| b.append_option(v));
        text(
            &mut self.platform_conversation_id,
            r.platform_conversation_id.0.as_deref(),
        );
        text(&mut self.bot_id, r.bot_id.0.as_deref());
        text(&mut self.bot_name, r.bot_name.0.as_deref());
        text(&mut self.language, r.language.0.as_deref());
        text(&mut self.channel, r.channel.0.as_deref());
        self.labels.put(|b| match &r.labels {
            Some(labels) => {
                for l in labels {
                    b.values().append_option(l.0.as_deref());
                }
                b.append(true);
            }
            None => b.append(false),
        });
        text(
            &mut self.conversations_data,
            r.conversations_data.0.as_deref(),
        );
        self.test_mode.put(|b| b.append_option(r.test_mode.0));
        let code = |c: &mut Col<CodesBuilder>, v: Option<&str>| c.put(|b| b.append_option(v));
        code(&mut self.status, r.status.0.as_deref());
        code(&mut self.last_resolution, r.last_resolution.0.as_deref());
        text(
            &mut self.triggered_replies,
            r.triggered_replies.0.as_deref(),
        );
        self.is_llm.put(|b| b.append_option(r.is_llm.0));
        self.automated_resolution
            .put(|b| b.append_option(r.automated_resolution.0));
        text(
            &mut self.conversation_type,
            r.conversation_type.0.as_deref(),
        );
        for (c, v) in self.counts.iter_mut().zip(&r.counts) {
            c.put(|b| b.append_option(v.0));
        }
        self.intent_count
            .put(|b| b.append_value(r.intents.len() as i64));
        let name = |i: Option<&'a Intent<'_>>| i.and_then(|i| i.name.0.as_deref());
        self.first_intent
            .put(|b| b.append_option(name(r.intents.first())));
        self.last_intent
            .put(|b| b.append_option(name(r.intents.last())));
        self.first_meaningful_intent.put(|b| {
            let fm = first_meaningful(&r.intents, &opts.excluded_intents);
            b.append_option(fm.and_then(|i| r.intents[i].name.0.as_deref()))
        });
        self.duration_sec.put(|b| {
            b.append_option(match (r.start.0, r.end.0) {
                (Some(s), Some(e)) => Some((e - s) as f64 / 1e6),
                _ => None,
            })
        });
        let intent_rows = if opts.lean() { &[][..] } else { &r.intents[..] };
        for (pos, it) in intent_rows.iter().enumerate() {
            self.i_position.append_value(pos as i64);
            self.i_id.append_option(it.id.0.as_deref());
            self.i_name.append_option(it.name.0.as_deref());
            self.i_timestamp.append_option(it.timestamp.0);
            self.i_not_meaningful.append_option(it.not_meaningful.0);
            self.intent_parent.push(self.rows);
        }
        self.rows += 1;
        true
    }

    /// The chunk's tables; with `shrink`, each buffer is cut to its length (a copy, which
    /// slowed a full read by a tenth). A builder grows by doubling, and an ingest holds
    /// every chunk until it has written them: the spare capacity was a quarter of its memory.
    /// The chunk, and the sizes it came out at (see [`Sizes`]) for `input` bytes.
    fn finish(
        mut self,
        source: Arc<str>,
        input: usize,
        shrink: bool,
        nulls: &crate::table::Nulls,
    ) -> Result<Chunk> {
        let rows = self.rows as usize;
        let end = self.end.finish();
        let keys = Keys::new(&self.hashes);
        let empty = |n: usize| -> ArrayRef {
            Arc::new(StringArray::from_iter_values(std::iter::repeat_n("", n)))
        };
        let mut cols: Vec<ArrayRef> = vec![
            Arc::new(self.conversation_id.finish()),
            self.platform_conversation_id.finish(rows, nulls),
            self.bot_id.finish(rows, nulls),
            self.bot_name.finish(rows, nulls),
            Arc::new(self.start.finish()),
            Arc::new(end),
            self.language.finish(rows, nulls),
            self.channel.finish(rows, nulls),
            self.labels.finish(rows, nulls),
            self.conversations_data.finish(rows, nulls),
            self.test_mode.finish(rows, nulls),
            self.status.finish(rows, nulls),
            self.last_resolution.finish(rows, nulls),
            self.triggered_replies.finish(rows, nulls),
            self.is_llm.finish(rows, nulls),
            self.automated_resolution.finish(rows, nulls),
            self.conversation_type.finish(rows, nulls),
        ];
        for c in &mut self.counts {
            cols.push(c.finish(rows, nulls));
        }
        cols.extend([
            self.intent_count.finish(rows, nulls),
            self.first_intent.finish(rows, nulls),
            self.last_intent.finish(rows, nulls),
            self.first_meaningful_intent.finish(rows, nulls),
            self.duration_sec.finish(rows, nulls),
            // `source_file`: filled in after the gather (see `Chunk::source`).
            empty(rows),
        ]);
        let mut intent_cols: Vec<ArrayRef> = vec![
            // `conversation_id`: the parent's (see `table::ParentKey`).
            empty(self.intent_parent.len()),
            Arc::new(self.i_position.finish()),
            Arc::new(self.i_id.finish()),
            Arc::new(self.i_name.finish()),
            Arc::new(self.i_timestamp.finish()),
            Arc::new(self.i_not_meaningful.finish()),
            empty(self.intent_parent.len()),
        ];
        if shrink {
            for c in cols.iter_mut().chain(&mut intent_cols) {
                c.shrink_to_fit();
            }
        }
        let conversations = RecordBatch::try_new(
            crate::table::schema_of(BOT_CONVERSATIONS.schema(), &cols),
            cols,
        )?;
        let intents = RecordBatch::try_new(BOT_INTENTS.schema(), intent_cols)?;
        // String values, or a list's string values (`labels`).
        let text_bytes = |c: &ArrayRef| {
            let list = c.as_list_opt::<i32>().map(|l| l.values());
            let strings = list.unwrap_or(c).as_string_opt::<i32>();
            strings.map(|s| s.values().len())
        };
        let mut text = Vec::new();
        let columns = BOT_CONVERSATIONS.columns.iter().map(|c| c.name);
        for (name, c) in columns.zip(conversations.columns()) {
            text.extend(text_bytes(c).map(|n| (name, n)));
        }
        for (name, i) in [("i_intent_id", 2), ("i_intent_name", 3)] {
            text.extend(text_bytes(intents.column(i)).map(|n| (name, n)));
        }
        LAST_SIZES.with(|s| {
            *s.borrow_mut() = Sizes {
                input,
                rows,
                intents: intents.num_rows(),
                text,
            }
        });
        Ok(Chunk {
            conversations,
            intents,
            intent_parent: self.intent_parent,
            keys,
            source,
        })
    }
}

/// Where the columns the deduplication and the ordering read sit in `bot_conversations`
/// (checked by a test against the schema).
const CONVERSATION_ID: usize = 0;
const START_TIME: usize = 4;
const END_TIME: usize = 5;

fn parse_chunk(
    mut records: Records<'_>,
    opts: &Options,
    shrink: bool,
    keyless: &Keyless,
    nulls: &crate::table::Nulls,
) -> Result<Chunk> {
    let f = records.file();
    let want = |c: &str| opts.only.as_ref().is_none_or(|o| o.iter().any(|w| w == c));
    let input = records.input_len();
    let mut b = Builders::new(&want, opts.lean(), &Hint::for_input(input));
    let skip = opts.skipped();
    let mut memo = Memos::default();
    // One list of intents for every record, cleared rather than allocated and freed per
    // record.
    let mut intents = Vec::new();
    loop {
        intents.clear();
        let mut rec = Record {
            intents,
            ..Record::default()
        };
        let Some((start, ())) = records.next(|d| fill(d, skip, &mut memo, &mut rec))? else {
            break;
        };
        if !b.push(&rec, opts) {
            keyless.note(f, start, "conversation_id");
        }
        intents = rec.intents;
    }
    b.finish(f.path.to_string_lossy().into(), input, shrink, nulls)
}

/// Shards of the deduplication: many, so that each shard's map stays in a core's cache
/// (1.5M conversations make maps of about 6,000 entries, 200 KB); each shard reads only its
/// own rows (see [`Keys`]), so more shards cost no more passes.
const SHARDS: u64 = 256;

/// The rows of `chunks` that lose to another copy of their conversation_id, as
/// `chunk << 32 | row`, sorted. The copy kept is the one with the latest end time (a
/// missing end time losing); among equals the one delivered last (later file, later
/// record).
///
/// Why sharded: one map over millions of ids was a serial tenth of a metrics run. Ids are
/// hashed as they are parsed, and each chunk's rows grouped by [`shard`] (see [`Keys`]);
/// each shard then sees its ids in delivery order, so the rule above holds per id exactly
/// as with one map.
fn superseded(chunks: &[Chunk]) -> Vec<u64> {
    use rayon::prelude::*;
    let rows: usize = chunks.iter().map(|c| c.keys.by_shard.len()).sum();
    let id = |at: u64| {
        let c = &chunks[(at >> 32) as usize].conversations;
        let ids = c.column(CONVERSATION_ID).as_string::<i32>();
        ids.value((at & 0xffff_ffff) as usize)
    };
    // The end time of a copy, a missing one ordered first.
    let end = |at: u64| {
        let c = &chunks[(at >> 32) as usize].conversations;
        let ends = c
            .column(END_TIME)
            .as_primitive::<TimestampMicrosecondType>();
        let row = (at & 0xffff_ffff) as usize;
        ends.is_valid(row).then(|| ends.value(row))
    };
    // The best copy so far by hash; the ids are compared only when hashes are equal.
    // Distinct ids with equal hashes (about one run in ten billion) go to the second map,
    // keyed by the id itself. The maps are made once per task and cleared per shard: made
    // per shard, their fresh pages were most of the deduplication's time.
    type Best<'a> = (
        HashMap<u64, u64, BuildHasherDefault<PassThrough>>,
        HashMap<&'a str, u64>,
    );
    let maps = || -> Best {
        let per_shard = rows / SHARDS as usize + 1024;
        let best = HashMap::with_capacity_and_hasher(per_shard, Default::default());
        (best, HashMap::new())
    };
    let lost: Vec<Vec<u64>> = (0..SHARDS as usize)
        .into_par_iter()
        .map_init(maps, |(best, others), shard| {
            best.clear();
            others.clear();
            let mut lost = Vec::new();
            let mut keep = |kept: &mut u64, at: u64| {
                if end(at) >= end(*kept) {
                    lost.push(*kept);
                    *kept = at;
                } else {
                    lost.push(at);
                }
            };
            for (ci, c) in chunks.iter().enumerate() {
                for k in c.keys.rows(shard) {
                    let at = (ci as u64) << 32 | u64::from(k.row);
                    match best.entry(k.hash) {
                        Entry::Vacant(v) => {
                            v.insert(at);
                        }
                        Entry::Occupied(mut o) if id(*o.get()) == id(at) => keep(o.get_mut(), at),
                        Entry::Occupied(_) => match others.entry(id(at)) {
                            Entry::Vacant(v) => {
                                v.insert(at);
                            }
                            Entry::Occupied(mut o) => keep(o.get_mut(), at),
                        },
                    }
                }
            }
            lost
        })
        .collect();
    let mut lost = lost.concat();
    lost.par_sort_unstable();
    lost
}

/// A metrics-only read's table: the chunks themselves in delivery order, filtered only
/// where a copy lost (see [`superseded`]), so the table is never copied. Returns it and
/// how many records were dropped as re-deliveries.
fn kept_in_delivery_order(chunks: Vec<Chunk>) -> Result<(Vec<RecordBatch>, usize)> {
    let lost = superseded(&chunks);
    let duplicates = lost.len();
    let mut lost = lost.iter().peekable();
    let mut parts = Vec::with_capacity(chunks.len());
    for (ci, c) in chunks.into_iter().enumerate() {
        let mut keep = vec![true; c.conversations.num_rows()];
        while let Some(&&at) = lost.peek().filter(|&&&at| at >> 32 == ci as u64) {
            keep[(at & 0xffff_ffff) as usize] = false;
            lost.next();
        }
        parts.push(match keep.iter().all(|&k| k) {
            true => c.conversations,
            false => {
                arrow::compute::filter_record_batch(&c.conversations, &BooleanArray::from(keep))?
            }
        });
    }
    Ok((parts, duplicates))
}

/// A full read's tables from the parsed chunks: one copy per conversation_id (see
/// [`superseded`]) with the intents of the copy kept, in canonical order (by
/// conversation_id, then intent position; by start day first with
/// [`Options::by_start_day`]).
fn deferred(chunks: Vec<Chunk>, opts: &Options, mut stats: Stats) -> DeferredTables {
    use rayon::prelude::*;
    let lost = superseded(&chunks);
    stats.duplicates = lost.len();
    let rows = chunks.par_iter().enumerate().map(|(ci, c)| {
        let ids = c.conversations.column(CONVERSATION_ID).as_string::<i32>();
        let starts = c
            .conversations
            .column(START_TIME)
            .as_primitive::<TimestampMicrosecondType>();
        // `lost` is in (chunk, row) order: this chunk's are one run of it.
        let from = lost.partition_point(|&at| at >> 32 < ci as u64);
        let to = lost.partition_point(|&at| at >> 32 <= ci as u64);
        let mut lost = lost[from..to].iter().peekable();
        (0..ids.len()).filter_map(move |r| {
            let at = (ci as u64) << 32 | r as u64;
            lost.next_if_eq(&&at).is_none().then(|| {
                let day = match opts.by_start_day && starts.is_valid(r) {
                    true => Some(starts.value(r).div_euclid(crate::time::DAY_US)),
                    false => None,
                };
                (day, Some(ids.value(r)), ci, r)
            })
        })
    });
    // Ids are unique now, so the order is fully determined.
    let kept = sorted_by_group_and_text(rows);
    // The intents of each chunk row are contiguous and in position order: index them by row.
    let firsts: Vec<Vec<u32>> = chunks
        .par_iter()
        .map(|c| {
            let mut first = vec![0u32; c.conversations.num_rows() + 1];
            for &p in &c.intent_parent {
                first[p as usize + 1] += 1;
            }
            for i in 1..first.len() {
                first[i] += first[i - 1];
            }
            first
        })
        .collect();
    let intent_positions: Vec<(usize, usize)> = kept
        .par_chunks(1 << 14)
        .map(|kept| {
            kept.iter()
                .flat_map(|&(c, r)| {
                    let first = &firsts[c];
                    (first[r]..first[r + 1]).map(move |i| (c, i as usize))
                })
                .collect::<Vec<_>>()
        })
        .collect::<Vec<_>>()
        .concat();
    let sources: Vec<Arc<str>> = chunks.iter().map(|c| c.source.clone()).collect();
    let mut parts = Vec::with_capacity(chunks.len());
    let mut intent_parts = Vec::with_capacity(chunks.len());
    let mut parent_keys = Vec::with_capacity(chunks.len());
    let mut parent_rows = Vec::with_capacity(chunks.len());
    for c in chunks {
        parent_keys.push(
            c.conversations
                .column(CONVERSATION_ID)
                .as_string::<i32>()
                .clone(),
        );
        parent_rows.push(c.intent_parent);
        parts.push(c.conversations);
        intent_parts.push(c.intents);
    }
    DeferredTables {
        conversations: Deferred {
            schema: BOT_CONVERSATIONS.schema(),
            parts,
            sources: sources.clone(),
            positions: kept,
            parent_key: None,
        },
        intents: Deferred {
            schema: BOT_INTENTS.schema(),
            parts: intent_parts,
            sources,
            positions: intent_positions,
            parent_key: Some(ParentKey {
                column: "conversation_id",
                keys: parent_keys,
                rows: parent_rows,
            }),
        },
        stats,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intents_walked_in_place_read_as_through_serde() {
        let shapes = [
            r#"[]"#,
            r#"null"#,
            r#" [ { "Intent_Name" : "A", "x": [1, {"y": "]"}], "intent_id": "i\u0041",
                 "not_meaningful": "true", "intent_timestamp": "2024-03-25 04:07:28.551 UTC" },
                 {"intent_name": null}, "{\"intent_name\": \"as text\"}", {} ] "#,
            r#""[{\"intent_name\": \"array as text\"}]""#,
            r#"[{"intent_name": "B", "intent_name": "C"}, {"not_meaningful": false}]"#,
        ];
        for json in shapes {
            let expected = super::super::de::from_str::<Intents>(json).unwrap().0;
            let mut d = super::super::de::Deserializer::new(json.as_bytes(), 0);
            let mut got = vec![Intent::default()];
            read_intents(&mut d, "k", &mut KeyMemo::default(), &mut got).unwrap();
            assert_eq!(got, expected, "{json}");
            assert_eq!(d.next_byte(), None, "{json}: read to its end");
        }
        for bad in [
            r#"[{"intent_name": "A"},]"#,
            r#"[{"intent_name": "A"}"#,
            r#"[1 2]"#,
            "[,]",
        ] {
            let mut d = super::super::de::Deserializer::new(bad.as_bytes(), 0);
            let e = read_intents(&mut d, "k", &mut KeyMemo::default(), &mut Vec::new());
            let expected = super::super::de::from_str::<Intents>(bad).err().unwrap();
            let expected = format!("field `k`: {}", expected.message);
            assert_eq!(e.err().map(|e| e.to_string()), Some(expected), "{bad}");
        }
    }

    fn intent(name: &str, ts: Option<i64>, nm: Option<bool>) -> Intent<'static> {
        Intent {
            id: LooseStr(None),
            name: LooseStr(Some(Cow::Owned(name.into()))),
            timestamp: LooseTime(ts),
            not_meaningful: LooseBool(nm),
        }
    }

    #[test]
    fn column_positions_match_the_schema() {
        let schema = BOT_CONVERSATIONS.schema();
        assert_eq!(schema.index_of("conversation_id").unwrap(), CONVERSATION_ID);
        assert_eq!(
            schema.index_of("conversation_start_time").unwrap(),
            START_TIME
        );
        assert_eq!(schema.index_of("conversation_end_time").unwrap(), END_TIME);
    }

    #[test]
    fn first_meaningful_follows_the_vendor_sql() {
        let ex = Options::default().excluded_intents;
        let v = vec![
            intent("Greeting", Some(1), Some(false)),
            intent("B", Some(5), Some(false)),
            intent("A", Some(3), None), // null not_meaningful fails `is false`
            intent("C", Some(5), Some(false)),
            intent("D", Some(2), Some(true)),
        ];
        assert_eq!(first_meaningful(&v, &ex), Some(1)); // B and C tie at 5: array order
        let v = vec![
            intent("B", Some(5), Some(false)),
            intent("C", None, Some(false)),
        ];
        assert_eq!(first_meaningful(&v, &ex), Some(1)); // null timestamp sorts first
        assert_eq!(first_meaningful(&[], &ex), None);
    }

    fn parse(text: &str) -> Result<Record<'_>, crate::source::de::Failure> {
        crate::source::de::from_slice_with(text.as_bytes(), |d| {
            super::record(d, 0, &mut super::Memos::default())
        })
    }

    fn chunk(records: &[String]) -> Chunk {
        chunk_sized(records, &Hint::for_input(0))
    }

    fn chunk_sized(records: &[String], hint: &Hint) -> Chunk {
        let opts = Options::default();
        let mut b = Builders::new(&|_| true, false, hint);
        for r in records {
            assert!(b.push(&parse(r).expect("record"), &opts));
        }
        b.finish("f.json".into(), 0, true, &crate::table::Nulls::default())
            .expect("chunk")
    }

    #[test]
    fn builders_sized_by_a_hint_make_the_same_chunk() {
        let records: Vec<String> = (0..50)
            .map(|i| {
                format!(
                    r#"{{"conversation_id":"c{i}","bot_name":"bot {i}","labels":["a","b{i}"],
                    "triggered_replies":"[\"r{i}\"]","conversation_end_time":null,
                    "intents":[{{"intent_id":"i{i}","intent_name":"n{i}","position":{i}}}]}}"#
                )
            })
            .collect();
        let none = chunk(&records);
        // Far too small (every column grows) and far too large (none fills).
        for scale in [0.01, 40.0] {
            let sizes = Sizes {
                input: 1,
                rows: 50,
                intents: 20,
                text: vec![("conversation_id", 100), ("labels", 7), ("i_intent_id", 30)],
            };
            let sized = chunk_sized(&records, &Hint { sizes, scale });
            assert_eq!(sized.conversations, none.conversations);
            assert_eq!(sized.intents, none.intents);
        }
    }

    fn record(id: &str, end: Option<&str>) -> String {
        let end = end.map_or("null".to_string(), |e| {
            format!("\"2024-03-25 {e}.000000 UTC\"")
        });
        format!(r#"{{"conversation_id":"{id}","conversation_end_time":{end}}}"#)
    }

    #[test]
    fn the_latest_copy_wins_in_every_shard() {
        // 300 ids (so every shard holds some), delivered in two chunks. In the second chunk
        // even ids tie on end time (the later delivery wins) and odd ids end earlier (the
        // first copy wins); "x" has no end time first, "y" none second.
        let mut first: Vec<String> = (0..300)
            .map(|i| record(&format!("c{i}"), Some("10:00:00")))
            .collect();
        first.push(record("x", None));
        first.push(record("y", Some("09:00:00")));
        let mut second: Vec<String> = (0..300)
            .map(|i| {
                record(
                    &format!("c{i}"),
                    Some(if i % 2 == 0 { "10:00:00" } else { "08:00:00" }),
                )
            })
            .collect();
        second.push(record("x", Some("07:00:00")));
        second.push(record("y", None));
        let mut expected: Vec<u64> = (0..300u64)
            .map(|i| if i % 2 == 0 { i } else { 1 << 32 | i })
            .collect();
        expected.push(300); // first "x": a missing end time loses
        expected.push(1 << 32 | 301); // second "y"
        expected.sort_unstable();
        let chunks = [chunk(&first), chunk(&second)];
        assert_eq!(superseded(&chunks), expected);
        // The same when every id has the same hash: the ids are told apart by their text.
        let colliding = chunks.map(|mut c| {
            c.keys = Keys::new(&vec![7 << 32; c.conversations.num_rows()]);
            c
        });
        assert_eq!(superseded(&colliding), expected);
    }

    #[test]
    fn lean_reads_skip_the_fields_of_columns_not_asked_for() {
        let only = Options {
            only: Some(vec!["visitor_messages_count".into()]),
            ..Options::default()
        };
        let text = r#"{"conversation_id":"c","labels":["x"],"conversations_data":"{}","visitor_messages_count":"2"}"#;
        let r = crate::source::de::from_slice_with(text.as_bytes(), |d| {
            super::record(d, only.skipped(), &mut super::Memos::default())
        })
        .unwrap();
        assert!(r.labels.is_none() && r.conversations_data.0.is_none());
        assert_eq!(r.counts[6].0, Some(2));
    }

    #[test]
    fn records_in_every_key_case_and_notation() {
        let a = parse(
            r#"{"CONVERSATION_ID":"c1","Conversation_Status":"botHandled","TEST_MODE":"false",
                "VISITOR_MESSAGES_COUNT":"4","llm_notUnderstood_count":2,"bot_messages_count":"",
                "conversation_data":"{\"k\":\"v\"}","labels":["x",null],
                "triggered_intent_replies":["{\"intent_name\":\"A\",\"not_meaningful\":false}",
                   {"INTENT_NAME":"B","intent_timestamp":"2024-05-07 09:12:03 UTC"}],
                "conversation_start_time":1715073123,"extra_v3_field":{"x":[1,2]}}"#,
        )
        .unwrap();
        assert_eq!(a.conversation_id.0.as_deref(), Some("c1"));
        assert_eq!(a.status.0.as_deref(), Some("botHandled"));
        assert_eq!(a.test_mode.0, Some(false));
        assert_eq!(a.counts[6].0, Some(4));
        assert_eq!(a.counts[0].0, Some(2));
        assert_eq!(a.counts[5].0, None);
        assert_eq!(a.conversations_data.0.as_deref(), Some(r#"{"k":"v"}"#));
        assert_eq!(a.intents.len(), 2);
        assert_eq!(a.intents[0].name.0.as_deref(), Some("A"));
        assert_eq!(a.intents[1].timestamp.0, Some(1_715_073_123_000_000));
        assert_eq!(a.start.0, Some(1_715_073_123_000_000));
        let e = parse(r#"{"conversation_id":"c","visitor_messages_count":"many"}"#).unwrap_err();
        assert!(e.to_string().contains("visitor_messages_count"), "{e}");
    }
}
