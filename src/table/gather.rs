//! Putting the parsed parts of a table together: rows ordered (by a text key, within
//! groups, or by the table's canonical order) by one parallel sort of `(part, row)`
//! positions, then copied out one column per task ([`gather`], [`Deferred`]); parts
//! concatenated ([`concat`], [`coalesce`]).

use std::collections::HashMap;
use std::sync::Arc;

use rayon::prelude::*;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringBuilder, StringViewArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::error::ArrowError;

use super::{with_column, TableDef};

/// `batch` in the table's canonical order (see [`TableDef::order`]).
pub fn in_canonical_order(batch: &RecordBatch, def: &TableDef) -> Result<RecordBatch, ArrowError> {
    if batch.num_rows() < 2 {
        return Ok(batch.clone());
    }
    concat_in_canonical_order(std::slice::from_ref(batch), def)
}

/// The rows of `parts` (one schema) as one batch in the table's canonical order, gathered
/// once per column in parallel (no intermediate concatenation). A single text key, the
/// common case, is sorted in parallel on borrowed strings; other keys with Arrow's lexsort.
pub fn concat_in_canonical_order(
    parts: &[RecordBatch],
    def: &TableDef,
) -> Result<RecordBatch, ArrowError> {
    let schema = match parts.first() {
        Some(p) => p.schema(),
        None => return Ok(RecordBatch::new_empty(def.schema())),
    };
    let key_of = |p: &RecordBatch, c: &str| -> Result<ArrayRef, ArrowError> {
        Ok(p.column(p.schema().index_of(c)?).clone())
    };
    let positions: Vec<(usize, usize)> = match def.order {
        [key] if schema.field_with_name(key)?.data_type() == &DataType::Utf8 => {
            let keys = parts
                .iter()
                .map(|p| key_of(p, key))
                .collect::<Result<Vec<_>, _>>()?;
            sorted_by_text(keys.par_iter().enumerate().map(|(i, k)| {
                let k = k.as_string::<i32>();
                (0..k.len()).map(move |r| (k.is_valid(r).then(|| k.value(r)), i, r))
            }))
        }
        order => {
            let starts: Vec<usize> = parts
                .iter()
                .scan(0, |n, p| {
                    let s = *n;
                    *n += p.num_rows();
                    Some(s)
                })
                .collect();
            let columns = order
                .iter()
                .map(|c| {
                    let pieces = parts
                        .iter()
                        .map(|p| key_of(p, c))
                        .collect::<Result<Vec<_>, _>>()?;
                    let refs: Vec<&dyn Array> = pieces.iter().map(|a| a.as_ref()).collect();
                    Ok(arrow::compute::SortColumn {
                        values: arrow::compute::concat(&refs)?,
                        options: None,
                    })
                })
                .collect::<Result<Vec<_>, ArrowError>>()?;
            arrow::compute::lexsort_to_indices(&columns, None)?
                .values()
                .iter()
                .map(|&g| {
                    let g = g as usize;
                    let i = starts.partition_point(|&s| s <= g) - 1;
                    (i, g - starts[i])
                })
                .collect()
        }
    };
    gather(parts.to_vec(), schema, &positions, |_| true)
}

/// The `(part, row)` positions of `rows` ordered by their text key (nulls first, then byte
/// order, as Arrow sorts strings; ties in `(part, row)` order, which is the input order of
/// every caller). Sorts in parallel, and compares the first 16 bytes of each key as one
/// integer before the whole strings.
pub fn sorted_by_text<'a, I>(parts: impl IndexedParallelIterator<Item = I>) -> Vec<(usize, usize)>
where
    I: Iterator<Item = (Option<&'a str>, usize, usize)> + Send,
{
    sorted_by_group_and_text(parts.map(|rows| rows.map(|(k, i, r)| (None, k, i, r))))
}

/// The first 16 bytes of `k` as two integers that order as the bytes do (zero-padded): a
/// sort compares them before the whole strings, which then rarely need to be read.
fn text_prefix(k: &str) -> (u64, u64) {
    let mut b = [0u8; 16];
    let n = k.len().min(16);
    b[..n].copy_from_slice(&k.as_bytes()[..n]);
    let word = |w: &[u8]| u64::from_be_bytes(w.try_into().unwrap_or_default());
    (word(&b[..8]), word(&b[8..]))
}

/// A row's sort key in [`sorted_by_group_and_text`]: compared by group, the key's prefix,
/// then the whole key text, then position. 64 bytes, where the group, the key's prefix and
/// text and the position as nested tuples were 80: the sort moves every element many times,
/// and it was a tenth of an ingest.
#[derive(Clone, Copy)]
struct SortKey<'a> {
    has_group: bool,
    group: i64,
    has_key: bool,
    prefix: (u64, u64),
    text: &'a str,
    at: (usize, usize),
}

/// [`sorted_by_text`] within groups: by group (nulls first), then text key. The input
/// order does not matter: ties are broken by position, which is unique. `parts` yields
/// each part's rows (a chunk's, a partition's).
///
/// Each part's keys are put in group order on their own, parts in parallel; then each group
/// gathers its runs from every part and is sorted on its own, groups in parallel. Groups
/// are days in an ingest: a day's rows fit the cache where one sort of the whole history
/// moved every row through memory twenty times over, and it was a tenth of an ingest. One
/// counting pass and scatter over all rows, the way before, kept one core waiting.
pub fn sorted_by_group_and_text<'a, I>(
    parts: impl IndexedParallelIterator<Item = I>,
) -> Vec<(usize, usize)>
where
    I: Iterator<Item = (Option<i64>, Option<&'a str>, usize, usize)>,
{
    let group = |k: &SortKey| (k.has_group, k.group);
    let parts: Vec<Vec<SortKey>> = parts
        .map(|rows| {
            let mut keys: Vec<SortKey> = rows
                .map(|(g, k, i, r)| SortKey {
                    has_group: g.is_some(),
                    group: g.unwrap_or(0),
                    has_key: k.is_some(),
                    prefix: k.map_or((0, 0), text_prefix),
                    text: k.unwrap_or(""),
                    at: (i, r),
                })
                .collect();
            // Usually one group per part (a file holds a day): already in order, one pass.
            keys.sort_unstable_by_key(group);
            keys
        })
        .collect();
    let mut groups: Vec<((bool, i64), usize)> = Vec::new();
    for p in &parts {
        for run in p.chunk_by(|a, b| group(a) == group(b)) {
            groups.push((group(&run[0]), run.len()));
        }
    }
    groups.sort_unstable_by_key(|&(g, _)| g);
    groups.dedup_by(|b, a| {
        let same = a.0 == b.0;
        if same {
            a.1 += b.1;
        }
        same
    });
    let order = |a: &SortKey, b: &SortKey| {
        (a.has_key, a.prefix)
            .cmp(&(b.has_key, b.prefix))
            .then_with(|| a.text.cmp(b.text))
            .then(a.at.cmp(&b.at))
    };
    // Unstable, but ties are broken by position, so the result is a stable sort's without
    // a merge sort's copying. A group much larger than the rest (one day, or no groups at
    // all) is itself sorted in parallel.
    let sort = |mut keys: Vec<SortKey>| -> Vec<(usize, usize)> {
        if keys.len() >= 1 << 16 {
            keys.par_sort_unstable_by(order);
            keys.par_iter().map(|k| k.at).collect()
        } else {
            keys.sort_unstable_by(order);
            keys.iter().map(|k| k.at).collect()
        }
    };
    if let [(_, n)] = groups[..] {
        let mut keys = Vec::with_capacity(n);
        for p in parts {
            keys.extend_from_slice(&p);
        }
        return sort(keys);
    }
    groups
        .par_iter()
        .map(|&(g, n)| {
            let mut keys = Vec::with_capacity(n);
            for p in &parts {
                let from = p.partition_point(|k| group(k) < g);
                let to = from + p[from..].partition_point(|k| group(k) == g);
                keys.extend_from_slice(&p[from..to]);
            }
            sort(keys)
        })
        .collect::<Vec<_>>()
        .concat()
}

/// The rows at `(part, row)` positions of `parts`, in that order, as one batch; one column
/// per task. Nullable columns `wanted` rejects come out all null without being gathered
/// (for reads that left them null anyway). Positions taking every row in order (a read
/// with no duplicates to drop) are concatenated instead, a copy per piece rather than per
/// row.
///
/// The parts are taken by value and each column's pieces are freed as soon as that column
/// is built, so the peak holds the parts plus the columns in flight, not two copies of the
/// table (unless the caller keeps other references to the parts).
pub fn gather(
    parts: Vec<RecordBatch>,
    schema: SchemaRef,
    positions: &[(usize, usize)],
    wanted: impl Fn(&str) -> bool + Sync,
) -> Result<RecordBatch, ArrowError> {
    if positions.is_empty() {
        return Ok(RecordBatch::new_empty(schema));
    }
    let rows = parts.iter().map(|p| p.num_rows());
    let every_row_in_order = positions.len() == rows.clone().sum::<usize>()
        && rows
            .enumerate()
            .flat_map(|(p, n)| (0..n).map(move |r| (p, r)))
            .eq(positions.iter().copied());
    let positions = (!every_row_in_order).then_some(positions);
    build_columns(parts, schema, positions, wanted)
}

/// `parts` (one schema) as one batch, one column per task, freeing each column's pieces as
/// it goes (see [`gather`]).
pub fn concat(schema: SchemaRef, mut parts: Vec<RecordBatch>) -> Result<RecordBatch, ArrowError> {
    match parts.len() {
        0 => Ok(RecordBatch::new_empty(schema)),
        1 => Ok(parts.swap_remove(0)),
        _ => build_columns(parts, schema, None, |_| true),
    }
}

/// `parts` (one schema) with each run of consecutive small ones concatenated into a batch
/// of at least `rows` rows (or what is left); parts of `rows` or more are kept as they are,
/// not copied (see [`size_runs`]).
///
/// Why: a metrics-only read hands its chunks on uncopied, one per file at least, and each
/// becomes a chunk of every polars column. Read from exports of one record per file (as
/// webhook dumps are), 20,000 of them made 20,000 chunks, and polars' per-chunk work took
/// a hundred times the time of the same records in one file.
pub fn coalesce(parts: Vec<RecordBatch>, rows: usize) -> Result<Vec<RecordBatch>, ArrowError> {
    let sizes: Vec<usize> = parts.iter().map(RecordBatch::num_rows).collect();
    let runs = size_runs(&sizes, rows);
    let Some(schema) = parts.first().map(RecordBatch::schema) else {
        return Ok(parts);
    };
    if runs.len() == parts.len() {
        return Ok(parts);
    }
    let mut parts = parts.into_iter();
    // A run of one part is that part, uncopied (see `concat`).
    (runs.into_iter())
        .map(|run| concat(schema.clone(), parts.by_ref().take(run.len()).collect()))
        .collect()
}

/// The indices of `sizes` in runs: an item of `rows` or more alone, consecutive smaller
/// ones together until they reach `rows` (the last run may be short).
pub fn size_runs(sizes: &[usize], rows: usize) -> Vec<std::ops::Range<usize>> {
    let mut out = Vec::new();
    let (mut first, mut total) = (0, 0);
    for (i, &n) in sizes.iter().enumerate() {
        if n >= rows {
            if first < i {
                out.push(first..i);
            }
            out.push(i..i + 1);
            (first, total) = (i + 1, 0);
            continue;
        }
        total += n;
        if total >= rows {
            out.push(first..i + 1);
            (first, total) = (i + 1, 0);
        }
    }
    if first < sizes.len() {
        out.push(first..sizes.len());
    }
    out
}

/// Parts from this size on have the memory of each column's pieces handed back to the OS
/// as soon as the column is gathered (see [`crate::alloc::release_freed`]).
const RELEASE_AT_BYTES: usize = 256 << 20;

/// The columns of [`gather`] (`positions`) or of [`concat`] (`None`).
fn build_columns(
    parts: Vec<RecordBatch>,
    schema: SchemaRef,
    positions: Option<&[(usize, usize)]>,
    wanted: impl Fn(&str) -> bool + Sync,
) -> Result<RecordBatch, ArrowError> {
    let rows = match positions {
        Some(p) => p.len(),
        None => parts.iter().map(|p| p.num_rows()).sum(),
    };
    // Handing freed pieces back to the OS costs page faults when memory is needed again;
    // it pays only when the parts are big enough to matter for the peak.
    let release = parts
        .iter()
        .map(RecordBatch::get_array_memory_size)
        .sum::<usize>()
        >= RELEASE_AT_BYTES;
    // Column-major, holding the only references once the batches are dropped here.
    let mut pieces: Vec<Vec<ArrayRef>> =
        vec![Vec::with_capacity(parts.len()); schema.fields().len()];
    for part in parts {
        for (column, array) in pieces.iter_mut().zip(part.columns()) {
            column.push(array.clone());
        }
    }
    let columns = pieces
        .into_par_iter()
        .zip(schema.fields().par_iter())
        .map(|(column, f)| {
            if f.is_nullable() && !wanted(f.name()) {
                return Ok(arrow::array::new_null_array(f.data_type(), rows));
            }
            let refs: Vec<&dyn Array> = column.iter().map(|a| a.as_ref()).collect();
            let out = match positions {
                Some(p) => arrow::compute::interleave(&refs, p),
                None => arrow::compute::concat(&refs),
            };
            drop(refs);
            drop(column);
            if release {
                crate::alloc::release_freed();
            }
            out
        })
        .collect::<Result<Vec<ArrayRef>, ArrowError>>()?;
    RecordBatch::try_new(schema, columns)
}

/// A Utf8 column giving each `(part, row)` position its part's label: for a column that is
/// constant within a part (the file a row came from), written once here rather than copied
/// row by row through a gather.
pub fn part_labels(labels: &[impl AsRef<str>], positions: &[(usize, usize)]) -> ArrayRef {
    let bytes = positions
        .iter()
        .map(|&(p, _)| labels[p].as_ref().len())
        .sum();
    let mut b = arrow::array::StringBuilder::with_capacity(positions.len(), bytes);
    for &(p, _) in positions {
        b.append_value(labels[p].as_ref());
    }
    Arc::new(b.finish())
}

/// Rows to copy out of a [`Deferred`]'s parts, worked out once for all of a batch's columns
/// (per column, the runs alone were a twentieth of an ingest's time).
struct Gather<'a> {
    positions: &'a [(usize, usize)],
    /// The parts the rows come from. Only these are handed to the copy: a partition's rows
    /// come from a few of possibly thousands of parts, and a copy checks and indexes every
    /// part it is given (a year of daily files ingested 30% slower without this).
    used: Vec<usize>,
    /// `positions` renumbered into `used`.
    local: std::borrow::Cow<'a, [(usize, usize)]>,
    /// The rows as runs of a part, when they come in long runs: copied a run at a time.
    runs: Option<Vec<(usize, usize, usize)>>,
}

impl<'a> Gather<'a> {
    fn new(parts: usize, positions: &'a [(usize, usize)]) -> Self {
        let mut slot = vec![usize::MAX; parts];
        let mut used = Vec::new();
        let local: Vec<(usize, usize)> = positions
            .iter()
            .map(|&(p, r)| {
                if slot[p] == usize::MAX {
                    slot[p] = used.len();
                    used.push(p);
                }
                (slot[p], r)
            })
            .collect();
        Self::with(positions, used, local.into())
    }

    /// Rows from any of all `parts`.
    fn every(parts: usize, positions: &'a [(usize, usize)]) -> Self {
        Self::with(positions, (0..parts).collect(), positions.into())
    }

    fn with(
        positions: &'a [(usize, usize)],
        used: Vec<usize>,
        local: std::borrow::Cow<'a, [(usize, usize)]>,
    ) -> Self {
        let runs = runs(&local, local.len() / 64);
        Gather {
            positions,
            used,
            local,
            runs,
        }
    }
}

/// The rows `kept` of `parts` (each row at most once) in delivery order (the parts in
/// turn, each part's rows in order): for a read whose aggregates no row order can change,
/// whose columns are then copied a run of a part at a time (a part whole when none of its
/// rows was dropped), not a row at a time from parts all over memory.
///
/// When every row was kept (no copy lost, as in most runs), the list is every row in turn,
/// made without marking the kept ones first.
pub fn in_delivery_order(
    parts: &[RecordBatch],
    kept: impl ExactSizeIterator<Item = (usize, usize)>,
) -> Vec<(usize, usize)> {
    let mut starts = Vec::with_capacity(parts.len() + 1);
    starts.push(0);
    for p in parts {
        starts.push(starts[starts.len() - 1] + p.num_rows());
    }
    if kept.len() == starts[parts.len()] {
        return (parts.iter().enumerate())
            .flat_map(|(p, part)| (0..part.num_rows()).map(move |r| (p, r)))
            .collect();
    }
    let mut marked = vec![false; starts[parts.len()]];
    let mut rows = 0;
    for (p, r) in kept {
        marked[starts[p] + r] = true;
        rows += 1;
    }
    let mut positions = Vec::with_capacity(rows);
    for (p, part) in starts.windows(2).enumerate() {
        let part = &marked[part[0]..part[1]];
        positions.extend((0..part.len()).filter(|&r| part[r]).map(|r| (p, r)));
    }
    positions
}

/// `positions` as runs of consecutive rows of one part: `(part, first row, rows)`, if there
/// are at most `most` runs (else `None`, found without building them: rows gathered one by
/// one, in canonical order, were a run each, and their list of runs, made for every column
/// and thrown away, was a tenth of a metrics-only Samespace read, page faults included).
fn runs(positions: &[(usize, usize)], most: usize) -> Option<Vec<(usize, usize, usize)>> {
    let breaks = positions
        .windows(2)
        .filter(|w| !(w[0].0 == w[1].0 && w[0].1 + 1 == w[1].1));
    let count = usize::from(!positions.is_empty()) + breaks.take(most).count();
    if count > most {
        return None;
    }
    let mut runs: Vec<(usize, usize, usize)> = Vec::with_capacity(count);
    for &(p, r) in positions {
        match runs.last_mut() {
            Some((q, first, n)) if *q == p && *first + *n == r => *n += 1,
            _ => runs.push((p, r, 1)),
        }
    }
    Some(runs)
}

/// A table whose rows are chosen and ordered but not yet copied: the `(part, row)`
/// `positions` of its rows in the reader's `parts`, each part read from the file
/// `sources[part]`, which is the `source_file` of its rows (left empty in the parts).
///
/// Why: the lake writes a table partition by partition, and copying each partition's rows
/// as it is written means the whole table is never copied at once. That copy was a second
/// table's worth of memory (the peak of an ingest) and of page faults.
pub struct Deferred {
    pub schema: SchemaRef,
    pub parts: Vec<RecordBatch>,
    pub sources: Vec<Arc<str>>,
    pub positions: Vec<(usize, usize)>,
    /// A child table's copy of its parent's key, left empty in the parts.
    pub parent_key: Option<ParentKey>,
}

/// The column of a child table holding its parent's key (`bot_intents.conversation_id`),
/// read from the parent's key column when copied out rather than stored once per child
/// row: it is the same string, and the copies were a tenth of an ingest's peak.
pub struct ParentKey {
    pub column: &'static str,
    /// Per part: the parent table's key column, and the parent row of each child row.
    pub keys: Vec<arrow::array::StringArray>,
    pub rows: Vec<Vec<u32>>,
}

impl Deferred {
    pub fn num_rows(&self) -> usize {
        self.positions.len()
    }

    /// The rows at `positions` (into the parts) as one batch (see [`Gather`]).
    pub fn rows(&self, positions: &[(usize, usize)]) -> Result<RecordBatch, ArrowError> {
        self.rows_viewing(positions, &[])
    }

    /// [`Deferred::rows`] with the text columns named in `views` as `Utf8View`: views of
    /// the strings where they sit in the parts, not copies. For a writer, which encodes
    /// the strings either way: the copy of the lake's heavy JSON text (300 MB for 1.5M
    /// conversations) was a tenth of the time spent gathering partitions, plus its pages.
    pub fn rows_viewing(
        &self,
        positions: &[(usize, usize)],
        views: &[&str],
    ) -> Result<RecordBatch, ArrowError> {
        let g = Gather::new(self.parts.len(), positions);
        let columns: Vec<ArrayRef> = self
            .schema
            .fields()
            .iter()
            .map(|f| {
                let name = f.name().as_str();
                match views.contains(&name) && *f.data_type() == DataType::Utf8 {
                    true => self.viewed_at(name, &g),
                    false => self.column_at(name, &g),
                }
            })
            .collect::<Result<_, _>>()?;
        let fields: Vec<Field> = (self.schema.fields().iter().zip(&columns))
            .map(|(f, c)| f.as_ref().clone().with_data_type(c.data_type().clone()))
            .collect();
        RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)
    }

    /// The text column `name` of the rows `g` gathers, as views into the parts' buffers
    /// (see [`Deferred::rows_viewing`]).
    fn viewed_at(&self, name: &str, g: &Gather<'_>) -> Result<ArrayRef, ArrowError> {
        let i = self.schema.index_of(name)?;
        if g.local.is_empty() {
            return Ok(arrow::array::new_empty_array(&DataType::Utf8View));
        }
        let pieces: Vec<StringViewArray> = (g.used.iter())
            .map(|&p| StringViewArray::from(self.parts[p].column(i).as_string::<i32>()))
            .collect();
        let pieces: Vec<&dyn Array> = pieces.iter().map(|a| a as &dyn Array).collect();
        arrow::compute::interleave(&pieces, &g.local)
    }

    /// The column `name` of every row, in order (one column copied, not the table).
    pub fn column(&self, name: &str) -> Result<ArrayRef, ArrowError> {
        self.column_at(name, &Gather::every(self.parts.len(), &self.positions))
    }

    /// The column `name` of the rows `g` gathers.
    fn column_at(&self, name: &str, g: &Gather<'_>) -> Result<ArrayRef, ArrowError> {
        let positions = g.positions;
        if name == "source_file" {
            return Ok(part_labels(&self.sources, positions));
        }
        if let Some(k) = self.parent_key.as_ref().filter(|k| k.column == name) {
            let key = |&(p, r): &(usize, usize)| {
                let row = k.rows[p][r] as usize;
                k.keys[p].is_valid(row).then(|| k.keys[p].value(row))
            };
            let bytes = positions.iter().map(|at| key(at).map_or(0, str::len)).sum();
            let mut b = StringBuilder::with_capacity(positions.len(), bytes);
            for at in positions {
                b.append_option(key(at));
            }
            return Ok(Arc::new(b.finish()));
        }
        let i = self.schema.index_of(name)?;
        if positions.is_empty() {
            return Ok(arrow::array::new_empty_array(
                self.schema.field(i).data_type(),
            ));
        }
        let pieces: Vec<&dyn Array> = (g.used.iter())
            .map(|&p| self.parts[p].column(i).as_ref())
            .collect();
        // Rows in runs of a part (files whose rows already come in the table's order): the
        // runs' slices concatenated, a copy per run rather than per row.
        if let Some(runs) = &g.runs {
            let slices: Vec<ArrayRef> = runs
                .iter()
                .map(|&(p, r, n)| pieces[p].slice(r, n))
                .collect();
            let slices: Vec<&dyn Array> = slices.iter().map(|a| a.as_ref()).collect();
            return arrow::compute::concat(&slices);
        }
        arrow::compute::interleave(&pieces, &g.local)
    }

    /// The columns `names` of every row, in order, as a batch of only those columns (for a
    /// metrics run, which reads a few columns of a table it never writes).
    pub fn select(&self, names: &[String]) -> Result<RecordBatch, ArrowError> {
        let indices = names
            .iter()
            .map(|n| self.schema.index_of(n))
            .collect::<Result<Vec<_>, _>>()?;
        // One gather for every column: where the rows run, and from which parts.
        let g = Gather::every(self.parts.len(), &self.positions);
        let columns = names
            .par_iter()
            .map(|n| self.column_at(n, &g))
            .collect::<Result<Vec<_>, _>>()?;
        // Typed as the parts are: a text column read as codes is codes here too.
        let schema = super::schema_of(Arc::new(self.schema.project(&indices)?), &columns);
        RecordBatch::try_new_with_options(
            schema,
            columns,
            &arrow::array::RecordBatchOptions::new().with_row_count(Some(self.num_rows())),
        )
    }

    /// How many rows came from each source file.
    pub fn rows_per_source(&self) -> HashMap<&str, u64> {
        let mut per_part = vec![0u64; self.parts.len()];
        for &(p, _) in &self.positions {
            per_part[p] += 1;
        }
        let mut out: HashMap<&str, u64> = HashMap::new();
        for (source, n) in self.sources.iter().zip(per_part) {
            *out.entry(&**source).or_default() += n;
        }
        out
    }

    /// The whole table as one batch, the parts freed column by column; nullable columns
    /// `wanted` rejects come out all null (see [`gather`]).
    pub fn into_batch(
        mut self,
        wanted: impl Fn(&str) -> bool + Sync,
    ) -> Result<RecordBatch, ArrowError> {
        let parts = std::mem::take(&mut self.parts);
        let mut batch = gather(parts, self.schema.clone(), &self.positions, wanted)?;
        batch = with_column(&batch, "source_file", self.column("source_file")?)?;
        if let Some(name) = self.parent_key.as_ref().map(|k| k.column) {
            batch = with_column(&batch, name, self.column(name)?)?;
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kept_rows_in_delivery_order_are_the_parts_in_turn_each_in_row_order() {
        use arrow::array::Int64Array;
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let part = |rows: i64| {
            let n = Int64Array::from_iter_values(0..rows);
            RecordBatch::try_new(schema.clone(), vec![Arc::new(n)]).unwrap()
        };
        let parts = [part(3), part(0), part(4)];
        // Kept in canonical order, some rows of each part dropped.
        let kept = [(2, 3), (0, 2), (2, 0), (0, 0), (2, 1)];
        assert_eq!(
            super::in_delivery_order(&parts, kept.into_iter()),
            [(0, 0), (0, 2), (2, 0), (2, 1), (2, 3)]
        );
        assert!(super::in_delivery_order(&parts, std::iter::empty()).is_empty());
        // Every row kept: every row in turn.
        let all = [(2, 2), (0, 1), (2, 3), (0, 0), (2, 0), (0, 2), (2, 1)];
        assert_eq!(
            super::in_delivery_order(&parts, all.into_iter()),
            [(0, 0), (0, 1), (0, 2), (2, 0), (2, 1), (2, 2), (2, 3)]
        );
    }

    #[test]
    fn small_parts_are_concatenated_in_runs_and_large_ones_kept() {
        use arrow::array::{Array, AsArray, Int64Array};
        use arrow::datatypes::{DataType, Field, Int64Type, Schema};
        use std::sync::Arc;
        let schema = Arc::new(Schema::new(vec![Field::new("n", DataType::Int64, false)]));
        let part = |from: i64, rows: i64| {
            let n = Int64Array::from_iter_values(from..from + rows);
            arrow::array::RecordBatch::try_new(schema.clone(), vec![Arc::new(n)]).unwrap()
        };
        // 3 + 2 rows reach 4 and become one part; the 10-row part stays itself (not
        // copied); the last run (1 row) is what is left.
        let parts = vec![part(0, 3), part(3, 2), part(5, 10), part(15, 1)];
        let big = parts[2].column(0).to_data().buffers()[0].as_ptr();
        let out = super::coalesce(parts, 4).unwrap();
        let rows: Vec<usize> = out.iter().map(|p| p.num_rows()).collect();
        assert_eq!(rows, [5, 10, 1]);
        assert_eq!(out[1].column(0).to_data().buffers()[0].as_ptr(), big);
        let all: Vec<i64> = (out.iter())
            .flat_map(|p| p.column(0).as_primitive::<Int64Type>().values().to_vec())
            .collect();
        assert_eq!(all, (0..16).collect::<Vec<i64>>(), "row order kept");
        // A large item ends the run before it; a short run is left at the end.
        assert_eq!(
            super::size_runs(&[1, 1, 9, 2, 2, 1], 4),
            [0..2, 2..3, 3..5, 5..6]
        );
        assert_eq!(super::size_runs(&[5, 5], 4), [0..1, 1..2]);
        assert!(super::size_runs(&[], 4).is_empty());
    }

    #[test]
    fn runs_are_listed_only_when_there_are_few_enough() {
        let rows = [(0, 3), (0, 4), (0, 5), (1, 0), (1, 1), (0, 6)];
        let expected = vec![(0, 3, 3), (1, 0, 2), (0, 6, 1)];
        assert_eq!(runs(&rows, 3), Some(expected.clone()));
        assert_eq!(runs(&rows, 7), Some(expected));
        assert_eq!(runs(&rows, 2), None);
        assert_eq!(runs(&rows[..1], 0), None);
        assert_eq!(runs(&[], 0), Some(vec![]));
    }

    /// A two-column table: `name` and `source_file` (left empty in the parts).
    fn part(names: &[&str]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("name", DataType::Utf8, true),
            Field::new("source_file", DataType::Utf8, true),
        ]));
        let empty = vec![""; names.len()];
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(arrow::array::StringArray::from(names.to_vec())),
                Arc::new(arrow::array::StringArray::from(empty)),
            ],
        )
        .unwrap()
    }

    fn texts(a: &ArrayRef) -> Vec<&str> {
        a.as_string::<i32>().iter().map(|v| v.unwrap()).collect()
    }

    #[test]
    fn rows_sort_by_group_then_text_as_a_stable_sort_does() {
        type Row = (Option<i64>, Option<&'static str>, usize, usize);
        // Keys sharing their first 16 bytes, shorter than 16, with a zero byte (which the
        // zero-padded prefix cannot tell from the end), empty, null; groups null or not.
        let texts = [
            "0123456789abcdef-b",
            "0123456789abcdef-a",
            "0123456789abcdef",
            "ab",
            "ab\0",
            "",
            "b",
        ];
        let mut state = 7u64;
        let mut next = |n: u64| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (state >> 33) % n
        };
        // No rows at all, and parts with none.
        let empty: Vec<Vec<Row>> = vec![Vec::new(); 3];
        assert!(sorted_by_group_and_text(empty.into_par_iter().map(|p| p.into_iter())).is_empty());
        // Small groups, groups large enough to be sorted in parallel themselves, one group.
        for (n, groups) in [(500, 4), (150_000, 2), (300, 1)] {
            let rows: Vec<Row> = (0..n)
                .map(|i| {
                    let g = match next(groups) {
                        0 => None,
                        g => Some(g as i64 - 2),
                    };
                    let k = match next(8) as usize {
                        7 => None,
                        t => Some(texts[t]),
                    };
                    (g, k, i / 100, i % 100)
                })
                .collect();
            let mut expected = rows.clone();
            expected.sort_by(|a, b| (a.0, a.1).cmp(&(b.0, b.1)));
            let expected: Vec<(usize, usize)> = expected.iter().map(|r| (r.2, r.3)).collect();
            // The order rows come in does not matter.
            let reversed: Vec<_> = rows.iter().rev().copied().collect();
            // Parts of uneven sizes, some holding several groups.
            let mut parts = |rows: &[Row]| {
                let mut parts = Vec::new();
                let mut rest = rows;
                while !rest.is_empty() {
                    let (part, tail) = rest.split_at((next(40) as usize + 1).min(rest.len()));
                    parts.push(part.to_vec());
                    rest = tail;
                }
                parts
            };
            let (forward, backward) = (parts(&rows), parts(&reversed));
            assert_eq!(
                sorted_by_group_and_text(forward.into_par_iter().map(|p| p.into_iter())),
                expected
            );
            assert_eq!(
                sorted_by_group_and_text(backward.into_par_iter().map(|p| p.into_iter())),
                expected
            );
        }
    }

    #[test]
    fn deferred_rows_in_runs_are_copied_as_row_by_row() {
        // Long runs of a part (copied as slices) and scattered rows (copied row by row).
        // Every third name is longer than the 12 bytes a view holds inline.
        let name = |p: usize, r: usize| match r % 3 {
            0 => format!("{p}-{r}-and-a-longer-name"),
            _ => format!("{p}-{r}"),
        };
        let names: Vec<Vec<String>> = (0..2)
            .map(|p| (0..300).map(|r| name(p, r)).collect())
            .collect();
        let refs: Vec<Vec<&str>> = names
            .iter()
            .map(|n| n.iter().map(String::as_str).collect())
            .collect();
        let parts = vec![part(&refs[0]), part(&refs[1])];
        let d = Deferred {
            schema: parts[0].schema(),
            parts,
            sources: vec!["x.json".into(), "y.json".into()],
            positions: Vec::new(),
            parent_key: None,
        };
        let runs: Vec<(usize, usize)> = (5..200)
            .map(|r| (1, r))
            .chain((0..150).map(|r| (0, r)))
            .chain((200..300).map(|r| (1, r)))
            .collect();
        let scattered: Vec<(usize, usize)> = (0..300).map(|i| (i % 2, i * 7 % 300)).collect();
        for positions in [runs, scattered] {
            let got = d.rows(&positions).unwrap();
            let expected: Vec<String> = positions.iter().map(|&(p, r)| name(p, r)).collect();
            assert_eq!(texts(got.column(0)), expected);
            // The same strings as views, the other columns as they were.
            let viewed = d.rows_viewing(&positions, &["name"]).unwrap();
            assert_eq!(viewed.schema().field(0).data_type(), &DataType::Utf8View);
            let views = viewed.column(0).as_string_view();
            let strings: Vec<&str> = views.iter().map(|v| v.unwrap_or("∅")).collect();
            assert_eq!(strings, expected);
            assert_eq!(viewed.column(1), got.column(1));
            let files: Vec<&str> = positions
                .iter()
                .map(|&(p, _)| ["x.json", "y.json"][p])
                .collect();
            assert_eq!(texts(got.column(1)), files);
        }
    }

    #[test]
    fn deferred_rows_come_from_their_positions_with_their_file() {
        let parts = vec![part(&["a", "b", "c"]), part(&["d", "e"])];
        let d = Deferred {
            schema: parts[0].schema(),
            parts,
            sources: vec!["x.json".into(), "y.json".into()],
            positions: vec![(1, 1), (0, 2), (1, 0), (0, 0)],
            parent_key: None,
        };
        assert_eq!(d.num_rows(), 4);
        assert_eq!(texts(&d.column("name").unwrap()), ["e", "c", "d", "a"]);
        assert_eq!(
            texts(&d.column("source_file").unwrap()),
            ["y.json", "x.json", "y.json", "x.json"]
        );
        let some = d.rows(&d.positions[1..3]).unwrap();
        assert_eq!(texts(some.column(0)), ["c", "d"]);
        assert_eq!(texts(some.column(1)), ["x.json", "y.json"]);
        assert_eq!(d.rows(&[]).unwrap().num_rows(), 0);
        assert_eq!(d.rows_viewing(&[], &["name"]).unwrap().num_rows(), 0);
        let per_source = d.rows_per_source();
        assert_eq!((per_source["x.json"], per_source["y.json"]), (2, 2));
        let picked = d.select(&["source_file".into()]).unwrap();
        assert_eq!(picked.schema().field(0).name(), "source_file");
        assert_eq!(
            texts(picked.column(0)),
            ["y.json", "x.json", "y.json", "x.json"]
        );
        let none = d.select(&[]).unwrap();
        assert_eq!((none.num_columns(), none.num_rows()), (0, 4));
        assert!(d.select(&["nope".into()]).is_err());
        let all = d.into_batch(|_| true).unwrap();
        assert_eq!(texts(all.column(0)), ["e", "c", "d", "a"]);
        assert_eq!(
            texts(all.column(1)),
            ["y.json", "x.json", "y.json", "x.json"]
        );
    }

    #[test]
    fn a_deferred_child_reads_its_parents_key() {
        // Child rows of two parts; `name` is the parent's key, left empty in the parts.
        let parts = vec![part(&["", "", ""]), part(&[""])];
        let parent = |keys: &[&str]| arrow::array::StringArray::from(keys.to_vec());
        let d = Deferred {
            schema: parts[0].schema(),
            parts,
            sources: vec!["x.json".into(), "y.json".into()],
            positions: vec![(1, 0), (0, 0), (0, 1), (0, 2)],
            parent_key: Some(ParentKey {
                column: "name",
                keys: vec![parent(&["p", "q"]), parent(&["r"])],
                rows: vec![vec![0, 0, 1], vec![0]],
            }),
        };
        assert_eq!(texts(&d.column("name").unwrap()), ["r", "p", "p", "q"]);
        assert_eq!(
            texts(d.rows(&d.positions[2..]).unwrap().column(0)),
            ["p", "q"]
        );
        let all = d.into_batch(|_| true).unwrap();
        assert_eq!(texts(all.column(0)), ["r", "p", "p", "q"]);
        assert_eq!(
            texts(all.column(1)),
            ["y.json", "x.json", "x.json", "x.json"]
        );
    }
}
