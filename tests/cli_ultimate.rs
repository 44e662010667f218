//! The `cxkpi` binary on Ultimate exports: hand-checked numbers on data-samples/ultimate,
//! DuckDB goldens on generated data, and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn samples() -> PathBuf {
    root().join("data-samples/ultimate")
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cxkpi"))
        .args(args)
        .output()
        .expect("the cxkpi binary runs")
}

/// Runs cxkpi, asserts success, returns the JSON rows it printed.
fn json_rows(args: &[&str]) -> Vec<Value> {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(["--format", "json"]);
    let out = run(&all);
    assert!(
        out.status.success(),
        "cxkpi {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice::<Vec<Value>>(&out.stdout).expect("a JSON array of rows")
}

fn close(v: &Value, expected: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - expected).abs() < 1e-12)
}

#[track_caller]
fn assert_rate(row: &Value, col: &str, num: f64, den: f64) {
    assert!(
        close(&row[col], num / den),
        "{col}: {} != {num}/{den}",
        row[col]
    );
}

const S: &str = "data-samples/ultimate";

#[test]
fn totals_on_the_samples_match_a_hand_computation() {
    let rows = json_rows(&["metrics", "bot", samples().to_str().unwrap()]);
    assert_eq!(rows.len(), 1);
    let r = &rows[0];
    // Seven conversations: c1 was delivered twice, the later copy (status email) wins.
    assert_eq!(r["total_conversations"], 7);
    assert_eq!(r["bot_handled_conversations"], 1); // c4; c7's "bot_handled" is not the vendor's value
    assert_rate(r, "bot_handled_rate", 1.0, 7.0);
    assert_eq!(r["escalated_conversations"], 3); // c1 email, c2 agent, c6 customEscalation
    assert_rate(r, "escalation_rate", 3.0, 7.0);
    assert_eq!(r["deflected_conversations"], 3); // c3, c4, c7; c5's null status is neither
    assert_rate(r, "deflection_rate", 3.0, 7.0);
    assert_eq!(r["failed_escalation_conversations"], 1);
    assert_rate(r, "failed_escalation_rate", 1.0, 7.0);
    assert_eq!(r["informed_conversations"], 2);
    assert_rate(r, "informed_rate", 2.0, 7.0);
    assert_eq!(r["automated_conversations"], 4);
    assert_rate(r, "automation_rate", 4.0, 7.0);
    // Σvisitor skips c5's "" (21); Σnot_understood skips c7's null (4).
    assert_eq!(r["visitor_messages"], 21);
    assert_eq!(r["not_understood_messages"], 4);
    assert_eq!(r["understood_messages"], 17);
    assert_rate(r, "messages_understood_rate", 17.0, 21.0);
    assert_eq!(r["llm_conversations"], 3);
    assert_eq!(r["llm_fallback_conversations"], 2);
    assert_rate(r, "llm_fallback_rate", 2.0, 3.0);
}

#[test]
fn options_drop_test_and_suggestion_conversations_and_normalize_statuses() {
    let r = &json_rows(&["metrics", "bot", S, "--exclude-test"])[0];
    assert_eq!(r["total_conversations"], 6); // c3 is a test conversation
    assert_eq!(r["failed_escalation_conversations"], 0);
    let r = &json_rows(&["metrics", "bot", S, "--bot-summary"])[0];
    assert_eq!(r["total_conversations"], 6); // c7 has bot_messages_count 0
    let r = &json_rows(&["metrics", "bot", S, "--status-match", "normalized"])[0];
    assert_eq!(r["bot_handled_conversations"], 2); // c4 and c7 ("bot_handled")
}

#[test]
fn per_intent_breakdown_follows_the_vendor_sql() {
    let rows = json_rows(&["metrics", "bot", S, "--by", "first_meaningful_intent"]);
    let got: Vec<(String, i64, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["first_meaningful_intent"].as_str().unwrap().to_string(),
                r["total_conversations"].as_i64().unwrap(),
                r["bot_handled_conversations"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("Cancel order".into(), 1, 0),
            ("Delivery time".into(), 1, 1),
            ("Order status".into(), 2, 0), // c1 (earliest meaningful) and c3 (by timestamp)
        ]
    );
    let rows = json_rows(&[
        "metrics",
        "bot",
        S,
        "--by",
        "first_meaningful_intent",
        "--include-no-intent",
    ]);
    let none = rows
        .iter()
        .find(|r| r["first_meaningful_intent"].is_null())
        .unwrap();
    assert_eq!(none["total_conversations"], 3); // c2 (excluded intent), c5 (none), c7 (null not_meaningful)
}

#[test]
fn daily_buckets_in_a_zone_with_a_dst_change() {
    let rows = json_rows(&[
        "metrics",
        "bot",
        S,
        "--interval",
        "1d",
        "--tz",
        "Europe/Amsterdam",
    ]);
    let got: Vec<(&str, i64)> = rows
        .iter()
        .map(|r| {
            (
                r["bucket_start"].as_str().unwrap(),
                r["total_conversations"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("2024-03-30T00:00:00+01:00", 3),
            ("2024-03-31T00:00:00+01:00", 2), // a 23-hour day
            ("2024-04-01T00:00:00+02:00", 2),
        ]
    );
    assert_rate(&rows[0], "escalation_rate", 2.0, 3.0);
    let rows = json_rows(&["metrics", "bot", S, "--interval", "1d", "--time", "end"]);
    let totals: Vec<i64> = rows
        .iter()
        .map(|r| r["total_conversations"].as_i64().unwrap())
        .collect();
    assert_eq!(totals, vec![2, 3, 2]); // by end day in UTC: c2,c3 | c1,c4,c5 | c6,c7
}

#[test]
fn range_and_the_missing_next_day_warning() {
    let rows = json_rows(&[
        "metrics",
        "bot",
        S,
        "--from",
        "2024-03-30",
        "--to",
        "2024-03-31",
    ]);
    assert_eq!(rows[0]["total_conversations"], 4); // c1..c4 started on 30 March (UTC)
    let day1 = samples().join("conversation_64f1c2a9e3b1d20012ab34cd_2024-03-30_000000000000.json");
    let out = run(&[
        "metrics",
        "bot",
        day1.to_str().unwrap(),
        "--from",
        "2024-03-30",
        "--to",
        "2024-03-31",
        "--format",
        "csv",
    ]);
    assert!(out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("warning:") && err.contains("2024-03-31"),
        "{err}"
    );
}

#[test]
fn canonical_rows_carry_the_derived_intent_columns() {
    let rows = json_rows(&["table", "bot_conversations", S]);
    assert_eq!(rows.len(), 7);
    let by_id = |id: &str| {
        rows.iter()
            .find(|r| r["conversation_id"] == id)
            .unwrap()
            .clone()
    };
    let c1 = by_id("c1");
    assert_eq!(c1["conversation_status"], "email");
    assert_eq!(c1["first_intent"], "Greeting");
    assert_eq!(c1["last_intent"], "Talk to a human/agent");
    assert_eq!(c1["first_meaningful_intent"], "Order status");
    assert_eq!(c1["intent_count"], 3);
    let c3 = by_id("c3");
    assert_eq!(c3["first_intent"], "Refund");
    assert_eq!(c3["first_meaningful_intent"], "Order status");
    assert!(close(&c3["duration_sec"], 1200.0));
    let c6 = by_id("c6");
    assert_eq!(c6["conversations_data"], r#"{"country":"FR"}"#);
    assert_eq!(c6["test_mode"], false);
    assert_eq!(c6["is_llm_conversation"], true);
    assert_eq!(c6["automated_resolution"], false);
    assert!(by_id("c5")["visitor_messages_count"].is_null());
    assert!(by_id("c7")["first_meaningful_intent"].is_null());
    let intents = json_rows(&["table", "bot_intents", S]);
    assert_eq!(intents.len(), 10); // 3 + 1 + 2 + 2 + 0 + 1 + 1
}

#[test]
fn formats_and_atomic_files() {
    let dir = tempfile::tempdir().unwrap();
    let csv = run(&["metrics", "bot", S, "--by", "language", "--format", "csv"]);
    let text = String::from_utf8(csv.stdout).unwrap();
    assert!(text.starts_with("language,total_conversations,"), "{text}");
    assert_eq!(text.lines().count(), 5); // header + de en fr nl
    let nd = run(&["metrics", "bot", S, "--by", "channel", "--format", "ndjson"]);
    assert_eq!(String::from_utf8(nd.stdout).unwrap().lines().count(), 1);
    let p = dir.path().join("kpis.parquet");
    let out = run(&[
        "metrics",
        "bot",
        S,
        "--interval",
        "1d",
        "--output",
        p.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
        std::fs::File::open(&p).unwrap(),
    )
    .unwrap();
    assert_eq!(reader.metadata().file_metadata().num_rows(), 3);
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert_eq!(
        leftovers.len(),
        1,
        "only the output file, no temporary files"
    );
}

/// A write that fails (here stdout on `/dev/full`, as on a full disk) is an I/O error
/// (exit 3) in every format, not a bug: the CSV and Parquet writers wrap it in their own
/// errors, which made it exit 70 with no path.
#[cfg(target_os = "linux")]
#[test]
fn a_full_disk_is_an_io_error_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("u");
    let gen = ["generate", "ultimate", "--out", out.to_str().unwrap()];
    let generated = run(&[&gen[..], &["--days", "1", "--per-day", "2000", "--plain"]].concat());
    assert!(generated.status.success());
    for format in ["csv", "json", "ndjson", "parquet"] {
        let full = std::fs::File::create("/dev/full").unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_cxkpi"))
            .args(["-q", "table", "bot_conversations", out.to_str().unwrap()])
            .args(["--format", format])
            .stdout(full)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(3), "{format}: {stderr}");
        assert!(
            stderr.contains("<stdout>: No space left"),
            "{format}: {stderr}"
        );
    }
}

fn bad(name: &str) -> String {
    root()
        .join("tests/fixtures/bad")
        .join(name)
        .to_string_lossy()
        .into_owned()
}

#[track_caller]
fn assert_data_error(path: &str, needles: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("out.csv");
    let out = run(&[
        "metrics",
        "bot",
        path,
        "--output",
        out_file.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1), "exit code for {path}");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(path), "error names the file: {err}");
    for n in needles {
        assert!(err.contains(n), "error mentions {n:?}: {err}");
    }
    assert!(!err.contains("panicked"), "{err}");
    assert!(!out_file.exists(), "no output on bad input");
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no partial files"
    );
}

#[test]
fn bad_input_is_reported_with_file_position_and_field() {
    assert_data_error(&bad("truncated_array.json"), &["truncated"]);
    assert_data_error(
        &bad("bad_count.ndjson"),
        &[":2:", "visitor_messages_count", "many"],
    );
    assert_data_error(
        &bad("bad_timestamp.ndjson"),
        &[":1:", "conversation_start_time", "yesterday"],
    );
    assert_data_error(&bad("broken_syntax.ndjson"), &[":2:"]);
    assert_data_error(&bad("dialpad_messages.json"), &["not an Ultimate"]);
    assert_data_error(&bad("notes.txt"), &[":1:1"]);
}

/// Two counts of 2^62 add up to 2^63, one past i64: polars' sum wrapped it round to
/// -2^63 and printed that as the visitor messages. Each count is valid, so an ingest keeps
/// them; the KPIs refuse to sum them, from the files and from the lake alike.
#[test]
fn counts_adding_up_past_i64_are_refused_not_wrapped() {
    let path = bad("ultimate_counts_past_i64.ndjson");
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let ingest = run(&["ingest", &path, "--lake", lake.to_str().unwrap()]);
    assert!(ingest.status.success(), "{ingest:?}");
    for source in [&path[..], "--lake"] {
        let mut args = vec!["metrics", "bot"];
        match source {
            "--lake" => args.extend(["--lake", lake.to_str().unwrap()]),
            file => args.push(file),
        }
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{source}");
        assert!(out.stdout.is_empty(), "{source}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(
                "`visitor_messages_count` and `not_understood_messages_count` add up past"
            ),
            "{source}: {err}"
        );
    }
}

#[test]
fn records_without_a_key_are_left_out_as_the_vendor_sql_does_and_reported() {
    let out = run(&[
        "metrics",
        "bot",
        &bad("missing_id.ndjson"),
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["total_conversations"], 1);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 record(s) without their key")
            && err.contains("missing_id.ndjson:2:1")
            && err.contains("conversation_id"),
        "{err}"
    );
    let dir = tempfile::tempdir().unwrap();
    let nokey = dir.path().join("messages.json");
    std::fs::write(
        &nokey,
        r#"[{"text":"a","ts":1711792800000,"sessionid":"1.1","chattype":"bot"},{"text":"b","ts":1711792801000,"chattype":"bot","customersessionid":"7"}]"#,
    )
    .unwrap();
    let out = run(&[
        "metrics",
        "messaging",
        nokey.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["messages"], 1);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no `sessionid`"));
}

#[test]
fn lines_that_are_not_one_record_each_are_framed_by_structure() {
    // The first line is one record, so the file is first framed by lines; the
    // pretty-printed record and the two records on one line make that fail, and the
    // structural framing takes over. The keyless record is still counted once.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("conversations.ndjson");
    let rec = |id: &str, status: &str| {
        format!(r#"{{"conversation_id":"{id}","conversation_status":"{status}"}}"#)
    };
    let text = format!(
        "{}\r\n\n  {{\"conversation_status\":\"agent\"}}  \n{{\n  \"conversation_id\": \"c2\",\n  \"conversation_status\": \"email\"\n}}\n{} {}\n",
        rec("c1", "botHandled"),
        rec("c3", "botHandled"),
        rec("c4", "agent"),
    );
    std::fs::write(&file, text).unwrap();
    let out = run(&["metrics", "bot", file.to_str().unwrap(), "--format", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["total_conversations"], 4);
    assert_eq!(rows[0]["bot_handled_conversations"], 2);
    assert_eq!(rows[0]["escalated_conversations"], 2);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("1 record(s) without their key") && err.contains("conversations.ndjson:3:3"),
        "{err}"
    );
}

#[test]
fn arrays_by_line_fall_back_to_the_structural_framing() {
    // One element per line is framed by lines; a pretty-printed element makes that fail and
    // the structural framing takes over. A trailing comma is an error, located by the scan.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("conversations.json");
    let text = "[\n{\"conversation_id\":\"c1\",\"conversation_status\":\"botHandled\"},\n{\n  \"conversation_id\": \"c2\",\n  \"conversation_status\": \"agent\"\n},\n{\"conversation_id\":\"c3\",\"conversation_status\":\"email\"}\n]\n";
    std::fs::write(&file, text).unwrap();
    let rows = json_rows(&["metrics", "bot", file.to_str().unwrap()]);
    assert_eq!(rows[0]["total_conversations"], 3);
    assert_eq!(rows[0]["bot_handled_conversations"], 1);
    assert_eq!(rows[0]["escalated_conversations"], 2);

    let text = "[\n{\"conversation_id\":\"c1\"},\n{\"conversation_id\":\"c2\"},\n]\n";
    std::fs::write(&file, text).unwrap();
    let out = run(&["metrics", "bot", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("conversations.json:4:1"), "{err}");
}

#[test]
fn shell_notation_in_ndjson_is_rewritten_on_the_structural_path() {
    // Each line is one record, but `ISODate(…)` is not JSON: the line framing's parse fails
    // and the structural path rewrites the notation first.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("conversations.ndjson");
    let rec = |id: &str, start: &str, end: &str| {
        format!(
            r#"{{"_id":ObjectId("{id}"),"conversation_id":"{id}","conversation_start_time":ISODate("{start}"),"conversation_end_time":"{end}"}}"#
        )
    };
    let text = [
        rec("a1", "2024-03-25T10:00:00Z", "2024-03-25 10:01:00 UTC"),
        rec("a2", "2024-03-25T10:00:00Z", "2024-03-25 10:03:30 UTC"),
    ]
    .join("\n");
    std::fs::write(&file, text).unwrap();
    let rows = json_rows(&["metrics", "bot", file.to_str().unwrap()]);
    assert_eq!(rows[0]["total_conversations"], 2);
    assert!(close(&rows[0]["avg_duration_sec"], 135.0)); // (60 + 210) / 2
}

#[test]
fn missing_paths_and_bad_arguments_have_their_exit_codes() {
    let out = run(&["metrics", "bot", "/no/such/export.json"]);
    assert_eq!(out.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/no/such/export.json"));
    for args in [
        &["metrics", "bot", S, "--by", "shoe_size"][..],
        &["metrics", "bot", S, "--interval", "7m"],
        &["metrics", "bot", S, "--tz", "Mars/Olympus"],
        &[
            "metrics",
            "bot",
            S,
            "--from",
            "2024-04-01",
            "--to",
            "2024-03-01",
        ],
        &["table", "no_such_table", S],
    ] {
        assert_eq!(run(args).status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn skip_bad_files_goes_on_and_lists_them() {
    let dir = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(samples()).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.path().join(p.file_name().unwrap())).unwrap();
    }
    std::fs::copy(bad("bad_count.ndjson"), dir.path().join("zz_bad.json")).unwrap();
    std::fs::copy(bad("truncated_array.json"), dir.path().join("zz_cut.json")).unwrap();
    let d = dir.path().to_str().unwrap();
    let strict = run(&["metrics", "bot", d, "--format", "csv"]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(strict.stdout.is_empty());
    let out = run(&["metrics", "bot", d, "--skip-bad-files", "--format", "json"]);
    assert_eq!(out.status.code(), Some(4));
    let rows: Vec<Value> = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["total_conversations"], 7);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("zz_bad.json") && err.contains("zz_cut.json"),
        "{err}"
    );
}

// ---------------------------------------------------------------------------------------
// Parity with DuckDB running `cxkpi sql bot` (and the vendor's intent queries) on generated data (goldens written by
// scripts/parity.py from an independent staging of the same records).
// ---------------------------------------------------------------------------------------

fn generate(dir: &Path) {
    let out = run(&[
        "-q",
        "generate",
        "ultimate",
        "--out",
        dir.to_str().unwrap(),
        "--days",
        "10",
        "--per-day",
        "300",
        "--seed",
        "42",
        "--start",
        "2024-03-25",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn golden(name: &str) -> Vec<std::collections::HashMap<String, String>> {
    let text = std::fs::read_to_string(
        root()
            .join("tests/golden/ultimate")
            .join(format!("{name}.csv")),
    )
    .expect("golden file (scripts/parity.py --update writes it)");
    let mut lines = text.lines();
    let header: Vec<String> = lines.next().unwrap().split(',').map(String::from).collect();
    lines
        .map(|l| header.iter().cloned().zip(split_csv(l)).collect())
        .collect()
}

/// Splits a CSV line (quoted fields may hold commas).
fn split_csv(line: &str) -> Vec<String> {
    let mut out = vec![String::new()];
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => out.push(String::new()),
            _ => out.last_mut().unwrap().push(c),
        }
    }
    out
}

#[track_caller]
fn assert_same(expected: &str, actual: &Value, what: &str) {
    match (expected, actual) {
        ("", Value::Null) => {}
        (e, Value::String(s)) => assert_eq!(e, s, "{what}"),
        (e, v) => {
            let e: f64 = e
                .parse()
                .unwrap_or_else(|_| panic!("{what}: golden {e:?} vs {v}"));
            let a = v
                .as_f64()
                .unwrap_or_else(|| panic!("{what}: {v} is not a number"));
            assert!(
                (e - a).abs() <= 1e-9 * e.abs().max(1.0),
                "{what}: DuckDB {e} vs cxkpi {a}"
            );
        }
    }
}

#[test]
fn generated_exports_give_the_duckdb_numbers() {
    let dir = tempfile::tempdir().unwrap();
    generate(dir.path());
    let d = dir.path().to_str().unwrap();

    let g = &golden("popular_metrics")[0];
    let r = &json_rows(&["metrics", "bot", d])[0];
    for (k, v) in g {
        assert_same(v, &r[k], k);
    }

    let rows = json_rows(&["metrics", "bot", d, "--by", "first_meaningful_intent"]);
    let g = golden("metrics_by_first_meaningful_intent");
    assert_eq!(rows.len(), g.len());
    for gr in &g {
        let r = rows
            .iter()
            .find(|r| r["first_meaningful_intent"] == gr["first_meaningful_intent"].as_str())
            .expect("same intents");
        for (k, v) in gr {
            assert_same(v, &r[k], k);
        }
    }

    let rows = json_rows(&[
        "metrics",
        "bot",
        d,
        "--interval",
        "1d",
        "--tz",
        "Europe/Amsterdam",
    ]);
    let g = golden("popular_metrics_daily");
    assert_eq!(rows.len(), g.len());
    for (gr, r) in g.iter().zip(&rows) {
        assert_eq!(&gr["bucket_start"], r["bucket_start"].as_str().unwrap());
        for (k, v) in gr.iter().filter(|(k, _)| *k != "bucket_start") {
            assert_same(v, &r[k], k);
        }
    }

    let rows = json_rows(&["table", "bot_conversations", d]);
    let g = golden("first_last_intent");
    assert_eq!(rows.len(), g.len());
    for gr in &g {
        let r = rows
            .iter()
            .find(|r| r["conversation_id"] == gr["conversation_id"].as_str())
            .unwrap();
        assert_same(&gr["first_intent"], &r["first_intent"], "first_intent");
        assert_same(&gr["last_intent"], &r["last_intent"], "last_intent");
    }
}

#[test]
fn large_files_are_split_into_parallel_chunks_without_loss() {
    let dir = tempfile::tempdir().unwrap();
    let out = run(&[
        "-q",
        "generate",
        "ultimate",
        "--out",
        dir.path().to_str().unwrap(),
        "--days",
        "1",
        "--per-day",
        "9000",
        "--seed",
        "3",
        "--plain",
    ]);
    assert!(out.status.success());
    let lines: usize = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| {
            std::fs::read_to_string(e.unwrap().path())
                .unwrap()
                .lines()
                .count()
        })
        .sum();
    assert_eq!(lines, 9000);
    let r = &json_rows(&["metrics", "bot", dir.path().to_str().unwrap()])[0];
    assert_eq!(r["total_conversations"], 9000);
}

/// A gzip dump larger than a piece (64 MiB of JSON) is read in pieces as it is
/// decompressed (`source::stream`), not into memory whole: the numbers, the table and the
/// notes are those of the same dump uncompressed, the note of a keyless record in its last
/// piece naming its line.
#[test]
fn a_big_gzip_dump_read_in_pieces_gives_what_the_plain_dump_gives() {
    let dir = tempfile::tempdir().unwrap();
    let generated = dir.path().join("generated");
    let out = run(&[
        "generate",
        "ultimate",
        "--out",
        generated.to_str().unwrap(),
        "--days",
        "2",
        "--per-day",
        "40000",
        "--plain",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut files: Vec<PathBuf> = (std::fs::read_dir(&generated).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut dump = Vec::new();
    for f in files {
        dump.extend(std::fs::read(f).unwrap());
    }
    let lines = dump.iter().filter(|&&b| b == b'\n').count();
    dump.extend(br#"{"bot_id":"b","conversation_status":"agent","conversation_start_time":"2024-03-25 10:00:00 UTC","conversation_end_time":"2024-03-25 10:01:00 UTC"}"#);
    dump.push(b'\n');
    assert!(
        dump.len() > 80 << 20,
        "{} bytes: more than a piece",
        dump.len()
    );
    let plain = dir.path().join("dump.json");
    std::fs::write(&plain, &dump).unwrap();
    let gz = dir.path().join("dump.json.gz");
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut e, &dump).unwrap();
    std::fs::write(&gz, e.finish().unwrap()).unwrap();
    let (plain, gz) = (plain.to_str().unwrap(), gz.to_str().unwrap());
    for args in [
        vec!["metrics", "bot", "--interval", "1d", "--format", "csv"],
        vec!["table", "bot_intents", "--format", "csv"],
    ] {
        let read = |path: &str| {
            let mut all = args.clone();
            all.push(path);
            let out = run(&all);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            // The table's source_file column names the file read.
            let rows = String::from_utf8_lossy(&out.stdout).replace(path, "DUMP");
            let notes = String::from_utf8_lossy(&out.stderr).replace(path, "DUMP");
            (rows, notes)
        };
        let (from_plain, plain_notes) = read(plain);
        let (from_gz, gz_notes) = read(gz);
        assert!(from_gz == from_plain, "{args:?}");
        assert_eq!(gz_notes, plain_notes, "{args:?}");
        let location = format!("DUMP:{}:1", lines + 1);
        assert!(gz_notes.contains(&location), "{location}: {gz_notes}");
    }
}
