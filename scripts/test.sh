#!/usr/bin/env bash
# The whole test suite: Rust unit and CLI tests, then DuckDB parity of the queries/ SQL.
# One build profile (release) serves the tests, the benches and the binary.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/cxkpi/target}"
cargo test --release --all-targets
cargo build --release --bin cxkpi
python="$(scripts/python-env.sh)"
"$python" scripts/parity.py --cxkpi "$CARGO_TARGET_DIR/release/cxkpi"
