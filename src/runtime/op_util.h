// Helpers shared by the Prepare functions: activation ranges and quantization checks.
#ifndef QAUDIT_SRC_RUNTIME_OP_UTIL_H_
#define QAUDIT_SRC_RUNTIME_OP_UTIL_H_

#include <cstdint>
#include <utility>

#include "runtime/op_kernel.h"

namespace qaudit::runtime {

// The float clamp range of a fused activation (TANH and SIGN_BIT are not clamps and are
// refused).
Result<std::pair<float, float>> FloatActivationRange(const PrepareContext& ctx, Activation a);

// The integer clamp range of a fused activation for an output quantized as `out`, as
// TFLite computes it: the dtype's range intersected with zero_point + round(bound / scale).
Result<std::pair<int32_t, int32_t>> QuantizedActivationRange(const PrepareContext& ctx, Activation a,
                                                             const Tensor& out);

// The integer range of a dtype (int8: [-128, 127], ...).
std::pair<int32_t, int32_t> DTypeRange(DType d);

int32_t ZeroPoint(const Tensor& t);  // per-tensor zero point, 0 when absent
double Scale(const Tensor& t);       // per-tensor scale

bool IsQuantizedType(DType d);  // int8, uint8, int16

}  // namespace qaudit::runtime

#endif  // QAUDIT_SRC_RUNTIME_OP_UTIL_H_
