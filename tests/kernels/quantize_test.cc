// QUANTIZE / DEQUANTIZE kernels. Goldens are worked out by hand in the comments; those
// marked "oracle" were also measured with TFLite 2.12's interpreter (tools/tflite-oracle,
// builtin kernels and XNNPACK) on the same inputs.
#include "kernels/quantize.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

namespace qaudit::kernels {
namespace {

TEST(ApplyMultiplierTest, ThreeRulesDisagreeWhereTheFirstRoundingLandsOnATie) {
  // 68 * M with M = 1849098806 * 2^-32 (shift -1) is 29.2758 exactly.
  // Double: SRDHM gives round(68 * M / 2^31) = round(58.5517) = 59, then 59 / 2 = 29.5
  // rounds away from zero to 30. Single: round(29.2758) = 29. Int64: the multiplier is
  // first cut to 16 bits, (1849098806 + 2^15) >> 16 = 28215, and (68 * 28215 + 2^15) >> 16
  // = 29.
  const QuantizedMultiplier m{1849098806, -1};
  EXPECT_EQ(ApplyMultiplier(68, m, Rounding::kDouble), 30);
  EXPECT_EQ(ApplyMultiplier(68, m, Rounding::kSingle), 29);
  EXPECT_EQ(ApplyMultiplier(68, m, Rounding::kInt64), 29);
}

TEST(DequantizeTest, ScalesTheCentredValue) {
  // (q - (-1)) * 0.5: exact in float.
  const int8_t q[] = {-128, -1, 0, 127};
  float x[4];
  Dequantize<int8_t>(q, 4, 0.5f, -1, x);
  EXPECT_EQ(x[0], -63.5f);
  EXPECT_EQ(x[1], 0.0f);
  EXPECT_EQ(x[2], 0.5f);
  EXPECT_EQ(x[3], 64.0f);
}

TEST(DequantizeTest, RoundsTheExactProductOnce) {
  // (13 - 10) * 0.1f: the exact product 0.3000000044703484 rounded once to float.
  const uint8_t q[] = {13};
  float x;
  Dequantize<uint8_t>(q, 1, 0.1f, 10, &x);
  EXPECT_EQ(x, static_cast<float>(3.0 * static_cast<double>(0.1f)));
}

TEST(DequantizeTest, PerAxisUsesEachSlicesParameters) {
  // Shape [2, 3] quantized along dimension 1: column c uses scales[c], zero_points[c].
  const uint8_t q[] = {10, 20, 30, 11, 21, 31};
  const float scales[] = {1.0f, 0.5f, 0.25f};
  const int64_t zps[] = {10, 0, 30};
  float x[6];
  DequantizePerAxis<uint8_t>(q, 2, 3, 1, scales, zps, x);
  const float want[] = {0.0f, 10.0f, 0.0f, 1.0f, 10.5f, 0.25f};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(x[i], want[i]) << i;
}

TEST(HalfToFloatTest, DecodesNormalsSubnormalsAndSpecials) {
  EXPECT_EQ(HalfToFloat(0x3C00), 1.0f);
  EXPECT_EQ(HalfToFloat(0xC000), -2.0f);
  EXPECT_EQ(HalfToFloat(0x7BFF), 65504.0f);               // largest half
  EXPECT_EQ(HalfToFloat(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(HalfToFloat(0x03FF), std::ldexp(1023.0f, -24));
  EXPECT_EQ(HalfToFloat(0x7C00), std::numeric_limits<float>::infinity());
  EXPECT_TRUE(std::isnan(HalfToFloat(0x7E00)));
  EXPECT_TRUE(std::signbit(HalfToFloat(0x8000)));
}

TEST(QuantizeFloatTest, TiesRoundAwayFromZeroExceptInXnnpack) {
  // Scale 0.5: 1.25 -> 2.5, -1.25 -> -2.5, -0.25 -> -0.5, 0.75 -> 1.5. TFLite rounds
  // half away from zero (3, -3, -1, 2); XNNPACK to even (2, -2, 0, 2). Oracle: builtin
  // 3 -3 2 -1, XNNPACK 2 -2 2 0.
  const float x[] = {1.25f, -1.25f, 0.75f, -0.25f};
  int8_t q[4];
  QuantizeFloat<int8_t>(x, 4, 0.5f, 0, QuantizeRule::kDoubleDivide, q);
  EXPECT_EQ(std::vector<int>(q, q + 4), (std::vector<int>{3, -3, 2, -1}));
  QuantizeFloat<int8_t>(x, 4, 0.5f, 0, QuantizeRule::kFloatDivide, q);
  EXPECT_EQ(std::vector<int>(q, q + 4), (std::vector<int>{3, -3, 2, -1}));
  QuantizeFloat<int8_t>(x, 4, 0.5f, 0, QuantizeRule::kXnnpack, q);
  EXPECT_EQ(std::vector<int>(q, q + 4), (std::vector<int>{2, -2, 2, 0}));
}

TEST(QuantizeFloatTest, FloatAndDoubleDivisionDisagree) {
  // 0.25f / 0.1f is exactly 2.5 in float but 2.49999996 in double (0.1f is slightly
  // above 0.1); 0.349999994f / 0.1f is 3.5 in float, 3.4999999 in double. The reference
  // kernel divides in float (3, 4); TFLite's built-in kernel in double (2, 3; oracle).
  const float x[] = {0.25f, 0.349999994f};
  uint8_t q[2];
  QuantizeFloat<uint8_t>(x, 2, 0.1f, 0, QuantizeRule::kFloatDivide, q);
  EXPECT_EQ(q[0], 3);
  EXPECT_EQ(q[1], 4);
  QuantizeFloat<uint8_t>(x, 2, 0.1f, 0, QuantizeRule::kDoubleDivide, q);
  EXPECT_EQ(q[0], 2);
  EXPECT_EQ(q[1], 3);
}

TEST(QuantizeFloatTest, OutOfRangeValuesFollowEachRuntime) {
  // 100 / 0.5 = 200 saturates to 127 everywhere. TFLite casts to int32 before clamping,
  // and an out-of-range cast yields INT32_MIN, so +inf and NaN quantize to -128
  // (oracle). XNNPACK clamps first: +inf -> 127, NaN -> 127, -inf -> -128 (oracle).
  const float inf = std::numeric_limits<float>::infinity();
  const float x[] = {100.0f, inf, -inf, std::nanf("")};
  int8_t q[4];
  QuantizeFloat<int8_t>(x, 4, 0.5f, 0, QuantizeRule::kDoubleDivide, q);
  EXPECT_EQ(std::vector<int>(q, q + 4), (std::vector<int>{127, -128, -128, -128}));
  QuantizeFloat<int8_t>(x, 4, 0.5f, 0, QuantizeRule::kXnnpack, q);
  EXPECT_EQ(std::vector<int>(q, q + 4), (std::vector<int>{127, 127, -128, 127}));
}

TEST(QuantizeFloatTest, Int16SaturatesAtItsOwnRange) {
  // 1000 / 0.01 = 100000 -> 32767; -1 / 0.01 = -100.
  const float x[] = {1000.0f, -1.0f};
  int16_t q[2];
  QuantizeFloat<int16_t>(x, 2, 0.01f, 0, QuantizeRule::kDoubleDivide, q);
  EXPECT_EQ(q[0], 32767);
  EXPECT_EQ(q[1], -100);
}

TEST(RequantizeTest, DoubleRoundingIsVisibleAndXnnpackRoundsOnce) {
  // in scale 0.0324199274, zp -67 -> out scale 0.0753029138, zp 24; ratio 0.4305270.
  // q = 1: (1 + 67) * 0.4305 = 29.276 -> TFLite's double rounding gives 30 (see
  // ApplyMultiplierTest), + 24 = 54. XNNPACK: lrintf(256 * 0.4305270) = 110,
  // (68 * 110 + 128) >> 8 = 29, + 24 = 53. q = 6: 73 * 0.4305 = 31.43; TFLite 32 + 24 = 56,
  // XNNPACK (73 * 110 + 128) >> 8 = 31, + 24 = 55. q = -128: -61 * 0.4305 = -26.26 ->
  // -26 + 24 = -2 in XNNPACK; TFLite rounds -26.26 twice: SRDHM gives -52.52 -> -53,
  // halved -26.5 -> -27, + 24 = -3. Oracle: builtin 53 54 56 -3, XNNPACK 53 53 55 -2.
  const float in_scale = 0.0324199274f, out_scale = 0.0753029138f;
  const int8_t q[] = {0, 1, 6, -128};
  int8_t out[4];
  const QuantizedMultiplier m = QuantizeMultiplier(static_cast<double>(in_scale) / out_scale);
  Requantize<int8_t, int8_t>(q, 4, -67, m, Rounding::kDouble, 24, out);
  EXPECT_EQ(std::vector<int>(out, out + 4), (std::vector<int>{53, 54, 56, -3}));
  const XnnpackRequantParams xp = XnnpackRequantParams::Make(in_scale, -67, out_scale, 24);
  EXPECT_EQ(xp.multiplier, 110);
  RequantizeXnnpack<int8_t>(q, 4, xp, out);
  EXPECT_EQ(std::vector<int>(out, out + 4), (std::vector<int>{53, 53, 55, -2}));
}

TEST(RequantizeTest, Int8ToUint8WithEqualScalesShiftsBy128) {
  // Same scale, zero points -128 -> 0: the multiplier is exactly 1 (2^30 with shift 1),
  // so every value moves by 128, as TFLite's "xor 0x80" fast path does.
  const int8_t q[] = {-128, -1, 0, 127};
  uint8_t out[4];
  Requantize<int8_t, uint8_t>(q, 4, -128, QuantizeMultiplier(1.0), Rounding::kDouble, 0, out);
  EXPECT_EQ(std::vector<int>(out, out + 4), (std::vector<int>{0, 127, 128, 255}));
}

TEST(RequantizeTest, XnnpackRangeLimits) {
  // XNNPACK's convert takes ratios in [2^-8, 2^7] only (oracle: 1 / 0.0078 = 128.2 stays
  // on TFLite's kernel, 1 / 0.0079 = 126.6 is delegated).
  EXPECT_FALSE(XnnpackRequantParams::Supported(1.0f, 0.0078f));
  EXPECT_TRUE(XnnpackRequantParams::Supported(1.0f, 0.0079f));
  EXPECT_FALSE(XnnpackRequantParams::Supported(0.001f, 0.3f));
  EXPECT_TRUE(XnnpackRequantParams::Supported(0.001f, 0.25f));
}

TEST(RequantizeTest, RandomScalesStayWithinOneStepOfExact) {
  // Seeded sweep: every rule lands on floor or ceil of the exact rescaled value (double
  // rounding can miss the nearest by one, never by more).
  std::mt19937 rng(20240611);
  std::uniform_real_distribution<float> log_scale(-6.0f, 1.0f);
  for (int k = 0; k < 200; ++k) {
    const float in_scale = std::exp(log_scale(rng)), out_scale = std::exp(log_scale(rng));
    const double ratio = static_cast<double>(in_scale) / out_scale;
    if (ratio > 100) continue;
    const QuantizedMultiplier m = QuantizeMultiplier(ratio);
    for (int x = -255; x <= 255; x += 7) {
      const double exact = x * ratio;
      for (Rounding r : {Rounding::kDouble, Rounding::kSingle}) {
        const int32_t got = ApplyMultiplier(x, m, r);
        EXPECT_GE(got, std::floor(exact) - 1e-9) << x << " " << ratio;
        EXPECT_LE(got, std::ceil(exact) + 1e-9) << x << " " << ratio;
      }
    }
  }
}

}  // namespace
}  // namespace qaudit::kernels
