#!/usr/bin/env bash
# The main job on built-in defaults: a real int8 MobileNetV2 made by the TFLite converter
# (../shared/fixtures) inspected and run; then the zoo's Fashion-MNIST cnn (Debian's
# dataset-fashion-mnist) trained in C++ (or taken from the cache), quantized by TFLite's
# methods and compared with its float self on the 10,000 test images.
set -euo pipefail
cd "$(dirname "$0")/.."
fixtures=${QAUDIT_FIXTURES:-../shared/fixtures}
cache=${QAUDIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qaudit}

if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DQAUDIT_BUILD_TESTS=OFF -DQAUDIT_ORACLE_TESTS=OFF
fi
cmake --build build --target qaudit_cli -j "$(nproc)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

model=$fixtures/coral/tf2_mobilenet_v2_1.0_224_ptq.tflite
if [ -f "$model" ]; then
  echo "== qaudit inspect (first lines)"
  build/qaudit inspect "$model" > "$out/inspect.txt"
  head -n 12 "$out/inspect.txt"
  echo "== qaudit run: grace_hopper.bmp through MobileNetV2 (int8, TFLite built-in numerics)"
  build/qaudit run "$model" --input "$fixtures/coral/grace_hopper.bmp" --output-dir "$out/mbv2" \
    --top 5 --labels "$fixtures/coral/imagenet_labels.txt"
else
  echo "(fixtures not found at $fixtures: skipping the MobileNetV2 part; set QAUDIT_FIXTURES)"
fi

float=$cache/zoo/cnn.tflite
if [ ! -f "$float" ]; then
  echo "== qaudit train: the zoo's cnn on Fashion-MNIST (cached in $cache/zoo)"
  mkdir -p "$cache/zoo"
  build/qaudit train --arch cnn -o "$float"
fi
for method in int8 dynamic float16; do
  echo "== qaudit quantize --method $method, then compare with the float model on fmnist:test"
  calibration=()
  [ "$method" = int8 ] && calibration=(--calibration "fmnist:train[0:500]")
  build/qaudit quantize "$float" --method "$method" "${calibration[@]}" -o "$out/cnn_$method.tflite"
  build/qaudit compare "$float" "$out/cnn_$method.tflite" --data fmnist:test
done
