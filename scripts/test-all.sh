#!/usr/bin/env bash
# Runs every test of the repository, the command README.md gives and CI runs
# after its lint steps:
#   1. the Rust workspace (unit, integration and end-to-end tests, on SQLite and
#      on the local PostgreSQL) with every feature on, so each later step reuses
#      these artifacts instead of compiling the workspace a second time;
#   2. the phone library through its generated bindings from Python, Kotlin and
#      Swift, each against a real relay;
#   3. the relay's API against its own OpenAPI document with schemathesis, as
#      every role (no 5xx, nothing undeclared);
#   4. the compile check of the phone library for Android and iOS.
# Each step prints its own "N passed, N failed" line; the script stops at the
# first step that fails.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

step() { printf '\n==> %s\n' "$*"; }

step "Rust workspace"
if cargo nextest --version >/dev/null 2>&1; then
    # nextest runs the test binaries side by side and releases cargo's lock
    # while they run; there are no doctests to lose (checked in CI's lint step).
    cargo nextest run --workspace --all-features --no-fail-fast
else
    cargo test --workspace --all-features
fi

# The relay, the phone's cdylib and uniffi-bindgen with the same features: a
# quick no-op check when the test build above already made them.
cargo build --workspace --all-features --lib --bins --tests
export CARECHAIN_PREBUILT=1

for lang in python kotlin swift; do
    script="mobile-bindings/tests/run-${lang}.sh"
    if [ -f "$script" ]; then
        step "phone bindings from ${lang}"
        bash "$script"
    fi
done

step "the relay's API against its OpenAPI document (schemathesis)"
bash scripts/schemathesis.sh

if [ -f mobile-bindings/tests/check-targets.sh ]; then
    step "phone library for aarch64-linux-android and aarch64-apple-ios"
    bash mobile-bindings/tests/check-targets.sh
fi
