//! The `cxkpi` binary on Anywhere365 Dialogues and Samespace reports: hand-checked numbers
//! on data-samples/ (see their READMEs) and bad input. DuckDB parity on generated exports
//! runs in scripts/parity.py.

mod common;

use common::{num, rows, run};

const A: &str = "data-samples/anywhere365";
const S: &str = "data-samples/samespace";

#[test]
fn queue_totals_follow_the_vendor_flags() {
    let r = &rows(&["metrics", "queue", A])[0];
    assert_eq!(r["inbound_dialogues"], 8);
    assert_eq!(r["offered"], 7);
    assert_eq!(r["accepted"], 4);
    assert_eq!(r["abandoned"], 3);
    assert_eq!(r["ivr_drops"], 1);
    assert_eq!(r["in_sla"], 2);
    num(&r["sla_share"], 0.5);
    num(&r["quick_drop_share"], 1.0 / 3.0);
    num(&r["abandon_rate"], 3.0 / 7.0);
    num(&r["abandon_rate_excl_quick"], 1.0 / 3.0);
    num(&r["asa_sec"], 23.75);
    num(&r["queue_p50_sec"], 20.0);
    num(&r["queue_p90_sec"], 39.0);
    num(&r["avg_talk_sec"], 250.0);
    num(&r["avg_ivr_sec"], 19.625);
    num(&r["max_queue_sec"], 60.0);
}

#[test]
fn a_dialogue_delivered_again_counts_once_in_its_later_version() {
    // d1 abandoned in the first pull, accepted in the second (later file); d2 only once.
    let dir = tempfile::tempdir().unwrap();
    let d = |id: &str, outcome: &str, accept: &str| {
        format!(
            r#"{{"id":"{id}","direction":"Inbound","Outcome":"{outcome}","startTimestamp":"2024-03-25T10:00:00Z","queueEnterTimestamp":"2024-03-25T10:00:10Z","acceptTimestamp":{accept},"endTimestamp":"2024-03-25T10:05:00Z","queueDurationInSec":20.0}}"#
        )
    };
    let accepted = r#""2024-03-25T10:00:30Z""#;
    std::fs::write(
        dir.path().join("dialogues_1.json"),
        [d("d1", "Abandoned", "null"), d("d2", "Accepted", accepted)].join("\n"),
    )
    .unwrap();
    std::fs::write(
        dir.path().join("dialogues_2.json"),
        d("d1", "Accepted", accepted),
    )
    .unwrap();
    let r = &rows(&["metrics", "queue", dir.path().to_str().unwrap()])[0];
    assert_eq!(r["inbound_dialogues"], 2);
    assert_eq!(r["accepted"], 2);
    assert_eq!(r["abandoned"], 0);
}

#[test]
fn records_without_their_key_are_counted_and_the_first_located() {
    // 20,000 dialogues, all but the first without an `id`: read in chunks in parallel, so
    // a later chunk may note its keyless records first; the warning must still name the
    // first one (line 2), and locating only that one keeps this linear in the file's size.
    let dir = tempfile::tempdir().unwrap();
    let d = |n: usize| {
        let key = if n == 0 { "id" } else { "ref" };
        format!(
            r#"{{"{key}":"d{n}","direction":"Inbound","Outcome":"Accepted","startTimestamp":"2024-03-25T10:00:00Z","queueDurationInSec":20.0}}"#
        )
    };
    let text: Vec<String> = (0..20_000).map(d).collect();
    std::fs::write(dir.path().join("dialogues.json"), text.join("\n")).unwrap();
    let out = run(&["metrics", "queue", dir.path().to_str().unwrap()]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(
        err.contains("19999 record(s) without their key") && err.contains("dialogues.json:2:1 "),
        "{err}"
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("\n1,1,1,0,"));
}

#[test]
fn queue_means_are_exact_whatever_the_delivery_order() {
    // In f64, (0.1 + 0.2) + 0.3 and 0.3 + (0.1 + 0.2) differ in the last bit, and neither
    // is 0.6; a metrics-only read keeps rows in delivery order, so its means must not
    // depend on it. Both orders of the same files, and the lake, give exactly 0.2 s.
    let d = |id: &str, queue: &str| {
        format!(
            r#"{{"id":"{id}","direction":"Inbound","Outcome":"Accepted","startTimestamp":"2024-03-25T10:00:00Z","queueEnterTimestamp":"2024-03-25T10:00:10Z","acceptTimestamp":"2024-03-25T10:00:30Z","endTimestamp":"2024-03-25T10:05:00Z","queueDurationInSec":{queue},"initialTalkDurationInSec":{queue},"ivrDurationInSec":{queue}}}"#
        )
    };
    let mut seen = Vec::new();
    for first in ["a", "b"] {
        let dir = tempfile::tempdir().unwrap();
        let (one, two) = (d("d1", "0.1") + "\n" + &d("d2", "0.2"), d("d3", "0.3"));
        let (one_name, two_name) = match first {
            "a" => ("dialogues_a.json", "dialogues_b.json"),
            _ => ("dialogues_b.json", "dialogues_a.json"),
        };
        std::fs::write(dir.path().join(one_name), one).unwrap();
        std::fs::write(dir.path().join(two_name), two).unwrap();
        let files = dir.path().to_str().unwrap();
        let lake_dir = tempfile::tempdir().unwrap();
        let lake = lake_dir.path().to_str().unwrap();
        assert!(run(&["ingest", files, "--lake", lake]).status.success());
        for r in [
            &rows(&["metrics", "queue", files])[0],
            &rows(&["metrics", "queue", "--lake", lake])[0],
        ] {
            for c in ["asa_sec", "avg_talk_sec", "avg_ivr_sec"] {
                assert_eq!(r[c].as_f64(), Some(0.2), "{c} with {one_name} first: {r}");
            }
            seen.push(r.clone());
        }
    }
    assert!(seen.windows(2).all(|w| w[0] == w[1]));
}

#[test]
fn thresholds_recompute_and_variants_are_named() {
    let r = &rows(&[
        "metrics",
        "queue",
        A,
        "--sla-threshold",
        "30",
        "--quick-drop-threshold",
        "20",
        "--service-level",
        "v1,v2,v3,v4,v5,v6",
    ])[0];
    assert!(
        r.get("sla_share").is_none(),
        "recomputed columns carry the threshold"
    );
    assert_eq!(r["in_sla_30s"], 3);
    num(&r["sla_share_30s"], 0.75);
    assert_eq!(r["quick_drops_20s"], 2);
    num(&r["abandon_rate_excl_quick_20s"], 0.2);
    for (v, n, d) in [
        ("v1", 3, 4),
        ("v2", 3, 7),
        ("v3", 3, 5),
        ("v4", 3, 5),
        ("v5", 5, 7),
        ("v6", 3, 7),
    ] {
        let name = format!("service_level_{v}_30s");
        assert_eq!(r[format!("{name}_num")], n, "{name}");
        assert_eq!(r[format!("{name}_den")], d, "{name}");
        num(&r[&name], n as f64 / d as f64);
    }
    // At the tenant's own threshold the recomputation agrees with the exported flag.
    let r = &rows(&["metrics", "queue", A, "--sla-threshold", "20"])[0];
    assert_eq!(r["in_sla_20s"], 2);
    let bad = run(&["metrics", "queue", A, "--sla-threshold", "-3"]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn queue_daily_across_dst_and_by_queue() {
    let d = rows(&[
        "metrics",
        "queue",
        A,
        "--interval",
        "1d",
        "--tz",
        "Europe/Amsterdam",
    ]);
    let got: Vec<(&str, i64)> = d
        .iter()
        .map(|r| {
            (
                r["bucket_start"].as_str().unwrap(),
                r["inbound_dialogues"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("2024-03-30T00:00:00+01:00", 5),
            ("2024-03-31T00:00:00+01:00", 2),
            ("2024-04-01T00:00:00+02:00", 1),
        ]
    );
    assert!(
        d[1]["quick_drop_share"].is_null(),
        "no abandons that day: null, not 0"
    );
    let q = rows(&["metrics", "queue", A, "--by", "queue_id"]);
    let sales = q.iter().find(|r| r["queue_id"] == "ep-q-sales").unwrap();
    assert_eq!(sales["offered"], 4); // dlg-01, dlg-02, dlg-08 accepted and dlg-09 abandoned
    assert_eq!(sales["abandoned"], 1);
    let all = &rows(&["metrics", "queue", A, "--direction", "all"])[0];
    assert_eq!(all["inbound_dialogues"], 9);
}

/// A metrics run copies only the columns the queue KPIs read (`queue::columns`), so the
/// KPIs are run by every dimension: each run must find its columns, and its counts must
/// add up to the unbroken run's.
#[test]
fn queue_kpis_by_every_dimension_keep_their_totals() {
    let counts = [
        "inbound_dialogues",
        "accepted",
        "abandoned",
        "ivr_drops",
        "in_sla",
    ];
    let total = |rows: &[serde_json::Value], c: &str| -> i64 {
        rows.iter().map(|r| r[c].as_i64().unwrap_or(0)).sum()
    };
    let whole = rows(&["metrics", "queue", A, "--direction", "all"]);
    for d in cxkpi::metrics::queue::DIMENSIONS {
        let by = rows(&["metrics", "queue", A, "--direction", "all", "--by", d]);
        assert!(
            by.len() > 1,
            "by {d}: one group only, the test would show nothing"
        );
        for c in counts {
            assert_eq!(total(&by, c), total(&whole, c), "by {d}: {c}");
        }
    }
}

#[test]
fn calls_join_csat_for_after_call_work() {
    let r = &rows(&["metrics", "calls", S])[0];
    assert_eq!(r["calls"], 6); // c1 delivered twice counts once
    assert_eq!(r["inbound_calls"], 4);
    assert_eq!(r["outbound_calls"], 2);
    assert_eq!(r["answered_calls"], 4);
    assert_eq!(r["unanswered_inbound"], 1);
    num(&r["answer_rate"], 0.75);
    num(&r["avg_talk_sec"], 158.5);
    num(&r["avg_hold_sec"], 12.5);
    num(&r["hold_rate"], 0.5);
    assert_eq!(r["acw_calls"], 2);
    num(&r["avg_acw_sec"], 53.5);
    num(&r["aht_sec"], 160.5);
    num(&r["avg_time_to_answer_sec"], (10.0 + 3.26 + 5.0) / 3.0);
    num(&r["time_to_answer_p50_sec"], 5.0);
    num(&r["time_to_answer_p90_sec"], 9.0);
    num(&r["avg_mos"], 4.225);
}

#[test]
fn csat_per_question_on_its_own_scale() {
    let q = rows(&["metrics", "csat", S]);
    let got: Vec<(i64, i64, i64, i64)> = q
        .iter()
        .map(|r| {
            (
                r["question_id"].as_i64().unwrap(),
                r["scale_max"].as_i64().unwrap(),
                r["responses"].as_i64().unwrap(),
                r["satisfied"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![(1, 5, 2, 2), (2, 5, 2, 1), (3, 5, 1, 1), (4, 10, 1, 1)]
    );
    num(&q[1]["avg_score"], 2.5);
    assert_eq!(q[2]["non_numeric_answers"], 1);
    let answers = rows(&["table", "csat_answers", S]);
    assert_eq!(answers.len(), 7);
}

#[test]
fn csat_answers_no_scale_holds_are_counted_apart_not_scored() {
    // Question 1: "4" and "2" are responses on a 1–5 scale; "-5" and "42" are broken
    // answers. Question 2 has only "11". Scored, they made question 1's mean 10.75 and left
    // it without a scale (so a CSAT share of 0 of 4); question 2 a share of 0 of 1.
    let dir = tempfile::tempdir().unwrap();
    let answer = |id: &str, n: u32, a: &str| {
        format!(
            r#"{{"_id":"{id}","timestamp":"2024-03-31T09:04:00.000Z","uuid":"c1","question":"SURVEY_ANSWER_{n}:Q{n}?","answer":"{a}"}}"#
        )
    };
    let items = [
        answer("a1", 1, "4"),
        answer("a2", 1, "2"),
        answer("a3", 1, "-5"),
        answer("a4", 1, "42"),
        answer("a5", 2, "11"),
    ];
    let record = format!(
        r#"{{"total":1,"data":[{{"_id":"c1","csat":[{}],"direction":"in","user_display_name":"Ann","team_name":"Help","start_time":"2024-03-31T09:00:00.000Z","end_time":"2024-03-31T09:03:00.000Z","duration":170,"acw_duration":20}}]}}"#,
        items.join(",")
    );
    std::fs::write(dir.path().join("csat.json"), record).unwrap();
    let q = rows(&["metrics", "csat", dir.path().to_str().unwrap()]);
    assert_eq!(q.len(), 2);
    assert_eq!(q[0]["question_id"], 1);
    assert_eq!(q[0]["scale_max"], 5);
    assert_eq!(q[0]["responses"], 2);
    assert_eq!(q[0]["out_of_range_answers"], 2);
    assert_eq!(q[0]["non_numeric_answers"], 0);
    num(&q[0]["avg_score"], 3.0);
    assert_eq!(q[0]["satisfied"], 1);
    num(&q[0]["csat_share"], 0.5);
    assert_eq!(q[1]["responses"], 0);
    assert_eq!(q[1]["out_of_range_answers"], 1);
    assert!(q[1]["scale_max"].is_null() && q[1]["avg_score"].is_null());
    assert!(q[1]["csat_share"].is_null(), "no responses, no share");
    // The answers themselves are kept as delivered.
    let kept = rows(&["table", "csat_answers", dir.path().to_str().unwrap()]);
    assert_eq!(kept.len(), 5);
}

/// A CSAT call delivered again brings its survey as it now stands: only that copy's
/// answers count, whether the copies are in two files or one, read from the files or from a
/// lake (one batch, or a batch per file). Deduplicated by answer id, the earlier copy's
/// other answers had stayed in a file read, and in the lake only when both copies were in
/// one batch's file.
#[test]
fn a_csat_call_delivered_again_keeps_only_its_new_answers() {
    let answer = |id: &str, n: u32, a: &str| {
        format!(
            r#"{{"_id":"{id}","timestamp":"2024-03-31T09:04:00.000Z","uuid":"c1","question":"SURVEY_ANSWER_{n}:Q{n}?","answer":"{a}"}}"#
        )
    };
    let call = |answers: &[String]| {
        format!(
            r#"{{"_id":"c1","csat":[{}],"direction":"in","user_display_name":"Ann","team_name":"Help","start_time":"2024-03-31T09:00:00.000Z","end_time":"2024-03-31T09:03:00.000Z","duration":170,"acw_duration":20}}"#,
            answers.join(",")
        )
    };
    let first = call(&[
        answer("a1", 1, "5"),
        answer("a2", 2, "4"),
        answer("a3", 3, "3"),
    ]);
    let again = call(&[answer("a1", 1, "2")]);
    let dir = tempfile::tempdir().unwrap();
    let (two, one) = (dir.path().join("two"), dir.path().join("one"));
    std::fs::create_dir_all(&two).unwrap();
    std::fs::create_dir_all(&one).unwrap();
    std::fs::write(two.join("csat_a.json"), &first).unwrap();
    std::fs::write(two.join("csat_b.json"), &again).unwrap();
    std::fs::write(one.join("csat.json"), format!("{first}\n{again}\n")).unwrap();
    for inbox in [&two, &one] {
        let inbox = inbox.to_str().unwrap();
        let mut reads = vec![rows(&["table", "csat_answers", inbox])];
        for batch in ["1", "1G"] {
            let lake = dir.path().join(format!("lake-{batch}-{}", reads.len()));
            let lake = lake.to_str().unwrap();
            let out = run(&["-q", "ingest", inbox, "--lake", lake, "--batch-size", batch]);
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            reads.push(rows(&["table", "csat_answers", "--lake", lake]));
        }
        for answers in reads {
            assert_eq!(answers.len(), 1, "{inbox}: {answers:?}");
            assert_eq!(answers[0]["answer_id"], "a1");
            assert_eq!(answers[0]["answer"], 2);
        }
        let q = rows(&["metrics", "csat", inbox]);
        assert_eq!(q.len(), 1, "{q:?}");
        assert_eq!(q[0]["responses"], 1);
    }
}

#[test]
fn agents_from_logs_and_weighted_productivity() {
    let l = rows(&["metrics", "agents", S, "--by", "logout_reason"]);
    assert_eq!(l.len(), 2);
    assert_eq!(l[0]["logout_reason"], "Logout");
    num(&l[0]["logged_in_sec"], 18_000.0);
    assert_eq!(l[1]["sessions"], 1);
    let p = &rows(&["metrics", "agents", S, "--source", "productivity"])[0];
    num(&p["asa_sec"], 10.0);
    num(&p["acd_sec"], 9500.0 / 36.0);
    num(&p["session_sec"], 43_289.0);
    num(&p["away_share"], 5400.0 / 43_289.0);
    let bad = run(&[
        "metrics",
        "agents",
        S,
        "--source",
        "productivity",
        "--interval",
        "1d",
    ]);
    assert_eq!(bad.status.code(), Some(2));
}

#[test]
fn mongo_shell_and_extended_json_read_the_same_values() {
    let calls = rows(&["table", "calls", S]);
    let vendor = calls
        .iter()
        .find(|r| r["uuid"] == "7f1d5a71-4f20-11eb-91c1-d5cff0c418c7")
        .expect("the vendor's example call");
    assert_eq!(vendor["id"], "5ff4093743e9410210f60350");
    assert_eq!(vendor["start_time"], "2021-01-05T06:37:36.936Z");
    assert!(vendor["answer_time"].is_null());
    let c6 = calls
        .iter()
        .find(|r| r["uuid"] == "c6-7f1d5a71-0006")
        .unwrap();
    assert_eq!(c6["answer_time"], "2024-03-31T09:00:05Z");
    num(&c6["duration_sec"], 200.0);
    num(&c6["mos"], 4.4);
    let logs = rows(&["table", "agent_sessions", S]);
    assert_eq!(logs.len(), 3);
}

/// Values each valid that a KPI would sum past i64 (polars' sums wrap round silently):
/// refused with exit 1 and the columns named, for the queue's durations (as whole
/// microseconds) and the agents' conversations.
#[test]
fn sums_past_i64_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let dialogue = |id: &str| {
        format!(
            r#"{{"id":"{id}","direction":"Inbound","Outcome":"Accepted","startTimestamp":"2024-03-25T10:00:00Z","queueDurationInSec":5e12}}"#
        )
    };
    let queue = dir.path().join("dialogues.json");
    std::fs::write(&queue, format!("{}\n{}\n", dialogue("a"), dialogue("b"))).unwrap();
    // Productivity rows of 2^62 inbound conversations each.
    let productivity = dir.path().join("productivity.json");
    let sample = std::fs::read_to_string(format!("{S}/productivity.json")).unwrap();
    let huge = sample.replace(
        "\"inbound_conversations\": 20",
        "\"inbound_conversations\": 4611686018427387904",
    );
    let huge = huge.replace(
        "\"inbound_conversations\": 10",
        "\"inbound_conversations\": 4611686018427387904",
    );
    std::fs::write(&productivity, huge).unwrap();
    for (args, needle) in [
        (
            vec!["metrics", "queue", queue.to_str().unwrap()],
            "`queue_sec` (in microseconds) add up past",
        ),
        (
            vec![
                "metrics",
                "agents",
                productivity.to_str().unwrap(),
                "--source",
                "productivity",
            ],
            "`inbound_conversations` and `outbound_conversations` add up past",
        ),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{args:?}: {err}");
    }
}

/// How many Parquet files are under `dir` (none when it does not exist).
fn parquet_files(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .map(|e| e.unwrap().path())
        .map(|p| match p.is_dir() {
            true => parquet_files(&p),
            false => usize::from(p.extension().is_some_and(|x| x == "parquet")),
        })
        .sum()
}

#[test]
fn bad_voice_exports_are_located() {
    for (cmd, file, needles) in [
        (
            "csat",
            "samespace_csat_vendor_example.json",
            &[":17:", "expected a key (a string)"][..],
        ),
        (
            "queue",
            "anywhere365_bad_flag.json",
            &[":1:", "`InSLA`", "Maybe"],
        ),
        // Text that Rust's float syntax takes but no JSON number can be.
        (
            "queue",
            "anywhere365_nan_duration.json",
            &[
                ":2:",
                "`queueDurationInSec`",
                "expected a finite number",
                "NaN",
            ],
        ),
        // A duration the queue KPIs could not average as whole microseconds (it failed
        // their run with an internal error, exit 70, before it was refused here).
        (
            "queue",
            "anywhere365_long_duration.json",
            &[
                ":1:",
                "`InitialTalkDurationInSec`",
                "longer than a duration can be",
            ],
        ),
    ] {
        let p = format!("tests/fixtures/bad/{file}");
        let out = run(&["metrics", cmd, &p]);
        assert_eq!(out.status.code(), Some(1), "{file}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        for n in needles {
            assert!(err.contains(n), "{file}: {n:?} in {err}");
        }
        // An ingest refuses the file alike and keeps nothing of it.
        let lake = tempfile::tempdir().unwrap();
        let lake = lake.path().join("lake");
        let out = run(&["ingest", &p, "--lake", lake.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "ingest {file}");
        assert!(String::from_utf8_lossy(&out.stderr).contains(needles[1]));
        assert_eq!(parquet_files(&lake), 0, "ingest {file} wrote a partition");
    }
    // A file of another vendor named explicitly is an error; a folder of them is passed over.
    let wrong = run(&[
        "metrics",
        "calls",
        "data-samples/anywhere365/dialogues_2024-03-31.json",
    ]);
    assert_eq!(wrong.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("looks like an Anywhere365"));
    let folder = run(&["metrics", "calls", A]);
    assert_eq!(folder.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&folder.stderr)
        .contains("only files of other vendors (3 Anywhere365)"));
}
