//! `cxkpi sql` from the command line: what it refuses (exit 2, nothing printed) and where it
//! writes. Its numbers are checked by running the SQL on DuckDB and Spark
//! (`scripts/sql_parity.py`, `scripts/parity.py`).

mod common;
use common::run;

#[track_caller]
fn refused(args: &[&str], says: &str) {
    let out = run(args);
    assert_eq!(out.status.code(), Some(2), "{args:?}");
    assert!(out.stdout.is_empty(), "{args:?}: printed SQL");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(says), "{args:?}: {err}");
}

#[test]
fn what_the_sql_cannot_express_is_an_error() {
    refused(&["sql", "bot"], "--engine is required");
    refused(
        &["sql", "bot", "--engine", "spark", "--exclude-intents", "Hi"],
        "--exclude-intents",
    );
    refused(
        &["sql", "bot", "data-samples/ultimate", "--engine", "duckdb"],
        "reads no files",
    );
    refused(
        &["sql", "bot", "--lake", "x", "--engine", "duckdb"],
        "reads no files",
    );
    refused(
        &["sql", "calls", "--engine", "duckdb", "--format", "csv"],
        "--format does not apply",
    );
    refused(
        &[
            "sql",
            "agents",
            "--source",
            "productivity",
            "--interval",
            "1d",
            "--engine",
            "spark",
        ],
        "no timestamps",
    );
    refused(
        &["sql", "queue", "--engine", "spark", "--by", "nope"],
        "unknown dimension",
    );
    refused(
        &[
            "sql",
            "messaging",
            "--view",
            "sentiment",
            "--intent-type",
            "bot",
            "--engine",
            "duckdb",
        ],
        "--intent-type applies to --view intents only",
    );
    refused(
        &["sql", "bot", "--engine", "duckdb", "--tz", "Mars/Olympus"],
        "unknown time zone",
    );
}

#[test]
fn output_writes_the_same_sql_as_stdout() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("q.sql");
    let args = [
        "sql",
        "messaging",
        "--view",
        "response-times",
        "--engine",
        "spark",
        "--interval",
        "1h",
        "--tz",
        "Europe/Amsterdam",
    ];
    let printed = run(&args);
    assert!(printed.status.success());
    let mut to_file = args.to_vec();
    to_file.extend(["--output", file.to_str().unwrap()]);
    assert!(run(&to_file).status.success());
    let sql = std::fs::read_to_string(&file).unwrap();
    assert_eq!(sql.as_bytes(), &printed.stdout[..]);
    // The interactions view first, then the query, each ended by `;` and a newline.
    let statements: Vec<&str> = sql.split(";\n").filter(|s| !s.trim().is_empty()).collect();
    assert_eq!(statements.len(), 2);
    assert!(statements[0].contains("CREATE OR REPLACE TEMPORARY VIEW interactions"));
    assert!(statements[1].contains("from_utc_timestamp"));
    assert!(statements[1].contains("percentile("));
}

#[test]
fn metrics_without_input_says_what_to_give() {
    let out = run(&["metrics", "bot"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--lake DIR"));
}
