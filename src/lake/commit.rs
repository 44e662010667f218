//! The commit protocol: a run is all or nothing, whatever kills it.
//!
//! Plain Parquet has no multi-file transaction, so a run stages everything and commits with
//! one atomic rename:
//! 1. every partition file the run writes goes under `_cxkpi/staging/RUN/` as it is written,
//!    batch after batch ([`Staging`]); a later batch that touches a partition again merges
//!    with the staged copy, so memory holds one batch while the lake changes once;
//! 2. the new manifest is staged, the staged files are synced, and the journal
//!    `_cxkpi/journal.json`, listing the renames and removals, is written and renamed into
//!    place: from here on the run has happened;
//! 3. the staged files are renamed over their targets, the manifest last; the journal is
//!    removed.
//!
//! A run killed before step 2 leaves only staging, which the next run deletes: the lake is as
//! before. Killed after it, the next run first finishes the renames (they are idempotent):
//! the lake is as after. Either way the next run then does its own work. Only the holder of
//! the lake's lock ([`super::lock`]) recovers or commits, so a live run's staging is never
//! taken for a dead one's.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::{Path, PathBuf};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::manifest::Manifest;
use super::{io, meta_dir};
use crate::error::{Error, Result};

#[derive(Debug, Serialize, Deserialize)]
struct Journal {
    run_id: String,
    /// (staged file, final file), relative to the lake root; the manifest last.
    renames: Vec<(String, String)>,
    /// Partition files to remove (emptied partitions), relative to the lake root.
    removals: Vec<String>,
}

/// Test hooks at each step of a run (`locked`, `batch:N`, `staged`, `journaled`,
/// `renamed:N`): `CXKPI_CRASH_AT=STEP` aborts the process there, as `kill -9` would,
/// `CXKPI_FAIL_AT=STEP` fails the run there with an I/O error, as a full disk would, and
/// `CXKPI_PAUSE_AT=STEP:MILLIS` sleeps there, so the tests can prove the commit protocol
/// and overlap runs in every phase.
pub(super) fn crash_point(step: &str) -> Result<()> {
    if std::env::var("CXKPI_CRASH_AT").is_ok_and(|v| v == step) {
        std::process::abort();
    }
    if std::env::var("CXKPI_FAIL_AT").is_ok_and(|v| v == step) {
        return Err(Error::io(
            Path::new(step),
            std::io::Error::other("failure injected by CXKPI_FAIL_AT"),
        ));
    }
    if let Ok(v) = std::env::var("CXKPI_PAUSE_AT") {
        if let Some(ms) = v
            .strip_prefix(step)
            .and_then(|rest| rest.strip_prefix(':'))
            .and_then(|ms| ms.parse().ok())
        {
            std::thread::sleep(std::time::Duration::from_millis(ms));
        }
    }
    Ok(())
}

/// Writes `bytes` to `path` through a synced temporary file and a rename; a failed write
/// leaves no temporary file.
fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("tmp");
    let written = (|| {
        use std::io::Write;
        let mut f = File::create(&tmp).map_err(io(&tmp))?;
        f.write_all(bytes).map_err(io(&tmp))?;
        f.sync_all().map_err(io(&tmp))?;
        std::fs::rename(&tmp, path).map_err(io(path))
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    written
}

/// After the run `run_id` failed (an error, not a crash): drops its staging if it failed
/// before its commit point, so a run that filled the disk gives the space back at once
/// rather than at the next run. A journal means the run committed (or an earlier run's
/// recovery failed): everything is then left for the next run's [`recover`].
pub(super) fn abandon(root: &Path, run_id: &str) {
    if !meta_dir(root).join("journal.json").exists() {
        let _ = Staging::new(run_id).discard(root);
    }
}

/// Finishes a committed run a crash interrupted, and drops the staging of uncommitted ones.
/// Returns whether a committed run was completed. Only the lock's holder calls it.
pub(super) fn recover(root: &Path) -> Result<bool> {
    let meta = meta_dir(root);
    let journal_path = meta.join("journal.json");
    let mut completed = false;
    if let Ok(bytes) = std::fs::read(&journal_path) {
        let journal: Journal = serde_json::from_slice(&bytes).map_err(|e| Error::Format {
            path: journal_path.clone(),
            message: format!("the lake journal is not valid: {e}"),
        })?;
        apply(root, &journal)?;
        std::fs::remove_file(&journal_path).map_err(io(&journal_path))?;
        completed = true;
    }
    let staging = meta.join("staging");
    if staging.exists() {
        std::fs::remove_dir_all(&staging).map_err(io(&staging))?;
    }
    Ok(completed)
}

/// Performs the journal's renames and removals; each step may already have happened.
fn apply(root: &Path, j: &Journal) -> Result<()> {
    for (i, (from, to)) in j.renames.iter().enumerate() {
        let (from, to) = (root.join(from), root.join(to));
        if from.exists() {
            if let Some(dir) = to.parent() {
                std::fs::create_dir_all(dir).map_err(io(dir))?;
            }
            std::fs::rename(&from, &to).map_err(io(&to))?;
        }
        crash_point(&format!("renamed:{}", i + 1))?;
    }
    for r in &j.removals {
        let p = root.join(r);
        if p.exists() {
            std::fs::remove_file(&p).map_err(io(&p))?;
            if let Some(dir) = p.parent() {
                let _ = std::fs::remove_dir(dir); // only when empty
            }
        }
    }
    Ok(())
}

/// What a run has staged so far: the partition files it wrote (by their place in the lake),
/// and the lake's partition files it emptied. Batches of one run share it, so the last
/// batch to touch a partition leaves the file the commit renames into place.
pub(super) struct Staging {
    run_id: String,
    /// `_cxkpi/staging/RUN`, relative to the lake root.
    dir: String,
    /// Final path → staged path, both relative to the lake root.
    staged: BTreeMap<String, String>,
    /// Lake partition files (relative) that the run emptied.
    removals: BTreeSet<String>,
}

impl Staging {
    pub(super) fn new(run_id: &str) -> Staging {
        Staging {
            run_id: run_id.to_string(),
            dir: format!("_cxkpi/staging/{run_id}"),
            staged: BTreeMap::new(),
            removals: BTreeSet::new(),
        }
    }

    /// The file a merge of the partition at `rel` starts from: this run's staged copy if an
    /// earlier batch wrote one, else the lake's (none if the run emptied it, or it is new).
    pub(super) fn current(&self, root: &Path, rel: &str) -> Option<PathBuf> {
        if let Some(staged) = self.staged.get(rel) {
            return Some(root.join(staged));
        }
        let lake = root.join(rel);
        (!self.removals.contains(rel) && lake.exists()).then_some(lake)
    }

    /// Where the partition at `rel` is staged (relative to the lake root).
    pub(super) fn path_for(&self, rel: &str) -> String {
        format!("{}/{rel}", self.dir)
    }

    /// The partition at `rel` was written to [`Staging::path_for`].
    pub(super) fn written(&mut self, rel: String) {
        self.removals.remove(&rel);
        let staged = self.path_for(&rel);
        self.staged.insert(rel, staged);
    }

    /// The partition at `rel` ended up empty: its staged copy goes, and so will the lake's.
    pub(super) fn emptied(&mut self, root: &Path, rel: String) -> Result<()> {
        if let Some(staged) = self.staged.remove(&rel) {
            let p = root.join(staged);
            std::fs::remove_file(&p).map_err(io(&p))?;
        }
        if root.join(&rel).exists() {
            self.removals.insert(rel);
        }
        Ok(())
    }

    /// Partition files the run will rename into place.
    pub(super) fn partitions(&self) -> usize {
        self.staged.len()
    }

    /// Whether the run changes anything in the lake.
    pub(super) fn is_empty(&self) -> bool {
        self.staged.is_empty() && self.removals.is_empty()
    }

    /// Drops what the run staged, leaving the lake as it was.
    pub(super) fn discard(self, root: &Path) -> Result<()> {
        let dir = root.join(&self.dir);
        match std::fs::remove_dir_all(&dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(Error::io(&dir, e)),
            _ => Ok(()),
        }
    }

    /// Commits the run: the staged files synced, the manifest staged, the journal written
    /// (the commit point), then applied.
    pub(super) fn commit(self, root: &Path, manifest: &Manifest) -> Result<()> {
        let mut renames: Vec<(String, String)> = self
            .staged
            .into_iter()
            .map(|(to, from)| (from, to))
            .collect();
        sync_staged(root, &renames)?;
        let staged_manifest = format!("{}/manifest.json", self.dir);
        let bytes = serde_json::to_vec_pretty(manifest).map_err(|e| Error::Usage(e.to_string()))?;
        let path = root.join(&staged_manifest);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        write_atomic(&path, &bytes)?;
        renames.push((staged_manifest, "_cxkpi/manifest.json".into()));
        crash_point("staged")?;
        let journal = Journal {
            run_id: self.run_id,
            renames,
            removals: self.removals.into_iter().collect(),
        };
        let journal_bytes =
            serde_json::to_vec_pretty(&journal).map_err(|e| Error::Usage(e.to_string()))?;
        write_atomic(&meta_dir(root).join("journal.json"), &journal_bytes)?;
        crash_point("journaled")?;
        recover(root)?;
        Ok(())
    }
}

/// Waits until the staged files are on disk, all at once before the commit: an `fsync`
/// after each file held its core idle while the disk wrote it (62 waits in a 1.5M
/// conversation ingest), where together the writes overlap.
fn sync_staged(root: &Path, renames: &[(String, String)]) -> Result<()> {
    renames.par_iter().try_for_each(|(staged, _)| {
        let path = root.join(staged);
        File::open(&path)
            .and_then(|f| f.sync_all())
            .map_err(io(&path))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_later_batch_merges_with_the_staged_copy_and_emptying_forgets_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let rel = "t/dt=2024-01-01/part-00000.parquet".to_string();
        let mut s = Staging::new("run1");
        assert_eq!(s.current(root, &rel), None);
        std::fs::create_dir_all(root.join("t/dt=2024-01-01")).unwrap();
        std::fs::write(root.join(&rel), b"lake").unwrap();
        assert_eq!(s.current(root, &rel), Some(root.join(&rel)));
        let staged = root.join(s.path_for(&rel));
        std::fs::create_dir_all(staged.parent().unwrap()).unwrap();
        std::fs::write(&staged, b"staged").unwrap();
        s.written(rel.clone());
        assert_eq!(s.current(root, &rel), Some(staged.clone()));
        assert_eq!(s.partitions(), 1);
        s.emptied(root, rel.clone()).unwrap();
        assert!(
            !staged.exists(),
            "the staged copy of an emptied partition is deleted"
        );
        assert_eq!(
            s.current(root, &rel),
            None,
            "nor is the lake's file merged again"
        );
        assert!(!s.is_empty(), "the lake's file is to be removed");
        s.written(rel.clone());
        assert!(s.removals.is_empty(), "written again: nothing to remove");
    }
}
