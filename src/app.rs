//! Runs a parsed command line: validates it into a plan once, loads inputs, computes,
//! writes. Notes and warnings go to stderr; data goes to stdout or `--output`.

use crate::cli::{
    BotArgs, Cli, Command, GenerateCommand, InputArgs, MessagingArgs, MetricsCommand, OutputArgs,
    QueryArgs, TableArgs,
};
use crate::error::{Error, Result};
use crate::lake::Scope;
use crate::metrics::{self, bot, messaging, Query};
use crate::output;
use crate::source::{self, anywhere365, dialpad, samespace, ultimate, OnBadFile, Rejects};
use crate::time::{parse_bound, parse_tz};

/// Where notes and warnings go.
struct Notes {
    quiet: bool,
}

impl Notes {
    fn note(&self, msg: &str) {
        if !self.quiet {
            eprintln!("note: {msg}");
        }
    }
    fn warn(&self, msg: &str) {
        if !self.quiet {
            eprintln!("warning: {msg}");
        }
    }
}

pub fn run(cli: Cli) -> Result<()> {
    let notes = Notes { quiet: cli.quiet };
    match cli.command {
        Command::Metrics(MetricsCommand::Bot(a)) => metrics_bot(a, &notes),
        Command::Metrics(MetricsCommand::Messaging(a)) => metrics_messaging(a, &notes),
        Command::Metrics(MetricsCommand::Queue(a)) => metrics_queue(a, &notes),
        Command::Metrics(MetricsCommand::Calls(a)) => {
            let q = query(&a.query, metrics::calls::DIMENSIONS)?;
            let only = metrics::calls::columns(&q.by);
            let (t, rejects) = load_samespace(&a.input, days(&q, true, false), Some(only), &notes)?;
            let frame = metrics::calls::compute(&t.calls, &t.csat_calls, &q)?;
            write(&crate::bridge::to_arrow(&frame)?, &a.output)?;
            finish(rejects)
        }
        Command::Metrics(MetricsCommand::Csat(a)) => {
            let q = query(&a.query, metrics::csat::DIMENSIONS)?;
            // Answers come after their call started: only the upper side prunes.
            let (t, rejects) = load_samespace(&a.input, days(&q, false, false), None, &notes)?;
            let frame = metrics::csat::compute(&t.csat_answers, &q)?;
            write(&crate::bridge::to_arrow(&frame)?, &a.output)?;
            finish(rejects)
        }
        Command::Metrics(MetricsCommand::Agents(a)) => {
            let q = query(&a.query, metrics::agents::dimensions(a.source))?;
            let (t, rejects) = load_samespace(&a.input, days(&q, true, false), None, &notes)?;
            let frame = metrics::agents::compute(&t.agent_sessions, &t.productivity, a.source, &q)?;
            write(&crate::bridge::to_arrow(&frame)?, &a.output)?;
            finish(rejects)
        }
        Command::Table(a) => table(a, &notes),
        Command::Ingest(a) => ingest(a, &notes),
        Command::Run(a) => run_job(a, &notes),
        Command::Sql(a) => sql(a),
        Command::Report(a) => report(a, &notes),
        Command::Inspect(a) => {
            let now = chrono::Utc::now().timestamp_micros();
            let i = crate::inspect::inspect(&a.paths, now)?;
            let text = match a.format.as_str() {
                "json" => {
                    serde_json::to_string_pretty(&i).map_err(|e| Error::Internal(e.to_string()))?
                        + "\n"
                }
                _ => crate::inspect::render_text(&i, a.all),
            };
            print_bytes(text.as_bytes())?;
            // Findings are warnings; a file that could not be read makes the exit code 4.
            match i.files.iter().filter(|f| f.error.is_some()).count() {
                0 => Ok(()),
                count => Err(Error::Rejected { count }),
            }
        }
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut cmd = Cli::command();
            // Into memory first: clap_complete panics on a write error (`| head`).
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut cmd, "cxkpi", &mut out);
            print_bytes(&out)
        }
        Command::Man { dir } => man(dir.as_deref()),
        Command::Ddl(a) => {
            print_bytes(crate::lake::ddl(&a.lake, &a.engine, a.location.as_deref())?.as_bytes())
        }
        Command::Generate(GenerateCommand::Ultimate(a)) => {
            notes.note(&crate::generate::ultimate::write(&generate_config(a)?)?);
            Ok(())
        }
        Command::Generate(GenerateCommand::Dialpad(a)) => {
            notes.note(&crate::generate::dialpad::write(&generate_config(a)?)?);
            Ok(())
        }
        Command::Generate(GenerateCommand::Anywhere365(a)) => {
            notes.note(&crate::generate::anywhere365::write(&generate_config(a)?)?);
            Ok(())
        }
        Command::Generate(GenerateCommand::Samespace(a)) => {
            notes.note(&crate::generate::samespace::write(&generate_config(a)?)?);
            Ok(())
        }
    }
}

/// Writes to stdout; a closed pipe (`| head`) is the reader's choice, not an error.
fn print_bytes(bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    match std::io::stdout().write_all(bytes) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        r => r.map_err(|e| Error::io(std::path::Path::new("<stdout>"), e)),
    }
}

/// `cxkpi man`: the top page on stdout, or every page into `dir`.
fn man(dir: Option<&std::path::Path>) -> Result<()> {
    use clap::CommandFactory;
    let cmd = Cli::command();
    match dir {
        None => {
            let mut out = Vec::new();
            clap_mangen::Man::new(cmd)
                .render(&mut out)
                .map_err(|e| Error::io(std::path::Path::new("<stdout>"), e))?;
            print_bytes(&out)
        }
        Some(dir) => {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
            clap_mangen::generate_to(cmd, dir).map_err(|e| Error::io(dir, e))
        }
    }
}

/// The generators' config from the command line (the library does not see clap's types).
fn generate_config(a: crate::cli::GenerateArgs) -> Result<crate::generate::Config> {
    let start = chrono::NaiveDate::parse_from_str(&a.start, "%Y-%m-%d").map_err(|_| {
        Error::Usage(format!(
            "invalid --start {:?}: expected YYYY-MM-DD",
            a.start
        ))
    })?;
    Ok(crate::generate::Config {
        out: a.out,
        days: a.days,
        per_day: a.per_day,
        seed: a.seed,
        start,
        plain: a.plain,
        reference: a.reference,
    })
}

fn query(a: &QueryArgs, dimensions: &[&str]) -> Result<Query> {
    let tz = parse_tz(&a.tz)?;
    let from = a.from.as_deref().map(|s| parse_bound(s, &tz)).transpose()?;
    let to = a.to.as_deref().map(|s| parse_bound(s, &tz)).transpose()?;
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            return Err(Error::Usage(
                "--from must be before --to (the range is half-open)".into(),
            ));
        }
    }
    for d in &a.by {
        if !dimensions.contains(&d.as_str()) {
            return Err(Error::Usage(format!(
                "unknown dimension {d:?} for --by: expected one of {}",
                dimensions.join(", ")
            )));
        }
    }
    Ok(Query {
        from,
        to,
        interval: a.interval.parse().map_err(Error::Usage)?,
        tz,
        by: a.by.clone(),
    })
}

/// Discovers the inputs, reads them with `read`, and reports what was read: skipped files,
/// re-deliveries dropped (`kept` says which copy stays), and an error when nothing was read.
fn load<T>(
    input: &InputArgs,
    notes: &Notes,
    kept: &str,
    read: impl FnOnce(&[source::Candidate], OnBadFile, &mut Rejects) -> Result<T>,
    from_lake: impl FnOnce(&std::path::Path) -> Result<T>,
    stats: impl Fn(&T) -> &source::Stats,
) -> Result<(T, Rejects)> {
    if let Some(root) = &input.lake {
        return Ok((from_lake(root)?, Rejects::default()));
    }
    if input.paths.is_empty() {
        return Err(Error::Usage(
            "give export files or directories, or --lake DIR".into(),
        ));
    }
    let source::Discovered {
        candidates,
        lakes,
        repeated,
    } = source::discover(&input.paths)?;
    for lake in &lakes {
        notes.note(&lake_skipped(lake));
    }
    if let Some(first) = repeated.first() {
        notes.note(&files_repeated(repeated.len(), first));
    }
    let mut rejects = Rejects::default();
    let on_bad = match input.skip_bad_files {
        true => OnBadFile::Skip,
        false => OnBadFile::Fail,
    };
    let tables = read(&candidates, on_bad, &mut rejects)?;
    let s = stats(&tables);
    for p in &rejects.skipped_not_json {
        notes.note(&format!("skipped {}: not a JSON file", p.display()));
    }
    let others = other_vendors(&rejects.other_vendor);
    if !rejects.other_vendor.is_empty() {
        notes.note(&format!(
            "passed over {} file(s) of other vendors found in the directories ({others})",
            rejects.other_vendor.len()
        ));
    }
    if s.files == 0 {
        return Err(Error::Usage(match rejects.files.is_empty() {
            true if !rejects.other_vendor.is_empty() => format!(
                "no export of this family found in the given paths, only files of other vendors ({others})"
            ),
            true => "no export files found in the given paths".into(),
            false => {
                report_rejects(&rejects);
                "every input file was rejected".into()
            }
        }));
    }
    if s.duplicates > 0 {
        notes.note(&format!(
            "{} of {} records were delivered more than once; kept {kept}",
            s.duplicates, s.records
        ));
    }
    if s.keyless > 0 {
        notes.warn(&format!(
            "{} record(s) without their key were left out, as the vendor's own COUNT(DISTINCT …) \
             leaves them out; the first: {}",
            s.keyless,
            s.first_keyless.as_deref().unwrap_or("?")
        ));
    }
    Ok((tables, rejects))
}

/// What an ingest (of `ingest` or `run`) found on the way: other lakes passed over, and
/// files read again because partitions of theirs were gone from the lake.
fn note_ingest_findings(r: &crate::lake::IngestReport, notes: &Notes) {
    for lake in &r.lakes_skipped {
        notes.note(&lake_skipped(std::path::Path::new(lake)));
    }
    if let Some(first) = r.files_repeated.first() {
        notes.note(&files_repeated(r.files_repeated.len(), first));
    }
    if let Some(p) = &r.first_missing_partition {
        notes.warn(&format!(
            "{} unchanged file(s) read again: partitions holding their rows were gone from \
             the lake (the first: {p}, deleted outside cxkpi?); they are whole again",
            r.files_restored
        ));
    }
}

/// The note for files the paths reach more than once.
fn files_repeated(count: usize, first: impl AsRef<std::path::Path>) -> String {
    format!(
        "{count} file(s) reached again by the paths given were read once (the first: {})",
        first.as_ref().display()
    )
}

/// The note for a lake found inside an inbox and passed over.
fn lake_skipped(lake: &std::path::Path) -> String {
    format!(
        "skipped {}: a cxkpi lake, not exports (read it with --lake)",
        lake.display()
    )
}

/// "12 Dialpad, 3 Samespace": the files passed over, by vendor.
fn other_vendors(files: &[(std::path::PathBuf, source::Vendor)]) -> String {
    let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
    for (_, v) in files {
        *counts.entry(v.short_name()).or_default() += 1;
    }
    counts
        .iter()
        .map(|(name, n)| format!("{n} {name}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Reads Ultimate files; `only` for metrics-only runs (see [`ultimate::Options::only`]).
fn load_ultimate(
    input: &InputArgs,
    excluded: &[String],
    only: Option<Vec<String>>,
    scope: Scope,
    notes: &Notes,
) -> Result<(ultimate::Tables, Rejects)> {
    let opts = ultimate::Options {
        excluded_intents: excluded.iter().filter(|s| !s.is_empty()).cloned().collect(),
        only,
        by_start_day: false,
    };
    load(
        input,
        notes,
        "the copy of each conversation with the latest end time",
        |c, b, r| ultimate::read(c, &opts, b, r),
        |root| crate::lake::ultimate_tables(root, scope),
        |t| &t.stats,
    )
}

/// Reads Anywhere365 Dialogues; `only` (the `dialogues` columns read) for metrics-only runs.
fn load_anywhere365(
    input: &InputArgs,
    scope: Scope,
    opts: anywhere365::Options,
    notes: &Notes,
) -> Result<(anywhere365::Tables, Rejects)> {
    load(
        input,
        notes,
        "the later delivery of each dialogue",
        |c, b, r| anywhere365::read(c, &opts, b, r),
        |root| crate::lake::anywhere365_tables(root, scope),
        |t| &t.stats,
    )
}

/// Any mix of Samespace calls, logs, productivity and CSAT reports; `calls_only` (the
/// `calls` columns read) for the call KPIs.
fn load_samespace(
    input: &InputArgs,
    scope: Scope,
    calls_only: Option<Vec<String>>,
    notes: &Notes,
) -> Result<(samespace::Tables, Rejects)> {
    let opts = samespace::Options { calls_only };
    load(
        input,
        notes,
        "the later delivery of each record",
        |c, b, r| samespace::read(c, &opts, b, r),
        |root| crate::lake::samespace_tables(root, scope),
        |t| &t.stats,
    )
}

/// Reads Dialpad message dumps; `only` (the columns read) for metrics-only runs.
fn load_dialpad(
    input: &InputArgs,
    only: Option<dialpad::Lean>,
    notes: &Notes,
) -> Result<(dialpad::Tables, Rejects)> {
    let lean = only.is_some();
    let opts = dialpad::Options { only };
    load(
        input,
        notes,
        "one copy of each message (overlapping pulls)",
        |c, b, r| dialpad::read(c, &opts, b, r),
        |root| {
            let scope = Scope {
                lean,
                ..Scope::default()
            };
            crate::lake::dialpad_tables(root, scope)
        },
        |t| &t.stats,
    )
}

/// Takes the lake's lock for a run that writes it, telling the user while it waits and when
/// it takes over from a killed run.
fn lock_lake(
    lake: &std::path::Path,
    w: &crate::cli::WriteArgs,
    notes: &Notes,
) -> Result<crate::lake::LakeLock> {
    let run_id = crate::lake::new_run_id();
    let wait = std::time::Duration::from_secs(w.wait);
    let lock = crate::lake::LakeLock::acquire(lake, &run_id, wait, &|m| notes.note(m))?;
    if let Some(dead) = &lock.taken_over {
        notes.note(&format!(
            "took over the lake lock from a run that ended without releasing it ({dead})"
        ));
    }
    Ok(lock)
}

fn ingest_options(skip_bad_files: bool, w: &crate::cli::WriteArgs) -> crate::lake::IngestOptions {
    crate::lake::IngestOptions {
        on_bad: match skip_bad_files {
            true => OnBadFile::Skip,
            false => OnBadFile::Fail,
        },
        batch_bytes: w.batch_size,
    }
}

fn ingest(a: crate::cli::IngestArgs, notes: &Notes) -> Result<()> {
    let opts = ingest_options(a.skip_bad_files, &a.write);
    let lock = lock_lake(&a.lake, &a.write, notes)?;
    let r = crate::lake::ingest(&lock, &a.paths, opts)?;
    drop(lock);
    if r.recovered_previous_run {
        notes.note("completed the commit of a previous run that was interrupted");
    }
    note_ingest_findings(&r, notes);
    if r.keyless > 0 {
        notes.warn(&format!(
            "{} record(s) without their key were left out of the lake; the first: {}",
            r.keyless,
            r.first_keyless.as_deref().unwrap_or("?")
        ));
    }
    if r.files_ingested == 0 {
        notes.note(&format!(
            "nothing to ingest: {} file(s) already in the lake and unchanged",
            r.files_unchanged
        ));
    } else {
        notes.note(&format!(
            "ingested {} file(s) ({} unchanged) into {} partition file(s) in {:.2} s",
            r.files_ingested, r.files_unchanged, r.partitions_written, r.seconds
        ));
    }
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&r).map_err(|e| Error::Usage(e.to_string()))?
        );
    }
    for (path, why) in &r.files_rejected {
        eprintln!("rejected: {path} ({why})");
    }
    match r.files_rejected.len() {
        0 => Ok(()),
        count => Err(Error::Rejected { count }),
    }
}

/// What `cxkpi run` did, for `--json`.
#[derive(serde::Serialize)]
struct RunSummary {
    ingest: crate::lake::IngestReport,
    kpis: Vec<KpiSummary>,
    seconds: f64,
}

#[derive(serde::Serialize)]
struct KpiSummary {
    name: String,
    output: String,
    seconds: f64,
}

fn run_job(a: crate::cli::RunArgs, notes: &Notes) -> Result<()> {
    use clap::Parser;
    use std::io::IsTerminal;
    let started = std::time::Instant::now();
    let cfg = crate::job::load(&a.config)?;
    // Validate every KPI before touching the lake.
    let mut jobs = Vec::with_capacity(cfg.kpis.len());
    for k in &cfg.kpis {
        let argv = k.argv(&cfg.lake, &cfg.outputs);
        let cli = Cli::try_parse_from(&argv).map_err(|e| {
            Error::Usage(format!("kpi {}: {}", k.name, e.render().to_string().trim()))
        })?;
        validate_query(&cli).map_err(|e| Error::Usage(format!("kpi {}: {e}", k.name)))?;
        jobs.push((k, cli));
    }
    let report_job = match &cfg.report {
        None => None,
        Some(r) => Some(
            Cli::try_parse_from(r.argv(&cfg.lake, &cfg.outputs))
                .map_err(|e| Error::Usage(format!("report: {}", e.render().to_string().trim())))?,
        ),
    };
    let opts = ingest_options(cfg.skip_bad_files, &a.write);
    // Held until every KPI table is written: a run that overlapped this one could
    // otherwise commit between this run's ingest and its KPIs, and the later run's KPI
    // files be replaced by this run's older ones.
    let lock = lock_lake(&cfg.lake, &a.write, notes)?;
    let report = crate::lake::ingest(&lock, &cfg.inbox, opts)?;
    note_ingest_findings(&report, notes);
    notes.note(&format!(
        "ingest: {} file(s) ingested, {} unchanged, {} rejected",
        report.files_ingested,
        report.files_unchanged,
        report.files_rejected.len()
    ));
    std::fs::create_dir_all(&cfg.outputs).map_err(|e| Error::io(&cfg.outputs, e))?;
    let progress = std::io::stderr().is_terminal() && !notes.quiet;
    let mut kpis = Vec::with_capacity(jobs.len());
    for (i, (k, cli)) in jobs.into_iter().enumerate() {
        if progress {
            let done = (i * 30) / cfg.kpis.len().max(1);
            eprint!(
                "\r[{}{}] {}/{} {:<30}",
                "#".repeat(done),
                " ".repeat(30 - done),
                i + 1,
                cfg.kpis.len(),
                k.name
            );
        }
        let t = std::time::Instant::now();
        run(cli).map_err(|e| match e {
            Error::Usage(m) => Error::Usage(format!("kpi {}: {m}", k.name)),
            other => other,
        })?;
        kpis.push(KpiSummary {
            name: k.name.clone(),
            output: k.output(&cfg.outputs).to_string_lossy().into_owned(),
            seconds: t.elapsed().as_secs_f64(),
        });
    }
    if let (Some(cli), Some(r)) = (report_job, &cfg.report) {
        let t = std::time::Instant::now();
        run(cli).map_err(|e| match e {
            Error::Usage(m) => Error::Usage(format!("report: {m}")),
            other => other,
        })?;
        kpis.push(KpiSummary {
            name: "report".into(),
            output: cfg.outputs.join(&r.file).to_string_lossy().into_owned(),
            seconds: t.elapsed().as_secs_f64(),
        });
    }
    if progress {
        eprintln!(
            "\r[{}] {}/{} KPI tables refreshed{:<20}",
            "#".repeat(30),
            kpis.len(),
            kpis.len(),
            ""
        );
    }
    let rejected = report.files_rejected.clone();
    let summary = RunSummary {
        ingest: report,
        kpis,
        seconds: started.elapsed().as_secs_f64(),
    };
    if a.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&summary).map_err(|e| Error::Usage(e.to_string()))?
        );
    }
    for (path, why) in &rejected {
        eprintln!("rejected: {path} ({why})");
    }
    match rejected.len() {
        0 => Ok(()),
        count => Err(Error::Rejected { count }),
    }
}

/// Checks a metrics command's range, interval, zone and dimensions without running it.
fn validate_query(cli: &Cli) -> Result<()> {
    let Command::Metrics(m) = &cli.command else {
        return Err(Error::Usage(
            "only metrics commands can be KPI tables".into(),
        ));
    };
    metrics_query(m).map(|_| ())
}

/// A metrics command's query (range, interval, zone, dimensions), checked against its
/// family's dimensions.
fn metrics_query(m: &MetricsCommand) -> Result<Query> {
    match m {
        MetricsCommand::Bot(a) => query(&a.query, bot::DIMENSIONS),
        MetricsCommand::Messaging(a) => query(&a.query, messaging::dimensions(a.view)),
        MetricsCommand::Queue(a) => query(&a.query, metrics::queue::DIMENSIONS),
        MetricsCommand::Calls(a) => query(&a.query, metrics::calls::DIMENSIONS),
        MetricsCommand::Csat(a) => query(&a.query, metrics::csat::DIMENSIONS),
        MetricsCommand::Agents(a) => query(&a.query, metrics::agents::dimensions(a.source)),
    }
}

/// What a metrics query reads of the lake: no heavy columns, and the partitions (`dt` is a
/// UTC day): from the day of `--from` when the
/// booking timestamp is the partition's (`lower`), to the day of the last instant before
/// `--to` (a day more with `extra_day`).
fn days(q: &Query, lower: bool, extra_day: bool) -> Scope {
    Scope {
        lean: true,
        only: None,
        codes: &[],
        from: q.from.filter(|_| lower).map(crate::time::utc_date),
        to: q.to.map(|t| {
            let d = crate::time::utc_date(t - 1);
            match extra_day {
                true => d.succ_opt().unwrap_or(d),
                false => d,
            }
        }),
    }
}

fn report_rejects(rejects: &Rejects) {
    for (path, why) in &rejects.files {
        eprintln!("rejected: {} ({why})", path.display());
    }
}

/// Reports the files set aside; they make the exit code 4.
fn finish(rejects: Rejects) -> Result<()> {
    if rejects.files.is_empty() {
        return Ok(());
    }
    report_rejects(&rejects);
    Err(Error::Rejected {
        count: rejects.files.len(),
    })
}

fn write(batch: &arrow::array::RecordBatch, o: &OutputArgs) -> Result<()> {
    let format = o
        .format
        .unwrap_or_else(|| output::default_format(o.output.as_deref()));
    output::write(batch, format, o.output.as_deref())
}

fn bot_options(a: &BotArgs) -> bot::Options {
    bot::Options {
        time: a.time,
        exclude_test: a.exclude_test,
        bot_summary: a.bot_summary,
        status_match: a.status_match,
        include_no_intent: a.include_no_intent,
    }
}

fn queue_options(a: &crate::cli::QueueArgs) -> metrics::queue::Options {
    metrics::queue::Options {
        direction: a.direction,
        sla_threshold: a.sla_threshold,
        quick_drop_threshold: a.quick_drop_threshold,
        service_levels: a.service_level.clone(),
    }
}

/// `cxkpi report`: the page of every family in the input. Files are ingested into a
/// temporary lake first, so a mixed inbox is read exactly as `ingest` reads it.
fn report(a: crate::cli::ReportArgs, notes: &Notes) -> Result<()> {
    let tz = parse_tz(&a.tz)?;
    let bound = |s: &Option<String>| s.as_deref().map(|s| parse_bound(s, &tz)).transpose();
    let (from, to) = (bound(&a.from)?, bound(&a.to)?);
    if let (Some(f), Some(t)) = (from, to) {
        if f >= t {
            return Err(Error::Usage("--from must be before --to".into()));
        }
    }
    let interval = a
        .interval
        .as_deref()
        .map(|i| i.parse::<crate::time::Interval>().map_err(Error::Usage))
        .transpose()?;
    if interval == Some(crate::time::Interval::Total) {
        return Err(Error::Usage(
            "a report charts buckets: --interval total does not apply".into(),
        ));
    }
    let opts = crate::report::Options {
        from,
        to,
        tz,
        interval,
        sla_threshold: a.sla_threshold,
        service_levels: a.service_level.clone(),
    };
    metrics::queue::check_thresholds(&metrics::queue::Options {
        sla_threshold: a.sla_threshold,
        ..Default::default()
    })?;
    let page = match &a.lake {
        Some(root) => crate::report::render(&report_inputs(root)?, &opts)?,
        None => {
            let tmp = std::env::temp_dir().join(format!(
                "cxkpi-report-{}-{}",
                std::process::id(),
                crate::lake::new_run_id()
            ));
            let result = (|| {
                let lock = crate::lake::LakeLock::acquire(
                    &tmp,
                    &crate::lake::new_run_id(),
                    std::time::Duration::ZERO,
                    &|_: &str| {},
                )?;
                let r =
                    crate::lake::ingest(&lock, &a.paths, crate::lake::IngestOptions::default())?;
                for (path, why) in &r.files_rejected {
                    notes.warn(&format!("rejected: {path} ({why})"));
                }
                drop(lock);
                crate::report::render(&report_inputs(&tmp)?, &opts)
            })();
            let _ = std::fs::remove_dir_all(&tmp);
            result?
        }
    };
    crate::output::write_atomically(&a.output, page.as_bytes())?;
    notes.note(&format!("wrote {}", a.output.display()));
    Ok(())
}

/// Every vendor's tables of a lake (a vendor without rows is left out of the report).
fn report_inputs(root: &std::path::Path) -> Result<crate::report::Inputs> {
    if !root.join("_cxkpi").exists() {
        return Err(Error::Usage(format!(
            "{} is not a cxkpi lake (no _cxkpi folder)",
            root.display()
        )));
    }
    let scope = || Scope {
        lean: true,
        ..Scope::default()
    };
    Ok(crate::report::Inputs {
        ultimate: Some(crate::lake::ultimate_tables(root, scope())?),
        dialpad: Some(crate::lake::dialpad_tables(root, scope())?),
        anywhere365: Some(crate::lake::anywhere365_tables(root, scope())?),
        samespace: Some(crate::lake::samespace_tables(root, scope())?),
    })
}

/// `cxkpi sql`: the family's SQL for the engine, printed or written to `--output`.
fn sql(a: crate::cli::SqlArgs) -> Result<()> {
    use crate::sql::Family;
    let engine = a
        .engine
        .ok_or_else(|| Error::Usage("--engine is required: duckdb or spark".into()))?;
    let q = metrics_query(&a.family)?;
    let (input, output, family) = match &a.family {
        MetricsCommand::Bot(b) => {
            if b.exclude_intents != ultimate::DEFAULT_EXCLUDED_INTENTS {
                return Err(Error::Usage(
                    "--exclude-intents cannot change the SQL: the lake's first_meaningful_intent was derived at ingest with the default list".into(),
                ));
            }
            (&b.input, &b.output, Family::Bot(bot_options(b)))
        }
        MetricsCommand::Messaging(m) => (
            &m.input,
            &m.output,
            Family::Messaging(messaging::Options {
                view: m.view,
                intent_type: m.intent_type,
            }),
        ),
        MetricsCommand::Queue(m) => (&m.input, &m.output, Family::Queue(queue_options(m))),
        MetricsCommand::Calls(m) => (&m.input, &m.output, Family::Calls),
        MetricsCommand::Csat(m) => (&m.input, &m.output, Family::Csat),
        MetricsCommand::Agents(m) => (&m.input, &m.output, Family::Agents(m.source)),
    };
    if !input.paths.is_empty() || input.lake.is_some() || input.skip_bad_files {
        return Err(Error::Usage(
            "cxkpi sql reads no files: the SQL reads the tables `cxkpi ddl --engine … --lake DIR` defines".into(),
        ));
    }
    if output.format.is_some() {
        return Err(Error::Usage(
            "cxkpi sql writes SQL: --format does not apply".into(),
        ));
    }
    let text = crate::sql::render(&family, &q, engine)?;
    match &output.output {
        None => print_bytes(text.as_bytes()),
        Some(path) => crate::output::write_atomically(path, text.as_bytes()),
    }
}

fn metrics_bot(a: BotArgs, notes: &Notes) -> Result<()> {
    let q = query(&a.query, bot::DIMENSIONS)?;
    let opts = bot_options(&a);
    // Partitions are by start day; a day more above keeps the missing-next-day check whole.
    let columns = bot::lake_columns(&q, &opts);
    let prune = Scope {
        only: Some(std::sync::Arc::new(columns.clone())),
        codes: &bot::STATUS_COLUMNS,
        ..days(&q, a.time == bot::TimeBasis::Start, true)
    };
    let (tables, rejects) =
        load_ultimate(&a.input, &a.exclude_intents, Some(columns), prune, notes)?;
    let report = bot::compute(&tables.conversations, &q, &opts)?;
    for w in &report.warnings {
        notes.warn(w);
    }
    write(&crate::bridge::to_arrow(&report.frame)?, &a.output)?;
    finish(rejects)
}

fn metrics_messaging(a: MessagingArgs, notes: &Notes) -> Result<()> {
    let q = query(&a.query, messaging::dimensions(a.view))?;
    if a.intent_type.is_some() && a.view != messaging::View::Intents {
        return Err(Error::Usage(
            "--intent-type applies to --view intents only".into(),
        ));
    }
    let only = dialpad::Lean {
        messages: messaging::message_columns(a.view, a.intent_type, &q.by),
        interactions: messaging::interaction_columns(a.view, &q.by),
        in_delivery_order: messaging::messages_in_any_order(a.view),
        sender_words: messaging::sender_words(&q.by),
    };
    let (tables, rejects) = load_dialpad(&a.input, Some(only), notes)?;
    let opts = messaging::Options {
        view: a.view,
        intent_type: a.intent_type,
    };
    let frame = messaging::compute(&tables, &q, &opts)?;
    write(&crate::bridge::to_arrow(&frame)?, &a.output)?;
    finish(rejects)
}

fn metrics_queue(a: crate::cli::QueueArgs, notes: &Notes) -> Result<()> {
    let q = query(&a.query, metrics::queue::DIMENSIONS)?;
    let read = anywhere365::Options {
        only: Some(metrics::queue::columns(&q.by)),
        words: metrics::queue::coded(&q.by),
    };
    let (t, rejects) = load_anywhere365(&a.input, days(&q, true, false), read, notes)?;
    let opts = queue_options(&a);
    let frame = metrics::queue::compute(&t.dialogues, &q, &opts)?;
    write(&crate::bridge::to_arrow(&frame)?, &a.output)?;
    finish(rejects)
}

fn table(a: TableArgs, notes: &Notes) -> Result<()> {
    let def = crate::table::by_name(&a.table).ok_or_else(|| {
        let names: Vec<&str> = crate::table::TABLES.iter().map(|t| t.name).collect();
        Error::Usage(format!(
            "unknown table {:?}: expected one of {}",
            a.table,
            names.join(", ")
        ))
    })?;
    let (batch, rejects) = match def.name {
        "bot_conversations" | "bot_intents" => {
            let (t, r) =
                load_ultimate(&a.input, &a.exclude_intents, None, Scope::default(), notes)?;
            let batch = match def.name {
                "bot_conversations" => crate::table::concat(def.schema(), t.conversations)?,
                _ => t.intents,
            };
            (batch, r)
        }
        "messages" | "interactions" => {
            let (t, r) = load_dialpad(&a.input, None, notes)?;
            let batch = match def.name {
                "messages" => t.messages,
                _ => t.interactions,
            };
            (batch, r)
        }
        "dialogues" => {
            let (t, r) = load_anywhere365(&a.input, Scope::default(), Default::default(), notes)?;
            (t.dialogues, r)
        }
        _ => {
            let (t, r) = load_samespace(&a.input, Scope::default(), None, notes)?;
            let batch = match def.name {
                "calls" => t.calls,
                "csat_calls" => t.csat_calls,
                "csat_answers" => t.csat_answers,
                "agent_sessions" => t.agent_sessions,
                _ => t.productivity,
            };
            (batch, r)
        }
    };
    write(&batch, &a.output)?;
    finish(rejects)
}
