// Every quantization method's output is real TFLite: the written model loads in TFLite's
// interpreter (the oracle) and, layer by layer, computes bit for bit what qaudit's executor
// computes in the tflite and xnnpack modes. Shown on the converter's hello_world float model
// and on a small CNN with the operators the quantizer handles.
#include <gtest/gtest.h>

#include <random>

#include "qaudit/calibrate.h"
#include "qaudit/graph_builder.h"
#include "qaudit/quantize.h"
#include "qaudit/tflite.h"
#include "support/fixtures.h"
#include "support/oracle_compare.h"

namespace qaudit {
namespace {

// conv -> depthwise -> 1x1 conv + residual add -> max pool -> concat with an average pool ->
// global average -> FC -> FC -> softmax: every operator kind the int8 pass treats specially.
Graph SmallCnn(uint64_t seed) {
  GraphBuilder b(seed);
  int x = b.Input("image", {1, 12, 12, 3});
  x = b.Conv2D(x, 8, 3, 1, Padding::kSame, Activation::kRelu);
  const int dw = b.DepthwiseConv2D(x, 3, 2, Padding::kSame, Activation::kRelu6);
  const int pw = b.Conv2D(dw, 8, 1, 1, Padding::kValid, Activation::kNone);
  x = b.Add(dw, pw);
  x = b.Unary(OpKind::kHardSwish, x);
  const int max_pool = b.MaxPool2D(x, 2, 2);
  const int avg_pool = b.AveragePool2D(x, 2, 2);
  x = b.Concatenation({max_pool, avg_pool}, 3);
  x = b.GlobalAveragePool(x);
  x = b.FullyConnected(x, 40, Activation::kRelu);
  x = b.FullyConnected(x, 10, Activation::kNone);
  x = b.Softmax(x);
  return b.Finish({x});
}

Graph HelloWorld() {
  auto g = ReadTfliteFile(testing::Fixture("tflite-micro/hello_world_float.tflite"));
  EXPECT_TRUE(g.ok()) << g.status().message();
  return g.ok() ? *g : Graph{};
}

// `samples` float inputs for the graph's single input, uniform in [lo, hi], as one batch.
HostTensor RandomBatch(const Graph& g, int samples, float lo, float hi, uint64_t seed) {
  const Tensor& t = g.tensors[g.inputs[0]];
  HostTensor h;
  h.shape = t.shape;
  h.shape[0] = samples;
  h.bytes.resize(static_cast<size_t>(samples) * t.num_elements() * 4);
  std::mt19937_64 rng(seed);
  std::uniform_real_distribution<float> u(lo, hi);
  for (int64_t i = 0; i < h.num_elements(); ++i) h.data<float>()[i] = u(rng);
  return h;
}

// Inputs for the quantized graph: the float samples quantized with its input's parameters
// when the input is an integer type (as a user's pipeline would), else as they are.
std::vector<std::vector<HostTensor>> CasesFor(const Graph& q, const HostTensor& batch) {
  const Tensor& in = q.tensors[q.inputs[0]];
  const int64_t per_sample = in.num_elements();
  std::vector<std::vector<HostTensor>> cases;
  for (int s = 0; s < batch.shape[0]; ++s) {
    HostTensor h;
    h.dtype = in.dtype;
    h.shape = in.shape;
    h.bytes.resize(per_sample * DTypeSize(in.dtype));
    for (int64_t i = 0; i < per_sample; ++i) {
      const float v = batch.data<float>()[s * per_sample + i];
      if (in.dtype == DType::kFloat32) {
        h.data<float>()[i] = v;
        continue;
      }
      const int64_t q = std::lround(v / in.quant.scale[0]) + in.quant.zero_point_at(0);
      if (in.dtype == DType::kInt8) h.data<int8_t>()[i] = static_cast<int8_t>(std::clamp<int64_t>(q, -128, 127));
      if (in.dtype == DType::kUInt8) h.data<uint8_t>()[i] = static_cast<uint8_t>(std::clamp<int64_t>(q, 0, 255));
      if (in.dtype == DType::kInt16) h.data<int16_t>()[i] = static_cast<int16_t>(std::clamp<int64_t>(q, -32768, 32767));
    }
    cases.push_back({h});
  }
  return cases;
}

struct MethodCase {
  const char* name;
  QuantizeOptions options;
  Calibrator calibrator = Calibrator::kMinMax;
};

std::vector<MethodCase> MethodCases() {
  std::vector<MethodCase> cases;
  for (Calibrator c : kAllCalibrators) {
    cases.push_back({CalibratorName(c), QuantizeOptions{}, c});
  }
  QuantizeOptions per_tensor;
  per_tensor.granularity = WeightGranularity::kPerTensor;
  cases.push_back({"int8_per_tensor", per_tensor});
  QuantizeOptions per_channel;
  per_channel.granularity = WeightGranularity::kPerChannel;
  cases.push_back({"int8_per_channel_fc", per_channel});
  QuantizeOptions int8_io;
  int8_io.input_type = int8_io.output_type = DType::kInt8;
  cases.push_back({"int8_io", int8_io});
  QuantizeOptions uint8_io;
  uint8_io.input_type = uint8_io.output_type = DType::kUInt8;
  cases.push_back({"uint8_io", uint8_io});
  QuantizeOptions deny;
  deny.deny_ops = {"#1"};  // plus SOFTMAX for the CNN
  cases.push_back({"int8_deny", deny});
  QuantizeOptions int16;
  int16.method = QuantMethod::kInt16x8;
  cases.push_back({"int16x8", int16});
  QuantizeOptions float16;
  float16.method = QuantMethod::kFloat16;
  cases.push_back({"float16", float16});
  QuantizeOptions dynamic;
  dynamic.method = QuantMethod::kDynamic;
  dynamic.dynamic_min_elements = 0;  // hello_world's weights are all smaller than 1024
  cases.push_back({"dynamic", dynamic});
  QuantizeOptions dynamic_per_tensor = dynamic;
  dynamic_per_tensor.granularity = WeightGranularity::kPerTensor;
  cases.push_back({"dynamic_per_tensor", dynamic_per_tensor});
  return cases;
}

class QuantizedModelOracleTest : public testing::WithOracle<::testing::TestWithParam<std::tuple<int, int, Numerics>>> {};

TEST_P(QuantizedModelOracleTest, LoadsInTfliteAndMatchesEveryLayer) {
  const auto& [model, method_index, numerics] = GetParam();
  if (model == 0) {
    QAUDIT_REQUIRE_FIXTURES();
  }
  const Graph float_graph = model == 0 ? HelloWorld() : SmallCnn(7);
  const float hi = model == 0 ? 6.2831853f : 1.0f;
  MethodCase method = MethodCases()[method_index];
  if (model == 1 && !method.options.deny_ops.empty()) method.options.deny_ops.push_back("SOFTMAX");

  std::optional<TensorRanges> ranges;
  if (NeedsCalibration(method.options.method)) {
    auto stats = CalibrationStatistics::Collect(float_graph, {RandomBatch(float_graph, 64, 0.0f, hi, 11)});
    ASSERT_TRUE(stats.ok()) << stats.status().message();
    auto chosen = stats->Ranges({method.calibrator});
    ASSERT_TRUE(chosen.ok()) << chosen.status().message();
    ranges = *chosen;
  }
  auto quantized = Quantize(float_graph, method.options, ranges ? &*ranges : nullptr);
  ASSERT_TRUE(quantized.ok()) << quantized.status().message();
  const Graph graph = testing::ExposeAllLayers(quantized->graph);
  // Inputs slightly beyond the calibrated range exercise saturation too.
  const auto cases = CasesFor(graph, RandomBatch(float_graph, 3, -0.1f * hi, 1.1f * hi, 23));
  const testing::OracleComparison result = testing::CompareWithOracle(*oracle_, graph, cases, numerics);
  EXPECT_TRUE(result.ok) << method.name << ": " << result.message;
}

INSTANTIATE_TEST_SUITE_P(
    Methods, QuantizedModelOracleTest,
    ::testing::Combine(::testing::Values(0, 1), ::testing::Range(0, static_cast<int>(MethodCases().size())),
                       ::testing::Values(Numerics::kTflite, Numerics::kXnnpack)),
    [](const auto& info) {
      std::string name = std::string(std::get<0>(info.param) == 0 ? "hello_world" : "small_cnn") + "_" +
                         MethodCases()[std::get<1>(info.param)].name + "_" + NumericsName(std::get<2>(info.param));
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name;
    });

}  // namespace
}  // namespace qaudit
