"""PyTorch's side of bench/calibration_bench.cc: the same 4.24 M-MAC cnn (random weights),
the same 1,000 Fashion-MNIST training images, calibrated with the x86 default qconfig
(HistogramObserver on activations), timed as the median of --runs runs.

    /usr/bin/python3 bench/peers/torch_calibration.py [--images N] [--threads T] [--runs R] [--batch B]

Needs Debian's python3-torch and python3-numpy (not project dependencies: benchmarks only).
"""
import argparse
import gzip
import time

import numpy as np
import torch
import torch.ao.quantization as tq


def load_fmnist(n):
    with gzip.open("/usr/share/datasets/fashion-mnist/train-images-idx3-ubyte.gz") as f:
        raw = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    return torch.from_numpy(raw[: n * 784].reshape(n, 1, 28, 28).astype(np.float32) / 255.0)


class Cnn(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.quant = tq.QuantStub()
        self.conv1 = torch.nn.Conv2d(1, 32, 3, padding=1)
        self.relu1 = torch.nn.ReLU()
        self.pool1 = torch.nn.MaxPool2d(2)
        self.conv2 = torch.nn.Conv2d(32, 64, 3, padding=1)
        self.relu2 = torch.nn.ReLU()
        self.pool2 = torch.nn.MaxPool2d(2)
        self.fc1 = torch.nn.Linear(7 * 7 * 64, 128)
        self.relu3 = torch.nn.ReLU()
        self.fc2 = torch.nn.Linear(128, 10)
        self.dequant = tq.DeQuantStub()

    def forward(self, x):
        x = self.pool1(self.relu1(self.conv1(self.quant(x))))
        x = self.pool2(self.relu2(self.conv2(x)))
        x = self.relu3(self.fc1(torch.flatten(x, 1)))
        return self.dequant(self.fc2(x))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--batch", type=int, default=100)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(42)
    images = load_fmnist(args.images)
    times = []
    for _ in range(args.runs):
        model = Cnn().eval()
        model.qconfig = tq.get_default_qconfig("x86")
        tq.fuse_modules(model, [["conv1", "relu1"], ["conv2", "relu2"], ["fc1", "relu3"]], inplace=True)
        prepared = tq.prepare(model)
        start = time.perf_counter()
        with torch.no_grad():
            for i in range(0, args.images, args.batch):
                prepared(images[i : i + args.batch])
        times.append(time.perf_counter() - start)
    times.sort()
    print(f"pytorch {torch.__version__} HistogramObserver calibration of {args.images} images, "
          f"{args.threads} threads, batch {args.batch}: median {times[len(times) // 2]:.3f} s over {args.runs} runs")


if __name__ == "__main__":
    main()
