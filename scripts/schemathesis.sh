#!/usr/bin/env bash
# Fuzzes the running relay against its own OpenAPI document with
# schemathesis (from PyPI, pinned), once without a token and once as each
# role: every answer must be declared in the document (status, content type,
# body schema) and none may be a 5xx.
#
# Uses the debug relay binary and the client's role_tokens example, which
# the workspace build has made. SCHEMATHESIS_SECONDS bounds each run
# (default 40). Stops the relay and removes its data at exit.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

version="4.32.5"
seconds="${SCHEMATHESIS_SECONDS:-40}"
target="${CARGO_TARGET_DIR:-$root/target}"
venv="$target/schemathesis-venv"
if ! "$venv/bin/schemathesis" --version 2>/dev/null | grep -q "$version"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q "schemathesis==$version"
fi

relay_bin="$target/debug/carechain-relay"
# The workspace's feature set, so that nothing the tests built is rebuilt.
cargo build -q --workspace --all-features --bin carechain-relay --example role_tokens

dir="$(mktemp -d)"
port="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
url="http://127.0.0.1:$port"
env -u DATABASE_URL -u CARECHAIN_DATABASE_URL CARECHAIN_ADMIN_PASSPHRASE=keystore-passphrase CARECHAIN_ADMIN_PASSWORD=admin-password-1 \
    CARECHAIN_LISTEN="127.0.0.1:$port" CARECHAIN_DATA_DIR="$dir/data" \
    CARECHAIN_LOGIN_ATTEMPTS_PER_MINUTE=100000 RUST_LOG=warn \
    "$relay_bin" serve --admin-email admin@example.org >"$dir/relay.log" 2>&1 &
relay=$!
trap 'kill $relay 2>/dev/null || true; wait $relay 2>/dev/null || true; rm -rf "$dir"' EXIT
for _ in $(seq 1 300); do
    curl -fs "$url/readyz" >/dev/null 2>&1 && break
    kill -0 $relay 2>/dev/null || { cat "$dir/relay.log"; exit 1; }
    sleep 0.2
done

tokens="$("$target/debug/examples/role_tokens" "$url" "$dir/data/admin.keystore")"
checks="not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance"
failed=0
for role in anonymous admin doctor insurer patient; do
    auth=()
    if [ "$role" != anonymous ]; then
        token="$(python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$tokens" "$role")"
        auth=(-H "Authorization: Bearer $token")
    fi
    printf '\n==> schemathesis as %s (%s s)\n' "$role" "$seconds"
    # One worker: hypothesis's lambda descriptions are not thread-safe and
    # fail as "AST constructor recursion depth mismatch" with several.
    # From the temporary directory: schemathesis keeps its state in the
    # working directory.
    if ! (cd "$dir" && "$venv/bin/schemathesis" run "$url/v1/openapi.json" "${auth[@]}" \
        --checks "$checks" --phases examples,coverage,fuzzing \
        --max-time "$seconds" --workers 1 --no-color >"$dir/$role.txt" 2>&1); then
        failed=1
        cat "$dir/$role.txt"
    fi
    grep -E "generated,|passed|failed" "$dir/$role.txt" | tail -n 2
done
if grep -q "panicked" "$dir/relay.log"; then
    echo "the relay panicked:" >&2
    grep -A5 "panicked" "$dir/relay.log" >&2
    failed=1
fi
exit "$failed"
