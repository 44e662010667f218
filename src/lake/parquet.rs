//! Partition files: how they are written (encodings chosen per column) and read back
//! (whole, or projected to the columns a query reads).

use std::fs::File;
use std::path::Path;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use parquet::arrow::arrow_reader::{
    ArrowReaderMetadata, ArrowReaderOptions, ParquetRecordBatchReaderBuilder,
};
use parquet::arrow::arrow_writer::compute_leaves;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use rayon::prelude::*;

use super::{io, LakeTable};
use crate::error::{Error, Result};
use crate::table::{self, TableDef};

/// Partitions smaller than this (in Arrow memory) are written uncompressed. Reading a
/// zstd column chunk makes parquet-rs create a zstd compressor and decompressor for it,
/// whatever its size: over five years of daily partitions of twenty dialogues, that was a
/// fifth of a query's time, where decoding the values themselves was a few percent. Small
/// partitions gain little from compression anyway.
const COMPRESS_FROM_BYTES: usize = 64 << 10;

fn writer_props(run_id: &str, t: &LakeTable, bytes: usize) -> Result<WriterProperties> {
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
        .set_compression(match bytes < COMPRESS_FROM_BYTES {
            true => Compression::UNCOMPRESSED,
            false => Compression::ZSTD(ZstdLevel::try_new(1)?),
        })
        .set_dictionary_enabled(true)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
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

pub(super) fn write_parquet(
    path: &Path,
    batch: &RecordBatch,
    run_id: &str,
    table: &LakeTable,
) -> Result<()> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io(dir))?;
    }
    let file = File::create(path).map_err(io(path))?;
    // The table's own schema, not the batch's: text columns may come as views (see
    // `merge::merge_partition`), which the writer encodes as the same Parquet strings.
    let schema = table.def.schema();
    // The rows' own bytes: a partition's columns are often slices of a run's larger ones.
    let bytes = (batch.columns().iter())
        .map(|c| c.to_data().get_slice_memory_size().unwrap_or(usize::MAX))
        .fold(0usize, usize::saturating_add);
    let props = writer_props(run_id, table, bytes)?;
    encode(&file, schema, props, batch).map_err(|e| Error::parquet_write(path, e))?;
    start_writeback(&file);
    Ok(())
}

/// Asks the kernel to start writing `file` to disk now, without waiting for it. Why: the
/// commit syncs every staged file at the end of a run (`commit::sync_staged`), and waiting
/// there for all of the writing, with both cores idle, was the last 5% of an ingest; started
/// here, the writing overlaps the rest of the run. Only a hint: the commit's sync is what
/// makes the files durable, whatever this does.
fn start_writeback(file: &File) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        // SAFETY: sync_file_range reads the open descriptor `file` owns and nothing else;
        // its result is ignored on purpose (see above).
        unsafe {
            libc::sync_file_range(file.as_raw_fd(), 0, 0, libc::SYNC_FILE_RANGE_WRITE);
        }
    }
    #[cfg(not(target_os = "linux"))]
    let _ = file;
}

/// Rows per row group at most: a day of any vendor's exports fits in one.
const ROW_GROUP_ROWS: usize = 1 << 20;

/// Writes `batch` as `ArrowWriter::write` would, byte for byte: the writer's own set-up
/// (the Parquet schema, the Arrow schema in the metadata), then row groups of at most
/// `props`' row count, each one's columns encoded on every core and appended in order.
/// Why: a partition's columns were encoded one after another, so the last partitions of
/// an ingest batch ran on one core while the other waited.
fn encode<W: std::io::Write + Send>(
    out: W,
    schema: SchemaRef,
    props: WriterProperties,
    batch: &RecordBatch,
) -> parquet::errors::Result<()> {
    let group_rows = props.max_row_group_row_count().unwrap_or(usize::MAX).max(1);
    let w = ArrowWriter::try_new(out, Arc::clone(&schema), Some(props))?;
    let (mut file, columns) = w.into_serialized_writer()?;
    let (mut start, mut index) = (0, 0);
    while start < batch.num_rows() {
        let rows = batch.slice(start, group_rows.min(batch.num_rows() - start));
        let mut leaves = Vec::with_capacity(schema.fields().len());
        for (field, column) in schema.fields().iter().zip(rows.columns()) {
            leaves.extend(compute_leaves(field, column)?);
        }
        let chunks = (columns
            .create_column_writers(index)?
            .into_par_iter()
            .zip(leaves))
        .map(|(mut w, leaf)| w.write(&leaf).and_then(|()| w.close()))
        .collect::<parquet::errors::Result<Vec<_>>>()?;
        let mut group = file.next_row_group()?;
        for chunk in chunks {
            chunk.append_to_row_group(&mut group)?;
        }
        group.close()?;
        (start, index) = (start + rows.num_rows(), index + 1);
    }
    file.close()?;
    Ok(())
}

pub(super) fn read_parquet(path: &Path, def: &TableDef) -> Result<RecordBatch> {
    read_parquet_columns(
        path,
        def,
        &super::Scope::default(),
        &table::Nulls::default(),
    )
}

/// The type a column of `def` is read as: its own, or with `codes` naming it (a text column
/// a query only matches the values of), `Dictionary(Int32, Utf8)`.
fn read_type(c: &table::Column, codes: &[&str]) -> DataType {
    match c.kind == table::Kind::Utf8 && codes.contains(&c.name) {
        true => DataType::Dictionary(Box::new(DataType::Int32), Box::new(DataType::Utf8)),
        false => c.kind.arrow(),
    }
}

/// Reads a partition file, projected as `scope` says: with `lean`, the heavy columns are
/// not read (Parquet projection) and come back as nulls, so the batch keeps the canonical
/// schema; with `only`, just the columns named; `codes` come as dictionaries.
///
/// Why codes: the lake's status columns are dictionary-encoded pages of a handful of
/// values. Decoded into strings they were most of a bot query's memory over a long history
/// (two text columns of 3 million rows); as dictionaries each row is a 4-byte key and the
/// text is matched once per distinct value.
pub(super) fn read_parquet_columns(
    path: &Path,
    def: &TableDef,
    scope: &super::Scope,
    nulls: &table::Nulls,
) -> Result<RecordBatch> {
    let file = File::open(path).map_err(io(path))?;
    let size = file.metadata().map_err(io(path))?.len();
    // A small file is read whole, in one call: read through the file, the reader asks for
    // the footer, then each column chunk, each a system call, and over five years of small
    // days those calls were a third of a query's time.
    let read = if size <= READ_WHOLE_BYTES {
        let mut buf = Vec::with_capacity(size as usize);
        std::io::Read::read_to_end(&mut &file, &mut buf).map_err(io(path))?;
        read_columns(bytes::Bytes::from(buf), def, scope, nulls)
    } else {
        read_columns(file, def, scope, nulls)
    };
    read.map_err(|e| Error::lake_file(path, e))
}

/// Files up to this size are read whole (see [`read_parquet_columns`]); larger ones by
/// column chunk, so the columns a query leaves out are not read at all (a day of the
/// benchmark's bot lake, 2.2 MB, mostly text no KPI reads, is still read that way).
const READ_WHOLE_BYTES: u64 = 1 << 20;

fn read_columns<R: parquet::file::reader::ChunkReader + 'static>(
    file: R,
    def: &TableDef,
    scope: &super::Scope,
    nulls: &table::Nulls,
) -> Result<RecordBatch> {
    let mut meta = ArrowReaderMetadata::load(&file, ArrowReaderOptions::new())?;
    let codes = scope.codes;
    if def
        .columns
        .iter()
        .any(|c| read_type(c, codes) != c.kind.arrow())
    {
        // The file's own schema with the code columns' types swapped: the reader checks the
        // rest (nullability, time zones) against the file.
        let fields: Vec<Field> = (meta.schema().fields().iter())
            .map(|f| match def.columns.iter().find(|c| c.name == f.name()) {
                Some(c) => f.as_ref().clone().with_data_type(read_type(c, codes)),
                None => f.as_ref().clone(),
            })
            .collect();
        let hint = Arc::new(Schema::new(fields));
        meta = ArrowReaderMetadata::try_new(
            meta.metadata().clone(),
            ArrowReaderOptions::new().with_schema(hint),
        )?;
    }
    let builder = ParquetRecordBatchReaderBuilder::new_with_metadata(file, meta);
    // One batch per file: no small batches to concatenate afterwards.
    let rows = builder.metadata().file_metadata().num_rows().max(1) as usize;
    let builder = builder.with_batch_size(rows);
    let only = scope.only.as_deref().map(Vec::as_slice);
    let skipped = |c: &table::Column| {
        (scope.lean && c.heavy) || only.is_some_and(|o| !o.iter().any(|n| n == c.name))
    };
    // Skipped columns read back as nulls, so they are declared nullable here, even the keys.
    let schema = Arc::new(Schema::new(
        def.columns
            .iter()
            .map(|c| Field::new(c.name, read_type(c, codes), c.nullable || skipped(c)))
            .collect::<Vec<_>>(),
    ));
    if !def.columns.iter().any(skipped) {
        let batches = builder
            .build()?
            .collect::<std::result::Result<Vec<_>, _>>()?;
        return Ok(arrow::compute::concat_batches(&schema, &batches)?);
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
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(def.columns.len());
    let mut next = read.into_iter();
    for (i, c) in def.columns.iter().enumerate() {
        if skipped(c) {
            arrays.push(nulls.of(schema.field(i).data_type(), rows));
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::table::Kind;
    use arrow::array::{
        BooleanArray, Float64Array, Int64Array, ListBuilder, StringArray, StringBuilder,
        TimestampMicrosecondArray,
    };

    /// `n` rows of `t`'s columns with values that vary by row, and nulls where allowed.
    fn rows(t: &LakeTable, n: usize) -> RecordBatch {
        let columns = (t.def.columns.iter())
            .map(|c| {
                let null = |i: usize| c.nullable && i % 5 == 4;
                let array: ArrayRef = match c.kind {
                    Kind::Utf8 => Arc::new(StringArray::from_iter(
                        (0..n).map(|i| (!null(i)).then(|| format!("{}-{}", c.name, i % 7))),
                    )),
                    Kind::Int64 => Arc::new(Int64Array::from_iter(
                        (0..n).map(|i| (!null(i)).then_some(i as i64 * 31 % 11)),
                    )),
                    Kind::Float64 => Arc::new(Float64Array::from_iter(
                        (0..n).map(|i| (!null(i)).then_some(i as f64 * 0.25)),
                    )),
                    Kind::Bool => Arc::new(BooleanArray::from_iter(
                        (0..n).map(|i| (!null(i)).then_some(i % 3 == 0)),
                    )),
                    Kind::Timestamp => Arc::new(
                        TimestampMicrosecondArray::from_iter(
                            (0..n).map(|i| (!null(i)).then_some(1_711_000_000_000_000 + i as i64)),
                        )
                        .with_timezone("UTC"),
                    ),
                    Kind::Utf8List => {
                        let mut b = ListBuilder::new(StringBuilder::new());
                        for i in 0..n {
                            match null(i) {
                                true => b.append_null(),
                                false => {
                                    (0..i % 3)
                                        .for_each(|k| b.values().append_value(format!("l{k}")));
                                    b.append(true);
                                }
                            }
                        }
                        Arc::new(b.finish())
                    }
                };
                array
            })
            .collect();
        RecordBatch::try_new(t.def.schema(), columns).unwrap()
    }

    #[test]
    fn row_groups_are_encoded_as_the_arrow_writer_encodes_them() {
        // Every lake table (every column kind, a list among them), compressed and not, in
        // one row group and in several (the last one short), and with no rows at all.
        for t in super::super::TABLES {
            for (n, group_rows, bytes) in [(50, 1 << 20, 0), (50, 7, 1 << 20), (0, 7, 0)] {
                let batch = rows(t, n);
                let props = || {
                    let built = writer_props("run", t, bytes).unwrap();
                    (built.into_builder())
                        .set_max_row_group_row_count(Some(group_rows))
                        .build()
                };
                let mut ours = Vec::new();
                encode(&mut ours, t.def.schema(), props(), &batch).unwrap();
                let mut theirs = Vec::new();
                let mut w =
                    ArrowWriter::try_new(&mut theirs, t.def.schema(), Some(props())).unwrap();
                w.write(&batch).unwrap();
                w.close().unwrap();
                assert!(
                    ours == theirs,
                    "{} with {n} rows by {group_rows}",
                    t.def.name
                );
                let back =
                    ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(ours)).unwrap();
                let groups = back.metadata().num_row_groups();
                assert_eq!(groups, n.div_ceil(group_rows), "{}", t.def.name);
                let read: Vec<RecordBatch> = back.build().unwrap().map(|b| b.unwrap()).collect();
                let read = arrow::compute::concat_batches(&t.def.schema(), &read).unwrap();
                assert_eq!(read, batch, "{}", t.def.name);
            }
        }
    }
}
