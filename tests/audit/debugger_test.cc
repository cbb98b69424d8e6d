// The per-layer debugger against hand-worked errors, saturation and ranges, and selective
// quantization on a model whose logits layer is made to saturate.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "qaudit/debug.h"
#include "qaudit/graph_builder.h"

namespace qaudit {
namespace {

HostTensor Rows(int width, const std::vector<std::vector<float>>& rows) {
  HostTensor h;
  h.shape = {static_cast<int32_t>(rows.size()), width};
  h.bytes.resize(rows.size() * width * sizeof(float));
  float* out = h.data<float>();
  for (const auto& r : rows) out = std::copy(r.begin(), r.end(), out);
  return h;
}

HostTensor Random(const Shape& shape, uint64_t seed, float low, float high) {
  HostTensor h;
  h.shape = shape;
  h.bytes.resize(h.num_elements() * sizeof(float));
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(low, high);
  for (int64_t i = 0; i < h.num_elements(); ++i) h.data<float>()[i] = u(rng);
  return h;
}

const debug::LayerStats* Find(const std::vector<debug::LayerStats>& layers, const std::string& op) {
  for (const debug::LayerStats& l : layers) {
    if (l.op == op) return &l;
  }
  return nullptr;
}

// x [1,4] -> RELU, calibrated on [0, 255/64]: scale 1/64 and zero point -128 for both the
// input's QUANTIZE and the RELU, so every quantized value below is worked out by hand.
class TinyReluTest : public ::testing::Test {
 protected:
  void SetUp() override {
    GraphBuilder b;
    const int x = b.Input("x", {1, 4});
    graph_ = b.Finish({b.Unary(OpKind::kRelu, x)});
    calibration_ = Rows(4, {{0, 3.984375f, 1, 1}, {0.5f, 0.5f, 0.5f, 0.5f}});
    // 3/256 rounds up to q = -127 (error +1/256), 1/256 down to -128 (error -1/256); 5 and
    // -1 are beyond the calibrated range and saturate at 127 and -128.
    deployment_ = Rows(4, {{3.0f / 256, 1.0f / 256, 1, 5}, {-1, 2, 0.5f, 3.984375f}});
    auto stats = CalibrationStatistics::Collect(graph_, {calibration_});
    ASSERT_TRUE(stats.ok()) << stats.status().message();
    ranges_ = stats->GlobalRanges();
    auto q = Quantize(graph_, QuantizeOptions{}, &ranges_);
    ASSERT_TRUE(q.ok()) << q.status().message();
    quantized_ = std::move(*q);
  }

  Graph graph_;
  HostTensor calibration_, deployment_;
  TensorRanges ranges_;
  QuantizedModel quantized_;
};

TEST_F(TinyReluTest, ErrorsSaturationAndRangesMatchHandWorkedValues) {
  auto layers = debug::CompareLayers(graph_, quantized_, {calibration_}, {deployment_}, {});
  ASSERT_TRUE(layers.ok()) << layers.status().message();
  ASSERT_EQ(layers->size(), 2u);  // the input's QUANTIZE and the RELU, in graph order
  const debug::LayerStats& in = (*layers)[0];
  const debug::LayerStats& relu = (*layers)[1];
  EXPECT_EQ(in.op, "QUANTIZE");
  EXPECT_EQ(relu.op, "RELU");
  EXPECT_EQ(in.source_tensor, graph_.inputs[0]);
  EXPECT_EQ(relu.source_tensor, graph_.outputs[0]);
  for (const debug::LayerStats* l : {&in, &relu}) {
    EXPECT_EQ(l->dtype, DType::kInt8);
    EXPECT_EQ(l->scale, 1.0f / 64);
    EXPECT_EQ(l->zero_point, -128);
    EXPECT_EQ(l->elements_per_sample, 4);
    EXPECT_EQ(l->calibration_range.min, 0.0f);
    EXPECT_EQ(l->calibration_range.max, 3.984375f);
    // The zero point is -128, so only 127 counts as saturation (-128 holds zeros).
    // Calibration: q = {-128, 127, -64, -64} and four -96.
    EXPECT_DOUBLE_EQ(l->saturation_calibration, 1.0 / 8);
    // Deployment: q = {-127, -128, -64, 127} and {-128, 0, -96, 127}.
    EXPECT_DOUBLE_EQ(l->saturation_deployment, 2.0 / 8);
  }
  // Input: d = {+1/256, -1/256, 0, 255/64 - 5} and {0 - (-1), 0, 0, 0}.
  const double big = 5 - 3.984375;
  const double in_d2 = 2.0 / 65536 + big * big + 1;
  EXPECT_DOUBLE_EQ(in.mean_error, (-big + 1) / 8);
  EXPECT_DOUBLE_EQ(in.mse, in_d2 / 8);
  EXPECT_DOUBLE_EQ(in.max_abs_error, big);
  EXPECT_DOUBLE_EQ(in.rmse_over_scale, std::sqrt(in_d2 / 8) * 64);
  const double in_f2 = 10.0 / 65536 + 1 + 25 + 1 + 4 + 0.25 + 3.984375 * 3.984375;
  EXPECT_DOUBLE_EQ(in.sqnr_db, 10 * std::log10(in_f2 / in_d2));
  EXPECT_TRUE(in.flagged);
  EXPECT_EQ(in.deployment_range.min, -1.0f);
  EXPECT_EQ(in.deployment_range.max, 5.0f);
  EXPECT_DOUBLE_EQ(in.out_of_range_deployment, 2.0 / 8);  // -1 and 5 are outside [0, 255/64]
  // RELU: float and quantized both turn -1 into 0, so only the first sample has errors.
  const double relu_d2 = 2.0 / 65536 + big * big;
  EXPECT_DOUBLE_EQ(relu.mean_error, -big / 8);
  EXPECT_DOUBLE_EQ(relu.mse, relu_d2 / 8);
  EXPECT_DOUBLE_EQ(relu.max_abs_error, big);
  EXPECT_DOUBLE_EQ(relu.sqnr_db, 10 * std::log10((in_f2 - 1) / relu_d2));
  EXPECT_EQ(relu.deployment_range.min, 0.0f);
  EXPECT_DOUBLE_EQ(relu.out_of_range_deployment, 1.0 / 8);
}

TEST_F(TinyReluTest, ExactValuesHaveNoNoiseAndProgressCountsBothModelsAndSets) {
  // Multiples of 1/64 within the range quantize exactly: SQNR is +inf, nothing is flagged.
  const HostTensor exact = Rows(4, {{0.015625f, 1, 2, 3}, {0.5f, 0.25f, 1.5f, 0.75f}, {1, 1, 1, 1}});
  debug::DebugOptions options;
  int64_t last_done = -1, last_total = -1;
  options.progress = [&](int64_t done, int64_t total) { last_done = done, last_total = total; };
  auto layers = debug::CompareLayers(graph_, quantized_, {calibration_}, {exact}, options);
  ASSERT_TRUE(layers.ok()) << layers.status().message();
  for (const debug::LayerStats& l : *layers) {
    EXPECT_EQ(l.mse, 0) << l.tensor_name;
    EXPECT_EQ(l.sqnr_db, std::numeric_limits<double>::infinity()) << l.tensor_name;
    EXPECT_FALSE(l.flagged) << l.tensor_name;
    EXPECT_EQ(l.saturation_deployment, 0) << l.tensor_name;
    EXPECT_EQ(l.out_of_range_deployment, 0) << l.tensor_name;
  }
  EXPECT_EQ(last_total, 2 * (2 + 3));
  EXPECT_EQ(last_done, last_total);
}

TEST_F(TinyReluTest, IntegerModelInputIsALayerToo) {
  QuantizeOptions options;
  options.input_type = DType::kInt8;
  auto q = Quantize(graph_, options, &ranges_);
  ASSERT_TRUE(q.ok()) << q.status().message();
  auto layers = debug::CompareLayers(graph_, *q, {calibration_}, {deployment_}, {});
  ASSERT_TRUE(layers.ok()) << layers.status().message();
  ASSERT_EQ(layers->size(), 2u);
  EXPECT_EQ((*layers)[0].op_index, -1);  // the int8 graph input itself, fed quantized data
  EXPECT_DOUBLE_EQ((*layers)[0].saturation_deployment, 2.0 / 8);
  EXPECT_DOUBLE_EQ((*layers)[0].out_of_range_deployment, 2.0 / 8);
}

TEST_F(TinyReluTest, BothEndsSaturateWhenTheZeroPointIsInside) {
  // Calibrated on [-1, 191/64]: scale 1/64, zero point -64.
  const HostTensor calibration = Rows(4, {{-1, 2.984375f, 0, 0}});
  auto stats = CalibrationStatistics::Collect(graph_, {calibration});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  const TensorRanges ranges = stats->GlobalRanges();
  auto q = Quantize(graph_, QuantizeOptions{}, &ranges);
  ASSERT_TRUE(q.ok()) << q.status().message();
  // q = {-128 (clipped), -128 (-1 is the range's end), 127 (clipped), -32}.
  const HostTensor deployment = Rows(4, {{-2, -1, 3, 0.5f}});
  auto layers = debug::CompareLayers(graph_, *q, {calibration}, {deployment}, {});
  ASSERT_TRUE(layers.ok()) << layers.status().message();
  const debug::LayerStats& in = (*layers)[0];
  ASSERT_EQ(in.op, "QUANTIZE");
  EXPECT_EQ(in.scale, 1.0f / 64);
  EXPECT_EQ(in.zero_point, -64);
  EXPECT_DOUBLE_EQ(in.saturation_calibration, 2.0 / 4);
  EXPECT_DOUBLE_EQ(in.saturation_deployment, 3.0 / 4);
  EXPECT_DOUBLE_EQ(in.out_of_range_deployment, 2.0 / 4);  // -1 is representable, -2 and 3 are not
  EXPECT_DOUBLE_EQ(in.max_abs_error, 1.0);
}

TEST_F(TinyReluTest, BadDataIsAnErrorThatSaysWhichSet) {
  HostTensor empty;
  empty.shape = {0, 4};
  auto r = debug::CompareLayers(graph_, quantized_, {calibration_}, {empty}, {});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("deployment data holds no samples"), std::string::npos) << r.status().message();
  auto wrong = debug::CompareLayers(graph_, quantized_, {Rows(4, {{1, 2, 3, 4}})}, {Random({3, 5}, 1, 0, 1)}, {});
  ASSERT_FALSE(wrong.ok());
  EXPECT_NE(wrong.status().message().find("deployment data"), std::string::npos) << wrong.status().message();
  EXPECT_NE(wrong.status().message().find("[3,5]"), std::string::npos) << wrong.status().message();
  auto missing = debug::CompareLayers(graph_, quantized_, {}, {deployment_}, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.status().message().find("calibration data has 0 inputs"), std::string::npos);
}

Graph ConvModel() {
  GraphBuilder b(7);
  int x = b.Input("image", {1, 8, 8, 2});
  x = b.Conv2D(x, 6, 3, 1, Padding::kSame, Activation::kRelu);
  x = b.DepthwiseConv2D(x, 3, 2, Padding::kSame, Activation::kRelu6);
  x = b.GlobalAveragePool(x);
  x = b.FullyConnected(x, 5, Activation::kNone);
  return b.Finish({b.Softmax(x)});
}

TEST(CompareLayersTest, ResultsDoNotDependOnTheThreadCount) {
  const Graph g = ConvModel();
  const HostTensor calibration = Random({40, 8, 8, 2}, 11, 0, 1);
  const HostTensor deployment = Random({67, 8, 8, 2}, 12, -0.2f, 1.3f);  // some drift beyond calibration
  auto stats = CalibrationStatistics::Collect(g, {calibration});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  const TensorRanges ranges = stats->GlobalRanges();
  for (QuantMethod method : {QuantMethod::kInt8, QuantMethod::kInt16x8}) {
    QuantizeOptions qo;
    qo.method = method;
    auto q = Quantize(g, qo, &ranges);
    ASSERT_TRUE(q.ok()) << q.status().message();
    std::vector<std::vector<debug::LayerStats>> runs;
    for (int threads : {1, 2, 3}) {
      debug::DebugOptions options;
      options.num_threads = threads;
      auto layers = debug::CompareLayers(g, *q, {calibration}, {deployment}, options);
      ASSERT_TRUE(layers.ok()) << layers.status().message();
      runs.push_back(std::move(*layers));
    }
    // QUANTIZE, CONV_2D, DEPTHWISE_CONV_2D, MEAN, FULLY_CONNECTED, SOFTMAX.
    ASSERT_EQ(runs[0].size(), 6u) << QuantMethodName(method);
    for (size_t r = 1; r < runs.size(); ++r) {
      for (size_t i = 0; i < runs[0].size(); ++i) {
        const debug::LayerStats &a = runs[0][i], &b = runs[r][i];
        EXPECT_EQ(a.tensor, b.tensor);
        EXPECT_EQ(a.mean_error, b.mean_error) << a.tensor_name;
        EXPECT_EQ(a.mse, b.mse) << a.tensor_name;
        EXPECT_EQ(a.max_abs_error, b.max_abs_error) << a.tensor_name;
        EXPECT_EQ(a.sqnr_db, b.sqnr_db) << a.tensor_name;
        EXPECT_EQ(a.saturation_calibration, b.saturation_calibration) << a.tensor_name;
        EXPECT_EQ(a.saturation_deployment, b.saturation_deployment) << a.tensor_name;
        EXPECT_EQ(a.out_of_range_deployment, b.out_of_range_deployment) << a.tensor_name;
        EXPECT_EQ(a.deployment_range.min, b.deployment_range.min) << a.tensor_name;
        EXPECT_EQ(a.deployment_range.max, b.deployment_range.max) << a.tensor_name;
      }
    }
    const DType act = method == QuantMethod::kInt8 ? DType::kInt8 : DType::kInt16;
    for (const debug::LayerStats& l : runs[0]) {
      EXPECT_EQ(l.dtype, act);
      EXPECT_TRUE(std::isfinite(l.sqnr_db)) << l.tensor_name;
      EXPECT_GT(l.sqnr_db, 10) << l.tensor_name;
      // The calibrated range is what calibration saw.
      EXPECT_EQ(l.calibration_range.min, ranges.at(l.source_tensor).min) << l.tensor_name;
      EXPECT_EQ(l.calibration_range.max, ranges.at(l.source_tensor).max) << l.tensor_name;
    }
    // Inputs in [-0.2, 1.3] against a calibrated [0, 1] (int8) or [-1, 1] (int16,
    // symmetric): about (0.2 + 0.3) / 1.5 or 0.3 / 1.5 of them fall outside. Those above 1
    // saturate; those below 0 are clipped to int8's zero point, which is not saturation.
    const debug::LayerStats* input = Find(runs[0], "QUANTIZE");
    ASSERT_NE(input, nullptr);
    EXPECT_NEAR(input->out_of_range_deployment, (method == QuantMethod::kInt8 ? 0.5 : 0.3) / 1.5, 0.02);
    EXPECT_NEAR(input->saturation_deployment, 0.3 / 1.5, 0.02);
    EXPECT_LT(input->saturation_calibration, 0.01);
  }
}

// x [1,8] -> FULLY_CONNECTED(16, RELU) -> FULLY_CONNECTED(4): logits, no softmax, so
// keeping the last layer in float leaves no integer consumer of its output.
Graph Classifier() {
  GraphBuilder b(3);
  int x = b.Input("x", {1, 8});
  x = b.FullyConnected(x, 16, Activation::kRelu);
  return b.Finish({b.FullyConnected(x, 4, Activation::kNone)});
}

std::vector<int32_t> FloatArgmax(const Graph& g, const HostTensor& data) {
  auto exec = Executor::Create(g);
  EXPECT_TRUE(exec.ok());
  auto out = (*exec)->RunBatch({data});
  EXPECT_TRUE(out.ok());
  std::vector<int32_t> labels;
  const float* v = (*out)[0].data<float>();
  for (int64_t s = 0; s < data.shape[0]; ++s) {
    labels.push_back(static_cast<int32_t>(std::max_element(v + 4 * s, v + 4 * s + 4) - (v + 4 * s)));
  }
  return labels;
}

TEST(SelectiveQuantizeTest, DeniesTheSaturatingLayerFirstAndReachesTheBudget) {
  const Graph g = Classifier();
  const HostTensor calibration = Random({100, 8}, 21, -1, 1);
  const HostTensor deployment = Random({400, 8}, 22, -1, 1);
  // Labels the float model gets right, so its top-1 is 1 and any drop is quantization's.
  const std::vector<int32_t> labels = FloatArgmax(g, deployment);
  auto stats = CalibrationStatistics::Collect(g, {calibration});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  TensorRanges ranges = stats->GlobalRanges();
  // A tenth of the logits' range: they saturate and their argmax becomes a tie.
  const int logits = g.outputs[0];
  ranges[logits].min /= 10;
  ranges[logits].max /= 10;
  auto q = Quantize(g, QuantizeOptions{}, &ranges);
  ASSERT_TRUE(q.ok()) << q.status().message();
  auto layers = debug::CompareLayers(g, *q, {calibration}, {deployment}, {});
  ASSERT_TRUE(layers.ok()) << layers.status().message();
  const debug::LayerStats* worst = &layers->front();
  for (const debug::LayerStats& l : *layers) {
    if (l.rmse_over_scale > worst->rmse_over_scale) worst = &l;
  }
  EXPECT_EQ(worst->source_tensor, logits);
  EXPECT_TRUE(worst->flagged);
  EXPECT_GT(worst->saturation_deployment, 0.5);
  EXPECT_GT(worst->saturation_calibration, 0.5);

  debug::SelectiveOptions options;
  options.max_drop = 0.05;
  options.latency_batch = 16;
  int64_t progress_calls = 0;
  options.progress = [&](int64_t, int64_t total) {
    EXPECT_EQ(total, options.max_denied + 1);
    ++progress_calls;
  };
  auto result = debug::SelectiveQuantize(g, ranges, *layers, {deployment}, labels, options);
  ASSERT_TRUE(result.ok()) << result.status().message();
  EXPECT_EQ(result->float_top1, 1.0);
  EXPECT_GT(result->float_model_bytes, 0);
  ASSERT_EQ(result->steps.size(), 2u);
  const debug::SelectiveStep& full = result->steps[0];
  const debug::SelectiveStep& repaired = result->steps[1];
  EXPECT_TRUE(full.denied.empty());
  EXPECT_GT(full.drop.low, 0.2);
  EXPECT_DOUBLE_EQ(full.drop.estimate, 1.0 - full.top1);
  EXPECT_EQ(repaired.denied, std::vector<std::string>{g.tensors[logits].name});
  EXPECT_LT(repaired.drop.estimate, full.drop.estimate);
  EXPECT_LE(repaired.drop.high, options.max_drop);
  EXPECT_LE(repaired.drop.low, repaired.drop.estimate);
  EXPECT_TRUE(result->reached);
  // The float FULLY_CONNECTED keeps float weights: 4 bytes instead of 1 for 16 x 4 of them.
  EXPECT_GT(repaired.model_bytes, full.model_bytes);
  EXPECT_GE(progress_calls, 3);

  // Nothing may be denied: one step, budget missed.
  options.max_denied = 0;
  auto none = debug::SelectiveQuantize(g, ranges, *layers, {deployment}, labels, options);
  ASSERT_TRUE(none.ok()) << none.status().message();
  ASSERT_EQ(none->steps.size(), 1u);
  EXPECT_FALSE(none->reached);
  EXPECT_EQ(none->steps[0].drop.estimate, full.drop.estimate);  // same seed, same interval
  EXPECT_EQ(none->steps[0].drop.high, full.drop.high);
}

TEST(SelectiveQuantizeTest, RefusesWhatItCannotRepair) {
  const Graph g = Classifier();
  const HostTensor data = Random({10, 8}, 5, -1, 1);
  auto stats = CalibrationStatistics::Collect(g, {data});
  ASSERT_TRUE(stats.ok());
  debug::SelectiveOptions options;
  auto unlabelled = debug::SelectiveQuantize(g, stats->GlobalRanges(), {}, {data}, {}, options);
  ASSERT_FALSE(unlabelled.ok());
  EXPECT_NE(unlabelled.status().message().find("labelled"), std::string::npos);
  auto short_labels = debug::SelectiveQuantize(g, stats->GlobalRanges(), {}, {data}, {0, 1, 2}, options);
  ASSERT_FALSE(short_labels.ok());
  EXPECT_NE(short_labels.status().message().find("10 samples but 3 labels"), std::string::npos)
      << short_labels.status().message();
  options.quantize.method = QuantMethod::kDynamic;
  auto dynamic = debug::SelectiveQuantize(g, stats->GlobalRanges(), {}, {data}, std::vector<int32_t>(10, 0), options);
  ASSERT_FALSE(dynamic.ok());
  EXPECT_NE(dynamic.status().message().find("dynamic"), std::string::npos);
}

}  // namespace
}  // namespace qaudit
