//! The manifest: every file ingested, by absolute path, with its size and content hash, so a
//! rerun skips what it has seen and re-reads what changed.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::File;
use std::path::Path;

use serde::{Deserialize, Serialize};

use super::{io, meta_dir};
use crate::error::{Error, Result};
use crate::source::{self, Vendor};

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    pub size: u64,
    /// XXH3-64 of the file's bytes, hex.
    pub hash: String,
    pub format: String,
    /// Rows read from the file, over all tables; a record it delivers twice counts once
    /// (its reader keeps one copy; across the windows of a big file, the merge does).
    pub rows: u64,
    /// `table/dt=…` partitions holding rows of this file.
    pub partitions: BTreeSet<String>,
    pub run_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Manifest {
    pub version: u32,
    /// Ingested files by absolute path.
    pub files: BTreeMap<String, FileEntry>,
}

/// The lake's manifest (an empty one for a new lake).
pub fn load_manifest(root: &Path) -> Result<Manifest> {
    let p = meta_dir(root).join("manifest.json");
    match std::fs::read(&p) {
        Ok(bytes) => serde_json::from_slice(&bytes).map_err(|e| Error::Format {
            path: p.clone(),
            message: format!("the lake manifest is not valid: {e}"),
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Manifest {
            version: 1,
            ..Manifest::default()
        }),
        Err(e) => Err(Error::io(&p, e)),
    }
}

/// A file's size and content hash (of its bytes as stored, compressed or not).
///
/// Read through a small buffer rather than a memory map: the buffer stays in cache, while
/// mapping faulted in and unmapped every page, which took three times the CPU of the copy.
pub(super) fn hash_file(path: &Path) -> Result<source::Digest> {
    use std::io::Read;
    let mut file = File::open(path).map_err(io(path))?;
    let mut hasher = source::Hasher::default();
    // Sized by the file (one byte more, to read its end in the same call): a fixed 256 KiB
    // buffer, zeroed for every file, was a quarter of a re-run over 20,000 one-record files.
    let size = file.metadata().map_err(io(path))?.len();
    let mut buf = vec![0u8; size.saturating_add(1).min(256 << 10) as usize];
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => hasher.update(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(io(path)(e)),
        }
    }
    Ok(hasher.finish())
}

pub(super) fn format_name(v: Vendor) -> &'static str {
    match v {
        Vendor::Ultimate => "ultimate",
        Vendor::Dialpad => "dialpad",
        Vendor::Anywhere365 => "anywhere365",
        _ => "samespace",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_read_in_pieces_hashes_as_its_bytes_in_one_go() {
        // Manifests written before the file was hashed through a buffer must still match.
        let dir = tempfile::tempdir().unwrap();
        for len in [0, 1, 255 << 10, 256 << 10, (256 << 10) + 1, 700_001] {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
            let path = dir.path().join(format!("f{len}"));
            std::fs::write(&path, &bytes).unwrap();
            let expected = format!("{:016x}", xxhash_rust::xxh3::xxh3_64(&bytes));
            assert_eq!(
                hash_file(&path).unwrap(),
                (len as u64, expected),
                "{len} bytes"
            );
        }
    }
}
