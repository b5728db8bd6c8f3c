#!/usr/bin/env bash
# Builds the relay and the carechain-mobile cdylib (as run-python.sh does),
# generates the Swift bindings, compiles them with tests/swift/ inside a Debian
# 13 (trixie) chroot that has `swiftlang`, and runs the story there against a
# real relay started on the host (the chroot shares the network namespace).
# Ends with "swift: N passed, N failed"; exits non-zero on failure.
#
# Needs root (debootstrap, chroot, bind mounts). The chroot is made once by
# swift-chroot.sh and kept in target/swift/chroot; delete that folder to remake it.
set -euo pipefail

source "$(dirname "$0")/common.sh"
generate swift

if [ "$(id -u)" -ne 0 ]; then
    echo "run-swift.sh needs root for debootstrap, chroot and bind mounts" >&2
    exit 1
fi

# The chroot with swiftlang (made once, kept in target/swift/chroot).
bash "$root/mobile-bindings/tests/swift-chroot.sh"
chroot_dir="$target/swift/chroot"
packages="$(cat "$chroot_dir/.carechain-packages")"

# The repository (and the target folder, wherever it is) at the same paths
# inside the chroot, so the bindings, the library and the relay's data dir
# and the carechain CLI are visible there; everything is unmounted on exit.
mounted=()
cleanup() {
    stop_relay
    for ((i = ${#mounted[@]} - 1; i >= 0; i--)); do
        umount "${mounted[$i]}" || umount -l "${mounted[$i]}" || true
    done
}
trap cleanup EXIT
mount_in() { # mount_in SOURCE (bind) | mount_in proc
    local dest
    if [ "$1" = proc ]; then dest="$chroot_dir/proc"; else dest="$chroot_dir$1"; fi
    mkdir -p "$dest"
    if ! mountpoint -q "$dest"; then
        if [ "$1" = proc ]; then mount -t proc proc "$dest"; else mount --bind "$1" "$dest"; fi
        mounted+=("$dest")
    fi
}
mount_in proc
mount_in "$root"
case "$target/" in "$root"/*) ;; *) mount_in "$target" ;; esac
in_chroot() { chroot "$chroot_dir" env -i PATH=/usr/local/bin:/usr/bin:/bin HOME=/root "$@"; }

# swiftc takes a minute on a busy machine: reuse the binary while the
# bindings, the tests and the chroot's packages are unchanged.
build="$target/swift-tests"
mkdir -p "$build"
sources=("$out/swift/carechain_mobile.swift" "$root"/mobile-bindings/tests/swift/*.swift)
stamp="$( (echo "$packages"; cat "${sources[@]}" "$out"/swift/*.h "$out"/swift/*.modulemap) | sha256sum | cut -d' ' -f1)"
if [ ! -x "$build/story" ] || [ "$(cat "$build/stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -f "$build/story" "$build/stamp"
    in_chroot swiftc -swift-version 5 -module-name CareChainStory \
        -Xcc -fmodule-map-file="$out/swift/carechain_mobileFFI.modulemap" -I "$out/swift" \
        -L "$out/swift" -lcarechain_mobile -Xlinker -rpath -Xlinker "$out/swift" \
        "${sources[@]}" -o "$build/story"
    echo "$stamp" >"$build/stamp"
fi

# The relay, on the host (the chroot shares its network).
if ! start_relay; then
    echo "swift: 0 passed, 1 failed"
    exit 1
fi

set +e
in_chroot env CARECHAIN_RELAY_URL="$CARECHAIN_RELAY_URL" CARECHAIN_RELAY_DATA_DIR="$CARECHAIN_RELAY_DATA_DIR" \
    CARECHAIN_CLI_BIN="$CARECHAIN_CLI_BIN" "$build/story" 2>&1 |
    tee "$target/swift-tests.log"
status=${PIPESTATUS[0]}
set -e
tail -n 1 "$target/swift-tests.log" | grep -qE '^swift: [0-9]+ passed, [0-9]+ failed$' ||
    echo "swift: 0 passed, 1 failed"
exit "$status"
