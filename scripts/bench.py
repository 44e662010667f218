#!/usr/bin/env python3
"""Peer benchmark: cxkpi against DuckDB, Polars and chDB on the same generated exports, for
every vendor at three history sizes.

Every measurement is the median of --runs runs, with the range over the runs; the tools
compared on a task take turns run by run (cxkpi, DuckDB, Polars, chDB, cxkpi, …), so a slow
spell of the machine falls on all of them. Peers run in a child process of their own that
times only the work (so interpreter start-up does not count against them) and reports its
peak RSS; cxkpi is timed as a whole process. Every peer's result is checked against cxkpi's.
Writes a Markdown report (BENCHMARKS.md) with the issue's targets checked against the runs.

Usage: bench.py --cxkpi PATH [--sizes 7,30,60] [--per-day 50000] [--runs 3] [--out BENCHMARKS.md]
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

# Every column the Dialpad views read, deduplicated as cxkpi does; the views' own SQL (the
# interactions view and the query) comes from `cxkpi sql` unchanged.
DUCKDB_MESSAGES_FULL = """
SET TimeZone = 'UTC';
CREATE OR REPLACE TABLE messages AS
SELECT sessionid, regexp_extract(sessionid, '^(.*)\\.[0-9]+$', 1) AS conversation_id,
  TRY_CAST(regexp_extract(sessionid, '\\.([0-9]+)$', 1) AS BIGINT) AS segment, customersessionid,
  make_timestamp(ts * 1000)::TIMESTAMPTZ AS ts, sendertype, chattype, text, sentiment, topic, score,
  lang, workflow, sessionchannel
FROM read_json('{dir}/*.json', format = 'newline_delimited', columns = {{
  sessionid: 'VARCHAR', customersessionid: 'VARCHAR', ts: 'BIGINT', sendertype: 'VARCHAR',
  chattype: 'VARCHAR', text: 'VARCHAR', sentiment: 'DOUBLE', topic: 'VARCHAR', score: 'DOUBLE',
  lang: 'VARCHAR', workflow: 'VARCHAR', sessionchannel: 'VARCHAR'}})
QUALIFY row_number() OVER (PARTITION BY sessionid, ts, sendertype, text) = 1;
"""

# The same KPIs in ClickHouse SQL for chDB (embedded ClickHouse), read straight from the files:
# the latest delivery by argMax, booleans and times parsed as DuckDB's stages do.
CHDB_BOT = """
SELECT count() AS total_conversations,
  countIf(s = 'botHandled'), countIf(s NOT IN ('email','agent','customEscalation')),
  countIf(s IN ('email','agent','customEscalation')), countIf(s = 'failedEscalation'),
  countIf(r = 'informed'), countIf(r IN ('informed','resolved')),
  sum(v), sum(nu), countIf(llm), countIf(llm AND fb > 0), sum(dur) / (count(dur) * 1e6)
FROM (
  SELECT conversation_id,
    argMax(tuple(conversation_status, last_resolution, toInt64OrNull(visitor_messages_count),
      toInt64OrNull(not_understood_messages_count), is_llm_conversation, toInt64OrNull(llm_fallback_count),
      toUnixTimestamp64Micro(parseDateTime64BestEffortOrNull(conversation_end_time, 6))
        - toUnixTimestamp64Micro(parseDateTime64BestEffortOrNull(conversation_start_time, 6))),
      parseDateTime64BestEffortOrNull(conversation_end_time, 6)) AS t,
    t.1 AS s, t.2 AS r, t.3 AS v, t.4 AS nu, t.5 AS llm, t.6 AS fb, t.7 AS dur
  FROM file('{files}', 'JSONEachRow', 'conversation_id String, conversation_status Nullable(String),
    last_resolution Nullable(String), visitor_messages_count Nullable(String),
    not_understood_messages_count Nullable(String), conversation_start_time Nullable(String),
    conversation_end_time Nullable(String), is_llm_conversation Nullable(Bool), llm_fallback_count Nullable(String)')
  GROUP BY conversation_id)
"""

CHDB_QUEUE = """
SELECT count() AS inbound_dialogues, countIf(acc) + countIf(ab), countIf(acc), countIf(ab),
  countIf(lower(outcome) = 'ivrdrop'), countIf(acc AND sla), countIf(acc AND sla IS NOT NULL),
  countIf(ab AND qd), avgIf(queue_sec, acc), quantileExactInclusiveIf(0.5)(queue_sec, acc),
  quantileExactInclusiveIf(0.9)(queue_sec, acc), avgIf(talk_sec, acc), avg(ivr_sec),
  max(multiIf(acc, queue_sec, ab, wait_sec, NULL))
FROM (
  SELECT id, argMax(tuple(Outcome, direction, InSLA, QuickDrop, queueDurationInSec, initialTalkDurationInSec,
      ivrDurationInSec, queueEnterTimestamp, endTimestamp), _file) AS t,
    t.1 AS outcome, lower(t.2) AS dir, lower(outcome) = 'accepted' AS acc, lower(outcome) = 'abandoned' AS ab,
    multiIf(lower(t.3) = 'true', true, lower(t.3) = 'false', false, NULL) AS sla,
    multiIf(lower(t.4) = 'true', true, lower(t.4) = 'false', false, NULL) AS qd,
    t.5 AS queue_sec, t.6 AS talk_sec, t.7 AS ivr_sec,
    if(ab, (toUnixTimestamp64Micro(parseDateTime64BestEffortOrNull(t.9, 6))
      - toUnixTimestamp64Micro(parseDateTime64BestEffortOrNull(t.8, 6))) / 1e6, NULL) AS wait_sec
  FROM file('{dir}/*.json', 'JSONEachRow', 'id String, queueEnterTimestamp Nullable(String),
    endTimestamp Nullable(String), ivrDurationInSec Nullable(Float64), queueDurationInSec Nullable(Float64),
    initialTalkDurationInSec Nullable(Float64), direction Nullable(String), Outcome Nullable(String),
    InSLA Nullable(String), QuickDrop Nullable(String)')
  GROUP BY id)
WHERE dir = 'inbound'
"""

CHDB_CALLS = """
SELECT count() AS calls, countIf(dir IN ('in','inbound')), countIf(dir IN ('out','outbound')), countIf(ans),
  countIf(dir IN ('in','inbound') AND ans), avgIf(duration, ans), avgIf(hold, ans),
  countIf(ans AND hold > 0), avgIf(tta, dir IN ('in','inbound') AND ans),
  quantileExactInclusiveIf(0.5)(tta, dir IN ('in','inbound') AND ans),
  quantileExactInclusiveIf(0.9)(tta, dir IN ('in','inbound') AND ans), avgIf(mos, ans)
FROM (
  SELECT c.uuid AS uuid,
    argMax(tuple(c.direction, c.start_time, c.answer_time, c.duration, c.hold_duration, c.mos), _file) AS t,
    lower(t.1) AS dir, t.3 IS NOT NULL AS ans, t.4 AS duration, t.5 AS hold, t.6 AS mos,
    (toUnixTimestamp64Micro(parseDateTime64BestEffortOrNull(t.3, 6))
      - toUnixTimestamp64Micro(parseDateTime64BestEffortOrNull(t.2, 6))) / 1e6 AS tta
  FROM file('{dir}/calls_*.json', 'JSONEachRow', 'data Array(Tuple(uuid String, direction Nullable(String),
    start_time Nullable(String), answer_time Nullable(String), duration Nullable(Float64),
    hold_duration Nullable(Float64), mos Nullable(Float64)))')
  ARRAY JOIN data AS c
  GROUP BY uuid)
"""

# The interactions view: messages deduplicated on (sessionid, ts, sendertype, text), then
# per session its first customer session id, then the counts.
CHDB_INTERACTIONS = """
SELECT count() AS interactions, uniqExact(c), sum(n), sum(nc), sum(nb), sum(na)
FROM (
  SELECT sessionid, argMinIf(csid, ts, csid IS NOT NULL) AS c, count() AS n,
    countIf(lower(sendertype) = 'customer') AS nc, countIf(lower(sendertype) = 'bot') AS nb,
    countIf(lower(sendertype) = 'agent') AS na
  FROM (
    SELECT sessionid, ts, sendertype, any(customersessionid) AS csid
    FROM file('{dir}/*.json', 'JSONEachRow', 'sessionid String, customersessionid Nullable(String),
      ts Nullable(Int64), sendertype Nullable(String), text Nullable(String)')
    GROUP BY sessionid, ts, sendertype, text)
  GROUP BY sessionid)
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
    result = list(rows[0]) if rows else None
elif task["tool"] == "chdb":
    import chdb
    t0 = time.perf_counter()
    out = chdb.query(task["sql"], "JSONCompact")
    rows = json.loads(out.bytes())["data"]
    result = rows[0] if rows else None
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
    result = list(out.row(0))
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
    result = list(out.row(0))
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
    result = list(out.row(0))
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


def settled(task, inputs):
    """`task()` after the files written so far are on disk and its `inputs` are cached (not
    timed). The inputs just generated, and the Parquet the previous run wrote, would
    otherwise be written back by the kernel during the next run, whichever tool's it is, and
    slow it (an ingest's own fsync then waits behind the previous tool's unflushed files).
    See `cached` for the inputs."""
    os.sync()
    cached(inputs)
    return task()


def cached(inputs):
    """Every file under the directories `inputs` read through once (untimed), so none of a
    run's input is read from disk. Why: this VM's memory manager pages out page-cache pages
    left unread for about a minute (DAMON's `pageout` scheme on the host's physical
    memory), so an input idle since it was written, or since the last task that read it,
    was partly read from disk by whichever tool ran first, one run of three. Pages still
    cached are not touched by the read; evicted ones come back as `as_read_from_disk`
    first cached them (readahead of 1 MiB reads), the same for every tool."""
    for d in inputs:
        for f in sorted(Path(d).rglob("*")):
            if f.is_file():
                with open(f, "rb") as fh:
                    read_through(fh)


def read_through(fh):
    """Every byte of the open file `fh` read, in 1 MiB reads, and thrown away."""
    while fh.read(1 << 20):
        pass


def interleaved(runs, tasks, inputs):
    """Each task run `runs` times, taking turns (a, b, c, a, b, c, …): the machine's speed
    drifts from minute to minute, and a slow spell then falls on every tool alike rather
    than on the one whose runs it happened to meet. Every run's `inputs` are cached first
    (`settled`). The results of each task, in order."""
    results = [[] for _ in tasks]
    for _ in range(runs):
        for out, task in zip(results, tasks):
            out.append(settled(task, inputs))
    return results


def as_read_from_disk(d):
    """Every file under `d` evicted from the page cache and read back once (untimed): each
    input is then cached as a file read from disk is, whatever wrote it. Why: the page
    cache keeps a file's pages in the folios it was written in, and how a writer writes
    decides their size (2 MiB for `to_array`'s one big write; for `cxkpi generate`'s
    buffered writes it has differed between kernels and VMs), while mapping a file cached
    in 2 MiB folios costs cxkpi a tenth of mapping one in small folios (DuckDB, which copies
    with `read`, takes the same time either way). Read back, the files are cached as
    readahead leaves them, the same whoever wrote them (BENCHMARKS.md, the eighteenth and
    nineteenth sessions)."""
    os.sync()
    for f in sorted(Path(d).rglob("*")):
        if f.is_file():
            with open(f, "rb") as fh:
                os.posix_fadvise(fh.fileno(), 0, 0, os.POSIX_FADV_DONTNEED)
                read_through(fh)


def rendered(cxkpi, *family):
    """The statements of `cxkpi sql FAMILY … --engine duckdb` (totals): the views a query
    reads (Dialpad's interactions) and the query, last."""
    text = subprocess.run([cxkpi, "sql", *family, "--engine", "duckdb"], check=True,
                          capture_output=True, text=True).stdout
    return [st for st in text.split(";\n") if st.strip()]


def to_array(ndjson_dir, array_dir):
    """The same records as one JSON array per file."""
    array_dir.mkdir(parents=True, exist_ok=True)
    for f in sorted(ndjson_dir.iterdir()):
        lines = [l for l in f.read_text().splitlines() if l.strip()]
        (array_dir / f.name).write_text("[\n" + ",\n".join(lines) + "\n]\n")
    as_read_from_disk(array_dir)


def first_number(values):
    """The first value of a result row that is a number, and its place."""
    for i, v in enumerate(values):
        try:
            return i, float(v)
        except (TypeError, ValueError):
            continue
    return None, None


def agrees(ours, theirs):
    """The peer computed the same thing: the first numeric column of the first row is equal
    (to a relative 1e-9: the peers sum floats in another order)."""
    i, a = first_number(ours)
    if i is None or theirs is None or i >= len(theirs):
        return False
    try:
        b = float(theirs[i])
    except (TypeError, ValueError):
        return False
    return abs(a - b) <= 1e-9 * max(1.0, abs(a))


TOOLS = ["cxkpi", "DuckDB", "Polars", "chDB"]


def measure(args, rows, task, size, mb, cmd, peers, inputs):
    """Runs cxkpi (`cmd`) and each peer in turn over the directories `inputs`; checks each
    peer's first row against cxkpi's; appends the row."""
    tools = [("cxkpi", lambda: timed_rss(cmd))] + [(name, lambda t=t: peer(args.python, t))
                                                    for name, t in peers]
    results = interleaved(args.runs, [f for _, f in tools], inputs)
    ours = results[0][0]["stdout"].decode().splitlines()[1].split(",")
    for (name, _), runs in zip(tools[1:], results[1:]):
        if not agrees(ours, runs[0]["result"]):
            raise SystemExit(f"{task} ({size}): {name} gives {runs[0]['result']}, cxkpi {ours}")
    rows.append({"task": task, "size": size, "mb": mb,
                 "runs": {name: r for (name, _), r in zip(tools, results)}})
    print(f"{task} {size}: " + ", ".join(
        f"{name} {statistics.median(x['seconds'] for x in r):.2f}s" for (name, _), r in zip(tools, results)),
        flush=True)


def generate(args, vendor, out, days, per_day):
    """`cxkpi generate VENDOR` into `out`: the plain exports every peer reads."""
    subprocess.run([args.cxkpi, "-q", "generate", vendor, "--out", str(out), "--days", str(days),
                    "--per-day", str(per_day), "--seed", "7", "--plain"], check=True)
    as_read_from_disk(out)


def input_mb(d):
    return sum(f.stat().st_size for f in Path(d).iterdir()) / 1e6


def bot_tasks(args, rows, tmp, days):
    nd, arr = tmp / f"ultimate-{days}", tmp / f"ultimate-{days}-array"
    generate(args, "ultimate", nd, days, args.per_day)
    to_array(nd, arr)
    mb = input_mb(nd)
    size = f"{days} days"
    bot_sql = rendered(args.cxkpi, "bot")[-1]
    for label, d, fmt in [("NDJSON", nd, "newline_delimited"), ("JSON arrays", arr, "array")]:
        files = f"{d}/*.json"
        paths = [str(p) for p in sorted(d.iterdir())]
        measure(args, rows, f"bot KPIs, {label}", size, mb,
                [args.cxkpi, "-q", "metrics", "bot", str(d), "--format", "csv"],
                [("DuckDB", {"tool": "duckdb", "setup": [DUCKDB_STAGE.format(files=files, fmt=fmt)],
                             "sql": bot_sql}),
                 ("Polars", {"tool": "polars", "fmt": fmt, "files": files, "paths": paths}),
                 ("chDB", {"tool": "chdb", "sql": CHDB_BOT.format(files=files)})], [d])
    shutil.rmtree(arr)  # the arrays are done with: the disk of a small VM runs out

    # Ingest into Parquet: cxkpi's lake (default batches, bounded memory) against DuckDB
    # COPY … TO … (FORMAT parquet). Each run writes anew and its output is deleted once
    # timed (untimed), so the runs' copies do not pile up on the disk.
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
    ci, di = interleaved(args.runs, [ingest, duck_copy], [nd])
    rows.append({"task": "JSON → Parquet lake", "size": size, "mb": mb, "runs": {"cxkpi": ci, "DuckDB": di}})
    lake = tmp / "lake-final"
    subprocess.run([args.cxkpi, "-q", "ingest", str(nd), "--lake", str(lake)], check=True)
    measure(args, rows, "bot KPIs over the Parquet lake", size, None,
            [args.cxkpi, "-q", "metrics", "bot", "--lake", str(lake), "--format", "csv"],
            [("DuckDB", {"tool": "duckdb", "setup": [
                f"CREATE VIEW bot_conversations AS SELECT * FROM read_parquet("
                f"'{lake}/bot_conversations/*/*.parquet', hive_partitioning = true)"], "sql": bot_sql})], [lake])
    shutil.rmtree(lake)
    shutil.rmtree(nd)


def vendor_tasks(args, rows, tmp, days):
    size = f"{days} days"
    # Anywhere365 dialogues.
    d = tmp / f"anywhere365-{days}"
    generate(args, "anywhere365", d, days, args.per_day * 2 // 5)
    paths = [str(f) for f in sorted(d.iterdir())]
    measure(args, rows, "queue KPIs, Anywhere365", size, input_mb(d),
            [args.cxkpi, "-q", "metrics", "queue", str(d), "--format", "csv"],
            [("DuckDB", {"tool": "duckdb", "setup": [DUCKDB_DIALOGUES.format(dir=d)],
                         "sql": rendered(args.cxkpi, "queue")[-1]}),
             ("Polars", {"tool": "polars-dialogues", "paths": paths}),
             ("chDB", {"tool": "chdb", "sql": CHDB_QUEUE.format(dir=d)})], [d])
    shutil.rmtree(d)
    # Samespace: its calls reports only (the CSAT and agent logs are other KPIs).
    gen, d = tmp / f"samespace-{days}", tmp / f"calls-{days}"
    generate(args, "samespace", gen, days, args.per_day // 5)
    d.mkdir()
    for f in gen.glob("calls_*.json"):
        (d / f.name).symlink_to(f)
    paths = [str(f) for f in sorted(d.iterdir())]
    measure(args, rows, "call KPIs, Samespace", size, sum(Path(p).stat().st_size for p in paths) / 1e6,
            [args.cxkpi, "-q", "metrics", "calls", str(d), "--format", "csv"],
            [("DuckDB", {"tool": "duckdb", "setup": [DUCKDB_CALLS.format(dir=d)],
                         "sql": rendered(args.cxkpi, "calls")[-1]}),
             ("Polars", {"tool": "polars-calls", "paths": paths}),
             ("chDB", {"tool": "chdb", "sql": CHDB_CALLS.format(dir=d)})], [d])
    shutil.rmtree(d)
    shutil.rmtree(gen)
    # Dialpad messages, every view. The interactions view needs only the dedupe and the
    # counts, and DuckDB is given only that (DUCKDB_MESSAGES); the other views get every
    # column and the view's own SQL, the interactions derivation included.
    d = tmp / f"dialpad-{days}"
    generate(args, "dialpad", d, days, args.per_day // 12)
    mb = input_mb(d)
    for view in ["interactions", "interaction-type", "customer-endpoint", "intents", "sentiment",
                 "handoff", "response-times"]:
        statements = rendered(args.cxkpi, "messaging", "--view", view)
        if view == "interactions":
            duck = {"tool": "duckdb", "setup": [DUCKDB_MESSAGES.format(dir=d)], "sql": statements[-1]}
            peers = [("DuckDB", duck), ("chDB", {"tool": "chdb", "sql": CHDB_INTERACTIONS.format(dir=d)})]
        else:
            peers = [("DuckDB", {"tool": "duckdb", "setup": [DUCKDB_MESSAGES_FULL.format(dir=d), *statements[:-1]],
                                 "sql": statements[-1]})]
        measure(args, rows, f"Dialpad {view} view", size, mb,
                [args.cxkpi, "-q", "metrics", "messaging", "--view", view, str(d), "--format", "csv"], peers,
                [d])
    shutil.rmtree(d)


def one_record_files(src, out, limit):
    """The first `limit` records of the NDJSON files in `src`, each as a file of its own in
    `out`, as webhook dumps arrive (names sort in delivery order)."""
    out.mkdir()
    n = 0
    for f in sorted(src.iterdir()):
        with open(f, "rb") as lines:
            for line in lines:
                if line.strip() and n < limit:
                    (out / f"{src.name}_{n:06d}.json").write_bytes(line)
                    n += 1
    as_read_from_disk(out)
    return n


def small_files_tasks(args, rows, tmp, files):
    """Queue KPIs and the Dialpad interactions view over `files` exports of one record
    each: what a file costs, beside what a record costs."""
    for vendor, task, cmd, setup, sql in [
        ("anywhere365", "queue KPIs, Anywhere365, one record per file", ["metrics", "queue"],
         DUCKDB_DIALOGUES, rendered(args.cxkpi, "queue")[-1]),
        ("dialpad", "Dialpad interactions view, one message per file",
         ["metrics", "messaging", "--view", "interactions"], DUCKDB_MESSAGES,
         rendered(args.cxkpi, "messaging", "--view", "interactions")[-1]),
    ]:
        gen, d = tmp / f"{vendor}-small-src", tmp / f"{vendor}-small"
        generate(args, vendor, gen, 1, files)
        n = one_record_files(gen, d, files)
        shutil.rmtree(gen)
        measure(args, rows, task, f"{n:,} files", input_mb(d),
                [args.cxkpi, "-q", *cmd, str(d), "--format", "csv"],
                [("DuckDB", {"tool": "duckdb", "setup": [setup.format(dir=d)], "sql": sql})], [d])
        shutil.rmtree(d)


# The targets of the performance issue: (task prefix, peer, needed ratio).
TARGETS = [
    ("bot KPIs, NDJSON", "DuckDB", 4.0),
    ("bot KPIs, JSON arrays", "DuckDB", 6.0),
    ("JSON → Parquet lake", "DuckDB", 3.5),
    ("queue KPIs, Anywhere365", "DuckDB", 3.0),
    ("call KPIs, Samespace", "Polars", 3.0),
    ("Dialpad", "DuckDB", 3.0),
]


def med(runs):
    return statistics.median(r["seconds"] for r in runs)


def ratios(ours, theirs):
    """Theirs over ours, run by run (the runs of a pair were adjacent in time)."""
    return [t["seconds"] / o["seconds"] for o, t in zip(ours, theirs)]


def check_disk(sizes, per_day):
    """Stops before generating anything when the temp directory cannot hold the largest
    size's data: its bot exports (about 1.2 kB a conversation), their JSON-array twin and
    the lakes written from them, at once. A run that found out at the 60-day arrays died with
    a traceback eight minutes in."""
    if not sizes:
        return
    tmp = tempfile.gettempdir()
    need = max(sizes) * per_day * 1200 * 2.5
    free = shutil.disk_usage(tmp).free
    if free < need:
        sys.exit(f"bench: needs about {need / 1e9:.1f} GB free in {tmp} for {max(sizes)} days "
                 f"of {per_day} conversations a day (the exports, their JSON-array twin and the "
                 f"lakes), but has {free / 1e9:.1f} GB: free some, or set TMPDIR to a larger disk")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cxkpi", required=True)
    ap.add_argument("--python", default=sys.executable, help="python with duckdb, polars and chdb")
    ap.add_argument("--sizes", default="7,30,60", help="history sizes, in export days")
    ap.add_argument("--per-day", type=int, default=50000, help="bot conversations a day (others scale)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--out", default=str(ROOT / "BENCHMARKS.md"))
    ap.add_argument("--small-files", type=int, default=20000,
                    help="records of the one-record-per-file tasks (0: none)")
    args = ap.parse_args()
    sizes = [int(x) for x in args.sizes.split(",") if x]
    check_disk(sizes, args.per_day)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for days in sizes:
            bot_tasks(args, rows, tmp, days)
            vendor_tasks(args, rows, tmp, days)
        if args.small_files:
            small_files_tasks(args, rows, tmp, args.small_files)

    def cell(runs):
        if not runs:
            return "—"
        xs = sorted(r["seconds"] for r in runs)
        return (f"{statistics.median(xs):.2f} s ({xs[0]:.2f}–{xs[-1]:.2f}), "
                f"{max(r['rss_kb'] for r in runs) / 1024:.0f} MB")

    def ratio_cell(row, tool):
        if tool not in row["runs"]:
            return "—"
        rs = sorted(ratios(row["runs"]["cxkpi"], row["runs"][tool]))
        return f"{med(row['runs'][tool]) / med(row['runs']['cxkpi']):.2f}× ({rs[0]:.2f}–{rs[-1]:.2f})"

    versions = subprocess.run(
        [args.python, "-c", "import duckdb, polars, chdb; print(duckdb.__version__, polars.__version__, chdb.__version__)"],
        check=True, capture_output=True, text=True).stdout.split()
    ours = subprocess.run([args.cxkpi, "--version"], check=True, capture_output=True, text=True).stdout.strip()
    lines = [
        "# Benchmarks",
        "",
        f"Machine: {os.cpu_count()} cores, {platform.machine()} ({cpu_model()}), Linux {platform.release()}; "
        f"Python {platform.python_version()}. Versions: {ours} (release build), DuckDB {versions[0]}, "
        f"Polars {versions[1]}, chDB {versions[2]} (scripts/requirements-bench.txt).",
        f"Command: `scripts/bench.sh --sizes {args.sizes} --per-day {args.per_day} --runs {args.runs}"
        f" --small-files {args.small_files}`.",
        "",
        f"Data, for each history size (export days): `cxkpi generate ultimate --per-day {args.per_day} "
        "--seed 7 --plain` (and the same records as JSON arrays); Anywhere365 "
        f"`--per-day {args.per_day * 2 // 5}`, Samespace `--per-day {args.per_day // 5}` (its calls reports), "
        f"Dialpad `--per-day {args.per_day // 12}`; the one-record-per-file tasks: one day of "
        f"`--per-day {args.small_files}` Anywhere365 dialogues and Dialpad sessions, the first "
        f"{args.small_files} records of each written to a file of their own. DuckDB stages each export by hand from the raw files "
        "(scripts/bench.py) and runs the SQL of `cxkpi sql` unchanged; Polars and chDB compute the same "
        "KPIs; every peer's first figure is checked against cxkpi's.",
        f"Each cell: the median of {args.runs} runs (the range over the runs), and the highest peak RSS. "
        "The tools of a task take turns run by run (this VM's speed drifts from minute to minute), each "
        "run after a `sync` (untimed); every input is evicted from the page cache and read back once "
        "after it is written (untimed), so each is cached as a file read from disk is, whatever wrote it, "
        "and read through again before every run (untimed), so no run reads it from disk; cxkpi is timed as a whole process, the peers inside their own "
        "process (start-up excluded). Ratios: the peer's median over cxkpi's (the range of the run-by-run "
        "ratios). The ingest uses the default bounded-memory batches.",
        "",
        "| task | history | input | cxkpi | DuckDB | Polars | chDB | vs DuckDB | vs Polars | vs chDB |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        mb = f"{row['mb']:.0f} MB" if row["mb"] else "lake"
        lines.append(f"| {row['task']} | {row['size']} | {mb} | "
                     + " | ".join(cell(row["runs"].get(t)) for t in TOOLS) + " | "
                     + " | ".join(ratio_cell(row, t) for t in TOOLS[1:]) + " |")
    lines += ["", "## Targets", "",
              "Each target against every size and view it covers: the lowest median ratio, and whether "
              "every run-by-run ratio met it.", "",
              "| target | needed | lowest median ratio | met in every run |", "|---|---|---|---|"]
    for prefix, tool, needed in TARGETS:
        covered = [r for r in rows if r["task"].startswith(prefix) and tool in r["runs"]]
        if not covered:
            continue
        lowest = min(med(r["runs"][tool]) / med(r["runs"]["cxkpi"]) for r in covered)
        every = all(x >= needed for r in covered for x in ratios(r["runs"]["cxkpi"], r["runs"][tool]))
        worst = min(covered, key=lambda r: med(r["runs"][tool]) / med(r["runs"]["cxkpi"]))
        lines.append(f"| {prefix} ≥ {needed:g}× {tool} | {needed:g}× | {lowest:.2f}× ({worst['task']}, "
                     f"{worst['size']}) | {'yes' if every else 'no'} |")
    over = [f"{r['task']} ({r['size']})" for r in rows if "DuckDB" in r["runs"]
            and max(x["rss_kb"] for x in r["runs"]["cxkpi"]) > max(x["rss_kb"] for x in r["runs"]["DuckDB"])]
    lines += ["", "Peak RSS at most DuckDB's: " + ("every task." if not over else
              "not in " + "; ".join(over) + "."), ""]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
