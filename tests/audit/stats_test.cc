// The audit's statistics against hand-computed and textbook values.
#include <gtest/gtest.h>

#include <random>

#include "qaudit/stats.h"

namespace qaudit::stats {
namespace {

std::vector<uint8_t> Pattern(std::initializer_list<int> runs) {
  // runs: count of 1s, count of 0s, count of 1s, ...
  std::vector<uint8_t> v;
  uint8_t value = 1;
  for (int n : runs) {
    v.insert(v.end(), n, value);
    value ^= 1;
  }
  return v;
}

TEST(StatsTest, McNemarExactAndChiSquare) {
  // 10 samples only A gets right, 2 only B: exact two-sided p = 2 * P(X <= 2), X ~ Bin(12, 1/2)
  // = 2 * (1 + 12 + 66) / 4096 = 0.03857.
  std::vector<uint8_t> a, b;
  for (int i = 0; i < 10; ++i) a.push_back(1), b.push_back(0);
  for (int i = 0; i < 2; ++i) a.push_back(0), b.push_back(1);
  for (int i = 0; i < 100; ++i) a.push_back(1), b.push_back(1);
  McNemarResult r = McNemar(a, b);
  EXPECT_EQ(r.only_a, 10);
  EXPECT_EQ(r.only_b, 2);
  EXPECT_NEAR(r.p_value, 2.0 * 79 / 4096, 1e-9);
  // 60 vs 40 discordant: chi2 = (|60-40| - 1)^2 / 100 = 3.61, p = 0.05743.
  a.clear();
  b.clear();
  for (int i = 0; i < 60; ++i) a.push_back(1), b.push_back(0);
  for (int i = 0; i < 40; ++i) a.push_back(0), b.push_back(1);
  r = McNemar(a, b);
  EXPECT_NEAR(r.p_value, 0.057433, 1e-5);
  EXPECT_EQ(McNemar(Pattern({5, 5}), Pattern({5, 5})).p_value, 1.0);
}

TEST(StatsTest, WilsonIntervalMatchesTheFormula) {
  // 81 of 263 at 95%: the classic example, [0.2553, 0.3662].
  const Interval w = WilsonInterval(81, 263);
  EXPECT_NEAR(w.low, 0.2553, 5e-4);
  EXPECT_NEAR(w.high, 0.3662, 5e-4);
  EXPECT_EQ(WilsonInterval(0, 10).low, 0.0);
}

TEST(StatsTest, PairedBootstrapCoversTheDeltaAndIsReproducible) {
  std::mt19937 rng(9);
  std::vector<uint8_t> a(5000), b(5000);
  for (size_t i = 0; i < a.size(); ++i) {
    a[i] = rng() % 100 < 90;
    b[i] = rng() % 100 < 3 ? !a[i] : a[i];  // B flips 3% of A's outcomes
  }
  const Interval d = PairedBootstrapDelta(a, b, 0.95, 2000, 1);
  EXPECT_LT(d.low, d.estimate);
  EXPECT_GT(d.high, d.estimate);
  // Paired: the width follows the discordant rate (~3%), not the accuracy's variance:
  // sd of the mean ~ sqrt(0.03 / 5000) = 0.00245, so the 95% width is about 0.0096.
  EXPECT_NEAR(d.high - d.low, 0.0096, 0.002);
  const Interval again = PairedBootstrapDelta(a, b, 0.95, 2000, 1);
  EXPECT_EQ(again.low, d.low);
  EXPECT_EQ(again.high, d.high);
  // Identical models: a zero-width interval at 0.
  const Interval same = PairedBootstrapDelta(a, a);
  EXPECT_EQ(same.low, 0.0);
  EXPECT_EQ(same.high, 0.0);
}

}  // namespace
}  // namespace qaudit::stats
