// Range search: choosing the calibration that quantizes a model best, measured on held-out
// data. It searches the calibrator, its parameters (percentile, moving-average constant)
// and a clipping fraction of each range (one for all tensors, or one per tensor), by grid
// search or Bayesian optimization (a Gaussian process with expected improvement).
//
// The objective is top-1 accuracy on a validation split (with labels) or the negated mean
// squared error of the outputs against the float model; the validation split must not be
// the data the final figure is reported on.
#ifndef QAUDIT_SEARCH_H_
#define QAUDIT_SEARCH_H_

#include <cstdint>
#include <string>
#include <vector>

#include "qaudit/calibrate.h"
#include "qaudit/executor.h"
#include "qaudit/quantize.h"

namespace qaudit::search {

// One point of the search space.
struct Config {
  Calibrator calibrator = Calibrator::kMinMax;
  double percentile = 99.99;          // kPercentile
  double averaging_constant = 0.01;   // kMovingAverage
  double clip_fraction = 1.0;         // every range scaled by this (towards 0)
  std::vector<double> tensor_clip;    // per tensor (search order), when searched per tensor
};
std::string ConfigToJson(const Config& c);

struct Trial {
  Config config;
  double objective = 0;  // higher is better
  double accuracy = -1;  // when labels were given
  double mse = -1;
  double seconds = 0;
};

enum class Method { kGrid, kBayes };
enum class Objective { kAccuracy, kMse };

struct SearchOptions {
  Method method = Method::kBayes;
  Objective objective = Objective::kAccuracy;
  int trials = 30;  // Bayes: total evaluations (the first few random); grid: the grid's size caps it
  bool per_tensor = false;  // one clipping fraction per tensor instead of one for all
  uint64_t seed = 0;
  QuantizeOptions quantize;  // method int8 or int16x8, granularity, boundaries
  ExecutorOptions executor;
  ProgressFn progress;  // (trials done, trials total)
};

struct SearchResult {
  std::vector<Trial> history;  // in evaluation order
  size_t best = 0;             // index into history
  TensorRanges best_ranges;
};

// The ranges a configuration gives.
Result<TensorRanges> RangesFor(const CalibrationStatistics& stats, const Config& config);

// Searches on `validation` inputs (one batch per graph input). `labels` (one per sample) are
// needed for Objective::kAccuracy; kMse compares with the float model's outputs.
Result<SearchResult> Search(const Graph& float_graph, const CalibrationStatistics& stats,
                            const std::vector<HostTensor>& validation, const std::vector<int32_t>& labels,
                            const SearchOptions& options);

}  // namespace qaudit::search

#endif  // QAUDIT_SEARCH_H_
