#!/usr/bin/env bash
# Installs the system tools the test suite needs when they are missing: valgrind, gcc, g++,
# make, pkg-config and a Java 17+ runtime for the Spark test (Debian/Ubuntu packages, with
# sudo when not root). Python packages are
# installed by python/tests/run.sh into .venv; Rust crates by cargo.
set -euo pipefail
missing=()
for tool in valgrind gcc g++ make pkg-config; do
  command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
# PySpark 4 needs Java 17 or newer.
java_major=$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)
if [ "${java_major:-0}" -lt 17 ]; then missing+=(default-jre-headless); fi
[ ${#missing[@]} -eq 0 ] && exit 0
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-deps: please install: ${missing[*]}" >&2
  exit 1
fi
if [ "$(id -u)" = 0 ]; then sudo=(); else sudo=(sudo); fi
echo "install-deps: installing ${missing[*]}"
"${sudo[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq "${missing[@]}"
