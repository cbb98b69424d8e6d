#include "qaudit/qat.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/requantize.h"
#include "quant/params.h"
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
    // Element (o, c, k) of the weights viewed as [outer, channels, inner] belongs to channel c.
    int64_t outer = 1, channels = 1, inner = w.size();
    if (axis_ >= 0) {
      channels = w.shape[axis_];
      inner = 1;
      for (int d = 0; d < axis_; ++d) outer *= w.shape[d];
      for (size_t d = axis_ + 1; d < w.shape.size(); ++d) inner *= w.shape[d];
    }
    std::vector<float> half_range(channels, 0.0f);
    ForEachChannelBlock(outer, channels, inner, [&](int64_t c, int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) half_range[c] = std::max(half_range[c], std::fabs(w.data[i]));
    });
    grids_.resize(channels);
    scales_.resize(channels);
    for (int64_t c = 0; c < channels; ++c) {
      grids_[c] = train::NudgeRange(-half_range[c], half_range[c], 1, 255);
      scales_[c] = half_range[c] > 0.0f ? half_range[c] / 127.0f : 1.0f;  // as quant::QuantizeWeights
    }
    ForEachChannelBlock(outer, channels, inner, [&](int64_t c, int64_t begin, int64_t end) {
      const FakeQuantGrid g = grids_[c];
      const float inverse = 1.0f / g.scale;
      for (int64_t i = begin; i < end; ++i) y.data[i] = train::FakeQuantValue(w.data[i], g, inverse);
    });
  }

  void Backward(const Array&, const Array& dy, Array& dx, ThreadPool&) override { dx.data = dy.data; }

  // The int8 weight scales of the last Forward, one per channel (or one).
  const std::vector<float>& scales() const { return scales_; }

 private:
  template <typename Fn>
  static void ForEachChannelBlock(int64_t outer, int64_t channels, int64_t inner, Fn&& fn) {
    for (int64_t o = 0; o < outer; ++o) {
      for (int64_t c = 0; c < channels; ++c) fn(c, (o * channels + c) * inner, (o * channels + c + 1) * inner);
    }
  }

  int axis_;
  std::vector<FakeQuantGrid> grids_;
  std::vector<float> scales_;
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

  // For the output of a conv/depthwise/FC: the int8 kernel's own requantization.
  struct Requantization {
    const ActivationFakeQuant* input = nullptr;
    const WeightFakeQuant* weights = nullptr;
    bool double_rounding = false;  // TFLite's built-in depthwise; conv and FC round once
    bool float_product = false;    // per-tensor FC forms input x weight scale in float
    Activation activation = Activation::kNone;
  };
  void RequantizeLike(const Requantization& r) { requantization_ = r; }

  FloatRange range() const {
    if (source_) return source_->range();
    if (min_param_) return {std::min(min_param_->value.data[0], 0.0f), std::max(max_param_->value.data[0], 0.0f)};
    return {std::min(range_.min, 0.0f), std::max(range_.max, 0.0f)};
  }

  // The scale of the grid the last Forward used.
  float scale() const { return grid_.scale; }

  void Forward(const Array& x, Array& y, bool training, ThreadPool& pool) override {
    if (training && !source_) Observe(x, pool);
    const FloatRange r = range();
    grid_ = train::NudgeRange(r.min, r.max, 0, 255);
    // Evaluation computes exactly what the int8 model computes; training steps use the plain
    // FakeQuant grid, which differs from it only by rare one-step roundings and is cheaper.
    if (requantization_.input && !training) {
      RequantizeForward(x, y, pool);
      return;
    }
    const FakeQuantGrid g = grid_;
    const float inverse = 1.0f / g.scale;
    pool.ParallelFor(x.size(), [&](int64_t begin, int64_t end, int) {
      for (int64_t i = begin; i < end; ++i) y.data[i] = train::FakeQuantValue(x.data[i], g, inverse);
    });
  }

  void Backward(const Array& x, const Array& dy, Array& dx, ThreadPool& pool) override {
    std::vector<double> below(pool.num_threads(), 0.0), above(pool.num_threads(), 0.0);
    const FakeQuantGrid g = grid_;
    pool.ParallelFor(x.size(), [&](int64_t begin, int64_t end, int worker) {
      float below_sum = 0.0f, above_sum = 0.0f;
      for (int64_t i = begin; i < end; ++i) {
        const int route = train::FakeQuantRoute(x.data[i], g);
        const float d = dy.data[i];
        dx.data[i] = route == 0 ? d : 0.0f;
        below_sum += route < 0 ? d : 0.0f;
        above_sum += route > 0 ? d : 0.0f;
      }
      below[worker] = below_sum;
      above[worker] = above_sum;
    });
    if (min_param_ && !source_) {
      for (double b : below) min_param_->grad.data[0] += static_cast<float>(b);
      for (double a : above) max_param_->grad.data[0] += static_cast<float>(a);
    }
  }

 private:
  // What the int8 model computes for this output: the inputs and weights are on their grids
  // and the bias on its int32 grid (BiasFakeQuant), so x / (input scale x weight scale) is
  // the kernel's integer accumulator up to float rounding; requantize it with TFLite's
  // multiplier, rounding and activation clamp. Elements the fused activation clamped map to
  // the clamp bounds, as in the kernel. Gradients stay those of FakeQuant.
  void RequantizeForward(const Array& x, Array& y, ThreadPool& pool) {
    const Requantization& r = requantization_;
    const QuantParams out = quant::AsymmetricParams(range(), -128, 127);
    const float s_in = r.input->scale(), s_out = out.scale[0];
    const int32_t zp = static_cast<int32_t>(out.zero_point[0]);
    const std::vector<float>& s_w = r.weights->scales();
    const int64_t channels = x.shape.back();
    std::vector<kernels::QuantizedMultiplier> multipliers(channels);
    std::vector<float> inverse_step(channels);
    for (int64_t c = 0; c < channels; ++c) {
      const float w = s_w[s_w.size() == 1 ? 0 : c];
      multipliers[c] = kernels::QuantizeMultiplier(r.float_product ? static_cast<double>(s_in * w) / s_out
                                                                    : static_cast<double>(s_in) * w / s_out);
      // x / step is an integer up to float rounding, so multiplying by the inverse rounds to
      // the same accumulator.
      inverse_step[c] = static_cast<float>(1.0 / (static_cast<double>(s_in) * w));
    }
    std::vector<int64_t> single_multiplier(channels), single_round(channels), single_shift(channels);
    for (int64_t c = 0; c < channels; ++c) {
      single_multiplier[c] = multipliers[c].multiplier;
      single_shift[c] = 31 - multipliers[c].shift;
      single_round[c] = int64_t{1} << (single_shift[c] - 1);
    }
    auto quantize = [&](float f) { return zp + static_cast<int32_t>(std::round(f / s_out)); };
    int32_t lo = -128, hi = 127;
    if (r.activation == Activation::kRelu || r.activation == Activation::kRelu6) lo = std::max(lo, quantize(0.0f));
    if (r.activation == Activation::kRelu6) hi = std::min(hi, quantize(6.0f));
    const int64_t rows = x.size() / channels;
    auto run = [&](auto double_rounding) {
      pool.ParallelFor(rows, [&](int64_t begin, int64_t end, int) {
        for (int64_t row = begin; row < end; ++row) {
          const float* in = x.data.data() + row * channels;
          float* out = y.data.data() + row * channels;
          for (int64_t c = 0; c < channels; ++c) {
            const float rounded = std::nearbyint(in[c] * inverse_step[c]);
            const float acc = rounded < -2147483520.0f ? -2147483520.0f : rounded > 2147483520.0f ? 2147483520.0f : rounded;
            const int32_t a = static_cast<int32_t>(acc);
            int64_t scaled;
            if constexpr (decltype(double_rounding)::value) {
              scaled = kernels::MultiplyByQuantizedMultiplierDoubleRounding(a, multipliers[c]);
            } else {
              // MultiplyByQuantizedMultiplierSingleRounding, spelled out over plain arrays so
              // that the loop vectorizes (the int32 saturation cannot bind after the clamp).
              scaled = (int64_t{a} * single_multiplier[c] + single_round[c]) >> single_shift[c];
            }
            const int64_t q = std::clamp<int64_t>(scaled + zp, lo, hi);
            out[c] = static_cast<float>(q - zp) * s_out;
          }
        }
      });
    };
    if (r.double_rounding) {
      run(std::true_type{});
    } else {
      run(std::false_type{});
    }
  }

  void Observe(const Array& x, ThreadPool& pool) {
    std::vector<float> lo(pool.num_threads(), std::numeric_limits<float>::infinity());
    std::vector<float> hi(pool.num_threads(), -std::numeric_limits<float>::infinity());
    pool.ParallelFor(x.size(), [&](int64_t begin, int64_t end, int worker) {
      float l = lo[worker], h = hi[worker];  // in registers, so the loop vectorizes
      for (int64_t i = begin; i < end; ++i) {
        l = x.data[i] < l ? x.data[i] : l;
        h = x.data[i] > h ? x.data[i] : h;
      }
      lo[worker] = l;
      hi[worker] = h;
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
  Requantization requantization_;
  FloatRange range_;
  bool initialised_ = false;
  FakeQuantGrid grid_;
};

// The int32 bias grid of the int8 model: scale = input scale x weight scale per channel,
// values rounded half away from zero as quant::QuantizeBias does. Without it the float
// bias differs from the int8 model's by up to half a bias step, which moves outputs across
// rounding boundaries; in deep networks those one-step differences compound.
class BiasFakeQuant : public train::Transform {
 public:
  BiasFakeQuant(const ActivationFakeQuant* input, const WeightFakeQuant* weights) : input_(input), weights_(weights) {}

  void Forward(const Array& b, Array& y, bool, ThreadPool&) override {
    const std::vector<float>& weight_scales = weights_->scales();
    const float input_scale = input_->scale();
    for (int64_t c = 0; c < b.size(); ++c) {
      const float scale = input_scale * weight_scales[weight_scales.size() == 1 ? 0 : c];
      const double q = std::clamp(std::round(static_cast<double>(b.data[c]) / scale), -2147483648.0, 2147483647.0);
      y.data[c] = static_cast<float>(q * scale);
    }
  }
  void Backward(const Array&, const Array& dy, Array& dx, ThreadPool&) override { dx.data = dy.data; }

 private:
  const ActivationFakeQuant* input_;
  const WeightFakeQuant* weights_;
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
  std::vector<ActivationFakeQuant::Requantization> requantizations(layers.size());
  for (size_t i = 0; i < layers.size(); ++i) {
    const train::Layer& layer = layers[i];
    if (HasWeights(layer.kind)) {
      const bool per_channel = layer.kind != train::LayerKind::kFullyConnected || options.per_channel_fully_connected;
      auto weights = std::make_shared<WeightFakeQuant>(per_channel ? layer.weights->channel_axis : -1);
      model.SetWeightTransform(static_cast<int>(i), weights);
      // The input's grid: the nearest layer before that quantizes (max pooling and
      // reshapes keep their input's grid).
      int source = layer.inputs[0];
      while (!impl->output_transforms[source] && (layers[source].kind == train::LayerKind::kMaxPool2D ||
                                                  layers[source].kind == train::LayerKind::kReshape)) {
        source = layers[source].inputs[0];
      }
      // Under tfmot's handling a conv feeding a batch norm has no bias grid of its own: the
      // converter makes one after folding.
      const bool own_bias_grid = options.batch_norm == BatchNormHandling::kFoldFirst || impl->layer_tensors[i] >= 0;
      if (impl->output_transforms[source] && own_bias_grid) {
        model.SetBiasTransform(static_cast<int>(i),
                               std::make_shared<BiasFakeQuant>(impl->output_transforms[source].get(), weights.get()));
        ActivationFakeQuant::Requantization& r = requantizations[i];
        r.input = impl->output_transforms[source].get();
        r.weights = weights.get();
        r.double_rounding = layer.kind == train::LayerKind::kDepthwiseConv2D;
        r.float_product = layer.kind == train::LayerKind::kFullyConnected && !per_channel;
      }
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
    // The output of a conv/depthwise/FC, or of the batch norm folded into one, is what that
    // kernel's requantization makes of its accumulator.
    const int linear = HasWeights(layer.kind) ? static_cast<int>(i)
                       : layer.kind == train::LayerKind::kBatchNorm && layer.folded ? layer.inputs[0]
                                                                                     : -1;
    if (linear >= 0 && requantizations[linear].input) {
      ActivationFakeQuant::Requantization r = requantizations[linear];
      r.activation = layer.activation;
      transform->RequantizeLike(r);
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
