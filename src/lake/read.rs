//! Reading the lake back for queries: the partitions a range can touch (pruning) and the
//! columns a query reads (projection), in the readers' shapes so every metric runs unchanged.

use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;

use super::io;
use super::parquet::read_parquet_columns;
use crate::error::{Error, Result};
use crate::source::{self, anywhere365, dialpad, samespace, ultimate};
use crate::table::{self, TableDef};

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
    /// Text columns read as dictionaries (`Dictionary(Int32, Utf8)`) rather than strings:
    /// for a query that only matches their values (see `parquet::read_parquet_columns`).
    pub codes: &'static [&'static str],
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
pub(super) fn partition_files(root: &Path, table: &str) -> Result<Vec<(String, PathBuf)>> {
    let dir = root.join(table);
    let mut out = Vec::new();
    if !dir.exists() {
        return Ok(out);
    }
    for entry in std::fs::read_dir(&dir).map_err(io(&dir))? {
        let entry = entry.map_err(io(&dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some(dt) = name.strip_prefix("dt=") {
            let f = entry.path().join(super::PART_FILE);
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
    let nulls = table::Nulls::default();
    files
        .par_iter()
        .map(|f| read_parquet_columns(f, def, scope, &nulls))
        .collect()
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
