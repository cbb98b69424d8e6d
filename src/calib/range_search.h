// Choosing a clipping range from a histogram of observed values: the calibrators beyond
// TFLite's global min/max. Each function states whose algorithm it reproduces.
#ifndef QAUDIT_SRC_CALIB_RANGE_SEARCH_H_
#define QAUDIT_SRC_CALIB_RANGE_SEARCH_H_

#include <cstdint>
#include <vector>

namespace qaudit::calib {

// Counts of values in equal-width bins over [lo, hi]; values outside fall into the edge
// bins. Histograms with the same lo, hi and bin count merge by adding counts.
// Bin k covers [lo + k * bin_width(), lo + (k + 1) * bin_width()); hi itself falls in the
// last bin. When lo == hi (a constant tensor) every value lands in bin 0.
struct Histogram {
  float lo = 0.0f;
  float hi = 0.0f;
  std::vector<int64_t> counts;

  Histogram() = default;
  // REQUIRES: lo <= hi, bins >= 1.
  Histogram(float lo, float hi, int bins);
  // NaNs are skipped; infinities go to the edge bins.
  void Add(const float* values, int64_t n);
  // REQUIRES: same lo, hi and bin count, or *this is default-constructed (then it becomes
  // a copy of other).
  void Merge(const Histogram& other);
  int64_t total() const;
  double bin_width() const;
};

struct Range {
  float min = 0.0f;
  float max = 0.0f;
};

// The range that clips `100 - percentile` percent of the values (percentile in (0, 100],
// e.g. 99.99). One-sided data (h.lo >= 0, as after a ReLU) keeps h.lo and cuts only the
// upper tail; otherwise half of the clipped mass comes off each tail, as ONNX Runtime's
// asymmetric percentile calibrator does. Unlike ONNX Runtime, which returns the lower edge
// of the bin where the CDF crosses, each bound is interpolated linearly inside its bin
// (values assumed uniform within a bin), and a bound never stops inside a run of empty
// bins: cutting nothing returns the outer edges of the first and last non-empty bins.
// The result lies within [h.lo, h.hi]; an empty or lo == hi histogram gives {lo, hi}.
Range PercentileRange(const Histogram& h, double percentile);

// PyTorch HistogramObserver's L2 range search (`_non_linear_param_search`, a port of
// Caffe2's NormMinimization), for a grid of 2^num_bits levels over the chosen range.
// Starting from the whole histogram it raises a lower quantile bound and lowers an upper
// one in steps of 1e-5, each step moving the side that drops more bins (the upper side on
// a tie), and scores each new window by the expected squared error of quantizing the whole
// histogram to that window, values being uniform within a bin. It stops at the first step
// whose error is strictly greater than the previous one, so the result is a local minimum.
// The bounds are always bin edges: {lo + start * w, lo + (end + 1) * w}. Like PyTorch, the
// quantile thresholds are compared with the running counts in float32 (exact for totals
// below 2^24); the errors are computed in double where PyTorch uses float32.
// An empty or lo == hi histogram gives {lo, hi}.
Range MseRange(const Histogram& h, int num_bits = 8);

// TensorRT's entropy calibrator as NVIDIA pytorch-quantization implements it
// (`_compute_amax_entropy`): the amax whose clipping minimizes KL(P || Q), where P is the
// histogram cut after i bins with the clipped tail added to bin i - 1, and Q is P quantized
// to num_quantized_bins levels (128 for signed 8 bits) and spread back over P's non-zero
// bins. Bin 0 first takes bin 1's count, hiding the zero spike that follows a ReLU.
// Every cut i from num_quantized_bins to the bin count is tried; among equal divergences
// the largest i wins. Returns the upper edge of the last kept bin, lo + i * w.
// `abs_hist` is a histogram of |x|, normally over [0, amax] with 2048 bins. A histogram
// with fewer bins than num_quantized_bins, no counts, or lo == hi returns hi. A cut whose
// first i bins are all empty scores infinity here; the original gets NaN there, which
// numpy's argmin would pick.
float KlAmax(const Histogram& abs_hist, int num_quantized_bins = 128);

}  // namespace qaudit::calib

#endif  // QAUDIT_SRC_CALIB_RANGE_SEARCH_H_
