// MaxPoolAvx512 against MaxPool on seeded random shapes: odd channel counts, padding,
// strides, fused ranges, and for float NaN and signed zeros.
#include "kernels/pooling_avx512.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernels/pooling.h"
#include "support/fixtures.h"

namespace qaudit::kernels {
namespace {

int Uniform(std::mt19937& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

bool RandomGeometry(std::mt19937& rng, ConvGeometry* g) {
  *g = ConvGeometry{};
  g->batch = Uniform(rng, 1, 2), g->in_h = Uniform(rng, 1, 9), g->in_w = Uniform(rng, 1, 9);
  // Whole and half vectors (8, 16, 32, 64, 128 channels) take unmasked stores.
  const int whole[] = {8, 16, 32, 64, 128};
  g->in_c = g->out_c = Uniform(rng, 0, 2) == 0 ? whole[Uniform(rng, 0, 4)] : Uniform(rng, 1, 150);
  g->filter_h = Uniform(rng, 1, 4), g->filter_w = Uniform(rng, 1, 4);
  g->stride_h = Uniform(rng, 1, 3), g->stride_w = Uniform(rng, 1, 3);
  g->dilation_h = g->dilation_w = 1;
  const bool same = Uniform(rng, 0, 1);
  WindowAxis y, x;
  if (!ComputeWindowAxis(same, g->in_h, g->filter_h, g->stride_h, 1, &y) ||
      !ComputeWindowAxis(same, g->in_w, g->filter_w, g->stride_w, 1, &x) || y.out <= 0 || x.out <= 0) {
    return false;
  }
  g->out_h = y.out, g->out_w = x.out, g->pad_top = y.pad, g->pad_left = x.pad;
  return true;
}

size_t OutputSize(const ConvGeometry& g) { return static_cast<size_t>(g.batch) * g.out_h * g.out_w * g.in_c; }

TEST(MaxPoolAvx512Test, Int8MatchesMaxPool) {
  QAUDIT_REQUIRE_CPU_FEATURES(MaxPoolAvx512Available(), "AVX-512 BW");
  std::mt19937 rng(21);
  for (int trial = 0; trial < 300; ++trial) {
    ConvGeometry g;
    if (!RandomGeometry(rng, &g)) continue;
    std::vector<int8_t> in(static_cast<size_t>(g.batch) * g.in_h * g.in_w * g.in_c);
    for (int8_t& v : in) v = static_cast<int8_t>(Uniform(rng, -128, 127));
    const auto lo = static_cast<int8_t>(Uniform(rng, -128, 0)), hi = static_cast<int8_t>(Uniform(rng, lo, 127));
    std::vector<int8_t> expected(OutputSize(g)), got(OutputSize(g));
    MaxPool<int8_t>(g, in.data(), lo, hi, expected.data());
    MaxPoolAvx512(g, in.data(), lo, hi, got.data());
    ASSERT_EQ(got, expected) << "trial " << trial;
  }
}

TEST(MaxPoolAvx512Test, FloatMatchesMaxPoolBitForBit) {
  QAUDIT_REQUIRE_CPU_FEATURES(MaxPoolAvx512Available(), "AVX-512 BW");
  std::mt19937 rng(23);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (int trial = 0; trial < 300; ++trial) {
    ConvGeometry g;
    if (!RandomGeometry(rng, &g)) continue;
    std::vector<float> in(static_cast<size_t>(g.batch) * g.in_h * g.in_w * g.in_c);
    for (float& v : in) {
      switch (Uniform(rng, 0, 9)) {
        case 0:
          v = std::numeric_limits<float>::quiet_NaN();
          break;
        case 1:
          v = 0.0f;
          break;
        case 2:
          v = -0.0f;
          break;
        default:
          v = normal(rng);
      }
    }
    const float lo = Uniform(rng, 0, 1) ? -std::numeric_limits<float>::max() : 0.0f;
    const float hi = Uniform(rng, 0, 1) ? std::numeric_limits<float>::max() : 6.0f;
    std::vector<float> expected(OutputSize(g)), got(OutputSize(g));
    MaxPool<float>(g, in.data(), lo, hi, expected.data());
    MaxPoolAvx512(g, in.data(), lo, hi, got.data());
    ASSERT_EQ(std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)), 0) << "trial " << trial;
  }
}

}  // namespace
}  // namespace qaudit::kernels
