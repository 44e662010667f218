#!/usr/bin/env python3
"""DuckDB parity for cxkpi: the queries/ SQL against cxkpi's own numbers.

1. Generates a deterministic dataset with `cxkpi generate` (exports in every variant plus a
   plain reference twin of every delivered record).
2. Stages the canonical tables in DuckDB from the twin (tests/parity/*.sql), independently of
   cxkpi's reader, and runs the SQL `cxkpi sql --engine duckdb` renders from queries/ (plus
   the vendor's own intent queries, ported in tests/parity/, which check cxkpi's derived
   intent columns).
3. Compares DuckDB's results with the goldens checked in under tests/golden/ (which the
   Rust tests use), or rewrites them with --update.
4. Runs cxkpi on the exports and compares its numbers with DuckDB's.

Exits non-zero on any difference. Usage: parity.py --cxkpi PATH/TO/cxkpi [--update]
"""
import argparse
import csv
import io
import math
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
TOL = 1e-9

# The dataset the goldens describe: 10 days across the 2024-03-31 DST change.
ULTIMATE_GEN = ["--days", "10", "--per-day", "300", "--seed", "42", "--start", "2024-03-25"]
TZ = "Europe/Amsterdam"
# The column identifying a row of each query's result (None: one row).
KEYS = {
    "popular_metrics": None,
    "first_last_intent": "conversation_id",
    "metrics_by_first_meaningful_intent": "first_meaningful_intent",
    "popular_metrics_daily": "bucket_start",
}


def sql_file(path, **params):
    text = path.read_text()
    for k, v in params.items():
        text = text.replace("${" + k + "}", v)
    return text


def rendered(con, binary, *cli):
    """Runs `cxkpi sql … --engine duckdb` on `con`: its views, then its query, as CSV."""
    text = cxkpi(binary, "sql", *cli, "--engine", "duckdb")
    *views, last = [s for s in text.split(";\n") if s.strip()]
    for v in views:
        con.execute(v)
    return to_csv(con, last)


def to_csv(con, query):
    cur = con.execute(query)
    cols = [d[0] for d in cur.description]
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(cols)
    for row in cur.fetchall():
        w.writerow(["" if v is None else (repr(v) if isinstance(v, float) else str(v)) for v in row])
    return out.getvalue()


def parse_csv(text):
    return list(csv.DictReader(io.StringIO(text)))


def same(a, b):
    if a == b:
        return True
    try:
        x, y = float(a), float(b)
    except ValueError:
        return False
    return math.isclose(x, y, rel_tol=TOL, abs_tol=TOL)


def compare(name, expected, actual, key, columns, failures):
    """Rows matched by the key column(s) (None: one row); every listed column compared."""
    keys = [] if key is None else [key] if isinstance(key, str) else list(key)
    exp = {tuple(r[k] for k in keys): r for r in expected}
    act = {tuple(r[k] for k in keys): r for r in actual}
    if len(exp) != len(expected) or len(act) != len(actual):
        failures.append(f"{name}: duplicate keys {keys}")
    if set(exp) != set(act):
        failures.append(f"{name}: groups differ: only DuckDB {sorted(set(exp) - set(act))[:5]}, "
                        f"only cxkpi {sorted(set(act) - set(exp))[:5]}")
        return
    for k, row in exp.items():
        for c in columns:
            if not same(row[c], act[k][c]):
                failures.append(f"{name}: {k} {c}: DuckDB {row[c]!r} vs cxkpi {act[k][c]!r}")


def cxkpi(binary, *args):
    r = subprocess.run([binary, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"cxkpi {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r.stdout


def check_golden(golden_dir, name, text, key, update, failures):
    """Compares a DuckDB result with its checked-in golden, or rewrites the golden."""
    golden_dir.mkdir(parents=True, exist_ok=True)
    path = golden_dir / f"{name}.csv"
    if update:
        path.write_text(text)
    elif not path.exists():
        failures.append(f"golden {path} is missing (run with --update)")
    else:
        expected = parse_csv(path.read_text())
        columns = list(expected[0].keys()) if expected else []
        compare(f"golden {name}", expected, parse_csv(text), key, columns, failures)


def ultimate(args, failures):
    golden_dir = ROOT / "tests" / "golden" / "ultimate"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        exports, ref = tmp / "exports", tmp / "reference.ndjson"
        cxkpi(args.cxkpi, "-q", "generate", "ultimate", "--out", str(exports), "--reference", str(ref), *ULTIMATE_GEN)
        con = duckdb.connect()
        con.execute(sql_file(ROOT / "tests/parity/stage_ultimate_reference.sql", ref=str(ref)))
        t = ROOT / "tests" / "parity"
        results = {
            "popular_metrics": rendered(con, args.cxkpi, "bot"),
            "first_last_intent": to_csv(con, sql_file(t / "ultimate_first_last_intent.sql")),
            "metrics_by_first_meaningful_intent": to_csv(con, sql_file(t / "ultimate_metrics_by_first_meaningful_intent.sql")),
            "popular_metrics_daily": rendered(con, args.cxkpi, "bot", "--interval", "1d", "--tz", TZ),
        }
        for name, text in results.items():
            check_golden(golden_dir, name, text, KEYS[name], args.update, failures)

        # cxkpi against DuckDB, on the exports in every variant.
        exp = parse_csv(results["popular_metrics"])
        act = parse_csv(cxkpi(args.cxkpi, "-q", "metrics", "bot", str(exports), "--format", "csv"))
        compare("totals", exp, act, None, list(exp[0].keys()), failures)

        exp = parse_csv(results["metrics_by_first_meaningful_intent"])
        act = parse_csv(cxkpi(args.cxkpi, "-q", "metrics", "bot", str(exports), "--by", "first_meaningful_intent", "--format", "csv"))
        compare("by first meaningful intent", exp, act, "first_meaningful_intent", list(exp[0].keys()), failures)

        exp = parse_csv(results["first_last_intent"])
        act = parse_csv(cxkpi(args.cxkpi, "-q", "table", "bot_conversations", str(exports), "--format", "csv"))
        compare("first/last intent", exp, act, "conversation_id", ["first_intent", "last_intent"], failures)

        exp = parse_csv(results["popular_metrics_daily"])
        act = parse_csv(cxkpi(args.cxkpi, "-q", "metrics", "bot", str(exports), "--interval", "1d", "--tz", TZ, "--format", "csv"))
        compare("daily in " + TZ, exp, act, "bucket_start", list(exp[0].keys()), failures)


DIALPAD_GEN = ["--days", "10", "--per-day", "150", "--seed", "11", "--start", "2024-03-25"]
# view -> (SQL file, the view's own dimension or None)
# view -> the view's own dimension or None
DIALPAD_VIEWS = {
    "interactions": None,
    "interaction-type": "chattype",
    "customer-endpoint": "sessionchannel",
    "intents": "topic",
    "sentiment": None,
    "handoff": None,
    "response-times": None,
}


def dialpad(args, failures):
    golden_dir = ROOT / "tests" / "golden" / "dialpad"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        exports, ref = tmp / "pulls", tmp / "reference.ndjson"
        cxkpi(args.cxkpi, "-q", "generate", "dialpad", "--out", str(exports), "--reference", str(ref), *DIALPAD_GEN)
        con = duckdb.connect()
        con.execute(sql_file(ROOT / "tests/parity/stage_dialpad_reference.sql", ref=str(ref)))
        cases = [(v, None) for v in DIALPAD_VIEWS] + [("intents", "bot"), ("intents", "agent")]
        for view, intent_type in cases:
            dim = DIALPAD_VIEWS[view]
            for bname, cli in BUCKETS.items():
                name = f"{view}{'_' + intent_type if intent_type else ''}_{bname}"
                extra = ["--intent-type", intent_type] if intent_type else []
                key = (["bucket_start"] if cli else []) + ([dim] if dim else [])
                case(con, golden_dir, name, ["metrics", "messaging", "--view", view, *cli, *extra], str(exports),
                     key or None, args, failures)


def case(con, golden_dir, name, cli, inputs, key, args, failures, rename=None, skip=()):
    """One family run two ways on the same records: the SQL `cxkpi sql` renders for `cli`,
    on DuckDB over the independently staged tables (checked against its golden), and
    `cxkpi metrics` on the exports (columns renamed by `rename`, `skip` not compared)."""
    text = rendered(con, args.cxkpi, *cli[1:])
    check_golden(golden_dir, name, text, key, args.update, failures)
    act = parse_csv(cxkpi(args.cxkpi, "-q", cli[0], cli[1], inputs, *cli[2:], "--format", "csv"))
    for r in act:
        for ours, theirs in (rename or {}).items():
            r[theirs] = r.get(ours, "")
    exp = parse_csv(text)
    if not exp:
        failures.append(f"{name}: DuckDB returned no rows")
        return
    compare(name, exp, act, key, [c for c in exp[0].keys() if c not in skip], failures)


BUCKETS = {
    "total": [],
    "daily": ["--interval", "1d", "--tz", TZ],
}
VOICE_GEN = ["--days", "8", "--per-day", "300", "--seed", "3", "--start", "2024-03-27"]


def anywhere365(args, failures):
    golden_dir = ROOT / "tests" / "golden" / "anywhere365"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        exports, ref = tmp / "dialogues", tmp / "reference.ndjson"
        cxkpi(args.cxkpi, "-q", "generate", "anywhere365", "--out", str(exports), "--reference", str(ref), *VOICE_GEN)
        con = duckdb.connect()
        con.execute(sql_file(ROOT / "tests/parity/stage_anywhere365_reference.sql", ref=str(ref)))
        levels = ["--sla-threshold", "30", "--quick-drop-threshold", "20", "--service-level", "v1,v2,v3,v4,v5,v6"]
        for bname, cli in BUCKETS.items():
            key = ["bucket_start"] if cli else None
            case(con, golden_dir, f"queue_{bname}", ["metrics", "queue", *cli], str(exports), key, args, failures)
            case(con, golden_dir, f"service_levels_{bname}", ["metrics", "queue", *levels, *cli], str(exports), key,
                 args, failures)


def samespace(args, failures):
    golden_dir = ROOT / "tests" / "golden" / "samespace"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        exports, ref = tmp / "reports", tmp / "reference.ndjson"
        cxkpi(args.cxkpi, "-q", "generate", "samespace", "--out", str(exports), "--reference", str(ref), *VOICE_GEN)
        con = duckdb.connect()
        con.execute(sql_file(ROOT / "tests/parity/stage_samespace_reference.sql", ref=str(ref)))
        for bname, cli in BUCKETS.items():
            key = ["bucket_start"] if cli else None
            case(con, golden_dir, f"calls_{bname}", ["metrics", "calls", *cli], str(exports), key, args, failures)
            case(con, golden_dir, f"csat_{bname}", ["metrics", "csat", *cli], str(exports), (key or []) + ["question_id"],
                 args, failures, skip=("question",))
            case(con, golden_dir, f"agent_sessions_{bname}", ["metrics", "agents", *cli], str(exports), key, args,
                 failures)
        case(con, golden_dir, "productivity", ["metrics", "agents", "--source", "productivity"], str(exports), None,
             args, failures)


def lake(args, failures):
    """The lake read by DuckDB through `cxkpi ddl`: row counts, types, and the queries/ SQL
    over it equal to `cxkpi metrics --lake`."""
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inbox, lake_dir = tmp / "inbox", tmp / "lake"
        cxkpi(args.cxkpi, "-q", "generate", "ultimate", "--out", str(inbox / "u"), *ULTIMATE_GEN)
        cxkpi(args.cxkpi, "-q", "generate", "dialpad", "--out", str(inbox / "d"), *DIALPAD_GEN)
        cxkpi(args.cxkpi, "-q", "generate", "anywhere365", "--out", str(inbox / "a"), *VOICE_GEN)
        cxkpi(args.cxkpi, "-q", "generate", "samespace", "--out", str(inbox / "s"), *VOICE_GEN)
        cxkpi(args.cxkpi, "-q", "ingest", str(inbox), "--lake", str(lake_dir))
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.execute(cxkpi(args.cxkpi, "ddl", "--engine", "duckdb", "--lake", str(lake_dir)))
        tables = ["bot_conversations", "bot_intents", "messages", "dialogues", "calls", "csat_calls",
                  "csat_answers", "agent_sessions", "productivity"]
        expected_types = {"conversation_start_time": "TIMESTAMP WITH TIME ZONE", "ts": "TIMESTAMP WITH TIME ZONE",
                          "start_time": "TIMESTAMP WITH TIME ZONE", "visitor_messages_count": "BIGINT",
                          "segment": "BIGINT", "conversation_id": "VARCHAR", "in_sla": "BOOLEAN",
                          "queue_sec": "DOUBLE", "labels": "VARCHAR[]"}
        for t in tables:
            n = con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            ours = len(parse_csv(cxkpi(args.cxkpi, "-q", "table", t, "--lake", str(lake_dir), "--format", "csv")))
            if n != ours:
                failures.append(f"lake {t}: DuckDB reads {n} rows, cxkpi {ours}")
            for name, typ, *_ in con.execute(f"DESCRIBE {t}").fetchall():
                if name in expected_types and typ != expected_types[name]:
                    failures.append(f"lake {t}.{name}: DuckDB type {typ}, expected {expected_types[name]}")
        # A lake that holds only some tables: the DDL defines the others empty, with the
        # same types, so every query still plans.
        partial = tmp / "partial"
        cxkpi(args.cxkpi, "-q", "ingest", str(inbox / "u"), "--lake", str(partial))
        pcon = duckdb.connect()
        pcon.execute("SET TimeZone = 'UTC'")
        pcon.execute(cxkpi(args.cxkpi, "ddl", "--engine", "duckdb", "--lake", str(partial)))
        for t in tables:
            if pcon.execute(f"DESCRIBE {t}").fetchall() != con.execute(f"DESCRIBE {t}").fetchall():
                failures.append(f"partial lake {t}: the DDL's types differ from a full lake's")
            n = pcon.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            if (n > 0) != t.startswith("bot_"):
                failures.append(f"partial lake {t}: {n} rows")
        # The KPIs over the lake: scripts/sql_parity.py (DuckDB and Spark).


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cxkpi", required=True)
    ap.add_argument("--update", action="store_true", help="rewrite the checked-in goldens")
    args = ap.parse_args()
    failures = []
    ultimate(args, failures)
    dialpad(args, failures)
    anywhere365(args, failures)
    samespace(args, failures)
    lake(args, failures)
    if failures:
        print("\n".join(failures[:50]), file=sys.stderr)
        print(f"parity: 0 passed, {len(failures)} failed")
        return 1
    print("parity: DuckDB running the SQL of `cxkpi sql` agrees with cxkpi on every family (Ultimate, Dialpad, Anywhere365, Samespace), and reads the lake"
          + (" (goldens rewritten)" if args.update else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
