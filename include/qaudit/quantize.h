// Quantization methods as graph-to-graph passes: a float Graph in, a quantized Graph out,
// computed the way the TFLite converter computes it unless an option says otherwise.
//
// The parameter rules (facts document section 2; TFLite's quantization_utils.cc):
// activations int8 asymmetric from a calibrated range widened to include 0, scale
// (max - min) / 255 and a nudged zero point; int16 activations symmetric (max |x| / 32767);
// weights symmetric int8 in [-127, 127] (per channel: CONV_2D axis 0, DEPTHWISE_CONV_2D
// axis 3; FULLY_CONNECTED per tensor); bias int32 (int64 in 16x8) with scale input x weight
// scale, the weight range widened where the bias would overflow; fixed output parameters for
// SOFTMAX, LOGISTIC and TANH; pooling, reshape, pad and transpose keep their input's
// parameters.
#ifndef QAUDIT_QUANTIZE_H_
#define QAUDIT_QUANTIZE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "qaudit/calibrate.h"
#include "qaudit/graph.h"
#include "qaudit/status.h"

namespace qaudit {

enum class QuantMethod {
  kDynamic,  // int8 weights, float activations quantized per batch row at run time
  kInt8,     // full integer: int8 weights and activations from calibrated ranges
  kFloat16,  // float16 weights, each followed by a DEQUANTIZE
  kInt16x8,  // int16 activations, int8 weights, int64 bias
};
const char* QuantMethodName(QuantMethod m);  // "dynamic", "int8", "float16", "int16x8"
std::optional<QuantMethod> QuantMethodFromName(const std::string& name);
bool NeedsCalibration(QuantMethod m);

enum class WeightGranularity {
  kDefault,     // TFLite's: per channel for CONV_2D and DEPTHWISE_CONV_2D, per tensor for FULLY_CONNECTED
  kPerChannel,  // per channel for FULLY_CONNECTED too
  kPerTensor,   // one scale per weight tensor everywhere
};

struct QuantizeOptions {
  QuantMethod method = QuantMethod::kInt8;
  WeightGranularity granularity = WeightGranularity::kDefault;
  // The model's input and output types: float32 (QUANTIZE/DEQUANTIZE at the boundary), or
  // the activation type (int8, or int16 for 16x8), or uint8 (int8 inside, shifted by 128).
  DType input_type = DType::kFloat32;
  DType output_type = DType::kFloat32;
  // Operators kept in float: by op name ("SOFTMAX") or by index ("#3").
  std::vector<std::string> deny_ops;
  // Operators kept in float because they produce one of these tensors (by name).
  std::vector<std::string> deny_tensors;
  // kDynamic: weight tensors with fewer elements stay float (TFLite's default 1024).
  int64_t dynamic_min_elements = 1024;
};

struct QuantizedModel {
  Graph graph;
  // For each tensor of `graph`, the tensor of the float graph whose values it holds
  // (quantized or not), or -1 for tensors with no float counterpart.
  std::vector<int> source_tensor;
  // Decisions a user should know of: operators kept in float and why, weight ranges
  // widened for the bias, defaults applied.
  std::vector<std::string> notes;
};

// Quantizes `float_graph`. kInt8 and kInt16x8 need `ranges` for every float activation
// tensor an integer operator reads or writes (CalibrationStatistics::Ranges).
Result<QuantizedModel> Quantize(const Graph& float_graph, const QuantizeOptions& options,
                                const TensorRanges* ranges = nullptr);

// A float model computing what a quantized one computes, with real-valued weights:
// constants are dequantized ((q - zero_point) x scale), activations become float32 and
// QUANTIZE/DEQUANTIZE operators disappear. Quantized model inputs and outputs become float
// inputs and outputs holding the real values.
Result<Graph> Dequantize(const Graph& quantized_graph);

}  // namespace qaudit

#endif  // QAUDIT_QUANTIZE_H_
