// AddQuantizedAvx512, AddQuantizedTableAvx512 and AddQuantizedXnnpackAvx512 against
// AddQuantized and AddQuantizedXnnpack, exactly: for seeded random scales, zero points and
// activation ranges, every pair of 8-bit inputs (65,536 elements, then lengths that leave
// vector tails), ADD and SUB, int8 and uint8; and raw multipliers, shifts included, that
// no scale produces.
#include "kernels/add_avx512.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>
#include <random>
#include <tuple>
#include <vector>

#include "kernels/add.h"
#include "kernels/broadcast.h"
#include "support/fixtures.h"

namespace qaudit::kernels {
namespace {

int Uniform(std::mt19937& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }
double LogUniform(std::mt19937& rng, double lo_exp, double hi_exp) {
  return std::exp2(std::uniform_real_distribution<double>(lo_exp, hi_exp)(rng));
}

// Inputs holding every (a, b) pair once, then `extra` random pairs.
template <typename T>
void AllPairs(std::mt19937& rng, int extra, std::vector<T>* a, std::vector<T>* b) {
  constexpr int kMin = std::numeric_limits<T>::min();
  a->clear(), b->clear();
  for (int x = 0; x < 256; ++x) {
    for (int y = 0; y < 256; ++y) a->push_back(static_cast<T>(kMin + x)), b->push_back(static_cast<T>(kMin + y));
  }
  for (int i = 0; i < extra; ++i) {
    a->push_back(static_cast<T>(kMin + Uniform(rng, 0, 255)));
    b->push_back(static_cast<T>(kMin + Uniform(rng, 0, 255)));
  }
}

BroadcastPlan Flat(int64_t n) {
  BroadcastPlan plan;
  const std::vector<int32_t> shape = {static_cast<int32_t>(n)};
  EXPECT_TRUE(MakeBroadcastPlan(shape, shape, shape, &plan));
  return plan;
}

// A clamp range inside T's range, as a fused activation or none gives.
template <typename T>
std::pair<int32_t, int32_t> RandomRange(std::mt19937& rng) {
  constexpr int32_t kMin = std::numeric_limits<T>::min(), kMax = std::numeric_limits<T>::max();
  if (Uniform(rng, 0, 1)) return {kMin, kMax};
  const int32_t lo = Uniform(rng, kMin, kMax);
  return {lo, Uniform(rng, lo, kMax)};
}

// The two double-rounding kernels, as one signature.
template <typename T>
void ComputedAvx512(int64_t n, const T* a, const T* b, const QuantizedAddParams& p, T* out) {
  AddQuantizedAvx512(n, a, b, p, out);
}
template <typename T>
void TableAvx512(int64_t n, const T* a, const T* b, const QuantizedAddParams& p, T* out) {
  AddQuantizedTableAvx512(n, a, b, MakeAddTables<T>(p), out);
}
template <typename T>
using DoubleRoundingKernel = void (*)(int64_t, const T*, const T*, const QuantizedAddParams&, T*);

template <typename T>
void CheckDoubleRounding(DoubleRoundingKernel<T> kernel, uint32_t seed, int trials) {
  constexpr int32_t kMin = std::numeric_limits<T>::min(), kMax = std::numeric_limits<T>::max();
  std::mt19937 rng(seed);
  std::vector<T> a, b;
  for (int trial = 0; trial < trials; ++trial) {
    AllPairs(rng, Uniform(rng, 0, 40), &a, &b);
    const double a_scale = LogUniform(rng, -12, 2), b_scale = LogUniform(rng, -12, 2);
    // Down to 2^-31 of the larger input scale: output multipliers with left shifts too.
    const double out_scale = std::max(a_scale, b_scale) * LogUniform(rng, -31, 5);
    const double out_multiplier = 2 * std::max(a_scale, b_scale) / ((1 << 20) * out_scale);
    if (!RealMultiplierInRange(out_multiplier)) continue;  // refused by Prepare
    const auto [lo, hi] = RandomRange<T>(rng);
    const QuantizedAddParams p = MakeQuantizedAddParams(Uniform(rng, 0, 1), 20, a_scale, Uniform(rng, kMin, kMax),
                                                        b_scale, Uniform(rng, kMin, kMax), out_scale,
                                                        Uniform(rng, kMin, kMax), lo, hi);
    std::vector<T> expected(a.size()), got(a.size());
    AddQuantized<T>(Flat(static_cast<int64_t>(a.size())), a.data(), b.data(), p, expected.data());
    kernel(static_cast<int64_t>(a.size()), a.data(), b.data(), p, got.data());
    ASSERT_EQ(got, expected) << "trial " << trial << " scales " << a_scale << ", " << b_scale << " -> " << out_scale;
  }
}

template <typename T>
void CheckXnnpack(uint32_t seed, int trials) {
  constexpr int32_t kMin = std::numeric_limits<T>::min(), kMax = std::numeric_limits<T>::max();
  std::mt19937 rng(seed);
  std::vector<T> a, b;
  for (int trial = 0; trial < trials; ++trial) {
    AllPairs(rng, Uniform(rng, 0, 40), &a, &b);
    // XNNPACK takes the node only for input-to-output scale ratios in [2^-10, 2^8).
    const float out_scale = static_cast<float>(LogUniform(rng, -10, 0));
    const auto a_scale = static_cast<float>(out_scale * LogUniform(rng, -10, 7.99));
    const auto b_scale = static_cast<float>(out_scale * LogUniform(rng, -10, 7.99));
    const int32_t out_zp = Uniform(rng, kMin, kMax);
    const auto [lo, hi] = RandomRange<T>(rng);
    const XnnpackAddParams p = MakeXnnpackAddParams(Uniform(rng, 0, 1), a_scale, Uniform(rng, kMin, kMax), b_scale,
                                                    Uniform(rng, kMin, kMax), out_scale, out_zp, lo, hi);
    std::vector<T> expected(a.size()), got(a.size());
    AddQuantizedXnnpack<T>(Flat(static_cast<int64_t>(a.size())), a.data(), b.data(), p, expected.data());
    AddQuantizedXnnpackAvx512(static_cast<int64_t>(a.size()), a.data(), b.data(), p, got.data());
    ASSERT_EQ(got, expected) << "trial " << trial << " scales " << a_scale << ", " << b_scale << " -> " << out_scale;
  }
}

TEST(AddQuantizedAvx512Test, Int8MatchesDoubleRounding) {
  QAUDIT_REQUIRE_CPU_FEATURES(AddQuantizedAvx512Available(), "AVX-512 BW/VL");
  CheckDoubleRounding<int8_t>(ComputedAvx512<int8_t>, 51, 300);
}

TEST(AddQuantizedAvx512Test, Uint8MatchesDoubleRounding) {
  QAUDIT_REQUIRE_CPU_FEATURES(AddQuantizedAvx512Available(), "AVX-512 BW/VL");
  CheckDoubleRounding<uint8_t>(ComputedAvx512<uint8_t>, 53, 150);
}

TEST(AddQuantizedTableAvx512Test, Int8MatchesDoubleRounding) {
  QAUDIT_REQUIRE_CPU_FEATURES(AddQuantizedTableAvx512Available(), "AVX-512 BW/VL/VBMI");
  CheckDoubleRounding<int8_t>(TableAvx512<int8_t>, 71, 300);
}

TEST(AddQuantizedTableAvx512Test, Uint8MatchesDoubleRounding) {
  QAUDIT_REQUIRE_CPU_FEATURES(AddQuantizedTableAvx512Available(), "AVX-512 BW/VL/VBMI");
  CheckDoubleRounding<uint8_t>(TableAvx512<uint8_t>, 73, 150);
}

TEST(AddQuantizedAvx512Test, Int8MatchesXnnpack) {
  QAUDIT_REQUIRE_CPU_FEATURES(AddQuantizedAvx512Available(), "AVX-512 BW/VL");
  CheckXnnpack<int8_t>(57, 300);
}

TEST(AddQuantizedAvx512Test, Uint8MatchesXnnpack) {
  QAUDIT_REQUIRE_CPU_FEATURES(AddQuantizedAvx512Available(), "AVX-512 BW/VL");
  CheckXnnpack<uint8_t>(59, 150);
}

// Any multiplier, negative and INT32_MIN (SRDHM's saturating case) included, with every
// shift the double rounding allows: the vector arithmetic itself, beyond what scales give.
void CheckRawMultipliers(DoubleRoundingKernel<int8_t> kernel, uint32_t seed) {
  std::mt19937 rng(seed);
  std::vector<int8_t> a, b;
  const int32_t special[] = {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max(), 0, 1, -1,
                             1 << 30};
  auto random_multiplier = [&] {
    QuantizedMultiplier m;
    m.multiplier = Uniform(rng, 0, 3) == 0 ? special[Uniform(rng, 0, 5)]
                                           : static_cast<int32_t>(std::uniform_int_distribution<uint32_t>()(rng));
    m.shift = Uniform(rng, -31, 14);
    return m;
  };
  for (int trial = 0; trial < 300; ++trial) {
    AllPairs(rng, Uniform(rng, 0, 40), &a, &b);
    QuantizedAddParams p;
    p.subtract = Uniform(rng, 0, 1);
    p.left_shift = Uniform(rng, 0, 22);
    p.a_zero_point = Uniform(rng, -128, 127), p.b_zero_point = Uniform(rng, -128, 127);
    p.out_zero_point = Uniform(rng, -128, 127);
    p.a_multiplier = random_multiplier(), p.b_multiplier = random_multiplier(), p.out_multiplier = random_multiplier();
    std::tie(p.act_min, p.act_max) = RandomRange<int8_t>(rng);
    // The reference's a_scaled +- b_scaled must not overflow int32 (undefined there).
    const int64_t bound = int64_t{255} << p.left_shift;
    const auto scaled_bound = [&](QuantizedMultiplier m) {
      const int64_t shifted = std::min<int64_t>(bound << std::max(m.shift, 0), std::numeric_limits<int32_t>::max());
      return (shifted * std::abs(static_cast<int64_t>(m.multiplier)) >> 31) + 1;
    };
    if (scaled_bound(p.a_multiplier) + scaled_bound(p.b_multiplier) > std::numeric_limits<int32_t>::max()) continue;
    std::vector<int8_t> expected(a.size()), got(a.size());
    AddQuantized<int8_t>(Flat(static_cast<int64_t>(a.size())), a.data(), b.data(), p, expected.data());
    kernel(static_cast<int64_t>(a.size()), a.data(), b.data(), p, got.data());
    ASSERT_EQ(got, expected) << "trial " << trial;
  }
}

TEST(AddQuantizedAvx512Test, MatchesDoubleRoundingForRawMultipliers) {
  QAUDIT_REQUIRE_CPU_FEATURES(AddQuantizedAvx512Available(), "AVX-512 BW/VL");
  CheckRawMultipliers(ComputedAvx512<int8_t>, 61);
}

TEST(AddQuantizedTableAvx512Test, MatchesDoubleRoundingForRawMultipliers) {
  QAUDIT_REQUIRE_CPU_FEATURES(AddQuantizedTableAvx512Available(), "AVX-512 BW/VL/VBMI");
  CheckRawMultipliers(TableAvx512<int8_t>, 79);
}

}  // namespace
}  // namespace qaudit::kernels
