//! One copy per conversation_id across the parsed chunks (sharded by the id's hash), and
//! the tables of the copies kept.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::sync::Arc;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::TimestampMicrosecondType;

use super::chunk::{Chunk, CONVERSATION_ID, END_TIME, START_TIME};
use super::{DeferredTables, Options};
use crate::error::Result;
use crate::source::Stats;
use crate::table::{
    sorted_by_group_and_text, Deferred, ParentKey, PassThrough, BOT_CONVERSATIONS, BOT_INTENTS,
};

/// Shards of the deduplication: many, so that each shard's map stays in a core's cache
/// (1.5M conversations make maps of about 6,000 entries, 200 KB); each shard reads only its
/// own rows (see [`Keys`](super::chunk::Keys)), so more shards cost no more passes.
pub(super) const SHARDS: u64 = 256;

/// The rows of `chunks` that lose to another copy of their conversation_id, as
/// `chunk << 32 | row`, sorted. The copy kept is the one with the latest end time (a
/// missing end time losing); among equals the one delivered last (later file, later
/// record).
///
/// Why sharded: one map over millions of ids was a serial tenth of a metrics run. Ids are
/// hashed as they are parsed, and each chunk's rows grouped by [`shard`](super::chunk::shard) (see [`Keys`](super::chunk::Keys));
/// each shard then sees its ids in delivery order, so the rule above holds per id exactly
/// as with one map.
pub(super) fn superseded(chunks: &[Chunk]) -> Vec<u64> {
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
pub(super) fn kept_in_delivery_order(chunks: Vec<Chunk>) -> Result<(Vec<RecordBatch>, usize)> {
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
pub(super) fn deferred(chunks: Vec<Chunk>, opts: &Options, mut stats: Stats) -> DeferredTables {
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
