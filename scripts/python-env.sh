#!/usr/bin/env bash
# Creates (once) the project's Python virtual environment with the test peers pinned, and
# prints its python path. Tests never use packages installed by hand.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="${CXKPI_VENV:-$root/.venv}"
stamp="$venv/.cxkpi-requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$root/scripts/requirements-test.txt" "$stamp"; then
  python3 -m venv "$venv" >&2
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$root/scripts/requirements-test.txt" >&2
  cp "$root/scripts/requirements-test.txt" "$stamp"
fi
echo "$venv/bin/python"
