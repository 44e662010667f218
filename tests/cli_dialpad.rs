//! The `cxkpi` binary on Dialpad message dumps: hand-checked views on data-samples/dialpad
//! (see its README), bad input, and the generator. DuckDB parity of every view on generated
//! pulls runs in scripts/parity.py.

use std::path::PathBuf;
mod common;

use common::{num, rows, run};
use serde_json::Value;

const S: &str = "data-samples/dialpad";

fn view(v: &str, extra: &[&str]) -> Vec<Value> {
    let mut args = vec!["metrics", "messaging", S, "--view", v];
    args.extend_from_slice(extra);
    rows(&args)
}

#[test]
fn interactions_and_message_counts() {
    let r = &view("interactions", &[])[0];
    assert_eq!(r["interactions"], 6);
    assert_eq!(r["customer_sessions"], 3);
    assert_eq!(r["messages"], 19); // 25 delivered, 6 repeats from overlapping pulls
    assert_eq!(r["customer_messages"], 9);
    assert_eq!(r["bot_messages"], 5);
    assert_eq!(r["agent_messages"], 4);
}

#[test]
fn a_message_pulled_again_counts_once_in_its_later_version() {
    // Same sessionid, ts, sender type and text in two pulls: one message, the later copy's
    // sentiment.
    let dir = tempfile::tempdir().unwrap();
    let m = |sentiment: f64| {
        format!(
            r#"{{"sessionid":"s1","ts":1711324855947,"sendertype":"customer","text":"hi","sentiment":{sentiment},"chattype":"bot"}}"#
        )
    };
    std::fs::write(dir.path().join("pull_1.json"), m(0.5)).unwrap();
    std::fs::write(dir.path().join("pull_2.json"), m(-0.5)).unwrap();
    let d = dir.path().to_str().unwrap();
    let r = &rows(&["metrics", "messaging", d, "--view", "sentiment"])[0];
    assert_eq!(r["customer_messages"], 1);
    num(&r["avg_sentiment"], -0.5);
}

#[test]
fn a_message_without_ts_is_booked_by_its_timestamp_text_from_files_and_lake_alike() {
    // `ts` is authoritative; the readable `timestamp` fills a missing one. The metrics-only
    // read once skipped `timestamp` with the other unread fields and booked such a message
    // in no day, while the lake (a full read) booked it on 2024-03-25.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("pull.json");
    std::fs::write(
        &file,
        concat!(
            r#"{"sessionid":"1.1","timestamp":"2024-03-25 00:00:55","sendertype":"customer","text":"a","chattype":"bot"}"#,
            "\n",
            r#"{"sessionid":"1.1","ts":1711324857203,"sendertype":"bot","text":"b","chattype":"bot"}"#,
            "\n",
        ),
    )
    .unwrap();
    let lake = dir.path().join("lake");
    let (f, l) = (file.to_str().unwrap(), lake.to_str().unwrap());
    let ingest = run(&["-q", "ingest", f, "--lake", l]);
    assert!(ingest.status.success(), "{ingest:?}");
    let day = ["--view", "interactions", "--interval", "day"];
    let from_files = rows(&[&["metrics", "messaging", f][..], &day].concat());
    let from_lake = rows(&[&["metrics", "messaging", "--lake", l][..], &day].concat());
    assert_eq!(from_files, from_lake);
    assert_eq!(from_files.len(), 1, "{from_files:?}");
    assert_eq!(from_files[0]["bucket_start"], "2024-03-25T00:00:00+00:00");
    assert_eq!(from_files[0]["messages"], 2);
    assert_eq!(from_files[0]["customer_messages"], 1);
}

#[test]
fn bot_vs_agent_and_endpoints() {
    let t = view("interaction-type", &[]);
    let got: Vec<(&str, i64, i64)> = t
        .iter()
        .map(|r| {
            (
                r["chattype"].as_str().unwrap(),
                r["interactions"].as_i64().unwrap(),
                r["messages"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, vec![("agent", 2, 9), ("bot", 4, 10)]);
    let e = view("customer-endpoint", &[]);
    let got: Vec<(&str, i64, i64)> = e
        .iter()
        .map(|r| {
            (
                r["sessionchannel"].as_str().unwrap(),
                r["interactions"].as_i64().unwrap(),
                r["customer_sessions"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(got, vec![("sms", 2, 1), ("web", 3, 1), ("whatsapp", 1, 1)]);
}

#[test]
fn intents_with_and_without_intent_type() {
    let i = view("intents", &[]);
    let got: Vec<(&str, i64)> = i
        .iter()
        .map(|r| (r["topic"].as_str().unwrap(), r["intents"].as_i64().unwrap()))
        .collect();
    assert_eq!(
        got,
        vec![("change_address", 1), ("delivery_status", 2), ("refund", 1)]
    );
    num(&i[1]["avg_score"], 0.75);
    let a = view("intents", &["--intent-type", "agent"]);
    assert_eq!(a.len(), 1);
    num(&a[0]["avg_score"], 0.6);
    assert_eq!(view("intents", &["--intent-type", "bot"]).len(), 3);
}

#[test]
fn sentiment_handoff_and_response_times() {
    let s = &view("sentiment", &[])[0];
    assert_eq!(s["customer_messages"], 9);
    assert_eq!(s["scored_messages"], 8);
    num(&s["avg_sentiment"], -0.15);
    assert_eq!(s["negative_messages"], 4);
    num(&s["neutral_share"], 1.0 / 8.0);
    let h = &view("handoff", &[])[0];
    assert_eq!(h["bot_customer_sessions"], 3);
    assert_eq!(h["escalated_customer_sessions"], 2);
    num(&h["escalation_rate"], 2.0 / 3.0);
    assert_eq!(h["contained_customer_sessions"], 1);
    let r = &view("response-times", &[])[0];
    assert_eq!(r["agent_interactions"], 2);
    num(&r["first_response_mean_sec"], 90.0);
    num(&r["first_response_p90_sec"], 114.0);
    num(&r["avg_response_mean_sec"], 80.0);
    num(&r["avg_response_p90_sec"], 112.0);
}

#[test]
fn daily_in_a_zone_with_a_dst_change() {
    let d = view(
        "interactions",
        &["--interval", "1d", "--tz", "Europe/Amsterdam"],
    );
    let got: Vec<(&str, i64, i64)> = d
        .iter()
        .map(|r| {
            (
                r["bucket_start"].as_str().unwrap(),
                r["interactions"].as_i64().unwrap(),
                r["messages"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("2024-03-30T00:00:00+01:00", 3, 12),
            ("2024-03-31T00:00:00+01:00", 1, 2),
            ("2024-04-01T00:00:00+02:00", 2, 5),
        ]
    );
}

#[test]
fn canonical_tables_keep_ids_as_text() {
    let i = rows(&["table", "interactions", S]);
    assert_eq!(i.len(), 6);
    let seg10 = i
        .iter()
        .find(|r| r["sessionid"] == "103.10")
        .expect("103.10 stays 103.10");
    assert_eq!(seg10["segment"], 10);
    assert_eq!(seg10["conversation_id"], "103");
    num(&seg10["first_response_sec"], 120.0);
    let a2 = i.iter().find(|r| r["sessionid"] == "101.2").unwrap();
    assert_eq!(a2["customersessionid"], "-1711800.0001");
    num(&a2["avg_response_sec"], 40.0);
    assert_eq!(a2["responses"], 2);
    let m = rows(&["table", "messages", S]);
    assert_eq!(m.len(), 19);
    // An object is kept as its JSON text, verbatim; a string as is.
    let infos: Vec<&str> = m
        .iter()
        .filter_map(|r| r["sessionchannelinfo"].as_str())
        .collect();
    assert!(
        infos
            .iter()
            .any(|i| i.starts_with('{') && i.contains("+15550100")),
        "{infos:?}"
    );
    assert!(infos.contains(&"+15550199"));
    assert!(m
        .iter()
        .any(|r| r["text"].as_str().unwrap().contains("****MONEY****")));
    assert_eq!(m.iter().filter(|r| r["sendertype"].is_null()).count(), 1);
}

#[test]
fn bad_dumps_are_located() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    for (file, needles) in [
        (
            "dialpad_bad_session.json",
            &[":2:", "sessionid", "101.x"][..],
        ),
        ("dialpad_bad_wrapper.json", &[":2:", "`ts`", "noon"]),
    ] {
        let p = root.join("tests/fixtures/bad").join(file);
        let out = run(&["metrics", "messaging", p.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(1), "{file}");
        assert!(out.stdout.is_empty());
        let err = String::from_utf8_lossy(&out.stderr);
        for n in needles {
            assert!(err.contains(n), "{file}: {n:?} in {err}");
        }
    }
    // A folder of another vendor's exports: passed over, and nothing of the family left.
    let ultimate = run(&["metrics", "messaging", "data-samples/ultimate"]);
    assert_eq!(ultimate.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&ultimate.stderr)
        .contains("only files of other vendors (3 Ultimate)"));
    let wrong = run(&[
        "metrics",
        "messaging",
        S,
        "--view",
        "handoff",
        "--by",
        "topic",
    ]);
    assert_eq!(wrong.status.code(), Some(2));
    let wrong = run(&[
        "metrics",
        "messaging",
        S,
        "--view",
        "sentiment",
        "--intent-type",
        "bot",
    ]);
    assert_eq!(wrong.status.code(), Some(2));
}

#[test]
fn generated_pulls_overlap_and_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path().to_str().unwrap();
    let out = run(&[
        "generate",
        "dialpad",
        "--out",
        d,
        "--days",
        "7",
        "--per-day",
        "40",
        "--seed",
        "2",
    ]);
    assert!(out.status.success());
    let note = String::from_utf8_lossy(&out.stderr);
    let r = &rows(&["metrics", "messaging", d, "--view", "handoff"])[0];
    assert_eq!(r["customer_sessions"], 280); // 7 days × 40, each once despite the overlaps
    let t = rows(&["metrics", "messaging", d]);
    assert!(
        note.contains(&format!("({} distinct)", t[0]["messages"])),
        "{note}"
    );
    // A view that reads no message column (handoff) counts the copies it dropped as a
    // view that reads them does: the same note.
    let dropped = |view: &str| {
        let out = run(&["metrics", "messaging", d, "--view", view]);
        assert!(out.status.success());
        let err = String::from_utf8_lossy(&out.stderr).into_owned();
        let line = err.lines().find(|l| l.contains("delivered more than once"));
        line.unwrap_or_else(|| panic!("{view}: no note of the copies in {err}"))
            .to_string()
    };
    assert_eq!(dropped("handoff"), dropped("interactions"));
}

/// A metrics run copies only the message columns its view reads (`message_columns`), so
/// every view is run by every dimension it accepts: each run must find its columns, and
/// its additive counts must add up to the unbroken view's.
#[test]
fn every_view_by_every_dimension_keeps_its_totals() {
    use clap::ValueEnum;
    use cxkpi::metrics::messaging::{dimensions, View};
    let total = |rows: &[Value], column: &str| -> i64 {
        rows.iter().map(|r| r[column].as_i64().unwrap_or(0)).sum()
    };
    let additive = ["interactions", "messages", "intents", "customer_messages"];
    for v in View::value_variants() {
        let name = v.to_possible_value().expect("a named view");
        let whole = view(name.get_name(), &[]);
        for d in dimensions(*v) {
            let by = view(name.get_name(), &["--by", d]);
            assert!(!by.is_empty(), "{} by {d}: no rows", name.get_name());
            for c in additive.iter().filter(|c| whole[0].get(**c).is_some()) {
                assert_eq!(
                    total(&by, c),
                    total(&whole, c),
                    "{} by {d}: {c}",
                    name.get_name()
                );
            }
        }
    }
}
