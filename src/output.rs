//! Writing result tables: terminal table, CSV, JSON, NDJSON, Parquet.
//!
//! One writer path serves every command (metrics, tables). Data goes to stdout or to
//! `--output FILE`; a file is written under a temporary name beside it and renamed, so a
//! failed or interrupted run never leaves a partial output file.

use std::fs::File;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;

use crate::error::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// Aligned table for people (default on a terminal).
    Table,
    /// CSV with a header row (default when stdout is not a terminal).
    Csv,
    /// One JSON array of row objects; nulls written as null.
    Json,
    /// One JSON object per line.
    Ndjson,
    /// Parquet (zstd); needs --output or a pipe.
    Parquet,
}

/// The format to use when none was asked for.
pub fn default_format(output: Option<&Path>) -> Format {
    match output.and_then(|p| p.extension()).and_then(|e| e.to_str()) {
        Some("parquet") => Format::Parquet,
        Some("json") => Format::Json,
        Some("ndjson") | Some("jsonl") => Format::Ndjson,
        Some("csv") => Format::Csv,
        _ if output.is_none() && io::stdout().is_terminal() => Format::Table,
        _ => Format::Csv,
    }
}

/// Writes `batch` in `format` to `output` (atomically) or to stdout.
pub fn write(batch: &RecordBatch, format: Format, output: Option<&Path>) -> Result<()> {
    match output {
        Some(path) if path != Path::new("-") => write_file(batch, format, path),
        _ => {
            if format == Format::Parquet && io::stdout().is_terminal() {
                return Err(Error::Usage(
                    "refusing to write Parquet to a terminal: use --output FILE or a pipe".into(),
                ));
            }
            // Not `stdout().lock()`: the Parquet writer needs a `Send` sink.
            let mut w = BufWriter::new(io::stdout());
            match encode(batch, format, &mut w)
                .and_then(|_| w.flush().map_err(|e| Error::io(Path::new("<stdout>"), e)))
            {
                // A closed pipe (`| head`) is the reader's choice, not an error.
                Err(Error::Io { source, .. }) if source.kind() == io::ErrorKind::BrokenPipe => {
                    Ok(())
                }
                r => r,
            }
        }
    }
}

/// Writes to a temporary file in the same directory, then renames it into place.
pub fn write_file(batch: &RecordBatch, format: Format, path: &Path) -> Result<()> {
    write_with(path, |w| encode(batch, format, w))
}

/// Writes `bytes` to `path` atomically (a temporary name, then rename).
pub fn write_atomically(path: &Path, bytes: &[u8]) -> Result<()> {
    write_with(path, |w| w.write_all(bytes).map_err(|e| Error::io(path, e)))
}

fn write_with(path: &Path, fill: impl FnOnce(&mut BufWriter<File>) -> Result<()>) -> Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        let file = File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        let mut w = BufWriter::new(file);
        fill(&mut w).map_err(|e| match e {
            Error::Io { path: p, source } if p == Path::new(OUTPUT) => Error::io(path, source),
            e => e,
        })?;
        let file = w
            .into_inner()
            .map_err(|e| Error::io(&tmp, e.into_error()))?;
        file.sync_all().map_err(|e| Error::io(&tmp, e))?;
        std::fs::rename(&tmp, path).map_err(|e| Error::io(path, e))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

pub fn temp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "output".into());
    path.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// The path an encoder's I/O errors name: stdout, or the file of `--output`, which
/// [`write_with`] puts in its place.
const OUTPUT: &str = "<stdout>";

fn io_err(e: io::Error) -> Error {
    Error::io(Path::new(OUTPUT), e)
}

/// Encodes `batch` into `w`. A failed write is an I/O error whatever the encoder made of it
/// (the CSV writer turns one into text, the Parquet writer into its own error), so a full
/// disk or a closed pipe is told apart from a bug.
fn encode<W: Write + Send>(batch: &RecordBatch, format: Format, w: &mut W) -> Result<()> {
    let mut w = Recording {
        inner: w,
        failed: None,
    };
    encode_into(batch, format, &mut w).map_err(|e| match w.failed.take() {
        Some(source) => io_err(source),
        None => e,
    })
}

/// A writer that keeps a copy of its first write error.
struct Recording<W> {
    inner: W,
    failed: Option<io::Error>,
}

impl<W: Write> Recording<W> {
    fn record<T>(&mut self, r: io::Result<T>) -> io::Result<T> {
        if let Err(e) = &r {
            if self.failed.is_none() {
                self.failed = Some(io::Error::new(e.kind(), e.to_string()));
            }
        }
        r
    }
}

impl<W: Write> Write for Recording<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.inner.write(buf);
        self.record(r)
    }
    fn flush(&mut self) -> io::Result<()> {
        let r = self.inner.flush();
        self.record(r)
    }
}

fn encode_into<W: Write + Send>(batch: &RecordBatch, format: Format, w: &mut W) -> Result<()> {
    match format {
        Format::Table => {
            let shown = lists_as_json_text(batch)?;
            let table = arrow::util::pretty::pretty_format_batches(&[shown])?;
            writeln!(w, "{table}").map_err(io_err)?;
        }
        Format::Csv => {
            let shown = lists_as_json_text(batch)?;
            let mut cw = arrow::csv::WriterBuilder::new().with_header(true).build(w);
            cw.write(&shown)?;
        }
        Format::Json => {
            let mut jw = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::JsonArray>(&mut *w);
            jw.write(batch)?;
            jw.finish()?;
            writeln!(w).map_err(io_err)?;
        }
        Format::Ndjson => {
            let mut jw = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::LineDelimited>(&mut *w);
            jw.write(batch)?;
            jw.finish()?;
        }
        Format::Parquet => {
            let props = WriterProperties::builder()
                .set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?))
                .set_created_by(format!("cxkpi {}", env!("CARGO_PKG_VERSION")))
                .build();
            let mut pw = ArrowWriter::try_new(&mut *w, batch.schema(), Some(props))?;
            pw.write(batch)?;
            pw.close()?;
        }
    }
    Ok(())
}

/// CSV and the terminal table have no list type: show list columns as JSON arrays.
fn lists_as_json_text(batch: &RecordBatch) -> Result<RecordBatch> {
    let schema = batch.schema();
    if !schema
        .fields()
        .iter()
        .any(|f| matches!(f.data_type(), DataType::List(_) | DataType::LargeList(_)))
    {
        return Ok(batch.clone());
    }
    let mut fields = Vec::new();
    let mut arrays: Vec<ArrayRef> = Vec::new();
    for (f, a) in schema.fields().iter().zip(batch.columns()) {
        if let DataType::List(_) = f.data_type() {
            let list = a.as_list::<i32>();
            let text: StringArray = (0..list.len())
                .map(|i| {
                    list.is_valid(i).then(|| {
                        let v = list.value(i);
                        let items: Vec<Option<&str>> = v.as_string::<i32>().iter().collect();
                        serde_json::to_string(&items).unwrap_or_default()
                    })
                })
                .collect();
            fields.push(Field::new(f.name(), DataType::Utf8, true));
            arrays.push(Arc::new(text));
        } else {
            fields.push(f.as_ref().clone());
            arrays.push(a.clone());
        }
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays)?)
}
