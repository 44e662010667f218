//! `cxkpi inspect` on the samples and on a mixed inbox with every finding planted.

mod common;
use common::run;

use serde_json::Value;

fn inspect_json(path: &str) -> (Option<i32>, Value, String) {
    let out = run(&["inspect", path, "--format", "json"]);
    let v = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
    (
        out.status.code(),
        v,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn ultimate(
    id: &str,
    bot: &str,
    start: &str,
    end: &str,
    status: &str,
    visitors: i64,
    nu: i64,
) -> String {
    format!(
        r#"{{"conversation_id":"{id}","bot_id":"{bot}","conversation_start_time":"{start}","conversation_end_time":"{end}","conversation_status":"{status}","last_resolution":"informed","visitor_messages_count":{visitors},"not_understood_messages_count":{nu},"bot_messages_count":3}}"#
    )
}

#[test]
fn the_samples_are_described_file_by_file() {
    let (code, v, err) = inspect_json("data-samples");
    assert_eq!(code, Some(0), "{err}");
    let files = v["files"].as_array().unwrap();
    assert_eq!(files.len(), 15);
    let by_vendor = |name: &str| files.iter().filter(|f| f["vendor"] == name).count();
    assert_eq!(by_vendor("Ultimate"), 3);
    assert_eq!(by_vendor("Dialpad"), 3);
    assert_eq!(by_vendor("Anywhere365"), 3);
    assert_eq!(by_vendor("Samespace"), 6);
    let page = files
        .iter()
        .find(|f| f["path"].as_str().unwrap().ends_with("page1.json"))
        .unwrap();
    assert_eq!(page["framing"], "envelope (OData page or wrapper)");
    let gz = files.iter().filter(|f| f["gzip"] == true).count();
    assert_eq!(gz, 2);
    let dialogues = files
        .iter()
        .find(|f| {
            f["path"]
                .as_str()
                .unwrap()
                .ends_with("dialogues_2024-03-31.json")
        })
        .unwrap();
    assert_eq!(dialogues["framing"], "NDJSON");
    assert!(dialogues["records"].as_u64().unwrap() > 0);
    assert!(dialogues["first"].as_str().unwrap().starts_with("2024-03-"));
    // Tables: rows after deduplication equal what `table` prints.
    let tables = v["tables"].as_array().unwrap();
    let rows = |t: &str| {
        tables.iter().find(|x| x["table"] == t).unwrap()["rows"]
            .as_u64()
            .unwrap()
    };
    let table = run(&[
        "table",
        "bot_conversations",
        "data-samples/ultimate",
        "--format",
        "json",
    ]);
    let kept: Vec<Value> = serde_json::from_slice(&table.stdout).unwrap();
    assert_eq!(rows("bot_conversations"), kept.len() as u64);
    let bot = tables
        .iter()
        .find(|x| x["table"] == "bot_conversations")
        .unwrap();
    assert_eq!(bot["copies_dropped"], 1);
    // The text form names the same files.
    let text = run(&["inspect", "data-samples"]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("Findings ("));
}

#[test]
fn every_finding_is_planted_and_found() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // Ultimate: an LLM-era bot without misunderstood counts; end before start; a typo of a
    // status; a conversation in 2099; and bot b1 with no conversation ending on 03-02.
    let lines = [
        ultimate(
            "a1",
            "llm",
            "2024-03-01T10:00:00Z",
            "2024-03-01T10:05:00Z",
            "botHandled",
            4,
            0,
        ),
        ultimate(
            "a2",
            "llm",
            "2024-03-01T11:00:00Z",
            "2024-03-01T11:05:00Z",
            "agent",
            6,
            0,
        ),
        ultimate(
            "b1",
            "b1",
            "2024-03-01T10:00:00Z",
            "2024-03-01T10:05:00Z",
            "botHandled",
            2,
            1,
        ),
        ultimate(
            "b2",
            "b1",
            "2024-03-03T10:00:00Z",
            "2024-03-03T09:05:00Z",
            "bot_handled",
            2,
            1,
        ),
        ultimate(
            "b3",
            "b1",
            "2099-03-03T10:00:00Z",
            "2099-03-03T10:05:00Z",
            "email",
            2,
            1,
        ),
    ];
    std::fs::create_dir_all(d.join("u")).unwrap();
    std::fs::write(d.join("u/conversations.json"), lines.join("\n")).unwrap();
    // Anywhere365: a negative queue time and a misspelt outcome.
    let a = std::fs::read_to_string("data-samples/anywhere365/dialogues_2024-03-31.json").unwrap();
    let a = a
        .replacen(
            "\"QueueDurationInSec\": 15.0",
            "\"QueueDurationInSec\": -15.0",
            1,
        )
        .replacen("\"Outcome\": \"Accepted\"", "\"Outcome\": \"Acepted\"", 1);
    std::fs::create_dir_all(d.join("a")).unwrap();
    std::fs::write(d.join("a/dialogues.json"), a).unwrap();
    // Dialpad: a misspelt sender type.
    let m =
        std::fs::read_to_string("data-samples/dialpad/dialpad_messages_2024-03-31.json").unwrap();
    std::fs::create_dir_all(d.join("d")).unwrap();
    std::fs::write(
        d.join("d/messages.json"),
        m.replacen(
            "\"sendertype\": \"customer\"",
            "\"sendertype\": \"custmer\"",
            1,
        ),
    )
    .unwrap();
    std::fs::write(d.join("notes.txt"), "not an export").unwrap();

    let (code, v, err) = inspect_json(d.to_str().unwrap());
    assert_eq!(code, Some(0), "findings are warnings: {err}");
    let findings = v["findings"].as_array().unwrap();
    let has = |check: &str, needle: &str| {
        findings
            .iter()
            .any(|f| f["check"] == check && f["message"].as_str().unwrap().contains(needle))
    };
    assert!(has("counter_all_zero", "bot(s) llm"), "{findings:#?}");
    assert!(
        has("end_before_start", "conversation_end_time"),
        "{findings:#?}"
    );
    assert!(
        has("unknown_value", "\"bot_handled\" (for \"botHandled\"?)"),
        "{findings:#?}"
    );
    assert!(
        has("future_time", "conversation_start_time"),
        "{findings:#?}"
    );
    assert!(
        has("missing_export_day", "2024-03-02 (bot b1)"),
        "{findings:#?}"
    );
    assert!(has("implausible_duration", "queue_sec"), "{findings:#?}");
    assert!(
        has("unknown_value", "\"Acepted\" (for \"Accepted\"?)"),
        "{findings:#?}"
    );
    assert!(
        has("unknown_value", "\"custmer\" (for \"customer\"?)"),
        "{findings:#?}"
    );
    let counter = findings
        .iter()
        .find(|f| f["check"] == "counter_all_zero")
        .unwrap();
    assert_eq!(counter["rows"], 2);
    assert!(counter["file"]
        .as_str()
        .unwrap()
        .ends_with("conversations.json"));
    // The non-export file is passed over, not an error.
    let files = v["files"].as_array().unwrap();
    assert!(files
        .iter()
        .any(|f| f["path"].as_str().unwrap().ends_with("notes.txt") && !f["skipped"].is_null()));

    // metrics prints the finding where it changes the meaning of a rate it prints: per bot
    // when the rows are per bot; the total, mixing a bot that counts, does not read 100%.
    let u = d.join("u");
    let by_bot = run(&[
        "metrics",
        "bot",
        u.to_str().unwrap(),
        "--by",
        "bot_id",
        "--format",
        "csv",
    ]);
    assert!(by_bot.status.success());
    assert!(String::from_utf8_lossy(&by_bot.stderr)
        .contains("every not_understood_messages_count is 0"));
    let total = run(&["metrics", "bot", u.to_str().unwrap(), "--format", "csv"]);
    assert!(!String::from_utf8_lossy(&total.stderr).contains("not_understood_messages_count"));
}

#[test]
fn an_unreadable_file_makes_the_exit_code_4() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("bad.json"),
        r#"{"conversation_id":"x","conversation_status":"agent","visitor_messages_count":[1 2]}"#,
    )
    .unwrap();
    let (code, v, _) = inspect_json(dir.path().to_str().unwrap());
    assert_eq!(code, Some(4));
    assert!(!v["files"][0]["error"].is_null());
}

#[test]
fn a_large_inbox_is_summarized_by_format_naming_only_the_files_in_trouble() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for i in 0..45 {
        let line = format!(
            r#"{{"id":"d{i}","startTimestamp":"2024-03-{:02}T10:00:00Z","Outcome":"Accepted"}}"#,
            1 + i % 28
        );
        std::fs::write(d.join(format!("dialogues_{i:02}.json")), line + "\n").unwrap();
    }
    std::fs::write(d.join("zz-broken.json"), "{\"id\":").unwrap();
    std::fs::write(d.join("zz-notes.txt"), "not json").unwrap();
    let path = d.to_str().unwrap();
    let text = String::from_utf8(run(&["inspect", path]).stdout).unwrap();
    assert!(
        text.contains("Files (47, by format; --all lists each file)"),
        "{text}"
    );
    assert!(
        text.contains(
            "  Anywhere365 · NDJSON: 45 file(s)\n      45 record(s), 0 without key · \
             2024-03-01T10:00:00+00:00 → 2024-03-28T10:00:00+00:00\n"
        ),
        "{text}"
    );
    assert!(
        text.contains("zz-broken.json\n      could not be read"),
        "{text}"
    );
    assert!(text.contains("zz-notes.txt\n      passed over"), "{text}");
    assert!(!text.contains("dialogues_07.json"), "{text}");
    let all = String::from_utf8(run(&["inspect", path, "--all"]).stdout).unwrap();
    assert!(all.starts_with("Files (47)\n"), "{all}");
    assert!(all.contains("dialogues_07.json\n      Anywhere365 · NDJSON · 1 record(s)"));
    let (_, v, _) = inspect_json(path);
    assert_eq!(v["files"].as_array().unwrap().len(), 47);
}

/// A file name with a newline (or an escape sequence) is written with escapes: one line per
/// file, and nothing in a name drives the terminal. JSON keeps the name as it is.
#[cfg(unix)]
#[test]
fn control_characters_in_a_file_name_are_escaped_in_the_text() {
    let dir = tempfile::tempdir().unwrap();
    let name = "a\nb\u{1b}[31m.json";
    let record = ultimate(
        "c1",
        "b1",
        "2024-03-30 10:00:00 UTC",
        "2024-03-30 10:05:00 UTC",
        "sa bot",
        2,
        0,
    );
    std::fs::write(dir.path().join(name), record).unwrap();
    let out = run(&["inspect", dir.path().to_str().unwrap()]);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("a\\nb\\u{1b}[31m.json\n"), "{text}");
    assert!(!text.contains('\u{1b}'), "{text}");
    let (_, v, _) = inspect_json(dir.path().to_str().unwrap());
    let path = v["files"][0]["path"].as_str().unwrap_or_default();
    assert!(path.ends_with(name), "{path}");
}

/// A big gzip file's framing is told from its first MiB when its first record lies there
/// (NDJSON, an array of one element per line), and from the whole content otherwise (a
/// pretty-printed array, whose first MiB alone is not JSON).
#[test]
fn a_big_gzip_file_is_framed_from_its_head_when_that_tells() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<String> = (0..8000)
        .map(|i| {
            ultimate(
                &format!("c{i:05}"),
                "b1",
                "2024-03-30 10:00:00 UTC",
                "2024-03-30 10:05:00 UTC",
                "agent",
                2,
                0,
            )
        })
        .collect();
    let pretty = format!(
        "[\n  {}\n]\n",
        records.join(",\n  ").replace(',', ",\n    ")
    );
    for (name, text, framing) in [
        ("ndjson", records.join("\n") + "\n", "NDJSON"),
        (
            "lines",
            format!("[\n{}\n]\n", records.join(",\n")),
            "JSON array, one record per line",
        ),
        ("pretty", pretty, "JSON array"),
    ] {
        assert!(
            text.len() > 2 << 20,
            "{name}: {} bytes, more than the head",
            text.len()
        );
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, text.as_bytes()).unwrap();
        let path = dir.path().join(format!("{name}.json.gz"));
        std::fs::write(&path, gz.finish().unwrap()).unwrap();
        let (code, v, err) = inspect_json(path.to_str().unwrap());
        assert_eq!(code, Some(0), "{name}: {err}");
        assert_eq!(v["files"][0]["framing"], framing, "{name}");
        assert_eq!(v["files"][0]["gzip"], true, "{name}");
        assert_eq!(v["files"][0]["records"], 8000, "{name}");
    }
}
