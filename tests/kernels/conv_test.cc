// CONV_2D and DEPTHWISE_CONV_2D on small cases computed by hand.
#include "kernels/conv.h"

#include <gtest/gtest.h>

namespace qaudit::kernels {
namespace {

// Input 3x3 [[1,2,3],[4,5,6],[7,8,9]], one channel; filter [[1,0],[0,-1]].
ConvGeometry Geometry(bool same) {
  ConvGeometry g{};
  g.batch = 1, g.in_h = 3, g.in_w = 3, g.in_c = 1, g.out_c = 1;
  g.filter_h = 2, g.filter_w = 2, g.stride_h = 1, g.stride_w = 1, g.dilation_h = 1, g.dilation_w = 1;
  g.depth_multiplier = 1;
  g.out_h = ConvOutputSize(same, 3, 2, 1, 1);
  g.out_w = ConvOutputSize(same, 3, 2, 1, 1);
  g.pad_top = same ? ConvPadding(3, 2, 1, 1, g.out_h) : 0;
  g.pad_left = same ? ConvPadding(3, 2, 1, 1, g.out_w) : 0;
  return g;
}

TEST(ConvTest, PaddingFollowsTflite) {
  // SAME keeps ceil(in / stride) and puts the odd padding pixel at the end.
  EXPECT_EQ(ConvOutputSize(true, 3, 2, 1, 1), 3);
  EXPECT_EQ(ConvPadding(3, 2, 1, 1, 3), 0);
  EXPECT_EQ(ConvOutputSize(true, 224, 3, 2, 1), 112);
  EXPECT_EQ(ConvPadding(224, 3, 2, 1, 112), 0);  // total 1: nothing before, one after
  EXPECT_EQ(ConvOutputSize(true, 7, 3, 1, 2), 7);
  EXPECT_EQ(ConvPadding(7, 3, 1, 2, 7), 2);  // effective filter 5
  EXPECT_EQ(ConvOutputSize(false, 7, 3, 2, 1), 3);
}

TEST(ConvTest, FloatValidAndSame) {
  const float in[9] = {1, 2, 3, 4, 5, 6, 7, 8, 9};
  const float w[4] = {1, 0, 0, -1};
  float out[9];
  ConvFloat(Geometry(false), in, w, nullptr, -1e9f, 1e9f, out);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], -4.0f) << i;  // x[y][x] - x[y+1][x+1]
  ConvFloat(Geometry(true), in, w, nullptr, -1e9f, 1e9f, out);
  // Bottom row and right column lose the taps that fall outside: just x[y][x].
  const float same[9] = {-4, -4, 3, -4, -4, 6, 7, 8, 9};
  for (int i = 0; i < 9; ++i) EXPECT_EQ(out[i], same[i]) << i;
  ConvFloat(Geometry(true), in, w, nullptr, 0.0f, 6.0f, out);  // RELU6 clamp
  EXPECT_EQ(out[0], 0.0f);
  EXPECT_EQ(out[8], 6.0f);
}

TEST(ConvTest, Int8WithZeroPointsBiasAndRequantization) {
  // Input zero point 2 (q = x + 2), weights scale 1, bias 10 (scale 1), output scale 0.5
  // and zero point -3: real (x - x') + 10 = 6 -> 6 / 0.5 - 3 = 9.
  int8_t in[9];
  for (int i = 0; i < 9; ++i) in[i] = static_cast<int8_t>(i + 1 + 2);
  const int8_t w[4] = {1, 0, 0, -1};
  const int32_t bias[1] = {10};
  int8_t out[9];
  const OutputStage stage = OutputStage::Make(Rounding::kDouble, {2.0}, {2.0f}, -3, -128, 127);
  ConvQuantized<int8_t, int32_t, int32_t, int8_t>(Geometry(false), in, 2, CenteredWeights(w, 4, 0).data(), bias, stage, out);
  for (int i = 0; i < 4; ++i) EXPECT_EQ(out[i], 9) << i;
  // SAME: padded taps are skipped (real zero), so the corner is (9 + 10) * 2 - 3 = 35.
  ConvQuantized<int8_t, int32_t, int32_t, int8_t>(Geometry(true), in, 2, CenteredWeights(w, 4, 0).data(), bias, stage, out);
  EXPECT_EQ(out[8], 35);
}

TEST(ConvTest, RoundingRuleIsTheStages) {
  // One tap: acc = x * 1, multiplier 0.5. x = 5 -> 2.5: double/single 3, fp32 2;
  // x = -3 -> -1.5: double and single -1, fp32 -2.
  ConvGeometry g{};
  g.batch = g.in_h = g.in_w = g.in_c = g.out_c = g.out_h = g.out_w = 1;
  g.filter_h = g.filter_w = g.stride_h = g.stride_w = g.dilation_h = g.dilation_w = g.depth_multiplier = 1;
  const int8_t w[1] = {1};
  struct Case {
    Rounding rounding;
    int8_t x, expected;
  } cases[] = {{Rounding::kDouble, 5, 3},  {Rounding::kSingle, 5, 3},  {Rounding::kFp32, 5, 2},
               {Rounding::kDouble, -3, -1}, {Rounding::kSingle, -3, -1}, {Rounding::kFp32, -3, -2}};
  for (const Case& c : cases) {
    const OutputStage stage = OutputStage::Make(c.rounding, {0.5}, {0.5f}, 0, -128, 127);
    int8_t out[1];
    ConvQuantized<int8_t, int32_t, int32_t, int8_t>(g, &c.x, 0, CenteredWeights(w, 1, 0).data(), nullptr, stage, out);
    EXPECT_EQ(out[0], c.expected) << "x=" << int{c.x} << " rounding " << static_cast<int>(c.rounding);
  }
}

TEST(DepthwiseConvTest, MultiplierTwoReadsEachInputChannelTwice) {
  // 1x1 image with 2 channels [3, 5], multiplier 2, 1x1 filter [1, 2, 3, 4]:
  // outputs [3*1, 3*2, 5*3, 5*4].
  ConvGeometry g{};
  g.batch = g.in_h = g.in_w = g.out_h = g.out_w = 1;
  g.in_c = 2, g.out_c = 4, g.depth_multiplier = 2;
  g.filter_h = g.filter_w = g.stride_h = g.stride_w = g.dilation_h = g.dilation_w = 1;
  const float in[2] = {3, 5};
  const float w[4] = {1, 2, 3, 4};
  float out[4];
  DepthwiseConvFloat(g, in, w, nullptr, -1e9f, 1e9f, out);
  EXPECT_EQ(out[0], 3);
  EXPECT_EQ(out[1], 6);
  EXPECT_EQ(out[2], 15);
  EXPECT_EQ(out[3], 20);
  const int8_t qin[2] = {3 - 1, 5 - 1};  // zero point -1
  const int8_t qw[4] = {1, 2, 3, 4};
  int8_t qout[4];
  const OutputStage stage = OutputStage::Make(Rounding::kDouble, {1.0, 1.0, 1.0, 0.5}, {1, 1, 1, 0.5f}, 0, -128, 127);
  DepthwiseConvQuantized<int8_t, int32_t, int32_t, int8_t>(g, qin, -1, CenteredWeights(qw, 4, 0).data(), nullptr, stage, qout);
  EXPECT_EQ(qout[1], 6);
  EXPECT_EQ(qout[3], 10);  // per-channel multiplier 0.5
}

TEST(ConvTest, Int16ActivationsAccumulateIn64Bits) {
  // 16x8: one tap 32767 * 127 plus an int64 bias of 2^40 does not fit int32; the
  // 16-bit-multiplier rule then scales by 2^-20.
  ConvGeometry g{};
  g.batch = g.in_h = g.in_w = g.in_c = g.out_c = g.out_h = g.out_w = 1;
  g.filter_h = g.filter_w = g.stride_h = g.stride_w = g.dilation_h = g.dilation_w = g.depth_multiplier = 1;
  const int16_t in[1] = {32767};
  const int8_t w[1] = {127};
  const int64_t bias[1] = {int64_t{1} << 40};
  int16_t out[1];
  const OutputStage stage = OutputStage::Make(Rounding::kInt64, {std::ldexp(1.0, -30)}, {0}, 0, -32768, 32767);
  ConvQuantized<int16_t, int64_t, int64_t, int16_t>(g, in, 0, CenteredWeights(w, 1, 0).data(), bias, stage, out);
  // (2^40 + 4161409) * 2^-30 = 1024.0039 -> 1024.
  EXPECT_EQ(out[0], 1024);
}

}  // namespace
}  // namespace qaudit::kernels
