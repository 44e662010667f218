//! The Parquet lake: incremental, idempotent, crash-safe ingest of export files into
//! Hive-partitioned Parquet that DuckDB, Spark and Trino read, and reading it back.
//!
//! Layout: `DIR/<table>/dt=YYYY-MM-DD/part-00000.parquet`, one file per partition (the UTC day
//! of the table's business timestamp; `dt=__HIVE_DEFAULT_PARTITION__` when it is null), plus
//! `DIR/_cxkpi/` for the manifest, the journal and staging. A partition is always rewritten
//! whole, never appended to, so a record delivered again replaces its earlier copy.
//!
//! Commit protocol (the commit point is one atomic rename):
//! 1. every new partition file and the new manifest are written under `_cxkpi/staging/RUN/`;
//! 2. the journal `_cxkpi/journal.json`, listing the renames, is written and renamed into
//!    place: from here on the run has happened;
//! 3. the staged files are renamed over their targets, the manifest last; the journal is
//!    removed.
//!
//! A run killed before step 2 leaves only staging, which the next run deletes: the lake is as
//! before. Killed after it, the next run first finishes the renames (they are idempotent):
//! the lake is as after. Either way the next run then does its own work.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arrow::array::{Array, ArrayRef, AsArray, BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::TimestampMicrosecondType;
use arrow::row::{RowConverter, SortField};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::source::{
    self, anywhere365, dialpad, samespace, ultimate, Candidate, OnBadFile, Rejects, Vendor,
};
use crate::table::{self, TableDef};
use crate::time::utc_date;

/// The partition value of a null business timestamp (Hive's convention, read as NULL).
pub const NULL_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// How a table sits in the lake.
pub struct LakeTable {
    pub def: &'static TableDef,
    /// The timestamp whose UTC day partitions the table; `None`: the parent's partition
    /// (child tables) or the null partition (tables without a timestamp).
    pub partition_by: Option<&'static str>,
    /// The columns identifying a record; a later delivery replaces an earlier one.
    pub key: &'static [&'static str],
    /// Before keeping the last copy per key, rows are stably ordered by this timestamp
    /// (conversations: the latest end time wins, then the later delivery).
    pub order_by: Option<&'static str>,
    /// For child tables: the parent table and the column holding the parent's key. A child
    /// row is kept only with the parent copy it came with (same key, same source_file).
    pub parent: Option<(&'static str, &'static str)>,
}

pub const TABLES: &[LakeTable] = &[
    LakeTable {
        def: &table::BOT_CONVERSATIONS,
        partition_by: Some("conversation_start_time"),
        key: &["conversation_id"],
        order_by: Some("conversation_end_time"),
        parent: None,
    },
    LakeTable {
        def: &table::BOT_INTENTS,
        partition_by: None,
        key: &[],
        order_by: None,
        parent: Some(("bot_conversations", "conversation_id")),
    },
    LakeTable {
        def: &table::MESSAGES,
        partition_by: Some("ts"),
        key: &["sessionid", "ts", "sendertype", "text"],
        order_by: None,
        parent: None,
    },
    LakeTable {
        def: &table::DIALOGUES,
        partition_by: Some("start_time"),
        key: &["id"],
        order_by: None,
        parent: None,
    },
    LakeTable {
        def: &table::CALLS,
        partition_by: Some("start_time"),
        key: &["uuid"],
        order_by: None,
        parent: None,
    },
    LakeTable {
        def: &table::CSAT_CALLS,
        partition_by: Some("start_time"),
        key: &["call_uuid"],
        order_by: None,
        parent: None,
    },
    LakeTable {
        def: &table::CSAT_ANSWERS,
        partition_by: None,
        key: &[],
        order_by: None,
        parent: Some(("csat_calls", "call_uuid")),
    },
    LakeTable {
        def: &table::AGENT_SESSIONS,
        partition_by: Some("start_time"),
        key: &["id"],
        order_by: None,
        parent: None,
    },
    LakeTable {
        def: &table::PRODUCTIVITY,
        partition_by: None,
        key: &["id"],
        order_by: None,
        parent: None,
    },
];

pub fn lake_table(name: &str) -> Option<&'static LakeTable> {
    TABLES.iter().find(|t| t.def.name == name)
}

// ---------------------------------------------------------------------------------------
// Manifest and journal
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    pub size: u64,
    /// XXH3-64 of the file's bytes, hex.
    pub hash: String,
    pub format: String,
    pub rows: u64,
    /// `table/dt=…` partitions holding rows of this file.
    pub partitions: BTreeSet<String>,
    pub run_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// Ingested files by absolute path.
    pub files: BTreeMap<String, FileEntry>,
}

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    run_id: String,
    /// (staged file, final file), relative to the lake root; the manifest last.
    renames: Vec<(String, String)>,
    /// Partition files to remove (emptied partitions), relative to the lake root.
    removals: Vec<String>,
}

fn meta_dir(root: &Path) -> PathBuf {
    root.join("_cxkpi")
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

/// Test hook: `CXKPI_CRASH_AT=staged|journaled|renamed:N` aborts the process at that step,
/// as `kill -9` would, so the tests can prove the commit protocol.
fn crash_point(step: &str) {
    if std::env::var("CXKPI_CRASH_AT").is_ok_and(|v| v == step) {
        std::process::abort();
    }
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    {
        use std::io::Write;
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
    }
    std::fs::rename(&tmp, path).map_err(io(path))
}

pub fn load_manifest(root: &Path) -> Result<Manifest> {
    let p = meta_dir(root).join("manifest.json");
    match std::fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Format {
            path: p.clone(),
            message: format!("the lake manifest is not valid: {e}"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
            version: 1,
            ..Manifest::default()
        }),
        Err(e) => Err(Error::io(&p, e)),
    }
}

/// Finishes a committed run a crash interrupted, and drops the staging of uncommitted ones.
/// Returns whether a committed run was completed.
pub fn recover(root: &Path) -> Result<bool> {
    let meta = meta_dir(root);
    let journal_path = meta.join("journal.json");
    let mut completed = false;
    if let Ok(bytes) = std::fs::read(&journal_path) {
        let journal: Journal = serde_json::from_slice(&bytes).map_err(|e| Error::Format {
            path: journal_path.clone(),
            message: format!("the lake journal is not valid: {e}"),
        })?;
        apply(root, &journal)?;
        std::fs::remove_file(&journal_path).map_err(io(&journal_path))?;
        completed = true;
    }
    let staging = meta.join("staging");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    Ok(completed)
}

/// Performs the journal's renames and removals; each step may already have happened.
fn apply(root: &Path, j: &Journal) -> Result<()> {
    for (i, (from, to)) in j.renames.iter().enumerate() {
        let (from, to) = (root.join(from), root.join(to));
        if from.exists() {
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            std::fs::rename(&from, &to).map_err(io(&to))?;
        }
        crash_point(&format!("renamed:{}", i + 1));
    }
    for r in &j.removals {
        let p = root.join(r);
        if p.exists() {
            std::fs::remove_file(&p).map_err(io(&p))?;
            if let Some(dir) = p.parent() {
                let _ = std::fs::remove_dir(dir); // only when empty
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------
// Parquet files
// ---------------------------------------------------------------------------------------

fn writer_props(run_id: &str, t: &LakeTable) -> Result<WriterProperties> {
    let table = t.def.name;
    let mut props = WriterProperties::builder();
    // Dictionary encoding pays off on repeated values (statuses, bots, files) and is wasted
    // work on nearly unique ones: a single-column key, a child's parent key, the heavy text
    // columns (JSON, ids), instants and durations. Interning those was a fifth of the
    // time spent writing partitions.
    for c in t.def.columns {
        let unique_key = t.key == [c.name] && t.parent.is_none();
        let parent_key = t.parent.is_some_and(|(_, k)| k == c.name);
        let continuous = matches!(c.kind, table::Kind::Timestamp | table::Kind::Float64);
        let heavy_text = c.heavy && c.kind == table::Kind::Utf8;
        if unique_key || parent_key || continuous || heavy_text {
            props = props.set_column_dictionary_enabled(c.name.into(), false);
        }
        // Min/max statistics cost two comparisons per value. No query filters on JSON text
        // or on the file a row came from (a long path, equal on every row of a file, so
        // compared in full): there they bought nothing for a tenth of a partition's writing.
        if heavy_text || c.name == "source_file" {
            props = props.set_column_statistics_enabled(c.name.into(), EnabledStatistics::None);
        }
    }
    Ok(props
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1)?))
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(Some(1 << 20))
        .set_created_by(format!("cxkpi {}", env!("CARGO_PKG_VERSION")))
        .set_key_value_metadata(Some(vec![
            KeyValue::new(
                "cxkpi_version".into(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
            KeyValue::new("cxkpi_run_id".into(), run_id.to_string()),
            KeyValue::new("cxkpi_table".into(), table.to_string()),
        ]))
        .build())
}

fn write_parquet(path: &Path, batch: &RecordBatch, run_id: &str, table: &LakeTable) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let file = File::create(path).map_err(io(path))?;
    // The table's own schema, not the batch's: text columns may come as views (see
    // `merge_partition`), which the writer encodes as the same Parquet strings.
    let schema = table.def.schema();
    let mut w = ArrowWriter::try_new(file, schema, Some(writer_props(run_id, table)?))?;
    w.write(batch)?;
    w.close()?;
    Ok(())
}

/// Waits until the staged files are on disk, all at once before the commit: an `fsync`
/// after each file held its core idle while the disk wrote it (62 waits in a 1.5M
/// conversation ingest), where together the writes overlap.
fn sync_staged(root: &Path, renames: &[(String, String)]) -> Result<()> {
    renames.par_iter().try_for_each(|(staged, _)| {
        let path = root.join(staged);
        File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(io(&path))
    })
}

fn read_parquet(path: &Path, def: &TableDef) -> Result<RecordBatch> {
    read_parquet_columns(path, def, false, None)
}

/// Reads a partition file; with `lean`, the heavy columns are not read (Parquet projection)
/// and come back as nulls, so the batch keeps the canonical schema.
fn read_parquet_columns(
    path: &Path,
    def: &TableDef,
    lean: bool,
    only: Option<&[String]>,
) -> Result<RecordBatch> {
    let file = File::open(path).map_err(io(path))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file)?;
    // One batch per file: no small batches to concatenate afterwards.
    let rows = builder.metadata().file_metadata().num_rows().max(1) as usize;
    let builder = builder.with_batch_size(rows);
    let skipped = |c: &table::Column| {
        (lean && c.heavy) || only.is_some_and(|o| !o.iter().any(|n| n == c.name))
    };
    if !def.columns.iter().any(skipped) {
        let batches = builder
            .build()?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        return Ok(arrow::compute::concat_batches(&def.schema(), &batches)?);
    }
    let wanted: Vec<usize> = (0..def.columns.len())
        .filter(|&i| !skipped(&def.columns[i]))
        .collect();
    let mask =
        parquet::arrow::ProjectionMask::roots(builder.parquet_schema(), wanted.iter().copied());
    let batches = builder
        .with_projection(mask)
        .build()?
        .collect::<std::result::Result<Vec<_>, _>>()?;
    let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
    let mut read = wanted
        .iter()
        .map(|_| Vec::<ArrayRef>::with_capacity(batches.len()))
        .collect::<Vec<_>>();
    for b in &batches {
        for (slot, col) in read.iter_mut().zip(b.columns()) {
            slot.push(col.clone());
        }
    }
    // Skipped columns read back as nulls, so they are declared nullable here, even the keys.
    let schema = Arc::new(arrow::datatypes::Schema::new(
        def.columns
            .iter()
            .map(|c| arrow::datatypes::Field::new(c.name, c.kind.arrow(), c.nullable || skipped(c)))
            .collect::<Vec<_>>(),
    ));
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(def.columns.len());
    let mut next = read.into_iter();
    for (i, c) in def.columns.iter().enumerate() {
        if skipped(c) {
            arrays.push(arrow::array::new_null_array(
                schema.field(i).data_type(),
                rows,
            ));
        } else {
            let parts = next.next().unwrap_or_default();
            let refs: Vec<&dyn Array> = parts.iter().map(|a| a.as_ref()).collect();
            arrays.push(match refs.len() {
                0 => arrow::array::new_empty_array(schema.field(i).data_type()),
                _ => arrow::compute::concat(&refs)?,
            });
        }
    }
    Ok(RecordBatch::try_new(schema, arrays)?)
}

fn partition_file(table: &str, dt: &str) -> String {
    format!("{table}/dt={dt}/part-00000.parquet")
}

/// What a query reads of a table: the partitions from day `from` to day `to`, both inclusive
/// (`None`: no bound; with any bound the null partition is left out, as a range excludes null
/// times), and with `lean` not the heavy columns (they read back as nulls).
#[derive(Debug, Clone, Default)]
pub struct Scope {
    pub from: Option<chrono::NaiveDate>,
    pub to: Option<chrono::NaiveDate>,
    pub lean: bool,
    /// When set, only these columns of the main table are read (the others read back as
    /// nulls) and child tables are not read: a metrics query that knows what it reads. Fewer
    /// column chunks also means fewer decompression contexts, which dominate small files.
    /// Rows then come in partition order, not canonical order: only order-independent
    /// metrics read this way.
    pub only: Option<std::sync::Arc<Vec<String>>>,
}

impl Scope {
    fn keeps(&self, dt: &str) -> bool {
        if self.from.is_none() && self.to.is_none() {
            return true;
        }
        let Ok(day) = chrono::NaiveDate::parse_from_str(dt, "%Y-%m-%d") else {
            return false;
        };
        self.from.is_none_or(|f| day >= f) && self.to.is_none_or(|t| day <= t)
    }
}

/// Every partition file of a table, in partition order.
fn partition_files(root: &Path, table: &str) -> Result<Vec<(String, PathBuf)>> {
    let dir = root.join(table);
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
        let entry = entry.map_err(io(&dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(dt) = name.strip_prefix("dt=") {
            let f = entry.path().join("part-00000.parquet");
            if f.exists() {
                out.push((dt.to_string(), f));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// A whole table read back from the lake (every partition), in the canonical schema.
pub fn read_table(root: &Path, def: &TableDef) -> Result<RecordBatch> {
    read_scope(root, def, &Scope::default())
}

/// The table's rows in the partitions, and the columns, `scope` keeps.
pub fn read_scope(root: &Path, def: &TableDef, scope: &Scope) -> Result<RecordBatch> {
    let parts = read_parts(root, def, scope)?;
    // Projected reads relax skipped columns to nullable; every part has the same schema.
    // A metrics-only read (columns named) keeps partition order: the metrics that read this
    // way are order-independent (see `ultimate::Options::only`).
    match (&scope.only, parts.first().map(RecordBatch::schema)) {
        (Some(_), Some(schema)) => Ok(table::concat(schema, parts)?),
        _ => Ok(table::concat_in_canonical_order(&parts, def)?),
    }
}

/// [`read_scope`]'s rows as they are stored: one batch per partition file, in partition
/// order (for the order-independent metrics-only reads, which need no single batch).
fn read_parts(root: &Path, def: &TableDef, scope: &Scope) -> Result<Vec<RecordBatch>> {
    use rayon::prelude::*;
    let files: Vec<PathBuf> = partition_files(root, def.name)?
        .into_iter()
        .filter(|(dt, _)| scope.keeps(dt))
        .map(|(_, f)| f)
        .collect();
    let only = scope.only.as_deref().map(Vec::as_slice);
    files
        .par_iter()
        .map(|f| read_parquet_columns(f, def, scope.lean, only))
        .collect()
}

// ---------------------------------------------------------------------------------------
// Merging
// ---------------------------------------------------------------------------------------

fn column<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef> {
    Ok(batch.column(batch.schema().index_of(name)?))
}

fn strings<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a StringArray> {
    Ok(column(batch, name)?.as_string::<i32>())
}

/// The partition (`dt`) of every row, the UTC day of `times`, as an index into the
/// distinct partition names (one name per day rather than one string per row).
fn days(times: &ArrayRef) -> Result<(Vec<String>, Vec<u32>)> {
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

fn filter(batch: &RecordBatch, keep: Vec<bool>) -> Result<RecordBatch> {
    Ok(arrow::compute::filter_record_batch(
        batch,
        &BooleanArray::from(keep),
    )?)
}

/// Rows of `batch` in the given order.
fn take(batch: &RecordBatch, order: &[usize]) -> Result<RecordBatch> {
    let idx = arrow::array::UInt32Array::from(order.iter().map(|&i| i as u32).collect::<Vec<_>>());
    Ok(arrow::compute::take_record_batch(batch, &idx)?)
}

/// True when `key` is one text column whose values, all present, strictly increase: the
/// rows are then unique by key.
fn strictly_increasing(batch: &RecordBatch, key: &[&str]) -> Result<bool> {
    let [key] = key else { return Ok(false) };
    let col = column(batch, key)?;
    let Some(k) = col.as_string_opt::<i32>() else {
        return Ok(false);
    };
    Ok(k.null_count() == 0 && (1..k.len()).all(|i| k.value(i - 1) < k.value(i)))
}

/// Keeps the last row per key (after a stable sort on `order_by`, nulls first).
fn keep_last(batch: &RecordBatch, t: &LakeTable) -> Result<RecordBatch> {
    let batch = match t.order_by {
        Some(c) => {
            let v = column(batch, c)?.as_primitive::<TimestampMicrosecondType>();
            let mut order: Vec<usize> = (0..batch.num_rows()).collect();
            order.sort_by_key(|&i| (v.is_valid(i).then(|| v.value(i)), i));
            take(batch, &order)?
        }
        None => batch.clone(),
    };
    let cols: Vec<ArrayRef> = t
        .key
        .iter()
        .map(|k| column(&batch, k).cloned())
        .collect::<Result<_>>()?;
    let converter = RowConverter::new(
        cols.iter()
            .map(|c| SortField::new(c.data_type().clone()))
            .collect(),
    )?;
    let rows = converter.convert_columns(&cols)?;
    let mut last: HashMap<&[u8], usize, foldhash::fast::RandomState> =
        HashMap::with_capacity_and_hasher(batch.num_rows(), Default::default());
    for i in 0..rows.num_rows() {
        last.insert(rows.row(i).data(), i);
    }
    let mut keep = vec![false; batch.num_rows()];
    for i in last.into_values() {
        keep[i] = true;
    }
    filter(&batch, keep)
}

/// What one ingest run did.
#[derive(Debug, Default, Serialize)]
pub struct IngestReport {
    pub run_id: String,
    pub files_seen: usize,
    pub files_ingested: usize,
    pub files_unchanged: usize,
    pub files_rejected: Vec<(String, String)>,
    pub recovered_previous_run: bool,
    /// Rows read from the ingested files, per table.
    pub rows_read: BTreeMap<String, usize>,
    /// Rows in the rewritten partitions after the merge, per table.
    pub rows_written: BTreeMap<String, usize>,
    pub partitions_written: usize,
    /// Records left out because they lack their key (see `source::Keyless`).
    pub keyless: usize,
    pub first_keyless: Option<String>,
    pub seconds: f64,
}

impl IngestReport {
    fn note_keyless(&mut self, stats: &source::Stats) {
        self.keyless += stats.keyless;
        if self.first_keyless.is_none() {
            self.first_keyless = stats.first_keyless.clone();
        }
    }
}

/// A file's size and content hash (of its bytes as stored, compressed or not).
///
/// Read through a small buffer rather than a memory map: the buffer stays in cache, while
/// mapping faulted in and unmapped every page, which took three times the CPU of the copy.
fn hash_file(path: &Path) -> Result<source::Digest> {
    use std::io::Read;
    let mut file = File::open(path).map_err(io(path))?;
    let mut hasher = source::Hasher::default();
    let mut buf = vec![0u8; 256 << 10];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(path)(e)),
        }
    }
    Ok(hasher.finish())
}

fn format_name(v: Vendor) -> &'static str {
    match v {
        Vendor::Ultimate => "ultimate",
        Vendor::Dialpad => "dialpad",
        Vendor::Anywhere365 => "anywhere365",
        _ => "samespace",
    }
}

/// One candidate file at the start of an ingest: its path (the manifest key), its digest
/// (taken already if the lake knows the path), and, when it is new or changed, its
/// detected format (`None` inside: not JSON).
type Scanned = (
    String,
    Arc<OnceLock<source::Digest>>,
    Option<Result<Option<Vendor>>>,
);

/// A table's new rows: gathered into one batch, or (a full Ultimate read, the bulk of most
/// runs) still in the reader's chunks, copied partition by partition as each is written.
enum Incoming {
    Batch(RecordBatch),
    Deferred(table::Deferred),
}

impl Incoming {
    fn num_rows(&self) -> usize {
        match self {
            Incoming::Batch(b) => b.num_rows(),
            Incoming::Deferred(d) => d.num_rows(),
        }
    }

    fn column(&self, name: &str) -> Result<ArrayRef> {
        match self {
            Incoming::Batch(b) => column(b, name).cloned(),
            Incoming::Deferred(d) => Ok(d.column(name)?),
        }
    }

    fn rows_per_source(&self) -> Result<HashMap<&str, u64, foldhash::fast::RandomState>> {
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
    fn rows(&self, rows: &[u32], views: &[&str]) -> Result<RecordBatch> {
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
struct ParentDays {
    names: Vec<String>,
    rows: ParentRows,
}

enum ParentRows {
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
fn child_days(
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
struct MergeContext<'a> {
    root: &'a Path,
    table: &'a LakeTable,
    new: &'a Incoming,
    by_dt: &'a BTreeMap<String, Vec<u32>>,
    replaced: &'a HashSet<String>,
    kept_parents: &'a HashMap<(&'static str, String), KeptRows>,
    staging_rel: &'a str,
    run_id: &'a str,
}

/// One rewritten partition.
struct Merged {
    dt: String,
    rows: usize,
    /// The source files of the rows kept.
    sources: HashSet<String>,
    /// For parent tables: the (key, source_file) pairs kept.
    kept: Option<KeptRows>,
    /// (staged file, final file) when the partition has rows.
    staged: Option<(String, String)>,
    /// The partition file to remove when the partition ended up empty.
    removal: Option<String>,
}

/// The key and `source_file` columns of a parent partition's rows after its merge: its
/// children keep only the rows of these (key, file) pairs.
///
/// The files are kept as an index per row into their distinct paths: a path on every row
/// of every partition, held until the children are merged, was a tenth of an ingest's peak.
struct KeptRows {
    keys: StringArray,
    files: FileIndex,
    /// The partition is new and kept every new row: it holds exactly this read's rows.
    only_new: bool,
}

impl KeptRows {
    fn pairs(&self) -> HashSet<(&str, &str), foldhash::fast::RandomState> {
        (0..self.keys.len())
            .filter(|&i| self.keys.is_valid(i))
            .map(|i| {
                let path = self.files.paths[self.files.rows[i] as usize].as_deref();
                (self.keys.value(i), path.unwrap_or_default())
            })
            .collect()
    }
}

/// The `source_file` of every row as an index into the distinct paths (`None`: null).
struct FileIndex {
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

/// Merges a partition: its existing rows (less those of replaced files) and the new ones,
/// deduplicated by the table's rule, written to staging.
fn merge_partition(c: &MergeContext<'_>, dt: String) -> Result<Merged> {
    let t = c.table;
    let name = t.def.name;
    let rel = partition_file(name, &dt);
    let existing_path = c.root.join(&rel);
    let mut parts = Vec::new();
    if existing_path.exists() {
        let old = read_parquet(&existing_path, t.def)?;
        let src = strings(&old, "source_file")?;
        let keep: Vec<bool> = (0..old.num_rows())
            .map(|i| src.is_null(i) || !c.replaced.contains(src.value(i)))
            .collect();
        parts.push(filter(&old, keep)?);
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
    let combined = match parts.len() {
        1 => parts.swap_remove(0),
        _ => arrow::compute::concat_batches(&t.def.schema(), &parts)?,
    };
    let merged = match t.parent {
        None if t.key.is_empty() => combined,
        // Only new rows, already deduplicated and in key order by the reader: nothing to
        // drop (checked: keys strictly increasing), so skip the sort, hash and copies.
        None if !existing_path.exists() && strictly_increasing(&combined, t.key)? => combined,
        None => keep_last(&combined, t)?,
        // Children read with their parents (deferred: only the children of the copies the
        // read kept) into a partition new on both sides: the check below would keep every
        // row, after hashing each one's (key, file) pair.
        Some((parent, _))
            if !existing_path.exists()
                && matches!(c.new, Incoming::Deferred(_))
                && c.kept_parents
                    .get(&(parent, dt.clone()))
                    .is_some_and(|k| k.only_new) =>
        {
            combined
        }
        Some((parent, key)) => {
            let kept = c
                .kept_parents
                .get(&(parent, dt.clone()))
                .map(KeptRows::pairs);
            let keys = strings(&combined, key)?;
            let src = strings(&combined, "source_file")?;
            let keep: Vec<bool> = (0..combined.num_rows())
                .map(|i| {
                    kept.as_ref().is_some_and(|k| {
                        keys.is_valid(i) && k.contains(&(keys.value(i), src.value(i)))
                    })
                })
                .collect();
            filter(&combined, keep)?
        }
    };
    let files = FileIndex::new(strings(&merged, "source_file")?);
    let sources = files.paths.iter().flatten().cloned().collect();
    let kept = (t.parent.is_none() && !t.key.is_empty())
        .then(|| -> Result<KeptRows> {
            Ok(KeptRows {
                keys: strings(&merged, t.key[0])?.clone(),
                files,
                only_new: !existing_path.exists() && merged.num_rows() == new_rows,
            })
        })
        .transpose()?;
    let mut out = Merged {
        dt,
        rows: merged.num_rows(),
        sources,
        kept,
        staged: None,
        removal: None,
    };
    if merged.num_rows() == 0 {
        out.removal = existing_path.exists().then_some(rel);
    } else {
        let staged = format!("{}/{rel}", c.staging_rel);
        write_parquet(&c.root.join(&staged), &merged, c.run_id, t)?;
        out.staged = Some((staged, rel));
    }
    Ok(out)
}

/// Ingests the files under `paths` into the lake at `root`.
pub fn ingest(root: &Path, paths: &[PathBuf], on_bad: OnBadFile) -> Result<IngestReport> {
    let started = std::time::Instant::now();
    std::fs::create_dir_all(meta_dir(root)).map_err(io(root))?;
    let mut report = IngestReport {
        run_id: chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ").to_string()
            + &format!("-{}", std::process::id()),
        recovered_previous_run: recover(root)?,
        ..IngestReport::default()
    };
    let mut manifest = load_manifest(root)?;
    // Identity of a file is its absolute path, whatever the command line said.
    let mut absolute = Vec::with_capacity(paths.len());
    for p in paths {
        absolute.push(std::fs::canonicalize(p).map_err(io(p))?);
    }
    let candidates = source::discover(&absolute)?;
    report.files_seen = candidates.len();

    // Which files are new or changed, and of which format.
    let mut fresh: BTreeMap<Vendor, Vec<Candidate>> = BTreeMap::new();
    // Each file's digest: taken here for a path the lake has seen (to tell whether it
    // changed), by the read for a new path (from the bytes it parses).
    let mut identity: HashMap<String, (Arc<OnceLock<source::Digest>>, Vendor)> = HashMap::new();
    let mut rejects = Rejects::default();
    // Hash the known files and sniff every new or changed one in parallel; decide in order.
    let scanned: Vec<Result<Scanned>> = candidates
        .par_iter()
        .map(|c| {
            let key = c.path.to_string_lossy().into_owned();
            let digest = OnceLock::new();
            let mut unchanged = false;
            if let Some(e) = manifest.files.get(&key) {
                let (size, hash) = hash_file(&c.path)?;
                unchanged = e.size == size && e.hash == hash;
                let _ = digest.set((size, hash));
            }
            let sniffed = (!unchanged).then(|| source::sniff(c));
            Ok((key, Arc::new(digest), sniffed))
        })
        .collect();
    for (c, scan) in candidates.iter().zip(scanned) {
        let (key, digest, sniffed) = scan?;
        let Some(sniffed) = sniffed else {
            report.files_unchanged += 1;
            continue;
        };
        let vendor = match sniffed {
            Ok(Some(v)) => v,
            Ok(None) => continue, // not JSON, below a directory
            Err(e) if on_bad == OnBadFile::Skip && e.is_bad_file() => {
                rejects.files.push((c.path.clone(), e.to_string()));
                continue;
            }
            Err(e) => return Err(e),
        };
        let family = match vendor {
            Vendor::SamespaceLogs | Vendor::SamespaceProductivity | Vendor::SamespaceCsat => {
                Vendor::SamespaceCalls
            }
            v => v,
        };
        identity.insert(key, (digest.clone(), vendor));
        fresh.entry(family).or_default().push(Candidate {
            digest: Some(digest),
            ..c.clone()
        });
    }

    // Read the new files, format by format.
    let mut incoming: BTreeMap<&'static str, Incoming> = BTreeMap::new();
    for (vendor, files) in &fresh {
        match vendor {
            Vendor::Ultimate => {
                // In partition order, so each partition is written from a slice of rows.
                let opts = ultimate::Options {
                    by_start_day: true,
                    ..ultimate::Options::default()
                };
                let t = ultimate::read_deferred(files, &opts, on_bad, &mut rejects)?;
                report.note_keyless(&t.stats);
                incoming.insert("bot_conversations", Incoming::Deferred(t.conversations));
                incoming.insert("bot_intents", Incoming::Deferred(t.intents));
            }
            Vendor::Dialpad => {
                let t = dialpad::read(files, &dialpad::Options::default(), on_bad, &mut rejects)?;
                report.note_keyless(&t.stats);
                incoming.insert("messages", Incoming::Batch(t.messages));
            }
            Vendor::Anywhere365 => {
                let t = anywhere365::read(
                    files,
                    &anywhere365::Options::default(),
                    on_bad,
                    &mut rejects,
                )?;
                report.note_keyless(&t.stats);
                incoming.insert("dialogues", Incoming::Batch(t.dialogues));
            }
            _ => {
                let t = samespace::read(files, on_bad, &mut rejects)?;
                report.note_keyless(&t.stats);
                for (name, batch) in [
                    ("calls", t.calls),
                    ("csat_calls", t.csat_calls),
                    ("csat_answers", t.csat_answers),
                    ("agent_sessions", t.agent_sessions),
                    ("productivity", t.productivity),
                ] {
                    incoming.insert(name, Incoming::Batch(batch));
                }
            }
        }
    }
    let rejected: HashSet<String> = rejects
        .files
        .iter()
        .map(|(p, _)| p.to_string_lossy().into_owned())
        .collect();
    report.files_rejected = rejects
        .files
        .iter()
        .map(|(p, why)| (p.to_string_lossy().into_owned(), why.clone()))
        .collect();
    identity.retain(|k, _| !rejected.contains(k));
    if identity.is_empty() {
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }

    // Files re-ingested because they changed: their old rows leave the lake.
    let replaced: HashSet<String> = identity
        .keys()
        .filter(|k| manifest.files.contains_key(*k))
        .cloned()
        .collect();
    let mut stale_partitions: BTreeSet<String> = BTreeSet::new();
    for f in &replaced {
        stale_partitions.extend(manifest.files[f].partitions.iter().cloned());
    }

    let staging_rel = format!("_cxkpi/staging/{}", report.run_id);
    let mut renames: Vec<(String, String)> = Vec::new();
    let mut removals: Vec<String> = Vec::new();
    let mut file_partitions: HashMap<String, BTreeSet<String>> = HashMap::new();
    let mut file_rows: HashMap<String, u64> = HashMap::new();
    // Each parent table's partitions, for its child tables.
    let mut parent_dt: HashMap<&'static str, ParentDays> = HashMap::new();
    // Per partition of a parent table: the kept (key, source_file) pairs.
    let mut kept_parents: HashMap<(&'static str, String), KeptRows> = HashMap::new();

    for t in TABLES {
        let name = t.def.name;
        let new = incoming
            .remove(name)
            .unwrap_or_else(|| Incoming::Batch(RecordBatch::new_empty(t.def.schema())));
        report.rows_read.insert(name.to_string(), new.num_rows());
        for (s, n) in new.rows_per_source()? {
            *file_rows.entry(s.to_string()).or_default() += n;
        }
        // Partition of every new row, as an index into `dt_names`.
        let (dt_names, dts): (Vec<String>, Vec<u32>) = match (t.partition_by, t.parent) {
            (Some(c), _) => days(&new.column(c)?)?,
            (None, Some((parent, key))) => child_days(parent_dt.get(parent), &new, key)?,
            (None, None) => (vec![NULL_PARTITION.to_string()], vec![0; new.num_rows()]),
        };
        let mut by_index: Vec<Vec<u32>> = vec![Vec::new(); dt_names.len()];
        for (i, &d) in dts.iter().enumerate() {
            by_index[d as usize].push(i as u32);
        }
        let mut by_dt: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (name, rows) in dt_names.iter().zip(by_index) {
            if !rows.is_empty() {
                let all = by_dt.entry(name.clone()).or_default();
                let merge = !all.is_empty();
                all.extend(rows);
                if merge {
                    all.sort_unstable(); // rows stay in delivery order within a partition
                }
            }
        }
        // Partitions to rewrite: those with new rows, and those holding rows of replaced files.
        let mut touched: BTreeSet<String> = by_dt.keys().cloned().collect();
        for p in &stale_partitions {
            if let Some(dt) = p.strip_prefix(&format!("{name}/dt=")) {
                touched.insert(dt.to_string());
            }
        }
        // Partitions are independent: merge and write them in parallel.
        let ctx = MergeContext {
            root,
            table: t,
            new: &new,
            by_dt: &by_dt,
            replaced: &replaced,
            kept_parents: &kept_parents,
            staging_rel: &staging_rel,
            run_id: &report.run_id,
        };
        let merged: Vec<Merged> = touched
            .into_iter()
            .collect::<Vec<_>>()
            .into_par_iter()
            .map(|dt| merge_partition(&ctx, dt))
            .collect::<Result<_>>()?;
        for m in merged {
            let partition = format!("{name}/dt={}", m.dt);
            for s in m.sources {
                file_partitions
                    .entry(s)
                    .or_default()
                    .insert(partition.clone());
            }
            *report.rows_written.entry(name.to_string()).or_default() += m.rows;
            if let Some(kept) = m.kept {
                kept_parents.insert((name, m.dt.clone()), kept);
            }
            if let Some(r) = m.removal {
                removals.push(r);
            }
            if let Some(rename) = m.staged {
                renames.push(rename);
                report.partitions_written += 1;
            }
        }
        if t.parent.is_none() && !t.key.is_empty() && t.partition_by.is_some() {
            let rows = match &new {
                Incoming::Deferred(d) => {
                    let mut at: Vec<Vec<u32>> = d
                        .parts
                        .iter()
                        .map(|p| vec![u32::MAX; p.num_rows()])
                        .collect();
                    for (&(p, r), &dt) in d.positions.iter().zip(&dts) {
                        at[p][r] = dt;
                    }
                    ParentRows::Positions(at)
                }
                Incoming::Batch(_) => {
                    ParentRows::Keys(new.column(t.key[0])?.as_string::<i32>().clone(), dts)
                }
            };
            parent_dt.insert(
                name,
                ParentDays {
                    names: dt_names,
                    rows,
                },
            );
        }
        // The table's chunks go here: hand their memory back to the OS while the next
        // table is merged (or the peak holds both tables' chunks), on a thread of its own,
        // not waited for: unmapping a gigabyte stopped both cores' merges for a sixth of
        // a second, and after the last table it only delayed the commit. Should no thread
        // be available, the failed spawn drops the closure, freeing the chunks right here.
        let free = move || {
            drop(new);
            crate::alloc::release_freed();
        };
        let _ = std::thread::Builder::new()
            .name("cxkpi-free".into())
            .spawn(free);
    }

    // The new manifest: the ingested files, and updated partitions for the files kept.
    for (path, (digest, vendor)) in &identity {
        // Every read file was digested as it was loaded; hashed here only should a reader
        // not have loaded it.
        let (size, hash) = match digest.get() {
            Some(d) => d.clone(),
            None => hash_file(Path::new(path))?,
        };
        manifest.files.insert(
            path.clone(),
            FileEntry {
                size,
                hash,
                format: format_name(*vendor).to_string(),
                rows: file_rows.get(path).copied().unwrap_or(0),
                partitions: BTreeSet::new(),
                run_id: report.run_id.clone(),
            },
        );
    }
    for (path, entry) in manifest.files.iter_mut() {
        if let Some(parts) = file_partitions.get(path) {
            entry.partitions.extend(parts.iter().cloned());
        }
    }
    sync_staged(root, &renames)?;
    let staged_manifest = format!("{staging_rel}/manifest.json");
    let bytes = serde_json::to_vec_pretty(&manifest).map_err(|e| Error::Usage(e.to_string()))?;
    write_atomic(&root.join(&staged_manifest), &bytes)?;
    renames.push((staged_manifest, "_cxkpi/manifest.json".into()));
    crash_point("staged");

    let journal = Journal {
        run_id: report.run_id.clone(),
        renames,
        removals,
    };
    let journal_bytes =
        serde_json::to_vec_pretty(&journal).map_err(|e| Error::Usage(e.to_string()))?;
    write_atomic(&meta_dir(root).join("journal.json"), &journal_bytes)?;
    crash_point("journaled");
    recover(root)?;
    report.files_ingested = identity.len();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// The lake's tables in the readers' shapes, so every metric runs unchanged on them.
pub fn ultimate_tables(root: &Path, scope: Scope) -> Result<ultimate::Tables> {
    // A query that names its columns (metrics) takes the partitions as they are (see
    // `ultimate::Tables::conversations`) and never reads the intents.
    let (conversations, intents) = match scope.only {
        Some(_) => (
            read_parts(root, &table::BOT_CONVERSATIONS, &scope)?,
            RecordBatch::new_empty(table::BOT_INTENTS.schema()),
        ),
        None => (
            vec![read_scope(root, &table::BOT_CONVERSATIONS, &scope)?],
            read_scope(root, &table::BOT_INTENTS, &scope)?,
        ),
    };
    let records = conversations.iter().map(RecordBatch::num_rows).sum();
    Ok(ultimate::Tables {
        stats: stats(root, "bot_conversations", records)?,
        conversations,
        intents,
    })
}

/// Dialpad messages are never pruned by day: an interaction's messages can cross midnight.
pub fn dialpad_tables(root: &Path, scope: Scope) -> Result<dialpad::Tables> {
    let whole_days = Scope {
        from: None,
        to: None,
        ..scope
    };
    let messages = read_scope(root, &table::MESSAGES, &whole_days)?;
    let interactions = dialpad::interactions_of(&messages)?;
    Ok(dialpad::Tables {
        stats: stats(root, "messages", messages.num_rows())?,
        messages,
        interactions,
    })
}

pub fn anywhere365_tables(root: &Path, scope: Scope) -> Result<anywhere365::Tables> {
    let dialogues = read_scope(root, &table::DIALOGUES, &scope)?;
    Ok(anywhere365::Tables {
        stats: stats(root, "dialogues", dialogues.num_rows())?,
        dialogues,
    })
}

/// Samespace tables; `days` prunes calls, CSAT and session logs (each by its own start).
pub fn samespace_tables(root: &Path, scope: Scope) -> Result<samespace::Tables> {
    let calls = read_scope(root, &table::CALLS, &scope)?;
    Ok(samespace::Tables {
        stats: stats(root, "calls", calls.num_rows())?,
        calls,
        csat_calls: read_scope(root, &table::CSAT_CALLS, &scope)?,
        csat_answers: read_scope(root, &table::CSAT_ANSWERS, &scope)?,
        agent_sessions: read_scope(root, &table::AGENT_SESSIONS, &scope)?,
        productivity: read_table(root, &table::PRODUCTIVITY)?,
    })
}

fn stats(root: &Path, table: &str, records: usize) -> Result<source::Stats> {
    if !root.join("_cxkpi").exists() {
        return Err(Error::Usage(format!(
            "{} is not a cxkpi lake (no _cxkpi directory)",
            root.display()
        )));
    }
    Ok(source::Stats {
        files: partition_files(root, table)?.len().max(1),
        records,
        ..source::Stats::default()
    })
}

/// `CREATE` statements for the lake's tables in another engine.
pub fn ddl(root: &Path, engine: &str) -> Result<String> {
    let root = root.to_string_lossy();
    let mut out = String::new();
    for t in TABLES {
        let name = t.def.name;
        let cols = |ty: &dyn Fn(table::Kind) -> &'static str| {
            t.def
                .columns
                .iter()
                .map(|c| format!("  {} {}", c.name, ty(c.kind)))
                .collect::<Vec<_>>()
                .join(",\n")
        };
        match engine {
            "duckdb" => out += &format!(
                "CREATE OR REPLACE VIEW {name} AS\n  SELECT * FROM read_parquet('{root}/{name}/*/*.parquet', hive_partitioning = true);\n\n"
            ),
            "spark" => {
                let ty = |k: table::Kind| match k {
                    table::Kind::Utf8 => "STRING",
                    table::Kind::Int64 => "BIGINT",
                    table::Kind::Float64 => "DOUBLE",
                    table::Kind::Bool => "BOOLEAN",
                    table::Kind::Timestamp => "TIMESTAMP",
                    table::Kind::Utf8List => "ARRAY<STRING>",
                };
                out += &format!(
                    "CREATE TABLE IF NOT EXISTS {name} (\n{},\n  dt STRING\n) USING PARQUET PARTITIONED BY (dt) LOCATION '{root}/{name}';\nMSCK REPAIR TABLE {name};\n\n",
                    cols(&ty)
                );
            }
            "trino" => {
                let ty = |k: table::Kind| match k {
                    table::Kind::Utf8 => "varchar",
                    table::Kind::Int64 => "bigint",
                    table::Kind::Float64 => "double",
                    table::Kind::Bool => "boolean",
                    table::Kind::Timestamp => "timestamp(6) with time zone",
                    table::Kind::Utf8List => "array(varchar)",
                };
                out += &format!(
                    "CREATE TABLE IF NOT EXISTS hive.cxkpi.{name} (\n{},\n  dt varchar\n) WITH (format = 'PARQUET', partitioned_by = ARRAY['dt'], external_location = '{root}/{name}');\nCALL system.sync_partition_metadata('cxkpi', '{name}', 'FULL');\n\n",
                    cols(&ty)
                );
            }
            other => {
                return Err(Error::Usage(format!("unknown engine {other:?}: expected duckdb, spark or trino")))
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_read_in_pieces_hashes_as_its_bytes_in_one_go() {
        // Manifests written before the file was hashed through a buffer must still match.
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1, 255 << 10, 256 << 10, (256 << 10) + 1, 700_001] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &bytes).unwrap();
            let expected = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes));
            assert_eq!(
                hash_file(&path).unwrap(),
                (len as u64, expected),
                "{len} bytes"
            );
        }
    }

    #[test]
    fn every_canonical_table_but_derived_ones_has_a_place_in_the_lake() {
        for t in crate::table::TABLES {
            if t.name == "interactions" {
                continue; // derived from messages when read
            }
            assert!(
                lake_table(t.name).is_some(),
                "{} has no lake layout",
                t.name
            );
        }
        for t in TABLES {
            assert!(
                t.def.columns.iter().any(|c| c.name == "source_file"),
                "{}",
                t.def.name
            );
        }
    }
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
