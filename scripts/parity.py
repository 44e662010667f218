#!/usr/bin/env python3
"""DuckDB parity for cxkpi: the queries/ SQL against cxkpi's own numbers.

1. Generates a deterministic dataset with `cxkpi generate` (exports in every variant plus a
   plain reference twin of every delivered record).
2. Stages the canonical tables in DuckDB from the twin (tests/parity/*.sql), independently of
   cxkpi's reader, and runs the queries/ SQL.
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
    "popular_metrics_daily": "local_day",
}


def sql_file(path, **params):
    text = path.read_text()
    for k, v in params.items():
        text = text.replace("${" + k + "}", v)
    return text


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
        q = ROOT / "queries" / "ultimate"
        results = {
            "popular_metrics": to_csv(con, sql_file(q / "popular_metrics.sql")),
            "first_last_intent": to_csv(con, sql_file(q / "first_last_intent.sql")),
            "metrics_by_first_meaningful_intent": to_csv(con, sql_file(q / "metrics_by_first_meaningful_intent.sql")),
            "popular_metrics_daily": to_csv(con, sql_file(q / "popular_metrics_daily_duckdb.sql", tz=TZ)),
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
        for r in act:
            r["local_day"] = r["bucket_start"][:10]
        compare("daily in " + TZ, exp, act, "local_day", list(exp[0].keys()), failures)


DIALPAD_GEN = ["--days", "10", "--per-day", "150", "--seed", "11", "--start", "2024-03-25"]
# view -> (SQL file, the view's own dimension or None)
DIALPAD_VIEWS = {
    "interactions": ("view_interactions.sql", None),
    "interaction-type": ("view_interaction_type.sql", "chattype"),
    "customer-endpoint": ("view_customer_endpoint.sql", "sessionchannel"),
    "intents": ("view_intents.sql", "topic"),
    "sentiment": ("view_sentiment.sql", None),
    "handoff": ("view_handoff.sql", None),
    "response-times": ("view_response_times.sql", None),
}


def bucketed(sql, bucket, intent_type="NULL"):
    sql = re.sub(r"\$\{bucket\((\w+)\)\}", lambda m: bucket.replace("COL", m.group(1)), sql)
    return sql.replace("${intent_type}", intent_type)


def dialpad(args, failures):
    golden_dir = ROOT / "tests" / "golden" / "dialpad"
    q = ROOT / "queries" / "dialpad"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        exports, ref = tmp / "pulls", tmp / "reference.ndjson"
        cxkpi(args.cxkpi, "-q", "generate", "dialpad", "--out", str(exports), "--reference", str(ref), *DIALPAD_GEN)
        con = duckdb.connect()
        con.execute(sql_file(ROOT / "tests/parity/stage_dialpad_reference.sql", ref=str(ref)))
        con.execute("CREATE TABLE interactions AS " + (q / "interactions.sql").read_text())
        buckets = {
            "total": ("'total'", []),
            "daily": (f"CAST(timezone('{TZ}', COL) AS DATE)", ["--interval", "1d", "--tz", TZ]),
        }
        cases = [(v, None) for v in DIALPAD_VIEWS] + [("intents", "bot"), ("intents", "agent")]
        for view, intent_type in cases:
            sql_name, dim = DIALPAD_VIEWS[view]
            for bname, (expr, cli) in buckets.items():
                name = f"{view}{'_' + intent_type if intent_type else ''}_{bname}"
                sql = bucketed((q / sql_name).read_text(), expr, f"'{intent_type}'" if intent_type else "NULL")
                text = to_csv(con, sql)
                key = ["bucket"] + ([dim] if dim else [])
                check_golden(golden_dir, name, text, key, args.update, failures)
                extra = ["--intent-type", intent_type] if intent_type else []
                act = parse_csv(cxkpi(args.cxkpi, "-q", "metrics", "messaging", str(exports), "--view", view,
                                      *cli, *extra, "--format", "csv"))
                for r in act:
                    r["bucket"] = r["bucket_start"][:10] if "bucket_start" in r else "total"
                exp = parse_csv(text)
                compare(f"dialpad {name}", exp, act, key, [c for c in exp[0].keys()], failures)


def case(con, golden_dir, name, sql, cli, key, args, failures, rename=None, skip=()):
    """One query against cxkpi: DuckDB's result checked against its golden, then against
    cxkpi's output for the same data (columns renamed by `rename`, `skip` not compared)."""
    text = to_csv(con, sql)
    check_golden(golden_dir, name, text, key, args.update, failures)
    act = parse_csv(cxkpi(args.cxkpi, "-q", *cli, "--format", "csv"))
    for r in act:
        r["bucket"] = r["bucket_start"][:10] if "bucket_start" in r else "total"
        for ours, theirs in (rename or {}).items():
            r[theirs] = r.get(ours, "")
    exp = parse_csv(text)
    if not exp:
        failures.append(f"{name}: DuckDB returned no rows")
        return
    compare(name, exp, act, key, [c for c in exp[0].keys() if c not in skip], failures)


BUCKETS = {
    "total": ("'total'", []),
    "daily": (f"CAST(timezone('{TZ}', COL) AS DATE)", ["--interval", "1d", "--tz", TZ]),
}
VOICE_GEN = ["--days", "8", "--per-day", "300", "--seed", "3", "--start", "2024-03-27"]


def anywhere365(args, failures):
    golden_dir = ROOT / "tests" / "golden" / "anywhere365"
    q = ROOT / "queries" / "anywhere365"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        exports, ref = tmp / "dialogues", tmp / "reference.ndjson"
        cxkpi(args.cxkpi, "-q", "generate", "anywhere365", "--out", str(exports), "--reference", str(ref), *VOICE_GEN)
        con = duckdb.connect()
        con.execute(sql_file(ROOT / "tests/parity/stage_anywhere365_reference.sql", ref=str(ref)))
        levels = ["v1", "v2", "v3", "v4", "v5", "v6"]
        rename = {f"service_level_{v}_30s": v for v in levels}
        rename.update({"in_sla_30s": "in_sla_t", "sla_accepted_known_30s": "sla_accepted_known_t",
                       "sla_share_30s": "sla_share_t", "quick_drops_20s": "quick_drops_q",
                       "quick_drop_share_20s": "quick_drop_share_q",
                       "abandon_rate_excl_quick_20s": "abandon_rate_excl_quick_q"})
        for bname, (expr, cli) in BUCKETS.items():
            case(con, golden_dir, f"queue_{bname}", bucketed((q / "queue.sql").read_text(), expr),
                 ["metrics", "queue", str(exports), *cli], ["bucket"], args, failures)
            sql = (q / "service_levels.sql").read_text().replace("${t}", "30").replace("${q}", "20")
            case(con, golden_dir, f"service_levels_{bname}", bucketed(sql, expr),
                 ["metrics", "queue", str(exports), "--sla-threshold", "30", "--quick-drop-threshold", "20",
                  "--service-level", ",".join(levels), *cli], ["bucket"], args, failures, rename=rename)


def samespace(args, failures):
    golden_dir = ROOT / "tests" / "golden" / "samespace"
    q = ROOT / "queries" / "samespace"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        exports, ref = tmp / "reports", tmp / "reference.ndjson"
        cxkpi(args.cxkpi, "-q", "generate", "samespace", "--out", str(exports), "--reference", str(ref), *VOICE_GEN)
        con = duckdb.connect()
        con.execute(sql_file(ROOT / "tests/parity/stage_samespace_reference.sql", ref=str(ref)))
        for bname, (expr, cli) in BUCKETS.items():
            case(con, golden_dir, f"calls_{bname}", bucketed((q / "calls.sql").read_text(), expr),
                 ["metrics", "calls", str(exports), *cli], ["bucket"], args, failures)
            case(con, golden_dir, f"csat_{bname}", bucketed((q / "csat.sql").read_text(), expr),
                 ["metrics", "csat", str(exports), *cli], ["bucket", "question_id"], args, failures,
                 skip=("question",))
            case(con, golden_dir, f"agent_sessions_{bname}", bucketed((q / "agent_sessions.sql").read_text(), expr),
                 ["metrics", "agents", str(exports), *cli], ["bucket"], args, failures)
        case(con, golden_dir, "productivity", (q / "productivity.sql").read_text(),
             ["metrics", "agents", str(exports), "--source", "productivity"], None, args, failures, skip=("bucket",))


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
        # The queries/ SQL over the lake, against cxkpi over the lake.
        q = ROOT / "queries"
        checks = [
            (sql_file(q / "ultimate" / "popular_metrics.sql"), ["metrics", "bot"], None),
            (bucketed((q / "anywhere365" / "queue.sql").read_text(), "'total'"), ["metrics", "queue"], ["bucket"]),
            (bucketed((q / "samespace" / "calls.sql").read_text(), "'total'"), ["metrics", "calls"], ["bucket"]),
        ]
        for sql, cli, key in checks:
            exp = parse_csv(to_csv(con, sql))
            act = parse_csv(cxkpi(args.cxkpi, "-q", *cli, "--lake", str(lake_dir), "--format", "csv"))
            for r in act:
                r["bucket"] = "total"
            compare(f"lake {' '.join(cli)}", exp, act, key, list(exp[0].keys()), failures)
        con.execute("CREATE TABLE interactions AS " + (q / "dialpad" / "interactions.sql").read_text())
        exp = parse_csv(to_csv(con, bucketed((q / "dialpad" / "view_response_times.sql").read_text(), "'total'")))
        act = parse_csv(cxkpi(args.cxkpi, "-q", "metrics", "messaging", "--lake", str(lake_dir), "--view",
                              "response-times", "--format", "csv"))
        for r in act:
            r["bucket"] = "total"
        compare("lake messaging response-times", exp, act, ["bucket"], list(exp[0].keys()), failures)


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
    print("parity: DuckDB and cxkpi agree on every query of queries/ (Ultimate, Dialpad, Anywhere365, Samespace), from files and from the lake"
          + (" (goldens rewritten)" if args.update else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
