#!/usr/bin/env bash
# Makes sure a headless Chromium is available for the report tests, installing Debian's
# `chromium` package when none is; prints its path. Tests never use a browser installed by hand.
set -euo pipefail
for b in chromium chromium-browser google-chrome; do
  if command -v "$b" >/dev/null 2>&1; then command -v "$b"; exit 0; fi
done
sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >&2
command -v chromium
