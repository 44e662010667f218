//! `cxkpi report`: the page is self-contained, has a chart per KPI view, and its headline
//! figures are the numbers `cxkpi metrics` prints for the same input. The page is also
//! rendered in headless Chromium by `scripts/report_check.py`.

mod common;
use common::run;

use std::path::Path;

fn ok(args: &[&str]) -> Vec<u8> {
    let out = run(args);
    assert!(
        out.status.success(),
        "cxkpi {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// An inbox of all four vendors and its lake.
fn inbox_and_lake(dir: &Path) -> (String, String) {
    let inbox = dir.join("inbox");
    for (vendor, per_day) in [
        ("ultimate", "200"),
        ("dialpad", "60"),
        ("anywhere365", "200"),
        ("samespace", "150"),
    ] {
        let out = inbox.join(vendor);
        ok(&[
            "-q",
            "generate",
            vendor,
            "--out",
            out.to_str().unwrap(),
            "--days",
            "9",
            "--per-day",
            per_day,
            "--start",
            "2024-10-22",
        ]);
    }
    let lake = dir.join("lake");
    common::ingest_ok(&inbox, &lake);
    (
        inbox.to_string_lossy().into_owned(),
        lake.to_string_lossy().into_owned(),
    )
}

/// The `data-value` of the headline figure of `column` in `section`.
fn headline(page: &str, section: &str, column: &str) -> String {
    let at = page
        .find(&format!("<section id=\"{section}\">"))
        .unwrap_or_else(|| panic!("section {section}"));
    let key = format!("data-column=\"{column}\" data-value=\"");
    let start = at + page[at..].find(&key).unwrap_or_else(|| panic!("{column}")) + key.len();
    page[start..start + page[start..].find('"').unwrap()].to_string()
}

/// The totals row of `cxkpi metrics … --lake`.
fn totals(lake: &str, args: &[&str]) -> serde_json::Value {
    let mut all = vec!["-q", "metrics"];
    all.extend(args);
    all.extend(["--lake", lake, "--format", "json"]);
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&ok(&all)).unwrap();
    rows[0].clone()
}

#[track_caller]
fn same(page_value: &str, metrics: &serde_json::Value) {
    let a: f64 = page_value
        .parse()
        .unwrap_or_else(|_| panic!("{page_value:?}"));
    let b = metrics.as_f64().unwrap_or_else(|| panic!("{metrics}"));
    assert!(
        (a - b).abs() <= 1e-12 * b.abs().max(1.0),
        "page {a} vs metrics {b}"
    );
}

#[test]
fn the_page_shows_what_metrics_prints() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, lake) = inbox_and_lake(dir.path());
    let html = dir.path().join("r.html");
    let h = html.to_str().unwrap();
    ok(&[
        "-q",
        "report",
        "--lake",
        &lake,
        "--tz",
        "Europe/Amsterdam",
        "--output",
        h,
    ]);
    let page = std::fs::read_to_string(&html).unwrap();

    // Self-contained: nothing loaded, no script; a chart per view of every family.
    for banned in ["<script", "src=", "href=\"http", "url(", "@import"] {
        assert!(!page.contains(banned), "{banned}");
    }
    let charts = page.matches("<figure").count();
    assert!(charts >= 16, "{charts} charts");
    for section in ["bot", "messaging", "queue", "calls"] {
        assert!(
            page.contains(&format!("<section id=\"{section}\">")),
            "{section}"
        );
    }
    assert!(page.contains("Buckets of one day (chosen for a range of 10 days)"));

    let tz = ["--tz", "Europe/Amsterdam"];
    let bot = totals(&lake, &[&["bot"][..], &tz].concat());
    for c in [
        "total_conversations",
        "bot_handled_rate",
        "deflection_rate",
        "escalation_rate",
        "automation_rate",
        "messages_understood_rate",
    ] {
        same(&headline(&page, "bot", c), &bot[c]);
    }
    let interactions = totals(&lake, &["messaging", "--view", "interactions"]);
    same(
        &headline(&page, "messaging", "interactions"),
        &interactions["interactions"],
    );
    let handoff = totals(&lake, &["messaging", "--view", "handoff"]);
    same(
        &headline(&page, "messaging", "escalation_rate"),
        &handoff["escalation_rate"],
    );
    let queue = totals(&lake, &["queue"]);
    for c in [
        "offered",
        "abandoned",
        "sla_share",
        "abandon_rate",
        "asa_sec",
    ] {
        same(&headline(&page, "queue", c), &queue[c]);
    }
    let calls = totals(&lake, &["calls"]);
    for c in ["calls", "answer_rate", "aht_sec", "time_to_answer_p90_sec"] {
        same(&headline(&page, "calls", c), &calls[c]);
    }

    // The same inbox given as files: the same page.
    let from_files = dir.path().join("f.html");
    ok(&[
        "-q",
        "report",
        &inbox,
        "--tz",
        "Europe/Amsterdam",
        "--output",
        from_files.to_str().unwrap(),
    ]);
    assert_eq!(std::fs::read_to_string(&from_files).unwrap(), page);
}

#[test]
fn a_long_range_is_shown_by_week_and_options_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let (_, lake) = inbox_and_lake(dir.path());
    let html = dir.path().join("r.html");
    let h = html.to_str().unwrap();
    ok(&[
        "-q",
        "report",
        "--lake",
        &lake,
        "--from",
        "2024-08-01",
        "--to",
        "2024-12-01",
        "--output",
        h,
    ]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Buckets of one week (from Monday) (chosen for a range of 122 days)"));
    for (args, says) in [
        (vec!["--interval", "total"], "does not apply"),
        (vec!["--tz", "Mars/Olympus"], "unknown time zone"),
        (
            vec!["--from", "2024-11-01", "--to", "2024-10-01"],
            "--from must be before --to",
        ),
        (vec!["--sla-threshold=-3"], "threshold"),
    ] {
        let mut all = vec!["report", "--lake", lake.as_str(), "--output", h];
        all.extend(args);
        let out = run(&all);
        assert_eq!(out.status.code(), Some(2), "{all:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(says),
            "{all:?}"
        );
    }
    let out = run(&[
        "report",
        dir.path().to_str().unwrap(),
        "--lake",
        &lake,
        "--output",
        h,
    ]);
    assert_eq!(out.status.code(), Some(2));
}

/// The `<rect>` elements (bars, and the chart's background) of the figure `id` of a page.
fn rects_of(page: &str, id: &str) -> usize {
    let start = page.find(&format!("<figure id=\"{id}\"")).unwrap();
    let end = start + page[start..].find("</figure>").unwrap();
    page[start..end].matches("<rect").count()
}

/// Generated Anywhere365 exports (`generate` with `args`) in `dir/a`, and the report's path
/// `dir/r.html`.
fn generated_dialogues(dir: &Path, args: &[&str]) -> (String, String) {
    let inbox = dir.join("a").to_str().unwrap().to_string();
    let gen = ["-q", "generate", "anywhere365", "--out", &inbox, "--plain"];
    ok(&[&gen[..], args].concat());
    (inbox, dir.join("r.html").to_str().unwrap().to_string())
}

#[test]
fn counts_over_many_buckets_are_drawn_as_lines_not_slivers_of_bars() {
    let dir = tempfile::tempdir().unwrap();
    let (inbox, html) = generated_dialogues(dir.path(), &["--days", "400", "--per-day", "3"]);
    let (inbox, h) = (inbox.as_str(), html.as_str());
    // 58 weeks of three series: 174 bars, past what the chart's width shows.
    ok(&["-q", "report", inbox, "--output", h]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Buckets of one week"));
    assert!(rects_of(&page, "queue-volume") < 5, "lines, not bars");
    // Four weeks: bars.
    ok(&["-q", "report", inbox, "--output", h, "--to", "2024-04-22"]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(rects_of(&page, "queue-volume") > 3 * 4, "bars");
}

#[test]
fn a_day_or_two_is_shown_by_hour_with_labels_that_fit() {
    let dir = tempfile::tempdir().unwrap();
    let two_days = ["--days", "2", "--per-day", "200", "--start", "2024-03-25"];
    let (inbox, html) = generated_dialogues(dir.path(), &two_days);
    let (inbox, h) = (inbox.as_str(), html.as_str());
    // One day: by hour, each bucket labelled by its time, the date on the axis.
    let day = ["--from", "2024-03-25", "--to", "2024-03-26"];
    ok(&[&["-q", "report", inbox, "--output", h][..], &day].concat());
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Buckets of one hour (chosen for a range of 1 day)"));
    assert!(page.contains("bucket start on 2024-03-25 (UTC)"));
    assert!(
        page.contains(">00:00<") && page.contains(">23:00<"),
        "time labels"
    );
    assert!(!page.contains("2024-03-25 00:00"), "no date in the labels");
    // Two days: by hour, labelled by month, day and time.
    ok(&["-q", "report", inbox, "--output", h]);
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("Buckets of one hour (chosen for a range of 2 days)"));
    assert!(page.contains(">03-26 23:00<"), "month-day and time");
    assert!(!page.contains("bucket start on"));
}
