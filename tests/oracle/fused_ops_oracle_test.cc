// Fast paths that only run when nothing observes the intermediate tensors (CONV_2D fused
// with the MAX_POOL_2D after it) never meet the oracle in the layer-by-layer tests, which
// make every tensor a graph output. Here the zoo's cnn (conv -> max pool twice), quantized
// by qaudit, is compared with TFLite on its final output only.
#include <gtest/gtest.h>

#include <random>

#include "qaudit/calibrate.h"
#include "qaudit/quantize.h"
#include "qaudit/train.h"
#include "qaudit/zoo.h"
#include "support/oracle_compare.h"

namespace qaudit {
namespace {

HostTensor RandomImage(std::mt19937& rng, bool batch_of_one) {
  HostTensor t;
  t.dtype = DType::kFloat32;
  t.shape = batch_of_one ? Shape{1, 28, 28, 1} : Shape{28, 28, 1};
  t.bytes.resize(28 * 28 * sizeof(float));
  std::uniform_real_distribution<float> u(0.0f, 1.0f);
  for (int i = 0; i < 28 * 28; ++i) t.data<float>()[i] = u(rng);
  return t;
}

using FusedOpsOracleTest = testing::WithOracle<::testing::TestWithParam<Numerics>>;

TEST_P(FusedOpsOracleTest, ZooCnnInt8MatchesTfliteOnItsOutput) {
  auto model = zoo::Build(zoo::Architecture::kCnn, /*seed=*/3, 1);
  auto graph = train::ToGraph(*model);
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  std::mt19937 rng(5);
  HostTensor calibration;
  calibration.dtype = DType::kFloat32;
  calibration.shape = {32, 28, 28, 1};
  for (int s = 0; s < 32; ++s) {
    const HostTensor image = RandomImage(rng, false);
    calibration.bytes.insert(calibration.bytes.end(), image.bytes.begin(), image.bytes.end());
  }
  auto statistics = CalibrationStatistics::Collect(*graph, {calibration});
  ASSERT_TRUE(statistics.ok()) << statistics.status().message();
  const TensorRanges ranges = statistics->GlobalRanges();
  auto quantized = Quantize(*graph, QuantizeOptions{}, &ranges);
  ASSERT_TRUE(quantized.ok()) << quantized.status().message();
  std::vector<std::vector<HostTensor>> cases;
  for (int c = 0; c < 12; ++c) cases.push_back({RandomImage(rng, true)});
  const testing::OracleComparison r = testing::CompareWithOracle(*oracle_, quantized->graph, cases, GetParam());
  EXPECT_TRUE(r.ok) << r.message;
}

INSTANTIATE_TEST_SUITE_P(Numerics, FusedOpsOracleTest, ::testing::Values(Numerics::kTflite, Numerics::kXnnpack),
                         [](const auto& info) { return std::string(NumericsName(info.param)); });

}  // namespace
}  // namespace qaudit
