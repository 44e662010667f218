//! A parsed chunk of Ultimate records: the column builders of both tables, filled record
//! by record, and the keys the deduplication reads (`dedupe.rs`).

use std::sync::Arc;

use arrow::array::{
    Array, ArrayRef, AsArray, BooleanBuilder, Float64Builder, Int64Builder, ListBuilder,
    RecordBatch, StringArray, StringBuilder, TimestampMicrosecondBuilder,
};

use super::dedupe::SHARDS;
use super::record::{fill, first_meaningful, Intent, Memos, Record, COUNT_FIELDS};
use super::Options;
use crate::error::Result;
use crate::source::codes::CodesBuilder;
use crate::source::{Keyless, Records};
use crate::table::{Col, BOT_CONVERSATIONS, BOT_INTENTS};

/// A parsed chunk: its rows of both tables, and for each intent row the chunk-local row
/// of its conversation (to drop the intents of deduplicated conversations).
pub(super) struct Chunk {
    pub(super) conversations: RecordBatch,
    pub(super) intents: RecordBatch,
    pub(super) intent_parent: Vec<u32>,
    /// The conversation ids' hashes, grouped by deduplication shard (see [`superseded`](super::dedupe::superseded)).
    pub(super) keys: Keys,
    /// The file the chunk came from. `source_file` is left empty in the chunk's batches and
    /// filled in once, after the gather: copying the same path per row through the gather
    /// cost more than the rest of the columns together.
    pub(super) source: Arc<str>,
}

pub(super) struct Builders {
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
pub(super) struct KeyRow {
    /// [`id_hash`] of the conversation_id.
    pub(super) hash: u64,
    pub(super) row: u32,
}

/// A chunk's rows as the deduplication reads them, grouped by [`shard`] in row order: each
/// shard reads only its own rows, front to back. Why: reading the hash of a shard's rows
/// where they sit in the chunk touched a cache line per row, for one row in sixteen.
pub(super) struct Keys {
    pub(super) by_shard: Vec<KeyRow>,
    /// Shard `s` holds `by_shard[starts[s]..starts[s + 1]]`.
    starts: [u32; SHARDS as usize + 1],
}

impl Keys {
    /// Groups the rows by shard (a counting sort, so each shard's rows stay in order).
    pub(super) fn new(hashes: &[u64]) -> Self {
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
    pub(super) fn rows(&self, s: usize) -> &[KeyRow] {
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
pub(super) fn shard(h: u64) -> usize {
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
pub(super) struct Sizes {
    pub(super) input: usize,
    pub(super) rows: usize,
    pub(super) intents: usize,
    /// Bytes of string values per column, by name (`i_` for `bot_intents`' columns).
    pub(super) text: Vec<(&'static str, usize)>,
}

thread_local! {
    static LAST_SIZES: std::cell::RefCell<Sizes> = std::cell::RefCell::default();
}

/// [`Sizes`] scaled to a chunk's input, with room to spare.
pub(super) struct Hint {
    pub(super) sizes: Sizes,
    pub(super) scale: f64,
}

impl Hint {
    pub(super) fn for_input(input: usize) -> Hint {
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
    pub(super) fn new(want: &dyn Fn(&str) -> bool, lean: bool, hint: &Hint) -> Self {
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
    pub(super) fn push<'a>(&mut self, r: &'a Record<'_>, opts: &Options) -> bool {
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
    pub(super) fn finish(
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
pub(super) const CONVERSATION_ID: usize = 0;
pub(super) const START_TIME: usize = 4;
pub(super) const END_TIME: usize = 5;

pub(super) fn parse_chunk(
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
