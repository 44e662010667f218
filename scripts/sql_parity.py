#!/usr/bin/env python3
"""`cxkpi sql` against `cxkpi metrics --lake`, on DuckDB and on Spark (local mode).

Generates a lake of all four vendors across three DST changes (Europe, 2024-10-27; US,
2024-11-03; Brazil, 2018-11-04, whose day began at 01:00), defines its tables with
`cxkpi ddl`, and for every case (a family, a view and options: totals, buckets in DST
zones, breakdowns, ranges, thresholds) runs the rendered SQL and compares its rows, in
order, with `cxkpi metrics --lake … --format csv`: same columns, same keys, numbers within
1e-9. On Spark it also checks that no plan holds a Cartesian
product or a nested-loop join. One Spark session serves every case.

Last, sums past 2^63 (tests/fixtures/bad/ultimate_counts_past_i64.ndjson, which
`cxkpi metrics` refuses): DuckDB must give the exact sum, Spark (ANSI mode, its default
since 4.0) must fail with ARITHMETIC_OVERFLOW; neither may wrap round.

Usage: sql_parity.py --cxkpi PATH [--engines duckdb,spark]
"""
import argparse
import contextlib
import csv
import io
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from parity import same  # numbers equal within 1e-9, as everywhere in the suite

TZ = "Europe/Amsterdam"
DAYS = ["--days", "15", "--start", "2024-10-20"]

CASES = [
    ["bot"],
    ["bot", "--interval", "1h", "--tz", TZ],
    ["bot", "--interval", "1d", "--tz", "America/New_York", "--by", "channel,language"],
    ["bot", "--interval", "15m", "--tz", "Asia/Kolkata", "--from", "2024-10-26", "--to", "2024-10-28"],
    ["bot", "--interval", "1w", "--tz", TZ, "--time", "end", "--exclude-test", "--bot-summary"],
    ["bot", "--interval", "1mo", "--tz", TZ, "--status-match", "normalized"],
    ["bot", "--by", "first_meaningful_intent"],
    ["bot", "--by", "first_meaningful_intent,test_mode", "--include-no-intent"],
    ["bot", "--interval", "6h", "--tz", TZ, "--from", "2024-10-26T12:00", "--to", "2024-10-27T18:00"],
    ["queue"],
    ["queue", "--interval", "1h", "--tz", TZ, "--by", "queue_id"],
    ["queue", "--sla-threshold", "30", "--quick-drop-threshold", "20", "--service-level", "v1,v2,v3,v4,v5,v6",
     "--interval", "1d", "--tz", "America/New_York"],
    ["queue", "--direction", "all", "--by", "direction,outcome", "--from", "2024-10-24", "--to", "2024-10-29"],
    # Brazil's DST of 2018 began at midnight: 2018-11-04 00:00 did not exist, the day began at 01:00.
    ["queue", "--interval", "1d", "--tz", "America/Sao_Paulo", "--direction", "all",
     "--from", "2018-11-01", "--to", "2018-11-07"],
    ["queue", "--interval", "1h", "--tz", "America/Sao_Paulo", "--from", "2018-11-03T20:00", "--to", "2018-11-04T04:00"],
    ["calls"],
    ["calls", "--interval", "1d", "--tz", TZ, "--by", "direction"],
    ["calls", "--interval", "30m", "--tz", TZ, "--from", "2024-10-27", "--to", "2024-10-28"],
    ["csat"],
    ["csat", "--interval", "1d", "--tz", TZ, "--by", "direction"],
    ["agents"],
    ["agents", "--interval", "1h", "--tz", TZ, "--by", "logout_reason", "--from", "2024-10-26", "--to", "2024-10-28"],
    ["agents", "--source", "productivity"],
    ["agents", "--source", "productivity", "--by", "user"],
]
for view in ["interactions", "interaction-type", "customer-endpoint", "intents", "sentiment", "handoff",
             "response-times"]:
    CASES.append(["messaging", "--view", view])
    CASES.append(["messaging", "--view", view, "--interval", "1d", "--tz", TZ])
    CASES.append(["messaging", "--view", view, "--by", "sessionchannel", "--interval", "1h", "--tz", TZ,
                  "--from", "2024-10-26", "--to", "2024-10-28"])
CASES.append(["messaging", "--view", "intents", "--intent-type", "bot", "--interval", "1w", "--tz", TZ])
CASES.append(["messaging", "--view", "interactions", "--by", "chattype,lang"])


TABLES = ["bot_conversations", "bot_intents", "messages", "dialogues", "calls", "csat_calls", "csat_answers",
          "agent_sessions", "productivity"]


OVERFLOW = Path(__file__).resolve().parent.parent / "tests/fixtures/bad/ultimate_counts_past_i64.ndjson"


def run(*args):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r.stdout


def statements(sql):
    return [s.strip() for s in sql.split(";\n") if s.strip()]


def text(v):
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    return str(v)


def compare(name, expected, columns, rows, failures):
    """cxkpi's CSV rows against the engine's (column names, rows), in order."""
    exp_cols = list(expected[0].keys()) if expected else None
    if exp_cols is not None and exp_cols != columns:
        failures.append(f"{name}: columns differ:\n  metrics {exp_cols}\n  sql     {columns}")
        return
    if len(expected) != len(rows):
        failures.append(f"{name}: {len(expected)} rows from metrics, {len(rows)} from SQL")
        return
    for i, (e, r) in enumerate(zip(expected, rows)):
        for c, v in zip(columns, r):
            if not same(e[c], text(v)):
                failures.append(f"{name}: row {i} {c}: metrics {e[c]!r} vs SQL {text(v)!r}")
                return


def overflow_lake(tmp):
    return tmp / "it's [here]*?" / "overflow"


def make_lake(cxkpi, tmp):
    inbox, lake = tmp / "inbox", tmp / "lake"
    run(cxkpi, "-q", "generate", "ultimate", "--out", str(inbox / "u"), "--per-day", "300", "--seed", "42", *DAYS)
    run(cxkpi, "-q", "generate", "dialpad", "--out", str(inbox / "d"), "--per-day", "120", "--seed", "11", *DAYS)
    run(cxkpi, "-q", "generate", "anywhere365", "--out", str(inbox / "a"), "--per-day", "300", "--seed", "3", *DAYS)
    run(cxkpi, "-q", "generate", "anywhere365", "--out", str(inbox / "a2018"), "--per-day", "200", "--seed", "4",
        "--days", "4", "--start", "2018-11-02")
    run(cxkpi, "-q", "generate", "samespace", "--out", str(inbox / "s"), "--per-day", "300", "--seed", "3", *DAYS)
    run(cxkpi, "-q", "ingest", str(inbox), "--lake", str(lake))
    # A lake of one vendor: its DDL must define the other tables too (empty).
    run(cxkpi, "-q", "ingest", str(inbox / "u"), "--lake", str(tmp / "partial"))
    # Two conversations of 2^62 visitor messages each: valid records, a sum past 2^63. Its
    # path holds a quote and glob characters, which the DDL must escape for each engine.
    run(cxkpi, "-q", "ingest", str(OVERFLOW), "--lake", str(overflow_lake(tmp)))
    return lake


class DuckDB:
    name = "duckdb"

    def __init__(self, cxkpi, lake):
        import duckdb
        self.con = duckdb.connect()
        # A session zone far from the queries' zones: the SQL must not depend on it.
        self.con.execute("SET TimeZone = 'Pacific/Auckland'")
        for s in statements(run(cxkpi, "ddl", "--engine", "duckdb", "--lake", str(lake))):
            self.con.execute(s)

    def query(self, sql):
        *views, last = statements(sql)
        for v in views:
            self.con.execute(v)
        cur = self.con.execute(last)
        return [d[0] for d in cur.description], cur.fetchall(), None

    @contextlib.contextmanager
    def expecting_errors(self):
        yield

    def on_lake(self, cxkpi, lake, sql):
        """`sql` over another lake, in a connection of its own."""
        other = DuckDB(cxkpi, lake)
        try:
            return other.query(sql)
        finally:
            other.close()

    def close(self):
        self.con.close()


class Spark:
    name = "spark"

    def __init__(self, cxkpi, lake, java_home):
        os.environ.setdefault("JAVA_HOME", java_home)
        from pyspark.sql import SparkSession
        self.spark = (SparkSession.builder.master("local[2]").appName("cxkpi-sql-parity")
                      .config("spark.ui.enabled", "false")
                      .config("spark.ui.showConsoleProgress", "false")
                      .config("spark.sql.shuffle.partitions", "4")
                      .config("spark.sql.session.timeZone", "Pacific/Auckland")
                      .config("spark.sql.warehouse.dir", str(lake.parent / "warehouse"))
                      .config("spark.driver.extraJavaOptions", f"-Dderby.system.home={lake.parent}")
                      .getOrCreate())
        self.spark.sparkContext.setLogLevel("ERROR")
        # The DDL of a partial lake, statement by statement, in a database of its own:
        # every table defined, the vendor's with rows, the others empty.
        self.spark.sql("CREATE DATABASE partial")
        self.spark.sql("USE partial")
        for s in statements(run(cxkpi, "ddl", "--engine", "spark", "--lake", str(lake.parent / "partial"))):
            self.spark.sql(s)
        for t in TABLES:
            n = self.spark.sql(f"SELECT count(*) FROM {t}").collect()[0][0]
            if (n > 0) != t.startswith("bot_"):
                raise SystemExit(f"spark: partial lake {t}: {n} rows")
        self.spark.sql("USE default")
        for s in statements(run(cxkpi, "ddl", "--engine", "spark", "--lake", str(lake))):
            self.spark.sql(s)

    def query(self, sql):
        *views, last = statements(sql)
        for v in views:
            self.spark.sql(v)
        df = self.spark.sql(last)
        plan = df._jdf.queryExecution().executedPlan().toString()
        bad = [w for w in ("CartesianProduct", "BroadcastNestedLoopJoin") if w in plan]
        return df.columns, [tuple(r) for r in df.collect()], bad

    @contextlib.contextmanager
    def expecting_errors(self):
        """Spark logs a failing query's stack traces (JVM and Python) before raising: an
        expected failure need not fill the test log."""
        py = logging.getLogger("SQLQueryContextLogger")
        level = py.level
        py.setLevel(logging.CRITICAL)
        self.spark.sparkContext.setLogLevel("OFF")
        try:
            yield
        finally:
            self.spark.sparkContext.setLogLevel("ERROR")
            py.setLevel(level)

    def on_lake(self, cxkpi, lake, sql):
        """`sql` over another lake, defined in a database of its own."""
        db = lake.name
        self.spark.sql(f"CREATE DATABASE {db}")
        self.spark.sql(f"USE {db}")
        try:
            for s in statements(run(cxkpi, "ddl", "--engine", "spark", "--lake", str(lake))):
                self.spark.sql(s)
            return self.query(sql)
        finally:
            self.spark.sql("USE default")

    def close(self):
        self.spark.stop()


def sums_past_i64(db, cxkpi, lake, failures):
    """Bot KPIs over a lake whose visitor messages add up to 2^63: exact or an error."""
    name = f"{db.name}: bot over counts adding up past 2^63"
    try:
        with db.expecting_errors():
            columns, rows, _ = db.on_lake(cxkpi, lake, run(cxkpi, "sql", "bot", "--engine", db.name))
    except Exception as e:
        if db.name != "spark" or "ARITHMETIC_OVERFLOW" not in str(e):
            failures.append(f"{name}: {str(e).splitlines()[0][:300]}")
        return
    got = dict(zip(columns, rows[0]))["visitor_messages"] if rows else None
    if db.name == "spark" or got != 2**63:
        failures.append(f"{name}: visitor_messages = {got} (expected {'an overflow error' if db.name == 'spark' else 2**63})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cxkpi", required=True)
    ap.add_argument("--engines", default="duckdb,spark")
    ap.add_argument("--java-home", default=os.environ.get("JAVA_HOME", ""))
    args = ap.parse_args()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        lake = make_lake(args.cxkpi, tmp)
        expected = {}
        for case in CASES:
            out = run(args.cxkpi, "-q", "metrics", *case, "--lake", str(lake), "--format", "csv")
            expected[tuple(case)] = list(csv.DictReader(io.StringIO(out)))
        for engine in args.engines.split(","):
            t0 = time.time()
            db = DuckDB(args.cxkpi, lake) if engine == "duckdb" else Spark(args.cxkpi, lake, args.java_home)
            for case in CASES:
                name = f"{engine}: {' '.join(case)}"
                sql = run(args.cxkpi, "sql", *case, "--engine", engine)
                try:
                    columns, rows, bad = db.query(sql)
                except Exception as e:  # the engine's error, reported with the case
                    lines = [l for l in str(e).splitlines() if l.strip()] or [repr(e)]
                    failures.append(f"{name}: {lines[0][:400]}")
                    continue
                if bad:
                    failures.append(f"{name}: the plan has {', '.join(bad)}")
                compare(name, expected[tuple(case)], columns, rows, failures)
            sums_past_i64(db, args.cxkpi, overflow_lake(tmp), failures)
            db.close()
            print(f"sql parity: {engine}: {len(CASES)} cases in {time.time() - t0:.0f} s", file=sys.stderr)
    if failures:
        print("\n".join(failures[:60]), file=sys.stderr)
        print(f"sql parity: {len(failures)} failed")
        return 1
    print(f"sql parity: `cxkpi sql` equals `cxkpi metrics --lake` on {args.engines} for {len(CASES)} cases;"
          " sums past 2^63 are exact or an error")
    return 0


if __name__ == "__main__":
    sys.exit(main())
