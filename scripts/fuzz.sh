#!/usr/bin/env bash
# Coverage-guided fuzzing of the parser and the vendor readers with cargo fuzz (libFuzzer).
#   scripts/fuzz.sh [SECONDS_PER_TARGET]      (default 300)
# Installs cargo-fuzz from crates.io when missing. cargo fuzz needs nightly flags; on the
# stable toolchain RUSTC_BOOTSTRAP=1 allows them. The first build compiles polars with
# coverage instrumentation (about half an hour on 2 cores); later runs reuse it.
# Corpora start from data-samples/ and grow in fuzz/corpus/; crashes land in fuzz/artifacts/.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root/fuzz"
seconds="${1:-300}"
export RUSTC_BOOTSTRAP=1
if ! cargo fuzz --version >/dev/null 2>&1; then
  cargo install cargo-fuzz --locked
fi
mkdir -p corpus/json corpus/readers
for f in "$root"/data-samples/*/*.json; do
  cp -n "$f" corpus/readers/ 2>/dev/null || true
  # One record (a line) of each sample as a JSON seed.
  head -c 4000 "$f" | head -n 1 > "corpus/json/$(basename "$f").line" || true
done
# AddressSanitizer (cargo fuzz's default) watches the parser's unsafe SIMD loads and
# unchecked UTF-8 borrows; debug assertions are on.
for target in json readers; do
  cargo fuzz run "$target" "corpus/$target" -- \
    -max_total_time="$seconds" -max_len=65536 -timeout=10 -rss_limit_mb=4096 \
    2>&1 | tee "/tmp/cxkpi-fuzz-$target.log" | grep -E "^#[0-9]+.*(DONE|pulse)|Done|ERROR|panicked" || true
  grep -E "Done [0-9]+ runs" "/tmp/cxkpi-fuzz-$target.log" || { echo "fuzz $target failed"; exit 1; }
done
