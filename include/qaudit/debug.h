// The per-layer debugger: where a quantized model departs from its float original, and
// why. Like TFLite's QuantizationDebugger (facts document section 6), every tensor the
// quantized model shares with the float model is compared after dequantization; beyond it,
// the debugger measures how often each tensor saturates on calibration data and on
// deployment data, and how far deployment ranges drift from the calibrated ones. Selective
// quantization then keeps the worst layers in float until the accuracy drop is within a
// budget, judged by the upper bound of its confidence interval.
#ifndef QAUDIT_DEBUG_H_
#define QAUDIT_DEBUG_H_

#include <cstdint>
#include <string>
#include <vector>

#include "qaudit/calibrate.h"
#include "qaudit/executor.h"
#include "qaudit/graph.h"
#include "qaudit/quantize.h"
#include "qaudit/stats.h"
#include "qaudit/status.h"

namespace qaudit::debug {

// TFLite's tutorial flags layers whose rmse/scale exceeds this (a well-quantized layer is
// near 1/sqrt(12) = 0.289: rounding noise alone).
inline constexpr double kRmseOverScaleFlag = 0.7;

// One quantized activation tensor compared with the float tensor it stands for.
struct LayerStats {
  int tensor = -1;         // index in the quantized graph
  int source_tensor = -1;  // index in the float graph
  std::string tensor_name;
  std::string op;  // the operator producing it, e.g. "CONV_2D"
  int op_index = -1;
  DType dtype = DType::kInt8;
  float scale = 0;
  int32_t zero_point = 0;
  int64_t elements_per_sample = 0;

  // Over the deployment samples, of d = dequantized quantized value - float value.
  double mean_error = 0;     // mean of d
  double max_abs_error = 0;  // max |d|
  double mse = 0;            // mean of d^2
  double rmse_over_scale = 0;
  double sqnr_db = 0;  // 10 log10(sum float^2 / sum d^2); +inf when d is 0
  bool flagged = false;  // rmse_over_scale > kRmseOverScaleFlag

  // Share of the quantized tensor's values at the type's minimum or maximum, except at an
  // end that is the zero point (there the value is 0.0, e.g. a RELU's zeros, not clipping).
  double saturation_calibration = 0;
  double saturation_deployment = 0;
  // The float tensor's range on each data set, and the share of deployment values
  // outside the range the quantized tensor can represent ((qmin - zp) s .. (qmax - zp) s).
  FloatRange calibration_range;
  FloatRange deployment_range;
  double out_of_range_deployment = 0;
};

struct DebugOptions {
  Numerics numerics = Numerics::kTflite;
  int num_threads = 2;
  ProgressFn progress;  // samples done over both data sets and both models
};

// Runs the float graph and the quantized one on both data sets (each input a batch as
// Executor::RunBatch takes) and compares every quantized activation tensor (int8 or int16)
// that has a float counterpart in `quantized.source_tensor`, in graph order.
Result<std::vector<LayerStats>> CompareLayers(const Graph& float_graph, const QuantizedModel& quantized,
                                              const std::vector<HostTensor>& calibration_inputs,
                                              const std::vector<HostTensor>& deployment_inputs,
                                              const DebugOptions& options);

struct SelectiveOptions {
  // The quantization being repaired (int8 or int16x8); its deny_tensors are extended.
  QuantizeOptions quantize;
  // Stop when the upper bound of the top-1 drop's interval (float minus quantized, in
  // [0, 1]) is at most this.
  double max_drop = 0.01;
  int max_denied = 16;  // give up after keeping this many layers in float
  // Give up after this many layers in a row that lowered the drop's upper bound by less
  // than 0.1 points (0: never): the rmse/scale ranking often runs on into layers whose
  // error was inherited, not made.
  int patience = 3;
  double confidence = 0.95;
  int resamples = 1000;
  uint64_t seed = 0;
  Numerics numerics = Numerics::kTflite;
  int num_threads = 2;
  int latency_batch = 64;  // samples per batch when timing each step
  ProgressFn progress;     // steps done, max_denied + 1
};

// One model tried: the float model with `denied` (tensor names) kept in float.
struct SelectiveStep {
  std::vector<std::string> denied;
  double top1 = 0;
  stats::Interval drop;  // float top-1 minus this model's top-1, with its interval
  int64_t model_bytes = 0;
  double ms_per_sample = 0;  // executor latency at latency_batch on num_threads threads
};

struct SelectiveResult {
  double float_top1 = 0;
  int64_t float_model_bytes = 0;
  double float_ms_per_sample = 0;
  std::vector<SelectiveStep> steps;  // steps[0] denies nothing
  bool reached = false;              // the last step's drop.high <= max_drop
};

// Greedy selective quantization: start from the full quantization, then keep in float,
// one at a time, the layer with the largest rmse_over_scale in `layers` (computed on the
// full quantization) that is not denied yet, re-quantizing and re-evaluating on the
// labelled inputs after each, until the drop's upper bound is within max_drop or
// max_denied layers are denied.
Result<SelectiveResult> SelectiveQuantize(const Graph& float_graph, const TensorRanges& ranges,
                                          const std::vector<LayerStats>& layers,
                                          const std::vector<HostTensor>& inputs, const std::vector<int32_t>& labels,
                                          const SelectiveOptions& options);

}  // namespace qaudit::debug

#endif  // QAUDIT_DEBUG_H_
