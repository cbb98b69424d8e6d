// Requantization rules against values worked out by hand (see each comment).
#include "kernels/requantize.h"

#include <gtest/gtest.h>

#include <random>

#include "kernels/output_stage.h"

namespace qaudit::kernels {
namespace {

TEST(QuantizeMultiplierTest, MatchesFrexpRepresentation) {
  // 0.5 = 0.5 * 2^0 -> mantissa 0.5 * 2^31; 1.0 = 0.5 * 2^1; 0.75 -> round(0.75 * 2^31).
  EXPECT_EQ(QuantizeMultiplier(0.5).multiplier, 1 << 30);
  EXPECT_EQ(QuantizeMultiplier(0.5).shift, 0);
  EXPECT_EQ(QuantizeMultiplier(1.0).multiplier, 1 << 30);
  EXPECT_EQ(QuantizeMultiplier(1.0).shift, 1);
  EXPECT_EQ(QuantizeMultiplier(0.75).multiplier, 1610612736);
  // A mantissa that rounds up to 2^31 is renormalised: (1 - 2^-33) -> 2^30 with shift 1.
  EXPECT_EQ(QuantizeMultiplier(1.0 - std::ldexp(1.0, -33)).multiplier, 1 << 30);
  EXPECT_EQ(QuantizeMultiplier(1.0 - std::ldexp(1.0, -33)).shift, 1);
  // Below 2^-32 the shift would pass -31: flushed to zero.
  EXPECT_EQ(QuantizeMultiplier(std::ldexp(1.0, -40)).multiplier, 0);
}

TEST(RoundingTest, TheThreeRulesDifferOnTies) {
  const QuantizedMultiplier quarter = QuantizeMultiplier(0.25);  // 2^30, shift -1
  // 6 * 0.25 = 1.5: every rule rounds up to 2, except fp32's half-to-even, which also gives 2.
  EXPECT_EQ(MultiplyByQuantizedMultiplierDoubleRounding(6, quarter), 2);
  EXPECT_EQ(MultiplyByQuantizedMultiplierSingleRounding(6, quarter), 2);
  EXPECT_EQ(RequantizeFp32(6, 0.25f, -1000, 1000), 2);
  // -6 * 0.25 = -1.5: SRDHM is exact (-3), RoundingDivideByPOT rounds away from zero: -2.
  // Single rounding adds 2^31 and shifts by 32: half up, -1. Half-to-even: -2.
  EXPECT_EQ(MultiplyByQuantizedMultiplierDoubleRounding(-6, quarter), -2);
  EXPECT_EQ(MultiplyByQuantizedMultiplierSingleRounding(-6, quarter), -1);
  EXPECT_EQ(RequantizeFp32(-6, 0.25f, -1000, 1000), -2);
  // 10 * 0.25 = 2.5: double and single rounding give 3, half-to-even 2.
  EXPECT_EQ(MultiplyByQuantizedMultiplierDoubleRounding(10, quarter), 3);
  EXPECT_EQ(MultiplyByQuantizedMultiplierSingleRounding(10, quarter), 3);
  EXPECT_EQ(RequantizeFp32(10, 0.25f, -1000, 1000), 2);
}

TEST(RoundingTest, SrdhmAloneRoundsNegativeTiesUp) {
  // With shift 0 only SaturatingRoundingDoublingHighMul rounds: -3 * 0.5 = -1.5 -> -1
  // ((-3 * 2^30 + 1 - 2^30) / 2^31 = -1.99.. truncated), as gemmlowp documents.
  EXPECT_EQ(MultiplyByQuantizedMultiplierDoubleRounding(-3, QuantizeMultiplier(0.5)), -1);
  EXPECT_EQ(MultiplyByQuantizedMultiplierDoubleRounding(3, QuantizeMultiplier(0.5)), 2);
}

TEST(RoundingTest, LargeMultipliersShiftLeftFirst) {
  // 3 * 4 = 12 exactly: 4 = 0.5 * 2^3.
  EXPECT_EQ(MultiplyByQuantizedMultiplierDoubleRounding(3, QuantizeMultiplier(4.0)), 12);
  EXPECT_EQ(MultiplyByQuantizedMultiplierSingleRounding(3, QuantizeMultiplier(4.0)), 12);
}

TEST(RoundingTest, Int64VariantUsesA16BitMultiplier) {
  // 0.75 -> 1610612736 -> reduced (1610612736 + 2^15) >> 16 = 24576; total shift 15.
  // 1000 * 24576 / 2^15 = 750 exactly; 1001 * 0.75 = 750.75 -> 751.
  EXPECT_EQ(MultiplyByQuantizedMultiplier64(1000, QuantizeMultiplier(0.75)), 750);
  EXPECT_EQ(MultiplyByQuantizedMultiplier64(1001, QuantizeMultiplier(0.75)), 751);
  // Beyond int32: 2^40 * 2^-10 = 2^30.
  EXPECT_EQ(MultiplyByQuantizedMultiplier64(int64_t{1} << 40, QuantizeMultiplier(std::ldexp(1.0, -10))), 1 << 30);
}

// qaudit's branch-free versions against gemmlowp's own, on random and extreme values.
TEST(RoundingTest, MatchesGemmlowpBitForBit) {
  std::mt19937_64 rng(7);
  const int32_t extremes[] = {0, 1, -1, 2, -2, 1 << 30, -(1 << 30), INT32_MAX, INT32_MIN, INT32_MIN + 1};
  for (int i = 0; i < 200000; ++i) {
    const int32_t a = i < 100 ? extremes[i % 10] : static_cast<int32_t>(rng());
    const int32_t b = i < 100 ? extremes[i / 10] : static_cast<int32_t>(rng());
    ASSERT_EQ(SaturatingRoundingDoublingHighMul(a, b), gemmlowp::SaturatingRoundingDoublingHighMul(a, b)) << a << " " << b;
    const int exponent = static_cast<int>(rng() % 32);
    ASSERT_EQ(RoundingDivideByPOT(a, exponent), gemmlowp::RoundingDivideByPOT(a, exponent)) << a << " >> " << exponent;
  }
}

TEST(OutputStageTest, AddsZeroPointAndClampsPerChannel) {
  // Channel 0: 0.5, channel 1: 2.0; zero point 10; clamp to [0, 20].
  OutputStage s = OutputStage::Make(Rounding::kDouble, {0.5, 2.0}, {0.5f, 2.0f}, 10, 0, 20);
  EXPECT_EQ(s.Apply<Rounding::kDouble>(4, 0), 12);    // 4 * 0.5 + 10
  EXPECT_EQ(s.Apply<Rounding::kDouble>(4, 1), 18);    // 4 * 2 + 10
  EXPECT_EQ(s.Apply<Rounding::kDouble>(100, 1), 20);  // clamped
  EXPECT_EQ(s.Apply<Rounding::kDouble>(-100, 0), 0);  // clamped
  EXPECT_EQ(s.Apply<Rounding::kFp32>(5, 0), 12);      // 2.5 -> 2 (even), + 10
}

}  // namespace
}  // namespace qaudit::kernels
