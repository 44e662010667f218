//! `cxkpi ddl`: the lake's tables defined for DuckDB, Spark and Trino.

use std::path::Path;

use super::TABLES;
use crate::error::{Error, Result};
use crate::table;

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
