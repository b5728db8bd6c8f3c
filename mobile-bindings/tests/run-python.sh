#!/usr/bin/env bash
# Builds the relay and the carechain-mobile cdylib, generates the Python bindings
# with the in-tree uniffi-bindgen, and runs the pytest scenario against a real
# relay. Ends with pytest's "N passed, N failed" line; exits non-zero on failure.
set -euo pipefail

source "$(dirname "$0")/common.sh"
generate python

venv="$target/python-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pytest==8.4.2"

export CARECHAIN_BINDINGS_DIR="$out/python"
trap stop_relay EXIT
if ! start_relay; then
    echo "python: 0 passed, 1 failed"
    exit 1
fi
set +e
"$venv/bin/python" -m pytest -p no:cacheprovider -v "$root/mobile-bindings/tests/python" 2>&1 | tee "$target/python-tests.log"
status=${PIPESTATUS[0]}
set -e
# A plain closing line for CI, whatever pytest printed.
passed=$(grep -cE ' PASSED' "$target/python-tests.log" || true)
failed=$(grep -cE ' (FAILED|ERROR)' "$target/python-tests.log" || true)
echo "python: ${passed} passed, ${failed} failed"
if [ "$status" -eq 0 ] && [ "$passed" -eq 0 ]; then
    echo "no Python test ran" >&2
    exit 1
fi
exit "$status"
