#!/bin/sh
# Runs qaudit's inference benchmark and its peers side by side, in one run, with the same
# threads and batch sizes: PyTorch (Debian python3-torch, oneDNN PTQ) and ONNX Runtime (npm
# onnxruntime-node, on the models PyTorch exports). Prints each tool's medians and the
# qaudit/peer throughput ratios. qaudit runs in `tflite` numerics (TFLite's built-in
# kernels), and MobileNetV2 also in `xnnpack` numerics (TFLite's default XNNPACK delegate,
# which requantizes in fp32 as the peers do).
#
#   bench/peers/run_peers.sh BUILD_DIR ORT_NODE_MODULES [RUNS]
#
# ORT_NODE_MODULES: a node_modules folder holding onnxruntime-node, e.g. made with
#   mkdir -p /tmp/ort && npm install --prefix /tmp/ort --ignore-scripts onnxruntime-node
# (--ignore-scripts: its install step downloads GPU libraries). Benchmarks, not tests:
# run them on an otherwise idle machine.
set -eu
if [ $# -lt 2 ]; then
  sed -n '2,14p' "$0" | cut -c3-
  exit 2
fi
build=$1
modules=$2
runs=${3:-5}
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "== machine: $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== qaudit"
"$build/bench/inference_bench" --runs "$runs" | tee "$work/results.txt"
"$build/bench/inference_bench" --runs "$runs" --numerics xnnpack --only mobilenet |
  sed 's/^\(RESULT qaudit .*\) \([0-9.]*\) \([0-9.]*\)$/\1 (xnnpack numerics) \2 \3/' | tee -a "$work/results.txt"
echo "== pytorch"
/usr/bin/python3 "$here/torch_inference.py" --runs "$runs" --onnx-dir "$work" 2>/dev/null | tee -a "$work/results.txt"
echo "== onnxruntime"
node "$here/ort_inference.js" "$modules" "$work" "$runs" | tee -a "$work/results.txt"

echo "== qaudit / peer (images per second; > 1 means qaudit is faster)"
/usr/bin/python3 - "$work/results.txt" <<'PY'
import sys
results = {}
for line in open(sys.argv[1]):
    f = line.split()
    if f[:1] != ["RESULT"]:
        continue
    tool, workload = f[1], " ".join(f[2:-2]).replace("cnn ", "")
    results.setdefault(workload, {})[tool] = float(f[-2])
print(f"{'workload':<24}{'qaudit img/s':>14}{'pytorch':>10}{'ratio':>8}{'onnxrt':>10}{'ratio':>8}")
for workload, r in results.items():
    q = r.get("qaudit")
    r = {**results.get(workload.replace(" (xnnpack numerics)", ""), {}), "qaudit": q}
    row = f"{workload:<24}{q if q else float('nan'):>14.0f}"
    for peer in ("pytorch", "onnxruntime"):
        p = r.get(peer)
        row += f"{p:>10.0f}{q / p:>8.2f}" if p and q else f"{'-':>10}{'-':>8}"
    print(row)
PY
