# Sourced by run-python.sh, run-kotlin.sh and run-swift.sh: builds the relay and
# the carechain-mobile cdylib with uniffi-bindgen (one cargo invocation, the
# same features for every language, so nothing is rebuilt between them), and
# defines `generate LANGUAGE` (bindings into $out/LANGUAGE, with the library).
# Sets: root, target, profile, profile_dir, out, lib, CARECHAIN_RELAY_BIN.

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
    # A relay binary already built may be passed in CARECHAIN_RELAY_BIN.
    if [ -z "${CARECHAIN_RELAY_BIN:-}" ]; then
        cargo build --profile "$profile" -p carechain-api --bin carechain-relay
    fi
    # One build for both: the bindgen binary also builds the library, and a
    # second build with other features would overwrite the cdylib.
    cargo build --profile "$profile" -p carechain-mobile --features testkit,bindgen --lib --bin uniffi-bindgen
fi
CARECHAIN_RELAY_BIN="${CARECHAIN_RELAY_BIN:-$profile_dir/carechain-relay}"
export CARECHAIN_RELAY_BIN

lib="$profile_dir/libcarechain_mobile.so"
[ -f "$lib" ] || lib="$profile_dir/libcarechain_mobile.dylib"
for artifact in "$CARECHAIN_RELAY_BIN" "$lib" "$profile_dir/uniffi-bindgen"; do
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
