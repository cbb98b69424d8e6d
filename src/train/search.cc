#include "qaudit/search.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <random>

namespace qaudit::search {

std::string ConfigToJson(const Config& c) {
  char buf[256];
  std::snprintf(buf, sizeof(buf), "{\"calibrator\":\"%s\",\"percentile\":%.6g,\"averaging_constant\":%.6g,\"clip_fraction\":%.6g",
                CalibratorName(c.calibrator), c.percentile, c.averaging_constant, c.clip_fraction);
  std::string json = buf;
  if (!c.tensor_clip.empty()) {
    json += ",\"tensor_clip\":[";
    for (size_t i = 0; i < c.tensor_clip.size(); ++i) {
      std::snprintf(buf, sizeof(buf), "%s%.4g", i ? "," : "", c.tensor_clip[i]);
      json += buf;
    }
    json += "]";
  }
  return json + "}";
}

Result<TensorRanges> RangesFor(const CalibrationStatistics& stats, const Config& config) {
  CalibratorSettings settings;
  settings.calibrator = config.calibrator;
  settings.percentile = config.percentile;
  settings.averaging_constant = config.averaging_constant;
  QAUDIT_ASSIGN_OR_RETURN(TensorRanges ranges, stats.Ranges(settings));
  size_t k = 0;
  for (auto& [tensor, range] : ranges) {
    const double f = config.clip_fraction * (k < config.tensor_clip.size() ? config.tensor_clip[k] : 1.0);
    range.min = static_cast<float>(range.min * f);
    range.max = static_cast<float>(range.max * f);
    ++k;
  }
  return ranges;
}

namespace {

// The search space as a vector in [0, 1]^d: the calibrator one-hot (5), the percentile,
// the averaging constant, the global clip fraction, then one clip fraction per tensor.
constexpr int kFixedDims = static_cast<int>(std::size(kAllCalibrators)) + 3;

Config Decode(const std::vector<double>& u) {
  Config c;
  size_t best = 0;
  for (size_t i = 1; i < std::size(kAllCalibrators); ++i) {
    if (u[i] > u[best]) best = i;
  }
  c.calibrator = kAllCalibrators[best];
  const int p = static_cast<int>(std::size(kAllCalibrators));
  c.percentile = 100.0 - 0.1 * std::pow(10.0, -3.0 * u[p]);        // 99.9 .. 99.9999
  c.averaging_constant = std::pow(10.0, -3.0 + 2.0 * u[p + 1]);    // 0.001 .. 0.1
  c.clip_fraction = 0.5 + 0.5 * u[p + 2];                           // 0.5 .. 1
  for (size_t i = kFixedDims; i < u.size(); ++i) c.tensor_clip.push_back(0.5 + 0.5 * u[i]);
  return c;
}

std::vector<double> RandomPoint(std::mt19937_64& rng, size_t dims) {
  std::uniform_real_distribution<double> uniform(0.0, 1.0);
  std::vector<double> u(dims);
  for (double& x : u) x = uniform(rng);
  // A clean one-hot for the calibrator, so the GP sees categories as corners.
  std::uniform_int_distribution<int> category(0, static_cast<int>(std::size(kAllCalibrators)) - 1);
  const int chosen = category(rng);
  for (int i = 0; i < static_cast<int>(std::size(kAllCalibrators)); ++i) u[i] = i == chosen ? 1.0 : 0.0;
  return u;
}

// A Gaussian process with a squared-exponential kernel over [0, 1]^d (length scale chosen
// by marginal likelihood from a few values), on standardised objectives; expected
// improvement picks the next point among random candidates.
class GaussianProcess {
 public:
  void Fit(const std::vector<std::vector<double>>& x, const std::vector<double>& y) {
    x_ = x;
    mean_ = 0;
    for (double v : y) mean_ += v;
    mean_ /= y.size();
    double var = 0;
    for (double v : y) var += (v - mean_) * (v - mean_);
    scale_ = std::sqrt(var / y.size()) + 1e-12;
    y_.clear();
    for (double v : y) y_.push_back((v - mean_) / scale_);
    double best_likelihood = -INFINITY;
    for (double length : {0.1, 0.2, 0.4, 0.8}) {
      length_ = length;
      const double l = Factor();
      if (l > best_likelihood) {
        best_likelihood = l;
        best_length_ = length;
      }
    }
    length_ = best_length_;
    Factor();
  }

  // Expected improvement over `best` (in the objective's units) at point u.
  double ExpectedImprovement(const std::vector<double>& u, double best) const {
    const size_t n = x_.size();
    std::vector<double> k(n);
    for (size_t i = 0; i < n; ++i) k[i] = Kernel(u, x_[i]);
    double mu = 0;
    for (size_t i = 0; i < n; ++i) mu += k[i] * alpha_[i];
    const std::vector<double> v = SolveLower(k);
    double var = 1.0;
    for (double vi : v) var -= vi * vi;
    const double sigma = std::sqrt(std::max(var, 1e-12));
    const double z = (mu - (best - mean_) / scale_) / sigma;
    const double pdf = std::exp(-0.5 * z * z) / std::sqrt(2 * M_PI);
    const double cdf = 0.5 * std::erfc(-z / std::sqrt(2.0));
    return sigma * (z * cdf + pdf);
  }

 private:
  double Kernel(const std::vector<double>& a, const std::vector<double>& b) const {
    double d2 = 0;
    for (size_t i = 0; i < a.size(); ++i) d2 += (a[i] - b[i]) * (a[i] - b[i]);
    return std::exp(-0.5 * d2 / (length_ * length_));
  }
  // Cholesky factor of K + noise, alpha = K^-1 y; returns the log marginal likelihood.
  double Factor() {
    const size_t n = x_.size();
    chol_.assign(n * n, 0.0);
    for (size_t i = 0; i < n; ++i) {
      for (size_t j = 0; j <= i; ++j) {
        double s = Kernel(x_[i], x_[j]) + (i == j ? 1e-4 : 0.0);
        for (size_t k = 0; k < j; ++k) s -= chol_[i * n + k] * chol_[j * n + k];
        chol_[i * n + j] = i == j ? std::sqrt(std::max(s, 1e-12)) : s / chol_[j * n + j];
      }
    }
    const std::vector<double> z = SolveLower(y_);
    alpha_.assign(n, 0.0);
    for (size_t ii = n; ii-- > 0;) {
      double s = z[ii];
      for (size_t k = ii + 1; k < n; ++k) s -= chol_[k * n + ii] * alpha_[k];
      alpha_[ii] = s / chol_[ii * n + ii];
    }
    double likelihood = 0;
    for (size_t i = 0; i < n; ++i) likelihood -= 0.5 * y_[i] * alpha_[i] + std::log(chol_[i * n + i]);
    return likelihood;
  }
  std::vector<double> SolveLower(const std::vector<double>& b) const {
    const size_t n = x_.size();
    std::vector<double> z(n);
    for (size_t i = 0; i < n; ++i) {
      double s = b[i];
      for (size_t k = 0; k < i; ++k) s -= chol_[i * n + k] * z[k];
      z[i] = s / chol_[i * n + i];
    }
    return z;
  }

  std::vector<std::vector<double>> x_;
  std::vector<double> y_, alpha_, chol_;
  double mean_ = 0, scale_ = 1, length_ = 0.4, best_length_ = 0.4;
};

class Evaluator {
 public:
  Evaluator(const Graph& g, const CalibrationStatistics& stats, const std::vector<HostTensor>& validation,
            const std::vector<int32_t>& labels, const SearchOptions& options)
      : graph_(g), stats_(stats), validation_(validation), labels_(labels), options_(options) {}

  Status Init() {
    if (options_.objective == Objective::kAccuracy && labels_.empty()) {
      return Status::InvalidArgument("the accuracy objective needs labelled validation data (or use the mse objective)");
    }
    QAUDIT_ASSIGN_OR_RETURN(auto executor, Executor::Create(graph_, options_.executor));
    QAUDIT_ASSIGN_OR_RETURN(auto outputs, executor->RunBatch(validation_));
    reference_ = std::move(outputs[0]);
    if (reference_.dtype != DType::kFloat32) return Status::InvalidArgument("the model to search must be float");
    return Status::Ok();
  }

  Result<Trial> Evaluate(const Config& config) {
    const auto start = std::chrono::steady_clock::now();
    QAUDIT_ASSIGN_OR_RETURN(TensorRanges ranges, RangesFor(stats_, config));
    QuantizeOptions q = options_.quantize;
    q.input_type = q.output_type = DType::kFloat32;  // the boundary type does not change the numbers
    QAUDIT_ASSIGN_OR_RETURN(QuantizedModel model, Quantize(graph_, q, &ranges));
    QAUDIT_ASSIGN_OR_RETURN(auto executor, Executor::Create(std::move(model.graph), options_.executor));
    QAUDIT_ASSIGN_OR_RETURN(auto outputs, executor->RunBatch(validation_));
    const HostTensor& out = outputs[0];
    const int64_t samples = validation_[0].shape[0];
    const int64_t per = out.num_elements() / samples;
    Trial t;
    t.config = config;
    double se = 0;
    for (int64_t i = 0; i < out.num_elements(); ++i) {
      const double d = out.data<float>()[i] - reference_.data<float>()[i];
      se += d * d;
    }
    t.mse = se / out.num_elements();
    if (!labels_.empty()) {
      int64_t correct = 0;
      for (int64_t s = 0; s < samples; ++s) {
        const float* v = out.data<float>() + s * per;
        correct += std::max_element(v, v + per) - v == labels_[s];
      }
      t.accuracy = static_cast<double>(correct) / samples;
    }
    t.objective = options_.objective == Objective::kAccuracy ? t.accuracy : -t.mse;
    t.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return t;
  }

 private:
  const Graph& graph_;
  const CalibrationStatistics& stats_;
  const std::vector<HostTensor>& validation_;
  const std::vector<int32_t>& labels_;
  const SearchOptions& options_;
  HostTensor reference_;
};

std::vector<Config> GridConfigs() {
  std::vector<Config> grid;
  for (Calibrator c : kAllCalibrators) {
    const std::vector<double> percentiles = c == Calibrator::kPercentile ? std::vector<double>{99.9, 99.99, 99.999}
                                                                         : std::vector<double>{99.99};
    for (double p : percentiles) {
      for (double f : {1.0, 0.95, 0.9, 0.8, 0.7, 0.6}) {
        Config config;
        config.calibrator = c;
        config.percentile = p;
        config.clip_fraction = f;
        grid.push_back(config);
      }
    }
  }
  return grid;
}

}  // namespace

Result<SearchResult> Search(const Graph& float_graph, const CalibrationStatistics& stats,
                            const std::vector<HostTensor>& validation, const std::vector<int32_t>& labels,
                            const SearchOptions& options) {
  if (options.trials < 1) return Status::InvalidArgument("the search needs at least one trial");
  if (validation.empty() || validation[0].shape.empty() || validation[0].shape[0] == 0) {
    return Status::InvalidArgument("the validation data holds no samples");
  }
  if (!labels.empty() && static_cast<int64_t>(labels.size()) != validation[0].shape[0]) {
    return Status::InvalidArgument("the validation data has " + std::to_string(validation[0].shape[0]) +
                                   " samples but " + std::to_string(labels.size()) + " labels");
  }
  Evaluator evaluator(float_graph, stats, validation, labels, options);
  QAUDIT_RETURN_IF_ERROR(evaluator.Init());
  SearchResult result;
  const size_t tensors = stats.GlobalRanges().size();
  auto record = [&](Trial t) {
    result.history.push_back(std::move(t));
    if (result.history.back().objective > result.history[result.best].objective) result.best = result.history.size() - 1;
    if (options.progress) options.progress(static_cast<int64_t>(result.history.size()), options.trials);
  };

  if (options.method == Method::kGrid) {
    std::vector<Config> grid = GridConfigs();
    for (size_t i = 0; i < grid.size() && static_cast<int>(result.history.size()) < options.trials; ++i) {
      QAUDIT_ASSIGN_OR_RETURN(Trial t, evaluator.Evaluate(grid[i]));
      record(std::move(t));
    }
    // Per tensor: coordinate descent from the best global configuration.
    if (options.per_tensor) {
      Config current = result.history[result.best].config;
      current.tensor_clip.assign(tensors, 1.0);
      for (size_t k = 0; k < tensors && static_cast<int>(result.history.size()) < options.trials; ++k) {
        for (double f : {0.9, 0.8, 0.7}) {
          if (static_cast<int>(result.history.size()) >= options.trials) break;
          Config candidate = result.history[result.best].config;
          if (candidate.tensor_clip.empty()) candidate.tensor_clip.assign(tensors, 1.0);
          candidate.tensor_clip[k] = f;
          QAUDIT_ASSIGN_OR_RETURN(Trial t, evaluator.Evaluate(candidate));
          record(std::move(t));
        }
      }
    }
  } else {
    std::mt19937_64 rng(options.seed);
    const size_t dims = kFixedDims + (options.per_tensor ? tensors : 0);
    std::vector<std::vector<double>> points;
    std::vector<double> values;
    // TFLite's configuration first (min/max, no clipping): the baseline every search beats or keeps.
    std::vector<double> baseline(dims, 1.0);
    for (int i = 0; i < static_cast<int>(std::size(kAllCalibrators)); ++i) baseline[i] = i == 0 ? 1.0 : 0.0;
    const int initial = std::min(options.trials, std::max(3, options.trials / 4));
    for (int trial = 0; trial < options.trials; ++trial) {
      std::vector<double> u;
      if (trial == 0) {
        u = baseline;
      } else if (trial < initial) {
        u = RandomPoint(rng, dims);
      } else {
        GaussianProcess gp;
        gp.Fit(points, values);
        const double best = *std::max_element(values.begin(), values.end());
        double best_ei = -1;
        for (int c = 0; c < 2000; ++c) {
          std::vector<double> candidate = RandomPoint(rng, dims);
          const double ei = gp.ExpectedImprovement(candidate, best);
          if (ei > best_ei) {
            best_ei = ei;
            u = std::move(candidate);
          }
        }
      }
      QAUDIT_ASSIGN_OR_RETURN(Trial t, evaluator.Evaluate(Decode(u)));
      points.push_back(u);
      values.push_back(t.objective);
      record(std::move(t));
    }
  }
  QAUDIT_ASSIGN_OR_RETURN(result.best_ranges, RangesFor(stats, result.history[result.best].config));
  return result;
}

}  // namespace qaudit::search
