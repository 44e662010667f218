//! The partitions a run keeps in memory between its batches instead of writing them.
//!
//! Why: a run reads its inbox in batches by export day (see `ingest::batches`), and a day's
//! export holds conversations that started a day or more before it, so each batch reaches
//! back into the newest partitions its predecessor staged. Written, read back, merged and
//! written again, those few partitions were 45% of a default ingest of 15 days of bot
//! exports (3.3 s against 1.8 s for one batch of everything). Held, a later batch merges
//! into the rows themselves and each partition is written once.
//!
//! Which: the days the next batch is expected to reach, from its first export day back as
//! far as any file so far reached behind the export day its name carries ([`Held::learn`]);
//! within a memory budget (the newest days first), the rest written at once. Files whose
//! names carry no day hold nothing, but for a file read in windows (`source::Window`): the
//! next window goes on where this one ended, so the week before its newest day is held
//! ([`Held::plan_after`]). Held partitions are written when a batch leaves them behind and
//! at the end of the run.
//!
//! Nothing here changes what is written: a held partition is exactly the batch its merge
//! produced, as the staged file would have read back. Each family's held partitions are
//! written after its last batch ([`Held::drain`]), and the run still commits once, after
//! them, so a crash loses nothing that was committed.

use std::collections::BTreeMap;

use arrow::array::{ArrayRef, RecordBatch};
use chrono::NaiveDate;

use super::LakeTable;
use crate::error::Result;

/// The most days a batch is taken to reach behind its first export day. Rows further back
/// mean the file names do not follow the data (a backfill named for the day it was taken):
/// holding every day back to them would keep a whole batch's partitions until they settle,
/// for merges that may never come.
const MAX_REACH_DAYS: i64 = 7;

/// A partition: its table and its `dt`.
type Key = (&'static str, String);

/// Merged partitions not written yet, within a memory budget.
#[derive(Default)]
pub(super) struct Held {
    budget: usize,
    parts: BTreeMap<Key, (&'static LakeTable, RecordBatch, usize)>,
    /// How many days before its first export day a batch reached, at most so far.
    reach: Option<i64>,
    /// The first day the batch being merged holds (see [`Held::plan`]).
    from: Option<NaiveDate>,
}

/// A merged partition to write: its table, its `dt` and its rows.
pub(super) type ToWrite = (&'static LakeTable, String, RecordBatch);

impl Held {
    /// Holds up to `budget` bytes of rows (0: nothing is held).
    pub(super) fn new(budget: usize) -> Held {
        Held {
            budget,
            ..Held::default()
        }
    }

    /// Learns how far behind the export day its name carries a file's rows went, from
    /// `files`: each file's export day and the earliest day of the partitions its rows went
    /// to. Per file, not per batch: a backfill's first export has nothing before it, yet its
    /// later files reach back into the days the batch began with.
    pub(super) fn learn(
        &mut self,
        files: impl IntoIterator<Item = (Option<NaiveDate>, Option<NaiveDate>)>,
    ) {
        for (named, earliest) in files {
            if let (Some(named), Some(earliest)) = (named, earliest) {
                let behind = (named - earliest).num_days().clamp(0, MAX_REACH_DAYS);
                self.reach = Some(self.reach.map_or(behind, |r| r.max(behind)));
            }
        }
    }

    /// Sets the days the batch being merged holds: from the next batch's first export day
    /// (`next`; `None`: this is the last batch, or its files carry no day) back by the reach.
    pub(super) fn plan(&mut self, next: Option<NaiveDate>) {
        self.from = match (next, self.reach) {
            (Some(next), Some(reach)) if self.budget > 0 => {
                next.checked_sub_days(chrono::Days::new(reach.unsigned_abs()))
            }
            _ => None,
        };
    }

    /// Sets the days the batch being merged holds when the next batch is the next window
    /// of the same file: the [`MAX_REACH_DAYS`] before the newest of the batch's partitions
    /// (`dts`), the newest first within the budget as always.
    pub(super) fn plan_after<'a>(&mut self, dts: impl IntoIterator<Item = &'a str>) {
        let newest = dts.into_iter().filter_map(day).max();
        self.from = newest
            .filter(|_| self.budget > 0)
            .and_then(|d| d.checked_sub_days(chrono::Days::new(MAX_REACH_DAYS.unsigned_abs())));
    }

    /// Whether the merge of partition `dt` should hand its rows back to be held (else it
    /// writes them at once).
    pub(super) fn wants(&self, dt: &str) -> bool {
        self.from
            .is_some_and(|from| day(dt).is_some_and(|d| d >= from))
    }

    /// The held rows of a partition, no longer held: the caller merges and settles them.
    pub(super) fn take(&mut self, table: &'static str, dt: &str) -> Option<RecordBatch> {
        self.parts
            .remove(&(table, dt.to_string()))
            .map(|(_, b, _)| b)
    }

    /// Settles a table's freshly merged partitions that [`Held::wants`] (`merged`) and those
    /// it held before: the ones of the days planned are kept, the newest first, while the
    /// whole hold fits the budget; the rest are returned to be written.
    pub(super) fn settle(
        &mut self,
        table: &'static LakeTable,
        merged: Vec<(String, RecordBatch)>,
    ) -> Result<Vec<ToWrite>> {
        let name = table.def.name;
        let mut candidates: Vec<(String, RecordBatch, Option<usize>)> =
            merged.into_iter().map(|(dt, b)| (dt, b, None)).collect();
        let mine: Vec<Key> = (self.parts.keys())
            .filter(|(t, _)| *t == name)
            .cloned()
            .collect();
        for key in mine {
            if let Some((_, b, size)) = self.parts.remove(&key) {
                candidates.push((key.1, b, Some(size)));
            }
        }
        // Newest first: a later batch reaches back into the last days, not the first.
        candidates.sort_by(|a, b| b.0.cmp(&a.0));
        let mut used: usize = self.parts.values().map(|(_, _, size)| size).sum();
        let mut out = Vec::new();
        let mut full = self.budget == 0;
        for (dt, batch, size) in candidates {
            if full || !self.wants(&dt) {
                out.push((table, dt, batch));
                continue;
            }
            // Held rows must not pin the batch's parsed chunks (views): copied into the
            // table's own types first, and measured as such.
            let (batch, size) = match size {
                Some(size) => (batch, size),
                None => {
                    let own = own_types(batch, table)?;
                    let size = own.get_array_memory_size();
                    (own, size)
                }
            };
            if used + size <= self.budget {
                used += size;
                self.parts.insert((name, dt), (table, batch, size));
            } else {
                full = true;
                out.push((table, dt, batch));
            }
        }
        Ok(out)
    }

    /// Every held partition, to be written: after a family's last batch (another family's
    /// files reach into other tables), whose reach is forgotten with them.
    pub(super) fn drain(&mut self) -> Vec<ToWrite> {
        (self.reach, self.from) = (None, None);
        std::mem::take(&mut self.parts)
            .into_iter()
            .map(|((_, dt), (table, batch, _))| (table, dt, batch))
            .collect()
    }
}

/// The day a partition name (`YYYY-MM-DD`) stands for; `None` for the null partition.
pub(super) fn day(dt: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(dt, "%Y-%m-%d").ok()
}

/// `batch` in the table's canonical types: text read as views (see `merge::merge_partition`)
/// copied into plain strings, so it holds only its own rows.
fn own_types(batch: RecordBatch, table: &LakeTable) -> Result<RecordBatch> {
    let schema = table.def.schema();
    if batch.schema().fields() == schema.fields() {
        return Ok(batch);
    }
    let columns = (batch.columns().iter().zip(schema.fields()))
        .map(|(c, f)| match c.data_type() == f.data_type() {
            true => Ok(c.clone()),
            false => arrow::compute::cast(c, f.data_type()),
        })
        .collect::<std::result::Result<Vec<ArrayRef>, _>>()?;
    Ok(RecordBatch::try_new(schema, columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Option<NaiveDate> {
        day(s)
    }

    fn bot() -> &'static LakeTable {
        &super::super::TABLES[0]
    }

    /// A partition of `n` rows of the bot table: "1" in every column that takes no null.
    fn rows(n: usize) -> RecordBatch {
        let schema = bot().def.schema();
        let columns = schema
            .fields()
            .iter()
            .map(|f| match f.is_nullable() {
                true => arrow::array::new_null_array(f.data_type(), n),
                false => arrow::compute::cast(
                    &arrow::array::StringArray::from(vec!["1"; n]),
                    f.data_type(),
                )
                .unwrap(),
            })
            .collect();
        RecordBatch::try_new(schema, columns).unwrap()
    }

    #[test]
    fn the_next_batch_reach_is_learned_from_the_files_so_far() {
        let mut h = Held::new(1 << 30);
        // Nothing learned yet: nothing held.
        h.plan(date("2024-03-29"));
        assert!(!h.wants("2024-03-28"));
        // A file of the 25th whose rows went back to the 22nd: a reach of 3 days (another
        // file's rows had nothing before its day; a file without a day teaches nothing).
        h.learn([
            (date("2024-03-24"), date("2024-03-24")),
            (date("2024-03-25"), date("2024-03-22")),
            (None, date("2024-03-01")),
            (date("2024-03-25"), None),
        ]);
        h.plan(date("2024-03-29"));
        assert!(!h.wants("2024-03-25"));
        assert!(h.wants("2024-03-26"));
        assert!(h.wants("2024-03-28"));
        assert!(
            !h.wants(super::super::NULL_PARTITION),
            "the null partition has no day"
        );
        // Rows far behind the names' days: the reach stops at a week.
        let mut far = Held::new(1 << 30);
        far.learn([(date("2024-12-01"), date("2022-01-01"))]);
        far.plan(date("2024-12-02"));
        assert!(far.wants("2024-11-25") && !far.wants("2024-11-24"));
        // A shorter reach later does not shrink it.
        h.learn([(date("2024-03-29"), date("2024-03-28"))]);
        h.plan(date("2024-04-02"));
        assert!(h.wants("2024-03-30") && !h.wants("2024-03-29"));
        // The last batch, or files without a day in their names: nothing held.
        h.plan(None);
        assert!(!h.wants("2024-04-01"));
        // No budget: nothing held.
        let mut none = Held::new(0);
        none.learn([(date("2024-03-25"), date("2024-03-22"))]);
        none.plan(date("2024-03-29"));
        assert!(!none.wants("2024-03-28"));
    }

    #[test]
    fn settling_keeps_the_newest_planned_days_within_the_budget() {
        let size = rows(1000).get_array_memory_size();
        let mut h = Held::new(2 * size + size / 2);
        h.learn([(date("2024-03-25"), date("2024-03-22"))]);
        h.plan(date("2024-03-26"));
        let merged = ["2024-03-22", "2024-03-23", "2024-03-24", "2024-03-25"]
            .into_iter()
            .map(|d| (d.to_string(), rows(1000)))
            .collect();
        let written: Vec<String> = (h.settle(bot(), merged).unwrap().into_iter())
            .map(|(_, dt, _)| dt)
            .collect();
        // The 22nd is before the plan; of the 23rd to 25th, two fit: the newest.
        assert_eq!(written, ["2024-03-23", "2024-03-22"]);
        assert_eq!(
            h.take("bot_conversations", "2024-03-25")
                .unwrap()
                .num_rows(),
            1000
        );
        // What a batch leaves behind is written when the table settles again.
        h.plan(date("2024-03-30"));
        let written: Vec<String> = (h.settle(bot(), Vec::new()).unwrap().into_iter())
            .map(|(_, dt, _)| dt)
            .collect();
        assert_eq!(written, ["2024-03-24"]);
        assert!(h.drain().is_empty());
    }
}
