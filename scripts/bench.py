#!/usr/bin/env python3
"""Peer benchmark: cxkpi against DuckDB and Polars on the same generated exports.

Every measurement is the median of --runs runs. Peers run in a child process of their own that
times only the work (so interpreter start-up does not count against them) and reports its
peak RSS; cxkpi is timed as a whole process. Writes a Markdown report (BENCHMARKS.md).

Usage: bench.py --cxkpi PATH [--days 30 --per-day 50000] [--runs 3] [--out BENCHMARKS.md]
"""
import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The bot KPIs of queries/ultimate/popular_metrics.sql over deduplicated conversations,
# read straight from the export files (DuckDB).
DUCKDB_STAGE = """
CREATE OR REPLACE VIEW bot_conversations AS
SELECT conversation_id, conversation_status, last_resolution,
  TRY_CAST(NULLIF(visitor_messages_count, '') AS BIGINT) AS visitor_messages_count,
  TRY_CAST(NULLIF(not_understood_messages_count, '') AS BIGINT) AS not_understood_messages_count
FROM read_json('{files}', format = '{fmt}', columns = {{
  conversation_id: 'VARCHAR', conversation_status: 'VARCHAR', last_resolution: 'VARCHAR',
  visitor_messages_count: 'VARCHAR', not_understood_messages_count: 'VARCHAR',
  conversation_end_time: 'VARCHAR'}})
QUALIFY row_number() OVER (PARTITION BY conversation_id ORDER BY conversation_end_time DESC) = 1
"""

PEER = r'''
import json, resource, sys, time
task = json.loads(sys.argv[1])
t0 = time.perf_counter()
if task["tool"] == "duckdb":
    import duckdb
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    if task.get("threads"):
        con.execute(f"SET threads = {task['threads']}")
    t0 = time.perf_counter()
    for stmt in task["setup"]:
        con.execute(stmt)
    rows = con.execute(task["sql"]).fetchall()
    result = rows[0][0] if rows else None
else:
    import polars as pl
    t0 = time.perf_counter()
    cols = ["conversation_id", "conversation_status", "last_resolution", "visitor_messages_count",
            "not_understood_messages_count", "conversation_end_time"]
    if task["fmt"] == "newline_delimited":
        lf = pl.scan_ndjson(task["files"], schema={c: pl.String for c in cols})
    else:
        lf = pl.concat([pl.read_json(f, schema={c: pl.String for c in cols}).lazy() for f in task["paths"]])
    esc = ["email", "agent", "customEscalation"]
    s = pl.col("conversation_status")
    conv = (lf.sort("conversation_end_time").group_by("conversation_id").last()
              .with_columns(pl.col("visitor_messages_count").replace("", None).cast(pl.Int64),
                            pl.col("not_understood_messages_count").replace("", None).cast(pl.Int64)))
    out = conv.select(
        pl.len().alias("total_conversations"),
        (s == "botHandled").sum().alias("bot_handled"),
        (s.is_not_null() & ~s.is_in(esc)).sum().alias("deflected"),
        s.is_in(esc).sum().alias("escalated"),
        (s == "failedEscalation").sum().alias("failed"),
        (pl.col("last_resolution") == "informed").sum().alias("informed"),
        pl.col("last_resolution").is_in(["informed", "resolved"]).sum().alias("automated"),
        pl.col("visitor_messages_count").sum().alias("visitor"),
        pl.col("not_understood_messages_count").sum().alias("not_understood"),
    ).collect()
    result = out.item(0, 0)
elapsed = time.perf_counter() - t0
print(json.dumps({"seconds": elapsed, "rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, "result": result}))
'''


def peer(python, task):
    out = subprocess.run([python, "-c", PEER, json.dumps(task)], capture_output=True, text=True)
    if out.returncode != 0:
        raise SystemExit(f"peer failed: {out.stderr}")
    lines = [l for l in out.stdout.splitlines() if l.startswith('{"seconds"')]
    return json.loads(lines[-1])


def timed_rss(cmd, env=None):
    """Wall time and the process's own peak RSS via GNU time (exact per process)."""
    t0 = time.perf_counter()
    r = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], capture_output=True,
                       env={**os.environ, **(env or {})})
    elapsed = time.perf_counter() - t0
    if r.returncode != 0:
        raise SystemExit(f"{cmd} failed: {r.stderr.decode()}")
    rss = int(r.stderr.decode().strip().splitlines()[-1])
    return {"seconds": elapsed, "rss_kb": rss, "stdout": r.stdout}


def median(runs, f):
    results = [f() for _ in range(runs)]
    return {"seconds": statistics.median(r["seconds"] for r in results),
            "rss_kb": max(r["rss_kb"] for r in results)}


def to_array(ndjson_dir, array_dir):
    """The same records as one JSON array per file."""
    array_dir.mkdir(parents=True, exist_ok=True)
    for f in sorted(ndjson_dir.iterdir()):
        lines = [l for l in f.read_text().splitlines() if l.strip()]
        (array_dir / f.name).write_text("[\n" + ",\n".join(lines) + "\n]\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cxkpi", required=True)
    ap.add_argument("--python", default=sys.executable, help="python with duckdb and polars")
    ap.add_argument("--days", type=int, default=30)
    ap.add_argument("--per-day", type=int, default=50000)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    args = ap.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        nd, arr = tmp / "ndjson", tmp / "array"
        subprocess.run([args.cxkpi, "-q", "generate", "ultimate", "--out", str(nd), "--days", str(args.days),
                        "--per-day", str(args.per_day), "--seed", "7", "--plain"], check=True)
        to_array(nd, arr)
        size = sum(f.stat().st_size for f in nd.iterdir())
        mb = size / 1e6
        expected = None
        for label, d, fmt in [("NDJSON", nd, "newline_delimited"), ("JSON array", arr, "array")]:
            files = f"{d}/*.json"
            paths = [str(p) for p in sorted(d.iterdir())]
            c = median(args.runs, lambda: timed_rss([args.cxkpi, "-q", "metrics", "bot", str(d), "--format", "csv"]))
            duck = median(args.runs, lambda: peer(args.python, {
                "tool": "duckdb", "setup": [DUCKDB_STAGE.format(files=files, fmt=fmt)],
                "sql": (ROOT / "queries/ultimate/popular_metrics.sql").read_text()}))
            pol = median(args.runs, lambda: peer(args.python, {"tool": "polars", "fmt": fmt, "files": files, "paths": paths}))
            rows.append((f"bot KPIs, {label}", mb, c, duck, pol))
        # cxkpi with one thread against two.
        one = median(args.runs, lambda: timed_rss([args.cxkpi, "-q", "metrics", "bot", str(nd), "--format", "csv"],
                                                  env={"RAYON_NUM_THREADS": "1", "POLARS_MAX_THREADS": "1"}))
        two = rows[0][2]
        # Time against history size: the first third, two thirds and all of the days.
        files = sorted(nd.iterdir())
        days = sorted({f.name.split("_")[2] for f in files})
        scaling = []
        for k in (1, 2, 3):
            sub = tmp / f"days-{k}"
            sub.mkdir()
            chosen = set(days[: len(days) * k // 3])
            for f in files:
                if f.name.split("_")[2] in chosen:
                    (sub / f.name).symlink_to(f)
            n = sum(1 for f in sub.iterdir())
            mbk = sum(f.stat().st_size for f in sub.iterdir()) / 1e6
            m = median(args.runs, lambda: timed_rss([args.cxkpi, "-q", "metrics", "bot", str(sub), "--format", "csv"]))
            scaling.append((len(chosen), n, mbk, m))
        # Ingest into Parquet: cxkpi's lake against DuckDB COPY … TO … (FORMAT parquet).
        def ingest():
            lake = tmp / f"lake-{time.perf_counter_ns()}"
            return timed_rss([args.cxkpi, "-q", "ingest", str(nd), "--lake", str(lake)])
        ci = median(args.runs, ingest)
        di = median(args.runs, lambda: peer(args.python, {
            "tool": "duckdb", "setup": [],
            "sql": f"COPY (SELECT * FROM read_json('{nd}/*.json', format = 'newline_delimited')) TO "
                   f"'{tmp}/duck-{time.perf_counter_ns()}.parquet' (FORMAT parquet, COMPRESSION zstd)"}))
        rows.append(("JSON → Parquet", mb, ci, di, None))
        lake = tmp / "lake-final"
        subprocess.run([args.cxkpi, "-q", "ingest", str(nd), "--lake", str(lake)], check=True)
        cl = median(args.runs, lambda: timed_rss([args.cxkpi, "-q", "metrics", "bot", "--lake", str(lake), "--format", "csv"]))
        dl = median(args.runs, lambda: peer(args.python, {
            "tool": "duckdb",
            "setup": [f"CREATE VIEW bot_conversations AS SELECT * FROM read_parquet('{lake}/bot_conversations/*/*.parquet', hive_partitioning = true)"],
            "sql": (ROOT / "queries/ultimate/popular_metrics.sql").read_text()}))
        rows.append(("bot KPIs over the Parquet lake", None, cl, dl, None))

    def cell(m):
        return "—" if m is None else f"{m['seconds']:.2f} s, {m['rss_kb'] / 1024:.0f} MB"

    def ratio(a, b):
        return "—" if b is None else f"{b['seconds'] / a['seconds']:.2f}×"

    lines = [
        "# Benchmarks",
        "",
        f"Machine: {os.cpu_count()} cores, {platform.machine()}, Linux {platform.release()}; "
        f"Python {platform.python_version()}. Peers: DuckDB and Polars from scripts/requirements-bench.txt.",
        f"Data: `cxkpi generate ultimate --days {args.days} --per-day {args.per_day} --seed 7 --plain` "
        f"({args.days * args.per_day:,} conversations), and the same records as JSON arrays.",
        f"Median of {args.runs} runs; cxkpi timed as a whole process, peers inside their own process "
        "(start-up excluded); peak RSS of each process.",
        "",
        "Reproduce: `scripts/bench.sh` (or with `--days N --per-day N`).",
        "",
        "| task | input | cxkpi | DuckDB | Polars | cxkpi vs DuckDB | cxkpi vs Polars |",
        "|---|---|---|---|---|---|---|",
    ]
    for name, mb, c, d, p in rows:
        size = f"{mb:.0f} MB" if mb else "lake"
        lines.append(f"| {name} | {size} | {cell(c)} | {cell(d)} | {cell(p)} | {ratio(c, d)} | {ratio(c, p)} |")
    lines += ["", f"cxkpi bot KPIs on NDJSON with one thread: {cell(one)}; with two: {cell(two)} "
              f"(speed-up {one['seconds'] / two['seconds']:.2f}×).", "",
              "cxkpi bot KPIs on NDJSON against history size (same files, first days only):", "",
              "| export days | files | input | cxkpi | MB/s |", "|---|---|---|---|---|"]
    for d, n, mbk, m in scaling:
        lines.append(f"| {d} | {n} | {mbk:.0f} MB | {cell(m)} | {mbk / m['seconds']:.0f} |")
    lines.append("")
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
