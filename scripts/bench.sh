#!/usr/bin/env bash
# The peer benchmark (cxkpi vs DuckDB, Polars and chDB, every vendor at three history sizes);
# writes BENCHMARKS.md.
# Extra arguments go to scripts/bench.py (e.g. --sizes 1,2 --per-day 5000 --runs 1 for a quick run;
# --sizes "" --small-files 2000 for the one-record-per-file tasks alone).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
cargo build --release --bin cxkpi
venv="$root/.venv-bench"
if [ ! -x "$venv/bin/python" ] || ! cmp -s scripts/requirements-bench.txt "$venv/.cxkpi-requirements"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-bench.txt
  cp scripts/requirements-bench.txt "$venv/.cxkpi-requirements"
fi
"$venv/bin/python" scripts/bench.py --cxkpi "$target/release/cxkpi" --python "$venv/bin/python" "$@"
