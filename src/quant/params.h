// How the TFLite converter turns float ranges and weights into quantization parameters
// (tensorflow/lite/tools/optimize/quantization_utils.cc). Float arithmetic matches it
// where it matters for the values written: float scales, TfLiteRound (half away from zero).
#ifndef QAUDIT_SRC_QUANT_PARAMS_H_
#define QAUDIT_SRC_QUANT_PARAMS_H_

#include <cstdint>
#include <vector>

#include "qaudit/calibrate.h"
#include "qaudit/tensor.h"

namespace qaudit::quant {

// int8 activations: the range widened to include 0, scale (max - min) / 255 and the zero
// point qmin - min / scale, clamped, else rounded. A range of only 0 gets scale 1 (TFLite
// would write scale 0, which its kernels reject).
QuantParams AsymmetricParams(FloatRange range, int qmin, int qmax);
// int16 activations: zero point 0, scale max(|min|, |max|) / 32767 (1 for an all-zero range).
QuantParams SymmetricInt16Params(FloatRange range);
// Quantizes values with given per-tensor parameters, rounding half away from zero and
// clamping to [qmin, qmax].
std::vector<int64_t> QuantizeValues(const float* values, int64_t n, const QuantParams& params, int qmin, int qmax);

// Symmetric int8 weights in [-127, 127]: one scale per slice along `axis`, or one scale
// for the whole tensor when axis < 0. `half_range` holds max |w| per scale; callers may
// widen it (bias overflow) before quantizing.
struct SymmetricWeights {
  int axis = -1;
  std::vector<float> half_range;
  std::vector<float> scales;
  std::vector<int8_t> values;
};
std::vector<float> WeightHalfRanges(const float* w, const Shape& shape, int axis);
SymmetricWeights QuantizeWeights(const float* w, const Shape& shape, int axis, std::vector<float> half_range);

// AdjustWeightsForBiasScale: widens half ranges so that |bias| / (input scale x weight
// scale) stays within half the int32 range. Returns how many scales changed.
int WidenForInt32Bias(const float* bias, int64_t bias_size, float input_scale, std::vector<float>& half_range);

// bias / (input scale x weight scale[c]), rounded and clamped to the bias type's range.
std::vector<int64_t> QuantizeBias(const float* bias, int64_t n, float input_scale, const std::vector<float>& weight_scales,
                                  bool int64_bias);

}  // namespace qaudit::quant

#endif  // QAUDIT_SRC_QUANT_PARAMS_H_
