//! Helpers shared by the CLI tests: run the built binary from the crate root, read its JSON.

#![allow(dead_code)]

use std::process::{Command, Output};

use serde_json::Value;

/// Runs `cxkpi` with `args`, from the crate root (so `data-samples/...` paths work).
pub fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cxkpi"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .args(args)
        .output()
        .expect("the cxkpi binary runs")
}

/// Runs `cxkpi` with `args` and asserts it succeeded (its stderr in the failure message).
#[track_caller]
pub fn run_ok(args: &[&str]) -> Output {
    let out = run(args);
    assert!(
        out.status.success(),
        "cxkpi {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `cxkpi -q metrics bot --lake LAKE --format csv`, asserted to succeed: its rows.
#[track_caller]
pub fn bot_kpis_of_lake(lake: &std::path::Path) -> Vec<u8> {
    let lake = lake.to_str().unwrap();
    run_ok(&["-q", "metrics", "bot", "--lake", lake, "--format", "csv"]).stdout
}

/// `cxkpi -q ingest INBOX --lake LAKE`, asserted to succeed.
#[track_caller]
pub fn ingest_ok(inbox: &std::path::Path, lake: &std::path::Path) -> Output {
    run_ok(&[
        "-q",
        "ingest",
        inbox.to_str().unwrap(),
        "--lake",
        lake.to_str().unwrap(),
    ])
}

/// Runs `cxkpi … --format json`, asserts success, returns the rows.
pub fn rows(args: &[&str]) -> Vec<Value> {
    let mut all = args.to_vec();
    all.extend(["--format", "json"]);
    let out = run(&all);
    assert!(
        out.status.success(),
        "cxkpi {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("a JSON array of rows")
}

/// Asserts a JSON number equals `expected` within 1e-9.
#[track_caller]
pub fn num(v: &Value, expected: f64) {
    let x = v.as_f64().unwrap_or_else(|| panic!("{v} is not a number"));
    assert!((x - expected).abs() < 1e-9, "{x} != {expected}");
}

/// The tables of the lake.
pub const LAKE_TABLES: [&str; 9] = [
    "bot_conversations",
    "bot_intents",
    "messages",
    "dialogues",
    "calls",
    "csat_calls",
    "csat_answers",
    "agent_sessions",
    "productivity",
];

/// One table of the lake as CSV (the lake's own view of its content, `source_file` included).
pub fn lake_table(lake: &std::path::Path, table: &str) -> String {
    let out = run(&[
        "-q",
        "table",
        table,
        "--lake",
        lake.to_str().unwrap(),
        "--format",
        "csv",
    ]);
    assert!(
        out.status.success(),
        "{table}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Every table of the lake as CSV.
pub fn lake_content(lake: &std::path::Path) -> Vec<String> {
    LAKE_TABLES.iter().map(|t| lake_table(lake, t)).collect()
}
