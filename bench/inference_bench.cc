// Inference speed of the executor on the workloads of the speed table (issue 6): the zoo's
// `cnn` (conv3x3 32 SAME + ReLU, maxpool 2, conv3x3 64 SAME + ReLU, maxpool 2, FC 128 +
// ReLU, FC 10; 4.24 M MAC per image) in float32 and int8 (quantized by qaudit from
// Fashion-MNIST calibration, as TFLite's converter does) at batch 256 with 1 and 2 threads
// and at batch 1, and the int8 MobileNetV2 fixture at batch 1. Weights are seeded random
// (speed does not depend on them). Prints the median of --runs runs, the fraction of this
// machine's multiply-accumulate limit each reaches (measured first: int8 rows against the
// int8 limit, VNNI here, float rows against the FMA limit) and the int8-over-float speed-up
// next to the ratio of the two limits. Rows are credited with the model's MACs as a direct
// convolution counts them; float 3x3 layers run by Winograd do fewer multiplies, so a float
// row's share can pass 100%.
//
//   bench/inference_bench [--runs N] [--numerics MODE] [--mobilenet PATH] [--only LABEL-PREFIX]
//                         [--write-cnn PREFIX]   (writes PREFIX_float.tflite and PREFIX_int8.tflite)
//                         [--layers]   (batch-1 rows: each operator's time, MACs and share)
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "qaudit/calibrate.h"
#include "qaudit/data.h"
#include "qaudit/executor.h"
#include "qaudit/hardware.h"
#include "qaudit/quantize.h"
#include "qaudit/tflite.h"
#include "qaudit/train.h"
#include "qaudit/zoo.h"

namespace qaudit {
namespace {

// The zoo's cnn with its seeded initial weights (speed does not depend on them).
Graph BuildCnn() {
  auto graph = train::ToGraph(*zoo::Build(zoo::Architecture::kCnn, 1, 1));
  return graph.ok() ? std::move(*graph) : Graph{};
}

// Multiply-accumulates of one invocation.
int64_t CountMacs(const Graph& g) {
  int64_t macs = 0;
  for (const Operator& op : g.operators) macs += MultiplyAccumulates(g, op);
  return macs;
}

// Fashion-MNIST test images as float [n, 28, 28, 1] in [0, 1], or uniform noise when the
// dataset is not installed.
HostTensor Images(int64_t n) {
  HostTensor t;
  t.dtype = DType::kFloat32;
  t.shape = {static_cast<int32_t>(n), 28, 28, 1};
  std::vector<float> v(n * 784);
  auto data = LoadDataset("fmnist:test");
  if (data.ok() && data->samples.dtype == DType::kUInt8 && data->size() >= n) {
    for (int64_t i = 0; i < n * 784; ++i) v[i] = data->samples.bytes[i] / 255.0f;
  } else {
    std::fprintf(stderr, "fmnist:test not available; timing on uniform noise\n");
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (float& x : v) x = u(rng);
  }
  t.bytes.resize(v.size() * sizeof(float));
  std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}

// Random data of the graph input's dtype, `n` samples.
HostTensor RandomInput(const Graph& g, int64_t n) {
  const Tensor& in = g.tensors[g.inputs[0]];
  HostTensor t;
  t.dtype = in.dtype;
  t.shape = in.shape;
  t.shape[0] = static_cast<int32_t>(n);
  t.bytes.resize(n * in.num_elements() * DTypeSize(in.dtype));
  std::mt19937 rng(5);
  if (in.dtype == DType::kFloat32) {
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (size_t i = 0; i < t.bytes.size(); i += 4) {
      const float x = u(rng);
      std::memcpy(&t.bytes[i], &x, 4);
    }
  } else {
    for (uint8_t& b : t.bytes) b = static_cast<uint8_t>(rng());
  }
  return t;
}

// The median over `runs` of the seconds one RunBatch of `input` takes (each run repeats
// it until at least 0.2 s have passed).
double MedianSeconds(const Executor& e, const HostTensor& input, int runs) {
  std::vector<double> times;
  const std::vector<HostTensor> inputs{input};  // built once: a copy per run would be timed too
  for (int r = 0; r < runs; ++r) {
    int reps = 0;
    const auto start = std::chrono::steady_clock::now();
    double elapsed = 0;
    do {
      auto out = e.RunBatch(inputs);
      if (!out.ok()) {
        std::fprintf(stderr, "run failed: %s\n", out.status().message().c_str());
        std::exit(1);
      }
      ++reps;
      elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    } while (elapsed < 0.2);
    times.push_back(elapsed / reps);
  }
  std::sort(times.begin(), times.end());
  return times[times.size() / 2];
}

struct Row {
  double images_per_second, ms_per_image;
};

// --layers: each operator's median time over `repetitions` invocations of one sample, with
// its MACs and share of the total (operators that run fused are one line).
void PrintLayers(const Executor& e, const HostTensor& sample, int repetitions) {
  auto times = e.ProfileOperators({sample}, repetitions);
  if (!times.ok()) {
    std::fprintf(stderr, "profile failed: %s\n", times.status().message().c_str());
    std::exit(1);
  }
  std::fputs(Executor::OperatorTimesTable(e.graph(), *times).c_str(), stdout);
}

// `limit`: one core's multiply-accumulates per second in the instructions the rows' type uses.
Row Measure(const char* label, const Graph& g, const HostTensor& all, int batch, int threads, Numerics numerics,
            int runs, double limit, bool layers) {
  ExecutorOptions options;
  options.numerics = numerics;
  options.num_threads = threads;
  auto e = Executor::Create(g, options);
  if (!e.ok()) {
    std::fprintf(stderr, "%s: %s\n", label, e.status().message().c_str());
    std::exit(1);
  }
  HostTensor input = all;
  input.shape[0] = batch;
  input.bytes.resize(all.bytes.size() / all.shape[0] * batch);
  const double seconds = MedianSeconds(**e, input, runs);
  const double gmacs = CountMacs(g) * batch / seconds / 1e9;
  const Row row{batch / seconds, seconds / batch * 1e3};
  std::printf("%-28s batch %3d threads %d: %9.0f img/s %8.4f ms/img %7.1f GMAC/s (%4.1f%% of the limit)\n", label,
              batch, threads, row.images_per_second, row.ms_per_image, gmacs, 100.0 * gmacs * 1e9 / (limit * threads));
  // For bench/peers/run_peers.sh, in the peers' format.
  std::printf("RESULT qaudit %s %.1f %.5f\n", label, row.images_per_second, row.ms_per_image);
  if (layers && batch == 1) {
    input.shape = g.tensors[g.inputs[0]].shape;
    PrintLayers(**e, input, 50 * runs);
  }
  std::fflush(stdout);
  return row;
}

int Main(int argc, char** argv) {
  int runs = 5;
  Numerics numerics = Numerics::kTflite;
  std::string mobilenet = std::string(QAUDIT_FIXTURES_DIR) + "/coral/tf2_mobilenet_v2_1.0_224_ptq.tflite";
  std::string only, write_cnn;
  bool layers = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--runs" && has_value) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (a == "--numerics" && has_value) {
      auto n = NumericsFromName(argv[++i]);
      if (!n) {
        std::fprintf(stderr, "unknown numerics mode %s\n", argv[i]);
        return 2;
      }
      numerics = *n;
    } else if (a == "--mobilenet" && has_value) {
      mobilenet = argv[++i];
    } else if (a == "--only" && has_value) {
      only = argv[++i];
    } else if (a == "--write-cnn" && has_value) {
      write_cnn = argv[++i];
    } else if (a == "--layers") {
      layers = true;
    } else {
      std::fprintf(stderr,
                   "usage: %s [--runs N] [--numerics MODE] [--mobilenet PATH] [--only LABEL-PREFIX] "
                   "[--write-cnn PREFIX] [--layers]\n",
                   argv[0]);
      return 2;
    }
  }
  std::printf("numerics %s, median of %d runs\n", NumericsName(numerics), runs);
  const PeakRates peak = MeasurePeakRates(0.05);
  std::printf("limits per core: int8 %.1f GMAC/s (%s), fp32 %.1f GMAC/s (%s); ratio %.2fx "
              "(rows count direct-convolution MACs: Winograd float rows can pass 100%%)\n",
              peak.int8_macs_per_second / 1e9, peak.int8_instructions.c_str(), peak.fp32_macs_per_second / 1e9,
              peak.fp32_instructions.c_str(), peak.int8_over_fp32());
  if (only.empty() || only.rfind("cnn", 0) == 0) {
    const Graph cnn = BuildCnn();
    const HostTensor images = Images(256);
    auto stats = CalibrationStatistics::Collect(cnn, {images}, CollectOptions{.histograms = false});
    if (!stats.ok()) {
      std::fprintf(stderr, "calibration: %s\n", stats.status().message().c_str());
      return 1;
    }
    const TensorRanges ranges = stats->GlobalRanges();
    auto quantized = Quantize(cnn, QuantizeOptions{}, &ranges);
    if (!quantized.ok()) {
      std::fprintf(stderr, "quantize: %s\n", quantized.status().message().c_str());
      return 1;
    }
    if (!write_cnn.empty()) {
      for (auto [graph, suffix] : {std::pair{&cnn, "_float.tflite"}, {&quantized->graph, "_int8.tflite"}}) {
        if (!WriteTfliteFile(*graph, write_cnn + suffix).ok()) {
          std::fprintf(stderr, "could not write %s%s\n", write_cnn.c_str(), suffix);
          return 1;
        }
      }
    }
    std::printf("cnn: %lld MAC per image\n", static_cast<long long>(CountMacs(cnn)));
    const Graph& q = quantized->graph;
    // {label, graph, batch, threads}; --only picks rows whose label starts with its value.
    struct Workload {
      std::string label;
      const Graph* graph;
      int batch, threads;
    };
    const Workload workloads[] = {{"cnn int8", &q, 256, 1},    {"cnn int8", &q, 256, 2},    {"cnn int8", &q, 1, 1},
                                  {"cnn float", &cnn, 256, 1}, {"cnn float", &cnn, 256, 2}, {"cnn float", &cnn, 1, 1}};
    std::vector<Row> rows;
    for (const Workload& w : workloads) {
      const std::string name =
          w.label + " b" + std::to_string(w.batch) + " t" + std::to_string(w.threads);  // "cnn int8 b256 t1"
      if (name.compare(0, only.size(), only) != 0) {
        rows.push_back({});
        continue;
      }
      const double limit = w.graph == &q ? peak.int8_macs_per_second : peak.fp32_macs_per_second;
      rows.push_back(Measure(name.c_str(), *w.graph, images, w.batch, w.threads, numerics, runs, limit, layers));
    }
    if (rows[0].images_per_second > 0 && rows[3].images_per_second > 0) {
      std::printf("int8 over float, 1 thread: batch 256 %.2fx, batch 1 %.2fx (hardware MAC ratio %.2fx)\n",
                  rows[0].images_per_second / rows[3].images_per_second, rows[5].ms_per_image / rows[2].ms_per_image,
                  peak.int8_over_fp32());
    }
  }
  if (only.empty() || only.rfind("mobilenet", 0) == 0) {
    auto g = ReadTfliteFile(mobilenet);
    if (!g.ok()) {
      std::fprintf(stderr, "%s\n", g.status().message().c_str());
      return 1;
    }
    std::printf("mobilenet_v2: %lld MAC per image\n", static_cast<long long>(CountMacs(*g)));
    Measure("mobilenet_v2 int8 b1 t1", *g, RandomInput(*g, 1), 1, 1, numerics, runs, peak.int8_macs_per_second,
            layers);
  }
  return 0;
}

}  // namespace
}  // namespace qaudit

int main(int argc, char** argv) { return qaudit::Main(argc, argv); }
