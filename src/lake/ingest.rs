//! An ingest run: which files are new or changed, read in batches of bounded size, each
//! batch merged into the partitions it touches and staged, the whole run committed once.
//!
//! Why batches: a run used to read its whole inbox into memory before writing, so a
//! backfill's peak grew with its length (60 days of bot exports, 3.4 GB of JSON, peaked at
//! 2.2 GB; now 0.42 GB). Now memory holds one batch's rows and the partitions being merged, whatever
//! the inbox. Batches change nothing in the result: a batch merges with what earlier
//! batches staged exactly as a later run merges with the lake, by the same key and rule
//! (a later delivery is a later file in sorted path order, whichever batch read it: see
//! [`batches`]), and the lake still changes once, at the commit ([`super::commit`]).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use arrow::array::{AsArray, RecordBatch};
use rayon::prelude::*;
use serde::Serialize;

use super::commit::{abandon, crash_point, recover, Staging};
use super::hold::{Held, ToWrite};
use super::lock::LakeLock;
use super::manifest::{format_name, hash_file, load_manifest, FileEntry, Manifest};
use super::merge::{
    child_days, days, merge_partition, write_partition, Incoming, KeptRows, MergeContext,
    ParentDays, ParentRows,
};
use super::{NULL_PARTITION, TABLES};
use crate::error::Result;
use crate::source::{
    self, anywhere365, dialpad, samespace, ultimate, Candidate, OnBadFile, Rejects, Vendor,
};

/// How much JSON (after gzip is undone) one batch reads by default. Measured on generated
/// bot exports of two bots, batches by export day ([`batches`]), before partitions were
/// held between batches (which adds up to half a batch, see [`super::hold`]): 15 days
/// (0.85 GB) and 60 days (2.5 GB) peaked at 378 and 383 MB with 256 MiB batches (the peak
/// does not grow with the inbox), against 403 and 497 MB with 512 MiB, which took a
/// quarter less time on the 60 days (`--batch-size` trades one for the other). One batch
/// for the whole inbox peaks at three times the memory.
pub const DEFAULT_BATCH_BYTES: u64 = 256 << 20;

/// What a file costs a batch beyond its JSON: the batch of rows each file is read into (its
/// schema, arrays and their headers), measured on exports of one record per file (as
/// webhook dumps are) at 12 KB a file for Anywhere365 and 20 KB for Ultimate (two tables,
/// thirty columns). Counted against the budget, so an inbox of many tiny files is read in
/// batches of bounded memory too, where the JSON's size alone let a batch take any number
/// of them: 20,000 Ultimate conversations of a file each, 30 MB of JSON, held 450 MB.
const FILE_BYTES: u64 = 20 << 10;

/// The smallest window a big file is cut into (see [`batches`]): a file below it is not
/// mapped (see `source::load`), so it could not be cut anyway, and `--batch-size 1` (one file
/// per batch) does not read a file in windows of a byte.
const MIN_WINDOW_BYTES: u64 = 1 << 20;

/// More than JSON exports compress. A gzip file's trailer gives its size modulo 4 GiB, and
/// only its last member's (`cat a.gz b.gz` is a valid gzip file, whose trailer is b's), so
/// a gzip file whose stored size at this ratio could exceed the batch is read in windows of
/// a decompressed copy, counted from the copy's size (see [`prepare_windows`]), whatever
/// its trailer says.
const GZIP_RATIO: u64 = 32;

/// The least a run holds between batches (see [`IngestOptions::hold_bytes`]): small batches
/// still keep the few partitions the next one reaches into.
const MIN_HOLD_BYTES: usize = 32 << 20;

/// How an ingest runs.
#[derive(Debug, Clone, Copy)]
pub struct IngestOptions {
    pub on_bad: OnBadFile,
    /// JSON bytes read per batch (a larger file of one record per line is read in windows
    /// of this size, see [`batches`]).
    pub batch_bytes: u64,
}

impl IngestOptions {
    /// How much of the merged partitions a run holds in memory between batches (see
    /// [`super::hold`]): half a batch, and at least [`MIN_HOLD_BYTES`].
    fn hold_bytes(&self) -> usize {
        usize::try_from(self.batch_bytes / 2)
            .unwrap_or(usize::MAX)
            .max(MIN_HOLD_BYTES)
    }
}

impl Default for IngestOptions {
    fn default() -> Self {
        IngestOptions {
            on_bad: OnBadFile::Fail,
            batch_bytes: DEFAULT_BATCH_BYTES,
        }
    }
}

/// What one ingest run did.
#[derive(Debug, Default, Serialize)]
pub struct IngestReport {
    pub run_id: String,
    pub files_seen: usize,
    pub files_ingested: usize,
    pub files_unchanged: usize,
    /// Unchanged files read again because a partition holding their rows was gone from
    /// the lake; the first such partition.
    pub files_restored: usize,
    pub first_missing_partition: Option<String>,
    pub files_rejected: Vec<(String, String)>,
    /// Other cxkpi lakes found below the paths and passed over (see `source::Discovered`);
    /// the run's own lake, when it lies inside the inbox, is passed over unlisted.
    pub lakes_skipped: Vec<String>,
    /// Files the paths reached again after their first path, read once (see
    /// `source::Discovered::repeated`).
    pub files_repeated: Vec<String>,
    pub recovered_previous_run: bool,
    /// Batches the new files were read in.
    pub batches: usize,
    /// Rows read from the ingested files, per table.
    pub rows_read: BTreeMap<String, usize>,
    /// Rows in the rewritten partitions after the merge, per table.
    pub rows_written: BTreeMap<String, usize>,
    pub partitions_written: usize,
    /// Partitions a batch merged into rows an earlier batch held in memory, rather than
    /// reading its staged file back (see `lake::hold`).
    pub partitions_reused: usize,
    /// Records left out because they lack their key (see `source::Keyless`).
    pub keyless: usize,
    pub first_keyless: Option<String>,
    pub seconds: f64,
}

impl IngestReport {
    fn note_keyless(&mut self, stats: &source::Stats) {
        self.keyless += stats.keyless;
        if self.first_keyless.is_none() {
            self.first_keyless = stats.first_keyless.clone();
        }
    }
}

/// One candidate file at the start of an ingest: its path (the manifest key), its digest
/// (taken already if the lake knows the path), and, when it is new or changed, its
/// detected format (`None` inside: not JSON).
type Scanned = (
    String,
    Arc<OnceLock<source::Digest>>,
    Option<Result<Option<Vendor>>>,
    Option<String>,
);

/// Whether the lake holds the partition `table/dt=…` of a manifest entry.
fn partition_exists(root: &Path, partition: &str) -> bool {
    root.join(partition).join(super::PART_FILE).exists()
}

/// The new or changed files of a run, by family, and what is known of each.
struct Plan {
    fresh: BTreeMap<Vendor, Vec<Candidate>>,
    /// Digest and format per file path.
    identity: HashMap<String, (Arc<OnceLock<source::Digest>>, Vendor)>,
}

/// A new run id: its start time and pid, unique per lake since runs hold its lock.
pub fn new_run_id() -> String {
    chrono::Utc::now().format("%Y%m%dT%H%M%S%.6fZ").to_string()
        + &format!("-{}", std::process::id())
}

/// Ingests the files under `paths` into the lake whose lock is held. A run that fails
/// leaves the lake as it was and, when it failed before its commit, no staged files.
pub fn ingest(lock: &LakeLock, paths: &[PathBuf], opts: IngestOptions) -> Result<IngestReport> {
    ingest_run(lock, paths, opts).inspect_err(|_| abandon(lock.root(), &lock.holder.run_id))
}

fn ingest_run(lock: &LakeLock, paths: &[PathBuf], opts: IngestOptions) -> Result<IngestReport> {
    let started = std::time::Instant::now();
    let root = lock.root();
    crash_point("locked")?;
    let mut report = IngestReport {
        run_id: lock.holder.run_id.clone(),
        recovered_previous_run: recover(root)?,
        ..IngestReport::default()
    };
    let mut manifest = load_manifest(root)?;
    // Identity of a file is its absolute path, whatever the command line said.
    let mut absolute = Vec::with_capacity(paths.len());
    for p in paths {
        absolute.push(std::fs::canonicalize(p).map_err(super::io(p))?);
    }
    let source::Discovered {
        candidates,
        lakes,
        repeated,
    } = source::discover(&absolute)?;
    report.files_repeated = (repeated.iter())
        .map(|p| p.to_string_lossy().into_owned())
        .collect();
    let own = std::fs::canonicalize(root).map_err(super::io(root))?;
    report.lakes_skipped = (lakes.iter())
        .filter(|l| std::fs::canonicalize(l).ok().as_ref() != Some(&own))
        .map(|l| l.to_string_lossy().into_owned())
        .collect();
    report.files_seen = candidates.len();
    let mut rejects = Rejects::default();
    let Plan {
        fresh,
        mut identity,
    } = plan(
        root,
        &candidates,
        &manifest,
        opts.on_bad,
        &mut rejects,
        &mut report,
    )?;

    if !fresh.is_empty() {
        for t in TABLES {
            report.rows_read.insert(t.def.name.to_string(), 0);
        }
    }
    let mut staging = Staging::new(&report.run_id);
    let mut run = RunState {
        held: Held::new(opts.hold_bytes()),
        ..RunState::default()
    };
    for (vendor, files) in &fresh {
        let ranks = delivery_ranks(files);
        let copies = root.join(staging.path_for("decompressed"));
        let mut batches = batches(files, opts.batch_bytes, &copies)?;
        let mut i = 0;
        while i < batches.len() {
            if !prepare_windows(*vendor, &mut batches, i, opts, &mut rejects)? {
                continue; // set aside: its windows are gone from `batches`
            }
            let batch = &batches[i][..];
            let before = rejects.files.len();
            // A window of a file is read only once the whole file is known to be good.
            let on_bad = match batch.iter().any(|c| c.window.is_some()) {
                true => OnBadFile::Fail,
                false => opts.on_bad,
            };
            let incoming = read_batch(*vendor, batch, on_bad, &mut rejects, &mut report)?;
            let rejected: HashSet<String> = rejects.files[before..]
                .iter()
                .map(|(p, _)| p.to_string_lossy().into_owned())
                .collect();
            // Files re-read because they changed: their old rows leave the lake (a file read
            // in windows: at its first, or the rows of its earlier windows would leave too).
            let replaced: HashSet<String> = (batch.iter())
                .filter(|c| c.window.is_none_or(|w| w.index == 0))
                .map(|c| c.path.to_string_lossy().into_owned())
                .filter(|k| !rejected.contains(k) && manifest.files.contains_key(k))
                .collect();
            let delivery = Delivery {
                replaced: &replaced,
                ranks: &ranks,
                next: match batch {
                    [c] if c.window.is_some_and(|w| w.index + 1 < w.count) => Next::SameFile,
                    _ => Next::ExportDay(batches.get(i + 1).and_then(|b| first_export_day(b))),
                },
            };
            merge_batch(
                root,
                incoming,
                &delivery,
                &manifest,
                &mut staging,
                &mut run,
                &mut report,
            )?;
            if let [c] = batch {
                if let (Some(copy), Some(w)) = (&c.content, c.window) {
                    if w.index + 1 == w.count {
                        std::fs::remove_file(copy).map_err(super::io(copy))?;
                    }
                }
            }
            report.batches += 1;
            crash_point(&format!("batch:{}", report.batches))?;
            i += 1;
        }
        // No other family's batch reaches into this one's partitions.
        let held = run.held.drain();
        write(root, &mut staging, &report.run_id, held)?;
    }
    report.files_rejected = rejects
        .files
        .iter()
        .map(|(p, why)| (p.to_string_lossy().into_owned(), why.clone()))
        .collect();
    let rejected: HashSet<&str> = report
        .files_rejected
        .iter()
        .map(|(p, _)| p.as_str())
        .collect();
    identity.retain(|k, _| !rejected.contains(k.as_str()));
    if identity.is_empty() && staging.is_empty() {
        staging.discard(root)?;
        report.seconds = started.elapsed().as_secs_f64();
        return Ok(report);
    }

    // The new manifest: the ingested files, and updated partitions for the files kept.
    for (path, (digest, vendor)) in &identity {
        // Every read file was digested as it was loaded; hashed here only should a reader
        // not have loaded it.
        let (size, hash) = match digest.get() {
            Some(d) => d.clone(),
            None => hash_file(Path::new(path))?,
        };
        manifest.files.insert(
            path.clone(),
            FileEntry {
                size,
                hash,
                format: format_name(*vendor).to_string(),
                rows: run.file_rows.get(path).copied().unwrap_or(0),
                partitions: BTreeSet::new(),
                run_id: report.run_id.clone(),
            },
        );
    }
    for (path, entry) in manifest.files.iter_mut() {
        if let Some(parts) = run.file_partitions.get(path) {
            entry.partitions.extend(parts.iter().cloned());
        }
    }
    for ((table, _), rows) in &run.partition_rows {
        *report.rows_written.entry(table.to_string()).or_default() += rows;
    }
    report.partitions_written = staging.partitions();
    staging.commit(root, &manifest)?;
    report.files_ingested = identity.len();
    report.seconds = started.elapsed().as_secs_f64();
    Ok(report)
}

/// Which files are new or changed, and of which format: the known ones hashed and the rest
/// sniffed in parallel, decided in order.
fn plan(
    root: &Path,
    candidates: &[Candidate],
    manifest: &Manifest,
    on_bad: OnBadFile,
    rejects: &mut Rejects,
    report: &mut IngestReport,
) -> Result<Plan> {
    let mut fresh: BTreeMap<Vendor, Vec<Candidate>> = BTreeMap::new();
    // Each file's digest: taken here for a path the lake has seen (to tell whether it
    // changed), by the read for a new path (from the bytes it parses).
    let mut identity = HashMap::new();
    // The partitions the manifest lists that are gone from the lake, each looked for once
    // (20,000 one-record files list the same few days).
    let listed: BTreeSet<&str> = (manifest.files.values())
        .flat_map(|e| e.partitions.iter().map(String::as_str))
        .collect();
    let gone: HashSet<&str> = (listed.into_par_iter())
        .filter(|p| !partition_exists(root, p))
        .collect();
    let scanned: Vec<Result<Scanned>> = candidates
        .par_iter()
        .map(|c| {
            let key = c.path.to_string_lossy().into_owned();
            let digest = OnceLock::new();
            let mut unchanged = false;
            let mut missing = None;
            if let Some(e) = manifest.files.get(&key) {
                let (size, hash) = hash_file(&c.path)?;
                unchanged = e.size == size && e.hash == hash;
                let _ = digest.set((size, hash));
                // A partition of the file gone from the lake (deleted by hand, or lost
                // with a disk): the file is read again, as if it had changed, and so is
                // every other file with rows there, so the partition is whole again.
                missing = unchanged
                    .then(|| e.partitions.iter().find(|p| gone.contains(p.as_str())))
                    .flatten()
                    .cloned();
                unchanged &= missing.is_none();
            }
            let sniffed = (!unchanged).then(|| source::sniff(c));
            Ok((key, Arc::new(digest), sniffed, missing))
        })
        .collect();
    for (c, scan) in candidates.iter().zip(scanned) {
        let (key, digest, sniffed, missing) = scan?;
        if let Some(partition) = missing {
            report.files_restored += 1;
            report.first_missing_partition.get_or_insert(partition);
        }
        let Some(sniffed) = sniffed else {
            report.files_unchanged += 1;
            continue;
        };
        let vendor = match sniffed {
            Ok(Some(v)) => v,
            Ok(None) => continue, // not JSON, below a directory
            Err(e) if on_bad == OnBadFile::Skip && e.is_bad_file() => {
                rejects.files.push((c.path.clone(), e.to_string()));
                continue;
            }
            Err(e) => return Err(e),
        };
        let family = match vendor {
            Vendor::SamespaceLogs | Vendor::SamespaceProductivity | Vendor::SamespaceCsat => {
                Vendor::SamespaceCalls
            }
            v => v,
        };
        identity.insert(key, (digest.clone(), vendor));
        fresh.entry(family).or_default().push(Candidate {
            digest: Some(digest),
            ..c.clone()
        });
    }
    Ok(Plan { fresh, identity })
}

/// Each file's place in delivery order (sorted path order, as `files` come): a later
/// delivery of a record wins, whichever batch read it (see [`batches`]).
fn delivery_ranks(files: &[Candidate]) -> HashMap<String, u32> {
    (files.iter().enumerate())
        .map(|(i, c)| (c.path.to_string_lossy().into_owned(), i as u32 + 1))
        .collect()
}

/// The export day a file's name carries (its first `YYYY-MM-DD`), if any.
fn named_day(path: &Path) -> Option<&str> {
    let name = path.file_name()?.to_str()?;
    let b = name.as_bytes();
    let digits = |r: std::ops::Range<usize>| b[r].iter().all(u8::is_ascii_digit);
    (0..b.len().saturating_sub(9)).find_map(|i| {
        (digits(i..i + 4) && b[i + 4] == b'-' && digits(i + 5..i + 7) && b[i + 7] == b'-')
            .then_some(i)
            .filter(|&i| digits(i + 8..i + 10))
            .map(|i| &name[i..i + 10])
    })
}

/// Each file of a table's new rows: the export day its name carries, and the earliest day
/// of the partitions (`names`, one per row in `dts`) its rows went to: what
/// [`Held::learn`] learns how far back a batch reaches from.
fn file_reaches(
    new: &Incoming,
    dts: &[u32],
    names: &[String],
) -> Result<Vec<(Option<chrono::NaiveDate>, Option<chrono::NaiveDate>)>> {
    type Day = Option<chrono::NaiveDate>;
    let days: Vec<Day> = names.iter().map(|n| super::hold::day(n)).collect();
    let earlier = |a: Day, b: Day| match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    let mut per_file: HashMap<&str, Day> = HashMap::new();
    match new {
        Incoming::Deferred(d) => {
            // A part is one file's: its rows' earliest day, then the file's.
            let mut per_part: Vec<Day> = vec![None; d.parts.len()];
            for (&(p, _), &dt) in d.positions.iter().zip(dts) {
                per_part[p] = earlier(per_part[p], days[dt as usize]);
            }
            for (source, day) in d.sources.iter().zip(per_part) {
                let e = per_file.entry(source).or_default();
                *e = earlier(*e, day);
            }
        }
        Incoming::Batch(b) => {
            let src = super::merge::strings(b, "source_file")?;
            for (i, &dt) in dts.iter().enumerate() {
                if arrow::array::Array::is_valid(src, i) {
                    let e = per_file.entry(src.value(i)).or_default();
                    *e = earlier(*e, days[dt as usize]);
                }
            }
        }
    }
    Ok(per_file
        .into_iter()
        .map(|(file, earliest)| {
            let named = named_day(Path::new(file)).and_then(super::hold::day);
            (named, earliest)
        })
        .collect())
}

/// The earliest export day the names of a batch's files carry.
fn first_export_day(batch: &[Candidate]) -> Option<chrono::NaiveDate> {
    (batch.iter())
        .filter_map(|c| named_day(&c.path).and_then(super::hold::day))
        .min()
}

/// Batches of at most `budget` JSON bytes each, a file counted with its [`FILE_BYTES`], taking
/// the files in the order of the export day their names carry, then path; each batch's files
/// in path order, as a reader takes them. A file larger than the budget is read in windows
/// of about the budget each (at least [`MIN_WINDOW_BYTES`]), one batch per window, one
/// after another (see [`source::Window`]; a gzip file's windows read a decompressed copy,
/// and are counted again from it: see [`prepare_windows`]).
///
/// Why by day: exports come one file per source and day (`conversation_<bot>_<date>`), and
/// a batch's rows go to the partitions of their days. In path order the second bot's
/// batches touched every day the first bot's had staged, and each of those partitions was
/// read back and merged again: the default ingest took 1.9× the time of one batch. By day,
/// a batch's days are mostly its own. Which copy of a record wins does not depend on the
/// batches: the merge breaks ties by the files' delivery order ([`delivery_ranks`]), then
/// by position, so a later window of a file wins over an earlier one as a later record of
/// one batch does.
fn batches(files: &[Candidate], budget: u64, copies: &Path) -> Result<Vec<Vec<Candidate>>> {
    let sizes = files
        .par_iter()
        .map(|c| source::content_size(&c.path))
        .collect::<Result<Vec<source::ContentSize>>>()?;
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by_key(|&i| named_day(&files[i].path));
    // Each batch's files by their index in `files`, to be put in path order.
    let mut out: Vec<Vec<(usize, Candidate)>> = Vec::new();
    let mut bytes = 0u64;
    for i in order {
        let size = sizes[i].bytes;
        let mut count = window_count(size, budget);
        if sizes[i].gzip && sizes[i].stored >= budget / GZIP_RATIO {
            count = count.max(2); // counted again from its copy
        }
        if count > 1 {
            // A gzip file's windows read its decompressed copy (see `ensure_copy`).
            let file = Candidate {
                content: sizes[i].gzip.then(|| copies.join(format!("{i}.json"))),
                ..files[i].clone()
            };
            out.extend(windows(&file, count, sizes[i].modified).map(|w| vec![(i, w)]));
            bytes = u64::MAX; // the next file starts a batch of its own
            continue;
        }
        let cost = size + FILE_BYTES;
        let file = (i, files[i].clone());
        match out.last_mut() {
            Some(batch) if bytes.saturating_add(cost) <= budget => batch.push(file),
            _ => {
                out.push(vec![file]);
                bytes = 0;
            }
        }
        bytes = bytes.saturating_add(cost);
    }
    Ok(out
        .into_iter()
        .map(|mut batch| {
            batch.sort_unstable_by_key(|(i, _)| *i);
            batch.into_iter().map(|(_, c)| c).collect()
        })
        .collect())
}

/// How many windows a file of `size` bytes of JSON is read in: windows of the batch, at
/// least [`MIN_WINDOW_BYTES`] each; 1 when it fits one.
fn window_count(size: u64, budget: u64) -> usize {
    usize::try_from(size.div_ceil(budget.max(MIN_WINDOW_BYTES)))
        .unwrap_or(usize::MAX)
        .max(1)
}

/// The `count` windows of `file`, in order (see [`source::Window`]).
fn windows(
    file: &Candidate,
    count: usize,
    modified: Option<std::time::SystemTime>,
) -> impl Iterator<Item = Candidate> + '_ {
    (0..count).map(move |index| Candidate {
        window: Some(source::Window {
            index,
            count,
            modified,
        }),
        ..file.clone()
    })
}

/// Readies the file of batch `i` when it is the first window of a file read in windows
/// (see [`batches`]); returns false when the file was set aside (its windows removed from
/// `batches`, the file listed in `rejects`). Two things wait until then, one file at a
/// time, so a backfill of many big files holds one copy on disk and reads nothing twice
/// up front:
/// - a gzip file's decompressed copy is made ([`ensure_copy`]), and its windows counted
///   again from the copy's size: the gzip trailer [`batches`] counted them by keeps the
///   size modulo 4 GiB;
/// - with `--skip-bad-files`, every window is parsed before any is merged: a bad record in
///   a late window would otherwise be found after the earlier windows were merged. Costs
///   one more parse of those files only, one window at a time.
fn prepare_windows(
    vendor: Vendor,
    batches: &mut Vec<Vec<Candidate>>,
    i: usize,
    opts: IngestOptions,
    rejects: &mut Rejects,
) -> Result<bool> {
    let (c, planned) = match &batches[i][..] {
        [c] => match c.window {
            Some(w) if w.index == 0 => (c.clone(), w.count),
            _ => return Ok(true),
        },
        _ => return Ok(true),
    };
    // The file is set aside: its windows leave the run, and its copy the disk.
    let mut set_aside = |batches: &mut Vec<Vec<Candidate>>, count: usize, why: String| {
        batches.drain(i..i + count);
        rejects.files.push((c.path.clone(), why));
        if let Some(copy) = &c.content {
            let _ = std::fs::remove_file(copy);
        }
        Ok(false)
    };
    let mut count = planned;
    if let Some(copy) = &c.content {
        match ensure_copy(&c) {
            Ok(()) => {}
            Err(e) if opts.on_bad == OnBadFile::Skip && e.is_bad_file() => {
                return set_aside(batches, count, e.to_string());
            }
            Err(e) => return Err(e),
        }
        let size = std::fs::metadata(copy).map_err(super::io(copy))?.len();
        count = window_count(size, opts.batch_bytes);
        // The copy is the run's own: no one else writes it, so its time is not checked.
        let again = windows(&c, count, None).map(|w| vec![w]);
        batches.splice(i..i + planned, again.collect::<Vec<_>>());
    }
    if opts.on_bad == OnBadFile::Skip {
        for k in i..i + count {
            let mut found = Rejects::default();
            let mut scratch = IngestReport::default();
            read_batch(
                vendor,
                &batches[k],
                OnBadFile::Skip,
                &mut found,
                &mut scratch,
            )?;
            if let Some((_, why)) = found.files.into_iter().next() {
                return set_aside(batches, count, why);
            }
        }
    }
    Ok(true)
}

/// Reads one batch of one family into its tables' new rows.
fn read_batch(
    vendor: Vendor,
    files: &[Candidate],
    on_bad: OnBadFile,
    rejects: &mut Rejects,
    report: &mut IngestReport,
) -> Result<BTreeMap<&'static str, Incoming>> {
    let mut incoming = BTreeMap::new();
    match vendor {
        Vendor::Ultimate => {
            // In partition order, so each partition is written from a slice of rows.
            let opts = ultimate::Options {
                by_start_day: true,
                ..ultimate::Options::default()
            };
            let t = ultimate::read_deferred(files, &opts, on_bad, rejects)?;
            report.note_keyless(&t.stats);
            incoming.insert("bot_conversations", Incoming::Deferred(t.conversations));
            incoming.insert("bot_intents", Incoming::Deferred(t.intents));
        }
        Vendor::Dialpad => {
            let t = dialpad::read(files, &dialpad::Options::default(), on_bad, rejects)?;
            report.note_keyless(&t.stats);
            incoming.insert("messages", Incoming::Batch(t.messages));
        }
        Vendor::Anywhere365 => {
            let t = anywhere365::read(files, &anywhere365::Options::default(), on_bad, rejects)?;
            report.note_keyless(&t.stats);
            incoming.insert("dialogues", Incoming::Batch(t.dialogues));
        }
        _ => {
            let t = samespace::read(files, &samespace::Options::default(), on_bad, rejects)?;
            report.note_keyless(&t.stats);
            for (name, batch) in [
                ("calls", t.calls),
                ("csat_calls", t.csat_calls),
                ("csat_answers", t.csat_answers),
                ("agent_sessions", t.agent_sessions),
                ("productivity", t.productivity),
            ] {
                incoming.insert(name, Incoming::Batch(batch));
            }
        }
    }
    Ok(incoming)
}

/// Makes the decompressed copy a gzip file read in windows is read from (`content`), before
/// the first of its windows is read (see [`prepare_windows`]): streamed to the run's
/// staging, on the lake's disk (`/tmp` is often memory), so the file's windows are mapped
/// as a plain file's are; removed after its last window (or with the staging). Its digest
/// is the file's as stored, taken as it is read; a file the run had hashed before with
/// other content stops the run.
fn ensure_copy(c: &Candidate) -> Result<()> {
    let Some(copy) = &c.content else {
        return Ok(());
    };
    if let Some(dir) = copy.parent() {
        std::fs::create_dir_all(dir).map_err(super::io(dir))?;
    }
    let digest = source::decompress_to(&c.path, copy).inspect_err(|_| {
        let _ = std::fs::remove_file(copy);
    })?;
    match &c.digest {
        Some(slot) if *slot.get_or_init(|| digest.clone()) != digest => {
            let _ = std::fs::remove_file(copy);
            Err(source::changed_while_read(
                &c.path,
                "its content, since it was hashed",
            ))
        }
        _ => Ok(()),
    }
}

/// What the batches of a run add up, for the manifest and the report.
#[derive(Default)]
struct RunState {
    /// The `table/dt=…` partitions holding rows of each file.
    file_partitions: HashMap<String, BTreeSet<String>>,
    /// Rows read from each file (after its batch's deduplication).
    file_rows: HashMap<String, u64>,
    /// Rows of each partition the run wrote, as last written.
    partition_rows: BTreeMap<(&'static str, String), usize>,
    /// Merged partitions not written yet (see [`super::hold`]).
    held: Held,
}

/// Writes merged partitions to the run's staging, in parallel.
fn write(root: &Path, staging: &mut Staging, run_id: &str, parts: Vec<ToWrite>) -> Result<()> {
    parts
        .par_iter()
        .map(|(t, dt, rows)| write_partition(root, staging, run_id, t, dt, rows))
        .collect::<Result<Vec<()>>>()?;
    for (t, dt, _) in parts {
        staging.written(super::partition_file(t.def.name, &dt));
    }
    Ok(())
}

/// Which copy of a record a batch's merge keeps: the batch's files the lake already holds
/// with other content (their old rows leave) and the run's delivery order.
struct Delivery<'a> {
    replaced: &'a HashSet<String>,
    ranks: &'a HashMap<String, u32>,
    /// What the next batch is expected to reach (what the run holds in memory for it).
    next: Next,
}

/// Where the next batch of a run is expected to reach (see [`super::hold`]).
#[derive(Clone, Copy)]
enum Next {
    /// Back from the first export day its file names carry (`None`: no day, or no batch).
    ExportDay(Option<chrono::NaiveDate>),
    /// It is the next window of the same file, which goes on from the newest days this
    /// one reached (a dump is written in time order).
    SameFile,
}

/// Merges one batch's new rows into every partition they touch, and the partitions holding
/// rows of the batch's replaced files, table by table (parents before their children).
fn merge_batch(
    root: &Path,
    mut incoming: BTreeMap<&'static str, Incoming>,
    delivery: &Delivery<'_>,
    manifest: &Manifest,
    staging: &mut Staging,
    run: &mut RunState,
    report: &mut IngestReport,
) -> Result<()> {
    let mut stale_partitions: BTreeSet<&str> = BTreeSet::new();
    for f in delivery.replaced {
        stale_partitions.extend(manifest.files[f].partitions.iter().map(String::as_str));
    }
    // Each parent table's partitions, for its child tables.
    let mut parent_dt: HashMap<&'static str, ParentDays> = HashMap::new();
    // Per partition of a parent table: the kept (key, source_file) pairs.
    let mut kept_parents: HashMap<(&'static str, String), KeptRows> = HashMap::new();
    let mut freeing = Vec::new();

    for t in TABLES {
        let name = t.def.name;
        let prefix = format!("{name}/dt=");
        let stale: Vec<&str> = stale_partitions
            .iter()
            .filter_map(|p| p.strip_prefix(&prefix))
            .collect();
        let Some(new) = incoming.remove(name).or_else(|| {
            (!stale.is_empty()).then(|| Incoming::Batch(RecordBatch::new_empty(t.def.schema())))
        }) else {
            continue;
        };
        *report.rows_read.entry(name.to_string()).or_default() += new.num_rows();
        for (s, n) in new.rows_per_source()? {
            *run.file_rows.entry(s.to_string()).or_default() += n;
        }
        // Partition of every new row, as an index into `dt_names`.
        let (dt_names, dts): (Vec<String>, Vec<u32>) = match (t.partition_by, t.parent) {
            (Some(c), _) => days(&new.column(c)?)?,
            (None, Some((parent, key))) => child_days(parent_dt.get(parent), &new, key)?,
            (None, None) => (vec![NULL_PARTITION.to_string()], vec![0; new.num_rows()]),
        };
        let mut by_index: Vec<Vec<u32>> = vec![Vec::new(); dt_names.len()];
        for (i, &d) in dts.iter().enumerate() {
            by_index[d as usize].push(i as u32);
        }
        let mut by_dt: BTreeMap<String, Vec<u32>> = BTreeMap::new();
        for (name, rows) in dt_names.iter().zip(by_index) {
            if !rows.is_empty() {
                let all = by_dt.entry(name.clone()).or_default();
                let merge = !all.is_empty();
                all.extend(rows);
                if merge {
                    all.sort_unstable(); // rows stay in delivery order within a partition
                }
            }
        }
        // Partitions to rewrite: those with new rows, and those holding rows of replaced files.
        let mut touched: BTreeSet<String> = by_dt.keys().cloned().collect();
        touched.extend(stale.iter().map(|dt| dt.to_string()));
        // And a child table's partitions whose parent partition changed: a parent copy
        // replaced by a later delivery takes its children along, even when the new copy
        // brings none (or lives in another partition).
        if let Some((parent, _)) = t.parent {
            touched.extend(
                kept_parents
                    .keys()
                    .filter(|(p, _)| *p == parent)
                    .map(|(_, dt)| dt.clone()),
            );
        }
        // Partitions are independent: merge them in parallel.
        let ctx = MergeContext {
            root,
            table: t,
            new: &new,
            by_dt: &by_dt,
            replaced: delivery.replaced,
            ranks: delivery.ranks,
            kept_parents: &kept_parents,
            staging,
        };
        if t.partition_by.is_some() {
            run.held.learn(file_reaches(&new, &dts, &dt_names)?);
            match delivery.next {
                Next::ExportDay(day) => run.held.plan(day),
                Next::SameFile => run.held.plan_after(dt_names.iter().map(String::as_str)),
            }
        }
        let work: Vec<(String, Option<RecordBatch>)> = (touched.into_iter())
            .map(|dt| {
                let h = run.held.take(name, &dt);
                report.partitions_reused += usize::from(h.is_some());
                (dt, h)
            })
            .collect();
        // Each partition written as soon as merged, unless it is to be held.
        let held = &run.held;
        let merged = work
            .into_par_iter()
            .map(|(dt, h)| {
                let mut m = merge_partition(&ctx, dt, h)?;
                if m.rows > 0 && !held.wants(&m.dt) {
                    if let Some(rows) = m.batch.take() {
                        write_partition(root, ctx.staging, &report.run_id, t, &m.dt, &rows)?;
                    }
                }
                Ok(m)
            })
            .collect::<Result<Vec<_>>>()?;
        let mut settled = Vec::with_capacity(merged.len());
        for m in merged {
            for (file, n) in &m.read_again {
                let rows = run.file_rows.entry(file.clone()).or_default();
                *rows = rows.saturating_sub(*n);
                let read = report.rows_read.entry(name.to_string()).or_default();
                *read = read.saturating_sub(*n as usize);
            }
            let partition = format!("{name}/dt={}", m.dt);
            for s in m.sources {
                run.file_partitions
                    .entry(s)
                    .or_default()
                    .insert(partition.clone());
            }
            match m.rows {
                0 => {
                    run.partition_rows.remove(&(name, m.dt.clone()));
                    staging.emptied(root, m.rel)?;
                }
                rows => {
                    run.partition_rows.insert((name, m.dt.clone()), rows);
                    match m.batch {
                        Some(batch) => settled.push((m.dt.clone(), batch)),
                        None => staging.written(m.rel),
                    }
                }
            }
            if let Some(kept) = m.kept {
                kept_parents.insert((name, m.dt), kept);
            }
        }
        // The newest partitions stay in memory for the next batch; the others are written.
        let evicted = run.held.settle(t, settled)?;
        write(root, staging, &report.run_id, evicted)?;
        if t.parent.is_none() && !t.key.is_empty() && t.partition_by.is_some() {
            let rows = match &new {
                Incoming::Deferred(d) => {
                    let mut at: Vec<Vec<u32>> = d
                        .parts
                        .iter()
                        .map(|p| vec![u32::MAX; p.num_rows()])
                        .collect();
                    for (&(p, r), &dt) in d.positions.iter().zip(&dts) {
                        at[p][r] = dt;
                    }
                    ParentRows::Positions(at)
                }
                Incoming::Batch(_) => {
                    ParentRows::Keys(new.column(t.key[0])?.as_string::<i32>().clone(), dts)
                }
            };
            parent_dt.insert(
                name,
                ParentDays {
                    names: dt_names,
                    rows,
                },
            );
        }
        // The table's chunks go here: hand their memory back to the OS while the next
        // table is merged (or the peak holds both tables' chunks), on a thread of its own,
        // not waited for: unmapping a gigabyte stopped both cores' merges for a sixth of
        // a second, and after the last table it only delayed the commit. Should no thread
        // be available, the failed spawn drops the closure, freeing the chunks right here.
        let free = move || {
            drop(new);
            crate::alloc::release_freed();
        };
        if let Ok(handle) = std::thread::Builder::new()
            .name("cxkpi-free".into())
            .spawn(free)
        {
            freeing.push(handle);
        }
    }
    // The batch's memory is handed back before the next batch reads: overlapping the two
    // made a run's peak grow with its number of batches (15 → 60 days: +125 MB).
    for handle in freeing {
        let _ = handle.join();
    }
    Ok(())
}
