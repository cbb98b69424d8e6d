#!/usr/bin/env bash
# Builds qaudit and runs the whole test suite twice: once in a Release build, once in a
# build under AddressSanitizer + UndefinedBehaviorSanitizer. Needs what
# scripts/install-deps.sh installs. Stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)

echo "== Release build and tests (build/)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$jobs"
ctest --test-dir build --output-on-failure -j "$jobs"

echo "== AddressSanitizer + UndefinedBehaviorSanitizer build and tests (build-asan/)"
# The sanitizer build reuses the oracle's npm install from the Release build.
cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DQAUDIT_SANITIZE=ON \
  -DQAUDIT_ORACLE_NODE_MODULES="$PWD/build/oracle-deps/node_modules"
cmake --build build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  ctest --test-dir build-asan --output-on-failure -j "$jobs"
