#include "oracle/single_op_generator.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <sstream>

namespace qaudit::testing {
namespace {

// ---------------------------------------------------------------- random helpers

int UniformInt(Rng& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
int64_t UniformInt64(Rng& rng, int64_t lo, int64_t hi) { return std::uniform_int_distribution<int64_t>(lo, hi)(rng); }
double UniformReal(Rng& rng, double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }
bool Chance(Rng& rng, double p) { return std::bernoulli_distribution(p)(rng); }
double LogUniform(Rng& rng, double lo, double hi) { return std::exp(UniformReal(rng, std::log(lo), std::log(hi))); }
template <typename T>
T Pick(Rng& rng, const std::vector<T>& v) {
  return v[static_cast<size_t>(UniformInt(rng, 0, static_cast<int>(v.size()) - 1))];
}

DType ActivationDType(CaseType t) {
  switch (t) {
    case CaseType::kFloat32: return DType::kFloat32;
    case CaseType::kInt8: return DType::kInt8;
    case CaseType::kUInt8: return DType::kUInt8;
    case CaseType::kInt16: return DType::kInt16;
  }
  return DType::kFloat32;
}

std::pair<int64_t, int64_t> IntRange(DType d) {
  switch (d) {
    case DType::kInt8: return {-128, 127};
    case DType::kUInt8: return {0, 255};
    case DType::kInt16: return {-32768, 32767};
    case DType::kInt32: return {INT32_MIN, INT32_MAX};
    default: return {0, 0};
  }
}

QuantParams PerTensor(float scale, int64_t zero_point) {
  QuantParams q;
  q.scale = {scale};
  q.zero_point = {zero_point};
  return q;
}

QuantParams PerAxis(const std::vector<float>& scales, int axis, int64_t zero_point = 0) {
  QuantParams q;
  q.scale = scales;
  q.zero_point.assign(scales.size(), zero_point);
  q.quantized_dimension = axis;
  return q;
}

// An activation zero point: anywhere in range, with extra weight on the usual values.
int64_t RandomZeroPoint(Rng& rng, CaseType t) {
  switch (t) {
    case CaseType::kInt8: {
      const int r = UniformInt(rng, 0, 9);
      if (r == 0) return 0;
      if (r == 1) return -128;
      if (r == 2) return 127;
      return UniformInt(rng, -128, 127);
    }
    case CaseType::kUInt8: {
      const int r = UniformInt(rng, 0, 9);
      if (r == 0) return 128;
      if (r == 1) return 0;
      if (r == 2) return 255;
      return UniformInt(rng, 0, 255);
    }
    default: return 0;
  }
}

// A scale of the form k * 2^e with a small odd k: products and quotients of such scales
// are exact in float and make requantization land on exact .5 ties.
float TieScale(Rng& rng, int e_lo, int e_hi, const std::vector<int>& ks = {1, 1, 3, 5, 7}) {
  return std::ldexp(static_cast<float>(Pick(rng, ks)), UniformInt(rng, e_lo, e_hi));
}

// A "natural" scale: log-uniform, full float mantissa.
float NaturalScale(Rng& rng, double lo, double hi) { return static_cast<float>(LogUniform(rng, lo, hi)); }

Activation RandomActivation(Rng& rng) {
  const int r = UniformInt(rng, 0, 9);
  if (r < 4) return Activation::kNone;
  if (r < 6) return Activation::kRelu;
  if (r < 8) return Activation::kRelu6;
  return Activation::kReluN1To1;
}

Shape RandomShape(Rng& rng, int rank, int max_dim) {
  Shape s(rank);
  for (int& d : s) d = UniformInt(rng, 1, max_dim);
  return s;
}

int64_t Product(const Shape& s) {
  int64_t n = 1;
  for (int32_t d : s) n *= d;
  return n;
}

std::string FormatFloat(double v) {
  std::ostringstream s;
  s.precision(9);
  s << v;
  return s.str();
}

// ---------------------------------------------------------------- accumulating ops
//
// CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED share how weights, bias and scales are
// drawn. The integer weights come first; the output scale is then chosen so that the
// outputs spread over a good part of the output range (not all saturated, not all zero).

struct AccumulatorSpec {
  CaseType type;
  int channels = 1;          // output channels (= number of bias values)
  int taps = 1;              // accumulated products per output (K)
  int64_t weight_count = 0;  // all weights
  // Which output channel weight i belongs to.
  std::function<int(int64_t)> channel_of;
  bool per_channel = false;
  int weight_axis = 0;  // quantized_dimension when per-channel
  bool bias_required = false;
  bool int16_bias_must_be_64 = false;  // DEPTHWISE_CONV_2D 16x8 refuses an int32 bias
};

struct AccumulatorTensors {
  int weights = -1, bias = -1;
  QuantParams input_quant, output_quant;
  int32_t input_lo = 0, input_hi = 0;  // the input data range
};

// Adds the weights (and maybe the bias) constants; returns them with the activation
// quantization the caller gives to the input and output tensors.
AccumulatorTensors MakeAccumulatorConstants(Rng& rng, ModelBuilder& b, const AccumulatorSpec& spec,
                                            const Shape& weight_shape) {
  AccumulatorTensors r;
  const bool with_bias = spec.bias_required || Chance(rng, 0.85);
  if (spec.type == CaseType::kFloat32) {
    const double w_range = Chance(rng, 0.5) ? 1.0 : LogUniform(rng, 0.01, 4.0);
    std::vector<float> w(spec.weight_count);
    for (float& v : w) v = static_cast<float>(UniformReal(rng, -w_range, w_range));
    r.weights = b.Constant("weights", DType::kFloat32, weight_shape, {}, w);
    if (with_bias) {
      std::vector<float> bias(spec.channels);
      for (float& v : bias) v = static_cast<float>(UniformReal(rng, -2, 2));
      r.bias = b.Constant("bias", DType::kFloat32, {spec.channels}, {}, bias);
    }
    return r;
  }

  const bool ties = Chance(rng, 0.4);
  if (ties) b.Tag("tie-scales");
  // Weight granularity: in tie mode the weights (and so the accumulator) are often
  // multiples of a power of two, which makes acc * M land on .5 far more often.
  const int granule = ties ? Pick<int>(rng, {1, 2, 8, 16, 32}) : 1;
  const bool small_weights = Chance(rng, 0.1);  // large multipliers (shift > 0)
  if (small_weights) b.Tag("small-weights");

  // Weights, as integers.
  const bool u8 = spec.type == CaseType::kUInt8;
  const int64_t w_zp = u8 ? (Chance(rng, 0.3) ? 128 : UniformInt(rng, 0, 255)) : 0;
  std::vector<int32_t> w(spec.weight_count);
  const int w_max = small_weights ? UniformInt(rng, 1, 4) : 127;
  for (int32_t& v : w) {
    const int m = std::max(1, w_max / granule);
    if (u8) {
      v = static_cast<int32_t>(std::clamp<int64_t>(w_zp + granule * UniformInt(rng, -m, m), 0, 255));
    } else {
      v = std::clamp(granule * UniformInt(rng, -m, m), -127, 127);
    }
  }
  // Root-mean-square centred weight of each channel.
  std::vector<double> sum_sq(spec.channels, 0.0);
  for (int64_t i = 0; i < spec.weight_count; ++i) {
    const double c = w[i] - static_cast<double>(w_zp);
    sum_sq[spec.channel_of(i)] += c * c;
  }

  // Input data range: the whole dtype range, or a narrower window (small accumulators).
  const DType act = ActivationDType(spec.type);
  auto [qmin, qmax] = IntRange(act);
  const int64_t in_zp = RandomZeroPoint(rng, spec.type);
  r.input_lo = static_cast<int32_t>(qmin);
  r.input_hi = static_cast<int32_t>(qmax);
  if (Chance(rng, 0.2)) {
    const int64_t half = spec.type == CaseType::kInt16 ? UniformInt(rng, 1, 2000) : UniformInt(rng, 1, 20);
    r.input_lo = static_cast<int32_t>(std::max(qmin, in_zp - half));
    r.input_hi = static_cast<int32_t>(std::min(qmax, in_zp + half));
    b.Tag("narrow-input");
  }
  const double mid = (r.input_lo + r.input_hi) / 2.0 - static_cast<double>(in_zp);
  const double half_width = (r.input_hi - r.input_lo) / 2.0;
  const double x_rms = std::sqrt(mid * mid + half_width * half_width / 3.0) + 0.5;
  double w_rms = 0;
  for (double s : sum_sq) w_rms += s;
  w_rms = std::sqrt(w_rms / static_cast<double>(spec.weight_count)) + 0.5;
  const double acc_rms = std::sqrt(static_cast<double>(spec.taps)) * x_rms * w_rms;
  const double out_target = (qmax - qmin) / 8.0;  // desired output spread, in output steps
  const double m_target = out_target / acc_rms;   // desired multiplier s_in * s_w / s_out

  const int num_scales = spec.per_channel ? spec.channels : 1;
  std::vector<float> w_scales(num_scales);
  float s_in, s_out;
  if (ties) {
    const int e_in = UniformInt(rng, -10, -3);
    s_in = TieScale(rng, e_in, e_in);
    const int e_w = UniformInt(rng, -9, -4);
    for (float& s : w_scales) s = TieScale(rng, e_w, e_w, {1, 1, 3, 5, 7, 9, 11, 13, 15});
    // s_out = 2^k such that s_in * mean(s_w) / s_out is near the target multiplier.
    const double mean_w = std::accumulate(w_scales.begin(), w_scales.end(), 0.0) / num_scales;
    const int k = static_cast<int>(std::lround(std::log2(s_in * mean_w / m_target))) + UniformInt(rng, -1, 1);
    s_out = std::ldexp(1.0f, std::clamp(k, -40, 20));
    if (Chance(rng, 0.3)) s_out *= static_cast<float>(Pick<int>(rng, {3, 5}));
  } else {
    s_in = NaturalScale(rng, 1e-3, 0.5);
    const double base = LogUniform(rng, 1e-4, 0.1);
    for (float& s : w_scales) s = static_cast<float>(base * (spec.per_channel ? LogUniform(rng, 0.3, 3.0) : 1.0));
    const double mean_w = std::accumulate(w_scales.begin(), w_scales.end(), 0.0) / num_scales;
    s_out = static_cast<float>(s_in * mean_w / m_target * LogUniform(rng, 0.3, 3.0));
  }
  const int64_t out_zp = RandomZeroPoint(rng, spec.type);
  r.input_quant = PerTensor(s_in, in_zp);
  r.output_quant = PerTensor(s_out, out_zp);

  QuantParams wq = spec.per_channel ? PerAxis(w_scales, spec.weight_axis) : PerTensor(w_scales[0], w_zp);
  const DType wdt = u8 ? DType::kUInt8 : DType::kInt8;
  if (u8) {
    std::vector<uint8_t> v(w.begin(), w.end());
    r.weights = b.Constant("weights", wdt, weight_shape, wq, v);
  } else {
    std::vector<int8_t> v(w.begin(), w.end());
    r.weights = b.Constant("weights", wdt, weight_shape, wq, v);
  }

  if (with_bias) {
    // Bias scale must be input_scale * weight_scale (computed in float, as the converter does).
    std::vector<float> bias_scales(num_scales);
    for (int c = 0; c < num_scales; ++c) bias_scales[c] = s_in * w_scales[c];
    QuantParams bq = spec.per_channel ? PerAxis(bias_scales, 0) : PerTensor(bias_scales[0], 0);
    const double bias_rms = acc_rms * Pick<double>(rng, {0.0, 0.3, 1.0, 3.0});
    std::vector<int64_t> bias(spec.channels);
    for (int64_t& v : bias) v = granule * static_cast<int64_t>(std::llround(UniformReal(rng, -bias_rms, bias_rms) / granule));
    if (spec.type == CaseType::kInt16 && (spec.int16_bias_must_be_64 || !Chance(rng, 0.2))) {
      r.bias = b.Constant("bias", DType::kInt64, {spec.channels}, bq, bias);
    } else {
      if (spec.type == CaseType::kInt16) b.Tag("int32-bias");
      std::vector<int32_t> b32(bias.begin(), bias.end());
      r.bias = b.Constant("bias", DType::kInt32, {spec.channels}, bq, b32);
    }
  }
  return r;
}

int ConvOut(bool same, int in, int filter, int stride, int dilation) {
  const int effective = (filter - 1) * dilation + 1;
  return same ? (in + stride - 1) / stride : (in - effective + stride) / stride;
}

// TFLite's DEPTHWISE_CONV_2D takes a bias whenever the operator lists three inputs, so
// "no bias" is two inputs, not an optional -1 ("Tensor at index 2 was optional but was
// expected"); FULLY_CONNECTED does accept -1. TFLite 2.12's CONV_2D needs a bias
// ("conv.cc:380 has_bias was not true"), so the generator always gives it one.
std::vector<int> ConvInputs(int input, const AccumulatorTensors& t) {
  if (t.bias < 0) return {input, t.weights};
  return {input, t.weights, t.bias};
}

void BuildConvLike(Rng& rng, CaseType type, ModelBuilder& b, bool depthwise) {
  ConvOptions o;
  const int batch = Chance(rng, 0.2) ? 2 : 1;
  const int in_c = UniformInt(rng, 1, depthwise ? 6 : 8);
  o.depth_multiplier = depthwise ? (Chance(rng, 0.35) ? UniformInt(rng, 2, 3) : 1) : 1;
  if (o.depth_multiplier > 1) b.Tag("depth-multiplier-" + std::to_string(o.depth_multiplier));
  const int out_c = depthwise ? in_c * o.depth_multiplier : UniformInt(rng, 1, 8);
  const int kh = UniformInt(rng, 1, 4), kw = UniformInt(rng, 1, 4);
  o.stride_h = Pick<int>(rng, {1, 1, 1, 2, 2, 3});
  o.stride_w = Pick<int>(rng, {1, 1, 1, 2, 2, 3});
  if (Chance(rng, 0.2)) {
    o.dilation_h = UniformInt(rng, 1, 3);
    o.dilation_w = UniformInt(rng, 1, 3);
    if (o.dilation_h > 1 || o.dilation_w > 1) b.Tag("dilation");
  }
  o.padding = Chance(rng, 0.5) ? Padding::kSame : Padding::kValid;
  o.activation = RandomActivation(rng);
  const int eff_h = (kh - 1) * o.dilation_h + 1, eff_w = (kw - 1) * o.dilation_w + 1;
  // VALID needs the input to be at least the dilated filter.
  const int min_h = o.padding == Padding::kValid ? eff_h : 1, min_w = o.padding == Padding::kValid ? eff_w : 1;
  const int in_h = UniformInt(rng, min_h, std::max(min_h, 9)), in_w = UniformInt(rng, min_w, std::max(min_w, 9));
  const bool same = o.padding == Padding::kSame;
  const Shape out_shape = {batch, ConvOut(same, in_h, kh, o.stride_h, o.dilation_h),
                           ConvOut(same, in_w, kw, o.stride_w, o.dilation_w), out_c};

  AccumulatorSpec spec;
  spec.type = type;
  spec.channels = out_c;
  spec.taps = kh * kw * (depthwise ? 1 : in_c);
  spec.weight_count = static_cast<int64_t>(out_c) * kh * kw * (depthwise ? 1 : in_c);
  spec.per_channel = (type == CaseType::kInt8 || type == CaseType::kInt16) && Chance(rng, 0.75);
  spec.weight_axis = depthwise ? 3 : 0;
  spec.bias_required = !depthwise;
  // "depthwise_conv.cc:149 bias->type != kTfLiteInt64 (INT32 != INT64)"
  spec.int16_bias_must_be_64 = depthwise;
  const int per_out = kh * kw * in_c;
  if (depthwise) {
    spec.channel_of = [out_c](int64_t i) { return static_cast<int>(i % out_c); };
  } else {
    spec.channel_of = [per_out](int64_t i) { return static_cast<int>(i / per_out); };
  }
  if (type != CaseType::kFloat32) b.Tag(spec.per_channel ? "per-channel" : "per-tensor");
  const Shape w_shape = depthwise ? Shape{1, kh, kw, out_c} : Shape{out_c, kh, kw, in_c};
  const DType act = ActivationDType(type);
  // Tensors are added in a fixed order: input, weights, bias, output.
  AccumulatorTensors t;
  const Shape in_shape = {batch, in_h, in_w, in_c};
  if (type == CaseType::kFloat32) {
    const int in = b.Input("input", act, in_shape);
    t = MakeAccumulatorConstants(rng, b, spec, w_shape);
    const int out = b.Output("output", act, out_shape);
    b.SetOperator(depthwise ? OpKind::kDepthwiseConv2D : OpKind::kConv2D, ConvInputs(in, t), {out}, o);
    return;
  }
  // The input tensor's quantization is only known after the weights are drawn, so the
  // input is added first with placeholder parameters and fixed up below.
  const int in = b.Input("input", act, in_shape, PerTensor(1.0f, 0));
  t = MakeAccumulatorConstants(rng, b, spec, w_shape);
  b.graph().tensors[in].quant = t.input_quant;
  const int out = b.Output("output", act, out_shape, t.output_quant);
  b.SetOperator(depthwise ? OpKind::kDepthwiseConv2D : OpKind::kConv2D, ConvInputs(in, t), {out}, o);
  b.SetInputRange(0, t.input_lo, t.input_hi);
}

void BuildFullyConnected(Rng& rng, CaseType type, ModelBuilder& b) {
  FullyConnectedOptions o;
  o.activation = RandomActivation(rng);
  const int in_features = UniformInt(rng, 1, 48);
  const int out_features = UniformInt(rng, 1, 16);
  // Input: [batch, in] or a higher-rank tensor whose last dimension is `in`.
  Shape in_shape;
  const int rank = Pick<int>(rng, {2, 2, 2, 1, 3, 4});
  if (rank == 1) {
    in_shape = {in_features};
  } else {
    in_shape = RandomShape(rng, rank - 1, 3);
    in_shape.push_back(in_features);
  }
  o.keep_num_dims = rank >= 2 && Chance(rng, 0.4);
  if (o.keep_num_dims) b.Tag("keep_num_dims");
  const int64_t batch = Product(in_shape) / in_features;
  Shape out_shape;
  if (o.keep_num_dims) {
    out_shape = in_shape;
    out_shape.back() = out_features;
  } else {
    out_shape = {static_cast<int32_t>(batch), out_features};
  }
  b.Tag("input-rank-" + std::to_string(rank));

  AccumulatorSpec spec;
  spec.type = type;
  spec.channels = out_features;
  spec.taps = in_features;
  spec.weight_count = static_cast<int64_t>(out_features) * in_features;
  spec.per_channel = (type == CaseType::kInt8 && Chance(rng, 0.4)) || (type == CaseType::kInt16 && Chance(rng, 0.2));
  spec.weight_axis = 0;
  spec.channel_of = [in_features](int64_t i) { return static_cast<int>(i / in_features); };
  if (type != CaseType::kFloat32) b.Tag(spec.per_channel ? "per-channel" : "per-tensor");
  const DType act = ActivationDType(type);
  const Shape w_shape = {out_features, in_features};
  if (type == CaseType::kFloat32) {
    const int in = b.Input("input", act, in_shape);
    AccumulatorTensors t = MakeAccumulatorConstants(rng, b, spec, w_shape);
    const int out = b.Output("output", act, out_shape);
    b.SetOperator(OpKind::kFullyConnected, {in, t.weights, t.bias}, {out}, o);
    return;
  }
  const int in = b.Input("input", act, in_shape, PerTensor(1.0f, 0));
  AccumulatorTensors t = MakeAccumulatorConstants(rng, b, spec, w_shape);
  b.graph().tensors[in].quant = t.input_quant;
  const int out = b.Output("output", act, out_shape, t.output_quant);
  b.SetOperator(OpKind::kFullyConnected, {in, t.weights, t.bias}, {out}, o);
  b.SetInputRange(0, t.input_lo, t.input_hi);
}

// ---------------------------------------------------------------- pooling

void BuildPool(Rng& rng, CaseType type, ModelBuilder& b, bool average) {
  PoolOptions o;
  o.filter_h = UniformInt(rng, 1, 4);
  o.filter_w = UniformInt(rng, 1, 4);
  o.stride_h = Pick<int>(rng, {1, 1, 2, 2, 3});
  o.stride_w = Pick<int>(rng, {1, 1, 2, 2, 3});
  o.padding = Chance(rng, 0.5) ? Padding::kSame : Padding::kValid;
  o.activation = RandomActivation(rng);
  const bool same = o.padding == Padding::kSame;
  const int in_h = UniformInt(rng, same ? 1 : o.filter_h, 9), in_w = UniformInt(rng, same ? 1 : o.filter_w, 9);
  const int batch = Chance(rng, 0.2) ? 2 : 1;
  const int c = UniformInt(rng, 1, 8);
  const Shape in_shape = {batch, in_h, in_w, c};
  const Shape out_shape = {batch, ConvOut(same, in_h, o.filter_h, o.stride_h, 1),
                           ConvOut(same, in_w, o.filter_w, o.stride_w, 1), c};
  const DType act = ActivationDType(type);
  QuantParams q;
  if (type != CaseType::kFloat32) {
    const bool ties = Chance(rng, 0.4);
    q = PerTensor(ties ? TieScale(rng, -8, -1) : NaturalScale(rng, 1e-3, 0.2), RandomZeroPoint(rng, type));
    if (ties) b.Tag("tie-scales");
  }
  const int in = b.Input("input", act, in_shape, q);
  const int out = b.Output("output", act, out_shape, q);  // the spec: same scale and zero point
  b.SetOperator(average ? OpKind::kAveragePool2D : OpKind::kMaxPool2D, {in}, {out}, o);
}

// ---------------------------------------------------------------- elementwise binary

// Broadcast-compatible shapes for a binary op: returns (a, b, out).
std::tuple<Shape, Shape, Shape> BroadcastShapes(Rng& rng, int max_rank) {
  const int rank = UniformInt(rng, 1, max_rank);
  const Shape out = RandomShape(rng, rank, 5);
  if (Chance(rng, 0.45)) return {out, out, out};
  auto derive = [&](bool allow_drop) {
    Shape s = out;
    for (int32_t& d : s) {
      if (Chance(rng, 0.4)) d = 1;
    }
    if (allow_drop && Chance(rng, 0.3)) {
      const int drop = UniformInt(rng, 0, static_cast<int>(s.size()) - 1);
      s.erase(s.begin(), s.begin() + drop);
    }
    return s;
  };
  Shape a = derive(true), bshape = derive(true);
  // Every output dimension must come from at least one input.
  for (int i = 0; i < rank; ++i) {
    const int ai = i - (rank - static_cast<int>(a.size())), bi = i - (rank - static_cast<int>(bshape.size()));
    const int32_t da = ai >= 0 ? a[ai] : 1, db = bi >= 0 ? bshape[bi] : 1;
    if (da == out[i] || db == out[i]) continue;
    if (ai < 0) {  // grow `a` back to full rank
      Shape grown(rank - a.size(), 1);
      grown.insert(grown.end(), a.begin(), a.end());
      a = grown;
    }
    a[i - (rank - static_cast<int>(a.size()))] = out[i];
  }
  // When both inputs lost leading dimensions, the output has the broadcast rank of the
  // inputs: TFLite resizes the output tensor to that shape whatever the model says.
  const size_t broadcast_rank = std::max(a.size(), bshape.size());
  if (broadcast_rank < out.size()) return {a, bshape, Shape(out.end() - broadcast_rank, out.end())};
  return {a, bshape, out};
}

void BuildAddSub(Rng& rng, CaseType type, ModelBuilder& b, OpKind kind) {
  ElementwiseOptions o;
  o.activation = RandomActivation(rng);
  auto [sa, sb, so] = BroadcastShapes(rng, 4);
  const DType act = ActivationDType(type);
  QuantParams qa, qb, qo;
  if (type == CaseType::kFloat32) {
    o.pot_scale_int16 = false;
  } else if (type == CaseType::kInt16) {
    // TFLite's general int16 ADD/SUB (pot_scale_int16 = false) needs zero points of 0; the
    // power-of-two variant additionally needs power-of-two scales.
    o.pot_scale_int16 = Chance(rng, 0.2);
    if (o.pot_scale_int16) {
      // TFLite (add.cc, sub.cc): power-of-two scales, one input with the output's scale,
      // the other at most that ("input1_shift == 0 || input2_shift == 0", both <= 0).
      b.Tag("pot_scale_int16");
      const int e = UniformInt(rng, -15, -8);
      qo = PerTensor(std::ldexp(1.0f, e), 0);
      qa = qo;
      qb = PerTensor(std::ldexp(1.0f, e - UniformInt(rng, 0, 3)), 0);
      if (Chance(rng, 0.5)) std::swap(qa, qb);
      // int16 ADD with pot_scale_int16 does not broadcast: TFLite 2.12 aborts
      // (WebAssembly trap) on such a model. SUB does.
      if (kind == OpKind::kAdd) sa = sb = so;
    } else {
      const bool ties = Chance(rng, 0.4);
      if (ties) b.Tag("tie-scales");
      auto scale = [&] { return ties ? TieScale(rng, -14, -9) : NaturalScale(rng, 1e-5, 1e-3); };
      qa = PerTensor(scale(), 0);
      qb = PerTensor(Chance(rng, 0.15) ? qa.scale[0] : scale(), 0);
      qo = PerTensor(scale(), 0);
    }
  } else {
    o.pot_scale_int16 = false;
    const bool ties = Chance(rng, 0.4);
    if (ties) b.Tag("tie-scales");
    auto scale = [&] { return ties ? TieScale(rng, -7, -2) : NaturalScale(rng, 2e-3, 0.2); };
    qa = PerTensor(scale(), RandomZeroPoint(rng, type));
    qb = PerTensor(Chance(rng, 0.15) ? qa.scale[0] : scale(), RandomZeroPoint(rng, type));
    qo = PerTensor(scale(), RandomZeroPoint(rng, type));
    if (Chance(rng, 0.12)) {
      // An input-to-output scale ratio near the edges of what XNNPACK takes, [2^-10, 2^8).
      b.Tag("extreme-ratio");
      const float ratio = std::ldexp(static_cast<float>(UniformReal(rng, 0.75, 1.5)), Pick<int>(rng, {-11, -10, 7, 8}));
      (Chance(rng, 0.5) ? qa : qb).scale[0] = qo.scale[0] * ratio;
    }
  }
  if (sa != so || sb != so) b.Tag("broadcast");
  const int a = b.Input("a", act, sa, qa);
  const int bb = b.Input("b", act, sb, qb);
  const int out = b.Output("output", act, so, qo);
  b.SetOperator(kind, {a, bb}, {out}, o);
}

// ---------------------------------------------------------------- element moves

QuantParams SharedQuant(Rng& rng, CaseType type) {
  if (type == CaseType::kFloat32) return {};
  return PerTensor(NaturalScale(rng, 1e-3, 0.5), RandomZeroPoint(rng, type));
}

void BuildPad(Rng& rng, CaseType type, ModelBuilder& b) {
  const int rank = UniformInt(rng, 1, 4);
  const Shape in_shape = RandomShape(rng, rank, 5);
  std::vector<int32_t> paddings(rank * 2);
  Shape out_shape = in_shape;
  for (int d = 0; d < rank; ++d) {
    paddings[2 * d] = UniformInt(rng, 0, 3);
    paddings[2 * d + 1] = UniformInt(rng, 0, 3);
    out_shape[d] += paddings[2 * d] + paddings[2 * d + 1];
  }
  const DType act = ActivationDType(type);
  const QuantParams q = SharedQuant(rng, type);
  const int in = b.Input("input", act, in_shape, q);
  const int p = b.Constant("paddings", DType::kInt32, {rank, 2}, {}, paddings);
  const int out = b.Output("output", act, out_shape, q);
  b.SetOperator(OpKind::kPad, {in, p}, {out}, NoOptions{});
}

void BuildTranspose(Rng& rng, CaseType type, ModelBuilder& b) {
  const int rank = UniformInt(rng, 1, 5);
  const Shape in_shape = RandomShape(rng, rank, rank <= 3 ? 6 : 4);
  std::vector<int32_t> perm(rank);
  std::iota(perm.begin(), perm.end(), 0);
  std::shuffle(perm.begin(), perm.end(), rng);
  Shape out_shape(rank);
  for (int d = 0; d < rank; ++d) out_shape[d] = in_shape[perm[d]];
  const DType act = ActivationDType(type);
  const QuantParams q = SharedQuant(rng, type);
  const int in = b.Input("input", act, in_shape, q);
  const int p = b.Constant("perm", DType::kInt32, {rank}, {}, perm);
  const int out = b.Output("output", act, out_shape, q);
  b.SetOperator(OpKind::kTranspose, {in, p}, {out}, NoOptions{});
}

void BuildConcatenation(Rng& rng, CaseType type, ModelBuilder& b) {
  ConcatenationOptions o;
  const int rank = UniformInt(rng, 1, 4);
  const Shape base = RandomShape(rng, rank, 4);
  const int axis = UniformInt(rng, 0, rank - 1);
  o.axis = Chance(rng, 0.3) ? axis - rank : axis;
  const int n = UniformInt(rng, 1, 4);
  const DType act = ActivationDType(type);
  const QuantParams q = SharedQuant(rng, type);
  // TFLite's uint8 CONCATENATION requantizes inputs whose parameters differ from the
  // output's; int8 and int16 need them equal ("concatenation.cc:179 t->params.scale !=
  // output->params.scale").
  const bool mixed = type == CaseType::kUInt8 && Chance(rng, 0.35);
  if (mixed) b.Tag("mixed-quantization");
  std::vector<int> ins;
  Shape out_shape = base;
  out_shape[axis] = 0;
  for (int k = 0; k < n; ++k) {
    Shape s = base;
    s[axis] = UniformInt(rng, 1, 4);
    out_shape[axis] += s[axis];
    ins.push_back(b.Input("input" + std::to_string(k), act, s, mixed ? SharedQuant(rng, type) : q));
  }
  const int out = b.Output("output", act, out_shape, q);
  b.SetOperator(OpKind::kConcatenation, ins, {out}, o);
}

// A random factorisation of `n` into `rank` dimensions.
Shape Factorise(Rng& rng, int64_t n, int rank) {
  Shape s(rank, 1);
  int64_t rest = n;
  for (int64_t p = 2; rest > 1;) {
    if (rest % p == 0) {
      s[UniformInt(rng, 0, rank - 1)] *= static_cast<int32_t>(p);
      rest /= p;
    } else {
      ++p;
    }
  }
  return s;
}

void BuildReshape(Rng& rng, CaseType type, ModelBuilder& b) {
  const Shape in_shape = RandomShape(rng, UniformInt(rng, 1, 4), 6);
  const Shape out_shape = Factorise(rng, Product(in_shape), UniformInt(rng, 1, 4));
  std::vector<int32_t> target(out_shape.begin(), out_shape.end());
  if (Chance(rng, 0.3)) {
    target[UniformInt(rng, 0, static_cast<int>(target.size()) - 1)] = -1;
    b.Tag("inferred-dim");
  }
  const DType act = ActivationDType(type);
  const QuantParams q = SharedQuant(rng, type);
  const int in = b.Input("input", act, in_shape, q);
  ReshapeOptions o;
  std::vector<int> inputs = {in};
  const int form = UniformInt(rng, 0, 2);
  if (form != 1) inputs.push_back(b.Constant("shape", DType::kInt32, {static_cast<int32_t>(target.size())}, {}, target));
  if (form != 0) {
    o.has_new_shape = true;
    o.new_shape = target;
  }
  b.Tag(form == 0 ? "shape-tensor" : form == 1 ? "new_shape-option" : "shape-tensor+option");
  const int out = b.Output("output", act, out_shape, q);
  b.SetOperator(OpKind::kReshape, inputs, {out}, o);
}

// ---------------------------------------------------------------- unary (pending ops)

// A unary op whose output quantization is free (LEAKY_RELU, HARD_SWISH, RELU, RELU6).
void BuildUnaryFreeScale(Rng& rng, CaseType type, ModelBuilder& b, OpKind kind, OpOptions options) {
  const Shape shape = RandomShape(rng, UniformInt(rng, 1, 4), 5);
  const DType act = ActivationDType(type);
  QuantParams qi, qo;
  if (type == CaseType::kInt16) {
    qi = PerTensor(NaturalScale(rng, 1e-5, 1e-3), 0);
    qo = PerTensor(Chance(rng, 0.3) ? qi.scale[0] : NaturalScale(rng, 1e-5, 1e-3), 0);
  } else if (type != CaseType::kFloat32) {
    const bool ties = Chance(rng, 0.3);
    if (ties) b.Tag("tie-scales");
    auto scale = [&] { return ties ? TieScale(rng, -7, -3) : NaturalScale(rng, 5e-3, 0.1); };
    qi = PerTensor(scale(), RandomZeroPoint(rng, type));
    qo = Chance(rng, 0.3) ? qi : PerTensor(scale(), RandomZeroPoint(rng, type));
  }
  const int in = type == CaseType::kFloat32 ? b.Input("input", act, shape, qi, -8.0, 8.0)
                                            : b.Input("input", act, shape, qi);
  const int out = b.Output("output", act, shape, qo);
  b.SetOperator(kind, {in}, {out}, std::move(options));
}

// LOGISTIC, TANH and SOFTMAX have fixed output quantization.
void BuildFixedOutput(Rng& rng, CaseType type, ModelBuilder& b, OpKind kind, OpOptions options) {
  const Shape shape = RandomShape(rng, UniformInt(rng, 1, 4), 6);
  const DType act = ActivationDType(type);
  QuantParams qi, qo;
  const bool tanh = kind == OpKind::kTanh;
  switch (type) {
    case CaseType::kFloat32: break;
    case CaseType::kInt8:
      qi = PerTensor(NaturalScale(rng, 1e-2, 0.2), RandomZeroPoint(rng, type));
      qo = tanh ? PerTensor(1.0f / 128, 0) : PerTensor(1.0f / 256, -128);
      break;
    case CaseType::kUInt8:
      qi = PerTensor(NaturalScale(rng, 1e-2, 0.2), RandomZeroPoint(rng, type));
      qo = tanh ? PerTensor(1.0f / 128, 128) : PerTensor(1.0f / 256, 0);
      break;
    case CaseType::kInt16:
      // The int16 kernels want a power-of-two-friendly input scale; any scale is legal.
      qi = PerTensor(Chance(rng, 0.5) ? std::ldexp(1.0f, UniformInt(rng, -14, -10)) : NaturalScale(rng, 1e-4, 1e-3), 0);
      qo = PerTensor(1.0f / 32768, 0);
      break;
  }
  const int in = type == CaseType::kFloat32 ? b.Input("input", act, shape, qi, -10.0, 10.0)
                                            : b.Input("input", act, shape, qi);
  const int out = b.Output("output", act, shape, qo);
  b.SetOperator(kind, {in}, {out}, std::move(options));
}

void BuildMean(Rng& rng, CaseType type, ModelBuilder& b) {
  ReducerOptions o;
  o.keep_dims = Chance(rng, 0.5);
  const int rank = UniformInt(rng, 1, 4);
  const Shape in_shape = RandomShape(rng, rank, 6);
  // Axes: the common H,W case on 4-D inputs, or a random non-empty subset.
  std::vector<int32_t> axes;
  if (rank == 4 && Chance(rng, 0.5)) {
    // The spatial reductions TFLite's optimized kernel and XNNPACK single out, in the
    // spellings that matter (XNNPACK maps {1,2} to a 2-D and {2} to a 1-D global pooling).
    const std::vector<std::vector<int32_t>> spatial = {{1, 2}, {1, 2}, {2, 1}, {2}, {2}, {-3, -2}, {-2}, {1}, {3}};
    axes = Pick(rng, spatial);
    std::string tag = "axes";
    for (int32_t a : axes) tag += "_" + std::to_string(a);
    b.Tag(tag);
  } else {
    for (int d = 0; d < rank; ++d) {
      if (Chance(rng, 0.5)) axes.push_back(Chance(rng, 0.2) ? d - rank : d);
    }
    if (axes.empty()) axes.push_back(UniformInt(rng, 0, rank - 1));
  }
  Shape out_shape;
  for (int d = 0; d < rank; ++d) {
    const bool reduced = std::any_of(axes.begin(), axes.end(), [&](int32_t a) { return (a + rank) % rank == d; });
    if (!reduced) {
      out_shape.push_back(in_shape[d]);
    } else if (o.keep_dims) {
      out_shape.push_back(1);
    }
  }
  const DType act = ActivationDType(type);
  QuantParams qi, qo;
  if (type == CaseType::kInt16) {
    qi = PerTensor(NaturalScale(rng, 1e-5, 1e-3), 0);
    qo = Chance(rng, 0.5) ? qi : PerTensor(NaturalScale(rng, 1e-5, 1e-3), 0);
  } else if (type != CaseType::kFloat32) {
    qi = SharedQuant(rng, type);
    qo = Chance(rng, 0.5) ? qi : SharedQuant(rng, type);
  }
  const int in = b.Input("input", act, in_shape, qi);
  const int ax = b.Constant("axes", DType::kInt32, {static_cast<int32_t>(axes.size())}, {}, axes);
  const int out = b.Output("output", act, out_shape, qo);
  b.SetOperator(OpKind::kMean, {in, ax}, {out}, o);
}

void BuildMul(Rng& rng, CaseType type, ModelBuilder& b) {
  ElementwiseOptions o;
  o.activation = RandomActivation(rng);
  o.pot_scale_int16 = false;
  auto [sa, sb, so] = BroadcastShapes(rng, 4);
  if (sa != so || sb != so) b.Tag("broadcast");
  const DType act = ActivationDType(type);
  QuantParams qa, qb, qo;
  if (type == CaseType::kInt16) {
    qa = PerTensor(NaturalScale(rng, 1e-4, 1e-2), 0);
    qb = PerTensor(NaturalScale(rng, 1e-4, 1e-2), 0);
    qo = PerTensor(NaturalScale(rng, 1e-4, 1e-2), 0);
  } else if (type != CaseType::kFloat32) {
    const bool ties = Chance(rng, 0.4);
    if (ties) b.Tag("tie-scales");
    auto scale = [&] { return ties ? TieScale(rng, -7, -2) : NaturalScale(rng, 5e-3, 0.2); };
    qa = PerTensor(scale(), RandomZeroPoint(rng, type));
    qb = PerTensor(scale(), RandomZeroPoint(rng, type));
    qo = PerTensor(scale(), RandomZeroPoint(rng, type));
  }
  const int a = b.Input("a", act, sa, qa);
  const int bb = b.Input("b", act, sb, qb);
  const int out = b.Output("output", act, so, qo);
  b.SetOperator(OpKind::kMul, {a, bb}, {out}, o);
}

// QUANTIZE: float -> int8/uint8/int16, or a requantization between integer types.
void BuildQuantize(Rng& rng, CaseType type, ModelBuilder& b) {
  const Shape shape = RandomShape(rng, UniformInt(rng, 1, 4), 6);
  const DType out_t = ActivationDType(type);
  const bool ties = Chance(rng, 0.4);
  if (ties) b.Tag("tie-scales");
  auto out_scale = [&] {
    if (type == CaseType::kInt16) return ties ? TieScale(rng, -14, -8) : NaturalScale(rng, 1e-5, 1e-3);
    return ties ? TieScale(rng, -7, -2) : NaturalScale(rng, 5e-3, 0.2);
  };
  const QuantParams qo = PerTensor(out_scale(), RandomZeroPoint(rng, type));
  // Source: float, or (requantize) an integer type TFLite pairs with this output type.
  std::vector<DType> sources = {DType::kFloat32, DType::kFloat32};
  if (type == CaseType::kInt8) sources.insert(sources.end(), {DType::kInt8, DType::kUInt8, DType::kInt16});
  if (type == CaseType::kUInt8) sources.insert(sources.end(), {DType::kInt8, DType::kUInt8});
  if (type == CaseType::kInt16) sources.insert(sources.end(), {DType::kInt16});
  const DType src = Pick(rng, sources);
  b.Tag(std::string("from-") + DTypeName(src));
  int in;
  if (src == DType::kFloat32) {
    // Real values spanning the output's representable range and a bit beyond.
    auto [qmin, qmax] = IntRange(out_t);
    const double lo = (qmin - qo.zero_point[0] - 8) * static_cast<double>(qo.scale[0]);
    const double hi = (qmax - qo.zero_point[0] + 8) * static_cast<double>(qo.scale[0]);
    in = b.Input("input", DType::kFloat32, shape, {}, lo, hi);
  } else {
    QuantParams qi;
    if (src == DType::kInt16) {
      qi = PerTensor(type == CaseType::kInt16 ? out_scale() : NaturalScale(rng, 1e-5, 1e-3), 0);
    } else {
      qi = PerTensor(out_scale(), RandomZeroPoint(rng, src == DType::kInt8 ? CaseType::kInt8 : CaseType::kUInt8));
    }
    in = b.Input("input", src, shape, qi);
  }
  const int out = b.Output("output", out_t, shape, qo);
  b.SetOperator(OpKind::kQuantize, {in}, {out}, NoOptions{});
}

void BuildDequantize(Rng& rng, CaseType type, ModelBuilder& b) {
  const Shape shape = RandomShape(rng, UniformInt(rng, 1, 4), 6);
  const DType in_t = ActivationDType(type);
  const QuantParams qi = type == CaseType::kInt16 ? PerTensor(NaturalScale(rng, 1e-5, 1e-2), 0) : SharedQuant(rng, type);
  const int in = b.Input("input", in_t, shape, qi);
  const int out = b.Output("output", DType::kFloat32, shape);
  b.SetOperator(OpKind::kDequantize, {in}, {out}, NoOptions{});
}

// ---------------------------------------------------------------- the table

constexpr CaseType kF32 = CaseType::kFloat32, kI8 = CaseType::kInt8, kU8 = CaseType::kUInt8, kI16 = CaseType::kInt16;

std::vector<OpEntry> MakeTable() {
  std::vector<OpEntry> t;
  auto add = [&](std::string name, OpKind kind, std::vector<CaseType> types, int weight,
                 std::function<void(Rng&, CaseType, ModelBuilder&)> build) {
    t.push_back({std::move(name), kind, std::move(types), weight, std::move(build)});
  };
  // Ops with kernels.
  add("CONV_2D", OpKind::kConv2D, {kF32, kI8, kU8, kI16}, 4,
      [](Rng& r, CaseType c, ModelBuilder& b) { BuildConvLike(r, c, b, false); });
  add("DEPTHWISE_CONV_2D", OpKind::kDepthwiseConv2D, {kF32, kI8, kU8, kI16}, 4,
      [](Rng& r, CaseType c, ModelBuilder& b) { BuildConvLike(r, c, b, true); });
  add("FULLY_CONNECTED", OpKind::kFullyConnected, {kF32, kI8, kU8, kI16}, 4, BuildFullyConnected);
  add("AVERAGE_POOL_2D", OpKind::kAveragePool2D, {kF32, kI8, kU8, kI16}, 2,
      [](Rng& r, CaseType c, ModelBuilder& b) { BuildPool(r, c, b, true); });
  add("MAX_POOL_2D", OpKind::kMaxPool2D, {kF32, kI8, kU8, kI16}, 1,
      [](Rng& r, CaseType c, ModelBuilder& b) { BuildPool(r, c, b, false); });
  add("ADD", OpKind::kAdd, {kF32, kI8, kU8, kI16}, 3,
      [](Rng& r, CaseType c, ModelBuilder& b) { BuildAddSub(r, c, b, OpKind::kAdd); });
  add("SUB", OpKind::kSub, {kF32, kI8, kU8, kI16}, 3,
      [](Rng& r, CaseType c, ModelBuilder& b) { BuildAddSub(r, c, b, OpKind::kSub); });
  add("PAD", OpKind::kPad, {kF32, kI8, kU8, kI16}, 1, BuildPad);
  add("TRANSPOSE", OpKind::kTranspose, {kF32, kI8, kU8, kI16}, 1, BuildTranspose);
  add("CONCATENATION", OpKind::kConcatenation, {kF32, kI8, kU8, kI16}, 1, BuildConcatenation);
  add("RESHAPE", OpKind::kReshape, {kF32, kI8, kU8, kI16}, 1, BuildReshape);
  // Ops whose kernels are pending: refused (Unsupported) by qaudit until they land.
  add("SOFTMAX", OpKind::kSoftmax, {kF32, kI8, kU8, kI16}, 1, [](Rng& r, CaseType c, ModelBuilder& b) {
    SoftmaxOptions o;
    o.beta = Chance(r, 0.5) ? 1.0f : static_cast<float>(LogUniform(r, 0.25, 4.0));
    BuildFixedOutput(r, c, b, OpKind::kSoftmax, o);
  });
  add("LOGISTIC", OpKind::kLogistic, {kF32, kI8, kU8, kI16}, 1,
      [](Rng& r, CaseType c, ModelBuilder& b) { BuildFixedOutput(r, c, b, OpKind::kLogistic, NoOptions{}); });
  add("TANH", OpKind::kTanh, {kF32, kI8, kU8, kI16}, 1,
      [](Rng& r, CaseType c, ModelBuilder& b) { BuildFixedOutput(r, c, b, OpKind::kTanh, NoOptions{}); });
  add("HARD_SWISH", OpKind::kHardSwish, {kF32, kI8, kU8}, 1,
      [](Rng& r, CaseType c, ModelBuilder& b) { BuildUnaryFreeScale(r, c, b, OpKind::kHardSwish, NoOptions{}); });
  add("LEAKY_RELU", OpKind::kLeakyRelu, {kF32, kI8, kU8, kI16}, 1, [](Rng& r, CaseType c, ModelBuilder& b) {
    LeakyReluOptions o;
    o.alpha = Chance(r, 0.3) ? 0.2f : static_cast<float>(UniformReal(r, 0.01, 0.99));
    BuildUnaryFreeScale(r, c, b, OpKind::kLeakyRelu, o);
  });
  add("RELU", OpKind::kRelu, {kF32, kI8, kU8, kI16}, 1,
      [](Rng& r, CaseType c, ModelBuilder& b) { BuildUnaryFreeScale(r, c, b, OpKind::kRelu, NoOptions{}); });
  add("RELU6", OpKind::kRelu6, {kF32, kI8, kU8, kI16}, 1,
      [](Rng& r, CaseType c, ModelBuilder& b) { BuildUnaryFreeScale(r, c, b, OpKind::kRelu6, NoOptions{}); });
  add("MEAN", OpKind::kMean, {kF32, kI8, kU8, kI16}, 1, BuildMean);
  add("MUL", OpKind::kMul, {kF32, kI8, kU8, kI16}, 2, BuildMul);
  add("QUANTIZE", OpKind::kQuantize, {kI8, kU8, kI16}, 1, BuildQuantize);
  add("DEQUANTIZE", OpKind::kDequantize, {kI8, kU8, kI16}, 1, BuildDequantize);
  return t;
}

struct Slot {
  const OpEntry* entry;
  CaseType type;
};

Result<std::vector<Slot>> Slots(const std::vector<std::string>& only) {
  const auto& table = SingleOpTable();
  for (const std::string& name : only) {
    if (std::none_of(table.begin(), table.end(), [&](const OpEntry& e) { return e.name == name; })) {
      return Status::InvalidArgument("no generator table entry named '" + name + "'");
    }
  }
  std::vector<Slot> slots;
  // Round-robin over the weight so that slots of one entry are spread out.
  int max_weight = 0;
  for (const OpEntry& e : table) max_weight = std::max(max_weight, e.weight);
  for (int round = 0; round < max_weight; ++round) {
    for (const OpEntry& e : table) {
      if (round >= e.weight) continue;
      if (!only.empty() && std::find(only.begin(), only.end(), e.name) == only.end()) continue;
      for (CaseType t : e.types) slots.push_back({&e, t});
    }
  }
  return slots;
}

void FillInput(Rng& rng, const Tensor& t, const ModelBuilder::InputFill& fill, HostTensor* h) {
  h->dtype = t.dtype;
  h->shape = t.shape;
  const int64_t n = t.num_elements();
  h->bytes.assign(static_cast<size_t>(n) * DTypeSize(t.dtype), 0);
  switch (t.dtype) {
    case DType::kFloat32:
      for (int64_t i = 0; i < n; ++i) h->data<float>()[i] = static_cast<float>(UniformReal(rng, fill.lo, fill.hi));
      break;
    case DType::kInt8:
      for (int64_t i = 0; i < n; ++i) h->data<int8_t>()[i] = static_cast<int8_t>(UniformInt64(rng, fill.lo, fill.hi));
      break;
    case DType::kUInt8:
      for (int64_t i = 0; i < n; ++i) h->data<uint8_t>()[i] = static_cast<uint8_t>(UniformInt64(rng, fill.lo, fill.hi));
      break;
    case DType::kInt16:
      for (int64_t i = 0; i < n; ++i) h->data<int16_t>()[i] = static_cast<int16_t>(UniformInt64(rng, fill.lo, fill.hi));
      break;
    case DType::kInt32:
      for (int64_t i = 0; i < n; ++i) h->data<int32_t>()[i] = static_cast<int32_t>(UniformInt64(rng, fill.lo, fill.hi));
      break;
    default: break;
  }
}

std::string OptionsString(const Operator& op) {
  std::ostringstream s;
  std::visit(
      [&](const auto& o) {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, ConvOptions>) {
          s << "padding=" << (o.padding == Padding::kSame ? "SAME" : "VALID") << " stride=" << o.stride_h << "x"
            << o.stride_w << " dilation=" << o.dilation_h << "x" << o.dilation_w;
          if (op.kind == OpKind::kDepthwiseConv2D) s << " depth_multiplier=" << o.depth_multiplier;
          s << " activation=" << ActivationName(o.activation);
        } else if constexpr (std::is_same_v<T, PoolOptions>) {
          s << "padding=" << (o.padding == Padding::kSame ? "SAME" : "VALID") << " filter=" << o.filter_h << "x"
            << o.filter_w << " stride=" << o.stride_h << "x" << o.stride_w
            << " activation=" << ActivationName(o.activation);
        } else if constexpr (std::is_same_v<T, FullyConnectedOptions>) {
          s << "activation=" << ActivationName(o.activation) << " keep_num_dims=" << o.keep_num_dims;
        } else if constexpr (std::is_same_v<T, ElementwiseOptions>) {
          s << "activation=" << ActivationName(o.activation) << " pot_scale_int16=" << o.pot_scale_int16;
        } else if constexpr (std::is_same_v<T, ConcatenationOptions>) {
          s << "axis=" << o.axis << " activation=" << ActivationName(o.activation);
        } else if constexpr (std::is_same_v<T, SoftmaxOptions>) {
          s << "beta=" << FormatFloat(o.beta);
        } else if constexpr (std::is_same_v<T, ReducerOptions>) {
          s << "keep_dims=" << o.keep_dims;
        } else if constexpr (std::is_same_v<T, ReshapeOptions>) {
          if (o.has_new_shape) s << "new_shape=" << ShapeToString(o.new_shape);
        } else if constexpr (std::is_same_v<T, LeakyReluOptions>) {
          s << "alpha=" << FormatFloat(o.alpha);
        }
      },
      op.options);
  return s.str();
}

std::string QuantString(const QuantParams& q) {
  if (q.empty()) return "";
  std::ostringstream s;
  s << " scale=";
  if (q.scale.size() == 1) {
    s << FormatFloat(q.scale[0]);
  } else {
    s << "[";
    for (size_t i = 0; i < q.scale.size(); ++i) s << (i ? "," : "") << FormatFloat(q.scale[i]);
    s << "] axis=" << q.quantized_dimension;
  }
  s << " zp=";
  if (q.zero_point.size() == 1) {
    s << q.zero_point[0];
  } else {
    bool all_zero = std::all_of(q.zero_point.begin(), q.zero_point.end(), [](int64_t z) { return z == 0; });
    s << (all_zero ? "0 (all)" : "[...]");
  }
  return s.str();
}

std::string ConstantValues(const Tensor& t) {
  const int64_t n = t.num_elements();
  if (n > 16) return " (" + std::to_string(n) + " values)";
  std::ostringstream s;
  s << " = [";
  for (int64_t i = 0; i < n; ++i) {
    if (i) s << ",";
    switch (t.dtype) {
      case DType::kFloat32: s << FormatFloat(t.data_as<float>()[i]); break;
      case DType::kInt8: s << static_cast<int>(t.data_as<int8_t>()[i]); break;
      case DType::kUInt8: s << static_cast<int>(t.data_as<uint8_t>()[i]); break;
      case DType::kInt16: s << t.data_as<int16_t>()[i]; break;
      case DType::kInt32: s << t.data_as<int32_t>()[i]; break;
      case DType::kInt64: s << t.data_as<int64_t>()[i]; break;
      default: s << "?"; break;
    }
  }
  s << "]";
  return s.str();
}

}  // namespace

const char* CaseTypeName(CaseType t) {
  switch (t) {
    case CaseType::kFloat32: return "float32";
    case CaseType::kInt8: return "int8";
    case CaseType::kUInt8: return "uint8";
    case CaseType::kInt16: return "int16";
  }
  return "?";
}

int ModelBuilder::AddTensor(const std::string& name, DType dtype, const Shape& shape, const QuantParams& quant) {
  Tensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = shape;
  t.quant = quant;
  graph_.tensors.push_back(std::move(t));
  return static_cast<int>(graph_.tensors.size()) - 1;
}

int ModelBuilder::Input(const std::string& name, DType dtype, const Shape& shape, const QuantParams& quant) {
  if (dtype == DType::kFloat32) return Input(name, dtype, shape, quant, -4.0, 4.0);
  auto [lo, hi] = IntRange(dtype);
  return Input(name, dtype, shape, quant, static_cast<double>(lo), static_cast<double>(hi));
}

int ModelBuilder::Input(const std::string& name, DType dtype, const Shape& shape, const QuantParams& quant, double lo,
                        double hi) {
  const int t = AddTensor(name, dtype, shape, quant);
  graph_.inputs.push_back(t);
  fills_.push_back({lo, hi});
  return t;
}

int ModelBuilder::Constant(const std::string& name, DType dtype, const Shape& shape, const QuantParams& quant,
                           std::vector<uint8_t> bytes) {
  const int t = AddTensor(name, dtype, shape, quant);
  graph_.tensors[t].is_constant = true;
  graph_.tensors[t].data = std::move(bytes);
  return t;
}

int ModelBuilder::Output(const std::string& name, DType dtype, const Shape& shape, const QuantParams& quant) {
  const int t = AddTensor(name, dtype, shape, quant);
  graph_.outputs.push_back(t);
  return t;
}

void ModelBuilder::SetOperator(OpKind kind, std::vector<int> inputs, std::vector<int> outputs, OpOptions options,
                               int32_t version) {
  Operator op;
  op.kind = kind;
  op.inputs = std::move(inputs);
  op.outputs = std::move(outputs);
  op.options = std::move(options);
  op.version = version;
  graph_.operators = {std::move(op)};
}

const std::vector<OpEntry>& SingleOpTable() {
  static const std::vector<OpEntry> table = MakeTable();
  return table;
}

Result<int64_t> SingleOpCycleLength(const std::vector<std::string>& only) {
  QAUDIT_ASSIGN_OR_RETURN(std::vector<Slot> slots, Slots(only));
  return static_cast<int64_t>(slots.size());
}

Result<SingleOpCase> GenerateSingleOpCase(uint64_t seed, int64_t index, const std::vector<std::string>& only) {
  QAUDIT_ASSIGN_OR_RETURN(std::vector<Slot> slots, Slots(only));
  if (slots.empty()) return Status::InvalidArgument("the generator table selection is empty");
  const Slot& slot = slots[static_cast<size_t>(index % static_cast<int64_t>(slots.size()))];
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(index),
                    static_cast<uint32_t>(static_cast<uint64_t>(index) >> 32)};
  Rng rng(seq);
  ModelBuilder b;
  slot.entry->build(rng, slot.type, b);
  SingleOpCase c;
  c.seed = seed;
  c.index = index;
  c.entry = slot.entry->name;
  c.kind = slot.entry->kind;
  c.type = slot.type;
  c.tags = b.tags();
  c.graph = std::move(b.graph());
  c.graph.name = c.entry + "_" + CaseTypeName(c.type) + "_" + std::to_string(seed) + "_" + std::to_string(index);
  c.graph.description = "qaudit single-op generator";
  for (size_t k = 0; k < c.graph.inputs.size(); ++k) {
    HostTensor h;
    FillInput(rng, c.graph.tensors[c.graph.inputs[k]], b.fills()[k], &h);
    c.inputs.push_back(std::move(h));
  }
  QAUDIT_RETURN_IF_ERROR(VerifyGraph(c.graph).WithContext("generated case " + std::to_string(index)));
  return c;
}

std::string SingleOpCase::Describe() const {
  std::ostringstream s;
  s << "case seed=" << seed << " index=" << index << ": " << entry << " " << CaseTypeName(type);
  if (!tags.empty()) {
    s << " [";
    for (size_t i = 0; i < tags.size(); ++i) s << (i ? ", " : "") << tags[i];
    s << "]";
  }
  s << "\n";
  const Operator& op = graph.operators.at(0);
  s << "  options: " << OptionsString(op) << "\n";
  auto describe_tensor = [&](const char* role, int index_in_op, int t) {
    s << "  " << role << index_in_op << ": ";
    if (t == kNoTensor) {
      s << "(absent)\n";
      return;
    }
    const Tensor& x = graph.tensors[t];
    s << "'" << x.name << "' " << DTypeName(x.dtype) << " " << ShapeToString(x.shape) << QuantString(x.quant);
    if (x.is_constant) s << " const" << ConstantValues(x);
    s << "\n";
  };
  for (size_t i = 0; i < op.inputs.size(); ++i) describe_tensor("in", static_cast<int>(i), op.inputs[i]);
  for (size_t i = 0; i < op.outputs.size(); ++i) describe_tensor("out", static_cast<int>(i), op.outputs[i]);
  return s.str();
}

}  // namespace qaudit::testing
