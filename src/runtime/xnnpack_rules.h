// Which nodes TFLite's default XNNPACK delegate takes over, as measured against TFLite
// 2.12's interpreter (tests/oracle/single_op_test.cc predicts all 3,296 CONV_2D,
// DEPTHWISE_CONV_2D and FULLY_CONNECTED nodes and all 828 ADD/SUB nodes of its seeds).
// Nodes it does not take run on TFLite's built-in kernels, so Numerics::kXnnpack computes
// those with the kTflite rules. Ops not listed here keep their own rule next to their
// kernel (ops_activation.cc, ops_mean.cc, ops_mul.cc, ops_quantize.cc, ops_shape.cc).
#ifndef QAUDIT_SRC_RUNTIME_XNNPACK_RULES_H_
#define QAUDIT_SRC_RUNTIME_XNNPACK_RULES_H_

#include <cstdint>
#include <utility>

#include "qaudit/graph.h"

namespace qaudit::runtime {

// CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED / ADD / SUB nodes the delegate claims:
// float32, int8 or uint8 (never int16); CONV_2D and DEPTHWISE_CONV_2D only with a bias;
// FULLY_CONNECTED only with per-tensor weights; ADD/SUB only when both input-to-output
// scale ratios lie in [2^-10, 2^8). False for every other op kind.
bool XnnpackClaims(const Graph& g, const Operator& op);

// A claimed quantized node whose activation range, quantized XNNPACK's way, is empty makes
// XNNPACK fail to create its runtime; TFLite then restores its own kernels for the whole
// graph (measured: a second, valid ADD in the same graph also ran built-in).
bool XnnpackRuntimeFailsOn(const Graph& g, const Operator& op);

// The integer clamp range XNNPACK derives for a fused activation: each float bound is
// quantized as lrintf(clamp(bound / scale + zero_point, qmin, qmax)), i.e. rounded half to
// even after adding the zero point (TFLite's kernels round bound / scale half away from
// zero, then add the zero point).
std::pair<int32_t, int32_t> XnnpackQuantizedActivationRange(Activation a, const Tensor& out);

}  // namespace qaudit::runtime

#endif  // QAUDIT_SRC_RUNTIME_XNNPACK_RULES_H_
