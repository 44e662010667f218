#!/usr/bin/env python3
"""cxkpi's voice KPIs on real call-centre data that no one here generated.

Two public call-level datasets (see their README in the data folder; they are never copied
into this repository) are mapped onto vendor exports, read by `cxkpi metrics`, and the
numbers are compared with
- figures computed here straight from the CSV, independently of cxkpi's readers, and
- the figures published for the datasets, where a cxkpi KPI is that figure.

The mapping is a choice, documented here:
- PwC "Call Centre Trends" (5,000 calls, Q1 2021) as Anywhere365 Dialogues: every call
  inbound; Answered Y → Outcome Accepted with the speed of answer as queue time and the talk
  duration as initial talk; N → Abandoned (no queue time known); Date + Time as the start,
  read as UTC (the file states no zone). Each rating becomes a Samespace CSAT answer to one
  question on the call.
- Technion "Anonymous Bank" (2,375 calls on 1999-08-01; the file's date column reads
  2010-08-01, the day is taken from the README) as Anywhere365 Dialogues, each identified by
  its VRU line and call id (86 call ids recur on another line, for other calls: as the id
  alone, cxkpi would rightly keep one dialogue of each pair): AGENT → Accepted,
  HANG → Abandoned when it reached a queue (`q_start` not 0:00:00), else IvrDrop; PHANTOM (a
  virtual call) → Outcome "Phantom", which no KPI but the row count takes; vru, queue and
  service seconds as the IVR, queue and initial-talk durations; an abandoned call's wait
  ends `q_time` seconds after it entered the queue.

The Anonymous Bank's published mean queue and service times (111.53 s, 123.75 s) average
over every row, phantoms and hang-ups included, which no cxkpi KPI does: they are not
compared.

Exits 0 when every figure matches, 1 on any difference, and 0 with a note when the data
folder is absent (the data is not part of the repository). Uses the standard library only.

Usage: realworld.py --cxkpi PATH/TO/cxkpi [--data DIR]
"""
import argparse
import csv
import io
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PWC = "pwc-call-centre-q1-2021.csv"
BANK = "anonymous-bank-1999-08-01.csv"


def seconds(clock: str, sep: str) -> int:
    """`0.02.23` (sep '.') or `0:10:27` (sep ':') as seconds."""
    h, m, s = (int(x) for x in clock.split(sep))
    return h * 3600 + m * 60 + s


def iso(day: str, clock: str, sep: str) -> str:
    s = seconds(clock, sep)
    return f"{day}T{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}Z"


def cxkpi(exe: str, *args: str) -> list[dict]:
    out = subprocess.run([exe, "-q", *args, "--format", "csv"], check=True,
                         capture_output=True, text=True).stdout
    return list(csv.DictReader(io.StringIO(out)))


class Check:
    def __init__(self):
        self.failed = 0

    def same(self, what: str, got, want, tol: float = 1e-9):
        ok = (got is None and want is None) or (
            got is not None and want is not None
            and abs(float(got) - float(want)) <= tol * max(1.0, abs(float(want))))
        if not ok:
            self.failed += 1
        print(f"  {'ok  ' if ok else 'FAIL'} {what}: cxkpi {got}, expected {want}")

    def rounded(self, what: str, got, published: float, places: int):
        """A published figure, given to `places` decimals."""
        ok = got is not None and round(float(got), places) == published
        if not ok:
            self.failed += 1
        print(f"  {'ok  ' if ok else 'FAIL'} {what}: cxkpi {got}, published {published}")


def mean(values: list[float]):
    return sum(values) / len(values) if values else None


def pwc(exe: str, data: Path, tmp: Path, check: Check):
    rows = list(csv.DictReader(open(data / PWC, newline="")))
    dialogues, csat = [], []
    for r in rows:
        start = iso(r["Date"], r["Time"], ".")
        answered = r["Answered (Y/N)"] == "Y"
        dialogues.append({
            "id": r["Call Id"], "startTimestamp": start, "direction": "Inbound",
            "Outcome": "Accepted" if answered else "Abandoned",
            "queueDurationInSec": float(r["Speed of answer in seconds"]) if answered else None,
            "initialTalkDurationInSec":
                seconds(r["AvgTalkDuration"], ".") if answered else None,
        })
        if r["Satisfaction rating"]:
            csat.append({"_id": r["Call Id"], "start_time": start, "direction": "in", "csat": [{
                "_id": f"{r['Call Id']}-1", "timestamp": start, "uuid": r["Call Id"],
                "question": "SURVEY_ANSWER_1:Satisfaction rating",
                "answer": r["Satisfaction rating"]}]})
    (tmp / "pwc").mkdir()
    (tmp / "pwc" / "dialogues.json").write_text("\n".join(json.dumps(d) for d in dialogues))
    (tmp / "pwc-csat").mkdir()
    (tmp / "pwc-csat" / "csat.json").write_text(json.dumps({"total": len(csat), "data": csat}))

    answered = [r for r in rows if r["Answered (Y/N)"] == "Y"]
    print(f"PwC call centre, {len(rows)} calls")
    q = cxkpi(exe, "metrics", "queue", str(tmp / "pwc"))[0]
    check.same("offered", q["offered"], len(rows))
    check.same("accepted", q["accepted"], len(answered))
    check.same("asa_sec", q["asa_sec"],
               mean([float(r["Speed of answer in seconds"]) for r in answered]))
    check.same("avg_talk_sec", q["avg_talk_sec"],
               mean([seconds(r["AvgTalkDuration"], ".") for r in answered]))
    check.rounded("answer rate (%)", 100 * int(q["accepted"]) / int(q["offered"]), 81.08, 2)
    check.rounded("abandon rate (%)", 100 * float(q["abandon_rate"]), 18.92, 2)
    check.rounded("ASA (s)", q["asa_sec"], 67.52, 2)
    jan = cxkpi(exe, "metrics", "queue", str(tmp / "pwc"), "--from", "2021-01-01",
                "--to", "2021-02-01")[0]
    check.same("January calls", jan["offered"], 1772)

    rated = [int(r["Satisfaction rating"]) for r in rows if r["Satisfaction rating"]]
    c = cxkpi(exe, "metrics", "csat", str(tmp / "pwc-csat"))[0]
    check.same("ratings", c["responses"], len(rated))
    check.same("avg rating", c["avg_score"], mean(rated))
    check.rounded("CSAT", c["avg_score"], 3.40, 2)
    jan_rated = [int(r["Satisfaction rating"]) for r in rows
                 if r["Satisfaction rating"] and r["Date"] < "2021-02-01"]
    cj = cxkpi(exe, "metrics", "csat", str(tmp / "pwc-csat"), "--from", "2021-01-01",
               "--to", "2021-02-01")[0]
    check.same("January avg rating", cj["avg_score"], mean(jan_rated))
    check.rounded("January CSAT", cj["avg_score"], 3.45, 2)


def bank(exe: str, data: Path, tmp: Path, check: Check):
    rows = list(csv.DictReader(open(data / BANK, newline="")))
    day = "1999-08-01"

    def outcome(r):
        if r["outcome"] == "AGENT":
            return "Accepted"
        if r["outcome"] == "HANG":
            return "Abandoned" if r["q_start"] != "0:00:00" else "IvrDrop"
        return "Phantom"

    dialogues = []
    for r in rows:
        queued = r["q_start"] != "0:00:00"
        enter = iso(day, r["q_start"], ":") if queued else None
        end = None
        if queued and outcome(r) == "Abandoned":
            s = seconds(r["q_start"], ":") + int(r["q_time"])
            end = f"{day}T{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}Z" if s < 86400 \
                else None
        dialogues.append({
            "id": f'{r["vru+line"]}/{r["call_id"]}', "startTimestamp": iso(day, r["vru_entry"], ":"),
            "direction": "Inbound", "Outcome": outcome(r),
            "ivrDurationInSec": float(r["vru_time"]),
            "queueDurationInSec": float(r["q_time"]),
            "initialTalkDurationInSec": float(r["ser_time"]),
            "queueEnterTimestamp": enter, "endTimestamp": end,
        })
    (tmp / "bank").mkdir()
    (tmp / "bank" / "dialogues.json").write_text("\n".join(json.dumps(d) for d in dialogues))

    by = {o: [r for r in rows if outcome(r) == o] for o in ("Accepted", "Abandoned", "IvrDrop")}
    waits = [float(r["q_time"]) for r in by["Accepted"] + by["Abandoned"]]
    print(f"Anonymous Bank, {len(rows)} calls")
    q = cxkpi(exe, "metrics", "queue", str(tmp / "bank"))[0]
    check.same("rows (published 2,375)", q["inbound_dialogues"], 2375)
    check.same("hang-ups (published 846)", int(q["abandoned"]) + int(q["ivr_drops"]), 846)
    check.same("accepted", q["accepted"], len(by["Accepted"]))
    check.same("abandoned", q["abandoned"], len(by["Abandoned"]))
    check.same("asa_sec", q["asa_sec"], mean([float(r["q_time"]) for r in by["Accepted"]]))
    check.same("avg_talk_sec", q["avg_talk_sec"],
               mean([float(r["ser_time"]) for r in by["Accepted"]]))
    check.same("avg_ivr_sec", q["avg_ivr_sec"], mean([float(r["vru_time"]) for r in rows]))
    check.same("max_queue_sec", q["max_queue_sec"], max(waits))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cxkpi", required=True)
    ap.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "realworld")
    a = ap.parse_args()
    if not all((a.data / f).is_file() for f in (PWC, BANK)):
        print(f"realworld: skipped, no {PWC} and {BANK} in {a.data}")
        return 0
    check = Check()
    with tempfile.TemporaryDirectory() as tmp:
        pwc(a.cxkpi, a.data, Path(tmp), check)
        bank(a.cxkpi, a.data, Path(tmp), check)
    if check.failed:
        print(f"realworld: {check.failed} figures differ")
        return 1
    print("realworld: every figure matches")
    return 0


if __name__ == "__main__":
    sys.exit(main())
