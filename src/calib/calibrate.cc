#include "qaudit/calibrate.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <thread>

#include "calib/range_search.h"

namespace qaudit {

const char* CalibratorName(Calibrator c) {
  switch (c) {
    case Calibrator::kMinMax: return "minmax";
    case Calibrator::kMovingAverage: return "moving-average";
    case Calibrator::kPercentile: return "percentile";
    case Calibrator::kMse: return "mse";
    case Calibrator::kEntropy: return "entropy";
  }
  return "?";
}

std::optional<Calibrator> CalibratorFromName(const std::string& name) {
  for (Calibrator c : kAllCalibrators) {
    if (name == CalibratorName(c)) return c;
  }
  if (name == "kl") return Calibrator::kEntropy;
  return std::nullopt;
}

const char* CalibratorDescription(Calibrator c) {
  switch (c) {
    case Calibrator::kMinMax:
      return "the global min and max over all calibration samples; what the TFLite converter does "
             "(calibration_logger.cc). One extreme sample fixes the range for good.";
    case Calibrator::kMovingAverage:
      return "an exponential moving average of per-batch min and max (constant 0.01, batches of 32 "
             "samples in data order), as PyTorch's MovingAverageMinMaxObserver.";
    case Calibrator::kPercentile:
      return "keeps the central --percentile percent (default 99.99) of a 2048-bin histogram: the upper "
             "tail only for non-negative tensors, half of the rest from each tail otherwise (ONNX Runtime, "
             "TensorRT).";
    case Calibrator::kMse:
      return "the range that minimises the expected squared quantization error over a 2048-bin histogram, "
             "found by the greedy search of PyTorch's HistogramObserver (Caffe2's NormMinimization).";
    case Calibrator::kEntropy:
      return "the clipping threshold on |x| that minimises KL(P||Q) between the 2048-bin histogram and its "
             "128-level quantized copy: TensorRT's entropy calibrator (pytorch-quantization).";
  }
  return "";
}

bool NeedsHistograms(Calibrator c) {
  return c == Calibrator::kPercentile || c == Calibrator::kMse || c == Calibrator::kEntropy;
}

struct CalibrationStatistics::Impl {
  std::vector<int> tensors;  // observed graph tensors; statistics below are indexed like this
  int64_t samples = 0;
  int64_t nan_count = 0;
  // sample_min[s * tensors.size() + k]: tensor k's minimum on sample s (NaNs skipped; +inf
  // when a sample held only NaNs).
  std::vector<float> sample_min, sample_max;
  std::vector<FloatRange> global;
  std::vector<calib::Histogram> histograms, abs_histograms;
};

CalibrationStatistics::CalibrationStatistics(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
CalibrationStatistics::CalibrationStatistics(CalibrationStatistics&&) noexcept = default;
CalibrationStatistics& CalibrationStatistics::operator=(CalibrationStatistics&&) noexcept = default;
CalibrationStatistics::~CalibrationStatistics() = default;

int64_t CalibrationStatistics::samples() const { return impl_->samples; }
int64_t CalibrationStatistics::nan_count() const { return impl_->nan_count; }
bool CalibrationStatistics::has_histograms() const { return !impl_->histograms.empty(); }

namespace {

struct InfiniteValue {
  int tensor = -1;
  int64_t sample = -1;
};

}  // namespace

Result<CalibrationStatistics> CalibrationStatistics::Collect(const Graph& float_graph,
                                                             const std::vector<HostTensor>& inputs,
                                                             const CollectOptions& options) {
  auto impl = std::make_unique<Impl>();
  for (size_t t = 0; t < float_graph.tensors.size(); ++t) {
    const Tensor& tensor = float_graph.tensors[t];
    if (tensor.dtype == DType::kFloat32 && !tensor.is_constant) impl->tensors.push_back(static_cast<int>(t));
  }
  for (const HostTensor& in : inputs) {
    if (in.shape.empty() || in.shape[0] == 0) return Status::InvalidArgument("the calibration data holds no samples");
  }
  ExecutorOptions exec_options;
  exec_options.num_threads = std::max(1, options.num_threads);
  QAUDIT_ASSIGN_OR_RETURN(std::unique_ptr<Executor> executor, Executor::Create(float_graph, exec_options));
  const int workers = exec_options.num_threads;
  const size_t num_tensors = impl->tensors.size();
  const int64_t samples = inputs.empty() ? 1 : inputs[0].shape[0];
  // Pass 1: per-sample min and max of every observed tensor. When the activations of all
  // samples fit the memory budget they are kept, so that the histograms need no second run.
  int64_t bytes_per_sample = 0;
  std::vector<int64_t> offset_in_sample;
  for (int t : impl->tensors) {
    offset_in_sample.push_back(bytes_per_sample);
    bytes_per_sample += float_graph.tensors[t].num_elements() * static_cast<int64_t>(sizeof(float));
  }
  const bool keep = options.histograms && bytes_per_sample * samples <= options.memory_budget_bytes;
  std::vector<float> kept(keep ? bytes_per_sample / sizeof(float) * samples : 0);
  const int passes = options.histograms && !keep ? 2 : 1;
  auto pass_progress = [&](int pass) -> ProgressFn {
    if (!options.progress) return {};
    return [&, pass](int64_t done, int64_t total) { options.progress(pass * total + done, passes * total); };
  };
  impl->sample_min.assign(samples * num_tensors, std::numeric_limits<float>::infinity());
  impl->sample_max.assign(samples * num_tensors, -std::numeric_limits<float>::infinity());
  std::vector<int64_t> nans(workers, 0);
  std::vector<InfiniteValue> infinite(workers);
  auto observe_range = [&](int worker, int64_t sample, const std::vector<const void*>& data) {
    for (size_t k = 0; k < num_tensors; ++k) {
      const int t = impl->tensors[k];
      const float* v = static_cast<const float*>(data[t]);
      const int64_t n = float_graph.tensors[t].num_elements();
      if (keep) {
        std::memcpy(&kept[(sample * bytes_per_sample + offset_in_sample[k]) / sizeof(float)], v, n * sizeof(float));
      }
      float lo = std::numeric_limits<float>::infinity(), hi = -lo;
      int64_t nan = 0;
      for (int64_t i = 0; i < n; ++i) {
        if (std::isnan(v[i])) {
          ++nan;
          continue;
        }
        lo = std::min(lo, v[i]);
        hi = std::max(hi, v[i]);
      }
      nans[worker] += nan;
      if ((std::isinf(lo) && lo < 0) || (std::isinf(hi) && hi > 0)) {
        if (infinite[worker].tensor < 0) infinite[worker] = {t, sample};
      }
      impl->sample_min[sample * num_tensors + k] = lo;
      impl->sample_max[sample * num_tensors + k] = hi;
    }
  };
  QAUDIT_RETURN_IF_ERROR(executor->RunBatch(inputs, pass_progress(0), observe_range).status());
  for (const InfiniteValue& inf : infinite) {
    if (inf.tensor < 0) continue;
    return Status::InvalidArgument("calibration sample " + std::to_string(inf.sample) + " drives tensor " +
                                   std::to_string(inf.tensor) + " '" + float_graph.tensors[inf.tensor].name +
                                   "' to infinity; a range cannot be chosen (check the data's scale)");
  }
  for (int64_t n : nans) impl->nan_count += n;
  impl->samples = samples;
  impl->global.resize(num_tensors);
  for (size_t k = 0; k < num_tensors; ++k) {
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (int64_t s = 0; s < samples; ++s) {
      lo = std::min(lo, impl->sample_min[s * num_tensors + k]);
      hi = std::max(hi, impl->sample_max[s * num_tensors + k]);
    }
    if (lo > hi) lo = hi = 0.0f;  // only NaNs seen
    impl->global[k] = {lo, hi};
  }
  if (!options.histograms) return CalibrationStatistics(std::move(impl));

  // Histograms over the global ranges: of x (percentile, MSE) and of |x| (entropy).
  for (size_t k = 0; k < num_tensors; ++k) {
    const FloatRange r = impl->global[k];
    impl->histograms.emplace_back(r.min, r.max, options.bins);
    impl->abs_histograms.emplace_back(0.0f, std::max(std::fabs(r.min), std::fabs(r.max)), options.bins);
  }
  auto add = [](calib::Histogram& hist, calib::Histogram& abs_hist, const float* v, int64_t n,
                std::vector<float>& scratch) {
    hist.Add(v, n);
    scratch.resize(n);
    for (int64_t i = 0; i < n; ++i) scratch[i] = std::fabs(v[i]);
    abs_hist.Add(scratch.data(), n);
  };
  if (keep) {
    // Each worker owns whole tensors, so no merging is needed.
    std::vector<std::thread> pool;
    for (int w = 0; w < workers; ++w) {
      pool.emplace_back([&, w] {
        std::vector<float> scratch;
        for (size_t k = w; k < num_tensors; k += workers) {
          const int64_t n = float_graph.tensors[impl->tensors[k]].num_elements();
          for (int64_t s = 0; s < samples; ++s) {
            add(impl->histograms[k], impl->abs_histograms[k],
                &kept[(s * bytes_per_sample + offset_in_sample[k]) / sizeof(float)], n, scratch);
          }
        }
      });
    }
    for (std::thread& t : pool) t.join();
    return CalibrationStatistics(std::move(impl));
  }
  // Too many activations to keep: run the model again, one set of histograms per worker,
  // merged by addition.
  std::vector<std::vector<calib::Histogram>> hist(workers, impl->histograms), abs_hist(workers, impl->abs_histograms);
  std::vector<std::vector<float>> scratch(workers);
  auto observe_histogram = [&](int worker, int64_t, const std::vector<const void*>& data) {
    for (size_t k = 0; k < num_tensors; ++k) {
      const int t = impl->tensors[k];
      add(hist[worker][k], abs_hist[worker][k], static_cast<const float*>(data[t]), float_graph.tensors[t].num_elements(),
          scratch[worker]);
    }
  };
  QAUDIT_RETURN_IF_ERROR(executor->RunBatch(inputs, pass_progress(1), observe_histogram).status());
  for (int w = 0; w < workers; ++w) {
    for (size_t k = 0; k < num_tensors; ++k) {
      impl->histograms[k].Merge(hist[w][k]);
      impl->abs_histograms[k].Merge(abs_hist[w][k]);
    }
  }
  return CalibrationStatistics(std::move(impl));
}

TensorRanges CalibrationStatistics::GlobalRanges() const {
  TensorRanges ranges;
  for (size_t k = 0; k < impl_->tensors.size(); ++k) ranges[impl_->tensors[k]] = impl_->global[k];
  return ranges;
}

namespace {

// PyTorch's MovingAverageMinMaxObserver over consecutive batches: the first batch sets the
// range, each later one moves it by `constant` times the difference.
FloatRange MovingAverage(const float* sample_min, const float* sample_max, size_t stride, int64_t samples,
                         int64_t batch_size, double constant) {
  FloatRange range;
  bool first = true;
  for (int64_t begin = 0; begin < samples; begin += batch_size) {
    float lo = std::numeric_limits<float>::infinity(), hi = -lo;
    for (int64_t s = begin; s < std::min(samples, begin + batch_size); ++s) {
      lo = std::min(lo, sample_min[s * stride]);
      hi = std::max(hi, sample_max[s * stride]);
    }
    if (lo > hi) continue;  // a batch of NaNs only
    if (first) {
      range = {lo, hi};
      first = false;
    } else {
      range.min = static_cast<float>(range.min + constant * (lo - range.min));
      range.max = static_cast<float>(range.max + constant * (hi - range.max));
    }
  }
  return range;
}

}  // namespace

Result<TensorRanges> CalibrationStatistics::Ranges(const CalibratorSettings& settings) const {
  const Impl& s = *impl_;
  if (NeedsHistograms(settings.calibrator) && !has_histograms()) {
    return Status::InvalidArgument(std::string("the ") + CalibratorName(settings.calibrator) +
                                   " calibrator needs histograms, which were not collected");
  }
  if (settings.calibrator == Calibrator::kPercentile && !(settings.percentile > 0 && settings.percentile <= 100)) {
    return Status::InvalidArgument("percentile " + std::to_string(settings.percentile) + " is not in (0, 100]");
  }
  if (settings.calibrator == Calibrator::kMovingAverage &&
      (settings.batch_size < 1 || !(settings.averaging_constant > 0 && settings.averaging_constant <= 1))) {
    return Status::InvalidArgument("the moving average needs a batch size >= 1 and a constant in (0, 1]");
  }
  TensorRanges ranges;
  const size_t n = s.tensors.size();
  for (size_t k = 0; k < n; ++k) {
    const FloatRange global = s.global[k];
    FloatRange r = global;
    switch (settings.calibrator) {
      case Calibrator::kMinMax: break;
      case Calibrator::kMovingAverage:
        r = MovingAverage(&s.sample_min[k], &s.sample_max[k], n, s.samples, settings.batch_size,
                          settings.averaging_constant);
        break;
      case Calibrator::kPercentile: {
        const calib::Range p = calib::PercentileRange(s.histograms[k], settings.percentile);
        r = {p.min, p.max};
        break;
      }
      case Calibrator::kMse: {
        const calib::Range m = calib::MseRange(s.histograms[k]);
        r = {m.min, m.max};
        break;
      }
      case Calibrator::kEntropy: {
        // TensorRT's calibrator is symmetric on |x|; the clip applies to whichever ends
        // the data reaches.
        const float amax = calib::KlAmax(s.abs_histograms[k]);
        r = {std::max(global.min, -amax), std::min(global.max, amax)};
        break;
      }
    }
    ranges[s.tensors[k]] = r;
  }
  return ranges;
}

}  // namespace qaudit
