#include "qaudit/stats.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <random>

namespace qaudit::stats {
namespace {

// The standard normal quantile for a two-sided interval of `confidence`, by bisection on
// erfc (precise to 1e-12, fast enough for the few calls made).
double NormalQuantile(double confidence) {
  const double tail = (1 - confidence) / 2;
  double lo = 0, hi = 10;
  for (int i = 0; i < 200; ++i) {
    const double mid = (lo + hi) / 2;
    (0.5 * std::erfc(mid / std::sqrt(2.0)) > tail ? lo : hi) = mid;
  }
  return (lo + hi) / 2;
}

// log of the binomial probability mass C(n, k) / 2^n.
double LogBinomialHalf(int64_t n, int64_t k) {
  return std::lgamma(n + 1.0) - std::lgamma(k + 1.0) - std::lgamma(n - k + 1.0) - n * std::log(2.0);
}

}  // namespace

Interval PairedBootstrapDelta(const std::vector<uint8_t>& correct_a, const std::vector<uint8_t>& correct_b,
                              double confidence, int resamples, uint64_t seed) {
  assert(correct_a.size() == correct_b.size() && !correct_a.empty());
  const int64_t n = static_cast<int64_t>(correct_a.size());
  // Each sample contributes b - a in {-1, 0, 1}; the delta is their mean.
  std::vector<int8_t> diff(n);
  int64_t total = 0;
  for (int64_t i = 0; i < n; ++i) {
    diff[i] = static_cast<int8_t>(correct_b[i] - correct_a[i]);
    total += diff[i];
  }
  Interval result;
  result.estimate = static_cast<double>(total) / n;
  std::mt19937_64 rng(seed);
  std::vector<double> deltas(resamples);
  for (int r = 0; r < resamples; ++r) {
    int64_t sum = 0;
    // A draw of 64 bits reduced modulo n: platform-independent (unlike the standard
    // distributions); the bias for n far below 2^64 is negligible.
    for (int64_t i = 0; i < n; ++i) sum += diff[rng() % static_cast<uint64_t>(n)];
    deltas[r] = static_cast<double>(sum) / n;
  }
  std::sort(deltas.begin(), deltas.end());
  const double tail = (1 - confidence) / 2;
  const auto at = [&](double q) {
    const double pos = q * (resamples - 1);
    const int64_t below = static_cast<int64_t>(std::floor(pos));
    const int64_t above = std::min<int64_t>(below + 1, resamples - 1);
    return deltas[below] + (pos - below) * (deltas[above] - deltas[below]);
  };
  result.low = at(tail);
  result.high = at(1 - tail);
  return result;
}

McNemarResult McNemar(const std::vector<uint8_t>& correct_a, const std::vector<uint8_t>& correct_b) {
  assert(correct_a.size() == correct_b.size());
  McNemarResult r;
  for (size_t i = 0; i < correct_a.size(); ++i) {
    r.only_a += correct_a[i] && !correct_b[i];
    r.only_b += !correct_a[i] && correct_b[i];
  }
  const int64_t discordant = r.only_a + r.only_b;
  if (discordant == 0) return r;
  if (discordant < 50) {
    // Exact: twice the smaller binomial tail of Binomial(discordant, 1/2).
    const int64_t k = std::min(r.only_a, r.only_b);
    double tail = 0;
    for (int64_t i = 0; i <= k; ++i) tail += std::exp(LogBinomialHalf(discordant, i));
    r.p_value = std::min(1.0, 2 * tail);
    return r;
  }
  const double numerator = std::fabs(static_cast<double>(r.only_a - r.only_b)) - 1;
  const double chi2 = numerator * numerator / discordant;
  r.p_value = std::erfc(std::sqrt(chi2 / 2));  // chi-square with 1 degree of freedom
  return r;
}

Interval WilsonInterval(int64_t k, int64_t n, double confidence) {
  Interval r;
  if (n <= 0) return r;
  const double z = NormalQuantile(confidence);
  const double p = static_cast<double>(k) / n;
  const double denominator = 1 + z * z / n;
  const double centre = (p + z * z / (2.0 * n)) / denominator;
  const double half = z * std::sqrt(p * (1 - p) / n + z * z / (4.0 * n * n)) / denominator;
  r.estimate = p;
  r.low = std::max(0.0, centre - half);
  r.high = std::min(1.0, centre + half);
  return r;
}

}  // namespace qaudit::stats
