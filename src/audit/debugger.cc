// debug::CompareLayers: every quantized activation compared with the float tensor it stands for.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "audit/model_input.h"
#include "qaudit/data.h"
#include "qaudit/debug.h"

namespace qaudit::debug {
namespace {

// Activations of this many bytes per chunk of samples are kept from the float run for the
// quantized run to compare against; the rest of the data waits for the next chunk.
constexpr int64_t kChunkBytes = int64_t{256} << 20;
constexpr int64_t kMaxChunkSamples = 1024;

// One sample's sums for one layer. Kept per sample and merged in sample order, so the
// totals are the same double additions whatever the thread count.
struct SampleSums {
  int64_t compared = 0;  // float values that were not NaN
  double sum_d = 0, sum_d2 = 0, sum_f2 = 0, max_abs_d = 0;
  int64_t saturated = 0, out_of_range = 0;
  float min = std::numeric_limits<float>::infinity();
  float max = -std::numeric_limits<float>::infinity();
};

struct Totals {
  SampleSums sums;
  int64_t values = 0;  // quantized values seen (samples x elements)
};

void Merge(const SampleSums& s, Totals& t, int64_t elements) {
  t.sums.compared += s.compared;
  t.sums.sum_d += s.sum_d;
  t.sums.sum_d2 += s.sum_d2;
  t.sums.sum_f2 += s.sum_f2;
  t.sums.max_abs_d = std::max(t.sums.max_abs_d, s.max_abs_d);
  t.sums.saturated += s.saturated;
  t.sums.out_of_range += s.out_of_range;
  t.sums.min = std::min(t.sums.min, s.min);
  t.sums.max = std::max(t.sums.max, s.max);
  t.values += elements;
}

struct Layer {
  LayerStats stats;
  int32_t qmin = 0, qmax = 0;
  // The type's ends that count as saturation. An end that is the zero point holds exact
  // zeros (half of a RELU's outputs sit at -128), so it does not; values clipped there are
  // negative floats, which out_of_range reports.
  int32_t saturated_low = 0, saturated_high = 0;
  double low = 0, high = 0;   // the representable real range
  int64_t float_offset = 0;   // where its float values sit in a sample's slot of the chunk buffer
  Totals calibration, deployment;
};

template <typename T>
SampleSums CompareSample(const Layer& layer, const T* q, const float* f) {
  SampleSums s;
  const double scale = layer.stats.scale;
  const double zp = layer.stats.zero_point;
  for (int64_t i = 0; i < layer.stats.elements_per_sample; ++i) {
    s.saturated += q[i] == layer.saturated_low || q[i] == layer.saturated_high;
    const float x = f[i];
    if (std::isnan(x)) continue;  // as calibration does: NaN says nothing about the range
    s.min = std::min(s.min, x);
    s.max = std::max(s.max, x);
    s.out_of_range += x < layer.low || x > layer.high;
    const double d = (q[i] - zp) * scale - x;
    ++s.compared;
    s.sum_d += d;
    s.sum_d2 += d * d;
    s.sum_f2 += static_cast<double>(x) * x;
    s.max_abs_d = std::max(s.max_abs_d, std::fabs(d));
  }
  return s;
}

bool IsComparable(const Tensor& q, const Graph& float_graph, int source) {
  if (q.is_constant || (q.dtype != DType::kInt8 && q.dtype != DType::kInt16)) return false;
  if (q.quant.scale.size() != 1 || q.quant.zero_point.size() > 1 || !(q.quant.scale[0] > 0)) return false;
  if (source < 0 || source >= static_cast<int>(float_graph.tensors.size())) return false;
  const Tensor& f = float_graph.tensors[source];
  return !f.is_constant && f.dtype == DType::kFloat32 && f.num_elements() == q.num_elements();
}

// The layers in graph order: integer graph inputs first, then operator outputs.
std::vector<Layer> FindLayers(const Graph& float_graph, const QuantizedModel& quantized) {
  const Graph& g = quantized.graph;
  std::vector<std::pair<int, int>> candidates;  // (tensor, producing op or -1)
  for (int t : g.inputs) candidates.push_back({t, -1});
  for (size_t i = 0; i < g.operators.size(); ++i) {
    for (int t : g.operators[i].outputs) candidates.push_back({t, static_cast<int>(i)});
  }
  std::vector<Layer> layers;
  int64_t offset = 0;
  for (auto [t, op] : candidates) {
    const Tensor& q = g.tensors[t];
    const int source = quantized.source_tensor[t];
    if (!IsComparable(q, float_graph, source)) continue;
    Layer l;
    l.stats.tensor = t;
    l.stats.source_tensor = source;
    l.stats.tensor_name = q.name;
    l.stats.op = op < 0 ? "(input)" : OpName(g.operators[op].kind);
    l.stats.op_index = op;
    l.stats.dtype = q.dtype;
    l.stats.scale = q.quant.scale[0];
    l.stats.zero_point = static_cast<int32_t>(q.quant.zero_point_at(0));
    l.stats.elements_per_sample = q.num_elements();
    const bool int16 = q.dtype == DType::kInt16;
    l.qmin = int16 ? -32768 : -128;
    l.qmax = int16 ? 32767 : 127;
    // One past the type's range never matches a value.
    l.saturated_low = l.stats.zero_point == l.qmin ? l.qmin - 1 : l.qmin;
    l.saturated_high = l.stats.zero_point == l.qmax ? l.qmax + 1 : l.qmax;
    l.low = (l.qmin - static_cast<double>(l.stats.zero_point)) * l.stats.scale;
    l.high = (l.qmax - static_cast<double>(l.stats.zero_point)) * l.stats.scale;
    l.float_offset = offset;
    offset += l.stats.elements_per_sample;
    layers.push_back(std::move(l));
  }
  return layers;
}

Result<int64_t> SampleCount(const std::vector<HostTensor>& inputs, const Graph& graph, const char* what) {
  if (inputs.size() != graph.inputs.size()) {
    return Status::InvalidArgument(std::string(what) + " data has " + std::to_string(inputs.size()) +
                                   " inputs but the model has " + std::to_string(graph.inputs.size()));
  }
  int64_t n = -1;
  for (size_t k = 0; k < inputs.size(); ++k) {
    const int64_t nk = inputs[k].shape.empty() ? 0 : inputs[k].shape[0];
    if (n >= 0 && nk != n) {
      return Status::InvalidArgument(std::string(what) + " input " + std::to_string(k) + " holds " +
                                     std::to_string(nk) + " samples but input 0 holds " + std::to_string(n));
    }
    n = nk;
  }
  if (n <= 0) return Status::InvalidArgument(std::string(what) + " data holds no samples");
  return n;
}

HostTensor SliceSamples(const HostTensor& t, int64_t begin, int64_t count) {
  const size_t per_sample = t.bytes.size() / t.shape[0];
  HostTensor out;
  out.dtype = t.dtype;
  out.shape = t.shape;
  out.shape[0] = static_cast<int32_t>(count);
  out.bytes.assign(t.bytes.begin() + begin * per_sample, t.bytes.begin() + (begin + count) * per_sample);
  return out;
}

class Comparison {
 public:
  Comparison(std::vector<Layer>& layers, const Executor& float_exec, const Executor& quant_exec,
             const DebugOptions& options, int64_t total_samples)
      : layers_(layers), float_exec_(float_exec), quant_exec_(quant_exec), options_(options), total_(total_samples) {
    for (const Layer& l : layers_) floats_per_sample_ += l.stats.elements_per_sample;
  }

  Status Run(const std::vector<HostTensor>& inputs, int64_t samples, bool deployment) {
    const int64_t chunk =
        std::clamp<int64_t>(kChunkBytes / std::max<int64_t>(floats_per_sample_ * 4, 1), 1, kMaxChunkSamples);
    for (int64_t begin = 0; begin < samples; begin += chunk) {
      const int64_t n = std::min(chunk, samples - begin);
      std::vector<HostTensor> slice;
      for (const HostTensor& in : inputs) slice.push_back(SliceSamples(in, begin, n));
      QAUDIT_RETURN_IF_ERROR(RunChunk(slice, n, deployment));
    }
    return Status::Ok();
  }

 private:
  Status RunChunk(const std::vector<HostTensor>& float_inputs, int64_t n, bool deployment) {
    std::vector<float> floats(static_cast<size_t>(n * floats_per_sample_));
    auto keep_floats = [&](int, int64_t sample, const std::vector<const void*>& tensors) {
      float* slot = floats.data() + sample * floats_per_sample_;
      for (const Layer& l : layers_) {
        std::memcpy(slot + l.float_offset, tensors[l.stats.source_tensor], l.stats.elements_per_sample * sizeof(float));
      }
    };
    QAUDIT_RETURN_IF_ERROR(float_exec_.RunBatch(float_inputs, Progress(), keep_floats).status());
    done_ += n;

    QAUDIT_ASSIGN_OR_RETURN(std::vector<HostTensor> quant_inputs,
                            FitInputsToModel(float_inputs, quant_exec_.graph(), "the quantized model"));
    std::vector<SampleSums> sums(static_cast<size_t>(n) * layers_.size());
    auto compare = [&](int, int64_t sample, const std::vector<const void*>& tensors) {
      const float* slot = floats.data() + sample * floats_per_sample_;
      for (size_t i = 0; i < layers_.size(); ++i) {
        const Layer& l = layers_[i];
        const void* q = tensors[l.stats.tensor];
        sums[sample * layers_.size() + i] =
            l.stats.dtype == DType::kInt16
                ? CompareSample(l, static_cast<const int16_t*>(q), slot + l.float_offset)
                : CompareSample(l, static_cast<const int8_t*>(q), slot + l.float_offset);
      }
    };
    QAUDIT_RETURN_IF_ERROR(quant_exec_.RunBatch(quant_inputs, Progress(), compare).status());
    done_ += n;

    for (int64_t s = 0; s < n; ++s) {
      for (size_t i = 0; i < layers_.size(); ++i) {
        Layer& l = layers_[i];
        Merge(sums[s * layers_.size() + i], deployment ? l.deployment : l.calibration, l.stats.elements_per_sample);
      }
    }
    return Status::Ok();
  }

  ProgressFn Progress() const {
    if (!options_.progress) return {};
    return [this](int64_t done, int64_t) { options_.progress(done_ + done, total_); };
  }

  std::vector<Layer>& layers_;
  const Executor& float_exec_;
  const Executor& quant_exec_;
  const DebugOptions& options_;
  const int64_t total_;
  int64_t done_ = 0;
  int64_t floats_per_sample_ = 0;
};

FloatRange RangeOf(const SampleSums& s) {
  if (s.min > s.max) return {};  // nothing but NaN
  return {s.min, s.max};
}

LayerStats Finish(const Layer& l) {
  LayerStats out = l.stats;
  const SampleSums& d = l.deployment.sums;
  if (d.compared > 0) {
    out.mean_error = d.sum_d / d.compared;
    out.mse = d.sum_d2 / d.compared;
  }
  out.max_abs_error = d.max_abs_d;
  out.rmse_over_scale = std::sqrt(out.mse) / out.scale;
  out.sqnr_db = d.sum_d2 == 0 ? std::numeric_limits<double>::infinity() : 10 * std::log10(d.sum_f2 / d.sum_d2);
  out.flagged = out.rmse_over_scale > kRmseOverScaleFlag;
  auto share = [](int64_t k, int64_t n) { return n > 0 ? static_cast<double>(k) / n : 0.0; };
  out.saturation_calibration = share(l.calibration.sums.saturated, l.calibration.values);
  out.saturation_deployment = share(d.saturated, l.deployment.values);
  out.calibration_range = RangeOf(l.calibration.sums);
  out.deployment_range = RangeOf(d);
  out.out_of_range_deployment = share(d.out_of_range, l.deployment.values);
  return out;
}

}  // namespace

Result<std::vector<LayerStats>> CompareLayers(const Graph& float_graph, const QuantizedModel& quantized,
                                              const std::vector<HostTensor>& calibration_inputs,
                                              const std::vector<HostTensor>& deployment_inputs,
                                              const DebugOptions& options) {
  const Graph& qg = quantized.graph;
  if (quantized.source_tensor.size() != qg.tensors.size()) {
    return Status::InvalidArgument("the quantized model maps " + std::to_string(quantized.source_tensor.size()) +
                                   " tensors to the float model but has " + std::to_string(qg.tensors.size()));
  }
  if (float_graph.inputs.size() != qg.inputs.size()) {
    return Status::InvalidArgument("the float model has " + std::to_string(float_graph.inputs.size()) +
                                   " inputs and the quantized model " + std::to_string(qg.inputs.size()));
  }
  QAUDIT_ASSIGN_OR_RETURN(const int64_t calibration_samples,
                          SampleCount(calibration_inputs, float_graph, "calibration"));
  QAUDIT_ASSIGN_OR_RETURN(const int64_t deployment_samples, SampleCount(deployment_inputs, float_graph, "deployment"));
  const ExecutorOptions exec_options{options.numerics, options.num_threads};
  QAUDIT_ASSIGN_OR_RETURN(auto float_exec, Executor::Create(float_graph, exec_options));
  QAUDIT_ASSIGN_OR_RETURN(auto quant_exec, Executor::Create(qg, exec_options));

  std::vector<Layer> layers = FindLayers(float_graph, quantized);
  Comparison comparison(layers, *float_exec, *quant_exec, options, 2 * (calibration_samples + deployment_samples));
  QAUDIT_RETURN_IF_ERROR(comparison.Run(calibration_inputs, calibration_samples, false).WithContext("calibration data"));
  QAUDIT_RETURN_IF_ERROR(comparison.Run(deployment_inputs, deployment_samples, true).WithContext("deployment data"));

  std::vector<LayerStats> result;
  for (const Layer& l : layers) result.push_back(Finish(l));
  return result;
}

}  // namespace qaudit::debug
