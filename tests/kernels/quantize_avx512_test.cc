// QuantizeFloatToInt8Avx512 against QuantizeFloat<int8_t>, exactly, in every rule: seeded
// random scales and zero points, values that land on ties, NaN, infinities, values past
// int32 and lengths that leave vector tails.
#include "kernels/quantize_avx512.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "kernels/quantize.h"
#include "support/fixtures.h"

namespace qaudit::kernels {
namespace {

TEST(QuantizeAvx512Test, MatchesQuantizeFloat) {
  QAUDIT_REQUIRE_CPU_FEATURES(QuantizeAvx512Available(), "AVX-512");
  std::mt19937 rng(29);
  const QuantizeRule rules[] = {QuantizeRule::kFloatDivide, QuantizeRule::kDoubleDivide, QuantizeRule::kXnnpack};
  const float specials[] = {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
                            -std::numeric_limits<float>::infinity(), 3e9f, -3e9f, 2147483648.0f, -2147483648.0f,
                            std::numeric_limits<float>::max(), std::numeric_limits<float>::denorm_min(), 0.0f, -0.0f};
  for (int trial = 0; trial < 3000; ++trial) {
    const QuantizeRule rule = rules[trial % 3];
    const float scale = std::exp2(std::uniform_real_distribution<float>(-20.0f, 10.0f)(rng));
    const int32_t zp = std::uniform_int_distribution<int>(-128, 127)(rng);
    const int n = std::uniform_int_distribution<int>(0, 100)(rng);
    std::vector<float> x(n);
    for (float& v : x) {
      switch (std::uniform_int_distribution<int>(0, 5)(rng)) {
        case 0: v = specials[std::uniform_int_distribution<int>(0, 10)(rng)]; break;
        case 1:  // a tie of the division: (k + 1/2) * scale
          v = (std::uniform_int_distribution<int>(-300, 300)(rng) + 0.5f) * scale;
          break;
        case 2: v = std::uniform_int_distribution<int>(-300, 300)(rng) * scale; break;
        case 3: v = std::uniform_real_distribution<float>(-1e12f, 1e12f)(rng) * scale; break;
        default: v = std::uniform_real_distribution<float>(-200.0f, 200.0f)(rng) * scale; break;
      }
    }
    std::vector<int8_t> expected(n), got(n);
    QuantizeFloat<int8_t>(x.data(), n, scale, zp, rule, expected.data());
    QuantizeFloatToInt8Avx512(x.data(), n, scale, zp, rule, got.data());
    ASSERT_EQ(got, expected) << "trial " << trial << " rule " << static_cast<int>(rule) << " scale " << scale
                             << " zp " << zp;
  }
}

}  // namespace
}  // namespace qaudit::kernels
