//! Every vendor reader and the framing over any file: a table or an error, never a panic,
//! and a full read keeps only valid JSON (`cxkpi::fuzz::check_file`).
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

static PATH: OnceLock<PathBuf> = OnceLock::new();

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let path = PATH.get_or_init(|| {
        std::env::temp_dir().join(format!("cxkpi-fuzz-{}.json", std::process::id()))
    });
    cxkpi::fuzz::check_file(path, data);
});
