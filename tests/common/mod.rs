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
