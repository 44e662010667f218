//! Which files a command reads: its paths expanded into candidates (directories walked in
//! sorted path order, links followed, lakes passed over, each file read once), and the
//! window of a big file's records one read of it may take.

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use super::Digest;
use crate::error::{Error, Result};

/// An input file found on the command line or below a directory given there.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub path: PathBuf,
    /// Found by walking a directory rather than named explicitly: such a file is skipped,
    /// with a note, when its content is not JSON at all (a README beside the exports).
    pub from_dir: bool,
    /// Where a read puts the file's [`Digest`] when it loads the file, if asked to. Why:
    /// an ingest records the digest of every new file, and taking it from the bytes the
    /// parse maps anyway saves reading each file a second time (from disk, on a night
    /// whose files are not in the page cache).
    pub digest: Option<Arc<OnceLock<Digest>>>,
    /// The share of the file's records this read takes, when an ingest reads a file larger
    /// than its batch in several batches (see `lake::ingest::batches`); `None`: all of them.
    pub window: Option<Window>,
    /// Where the content is read from instead of `path`: the decompressed copy of a gzip
    /// file read in windows (see [`decompress_to`](super::decompress_to)); `path` still
    /// names it everywhere.
    pub content: Option<PathBuf>,
}

/// One of `count` consecutive shares of a big file's records, by byte offset: window `index`
/// takes the records that start at or after its first byte and before the next window's.
///
/// Why: an ingest bounds its memory by reading batches of files, but a file larger than a
/// batch was a batch of its own, so a single 1.8 GB dump peaked at 1.1 GB of rows where the
/// same records in daily files peaked at 0.46 GB. Only a file of records one per line
/// (NDJSON, or a JSON array with an element per line) is cut: its windows begin just past a
/// newline found near equal shares of its size, as the parse's pieces do, so finding them
/// reads a few pages, not the file (see
/// [`frame::window_bounds`](super::frame::window_bounds)). Any other file (pretty-printed,
/// envelopes, MongoDB shell notation) is read whole by its first window, and its other
/// windows read nothing. (A gzip file's windows read a decompressed copy,
/// `content`, mapped as a plain file is; a UTF-16 file is converted whole by each window.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub index: usize,
    pub count: usize,
    /// The file's modification time when the windows were planned: a window that finds
    /// another stops the run (see [`changed_while_read`](super::changed_while_read));
    /// `None`: not checked.
    pub modified: Option<std::time::SystemTime>,
}

/// The files a command's paths expand into, and the lakes skipped on the way.
#[derive(Debug, Default)]
pub struct Discovered {
    pub candidates: Vec<Candidate>,
    /// cxkpi lakes found below a directory given (an inbox that holds its own lake, or a
    /// run's `--lake` inside it): their Parquet files and manifest are not exports, so
    /// they are passed over, and the commands say so.
    pub lakes: Vec<PathBuf>,
    /// Files reached again after their first path (named twice, named and inside a folder
    /// given, or two links to one file): read once, through the first path.
    pub repeated: Vec<PathBuf>,
}

/// Expands the paths into files: directories recursively, in sorted order so that "the
/// later delivery wins" is well defined (export names carry their date). A path that does
/// not exist is an error, and so is a lake named as an input (it is read with `--lake`).
///
/// Symbolic links are followed, to files and to directories (an inbox often links the
/// folders of other mounts into it); a directory already walked, through another link or
/// as an ancestor of a link that loops back, is walked once.
///
/// A file is read once however often it is reached: the same bytes read twice are not a
/// second delivery, and counting them as one made every record "delivered more than once"
/// in the notes of `metrics data data/ultimate`. Files are told apart by their canonical
/// path (links followed), which a folder's walk knows without a look-up for each of its
/// plain files (a `stat` of each of 20,000 files cost 11% of reading them); only links and
/// files named on the command line are resolved. (Two names of one file, hard links or
/// mounts, stay two files, as they always were: no file is ever taken for another.)
pub fn discover(paths: &[PathBuf]) -> Result<Discovered> {
    let mut out = Discovered::default();
    let (mut candidates, ids) = reached(paths, &mut out.lakes)?;
    let mut seen: std::collections::HashMap<FileId, usize, foldhash::fast::RandomState> =
        Default::default();
    // Each candidate's first occurrence (itself, if it is one).
    let mut first = Vec::with_capacity(candidates.len());
    for (i, (c, id)) in candidates.iter().zip(ids).enumerate() {
        // A file that cannot be resolved stays, so that its read fails naming it.
        let id = id.or_else(|| {
            let real = std::fs::canonicalize(&c.path).ok()?;
            Some(file_id(real.as_os_str().as_encoded_bytes()))
        });
        first.push(id.map_or(i, |id| *seen.entry(id).or_insert(i)));
    }
    for (i, &at) in first.iter().enumerate() {
        if at != i {
            // Named on the command line as well as found in a folder: the stricter rules
            // of a named file apply (an error, not a note, if it is not JSON).
            candidates[at].from_dir &= candidates[i].from_dir;
            out.repeated.push(candidates[i].path.clone());
        }
    }
    let mut at = first.iter().enumerate();
    candidates.retain(|_| at.next().is_some_and(|(i, &f)| f == i));
    out.candidates = candidates;
    Ok(out)
}

/// A file's identity: two 64-bit hashes (two seeds) of its canonical path's bytes, a
/// 128-bit key no two paths of a run share by chance. Why not the paths themselves: they
/// cost 8 MB of peak memory over 20,000 files.
type FileId = (u64, u64);

fn file_id(canonical: &[u8]) -> FileId {
    use twox_hash::XxHash3_64;
    (
        XxHash3_64::oneshot_with_seed(0, canonical),
        XxHash3_64::oneshot_with_seed(1, canonical),
    )
}

/// Every file `paths` reach, in order, repeats included, and beside them the identity of
/// those a walk found as plain files; lakes found go to `lakes`.
fn reached(
    paths: &[PathBuf],
    lakes: &mut Vec<PathBuf>,
) -> Result<(Vec<Candidate>, Vec<Option<FileId>>)> {
    let candidate = |path: PathBuf, from_dir: bool| Candidate {
        path,
        from_dir,
        digest: None,
        window: None,
        content: None,
    };
    let (mut out, mut ids) = (Vec::new(), Vec::new());
    for p in paths {
        let meta = std::fs::metadata(p).map_err(|e| Error::io(p, e))?;
        if meta.is_dir() {
            if is_lake(p) {
                return Err(Error::Usage(format!(
                    "{} is a cxkpi lake, not a folder of exports: read it with --lake {}",
                    p.display(),
                    p.display()
                )));
            }
            let mut walk = Walk::default();
            walk.dir(p)?;
            lakes.extend(walk.lakes);
            out.reserve(walk.found.len());
            ids.reserve(walk.found.len());
            for (path, id) in walk.found {
                out.push(candidate(path, true));
                ids.push(id);
            }
        } else {
            out.push(candidate(p.clone(), false));
            ids.push(None);
        }
    }
    Ok((out, ids))
}

/// Whether `dir` is the root of a cxkpi lake (it holds the lake's own directory).
fn is_lake(dir: &Path) -> bool {
    dir.join(crate::lake::META_DIR).is_dir()
}

/// A walk of one directory given on the command line.
#[derive(Default)]
struct Walk {
    /// In sorted path order without a sort: each directory's entries are taken in name
    /// order, depth first, which is the order paths compare in (component by component).
    /// (A set of paths sorted them by comparing components, a third of a re-run's time over
    /// 20,000 files.)
    /// With the identity of plain files (see [`discover`]).
    found: Vec<(PathBuf, Option<FileId>)>,
    /// A canonical path being put together.
    scratch: Vec<u8>,
    lakes: Vec<PathBuf>,
    /// Directories walked, by their canonical path.
    walked: std::collections::HashSet<PathBuf>,
}

impl Walk {
    fn dir(&mut self, dir: &Path) -> Result<()> {
        let io = |e| Error::io(dir, e);
        let real = std::fs::canonicalize(dir).map_err(io)?;
        if self.walked.contains(&real) {
            return Ok(());
        }
        self.walked.insert(real.clone());
        // By name: the files come out in path order (see `found`), and which of two links
        // to one directory is walked does not depend on the order the file system lists
        // them in.
        let mut entries = Vec::new();
        for entry in std::fs::read_dir(dir).map_err(io)? {
            entries.push(entry.map_err(io)?);
        }
        entries.sort_by_cached_key(|e| e.file_name());
        for entry in entries {
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().into_owned();
            // Hidden files, and the documentation that sits beside exports in an inbox.
            if name.starts_with('.') || name.starts_with("README") || name.ends_with(".md") {
                continue;
            }
            let kind = entry.file_type().map_err(|e| Error::io(&path, e))?;
            // A link is what it points to; a dangling one stays a file, whose read fails
            // naming it.
            let is_dir = kind.is_dir()
                || (kind.is_symlink() && std::fs::metadata(&path).is_ok_and(|m| m.is_dir()));
            if !is_dir {
                let id = kind.is_file().then(|| {
                    // The canonical path: the folder's, then the name (as `join` makes it).
                    let canonical = &mut self.scratch;
                    canonical.clear();
                    canonical.extend(real.as_os_str().as_encoded_bytes());
                    let separator = std::path::MAIN_SEPARATOR as u8;
                    if canonical.last() != Some(&separator) {
                        canonical.push(separator);
                    }
                    canonical.extend(entry.file_name().as_encoded_bytes());
                    file_id(canonical)
                });
                self.found.push((path, id));
            } else if is_lake(&path) {
                self.lakes.push(path);
            } else {
                self.dir(&path)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_finds_files_in_sorted_path_order() {
        let dir = tempfile::tempdir().unwrap();
        // Names whose order as paths differs from their order as strings ("a/…" sorts
        // before "a-b" as a path, after it as text) and a bare and a nested file.
        for f in [
            "a/z.json",
            "a/b/c.json",
            "a-b.json",
            "a.json",
            "B/x.json",
            "b.json",
        ] {
            let p = dir.path().join(f);
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(&p, "{}").unwrap();
        }
        let found: Vec<PathBuf> = (discover(&[dir.path().to_path_buf()]).unwrap().candidates)
            .into_iter()
            .map(|c| c.path)
            .collect();
        let mut sorted = found.clone();
        sorted.sort();
        assert_eq!(found.len(), 6);
        assert_eq!(found, sorted);
    }

    #[test]
    fn a_missing_path_is_an_io_error() {
        let e = discover(&[PathBuf::from("/no/such/file.json")]).unwrap_err();
        assert!(matches!(e, Error::Io { .. }));
    }
}
