#!/usr/bin/env bash
# Fuzzes the .tflite reader and the executor's Prepare/Run for MINUTES minutes (default 10)
# with one libFuzzer worker.
#
#   fuzz/run.sh [MINUTES]
#
# Environment:
#   BUILD      the fuzz build tree (default: <repo>/build-fuzz); configured and built here
#              with clang if it does not exist yet
#   FIXTURES   folder of .tflite seed models (default: <repo>/tests/fixtures)
#   MAX_LEN    largest input the fuzzer makes, in bytes (default 262144); bigger fixture
#              models still seed the corpus through their one-operator cuts
#
# The corpus grows in $BUILD/fuzz-corpus (kept between runs); crashes, hangs, leaks,
# sanitizer reports and out-of-memory inputs land in $BUILD/fuzz-findings as
# crash-*/timeout-*/leak-*/oom-* files. The log is $BUILD/fuzz-<date>.log.
# A 1 KB file must never make the reader or Create allocate gigabytes, so the malloc
# limit (1 GiB per allocation, 2 GiB RSS) is part of what is checked.
set -euo pipefail

MINUTES=${1:-10}
HERE=$(cd "$(dirname "$0")" && pwd)
REPO=$(dirname "$HERE")
BUILD=${BUILD:-$REPO/build-fuzz}
FIXTURES=${FIXTURES:-$REPO/tests/fixtures}
MAX_LEN=${MAX_LEN:-262144}

if [[ ! -x $BUILD/fuzz/reader_fuzzer || ! -x $BUILD/fuzz/fuzz_seeds ]]; then
  if [[ ! -f $BUILD/CMakeCache.txt ]]; then
    CC=clang CXX=clang++ cmake -S "$REPO" -B "$BUILD" -G Ninja -DQAUDIT_FUZZ=ON -DQAUDIT_SANITIZE=ON \
      -DQAUDIT_BUILD_TESTS=OFF -DQAUDIT_ORACLE_TESTS=OFF
  fi
  cmake --build "$BUILD" -j1 --target reader_fuzzer fuzz_seeds
fi

CORPUS=$BUILD/fuzz-corpus
FINDINGS=$BUILD/fuzz-findings
mkdir -p "$CORPUS" "$FINDINGS"
if [[ -d $FIXTURES ]]; then
  mapfile -t models < <(find "$FIXTURES" -name '*.tflite' | sort)
  "$BUILD/fuzz/fuzz_seeds" "$CORPUS" "$MAX_LEN" "${models[@]}"
else
  echo "run.sh: no fixtures at $FIXTURES; seeding with hand-built models only" >&2
  "$BUILD/fuzz/fuzz_seeds" "$CORPUS" "$MAX_LEN"
fi
# Earlier findings join the corpus too, so a fixed bug's neighbourhood is explored again.
if [[ -d $REPO/tests/tflite/fuzz_regressions ]]; then
  find "$REPO/tests/tflite/fuzz_regressions" -type f ! -name '*.md' -exec cp -n {} "$CORPUS"/ \;
fi

LOG=$BUILD/fuzz-$(date +%Y%m%d-%H%M%S).log
echo "run.sh: fuzzing for $MINUTES min; corpus $CORPUS ($(ls "$CORPUS" | wc -l) files); log $LOG"
# -fork=1 keeps one worker process, but one that restarts after a crash, timeout or OOM and
# keeps fuzzing (-ignore_*), so a single finding does not end the session.
set +e
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
"$BUILD/fuzz/reader_fuzzer" "$CORPUS" \
  -fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1 \
  -artifact_prefix="$FINDINGS/" \
  -max_total_time=$((MINUTES * 60)) \
  -max_len="$MAX_LEN" \
  -rss_limit_mb=2048 -malloc_limit_mb=1024 -timeout=10 \
  -print_final_stats=1 2>&1 | tee "$LOG"
status=${PIPESTATUS[0]}
set -e
echo "run.sh: fuzzer exited with $status; findings in $FINDINGS:"
ls -la "$FINDINGS"
exit "$status"
