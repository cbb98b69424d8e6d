// How long calibration takes: 1,000 Fashion-MNIST training images through the zoo's `cnn`
// architecture (conv3x3(32)+ReLU, maxpool 2, conv3x3(64)+ReLU, maxpool 2, FC128+ReLU, FC10;
// SAME padding, 4.24 M MAC per image; seeded random weights, as speed does not depend on
// them), collecting min/max and histograms of every activation, then choosing ranges with
// each calibrator. Compare with bench/peers/torch_calibration.py (PyTorch's
// HistogramObserver on the same network and images).
//
//   build/bench/calibration_bench [--images N] [--threads T] [--runs R]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "qaudit/calibrate.h"
#include "qaudit/data.h"
#include "qaudit/train.h"
#include "qaudit/zoo.h"

using namespace qaudit;

namespace {

// The zoo's cnn with its seeded initial weights (speed does not depend on them).
Graph FmnistCnn() {
  auto graph = train::ToGraph(*zoo::Build(zoo::Architecture::kCnn, 42, 1));
  return graph.ok() ? std::move(*graph) : Graph{};
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  int images = 1000, threads = 2, runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--images")) images = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--threads")) threads = std::atoi(argv[i + 1]);
    if (!std::strcmp(argv[i], "--runs")) runs = std::atoi(argv[i + 1]);
  }
  const Graph graph = FmnistCnn();
  auto data = LoadDataset("fmnist:train[0:" + std::to_string(images) + "]");
  if (!data.ok()) {
    std::fprintf(stderr, "%s\n", data.status().message().c_str());
    return 1;
  }
  const Tensor& in = graph.tensors[graph.inputs[0]];
  auto batch = FitToInput(*data, {in.name, in.dtype, in.shape, in.quant});
  if (!batch.ok()) {
    std::fprintf(stderr, "%s\n", batch.status().message().c_str());
    return 1;
  }
  std::printf("calibration of %d Fashion-MNIST images through the 4.24 M-MAC cnn, %d threads, median of %d runs\n",
              images, threads, runs);
  for (bool histograms : {false, true}) {
    std::vector<double> collect_times;
    std::vector<std::vector<double>> choose_times(std::size(kAllCalibrators));
    for (int r = 0; r < runs; ++r) {
      const auto start = std::chrono::steady_clock::now();
      CollectOptions options;
      options.histograms = histograms;
      options.num_threads = threads;
      auto stats = CalibrationStatistics::Collect(graph, {*batch}, options);
      if (!stats.ok()) {
        std::fprintf(stderr, "%s\n", stats.status().message().c_str());
        return 1;
      }
      collect_times.push_back(Seconds(start));
      for (size_t c = 0; c < std::size(kAllCalibrators); ++c) {
        if (NeedsHistograms(kAllCalibrators[c]) && !histograms) continue;
        const auto choose = std::chrono::steady_clock::now();
        if (!stats->Ranges({kAllCalibrators[c]}).ok()) return 1;
        choose_times[c].push_back(Seconds(choose));
      }
    }
    std::printf("%s: collect %.3f s\n", histograms ? "min/max + histograms" : "min/max only",
                Median(collect_times));
    for (size_t c = 0; c < std::size(kAllCalibrators); ++c) {
      if (choose_times[c].empty()) continue;
      std::printf("  %-15s choose ranges %.4f s, total %.3f s\n", CalibratorName(kAllCalibrators[c]),
                  Median(choose_times[c]), Median(collect_times) + Median(choose_times[c]));
    }
  }
  return 0;
}
