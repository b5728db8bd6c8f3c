#!/usr/bin/env bash
# Builds the relay and the carechain-mobile cdylib, generates the Python bindings
# with the in-tree uniffi-bindgen, and runs the pytest scenario against a real
# relay. Ends with pytest's "N passed, N failed" line; exits non-zero on failure.
set -euo pipefail

root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
# The dev profile optimises core and every dependency (opt-level 2, see the
# workspace Cargo.toml), so Paillier key generation and argon2 run at full
# speed in it; CARECHAIN_PROFILE=release builds everything in release.
profile="${CARECHAIN_PROFILE:-dev}"
if [ "$profile" = dev ]; then profile_dir="$target/debug"; else profile_dir="$target/$profile"; fi
out="$target/bindings"

# A relay binary already built (e.g. by CI) may be passed in CARECHAIN_RELAY_BIN.
if [ -z "${CARECHAIN_RELAY_BIN:-}" ]; then
    cargo build --profile "$profile" -p carechain-api --bin carechain-relay
    CARECHAIN_RELAY_BIN="$profile_dir/carechain-relay"
fi
# One build for both: the bindgen binary also builds the library, and a
# second build with other features would overwrite the cdylib.
cargo build --profile "$profile" -p carechain-mobile --features testkit,bindgen --lib --bin uniffi-bindgen

lib="$profile_dir/libcarechain_mobile.so"
[ -f "$lib" ] || lib="$profile_dir/libcarechain_mobile.dylib"
rm -rf "$out/python"
"$profile_dir/uniffi-bindgen" generate "$lib" --language python --out-dir "$out/python"
cp "$lib" "$out/python/"

venv="$target/python-venv"
if [ ! -x "$venv/bin/python" ]; then
    python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "pytest==8.4.2"

export CARECHAIN_BINDINGS_DIR="$out/python"
export CARECHAIN_RELAY_BIN
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
