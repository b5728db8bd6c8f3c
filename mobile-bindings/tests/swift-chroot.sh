#!/usr/bin/env bash
# Makes (once) the Debian 13 (trixie) chroot with `swiftlang` that
# run-swift.sh compiles and runs the Swift story in, under
# target/swift/chroot. Safe to start early and in the background (.ci/run
# does, so the download overlaps the Rust build): a lock makes run-swift.sh
# wait for a run in progress instead of starting a second one. Needs root.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
target="${CARGO_TARGET_DIR:-$root/target}"
# The chroot: swiftlang, and the C library and C++ headers its linker needs.
packages="swiftlang,libc6-dev,libstdc++-14-dev"
chroot_dir="$target/swift/chroot"
mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"

if [ "$(id -u)" -ne 0 ]; then
    echo "swift-chroot.sh needs root for debootstrap" >&2
    exit 1
fi
mkdir -p "$target/swift"
exec 9>"$target/swift/.lock"
flock 9

if [ "$(cat "$chroot_dir/.carechain-packages" 2>/dev/null)" != "$packages" ]; then
    command -v debootstrap >/dev/null ||
        { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap; }
    fresh="$target/swift/chroot.partial"
    # Never remove a tree with something mounted in it (a bind of the repository).
    if grep -qs " $target/swift/" /proc/mounts; then
        echo "something is still mounted under $target/swift; unmount it first" >&2
        exit 1
    fi
    rm -rf "$fresh" "$chroot_dir"
    started=$SECONDS
    debootstrap --variant=minbase --include="$packages" trixie "$fresh" "$mirror" >"$target/swift/debootstrap.log" 2>&1 ||
        { tail -n 20 "$target/swift/debootstrap.log" >&2; exit 1; }
    echo "$packages" >"$fresh/.carechain-packages"
    mv "$fresh" "$chroot_dir"
    echo "swift chroot made in $((SECONDS - started)) s"
fi
