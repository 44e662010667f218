//! The Parquet lake: idempotent re-runs, crash and failure safety at every commit step,
//! re-deliveries across runs, changed files, damaged partition files, and metrics from the
//! lake equal to metrics from the files.

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{ingest_ok, rows, run, run_ok};

const SAMPLES: [&str; 4] = [
    "data-samples/ultimate",
    "data-samples/dialpad",
    "data-samples/anywhere365",
    "data-samples/samespace",
];

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A copy of all samples in one inbox (so tests may change files).
fn inbox(dir: &Path) -> PathBuf {
    let inbox = dir.join("inbox");
    for s in SAMPLES {
        let to = inbox.join(Path::new(s).file_name().unwrap());
        std::fs::create_dir_all(&to).unwrap();
        for e in std::fs::read_dir(root().join(s)).unwrap() {
            let p = e.unwrap().path();
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
    inbox
}

fn ingest(inbox: &Path, lake: &Path, crash_at: Option<&str>) -> std::process::Output {
    ingest_hooked(inbox, lake, crash_at.map(|step| ("CXKPI_CRASH_AT", step)))
}

/// An ingest with one of the run's test hooks (`CXKPI_CRASH_AT`, `CXKPI_FAIL_AT`) set.
fn ingest_hooked(inbox: &Path, lake: &Path, hook: Option<(&str, &str)>) -> std::process::Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_cxkpi"));
    c.args([
        "ingest",
        inbox.to_str().unwrap(),
        "--lake",
        lake.to_str().unwrap(),
    ]);
    if let Some((hook, step)) = hook {
        c.env(hook, step);
    }
    c.output().unwrap()
}

/// Every Parquet file of the lake with its bytes.
fn parquet_files(lake: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![lake.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "parquet")
                && !p.to_string_lossy().contains("_cxkpi")
            {
                out.insert(
                    p.strip_prefix(lake).unwrap().to_path_buf(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    out
}

/// Every table of the lake as CSV text (the lake's own view of its content).
fn content(lake: &Path) -> Vec<String> {
    common::lake_content(lake)
}

#[test]
fn a_second_run_over_the_same_inbox_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, lake) = (inbox(dir.path()), dir.path().join("lake"));
    let first = ingest(&inbox, &lake, None);
    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    let before = parquet_files(&lake);
    assert!(before.len() > 10);
    assert!(before.keys().all(|p| p.to_string_lossy().contains("/dt=")));
    let mtimes: Vec<_> = before
        .keys()
        .map(|p| std::fs::metadata(lake.join(p)).unwrap().modified().unwrap())
        .collect();
    let second = ingest(&inbox, &lake, None);
    assert!(second.status.success());
    assert!(String::from_utf8_lossy(&second.stderr).contains("nothing to ingest"));
    assert_eq!(parquet_files(&lake), before);
    let after: Vec<_> = before
        .keys()
        .map(|p| std::fs::metadata(lake.join(p)).unwrap().modified().unwrap())
        .collect();
    assert_eq!(mtimes, after, "no Parquet file was rewritten");
}

#[test]
fn a_run_killed_at_any_step_leaves_before_or_after_and_the_next_run_completes() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = inbox(dir.path());
    let whole = dir.path().join("whole");
    assert!(ingest(&inbox, &whole, None).status.success());
    let expected = content(&whole);
    for step in ["staged", "journaled", "renamed:1", "renamed:7"] {
        let lake = dir.path().join(format!("lake-{}", step.replace(':', "-")));
        let killed = ingest(&inbox, &lake, Some(step));
        assert!(!killed.status.success(), "{step}: the run was aborted");
        if step == "staged" {
            assert!(
                parquet_files(&lake).is_empty(),
                "before the commit point nothing is visible"
            );
        }
        let again = ingest(&inbox, &lake, None);
        assert!(
            again.status.success(),
            "{step}: {}",
            String::from_utf8_lossy(&again.stderr)
        );
        assert_eq!(content(&lake), expected, "{step}");
        assert_eq!(
            parquet_files(&lake).len(),
            parquet_files(&whole).len(),
            "{step}"
        );
        assert!(!lake.join("_cxkpi/journal.json").exists());
        assert!(
            !lake.join("_cxkpi/staging").exists()
                || std::fs::read_dir(lake.join("_cxkpi/staging"))
                    .unwrap()
                    .count()
                    == 0
        );
    }
}

#[test]
fn a_run_that_fails_leaves_the_lake_as_before_and_its_staging_gone() {
    // A failure (a full disk, a failed rename) is not a crash: the run exits with the I/O
    // code, and before its commit point it takes its staged files with it, giving the disk
    // back at once; after it, the next run completes the commit.
    let dir = tempfile::tempdir().unwrap();
    let inbox = inbox(dir.path());
    let first = inbox.join("ultimate");
    let whole = dir.path().join("whole");
    assert!(ingest(&inbox, &whole, None).status.success());
    let expected = content(&whole);
    for step in ["batch:1", "staged", "journaled", "renamed:2"] {
        let lake = dir.path().join(format!("lake-{}", step.replace(':', "-")));
        assert!(ingest(&first, &lake, None).status.success());
        let before = (content(&lake), parquet_files(&lake));
        let failed = ingest_hooked(&inbox, &lake, Some(("CXKPI_FAIL_AT", step)));
        assert_eq!(failed.status.code(), Some(3), "{step}");
        let stderr = String::from_utf8_lossy(&failed.stderr);
        assert!(stderr.contains("failure injected"), "{step}: {stderr}");
        let staged = std::fs::read_dir(lake.join("_cxkpi/staging"))
            .map(|d| d.count())
            .unwrap_or(0);
        if step.starts_with("batch") || step == "staged" {
            assert_eq!((content(&lake), parquet_files(&lake)), before, "{step}");
            assert_eq!(staged, 0, "{step}: the failed run's staging is gone");
            assert!(!lake.join("_cxkpi/journal.json").exists());
        } else {
            assert!(lake.join("_cxkpi/journal.json").exists(), "{step}");
            assert_eq!(staged, 1, "{step}: kept for the next run to complete");
        }
        let again = ingest(&inbox, &lake, None);
        assert!(again.status.success(), "{step}");
        assert_eq!(content(&lake), expected, "{step}");
        assert_eq!(parquet_files(&lake).len(), parquet_files(&whole).len());
    }
}

#[test]
fn partitions_deleted_outside_cxkpi_are_whole_again_after_the_next_ingest() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, lake) = (inbox(dir.path()), dir.path().join("lake"));
    assert!(ingest(&inbox, &lake, None).status.success());
    let expected = content(&lake);
    // A day of conversations (its intents stay), and a child table whole.
    std::fs::remove_dir_all(lake.join("bot_conversations/dt=2024-03-30")).unwrap();
    std::fs::remove_dir_all(lake.join("csat_answers")).unwrap();
    let out = ingest(&inbox, &lake, None);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("unchanged file(s) read again"), "{stderr}");
    assert_eq!(content(&lake), expected);
    let again = ingest(&inbox, &lake, None);
    assert!(String::from_utf8_lossy(&again.stderr).contains("nothing to ingest"));
}

#[test]
fn a_damaged_partition_file_is_named_as_bad_data_not_a_bug() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    assert!(ingest(&inbox(dir.path()), &lake, None).status.success());
    let l = lake.to_str().unwrap();
    for (table, family, damage) in [
        ("dialogues", "queue", "truncated"),
        ("calls", "calls", "overwritten"),
    ] {
        let file = (parquet_files(&lake).into_keys())
            .find(|p| p.starts_with(table))
            .unwrap();
        let path = lake.join(&file);
        let bytes = std::fs::read(&path).unwrap();
        match damage {
            "truncated" => std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap(),
            _ => std::fs::write(&path, vec![b'x'; bytes.len()]).unwrap(),
        }
        let out = run(&["metrics", family, "--lake", l]);
        assert_eq!(out.status.code(), Some(1), "{table}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains(&format!(
                "{}: not a readable partition file",
                path.display()
            )),
            "{table}: {stderr}"
        );
    }
}

#[test]
fn redeliveries_across_runs_and_changed_files_replace_rows() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = inbox(dir.path());
    let lake = dir.path().join("lake");
    let l = lake.to_str().unwrap();
    let u = inbox.join("ultimate");
    // Night 1: only the first day's file: c1 still bot-handled.
    let day1 = u.join("conversation_64f1c2a9e3b1d20012ab34cd_2024-03-30_000000000000.json");
    assert!(ingest(&day1, &lake, None).status.success());
    let c1 = |rows: &[serde_json::Value]| {
        rows.iter().find(|r| r["conversation_id"] == "c1").unwrap()["conversation_status"].clone()
    };
    assert_eq!(
        c1(&rows(&["table", "bot_conversations", "--lake", l])),
        "botHandled"
    );
    // Night 2: the whole inbox; c1 delivered again with a later end time wins.
    assert!(ingest(&inbox, &lake, None).status.success());
    let conv = rows(&["table", "bot_conversations", "--lake", l]);
    assert_eq!(conv.len(), 7);
    assert_eq!(c1(&conv), "email");
    let intents = rows(&["table", "bot_intents", "--lake", l]);
    assert_eq!(intents.len(), 10, "c1's intents follow the kept copy");
    // A changed file: day 1 shrinks to c2 only; c3 must leave the lake, c2 stays.
    let text = std::fs::read_to_string(&day1).unwrap();
    let c2: Vec<&str> = text.lines().filter(|l| l.contains("\"c2\"")).collect();
    std::fs::write(&day1, c2.join("\n") + "\n").unwrap();
    let out = ingest(&inbox, &lake, None);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let conv = rows(&["table", "bot_conversations", "--lake", l]);
    let ids: Vec<&str> = conv
        .iter()
        .map(|r| r["conversation_id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, vec!["c1", "c2", "c4", "c5", "c6", "c7"]);
    // The lake now says what the files say.
    let from_files = rows(&["metrics", "bot", u.to_str().unwrap()]);
    assert_eq!(rows(&["metrics", "bot", "--lake", l]), from_files);
}

#[test]
fn metrics_from_the_lake_equal_metrics_from_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let inbox = inbox(dir.path());
    let lake = dir.path().join("lake");
    assert!(ingest(&inbox, &lake, None).status.success());
    let l = lake.to_str().unwrap();
    let cases: [(&str, &str, &[&str]); 15] = [
        (
            "bot",
            "ultimate",
            &[
                "--interval",
                "1d",
                "--tz",
                "Europe/Amsterdam",
                "--by",
                "first_meaningful_intent",
            ],
        ),
        // The lake's statuses are read as dictionaries (see `lake::Scope::codes`): as
        // flags, as a dimension, and normalized.
        (
            "bot",
            "ultimate",
            &[
                "--by",
                "conversation_status",
                "--status-match",
                "normalized",
            ],
        ),
        (
            "messaging",
            "dialpad",
            &[
                "--view",
                "interactions",
                "--interval",
                "1d",
                "--tz",
                "Europe/Amsterdam",
            ],
        ),
        ("messaging", "dialpad", &["--view", "response-times"]),
        (
            "queue",
            "anywhere365",
            &["--service-level", "v1,v3,v5", "--interval", "1d"],
        ),
        ("calls", "samespace", &["--by", "team_name"]),
        ("csat", "samespace", &[]),
        ("agents", "samespace", &["--by", "logout_reason"]),
        ("agents", "samespace", &["--source", "productivity"]),
        // Ranges read only some partitions of the lake; the numbers must not change.
        (
            "bot",
            "ultimate",
            &[
                "--from",
                "2024-03-31",
                "--to",
                "2024-04-01",
                "--tz",
                "Europe/Amsterdam",
            ],
        ),
        (
            "bot",
            "ultimate",
            &[
                "--from",
                "2024-03-30",
                "--to",
                "2024-03-31",
                "--time",
                "end",
            ],
        ),
        (
            "queue",
            "anywhere365",
            &[
                "--from",
                "2024-03-31",
                "--to",
                "2024-04-02",
                "--tz",
                "Europe/Amsterdam",
            ],
        ),
        (
            "calls",
            "samespace",
            &["--from", "2024-03-30", "--to", "2024-03-31"],
        ),
        (
            "csat",
            "samespace",
            &["--from", "2024-03-31", "--to", "2024-04-01"],
        ),
        (
            "messaging",
            "dialpad",
            &[
                "--view",
                "handoff",
                "--from",
                "2024-03-31",
                "--to",
                "2024-04-02",
            ],
        ),
    ];
    for (family, vendor, extra) in cases {
        let files = inbox.join(vendor);
        let mut a = vec!["metrics", family, files.to_str().unwrap()];
        a.extend_from_slice(extra);
        let mut b = vec!["metrics", family, "--lake", l];
        b.extend_from_slice(extra);
        assert_eq!(rows(&a), rows(&b), "{family} {extra:?}");
    }
}

#[test]
fn ddl_locates_tables_absolutely_or_at_the_given_uri_and_leaves_no_repair_of_missing_ones() {
    let dir = tempfile::tempdir().unwrap();
    let lake = dir.path().join("lake");
    let u = root().join("data-samples/ultimate");
    assert!(ingest(&u, &lake, None).status.success());
    // Relative on the command line, absolute in the DDL.
    let out = Command::new(env!("CARGO_BIN_EXE_cxkpi"))
        .current_dir(dir.path())
        .args(["ddl", "--engine", "spark", "--lake", "lake"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let ddl = String::from_utf8(out.stdout).unwrap();
    let abs = std::fs::canonicalize(&lake).unwrap();
    assert!(
        ddl.contains(&format!("LOCATION '{}/bot_conversations'", abs.display())),
        "{ddl}"
    );
    assert!(ddl.contains("MSCK REPAIR TABLE bot_intents;"));
    assert!(
        !ddl.contains("MSCK REPAIR TABLE calls;"),
        "no repair of a missing folder"
    );
    assert!(
        ddl.contains("CREATE TABLE IF NOT EXISTS calls ("),
        "but defined"
    );
    let out = run(&[
        "ddl",
        "--engine",
        "trino",
        "--lake",
        lake.to_str().unwrap(),
        "--location",
        "s3a://bucket/cxkpi/",
    ]);
    let ddl = String::from_utf8(out.stdout).unwrap();
    assert!(
        ddl.contains("external_location = 's3a://bucket/cxkpi/dialogues'"),
        "{ddl}"
    );
    assert!(!ddl.contains("sync_partition_metadata('cxkpi', 'dialogues'"));
    // Not a lake: a clear error.
    let out = run(&[
        "ddl",
        "--engine",
        "duckdb",
        "--lake",
        dir.path().to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// The compression of every column chunk of a partition file.
fn codecs(file: &Path) -> Vec<parquet::basic::Compression> {
    use parquet::file::reader::{FileReader, SerializedFileReader};
    let reader = SerializedFileReader::new(std::fs::File::open(file).unwrap()).unwrap();
    let meta = reader.metadata();
    (meta.row_groups().iter())
        .flat_map(|g| g.columns().iter().map(|c| c.compression()))
        .collect()
}

#[test]
fn small_partitions_are_written_uncompressed_and_large_ones_with_zstd() {
    // Reading a zstd column chunk costs a compressor and a decompressor whatever its size:
    // a day of a few dialogues is stored plain, a day of thousands with zstd. The two are
    // also read back the two ways: a small file whole, one past 1 MiB by column chunk.
    let dir = tempfile::tempdir().unwrap();
    let (small, large) = (dir.path().join("small"), dir.path().join("large"));
    let small_lake = small.to_str().unwrap();
    run_ok(&[
        "-q",
        "ingest",
        "data-samples/anywhere365",
        "--lake",
        small_lake,
    ]);
    let exports = dir.path().join("exports");
    run_ok(&[
        "-q",
        "generate",
        "anywhere365",
        "--out",
        exports.to_str().unwrap(),
        "--days",
        "1",
        "--per-day",
        "30000",
    ]);
    ingest_ok(&exports, &large);
    let files = |lake: &Path| -> Vec<PathBuf> {
        (parquet_files(lake).into_keys())
            .filter(|p| p.starts_with("dialogues"))
            .map(|p| lake.join(p))
            .collect()
    };
    let plain = parquet::basic::Compression::UNCOMPRESSED;
    let small_files = files(&small);
    assert!(!small_files.is_empty());
    for f in &small_files {
        assert!(codecs(f).iter().all(|c| *c == plain), "{f:?}");
    }
    let busiest = (files(&large).into_iter())
        .max_by_key(|f| std::fs::metadata(f).unwrap().len())
        .unwrap();
    assert!(std::fs::metadata(&busiest).unwrap().len() > 1 << 20);
    let zstd = codecs(&busiest);
    assert!(
        zstd.iter()
            .all(|c| matches!(c, parquet::basic::Compression::ZSTD(_))),
        "{busiest:?}: {zstd:?}"
    );
    // Both read back as the same KPIs as their exports.
    for (lake, exports) in [
        (&small, "data-samples/anywhere365"),
        (&large, exports.to_str().unwrap()),
    ] {
        let from_lake = rows(&["metrics", "queue", "--lake", lake.to_str().unwrap()]);
        assert_eq!(from_lake, rows(&["metrics", "queue", exports]));
    }
}
