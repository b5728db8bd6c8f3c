#!/usr/bin/env bash
# Compile check of carechain-mobile for the phones: the static library for
# aarch64-linux-android and aarch64-apple-ios. Linking an app needs the NDK or
# Xcode, which this machine lacks; the staticlib needs neither, except for the
# C and assembly of `ring` (rustls' crypto), which the distribution's clang
# builds for both targets with --target (no libc headers: ring needs only the
# compiler's own freestanding headers).
#
# The check has its own profile (dev without optimisation, no debug info,
# outputs in target/mobile-check/) so it neither slows down on opt-level 2
# nor touches the host builds the tests use.
set -euo pipefail
cd "$(dirname "$0")/../.."

targets=(aarch64-linux-android aarch64-apple-ios)
installed="$(rustup target list --installed)"
for t in "${targets[@]}"; do
    grep -qx "$t" <<<"$installed" || rustup target add "$t"
done
if ! command -v clang >/dev/null || ! command -v llvm-ar >/dev/null ||
    [ ! -e /usr/aarch64-linux-gnu/include/assert.h ]; then
    apt-get update -qq &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq clang llvm libc6-dev-arm64-cross
fi

# cc-rs would look for the NDK's aarch64-linux-android-clang and for Xcode's
# SDK (xcrun); plain clang with the target triple is enough for ring.
export CC_aarch64_linux_android=clang AR_aarch64_linux_android=llvm-ar
export CC_aarch64_apple_ios=clang AR_aarch64_apple_ios=llvm-ar
# ring's C includes assert.h, string.h and stdlib.h. Without the NDK's or
# Xcode's headers, Debian's aarch64 C library headers (libc6-dev-arm64-cross)
# stand in for them: the check is that the code compiles for the arm64 ABI,
# the platforms' own headers come with their SDKs.
cross_include=/usr/aarch64-linux-gnu/include
export CFLAGS_aarch64_linux_android="-isystem $cross_include"
# For iOS the SDK's headers are missing too, and glibc's do not parse for a
# Darwin target. ring's C needs only a few declarations from them (its
# memory functions, abort, assert) and TargetConditionals.h, which only says
# which Apple platform is being compiled for: the stand-ins below declare
# exactly those, as the SDK does, for an arm64 iOS device.
apple_include="${TMPDIR:-/tmp}/carechain-ios-include"
mkdir -p "$apple_include"
cat >"$apple_include/TargetConditionals.h" <<'HEADER'
/* Stand-in for the iOS SDK's TargetConditionals.h: an arm64 iOS device. */
#ifndef TARGET_OS_MAC
#define TARGET_OS_MAC 1
#define TARGET_OS_OSX 0
#define TARGET_OS_IPHONE 1
#define TARGET_OS_IOS 1
#define TARGET_OS_TV 0
#define TARGET_OS_WATCH 0
#define TARGET_OS_VISION 0
#define TARGET_OS_SIMULATOR 0
#define TARGET_OS_EMBEDDED 1
#define TARGET_CPU_ARM64 1
#endif
HEADER
cat >"$apple_include/string.h" <<'HEADER'
/* Stand-in for the iOS SDK's string.h: the declarations ring uses. */
#pragma once
#include <stddef.h>
void *memcpy(void *dst, const void *src, size_t n);
void *memmove(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
HEADER
cat >"$apple_include/stdlib.h" <<'HEADER'
/* Stand-in for the iOS SDK's stdlib.h: the declarations ring uses. */
#pragma once
#include <stddef.h>
void abort(void) __attribute__((noreturn));
HEADER
cat >"$apple_include/assert.h" <<'HEADER'
/* Stand-in for the iOS SDK's assert.h. */
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e) ((e) ? (void)0 : __builtin_trap())
#endif
HEADER
export CFLAGS_aarch64_apple_ios="-isystem $apple_include"
sdk="${TMPDIR:-/tmp}/carechain-no-sdk"
mkdir -p "$sdk"
export SDKROOT="$sdk"

profile=(
    --config 'profile.mobile-check.inherits="dev"'
    --config 'profile.mobile-check.debug=0'
    --config 'profile.mobile-check.package."*".opt-level=0'
    --config 'profile.mobile-check.package.carechain-core.opt-level=0'
)
for t in "${targets[@]}"; do
    # Only the staticlib: the cdylib would need the platform's linker.
    cargo "${profile[@]}" rustc --profile mobile-check -p carechain-mobile --lib \
        --crate-type staticlib --target "$t"
    ls -l "target/$t/mobile-check/libcarechain_mobile.a"
    echo "$t: staticlib built"
done
