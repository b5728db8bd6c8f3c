#!/usr/bin/env bash
# Builds the chaincode-as-a-service package carechain.tar.gz: metadata.json
# (type "ccaas") beside code.tar.gz, which holds connection.json (where the
# peers dial the chaincode server). The peer's built-in ccaas builder reads it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
out="${1:-$PWD/carechain.tar.gz}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp "$here/connection.json" "$work/connection.json"
tar -C "$work" -czf "$work/code.tar.gz" connection.json
cp "$here/metadata.json" "$work/metadata.json"
tar -C "$work" -czf "$out" metadata.json code.tar.gz
echo "$out"
