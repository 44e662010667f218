//! The Parquet lake: incremental, idempotent, crash-safe ingest of export files into
//! Hive-partitioned Parquet that DuckDB, Spark and Trino read, and reading it back.
//!
//! Layout: `DIR/<table>/dt=YYYY-MM-DD/part-00000.parquet`, one file per partition (the UTC day
//! of the table's business timestamp; `dt=__HIVE_DEFAULT_PARTITION__` when it is null), plus
//! `DIR/_cxkpi/` for the manifest, the lock, the journal and staging. A partition is always
//! rewritten whole, never appended to, so a record delivered again replaces its earlier copy.
//!
//! One file per job:
//! - this file: where each table sits (partition column, key, merge order, parent);
//! - [`lock`]: one run at a time per lake (an OS file lock, released by the kernel when the
//!   holder dies);
//! - [`commit`]: the commit protocol (staging, journal, recovery);
//! - [`manifest`]: the files already ingested, by path, size and hash;
//! - [`ingest`]: an ingest run, batch by batch, staged as it goes and committed once;
//! - [`merge`]: the merge rule of one partition (re-deliveries, replaced files, children);
//! - [`hold`]: the merged partitions a run keeps in memory between batches;
//! - [`parquet`]: writing and reading partition files;
//! - [`read`]: reading the lake back for queries (pruning, projection);
//! - [`ddl`]: table definitions for other engines.

mod commit;
mod ddl;
mod hold;
mod ingest;
mod lock;
mod manifest;
mod merge;
mod parquet;
mod read;

use std::path::{Path, PathBuf};

use crate::error::Error;
use crate::table::{self, TableDef};

pub use ddl::ddl;
pub use ingest::{ingest, new_run_id, IngestOptions, IngestReport, DEFAULT_BATCH_BYTES};
pub use lock::{Holder, LakeLock, DEFAULT_WAIT};
pub use manifest::{load_manifest, FileEntry, Manifest};
pub use read::{
    anywhere365_tables, dialpad_tables, read_scope, read_table, samespace_tables, ultimate_tables,
    Scope,
};

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

/// The one file of a partition directory.
const PART_FILE: &str = "part-00000.parquet";

fn partition_file(table: &str, dt: &str) -> String {
    format!("{table}/dt={dt}/{PART_FILE}")
}

/// The name of the lake's own directory (manifest, lock, journal, staging): it marks a
/// directory as a lake, which the discovery of export files passes over.
pub const META_DIR: &str = "_cxkpi";

/// The lake's own directory.
fn meta_dir(root: &Path) -> PathBuf {
    root.join(META_DIR)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path, e)
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
