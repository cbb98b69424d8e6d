// The statistics behind the audit's verdicts: paired comparisons of two classifiers on the
// same samples (float vs quantized), so that a difference is reported with its
// uncertainty, and verdicts use the interval rather than the point estimate.
#ifndef QAUDIT_STATS_H_
#define QAUDIT_STATS_H_

#include <cstdint>
#include <vector>

namespace qaudit::stats {

struct Interval {
  double estimate = 0;
  double low = 0;
  double high = 0;
};

// Accuracy of B minus accuracy of A on the same samples (correct_a[i], correct_b[i] say
// whether each model got sample i right), with a percentile paired-bootstrap interval:
// `resamples` resamplings of the sample indices with replacement, drawn from a generator
// seeded with `seed` (the same seed gives the same interval on every platform).
// `confidence` is e.g. 0.95. REQUIRES: equal, non-zero lengths.
Interval PairedBootstrapDelta(const std::vector<uint8_t>& correct_a, const std::vector<uint8_t>& correct_b,
                              double confidence = 0.95, int resamples = 2000, uint64_t seed = 0);

struct McNemarResult {
  int64_t only_a = 0;  // samples A got right and B wrong
  int64_t only_b = 0;  // samples B got right and A wrong
  double p_value = 1;  // two-sided; exact binomial when only_a + only_b < 50, else chi-square with continuity correction
};
// McNemar's test of whether A and B differ in accuracy on the same samples.
McNemarResult McNemar(const std::vector<uint8_t>& correct_a, const std::vector<uint8_t>& correct_b);

// Wilson score interval of a proportion k / n.
Interval WilsonInterval(int64_t k, int64_t n, double confidence = 0.95);

}  // namespace qaudit::stats

#endif  // QAUDIT_STATS_H_
