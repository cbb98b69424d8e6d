// FULLY_CONNECTED on small cases computed by hand.
#include "kernels/fully_connected.h"

#include "kernels/conv.h"

#include <gtest/gtest.h>

namespace qaudit::kernels {
namespace {

TEST(FullyConnectedTest, FloatWithBiasAndBatch) {
  // Rows x: [1,2,3], [0,1,0]; weights [[1,1,1],[1,-1,0]]; bias [0.5, -1].
  const float x[6] = {1, 2, 3, 0, 1, 0};
  const float w[6] = {1, 1, 1, 1, -1, 0};
  const float b[2] = {0.5f, -1};
  float y[4];
  FullyConnectedFloat({2, 3, 2}, x, w, b, -1e9f, 1e9f, y);
  EXPECT_EQ(y[0], 6.5f);
  EXPECT_EQ(y[1], -2.0f);
  EXPECT_EQ(y[2], 1.5f);
  EXPECT_EQ(y[3], -2.0f);
}

TEST(FullyConnectedTest, Uint8WeightZeroPointIsSubtracted) {
  // uint8: x zero point 128, weight zero point 100. x = [129, 130] (real 1, 2), w = [101, 98]
  // (real 1, -2): acc = 1 - 4 = -3; multiplier 1, output zero point 128 -> 125.
  const uint8_t x[2] = {129, 130};
  const uint8_t w[2] = {101, 98};
  uint8_t y[1];
  const OutputStage stage = OutputStage::Make(Rounding::kDouble, {1.0}, {1.0f}, 128, 0, 255);
  FullyConnectedQuantized<uint8_t, int32_t, int32_t, uint8_t>({1, 2, 1}, x, 128, CenteredWeights(w, 2, 100).data(), nullptr, stage, y);
  EXPECT_EQ(y[0], 125);
}

TEST(FullyConnectedTest, HalfwayAccumulatorsFollowTheRule) {
  // acc = 1 with multiplier 0.5: 0.5 -> 1 under double and single rounding, 0 under fp32.
  const int8_t x[1] = {1};
  const int8_t w[1] = {1};
  for (auto [rounding, expected] : {std::pair{Rounding::kDouble, 1}, {Rounding::kSingle, 1}, {Rounding::kFp32, 0}}) {
    int8_t y[1];
    const OutputStage stage = OutputStage::Make(rounding, {0.5}, {0.5f}, 0, -128, 127);
    FullyConnectedQuantized<int8_t, int32_t, int32_t, int8_t>({1, 1, 1}, x, 0, CenteredWeights(w, 1, 0).data(), nullptr, stage, y);
    EXPECT_EQ(y[0], expected) << static_cast<int>(rounding);
  }
}

}  // namespace
}  // namespace qaudit::kernels
