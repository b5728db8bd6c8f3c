# Sourced by run-python.sh, run-kotlin.sh and run-swift.sh: builds the relay,
# the staff CLI `carechain` (the stories drive the doctor, the insurer and the
# admin through it, as staff would) and the carechain-mobile cdylib with
# uniffi-bindgen (one cargo invocation, the same features for every language,
# so nothing is rebuilt between them), and defines `generate LANGUAGE`
# (bindings into $out/LANGUAGE, with the library).
# Sets: root, target, profile, profile_dir, out, lib, CARECHAIN_RELAY_BIN,
# CARECHAIN_CLI_BIN.

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$root"
target="${CARGO_TARGET_DIR:-$root/target}"
# The dev profile optimises core and every dependency (opt-level 2, see the
# workspace Cargo.toml), so Paillier key generation and argon2 run at full
# speed in it; CARECHAIN_PROFILE=release builds everything in release.
profile="${CARECHAIN_PROFILE:-dev}"
if [ "$profile" = dev ]; then profile_dir="$target/debug"; else profile_dir="$target/$profile"; fi
out="$target/bindings"

# scripts/test-all.sh runs the workspace tests with --all-features first and
# then sets CARECHAIN_PREBUILT=1: the relay, the cdylib and uniffi-bindgen of
# that build are used as they are, so nothing is compiled again with another
# feature set. Otherwise they are built here.
if [ "${CARECHAIN_PREBUILT:-0}" != 1 ]; then
    # Binaries already built may be passed in CARECHAIN_RELAY_BIN and CARECHAIN_CLI_BIN.
    if [ -z "${CARECHAIN_RELAY_BIN:-}" ]; then
        cargo build --profile "$profile" -p carechain-api --bin carechain-relay
    fi
    if [ -z "${CARECHAIN_CLI_BIN:-}" ]; then
        cargo build --profile "$profile" -p carechain-cli --bin carechain
    fi
    # One build for both: the bindgen binary also builds the library, and a
    # second build with other features would overwrite the cdylib.
    cargo build --profile "$profile" -p carechain-mobile --features bindgen --lib --bin uniffi-bindgen
fi
CARECHAIN_RELAY_BIN="${CARECHAIN_RELAY_BIN:-$profile_dir/carechain-relay}"
CARECHAIN_CLI_BIN="${CARECHAIN_CLI_BIN:-$profile_dir/carechain}"
export CARECHAIN_RELAY_BIN CARECHAIN_CLI_BIN

lib="$profile_dir/libcarechain_mobile.so"
[ -f "$lib" ] || lib="$profile_dir/libcarechain_mobile.dylib"
for artifact in "$CARECHAIN_RELAY_BIN" "$CARECHAIN_CLI_BIN" "$lib" "$profile_dir/uniffi-bindgen"; do
    if [ ! -f "$artifact" ]; then
        echo "missing build artifact: $artifact (run without CARECHAIN_PREBUILT=1 to build it)" >&2
        exit 1
    fi
done

# generate LANGUAGE [uniffi-bindgen options…]: fresh bindings and a copy of the library in $out/LANGUAGE.
generate() {
    local language="$1"
    shift
    rm -rf "${out:?}/$language"
    "$profile_dir/uniffi-bindgen" generate "$lib" --language "$language" --out-dir "$out/$language" "$@"
    cp "$lib" "$out/$language/"
}

# start_relay: a real carechain-relay on a temporary data directory and a free
# loopback port, for the tests of every language; exports
# CARECHAIN_RELAY_URL and CARECHAIN_RELAY_DATA_DIR (the admin's keystore is
# there, sealed with "keystore-passphrase"; the admin logs in as
# admin@example.org / admin-password-1). Stopped by stop_relay, which the
# caller's EXIT trap runs. The data directory is under target/, which the
# Swift chroot sees too.
relay_pid=""
relay_dir=""
start_relay() {
    local workdir port url
    mkdir -p "$target/relays"
    workdir="$(mktemp -d "$target/relays/relay.XXXXXX")"
    relay_dir="$workdir"
    port="$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
    (
        cd "$workdir"
        exec env -u DATABASE_URL -u CARECHAIN_DATABASE_URL \
            CARECHAIN_ADMIN_PASSPHRASE=keystore-passphrase CARECHAIN_ADMIN_PASSWORD=admin-password-1 \
            CARECHAIN_LISTEN="127.0.0.1:$port" CARECHAIN_DATA_DIR="$workdir/data" \
            CARECHAIN_LEDGER_AUDIENCE=carechain CARECHAIN_LOGIN_ATTEMPTS_PER_MINUTE=1000 CARECHAIN_WORKERS=2 \
            CARECHAIN_SIGNUPS_PER_CLIENT_PER_HOUR=1000000 CARECHAIN_SIGNUPS_PER_HOUR=1000000 \
            CARECHAIN_PATIENT_REGISTRATIONS_PER_CLIENT_PER_HOUR=1000000 CARECHAIN_PATIENT_REGISTRATIONS_PER_HOUR=1000000 \
            RUST_LOG="${RUST_LOG:-warn,carechain_api::push=debug}" \
            "$CARECHAIN_RELAY_BIN" serve --admin-email admin@example.org </dev/null >"$workdir/relay.log" 2>&1
    ) &
    relay_pid=$!
    url="http://127.0.0.1:$port"
    for _ in $(seq 1 300); do
        curl -fsS -o /dev/null "$url/readyz" 2>/dev/null && break
        kill -0 "$relay_pid" 2>/dev/null || break
        sleep 0.2
    done
    if ! curl -fsS -o /dev/null "$url/readyz" 2>/dev/null; then
        echo "the relay did not start:" >&2
        cat "$workdir/relay.log" >&2
        return 1
    fi
    export CARECHAIN_RELAY_URL="$url" CARECHAIN_RELAY_DATA_DIR="$workdir/data"
}
stop_relay() {
    # Called from the EXIT trap: on a failed step, show what the relay logged
    # (warnings and errors by default) before its directory goes.
    local status=$?
    if [ "$status" -ne 0 ] && [ -n "$relay_dir" ] && [ -s "$relay_dir/relay.log" ]; then
        echo "--- the relay's log (last 200 lines) ---" >&2
        tail -n 200 "$relay_dir/relay.log" >&2
    fi
    if [ -n "$relay_pid" ]; then
        kill "$relay_pid" 2>/dev/null || true
        wait "$relay_pid" 2>/dev/null || true
        relay_pid=""
    fi
    if [ -n "$relay_dir" ]; then
        rm -rf "$relay_dir"
        relay_dir=""
    fi
}
