//! What a new user meets first: a mixed inbox read by family, shell completions and man
//! pages generated from the command-line definitions.

mod common;
use common::run;

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_mixed_inbox_is_read_by_family() {
    // data-samples/ holds all four vendors: each family reads its own files and passes over
    // the others with one note, and gives what it gives on its own folder.
    for (family, own) in [
        ("bot", "data-samples/ultimate"),
        ("messaging", "data-samples/dialpad"),
        ("queue", "data-samples/anywhere365"),
        ("calls", "data-samples/samespace"),
    ] {
        let mixed = run(&["metrics", family, "data-samples", "--format", "csv"]);
        assert!(mixed.status.success(), "{family}: {}", stderr(&mixed));
        assert!(
            stderr(&mixed).contains("file(s) of other vendors found in the directories"),
            "{family}: {}",
            stderr(&mixed)
        );
        let alone = run(&["metrics", family, own, "--format", "csv"]);
        assert_eq!(mixed.stdout, alone.stdout, "{family}");
    }
    let note = stderr(&run(&["metrics", "bot", "data-samples", "--format", "csv"]));
    assert!(note.contains("passed over 12 file(s)"), "{note}");
    assert!(note.contains("3 Dialpad"), "{note}");

    let table = run(&["table", "dialogues", "data-samples", "--format", "csv"]);
    assert!(table.status.success(), "{}", stderr(&table));
    let skip = run(&[
        "metrics",
        "bot",
        "data-samples",
        "--skip-bad-files",
        "--format",
        "csv",
    ]);
    assert_eq!(skip.status.code(), Some(0), "{}", stderr(&skip));

    // A folder with none of the family's files says so.
    let none = run(&["metrics", "bot", "data-samples/dialpad"]);
    assert_eq!(none.status.code(), Some(2));
    assert!(stderr(&none).contains("only files of other vendors (3 Dialpad)"));
}

#[test]
fn a_file_of_another_vendor_named_explicitly_is_an_error() {
    let file = std::fs::read_dir("data-samples/dialpad")
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.extension().is_some_and(|e| e == "json" || e == "ndjson"))
        .expect("a Dialpad sample");
    let out = run(&["metrics", "bot", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        stderr(&out).contains("it looks like a Dialpad"),
        "{}",
        stderr(&out)
    );
}

#[test]
fn completions_and_man_pages_come_from_the_command_line() {
    let bash = run(&["completions", "bash"]);
    assert!(bash.status.success());
    let text = String::from_utf8_lossy(&bash.stdout);
    assert!(text.contains("_cxkpi()") && text.contains("--service-level"));
    for shell in ["zsh", "fish", "elvish", "powershell"] {
        let out = run(&["completions", shell]);
        assert!(out.status.success() && !out.stdout.is_empty(), "{shell}");
    }
    let man = run(&["man"]);
    assert!(String::from_utf8_lossy(&man.stdout).contains(".TH cxkpi 1"));
    let dir = tempfile::tempdir().unwrap();
    let out = run(&["man", "--dir", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", stderr(&out));
    let page = std::fs::read_to_string(dir.path().join("cxkpi-metrics-bot.1")).unwrap();
    assert!(
        page.contains("exclude\\-test"),
        "the bot page documents its flags"
    );
}
