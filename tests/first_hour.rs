//! What a new user meets first: a mixed inbox read by family, an inbox of linked folders
//! holding its own lake, shell completions and man pages generated from the command-line
//! definitions.

mod common;
use common::{run, run_ok};

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

/// An inbox the way users lay one out: the archive's folders linked in, the lake inside
/// it (`cd inbox && cxkpi ingest . --lake lake`), and a link that loops back.
#[cfg(unix)]
#[test]
fn an_inbox_with_linked_folders_and_its_own_lake_reads_every_export_once() {
    use std::os::unix::fs::symlink;
    let dir = tempfile::tempdir().unwrap();
    let samples = std::fs::canonicalize("data-samples").unwrap();
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    symlink(samples.join("ultimate"), inbox.join("ultimate")).unwrap();
    // A second link to the same folder, and one to an ancestor: each folder is read once.
    symlink(samples.join("ultimate"), inbox.join("ultimate-again")).unwrap();
    symlink(&inbox, inbox.join("loop")).unwrap();
    let alone = run_ok(&["metrics", "bot", "data-samples/ultimate", "--format", "csv"]);
    let inbox_arg = inbox.to_str().unwrap();
    let linked = run_ok(&["metrics", "bot", inbox_arg, "--format", "csv"]);
    assert_eq!(linked.stdout, alone.stdout);
    assert_eq!(
        stderr(&linked),
        stderr(&alone),
        "no more re-deliveries than alone"
    );

    // The lake inside the inbox: the first run does not read its own lock, the second
    // finds nothing new, and every command passes the lake over, saying so.
    let lake = inbox.join("lake");
    let lake_arg = lake.to_str().unwrap();
    for ingested in ["ingested 3 file(s)", "nothing to ingest"] {
        let out = run_ok(&["ingest", inbox_arg, "--lake", lake_arg]);
        assert!(stderr(&out).contains(ingested), "{}", stderr(&out));
        assert!(
            !stderr(&out).contains("cxkpi lake"),
            "its own lake is not noted"
        );
    }
    let from_lake = run_ok(&["metrics", "bot", "--lake", lake_arg, "--format", "csv"]);
    assert_eq!(from_lake.stdout, alone.stdout);
    let again = run_ok(&["metrics", "bot", inbox_arg, "--format", "csv"]);
    assert_eq!(again.stdout, alone.stdout);
    let note = format!("skipped {lake_arg}: a cxkpi lake, not exports (read it with --lake)");
    assert!(stderr(&again).contains(&note), "{}", stderr(&again));
    // Another run's lake into another lake: noted, not read.
    let other = dir.path().join("other");
    let out = run_ok(&["ingest", inbox_arg, "--lake", other.to_str().unwrap()]);
    assert!(stderr(&out).contains(&note), "{}", stderr(&out));
    let inspect = run_ok(&["inspect", inbox_arg]);
    let text = String::from_utf8_lossy(&inspect.stdout);
    assert!(text.contains("passed over: a cxkpi lake"), "{text}");

    // The lake named as an input: an error that says how to read it; a dangling link: a
    // file that cannot be read, named.
    symlink(dir.path().join("gone"), inbox.join("dangling.json")).unwrap();
    for (input, code, says) in [
        (lake_arg, 2, "read it with --lake"),
        (inbox_arg, 3, "dangling.json"),
    ] {
        let out = run(&["metrics", "bot", input]);
        assert_eq!(out.status.code(), Some(code), "{input}");
        assert!(stderr(&out).contains(says), "{}", stderr(&out));
    }
}

/// The same exports reached twice (a folder and its parent, a file named beside its
/// folder, a link to a file) are read once: the same numbers, no re-deliveries made up,
/// and a note that says so; a file named as well as found keeps a named file's rules.
#[cfg(unix)]
#[test]
fn a_file_reached_twice_is_read_once() {
    let alone = run_ok(&["metrics", "bot", "data-samples/ultimate", "--format", "csv"]);
    let dir = tempfile::tempdir().unwrap();
    let one = std::fs::canonicalize(
        "data-samples/ultimate/conversation_64f1c2a9e3b1d20012ab34cd_2024-03-31_000000000000.json",
    )
    .unwrap();
    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&one, &link).unwrap();
    let (one, link) = (one.to_str().unwrap(), link.to_str().unwrap());
    for (paths, repeated) in [
        (vec!["data-samples", "data-samples/ultimate"], 3),
        (vec!["data-samples/ultimate", "data-samples/ultimate"], 3),
        (vec!["data-samples/ultimate", one], 1),
        (vec!["data-samples/ultimate", link], 1),
    ] {
        let mut args = vec!["metrics", "bot", "--format", "csv"];
        args.extend(&paths);
        let out = run_ok(&args);
        assert_eq!(out.stdout, alone.stdout, "{paths:?}");
        let err = stderr(&out);
        assert!(
            err.contains(&format!("{repeated} file(s) reached again")),
            "{paths:?}: {err}"
        );
        assert!(
            err.contains("1 of 8 records were delivered more than once"),
            "{paths:?}: {err}"
        );
    }
    // A text file found in a folder is skipped with a note; named as well, it is an error.
    let inbox = dir.path().join("inbox");
    std::fs::create_dir(&inbox).unwrap();
    std::fs::copy(
        "data-samples/ultimate/conversation_64f1c2a9e3b1d20012ab34cd_2024-03-31_000000000000.json",
        inbox.join("a.json"),
    )
    .unwrap();
    std::fs::write(inbox.join("notes.txt"), "not an export").unwrap();
    let inbox_arg = inbox.to_str().unwrap();
    run_ok(&["metrics", "bot", inbox_arg]);
    let named = inbox.join("notes.txt");
    let out = run(&["metrics", "bot", inbox_arg, named.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("notes.txt"), "{}", stderr(&out));

    // Ingest: each file once in the manifest and the report.
    let lake = dir.path().join("lake");
    let out = run_ok(&[
        "ingest",
        "data-samples/ultimate",
        "data-samples/ultimate",
        "--lake",
        lake.to_str().unwrap(),
        "--json",
    ]);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["files_seen"], 3);
    assert_eq!(report["files_repeated"].as_array().map(Vec::len), Some(3));
    assert_eq!(common::bot_kpis_of_lake(&lake), alone.stdout);
}

/// An export saved by Windows PowerShell 5 (`>` writes UTF-16 with a byte-order mark) reads
/// as the UTF-8 original does.
#[test]
fn an_export_saved_as_utf16_reads_as_the_original() {
    let dir = tempfile::tempdir().unwrap();
    let original = "data-samples/anywhere365/dialogues_2024-03-31.json";
    let text = std::fs::read_to_string(original).unwrap();
    let utf16: Vec<u8> = std::iter::once(0xFEFF_u16)
        .chain(text.encode_utf16())
        .flat_map(u16::to_le_bytes)
        .collect();
    let copy = dir.path().join("dialogues_2024-03-31.json");
    std::fs::write(&copy, utf16).unwrap();
    let args = |p: &str| run_ok(&["metrics", "queue", p, "--format", "csv"]).stdout;
    assert_eq!(args(copy.to_str().unwrap()), args(original));
}
