//! The merge rule of one partition: its rows already in the lake (less those of files
//! delivered again with new content) and the run's new rows, deduplicated by the table's
//! key and order, children kept only with the parent copy they came with.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::TimestampMicrosecondType;
use arrow::row::{RowConverter, SortField};
use rayon::prelude::*;

use super::commit::Staging;
use super::parquet::{read_parquet, write_parquet};
use super::{partition_file, LakeTable, NULL_PARTITION};
use crate::error::Result;
use crate::table;
use crate::time::utc_date;

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    Ok(batch.column(batch.schema().index_of(name)?))
}

pub(super) fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    Ok(column(batch, name)?.as_string::<i32>())
}

/// The partition (`dt`) of every row, the UTC day of `times`, as an index into the
/// distinct partition names (one name per day rather than one string per row).
pub(super) fn days(times: &ArrayRef) -> Result<(Vec<String>, Vec<u32>)> {
    let t = times.as_primitive::<TimestampMicrosecondType>();
    let mut names = Vec::new();
    let mut index: HashMap<Option<i64>, u32, foldhash::fast::RandomState> = HashMap::default();
    // Rows come in canonical order, often by day: a row of the last row's day is not
    // looked up.
    let mut last = None;
    let rows = t
        .iter()
        .map(|v| {
            let day = v.map(|v| v.div_euclid(crate::time::DAY_US));
            match last {
                Some((d, i)) if d == day => i,
                _ => {
                    let i = *index.entry(day).or_insert_with(|| {
                        names.push(
                            v.map_or(NULL_PARTITION.to_string(), |v| utc_date(v).to_string()),
                        );
                        names.len() as u32 - 1
                    });
                    last = Some((day, i));
                    i
                }
            }
        })
        .collect();
    Ok((names, rows))
}

pub(super) fn filter(batch: &RecordBatch, keep: Vec<bool>) -> Result<RecordBatch> {
    Ok(arrow::compute::filter_record_batch(
        batch,
        &BooleanArray::from(keep),
    )?)
}

/// A partition's rows as they come to its merge: the partition as it was, then the
/// batch's new rows, each a batch of its own, numbered on from one part to the next.
///
/// Why not one concatenated batch: a merge into a partition an earlier batch left held
/// (see [`super::hold`]) copied all of its rows to concatenate them, then copied the kept
/// rows again in merge order, for the few thousand rows a later export brought: three
/// copies of the partition at once. The rule reads only the key, file and order columns
/// ([`Stack::narrow`]); the kept rows are then copied once, out of the parts
/// ([`Stack::gather`]). A default ingest of 30 days of bot exports peaked 7% lower (time
/// unchanged: the copy out of two parts costs what the concatenation saved).
struct Stack {
    parts: Vec<RecordBatch>,
}

impl Stack {
    fn num_rows(&self) -> usize {
        self.parts.iter().map(RecordBatch::num_rows).sum()
    }

    /// The columns `names` of every row, in order: the one part's own when there is one,
    /// else concatenated (narrow columns, not the rows).
    fn narrow(&self, t: &LakeTable, names: &[&str]) -> Result<RecordBatch> {
        let schema = t.def.schema();
        let mut fields = Vec::with_capacity(names.len());
        let mut columns = Vec::with_capacity(names.len());
        for &name in names {
            let pieces = (self.parts.iter())
                .map(|p| column(p, name))
                .collect::<Result<Vec<&ArrayRef>>>()?;
            let c = match pieces.as_slice() {
                [one] => Arc::clone(one),
                _ => {
                    arrow::compute::concat(&pieces.iter().map(|a| a.as_ref()).collect::<Vec<_>>())?
                }
            };
            let field = schema.field_with_name(name)?;
            fields.push(field.clone().with_data_type(c.data_type().clone()));
            columns.push(c);
        }
        Ok(RecordBatch::try_new(
            Arc::new(arrow::datatypes::Schema::new(fields)),
            columns,
        )?)
    }

    /// Every row, in order: the one part itself, or the parts concatenated.
    fn all(&self, t: &LakeTable) -> Result<RecordBatch> {
        Ok(match self.parts.as_slice() {
            [one] => one.clone(),
            _ => arrow::compute::concat_batches(&t.def.schema(), &self.parts)?,
        })
    }

    /// The rows at `rows` (indices across the parts), in that order, copied once; every row
    /// in order is the parts concatenated (or the one part itself), not gathered row by row.
    fn gather(&self, t: &LakeTable, rows: &[usize]) -> Result<RecordBatch> {
        if rows.len() == self.num_rows() && rows.iter().enumerate().all(|(k, &i)| k == i) {
            return self.all(t);
        }
        if let [one] = self.parts.as_slice() {
            let idx = arrow::array::UInt32Array::from_iter_values(rows.iter().map(|&i| i as u32));
            return Ok(arrow::compute::take_record_batch(one, &idx)?);
        }
        let starts: Vec<usize> = (self.parts.iter())
            .scan(0, |at, p| {
                let start = *at;
                *at += p.num_rows();
                Some(start)
            })
            .collect();
        let at: Vec<(usize, usize)> = (rows.iter())
            .map(|&i| {
                let p = starts.partition_point(|&s| s <= i) - 1;
                (p, i - starts[p])
            })
            .collect();
        let schema = t.def.schema();
        let columns = (0..schema.fields().len())
            .map(|c| {
                let pieces: Vec<&dyn Array> =
                    self.parts.iter().map(|p| p.column(c).as_ref()).collect();
                arrow::compute::interleave(&pieces, &at)
            })
            .collect::<std::result::Result<Vec<_>, _>>()?;
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

/// True when `key` is one text column whose values, all present, strictly increase: the
/// rows are then unique by key.
pub(super) fn strictly_increasing(batch: &RecordBatch, key: &[&str]) -> Result<bool> {
    let [key] = key else { return Ok(false) };
    let col = column(batch, key)?;
    let Some(k) = col.as_string_opt::<i32>() else {
        return Ok(false);
    };
    Ok(k.null_count() == 0 && (1..k.len()).all(|i| k.value(i - 1) < k.value(i)))
}

/// The rows [`keep_last`] kept.
pub(super) struct Deduped {
    /// The kept rows' indices in the input, in merge order.
    pub kept: Vec<usize>,
    /// Each row dropped with the row kept in its place (few: the copies delivered again).
    pub dropped: Vec<(usize, usize)>,
}

/// Keeps the last row per key: the latest by `order_by` (nulls first), then the latest
/// delivery (`ranks`: this run's files in delivery order; rows of earlier runs' files first).
/// The rows kept come out in `order_by` order, then as they came.
///
/// Delivery, not position, breaks ties: a run's batches go by export day (see
/// `ingest::batches`), so a partition staged by an earlier batch may hold a later delivery
/// than the batch merging into it.
///
/// `batch` needs only the key, `source_file` and `order_by` columns. Returns the rows kept
/// (see [`Deduped`]), which the caller copies.
pub(super) fn keep_last(
    batch: &RecordBatch,
    t: &LakeTable,
    ranks: &HashMap<String, u32>,
) -> Result<Deduped> {
    // The rows in merge order, as indices: the rows are copied once, by the caller, with
    // only the rows kept (a sorted copy and then a filtered one had been two copies of a
    // partition, the peak of a batch re-merging the partitions its predecessor staged).
    let mut order: Vec<usize> = (0..batch.num_rows()).collect();
    let times = match t.order_by {
        Some(c) => Some(column(batch, c)?.as_primitive::<TimestampMicrosecondType>()),
        None => None,
    };
    let time = |i: usize| times.and_then(|v| v.is_valid(i).then(|| v.value(i)));
    if times.is_some() {
        order.sort_by_key(|&i| (time(i), i));
    }
    // Each row's delivery rank; a file's rows are adjacent, so looked up once per run.
    let src = strings(batch, "source_file")?;
    let mut rank = Vec::with_capacity(batch.num_rows());
    let mut last_file: Option<(&str, u32)> = None;
    for i in 0..batch.num_rows() {
        let file = if src.is_valid(i) { src.value(i) } else { "" };
        let r = match last_file {
            Some((f, r)) if f == file => r,
            _ => ranks.get(file).copied().unwrap_or(0),
        };
        last_file = Some((file, r));
        rank.push(r);
    }
    // Where rows come in delivery order (a run of one batch), merge order is that order.
    let by_delivery = match rank.windows(2).all(|w| w[0] <= w[1]) {
        true => std::borrow::Cow::Borrowed(&order),
        false => {
            let mut o = order.clone();
            o.sort_by_key(|&i| (time(i), rank[i], i));
            std::borrow::Cow::Owned(o)
        }
    };
    let cols: Vec<ArrayRef> = t
        .key
        .iter()
        .map(|k| column(batch, k).cloned())
        .collect::<Result<_>>()?;
    let converter = RowConverter::new(
        cols.iter()
            .map(|c| SortField::new(c.data_type().clone()))
            .collect(),
    )?;
    let rows = converter.convert_columns(&cols)?;
    // The last row of each key in merge order.
    let mut last: HashMap<&[u8], usize, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(batch.num_rows(), Default::default());
    for &i in by_delivery.iter() {
        last.insert(rows.row(i).data(), i);
    }
    let mut keep = vec![false; order.len()];
    for &i in last.values() {
        keep[i] = true;
    }
    let kept: Vec<usize> = order.iter().copied().filter(|&i| keep[i]).collect();
    let dropped = (0..batch.num_rows())
        .filter(|&i| !keep[i])
        .filter_map(|i| last.get(rows.row(i).data()).map(|&by| (i, by)))
        .collect();
    Ok(Deduped { kept, dropped })
}

/// A table's new rows: gathered into one batch, or (a full Ultimate read, the bulk of most
/// runs) still in the reader's chunks, copied partition by partition as each is written.
pub(super) enum Incoming {
    Batch(RecordBatch),
    Deferred(table::Deferred),
}

impl Incoming {
    pub(super) fn num_rows(&self) -> usize {
        match self {
            Incoming::Batch(b) => b.num_rows(),
            Incoming::Deferred(d) => d.num_rows(),
        }
    }

    pub(super) fn column(&self, name: &str) -> Result<ArrayRef> {
        match self {
            Incoming::Batch(b) => column(b, name).cloned(),
            Incoming::Deferred(d) => Ok(d.column(name)?),
        }
    }

    pub(super) fn rows_per_source(
        &self,
    ) -> Result<HashMap<&str, u64, foldhash::fast::RandomState>> {
        let mut out: HashMap<&str, u64, foldhash::fast::RandomState> = HashMap::default();
        match self {
            Incoming::Batch(b) => {
                for s in strings(b, "source_file")?.iter().flatten() {
                    *out.entry(s).or_default() += 1;
                }
            }
            Incoming::Deferred(d) => out.extend(d.rows_per_source()),
        }
        Ok(out)
    }

    /// The rows at `rows` (distinct, ascending). A run of rows, as a reader delivering them
    /// in partition order gives, is a slice of a batch rather than a copy. Deferred rows
    /// come with the text columns named in `views` as views (see
    /// [`table::Deferred::rows_viewing`]).
    pub(super) fn rows(&self, rows: &[u32], views: &[&str]) -> Result<RecordBatch> {
        let run = match (rows.first(), rows.last()) {
            (Some(&a), Some(&b)) if b.checked_sub(a) == Some(rows.len() as u32 - 1) => {
                Some(a as usize..b as usize + 1)
            }
            _ => None,
        };
        Ok(match (self, run) {
            (Incoming::Batch(b), Some(run)) => b.slice(run.start, run.len()),
            (Incoming::Batch(b), None) => {
                let idx = arrow::array::UInt32Array::from(rows.to_vec());
                arrow::compute::take_record_batch(b, &idx)?
            }
            (Incoming::Deferred(d), Some(run)) => d.rows_viewing(&d.positions[run], views)?,
            (Incoming::Deferred(d), None) => {
                let at: Vec<(usize, usize)> =
                    rows.iter().map(|&r| d.positions[r as usize]).collect();
                d.rows_viewing(&at, views)?
            }
        })
    }
}

/// A parent table's partitions (`names`), and how its child rows find theirs.
pub(super) struct ParentDays {
    pub names: Vec<String>,
    pub rows: ParentRows,
}

pub(super) enum ParentRows {
    /// The parent's key column and each row's partition (an index into `names`).
    Keys(StringArray, Vec<u32>),
    /// A deferred parent, per part: each parsed row's partition (`u32::MAX`: not kept). A
    /// deferred child (see [`table::ParentKey`]) then finds its parent's partition by
    /// position: hashing 1.5M keys and looking up every intent's was a serial half second
    /// of an ingest.
    Positions(Vec<Vec<u32>>),
}

/// The partition of each row of a child table (an index into the names returned): its
/// parent's, or the null partition for an orphan.
pub(super) fn child_days(
    parent: Option<&ParentDays>,
    new: &Incoming,
    key: &str,
) -> Result<(Vec<String>, Vec<u32>)> {
    let mut names = parent.map_or_else(Vec::new, |p| p.names.clone());
    let null = names.len() as u32;
    names.push(NULL_PARTITION.to_string());
    let rows = match (parent.map(|p| &p.rows), new) {
        (
            Some(ParentRows::Positions(at)),
            Incoming::Deferred(table::Deferred {
                positions,
                parent_key: Some(k),
                ..
            }),
        ) => positions
            .par_iter()
            .map(|&(p, r)| {
                let dt = at[p][k.rows[p][r] as usize];
                if dt == u32::MAX {
                    null
                } else {
                    dt
                }
            })
            .collect(),
        (Some(ParentRows::Positions(_)), _) => {
            // A deferred parent's reader hands its children over deferred, with their
            // parent rows; anything else would orphan every child, so it is an error.
            return Err(arrow::error::ArrowError::InvalidArgumentError(
                "a child of a deferred table must be deferred with its parent rows".into(),
            )
            .into());
        }
        (parent, new) => {
            let parent_of: HashMap<&str, u32, foldhash::fast::RandomState> = match parent {
                Some(ParentRows::Keys(keys, dts)) => keys
                    .iter()
                    .zip(dts)
                    .filter_map(|(k, d)| k.map(|k| (k, *d)))
                    .collect(),
                _ => HashMap::default(),
            };
            new.column(key)?
                .as_string::<i32>()
                .iter()
                .map(|k| k.and_then(|k| parent_of.get(k).copied()).unwrap_or(null))
                .collect()
        }
    };
    Ok((names, rows))
}

/// What every partition merge of one table shares.
pub(super) struct MergeContext<'a> {
    pub root: &'a Path,
    pub table: &'a LakeTable,
    pub new: &'a Incoming,
    pub by_dt: &'a BTreeMap<String, Vec<u32>>,
    /// Files of this batch that the lake already holds with other content: their old rows
    /// leave. Only this batch's: a file another batch of the run re-read has its new rows
    /// in the staged partitions, which must stay.
    pub replaced: &'a HashSet<String>,
    /// This run's files in delivery order (see `ingest::delivery_ranks`); rows of files of
    /// earlier runs rank before them all.
    pub ranks: &'a HashMap<String, u32>,
    pub kept_parents: &'a HashMap<(&'static str, String), KeptRows>,
    /// What the run staged so far: a partition an earlier batch wrote merges with that copy.
    pub staging: &'a Staging,
}

/// One rewritten partition.
pub(super) struct Merged {
    pub dt: String,
    /// The partition file, relative to the lake root.
    pub rel: String,
    pub rows: usize,
    /// The source files of the rows kept.
    pub sources: HashSet<String>,
    /// For parent tables: the (key, source_file) pairs kept.
    pub kept: Option<KeptRows>,
    /// The merged rows, until written (see [`super::hold`]).
    pub batch: Option<RecordBatch>,
    /// Rows an earlier window of a file read that a later window of the same file
    /// delivered again, by file: the read counted them twice (see [`count_by_file`]).
    pub read_again: HashMap<String, u64>,
}

/// Rows of the partition as it was that a merge dropped for a copy the merging batch
/// brought from the same file, counted by file: a record an export delivered twice, met
/// across two windows of that file (within one read, its reader kept one copy), which the
/// read counted twice. Subtracted, a file's rows read are the same whatever windows it
/// was read in.
fn count_by_file(src: &StringArray, rows: impl Iterator<Item = usize>) -> HashMap<String, u64> {
    let mut by_file: HashMap<&str, u64> = HashMap::new();
    for i in rows.filter(|&i| src.is_valid(i)) {
        *by_file.entry(src.value(i)).or_default() += 1;
    }
    (by_file.into_iter())
        .map(|(file, n)| (file.to_string(), n))
        .collect()
}

/// The key and `source_file` columns of a parent partition's rows after its merge, and
/// which of them the merging batch brought: its children keep only the rows of these
/// (key, file, new) triples, a child row being new when its batch brought it too.
///
/// Why the side: two copies of a record from one file meet in a merge when the file is
/// read in windows (`source::Window`) and holds the record twice; by (key, file) alone the
/// children of both copies matched the kept one.
///
/// The files are kept as an index per row into their distinct paths: a path on every row
/// of every partition, held until the children are merged, was a tenth of an ingest's peak.
pub(super) struct KeptRows {
    keys: StringArray,
    files: FileIndex,
    /// Per row: it came with the merging batch (not from the partition as it was).
    new: Vec<bool>,
    /// The partition is new and kept every new row: it holds exactly this read's rows.
    only_new: bool,
}

impl KeptRows {
    fn triples(&self) -> HashSet<(&str, &str, bool), foldhash::fast::RandomState> {
        (0..self.keys.len())
            .filter(|&i| self.keys.is_valid(i))
            .map(|i| {
                let path = self.files.paths[self.files.rows[i] as usize].as_deref();
                (self.keys.value(i), path.unwrap_or_default(), self.new[i])
            })
            .collect()
    }
}

/// The `source_file` of every row as an index into the distinct paths (`None`: null).
pub(super) struct FileIndex {
    rows: Vec<u32>,
    paths: Vec<Option<String>>,
}

impl FileIndex {
    fn new(src: &StringArray) -> FileIndex {
        let mut paths = Vec::new();
        let mut index: HashMap<Option<&str>, u32, foldhash::fast::RandomState> = HashMap::default();
        let mut rows = Vec::with_capacity(src.len());
        // Rows come in runs of one file: look a path up only where the run changes.
        let mut previous: Option<(Option<&str>, u32)> = None;
        for s in src.iter() {
            let id = match previous {
                Some((p, id)) if p == s => id,
                _ => *index.entry(s).or_insert_with(|| {
                    paths.push(s.map(str::to_string));
                    paths.len() as u32 - 1
                }),
            };
            previous = Some((s, id));
            rows.push(id);
        }
        FileIndex { rows, paths }
    }
}

/// Merges a partition: its current rows (`held` by the run, else this run's staged copy,
/// else the lake's; less those of replaced files) and the new ones, deduplicated by the
/// table's rule. The rows are returned, not written: the caller holds or writes them (see
/// [`super::hold`]); an empty result is the caller's to record (see [`Staging::emptied`]).
pub(super) fn merge_partition(
    c: &MergeContext<'_>,
    dt: String,
    held: Option<RecordBatch>,
) -> Result<Merged> {
    let t = c.table;
    let name = t.def.name;
    let rel = partition_file(name, &dt);
    let old = match held {
        Some(held) => Some(held),
        None => (c.staging.current(c.root, &rel))
            .map(|path| read_parquet(&path, t.def))
            .transpose()?,
    };
    let existing = old.is_some();
    let mut parts = Vec::new();
    if let Some(old) = old {
        let src = strings(&old, "source_file")?;
        let keep: Vec<bool> = (0..old.num_rows())
            .map(|i| src.is_null(i) || !c.replaced.contains(src.value(i)))
            .collect();
        // Most merges replace no file: no copy then.
        parts.push(match keep.iter().all(|&k| k) {
            true => old,
            false => filter(&old, keep)?,
        });
    }
    // A new partition's heavy text goes to the writer as views of the parsed strings;
    // merged with an existing file's rows it is copied, as the concatenation needs one type.
    let views: Vec<&str> = match parts.is_empty() {
        true => t
            .def
            .columns
            .iter()
            .filter(|c| c.heavy && c.kind == table::Kind::Utf8)
            .map(|c| c.name)
            .collect(),
        false => Vec::new(),
    };
    let new_rows = match c.by_dt.get(&dt) {
        Some(rows) => {
            parts.push(c.new.rows(rows, &views)?);
            rows.len()
        }
        None => 0,
    };
    let rows = Stack { parts };
    // The rows of the partition as it was come first; the batch's from here.
    let first_new = rows.num_rows() - new_rows;
    // Of a parent table, which rows kept are the batch's (see [`KeptRows`]).
    let mut kept_new: Option<Vec<bool>> = None;
    let mut read_again = HashMap::new();
    let merged = match t.parent {
        None if t.key.is_empty() => rows.all(t)?,
        // Only new rows, already deduplicated and in key order by the reader: nothing to
        // drop (checked: keys strictly increasing), so skip the sort, hash and copies.
        None if !existing && strictly_increasing(&rows.narrow(t, t.key)?, t.key)? => rows.all(t)?,
        None => {
            let mut names = t.key.to_vec();
            names.extend(t.order_by);
            names.push("source_file");
            let narrow = rows.narrow(t, &names)?;
            let Deduped { kept, dropped } = keep_last(&narrow, t, c.ranks)?;
            let merged = rows.gather(t, &kept)?;
            kept_new = Some(kept.into_iter().map(|i| i >= first_new).collect());
            let src = strings(&narrow, "source_file")?;
            let same_file = (dropped.into_iter())
                .filter(|&(i, by)| i < first_new && by >= first_new)
                .filter(|&(i, by)| src.is_valid(by) && src.value(i) == src.value(by));
            read_again = count_by_file(src, same_file.map(|(i, _)| i));
            merged
        }
        // Children read with their parents (deferred: only the children of the copies the
        // read kept) into a partition new on both sides: the check below would keep every
        // row, after hashing each one's (key, file) pair.
        Some((parent, _))
            if !existing
                && matches!(c.new, Incoming::Deferred(_))
                && c.kept_parents
                    .get(&(parent, dt.clone()))
                    .is_some_and(|k| k.only_new) =>
        {
            rows.all(t)?
        }
        Some((parent, key)) => {
            let kept = c
                .kept_parents
                .get(&(parent, dt.clone()))
                .map(KeptRows::triples);
            let narrow = rows.narrow(t, &[key, "source_file"])?;
            let keys = strings(&narrow, key)?;
            let src = strings(&narrow, "source_file")?;
            let keep: Vec<bool> = (0..narrow.num_rows())
                .map(|i| {
                    kept.as_ref().is_some_and(|k| {
                        keys.is_valid(i)
                            && k.contains(&(keys.value(i), src.value(i), i >= first_new))
                    })
                })
                .collect();
            // An old row dropped whose parent the batch brought again from its file.
            let same_file = (0..first_new).filter(|&i| {
                !keep[i]
                    && keys.is_valid(i)
                    && (kept.as_ref())
                        .is_some_and(|k| k.contains(&(keys.value(i), src.value(i), true)))
            });
            read_again = count_by_file(src, same_file);
            let kept: Vec<usize> = (0..keep.len()).filter(|&i| keep[i]).collect();
            rows.gather(t, &kept)?
        }
    };
    let files = FileIndex::new(strings(&merged, "source_file")?);
    let sources = files.paths.iter().flatten().cloned().collect();
    let kept = (t.parent.is_none() && !t.key.is_empty())
        .then(|| -> Result<KeptRows> {
            Ok(KeptRows {
                keys: strings(&merged, t.key[0])?.clone(),
                files,
                new: kept_new
                    .unwrap_or_else(|| (0..merged.num_rows()).map(|i| i >= first_new).collect()),
                only_new: !existing && merged.num_rows() == new_rows,
            })
        })
        .transpose()?;
    Ok(Merged {
        dt,
        rel,
        rows: merged.num_rows(),
        sources,
        kept,
        batch: Some(merged),
        read_again,
    })
}

/// Writes a merged partition to the run's staging (over this run's staged copy, if any: a
/// merge read it whole).
pub(super) fn write_partition(
    root: &Path,
    staging: &Staging,
    run_id: &str,
    t: &LakeTable,
    dt: &str,
    rows: &RecordBatch,
) -> Result<()> {
    let staged = root.join(staging.path_for(&partition_file(t.def.name, dt)));
    write_parquet(&staged, rows, run_id, t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    /// Two parts of (name, source_file), the file left empty in the parts.
    fn deferred(positions: Vec<(usize, usize)>) -> table::Deferred {
        let schema = Arc::new(arrow::datatypes::Schema::new(vec![
            arrow::datatypes::Field::new("name", arrow::datatypes::DataType::Utf8, true),
            arrow::datatypes::Field::new("source_file", arrow::datatypes::DataType::Utf8, true),
        ]));
        let part = |names: Vec<&str>| {
            let empty = vec![""; names.len()];
            RecordBatch::try_new(
                schema.clone(),
                vec![
                    Arc::new(StringArray::from(names)),
                    Arc::new(StringArray::from(empty)),
                ],
            )
            .unwrap()
        };
        table::Deferred {
            schema: schema.clone(),
            parts: vec![part(vec!["a", "b"]), part(vec!["c", "d"])],
            sources: vec!["x.json".into(), "y.json".into()],
            positions,
            parent_key: None,
        }
    }

    fn texts(b: &RecordBatch, column: usize) -> Vec<&str> {
        let s = b.column(column).as_string::<i32>();
        (0..s.len()).map(|i| s.value(i)).collect()
    }

    /// Rows of `bot_conversations` with ids `ids`, every other column null but the file.
    fn conversations(ids: &[&str], file: &str) -> RecordBatch {
        let t = crate::lake::lake_table("bot_conversations").unwrap();
        let schema = t.def.schema();
        let columns = (schema.fields().iter())
            .map(|f| match f.name().as_str() {
                "conversation_id" => Arc::new(StringArray::from(ids.to_vec())) as ArrayRef,
                "source_file" => Arc::new(StringArray::from(vec![file; ids.len()])),
                // Counts are never null: the row's position, in the column's type.
                _ if !f.is_nullable() => {
                    let at = arrow::array::Int64Array::from_iter_values(0..ids.len() as i64);
                    arrow::compute::cast(&at, f.data_type()).unwrap()
                }
                _ => arrow::array::new_null_array(f.data_type(), ids.len()),
            })
            .collect();
        RecordBatch::try_new(schema, columns).unwrap()
    }

    #[test]
    fn a_stack_gathers_across_its_parts_as_the_concatenation_would() {
        let t = crate::lake::lake_table("bot_conversations").unwrap();
        let (old, new) = (
            conversations(&["a", "b", "c"], "x"),
            conversations(&["d", "e"], "y"),
        );
        let stack = Stack {
            parts: vec![old.clone(), new.clone()],
        };
        assert_eq!(stack.num_rows(), 5);
        let narrow = stack
            .narrow(t, &["conversation_id", "source_file"])
            .unwrap();
        assert_eq!(texts(&narrow, 0), ["a", "b", "c", "d", "e"]);
        assert_eq!(texts(&narrow, 1), ["x", "x", "x", "y", "y"]);
        let order = [4, 0, 2, 3];
        let gathered = stack.gather(t, &order).unwrap();
        let whole = arrow::compute::concat_batches(&t.def.schema(), &[old, new]).unwrap();
        let idx = arrow::array::UInt32Array::from(vec![4, 0, 2, 3]);
        assert_eq!(
            gathered,
            arrow::compute::take_record_batch(&whole, &idx).unwrap()
        );
        let id = gathered.schema().index_of("conversation_id").unwrap();
        assert_eq!(texts(&gathered, id), ["e", "a", "c", "d"]);
        assert_eq!(stack.all(t).unwrap(), whole);
        // One part: its rows taken, or the part itself.
        let one = Stack {
            parts: vec![whole.clone()],
        };
        assert_eq!(
            texts(&one.gather(t, &order).unwrap(), id),
            ["e", "a", "c", "d"]
        );
        assert_eq!(one.all(t).unwrap(), whole);
    }

    #[test]
    fn incoming_rows_are_sliced_or_copied_alike() {
        let batch = RecordBatch::try_new(
            deferred(vec![]).schema,
            vec![
                Arc::new(StringArray::from(vec!["d", "a", "c", "b"])),
                Arc::new(StringArray::from(vec!["y", "x", "y", "x"])),
            ],
        )
        .unwrap();
        let gathered = Incoming::Batch(batch);
        let deferred = Incoming::Deferred(deferred(vec![(1, 1), (0, 0), (1, 0), (0, 1)]));
        assert_eq!(deferred.num_rows(), 4);
        // A run of rows, then rows with a gap (a take rather than a slice).
        let run = deferred.rows(&[1, 2], &[]).unwrap();
        assert_eq!(texts(&run, 0), ["a", "c"]);
        assert_eq!(texts(&run, 1), ["x.json", "y.json"]);
        let gap = deferred.rows(&[0, 3], &[]).unwrap();
        assert_eq!(texts(&gap, 0), ["d", "b"]);
        assert_eq!(texts(&gap, 1), ["y.json", "x.json"]);
        assert_eq!(texts(&gathered.rows(&[1, 2], &[]).unwrap(), 0), ["a", "c"]);
        assert_eq!(texts(&gathered.rows(&[0, 3], &[]).unwrap(), 0), ["d", "b"]);
        let per_file = deferred.rows_per_source().unwrap();
        assert_eq!((per_file["x.json"], per_file["y.json"]), (2, 2));
        let per_file = gathered.rows_per_source().unwrap();
        assert_eq!((per_file["x"], per_file["y"]), (2, 2));
    }

    #[test]
    fn a_deferred_child_finds_its_parents_partition_by_position_as_by_key() {
        // Parent parts ["a", "b"] and ["c", "d"]; "b" lost to a later copy. Kept in the
        // order d, a, c, with partitions 2, 0, 1.
        let parent = deferred(vec![(1, 1), (0, 0), (1, 0)]);
        let names: Vec<String> = ["d0", "d1", "d2"].map(String::from).to_vec();
        let dts = vec![2, 0, 1];
        let mut at: Vec<Vec<u32>> = vec![vec![u32::MAX; 2]; 2];
        for (&(p, r), &dt) in parent.positions.iter().zip(&dts) {
            at[p][r] = dt;
        }
        let keys = Incoming::Deferred(parent).column("name").unwrap();
        let by_key = ParentDays {
            names: names.clone(),
            rows: ParentRows::Keys(keys.as_string::<i32>().clone(), dts),
        };
        let by_position = ParentDays {
            names,
            rows: ParentRows::Positions(at),
        };
        // Children of a, a, b (part 0) and d, c (part 1); the one of "b" is an orphan.
        let child = || {
            let mut d = deferred(vec![(0, 0), (0, 1), (1, 0), (1, 1), (0, 2)]);
            d.parts[0] = RecordBatch::try_new(
                d.schema.clone(),
                vec![
                    Arc::new(StringArray::from(vec!["", "", ""])),
                    Arc::new(StringArray::from(vec!["", "", ""])),
                ],
            )
            .unwrap();
            d.parent_key = Some(table::ParentKey {
                column: "name",
                keys: vec![
                    StringArray::from(vec!["a", "b"]),
                    StringArray::from(vec!["c", "d"]),
                ],
                rows: vec![vec![0, 0, 1], vec![1, 0]],
            });
            Incoming::Deferred(d)
        };
        let (n1, rows1) = child_days(Some(&by_position), &child(), "name").unwrap();
        let (n2, rows2) = child_days(Some(&by_key), &child(), "name").unwrap();
        assert_eq!(rows1, [0, 0, 2, 1, 3]);
        assert_eq!((n1.clone(), rows1), (n2, rows2));
        assert_eq!(n1[3], NULL_PARTITION);
        // Without a parent, every child is an orphan.
        let (n, rows) = child_days(None, &child(), "name").unwrap();
        assert_eq!((n.len(), rows), (1, vec![0; 5]));
        // A deferred parent's child that cannot be found by position is an error, not a
        // table of orphans.
        let mut gathered = child();
        if let Incoming::Deferred(d) = &mut gathered {
            d.parent_key = None;
        }
        assert!(child_days(Some(&by_position), &gathered, "name").is_err());
    }

    #[test]
    fn a_file_index_keeps_every_rows_file_and_the_distinct_ones() {
        let src = StringArray::from(vec![Some("x"), Some("x"), None, Some("y"), Some("x")]);
        let f = FileIndex::new(&src);
        let per_row: Vec<Option<&str>> = f
            .rows
            .iter()
            .map(|&i| f.paths[i as usize].as_deref())
            .collect();
        assert_eq!(per_row, [Some("x"), Some("x"), None, Some("y"), Some("x")]);
        assert_eq!(f.paths.len(), 3);
    }
}
