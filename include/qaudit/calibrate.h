// Calibration: running a float model on representative data and choosing, for every float
// activation tensor, the range its quantized version will cover.
//
// Statistics are collected once (per-sample min/max of every tensor, and optionally
// histograms) and any calibrator can then pick ranges from them, so an audit that compares
// calibrators runs the float model once (twice when the activations exceed a memory
// budget). Results do not depend on the number of threads: histograms are built over the
// global range found first and merged by addition.
#ifndef QAUDIT_CALIBRATE_H_
#define QAUDIT_CALIBRATE_H_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "qaudit/executor.h"
#include "qaudit/graph.h"
#include "qaudit/status.h"

namespace qaudit {

enum class Calibrator {
  kMinMax,         // TFLite's: the global min and max over every calibration sample
  kMovingAverage,  // PyTorch's MovingAverageMinMaxObserver: an EMA of per-batch min/max
  kPercentile,     // ONNX Runtime / TensorRT: clip a fraction of the histogram's tails
  kMse,            // PyTorch's HistogramObserver: greedy L2-error search over the histogram
  kEntropy,        // TensorRT's entropy calibrator: minimise KL(P||Q) over clipping points
};
inline constexpr Calibrator kAllCalibrators[] = {Calibrator::kMinMax, Calibrator::kMovingAverage,
                                                 Calibrator::kPercentile, Calibrator::kMse, Calibrator::kEntropy};
const char* CalibratorName(Calibrator c);  // "minmax", "moving-average", "percentile", "mse", "entropy"
std::optional<Calibrator> CalibratorFromName(const std::string& name);
// A paragraph for --help: what the calibrator does and where it comes from.
const char* CalibratorDescription(Calibrator c);
bool NeedsHistograms(Calibrator c);

struct CalibratorSettings {
  Calibrator calibrator = Calibrator::kMinMax;
  double percentile = 99.99;         // kPercentile: the share of values kept, in percent
  double averaging_constant = 0.01;  // kMovingAverage: PyTorch's default EMA constant
  int64_t batch_size = 32;           // kMovingAverage: samples per EMA update
};

struct FloatRange {
  float min = 0.0f;
  float max = 0.0f;
};
// Chosen ranges by graph tensor index, for the float activation tensors that were observed.
using TensorRanges = std::map<int, FloatRange>;

struct CollectOptions {
  bool histograms = true;  // needed by kPercentile, kMse and kEntropy
  int bins = 2048;
  int num_threads = 2;
  // Activations of all samples up to this size are kept from the first run to build the
  // histograms; beyond it the model runs a second time instead.
  int64_t memory_budget_bytes = int64_t{1} << 30;
  ProgressFn progress;  // (samples done, samples total) over all runs
};

class CalibrationStatistics {
 public:
  // Runs `float_graph` on `inputs` (batches as Executor::RunBatch takes them). Fails when the
  // data is empty or an activation becomes infinite; NaN values are skipped, as TFLite does,
  // and counted (nan_count()).
  static Result<CalibrationStatistics> Collect(const Graph& float_graph, const std::vector<HostTensor>& inputs,
                                               const CollectOptions& options = {});
  CalibrationStatistics(CalibrationStatistics&&) noexcept;
  CalibrationStatistics& operator=(CalibrationStatistics&&) noexcept;
  ~CalibrationStatistics();

  int64_t samples() const;
  int64_t nan_count() const;
  bool has_histograms() const;
  // The global range of each observed tensor.
  TensorRanges GlobalRanges() const;
  // The ranges a calibrator chooses. Fails for a histogram calibrator without histograms.
  Result<TensorRanges> Ranges(const CalibratorSettings& settings) const;

 private:
  struct Impl;
  explicit CalibrationStatistics(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qaudit

#endif  // QAUDIT_CALIBRATE_H_
