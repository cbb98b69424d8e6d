// debug::SelectiveQuantize: keep the worst layers in float until the accuracy drop fits a budget.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <set>

#include "audit/model_input.h"
#include "qaudit/data.h"
#include "qaudit/debug.h"
#include "qaudit/tflite.h"

namespace qaudit::debug {
namespace {

constexpr int kLatencyRuns = 3;

struct Evaluation {
  std::vector<uint8_t> correct;
  double ms_per_sample = 0;
};

double RealValue(const HostTensor& t, const QuantParams& q, int64_t i) {
  const double scale = q.has_scale() ? q.scale[0] : 1.0;
  const double zp = static_cast<double>(q.zero_point_at(0));
  switch (t.dtype) {
    case DType::kInt8: return (t.data<int8_t>()[i] - zp) * scale;
    case DType::kUInt8: return (t.data<uint8_t>()[i] - zp) * scale;
    case DType::kInt16: return (t.data<int16_t>()[i] - zp) * scale;
    default: return t.data<float>()[i];
  }
}

Result<std::vector<uint8_t>> TopOneCorrect(const Executor& exec, const std::vector<HostTensor>& inputs,
                                           const std::vector<int32_t>& labels) {
  const Graph& g = exec.graph();
  QAUDIT_ASSIGN_OR_RETURN(std::vector<HostTensor> fitted, FitInputsToModel(inputs, g));
  QAUDIT_ASSIGN_OR_RETURN(std::vector<HostTensor> outputs, exec.RunBatch(fitted));
  if (outputs.empty()) return Status::InvalidArgument("the model has no outputs to take the top-1 of");
  const HostTensor& scores = outputs[0];
  const Tensor& out = g.tensors[g.outputs[0]];
  if (out.dtype != DType::kFloat32 && out.dtype != DType::kInt8 && out.dtype != DType::kUInt8 &&
      out.dtype != DType::kInt16) {
    return Status::Unsupported("output '" + out.name + "' is " + DTypeName(out.dtype) + "; top-1 needs scores");
  }
  const int64_t n = static_cast<int64_t>(labels.size());
  if (scores.shape.empty() || scores.shape[0] != n) {
    return Status::InvalidArgument("the data holds " + std::to_string(scores.shape.empty() ? 0 : scores.shape[0]) +
                                   " samples but " + std::to_string(n) + " labels");
  }
  const int64_t per = scores.num_elements() / n;
  if (per < 1) {
    return Status::InvalidArgument("output '" + out.name + "' holds " + std::to_string(scores.num_elements()) +
                                   " values for " + std::to_string(n) + " labels");
  }
  std::vector<uint8_t> correct(n);
  for (int64_t s = 0; s < n; ++s) {
    int64_t best = 0;
    double best_value = RealValue(scores, out.quant, s * per);
    for (int64_t c = 1; c < per; ++c) {
      const double v = RealValue(scores, out.quant, s * per + c);
      if (v > best_value) best = c, best_value = v;
    }
    correct[s] = best == labels[s];
  }
  return correct;
}

// Median of a few timed batches: one run is at the mercy of whatever else the machine does.
Result<double> MsPerSample(const Executor& exec, const std::vector<HostTensor>& inputs, int64_t batch) {
  QAUDIT_ASSIGN_OR_RETURN(std::vector<HostTensor> fitted, FitInputsToModel(inputs, exec.graph()));
  for (HostTensor& t : fitted) {
    const size_t per_sample = t.bytes.size() / t.shape[0];
    t.shape[0] = static_cast<int32_t>(batch);
    t.bytes.resize(batch * per_sample);
  }
  std::vector<double> ms;
  for (int r = 0; r < kLatencyRuns; ++r) {
    const auto start = std::chrono::steady_clock::now();
    QAUDIT_RETURN_IF_ERROR(exec.RunBatch(fitted).status());
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count() / batch);
  }
  std::sort(ms.begin(), ms.end());
  return ms[ms.size() / 2];
}

Result<Evaluation> Evaluate(const Graph& graph, const std::vector<HostTensor>& inputs,
                            const std::vector<int32_t>& labels, const SelectiveOptions& options) {
  QAUDIT_ASSIGN_OR_RETURN(auto exec, Executor::Create(graph, ExecutorOptions{options.numerics, options.num_threads}));
  Evaluation e;
  QAUDIT_ASSIGN_OR_RETURN(e.correct, TopOneCorrect(*exec, inputs, labels));
  const int64_t batch = std::min<int64_t>(options.latency_batch, static_cast<int64_t>(labels.size()));
  QAUDIT_ASSIGN_OR_RETURN(e.ms_per_sample, MsPerSample(*exec, inputs, batch));
  return e;
}

double Share(const std::vector<uint8_t>& correct) {
  int64_t k = 0;
  for (uint8_t c : correct) k += c;
  return static_cast<double>(k) / correct.size();
}

// Float-graph tensor names to deny, worst layer first. A layer made by QUANTIZE (or a model
// input) stands for a tensor whose producer is already float, or that has none, so denying
// it changes nothing. Operators that keep their input's scale (pooling, reshapes) only
// carry the error made upstream: TFLite's rmse/scale ranking would pick them, and keeping
// them in float repairs nothing, so they are not candidates.
// An upper bound that moves by less than this (a tenth of a point) has not improved.
constexpr double kMeaningfulImprovement = 0.001;

const std::set<std::string> kPassThrough = {"MAX_POOL_2D", "AVERAGE_POOL_2D", "RESHAPE", "PAD", "TRANSPOSE"};

std::vector<std::string> RankCandidates(const Graph& float_graph, const std::vector<LayerStats>& layers,
                                        const std::vector<std::string>& already_denied) {
  std::set<int> produced;
  for (const Operator& op : float_graph.operators) produced.insert(op.outputs.begin(), op.outputs.end());
  std::vector<const LayerStats*> ranked;
  for (const LayerStats& l : layers) {
    if (l.op_index < 0 || l.op == OpName(OpKind::kQuantize) || !produced.count(l.source_tensor)) continue;
    if (kPassThrough.count(l.op)) continue;
    ranked.push_back(&l);
  }
  auto key = [](const LayerStats* l) { return std::isnan(l->rmse_over_scale) ? -INFINITY : l->rmse_over_scale; };
  std::stable_sort(ranked.begin(), ranked.end(), [&](const LayerStats* a, const LayerStats* b) { return key(a) > key(b); });
  std::vector<std::string> names;
  std::set<std::string> seen(already_denied.begin(), already_denied.end());
  for (const LayerStats* l : ranked) {
    const std::string& name = float_graph.tensors[l->source_tensor].name;
    if (seen.insert(name).second) names.push_back(name);
  }
  return names;
}

}  // namespace

Result<SelectiveResult> SelectiveQuantize(const Graph& float_graph, const TensorRanges& ranges,
                                          const std::vector<LayerStats>& layers,
                                          const std::vector<HostTensor>& inputs, const std::vector<int32_t>& labels,
                                          const SelectiveOptions& options) {
  if (!NeedsCalibration(options.quantize.method)) {
    return Status::InvalidArgument(std::string("selective quantization repairs int8 or int16x8 models, not ") +
                                   QuantMethodName(options.quantize.method));
  }
  if (labels.empty()) return Status::InvalidArgument("selective quantization needs labelled data");
  if (options.max_denied < 0) {
    return Status::InvalidArgument("max_denied " + std::to_string(options.max_denied) + " is negative");
  }
  if (options.latency_batch < 1) {
    return Status::InvalidArgument("latency_batch " + std::to_string(options.latency_batch) + " must be >= 1");
  }
  for (const LayerStats& l : layers) {
    if (l.source_tensor < 0 || l.source_tensor >= static_cast<int>(float_graph.tensors.size())) {
      return Status::InvalidArgument("layer '" + l.tensor_name + "' names float tensor " +
                                     std::to_string(l.source_tensor) + ", which the float model does not have");
    }
  }
  const int64_t total_steps = options.max_denied + 1;
  auto progress = [&](int64_t done) {
    if (options.progress) options.progress(done, total_steps);
  };
  progress(0);

  SelectiveResult result;
  QAUDIT_ASSIGN_OR_RETURN(Evaluation float_eval, Evaluate(float_graph, inputs, labels, options));
  result.float_top1 = Share(float_eval.correct);
  result.float_ms_per_sample = float_eval.ms_per_sample;
  QAUDIT_ASSIGN_OR_RETURN(std::vector<uint8_t> float_bytes, WriteTflite(float_graph));
  result.float_model_bytes = static_cast<int64_t>(float_bytes.size());

  const std::vector<std::string> candidates = RankCandidates(float_graph, layers, options.quantize.deny_tensors);
  QuantizeOptions quantize = options.quantize;
  std::vector<std::string> denied;
  double best_high = INFINITY;
  int stale_steps = 0;  // steps since the drop's upper bound last improved
  for (size_t next = 0;; ++next) {
    QAUDIT_ASSIGN_OR_RETURN(QuantizedModel model, Quantize(float_graph, quantize, &ranges));
    QAUDIT_ASSIGN_OR_RETURN(Evaluation eval, Evaluate(model.graph, inputs, labels, options));
    QAUDIT_ASSIGN_OR_RETURN(std::vector<uint8_t> bytes, WriteTflite(model.graph));
    SelectiveStep step;
    step.denied = denied;
    step.top1 = Share(eval.correct);
    // PairedBootstrapDelta gives accuracy(b) - accuracy(a): float as b makes it the drop.
    step.drop = stats::PairedBootstrapDelta(eval.correct, float_eval.correct, options.confidence, options.resamples,
                                            options.seed);
    step.model_bytes = static_cast<int64_t>(bytes.size());
    step.ms_per_sample = eval.ms_per_sample;
    result.steps.push_back(std::move(step));
    progress(static_cast<int64_t>(result.steps.size()));
    result.reached = result.steps.back().drop.high <= options.max_drop;
    const double high = result.steps.back().drop.high;
    stale_steps = high < best_high - kMeaningfulImprovement ? 0 : stale_steps + 1;
    best_high = std::min(best_high, high);
    if (options.patience > 0 && stale_steps >= options.patience) break;
    if (result.reached || static_cast<int>(denied.size()) >= options.max_denied || next >= candidates.size()) break;
    denied.push_back(candidates[next]);
    quantize.deny_tensors.push_back(candidates[next]);
  }
  progress(total_steps);
  return result;
}

}  // namespace qaudit::debug
