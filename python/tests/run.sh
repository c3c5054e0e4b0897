#!/usr/bin/env bash
# Builds the Python package into a virtual environment and runs its test suite.
#
#   bash python/tests/run.sh [pytest arguments...]
#
# Creates (or reuses) .venv at the repository root with $PYTHON (default python3, 3.10 or
# newer), installs python/tests/requirements.txt from PyPI when it changed, builds the native
# module with maturin (dev profile; DCOM_PY_RELEASE=1 for the release profile) and installs the
# package in editable mode, then runs pytest on python/tests. Needs only Rust and Python with
# venv and pip. Cargo's target directory is $CARGO_TARGET_DIR, or target/ as usual.
set -euo pipefail
cd "$(dirname "$0")/../.."

PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

if [ ! -x "$VENV/bin/python" ]; then
  echo "run.sh: creating $VENV with $($PYTHON --version 2>&1)"
  "$PYTHON" -m venv "$VENV"
fi
# shellcheck disable=SC1091
source "$VENV/bin/activate"

requirements=python/tests/requirements.txt
stamp="$VENV/.dcom-detect-test-requirements"
if ! cmp -s "$requirements" "$stamp" 2>/dev/null; then
  echo "run.sh: installing test requirements"
  python -m pip install -q --upgrade pip
  python -m pip install -q -r "$requirements"
  cp "$requirements" "$stamp"
fi

profile=()
if [ "${DCOM_PY_RELEASE:-0}" != 0 ]; then profile=(--release); fi
echo "run.sh: building the extension (maturin develop ${profile[*]:-})"
maturin develop -q "${profile[@]}"

exec python -m pytest python/tests "$@"
