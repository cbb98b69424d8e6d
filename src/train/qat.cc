#include "qaudit/qat.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>

#include "train/fake_quant.h"

namespace qaudit::qat {
namespace {

using train::Array;
using train::FakeQuantGrid;
using train::ThreadPool;

// Symmetric narrow-range int8 weights, one grid per slice along `axis` (or one for the
// whole tensor when axis < 0): tfmot's LastValueQuantizer, whose range is the current
// max |w|, so nothing is clipped and the gradient passes straight through.
class WeightFakeQuant : public train::Transform {
 public:
  explicit WeightFakeQuant(int axis) : axis_(axis) {}

  void Forward(const Array& w, Array& y, bool, ThreadPool&) override {
    const int64_t n = w.size();
    const int64_t channels = axis_ < 0 ? 1 : w.shape[axis_];
    int64_t inner = 1;
    for (size_t d = axis_ + 1; axis_ >= 0 && d < w.shape.size(); ++d) inner *= w.shape[d];
    std::vector<float> half_range(channels, 0.0f);
    for (int64_t i = 0; i < n; ++i) {
      float& h = half_range[axis_ < 0 ? 0 : (i / inner) % channels];
      h = std::max(h, std::fabs(w.data[i]));
    }
    grids_.resize(channels);
    for (int64_t c = 0; c < channels; ++c) grids_[c] = train::NudgeRange(-half_range[c], half_range[c], 1, 255);
    for (int64_t i = 0; i < n; ++i) {
      y.data[i] = train::FakeQuantValue(w.data[i], grids_[axis_ < 0 ? 0 : (i / inner) % channels]);
    }
  }

  void Backward(const Array&, const Array& dy, Array& dx, ThreadPool&) override { dx.data = dy.data; }

 private:
  int axis_;
  std::vector<FakeQuantGrid> grids_;
};

// Per-tensor asymmetric 8-bit activations (quant range [0, 255]) with a moving-average or
// a learned range.
class ActivationFakeQuant : public train::Transform {
 public:
  ActivationFakeQuant(const QatOptions& options, train::Parameter* min, train::Parameter* max)
      : options_(options), min_param_(min), max_param_(max) {
    if (options.tfmot_initial_range && options.range_mode == RangeMode::kMovingAverage) {
      range_ = {-6.0f, 6.0f};
      initialised_ = true;
    }
  }

  // Another transform's grid, for average pooling, whose int8 output keeps its input's
  // parameters.
  void ShareGridOf(const ActivationFakeQuant* source) { source_ = source; }

  FloatRange range() const {
    if (source_) return source_->range();
    if (min_param_) return {std::min(min_param_->value.data[0], 0.0f), std::max(max_param_->value.data[0], 0.0f)};
    return {std::min(range_.min, 0.0f), std::max(range_.max, 0.0f)};
  }

  void Forward(const Array& x, Array& y, bool training, ThreadPool& pool) override {
    if (training && !source_) Observe(x, pool);
    const FloatRange r = range();
    grid_ = train::NudgeRange(r.min, r.max, 0, 255);
    pool.ParallelFor(x.size(), [&](int64_t begin, int64_t end, int) {
      for (int64_t i = begin; i < end; ++i) y.data[i] = train::FakeQuantValue(x.data[i], grid_);
    });
  }

  void Backward(const Array& x, const Array& dy, Array& dx, ThreadPool& pool) override {
    std::vector<double> below(pool.num_threads(), 0.0), above(pool.num_threads(), 0.0);
    pool.ParallelFor(x.size(), [&](int64_t begin, int64_t end, int worker) {
      for (int64_t i = begin; i < end; ++i) {
        const int route = train::FakeQuantRoute(x.data[i], grid_);
        dx.data[i] = route == 0 ? dy.data[i] : 0.0f;
        if (route < 0) below[worker] += dy.data[i];
        if (route > 0) above[worker] += dy.data[i];
      }
    });
    if (min_param_ && !source_) {
      for (double b : below) min_param_->grad.data[0] += static_cast<float>(b);
      for (double a : above) max_param_->grad.data[0] += static_cast<float>(a);
    }
  }

 private:
  void Observe(const Array& x, ThreadPool& pool) {
    std::vector<float> lo(pool.num_threads(), std::numeric_limits<float>::infinity());
    std::vector<float> hi(pool.num_threads(), -std::numeric_limits<float>::infinity());
    pool.ParallelFor(x.size(), [&](int64_t begin, int64_t end, int worker) {
      for (int64_t i = begin; i < end; ++i) {
        lo[worker] = std::min(lo[worker], x.data[i]);
        hi[worker] = std::max(hi[worker], x.data[i]);
      }
    });
    const FloatRange batch{*std::min_element(lo.begin(), lo.end()), *std::max_element(hi.begin(), hi.end())};
    if (!initialised_) {
      // Learned ranges start where the data is; averages start there unless tfmot's
      // [-6, 6] was asked for.
      range_ = batch;
      if (min_param_) {
        min_param_->value.data[0] = batch.min;
        max_param_->value.data[0] = batch.max;
      }
      initialised_ = true;
      return;
    }
    if (min_param_) return;  // learned: the optimizer moves it
    const float decay = options_.ema_decay;
    range_.min = decay * range_.min + (1 - decay) * batch.min;
    range_.max = decay * range_.max + (1 - decay) * batch.max;
  }

  QatOptions options_;
  train::Parameter* min_param_;
  train::Parameter* max_param_;
  const ActivationFakeQuant* source_ = nullptr;
  FloatRange range_;
  bool initialised_ = false;
  FakeQuantGrid grid_;
};

bool HasWeights(train::LayerKind k) {
  return k == train::LayerKind::kConv2D || k == train::LayerKind::kDepthwiseConv2D ||
         k == train::LayerKind::kFullyConnected;
}

}  // namespace

struct QatModel::Impl {
  train::Model* model = nullptr;
  QatOptions options;
  std::vector<std::shared_ptr<ActivationFakeQuant>> output_transforms;  // by layer; null when none
  std::vector<int> layer_tensors;  // by layer: the exported graph's tensor, or -1
};

QatModel::QatModel(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
QatModel::~QatModel() = default;

Result<std::unique_ptr<QatModel>> QatModel::Prepare(train::Model& model, const QatOptions& options) {
  auto impl = std::make_unique<Impl>();
  impl->model = &model;
  impl->options = options;
  const std::vector<train::Layer>& layers = model.layers();
  if (options.batch_norm == BatchNormHandling::kFoldFirst) {
    for (size_t i = 0; i < layers.size(); ++i) {
      if (layers[i].kind != train::LayerKind::kBatchNorm || layers[i].folded) continue;
      if (Status s = model.FoldBatchNorm(static_cast<int>(i)); !s.ok()) {
        return Status::Unsupported("QAT with batch norm folded first: " + s.message() +
                                   " (use the tfmot batch-norm handling for this model)");
      }
    }
  }
  // The layers whose values the exported graph keeps as tensors are the ones the int8
  // model quantizes.
  QAUDIT_ASSIGN_OR_RETURN(Graph graph, train::ToGraph(model, &impl->layer_tensors));
  impl->output_transforms.resize(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    const train::Layer& layer = layers[i];
    if (HasWeights(layer.kind)) {
      const bool per_channel = layer.kind != train::LayerKind::kFullyConnected || options.per_channel_fully_connected;
      model.SetWeightTransform(static_cast<int>(i),
                               std::make_shared<WeightFakeQuant>(per_channel ? layer.weights->channel_axis : -1));
    }
    if (impl->layer_tensors[i] < 0) continue;
    if (layer.kind == train::LayerKind::kMaxPool2D || layer.kind == train::LayerKind::kReshape) continue;
    train::Parameter* min = nullptr;
    train::Parameter* max = nullptr;
    if (options.range_mode == RangeMode::kLearned) {
      min = model.AddParameter(layer.name + "/quant_min", {1}, {0.0f});
      max = model.AddParameter(layer.name + "/quant_max", {1}, {0.0f});
    }
    auto transform = std::make_shared<ActivationFakeQuant>(options, min, max);
    if (layer.kind == train::LayerKind::kAveragePool2D && impl->output_transforms[layer.inputs[0]]) {
      transform->ShareGridOf(impl->output_transforms[layer.inputs[0]].get());
    }
    impl->output_transforms[i] = transform;
    model.SetOutputTransform(static_cast<int>(i), transform);
  }
  return std::unique_ptr<QatModel>(new QatModel(std::move(impl)));
}

std::vector<std::pair<int, FloatRange>> QatModel::LayerRanges() const {
  std::vector<std::pair<int, FloatRange>> ranges;
  for (size_t i = 0; i < impl_->output_transforms.size(); ++i) {
    if (impl_->output_transforms[i]) ranges.emplace_back(static_cast<int>(i), impl_->output_transforms[i]->range());
  }
  return ranges;
}

Result<QuantizedModel> QatModel::Export(const QuantizeOptions& options, bool append_softmax) const {
  std::vector<int> layer_tensors;
  QAUDIT_ASSIGN_OR_RETURN(Graph graph, train::ToGraph(*impl_->model, &layer_tensors));
  if (append_softmax) {
    Tensor probabilities = graph.tensors[graph.outputs[0]];
    probabilities.name = "probabilities";
    graph.tensors.push_back(probabilities);
    const int out = static_cast<int>(graph.tensors.size()) - 1;
    graph.operators.push_back(Operator{OpKind::kSoftmax, {graph.outputs[0]}, {out}, SoftmaxOptions{}, 1});
    graph.outputs = {out};
  }
  TensorRanges ranges;
  for (const auto& [layer, range] : LayerRanges()) ranges[layer_tensors[layer]] = range;
  QuantizeOptions int8 = options;
  int8.method = QuantMethod::kInt8;
  if (impl_->options.per_channel_fully_connected) int8.granularity = WeightGranularity::kPerChannel;
  return Quantize(graph, int8, &ranges);
}

}  // namespace qaudit::qat
