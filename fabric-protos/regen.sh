#!/usr/bin/env bash
# Regenerates src/gen from protos/ with the pure-Rust protox compiler (no
# system protoc) and fails if the committed code differs.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$here/../target/fabric-protos-gen}" \
    cargo run --release --quiet --manifest-path "$here/gen/Cargo.toml"
git -C "$here" diff --exit-code -- src/gen && echo "fabric-protos: generated code is up to date"
