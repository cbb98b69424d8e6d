"""PyTorch's side of bench/inference_bench.cc: the same cnn (random weights, the model of
torch_calibration.py) in float32 and int8 (eager-mode PTQ with the oneDNN engine, calibrated
on 256 Fashion-MNIST training images), timed at batch 256 with 1 and 2 threads and at batch
1 with 1 thread; and torchvision's quantizable MobileNetV2 (random weights, the architecture
of the int8 MobileNetV2 fixture, oneDNN PTQ calibrated on random images) at batch 1 with 1
thread. Each figure is the median of --runs runs. Also exports the models to ONNX for
ort_inference.js (--onnx-dir). Prints one `RESULT <peer> <workload> <img/s> <ms/img>` line
per figure.

    /usr/bin/python3 bench/peers/torch_inference.py [--runs R] [--onnx-dir DIR]

Needs Debian's python3-torch, python3-torchvision and python3-numpy (benchmarks only, not
project dependencies); without torchvision the MobileNetV2 row is left out.
"""
import argparse
import os
import sys
import time

import torch
import torch.ao.quantization as tq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_calibration import Cnn, load_fmnist  # noqa: E402


def median_seconds(model, x, runs):
    times = []
    with torch.no_grad():
        model(x)  # warm-up: oneDNN builds its primitives on the first call
        for _ in range(runs):
            reps, start = 0, time.perf_counter()
            while True:
                model(x)
                reps += 1
                elapsed = time.perf_counter() - start
                if elapsed >= 0.2:
                    break
            times.append(elapsed / reps)
    times.sort()
    return times[len(times) // 2]


def report(label, model, images, batch, threads, runs):
    torch.set_num_threads(threads)
    seconds = median_seconds(model, images[:batch], runs)
    print(f"RESULT pytorch {label} b{batch} t{threads} {batch / seconds:.1f} {seconds / batch * 1e3:.5f}", flush=True)


def quantized_mobilenet_v2():
    """torchvision's quantizable MobileNetV2 with random weights, fused and PTQ-converted for
    the oneDNN engine, or None without torchvision."""
    try:
        from torchvision.models.quantization import mobilenet_v2
    except ImportError:
        print("torchvision not installed: no MobileNetV2 row", file=sys.stderr)
        return None
    model = mobilenet_v2(weights=None, quantize=False).eval()
    model.fuse_model()
    model.qconfig = tq.get_default_qconfig("onednn")
    tq.prepare(model, inplace=True)
    with torch.no_grad():
        for _ in range(4):
            model(torch.rand(8, 3, 224, 224))
    return tq.convert(model, inplace=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--onnx-dir", default="")
    args = parser.parse_args()
    torch.manual_seed(42)
    images = load_fmnist(256)
    float_model = Cnn().eval()

    torch.backends.quantized.engine = "onednn"
    int8_model = Cnn().eval()
    int8_model.load_state_dict(float_model.state_dict())
    int8_model.qconfig = tq.get_default_qconfig("onednn")
    # fc1 + relu stays unfused: quantized::linear_relu has no ONNX export in PyTorch 1.13.
    tq.fuse_modules(int8_model, [["conv1", "relu1"], ["conv2", "relu2"]], inplace=True)
    prepared = tq.prepare(int8_model)
    with torch.no_grad():
        prepared(images)
    int8_model = tq.convert(prepared)

    print(f"pytorch {torch.__version__}, quantized engine {torch.backends.quantized.engine}", flush=True)
    for label, model in (("int8", int8_model), ("float", float_model)):
        for batch, threads in ((256, 1), (256, 2), (1, 1)):
            report(label, model, images, batch, threads, args.runs)

    mobilenet = quantized_mobilenet_v2()
    if mobilenet is not None:
        report("mobilenet_v2 int8", mobilenet, torch.rand(1, 3, 224, 224), 1, 1, args.runs)

    if args.onnx_dir:
        if mobilenet is not None:
            torch.onnx.export(mobilenet, torch.rand(1, 3, 224, 224), os.path.join(args.onnx_dir, "mobilenet_v2_int8.onnx"),
                              opset_version=13, input_names=["x"], output_names=["y"])
        x = images[:1]
        for name, model in (("cnn_float.onnx", float_model), ("cnn_int8.onnx", int8_model)):
            torch.onnx.export(model, x, os.path.join(args.onnx_dir, name), opset_version=13, input_names=["x"],
                              output_names=["y"], dynamic_axes={"x": {0: "n"}, "y": {0: "n"}})


if __name__ == "__main__":
    main()
