#include "qaudit/graph.h"

#include <cmath>
#include <limits>
#include <string>

namespace qaudit {
namespace {

// No real model has a tensor near this size; a corrupt shape must not become a huge
// allocation later.
constexpr int64_t kMaxTensorBytes = int64_t{1} << 30;

std::string TensorLabel(const Graph& g, int t) {
  return "tensor " + std::to_string(t) + " '" + g.tensors[t].name + "'";
}
std::string OpLabel(const Graph& g, size_t i) {
  return "operator " + std::to_string(i) + " (" + OpName(g.operators[i].kind) + ")";
}

bool ZeroPointFits(DType dtype, int64_t zp) {
  switch (dtype) {
    case DType::kInt8: return zp >= -128 && zp <= 127;
    case DType::kUInt8: return zp >= 0 && zp <= 255;
    case DType::kInt16: return zp >= -32768 && zp <= 32767;
    default: return true;
  }
}

// A per-axis 1-D tensor whose quantized_dimension points past its only axis: TFLite Micro
// accepts it (person_detect's biases), TFLite refuses it. There is only one axis it can mean.
bool HasStrayQuantizedDimension(const Tensor& t) {
  return t.quant.per_axis() && t.shape.size() == 1 && t.quant.quantized_dimension != 0 &&
         t.shape[0] == static_cast<int32_t>(t.quant.scale.size());
}

Status VerifyTensor(const Graph& g, int index) {
  const Tensor& t = g.tensors[index];
  const int64_t n = t.num_elements();
  if (n < 0) {
    return Status::InvalidArgument(TensorLabel(g, index) + " has an invalid shape " + ShapeToString(t.shape));
  }
  const int64_t max_elements = kMaxTensorBytes / static_cast<int64_t>(DTypeSize(t.dtype));
  if (n > max_elements) {
    return Status::InvalidArgument(TensorLabel(g, index) + " shape " + ShapeToString(t.shape) + " needs " +
                                   std::to_string(n) + " elements, more than qaudit allows (1 GiB)");
  }
  if (t.is_constant && static_cast<int64_t>(t.data.size()) != n * static_cast<int64_t>(DTypeSize(t.dtype))) {
    return Status::InvalidArgument(TensorLabel(g, index) + " " + DTypeName(t.dtype) + ShapeToString(t.shape) +
                                   " needs " + std::to_string(n * DTypeSize(t.dtype)) + " bytes but its buffer has " +
                                   std::to_string(t.data.size()));
  }
  const QuantParams& q = t.quant;
  if (q.scale.empty()) {
    if (!q.zero_point.empty() && q.zero_point.size() != 1) {
      return Status::InvalidArgument(TensorLabel(g, index) + " has zero points but no scales");
    }
    return Status::Ok();
  }
  if (q.zero_point.size() != q.scale.size()) {
    return Status::InvalidArgument(TensorLabel(g, index) + " has " + std::to_string(q.scale.size()) + " scales but " +
                                   std::to_string(q.zero_point.size()) + " zero points");
  }
  for (size_t i = 0; i < q.scale.size(); ++i) {
    if (!std::isfinite(q.scale[i]) || q.scale[i] < 0) {
      return Status::InvalidArgument(TensorLabel(g, index) + " has scale[" + std::to_string(i) +
                                     "] = " + std::to_string(q.scale[i]) + "; scales must be finite and >= 0");
    }
    if (!ZeroPointFits(t.dtype, q.zero_point[i])) {
      return Status::InvalidArgument(TensorLabel(g, index) + " has zero_point[" + std::to_string(i) +
                                     "] = " + std::to_string(q.zero_point[i]) + ", outside the range of " +
                                     DTypeName(t.dtype));
    }
  }
  if (q.per_axis() && !HasStrayQuantizedDimension(t)) {
    const int rank = static_cast<int>(t.shape.size());
    if (q.quantized_dimension < 0 || q.quantized_dimension >= rank) {
      return Status::InvalidArgument(TensorLabel(g, index) + " has quantized_dimension " +
                                     std::to_string(q.quantized_dimension) + " but rank " + std::to_string(rank));
    }
    if (t.shape[q.quantized_dimension] != static_cast<int32_t>(q.scale.size())) {
      return Status::InvalidArgument(TensorLabel(g, index) + " has " + std::to_string(q.scale.size()) +
                                     " per-axis scales but dimension " + std::to_string(q.quantized_dimension) +
                                     " of shape " + ShapeToString(t.shape) + " has size " +
                                     std::to_string(t.shape[q.quantized_dimension]));
    }
  }
  return Status::Ok();
}

}  // namespace

const char* ActivationName(Activation a) {
  switch (a) {
    case Activation::kNone: return "NONE";
    case Activation::kRelu: return "RELU";
    case Activation::kReluN1To1: return "RELU_N1_TO_1";
    case Activation::kRelu6: return "RELU6";
    case Activation::kTanh: return "TANH";
    case Activation::kSignBit: return "SIGN_BIT";
  }
  return "?";
}

int64_t MultiplyAccumulates(const Graph& graph, const Operator& op) {
  const bool weighted = op.kind == OpKind::kConv2D || op.kind == OpKind::kDepthwiseConv2D ||
                        op.kind == OpKind::kFullyConnected;
  if (!weighted || op.inputs.size() < 2 || op.inputs[1] < 0 || op.outputs.empty() || op.outputs[0] < 0) return 0;
  const Shape& w = graph.tensors[op.inputs[1]].shape;
  const int64_t outputs = graph.tensors[op.outputs[0]].num_elements();
  if (op.kind == OpKind::kFullyConnected) return w.size() == 2 ? outputs * w[1] : 0;
  if (w.size() != 4) return 0;
  // CONV_2D weights are [out][h][w][in]; DEPTHWISE_CONV_2D's [1][h][w][out], one input each.
  return outputs * w[1] * w[2] * (op.kind == OpKind::kConv2D ? w[3] : 1);
}

const char* OpName(OpKind kind) {
  switch (kind) {
#define QAUDIT_OP(kind, tflite_name, code, options) \
  case OpKind::k##kind: return #tflite_name;
#include "qaudit/ops.def"
#undef QAUDIT_OP
  }
  return "?";
}

int32_t OpTfliteCode(OpKind kind) {
  switch (kind) {
#define QAUDIT_OP(kind, tflite_name, code, options) \
  case OpKind::k##kind: return code;
#include "qaudit/ops.def"
#undef QAUDIT_OP
  }
  return -1;
}

OpOptions DefaultOptions(OpKind kind) {
  switch (kind) {
#define QAUDIT_OP(kind, tflite_name, code, options) \
  case OpKind::k##kind: return options{};
#include "qaudit/ops.def"
#undef QAUDIT_OP
  }
  return NoOptions{};
}

Status VerifyGraph(const Graph& g) {
  const int num_tensors = static_cast<int>(g.tensors.size());
  for (int t = 0; t < num_tensors; ++t) QAUDIT_RETURN_IF_ERROR(VerifyTensor(g, t));

  // ready[t]: the tensor has a value at this point of execution order.
  std::vector<bool> ready(num_tensors, false);
  for (int t = 0; t < num_tensors; ++t) ready[t] = g.tensors[t].is_constant || g.tensors[t].is_variable;
  for (int t : g.inputs) {
    if (t < 0 || t >= num_tensors) {
      return Status::InvalidArgument("graph input index " + std::to_string(t) + " is out of range (" +
                                     std::to_string(num_tensors) + " tensors)");
    }
    ready[t] = true;
  }
  for (size_t i = 0; i < g.operators.size(); ++i) {
    const Operator& op = g.operators[i];
    if (op.outputs.empty()) return Status::InvalidArgument(OpLabel(g, i) + " has no outputs");
    if (op.options.index() != DefaultOptions(op.kind).index()) {
      return Status::InvalidArgument(OpLabel(g, i) + " carries the options of another kind of operator");
    }
    for (int t : op.inputs) {
      if (t == kNoTensor) continue;
      if (t < 0 || t >= num_tensors) {
        return Status::InvalidArgument(OpLabel(g, i) + " input index " + std::to_string(t) + " is out of range (" +
                                       std::to_string(num_tensors) + " tensors)");
      }
      if (!ready[t]) {
        return Status::InvalidArgument(OpLabel(g, i) + " reads " + TensorLabel(g, t) +
                                       " before any operator produces it (operators out of order, or a cycle)");
      }
    }
    for (int t : op.outputs) {
      if (t < 0 || t >= num_tensors) {
        return Status::InvalidArgument(OpLabel(g, i) + " output index " + std::to_string(t) + " is out of range (" +
                                       std::to_string(num_tensors) + " tensors)");
      }
      if (ready[t]) {
        return Status::InvalidArgument(OpLabel(g, i) + " writes " + TensorLabel(g, t) +
                                       ", which is a constant, a graph input or already written");
      }
      ready[t] = true;
    }
  }
  for (int t : g.outputs) {
    if (t < 0 || t >= num_tensors) {
      return Status::InvalidArgument("graph output index " + std::to_string(t) + " is out of range (" +
                                     std::to_string(num_tensors) + " tensors)");
    }
    if (!ready[t]) return Status::InvalidArgument("graph output " + TensorLabel(g, t) + " is never produced");
  }
  return Status::Ok();
}

std::vector<std::string> GraphWarnings(const Graph& g) {
  std::vector<std::string> warnings;
  for (int t = 0; t < static_cast<int>(g.tensors.size()); ++t) {
    if (HasStrayQuantizedDimension(g.tensors[t])) {
      warnings.push_back(TensorLabel(g, t) + " is 1-D with per-axis quantization but quantized_dimension " +
                         std::to_string(g.tensors[t].quant.quantized_dimension) +
                         "; qaudit uses axis 0. TFLite refuses such a model; `qaudit repair` writes a fixed copy");
    }
  }
  return warnings;
}

int RepairGraph(Graph& g) {
  int changed = 0;
  for (Tensor& t : g.tensors) {
    if (HasStrayQuantizedDimension(t)) {
      t.quant.quantized_dimension = 0;
      ++changed;
    }
  }
  return changed;
}

}  // namespace qaudit
