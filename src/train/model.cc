// Building a Model and running its forward pass; the backward rules are in gradients.cc.
#include <cassert>
#include <cmath>
#include <cstring>

#include "train/engine.h"

namespace qaudit::train {
namespace {

// A standard normal draw from two 53-bit uniforms (Box-Muller), the same on every
// platform, unlike std::normal_distribution.
double StandardNormal(std::mt19937_64& rng) {
  constexpr double kPi = 3.14159265358979323846;
  const double u1 = (static_cast<double>(rng() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
  const double u2 = static_cast<double>(rng() >> 11) * 0x1.0p-53;          // [0, 1)
  return std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * kPi * u2);
}

Shape WithBatch(int64_t batch, const Shape& shape) {
  Shape full{static_cast<int32_t>(batch)};
  full.insert(full.end(), shape.begin(), shape.end());
  return full;
}

bool IsLinear(LayerKind kind) {
  return kind == LayerKind::kConv2D || kind == LayerKind::kDepthwiseConv2D || kind == LayerKind::kFullyConnected;
}

}  // namespace

const char* LayerKindName(LayerKind kind) {
  switch (kind) {
    case LayerKind::kInput:
      return "input";
    case LayerKind::kConv2D:
      return "conv2d";
    case LayerKind::kDepthwiseConv2D:
      return "depthwise_conv2d";
    case LayerKind::kFullyConnected:
      return "fully_connected";
    case LayerKind::kMaxPool2D:
      return "max_pool2d";
    case LayerKind::kAveragePool2D:
      return "average_pool2d";
    case LayerKind::kAdd:
      return "add";
    case LayerKind::kGlobalAveragePool:
      return "global_average_pool";
    case LayerKind::kReshape:
      return "reshape";
    case LayerKind::kRelu:
      return "relu";
    case LayerKind::kRelu6:
      return "relu6";
    case LayerKind::kHardSwish:
      return "hard_swish";
    case LayerKind::kBatchNorm:
      return "batch_norm";
  }
  return "unknown";
}

Model::Model(uint64_t seed, int num_threads)
    : rng_(seed), pool_(std::make_unique<ThreadPool>(num_threads)), state_(std::make_unique<ModelState>()) {}

Model::~Model() = default;

int Model::AddLayer(Layer layer) {
  layer.name = std::string(LayerKindName(layer.kind)) + "_" + std::to_string(layers_.size());
  layers_.push_back(std::move(layer));
  output_ = static_cast<int>(layers_.size()) - 1;
  return output_;
}

Parameter* Model::NewParameter(const std::string& name, const Shape& shape, float stddev, int channel_axis,
                               bool decay) {
  auto p = std::make_unique<Parameter>();
  p->name = name;
  p->value = Array(shape);
  p->grad = Array(shape);
  p->channel_axis = channel_axis;
  p->decay = decay;
  if (stddev > 0) {
    for (float& v : p->value.data) v = static_cast<float>(stddev * StandardNormal(rng_));
  }
  params_.push_back(std::move(p));
  return params_.back().get();
}

Parameter* Model::AddParameter(const std::string& name, const Shape& shape, const std::vector<float>& values) {
  Parameter* p = NewParameter(name, shape, 0.0f, -1, false);
  assert(values.size() == p->value.data.size());
  p->value.data = values;
  return p;
}

int Model::Input(const std::string& name, const Shape& shape) {
  Layer l;
  l.kind = LayerKind::kInput;
  l.shape = shape;
  input_ = AddLayer(std::move(l));
  layers_[input_].name = name;
  return input_;
}

int Model::Conv2D(int x, int out_channels, int kernel, int stride, Padding padding, Activation act, bool use_bias) {
  const Shape& in = layers_[x].shape;
  assert(in.size() == 3);
  Layer l;
  l.kind = LayerKind::kConv2D;
  l.inputs = {x};
  l.shape = {OutputSize(in[0], kernel, stride, padding), OutputSize(in[1], kernel, stride, padding), out_channels};
  l.kernel = kernel, l.stride = stride, l.padding = padding, l.activation = act;
  const std::string name = "conv2d_" + std::to_string(layers_.size());
  l.weights = NewParameter(name + "/weights", {out_channels, kernel, kernel, in[2]},
                           std::sqrt(2.0f / (kernel * kernel * in[2])), 0, true);
  if (use_bias) l.bias = NewParameter(name + "/bias", {out_channels}, 0.0f, 0, false);
  return AddLayer(std::move(l));
}

int Model::DepthwiseConv2D(int x, int kernel, int stride, Padding padding, Activation act, bool use_bias) {
  const Shape& in = layers_[x].shape;
  assert(in.size() == 3);
  Layer l;
  l.kind = LayerKind::kDepthwiseConv2D;
  l.inputs = {x};
  l.shape = {OutputSize(in[0], kernel, stride, padding), OutputSize(in[1], kernel, stride, padding), in[2]};
  l.kernel = kernel, l.stride = stride, l.padding = padding, l.activation = act;
  const std::string name = "depthwise_conv2d_" + std::to_string(layers_.size());
  l.weights = NewParameter(name + "/weights", {1, kernel, kernel, in[2]}, std::sqrt(2.0f / (kernel * kernel)), 3, true);
  if (use_bias) l.bias = NewParameter(name + "/bias", {in[2]}, 0.0f, 0, false);
  return AddLayer(std::move(l));
}

int Model::FullyConnected(int x, int units, Activation act, bool use_bias) {
  const Shape& in = layers_[x].shape;
  assert(in.size() == 1);
  Layer l;
  l.kind = LayerKind::kFullyConnected;
  l.inputs = {x};
  l.shape = {units};
  l.activation = act;
  const std::string name = "fully_connected_" + std::to_string(layers_.size());
  l.weights = NewParameter(name + "/weights", {units, in[0]}, std::sqrt(2.0f / in[0]), 0, true);
  if (use_bias) l.bias = NewParameter(name + "/bias", {units}, 0.0f, 0, false);
  return AddLayer(std::move(l));
}

int Model::Pool(LayerKind kind, int x, int size, int stride, Padding padding) {
  const Shape& in = layers_[x].shape;
  assert(in.size() == 3);
  Layer l;
  l.kind = kind;
  l.inputs = {x};
  l.shape = {OutputSize(in[0], size, stride, padding), OutputSize(in[1], size, stride, padding), in[2]};
  l.kernel = size, l.stride = stride, l.padding = padding;
  return AddLayer(std::move(l));
}

int Model::MaxPool2D(int x, int size, int stride, Padding padding) {
  return Pool(LayerKind::kMaxPool2D, x, size, stride, padding);
}

int Model::AveragePool2D(int x, int size, int stride, Padding padding) {
  return Pool(LayerKind::kAveragePool2D, x, size, stride, padding);
}

int Model::Add(int a, int b, Activation act) {
  assert(layers_[a].shape == layers_[b].shape);
  Layer l;
  l.kind = LayerKind::kAdd;
  l.inputs = {a, b};
  l.shape = layers_[a].shape;
  l.activation = act;
  return AddLayer(std::move(l));
}

int Model::GlobalAveragePool(int x) {
  assert(layers_[x].shape.size() == 3);
  Layer l;
  l.kind = LayerKind::kGlobalAveragePool;
  l.inputs = {x};
  l.shape = {layers_[x].shape[2]};
  return AddLayer(std::move(l));
}

int Model::Reshape(int x, const Shape& shape) {
  assert(NumElements(shape) == NumElements(layers_[x].shape));
  Layer l;
  l.kind = LayerKind::kReshape;
  l.inputs = {x};
  l.shape = shape;
  return AddLayer(std::move(l));
}

int Model::Unary(LayerKind kind, int x) {
  assert(kind == LayerKind::kRelu || kind == LayerKind::kRelu6 || kind == LayerKind::kHardSwish);
  Layer l;
  l.kind = kind;
  l.inputs = {x};
  l.shape = layers_[x].shape;
  return AddLayer(std::move(l));
}

int Model::BatchNorm(int x, Activation act, float momentum, float epsilon) {
  const int channels = layers_[x].shape.back();
  Layer l;
  l.kind = LayerKind::kBatchNorm;
  l.inputs = {x};
  l.shape = layers_[x].shape;
  l.activation = act;
  l.momentum = momentum, l.epsilon = epsilon;
  const std::string name = "batch_norm_" + std::to_string(layers_.size());
  l.gamma = NewParameter(name + "/gamma", {channels}, 0.0f, 0, false);
  l.gamma->value.data.assign(channels, 1.0f);
  l.beta = NewParameter(name + "/beta", {channels}, 0.0f, 0, false);
  l.running_mean.assign(channels, 0.0f);
  l.running_var.assign(channels, 1.0f);
  return AddLayer(std::move(l));
}

Status Model::FoldBatchNorm(int bn) {
  if (bn < 0 || bn >= static_cast<int>(layers_.size()) || layers_[bn].kind != LayerKind::kBatchNorm) {
    return Status::InvalidArgument("FoldBatchNorm: layer " + std::to_string(bn) + " is not a batch norm");
  }
  const int producer = layers_[bn].inputs[0];
  const Layer& p = layers_[producer];
  if (!IsLinear(p.kind) || p.activation != Activation::kNone || p.output_transform) {
    return Status::InvalidArgument(
        "FoldBatchNorm: " + layers_[bn].name + " reads " + p.name +
        ", not a conv/depthwise/fully-connected layer without activation or output transform");
  }
  for (size_t i = 0; i < layers_.size(); ++i) {
    for (int in : layers_[i].inputs) {
      if (in == producer && static_cast<int>(i) != bn) {
        return Status::InvalidArgument("FoldBatchNorm: " + p.name + " is also read by " + layers_[i].name);
      }
    }
  }
  layers_[bn].folded = true;
  return Status::Ok();
}

std::vector<Parameter*> Model::parameters() const {
  std::vector<Parameter*> out;
  for (const auto& p : params_) out.push_back(p.get());
  return out;
}

const Array& Model::value(int i) const { return state_->layers[i].value; }
const Array& Model::gradient(int i) const { return state_->layers[i].grad; }

void Model::ZeroGrad() {
  for (const auto& p : params_) std::fill(p->grad.data.begin(), p->grad.data.end(), 0.0f);
}

namespace {

// Training-mode batch norm over rows of channels: normalises with the batch statistics
// and moves the running statistics towards them.
void UpdateRunningStatistics(Layer& l, const std::vector<float>& mean, const std::vector<float>& variance) {
  for (size_t c = 0; c < mean.size(); ++c) {
    l.running_mean[c] = l.momentum * l.running_mean[c] + (1 - l.momentum) * mean[c];
    l.running_var[c] = l.momentum * l.running_var[c] + (1 - l.momentum) * variance[c];
  }
}

void BatchNormForward(Layer& l, LayerState& s, const Array& x, Mode mode, Array& y, ThreadPool& pool) {
  const int64_t channels = l.shape.back(), rows = x.size() / channels;
  if (mode == Mode::kTraining) {
    std::vector<float> variance;
    ChannelMoments(x.data.data(), rows, channels, l.epsilon, s.mean, s.inv_std, variance, pool);
    UpdateRunningStatistics(l, s.mean, variance);
  } else {
    s.mean = l.running_mean;
    s.inv_std.resize(channels);
    for (int64_t c = 0; c < channels; ++c) s.inv_std[c] = 1.0f / std::sqrt(l.running_var[c] + l.epsilon);
  }
  s.normalized.Resize(x.shape);
  const float* gamma = l.gamma->value.data.data();
  const float* beta = l.beta->value.data.data();
  pool.ParallelFor(rows, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      const float* in = x.data.data() + r * channels;
      float* norm = s.normalized.data.data() + r * channels;
      float* out = y.data.data() + r * channels;
      for (int64_t c = 0; c < channels; ++c) {
        norm[c] = (in[c] - s.mean[c]) * s.inv_std[c];
        out[c] = gamma[c] * norm[c] + beta[c];
      }
      ApplyActivation(l.activation, out, channels);
    }
  });
}

}  // namespace

// Scales weights per output channel: along axis 0 (conv OHWI, FC [out, in]) or the last
// axis (depthwise 1HWC).
void ScaleWeightsPerChannel(const Parameter& w, const std::vector<float>& scale, Array& out) {
  out.Resize(w.value.shape);
  const int64_t channels = static_cast<int64_t>(scale.size()), per_channel = w.value.size() / channels;
  for (int64_t i = 0; i < w.value.size(); ++i) {
    const int64_t c = w.channel_axis == 0 ? i / per_channel : i % channels;
    out.data[i] = w.value.data[i] * scale[c];
  }
}

namespace {

// A batch norm folded into the conv/FC before it (see Model::FoldBatchNorm): the layer runs
// again with scaled weights and a bias that applies the statistics.
void FoldedBatchNormForward(std::vector<Layer>& layers, int index, ModelState& st, Array& y, ThreadPool& pool) {
  Layer& l = layers[index];
  LayerState& s = st.layers[index];
  const Layer& linear = layers[l.inputs[0]];
  const Array& x = st.layers[linear.inputs[0]].value;
  const int64_t channels = l.shape.back();
  if (st.mode == Mode::kTraining) {
    const Array& z = st.layers[l.inputs[0]].value;
    std::vector<float> variance;
    ChannelMoments(z.data.data(), z.size() / channels, channels, l.epsilon, s.mean, s.inv_std, variance, pool);
    UpdateRunningStatistics(l, s.mean, variance);
  } else {
    s.mean = l.running_mean;
    s.inv_std.resize(channels);
    for (int64_t c = 0; c < channels; ++c) s.inv_std[c] = 1.0f / std::sqrt(l.running_var[c] + l.epsilon);
  }
  s.scale.resize(channels);
  s.bias_used.Resize({static_cast<int32_t>(channels)});
  for (int64_t c = 0; c < channels; ++c) {
    s.scale[c] = l.gamma->value.data[c] * s.inv_std[c];
    const float b = linear.bias != nullptr ? linear.bias->value.data[c] : 0.0f;
    s.bias_used.data[c] = l.beta->value.data[c] + (b - s.mean[c]) * s.scale[c];
  }
  ScaleWeightsPerChannel(*linear.weights, s.scale, s.folded_weights);
  const float* w = s.folded_weights.data.data();
  if (linear.weight_transform) {
    s.weights_used.Resize(s.folded_weights.shape);
    linear.weight_transform->Forward(s.folded_weights, s.weights_used, st.mode == Mode::kTraining, pool);
    w = s.weights_used.data.data();
  }
  const float* bias = s.bias_used.data.data();
  if (linear.bias_transform) {
    s.bias_transformed.Resize(s.bias_used.shape);
    linear.bias_transform->Forward(s.bias_used, s.bias_transformed, st.mode == Mode::kTraining, pool);
    bias = s.bias_transformed.data.data();
  }
  LinearForward(linear.kind, MakeWindow(linear, layers[linear.inputs[0]].shape), st.batch, x.data.data(), w, bias,
                l.activation, y.data.data(), pool);
}

}  // namespace

const Array& Model::Forward(const Array& input, Mode mode) {
  ModelState& st = *state_;
  st.mode = mode;
  st.batch = input.shape[0];
  st.layers.resize(layers_.size());
  st.partials.resize(pool_->num_threads());
  st.folded_into.assign(layers_.size(), -1);
  st.needs_grad.assign(layers_.size(), false);
  for (size_t i = 0; i < layers_.size(); ++i) {
    const Layer& l = layers_[i];
    if (l.kind == LayerKind::kBatchNorm && l.folded) st.folded_into[l.inputs[0]] = static_cast<int>(i);
    bool needs = l.weights != nullptr || l.gamma != nullptr || l.output_transform != nullptr ||
                 (l.kind == LayerKind::kInput && input_gradient_);
    for (int in : l.inputs) needs = needs || st.needs_grad[in];
    st.needs_grad[i] = needs;
  }
  const bool training = mode == Mode::kTraining;
  for (size_t i = 0; i < layers_.size(); ++i) {
    Layer& l = layers_[i];
    LayerState& s = st.layers[i];
    const Shape shape = WithBatch(st.batch, l.shape);
    Array& out = l.output_transform ? s.pre_transform : s.value;
    out.Resize(shape);
    const Array* x = l.inputs.empty() ? nullptr : &st.layers[l.inputs[0]].value;
    switch (l.kind) {
      case LayerKind::kInput:
        assert(NumElements(input.shape) == NumElements(shape));
        out.data = input.data;
        break;
      case LayerKind::kConv2D:
      case LayerKind::kDepthwiseConv2D:
      case LayerKind::kFullyConnected: {
        const bool folded = st.folded_into[i] >= 0;
        // A folded layer only runs here in training, for its batch norm's statistics.
        if (folded && !training) break;
        const float* w = l.weights->value.data.data();
        if (l.weight_transform && !folded) {
          s.weights_used.Resize(l.weights->value.shape);
          l.weight_transform->Forward(l.weights->value, s.weights_used, training, *pool_);
          w = s.weights_used.data.data();
        }
        const float* bias = l.bias != nullptr ? l.bias->value.data.data() : nullptr;
        if (l.bias_transform && bias && !folded) {
          s.bias_transformed.Resize(l.bias->value.shape);
          l.bias_transform->Forward(l.bias->value, s.bias_transformed, training, *pool_);
          bias = s.bias_transformed.data.data();
        }
        LinearForward(l.kind, MakeWindow(l, layers_[l.inputs[0]].shape), st.batch, x->data.data(), w, bias,
                      l.activation, out.data.data(), *pool_);
        break;
      }
      case LayerKind::kMaxPool2D:
        s.argmax.resize(out.data.size());
        MaxPoolForward(MakeWindow(l, layers_[l.inputs[0]].shape), st.batch, x->data.data(), out.data.data(),
                       s.argmax.data(), *pool_);
        break;
      case LayerKind::kAveragePool2D:
        AveragePoolForward(MakeWindow(l, layers_[l.inputs[0]].shape), st.batch, x->data.data(), out.data.data(),
                           *pool_);
        break;
      case LayerKind::kAdd: {
        const float* b = st.layers[l.inputs[1]].value.data.data();
        pool_->ParallelFor(out.size(), [&](int64_t begin, int64_t end, int) {
          for (int64_t k = begin; k < end; ++k) out.data[k] = x->data[k] + b[k];
          ApplyActivation(l.activation, out.data.data() + begin, end - begin);
        });
        break;
      }
      case LayerKind::kGlobalAveragePool: {
        const Shape& in = layers_[l.inputs[0]].shape;
        GlobalAveragePoolForward(st.batch, int64_t{in[0]} * in[1], in[2], x->data.data(), out.data.data(), *pool_);
        break;
      }
      case LayerKind::kReshape:
        out.data = x->data;
        break;
      case LayerKind::kRelu:
      case LayerKind::kRelu6:
      case LayerKind::kHardSwish:
        UnaryForward(l.kind, x->data.data(), out.data.data(), out.size(), *pool_);
        break;
      case LayerKind::kBatchNorm:
        if (l.folded) {
          FoldedBatchNormForward(layers_, static_cast<int>(i), st, out, *pool_);
        } else {
          BatchNormForward(l, s, *x, mode, out, *pool_);
        }
        break;
    }
    if (l.output_transform) {
      s.value.Resize(shape);
      l.output_transform->Forward(s.pre_transform, s.value, training, *pool_);
    }
  }
  return st.layers[output_].value;
}

void Model::Backward(const Array& doutput) {
  ModelState& st = *state_;
  assert(st.mode == Mode::kTraining);
  for (size_t i = 0; i < layers_.size(); ++i) {
    if (!st.needs_grad[i]) continue;
    LayerState& s = st.layers[i];
    s.grad.Resize(WithBatch(st.batch, layers_[i].shape));
    std::fill(s.grad.data.begin(), s.grad.data.end(), 0.0f);
  }
  assert(doutput.size() == st.layers[output_].grad.size());
  st.layers[output_].grad.data = doutput.data;
  Array dx;
  for (int i = output_; i >= 0; --i) {
    if (!st.needs_grad[i]) continue;
    const Layer& l = layers_[i];
    LayerState& s = st.layers[i];
    if (l.output_transform) {
      dx.Resize(s.grad.shape);
      l.output_transform->Backward(s.pre_transform, s.grad, dx, *pool_);
      std::swap(s.grad.data, dx.data);
    }
    BackwardLayer(layers_, i, st, *pool_);
  }
}

}  // namespace qaudit::train
