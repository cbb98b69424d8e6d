// QuantizeFloatToInt8Avx512 against QuantizeFloat<int8_t>, exactly, in every rule: seeded
// random scales and zero points, values that land on ties, NaN, infinities, values past
// int32 and lengths that leave vector tails. LookUpBytesAvx512 against a scalar lookup,
// for random tables and for requantization tables between every pair of 8-bit types.
#include "kernels/quantize_avx512.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
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

// Every byte once (shuffled), then random bytes, n in all.
std::vector<uint8_t> EveryByteThenRandom(std::mt19937& rng, int n) {
  std::vector<uint8_t> bytes(256);
  for (int i = 0; i < 256; ++i) bytes[i] = static_cast<uint8_t>(i);
  std::shuffle(bytes.begin(), bytes.end(), rng);
  bytes.resize(n);
  for (int i = 256; i < n; ++i) bytes[i] = static_cast<uint8_t>(rng());
  return bytes;
}

TEST(LookUpBytesAvx512Test, MatchesScalarLookup) {
  QAUDIT_REQUIRE_CPU_FEATURES(ByteLookupAvx512Available(), "AVX-512 VBMI");
  std::mt19937 rng(31);
  for (int trial = 0; trial < 200; ++trial) {
    std::array<uint8_t, 256> table;
    for (uint8_t& t : table) t = static_cast<uint8_t>(rng());
    // Lengths from 0 to past several vectors, every byte value present from 256 on.
    const int n = trial < 100 ? trial : std::uniform_int_distribution<int>(256, 1000)(rng);
    std::vector<uint8_t> in = EveryByteThenRandom(rng, n), expected(n), got(n);
    for (int i = 0; i < n; ++i) expected[i] = table[in[i]];
    LookUpBytesAvx512(table.data(), n, in.data(), got.data());
    ASSERT_EQ(got, expected) << "trial " << trial;
    LookUpBytesAvx512(table.data(), n, in.data(), in.data());  // in place
    ASSERT_EQ(in, expected) << "trial " << trial;
  }
}

// A table indexed by the input's byte, as the runtime builds it for 8-bit QUANTIZE, gives
// what the requantization computes element by element.
template <typename In, typename Out, typename Requantize>
void CheckRequantizeTable(std::mt19937& rng, Requantize requantize) {
  const std::array<uint8_t, 256> table = ByteTable<In, Out>(requantize);
  const std::vector<uint8_t> bytes = EveryByteThenRandom(rng, 777);
  std::vector<In> in(bytes.size());
  std::memcpy(in.data(), bytes.data(), bytes.size());
  std::vector<Out> expected(in.size()), got(in.size());
  requantize(in.data(), static_cast<int64_t>(in.size()), expected.data());
  LookUpBytesAvx512(table.data(), static_cast<int64_t>(in.size()), bytes.data(), reinterpret_cast<uint8_t*>(got.data()));
  ASSERT_EQ(got, expected);
}

TEST(LookUpBytesAvx512Test, MatchesRequantizeBetweenEightBitTypes) {
  QAUDIT_REQUIRE_CPU_FEATURES(ByteLookupAvx512Available(), "AVX-512 VBMI");
  std::mt19937 rng(37);
  for (int trial = 0; trial < 50; ++trial) {
    const QuantizedMultiplier m =
        QuantizeMultiplier(std::exp2(std::uniform_real_distribution<double>(-8.0, 7.0)(rng)));
    const int32_t in_zp = std::uniform_int_distribution<int>(-128, 127)(rng);
    const int32_t out_zp = std::uniform_int_distribution<int>(-128, 127)(rng);
    const auto tflite = [&](auto in_tag, auto out_tag) {
      using In = decltype(in_tag);
      using Out = decltype(out_tag);
      CheckRequantizeTable<In, Out>(rng, [&](const In* q, int64_t n, Out* y) {
        Requantize<In, Out>(q, n, in_zp, m, Rounding::kDouble, out_zp, y);
      });
    };
    tflite(int8_t{}, int8_t{});
    tflite(uint8_t{}, int8_t{});
    tflite(int8_t{}, uint8_t{});
    tflite(uint8_t{}, uint8_t{});
    const XnnpackRequantParams xp = XnnpackRequantParams::Make(
        std::exp2(std::uniform_real_distribution<float>(-8.0f, 7.0f)(rng)), in_zp, 1.0f, out_zp);
    CheckRequantizeTable<int8_t, int8_t>(rng, [&](const int8_t* q, int64_t n, int8_t* y) {
      RequantizeXnnpack<int8_t>(q, n, xp, y);
    });
    if (HasFailure()) return;
  }
}

}  // namespace
}  // namespace qaudit::kernels
