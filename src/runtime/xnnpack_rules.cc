#include "runtime/xnnpack_rules.h"

#include <algorithm>
#include <cmath>

#include "runtime/op_util.h"

namespace qaudit::runtime {
namespace {

bool RatioInAddRange(float ratio) { return ratio >= 0x1.0p-10f && ratio < 0x1.0p+8f; }

Activation FusedActivation(const Operator& op) {
  switch (op.kind) {
    case OpKind::kConv2D:
    case OpKind::kDepthwiseConv2D: return op.opts<ConvOptions>().activation;
    case OpKind::kFullyConnected: return op.opts<FullyConnectedOptions>().activation;
    case OpKind::kAdd:
    case OpKind::kSub: return op.opts<ElementwiseOptions>().activation;
    default: return Activation::kNone;
  }
}

bool HasPerTensorScale(const Tensor& t) { return t.quant.scale.size() == 1 && t.quant.scale[0] > 0; }

}  // namespace

// The executor asks before any Prepare has validated the node, so this checks arity and
// scales itself and answers false for anything malformed (Prepare then reports it).
bool XnnpackClaims(const Graph& g, const Operator& op) {
  if (op.inputs.size() < 2 || op.outputs.empty() || op.inputs[0] == kNoTensor || op.inputs[1] == kNoTensor) return false;
  const Tensor& in = g.tensors[op.inputs[0]];
  if (in.dtype != DType::kFloat32 && in.dtype != DType::kInt8 && in.dtype != DType::kUInt8) return false;
  const bool has_bias = op.inputs.size() > 2 && op.inputs[2] != kNoTensor;
  switch (op.kind) {
    case OpKind::kConv2D:
    case OpKind::kDepthwiseConv2D: return has_bias;
    case OpKind::kFullyConnected: return in.dtype == DType::kFloat32 || !g.tensors[op.inputs[1]].quant.per_axis();
    case OpKind::kAdd:
    case OpKind::kSub: {
      if (in.dtype == DType::kFloat32) return true;
      const Tensor& b = g.tensors[op.inputs[1]];
      const Tensor& out = g.tensors[op.outputs[0]];
      if (!HasPerTensorScale(in) || !HasPerTensorScale(b) || !HasPerTensorScale(out)) return false;
      return RatioInAddRange(in.quant.scale[0] / out.quant.scale[0]) &&
             RatioInAddRange(b.quant.scale[0] / out.quant.scale[0]);
    }
    default: return false;
  }
}

bool XnnpackRuntimeFailsOn(const Graph& g, const Operator& op) {
  if (!XnnpackClaims(g, op)) return false;
  const Tensor& out = g.tensors[op.outputs[0]];
  if ((out.dtype != DType::kInt8 && out.dtype != DType::kUInt8) || !HasPerTensorScale(out)) return false;
  const auto range = XnnpackQuantizedActivationRange(FusedActivation(op), out);
  return range.first >= range.second;
}

std::pair<int32_t, int32_t> XnnpackQuantizedActivationRange(Activation a, const Tensor& out) {
  // Not a structured binding: the lambda below captures these, which clang < 16 rejects.
  const std::pair<int32_t, int32_t> dtype_range = DTypeRange(out.dtype);
  const int32_t qmin = dtype_range.first, qmax = dtype_range.second;
  const float scale = out.quant.scale.empty() ? 1.0f : out.quant.scale[0];
  const float zp = static_cast<float>(ZeroPoint(out));
  auto quantize = [&](float bound) {
    const float v = std::min(std::max(bound / scale + zp, static_cast<float>(qmin)), static_cast<float>(qmax));
    return static_cast<int32_t>(std::nearbyintf(v));
  };
  switch (a) {
    case Activation::kRelu: return {quantize(0.0f), qmax};
    case Activation::kRelu6: return {quantize(0.0f), quantize(6.0f)};
    case Activation::kReluN1To1: return {quantize(-1.0f), quantize(1.0f)};
    default: return {qmin, qmax};
  }
}

}  // namespace qaudit::runtime
