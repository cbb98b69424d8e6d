// RunAudit: loads the models and data, quantizes each model once per (method, calibration
// set), evaluates every cell against the float model on the same samples, times the
// methods, runs the per-layer debugger, and judges the documented claims.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <ctime>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <tuple>

#include "audit/claims.h"
#include "audit/variants.h"
#include "core/values.h"
#include "core/file_io.h"
#include "core/sha256.h"
#include "qaudit/audit.h"
#include "qaudit/data.h"
#include "qaudit/qat.h"
#include "qaudit/tflite.h"
#include "qaudit/train.h"

#ifndef QAUDIT_VERSION
#define QAUDIT_VERSION "unknown"
#endif

namespace qaudit::audit {
namespace {

using Clock = std::chrono::steady_clock;
constexpr int kMaxFlipsListed = 100;
constexpr int kQatBatch = 128;
constexpr float kQatLearningRate = 1e-4f;
constexpr int64_t kDebugDeploymentSamples = 2000;

// A model's answers on one data set (output 0, real values).
struct Predictions {
  std::vector<float> scores;  // [N, classes]
  int64_t classes = 0;
  std::vector<int32_t> top1;
  std::vector<uint8_t> correct, correct5;
};

struct ModelState {
  std::string label, path;
  Graph graph;
  int64_t bytes = 0;
  std::string sha256;
  InputSpec input;
  LabelledBatch eval;  // clean
  float low = 0, high = 0;
  std::map<Variant, LabelledBatch> variants;
  std::map<Variant, Predictions> float_predictions;
  LabelledBatch pool;   // calibration pool
  LabelledBatch train;  // QAT data; empty without training data
  std::map<std::string, CalibrationStatistics> statistics;  // by calibration label
  std::map<std::string, LabelledBatch> calibration_sets;
  // The float model on input clamped to a range, shared by the jobs whose quantized input
  // has that range (most calibrators agree on the input's).
  mutable std::mutex clamped_mutex;
  mutable std::map<std::tuple<Variant, float, float>, std::shared_ptr<const Predictions>> clamped;
};

struct Evaluation {
  Numerics numerics;
  Variant variant;
  bool operator<(const Evaluation& o) const {
    return std::pair(static_cast<int>(numerics), static_cast<int>(variant)) <
           std::pair(static_cast<int>(o.numerics), static_cast<int>(o.variant));
  }
};

// One quantized model and everything measured on it.
struct Job {
  int model = 0;
  MethodSpec method;
  bool calibrated = false;
  CalibrationSpec calibration;
  std::set<Evaluation> evaluations;
  // results
  Status status;
  QuantizedModel quantized;
  int64_t bytes = 0;
  bool input_quantized = false;
  FloatRange input_range;
  std::map<Evaluation, CellResult> cells;  // model/experiment fields filled later
  std::map<Evaluation, std::vector<uint8_t>> correct;
  std::string Key() const { return method.label + "|" + (calibrated ? calibration.Label() : ""); }
};

double Mean(const std::vector<uint8_t>& v) {
  int64_t sum = 0;
  for (uint8_t x : v) sum += x;
  return v.empty() ? 0 : static_cast<double>(sum) / v.size();
}

Result<Predictions> Predict(const Executor& executor, const LabelledBatch& data, const ProgressFn& progress) {
  QAUDIT_ASSIGN_OR_RETURN(auto outputs, executor.RunBatch({data.samples}, progress));
  const Graph& g = executor.graph();
  const Tensor& out = g.tensors[g.outputs[0]];
  Predictions p;
  p.scores = RealValues(outputs[0], out.quant);
  const int64_t n = data.size();
  p.classes = n > 0 ? static_cast<int64_t>(p.scores.size()) / n : 0;
  if (p.classes < 2) return Status::Unsupported("output 0 of " + std::string(out.name) + " has " +
                                                std::to_string(p.classes) + " values per sample; the audit needs class scores");
  for (int64_t s = 0; s < n; ++s) {
    const float* row = p.scores.data() + s * p.classes;
    const int32_t best = static_cast<int32_t>(ArgMax(row, p.classes));
    p.top1.push_back(best);
    if (data.labels.empty()) continue;
    const int32_t label = data.labels[s];
    if (label < 0 || label >= p.classes) {
      return Status::InvalidArgument("sample " + std::to_string(s) + " has label " + std::to_string(label) +
                                     " but the model scores " + std::to_string(p.classes) + " classes");
    }
    p.correct.push_back(best == label);
    int64_t above = 0;  // classes scoring higher than the true one
    for (int64_t c = 0; c < p.classes; ++c) above += row[c] > row[label];
    p.correct5.push_back(above < 5);
  }
  return p;
}

CellResult Compare(const Predictions& f, const Predictions& q, const LabelledBatch& data, const Plan& plan,
                   uint64_t seed) {
  CellResult c;
  c.samples = data.size();
  c.top1 = Mean(q.correct);
  c.float_top1 = Mean(f.correct);
  if (q.classes >= 6) {
    c.top5 = Mean(q.correct5);
    c.float_top5 = Mean(f.correct5);
  }
  c.delta_top1 = stats::PairedBootstrapDelta(f.correct, q.correct, plan.confidence, plan.resamples, seed);
  c.mcnemar = stats::McNemar(f.correct, q.correct);
  int64_t agree = 0;
  for (size_t i = 0; i < q.top1.size(); ++i) agree += q.top1[i] == f.top1[i];
  c.agreement = q.top1.empty() ? 0 : static_cast<double>(agree) / q.top1.size();
  double signal = 0, noise = 0;
  for (size_t i = 0; i < f.scores.size(); ++i) {
    const double d = static_cast<double>(f.scores[i]) - q.scores[i];
    signal += static_cast<double>(f.scores[i]) * f.scores[i];
    noise += d * d;
  }
  c.sqnr_db = noise == 0 ? INFINITY : 10 * std::log10(signal / noise);
  std::vector<int64_t> count(q.classes, 0), right(q.classes, 0), float_right(q.classes, 0);
  for (int64_t s = 0; s < c.samples; ++s) {
    const int32_t label = data.labels[s];
    if (label >= 0 && label < q.classes) {
      ++count[label];
      right[label] += q.correct[s];
      float_right[label] += f.correct[s];
    }
    if (f.correct[s] && !q.correct[s]) {
      if (c.flipped_to_wrong_count++ < kMaxFlipsListed) c.flipped_to_wrong.push_back(s);
    } else if (!f.correct[s] && q.correct[s]) {
      if (c.flipped_to_right_count++ < kMaxFlipsListed) c.flipped_to_right.push_back(s);
    }
  }
  for (int64_t k = 0; k < q.classes; ++k) {
    c.per_class_top1.push_back(count[k] ? static_cast<double>(right[k]) / count[k] : -1);
    c.float_per_class_top1.push_back(count[k] ? static_cast<double>(float_right[k]) / count[k] : -1);
  }
  return c;
}

// The real-valued range the quantized model's input can represent, when a QUANTIZE reads
// the float input.
bool QuantizedInputRange(const Graph& g, FloatRange* range) {
  const int input = g.inputs[0];
  for (const Operator& op : g.operators) {
    if (op.kind != OpKind::kQuantize || op.inputs.empty() || op.inputs[0] != input) continue;
    const Tensor& t = g.tensors[op.outputs[0]];
    if (!t.quant.has_scale()) return false;
    const double lo = t.dtype == DType::kInt16 ? -32768 : (t.dtype == DType::kUInt8 ? 0 : -128);
    const double hi = t.dtype == DType::kInt16 ? 32767 : (t.dtype == DType::kUInt8 ? 255 : 127);
    range->min = static_cast<float>((lo - t.quant.zero_point_at(0)) * t.quant.scale[0]);
    range->max = static_cast<float>((hi - t.quant.zero_point_at(0)) * t.quant.scale[0]);
    return true;
  }
  return false;
}

Result<LabelledBatch> LoadFitted(const std::string& spec, const InputSpec& input, const std::string& preprocess_text,
                                 bool need_labels) {
  QAUDIT_ASSIGN_OR_RETURN(Preprocess pre, ParsePreprocess(preprocess_text));
  pre = PreprocessFor(input, pre);
  QAUDIT_ASSIGN_OR_RETURN(Dataset d, LoadDataset(spec, pre));
  if (need_labels && d.labels.empty()) {
    return Status::InvalidArgument(spec + ": the audit needs labelled data (fmnist, class folders, npz with y, IDX with labels)");
  }
  LabelledBatch b;
  QAUDIT_ASSIGN_OR_RETURN(b.samples, FitToInput(d, input, pre));
  b.labels = std::move(d.labels);
  return b;
}

// `count` indices of [0, n) without replacement, in a seeded random order (Fisher-Yates).
std::vector<int64_t> Draw(int64_t n, int64_t count, uint64_t seed) {
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  Random random(seed);
  count = std::min(count, n);
  for (int64_t i = 0; i < count; ++i) std::swap(order[i], order[i + random.Below(n - i)]);
  order.resize(count);
  return order;
}

Result<LabelledBatch> CalibrationSet(const ModelState& m, const CalibrationSpec& spec, const Plan& plan) {
  std::vector<int64_t> candidates;
  for (int64_t i = 0; i < m.pool.size(); ++i) {
    if (spec.classes.empty() ||
        (!m.pool.labels.empty() &&
         std::find(spec.classes.begin(), spec.classes.end(), m.pool.labels[i]) != spec.classes.end())) {
      candidates.push_back(i);
    }
  }
  if (candidates.empty()) return Status::InvalidArgument("calibration set '" + spec.Label() + "': no pool sample has those classes");
  const uint64_t seed = HashText("calibration " + spec.Label(), plan.seed);
  std::vector<int64_t> picked;
  for (int64_t k : Draw(static_cast<int64_t>(candidates.size()), spec.size < 0 ? INT64_MAX : spec.size, seed)) {
    picked.push_back(candidates[k]);
  }
  std::sort(picked.begin(), picked.end());
  LabelledBatch set = TakeSamples(m.pool, picked);
  if (spec.outliers == 0) return set;
  // Contaminating samples: pool samples scaled far beyond the data's range (e.g. a sensor
  // glitch or a wrongly normalised image slipped into the representative set).
  Random random(seed ^ 0x5bd1e995);
  std::vector<int64_t> extra;
  for (int k = 0; k < spec.outliers; ++k) extra.push_back(random.Below(m.pool.size()));
  LabelledBatch outliers = TakeSamples(m.pool, extra);
  float* v = outliers.samples.data<float>();
  for (int64_t i = 0; i < outliers.samples.num_elements(); ++i) {
    v[i] = static_cast<float>(v[i] * plan.shifts.calibration_outlier_value);
  }
  set.samples.shape[0] += outliers.size();
  set.samples.bytes.insert(set.samples.bytes.end(), outliers.samples.bytes.begin(), outliers.samples.bytes.end());
  set.labels.insert(set.labels.end(), outliers.labels.begin(), outliers.labels.end());
  return set;
}

std::string HashBatch(const LabelledBatch& b) {
  Sha256 h;
  h.Update(b.samples.bytes.data(), b.samples.bytes.size());
  h.Update(b.labels.data(), b.labels.size() * sizeof(int32_t));
  return h.HexDigest();
}

std::string HashBytes(const std::vector<uint8_t>& bytes) {
  Sha256 h;
  h.Update(bytes.data(), bytes.size());
  return h.HexDigest();
}

std::string MachineDescription(int threads) {
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string line, model = "unknown CPU";
  while (std::getline(cpuinfo, line)) {
    if (line.rfind("model name", 0) == 0 && model == "unknown CPU") model = line.substr(line.find(':') + 2);
  }
  return model + "; " + std::to_string(std::thread::hardware_concurrency()) + " hardware threads; " +
         std::to_string(threads) + " used; fast kernels: " + FastKernelInstructions();
}

std::string NowUtc() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[32];
  std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

bool AppliesTo(const Experiment& e, const std::string& model) {
  return e.models.empty() || std::find(e.models.begin(), e.models.end(), model) != e.models.end();
}

Result<QuantizedModel> TrainQat(const ModelState& m, const MethodSpec& spec, const Plan& plan, int threads,
                                const ProgressFn& progress) {
  if (m.train.size() == 0) return Status::InvalidArgument(spec.label + ": QAT needs training data (--train-data)");
  QAUDIT_ASSIGN_OR_RETURN(train::ImportedModel imported, train::FromGraph(m.graph, threads));
  qat::QatOptions options;
  options.range_mode = qat::RangeMode::kMovingAverage;
  options.ema_decay = spec.qat_ema_decay;
  options.tfmot_initial_range = spec.qat_tfmot_init;
  QAUDIT_ASSIGN_OR_RETURN(auto qat_model, qat::QatModel::Prepare(*imported.model, options));
  const int64_t wanted = int64_t{spec.qat_steps} * kQatBatch;
  const uint64_t seed = HashText("qat " + spec.label, plan.seed);
  LabelledBatch data = TakeSamples(m.train, Draw(m.train.size(), wanted, seed));
  train::TrainOptions train_options;
  train_options.batch_size = kQatBatch;
  train_options.seed = seed;
  train_options.epochs = static_cast<int>((wanted + data.size() - 1) / data.size());
  train::LrSchedule schedule;
  schedule.base_lr = kQatLearningRate;
  auto optimizer = train::MakeAdam();
  const int64_t steps = spec.qat_steps;
  QAUDIT_RETURN_IF_ERROR(train::Train(*imported.model, data.samples, data.labels, *optimizer, schedule, train_options,
                                      [&](const train::StepInfo& info) {
                                        if (progress) progress(std::min(info.step, steps), steps);
                                      })
                             .status());
  return qat_model->Export({}, imported.final_softmax);
}

// XNNPACK takes float ops (fp32 as in every mode) and int8/uint8 ops; it takes no
// int16x8 and no hybrid op, which TFLite then runs with its built-in kernels. So a model
// without int8/uint8 activations computes the same under both.
bool XnnpackMayDiffer(const Graph& g) {
  return std::any_of(g.tensors.begin(), g.tensors.end(), [](const Tensor& t) {
    return !t.is_constant && (t.dtype == DType::kInt8 || t.dtype == DType::kUInt8);
  });
}

// Quantizes the job's model and evaluates it on every (numerics, variant) it is needed for.
Status RunJob(Job& job, const ModelState& m, const Plan& plan, int threads, const ProgressFn& progress) {
  if (job.method.qat) {
    QAUDIT_ASSIGN_OR_RETURN(job.quantized, TrainQat(m, job.method, plan, threads, progress));
  } else if (job.calibrated) {
    QAUDIT_ASSIGN_OR_RETURN(TensorRanges ranges, m.statistics.at(job.calibration.Label()).Ranges(job.method.calibrator));
    QAUDIT_ASSIGN_OR_RETURN(job.quantized, Quantize(m.graph, job.method.quantize, &ranges));
  } else {
    QAUDIT_ASSIGN_OR_RETURN(job.quantized, Quantize(m.graph, job.method.quantize));
  }
  QAUDIT_ASSIGN_OR_RETURN(std::vector<uint8_t> file, WriteTflite(job.quantized.graph));
  job.bytes = static_cast<int64_t>(file.size());
  job.input_quantized = QuantizedInputRange(job.quantized.graph, &job.input_range);

  std::map<Variant, Predictions> builtin;  // tflite numerics, reused where XNNPACK computes the same
  const bool xnnpack_differs = XnnpackMayDiffer(job.quantized.graph);
  std::unique_ptr<Executor> float_executor;
  for (Numerics numerics : {Numerics::kReference, Numerics::kTflite, Numerics::kXnnpack}) {
    std::vector<Variant> variants;
    for (const Evaluation& e : job.evaluations) {
      if (e.numerics == numerics) variants.push_back(e.variant);
    }
    if (variants.empty()) continue;
    QAUDIT_ASSIGN_OR_RETURN(auto executor, Executor::Create(job.quantized.graph, ExecutorOptions{numerics, threads}));
    for (Variant v : variants) {
      const LabelledBatch& data = m.variants.at(v);
      Predictions q;
      if (numerics == Numerics::kXnnpack && !xnnpack_differs && builtin.count(v)) {
        q = builtin.at(v);
      } else {
        QAUDIT_ASSIGN_OR_RETURN(q, Predict(*executor, data, progress));
      }
      if (numerics == Numerics::kTflite) builtin[v] = q;
      const std::string cell_id = m.label + "|" + job.Key() + "|" + VariantName(v) + "|" + NumericsName(numerics);
      CellResult cell = Compare(m.float_predictions.at(v), q, data, plan, HashText(cell_id, plan.seed));
      if (job.input_quantized && v != Variant::kClean) {
        const auto key = std::make_tuple(v, job.input_range.min, job.input_range.max);
        std::shared_ptr<const Predictions> control;
        {
          std::lock_guard<std::mutex> lock(m.clamped_mutex);
          if (m.clamped.count(key)) control = m.clamped.at(key);
        }
        if (!control) {
          if (!float_executor) {
            QAUDIT_ASSIGN_OR_RETURN(float_executor, Executor::Create(m.graph, ExecutorOptions{Numerics::kTflite, threads}));
          }
          LabelledBatch clamped_data{Clamp(data.samples, job.input_range.min, job.input_range.max), data.labels};
          QAUDIT_ASSIGN_OR_RETURN(Predictions p, Predict(*float_executor, clamped_data, progress));
          control = std::make_shared<const Predictions>(std::move(p));
          std::lock_guard<std::mutex> lock(m.clamped_mutex);
          m.clamped.emplace(key, control);
        }
        cell.clamped_float_top1 = Mean(control->correct);
        cell.delta_vs_clamped = stats::PairedBootstrapDelta(control->correct, q.correct, plan.confidence,
                                                            plan.resamples, HashText(cell_id + " clamped", plan.seed));
      }
      cell.notes = job.quantized.notes;
      job.correct[{numerics, v}] = q.correct;
      job.cells[{numerics, v}] = std::move(cell);
    }
  }
  return Status::Ok();
}

// The method the debugger examines for model `index` (see DebugSettings::methods).
std::string DebugMethod(const Plan& plan, const std::vector<CellResult>& cells, const std::string& model, size_t index) {
  if (!plan.debug.methods.empty()) return plan.debug.methods[std::min(index, plan.debug.methods.size() - 1)];
  const std::string calibration = plan.debug.calibration.Label();
  const CellResult* worst = nullptr;
  for (const CellResult& c : cells) {
    if (c.model == model && c.calibration == calibration && c.variant == "clean" && c.numerics == "tflite" &&
        c.delta_top1.high < 0 && (worst == nullptr || c.delta_top1.estimate < worst->delta_top1.estimate)) {
      worst = &c;
    }
  }
  return worst != nullptr ? worst->method : "int8/minmax";
}

// Median of `values` (not empty).
double Median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const size_t n = values.size();
  return n % 2 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

// Milliseconds per sample of one timed stretch: whole batches until min_seconds have passed.
Result<double> TimeOnce(const Executor& executor, const HostTensor& batch, int64_t batch_size, double min_seconds) {
  int64_t samples = 0;
  const auto start = Clock::now();
  double seconds = 0;
  do {
    QAUDIT_RETURN_IF_ERROR(executor.RunBatch({batch}).status());
    samples += batch_size;
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
  } while (seconds < min_seconds);
  return 1000.0 * seconds / samples;
}

HostTensor FirstSamples(const LabelledBatch& data, int64_t count) {
  std::vector<int64_t> indices;
  for (int64_t i = 0; i < count; ++i) indices.push_back(i % data.size());
  return TakeSamples(data, indices).samples;
}

}  // namespace

Result<AuditReport> RunAudit(const AuditInput& input, const Plan& plan, const AuditProgress& plan_progress,
                             const AuditProgress& cell_progress) {
  const auto start = Clock::now();
  if (input.models.empty()) return Status::InvalidArgument("no model to audit (--model)");
  if (input.data_spec.empty()) return Status::InvalidArgument("no evaluation data (--data)");
  if (input.jobs < 1 || input.threads_per_job < 1) return Status::InvalidArgument("--jobs and threads must be >= 1");
  const int all_threads = input.jobs * input.threads_per_job;
  AuditReport report;
  report.qaudit_version = QAUDIT_VERSION;
  report.created = NowUtc();
  report.command = input.command;
  report.plan = plan;
  report.machine = MachineDescription(all_threads);
  report.hardware = MeasurePeakRates();

  // ---- models and data
  std::vector<ModelState> models(input.models.size());
  for (size_t i = 0; i < input.models.size(); ++i) {
    ModelState& m = models[i];
    m.label = input.models[i].first;
    m.path = input.models[i].second;
    for (size_t j = 0; j < i; ++j) {
      if (models[j].label == m.label) return Status::InvalidArgument("two models are labelled '" + m.label + "'");
    }
    // Read once: the same bytes are parsed, hashed for the report and counted for the size.
    QAUDIT_ASSIGN_OR_RETURN(std::vector<uint8_t> file, ReadWholeFile(m.path));
    QAUDIT_ASSIGN_OR_RETURN(m.graph, ReadTflite(file.data(), file.size(), m.path));
    m.sha256 = HashBytes(file);
    m.bytes = static_cast<int64_t>(file.size());
    if (m.graph.inputs.size() != 1 || m.graph.outputs.empty()) {
      return Status::Unsupported(m.path + ": the audit takes models with one input (this one has " +
                                 std::to_string(m.graph.inputs.size()) + ")");
    }
    const Tensor& t = m.graph.tensors[m.graph.inputs[0]];
    if (t.dtype != DType::kFloat32) {
      return Status::InvalidArgument(m.path + ": input '" + t.name + "' is " + DTypeName(t.dtype) +
                                     "; the audit starts from a float model (qaudit dequantize makes one)");
    }
    m.input = InputSpec{t.name, t.dtype, t.shape, t.quant};
    QAUDIT_ASSIGN_OR_RETURN(LabelledBatch data, LoadFitted(input.data_spec, m.input, input.preprocess, true));
    LabelledBatch train;
    if (!input.train_data_spec.empty()) {
      QAUDIT_ASSIGN_OR_RETURN(train, LoadFitted(input.train_data_spec, m.input, input.preprocess, false));
    } else {
      // Without training data the evaluation data is split: a random half calibrates.
      std::vector<int64_t> order = Draw(data.size(), data.size(), HashText("split", plan.seed));
      const int64_t half = data.size() / 2;
      std::vector<int64_t> calib(order.begin(), order.begin() + half), eval(order.begin() + half, order.end());
      std::sort(calib.begin(), calib.end());
      std::sort(eval.begin(), eval.end());
      train = TakeSamples(data, calib);
      data = TakeSamples(data, eval);
    }
    if (plan.eval_samples > 0 && plan.eval_samples < data.size()) {
      std::vector<int64_t> keep = Draw(data.size(), plan.eval_samples, HashText("evaluation", plan.seed));
      std::sort(keep.begin(), keep.end());
      data = TakeSamples(data, keep);
    }
    m.eval = std::move(data);
    std::vector<int64_t> pool = Draw(train.size(), plan.calibration_pool, HashText("pool", plan.seed));
    std::sort(pool.begin(), pool.end());
    m.pool = TakeSamples(train, pool);
    if (!input.train_data_spec.empty()) {
      if (!train.labels.empty()) m.train = std::move(train);
    }
    const float* v = m.eval.samples.data<float>();
    const auto [lo, hi] = std::minmax_element(v, v + m.eval.samples.num_elements());
    m.low = *lo;
    m.high = *hi;
    if (i == 0) {
      report.data.push_back({"evaluation", input.data_spec, m.eval.size(), HashBatch(m.eval)});
      if (!input.train_data_spec.empty()) {
        report.data.push_back({"training", input.train_data_spec, m.train.size() > 0 ? m.train.size() : m.pool.size(),
                               HashBatch(m.train.size() > 0 ? m.train : m.pool)});
      }
      report.data.push_back({"calibration pool", input.train_data_spec.empty() ? input.data_spec + " (other half)"
                                                                                : input.train_data_spec,
                             m.pool.size(), HashBatch(m.pool)});
    }
  }

  // ---- jobs: one per (model, method, calibration set), with the evaluations the cells need
  std::vector<Job> jobs;
  std::map<std::string, size_t> job_index;
  const auto add_job = [&](int model, const MethodSpec& method, const CalibrationSpec* calibration) -> Job& {
    Job job;
    job.model = model;
    job.method = method;
    job.calibrated = method.needs_calibration() && calibration != nullptr;
    if (job.calibrated) job.calibration = *calibration;
    const std::string key = std::to_string(model) + "|" + job.Key();
    auto [it, inserted] = job_index.emplace(key, jobs.size());
    if (inserted) jobs.push_back(std::move(job));
    return jobs[it->second];
  };
  std::vector<std::string> skipped;
  for (size_t mi = 0; mi < models.size(); ++mi) {
    for (const Experiment& e : plan.experiments) {
      if (!AppliesTo(e, models[mi].label)) continue;
      for (const MethodSpec& method : e.methods) {
        if (method.qat && models[mi].train.size() == 0) {
          skipped.push_back(models[mi].label + ": " + method.label + " in " + e.name +
                            " skipped: QAT needs labelled training data (--train-data)");
          continue;
        }
        std::vector<const CalibrationSpec*> calibrations;
        if (method.needs_calibration()) {
          for (const CalibrationSpec& c : e.calibrations) calibrations.push_back(&c);
        } else {
          calibrations.push_back(nullptr);
        }
        for (const CalibrationSpec* c : calibrations) {
          Job& job = add_job(static_cast<int>(mi), method, c);
          for (Variant v : e.variants) {
            for (Numerics n : e.numerics) job.evaluations.insert({n, v});
          }
        }
      }
    }
  }
  for (const std::string& s : skipped) report.findings.push_back(s);

  // ---- calibration statistics, once per (model, calibration set)
  std::vector<std::pair<int, CalibrationSpec>> debug_targets;
  if (plan.debug.enabled) {
    for (size_t mi = 0; mi < models.size(); ++mi) debug_targets.emplace_back(static_cast<int>(mi), plan.debug.calibration);
  }
  std::map<std::pair<int, std::string>, bool> statistics_needed;  // -> histograms needed
  for (const Job& job : jobs) {
    if (!job.calibrated) continue;
    bool& histograms = statistics_needed[{job.model, job.calibration.Label()}];
    histograms = histograms || NeedsHistograms(job.method.calibrator.calibrator);
  }
  for (size_t mi = 0; mi < models.size() && plan.debug.enabled; ++mi) {
    bool& histograms = statistics_needed[{static_cast<int>(mi), plan.debug.calibration.Label()}];
    if (plan.debug.methods.empty()) {
      histograms = true;  // the method is chosen later, from the cells
      continue;
    }
    QAUDIT_ASSIGN_OR_RETURN(MethodSpec method, ParseMethodSpec(plan.debug.methods[std::min(mi, plan.debug.methods.size() - 1)]));
    histograms = histograms || NeedsHistograms(method.calibrator.calibrator);
  }

  // Progress over the whole plan, in steps: float runs, statistics, jobs, timings, debugger.
  std::set<Variant> variants_needed{Variant::kClean};
  for (const Job& job : jobs) {
    for (const Evaluation& e : job.evaluations) variants_needed.insert(e.variant);
  }
  if (plan.debug.enabled) variants_needed.insert(plan.debug.deployment);
  const int64_t total_steps = static_cast<int64_t>(models.size() * variants_needed.size() + statistics_needed.size() +
                                                   jobs.size() + models.size() + debug_targets.size());
  std::atomic<int64_t> steps_done{0};
  std::mutex progress_mutex;
  const auto step_done = [&](const std::string& what) {
    const int64_t done = ++steps_done;
    std::lock_guard<std::mutex> lock(progress_mutex);
    if (plan_progress) plan_progress(what, done, total_steps);
  };
  const auto cell = [&](const std::string& what) -> ProgressFn {
    if (!cell_progress) return {};
    return [&, what](int64_t done, int64_t total) {
      std::lock_guard<std::mutex> lock(progress_mutex);
      cell_progress(what, done, total);
    };
  };
  if (plan_progress) plan_progress("starting", 0, total_steps);

  for (ModelState& m : models) {
    QAUDIT_ASSIGN_OR_RETURN(auto executor, Executor::Create(m.graph, ExecutorOptions{Numerics::kTflite, all_threads}));
    for (Variant v : variants_needed) {
      QAUDIT_ASSIGN_OR_RETURN(m.variants[v], ApplyVariant(m.eval, v, plan.shifts, m.low, m.high,
                                                          HashText(std::string("variant ") + VariantName(v), plan.seed)));
      const std::string what = m.label + " float, " + VariantName(v);
      QAUDIT_ASSIGN_OR_RETURN(m.float_predictions[v], Predict(*executor, m.variants[v], cell(what)));
      step_done(what);
    }
    ModelInfo info{m.label, m.path, m.sha256, m.bytes, Mean(m.float_predictions[Variant::kClean].correct)};
    report.models.push_back(info);
  }
  for (const auto& [key, histograms] : statistics_needed) {
    ModelState& m = models[key.first];
    CalibrationSpec spec;
    for (const Job& job : jobs) {
      if (job.model == key.first && job.calibrated && job.calibration.Label() == key.second) spec = job.calibration;
    }
    if (plan.debug.enabled && plan.debug.calibration.Label() == key.second) spec = plan.debug.calibration;
    QAUDIT_ASSIGN_OR_RETURN(LabelledBatch set, CalibrationSet(m, spec, plan));
    CollectOptions options;
    options.histograms = histograms;
    options.num_threads = all_threads;
    const std::string what = m.label + " calibrating on " + key.second;
    options.progress = cell(what);
    QAUDIT_ASSIGN_OR_RETURN(CalibrationStatistics statistics, CalibrationStatistics::Collect(m.graph, {set.samples}, options));
    m.statistics.emplace(key.second, std::move(statistics));
    m.calibration_sets.emplace(key.second, std::move(set));
    step_done(what);
  }

  // ---- the jobs, `jobs` at a time
  {
    std::atomic<size_t> next{0};
    const auto worker = [&]() {
      for (size_t i = next++; i < jobs.size(); i = next++) {
        Job& job = jobs[i];
        const ModelState& m = models[job.model];
        const std::string what = m.label + " " + job.method.label + (job.calibrated ? " @ " + job.calibration.Label() : "");
        job.status = RunJob(job, m, plan, input.threads_per_job, cell(what));
        step_done(what);
      }
    };
    std::vector<std::thread> workers;
    for (int w = 1; w < input.jobs; ++w) workers.emplace_back(worker);
    worker();
    for (std::thread& t : workers) t.join();
  }
  for (const Job& job : jobs) {
    if (!job.status.ok()) {
      return Status(job.status.code(), models[job.model].label + ", " + job.method.label +
                                            (job.calibrated ? " calibrated on " + job.calibration.Label() : "") + ": " +
                                            job.status.message());
    }
  }

  // ---- cells, in plan order
  Correctness correctness;
  for (const Experiment& e : plan.experiments) {
    for (size_t mi = 0; mi < models.size(); ++mi) {
      if (!AppliesTo(e, models[mi].label)) continue;
      for (const MethodSpec& method : e.methods) {
        std::vector<std::string> calibrations;
        if (method.needs_calibration()) {
          for (const CalibrationSpec& c : e.calibrations) calibrations.push_back(c.Label());
        } else {
          calibrations.push_back("");
        }
        for (const std::string& calibration : calibrations) {
          auto it = job_index.find(std::to_string(mi) + "|" + method.label + "|" + calibration);
          if (it == job_index.end()) continue;  // skipped (QAT without training data)
          const Job& job = jobs[it->second];
          for (Variant v : e.variants) {
            for (Numerics n : e.numerics) {
              CellResult c = job.cells.at({n, v});
              c.model = models[mi].label;
              c.experiment = e.name;
              c.method = method.label;
              c.calibration = calibration;
              c.variant = VariantName(v);
              c.numerics = NumericsName(n);
              correctness[CellKey(c.model, c.method, c.calibration, c.variant, c.numerics)] = job.correct.at({n, v});
              report.cells.push_back(std::move(c));
            }
          }
        }
      }
    }
  }

  // ---- size and speed: each method once per model (its first calibration in the plan)
  for (size_t mi = 0; mi < models.size(); ++mi) {
    const ModelState& m = models[mi];
    std::vector<const Job*> firsts;
    std::set<std::string> seen;
    for (const Job& job : jobs) {
      if (job.model == static_cast<int>(mi) && seen.insert(job.method.label).second) firsts.push_back(&job);
    }
    const std::vector<std::string>& timed_labels = plan.latency.methods;
    const auto timed = [&](const Job* job) {
      return timed_labels.empty() ||
             std::find(timed_labels.begin(), timed_labels.end(), job->method.label) != timed_labels.end();
    };
    std::vector<MethodCost> costs;
    for (const Job* job : firsts) {
      MethodCost cost;
      cost.model = m.label;
      cost.method = job->method.label;
      cost.bytes = job->bytes;
      cost.float_bytes = m.bytes;
      cost.size_ratio = job->bytes > 0 ? static_cast<double>(m.bytes) / job->bytes : 0;
      costs.push_back(std::move(cost));
    }
    // Timed one after another (never beside other work), float and each method in turn
    // within every repeat, so that drifts in clock speed hit both sides of a ratio.
    for (int threads : plan.latency.threads) {
      for (int batch : plan.latency.batches) {
        const HostTensor samples = FirstSamples(m.eval, batch);
        QAUDIT_ASSIGN_OR_RETURN(auto float_executor, Executor::Create(m.graph, ExecutorOptions{Numerics::kTflite, threads}));
        std::vector<std::unique_ptr<Executor>> executors;
        for (const Job* job : firsts) {
          std::unique_ptr<Executor> e;
          if (timed(job)) {
            QAUDIT_ASSIGN_OR_RETURN(e, Executor::Create(job->quantized.graph, ExecutorOptions{Numerics::kTflite, threads}));
          }
          executors.push_back(std::move(e));
        }
        std::vector<double> float_ms;
        std::vector<std::vector<double>> ms(firsts.size());
        for (int r = 0; r < plan.latency.repeats; ++r) {
          QAUDIT_ASSIGN_OR_RETURN(double f, TimeOnce(*float_executor, samples, batch, plan.latency.min_seconds));
          float_ms.push_back(f);
          for (size_t k = 0; k < firsts.size(); ++k) {
            if (!executors[k]) continue;
            QAUDIT_ASSIGN_OR_RETURN(double q, TimeOnce(*executors[k], samples, batch, plan.latency.min_seconds));
            ms[k].push_back(q);
          }
          if (cell_progress) {
            std::lock_guard<std::mutex> lock(progress_mutex);
            cell_progress(m.label + " timing batch " + std::to_string(batch) + ", " + std::to_string(threads) + " threads",
                          r + 1, plan.latency.repeats);
          }
        }
        for (size_t k = 0; k < firsts.size(); ++k) {
          if (!executors[k]) continue;
          std::vector<double> ratios;
          for (int r = 0; r < plan.latency.repeats; ++r) ratios.push_back(float_ms[r] / ms[k][r]);
          LatencyResult l;
          l.batch = batch;
          l.threads = threads;
          l.ms_per_sample = Median(ms[k]);
          l.float_ms_per_sample = Median(float_ms);
          l.speedup = {Median(ratios), *std::min_element(ratios.begin(), ratios.end()),
                       *std::max_element(ratios.begin(), ratios.end())};
          costs[k].latency.push_back(l);
        }
      }
    }
    for (MethodCost& c : costs) report.costs.push_back(std::move(c));
    step_done(m.label + " timing");
  }

  // ---- the per-layer debugger and selective quantization
  for (const auto& [mi, calibration] : debug_targets) {
    const ModelState& m = models[mi];
    QAUDIT_ASSIGN_OR_RETURN(MethodSpec method, ParseMethodSpec(DebugMethod(plan, report.cells, m.label, mi)));
    const CalibrationStatistics& statistics = m.statistics.at(calibration.Label());
    QAUDIT_ASSIGN_OR_RETURN(TensorRanges ranges, statistics.Ranges(method.calibrator));
    QAUDIT_ASSIGN_OR_RETURN(QuantizedModel quantized, Quantize(m.graph, method.quantize, &ranges));
    const LabelledBatch& deployment = m.variants.at(plan.debug.deployment);
    const HostTensor deployment_samples = FirstSamples(deployment, std::min(deployment.size(), kDebugDeploymentSamples));
    LayerDiagnosis d;
    d.model = m.label;
    d.method = method.label;
    d.calibration = calibration.Label();
    d.deployment = VariantName(plan.debug.deployment);
    d.max_drop = plan.debug.max_drop;
    const std::string what = m.label + " per-layer debugger, " + method.label;
    debug::DebugOptions debug_options;
    debug_options.num_threads = all_threads;
    debug_options.progress = cell(what);
    QAUDIT_ASSIGN_OR_RETURN(d.layers, debug::CompareLayers(m.graph, quantized, {m.calibration_sets.at(calibration.Label()).samples},
                                                           {deployment_samples}, debug_options));
    debug::SelectiveOptions selective;
    selective.quantize = method.quantize;
    selective.max_drop = plan.debug.max_drop;
    selective.confidence = plan.confidence;
    selective.resamples = plan.resamples;
    selective.seed = HashText("selective " + m.label, plan.seed);
    selective.num_threads = all_threads;
    selective.progress = cell(m.label + " selective quantization");
    QAUDIT_ASSIGN_OR_RETURN(d.selective, debug::SelectiveQuantize(m.graph, ranges, d.layers, {deployment.samples},
                                                                  deployment.labels, selective));
    report.diagnoses.push_back(std::move(d));
    step_done(what);
  }

  // ---- verdicts
  QAUDIT_ASSIGN_OR_RETURN(std::vector<ClaimDefinition> claims, BuiltInClaims());
  report.claims = JudgeClaims(claims, report, correctness);
  for (std::string& line : Findings(report)) report.findings.push_back(std::move(line));
  report.seconds = std::chrono::duration<double>(Clock::now() - start).count();
  return report;
}

}  // namespace qaudit::audit
