// ADD / SUB on values worked through TFLite's arithmetic by hand.
#include "kernels/add.h"

#include <gtest/gtest.h>

namespace qaudit::kernels {
namespace {

TEST(AddTest, Int8RescalesBothInputs) {
  // a: scale 0.5 zp 0, q 3 (1.5); b: scale 0.25 zp 1, q 5 (1.0); out scale 1 zp 0.
  // twice_max = 1: a * 2^20 * 0.5 = 1572864; b: 4 * 2^20 * 0.25 = 1048576; sum 2621440;
  // * 2^-20 = 2.5, rounded half away from zero by RoundingDivideByPOT: 3.
  const QuantizedAddParams p = MakeQuantizedAddParams(false, 20, 0.5, 0, 0.25, 1, 1.0, 0, -128, 127);
  BroadcastPlan plan;
  ASSERT_TRUE(MakeBroadcastPlan({1}, {1}, {1}, &plan));
  const int8_t a[1] = {3}, b[1] = {5};
  int8_t out[1];
  AddQuantized<int8_t>(plan, a, b, p, out);
  EXPECT_EQ(out[0], 3);
  const QuantizedAddParams sub = MakeQuantizedAddParams(true, 20, 0.5, 0, 0.25, 1, 1.0, 0, -128, 127);
  AddQuantized<int8_t>(plan, a, b, sub, out);
  EXPECT_EQ(out[0], 1);  // 1.5 - 1.0 = 0.5 -> 1
}

TEST(AddTest, BroadcastsLikeNumpy) {
  // [2,3] + [3] and [2,1] + [1,3].
  BroadcastPlan plan;
  ASSERT_TRUE(MakeBroadcastPlan({2, 3}, {3}, {2, 3}, &plan));
  const float a[6] = {0, 1, 2, 3, 4, 5}, b[3] = {10, 20, 30};
  float out[6];
  AddFloat(plan, a, b, false, -1e9f, 1e9f, out);
  const float expected[6] = {10, 21, 32, 13, 24, 35};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], expected[i]);
  ASSERT_TRUE(MakeBroadcastPlan({2, 1}, {1, 3}, {2, 3}, &plan));
  const float col[2] = {100, 200};
  AddFloat(plan, col, b, true, -1e9f, 1e9f, out);
  const float diff[6] = {90, 80, 70, 190, 180, 170};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], diff[i]);
  EXPECT_FALSE(MakeBroadcastPlan({2, 3}, {2}, {2, 3}, &plan));
}

}  // namespace
}  // namespace qaudit::kernels
