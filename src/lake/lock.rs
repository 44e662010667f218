//! One writer at a time per lake.
//!
//! Two runs that overlap on one lake would each read the manifest before the other commits
//! and each take the other's staging for a crashed run's: a run could be lost for good, its
//! files listed as ingested. So a run (`ingest`, `run`) holds `_cxkpi/lock` from before it
//! recovers or reads the manifest until after it commits.
//!
//! The lock is the operating system's exclusive file lock (`flock` on Unix, `LockFileEx` on
//! Windows) on that file, not the file's existence: the kernel releases it when its holder
//! exits, however it exits, so a run killed with `kill -9` never leaves a lake locked, and
//! no guess about whether a recorded pid is still alive (pids are reused, and mean nothing
//! on another host) is ever made. The file's content only names the holder (pid, host,
//! start time, run id) for the message a waiting run prints; a holder that ends normally
//! empties it, so content found by the next holder tells that the previous one was killed.
//! On network file systems the lock is only as good as the file system's locking (NFSv4
//! and SMB lock; some FUSE mounts do not): keep a lake that several hosts write on one
//! that does.
//!
//! Readers (`metrics --lake`, `table --lake`) take no lock: partition files change only by
//! renames, so a reader sees each file whole.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::{io, meta_dir};
use crate::error::{Error, Result};

/// How long a run waits for the lock by default: long enough for a nightly run over a large
/// inbox to finish (a year of all four vendors ingests in about ten seconds here; a five-year
/// backfill in minutes), short enough that a scheduler retrying every quarter of an hour
/// does not pile up waiting runs behind a hung one.
pub const DEFAULT_WAIT: Duration = Duration::from_secs(600);

/// Who holds the lock: written into the lock file by its holder.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Holder {
    pub pid: u32,
    pub host: String,
    /// RFC 3339, UTC.
    pub started: String,
    pub run_id: String,
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        write!(
            f,
            "pid {} on host {}, started {} (run {})",
            self.pid, self.host, self.started, self.run_id
        )
    }
}

/// The held lock of a lake; released (and its holder record cleared) when dropped.
pub struct LakeLock {
    root: PathBuf,
    file: File,
    pub holder: Holder,
    /// The record a killed holder left behind, if the lock was taken over from one.
    pub taken_over: Option<Holder>,
}

impl LakeLock {
    /// Takes the lock of the lake at `root` (creating the lake's directory), waiting up to
    /// `wait` for another run to release it; `waiting` is told once who holds it. Fails with
    /// [`Error::Locked`] when the wait runs out.
    pub fn acquire(
        root: &Path,
        run_id: &str,
        wait: Duration,
        waiting: &dyn Fn(&str),
    ) -> Result<LakeLock> {
        let meta = meta_dir(root);
        std::fs::create_dir_all(&meta).map_err(io(&meta))?;
        let path = meta.join("lock");
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(&path))?;
        let started = Instant::now();
        let mut told = false;
        let mut pause = Duration::from_millis(20);
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(std::fs::TryLockError::WouldBlock) => {
                    let holder = read_holder(&mut file);
                    let who = holder.map_or_else(|| "another run".to_string(), |h| h.to_string());
                    if started.elapsed() >= wait {
                        return Err(Error::Locked {
                            path,
                            holder: who,
                            waited: started.elapsed().as_secs_f64(),
                        });
                    }
                    if !told {
                        waiting(&format!(
                            "waiting up to {} s for the lake lock {}, held by {who}",
                            wait.as_secs(),
                            path.display()
                        ));
                        told = true;
                    }
                    std::thread::sleep(pause.min(wait.saturating_sub(started.elapsed())));
                    pause = (pause * 2).min(Duration::from_millis(500));
                }
                Err(std::fs::TryLockError::Error(e)) => {
                    return Err(Error::io(
                        &path,
                        std::io::Error::new(
                            e.kind(),
                            format!(
                            "cannot lock the lake (does this file system support file locks?): {e}"
                        ),
                        ),
                    ))
                }
            }
        }
        let taken_over = read_holder(&mut file);
        let holder = Holder {
            pid: std::process::id(),
            host: host_name(),
            started: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            run_id: run_id.to_string(),
        };
        let record = serde_json::to_vec(&holder).map_err(|e| Error::Usage(e.to_string()))?;
        file.set_len(0)
            .and_then(|_| file.rewind())
            .and_then(|_| file.write_all(&record))
            .and_then(|_| file.sync_data())
            .map_err(io(&path))?;
        Ok(LakeLock {
            root: root.to_path_buf(),
            file,
            holder,
            taken_over,
        })
    }

    /// The lake this lock is of.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl Drop for LakeLock {
    fn drop(&mut self) {
        // An empty record tells the next holder that this one ended normally. Unlocking is
        // also what closing the file does; it is explicit so it happens before the drop
        // returns, whatever else holds the descriptor.
        let _ = self.file.set_len(0);
        let _ = self.file.unlock();
    }
}

/// The holder recorded in the lock file; `None` when it is empty (released normally) or being
/// written.
fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = Vec::new();
    file.rewind().ok()?;
    file.read_to_end(&mut text).ok()?;
    serde_json::from_slice(&text).ok()
}

/// This machine's name, for the holder record (no dependency for one string).
fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|s| s.trim().to_string())
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .or_else(|| std::env::var("COMPUTERNAME").ok())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_waits_then_fails_naming_the_holder_and_a_dropped_one_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let quiet = |_: &str| {};
        let first = LakeLock::acquire(dir.path(), "r1", Duration::ZERO, &quiet).unwrap();
        assert_eq!(first.taken_over, None);
        let told = std::sync::Mutex::new(Vec::new());
        let note = |m: &str| told.lock().unwrap().push(m.to_string());
        let second = LakeLock::acquire(dir.path(), "r2", Duration::from_millis(120), &note);
        match second {
            Err(Error::Locked { holder, waited, .. }) => {
                assert!(
                    holder.contains(&format!("pid {}", std::process::id())),
                    "{holder}"
                );
                assert!(holder.contains("run r1"), "{holder}");
                assert!(waited >= 0.12, "{waited}");
            }
            other => panic!("expected Locked, got {:?}", other.map(|l| l.holder.clone())),
        }
        assert_eq!(told.lock().unwrap().len(), 1, "told once that it waits");
        drop(first);
        let third = LakeLock::acquire(dir.path(), "r3", Duration::ZERO, &quiet).unwrap();
        assert_eq!(third.taken_over, None, "a released lock leaves no record");
        assert_eq!(third.holder.run_id, "r3");
    }

    #[test]
    fn a_record_left_behind_means_the_previous_holder_was_killed() {
        let dir = tempfile::tempdir().unwrap();
        let meta = dir.path().join("_cxkpi");
        std::fs::create_dir_all(&meta).unwrap();
        let dead = Holder {
            pid: 4_000_000,
            host: "elsewhere".into(),
            started: "2026-01-01T00:00:00Z".into(),
            run_id: "dead".into(),
        };
        std::fs::write(meta.join("lock"), serde_json::to_vec(&dead).unwrap()).unwrap();
        let lock = LakeLock::acquire(dir.path(), "r", Duration::ZERO, &|_| {}).unwrap();
        assert_eq!(lock.taken_over, Some(dead));
    }
}
