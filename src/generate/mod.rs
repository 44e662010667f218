//! Deterministic synthetic exports for tests and benchmarks: the same seed gives
//! byte-identical files, with realistic distributions and the documented quirks.

pub mod anywhere365;
pub mod dialpad;
pub mod samespace;
pub mod ultimate;

use std::path::PathBuf;

use chrono::NaiveDate;

use crate::error::{Error, Result};

/// What to generate, shared by every vendor's generator.
#[derive(Debug, Clone)]
pub struct Config {
    pub out: PathBuf,
    pub days: u32,
    pub per_day: u32,
    pub seed: u64,
    pub start: NaiveDate,
    /// Plain framing and notation only, no re-deliveries (for benchmarks and peers).
    pub plain: bool,
    /// Also write the plain twin of every delivered record here.
    pub reference: Option<PathBuf>,
}

/// The plain reference twin of a generated export: one JSON line per delivered record, for
/// independent checks with DuckDB (`--reference FILE`). A no-op when not asked for.
pub(crate) struct Twin {
    out: Option<(PathBuf, std::io::BufWriter<std::fs::File>)>,
}

impl Twin {
    pub fn create(cfg: &Config) -> Result<Self> {
        let out = match &cfg.reference {
            Some(p) => {
                let f = std::fs::File::create(p).map_err(|e| Error::io(p, e))?;
                Some((p.clone(), std::io::BufWriter::new(f)))
            }
            None => None,
        };
        Ok(Twin { out })
    }

    pub fn write(&mut self, record: &serde_json::Value) -> Result<()> {
        use std::io::Write;
        if let Some((p, w)) = self.out.as_mut() {
            serde_json::to_writer(&mut *w, record).map_err(json_err)?;
            w.write_all(b"\n").map_err(|e| Error::io(p, e))?;
        }
        Ok(())
    }

    pub fn finish(self) -> Result<()> {
        if let Some((p, w)) = self.out {
            w.into_inner().map_err(|e| Error::io(&p, e.into_error()))?;
        }
        Ok(())
    }
}

/// Midnight UTC of day `d` of the generated range, in epoch ms.
pub(crate) fn day_start_ms(cfg: &Config, d: i64) -> i64 {
    (cfg.start + chrono::Duration::days(d))
        .and_hms_opt(0, 0, 0)
        .unwrap_or_default()
        .and_utc()
        .timestamp_millis()
}

pub(crate) fn json_err(e: serde_json::Error) -> Error {
    Error::Usage(format!("generator: {e}"))
}

/// Writes `body` to `path`, gzip-compressed when asked.
pub(crate) fn write_file(path: &std::path::Path, body: Vec<u8>, gzip: bool) -> Result<()> {
    use std::io::Write;
    let body = if gzip {
        let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(&body).map_err(|e| Error::io(path, e))?;
        enc.finish().map_err(|e| Error::io(path, e))?
    } else {
        body
    };
    std::fs::write(path, body).map_err(|e| Error::io(path, e))
}

/// SplitMix64: tiny, fast, and stable across platforms and versions, which a test fixture
/// generator needs more than statistical strength.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: i64, hi: i64) -> i64 {
        lo + (self.next_u64() % (hi - lo).max(1) as u64) as i64
    }

    pub fn chance(&mut self, p: f64) -> bool {
        self.f64() < p
    }

    /// Picks an item by weight.
    pub fn weighted<'a, T>(&mut self, items: &'a [(T, u32)]) -> &'a T {
        let total: u32 = items.iter().map(|(_, w)| w).sum();
        let mut x = (self.next_u64() % total as u64) as u32;
        for (item, w) in items {
            if x < *w {
                return item;
            }
            x -= w;
        }
        &items[items.len() - 1].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rng_is_deterministic_and_spread() {
        let a: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        let b: Vec<u64> = (0..5)
            .map({
                let mut r = Rng::new(7);
                move |_| r.next_u64()
            })
            .collect();
        assert_eq!(a, b);
        let mut r = Rng::new(1);
        let mean = (0..10_000).map(|_| r.f64()).sum::<f64>() / 10_000.0;
        assert!((mean - 0.5).abs() < 0.02);
    }
}
