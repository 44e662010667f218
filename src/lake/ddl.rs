//! `cxkpi ddl`: the lake's tables defined for DuckDB, Spark and Trino.
//!
//! Locations are absolute: an engine resolves a relative one against its own working
//! directory or warehouse, not the lake. `--location` gives the lake's URI as the cluster sees
//! it (`s3a://…`, `abfss://…`, `gs://…`) while the local lake is read to tell which tables
//! hold data. A table the lake does not hold yet is still defined, empty and typed, so every
//! query plans on a partial lake; nothing scans or repairs a folder that does not exist.

use std::path::Path;

use super::read::partition_files;
use super::{io, TABLES};
use crate::error::{Error, Result};
use crate::table;

/// `CREATE` statements for the lake's tables in `engine`, located under `location` (the
/// lake's absolute path when `None`).
pub fn ddl(root: &Path, engine: &str, location: Option<&str>) -> Result<String> {
    if !super::meta_dir(root).exists() {
        return Err(Error::Usage(format!(
            "{} is not a cxkpi lake (no _cxkpi directory)",
            root.display()
        )));
    }
    let base = match location {
        Some(uri) => uri.trim_end_matches('/').to_string(),
        None => std::fs::canonicalize(root)
            .map_err(io(root))?
            .to_string_lossy()
            .into_owned(),
    };
    let mut out = String::new();
    for t in TABLES {
        let name = t.def.name;
        let present = !partition_files(root, name)?.is_empty();
        let cols = |ty: &dyn Fn(table::Kind) -> &'static str| {
            t.def
                .columns
                .iter()
                .map(|c| format!("  {} {}", c.name, ty(c.kind)))
                .collect::<Vec<_>>()
                .join(",\n")
        };
        let at = quoted(engine, &format!("{base}/{name}"));
        match engine {
            "duckdb" if present => out += &format!(
                "CREATE OR REPLACE VIEW {name} AS\n  SELECT * FROM read_parquet({at}, hive_partitioning = true);\n\n"
            ),
            "duckdb" => {
                let ty = |k: table::Kind| match k {
                    table::Kind::Utf8 => "VARCHAR",
                    table::Kind::Int64 => "BIGINT",
                    table::Kind::Float64 => "DOUBLE",
                    table::Kind::Bool => "BOOLEAN",
                    table::Kind::Timestamp => "TIMESTAMPTZ",
                    table::Kind::Utf8List => "VARCHAR[]",
                };
                let select = t
                    .def
                    .columns
                    .iter()
                    .map(|c| format!("CAST(NULL AS {}) AS {}", ty(c.kind), c.name))
                    .collect::<Vec<_>>()
                    .join(", ");
                // As DuckDB's Hive partitioning types it: a date, but for a table that only
                // has the null partition.
                let dt = match t.partition_by.is_none() && t.parent.is_none() {
                    true => "VARCHAR",
                    false => "DATE",
                };
                out += &format!(
                    "-- {name}: no data in the lake yet; defined empty (run `cxkpi ddl` again once it has some)\nCREATE OR REPLACE VIEW {name} AS\n  SELECT {select}, CAST(NULL AS {dt}) AS dt WHERE false;\n\n"
                );
            }
            "spark" => {
                let ty = |k: table::Kind| match k {
                    table::Kind::Utf8 => "STRING",
                    table::Kind::Int64 => "BIGINT",
                    table::Kind::Float64 => "DOUBLE",
                    table::Kind::Bool => "BOOLEAN",
                    table::Kind::Timestamp => "TIMESTAMP",
                    table::Kind::Utf8List => "ARRAY<STRING>",
                };
                // The note on an empty table comes before its statement: a statement runner
                // that splits at `;` (spark.sql, notebooks) rejects a comment on its own.
                if !present {
                    out += &format!("-- {name}: no partitions yet; run MSCK REPAIR TABLE {name} once an ingest fills it\n");
                }
                out += &format!(
                    "CREATE TABLE IF NOT EXISTS {name} (\n{},\n  dt STRING\n) USING PARQUET PARTITIONED BY (dt) LOCATION {at};\n",
                    cols(&ty)
                );
                out += &match present {
                    true => format!("MSCK REPAIR TABLE {name};\n\n"),
                    false => "\n".into(),
                };
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
                if !present {
                    out += &format!("-- {name}: no partitions yet; sync its partition metadata once an ingest fills it\n");
                }
                out += &format!(
                    "CREATE TABLE IF NOT EXISTS hive.cxkpi.{name} (\n{},\n  dt varchar\n) WITH (format = 'PARQUET', partitioned_by = ARRAY['dt'], external_location = {at});\n",
                    cols(&ty)
                );
                out += &match present {
                    true => format!("CALL system.sync_partition_metadata('cxkpi', '{name}', 'FULL');\n\n"),
                    false => "\n".into(),
                };
            }
            other => {
                return Err(Error::Usage(format!(
                    "unknown engine {other:?}: expected duckdb, spark or trino"
                )))
            }
        }
    }
    Ok(out)
}

/// `location` as a string literal of `engine`'s SQL (a lake's path may hold a quote, as in
/// `/data/it's`), with DuckDB's glob of a table's partition files appended. DuckDB and
/// Trino double a quote; Spark SQL escapes it and a backslash with a backslash (two quoted
/// strings side by side are one string to Spark, so doubling would drop the quote). In
/// DuckDB's glob the path's own `*`, `?` and `[` are bracketed, so they match themselves.
fn quoted(engine: &str, location: &str) -> String {
    match engine {
        "duckdb" => {
            let literal: String = (location.chars())
                .map(|c| match c {
                    '*' | '?' | '[' => format!("[{c}]"),
                    '\'' => "''".into(),
                    c => c.into(),
                })
                .collect();
            format!("'{literal}/*/*.parquet'")
        }
        "spark" => format!("'{}'", location.replace('\\', "\\\\").replace('\'', "\\'")),
        _ => format!("'{}'", location.replace('\'', "''")),
    }
}

#[cfg(test)]
mod tests {
    use super::quoted;

    #[test]
    fn a_location_with_quotes_and_backslashes_is_one_literal_in_each_engine() {
        let at = r"/data/it's\lake";
        assert_eq!(quoted("duckdb", at), r"'/data/it''s\lake/*/*.parquet'");
        assert_eq!(
            quoted("duckdb", "/d/x[1]*?"),
            "'/d/x[[]1][*][?]/*/*.parquet'"
        );
        assert_eq!(quoted("trino", at), r"'/data/it''s\lake'");
        assert_eq!(quoted("spark", at), r"'/data/it\'s\\lake'");
    }
}
