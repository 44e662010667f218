#!/usr/bin/env bash
# The whole test suite: Rust unit and CLI tests, DuckDB parity of the queries/ SQL, then
# the rendered SQL on DuckDB and Spark against `cxkpi metrics --lake`.
# One build profile (release) serves the tests, the benches and the binary.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
# Cargo's own target directory unless CARGO_TARGET_DIR says otherwise (CI points it at a
# cache), so `cargo run --release` and this script share one build.
target="${CARGO_TARGET_DIR:-$root/target}"
cargo test --release --all-targets
cargo build --release --bin cxkpi
python="$(scripts/python-env.sh)"
"$python" scripts/parity.py --cxkpi "$target/release/cxkpi"
# `cxkpi sql` on DuckDB and on Spark (local mode, Java from scripts/java-env.sh) against
# `cxkpi metrics --lake`.
java_home="$(scripts/java-env.sh)"
JAVA_HOME="$java_home" "$python" scripts/sql_parity.py --cxkpi "$target/release/cxkpi"
# The voice KPIs on two public real-world call datasets (skipped where they are absent).
"$python" scripts/realworld.py --cxkpi "$target/release/cxkpi"
# `cxkpi report` rendered by headless Chromium (installed by scripts/chromium-env.sh).
chromium="$(scripts/chromium-env.sh)"
"$python" scripts/report_check.py --cxkpi "$target/release/cxkpi" --chromium "$chromium"
