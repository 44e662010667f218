#!/usr/bin/env bash
# Makes sure a Java runtime (17 or later) is on PATH for local Spark, installing Debian's
# OpenJDK 17 when none is; prints JAVA_HOME. Tests never use a JDK installed by hand.
set -euo pipefail
if ! command -v java >/dev/null 2>&1; then
  sudo=""
  [ "$(id -u)" -ne 0 ] && sudo="sudo"
  $sudo apt-get update -qq >&2
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq openjdk-17-jre-headless >&2
fi
dirname "$(dirname "$(readlink -f "$(command -v java)")")"
