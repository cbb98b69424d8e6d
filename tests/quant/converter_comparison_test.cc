// qaudit's int8 quantization of hello_world_float.tflite against hello_world_int8.tflite,
// which the TFLite converter made from the same Keras model: tensor by tensor (scales and
// zero points) and output by output over x in [0, 2pi]. The test prints the comparison
// (the issue note quotes it) and checks the agreements that must hold.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <map>

#include "qaudit/calibrate.h"
#include "qaudit/executor.h"
#include "qaudit/quantize.h"
#include "qaudit/tflite.h"
#include "support/fixtures.h"

namespace qaudit {
namespace {

constexpr double kTwoPi = 6.283185307179586;

HostTensor Points(int n) {
  HostTensor h;
  h.shape = {n, 1};
  h.bytes.resize(n * 4);
  for (int i = 0; i < n; ++i) h.data<float>()[i] = static_cast<float>(kTwoPi * i / (n - 1));
  return h;
}

// The model's real-valued outputs on `x` (float input; integer models get x quantized with
// their input parameters, as the converter's users feed them).
std::vector<float> Outputs(const Graph& g, const HostTensor& x) {
  const Tensor& in = g.tensors[g.inputs[0]];
  HostTensor feed = x;
  if (in.dtype == DType::kInt8) {
    feed.dtype = DType::kInt8;
    feed.bytes.resize(x.num_elements());
    for (int64_t i = 0; i < x.num_elements(); ++i) {
      const long q = std::lround(x.data<float>()[i] / in.quant.scale[0]) + in.quant.zero_point[0];
      feed.data<int8_t>()[i] = static_cast<int8_t>(std::clamp<long>(q, -128, 127));
    }
  }
  auto exec = Executor::Create(g);
  EXPECT_TRUE(exec.ok());
  auto out = (*exec)->RunBatch({feed});
  EXPECT_TRUE(out.ok());
  const Tensor& o = g.tensors[g.outputs[0]];
  std::vector<float> v(x.num_elements());
  for (size_t i = 0; i < v.size(); ++i) {
    v[i] = o.dtype == DType::kInt8 ? ((*out)[0].data<int8_t>()[i] - o.quant.zero_point[0]) * o.quant.scale[0]
                                   : (*out)[0].data<float>()[i];
  }
  return v;
}

struct Errors {
  double max_abs = 0, rms = 0;
};
Errors Compare(const std::vector<float>& a, const std::vector<float>& b) {
  Errors e;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    e.max_abs = std::max(e.max_abs, std::fabs(d));
    e.rms += d * d;
  }
  e.rms = std::sqrt(e.rms / a.size());
  return e;
}

// Prints each tensor's scale and zero point in both models, and returns, per tensor name,
// (our scale / their scale, zero point difference).
std::map<std::string, std::pair<double, int64_t>> CompareTensors(const Graph& ours, const Graph& converter) {
  std::map<std::string, const Tensor*> theirs;
  for (const Tensor& t : converter.tensors) theirs[t.name] = &t;
  std::map<std::string, std::pair<double, int64_t>> result;
  std::printf("  %-72s %11s %11s %5s %5s\n", "tensor", "qaudit s", "converter s", "zp", "zp");
  for (const Tensor& t : ours.tensors) {
    auto it = theirs.find(t.name);
    EXPECT_NE(it, theirs.end()) << "the converter's model has no tensor '" << t.name << "'";
    if (it == theirs.end()) continue;
    const Tensor& c = *it->second;
    EXPECT_EQ(t.dtype, c.dtype) << t.name;
    EXPECT_EQ(t.shape, c.shape) << t.name;
    std::printf("  %-72s %11.6g %11.6g %5lld %5lld\n", t.name.c_str(), t.quant.scale[0], c.quant.scale[0],
                static_cast<long long>(t.quant.zero_point_at(0)), static_cast<long long>(c.quant.zero_point_at(0)));
    result[t.name] = {t.quant.scale[0] / c.quant.scale[0], t.quant.zero_point_at(0) - c.quant.zero_point_at(0)};
  }
  return result;
}

Result<QuantizedModel> QuantizeLikeTheConverter(const Graph& float_graph) {
  QAUDIT_ASSIGN_OR_RETURN(CalibrationStatistics stats, CalibrationStatistics::Collect(float_graph, {Points(500)}));
  const TensorRanges ranges = stats.GlobalRanges();
  QuantizeOptions options;
  options.input_type = options.output_type = DType::kInt8;  // as the converter's model has
  return Quantize(float_graph, options, &ranges);
}

class ConverterComparisonTest : public ::testing::Test {
 protected:
  void SetUp() override {
    QAUDIT_REQUIRE_FIXTURES();
    auto f = ReadTfliteFile(testing::Fixture("tflite-micro/hello_world_float.tflite"));
    auto c = ReadTfliteFile(testing::Fixture("tflite-micro/hello_world_int8.tflite"));
    ASSERT_TRUE(f.ok() && c.ok());
    float_graph_ = *f;
    converter_ = *c;
  }
  Graph float_graph_, converter_;
};

// The two fixture files do not hold the same weights: the converter's int8 weights,
// dequantized, are not within half a quantization step of the float file's weights, so
// the Keras model was retrained between the two conversions. Weight scales, bias scales
// and the ranges of the hidden activations therefore differ; the input's parameters,
// which depend only on the representative data, agree.
TEST_F(ConverterComparisonTest, FloatFileQuantizedByQaudit) {
  auto ours = QuantizeLikeTheConverter(float_graph_);
  ASSERT_TRUE(ours.ok()) << ours.status().message();
  std::map<std::string, const Tensor*> float_weights;
  for (const Tensor& t : float_graph_.tensors) float_weights[t.name] = &t;
  int64_t weights = 0, within_half_step = 0;
  for (const Tensor& c : converter_.tensors) {
    if (!c.is_constant || c.dtype != DType::kInt8) continue;
    const Tensor& f = *float_weights.at(c.name);
    for (int64_t i = 0; i < c.num_elements(); ++i) {
      const double real = c.data_as<int8_t>()[i] * static_cast<double>(c.quant.scale[0]);
      within_half_step += std::fabs(real - f.data_as<float>()[i]) <= 0.5001 * c.quant.scale[0];
      ++weights;
    }
  }
  std::printf("converter weights within half a step of the float file's: %lld of %lld\n",
              static_cast<long long>(within_half_step), static_cast<long long>(weights));
  EXPECT_LT(within_half_step, weights / 2);  // a different model

  std::printf("hello_world_float.tflite quantized by qaudit vs hello_world_int8.tflite:\n");
  auto diff = CompareTensors(ours->graph, converter_);
  EXPECT_NEAR(diff["serving_default_dense_input:0"].first, 1.0, 0.01);
  EXPECT_EQ(diff["serving_default_dense_input:0"].second, 0);

  const HostTensor x = Points(1000);
  const std::vector<float> reference = Outputs(float_graph_, x);
  const Errors ours_vs_float = Compare(Outputs(ours->graph, x), reference);
  const Errors theirs_vs_float = Compare(Outputs(converter_, x), reference);
  const Errors ours_vs_theirs = Compare(Outputs(ours->graph, x), Outputs(converter_, x));
  std::printf("over 1000 x in [0, 2pi]:                    max |err|   rms err\n");
  std::printf("  qaudit int8 vs float file                 %9.5f %9.5f\n", ours_vs_float.max_abs, ours_vs_float.rms);
  std::printf("  converter int8 vs float file              %9.5f %9.5f\n", theirs_vs_float.max_abs, theirs_vs_float.rms);
  std::printf("  qaudit int8 vs converter int8             %9.5f %9.5f\n", ours_vs_theirs.max_abs, ours_vs_theirs.rms);
  EXPECT_LT(ours_vs_float.rms, 0.03);
}

// The converter's own weights, dequantized to float and quantized again by qaudit: the
// same rules give the same int8 weights bit for bit, and activation parameters that
// differ only as far as the representative data does (500 evenly spaced points here; the
// converter's set, by its input range, reached 6.2424 rather than 2pi).
TEST_F(ConverterComparisonTest, ConverterWeightsRequantizedByQaudit) {
  auto dequantized = Dequantize(converter_);
  ASSERT_TRUE(dequantized.ok());
  auto ours = QuantizeLikeTheConverter(*dequantized);
  ASSERT_TRUE(ours.ok()) << ours.status().message();
  std::printf("hello_world_int8.tflite dequantized, then quantized by qaudit vs hello_world_int8.tflite:\n");
  auto diff = CompareTensors(ours->graph, converter_);
  std::map<std::string, const Tensor*> theirs;
  for (const Tensor& t : converter_.tensors) theirs[t.name] = &t;
  for (const Tensor& t : ours->graph.tensors) {
    const Tensor& c = *theirs.at(t.name);
    if (t.dtype == DType::kInt8 && t.is_constant) {
      EXPECT_EQ(t.data, c.data) << t.name;
      EXPECT_EQ(t.quant.scale, c.quant.scale) << t.name;
    } else if (t.is_constant) {
      // Bias: scale = input scale x weight scale, so it follows the input's ratio; values
      // within one step per 1% of scale difference.
      EXPECT_NEAR(diff[t.name].first, 1.0, 0.02) << t.name;
    } else {
      EXPECT_NEAR(diff[t.name].first, 1.0, 0.02) << t.name;
      EXPECT_LE(std::abs(diff[t.name].second), 1) << t.name;
    }
  }
  const HostTensor x = Points(1000);
  const Errors ours_vs_theirs = Compare(Outputs(ours->graph, x), Outputs(converter_, x));
  const Errors ours_vs_float = Compare(Outputs(ours->graph, x), Outputs(*dequantized, x));
  const Errors theirs_vs_float = Compare(Outputs(converter_, x), Outputs(*dequantized, x));
  std::printf("over 1000 x in [0, 2pi]:                    max |err|   rms err\n");
  std::printf("  qaudit int8 vs dequantized float          %9.5f %9.5f\n", ours_vs_float.max_abs, ours_vs_float.rms);
  std::printf("  converter int8 vs dequantized float       %9.5f %9.5f\n", theirs_vs_float.max_abs, theirs_vs_float.rms);
  std::printf("  qaudit int8 vs converter int8             %9.5f %9.5f\n", ours_vs_theirs.max_abs, ours_vs_theirs.rms);
  // A few output steps apart at most (one step is 0.0083), and as close to the float
  // function as the converter's model is.
  EXPECT_LT(ours_vs_theirs.max_abs, 0.1);
  EXPECT_LT(ours_vs_theirs.rms, 0.02);
  EXPECT_LT(ours_vs_float.rms, 1.1 * theirs_vs_float.rms);
}

}  // namespace
}  // namespace qaudit
