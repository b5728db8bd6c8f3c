# Sourced by the run-<language>.sh scripts: finds (or builds) the relay binary,
# the carechain-mobile cdylib and the in-tree uniffi-bindgen, and sets
#   profile_dir  the cargo output folder holding them
#   relay_bin    the carechain-relay binary (CARECHAIN_RELAY_BIN if given)
#   mobile_lib   libcarechain_mobile.so (or .dylib)
#   bindgen      the uniffi-bindgen binary
#   bindings_out target/bindings, where each language's bindings go
#
# scripts/test-all.sh runs the workspace tests with --all-features first and
# then sets CARECHAIN_PREBUILT=1: the artifacts of that build are used as they
# are, so nothing is compiled a second time with another feature set.
# Otherwise the three are built here (dev profile, which optimises every
# dependency; CARECHAIN_PROFILE=release for release).

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
profile="${CARECHAIN_PROFILE:-dev}"
if [ "$profile" = dev ]; then profile_dir="$target/debug"; else profile_dir="$target/$profile"; fi
bindings_out="$target/bindings"

if [ "${CARECHAIN_PREBUILT:-0}" != 1 ]; then
    (
        cd "$root"
        if [ -z "${CARECHAIN_RELAY_BIN:-}" ]; then
            cargo build --profile "$profile" -p carechain-api --bin carechain-relay
        fi
        # One build for both: the bindgen binary also builds the library, and a
        # second build with other features would overwrite the cdylib.
        cargo build --profile "$profile" -p carechain-mobile --features testkit,bindgen \
            --lib --bin uniffi-bindgen
    )
fi

relay_bin="${CARECHAIN_RELAY_BIN:-$profile_dir/carechain-relay}"
mobile_lib="$profile_dir/libcarechain_mobile.so"
[ -f "$mobile_lib" ] || mobile_lib="$profile_dir/libcarechain_mobile.dylib"
bindgen="$profile_dir/uniffi-bindgen"
for artifact in "$relay_bin" "$mobile_lib" "$bindgen"; do
    if [ ! -x "$artifact" ] && [ ! -f "$artifact" ]; then
        echo "missing build artifact: $artifact (run without CARECHAIN_PREBUILT=1 to build it)" >&2
        exit 1
    fi
done
export CARECHAIN_RELAY_BIN="$relay_bin"
