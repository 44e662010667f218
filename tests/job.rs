//! `cxkpi run --config`: the example config of the repository, end to end.

mod common;

use std::path::Path;

use common::run;

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            copy_dir(&p, &to.join(p.file_name().unwrap()));
        } else {
            std::fs::copy(&p, to.join(p.file_name().unwrap())).unwrap();
        }
    }
}

#[test]
fn the_example_job_ingests_and_refreshes_every_kpi_table() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    copy_dir(&root.join("data-samples"), &dir.path().join("data-samples"));
    std::fs::copy(
        root.join("cxkpi.example.toml"),
        dir.path().join("cxkpi.toml"),
    )
    .unwrap();
    // A bad file in the inbox: set aside (skip_bad_files = true), and the exit code says so.
    std::fs::copy(
        root.join("tests/fixtures/bad/truncated_array.json"),
        dir.path().join("data-samples/ultimate/zz_truncated.json"),
    )
    .unwrap();
    let config = dir.path().join("cxkpi.toml");
    let out = run(&["run", "--config", config.to_str().unwrap(), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(4),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("zz_truncated.json"));
    let summary: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(summary["ingest"]["files_ingested"], 15);
    assert_eq!(
        summary["ingest"]["files_rejected"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // Eight KPI tables, then the report.
    assert_eq!(summary["kpis"].as_array().unwrap().len(), 9);
    let kpis = dir.path().join(".cxkpi/kpis");
    for name in [
        "bot_daily.parquet",
        "bot_by_intent.csv",
        "chat_interactions_hourly.parquet",
        "chat_response_times.csv",
        "queue_30m.parquet",
        "calls_daily.parquet",
        "csat_by_team.csv",
        "agent_productivity.csv",
        "report.html",
    ] {
        assert!(kpis.join(name).exists(), "{name}");
    }
    let page = std::fs::read_to_string(kpis.join("report.html")).unwrap();
    assert!(
        page.contains("service_level_v3_20s"),
        "the config's variants are charted"
    );
    // A KPI table from the job equals the same command on the files.
    let direct = run(&[
        "-q",
        "metrics",
        "bot",
        "data-samples/ultimate",
        "--by",
        "first_meaningful_intent",
        "--format",
        "csv",
    ]);
    assert_eq!(
        std::fs::read(kpis.join("bot_by_intent.csv")).unwrap(),
        direct.stdout
    );
    // Again: nothing new to ingest, the tables are rewritten atomically, same content.
    let again = run(&["-q", "run", "--config", config.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(4)); // the bad file is still there
    assert_eq!(
        std::fs::read(kpis.join("bot_by_intent.csv")).unwrap(),
        direct.stdout
    );
}

#[test]
fn a_bad_kpi_is_refused_before_anything_is_ingested() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("cxkpi.toml");
    std::fs::write(
        &config,
        "version = 1\ninbox = [\"in\"]\nlake = \"lake\"\noutputs = \"out\"\n\n[[kpi]]\nname = \"x\"\nfamily = \"bot\"\nby = [\"shoe_size\"]\n",
    )
    .unwrap();
    std::fs::create_dir_all(dir.path().join("in")).unwrap();
    let out = run(&["run", "--config", config.to_str().unwrap()]);
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("kpi x"));
    assert!(
        !dir.path().join("lake").exists(),
        "validated before the lake was touched"
    );
    let out = run(&[
        "run",
        "--config",
        dir.path().join("missing.toml").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(3));
    std::fs::write(
        &config,
        "version = 1\ninbox = []\nlake = \"l\"\noutputs = \"o\"\ncolour = \"blue\"\n",
    )
    .unwrap();
    let out = run(&["run", "--config", config.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("colour"));
}
