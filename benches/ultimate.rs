//! Criterion benches for the Ultimate path: framing, parsing into Arrow (MB/s of JSON), and
//! the bot KPIs end to end. Data is generated once per run with the deterministic generator.

use std::path::PathBuf;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use cxkpi::generate::ultimate::write;
use cxkpi::generate::Config;
use cxkpi::metrics::{bot, Query};
use cxkpi::source::{self, ultimate, OnBadFile, Rejects};

fn dataset(plain: bool) -> (tempfile::TempDir, Vec<source::Candidate>, u64) {
    let dir = tempfile::tempdir().expect("temp dir");
    write(&Config {
        out: dir.path().to_path_buf(),
        days: 2,
        per_day: 20_000,
        seed: 7,
        start: chrono::NaiveDate::from_ymd_opt(2024, 3, 25).expect("date"),
        plain,
        reference: None,
    })
    .expect("generate");
    let candidates = source::discover(&[PathBuf::from(dir.path())])
        .expect("files")
        .candidates;
    let bytes = candidates
        .iter()
        .map(|c| source::load(&c.path).expect("load").len() as u64)
        .sum();
    (dir, candidates, bytes)
}

fn bench(c: &mut Criterion) {
    for (name, plain) in [("ndjson", true), ("mixed_variants", false)] {
        let (_dir, candidates, bytes) = dataset(plain);
        let mut g = c.benchmark_group(format!("ultimate_{name}"));
        g.throughput(Throughput::Bytes(bytes));
        g.sample_size(10);
        // What `cxkpi metrics bot` reads for the default query.
        let kpi_columns = bot::lake_columns(&Query::default(), &bot::Options::default());
        let read = |only: Option<Vec<String>>| {
            let opts = ultimate::Options {
                only,
                ..ultimate::Options::default()
            };
            ultimate::read(&candidates, &opts, OnBadFile::Fail, &mut Rejects::default())
                .expect("read")
        };
        g.bench_function("read_full_tables", |b| b.iter(|| read(None)));
        g.bench_function("read_lean", |b| b.iter(|| read(Some(kpi_columns.clone()))));
        g.bench_function("bot_kpis_end_to_end", |b| {
            b.iter(|| {
                let t = read(Some(kpi_columns.clone()));
                bot::compute(
                    &t.conversations,
                    &Query::default(),
                    &bot::Options::default(),
                )
                .expect("kpis")
            })
        });
        g.finish();
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
