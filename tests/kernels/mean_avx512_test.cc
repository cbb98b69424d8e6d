// SumMiddleAxisAvx512 against SumReduced, exactly: seeded random 8-bit inputs whose
// reduced axes are adjacent (H and W of NHWC and others), channel counts that leave vector
// tails, and runs long enough to need more than 16 bits per sum.
#include "kernels/mean_avx512.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <vector>

#include "kernels/mean.h"
#include "support/fixtures.h"

namespace qaudit::kernels {
namespace {

template <typename T>
void CheckSums(uint32_t seed, int trials) {
  std::mt19937 rng(seed);
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); };
  for (int trial = 0; trial < trials; ++trial) {
    // [outer, reduced..., inner] with a random number of axes in each part, some of size 1.
    std::vector<int32_t> dims;
    std::vector<bool> reduced;
    const int parts[3] = {uniform(0, 2), uniform(1, 2), uniform(0, 2)};
    for (int part = 0; part < 3; ++part) {
      for (int k = 0; k < parts[part]; ++k) {
        dims.push_back(part == 1 && uniform(0, 9) == 0 ? 700 : uniform(1, part == 2 ? 150 : 9));
        reduced.push_back(part == 1);
      }
    }
    int64_t total = 1;
    for (int32_t d : dims) total *= d;
    if (total > 100000) continue;  // keeps the test fast; sizes beyond add nothing
    const ReduceShape s = MakeReduceShape(dims, reduced);
    const std::optional<MiddleAxisView> view = AsMiddleAxis(s);
    ASSERT_TRUE(view.has_value()) << "trial " << trial;
    std::vector<T> x(total);
    const bool extreme = uniform(0, 3) == 0;  // all at one end: the largest sums
    for (T& v : x) v = static_cast<T>(extreme ? (std::is_signed_v<T> ? -128 : 255) : uniform(0, 255));
    std::vector<int32_t> got(s.num_outputs, -1);
    SumMiddleAxisAvx512(*view, x.data(), got.data());
    ASSERT_EQ(got, SumReduced(s, x.data())) << "trial " << trial;
  }
}

TEST(SumMiddleAxisAvx512Test, Int8MatchesSumReduced) {
  QAUDIT_REQUIRE_CPU_FEATURES(SumMiddleAxisAvx512Available(), "AVX-512 BW/VL");
  CheckSums<int8_t>(41, 400);
}

TEST(SumMiddleAxisAvx512Test, Uint8MatchesSumReduced) {
  QAUDIT_REQUIRE_CPU_FEATURES(SumMiddleAxisAvx512Available(), "AVX-512 BW/VL");
  CheckSums<uint8_t>(43, 400);
}

}  // namespace
}  // namespace qaudit::kernels
