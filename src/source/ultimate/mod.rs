//! Ultimate / Zendesk "AI agents – Advanced" Data Export: daily files of bot conversations.
//!
//! Every documented variant is read: JSON array or NDJSON, gzip or not, lower- or UPPER_CASE
//! keys, v2 and v3 fields (unknown ones ignored), counts as strings or numbers, the
//! `conversations_data` / `conversation_data` spellings, `test_mode` as bool or text, intent
//! items as objects or as JSON strings. Values outside the documented vocabularies are kept
//! as delivered; the metrics decide what they mean.

use arrow::array::RecordBatch;

use crate::error::Result;
use crate::source::{read_all, Candidate, Keyless, OnBadFile, Rejects, Stats, Vendor};
use crate::table::{Deferred, BOT_INTENTS};

mod chunk;
mod dedupe;
mod record;

use chunk::{parse_chunk, Chunk};
use dedupe::{deferred, kept_in_delivery_order};
use record::Field;

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
/// in [`Builders::finish`](chunk::Builders::finish).
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

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use super::chunk::{Builders, Hint, Keys, Sizes, CONVERSATION_ID, END_TIME, START_TIME};
    use super::dedupe::superseded;
    use super::record::{first_meaningful, read_intents, Intent, Intents, Memos, Record};
    use super::*;
    use crate::source::de::KeyMemo;
    use crate::source::json::{LooseBool, LooseStr, LooseTime};
    use crate::table::BOT_CONVERSATIONS;

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
            super::record::record(d, 0, &mut Memos::default())
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
            super::record::record(d, only.skipped(), &mut Memos::default())
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
