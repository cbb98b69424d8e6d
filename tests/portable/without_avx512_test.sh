#!/bin/sh
# The same qaudit binary on a CPU without AVX-512: QEMU's user-mode emulator runs it as a
# Haswell (AVX2, no AVX-512; QEMU 7.2 emulates no AVX-512 at all, so an AVX-512
# instruction outside the run-time dispatch would kill the process with SIGILL). The
# fast kernels must step aside for the portable ones and produce the same int8 outputs,
# byte for byte, as the native run on this machine, in both integer numerics.
#
#   without_avx512_test.sh QEMU QAUDIT_CLI FIXTURES_DIR
set -eu
qemu=$1 cli=$2 fixtures=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The emulated CPU must really lack AVX-512, as the fast kernels' own checks see it.
# QEMU warns on stderr about Haswell features it does not emulate (pcid, x2apic, TSX);
# that stderr is shown only when a run fails.
emulated() {
  if ! "$qemu" -cpu Haswell "$@" 2>"$work/qemu.err"; then
    cat "$work/qemu.err" >&2
    echo "FAIL: without AVX-512: $*" >&2
    exit 1
  fi
}

kernels=$(emulated "$cli" --version | sed -n 's/^fast kernels: //p')
if [ "$kernels" != "none (portable kernels only)" ]; then
  echo "FAIL: under QEMU's Haswell the fast kernels report '$kernels', not the portable kernels" >&2
  exit 1
fi
echo "ok: without AVX-512 the fast kernels report '$kernels'; natively '$("$cli" --version | sed -n 's/^fast kernels: //p')'"

run_both() {  # NAME MODEL INPUT NUMERICS
  "$cli" run "$2" --input "$3" --numerics "$4" --threads 2 --output-dir "$work/$1-native" --quiet
  emulated "$cli" run "$2" --input "$3" --numerics "$4" --threads 2 --output-dir "$work/$1-portable" --quiet
  for f in "$work/$1-native"/*; do
    if ! cmp -s "$f" "$work/$1-portable/$(basename "$f")"; then
      echo "FAIL $1: $(basename "$f") differs between the native run and the run without AVX-512" >&2
      exit 1
    fi
  done
  echo "ok $1 ($(ls "$work/$1-native" | wc -l) output files identical)"
}

for numerics in tflite xnnpack; do
  run_both "mobilenet_v1-$numerics" "$fixtures/coral/mobilenet_v1_0.25_128_quant.tflite" \
    "$fixtures/coral/grace_hopper.bmp" "$numerics"
  run_both "person_detect-$numerics" "$fixtures/tflite-micro/person_detect.tflite" \
    "$fixtures/tflite-micro/person.bmp" "$numerics"
  run_both "mobilenet_v2-$numerics" "$fixtures/coral/tf2_mobilenet_v2_1.0_224_ptq.tflite" \
    "$fixtures/coral/cat.bmp" "$numerics"
done
