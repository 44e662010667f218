//! Nothing that is not JSON enters a table or the lake: `table` and `ingest` check every
//! value of every record, unknown fields and fields kept as raw JSON text included, and
//! stop at the first bad one with its file, line, column and field. Metrics-only runs skip
//! unread values by structure (README: "What is validated"). Also: `\u` takes exactly four
//! hex digits, ids keep every digit, and vendor detection names a bad first record's
//! position.

mod common;

use std::path::Path;

use common::run;

/// Invalid documents of the JSON conformance cases, as the values of a field.
const INVALID: [&str; 10] = [
    "[tru]",
    "{1:1}",
    "[1 2]",
    "[1,]",
    r#"{"a" 1}"#,
    "[-]",
    "[01]",
    r#"["\x"]"#,
    r#""\u+041cme""#,
    "[1.]",
];

const GOOD: &str = r#"{"conversation_id":"c1","bot_id":"b","conversation_status":"botHandled","conversation_start_time":"2024-03-30 09:00:00 UTC","conversation_end_time":"2024-03-30 09:05:00 UTC","visitor_messages_count":"3","not_understood_messages_count":"0""#;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_str().unwrap().to_string()
}

#[test]
fn table_and_ingest_reject_invalid_json_in_unread_and_raw_fields() {
    let dir = tempfile::tempdir().unwrap();
    for (i, bad) in INVALID.iter().enumerate() {
        for field in ["zz_extra", "triggered_replies", "conversations_data"] {
            let line = format!("{GOOD},\"{field}\":{bad}}}\n");
            let file = write(dir.path(), &format!("e{i}-{field}.ndjson"), &line);
            let column = GOOD.len() + field.len() + 5;
            let out_file = dir.path().join("t.parquet");
            let table = run(&[
                "table",
                "bot_conversations",
                &file,
                "--output",
                out_file.to_str().unwrap(),
            ]);
            let msg = String::from_utf8_lossy(&table.stderr);
            assert_eq!(
                table.status.code(),
                Some(1),
                "table {bad} in {field}: {msg}"
            );
            assert!(
                msg.contains(&format!("{file}:1:")),
                "{bad} in {field}: {msg}"
            );
            assert!(
                msg.contains(&format!("field `{field}`")),
                "{bad} in {field}: {msg}"
            );
            let at: usize = msg
                .split(&format!("{file}:1:"))
                .nth(1)
                .and_then(|r| r.split(' ').next())
                .and_then(|c| c.parse().ok())
                .unwrap_or(0);
            assert!(
                at >= column && at < column + bad.len() + 1,
                "{bad} in {field}: column {at} is not within the value at {column}: {msg}"
            );
            assert!(!out_file.exists(), "nothing written");
            let lake = dir.path().join(format!("lake{i}-{field}"));
            let ingest = run(&["ingest", &file, "--lake", lake.to_str().unwrap()]);
            assert_eq!(ingest.status.code(), Some(1), "ingest {bad} in {field}");
            assert!(
                !lake.join("bot_conversations").exists(),
                "nothing in the lake"
            );
        }
    }
}

#[test]
fn metrics_only_runs_skip_unread_values_by_structure() {
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "x.ndjson",
        &format!("{GOOD},\"zz_extra\":[tru]}}\n"),
    );
    let out = run(&["-q", "metrics", "bot", &file, "--format", "csv"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Structure is still checked: an unclosed bracket fails.
    let file = write(
        dir.path(),
        "y.ndjson",
        &format!("{GOOD},\"zz_extra\":[1}}\n"),
    );
    assert_eq!(run(&["metrics", "bot", &file]).status.code(), Some(1));
}

#[test]
fn a_u_escape_takes_exactly_four_hex_digits() {
    let dir = tempfile::tempdir().unwrap();
    let bad = GOOD.replace(r#""bot_id":"b""#, r#""bot_id":"\u+041cme""#) + "}\n";
    let file = write(dir.path(), "u.ndjson", &bad);
    let out = run(&["table", "bot_conversations", &file, "--format", "csv"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("field `bot_id`"));
    let good = GOOD.replace(r#""bot_id":"b""#, r#""bot_id":"\u0041cme""#) + "}\n";
    let file = write(dir.path(), "v.ndjson", &good);
    let out = run(&[
        "-q",
        "table",
        "bot_conversations",
        &file,
        "--format",
        "json",
    ]);
    assert!(out.status.success());
    let rows: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(rows[0]["bot_id"], "Acme");
}

#[test]
fn ids_that_arrive_as_numbers_keep_every_digit() {
    let dir = tempfile::tempdir().unwrap();
    let rec = |id: &str| {
        GOOD.replace(
            r#""conversation_id":"c1""#,
            &format!(r#""conversation_id":{id}"#),
        ) + "}\n"
    };
    let text = rec("100000000000000000001") + &rec("100000000000000000002") + &rec("12.50");
    let file = write(dir.path(), "ids.ndjson", &text);
    let out = run(&[
        "-q",
        "table",
        "bot_conversations",
        &file,
        "--format",
        "json",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&out.stdout).unwrap();
    let ids: Vec<&str> = rows
        .iter()
        .map(|r| r["conversation_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["100000000000000000001", "100000000000000000002", "12.50"]
    );
    let kpis = run(&["-q", "metrics", "bot", &file, "--format", "json"]);
    let kpis: serde_json::Value = serde_json::from_slice(&kpis.stdout).unwrap();
    assert_eq!(kpis[0]["total_conversations"], 3);
}

#[test]
fn vendor_detection_names_where_a_bad_first_record_fails() {
    let dir = tempfile::tempdir().unwrap();
    let text = GOOD.replace(
        r#""visitor_messages_count":"3""#,
        r#""visitor_messages_count":tru"#,
    ) + "}\n";
    let file = write(dir.path(), "first.ndjson", &text);
    let out = run(&[
        "ingest",
        &file,
        "--lake",
        dir.path().join("lake").to_str().unwrap(),
    ]);
    let msg = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{msg}");
    let column = text.find("tru").unwrap() + 1;
    assert!(msg.contains(&format!("{file}:1:{column}")), "{msg}");
    assert!(!msg.contains("has keys []"), "{msg}");
}
