// Activation kernels. Goldens are worked out by hand in the comments; those marked
// "oracle" were also measured with TFLite 2.12's interpreter (tools/tflite-oracle).
#include "kernels/activations.h"

#include <gtest/gtest.h>

#include "support/kernel_test_util.h"

#include <cmath>
#include <vector>

namespace qaudit::kernels {
namespace {

using ::qaudit::testing::Ints;

TEST(QuantizedReluTest, RescalesThenClampsToTheActivationBounds) {
  // in scale 0.5 -> out scale 0.25 (multiplier 2), out zero point -10. RELU6's bounds are
  // -10 + round(0 / 0.25) = -10 and -10 + round(6 / 0.25) = 14.
  QuantizedReluParams p;
  p.output_zero_point = -10;
  p.multiplier = QuantizeMultiplier(2.0);
  p.act_min = -10;
  p.act_max = 14;
  const int8_t x[] = {-5, 0, 3, 10, 20};
  int8_t y[5];
  QuantizedRelu<int8_t>(p, Rounding::kDouble, x, 5, y);
  // 2x - 10: -20 -> -10 (clamped), -10, -4, 10, 30 -> 14 (clamped).
  EXPECT_EQ(Ints(y, 5), (std::vector<int>{-10, -10, -4, 10, 14}));
}

TEST(QuantizedLeakyReluTest, TfliteAndXnnpackRoundDifferently) {
  // int8, scales 0.05 -> 0.05, alpha 0.3: the negative-side ratio is 0.3000000119 in
  // float. -128 * 0.3 = -38.4. TFLite's double rounding: SRDHM gives round(-76.80) = -77,
  // halved -38.5 rounds away to -39. XNNPACK: lrintf(-256 * 0.3) = -77 and
  // (0x80 + 128 * -77) >> 8 = floor(-38.0) = -38. -5 * 0.3 = -1.5: TFLite -3 -> -1.5 ->
  // -2; XNNPACK (128 - 385) >> 8 = -2. Oracle: builtin -39 -8 -5 -2 -1 0 7 127,
  // XNNPACK -38 -8 -5 -2 -1 0 7 127.
  const float s = 0.05f, alpha = 0.3f;
  const int8_t x[] = {-128, -25, -15, -5, -3, 0, 7, 127};
  int8_t y[8];
  QuantizedLeakyReluParams p;
  p.identity = QuantizeMultiplier(s / s);
  p.alpha = QuantizeMultiplier(s * alpha / s);
  QuantizedLeakyRelu<int8_t>(p, Rounding::kDouble, x, 8, y);
  EXPECT_EQ(Ints(y, 8), (std::vector<int>{-39, -8, -5, -2, -1, 0, 7, 127}));
  XnnpackLeakyRelu<int8_t>(XnnpackLeakyReluParams::Make(s, 0, alpha, s, 0), x, 8, y);
  EXPECT_EQ(Ints(y, 8), (std::vector<int>{-38, -8, -5, -2, -1, 0, 7, 127}));
}

TEST(QuantizedLeakyReluTest, XnnpackRefusesRatiosOutsideItsLimits) {
  // Oracle: alpha 0.001 (|0.001| < 2^-8), alpha 0 and in/out = 166 stay on TFLite's
  // kernel; alpha -0.5 and 50 are delegated.
  EXPECT_FALSE(XnnpackLeakyReluParams::Supported(0.05f, 0.001f, 0.05f));
  EXPECT_FALSE(XnnpackLeakyReluParams::Supported(0.05f, 0.0f, 0.05f));
  EXPECT_FALSE(XnnpackLeakyReluParams::Supported(0.5f, 0.3f, 0.003f));
  EXPECT_TRUE(XnnpackLeakyReluParams::Supported(0.05f, -0.5f, 0.05f));
  EXPECT_TRUE(XnnpackLeakyReluParams::Supported(0.05f, 50.0f, 0.05f));
}

TEST(QuantizedHardSwishTest, MatchesTheRealFunctionOnASixteenthGrid) {
  // in and out scale 1/16, zero points 0: x * relu6(x + 3) / 6 for x = -8, -3, -1.5,
  // -0.5, 0, 0.5, 1.5, 3 is 0, 0, -0.375, -0.2083, 0, 0.2917, 1.125, 3, i.e. 0, 0, -6,
  // -3.33, 0, 4.67, 18, 48 sixteenths; the fixed point rounds to the nearest. Oracle:
  // 0 0 -6 -3 0 5 18 48.
  const HardSwishParams p = MakeHardSwishParams(1.0f / 16, 0, 1.0f / 16, 0);
  EXPECT_LE(p.output_exponent, 0);
  const int8_t x[] = {-128, -48, -24, -8, 0, 8, 24, 48};
  int8_t y[8];
  QuantizedHardSwish<int8_t>(p, x, 8, y);
  EXPECT_EQ(Ints(y, 8), (std::vector<int>{0, 0, -6, -3, 0, 5, 18, 48}));
}

TEST(QuantizedHardSwishTest, DownscalesTheMultiplierWithRounding) {
  // Q31 -> Q15: (m + 2^15) >> 16, capped at INT16_MAX near 2^31.
  EXPECT_EQ(DownscaleMultiplierToInt16(1 << 30), 1 << 14);
  EXPECT_EQ(DownscaleMultiplierToInt16((1 << 30) + (1 << 15)), (1 << 14) + 1);
  EXPECT_EQ(DownscaleMultiplierToInt16((1 << 30) + (1 << 15) - 1), 1 << 14);
  EXPECT_EQ(DownscaleMultiplierToInt16(2147483647), 32767);
}

TEST(LutTest, TfliteLogisticTable) {
  // int8, scale 1/16: sigmoid(0) * 256 = 128 -> 0; sigmoid(1) * 256 = 187.15 -> 59;
  // sigmoid(-8) * 256 = 0.086 -> -128; sigmoid(7.9375) * 256 = 255.9 -> 256 -> 127.
  const Lut8 lut = MakeTfliteLut<int8_t>(1.0f / 16, 0, 1.0f / 256, -128, TfliteSigmoid);
  const int8_t x[] = {0, 16, -128, 127};
  int8_t y[4];
  ApplyLut8<int8_t>(lut, x, 4, y);
  EXPECT_EQ(Ints(y, 4), (std::vector<int>{0, 59, -128, 127}));
}

TEST(LutTest, TfliteTanhTableForUint8) {
  // uint8, scale 1/32, zero point 128 -> scale 1/128, zero point 128: x = 0 -> 128;
  // x = 1 -> tanh(1) * 128 = 97.48 -> 225; x = -4 -> -0.99933 * 128 = -127.9 -> 0.
  const Lut8 lut = MakeTfliteLut<uint8_t>(1.0f / 32, 128, 1.0f / 128, 128, TfliteTanh);
  const uint8_t x[] = {128, 160, 0};
  uint8_t y[3];
  ApplyLut8<uint8_t>(lut, x, 3, y);
  EXPECT_EQ(Ints(y, 3), (std::vector<int>{128, 225, 0}));
}

TEST(LutTest, XnnpackSigmoidTableRoundsTiesToEven) {
  // Input scale 0.00910680089, zero point -110, input 87: the scaled sigmoid is 219.5
  // within float rounding, and the two tables land on either side. Oracle: builtin
  // 91 (219 - 128), XNNPACK 92 (220 - 128). Elsewhere on this grid they agree.
  const float s = 0.00910680089f;
  const Lut8 t = MakeTfliteLut<int8_t>(s, -110, 1.0f / 256, -128, TfliteSigmoid);
  const Lut8 x = MakeXnnpackLut<int8_t>(s, -110, 1.0f / 256, -128, XnnpackSigmoid);
  EXPECT_EQ(static_cast<int8_t>(t[87]), 91);
  EXPECT_EQ(static_cast<int8_t>(x[87]), 92);
  int differing = 0;
  for (int i = 0; i < 256; ++i) differing += t[i] != x[i];
  EXPECT_EQ(differing, 1);
}

TEST(FixedPointActivationTest, ReferenceLogisticAndTanh) {
  // Scale 1/16: the Q31 multiplier of 2^-4 * 2^27 is 2^30 with shift 24, so the radius is
  // floor(15 * 2^27 / 2^24) = 120. Logistic: 0 -> 128/256 -> 0; 1.0 -> 187.15 -> 59;
  // 119/16 -> 255.85 -> 256 -> 127 (saturated); beyond the radius -> -128 / 127.
  const FixedPointActivationParams p = MakeFixedPointActivationParams(1.0f / 16, 0);
  EXPECT_EQ(p.input_range_radius, 120);
  const int8_t x[] = {0, 16, 119, 120, -120};
  int8_t y[5];
  FixedPointActivation<int8_t, false>(p, x, 5, y);
  EXPECT_EQ(Ints(y, 5), (std::vector<int>{0, 59, 127, 127, -128}));
  // Tanh: 0 -> 0; tanh(1) * 128 = 97.48 -> 97; tanh(-1) -> -97.
  const int8_t t[] = {0, 16, -16};
  FixedPointActivation<int8_t, true>(p, t, 3, y);
  EXPECT_EQ(Ints(y, 3), (std::vector<int>{0, 97, -97}));
}

TEST(Int16ActivationTest, PowerOfTwoScalesUseTheFixedPointPath) {
  // 2^-12: 15 - 3 - 12 = 0 left shifts, the POT case for both functions. 2^-11 is POT
  // for TANH (shift 1) but not for LOGISTIC, which then uses 2^-11 * 4096 * 3 = 6 doubled
  // until it exceeds 32767 / 2: 24576 with shift 12.
  Int16ActivationParams p = MakeInt16ActivationParams(1.0f / 4096, 1);
  EXPECT_EQ(p.multiplier, 0);
  EXPECT_EQ(p.shift, 0);
  p = MakeInt16ActivationParams(1.0f / 2048, 2);
  EXPECT_EQ(p.multiplier, 0);
  EXPECT_EQ(p.shift, 1);
  p = MakeInt16ActivationParams(1.0f / 2048, 1);
  EXPECT_EQ(p.multiplier, 24576);
  EXPECT_EQ(p.shift, 12);
}

TEST(Int16ActivationTest, FixedPointMatchesTflite) {
  // Oracle at scale 2^-12 (inputs 0, 1, -1, 3, 7.9998, -8): logistic 16384 23952 8815
  // 31216 32756 11; tanh 0 24964 -24964 32612 32767 -32767 (Q0.15; e.g. sigmoid(1) =
  // 0.7311 = 23955/32768 to gemmlowp's 16-bit accuracy).
  const int16_t x[] = {0, 4096, -4096, 12288, 32767, -32768};
  int16_t y[6];
  Int16ActivationFixedPoint<false>(0, x, 6, y);
  EXPECT_EQ(Ints(y, 6), (std::vector<int>{16384, 23952, 8815, 31216, 32756, 11}));
  Int16ActivationFixedPoint<true>(0, x, 6, y);
  EXPECT_EQ(Ints(y, 6), (std::vector<int>{0, 24964, -24964, 32612, 32767, -32767}));
}

TEST(Int16ActivationTest, TableInterpolatesAndSaturates) {
  // The reference path reads the sigmoid table (step 1/24) at 3x the Q3.12 input with 9
  // fraction bits. x = 0: ((32768 << 9) + 2^9) >> 10 = 16384. x = 32767 at scale 2^-12:
  // 3 * 32767 = 98301 = entry 191 + 509/512, table[191..192] = 65513, 65514, so
  // ((65513 << 9) + 509 + 2^9) >> 10 = 32757, and the mirror for -32767 is
  // (2^25 - ((65513 << 9) + 509) + 2^9 - 1) >> 10 = 11 (cf. the oracle's 32756 and 11 on
  // the fixed-point path).
  const Int16ActivationParams p = MakeInt16ActivationParams(1.0f / 4096, 1);
  const int16_t x[] = {0, 32767, -32767};
  int16_t y[3];
  Int16ActivationLut<false>(p, x, 3, y);
  EXPECT_EQ(Ints(y, 3), (std::vector<int>{16384, 32757, 11}));
  // At scale 2^-11 (multiplier 24576, shift 12: six table steps per input step) 32767
  // reaches past entry 255 and saturates to (0x7FFF << 10 + 2^9) >> 10 = 32767 and,
  // mirrored, (2^25 - (0x7FFF << 10) + 2^9 - 1) >> 10 = 1.
  const Int16ActivationParams q = MakeInt16ActivationParams(1.0f / 2048, 1);
  Int16ActivationLut<false>(q, x, 3, y);
  EXPECT_EQ(Ints(y, 3), (std::vector<int>{16384, 32767, 1}));
  // Tanh at 2^-12: 0 -> 0.
  Int16ActivationLut<true>(p, x, 1, y);
  EXPECT_EQ(y[0], 0);
}

TEST(FloatActivationTest, HardSwishAssociationOrders) {
  // x = -2.01789474: relu6(x + 3) = 0.98210526. Oracle: the builtin kernel gives
  // -0.33029753 ((x * r) * (1/6)); dividing by 6 gives -0.3302975.
  const float x = -2.01789474f;
  float y;
  HardSwishFloat(&x, 1, HardSwishOrder::kTimesSixthLast, &y);
  EXPECT_EQ(y, -0.33029753f);
  HardSwishFloat(&x, 1, HardSwishOrder::kDivide, &y);
  EXPECT_EQ(y, -0.3302975f);
  const float three = 3.0f;
  for (HardSwishOrder o :
       {HardSwishOrder::kDivide, HardSwishOrder::kTimesSixthLast, HardSwishOrder::kTimesSixthFirst}) {
    HardSwishFloat(&three, 1, o, &y);
    EXPECT_EQ(y, 3.0f);
  }
}

TEST(FloatActivationTest, EigenTanhDiffersFromLibm) {
  // Oracle: TFLite's builtin TANH at 3.21587849 gives 0.99678582; std::tanh 0.996785939.
  EXPECT_EQ(EigenTanh(3.21587849f), 0.99678582f);
  EXPECT_EQ(EigenTanh(100.0f), 1.0f);  // clamped at 7.9053, where the quotient is 1
  EXPECT_EQ(EigenTanh(1e-5f), 1e-5f);  // below 4e-4 the input itself
}

TEST(FloatActivationTest, LeakyReluSelectsRatherThanMaxes) {
  // alpha 2 > 1: max(x, 2x) would pick 2x for positives.
  const float x[] = {-1.0f, 0.0f, 3.0f};
  float y[3];
  LeakyReluFloat(x, 3, 2.0f, y);
  EXPECT_EQ(y[0], -2.0f);
  EXPECT_EQ(y[1], 0.0f);
  EXPECT_EQ(y[2], 3.0f);
}

}  // namespace
}  // namespace qaudit::kernels
