// Dynamic-range ("hybrid") FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D against TFLite's
// interpreter (the oracle), bit for bit: seeded random models with float32 input and
// output, int8 weights and a float32 bias, run in the oracle with and without XNNPACK and
// in qaudit's kTflite and kXnnpack modes.
//
// Beside ordinary cases the generator makes a few that TFLite 2.12 runs but computes
// wrongly (tagged "probe-..."), which qaudit refuses: per-channel FULLY_CONNECTED weights
// and CONV_2D per-channel weights whose scales are all equal (TFLite then uses a weight
// scale of 0 and outputs act(bias); the test checks that this is still what it does) and a
// single weight scale on a DEPTHWISE_CONV_2D with several channels (TFLite reads scales
// past the end of the array).
//
// Environment:
//   QAUDIT_HYBRID_CASES  number of cases (default 600); each runs in both modes
//   QAUDIT_HYBRID_SEED   generator seed (default 1)
//   QAUDIT_HYBRID_FIRST  index of the first case (default 0)
//   QAUDIT_HYBRID_KEEP   folder to copy the model, inputs and description of failures into
#include <gtest/gtest.h>

#include <cctype>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <unistd.h>

#include "oracle/single_op_generator.h"
#include "qaudit/data.h"
#include "qaudit/executor.h"
#include "qaudit/tflite.h"
#include "support/fixtures.h"
#include "support/oracle_compare.h"
#include "support/tflite_oracle.h"

namespace qaudit {
namespace {

namespace fs = std::filesystem;
using testing::EnvInt;
using testing::ModelBuilder;
using testing::Rng;

int UniformInt(Rng& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
double UniformReal(Rng& rng, double lo, double hi) { return std::uniform_real_distribution<double>(lo, hi)(rng); }
bool Chance(Rng& rng, double p) { return std::bernoulli_distribution(p)(rng); }
double LogUniform(Rng& rng, double lo, double hi) { return std::exp(UniformReal(rng, std::log(lo), std::log(hi))); }

// ---------------------------------------------------------------- the generator

struct HybridCase {
  uint64_t seed = 0;
  int64_t index = 0;
  OpKind kind = OpKind::kFullyConnected;
  std::vector<std::string> tags;
  Graph graph;
  std::vector<HostTensor> inputs;

  bool Tagged(const std::string& t) const { return std::find(tags.begin(), tags.end(), t) != tags.end(); }
  std::string Describe() const;
};

Activation RandomActivation(Rng& rng) {
  switch (UniformInt(rng, 0, 5)) {
    case 0:
    case 1: return Activation::kNone;
    case 2: return Activation::kRelu;
    case 3: return Activation::kRelu6;
    default: return Activation::kReluN1To1;
  }
}

QuantParams WeightQuant(const std::vector<float>& scales, int axis) {
  QuantParams q;
  q.scale = scales;
  q.zero_point.assign(scales.size(), 0);
  q.quantized_dimension = scales.size() > 1 ? axis : 0;
  return q;
}

std::vector<int8_t> RandomWeights(Rng& rng, int64_t n) {
  std::vector<int8_t> w(n);
  // Large weights of one sign make |dot| large: past 2^24 on long rows, where a float
  // zero-point correction (as in some TFLite versions) would round.
  if (Chance(rng, n >= 1024 ? 0.3 : 0.1)) {
    const int sign = Chance(rng, 0.5) ? 1 : -1;
    for (int8_t& v : w) v = static_cast<int8_t>(sign * UniformInt(rng, 64, 127));
    return w;
  }
  const int limit = Chance(rng, 0.15) ? UniformInt(rng, 1, 8) : 127;
  for (int8_t& v : w) v = static_cast<int8_t>(UniformInt(rng, -limit, limit));
  if (n > 0 && Chance(rng, 0.7)) w[UniformInt(rng, 0, static_cast<int>(n) - 1)] = Chance(rng, 0.5) ? 127 : -127;
  return w;
}

std::vector<float> RandomScales(Rng& rng, int n, bool vary) {
  const double base = LogUniform(rng, 1e-4, 0.2);
  std::vector<float> s(n);
  for (float& v : s) v = static_cast<float>(vary ? base * LogUniform(rng, 0.2, 5.0) : base);
  return s;
}

std::vector<float> RandomBias(Rng& rng, int n) {
  const double range = Chance(rng, 0.2) ? 0.0 : LogUniform(rng, 1e-3, 10.0);
  std::vector<float> b(n);
  for (float& v : b) v = static_cast<float>(UniformReal(rng, -range, range));
  return b;
}

// Float input data in one of several shapes: symmetric, one-signed (as after a ReLU), with
// exact zeros and outliers, or values that land on .5 after scaling (rounding ties).
// `row` is the quantization row length: some rows are made entirely zero.
void FillFloats(Rng& rng, int64_t row, std::vector<float>& x, std::vector<std::string>& tags) {
  const double a = LogUniform(rng, 1e-3, 1e3);
  const int kind = UniformInt(rng, 0, 5);
  static const char* kNames[] = {"in-symmetric", "in-positive", "in-negative", "in-sparse", "in-ties", "in-offset"};
  tags.push_back(kNames[kind]);
  for (float& v : x) {
    switch (kind) {
      case 0: v = static_cast<float>(UniformReal(rng, -a, a)); break;
      case 1: v = static_cast<float>(UniformReal(rng, 0, a)); break;
      case 2: v = static_cast<float>(UniformReal(rng, -a, 0)); break;
      case 3: v = Chance(rng, 0.5) ? 0.0f : static_cast<float>(UniformReal(rng, -a, a) * (Chance(rng, 0.05) ? 30 : 1)); break;
      case 4: v = static_cast<float>(a * UniformInt(rng, -254, 254) / 254.0); break;
      default: v = static_cast<float>(a + UniformReal(rng, -a, a) * 0.1); break;
    }
  }
  if (kind == 4 && !x.empty()) x[0] = static_cast<float>(a);  // the row maximum that makes the ties
  const int64_t rows = row > 0 ? static_cast<int64_t>(x.size()) / row : 0;
  if (rows > 1 && Chance(rng, 0.15)) {
    const int64_t r = UniformInt(rng, 0, static_cast<int>(rows) - 1);
    std::fill(x.begin() + r * row, x.begin() + (r + 1) * row, 0.0f);
    tags.push_back("zero-row");
  }
  if (Chance(rng, 0.03)) {
    std::fill(x.begin(), x.end(), 0.0f);
    tags.push_back("all-zero");
  }
}

HostTensor FloatTensor(const Shape& shape, const std::vector<float>& values) {
  HostTensor h;
  h.dtype = DType::kFloat32;
  h.shape = shape;
  h.bytes.resize(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(h.bytes.data(), values.data(), h.bytes.size());
  return h;
}

int ConvOut(bool same, int in, int filter, int stride, int dilation) {
  const int effective = (filter - 1) * dilation + 1;
  return same ? (in + stride - 1) / stride : (in - effective + stride) / stride;
}

void BuildFullyConnected(Rng& rng, ModelBuilder& b, HybridCase& c) {
  FullyConnectedOptions o;
  o.activation = RandomActivation(rng);
  o.asymmetric_quantize_inputs = Chance(rng, 0.5);
  c.tags.push_back(o.asymmetric_quantize_inputs ? "asymmetric" : "symmetric");
  // Long rows make |dot| exceed 2^24, where the float zero-point correction rounds.
  const bool long_rows = Chance(rng, 0.15);
  if (long_rows) c.tags.push_back("long-rows");
  const int in_features = long_rows ? UniformInt(rng, 1024, 4096) : UniformInt(rng, 1, 64);
  const int out_features = UniformInt(rng, 1, 16);
  Shape in_shape;
  const int rank = UniformInt(rng, 1, 4);
  if (rank == 1) {
    in_shape = {in_features};
  } else {
    for (int d = 0; d < rank - 1; ++d) in_shape.push_back(UniformInt(rng, 1, 3));
    in_shape.push_back(in_features);
  }
  o.keep_num_dims = rank >= 2 && Chance(rng, 0.3);
  if (o.keep_num_dims) c.tags.push_back("keep_num_dims");
  const int64_t batch = NumElements(in_shape) / in_features;
  if (batch > 1) c.tags.push_back("batch>1");
  Shape out_shape = {static_cast<int32_t>(batch), out_features};
  if (o.keep_num_dims) {
    out_shape = in_shape;
    out_shape.back() = out_features;
  }
  // Per-channel weights for FULLY_CONNECTED: a probe of what TFLite 2.12 does with them.
  const bool per_channel = out_features > 1 && Chance(rng, 0.1);
  if (per_channel) c.tags.push_back("probe-fc-per-channel");
  const int in = b.Input("input", DType::kFloat32, in_shape);
  const int w = b.Constant("weights", DType::kInt8, {out_features, in_features},
                           WeightQuant(RandomScales(rng, per_channel ? out_features : 1, true), 0),
                           RandomWeights(rng, static_cast<int64_t>(out_features) * in_features));
  int bias = kNoTensor;
  if (Chance(rng, 0.8)) {
    bias = b.Constant("bias", DType::kFloat32, {out_features}, {}, RandomBias(rng, out_features));
  } else {
    c.tags.push_back("no-bias");
  }
  const int out = b.Output("output", DType::kFloat32, out_shape);
  // TFLite's op_version.cc: keep_num_dims 5, else asymmetric inputs 9, else hybrid 3.
  const int version = o.keep_num_dims ? 5 : o.asymmetric_quantize_inputs ? 9 : 3;
  b.SetOperator(OpKind::kFullyConnected, {in, w, bias}, {out}, o, version);
  std::vector<float> x(NumElements(in_shape));
  FillFloats(rng, in_features, x, c.tags);
  c.inputs.push_back(FloatTensor(in_shape, x));
}

void BuildConvLike(Rng& rng, ModelBuilder& b, HybridCase& c, bool depthwise) {
  ConvOptions o;
  const int batch = Chance(rng, 0.25) ? UniformInt(rng, 2, 3) : 1;
  if (batch > 1) c.tags.push_back("batch>1");
  const int in_c = UniformInt(rng, 1, depthwise ? 6 : 8);
  o.depth_multiplier = depthwise && Chance(rng, 0.35) ? UniformInt(rng, 2, 3) : 1;
  if (o.depth_multiplier > 1) c.tags.push_back("depth-multiplier");
  const int out_c = depthwise ? in_c * o.depth_multiplier : UniformInt(rng, 1, 8);
  const int kh = UniformInt(rng, 1, 4), kw = UniformInt(rng, 1, 4);
  o.stride_h = UniformInt(rng, 1, 3) == 1 ? 1 : UniformInt(rng, 1, 3);
  o.stride_w = UniformInt(rng, 1, 3) == 1 ? 1 : UniformInt(rng, 1, 3);
  if (Chance(rng, 0.25)) {
    o.dilation_h = UniformInt(rng, 1, 3);
    o.dilation_w = UniformInt(rng, 1, 3);
    if (o.dilation_h > 1 || o.dilation_w > 1) c.tags.push_back("dilation");
  }
  o.padding = Chance(rng, 0.5) ? Padding::kSame : Padding::kValid;
  c.tags.push_back(o.padding == Padding::kSame ? "SAME" : "VALID");
  o.activation = RandomActivation(rng);
  const int eff_h = (kh - 1) * o.dilation_h + 1, eff_w = (kw - 1) * o.dilation_w + 1;
  const bool same = o.padding == Padding::kSame;
  const int min_h = same ? 1 : eff_h, min_w = same ? 1 : eff_w;
  const int in_h = UniformInt(rng, min_h, std::max(min_h, 10)), in_w = UniformInt(rng, min_w, std::max(min_w, 10));
  const Shape in_shape = {batch, in_h, in_w, in_c};
  const Shape out_shape = {batch, ConvOut(same, in_h, kh, o.stride_h, o.dilation_h),
                           ConvOut(same, in_w, kw, o.stride_w, o.dilation_w), out_c};
  // Weight scales: per-channel (different scales) or per-tensor; rarely per-channel with
  // all scales equal, or a per-tensor depthwise scale, which TFLite treats specially.
  bool per_channel = Chance(rng, depthwise ? 0.9 : 0.6);
  bool equal_scales = false;
  if (!depthwise && per_channel && out_c > 1 && Chance(rng, 0.08)) equal_scales = true;
  if (depthwise && !per_channel && out_c == 1) per_channel = true;
  std::vector<float> scales = RandomScales(rng, per_channel ? out_c : 1, !equal_scales);
  if (per_channel && out_c > 1 && !equal_scales && std::adjacent_find(scales.begin(), scales.end(), std::not_equal_to<>()) == scales.end()) {
    scales[0] *= 2;  // make sure they differ
  }
  if (equal_scales) c.tags.push_back("probe-equal-scales");
  else if (depthwise && !per_channel) c.tags.push_back("probe-dw-per-tensor");
  else c.tags.push_back(per_channel ? "per-channel" : "per-tensor");
  const bool with_bias = !depthwise || !Chance(rng, 0.05);
  if (!with_bias) c.tags.push_back("dw-no-bias");

  const int in = b.Input("input", DType::kFloat32, in_shape);
  const Shape w_shape = depthwise ? Shape{1, kh, kw, out_c} : Shape{out_c, kh, kw, in_c};
  const int w = b.Constant("weights", DType::kInt8, w_shape, WeightQuant(scales, depthwise ? 3 : 0),
                           RandomWeights(rng, NumElements(w_shape)));
  std::vector<int> inputs = {in, w};
  if (with_bias) inputs.push_back(b.Constant("bias", DType::kFloat32, {out_c}, {}, RandomBias(rng, out_c)));
  const int out = b.Output("output", DType::kFloat32, out_shape);
  // TFLite's op_version.cc: hybrid CONV_2D 2 (5 per-channel), DEPTHWISE_CONV_2D 4 (6 per-channel).
  const bool versioned_per_channel = depthwise ? scales.size() == static_cast<size_t>(out_c) : scales.size() > 1;
  const int version = depthwise ? (versioned_per_channel ? 6 : 4) : (versioned_per_channel ? 5 : 2);
  b.SetOperator(depthwise ? OpKind::kDepthwiseConv2D : OpKind::kConv2D, inputs, {out}, o, version);
  std::vector<float> x(NumElements(in_shape));
  FillFloats(rng, static_cast<int64_t>(in_h) * in_w * in_c, x, c.tags);
  c.inputs.push_back(FloatTensor(in_shape, x));
}

HybridCase GenerateHybridCase(uint64_t seed, int64_t index) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(index),
                    static_cast<uint32_t>(static_cast<uint64_t>(index) >> 32), 0x4879u};
  Rng rng(seq);
  HybridCase c;
  c.seed = seed;
  c.index = index;
  ModelBuilder b;
  switch (index % 3) {
    case 0: c.kind = OpKind::kFullyConnected; BuildFullyConnected(rng, b, c); break;
    case 1: c.kind = OpKind::kConv2D; BuildConvLike(rng, b, c, false); break;
    default: c.kind = OpKind::kDepthwiseConv2D; BuildConvLike(rng, b, c, true); break;
  }
  c.graph = std::move(b.graph());
  c.graph.name = std::string("hybrid_") + OpName(c.kind) + "_" + std::to_string(seed) + "_" + std::to_string(index);
  return c;
}

std::string HybridCase::Describe() const {
  std::ostringstream s;
  s << "case seed=" << seed << " index=" << index << ": " << OpName(kind) << " [";
  for (size_t i = 0; i < tags.size(); ++i) s << (i ? ", " : "") << tags[i];
  s << "]\n";
  const Operator& op = graph.operators.at(0);
  s << "  version " << op.version;
  if (const auto* conv = std::get_if<ConvOptions>(&op.options)) {
    s << " padding=" << (conv->padding == Padding::kSame ? "SAME" : "VALID") << " stride=" << conv->stride_h << "x"
      << conv->stride_w << " dilation=" << conv->dilation_h << "x" << conv->dilation_w
      << " depth_multiplier=" << conv->depth_multiplier << " activation=" << ActivationName(conv->activation);
  } else if (const auto* fc = std::get_if<FullyConnectedOptions>(&op.options)) {
    s << " keep_num_dims=" << fc->keep_num_dims << " asymmetric_quantize_inputs=" << fc->asymmetric_quantize_inputs
      << " activation=" << ActivationName(fc->activation);
  }
  s << "\n";
  for (int t : op.inputs) {
    if (t == kNoTensor) continue;
    const Tensor& x = graph.tensors[t];
    s << "  '" << x.name << "' " << DTypeName(x.dtype) << " " << ShapeToString(x.shape);
    if (!x.quant.scale.empty()) s << " " << x.quant.scale.size() << " scale(s), first " << x.quant.scale[0];
    s << "\n";
  }
  return s.str();
}

// ---------------------------------------------------------------- the comparison

struct Counts {
  int64_t cases = 0, exact = 0, mismatched = 0, both_refused = 0, qaudit_refused = 0, tflite_refused = 0,
          qaudit_error = 0, xnnpack_took = 0;
  std::map<std::string, int> reasons;
};

// The first line of a message with its numbers replaced by N, so that reasons group.
std::string FirstLine(const std::string& s) {
  std::string line = s.substr(0, s.find('\n')), out;
  for (size_t i = 0; i < line.size(); ++i) {
    if (std::isdigit(static_cast<unsigned char>(line[i]))) {
      if (out.empty() || out.back() != 'N') out += 'N';
    } else {
      out += line[i];
    }
  }
  return out;
}

// The informative line of a TFLite refusal.
std::string TfliteReason(const std::string& error) {
  std::stringstream in(error);
  std::string line;
  while (std::getline(in, line)) {
    if (line.find("ERROR") == std::string::npos || line.find("Node number") != std::string::npos) continue;
    const size_t tp = line.find("tensorflow/lite/");
    return tp == std::string::npos ? line : line.substr(tp + 16);
  }
  return FirstLine(error);
}

std::string FloatBits(float f) {
  uint32_t bits;
  std::memcpy(&bits, &f, 4);
  char s[64];
  std::snprintf(s, sizeof s, "%.9g (0x%08x)", f, bits);
  return s;
}

// What TFLite 2.12 outputs when it ignores the weights: the fused activation of the bias,
// broadcast along the last (channel) dimension.
bool OutputIsActivatedBias(const HybridCase& c, const HostTensor& theirs) {
  const Operator& op = c.graph.operators.at(0);
  const Activation a = op.kind == OpKind::kFullyConnected ? op.opts<FullyConnectedOptions>().activation
                                                          : op.opts<ConvOptions>().activation;
  float lo = -INFINITY, hi = INFINITY;
  if (a == Activation::kRelu) lo = 0;
  if (a == Activation::kRelu6) lo = 0, hi = 6;
  if (a == Activation::kReluN1To1) lo = -1, hi = 1;
  const int channels = c.graph.tensors[op.outputs[0]].shape.back();
  const bool has_bias = op.inputs.size() > 2 && op.inputs[2] != kNoTensor;
  const float* bias = has_bias ? c.graph.tensors[op.inputs[2]].data_as<float>() : nullptr;
  for (int64_t i = 0; i < theirs.num_elements(); ++i) {
    const float expected = std::min(std::max(bias ? bias[i % channels] : 0.0f, lo), hi);
    if (theirs.data<float>()[i] != expected) return false;
  }
  return true;
}

class HybridOpsOracleTest : public testing::WithOracle<> {};

TEST_F(HybridOpsOracleTest, RandomHybridModelsMatchTfliteBitForBit) {
  ASSERT_NE(oracle_, nullptr);
  const int64_t num_cases = EnvInt("QAUDIT_HYBRID_CASES", 600);
  const auto seed = static_cast<uint64_t>(EnvInt("QAUDIT_HYBRID_SEED", 1));
  const int64_t first = EnvInt("QAUDIT_HYBRID_FIRST", 0);
  const char* keep_env = std::getenv("QAUDIT_HYBRID_KEEP");
  const fs::path dir = fs::temp_directory_path() / ("qaudit_hybrid_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string model_file = (dir / "model.tflite").string();
  const std::string input_file = (dir / "input_0.npy").string();
  const std::string out_dir = (dir / "out").string();

  std::map<std::pair<std::string, std::string>, Counts> counts;  // (op, mode)
  std::map<std::string, std::map<std::string, int>> tag_outcomes;  // tag -> outcome -> count
  int failures = 0, reported = 0;
  for (int64_t index = first; index < first + num_cases; ++index) {
    const HybridCase c = GenerateHybridCase(seed, index);
    ASSERT_TRUE(VerifyGraph(c.graph).ok()) << c.Describe();
    ASSERT_TRUE(WriteTfliteFile(c.graph, model_file).ok());
    ASSERT_TRUE(WriteNpy(input_file, c.inputs[0]).ok());
    for (Numerics mode : {Numerics::kTflite, Numerics::kXnnpack}) {
      const std::string mode_name = NumericsName(mode);
      Counts& n = counts[{OpName(c.kind), mode_name}];
      ++n.cases;
      auto reply = oracle_->Run(model_file, {input_file}, out_dir, mode == Numerics::kXnnpack);
      ASSERT_TRUE(reply.ok()) << reply.status().message();
      auto executor = Executor::Create(c.graph, {mode, 1});
      std::string outcome, detail;
      if (reply->executed_kernels.count("TfLiteXNNPackDelegate")) ++n.xnnpack_took;
      if (!reply->ok) {
        if (!executor.ok()) {
          ++n.both_refused;
          outcome = "both refused";
          ++n.reasons["TFLite: " + TfliteReason(reply->error) + " / qaudit: " +
                      FirstLine(executor.status().message())];
        } else {
          ++n.tflite_refused;
          outcome = "tflite refused";
          detail = reply->error;
        }
      } else if (!executor.ok()) {
        if (executor.status().code() == StatusCode::kUnsupported) {
          ++n.qaudit_refused;
          outcome = "qaudit refused";
          ++n.reasons["qaudit: " + FirstLine(executor.status().message())];
          if (c.Tagged("probe-fc-per-channel") || c.Tagged("probe-equal-scales")) {
            auto theirs = ReadNpy(reply->outputs.at(0).file);
            ASSERT_TRUE(theirs.ok()) << theirs.status().message();
            if (OutputIsActivatedBias(c, *theirs)) {
              outcome = "qaudit refused, TFLite gave act(bias)";
            } else {
              outcome = "mismatch";
              detail = "TFLite no longer outputs act(bias) here: the refusal's reason is out of date";
            }
          }
        } else {
          ++n.qaudit_error;
          outcome = "qaudit error";
          detail = executor.status().message();
        }
      } else {
        auto ours = (*executor)->Run(c.inputs);
        auto theirs = ReadNpy(reply->outputs.at(0).file);
        ASSERT_TRUE(ours.ok()) << ours.status().message() << "\n" << c.Describe();
        ASSERT_TRUE(theirs.ok()) << theirs.status().message();
        const HostTensor& mine = ours->at(0);
        if (mine.bytes.size() != theirs->bytes.size()) {
          outcome = "mismatch";
          detail = "output sizes differ: qaudit " + ShapeToString(mine.shape) + ", TFLite " + ShapeToString(theirs->shape);
        } else {
          int64_t differing = 0, first_diff = -1;
          for (int64_t i = 0; i < mine.num_elements(); ++i) {
            if (std::memcmp(&mine.bytes[i * 4], &theirs->bytes[i * 4], 4) == 0) continue;
            if (first_diff < 0) first_diff = i;
            ++differing;
          }
          if (differing == 0) {
            outcome = "exact";
          } else {
            outcome = "mismatch";
            detail = std::to_string(differing) + " of " + std::to_string(mine.num_elements()) +
                     " outputs differ; first at " + std::to_string(first_diff) + ": TFLite " +
                     FloatBits(theirs->data<float>()[first_diff]) + ", qaudit " +
                     FloatBits(mine.data<float>()[first_diff]);
          }
        }
        if (outcome == "exact") ++n.exact; else ++n.mismatched;
      }
      for (const std::string& t : c.tags) ++tag_outcomes[t][mode_name + " " + outcome];
      const bool failed = outcome == "mismatch" || outcome == "tflite refused" || outcome == "qaudit error";
      if (!failed) continue;
      ++failures;
      if (keep_env != nullptr) {
        const fs::path keep = fs::path(keep_env) / (std::to_string(seed) + "_" + std::to_string(index));
        fs::create_directories(keep);
        fs::copy_file(model_file, keep / "model.tflite", fs::copy_options::overwrite_existing);
        fs::copy_file(input_file, keep / "input_0.npy", fs::copy_options::overwrite_existing);
        std::ofstream(keep / ("failure_" + mode_name + ".txt")) << c.Describe() << outcome << "\n" << detail << "\n";
      }
      if (reported++ < 30) {
        ADD_FAILURE() << outcome << " in mode " << mode_name << "\n"
                      << c.Describe() << "  " << detail << "\n  reproduce: QAUDIT_HYBRID_SEED=" << seed
                      << " QAUDIT_HYBRID_FIRST=" << index << " QAUDIT_HYBRID_CASES=1";
      }
    }
  }
  std::error_code ignored;
  fs::remove_all(dir, ignored);

  std::printf("\nhybrid differential test: seed %" PRIu64 ", cases %" PRId64 "..%" PRId64 "\n", seed, first,
              first + num_cases - 1);
  std::printf("%-18s %-8s %6s %6s %8s %8s %8s %8s %7s %8s\n", "op", "mode", "cases", "exact", "mismatch", "both-ref",
              "q-refd", "tfl-refd", "q-error", "xnn-took");
  for (const auto& [key, n] : counts) {
    std::printf("%-18s %-8s %6" PRId64 " %6" PRId64 " %8" PRId64 " %8" PRId64 " %8" PRId64 " %8" PRId64 " %7" PRId64
                " %8" PRId64 "\n",
                key.first.c_str(), key.second.c_str(), n.cases, n.exact, n.mismatched, n.both_refused,
                n.qaudit_refused, n.tflite_refused, n.qaudit_error, n.xnnpack_took);
  }
  std::printf("\nrefusals:\n");
  for (const auto& [key, n] : counts) {
    for (const auto& [reason, count] : n.reasons) {
      std::printf("  %-18s %-8s %5d  %s\n", key.first.c_str(), key.second.c_str(), count, reason.c_str());
    }
  }
  std::printf("\noutcomes by tag:\n");
  for (const auto& [tag, outcomes] : tag_outcomes) {
    std::printf("  %-22s", tag.c_str());
    for (const auto& [o, count] : outcomes) std::printf("  %s %d", o.c_str(), count);
    std::printf("\n");
  }
  std::fflush(stdout);
  EXPECT_EQ(failures, 0);
}

}  // namespace
}  // namespace qaudit
