// DepthwiseConvFloatAvx512 against DepthwiseConvFloat, bit for bit (any NaN for a NaN), on
// seeded random geometries: strides, dilations, SAME and VALID padding (and XNNPACK's
// wrapped padding, where no tap is inside), depth multipliers, channel counts around the
// vector width, no bias, every fused range; inputs with NaN, infinities, signed zeros and
// subnormals.
#include "kernels/depthwise_avx512.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/conv.h"
#include "support/fixtures.h"

namespace qaudit::kernels {
namespace {

int Uniform(std::mt19937& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

bool RandomGeometry(std::mt19937& rng, ConvGeometry* g) {
  *g = ConvGeometry{};
  g->batch = Uniform(rng, 1, 2), g->in_h = Uniform(rng, 1, 10), g->in_w = Uniform(rng, 1, 10);
  const int multipliers[] = {1, 1, 1, 2, 3, 4, 7};
  g->depth_multiplier = multipliers[Uniform(rng, 0, 6)];
  // Whole vectors, one channel either side of them, and anything up to 200 channels.
  const int around[] = {15, 16, 17, 31, 32, 33, 47, 48, 49, 63, 64, 65, 127, 128, 129};
  const int out_c = Uniform(rng, 0, 1) ? around[Uniform(rng, 0, 14)] : Uniform(rng, 1, 200);
  g->in_c = std::max(1, out_c / g->depth_multiplier);
  g->out_c = g->in_c * g->depth_multiplier;
  g->filter_h = Uniform(rng, 1, 5), g->filter_w = Uniform(rng, 1, 5);
  g->stride_h = Uniform(rng, 1, 3), g->stride_w = Uniform(rng, 1, 3);
  g->dilation_h = Uniform(rng, 0, 3) ? 1 : Uniform(rng, 2, 3);
  g->dilation_w = Uniform(rng, 0, 3) ? 1 : Uniform(rng, 2, 3);
  const bool same = Uniform(rng, 0, 1);
  WindowAxis y, x;
  if (!ComputeWindowAxis(same, g->in_h, g->filter_h, g->stride_h, g->dilation_h, &y) ||
      !ComputeWindowAxis(same, g->in_w, g->filter_w, g->stride_w, g->dilation_w, &x) || y.out <= 0 || x.out <= 0) {
    return false;
  }
  g->out_h = y.out, g->out_w = x.out, g->pad_top = y.pad, g->pad_left = x.pad;
  if (same && Uniform(rng, 0, 19) == 0) g->pad_top = g->pad_left = 1 << 29;  // as ops_conv.cc for XNNPACK
  return true;
}

float RandomValue(std::mt19937& rng, bool specials) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  if (!specials) return normal(rng);
  switch (Uniform(rng, 0, 39)) {
    case 0: return std::numeric_limits<float>::quiet_NaN();
    case 1: return std::numeric_limits<float>::infinity();
    case 2: return -std::numeric_limits<float>::infinity();
    case 3: return 0.0f;
    case 4: return -0.0f;
    case 5: return std::numeric_limits<float>::denorm_min() * static_cast<float>(Uniform(rng, -1000, 1000));
    case 6: return std::numeric_limits<float>::max() / 4;
    default: return normal(rng) * std::ldexp(1.0f, Uniform(rng, -20, 20));
  }
}

std::pair<float, float> RandomRange(std::mt19937& rng) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  switch (Uniform(rng, 0, 3)) {
    case 0: return {-kInf, kInf};
    case 1: return {0.0f, kInf};
    case 2: return {-1.0f, 1.0f};
    default: return {0.0f, 6.0f};
  }
}

// Every bit, except that any NaN equals any other: which NaN an add of two NaNs returns
// depends on the operand order the compiler chose (see depthwise_avx512.h).
void ExpectSameBits(const std::vector<float>& got, const std::vector<float>& expected, int trial) {
  ASSERT_EQ(got.size(), expected.size());
  for (size_t i = 0; i < got.size(); ++i) {
    if (std::isnan(got[i]) && std::isnan(expected[i])) continue;
    uint32_t a, b;
    std::memcpy(&a, &got[i], 4);
    std::memcpy(&b, &expected[i], 4);
    ASSERT_EQ(a, b) << "trial " << trial << ", element " << i << ": " << got[i] << " vs " << expected[i];
  }
}

void RunTrials(uint32_t seed, int trials, bool specials) {
  std::mt19937 rng(seed);
  int run = 0;
  for (int trial = 0; trial < trials; ++trial) {
    ConvGeometry g;
    if (!RandomGeometry(rng, &g)) continue;
    std::vector<float> in(static_cast<size_t>(g.batch) * g.in_h * g.in_w * g.in_c);
    std::vector<float> w(static_cast<size_t>(g.filter_h) * g.filter_w * g.out_c), bias(g.out_c);
    for (float& v : in) v = RandomValue(rng, specials);
    for (float& v : w) v = RandomValue(rng, specials);
    for (float& v : bias) v = RandomValue(rng, specials);
    const bool with_bias = Uniform(rng, 0, 4) != 0;
    const auto [lo, hi] = RandomRange(rng);
    const size_t n = static_cast<size_t>(g.batch) * g.out_h * g.out_w * g.out_c;
    std::vector<float> expected(n), got(n, 123.0f);
    DepthwiseConvFloat(g, in.data(), w.data(), with_bias ? bias.data() : nullptr, lo, hi, expected.data());
    DepthwiseConvFloatAvx512(g, in.data(), w.data(), with_bias ? bias.data() : nullptr, lo, hi, got.data());
    ExpectSameBits(got, expected, trial);
    ++run;
  }
  EXPECT_GT(run, trials / 2);
}

TEST(DepthwiseConvFloatAvx512Test, MatchesReferenceBitForBit) {
  QAUDIT_REQUIRE_CPU_FEATURES(DepthwiseConvFloatAvx512Available(), "AVX-512 F");
  RunTrials(31, 1500, false);
}

TEST(DepthwiseConvFloatAvx512Test, MatchesReferenceWithNaNInfinitiesAndSignedZeros) {
  QAUDIT_REQUIRE_CPU_FEATURES(DepthwiseConvFloatAvx512Available(), "AVX-512 F");
  RunTrials(37, 1500, true);
}

// MobileNetV2's shapes: 3x3, stride 1 and 2, SAME, multiplier 1, ReLU6.
TEST(DepthwiseConvFloatAvx512Test, MatchesReferenceOnMobileNetShapes) {
  QAUDIT_REQUIRE_CPU_FEATURES(DepthwiseConvFloatAvx512Available(), "AVX-512 F");
  std::mt19937 rng(41);
  for (int channels : {16, 32, 96, 144, 192, 384, 576, 960}) {
    for (int stride : {1, 2}) {
      ConvGeometry g{};
      g.batch = 1, g.in_h = g.in_w = 14, g.in_c = g.out_c = channels, g.depth_multiplier = 1;
      g.filter_h = g.filter_w = 3, g.stride_h = g.stride_w = stride, g.dilation_h = g.dilation_w = 1;
      WindowAxis axis;
      ASSERT_TRUE(ComputeWindowAxis(true, 14, 3, stride, 1, &axis));
      g.out_h = g.out_w = axis.out, g.pad_top = g.pad_left = axis.pad;
      std::vector<float> in(14 * 14 * channels), w(9 * channels), bias(channels);
      for (float& v : in) v = RandomValue(rng, false);
      for (float& v : w) v = RandomValue(rng, false);
      for (float& v : bias) v = RandomValue(rng, false);
      std::vector<float> expected(static_cast<size_t>(g.out_h) * g.out_w * channels), got(expected.size());
      DepthwiseConvFloat(g, in.data(), w.data(), bias.data(), 0.0f, 6.0f, expected.data());
      DepthwiseConvFloatAvx512(g, in.data(), w.data(), bias.data(), 0.0f, 6.0f, got.data());
      ExpectSameBits(got, expected, channels * 10 + stride);
    }
  }
}

}  // namespace
}  // namespace qaudit::kernels
