#!/usr/bin/env python3
"""Peer benchmark: cxkpi against DuckDB and Polars on the same generated exports.

Every measurement is the median of --runs runs; the tools compared on a task take turns run by
run (cxkpi, DuckDB, Polars, cxkpi, …), so a slow spell of the machine falls on all of them. Peers run in a child process of their own that
times only the work (so interpreter start-up does not count against them) and reports its
peak RSS; cxkpi is timed as a whole process. Writes a Markdown report (BENCHMARKS.md).

Usage: bench.py --cxkpi PATH [--days 30 --per-day 50000] [--runs 5] [--out BENCHMARKS.md]
"""
import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The bot KPIs of `cxkpi sql bot` (queries/ultimate/bot.sql) over deduplicated conversations,
# read straight from the export files (DuckDB).
DUCKDB_STAGE = """
SET TimeZone = 'UTC';
CREATE OR REPLACE VIEW bot_conversations AS
SELECT conversation_id, conversation_status, last_resolution,
  TRY_CAST(NULLIF(visitor_messages_count, '') AS BIGINT) AS visitor_messages_count,
  TRY_CAST(NULLIF(not_understood_messages_count, '') AS BIGINT) AS not_understood_messages_count,
  TRY_CAST(conversation_start_time AS TIMESTAMPTZ) AS conversation_start_time,
  TRY_CAST(conversation_end_time AS TIMESTAMPTZ) AS conversation_end_time,
  is_llm_conversation, TRY_CAST(NULLIF(llm_fallback_count, '') AS BIGINT) AS llm_fallback_count
FROM read_json('{files}', format = '{fmt}', columns = {{
  conversation_id: 'VARCHAR', conversation_status: 'VARCHAR', last_resolution: 'VARCHAR',
  visitor_messages_count: 'VARCHAR', not_understood_messages_count: 'VARCHAR',
  conversation_start_time: 'VARCHAR', conversation_end_time: 'VARCHAR',
  is_llm_conversation: 'BOOLEAN', llm_fallback_count: 'VARCHAR'}})
QUALIFY row_number() OVER (PARTITION BY conversation_id ORDER BY conversation_end_time DESC) = 1
"""

# The other vendors' KPIs straight from their plain exports (DuckDB), staged the way a data
# engineer would by hand, then the queries/ SQL unchanged.
DUCKDB_DIALOGUES = """
SET TimeZone = 'UTC';
CREATE OR REPLACE VIEW dialogues AS
SELECT id, CAST(startTimestamp AS TIMESTAMPTZ) AS start_time, ivrDurationInSec AS ivr_sec,
  queueDurationInSec AS queue_sec, initialTalkDurationInSec AS initial_talk_sec,
  CASE WHEN lower(Outcome) = 'abandoned' THEN (epoch_us(CAST(endTimestamp AS TIMESTAMPTZ))
    - epoch_us(CAST(queueEnterTimestamp AS TIMESTAMPTZ))) / 1e6 END AS abandon_wait_sec,
  lower(direction) AS direction, Outcome AS outcome,
  CASE lower(InSLA) WHEN 'true' THEN true WHEN 'false' THEN false END AS in_sla,
  CASE lower(QuickDrop) WHEN 'true' THEN true WHEN 'false' THEN false END AS quick_drop
FROM read_json('{dir}/*.json', format = 'newline_delimited', filename = true, columns = {{
  id: 'VARCHAR', startTimestamp: 'VARCHAR', queueEnterTimestamp: 'VARCHAR', endTimestamp: 'VARCHAR',
  ivrDurationInSec: 'DOUBLE', queueDurationInSec: 'DOUBLE', initialTalkDurationInSec: 'DOUBLE',
  direction: 'VARCHAR', Outcome: 'VARCHAR', InSLA: 'VARCHAR', QuickDrop: 'VARCHAR'}})
QUALIFY row_number() OVER (PARTITION BY id ORDER BY filename DESC) = 1
"""

DUCKDB_CALLS = """
SET TimeZone = 'UTC';
CREATE OR REPLACE TABLE csat_calls (call_uuid VARCHAR, acw_duration_sec DOUBLE);
CREATE OR REPLACE VIEW calls AS
SELECT c.uuid, c.direction, CAST(c.start_time AS TIMESTAMPTZ) AS start_time,
  CAST(c.answer_time AS TIMESTAMPTZ) AS answer_time, c.duration AS duration_sec,
  c.hold_duration AS hold_duration_sec, c.mos
FROM (SELECT unnest(data) AS c, filename FROM read_json('{dir}/calls_*.json', filename = true,
  columns = {{data: 'STRUCT(uuid VARCHAR, direction VARCHAR, start_time VARCHAR, answer_time VARCHAR,
    duration DOUBLE, hold_duration DOUBLE, mos DOUBLE)[]'}}))
QUALIFY row_number() OVER (PARTITION BY c.uuid ORDER BY filename DESC) = 1
"""

DUCKDB_MESSAGES = """
SET TimeZone = 'UTC';
CREATE OR REPLACE TABLE messages AS
SELECT sessionid, customersessionid, make_timestamp(ts * 1000)::TIMESTAMPTZ AS ts, sendertype
FROM read_json('{dir}/*.json', format = 'newline_delimited', columns = {{
  sessionid: 'VARCHAR', customersessionid: 'VARCHAR', ts: 'BIGINT', sendertype: 'VARCHAR', text: 'VARCHAR'}})
QUALIFY row_number() OVER (PARTITION BY sessionid, ts, sendertype, text) = 1;
CREATE OR REPLACE TABLE interactions AS
SELECT sessionid, min(ts) AS first_ts, any_value(customersessionid) AS customersessionid
FROM messages GROUP BY sessionid;
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
    result = rows[0][task.get("result_column", 0)] if rows else None
elif task["tool"] == "polars-dialogues":
    import polars as pl
    t0 = time.perf_counter()
    ts = lambda c: pl.col(c).str.to_datetime(time_zone="UTC", time_unit="us")
    schema = {"id": pl.String, "startTimestamp": pl.String, "queueEnterTimestamp": pl.String,
              "endTimestamp": pl.String, "ivrDurationInSec": pl.Float64, "queueDurationInSec": pl.Float64,
              "initialTalkDurationInSec": pl.Float64, "direction": pl.String, "Outcome": pl.String,
              "InSLA": pl.String, "QuickDrop": pl.String}
    lf = pl.concat([pl.scan_ndjson(f, schema=schema).with_columns(pl.lit(i).alias("_f"))
                    for i, f in enumerate(task["paths"])])
    d = (lf.sort("_f").group_by("id").last()
           .filter(pl.col("direction").str.to_lowercase() == "inbound")
           .with_columns(o=pl.col("Outcome").str.to_lowercase(),
                         sla=pl.col("InSLA").str.to_lowercase().replace_strict({"true": True, "false": False}, default=None),
                         qd=pl.col("QuickDrop").str.to_lowercase().replace_strict({"true": True, "false": False}, default=None),
                         wait=(ts("endTimestamp") - ts("queueEnterTimestamp")).dt.total_microseconds() / 1e6))
    acc, ab = pl.col("o") == "accepted", pl.col("o") == "abandoned"
    q = pl.col("queueDurationInSec")
    out = d.select(
        pl.len().alias("inbound_dialogues"), acc.sum().alias("accepted"), ab.sum().alias("abandoned"),
        (pl.col("o") == "ivrdrop").sum().alias("ivr_drops"), (acc & pl.col("sla")).sum().alias("in_sla"),
        (acc & pl.col("sla").is_not_null()).sum().alias("sla_known"), (ab & pl.col("qd")).sum().alias("quick_drops"),
        q.filter(acc).mean().alias("asa"), q.filter(acc).quantile(0.5, "linear").alias("p50"),
        q.filter(acc).quantile(0.9, "linear").alias("p90"),
        pl.col("initialTalkDurationInSec").filter(acc).mean().alias("talk"),
        pl.col("ivrDurationInSec").mean().alias("ivr"),
        pl.when(acc).then(q).when(ab).then(pl.col("wait")).max().alias("max_queue"),
    ).collect()
    result = out.item(0, 0)
elif task["tool"] == "polars-calls":
    import polars as pl
    t0 = time.perf_counter()
    ts = lambda c: pl.col(c).str.to_datetime(time_zone="UTC", time_unit="us")
    call = pl.Struct({"uuid": pl.String, "direction": pl.String, "start_time": pl.String,
                      "answer_time": pl.String, "duration": pl.Float64, "hold_duration": pl.Float64,
                      "mos": pl.Float64})
    frames = [pl.read_json(f, schema={"data": pl.List(call)}).lazy().explode("data").unnest("data")
                .with_columns(pl.lit(i).alias("_f")) for i, f in enumerate(task["paths"])]
    c = (pl.concat(frames).sort("_f").group_by("uuid").last()
           .with_columns(dir=pl.col("direction").str.to_lowercase(), answered=pl.col("answer_time").is_not_null(),
                         tta=(ts("answer_time") - ts("start_time")).dt.total_microseconds() / 1e6))
    inbound, outbound = pl.col("dir").is_in(["in", "inbound"]), pl.col("dir").is_in(["out", "outbound"])
    ans = pl.col("answered")
    out = c.select(
        pl.len().alias("calls"), inbound.sum().alias("inbound"), outbound.sum().alias("outbound"),
        ans.sum().alias("answered"), (inbound & ans).sum().alias("answered_inbound"),
        (inbound & ~ans).sum().alias("unanswered_inbound"),
        pl.col("duration").filter(ans).mean().alias("talk"), pl.col("hold_duration").filter(ans).mean().alias("hold"),
        (ans & (pl.col("hold_duration") > 0)).sum().alias("held"),
        pl.col("tta").filter(inbound & ans).mean().alias("tta"),
        pl.col("tta").filter(inbound & ans).quantile(0.5, "linear").alias("p50"),
        pl.col("tta").filter(inbound & ans).quantile(0.9, "linear").alias("p90"),
        pl.col("mos").filter(ans).mean().alias("mos"),
    ).collect()
    result = out.item(0, 0)
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


def cpu_model():
    """The CPU's model name: results differ between machines of the same size."""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


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


def summary(results):
    """Median wall time and the highest peak RSS of several runs."""
    return {"seconds": statistics.median(r["seconds"] for r in results),
            "rss_kb": max(r["rss_kb"] for r in results)}


def settled(task):
    """`task()` after the files written so far are on disk (not timed): the inputs just
    generated, and the Parquet the previous run wrote, would otherwise be written back by
    the kernel during the next run, whichever tool's it is, and slow it (an ingest's own
    fsync then waits behind the previous tool's unflushed files)."""
    os.sync()
    return task()


def median(runs, f):
    return summary([settled(f) for _ in range(runs)])


def interleaved(runs, *tasks):
    """Each task run `runs` times, taking turns (a, b, c, a, b, c, …): the machine's speed
    drifts from minute to minute, and a slow spell then falls on every tool alike rather
    than on the one whose runs it happened to meet. The results of each task, in order."""
    results = [[] for _ in tasks]
    for _ in range(runs):
        for out, task in zip(results, tasks):
            out.append(settled(task))
    return results


def rendered(cxkpi, *family):
    """The query of `cxkpi sql FAMILY … --engine duckdb` (totals): the last statement, as the
    stages below define the tables a view reads themselves."""
    text = subprocess.run([cxkpi, "sql", *family, "--engine", "duckdb"], check=True,
                          capture_output=True, text=True).stdout
    return [st for st in text.split(";\n") if st.strip()][-1]


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
    # Five, not three: on a noisy VM one slow run of three moved a median by a third.
    ap.add_argument("--runs", type=int, default=5)
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
            c, duck, pol = map(summary, interleaved(
                args.runs,
                lambda: timed_rss([args.cxkpi, "-q", "metrics", "bot", str(d), "--format", "csv"]),
                lambda: peer(args.python, {
                    "tool": "duckdb", "setup": [DUCKDB_STAGE.format(files=files, fmt=fmt)],
                    "sql": rendered(args.cxkpi, "bot")}),
                lambda: peer(args.python, {"tool": "polars", "fmt": fmt, "files": files, "paths": paths})))
            rows.append((f"bot KPIs, {label}", mb, c, duck, pol))
        shutil.rmtree(arr)  # the arrays are done with: the disk of a small VM runs out
        # cxkpi with one thread against two.
        bot = [args.cxkpi, "-q", "metrics", "bot", str(nd), "--format", "csv"]
        one, two = map(summary, interleaved(
            args.runs,
            lambda: timed_rss(bot, env={"RAYON_NUM_THREADS": "1", "POLARS_MAX_THREADS": "1"}),
            lambda: timed_rss(bot)))
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
        # Ingest into Parquet: cxkpi's lake against DuckDB COPY … TO … (FORMAT parquet). Each
        # run writes anew and its output is deleted once timed (untimed), so the runs' copies
        # do not pile up on the disk.
        def ingest():
            lake = tmp / "lake-run"
            t = timed_rss([args.cxkpi, "-q", "ingest", str(nd), "--lake", str(lake)])
            shutil.rmtree(lake)
            return t

        def duck_copy():
            out = tmp / "duck-run.parquet"
            t = peer(args.python, {
                "tool": "duckdb", "setup": [],
                "sql": f"COPY (SELECT * FROM read_json('{nd}/*.json', format = 'newline_delimited')) TO "
                       f"'{out}' (FORMAT parquet, COMPRESSION zstd)"})
            out.unlink()
            return t
        ci, di = map(summary, interleaved(args.runs, ingest, duck_copy))
        rows.append(("JSON → Parquet", mb, ci, di, None))
        lake = tmp / "lake-final"
        subprocess.run([args.cxkpi, "-q", "ingest", str(nd), "--lake", str(lake)], check=True)
        cl, dl = map(summary, interleaved(
            args.runs,
            lambda: timed_rss([args.cxkpi, "-q", "metrics", "bot", "--lake", str(lake), "--format", "csv"]),
            lambda: peer(args.python, {
                "tool": "duckdb",
                "setup": [f"CREATE VIEW bot_conversations AS SELECT * FROM read_parquet('{lake}/bot_conversations/*/*.parquet', hive_partitioning = true)"],
                "sql": rendered(args.cxkpi, "bot")})))
        rows.append(("bot KPIs over the Parquet lake", None, cl, dl, None))
        shutil.rmtree(lake)
        shutil.rmtree(nd)

        # The other vendors: each family's KPIs straight from its plain exports.
        def first_value(stdout):
            return int(stdout.decode().splitlines()[1].split(",")[0])

        for vendor, per_day, label, cli, stage, sql, polars_tool, subdir in [
            ("anywhere365", args.per_day * 2 // 5, "queue KPIs, Anywhere365 dialogues", ["metrics", "queue"],
             DUCKDB_DIALOGUES, ["queue"], "polars-dialogues", None),
            ("samespace", args.per_day // 5, "call KPIs, Samespace calls", ["metrics", "calls"],
             DUCKDB_CALLS, ["calls"], "polars-calls", "calls"),
            ("dialpad", args.per_day // 12, "interaction KPIs, Dialpad messages",
             ["metrics", "messaging", "--view", "interactions"], DUCKDB_MESSAGES,
             ["messaging", "--view", "interactions"], None, None),
        ]:
            gen = tmp / vendor
            subprocess.run([args.cxkpi, "-q", "generate", vendor, "--out", str(gen), "--days", str(args.days),
                            "--per-day", str(per_day), "--seed", "7", "--plain"], check=True)
            d = gen
            if subdir:  # only the calls reports (the CSAT and agent logs are other KPIs)
                d = tmp / subdir
                d.mkdir()
                for f in gen.glob("calls_*.json"):
                    (d / f.name).symlink_to(f)
            files = sorted(p for p in d.iterdir())
            mbv = sum(f.stat().st_size for f in files) / 1e6
            sql = rendered(args.cxkpi, *sql)
            tasks = [lambda: timed_rss([args.cxkpi, "-q", *cli, str(d), "--format", "csv"]),
                     lambda: peer(args.python, {"tool": "duckdb", "setup": [stage.format(dir=d)], "sql": sql,
                                                "result_column": 0})]
            if polars_tool:
                tasks.append(lambda: peer(args.python, {"tool": polars_tool, "paths": [str(f) for f in files]}))
            runs, duck_runs, *pol_runs = interleaved(args.runs, *tasks)
            c, duck = summary(runs), summary(duck_runs)
            # The peers must have computed the same thing: compare the first count.
            ours = first_value(runs[0]["stdout"])
            if duck_runs[0]["result"] != ours:
                raise SystemExit(f"{label}: DuckDB counts {duck_runs[0]['result']}, cxkpi {ours}")
            pol = None
            if pol_runs:
                pol_runs = pol_runs[0]
                if pol_runs[0]["result"] != ours:
                    raise SystemExit(f"{label}: Polars counts {pol_runs[0]['result']}, cxkpi {ours}")
                pol = summary(pol_runs)
            rows.append((label, mbv, c, duck, pol))

    def cell(m):
        return "—" if m is None else f"{m['seconds']:.2f} s, {m['rss_kb'] / 1024:.0f} MB"

    def ratio(a, b):
        return "—" if b is None else f"{b['seconds'] / a['seconds']:.2f}×"

    peers = subprocess.run([args.python, "-c", "import duckdb, polars; print(duckdb.__version__, polars.__version__)"],
                           check=True, capture_output=True, text=True).stdout.split()
    ours = subprocess.run([args.cxkpi, "--version"], check=True, capture_output=True, text=True).stdout.strip()
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {os.cpu_count()} cores, {platform.machine()} ({cpu_model()}), Linux {platform.release()}; "
        f"Python {platform.python_version()}. Versions: {ours} (release build), DuckDB {peers[0]}, "
        f"Polars {peers[1]} (scripts/requirements-bench.txt).",
        f"Data: `cxkpi generate ultimate --days {args.days} --per-day {args.per_day} --seed 7 --plain` "
        f"({args.days * args.per_day:,} conversations), and the same records as JSON arrays. "
        f"Other vendors, plain exports over the same {args.days} days: Anywhere365 "
        f"`--per-day {args.per_day * 2 // 5}`, Samespace `--per-day {args.per_day // 5}` (its calls reports), "
        f"Dialpad `--per-day {args.per_day // 12}`; DuckDB stages each by hand from the raw files "
        "(scripts/bench.py) and runs the queries/ SQL; Polars computes the same KPIs; every peer's "
        "first count is checked against cxkpi's.",
        f"Median of {args.runs} runs, the tools of a task taking turns run by run (cxkpi, DuckDB, Polars, "
        "cxkpi, …: this VM's speed drifts from minute to minute), each run after a `sync` (untimed) so "
        "that none shares the disk with the kernel writing the previous run's files; cxkpi timed as a "
        "whole process, peers inside their own process (start-up excluded); peak RSS of each process.",
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
