//! The lake at any size and under overlapping runs: an ingest read in many batches equals
//! one read in a single batch; a run killed between batches leaves the lake as before; a
//! second run on a locked lake waits (or exits 75 naming the holder) and never costs data;
//! a lock left by a killed run is taken over.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::run;

/// Generated exports of `vendor` in `dir`, starting at `start` (with re-deliveries).
fn generate(vendor: &str, dir: &Path, start: &str, days: &str, per_day: &str, seed: &str) {
    let out = run(&[
        "generate",
        vendor,
        "--out",
        dir.to_str().unwrap(),
        "--days",
        days,
        "--per-day",
        per_day,
        "--start",
        start,
        "--seed",
        seed,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// An inbox of all four vendors, re-deliveries and overlapping pulls included.
fn mixed_inbox(dir: &Path) -> PathBuf {
    let inbox = dir.join("inbox");
    for v in ["ultimate", "dialpad", "anywhere365", "samespace"] {
        generate(v, &inbox.join(v), "2024-03-25", "6", "150", "11");
    }
    inbox
}

fn ingest_cmd(inbox: &Path, lake: &Path, extra: &[&str]) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cxkpi"));
    c.args([
        "ingest",
        inbox.to_str().unwrap(),
        "--lake",
        lake.to_str().unwrap(),
    ])
    .args(extra)
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    c
}

fn ingest(inbox: &Path, lake: &Path, extra: &[&str]) -> Output {
    ingest_cmd(inbox, lake, extra).output().unwrap()
}

#[track_caller]
fn ok(out: &Output) {
    assert!(
        out.status.success(),
        "exit {:?}: {}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Every table of the lake as CSV, `source_file` included.
fn content(lake: &Path) -> Vec<String> {
    common::lake_content(lake)
}

fn rows(lake: &Path, table: &str) -> usize {
    content_of(lake, table).lines().count().saturating_sub(1)
}

fn content_of(lake: &Path, table: &str) -> String {
    common::lake_table(lake, table)
}

fn staging_is_empty(lake: &Path) -> bool {
    let s = lake.join("_cxkpi/staging");
    !s.exists() || std::fs::read_dir(s).unwrap().count() == 0
}

#[test]
fn many_batches_give_the_lake_one_batch_gives() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = mixed_inbox(dir.path());
    let one = dir.path().join("one");
    let many = dir.path().join("many");
    let out = ingest(&inbox, &one, &["--json", "--batch-size", "1G"]);
    ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["batches"], 4, "one batch per vendor");
    // One file per batch, and files of more than 1 MiB in windows of a batch each: every
    // re-delivery and overlapping pull crosses a batch.
    let out = ingest(&inbox, &many, &["--json", "--batch-size", "1"]);
    ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let files = report["files_ingested"].as_u64().unwrap();
    assert!(report["batches"].as_u64().unwrap() > files, "{report}");
    assert!(report["batches"].as_u64().unwrap() > 30, "{report}");
    // Partitions a batch reached back into were merged in memory (`lake::hold`), not read
    // back: the lake is the same either way.
    assert!(
        report["partitions_reused"].as_u64().unwrap() > 0,
        "{report}"
    );
    let expected = content(&one);
    assert!(expected[0].lines().count() > 800, "bot conversations");
    assert_eq!(content(&many), expected);
    assert!(staging_is_empty(&many));
    // The KPIs agree too (a sample of families).
    for family in ["bot", "messaging", "queue", "calls", "csat"] {
        let a = run(&[
            "-q",
            "metrics",
            family,
            "--lake",
            one.to_str().unwrap(),
            "--format",
            "csv",
        ]);
        let b = run(&[
            "-q",
            "metrics",
            family,
            "--lake",
            many.to_str().unwrap(),
            "--format",
            "csv",
        ]);
        ok(&a);
        assert_eq!(a.stdout, b.stdout, "{family}");
    }
}

#[test]
fn an_inbox_of_tiny_files_is_read_in_bounded_batches() {
    // 2,000 files of one dialogue each (1.2 MB of JSON): each costs a batch its own batch
    // of rows (up to 20 KB), so a 4 MiB budget reads them in several batches, not one; the
    // lake is the one a single batch gives.
    let dir = tempfile::tempdir().unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    for n in 0..2000 {
        // Every hundredth dialogue is delivered again, accepted this time, in a later file.
        let (id, outcome) = match n % 100 {
            99 => (n - 99, "Accepted"),
            _ => (n, "Abandoned"),
        };
        let dialogue = format!(
            r#"{{"id":"d{id}","direction":"Inbound","Outcome":"{outcome}","startTimestamp":"2024-03-25T10:{:02}:00Z","queueDurationInSec":20.0}}"#,
            id % 60
        );
        std::fs::write(inbox.join(format!("dialogues_{n:05}.json")), dialogue).unwrap();
    }
    let one = dir.path().join("one");
    let out = ingest(&inbox, &one, &["--json", "--batch-size", "1G"]);
    ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["batches"], 1, "{report}");
    let small = dir.path().join("small");
    let out = ingest(&inbox, &small, &["--json", "--batch-size", "4M"]);
    ok(&out);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["batches"].as_u64().unwrap() >= 4, "{report}");
    assert_eq!(rows(&small, "dialogues"), 1980);
    assert_eq!(content(&small), content(&one));
}

#[test]
fn a_run_killed_between_batches_leaves_the_lake_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = mixed_inbox(dir.path());
    let whole = dir.path().join("whole");
    ok(&ingest(&inbox, &whole, &[]));
    let lake = dir.path().join("lake");
    for step in ["batch:1", "batch:9", "batch:30"] {
        let killed = ingest_cmd(&inbox, &lake, &["--batch-size", "1"])
            .env("CXKPI_CRASH_AT", step)
            .output()
            .unwrap();
        assert!(!killed.status.success(), "{step}: aborted");
        for t in common::LAKE_TABLES {
            assert_eq!(rows(&lake, t), 0, "{step}: nothing committed in {t}");
        }
    }
    let again = ingest(&inbox, &lake, &["--batch-size", "1"]);
    ok(&again);
    assert_eq!(content(&lake), content(&whole));
    assert!(staging_is_empty(&lake));
}

/// Two inboxes of one vendor on disjoint days (as March and May).
fn two_inboxes(dir: &Path) -> (PathBuf, PathBuf) {
    let (a, b) = (dir.join("march"), dir.join("may"));
    generate("ultimate", &a, "2024-03-01", "4", "200", "11");
    generate("ultimate", &b, "2024-05-01", "4", "200", "12");
    (a, b)
}

/// [`two_inboxes`], and the content of a lake that ingested them one after the other.
fn two_inboxes_and_their_lake(dir: &Path) -> (PathBuf, PathBuf, Vec<String>) {
    let (march, may) = two_inboxes(dir);
    let both = dir.join("both");
    ok(&ingest(&march, &both, &[]));
    ok(&ingest(&may, &both, &[]));
    let expected = content(&both);
    (march, may, expected)
}

#[test]
fn overlapping_runs_in_every_phase_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (march, may, expected) = two_inboxes_and_their_lake(dir.path());
    // The first run pauses at each step while holding the lock; the second starts then.
    for (i, step) in ["locked", "batch:1", "staged", "journaled", "renamed:1"]
        .iter()
        .enumerate()
    {
        let lake = dir.path().join(format!("lake{i}"));
        let first = ingest_cmd(&march, &lake, &["--batch-size", "1"])
            .env("CXKPI_PAUSE_AT", format!("{step}:1500"))
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(400));
        let second = ingest(&may, &lake, &[]);
        let first = first.wait_with_output().unwrap();
        ok(&first);
        ok(&second);
        let waited = String::from_utf8_lossy(&second.stderr);
        assert!(
            waited.contains("waiting up to 600 s for the lake lock"),
            "{step}: {waited}"
        );
        assert_eq!(content(&lake), expected, "{step}");
        // Ingesting both again finds everything there.
        let out = ingest(&dir.path().join("march"), &lake, &[]);
        ok(&out);
        assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to ingest"));
        assert!(staging_is_empty(&lake));
    }
}

#[test]
fn runs_started_at_random_moments_lose_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (march, may, expected) = two_inboxes_and_their_lake(dir.path());
    for (i, delay) in [0u64, 50, 150, 400].iter().enumerate() {
        let lake = dir.path().join(format!("lake{i}"));
        let first = ingest_cmd(&march, &lake, &[]).spawn().unwrap();
        std::thread::sleep(Duration::from_millis(*delay));
        let second = ingest(&may, &lake, &[]);
        ok(&first.wait_with_output().unwrap());
        ok(&second);
        assert_eq!(content(&lake), expected, "second run {delay} ms later");
    }
}

#[test]
fn a_locked_lake_fails_after_the_wait_naming_the_holder() {
    let dir = tempfile::tempdir().unwrap();
    let (march, may) = two_inboxes(dir.path());
    let lake = dir.path().join("lake");
    let first = ingest_cmd(&march, &lake, &[])
        .env("CXKPI_PAUSE_AT", "locked:2500")
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let second = ingest(&may, &lake, &["--wait", "0"]);
    assert_eq!(second.status.code(), Some(75));
    let msg = String::from_utf8_lossy(&second.stderr);
    assert!(msg.contains("the lake is locked by another run"), "{msg}");
    assert!(msg.contains(&format!("pid {}", first.id())), "{msg}");
    assert!(msg.contains("on host "), "{msg}");
    assert!(msg.contains("started 20"), "{msg}");
    ok(&first.wait_with_output().unwrap());
    // The refused run wrote nothing: the lake holds March alone.
    let march_only = dir.path().join("march-only");
    ok(&ingest(&march, &march_only, &[]));
    assert_eq!(content(&lake), content(&march_only));
    ok(&ingest(&may, &lake, &["--wait", "0"]));
    assert!(rows(&lake, "bot_conversations") > rows(&march_only, "bot_conversations"));
}

#[test]
fn a_lock_left_by_a_killed_run_is_taken_over() {
    let dir = tempfile::tempdir().unwrap();
    let (march, may) = two_inboxes(dir.path());
    let lake = dir.path().join("lake");
    let mut first = ingest_cmd(&march, &lake, &["--batch-size", "1"])
        .env("CXKPI_PAUSE_AT", "batch:2:5000")
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    first.kill().unwrap(); // SIGKILL: no chance to release anything
    first.wait().unwrap();
    let second = ingest(&may, &lake, &["--wait", "5"]);
    ok(&second);
    let msg = String::from_utf8_lossy(&second.stderr);
    assert!(msg.contains("took over the lake lock"), "{msg}");
    assert!(staging_is_empty(&lake), "the dead run's staging is gone");
    let alone = dir.path().join("alone");
    ok(&ingest(&may, &alone, &[]));
    assert_eq!(
        content(&lake),
        content(&alone),
        "only the second run's data"
    );
}

#[test]
fn readers_keep_working_during_a_run_and_see_the_lake_as_before() {
    let dir = tempfile::tempdir().unwrap();
    let (march, may) = two_inboxes(dir.path());
    let lake = dir.path().join("lake");
    ok(&ingest(&march, &lake, &[]));
    let kpis = common::bot_kpis_of_lake;
    let before = kpis(&lake);
    let writer = ingest_cmd(&may, &lake, &["--batch-size", "1"])
        .env("CXKPI_PAUSE_AT", "batch:2:2000")
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(700));
    assert_eq!(
        kpis(&lake),
        before,
        "a reader during a run sees the lake as before it"
    );
    ok(&writer.wait_with_output().unwrap());
    assert_ne!(kpis(&lake), before, "and the run's data after it");
}

/// Plain generated Ultimate exports (`--plain`: NDJSON, no quirks) in `gen`.
fn plain_ultimate(gen: &Path, days: &str, per_day: &str, seed: &str) {
    ok(&run(&[
        "generate",
        "ultimate",
        "--out",
        gen.to_str().unwrap(),
        "--days",
        days,
        "--per-day",
        per_day,
        "--seed",
        seed,
        "--plain",
    ]));
}

/// Batches go by the export day a file's name carries, not by path; which copy of a record
/// wins still goes by delivery (path) order. Here the later delivery names the earlier day,
/// so its batch is read first, and must still win.
#[test]
fn the_later_delivery_wins_whatever_day_its_name_carries() {
    let dir = tempfile::tempdir().unwrap();
    let gen = dir.path().join("gen");
    plain_ultimate(&gen, "1", "5", "3");
    let file = std::fs::read_dir(&gen)
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(file).unwrap();
    let mut record: serde_json::Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    // Delivered first (path order), naming the later day.
    record["conversation_status"] = "botHandled".into();
    std::fs::write(inbox.join("a_2024-03-26.json"), record.to_string()).unwrap();
    // Delivered last, naming the earlier day: the copy that must win.
    record["conversation_status"] = "agent".into();
    std::fs::write(inbox.join("b_2024-03-25.json"), record.to_string()).unwrap();
    for batch in ["1", "1G"] {
        let lake = dir.path().join(format!("lake-{batch}"));
        ok(&ingest(&inbox, &lake, &["--batch-size", batch]));
        let table = content_of(&lake, "bot_conversations");
        assert_eq!(table.lines().count(), 2, "{table}");
        let row = table.lines().nth(1).unwrap();
        assert!(row.contains(",agent,"), "batch size {batch}: {row}");
        assert!(
            row.contains("b_2024-03-25.json"),
            "batch size {batch}: {row}"
        );
    }
}

/// An ingest of one file per batch (1 MiB windows), started and paused for `millis` after
/// its first batch; returns once it has been paused for a second.
fn paused_after_first_batch(inbox: &Path, lake: &Path, millis: u64) -> std::process::Child {
    let run = ingest_cmd(inbox, lake, &["--batch-size", "1"])
        .env("CXKPI_PAUSE_AT", format!("batch:1:{millis}"))
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1000));
    run
}

/// Generated Ultimate conversations (plain NDJSON, two bots, two days: about 3.6 MB), in
/// path order, each as its JSON value.
fn ultimate_records(dir: &Path) -> Vec<serde_json::Value> {
    let gen = dir.join("gen");
    plain_ultimate(&gen, "2", "1500", "5");
    let mut files: Vec<PathBuf> = (std::fs::read_dir(&gen).unwrap())
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    (files.iter())
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap();
            let lines: Vec<serde_json::Value> = (text.lines())
                .map(|l| serde_json::from_str(l).unwrap())
                .collect();
            lines
        })
        .collect()
}

/// The intents the lake holds for conversation `id`.
fn intents_of(lake: &Path, id: &str) -> Vec<String> {
    (content_of(lake, "bot_intents").lines())
        .filter(|l| l.contains(id))
        .map(str::to_string)
        .collect()
}

fn report_of(out: &Output) -> serde_json::Value {
    ok(out);
    serde_json::from_slice(&out.stdout).unwrap()
}

/// A file larger than a batch is read in windows (`source::Window`) of a batch each, so its
/// rows never sit in memory all at once (a gzip file's from a decompressed copy); the lake
/// is the one a single batch gives. The dump
/// delivers its first conversation with three intents again at its end (another status,
/// one intent): the later copy wins across windows, and its intents alone go with it (the
/// earlier copy's came from the same file, which a (key, file) match could not tell apart).
#[test]
fn a_file_larger_than_a_batch_is_read_in_windows_to_the_lake_one_batch_gives() {
    let dir = tempfile::tempdir().unwrap();
    let mut records = ultimate_records(dir.path());
    let first = (records.iter())
        .position(|r| r["triggered_intent_replies"].as_array().unwrap().len() >= 3)
        .unwrap();
    assert!(first < records.len() / 10, "in the first window");
    let mut again = records[first].clone();
    let id = again["conversation_id"].as_str().unwrap().to_string();
    let status = match again["conversation_status"].as_str() {
        Some("agent") => "botHandled",
        _ => "agent",
    };
    again["conversation_status"] = status.into();
    again["triggered_intent_replies"]
        .as_array_mut()
        .unwrap()
        .truncate(1);
    let kept_intent = again["triggered_intent_replies"][0]["intent_name"]
        .as_str()
        .unwrap()
        .to_string();
    records.push(again);
    let lines: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    let ndjson = lines.join("\n") + "\n";
    let array = format!("[\n{}\n]\n", lines.join(",\n"));
    // Gzip too: its windows read a decompressed copy in the run's staging.
    let gzipped = {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut gz, ndjson.as_bytes()).unwrap();
        gz.finish().unwrap()
    };
    // Two gzip members (`cat a.gz b.gz`): the trailer records the last one's size alone,
    // so the windows are counted again from the decompressed copy.
    let members = {
        let (most, last) = ndjson.split_at(ndjson.len() - 100);
        let mut out = Vec::new();
        for part in [most, last] {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            std::io::Write::write_all(&mut gz, part.as_bytes()).unwrap();
            out.extend(gz.finish().unwrap());
        }
        out
    };
    for (name, text, stored) in [
        ("ndjson", &ndjson, ndjson.as_bytes()),
        ("array", &array, array.as_bytes()),
        ("gzip", &ndjson, &gzipped[..]),
        ("gzip-members", &ndjson, &members[..]),
    ] {
        assert!(text.len() > 3 << 20, "{name}: {} bytes", text.len());
        let inbox = dir.path().join(name);
        std::fs::create_dir_all(&inbox).unwrap();
        std::fs::write(inbox.join("conversations_dump.json"), stored).unwrap();
        let one = dir.path().join(format!("{name}-one"));
        let whole = report_of(&ingest(&inbox, &one, &["--json", "--batch-size", "1G"]));
        assert_eq!(whole["batches"], 1, "{whole}");
        // Windows of 1 MiB, the least a window takes.
        let windows = dir.path().join(format!("{name}-windows"));
        let report = report_of(&ingest(&inbox, &windows, &["--json", "--batch-size", "1"]));
        let expected = text.len().div_ceil(1 << 20) as u64;
        assert_eq!(report["batches"], expected, "{name}: {report}");
        assert!(staging_is_empty(&windows), "{name}: the copy is gone");
        if name == "gzip" {
            // Paused after its first window: the windows read a decompressed copy in the
            // run's staging (mapped, not held in memory).
            let paused = dir.path().join("gzip-paused");
            let run = paused_after_first_batch(&inbox, &paused, 2000);
            let copies: Vec<u64> = (std::fs::read_dir(paused.join("_cxkpi/staging")).unwrap())
                .flat_map(|run| std::fs::read_dir(run.unwrap().path().join("decompressed")))
                .flatten()
                .map(|f| f.unwrap().metadata().unwrap().len())
                .collect();
            assert_eq!(copies, vec![text.len() as u64]);
            ok(&run.wait_with_output().unwrap());
            assert_eq!(content(&paused), content(&one));
        }
        assert_eq!(content(&windows), content(&one), "{name}");
        assert_eq!(
            report["rows_written"]["bot_conversations"],
            records.len() as u64 - 1,
            "{name}"
        );
        // The copy delivered again is read once, as in one batch: in the report and in
        // the manifest's rows of the file.
        assert_eq!(report["rows_read"], whole["rows_read"], "{name}");
        assert_eq!(
            whole["rows_read"]["bot_conversations"],
            records.len() as u64 - 1,
            "{name}"
        );
        let manifest_rows = |lake: &Path| {
            let text = std::fs::read_to_string(lake.join("_cxkpi/manifest.json")).unwrap();
            let m: serde_json::Value = serde_json::from_str(&text).unwrap();
            let files = m["files"].as_object().unwrap().clone();
            files
                .values()
                .map(|f| f["rows"].clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(manifest_rows(&windows), manifest_rows(&one), "{name}");
        for lake in [&one, &windows] {
            let intents = intents_of(lake, &id);
            assert_eq!(intents.len(), 1, "{name}: {intents:?}");
            assert!(intents[0].contains(&kept_intent), "{name}: {intents:?}");
            let row = (content_of(lake, "bot_conversations").lines())
                .find(|l| l.contains(&id))
                .unwrap()
                .to_string();
            assert!(row.contains(&format!(",{status},")), "{name}: {row}");
        }
    }
}

/// A big file that changed is re-read in windows: its old rows leave at its first window,
/// and the rows its earlier windows brought stay when the later ones merge.
#[test]
fn a_changed_big_file_read_in_windows_replaces_its_old_rows_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut records = ultimate_records(dir.path());
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let dump = inbox.join("conversations_dump.json");
    let write = |records: &[serde_json::Value]| {
        let lines: Vec<String> = records.iter().map(|r| r.to_string()).collect();
        std::fs::write(&dump, lines.join("\n") + "\n").unwrap();
    };
    write(&records);
    let lake = dir.path().join("lake");
    ok(&ingest(&inbox, &lake, &["--batch-size", "1"]));
    // The new version: a conversation of the first window changed, the last 100 gone.
    records[3]["conversation_status"] = "agent".into();
    records[3]["triggered_intent_replies"] = serde_json::json!([]);
    let id = records[3]["conversation_id"].as_str().unwrap().to_string();
    records.truncate(records.len() - 100);
    write(&records);
    let report = report_of(&ingest(&inbox, &lake, &["--json", "--batch-size", "1"]));
    assert_eq!(report["files_ingested"], 1, "{report}");
    assert!(report["batches"].as_u64().unwrap() >= 3, "{report}");
    let fresh = dir.path().join("fresh");
    ok(&ingest(&inbox, &fresh, &["--batch-size", "1G"]));
    assert_eq!(content(&lake), content(&fresh));
    assert_eq!(rows(&lake, "bot_conversations"), records.len());
    assert!(intents_of(&lake, &id).is_empty());
}

/// With --skip-bad-files, a big file with a bad record in its last window is set aside
/// whole before any of its windows is merged: none of its rows reach the lake; so is a big
/// gzip file cut short. Without it, the run fails naming the spot and writes nothing.
#[test]
fn a_bad_record_in_a_late_window_sets_the_whole_file_aside() {
    let dir = tempfile::tempdir().unwrap();
    let records = ultimate_records(dir.path());
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let (small, big) = records.split_at(10);
    let lines: Vec<String> = big.iter().map(|r| r.to_string()).collect();
    let line = lines.len() - 2; // 0-based: the bad record is on the line before the last
    let mut bad = lines.clone();
    bad[line] = bad[line].replacen("\"bot_messages_count\":\"", "\"bot_messages_count\":\"x", 1);
    std::fs::write(inbox.join("a_dump.json"), bad.join("\n") + "\n").unwrap();
    let small: Vec<String> = small.iter().map(|r| r.to_string()).collect();
    std::fs::write(inbox.join("b_small.json"), small.join("\n")).unwrap();

    let lake = dir.path().join("lake");
    let out = ingest(&inbox, &lake, &["--batch-size", "1"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("a_dump.json:{}:", line + 1)) && err.contains("bot_messages_count"),
        "{err}"
    );
    assert!(!lake.join("bot_conversations").exists(), "nothing written");

    // And a gzip dump cut short: set aside too (found cut when its
    // format is sniffed, or when its copy is made).
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, (lines.join("\n") + "\n").as_bytes()).unwrap();
    let gz = gz.finish().unwrap();
    std::fs::write(inbox.join("c_cut.json.gz"), &gz[..gz.len() * 2 / 3]).unwrap();
    let out = ingest(
        &inbox,
        &lake,
        &["--json", "--batch-size", "1", "--skip-bad-files"],
    );
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let rejected = report["files_rejected"].as_array().unwrap();
    assert_eq!(rejected.len(), 2, "{report}");
    assert!(
        rejected[0][0].as_str().unwrap().ends_with("a_dump.json"),
        "{report}"
    );
    assert!(
        rejected[1][0].as_str().unwrap().ends_with("c_cut.json.gz"),
        "{report}"
    );
    assert!(
        rejected[1][1]
            .as_str()
            .unwrap()
            .contains("gzip stream is corrupt"),
        "{report}"
    );
    assert_eq!(report["files_ingested"], 1, "{report}");
    assert_eq!(rows(&lake, "bot_conversations"), 10);
    assert!(staging_is_empty(&lake));
}

/// A dump that changes between two of its windows (another program still writing it, or
/// rewriting it in place at the same size) stops the run as an I/O error naming it, with
/// nothing written: its windows would otherwise mix two versions of the file under the
/// first one's digest.
#[test]
fn a_big_file_that_changes_between_its_windows_stops_the_run() {
    let dir = tempfile::tempdir().unwrap();
    let records = ultimate_records(dir.path());
    let inbox = dir.path().join("inbox");
    std::fs::create_dir_all(&inbox).unwrap();
    let dump = inbox.join("conversations_dump.json");
    let lines: Vec<String> = records.iter().map(|r| r.to_string()).collect();
    let grow = |text: &mut String| text.push_str(&lines[0]);
    // The last conversation's status, rewritten at the same size.
    let same_size = |text: &mut String| {
        let at = text.rfind("\"conversation_status\":\"").unwrap() + 23;
        let b = text.as_bytes()[at];
        let other = if b == b'a' { "b" } else { "a" };
        text.replace_range(at..at + 1, other);
    };
    type Edit<'a> = &'a dyn Fn(&mut String);
    let edits: [(&str, Edit); 2] = [("grows", &grow), ("same size", &same_size)];
    for (what, edit) in edits {
        std::fs::write(&dump, lines[1..].join("\n") + "\n").unwrap();
        let lake = dir.path().join(format!("lake-{}", what.replace(' ', "-")));
        let run = paused_after_first_batch(&inbox, &lake, 3000);
        let mut text = std::fs::read_to_string(&dump).unwrap();
        let size = text.len();
        edit(&mut text);
        assert_eq!(text.len() == size, what == "same size");
        std::fs::write(&dump, text).unwrap();
        let out = run.wait_with_output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{what}: {err}");
        assert!(
            err.contains("conversations_dump.json") && err.contains("changed while cxkpi read it"),
            "{what}: {err}"
        );
        assert!(
            !lake.join("bot_conversations").exists(),
            "{what}: nothing written"
        );
        assert!(staging_is_empty(&lake));
    }
}

/// The file the child process of the next test maps, cuts short and reads.
const CUT_SHORT_CHILD: &str = "CXKPI_TEST_CUT_SHORT_CHILD";

#[test]
fn an_export_cut_short_while_mapped_is_an_io_error_naming_it() {
    // Child: map a file (1 MiB and more are mapped), cut it to nothing, read its last byte.
    // The read faults (SIGBUS): the handler must print the error and exit 3, not crash.
    if let Some(path) = std::env::var_os(CUT_SHORT_CHILD) {
        let bytes = cxkpi::source::load(Path::new(&path)).unwrap();
        let last = bytes.len() - 1;
        std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .unwrap()
            .set_len(0)
            .unwrap();
        std::hint::black_box(bytes[last]);
        std::process::exit(98);
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("dialogues_2024-03-25.json");
    let record = br#"{"id":"a1","Outcome":"Accepted"}"#;
    let mut text = Vec::new();
    while text.len() < 2 << 20 {
        text.extend_from_slice(record);
        text.push(b'\n');
    }
    std::fs::write(&path, &text).unwrap();
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "an_export_cut_short_while_mapped_is_an_io_error_naming_it",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CUT_SHORT_CHILD, &path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let expected = format!(
        "error: {}: the file was cut short by another program while cxkpi read it",
        path.display()
    );
    assert!(stderr.contains(&expected), "{stderr}");
}
