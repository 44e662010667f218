//! The seeded, time-bounded fuzz loop every test run does: the properties of
//! `cxkpi::fuzz` (the parser against serde_json; every vendor reader over mutated files)
//! on mutations of a seed corpus. The same checks run coverage-guided, for as long as one
//! likes, as the `cargo fuzz` targets in `fuzz/` (see the README).
//!
//! Deterministic: the seed is fixed (`CXKPI_FUZZ_SEED` changes it), so a failure repeats.
//! Bounded: at most `CXKPI_FUZZ_ITERS` mutations per property (defaults below) and at
//! most `CXKPI_FUZZ_SECS` seconds (default 20) each, whichever comes first; a failure
//! prints the input.

use std::time::{Duration, Instant};

use cxkpi::fuzz::{check_file, check_json, mutate, Rng};

fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Documents JSON parsers get wrong: valid and invalid, from the JSON conformance cases and
/// from this project's bug reports.
const DOCS: &[&str] = &[
    r#"{"a":1,"b":[true,false,null],"c":{"d":"e"}}"#,
    r#"[1,-0,0.5,-1.5e3,1E+2,1e-400,18446744073709551615,18446744073709551616,-9223372036854775809]"#,
    r#""\u0041\u00e9\ud83d\ude00\n\t\"\\\/\b\f\r""#,
    r#""\u+041cme""#,
    r#""\ud800""#,
    r#""\udc00\ud800""#,
    r#"{"zz_extra": [tru]}"#,
    r#"{1:1}"#,
    r#"[1 2]"#,
    r#"[1,]"#,
    r#"{"a" 1}"#,
    r#"[-]"#,
    r#"[01]"#,
    r#"[1.]"#,
    r#"[.5]"#,
    r#"["a\x"]"#,
    r#"{"a":1,}"#,
    r#"[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]"#,
    "[\"tab\there\"]",
    "\"\u{e9}\u{1F600}\"",
    r#"{"conversation_id":100000000000000000001,"n":1.0e2}"#,
    r#"  null  "#,
    r#"[NaN]"#,
    r#"{"a":"b"}x"#,
];

fn pick(rng: &mut Rng, n: usize) -> usize {
    (rng.next_u64() % n as u64) as usize
}

fn budget(default_iters: u64) -> (u64, Instant, Duration) {
    (
        env("CXKPI_FUZZ_ITERS", default_iters),
        Instant::now(),
        Duration::from_secs(env("CXKPI_FUZZ_SECS", 20)),
    )
}

#[test]
fn the_parser_agrees_with_serde_json_on_mutated_documents() {
    let mut rng = Rng::new(env("CXKPI_FUZZ_SEED", 0x5eed));
    for d in DOCS {
        check_json(d.as_bytes());
    }
    let (iters, started, limit) = budget(3_000_000);
    let mut done = 0;
    while done < iters && started.elapsed() < limit {
        let doc = DOCS[pick(&mut rng, DOCS.len())].as_bytes();
        let other = DOCS[pick(&mut rng, DOCS.len())].as_bytes();
        check_json(&mutate(&mut rng, doc, other));
        done += 1;
    }
    eprintln!("the parser against serde_json: {done} mutated documents");
    assert!(done > 0);
}

#[test]
fn every_reader_survives_mutated_exports_and_keeps_only_valid_json() {
    let samples = [
        "data-samples/ultimate/conversation_64f1c2a9e3b1d20012ab34cd_2024-03-30_000000000000.json",
        "data-samples/dialpad/dialpad_messages_2024-03-30.json",
        "data-samples/anywhere365/dialogues_2024-03-31.json",
        "data-samples/anywhere365/dialogues_2024-03-30_page1.json",
        "data-samples/samespace/calls_2024-03-30.json",
        "data-samples/samespace/calls_shell.json",
        "data-samples/samespace/csat.json",
        "data-samples/samespace/agent_logs.json",
        "data-samples/samespace/productivity.json",
    ];
    let root = env!("CARGO_MANIFEST_DIR");
    let corpus: Vec<Vec<u8>> = samples
        .iter()
        .map(|p| std::fs::read(format!("{root}/{p}")).expect("sample"))
        .collect();
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("export.json");
    for doc in &corpus {
        check_file(&path, doc);
    }
    let mut rng = Rng::new(env("CXKPI_FUZZ_SEED", 0x5eed) ^ 0xf11e);
    let (iters, started, limit) = budget(30_000);
    let mut done = 0;
    while done < iters && started.elapsed() < limit {
        let doc = &corpus[pick(&mut rng, corpus.len())];
        let other = DOCS[pick(&mut rng, DOCS.len())].as_bytes();
        check_file(&path, &mutate(&mut rng, doc, other));
        done += 1;
    }
    eprintln!("the readers: {done} mutated export files");
    assert!(done > 0);
}
