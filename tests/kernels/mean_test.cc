// MEAN kernels. Goldens are worked out by hand in the comments. Which rule TFLite 2.12
// applies to which case was measured with its interpreter (tools/tflite-oracle): 288
// random int8/uint8/int16 cases across 12 axis sets, all bit-exact.
#include "kernels/mean.h"

#include <gtest/gtest.h>

#include "support/kernel_test_util.h"

#include <optional>
#include <vector>

namespace qaudit::kernels {
namespace {

using ::qaudit::testing::Ints;

TEST(ReduceShapeTest, MapsEveryInputToItsOutput) {
  // [2, 3, 4] reduced over axes 0 and 2: 3 outputs of 8 elements; element (i, j, k) goes
  // to output j.
  const ReduceShape s = MakeReduceShape({2, 3, 4}, {true, false, true});
  EXPECT_EQ(s.num_outputs, 3);
  EXPECT_EQ(s.count, 8);
  std::vector<int> seen;
  ForEachReduced(s, [&](int64_t o, int64_t i) {
    EXPECT_EQ(o, (i / 4) % 3) << i;
    seen.push_back(static_cast<int>(i));
  });
  EXPECT_EQ(seen.size(), 24u);
  EXPECT_EQ(seen.back(), 23);  // row-major order
}

TEST(MiddleAxisViewTest, ViewsAdjacentReducedAxesOnly) {
  const std::optional<MiddleAxisView> hw = AsMiddleAxis(MakeReduceShape({2, 7, 5, 3}, {false, true, true, false}));
  ASSERT_TRUE(hw.has_value());
  EXPECT_EQ(hw->outer, 2);
  EXPECT_EQ(hw->reduced, 35);
  EXPECT_EQ(hw->inner, 3);
  // An axis of size 1 between reduced axes does not separate them.
  const std::optional<MiddleAxisView> gap = AsMiddleAxis(MakeReduceShape({4, 1, 6}, {true, false, true}));
  ASSERT_TRUE(gap.has_value());
  EXPECT_EQ(gap->outer, 1);
  EXPECT_EQ(gap->reduced, 24);
  EXPECT_EQ(gap->inner, 1);
  EXPECT_FALSE(AsMiddleAxis(MakeReduceShape({2, 3, 4}, {true, false, true})).has_value());
}

TEST(MeanFloatTest, AveragesAlongTheReducedAxes) {
  // [[1, 2], [3, 5]]: over axis 1 -> [1.5, 4]; over axis 0 -> [2, 3.5].
  const float x[] = {1, 2, 3, 5};
  float y[2];
  MeanFloat(MakeReduceShape({2, 2}, {false, true}), x, y);
  EXPECT_EQ(y[0], 1.5f);
  EXPECT_EQ(y[1], 4.0f);
  MeanFloat(MakeReduceShape({2, 2}, {true, false}), x, y);
  EXPECT_EQ(y[0], 2.0f);
  EXPECT_EQ(y[1], 3.5f);
}

TEST(QuantizedMeanSameParamsTest, TruncatesTowardZero) {
  // Rows {-3, -4}, {3, 4}, {-1, -2}: -7/2 = -3.5 -> -3, 7/2 -> 3, -3/2 -> -1 (not -4, 4,
  // -2 as rounding would give).
  const int8_t x[] = {-3, -4, 3, 4, -1, -2};
  int8_t y[3];
  QuantizedMeanSameParams<int8_t>(MakeReduceShape({3, 2}, {false, true}), x, y);
  EXPECT_EQ(Ints(y, 3), (std::vector<int>{-3, 3, -1}));
}

TEST(QuantizedMeanFloatTest, RoundsHalfAwayFromZeroAndSaturates) {
  // in scale 1, zero point 1 -> out scale 1, zero point 0: mean - 1. Rows {3, 3} -> 2;
  // {2, 3} -> 1.5 -> 2; {-2, -1} -> -2.5 -> -3.
  const int8_t x[] = {3, 3, 2, 3, -2, -1};
  int8_t y[3];
  const ReduceShape s = MakeReduceShape({3, 2}, {false, true});
  QuantizedMeanFloat<int8_t>(s, 1.0f, 1, 1.0f, 0, x, y);
  EXPECT_EQ(Ints(y, 3), (std::vector<int>{2, 2, -3}));
  // Ratio 100 (zero points 0): 300, 250, -150 -> 127, 127, -128.
  QuantizedMeanFloat<int8_t>(s, 1.0f, 0, 0.01f, 0, x, y);
  EXPECT_EQ(Ints(y, 3), (std::vector<int>{127, 127, -128}));
}

TEST(QuantizedMean4DTest, BiasIsRoundedSeparately) {
  // in scale 1, zero point -3 -> out scale 2, zero point 0, 4 elements: the bias is
  // 0 - trunc(-3 * 1 / 2 - 0.5) = 2 and the multiplier 1 / (4 * 2) = 0.125. A raw sum
  // of 4: 4 * 0.125 = 0.5 rounds (twice: SRDHM 2, then 2 / 4) away to 1, + 2 = 3, while
  // the real mean ((1 + 3) / 2 = 2) would quantize to 2. A raw sum of -12: -1.5 -> -2,
  // + 2 = 0 (real: 0).
  const Mean4DParams p = MakeMean4DParams(1.0f, -3, 2.0f, 0, 4);
  EXPECT_EQ(p.bias, 2);
  const ReduceShape s = MakeReduceShape({1, 2, 2, 2}, {false, true, true, false});
  const int8_t x[] = {1, -3, 1, -3, 1, -3, 1, -3};  // channel sums 4 and -12
  int8_t y[2];
  QuantizedMean4D<int8_t>(s, p, Rounding::kDouble, x, y);
  EXPECT_EQ(Ints(y, 2), (std::vector<int>{3, 0}));
}

TEST(QuantizedMeanXnnpackTest, RequantizesInFloatWithTiesToEven) {
  // XNNPACK on the same tensors: sums of (x + 3) are 16 and 0, times 1 / (2 * 4) -> 2
  // and 0. With zero point 0 and sums 12 and 20: 1.5 -> 2 and 2.5 -> 2 (to even).
  const ReduceShape s = MakeReduceShape({1, 2, 2, 2}, {false, true, true, false});
  const int8_t x[] = {1, -3, 1, -3, 1, -3, 1, -3};
  int8_t y[2];
  QuantizedMeanXnnpack<int8_t>(s, -3, 0.125f, 0, x, y);
  EXPECT_EQ(Ints(y, 2), (std::vector<int>{2, 0}));
  const int8_t z[] = {3, 5, 3, 5, 3, 5, 3, 5};
  QuantizedMeanXnnpack<int8_t>(s, 0, 0.125f, 0, z, y);
  EXPECT_EQ(Ints(y, 2), (std::vector<int>{2, 2}));
}

}  // namespace
}  // namespace qaudit::kernels
