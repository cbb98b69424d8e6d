// MaxPoolAvx512's loop for 2x2 windows at stride 2 without padding, and its blocks of
// channel vectors for other windows, against MaxPool bit for bit: sizes odd and even (SAME
// on an odd size clips the last row and column, which take the general loop), channel
// counts around the vector widths and past four vectors, batches of 1-3; float with NaN,
// infinities, signed zeros and the lowest float, which MaxPool's max from the lowest value
// treats in its own way (NaN is skipped, -inf becomes the lowest float, the first of two
// equal zeros is kept). pooling_avx512_test.cc draws random windows, among which 2x2 at
// stride 2 is rare.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "kernels/pooling.h"
#include "kernels/pooling_avx512.h"
#include "support/fixtures.h"

namespace qaudit::kernels {
namespace {

int Uniform(std::mt19937& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

bool Geometry(int batch, int in_h, int in_w, int channels, int filter, int stride, bool same, ConvGeometry* g) {
  *g = ConvGeometry{};
  g->batch = batch, g->in_h = in_h, g->in_w = in_w, g->in_c = g->out_c = channels;
  g->filter_h = g->filter_w = filter, g->stride_h = g->stride_w = stride, g->dilation_h = g->dilation_w = 1;
  WindowAxis y, x;
  if (!ComputeWindowAxis(same, in_h, filter, stride, 1, &y) || !ComputeWindowAxis(same, in_w, filter, stride, 1, &x) ||
      y.out <= 0 || x.out <= 0) {
    return false;
  }
  g->out_h = y.out, g->out_w = x.out, g->pad_top = y.pad, g->pad_left = x.pad;
  return true;
}

size_t InputSize(const ConvGeometry& g) { return static_cast<size_t>(g.batch) * g.in_h * g.in_w * g.in_c; }
size_t OutputSize(const ConvGeometry& g) { return static_cast<size_t>(g.batch) * g.out_h * g.out_w * g.in_c; }

std::string Describe(const ConvGeometry& g) {
  return std::to_string(g.batch) + "x" + std::to_string(g.in_h) + "x" + std::to_string(g.in_w) + "x" +
         std::to_string(g.in_c) + " filter " + std::to_string(g.filter_h) + " stride " + std::to_string(g.stride_h) +
         " pad " + std::to_string(g.pad_top) + "," + std::to_string(g.pad_left);
}

float SpecialOrNormal(std::mt19937& rng, std::normal_distribution<float>& normal) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  switch (Uniform(rng, 0, 15)) {
    case 0: return std::numeric_limits<float>::quiet_NaN();
    case 1: return 0.0f;
    case 2: return -0.0f;
    case 3: return -kInf;
    case 4: return kInf;
    case 5: return std::numeric_limits<float>::lowest();
    default: return normal(rng);
  }
}

void ExpectFloatMatches(std::mt19937& rng, const ConvGeometry& g) {
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> in(InputSize(g));
  for (float& v : in) v = SpecialOrNormal(rng, normal);
  const float bounds[][2] = {{std::numeric_limits<float>::lowest(), std::numeric_limits<float>::max()},
                             {-std::numeric_limits<float>::infinity(), std::numeric_limits<float>::infinity()},
                             {0.0f, std::numeric_limits<float>::infinity()},
                             {0.0f, 6.0f}};
  for (const auto& [lo, hi] : bounds) {
    std::vector<float> expected(OutputSize(g)), got(OutputSize(g), 123.0f);
    MaxPool<float>(g, in.data(), lo, hi, expected.data());
    MaxPoolAvx512(g, in.data(), lo, hi, got.data());
    ASSERT_EQ(std::memcmp(got.data(), expected.data(), got.size() * sizeof(float)), 0)
        << Describe(g) << " clamp " << lo << ", " << hi;
  }
}

void ExpectInt8Matches(std::mt19937& rng, const ConvGeometry& g) {
  std::vector<int8_t> in(InputSize(g));
  for (int8_t& v : in) v = static_cast<int8_t>(Uniform(rng, -128, 127));
  const auto lo = static_cast<int8_t>(Uniform(rng, -128, 0)), hi = static_cast<int8_t>(Uniform(rng, lo, 127));
  std::vector<int8_t> expected(OutputSize(g)), got(OutputSize(g), 123);
  MaxPool<int8_t>(g, in.data(), lo, hi, expected.data());
  MaxPoolAvx512(g, in.data(), lo, hi, got.data());
  ASSERT_EQ(got, expected) << Describe(g);
}

TEST(MaxPool2x2Avx512Test, HalvingMatchesMaxPoolBitForBit) {
  QAUDIT_REQUIRE_CPU_FEATURES(MaxPoolAvx512Available(), "AVX-512 BW");
  std::mt19937 rng(83);
  const int channels[] = {1, 5, 8, 15, 16, 17, 31, 32, 33, 63, 64, 65, 96, 128, 150, 257};
  int run = 0;
  for (int trial = 0; trial < 300; ++trial) {
    ConvGeometry g;
    const int c = channels[Uniform(rng, 0, 15)];
    if (!Geometry(Uniform(rng, 1, 3), Uniform(rng, 1, 30), Uniform(rng, 1, 30), c, 2, 2, Uniform(rng, 0, 1), &g)) {
      continue;
    }
    ExpectFloatMatches(rng, g);
    ExpectInt8Matches(rng, g);
    if (HasFailure()) return;
    ++run;
  }
  EXPECT_GT(run, 250);
}

// The zoo cnn's two poolings, and both with an odd size under SAME.
TEST(MaxPool2x2Avx512Test, CnnShapes) {
  QAUDIT_REQUIRE_CPU_FEATURES(MaxPoolAvx512Available(), "AVX-512 BW");
  std::mt19937 rng(89);
  for (const auto& [size, c] : {std::pair{28, 32}, std::pair{14, 64}, std::pair{27, 32}, std::pair{13, 64}}) {
    for (bool same : {false, true}) {
      ConvGeometry g;
      ASSERT_TRUE(Geometry(2, size, size, c, 2, 2, same, &g));
      ExpectFloatMatches(rng, g);
      ExpectInt8Matches(rng, g);
      if (HasFailure()) return;
    }
  }
}

// Other windows, with channels in blocks of up to four vectors: global pooling of 1024
// channels, 3x3 at stride 2 and 1, 2x2 at stride 1, 1x1.
TEST(MaxPool2x2Avx512Test, OtherWindowsMatchMaxPoolBitForBit) {
  QAUDIT_REQUIRE_CPU_FEATURES(MaxPoolAvx512Available(), "AVX-512 BW");
  std::mt19937 rng(97);
  const int shapes[][5] = {{7, 1024, 7, 1, 0}, {15, 150, 3, 2, 1}, {14, 65, 3, 2, 0}, {9, 300, 3, 1, 1},
                           {10, 48, 2, 1, 1},  {6, 70, 1, 1, 0},   {8, 257, 4, 3, 1}};
  for (const auto& [size, c, filter, stride, same] : shapes) {
    ConvGeometry g;
    ASSERT_TRUE(Geometry(2, size, size, c, filter, stride, same, &g));
    ExpectFloatMatches(rng, g);
    ExpectInt8Matches(rng, g);
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace qaudit::kernels
