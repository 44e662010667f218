//! `cxkpi inspect`: what is in a folder of exports, before trusting numbers from it.
//!
//! Per file: vendor and report, framing, gzip, records, keyless records, first and last
//! time. Per table (each vendor's files read together, as `table` reads them): rows kept,
//! copies dropped, the null share of every column a KPI reads, and the data-quality
//! [`findings`]. Files are read by the same readers as every other command.

pub mod findings;

use std::path::{Path, PathBuf};

use arrow::array::{Array, RecordBatch};
use rayon::prelude::*;
use serde::Serialize;

use crate::error::Result;
use crate::source::{
    self, anywhere365, dialpad, frame, samespace, ultimate, Candidate, OnBadFile, Rejects, Vendor,
};
use findings::Finding;

#[derive(Debug, Default, Serialize)]
pub struct FileInfo {
    pub path: String,
    pub vendor: Option<&'static str>,
    pub report: Option<&'static str>,
    pub framing: Option<&'static str>,
    pub gzip: bool,
    pub records: Option<usize>,
    pub keyless: Option<usize>,
    /// The first and last business time (UTC, RFC 3339).
    pub first: Option<String>,
    pub last: Option<String>,
    /// Why the file could not be read, if it could not.
    pub error: Option<String>,
    /// Why the file was passed over (not JSON, below a directory).
    pub skipped: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct TableInfo {
    pub table: &'static str,
    pub rows: usize,
    pub copies_dropped: usize,
    /// The share of nulls of each column a KPI reads.
    pub null_share: Vec<(String, f64)>,
}

#[derive(Debug, Serialize)]
pub struct Inspection {
    pub files: Vec<FileInfo>,
    pub tables: Vec<TableInfo>,
    pub findings: Vec<Finding>,
}

/// The columns a KPI reads, per table (their null share is reported): the metrics modules'
/// own lists where they have one.
fn kpi_columns(table: &str) -> Vec<String> {
    use crate::metrics::{bot, calls, messaging, queue, Query};
    let own = |c: &[&str]| c.iter().map(|c| c.to_string()).collect();
    match table {
        "bot_conversations" => {
            let mut c = bot::lake_columns(&Query::default(), &bot::Options::default());
            c.push("first_meaningful_intent".into());
            c
        }
        "messages" => {
            let mut c: Vec<String> = Vec::new();
            for view in [
                messaging::View::Interactions,
                messaging::View::InteractionType,
                messaging::View::Intents,
                messaging::View::Sentiment,
            ] {
                for col in messaging::message_columns(view, None, &[]) {
                    if !c.contains(&col) {
                        c.push(col);
                    }
                }
            }
            c
        }
        "dialogues" => queue::columns(&[]),
        "calls" => own(calls::READ),
        "csat_answers" => own(&["answered_at", "question_id", "answer"]),
        "agent_sessions" => own(&["start_time", "session_duration_sec"]),
        "productivity" => own(&[
            "session_duration_sec",
            "inbound_conversations",
            "outbound_conversations",
            "asa_sec",
        ]),
        _ => Vec::new(),
    }
}

/// The report of a Samespace file, by its detected format.
fn report_of(v: Vendor) -> Option<&'static str> {
    match v {
        Vendor::SamespaceCalls => Some("calls"),
        Vendor::SamespaceLogs => Some("agent logs"),
        Vendor::SamespaceProductivity => Some("productivity"),
        Vendor::SamespaceCsat => Some("csat"),
        _ => None,
    }
}

/// The tables of one vendor's read: name, batches, and the read's stats.
type Read = (Vec<(&'static str, Vec<RecordBatch>)>, source::Stats);

fn read(vendor: Vendor, files: &[Candidate], rejects: &mut Rejects) -> Result<Read> {
    let on_bad = OnBadFile::Skip;
    Ok(match vendor {
        Vendor::Ultimate => {
            let opts = ultimate::Options {
                excluded_intents: ultimate::DEFAULT_EXCLUDED_INTENTS
                    .iter()
                    .map(|s| s.to_string())
                    .collect(),
                only: None,
                by_start_day: false,
            };
            let t = ultimate::read(files, &opts, on_bad, rejects)?;
            (
                vec![
                    ("bot_conversations", t.conversations),
                    ("bot_intents", vec![t.intents]),
                ],
                t.stats,
            )
        }
        Vendor::Dialpad => {
            let t = dialpad::read(files, &dialpad::Options::default(), on_bad, rejects)?;
            (
                vec![
                    ("messages", vec![t.messages]),
                    ("interactions", vec![t.interactions]),
                ],
                t.stats,
            )
        }
        Vendor::Anywhere365 => {
            let t = anywhere365::read(files, &anywhere365::Options::default(), on_bad, rejects)?;
            (vec![("dialogues", vec![t.dialogues])], t.stats)
        }
        _ => {
            let t = samespace::read(files, &samespace::Options::default(), on_bad, rejects)?;
            (
                vec![
                    ("calls", vec![t.calls]),
                    ("csat_calls", vec![t.csat_calls]),
                    ("csat_answers", vec![t.csat_answers]),
                    ("agent_sessions", vec![t.agent_sessions]),
                    ("productivity", vec![t.productivity]),
                ],
                t.stats,
            )
        }
    })
}

/// The vendor family a file's format belongs to (Samespace's reports are read together).
fn family(v: Vendor) -> Vendor {
    match v {
        Vendor::Ultimate | Vendor::Dialpad | Vendor::Anywhere365 => v,
        _ => Vendor::SamespaceCalls,
    }
}

fn rfc3339(t: Option<i64>) -> Option<String> {
    t.map(|t| crate::time::format_instant(t, &chrono_tz::Tz::UTC))
}

/// How a file's records are laid out.
fn framing(path: &Path) -> (bool, Option<&'static str>) {
    let gzip = std::fs::File::open(path)
        .and_then(|mut f| {
            let mut magic = [0u8; 2];
            std::io::Read::read_exact(&mut f, &mut magic).map(|_| source::is_gzip(&magic))
        })
        .unwrap_or(false);
    // A gzip file's layout from its first MiB when that holds its first record whole:
    // decompressing a 1.42 GB dump only to name its layout took 1.5 GB of memory.
    const HEAD: u64 = 1 << 20;
    let head = match gzip {
        true => source::gzip_head(path, HEAD).ok().flatten(),
        false => None,
    };
    let told = |h: &[u8]| {
        (h.len() as u64) < HEAD
            || (frame::first_record(h).is_some() && frame::normalize_mongo_shell(h).is_none())
    };
    let loaded = match head {
        Some(head) if told(&head) => Ok(head),
        _ => source::load(path),
    };
    let Ok(bytes) = loaded else {
        return (gzip, None);
    };
    if frame::normalize_mongo_shell(&bytes).is_some() {
        return (gzip, Some("mongo shell notation"));
    }
    let layout = match frame::first_record(&bytes) {
        Some(f) if f.envelope => "envelope (OData page or wrapper)",
        Some(f) if f.array => "JSON array, one record per line",
        Some(_) => "NDJSON",
        None => match frame::record_spans(&bytes) {
            Ok((framing, spans)) => {
                let inner = frame::unwrap_envelopes(&bytes, spans.clone());
                match (inner, framing) {
                    (Ok(inner), _) if inner != spans => "envelope (OData page or wrapper)",
                    (_, frame::Framing::Array) => "JSON array",
                    (_, frame::Framing::Concatenated) => "concatenated JSON documents",
                }
            }
            Err(_) => "not valid JSON",
        },
    };
    (gzip, Some(layout))
}

/// Inspects the files under `paths`. `now_us` dates the "in the future" check.
///
/// Each file is read alone (its own records, keys and times, before other files' copies
/// are dropped) and then again with its vendor's other files (the tables as every command
/// sees them, deduplicated across files): two parses by design, for a diagnostic command,
/// rather than a second per-file bookkeeping inside the readers.
pub fn inspect(paths: &[PathBuf], now_us: i64) -> Result<Inspection> {
    let source::Discovered {
        candidates, lakes, ..
    } = source::discover(paths)?;
    let vendors: Vec<Result<Option<Vendor>>> = candidates.par_iter().map(source::sniff).collect();
    let mut files: Vec<FileInfo> = candidates
        .par_iter()
        .zip(vendors.par_iter())
        .map(|(c, v)| {
            let (gzip, layout) = framing(&c.path);
            let mut info = FileInfo {
                path: c.path.display().to_string(),
                vendor: None,
                report: None,
                framing: layout,
                gzip,
                records: None,
                keyless: None,
                first: None,
                last: None,
                error: None,
                skipped: None,
            };
            match v {
                Err(e) => info.error = Some(e.to_string()),
                Ok(None) => info.skipped = Some("not a JSON file".into()),
                Ok(Some(v)) => {
                    info.vendor = Some(v.short_name());
                    info.report = report_of(*v);
                    let mut rejects = Rejects::default();
                    match read(family(*v), std::slice::from_ref(c), &mut rejects) {
                        Ok((tables, stats)) if rejects.files.is_empty() => {
                            let span = crate::table::time_span(
                                tables
                                    .iter()
                                    .flat_map(|(n, bs)| bs.iter().map(move |b| (*n, b))),
                            );
                            let (lo, hi) = (span.map(|s| s.0), span.map(|s| s.1));
                            info.records = Some(stats.records);
                            info.keyless = Some(stats.keyless);
                            info.first = rfc3339(lo);
                            info.last = rfc3339(hi);
                        }
                        Ok(_) => {
                            info.error = rejects.files.first().map(|(_, why)| why.clone());
                        }
                        Err(e) => info.error = Some(e.to_string()),
                    }
                }
            }
            info
        })
        .collect();
    files.extend(lakes.iter().map(|l| FileInfo {
        path: l.display().to_string(),
        skipped: Some("a cxkpi lake, not exports (read it with --lake)".into()),
        ..FileInfo::default()
    }));
    // Each vendor's readable files together, as the other commands read them.
    let mut tables = Vec::new();
    let mut all_findings = Vec::new();
    for fam in [
        Vendor::Ultimate,
        Vendor::Dialpad,
        Vendor::Anywhere365,
        Vendor::SamespaceCalls,
    ] {
        let group: Vec<Candidate> = candidates
            .iter()
            .zip(&vendors)
            .zip(&files)
            .filter(|((_, v), f)| {
                f.error.is_none() && matches!(v, Ok(Some(v)) if family(*v) == fam)
            })
            .map(|((c, _), _)| Candidate {
                path: c.path.clone(),
                from_dir: c.from_dir,
                digest: None,
                window: None,
                content: None,
            })
            .collect();
        if group.is_empty() {
            continue;
        }
        let mut rejects = Rejects::default();
        let (read_tables, stats) = read(fam, &group, &mut rejects)?;
        for (path, why) in rejects.files {
            if let Some(f) = files.iter_mut().find(|f| Path::new(&f.path) == path) {
                f.error = Some(why);
            }
        }
        for (name, batches) in &read_tables {
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            if rows == 0 {
                continue;
            }
            let null_share = kpi_columns(name)
                .into_iter()
                .filter_map(|c| {
                    let mut nulls = 0;
                    for b in batches {
                        nulls += b.column_by_name(&c)?.null_count();
                    }
                    Some((c, nulls as f64 / rows as f64))
                })
                .collect();
            let main = matches!(
                *name,
                "bot_conversations" | "messages" | "dialogues" | "calls"
            );
            tables.push(TableInfo {
                table: name,
                rows,
                copies_dropped: if main { stats.duplicates } else { 0 },
                null_share,
            });
            all_findings.extend(findings::check(name, batches, now_us));
        }
    }
    Ok(Inspection {
        files,
        tables,
        findings: all_findings,
    })
}

/// Up to this many files the text lists each; more are summarized by format (a five-year
/// inbox has thousands), unless every file is asked for.
pub const LIST_FILES_UP_TO: usize = 40;

/// What files of one format hold: a listed file's line, or a summary line's.
#[derive(Default)]
struct Held<'a> {
    files: usize,
    records: usize,
    keyless: usize,
    /// RFC 3339 in UTC, so they order as text (a fraction of a second is written only when
    /// there is one, and the `+` after whole seconds sorts before its `.`).
    first: Option<&'a str>,
    last: Option<&'a str>,
}

impl<'a> Held<'a> {
    fn add(&mut self, f: &'a FileInfo) {
        self.files += 1;
        self.records += f.records.unwrap_or(0);
        self.keyless += f.keyless.unwrap_or(0);
        let (first, last) = (f.first.as_deref(), f.last.as_deref());
        self.first = self.first.into_iter().chain(first).min();
        self.last = self.last.into_iter().chain(last).max();
    }

    fn line(&self) -> String {
        format!(
            "{} record(s), {} without key · {} → {}",
            self.records,
            self.keyless,
            self.first.unwrap_or("–"),
            self.last.unwrap_or("–"),
        )
    }
}

/// A readable file's format: vendor, report, framing, gzip.
fn format_of(f: &FileInfo) -> String {
    format!(
        "{}{} · {}{}",
        f.vendor.unwrap_or("?"),
        f.report.map(|r| format!(" {r}")).unwrap_or_default(),
        f.framing.unwrap_or("?"),
        if f.gzip { ", gzip" } else { "" },
    )
}

/// A file name for a terminal line: control characters (a newline in a name would split
/// the layout, an escape sequence would drive the terminal) written as escapes, `\n`.
fn shown(name: &str) -> std::borrow::Cow<'_, str> {
    match name.chars().any(char::is_control) {
        false => name.into(),
        true => (name.chars())
            .map(|c| match c.is_control() {
                true => c.escape_debug().to_string(),
                false => c.to_string(),
            })
            .collect::<String>()
            .into(),
    }
}

/// The inspection as text for a terminal: every file when `all` or when there are at most
/// [`LIST_FILES_UP_TO`], else one line per format, with the files that could not be read
/// or were passed over still named one by one.
pub fn render_text(i: &Inspection, all: bool) -> String {
    let list = all || i.files.len() <= LIST_FILES_UP_TO;
    let mut out = match list {
        true => format!("Files ({})\n", i.files.len()),
        false => format!(
            "Files ({}, by format; --all lists each file)\n",
            i.files.len()
        ),
    };
    let mut formats: std::collections::BTreeMap<String, Held> = Default::default();
    for f in &i.files {
        match (&f.error, &f.skipped) {
            (Some(e), _) => out += &format!("  {}\n      could not be read: {e}\n", shown(&f.path)),
            (None, Some(why)) => {
                out += &format!("  {}\n      passed over: {why}\n", shown(&f.path))
            }
            (None, None) if list => {
                let mut held = Held::default();
                held.add(f);
                let (path, format) = (shown(&f.path), format_of(f));
                out += &format!("  {path}\n      {format} · {}\n", held.line());
            }
            (None, None) => formats.entry(format_of(f)).or_default().add(f),
        }
    }
    for (format, held) in &formats {
        out += &format!(
            "  {format}: {} file(s)\n      {}\n",
            held.files,
            held.line()
        );
    }
    out += &format!("\nTables ({})\n", i.tables.len());
    for t in &i.tables {
        out += &format!("  {}: {} row(s)", t.table, t.rows);
        if t.copies_dropped > 0 {
            out += &format!(", {} duplicate copies dropped", t.copies_dropped);
        }
        out += "\n";
        let shares: Vec<String> = t
            .null_share
            .iter()
            .map(|(c, s)| format!("{c} {:.1}%", s * 100.0))
            .collect();
        if !shares.is_empty() {
            out += &format!("      null share: {}\n", shares.join(", "));
        }
    }
    out += &format!("\nFindings ({})\n", i.findings.len());
    if i.findings.is_empty() {
        out += "  none\n";
    }
    for f in &i.findings {
        out += &format!("  warning: {} [{}]", f.table, f.check);
        if f.rows > 0 {
            out += &format!(", {} row(s)", f.rows);
        }
        if let Some(file) = &f.file {
            out += &format!(", e.g. in {}", shown(file));
        }
        out += &format!(": {}\n", f.message);
    }
    out
}
