// SOFTMAX kernels. Goldens are worked out by hand in the comments; those marked "oracle"
// were also measured with TFLite 2.12's interpreter (tools/tflite-oracle).
#include "kernels/softmax.h"

#include <gtest/gtest.h>

#include "support/kernel_test_util.h"

#include <cmath>
#include <vector>

namespace qaudit::kernels {
namespace {

using ::qaudit::testing::Ints;

TEST(SoftmaxFloatTest, NormalisesEachRow) {
  // Row 0: e^0 : e^-ln2 = 1 : 0.5 -> 1/3, 2/3 (after subtracting the max ln2). Row 1:
  // equal logits, beta 2 -> 1/2 each.
  const float x[] = {0.0f, std::log(2.0f), 5.0f, 5.0f};
  float y[4];
  SoftmaxFloat({2, 2}, x, 1.0f, y);
  EXPECT_FLOAT_EQ(y[0], 1.0f / 3);
  EXPECT_FLOAT_EQ(y[1], 2.0f / 3);
  SoftmaxFloat({1, 2}, x + 2, 2.0f, y);
  EXPECT_EQ(y[0], 0.5f);
  EXPECT_EQ(y[1], 0.5f);
}

TEST(SoftmaxTableTest, RoundsProbabilitiesOnTheOutputGrid) {
  // Input scale ln 2: a row {0, -1} has weights 1 and 1/2, probabilities 2/3 and 1/3,
  // i.e. 170.67 and 85.33 in 1/256 units -> 171 and 85, minus 128 for int8.
  const SoftmaxTable table = MakeSoftmaxTable(std::log(2.0f), 1.0f);
  EXPECT_EQ(table[255], 1.0f);
  const int8_t x[] = {0, -1};
  int8_t y[2];
  SoftmaxTableLookup<int8_t, int8_t>({1, 2}, table, 1.0f / 256, -128, x, y);
  EXPECT_EQ(Ints(y, 2), (std::vector<int>{43, -43}));
  // int16 output on a 1/65536 grid with zero point -32768: 43690.67 -> 43691 - 32768 and
  // 21845.33 -> 21845 - 32768.
  int16_t z[2];
  SoftmaxTableLookup<int8_t, int16_t>({1, 2}, table, 1.0f / 65536, -32768, x, z);
  EXPECT_EQ(Ints(z, 2), (std::vector<int>{10923, -10923}));
}

TEST(SoftmaxTableTest, Uint8OutputIgnoresTheZeroPoint) {
  // TFLite's built-in uint8 path adds 0.5 and truncates without adding the output zero
  // point (oracle, uint8 outputs with zero points 1..20): 171 and 85, not 181 and 95.
  const SoftmaxTable table = MakeSoftmaxTable(std::log(2.0f), 1.0f);
  const uint8_t x[] = {5, 4};
  uint8_t y[2];
  SoftmaxTableLookup<uint8_t, uint8_t>({1, 2}, table, 1.0f / 256, 10, x, y);
  EXPECT_EQ(Ints(y, 2), (std::vector<int>{171, 85}));
}

TEST(SoftmaxReferenceTest, UniformRowsAndTheCutOff) {
  // Input scale 1, beta 1: the real multiplier 2^26 is (2^30, shift 27), and the radius
  // floor(31 * 2^26 / 2^27) = 15, so differences below -15 contribute exactly 0.
  const SoftmaxReferenceParams p = MakeSoftmaxReferenceParams(1.0, 1.0, Rounding::kDouble);
  EXPECT_EQ(p.input_multiplier.shift, 27);
  EXPECT_EQ(p.diff_min, -15);
  // Four equal values: the Q12.19 sum is 4 * 2^19, its reciprocal 1/4 (in Q0.31 with 2
  // bits over unit), so each output is 2^31 * 2^31 / 2^31 / 2^25 = 64 -> 64 - 128.
  const int8_t x[] = {7, 7, 7, 7};
  int8_t y[4];
  SoftmaxReference<int8_t, int8_t>({1, 4}, p, Rounding::kDouble, x, y);
  EXPECT_EQ(Ints(y, 4), (std::vector<int>{-64, -64, -64, -64}));
  // A row {0, -16}: -16 is below the cut-off, so the max takes everything: 256 -> 127.
  const int8_t z[] = {0, -16};
  SoftmaxReference<int8_t, int8_t>({1, 2}, p, Rounding::kDouble, z, y);
  EXPECT_EQ(Ints(y, 2), (std::vector<int>{127, -128}));
}

TEST(SoftmaxInt16Test, MatchesTflite) {
  // Input scale 0.001. Row 1 differences from the max 300 are -0.3, -1.3, 0, -33.1:
  // e^d / sum = 0.3680, 0.1354, 0.4967, 0 = 12058, 4435, 16275, 0 in Q15; the tables'
  // interpolation gives 12057 4436 16275 1 (oracle). Equal values: 32768 / 4 = 8192.
  const SoftmaxInt16Params p = MakeSoftmaxInt16Params(0.001f, 1.0f);
  const int16_t x[] = {0, 0, 0, 0, 0, -1000, 300, -32768};
  int16_t y[8];
  SoftmaxInt16({2, 4}, p, Rounding::kDouble, x, y);
  EXPECT_EQ(Ints(y, 8), (std::vector<int>{8192, 8192, 8192, 8192, 12057, 4436, 16275, 1}));
}

TEST(SoftmaxInt16Test, TablesSpanTheirRanges) {
  // exp on [-10, 0] in Q15 over 512 steps: the last entry is exp(0) * 32768, capped at
  // 32767. The first sample exp(-10) * 32768 = 1.49 rounds to 1, but is biased by half
  // the interpolation error at the interval's midpoint: the line through 1 and
  // exp(-9.98) * 32768 = 1.52 gives round(1.26) = 1 there, the function round(1.50) = 2,
  // so the bias round(-1 / 2) = -1 makes the entry 2. 1 / (1 + x) on [0, 1]: 32767 and
  // 16384 at the ends.
  const SoftmaxInt16Params p = MakeSoftmaxInt16Params(0.001f, 1.0f);
  EXPECT_EQ(p.exp_lut[512], 32767);
  EXPECT_EQ(p.exp_lut[0], 2);
  EXPECT_EQ(p.one_over_one_plus_x_lut[0], 32767);
  EXPECT_EQ(p.one_over_one_plus_x_lut[512], 16384);
}

TEST(SoftmaxInt16Test, LookupInterpolatesWithSevenFractionBits) {
  // Index 256 + (v >> 7), offset v & 127: for v = 64 the value halfway between entries
  // 256 and 257 (rounded up from .5).
  Int16Lut lut{};
  lut[256] = 100;
  lut[257] = 103;
  EXPECT_EQ(Int16LutLookup(0, lut), 100);
  EXPECT_EQ(Int16LutLookup(64, lut), 102);  // 100 + (3 * 64 + 64) >> 7 = 100 + 2
  EXPECT_EQ(Int16LutLookup(127, lut), 103);
}

}  // namespace
}  // namespace qaudit::kernels
