// The quantizer's parameter rules against hand-worked values, the passes' structure, and
// calibration statistics on data whose ranges are known.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "kernels/quantize.h"
#include "qaudit/calibrate.h"
#include "qaudit/executor.h"
#include "qaudit/graph_builder.h"
#include "qaudit/quantize.h"
#include "qaudit/tflite.h"
#include "quant/params.h"
#include "support/fixtures.h"

namespace qaudit {
namespace {

TEST(QuantParamsTest, AsymmetricInt8FollowsTheConverter) {
  // [0, 2pi]: zero at the bottom of the range.
  QuantParams p = quant::AsymmetricParams({0.0f, 6.2831853f}, -128, 127);
  EXPECT_FLOAT_EQ(p.scale[0], 6.2831853f / 255);
  EXPECT_EQ(p.zero_point[0], -128);
  // [-1, 3]: scale 4/255, zero point -128 + 63.75 rounds to -64.
  p = quant::AsymmetricParams({-1.0f, 3.0f}, -128, 127);
  EXPECT_FLOAT_EQ(p.scale[0], 4.0f / 255);
  EXPECT_EQ(p.zero_point[0], -64);
  // A range that excludes 0 is widened to include it.
  p = quant::AsymmetricParams({1.0f, 2.55f}, -128, 127);
  EXPECT_FLOAT_EQ(p.scale[0], 0.01f);
  EXPECT_EQ(p.zero_point[0], -128);
  p = quant::AsymmetricParams({-2.55f, -1.0f}, -128, 127);
  EXPECT_EQ(p.zero_point[0], 127);
  // Nothing but zeros: scale 1 instead of TFLite's unusable 0.
  p = quant::AsymmetricParams({0.0f, 0.0f}, -128, 127);
  EXPECT_EQ(p.scale[0], 1.0f);
}

TEST(QuantParamsTest, SymmetricInt16) {
  const QuantParams p = quant::SymmetricInt16Params({-3.0f, 2.0f});
  EXPECT_FLOAT_EQ(p.scale[0], 3.0f / 32767);
  EXPECT_EQ(p.zero_point[0], 0);
}

TEST(QuantParamsTest, PerChannelWeightsRoundHalfAwayFromZero) {
  // Shape [2,1,1,2], axis 0: channel 0 holds {1, -0.5}, channel 1 {0.25, 0.125}.
  const float w[] = {1.0f, -0.5f, 0.25f, 0.125f};
  const Shape shape = {2, 1, 1, 2};
  const std::vector<float> half = quant::WeightHalfRanges(w, shape, 0);
  ASSERT_EQ(half, (std::vector<float>{1.0f, 0.25f}));
  const quant::SymmetricWeights q = quant::QuantizeWeights(w, shape, 0, half);
  EXPECT_FLOAT_EQ(q.scales[0], 1.0f / 127);
  EXPECT_FLOAT_EQ(q.scales[1], 0.25f / 127);
  EXPECT_EQ(q.values, (std::vector<int8_t>{127, -64, 127, 64}));  // -63.5 -> -64, 63.5 -> 64
  // Axis 3 (depthwise): channels alternate.
  const quant::SymmetricWeights dw = quant::QuantizeWeights(w, {1, 1, 2, 2}, 3, quant::WeightHalfRanges(w, {1, 1, 2, 2}, 3));
  EXPECT_FLOAT_EQ(dw.scales[0], 1.0f / 127);
  EXPECT_FLOAT_EQ(dw.scales[1], 0.5f / 127);
  EXPECT_EQ(dw.values, (std::vector<int8_t>{127, -127, 32, 32}));  // 31.75 -> 32; 0.125/0.5*127 = 31.75
}

TEST(QuantParamsTest, WeightRangeWidensWhenTheBiasWouldOverflow) {
  std::vector<float> half = {0.001f, 1.0f};
  const float bias[] = {1.0e6f, 0.5f};
  EXPECT_EQ(quant::WidenForInt32Bias(bias, 2, 0.001f, half), 1);
  // 2 |b| / (2^31 - 1) x 127 / s_in.
  EXPECT_NEAR(half[0], 2.0 * 1e6 / 2147483647.0 * 127.0 / 0.001, 1e-3);
  EXPECT_EQ(half[1], 1.0f);
  const std::vector<int64_t> q = quant::QuantizeBias(bias, 2, 0.001f, {half[0] / 127, half[1] / 127}, false);
  EXPECT_LT(std::abs(q[0]), int64_t{1} << 31);
  EXPECT_EQ(q[1], std::lround(0.5 / (0.001f * (1.0f / 127))));
}

TEST(QuantParamsTest, FloatToHalfRoundsToNearestEven) {
  EXPECT_EQ(kernels::FloatToHalf(1.0f), 0x3c00);
  EXPECT_EQ(kernels::FloatToHalf(-2.5f), 0xc100);
  EXPECT_EQ(kernels::FloatToHalf(1.0f / 3), 0x3555);
  EXPECT_EQ(kernels::FloatToHalf(65504.0f), 0x7bff);
  EXPECT_EQ(kernels::FloatToHalf(65519.0f), 0x7bff);
  EXPECT_EQ(kernels::FloatToHalf(65520.0f), 0x7c00);  // the tie rounds to even: infinity
  EXPECT_EQ(kernels::FloatToHalf(6.0e-8f), 0x0001);     // smallest subnormal is 2^-24 = 5.96e-8
  EXPECT_EQ(kernels::FloatToHalf(1.0e-8f), 0x0000);
  EXPECT_EQ(kernels::FloatToHalf(1.0f + 0x1.0p-11f), 0x3c00);  // tie between 1 and 1+2^-10: even
  EXPECT_EQ(kernels::FloatToHalf(1.0f + 0x1.8p-10f), 0x3c02);  // tie between odd and even: up
  EXPECT_EQ(kernels::FloatToHalf(std::nanf("")) & 0x7e00, 0x7e00);
  for (uint16_t h : {0x0001, 0x03ff, 0x0400, 0x3c01, 0x7bff, 0xfbff}) {
    EXPECT_EQ(kernels::FloatToHalf(kernels::HalfToFloat(h)), h) << h;
  }
}

// input [1,4] -> RELU: each tensor's range is what the data makes it.
Graph TinyRelu() {
  GraphBuilder b;
  const int x = b.Input("x", {1, 4});
  return b.Finish({b.Unary(OpKind::kRelu, x)});
}

HostTensor Batch(const std::vector<std::vector<float>>& rows) {
  HostTensor h;
  h.shape = {static_cast<int32_t>(rows.size()), 4};
  for (const auto& r : rows) {
    for (float v : r) {
      const auto* p = reinterpret_cast<const uint8_t*>(&v);
      h.bytes.insert(h.bytes.end(), p, p + 4);
    }
  }
  return h;
}

TEST(CalibrationTest, MinMaxAndMovingAverageFromKnownData) {
  const Graph g = TinyRelu();
  const HostTensor data = Batch({{-1, 0, 1, 2}, {-3, 0, 0, 4}, {0, 0, 0, 8}});
  CollectOptions collect;
  collect.histograms = false;
  for (int threads : {1, 2}) {
    collect.num_threads = threads;
    auto stats = CalibrationStatistics::Collect(g, {data}, collect);
    ASSERT_TRUE(stats.ok()) << stats.status().message();
    EXPECT_EQ(stats->samples(), 3);
    auto minmax = stats->Ranges({Calibrator::kMinMax});
    ASSERT_TRUE(minmax.ok());
    EXPECT_EQ((*minmax)[0].min, -3.0f);
    EXPECT_EQ((*minmax)[0].max, 8.0f);
    EXPECT_EQ((*minmax)[1].min, 0.0f);
    // Batches of one sample, constant 0.5: max 2 -> 3 -> 5.5; min -1 -> -2 -> -1.
    CalibratorSettings ema{Calibrator::kMovingAverage};
    ema.batch_size = 1;
    ema.averaging_constant = 0.5;
    auto averaged = stats->Ranges(ema);
    ASSERT_TRUE(averaged.ok());
    EXPECT_FLOAT_EQ((*averaged)[0].max, 5.5f);
    EXPECT_FLOAT_EQ((*averaged)[0].min, -1.0f);
    EXPECT_FALSE(stats->Ranges({Calibrator::kMse}).ok());  // no histograms collected
  }
}

TEST(CalibrationTest, PercentileAndEntropyClipAnOutlierMinMaxAndMseKeepIt) {
  const Graph g = TinyRelu();
  std::vector<std::vector<float>> rows;
  std::mt19937 rng(3);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int i = 0; i < 20000; ++i) rows.push_back({normal(rng), normal(rng), normal(rng), normal(rng)});
  rows.push_back({40.0f, 0, 0, 0});  // one outlier sample
  auto stats = CalibrationStatistics::Collect(g, {Batch(rows)});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  auto minmax = stats->Ranges({Calibrator::kMinMax});
  ASSERT_TRUE(minmax.ok());
  EXPECT_EQ((*minmax)[0].max, 40.0f);
  // MSE keeps the outlier: clipping it by ~35 costs 35^2 = 1225, more than the ~200 of
  // rounding error (80,000 values x (44.5/255)^2 / 12) that a tighter range would save.
  auto mse = stats->Ranges({Calibrator::kMse});
  ASSERT_TRUE(mse.ok());
  EXPECT_GT((*mse)[0].max, 39.0f);
  for (Calibrator c : {Calibrator::kPercentile, Calibrator::kEntropy}) {
    auto r = stats->Ranges({c});
    ASSERT_TRUE(r.ok()) << CalibratorName(c);
    EXPECT_LT((*r)[0].max, 10.0f) << CalibratorName(c);
    EXPECT_GT((*r)[0].max, 2.0f) << CalibratorName(c);
    EXPECT_LT((*r)[0].min, -2.0f) << CalibratorName(c);
  }
}

TEST(CalibrationTest, RejectsEmptyDataAndInfinity) {
  const Graph g = TinyRelu();
  HostTensor empty;
  empty.shape = {0, 4};
  EXPECT_FALSE(CalibrationStatistics::Collect(g, {empty}).ok());
  const auto inf = CalibrationStatistics::Collect(g, {Batch({{1, 2, INFINITY, 0}})});
  ASSERT_FALSE(inf.ok());
  EXPECT_NE(inf.status().message().find("sample 0"), std::string::npos) << inf.status().message();
}

Graph SmallModel() {
  GraphBuilder b(5);
  int x = b.Input("image", {1, 8, 8, 2});
  x = b.Conv2D(x, 4, 3, 1, Padding::kSame, Activation::kRelu);
  x = b.GlobalAveragePool(x);
  x = b.FullyConnected(x, 3, Activation::kNone);
  return b.Finish({b.Softmax(x)});
}

TensorRanges Calibrated(const Graph& g) {
  HostTensor data;
  data.shape = {16, 8, 8, 2};
  std::mt19937 rng(1);
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (int i = 0; i < 16 * 128; ++i) {
    const float v = u(rng);
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    data.bytes.insert(data.bytes.end(), p, p + 4);
  }
  auto stats = CalibrationStatistics::Collect(g, {data});
  EXPECT_TRUE(stats.ok());
  return stats->GlobalRanges();
}

TEST(QuantizeTest, Int8GraphHasTheConverterStructure) {
  const Graph g = SmallModel();
  const TensorRanges ranges = Calibrated(g);
  auto q = Quantize(g, {}, &ranges);
  ASSERT_TRUE(q.ok()) << q.status().message();
  const Graph& out = q->graph;
  std::vector<OpKind> kinds;
  for (const Operator& op : out.operators) kinds.push_back(op.kind);
  EXPECT_EQ(kinds, (std::vector<OpKind>{OpKind::kQuantize, OpKind::kConv2D, OpKind::kMean, OpKind::kFullyConnected,
                                        OpKind::kSoftmax, OpKind::kDequantize}));
  EXPECT_EQ(out.tensors[out.inputs[0]].name, "image");
  EXPECT_EQ(out.tensors[out.inputs[0]].dtype, DType::kFloat32);
  EXPECT_EQ(out.tensors[out.outputs[0]].name, g.tensors[g.outputs[0]].name);
  const Operator& conv = out.operators[1];
  EXPECT_EQ(out.tensors[conv.inputs[1]].quant.scale.size(), 4u);  // per channel
  EXPECT_EQ(out.tensors[conv.inputs[2]].dtype, DType::kInt32);
  const Operator& fc = out.operators[3];
  EXPECT_EQ(out.tensors[fc.inputs[1]].quant.scale.size(), 1u);  // per tensor
  const Tensor& softmax_out = out.tensors[out.operators[4].outputs[0]];
  EXPECT_FLOAT_EQ(softmax_out.quant.scale[0], 1.0f / 256);
  EXPECT_EQ(softmax_out.quant.zero_point[0], -128);
  ASSERT_EQ(q->source_tensor.size(), out.tensors.size());
  EXPECT_EQ(q->source_tensor[out.outputs[0]], g.outputs[0]);
  EXPECT_TRUE(Executor::Create(out).ok());
}

TEST(QuantizeTest, Uint8BoundaryShiftsTheZeroPoint) {
  const Graph g = SmallModel();
  const TensorRanges ranges = Calibrated(g);
  QuantizeOptions o;
  o.input_type = o.output_type = DType::kUInt8;
  auto q = Quantize(g, o, &ranges);
  ASSERT_TRUE(q.ok()) << q.status().message();
  const Tensor& in = q->graph.tensors[q->graph.inputs[0]];
  EXPECT_EQ(in.dtype, DType::kUInt8);
  const Tensor& internal = q->graph.tensors[q->graph.operators[0].outputs[0]];
  EXPECT_EQ(internal.dtype, DType::kInt8);
  EXPECT_EQ(in.quant.zero_point[0], internal.quant.zero_point[0] + 128);
  EXPECT_EQ(q->graph.tensors[q->graph.outputs[0]].dtype, DType::kUInt8);
}

TEST(QuantizeTest, DenyListKeepsOperatorsInFloat) {
  const Graph g = SmallModel();
  const TensorRanges ranges = Calibrated(g);
  QuantizeOptions o;
  o.deny_ops = {"SOFTMAX"};
  auto q = Quantize(g, o, &ranges);
  ASSERT_TRUE(q.ok()) << q.status().message();
  const Operator& last = q->graph.operators.back();
  EXPECT_EQ(last.kind, OpKind::kSoftmax);
  EXPECT_EQ(q->graph.tensors[last.inputs[0]].dtype, DType::kFloat32);
  EXPECT_EQ(q->graph.operators[q->graph.operators.size() - 2].kind, OpKind::kDequantize);
  o.deny_ops = {"LSTM"};
  EXPECT_FALSE(Quantize(g, o, &ranges).ok());
  o.deny_ops = {};
  o.deny_tensors = {"no such tensor"};
  EXPECT_FALSE(Quantize(g, o, &ranges).ok());
}

TEST(QuantizeTest, Int8NeedsRangesAndFloatInputs) {
  const Graph g = SmallModel();
  EXPECT_FALSE(Quantize(g, {}, nullptr).ok());
  TensorRanges missing;
  EXPECT_FALSE(Quantize(g, {}, &missing).ok());
}

TEST(QuantizeTest, Float16HalvesTheWeightsAndDequantizesThemFirst) {
  const Graph g = SmallModel();
  QuantizeOptions o;
  o.method = QuantMethod::kFloat16;
  auto q = Quantize(g, o);
  ASSERT_TRUE(q.ok()) << q.status().message();
  int64_t float_bytes = 0, half_bytes = 0;
  for (const Tensor& t : g.tensors) float_bytes += t.dtype == DType::kFloat32 ? t.data.size() : 0;
  for (const Tensor& t : q->graph.tensors) {
    EXPECT_FALSE(t.is_constant && t.dtype == DType::kFloat32) << t.name;
    half_bytes += t.dtype == DType::kFloat16 ? t.data.size() : 0;
  }
  EXPECT_EQ(half_bytes * 2, float_bytes);
  EXPECT_EQ(q->graph.operators[0].kind, OpKind::kDequantize);
}

TEST(QuantizeTest, DynamicQuantizesOnlyLargeWeights) {
  GraphBuilder b(2);
  int x = b.Input("x", {1, 64});
  x = b.FullyConnected(x, 32, Activation::kRelu);  // 2048 weights
  x = b.FullyConnected(x, 4, Activation::kNone);   // 128 weights
  const Graph g = b.Finish({x});
  QuantizeOptions o;
  o.method = QuantMethod::kDynamic;
  auto q = Quantize(g, o);
  ASSERT_TRUE(q.ok()) << q.status().message();
  const Graph& out = q->graph;
  EXPECT_EQ(out.tensors[out.operators[0].inputs[1]].dtype, DType::kInt8);
  EXPECT_TRUE(out.operators[0].opts<FullyConnectedOptions>().asymmetric_quantize_inputs);
  EXPECT_EQ(out.tensors[out.operators[1].inputs[1]].dtype, DType::kFloat32);
  EXPECT_EQ(q->notes.size(), 1u);
}

TEST(DequantizeTest, RoundTripComputesTheQuantizedModelsFunction) {
  const Graph g = SmallModel();
  const TensorRanges ranges = Calibrated(g);
  auto q = Quantize(g, {}, &ranges);
  ASSERT_TRUE(q.ok());
  auto f = Dequantize(q->graph);
  ASSERT_TRUE(f.ok()) << f.status().message();
  for (const Tensor& t : f->tensors) {
    if (t.is_constant) continue;
    EXPECT_EQ(t.dtype, DType::kFloat32) << t.name;
  }
  for (const Operator& op : f->operators) EXPECT_NE(op.kind, OpKind::kQuantize);
  // The float model with dequantized weights stays close to the original float model.
  HostTensor x;
  x.shape = {1, 8, 8, 2};
  for (int i = 0; i < 128; ++i) {
    const float v = (i % 7) / 7.0f;
    const auto* p = reinterpret_cast<const uint8_t*>(&v);
    x.bytes.insert(x.bytes.end(), p, p + 4);
  }
  auto original = Executor::Create(g);
  auto roundtrip = Executor::Create(*f);
  ASSERT_TRUE(original.ok() && roundtrip.ok());
  auto a = (*original)->Run({x});
  auto b = (*roundtrip)->Run({x});
  ASSERT_TRUE(a.ok() && b.ok());
  for (int i = 0; i < 3; ++i) EXPECT_NEAR((*a)[0].data<float>()[i], (*b)[0].data<float>()[i], 0.02);
}

TEST(DequantizeTest, ConverterModelsBecomeFloat) {
  QAUDIT_REQUIRE_FIXTURES();
  for (const char* path : {"tflite-micro/hello_world_int8.tflite", "coral/mobilenet_v1_0.25_128_quant.tflite"}) {
    auto g = ReadTfliteFile(testing::Fixture(path));
    ASSERT_TRUE(g.ok());
    auto f = Dequantize(*g);
    ASSERT_TRUE(f.ok()) << path << ": " << f.status().message();
    EXPECT_EQ(f->tensors[f->inputs[0]].dtype, DType::kFloat32);
    EXPECT_TRUE(Executor::Create(*f).ok()) << path;
  }
}

}  // namespace
}  // namespace qaudit
