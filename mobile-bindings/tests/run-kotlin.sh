#!/usr/bin/env bash
# Builds the relay and the carechain-mobile cdylib (as run-python.sh does),
# generates the Kotlin bindings for the JVM (JNA; no Android-only options),
# compiles them with tests/kotlin/ and runs the story against a real relay.
# Ends with "kotlin: N passed, N failed"; exits non-zero on failure.
#
# Tools: the `kotlin-compiler` npm package (pinned; installed under target/,
# it also ships the kotlinx-coroutines-core jar the async bindings need), a
# JDK, and Debian's libjna-java (installed with apt-get when missing).
set -euo pipefail

KOTLIN_VERSION=2.2.21

source "$(dirname "$0")/common.sh"
generate kotlin

if ! command -v java >/dev/null; then
    echo "java not found: the Kotlin tests need a JDK (e.g. apt-get install openjdk-17-jdk-headless)" >&2
    exit 1
fi
jna=/usr/share/java/jna.jar
if [ ! -f "$jna" ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libjna-java
fi

tools="$target/kotlin-compiler"
kotlin_home="$tools/node_modules/kotlin-compiler"
if ! grep -q "\"version\": \"$KOTLIN_VERSION\"" "$kotlin_home/package.json" 2>/dev/null; then
    mkdir -p "$tools"
    npm install --prefix "$tools" --no-save --no-audit --no-fund --loglevel=error "kotlin-compiler@$KOTLIN_VERSION"
fi
coroutines="$kotlin_home/lib/kotlinx-coroutines-core-jvm.jar"
stdlib="$kotlin_home/lib/kotlin-stdlib.jar"

# kotlinc takes a minute on a busy machine: reuse the jar while the generated
# bindings, the tests and the compiler are unchanged.
build="$target/kotlin-tests"
mkdir -p "$build"
sources=("$out"/kotlin/uniffi/carechain_mobile/*.kt "$root"/mobile-bindings/tests/kotlin/*.kt)
stamp="$( (echo "$KOTLIN_VERSION"; cat "${sources[@]}") | sha256sum | cut -d' ' -f1)"
if [ ! -f "$build/story.jar" ] || [ "$(cat "$build/stamp" 2>/dev/null)" != "$stamp" ]; then
    rm -f "$build/story.jar" "$build/stamp"
    "$kotlin_home/bin/kotlinc" -jvm-target 17 -nowarn -cp "$jna:$coroutines" -d "$build/story.jar" "${sources[@]}"
    echo "$stamp" >"$build/stamp"
fi

trap stop_relay EXIT
if ! start_relay; then
    echo "kotlin: 0 passed, 1 failed"
    exit 1
fi
set +e
# Debian's JNA looks for its native part in the jni directory; the bindings'
# library is found through jna.library.path.
java -Djna.library.path="$out/kotlin" -Djna.boot.library.path=/usr/lib/x86_64-linux-gnu/jni \
    -cp "$build/story.jar:$jna:$coroutines:$stdlib" carechain.story.StoryKt 2>&1 | tee "$target/kotlin-tests.log"
status=${PIPESTATUS[0]}
set -e
tail -n 1 "$target/kotlin-tests.log" | grep -qE '^kotlin: [0-9]+ passed, [0-9]+ failed$' ||
    echo "kotlin: 0 passed, 1 failed"
exit "$status"
