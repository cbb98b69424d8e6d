#include "calib/range_search.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <limits>
#include <numeric>

namespace qaudit::calib {

Histogram::Histogram(float lo, float hi, int bins) : lo(lo), hi(hi), counts(bins, 0) {
  assert(lo <= hi && bins >= 1);
}

void Histogram::Add(const float* values, int64_t n) {
  const double last_bin = static_cast<double>(counts.size() - 1);
  const double bins_per_unit = hi > lo ? counts.size() / (static_cast<double>(hi) - lo) : 0.0;
  int64_t* bins = counts.data();
  for (int64_t i = 0; i < n; ++i) {
    const float value = values[i];
    if (std::isnan(value)) continue;
    double position = (value - static_cast<double>(lo)) * bins_per_unit;
    // Written so that the NaN of inf * 0 (an infinity when lo == hi) also lands in bin 0.
    position = position > 0.0 ? position : 0.0;
    position = position < last_bin ? position : last_bin;
    ++bins[static_cast<int64_t>(position)];
  }
}

void Histogram::Merge(const Histogram& other) {
  if (counts.empty()) {
    *this = other;
    return;
  }
  assert(lo == other.lo && hi == other.hi && counts.size() == other.counts.size());
  for (size_t k = 0; k < counts.size(); ++k) counts[k] += other.counts[k];
}

int64_t Histogram::total() const { return std::accumulate(counts.begin(), counts.end(), int64_t{0}); }

double Histogram::bin_width() const {
  return counts.empty() ? 0.0 : (static_cast<double>(hi) - lo) / static_cast<double>(counts.size());
}

namespace {

// True when no range search is possible and the histogram's own range is the answer.
bool IsDegenerate(const Histogram& h) { return h.lo == h.hi || h.total() == 0; }

float ClampToHistogram(const Histogram& h, double x) {
  return std::clamp(static_cast<float>(x), h.lo, h.hi);
}

// How many bins, counted from the front of [first, last), a cut removing `mass` values
// spans: whole bins while they fit (empty bins always do), then a linear share of the bin
// where the cut lands.
template <typename CountIt>
double CutLength(CountIt first, CountIt last, double mass) {
  double length = 0.0;
  double removed = 0.0;
  for (; first != last; ++first, length += 1.0) {
    const double count = static_cast<double>(*first);
    if (removed + count > mass) return length + (mass - removed) / count;
    removed += count;
  }
  return length;
}

// The integral of density * x^2 over [from, to], x being the distance to the level that a
// value rounds to: the squared error contributed by values spread uniformly over that span.
double SquaredErrorIntegral(double density, double from, double to) {
  return density * ((to * to * to - from * from * from) / 3.0);
}

// Expected squared error, over the whole histogram, of quantizing to `levels` equal steps
// spanning bins [start, end]. Values outside the window round to the centre of the first or
// last level. Each source bin may straddle several levels: the partial level where it
// begins, whole levels in between, and the partial level where it ends. With begin and end
// in one level the three terms still add up to the single piece between them.
double WindowError(const Histogram& h, int start, int end, int levels) {
  const double width = h.bin_width();
  const double step = width * (end - start + 1) / levels;
  const double half_step = step / 2;
  const double last_level = levels - 1;
  const auto level_of = [&](double x) { return std::clamp(std::floor(x / step), 0.0, last_level); };
  double error = 0.0;
  for (size_t k = 0; k < h.counts.size(); ++k) {
    if (h.counts[k] == 0) continue;
    const double density = static_cast<double>(h.counts[k]) / width;
    const double begin = (static_cast<double>(k) - start) * width;
    const double finish = begin + width;
    const double begin_level = level_of(begin);
    const double finish_level = level_of(finish);
    error += SquaredErrorIntegral(density, begin - (begin_level + 0.5) * step, half_step);
    error += (finish_level - begin_level - 1) * SquaredErrorIntegral(density, -half_step, half_step);
    error += SquaredErrorIntegral(density, -half_step, finish - (finish_level + 0.5) * step);
  }
  return error;
}

// KL(P || Q) for the cut after `cut` bins, with the terms scipy.stats.entropy(P, Q) sums:
// both normalized, p * log(p / q), zero where p is zero and infinite where only q is.
// log(p / q) is taken as log p - log q from precomputed logs; where p equals q bit for bit
// the term is still exactly zero, so exact ties between cuts survive.
class CutDivergence {
 public:
  CutDivergence(const std::vector<double>& counts, int levels)
      : counts_(counts), levels_(levels), kept_(counts.size() + 1, 0.0), log_p_(counts.size(), 0.0) {
    std::partial_sum(counts.begin(), counts.end(), kept_.begin() + 1);
    total_ = kept_.back();
    for (size_t k = 0; k < counts.size(); ++k) {
      if (counts[k] > 0.0) log_p_[k] = std::log(counts[k] / total_);
    }
  }

  double operator()(int cut) const {
    const double kept = kept_[cut];
    const double clipped = total_ - kept;
    // All the data lies beyond the cut: Q is empty and cannot describe P.
    if (kept == 0.0) return kInfinity;
    if (clipped > 0.0 && counts_[cut - 1] == 0.0) return kInfinity;
    double divergence = 0.0;
    for (int level = 0; level < levels_; ++level) {
      // Bin k belongs to level floor(k * levels / cut); the last level holds bin cut - 1,
      // which also takes the clipped mass and is handled on its own.
      const bool holds_last_bin = level == levels_ - 1;
      const int first = CeilDiv(int64_t{level} * cut, levels_);
      const int last = holds_last_bin ? cut - 1 : CeilDiv(int64_t{level + 1} * cut, levels_);
      double level_mass = 0.0;
      int nonzero_bins = 0;
      for (int k = first; k < last; ++k) {
        level_mass += counts_[k];
        nonzero_bins += counts_[k] > 0.0;
      }
      if (holds_last_bin && counts_[last] > 0.0) {
        level_mass += counts_[last];
        ++nonzero_bins;
      }
      if (nonzero_bins == 0) continue;
      const double q = level_mass / nonzero_bins / kept;
      const double log_q = std::log(q);
      for (int k = first; k < last; ++k) {
        if (counts_[k] > 0.0) divergence += counts_[k] / total_ * (log_p_[k] - log_q);
      }
      if (holds_last_bin && counts_[last] > 0.0) {
        const double p = (counts_[last] + clipped) / total_;
        divergence += p * std::log(p / q);
      }
    }
    return divergence;
  }

 private:
  static constexpr double kInfinity = std::numeric_limits<double>::infinity();
  static int CeilDiv(int64_t a, int b) { return static_cast<int>((a + b - 1) / b); }

  const std::vector<double>& counts_;
  const int levels_;
  std::vector<double> kept_;   // kept_[i]: the mass of the first i bins
  std::vector<double> log_p_;  // log(counts[k] / total) for the non-empty bins
  double total_ = 0.0;
};

}  // namespace

Range PercentileRange(const Histogram& h, double percentile) {
  assert(percentile > 0.0 && percentile <= 100.0);
  if (IsDegenerate(h)) return {h.lo, h.hi};
  const double clipped = static_cast<double>(h.total()) * (100.0 - percentile) / 100.0;
  const double width = h.bin_width();
  const double high_cut = CutLength(h.counts.rbegin(), h.counts.rend(), h.lo >= 0.0f ? clipped : clipped / 2);
  const float max = ClampToHistogram(h, h.hi - high_cut * width);
  if (h.lo >= 0.0f) return {h.lo, max};
  const double low_cut = CutLength(h.counts.begin(), h.counts.end(), clipped / 2);
  return {ClampToHistogram(h, h.lo + low_cut * width), max};
}

Range MseRange(const Histogram& h, int num_bits) {
  if (IsDegenerate(h)) return {h.lo, h.hi};
  const int bins = static_cast<int>(h.counts.size());
  const int levels = 1 << num_bits;
  const double total = static_cast<double>(h.total());
  // PyTorch holds the histogram, and so its running sum, in float32 and compares it with
  // the quantile thresholds in float32. A threshold often lies within float32 rounding of a
  // whole count (q * total with q a multiple of 1e-5), so matching PyTorch's stopping
  // bins needs the same rounding. The sums are exact while the total is below 2^24.
  std::vector<float> cumulative(bins);
  float running_sum = 0.0f;
  for (int k = 0; k < bins; ++k) {
    running_sum += static_cast<float>(h.counts[k]);
    cumulative[k] = running_sum;
  }

  constexpr double kQuantileStep = 1e-5;
  double alpha = 0.0;  // quantile of the lower bound
  double beta = 1.0;   // quantile of the upper bound
  int start = 0;
  int end = bins - 1;
  double best_error = std::numeric_limits<double>::infinity();
  while (alpha < beta) {
    const double next_alpha = alpha + kQuantileStep;
    const double next_beta = beta - kQuantileStep;
    const float low_count = static_cast<float>(next_alpha * total);
    const float high_count = static_cast<float>(next_beta * total);
    int l = start;
    while (l < end && cumulative[l] < low_count) ++l;
    int r = end;
    while (r > start && cumulative[r] > high_count) --r;

    int next_start = start;
    int next_end = end;
    if (l - start > end - r) {
      next_start = l;
      alpha = next_alpha;
    } else {
      next_end = r;
      beta = next_beta;
    }
    if (next_start == start && next_end == end) continue;

    const double error = WindowError(h, next_start, next_end, levels);
    if (error > best_error) break;
    best_error = error;
    start = next_start;
    end = next_end;
  }
  const double width = h.bin_width();
  return {ClampToHistogram(h, h.lo + start * width), ClampToHistogram(h, h.lo + (end + 1) * width)};
}

float KlAmax(const Histogram& abs_hist, int num_quantized_bins) {
  assert(num_quantized_bins >= 2);
  const int bins = static_cast<int>(abs_hist.counts.size());
  if (bins < num_quantized_bins || IsDegenerate(abs_hist)) return abs_hist.hi;
  std::vector<double> counts(abs_hist.counts.begin(), abs_hist.counts.end());
  counts[0] = counts[1];
  if (std::accumulate(counts.begin(), counts.end(), 0.0) == 0.0) return abs_hist.hi;

  const CutDivergence divergence_of(counts, num_quantized_bins);
  int best_cut = bins;
  double best_divergence = std::numeric_limits<double>::infinity();
  for (int cut = num_quantized_bins; cut <= bins; ++cut) {
    const double divergence = divergence_of(cut);
    if (divergence <= best_divergence) {
      best_divergence = divergence;
      best_cut = cut;
    }
  }
  return ClampToHistogram(abs_hist, abs_hist.lo + best_cut * abs_hist.bin_width());
}

}  // namespace qaudit::calib
