#!/usr/bin/env bash
# The main job on built-in defaults: inspect and run a real int8 MobileNetV2 made by the
# TFLite converter (../shared/fixtures), then run a 4-million-MAC int8 CNN over the 10,000
# Fashion-MNIST test images (Debian's dataset-fashion-mnist) in each numerics mode.
set -euo pipefail
cd "$(dirname "$0")/.."
fixtures=${QAUDIT_FIXTURES:-../shared/fixtures}
fmnist=/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz

if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DQAUDIT_BUILD_TESTS=OFF -DQAUDIT_ORACLE_TESTS=OFF
fi
cmake --build build --target qaudit_cli fmnist_cnn_bench -j "$(nproc)"
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT

model=$fixtures/coral/tf2_mobilenet_v2_1.0_224_ptq.tflite
if [ -f "$model" ]; then
  echo "== qaudit inspect (first lines)"
  build/qaudit inspect "$model" | head -n 12
  echo "== qaudit run: grace_hopper.bmp through MobileNetV2 (int8, TFLite built-in numerics)"
  build/qaudit run "$model" --input "$fixtures/coral/grace_hopper.bmp" --output-dir "$out/mbv2" \
    --top 5 --labels "$fixtures/coral/imagenet_labels.txt"
else
  echo "(fixtures not found at $fixtures: skipping the MobileNetV2 part; set QAUDIT_FIXTURES)"
fi

echo "== qaudit run: 10,000 Fashion-MNIST test images through a 4M-MAC int8 CNN (random weights)"
build/bench/fmnist_cnn_bench --repeats 1 --write-model "$out/fmnist_cnn_int8.tflite"
for numerics in reference tflite xnnpack; do
  build/qaudit run "$out/fmnist_cnn_int8.tflite" --input "$fmnist" --output-dir "$out/fmnist-$numerics" \
    --numerics "$numerics" | tail -n 1
done
