#!/usr/bin/env bash
# The main job on built-in defaults: install what qaudit needs, build it, train the zoo's
# cnn and mobilenet on Fashion-MNIST (Debian's dataset-fashion-mnist) or reuse the cached
# copies, run the default audit of every quantization method on both, and print where
# the report is.
#
#   scripts/demo.sh [OUT_DIR]      (default: reports/audit-YYYYmmdd-HHMMSS)
#
# The float models are trained briefly (the audit is about quantization, not the float
# model): cnn for one epoch, mobilenet for one epoch on 20,000 images. They are cached in
# ~/.cache/qaudit/zoo-audit (QAUDIT_CACHE overrides ~/.cache/qaudit).
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${QAUDIT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/qaudit}
zoo=$cache/zoo-audit
out=${1:-reports/audit-$(date -u +%Y%m%d-%H%M%S)}

scripts/install-deps.sh
if [ ! -f build/build.ninja ]; then
  cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DQAUDIT_BUILD_TESTS=OFF -DQAUDIT_ORACLE_TESTS=OFF
fi
cmake --build build --target qaudit_cli -j "$(nproc)"

mkdir -p "$zoo"
if [ ! -f "$zoo/cnn.tflite" ]; then
  echo "== training the zoo's cnn (1 epoch; cached in $zoo)"
  build/qaudit train --arch cnn --epochs 1 -o "$zoo/cnn.tflite"
fi
if [ ! -f "$zoo/mobilenet.tflite" ]; then
  echo "== training the zoo's mobilenet (1 epoch on 20,000 images; cached in $zoo)"
  build/qaudit train --arch mobilenet --epochs 1 --data 'fmnist:train[0:20000]' -o "$zoo/mobilenet.tflite"
fi

echo "== qaudit audit: the default plan on cnn and mobilenet"
build/qaudit audit --model "$zoo/cnn.tflite" --model "$zoo/mobilenet.tflite" \
  --data fmnist:test --train-data fmnist:train --out "$out"
echo "report: $(cd "$out" && pwd)/report.html"
