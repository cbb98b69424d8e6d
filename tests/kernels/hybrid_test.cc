// Dynamic-range ("hybrid") kernels on small cases worked out by hand. The integers
// (quantized inputs, zero points, accumulators) are checked exactly; the float results are
// checked against the same formula written out, and against the real value they
// approximate.
#include "kernels/hybrid.h"

#include <gtest/gtest.h>

namespace qaudit::kernels {
namespace {

TEST(HybridTest, SymmetricRowRoundsHalfAwayFromZero) {
  // max|x| = 1: q = round(x * 127); -0.5 * 127 = -63.5 -> -64, 0.25 * 127 = 31.75 -> 32.
  const float x[4] = {1.0f, -0.5f, 0.25f, 0.0f};
  int16_t q[4];
  const RowQuantization r = QuantizeRowSymmetric(x, 4, q);
  EXPECT_EQ(r.scale, 1.0f / 127.0f);
  EXPECT_EQ(r.zero_point, 0);
  EXPECT_EQ(q[0], 127);
  EXPECT_EQ(q[1], -64);
  EXPECT_EQ(q[2], 32);
  EXPECT_EQ(q[3], 0);
}

TEST(HybridTest, AllZeroRowsGetScaleOne) {
  const float x[3] = {0, 0, 0};
  int16_t q[3] = {5, 5, 5};
  for (bool asymmetric : {false, true}) {
    const RowQuantization r = asymmetric ? QuantizeRowAsymmetric(x, 3, q) : QuantizeRowSymmetric(x, 3, q);
    EXPECT_EQ(r.scale, 1.0f);
    EXPECT_EQ(r.zero_point, 0);
    EXPECT_EQ(q[0], 0);
    EXPECT_EQ(q[2], 0);
  }
}

TEST(HybridTest, AsymmetricRowTakesTheZeroPointFromTheCloserEnd) {
  // Range [-1, 3]: s = 4/255. From the min: -128 + 1/s = -64.25 (error 128 + 63.75); from
  // the max: 127 - 3/s = -64.25 (error 127 + 191.25). Both round to -64. q = round(-64 + x/s):
  // -1 -> -127.75 -> -128, 0 -> -64, 3 -> 127.25 -> 127.
  const float x[3] = {-1.0f, 0.0f, 3.0f};
  int16_t q[3];
  const RowQuantization r = QuantizeRowAsymmetric(x, 3, q);
  EXPECT_EQ(r.scale, static_cast<float>(4.0 / 255.0));
  EXPECT_EQ(r.zero_point, -64);
  EXPECT_EQ(q[0], -128);
  EXPECT_EQ(q[1], -64);
  EXPECT_EQ(q[2], 127);
}

TEST(HybridTest, AsymmetricRangeAlwaysIncludesZero) {
  // All positive, [0, 2.55] after widening: zero point -128, the largest value -> 127.
  const float x[2] = {1.0f, 2.55f};
  int16_t q[2];
  const RowQuantization r = QuantizeRowAsymmetric(x, 2, q);
  EXPECT_EQ(r.zero_point, -128);
  EXPECT_EQ(q[1], 127);
  EXPECT_EQ(q[0], -28);  // -128 + 1 / 0.01 = -28
}

TEST(HybridTest, FullyConnectedSymmetric) {
  // x = [1, -0.5] -> q = [127, -64], s_in = 1/127. w = [[2, 4], [-1, 0]], s_w = 0.5.
  // dot = [127*2 - 64*4, -127] = [-2, -127]; y = bias + dot * (s_in * s_w).
  const float x[2] = {1.0f, -0.5f};
  const std::vector<int16_t> w = {2, 4, -1, 0};
  const float bias[2] = {0.25f, -1.0f};
  HybridFullyConnectedParams p;
  p.shape = {1, 2, 2};
  p.weight_scales = {0.5f};
  p.act_min = -INFINITY, p.act_max = INFINITY;
  float y[2];
  HybridFullyConnected(p, x, w.data(), bias, y);
  const float row_scale = (1.0f / 127.0f) * 0.5f;
  EXPECT_EQ(y[0], 0.25f + -2.0f * row_scale);
  EXPECT_EQ(y[1], -1.0f + -127.0f * row_scale);
  EXPECT_NEAR(y[0], 0.25f + 1 * 1.0f + -0.5f * 2.0f, 0.01f);  // real weights [1, 2], [-0.5, 0]
  EXPECT_NEAR(y[1], -1.0f - 0.5f, 0.01f);
}

TEST(HybridTest, FullyConnectedAsymmetricRemovesTheZeroPoint) {
  // x = [-1, 0, 3] -> q = [-128, -64, 127], z = -64, s = 4/255. w = [1, 1, 1]: dot = -65,
  // sum(w) = 3, dot - 3 * z = 127; y = 127 * s = 1.99 (the real sum is 2).
  const float x[3] = {-1.0f, 0.0f, 3.0f};
  const std::vector<int16_t> w = {1, 1, 1};
  HybridFullyConnectedParams p;
  p.shape = {1, 3, 1};
  p.asymmetric_inputs = true;
  p.weight_scales = {1.0f};
  p.row_sums = WeightRowSums(w.data(), 1, 3);
  p.act_min = -INFINITY, p.act_max = INFINITY;
  float y[1];
  HybridFullyConnected(p, x, w.data(), nullptr, y);
  EXPECT_EQ(p.row_sums[0], 3);
  EXPECT_EQ(y[0], 127.0f * (static_cast<float>(4.0 / 255.0) * 1.0f));
}

TEST(HybridTest, FullyConnectedActivationAndZeroInput) {
  // Zero input: TFLite skips the products and outputs act(bias).
  const float zeros[2] = {0, 0};
  const std::vector<int16_t> w = {100, 100, -100, -100};
  const float bias[2] = {7.5f, -3.0f};
  HybridFullyConnectedParams p;
  p.shape = {1, 2, 2};
  p.weight_scales = {1.0f};
  p.act_min = 0.0f, p.act_max = 6.0f;  // RELU6
  float y[2];
  HybridFullyConnected(p, zeros, w.data(), bias, y);
  EXPECT_EQ(y[0], 6.0f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_FALSE(std::signbit(y[1]));
}

ConvGeometry Geometry(int in_h, int in_w, int in_c, int filter_h, int filter_w, int out_c) {
  ConvGeometry g{};
  g.batch = 1, g.in_h = in_h, g.in_w = in_w, g.in_c = in_c;
  g.filter_h = filter_h, g.filter_w = filter_w, g.out_c = out_c;
  g.stride_h = g.stride_w = g.dilation_h = g.dilation_w = 1;
  g.depth_multiplier = 1;
  g.out_h = in_h, g.out_w = in_w;
  return g;
}

TEST(HybridTest, ConvPerChannelPaddingContributesNothing) {
  // One row [-1, 3] (q = [-128, 127], z = -64), SAME 1x3 filter of ones: each output sees one
  // padding tap and both pixels; centred, (-128 + 64) + (127 + 64) = 127 at both outputs.
  // Were the padding quantized as 0 instead of z, the first tap would add 64.
  ConvGeometry g = Geometry(1, 2, 1, 1, 3, 1);
  g.pad_left = 1;
  const float x[2] = {-1.0f, 3.0f};
  const std::vector<int16_t> w = {1, 1, 1};
  const float bias[1] = {0.5f};
  HybridConvParams p;
  p.g = g;
  p.kernel = HybridConvKernel::kConvPerChannel;
  p.weight_scales = {1.0f};
  p.act_min = -3e38f, p.act_max = 3e38f;
  float y[2];
  HybridConv(p, x, w.data(), bias, y);
  const float s = static_cast<float>(4.0 / 255.0);
  EXPECT_EQ(y[0], 127.0f * (1.0f * s) + 0.5f);
  EXPECT_EQ(y[1], y[0]);
  EXPECT_NEAR(y[0], 2.5f, 0.01f);
}

TEST(HybridTest, ConvPerTensorIsSymmetric) {
  // 1x1 conv, two output channels: x = [1, -0.5] -> q = [127, -64]; w rows [1, 1], [2, 0].
  const ConvGeometry g = Geometry(1, 1, 2, 1, 1, 2);
  const float x[2] = {1.0f, -0.5f};
  const std::vector<int16_t> w = {1, 1, 2, 0};
  const float bias[2] = {0.0f, 1.0f};
  HybridConvParams p;
  p.g = g;
  p.kernel = HybridConvKernel::kConvPerTensor;
  p.weight_scales = {0.25f};
  p.act_min = -1.0f, p.act_max = 1.0f;  // RELU_N1_TO_1
  float y[2];
  HybridConv(p, x, w.data(), bias, y);
  const float s = (1.0f / 127.0f) * 0.25f;
  EXPECT_EQ(y[0], 63.0f * s);                              // 127 - 64
  EXPECT_EQ(y[1], std::min(254.0f * s + 1.0f, 1.0f));      // 1.5 clamps to 1
  EXPECT_EQ(y[1], 1.0f);
}

TEST(HybridTest, DepthwiseMultiplierReadsItsInputChannel) {
  // One pixel x = [3] (range [0, 3]: z = -128, q = 127), depth multiplier 2, weights [2, -1]
  // with scales [0.5, 1]: centred input 255, acc = [510, -255].
  ConvGeometry g = Geometry(1, 1, 1, 1, 1, 2);
  g.depth_multiplier = 2;
  const float x[1] = {3.0f};
  const std::vector<int16_t> w = {2, -1};
  const float bias[2] = {0.0f, 0.0f};
  HybridConvParams p;
  p.g = g;
  p.kernel = HybridConvKernel::kDepthwise;
  p.weight_scales = {0.5f, 1.0f};
  p.act_min = -3e38f, p.act_max = 3e38f;
  float y[2];
  HybridDepthwiseConv(p, x, w.data(), bias, y);
  const float s = static_cast<float>(3.0 / 255.0);
  EXPECT_EQ(y[0], 510.0f * s * 0.5f + 0.0f);
  EXPECT_EQ(y[1], -255.0f * s * 1.0f + 0.0f);
  EXPECT_NEAR(y[0], 3.0f, 1e-5f);
  EXPECT_NEAR(y[1], -3.0f, 1e-5f);
}

TEST(HybridTest, KernelsDifferOnlyInTheOrderOfTheScaleProducts) {
  // (a * s_in) * s_w and a * (s_w * s_in): for these values they round differently, which
  // is why the optimized and reference depthwise kernels are separate.
  const int32_t acc = 12345;
  const float s_in = 0.0037f, s_w = 0.011f;
  const float left = HybridConvOutput(HybridConvKernel::kDepthwise, acc, s_in, s_w, nullptr, 0, -3e38f, 3e38f);
  const float right =
      HybridConvOutput(HybridConvKernel::kDepthwiseReference, acc, s_in, s_w, nullptr, 0, -3e38f, 3e38f);
  EXPECT_EQ(left, static_cast<float>(acc) * s_in * s_w);
  EXPECT_EQ(right, static_cast<float>(acc) * (s_w * s_in));
  EXPECT_NE(left, right);
}

}  // namespace
}  // namespace qaudit::kernels
