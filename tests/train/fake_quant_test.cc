// FakeQuantWithMinMaxVars semantics against hand-worked values, and the claim QAT rests
// on: the weight grid it simulates is the grid the int8 quantizer writes.
#include <gtest/gtest.h>

#include <cmath>
#include <random>

#include "quant/params.h"
#include "train/fake_quant.h"

namespace qaudit::train {
namespace {

TEST(FakeQuantTest, RangeIsNudgedSoThatZeroIsExact) {
  // [-0.1, 1.0] over 0..255: scale 1.1/255, zero point round(0.1 / scale) = round(23.18) = 23.
  const FakeQuantGrid g = NudgeRange(-0.1f, 1.0f, 0, 255);
  EXPECT_FLOAT_EQ(g.scale, 1.1f / 255);
  EXPECT_FLOAT_EQ(g.nudged_min, -23 * g.scale);
  EXPECT_FLOAT_EQ(g.nudged_max, 232 * g.scale);
  EXPECT_EQ(FakeQuantValue(0.0f, g), 0.0f);
  // A range that excludes 0 moves to include it: [0.5, 1.5] keeps its width, zero point 0.
  const FakeQuantGrid shifted = NudgeRange(0.5f, 1.5f, 0, 255);
  EXPECT_FLOAT_EQ(shifted.nudged_min, 0.0f);
  EXPECT_FLOAT_EQ(shifted.nudged_max, 1.0f);
}

TEST(FakeQuantTest, ForwardClampsAndRoundsTiesUp) {
  const FakeQuantGrid g = NudgeRange(0.0f, 255.0f, 0, 255);  // scale 1: the grid is the integers
  EXPECT_EQ(FakeQuantValue(2.5f, g), 3.0f);
  EXPECT_EQ(FakeQuantValue(3.49f, g), 3.0f);
  EXPECT_EQ(FakeQuantValue(-7.0f, g), 0.0f);
  EXPECT_EQ(FakeQuantValue(300.0f, g), 255.0f);
  // Narrow range [-1, 1] over 1..255: 127 steps each side of an exact 0.
  const FakeQuantGrid narrow = NudgeRange(-1.0f, 1.0f, 1, 255);
  EXPECT_FLOAT_EQ(narrow.scale, 2.0f / 254);
  EXPECT_FLOAT_EQ(narrow.nudged_min, -1.0f);
  EXPECT_FLOAT_EQ(narrow.nudged_max, 1.0f);
  EXPECT_FLOAT_EQ(FakeQuantValue(0.5f, narrow), std::floor(0.5f * 127 + 0.5f) / 127);
}

TEST(FakeQuantTest, GradientsGoToInputInsideAndToMinMaxOutside) {
  const FakeQuantGrid g = NudgeRange(-0.1f, 1.0f, 0, 255);
  EXPECT_EQ(FakeQuantRoute(0.3f, g), 0);
  EXPECT_EQ(FakeQuantRoute(g.nudged_min, g), 0);
  EXPECT_EQ(FakeQuantRoute(g.nudged_max, g), 0);
  EXPECT_EQ(FakeQuantRoute(-0.5f, g), -1);
  EXPECT_EQ(FakeQuantRoute(2.0f, g), 1);
}

// The weight grid QAT simulates (narrow range over max |w| of the channel) and the int8
// weights the quantize pass writes agree: same integer for every weight but exact ties.
TEST(FakeQuantTest, WeightGridIsTheQuantizersGrid) {
  std::mt19937 rng(4);
  std::normal_distribution<float> normal(0.0f, 0.3f);
  std::vector<float> w(4096);
  for (float& v : w) v = normal(rng);
  const Shape shape = {16, 4, 4, 16};
  const std::vector<float> half = quant::WeightHalfRanges(w.data(), shape, 0);
  const quant::SymmetricWeights q = quant::QuantizeWeights(w.data(), shape, 0, half);
  int64_t differ = 0;
  for (int64_t i = 0; i < static_cast<int64_t>(w.size()); ++i) {
    const int c = static_cast<int>(i / 256);
    const FakeQuantGrid g = NudgeRange(-half[c], half[c], 1, 255);
    const float simulated = FakeQuantValue(w[i], g);
    const float written = q.values[i] * q.scales[c];
    differ += std::fabs(simulated - written) > 1e-6f * half[c];
  }
  EXPECT_EQ(differ, 0);
}

}  // namespace
}  // namespace qaudit::train
