//! The re-delivery rule: of the rows sharing a table's key, the last delivered is kept
//! (in canonical order for a full read, in delivery order for a metrics-only one), and the
//! others are counted as duplicates.

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;

use arrow::array::{Array, AsArray, BooleanArray, RecordBatch};
use arrow::datatypes::DataType;
use arrow::error::ArrowError;

use super::{
    gather, in_canonical_order, size_runs, sorted_by_text, with_column, Deferred, TableDef,
};

/// The rows of `parts` (in delivery order) as one batch in `def`'s canonical order, keeping
/// the last delivery per value of the Utf8 column `key` (rows whose key is null are all
/// kept); returns it and how many rows were dropped. With `sources`, the parts' own
/// `source_file` is left empty and each part's rows take its entry (see [`Deferred`]).
///
/// Where the canonical order is the key alone, one stable sort does both jobs: the copies
/// of a key end up adjacent and in delivery order, so the last of each run is kept, and the
/// table is gathered once (no concatenation, no hash map). Other tables concatenate, keep
/// the last by key, then sort.
pub fn latest_in_canonical_order(
    mut parts: Vec<RecordBatch>,
    sources: Option<Vec<Arc<str>>>,
    def: &TableDef,
    key: &str,
) -> Result<(RecordBatch, usize), ArrowError> {
    let schema = def.schema();
    let index = schema.index_of(key)?;
    if def.order != [key] || schema.field(index).data_type() != &DataType::Utf8 {
        if let Some(sources) = &sources {
            for (part, source) in parts.iter_mut().zip(sources) {
                let labels = std::iter::repeat_n(&**source, part.num_rows());
                let labels = Arc::new(arrow::array::StringArray::from_iter_values(labels));
                *part = with_column(part, "source_file", labels)?;
            }
        }
        let all = arrow::compute::concat_batches(&schema, &parts)?;
        let (kept, dropped) = keep_last_by(&all, key)?;
        return Ok((in_canonical_order(&kept, def)?, dropped));
    }
    let (kept, dropped) = latest_by_text_key(&parts, index);
    let table = match sources {
        Some(sources) => Deferred {
            schema,
            parts,
            sources,
            positions: kept,
            parent_key: None,
        }
        .into_batch(|_| true)?,
        None => gather(parts, schema, &kept, |_| true)?,
    };
    Ok((table, dropped))
}

/// The `(part, row)` of the last delivery of each value of the Utf8 column `index` of
/// `parts`, in key order (rows with a null key all kept, first), and how many rows lost.
pub fn latest_by_text_key(parts: &[RecordBatch], index: usize) -> (Vec<(usize, usize)>, usize) {
    let keys: Vec<&arrow::array::StringArray> = parts
        .iter()
        .map(|p| p.column(index).as_string::<i32>())
        .collect();
    let key_at = |(p, r): (usize, usize)| keys[p].is_valid(r).then(|| keys[p].value(r));
    let sorted = sorted_by_text(
        keys.par_iter()
            .enumerate()
            .map(|(p, k)| (0..k.len()).map(move |r| (k.is_valid(r).then(|| k.value(r)), p, r))),
    );
    let rows = sorted.len();
    let mut kept = sorted;
    keep_last_of_runs(&mut kept, |&at| key_at(at));
    let dropped = rows - kept.len();
    (kept, dropped)
}

/// Keeps, of `sorted` rows (equal keys adjacent and in delivery order, as a stable sort
/// leaves them), the last of each run of equal keys: the latest delivery. Rows whose key is
/// `None` are all kept. Each row looks only at the next, so the rows are checked in
/// parallel (on one core, the key comparisons of a million dialogues held the other core
/// idle); the rows kept are then moved up in place, in one pass (collecting them anew
/// copied every row into lists and then into a new table).
pub fn keep_last_of_runs<T: Sync, K: PartialEq>(
    sorted: &mut Vec<T>,
    key: impl Fn(&T) -> Option<K> + Sync,
) {
    let rows = &sorted[..];
    let last: Vec<bool> = (0..rows.len())
        .into_par_iter()
        .map(|i| {
            let k = key(&rows[i]);
            k.is_none() || rows.get(i + 1).is_none_or(|next| key(next) != k)
        })
        .collect();
    // `retain` visits every row once, in order.
    let mut last = last.into_iter();
    sorted.retain(|_| last.next().unwrap_or(true));
}

/// Keeps the last row (the latest delivery) per value of the Utf8 column `key`; rows whose
/// key is null are all kept. Returns the rows kept, in delivery order, and how many were
/// dropped.
pub fn keep_last_by(batch: &RecordBatch, key: &str) -> Result<(RecordBatch, usize), ArrowError> {
    let index = batch.schema().index_of(key)?;
    let (kept, dropped) = latest_in_delivery_order(std::slice::from_ref(batch), index);
    if dropped == 0 {
        return Ok((batch.clone(), 0));
    }
    let mut keep = vec![false; batch.num_rows()];
    for (_, row) in kept {
        keep[row] = true;
    }
    let kept = arrow::compute::filter_record_batch(batch, &BooleanArray::from(keep))?;
    Ok((kept, dropped))
}

/// Hands a precomputed hash (the key of a deduplication's map) to the map unchanged.
#[derive(Default, Clone, Copy)]
pub struct PassThrough(u64);

impl std::hash::Hasher for PassThrough {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        // Not used by a `u64` key; a plain fold keeps the hasher correct for any other input.
        for &b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(b);
        }
    }
    fn write_u64(&mut self, v: u64) {
        self.0 = v;
    }
}

/// The `(part, row)` of the last delivery of each value of the Utf8 column `index` of
/// `parts`, in delivery order (rows with a null key all kept), and how many rows lost: the
/// order-free twin of [`latest_by_text_key`], for reads whose rows need no key order (the
/// queue KPIs aggregate nothing that depends on row order). Why: the sort by key and the
/// gather out of it were a quarter of an Anywhere365 metrics run; kept rows in delivery
/// order are runs of their parts, copied a run at a time (see [`Deferred`]).
///
/// Each key is hashed once, as its part is listed by shard; the maps are keyed by that hash
/// and compare the keys themselves only when hashes are equal. Distinct keys with equal
/// hashes go to a second map, keyed by the text.
pub fn latest_in_delivery_order(
    parts: &[RecordBatch],
    index: usize,
) -> (Vec<(usize, usize)>, usize) {
    use std::collections::hash_map::Entry;
    use std::hash::{BuildHasher, BuildHasherDefault};
    /// Shards of the keys, by the top bits of their hash, deduplicated in parallel.
    const SHARD_BITS: u32 = 6;
    let keys: Vec<&arrow::array::StringArray> = parts
        .iter()
        .map(|p| p.column(index).as_string::<i32>())
        .collect();
    let hasher = foldhash::fast::FixedState::with_seed(0x1a7e);
    // Parts listed in runs of at least 8,192 rows: one part per file, and a run of many
    // one-record files listed as one, not as many sets of shards (64 empty vectors a part
    // held 1.5 KB per file).
    let sizes: Vec<usize> = keys.iter().map(|k| k.len()).collect();
    let groups = size_runs(&sizes, 1 << 13);
    let shard = |h: u64| (h >> (64 - SHARD_BITS)) as usize;
    // Each group's keyed rows with their hash, shard after shard (each in delivery order),
    // and where each shard's rows start: two allocations a group. (A list per shard, 64 a
    // group, spent half of the deduplication's samples growing the heap: a 30-day queue
    // run is 1-2% faster this way.)
    /// A group's keyed rows as (hash, part, row), shard after shard, and where each starts.
    type Sharded = (Vec<(u64, u32, u32)>, Vec<usize>);
    let by_shard: Vec<Sharded> = groups
        .into_par_iter()
        .map(|group| {
            let rows: usize = group.clone().map(|p| sizes[p]).sum();
            let mut hashed = Vec::with_capacity(rows);
            let mut counts = [0usize; 1 << SHARD_BITS];
            for p in group {
                let k = keys[p];
                for r in (0..k.len()).filter(|&r| k.is_valid(r)) {
                    let h = hasher.hash_one(k.value(r));
                    counts[shard(h)] += 1;
                    hashed.push((h, p as u32, r as u32));
                }
            }
            let mut starts = Vec::with_capacity(counts.len() + 1);
            starts.push(0);
            for c in counts {
                starts.push(starts[starts.len() - 1] + c);
            }
            let mut next = starts.clone();
            let mut sorted = vec![(0u64, 0u32, 0u32); hashed.len()];
            for e in hashed {
                let s = shard(e.0);
                sorted[next[s]] = e;
                next[s] += 1;
            }
            (sorted, starts)
        })
        .collect();
    let key = |(p, r): (usize, usize)| keys[p].value(r);
    // Per shard, each key's latest row so far: the one it replaces is lost.
    let lost: Vec<Vec<(usize, usize)>> = (0..1 << SHARD_BITS)
        .into_par_iter()
        .map(|s| {
            let rows = by_shard.iter().map(|(_, at)| at[s + 1] - at[s]).sum();
            let mut latest: HashMap<u64, (usize, usize), BuildHasherDefault<PassThrough>> =
                HashMap::with_capacity_and_hasher(rows, Default::default());
            let mut others: HashMap<&str, (usize, usize)> = HashMap::new();
            let mut lost = Vec::new();
            for (sorted, at) in &by_shard {
                for &(h, p, r) in &sorted[at[s]..at[s + 1]] {
                    let at = (p as usize, r as usize);
                    match latest.entry(h) {
                        Entry::Vacant(v) => {
                            v.insert(at);
                        }
                        Entry::Occupied(mut o) if key(*o.get()) == key(at) => {
                            lost.push(o.insert(at));
                        }
                        Entry::Occupied(_) => lost.extend(others.insert(key(at), at)),
                    }
                }
            }
            lost
        })
        .collect();
    let mut lost = lost.concat();
    lost.par_sort_unstable();
    let dropped = lost.len();
    let rows: usize = keys.iter().map(|k| k.len()).sum();
    let mut kept = Vec::with_capacity(rows - dropped);
    let mut lost = lost.into_iter().peekable();
    for (p, k) in keys.iter().enumerate() {
        for r in 0..k.len() {
            if lost.next_if_eq(&(p, r)).is_none() {
                kept.push((p, r));
            }
        }
    }
    (kept, dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::ArrayRef;
    use arrow::datatypes::{Field, Schema};

    #[test]
    fn latest_deliveries_are_kept_in_delivery_order() {
        // Keys from a small set (many copies, within and across parts) and nulls, in parts
        // of uneven sizes (some empty); the reference: a walk keeping each key's last row.
        let mut x = 7u64;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        let names: Vec<String> = (0..40).map(|i| format!("dialogue-{i}")).collect();
        let parts: Vec<RecordBatch> = (0..9)
            .map(|p| {
                let n = [0, 1, 30, 300, 5][p % 5];
                let keys: Vec<Option<&str>> = (0..n)
                    .map(|_| match next() % 10 {
                        0 => None,
                        k => Some(names[(k * next() % 40) as usize].as_str()),
                    })
                    .collect();
                let schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Utf8, true)]));
                let keys = Arc::new(arrow::array::StringArray::from(keys)) as ArrayRef;
                RecordBatch::try_new(schema, vec![keys]).unwrap()
            })
            .collect();
        let mut last: HashMap<&str, (usize, usize)> = HashMap::new();
        let mut want = Vec::new();
        for (p, part) in parts.iter().enumerate() {
            for (r, k) in part.column(0).as_string::<i32>().iter().enumerate() {
                match k {
                    Some(k) => drop(last.insert(k, (p, r))),
                    None => want.push((p, r)),
                }
            }
        }
        want.extend(last.into_values());
        want.sort_unstable();
        let rows: usize = parts.iter().map(|p| p.num_rows()).sum();
        let (kept, dropped) = latest_in_delivery_order(&parts, 0);
        assert_eq!(kept, want);
        assert_eq!(dropped, rows - want.len());
        assert!(
            dropped > 100 && want.len() > 40,
            "copies and nulls both met"
        );
        // The same rows as the key-ordered read keeps, in another order.
        let (mut by_key, dropped_by_key) = latest_by_text_key(&parts, 0);
        by_key.sort_unstable();
        assert_eq!((by_key, dropped_by_key), (want, dropped));
        assert_eq!(latest_in_delivery_order(&[], 0), (vec![], 0));
    }
}
