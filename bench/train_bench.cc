// Training throughput and accuracy of the engine in src/train: the zoo's `cnn` on the
// 60,000 Fashion-MNIST training images, Adam, then top-1 accuracy on the 10,000 test images.
// --fake-quant adds 8-bit fake quantization (straight-through estimator) on every weight
// (per channel) and every layer output (per tensor, moving min/max), to measure what
// quantization-aware training costs.
//
//   bench/train_bench [--epochs E] [--batch B] [--threads T] [--lr LR] [--seed S]
//                     [--train SPEC (default fmnist:train)] [--fake-quant]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "qaudit/data.h"
#include "qaudit/train.h"

namespace qaudit {
namespace {

using train::Array;
using train::ThreadPool;

// Rounds x to a grid of 256 steps over [lo, hi]; the gradient passes where x is in
// range (straight-through estimator).
class FakeQuant : public train::Transform {
 public:
  // channel_axis -1: one range for the tensor, from a moving min/max; otherwise symmetric
  // per-channel ranges from each channel's max |w|, channels along axis 0 or the last axis.
  explicit FakeQuant(int channel_axis) : channel_axis_(channel_axis) {}

  void Forward(const Array& x, Array& y, bool training, ThreadPool& pool) override {
    if (channel_axis_ < 0) {
      if (training) UpdateMovingRange(x, pool);
      lo_ = {moving_lo_};
      hi_ = {moving_hi_};
    } else {
      const int64_t channels = x.shape[channel_axis_];
      hi_.assign(channels, 0.0f);
      ForEachRun(x, pool, [&](int64_t begin, int64_t end, int64_t c) {
        for (int64_t i = begin; i < end; ++i) hi_[c] = std::max(hi_[c], std::fabs(x.data[i]));
      });
      lo_.resize(channels);
      for (int64_t c = 0; c < channels; ++c) lo_[c] = -hi_[c];
    }
    ForEachRun(x, pool, [&](int64_t begin, int64_t end, int64_t c) {
      const float lo = lo_[c], hi = hi_[c];
      const float scale = std::max(hi - lo, 1e-8f) / 255.0f, inv_scale = 1.0f / scale;
      for (int64_t i = begin; i < end; ++i) {
        const float v = std::min(std::max(x.data[i], lo), hi);
        y.data[i] = lo + std::nearbyint((v - lo) * inv_scale) * scale;
      }
    });
  }

  void Backward(const Array& x, const Array& dy, Array& dx, ThreadPool& pool) override {
    ForEachRun(x, pool, [&](int64_t begin, int64_t end, int64_t c) {
      const float lo = lo_[c], hi = hi_[c];
      for (int64_t i = begin; i < end; ++i) dx.data[i] = x.data[i] >= lo && x.data[i] <= hi ? dy.data[i] : 0.0f;
    });
  }

 private:
  // Calls fn(begin, end, channel) over runs of elements sharing a channel; runs of one
  // channel (per-channel along the last axis) are parallel, distinct channels are not.
  template <typename Fn>
  void ForEachRun(const Array& x, ThreadPool& pool, Fn fn) {
    if (channel_axis_ < 0) {
      pool.ParallelFor(x.size(), [&](int64_t begin, int64_t end, int) { fn(begin, end, 0); });
    } else if (channel_axis_ == 0) {
      const int64_t inner = x.size() / x.shape[0];
      for (int64_t c = 0; c < x.shape[0]; ++c) fn(c * inner, (c + 1) * inner, c);
    } else {
      const int64_t channels = x.shape.back();
      for (int64_t i = 0; i < x.size(); ++i) fn(i, i + 1, i % channels);
    }
  }

  void UpdateMovingRange(const Array& x, ThreadPool& pool) {
    std::vector<float> lows(pool.num_threads(), 0.0f), highs(pool.num_threads(), 0.0f);
    pool.ParallelFor(x.size(), [&](int64_t begin, int64_t end, int worker) {
      const auto [mn, mx] = std::minmax_element(x.data.begin() + begin, x.data.begin() + end);
      lows[worker] = std::min(*mn, 0.0f), highs[worker] = std::max(*mx, 0.0f);
    });
    const float lo = *std::min_element(lows.begin(), lows.end()), hi = *std::max_element(highs.begin(), highs.end());
    moving_lo_ = seen_ ? 0.99f * moving_lo_ + 0.01f * lo : lo;
    moving_hi_ = seen_ ? 0.99f * moving_hi_ + 0.01f * hi : hi;
    seen_ = true;
  }

  int channel_axis_;
  std::vector<float> lo_, hi_;
  float moving_lo_ = 0, moving_hi_ = 0;
  bool seen_ = false;
};

// conv3x3(32, SAME)+ReLU, maxpool 2, conv3x3(64, SAME)+ReLU, maxpool 2, FC 128+ReLU, FC 10.
void BuildCnn(train::Model& m) {
  int x = m.Input("image", {28, 28, 1});
  x = m.Conv2D(x, 32, 3, 1, Padding::kSame, Activation::kRelu);
  x = m.MaxPool2D(x, 2, 2);
  x = m.Conv2D(x, 64, 3, 1, Padding::kSame, Activation::kRelu);
  x = m.MaxPool2D(x, 2, 2);
  x = m.Reshape(x, {7 * 7 * 64});
  x = m.FullyConnected(x, 128, Activation::kRelu);
  m.FullyConnected(x, 10);
}

void AddFakeQuant(train::Model& m) {
  for (size_t i = 0; i < m.layers().size(); ++i) {
    const train::Layer& l = m.layers()[i];
    if (l.weights != nullptr)
      m.SetWeightTransform(static_cast<int>(i), std::make_shared<FakeQuant>(l.weights->channel_axis));
    if (l.kind != train::LayerKind::kInput && l.kind != train::LayerKind::kReshape) {
      m.SetOutputTransform(static_cast<int>(i), std::make_shared<FakeQuant>(-1));
    }
  }
}

Result<std::pair<HostTensor, std::vector<int32_t>>> Load(const std::string& spec) {
  QAUDIT_ASSIGN_OR_RETURN(Dataset d, LoadDataset(spec));
  InputSpec input;
  input.name = "image";
  input.shape = {1, 28, 28, 1};
  QAUDIT_ASSIGN_OR_RETURN(HostTensor x, FitToInput(d, input));
  return std::make_pair(std::move(x), std::move(d.labels));
}

int Main(int argc, char** argv) {
  int epochs = 1, batch = 128, threads = 2;
  float lr = 1e-3f;
  uint64_t seed = 1;
  bool fake_quant = false;
  std::string train_spec = "fmnist:train";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--epochs" && has_value)
      epochs = std::atoi(argv[++i]);
    else if (a == "--batch" && has_value)
      batch = std::atoi(argv[++i]);
    else if (a == "--threads" && has_value)
      threads = std::atoi(argv[++i]);
    else if (a == "--lr" && has_value)
      lr = std::strtof(argv[++i], nullptr);
    else if (a == "--seed" && has_value)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--train" && has_value)
      train_spec = argv[++i];
    else if (a == "--fake-quant")
      fake_quant = true;
    else {
      std::fprintf(
          stderr,
          "usage: %s [--epochs E] [--batch B] [--threads T] [--lr LR] [--seed S] [--train SPEC] [--fake-quant]\n",
          argv[0]);
      return 2;
    }
  }
  auto train_data = Load(train_spec);
  auto test_data = Load("fmnist:test");
  if (!train_data.ok() || !test_data.ok()) {
    std::fprintf(stderr, "%s\n", (train_data.ok() ? test_data.status() : train_data.status()).message().c_str());
    return 1;
  }
  train::Model model(seed, threads);
  BuildCnn(model);
  if (fake_quant) AddFakeQuant(model);
  auto adam = train::MakeAdam();
  train::LrSchedule schedule;
  schedule.base_lr = lr;
  std::printf("cnn on %s, batch %d, %d threads, Adam lr %g%s\n", train_spec.c_str(), batch, threads, lr,
              fake_quant ? ", fake-quant on weights and outputs" : "");
  for (int epoch = 0; epoch < epochs; ++epoch) {
    train::TrainOptions options;
    options.batch_size = batch;
    options.seed = seed + epoch;
    auto summary = train::Train(model, train_data->first, train_data->second, *adam, schedule, options);
    if (!summary.ok()) {
      std::fprintf(stderr, "%s\n", summary.status().message().c_str());
      return 1;
    }
    auto accuracy = train::Evaluate(model, test_data->first, test_data->second);
    if (!accuracy.ok()) {
      std::fprintf(stderr, "%s\n", accuracy.status().message().c_str());
      return 1;
    }
    const double images = static_cast<double>(train_data->first.shape[0]);
    std::printf("epoch %d: %.2f s, %.0f images/s, mean loss %.4f, test top-1 %.2f%%\n", epoch + 1, summary->seconds,
                images / summary->seconds, summary->last_epoch_mean_loss, 100.0 * *accuracy);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace qaudit

int main(int argc, char** argv) { return qaudit::Main(argc, argv); }
