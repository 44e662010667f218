#!/usr/bin/env python3
"""`cxkpi report` as a person sees it: rendered by headless Chromium.

Writes the report of a generated lake of all four vendors, has Chromium render it (the DOM
after layout, and a screenshot), and checks that the page logs nothing to the console (it
has no script and loads nothing, so any message is a defect), that every chart was laid
out, and that each headline figure shows, as a reader reads it, the number
`cxkpi metrics --lake` prints for the same range.

Usage: report_check.py --cxkpi PATH --chromium PATH [--screenshot FILE]
"""
import argparse
import json
import subprocess
import sys
import tempfile
from html.parser import HTMLParser
from pathlib import Path

TZ = "Europe/Amsterdam"


def run(*args):
    r = subprocess.run(list(args), capture_output=True, text=True)
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r


class Page(HTMLParser):
    """The headline figures (section, column, shown text) and the laid-out charts."""

    def __init__(self):
        super().__init__()
        self.section = None
        self.kpis = []
        self.svgs = 0
        self._kpi = None
        self._in_value = False

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.section = a.get("id")
        elif tag == "svg":
            self.svgs += 1
        elif tag == "div" and a.get("class") == "kpi":
            self._kpi = [self.section, a["data-column"], a["data-value"], ""]
        elif tag == "span" and a.get("class") == "value" and self._kpi:
            self._in_value = True

    def handle_endtag(self, tag):
        if tag == "span" and self._in_value:
            self._in_value = False
            self.kpis.append(tuple(self._kpi))
            self._kpi = None

    def handle_data(self, data):
        if self._in_value:
            self._kpi[3] += data


def shown(v, column):
    """How the page shows a value of `column`."""
    if v is None:
        return "–"
    if column.endswith("_rate") or column.endswith("_share") or column.startswith("sla_share"):
        return f"{v * 100:.1f}%"
    if column.endswith("_sec"):
        return f"{v:.1f} s"
    return f"{round(v):,}"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cxkpi", required=True)
    ap.add_argument("--chromium", required=True)
    ap.add_argument("--screenshot")
    args = ap.parse_args()
    failures = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        inbox, lake = tmp / "inbox", tmp / "lake"
        for vendor, n in [("ultimate", "300"), ("dialpad", "80"), ("anywhere365", "300"), ("samespace", "200")]:
            run(args.cxkpi, "-q", "generate", vendor, "--out", str(inbox / vendor), "--days", "14",
                "--per-day", n, "--start", "2024-10-20")
        run(args.cxkpi, "-q", "ingest", str(inbox), "--lake", str(lake))
        html = tmp / "report.html"
        run(args.cxkpi, "-q", "report", "--lake", str(lake), "--tz", TZ, "--output", str(html))
        chrome = [args.chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                  "--enable-logging=stderr", "--v=0", "--window-size=1000,1400"]
        r = subprocess.run([*chrome, "--dump-dom", html.as_uri()], capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise SystemExit(f"chromium failed ({r.returncode}): {r.stderr[-2000:]}")
        console = [l for l in r.stderr.splitlines() if "CONSOLE" in l]
        if console:
            failures.append("console messages: " + " | ".join(console[:5]))
        page = Page()
        page.feed(r.stdout)
        if page.svgs < 8:
            failures.append(f"{page.svgs} charts laid out, expected at least 8")
        metrics = {
            "bot": ["bot"],
            "messaging": None,  # per column below
            "queue": ["queue"],
            "calls": ["calls"],
        }
        views = {"interactions": "interactions", "customer_sessions": "interactions", "messages": "interactions",
                 "escalation_rate": "handoff", "containment_rate": "handoff",
                 "first_response_p50_sec": "response-times"}
        cache = {}
        for section, column, value, text in page.kpis:
            cli = metrics.get(section) or ["messaging", "--view", views[column]]
            key = tuple(cli)
            if key not in cache:
                out = run(args.cxkpi, "-q", "metrics", *cli, "--lake", str(lake), "--format", "json").stdout
                cache[key] = json.loads(out)[0]
            expected = cache[key].get(column)
            if expected is None and value != "":
                failures.append(f"{section} {column}: page {value!r}, metrics null")
                continue
            if expected is not None and abs(float(value) - expected) > 1e-12 * max(1.0, abs(expected)):
                failures.append(f"{section} {column}: page {value!r}, metrics {expected!r}")
            if text.strip() != shown(expected, column):
                failures.append(f"{section} {column}: the page shows {text.strip()!r}, expected {shown(expected, column)!r}")
        if len(page.kpis) < 15:
            failures.append(f"{len(page.kpis)} headline figures, expected at least 15")
        if args.screenshot:
            subprocess.run([*chrome, "--window-size=1000,2600", f"--screenshot={args.screenshot}", html.as_uri()],
                           capture_output=True, timeout=120, check=True)
    if failures:
        print("\n".join(failures), file=sys.stderr)
        print(f"report check: {len(failures)} failed")
        return 1
    print(f"report check: Chromium renders the report ({page.svgs} charts, no console message), and its "
          f"{len(page.kpis)} headline figures show what `cxkpi metrics` prints")
    return 0


if __name__ == "__main__":
    sys.exit(main())
