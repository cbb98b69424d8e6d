// A float model from a quantized one: real-valued constants, float activations, no
// QUANTIZE/DEQUANTIZE. Real quantized networks (the converter's MobileNets) can then be
// quantized again by qaudit and compared with the converter's own result.
#include <cstring>

#include "kernels/quantize.h"
#include "qaudit/quantize.h"
#include "quant/passes.h"

namespace qaudit {
namespace {

template <typename T>
std::vector<float> Dequantized(const Tensor& t) {
  const int64_t n = t.num_elements();
  std::vector<float> real(n);
  const T* q = t.data_as<T>();
  const QuantParams& p = t.quant;
  // Per-axis parameters: the channel of element i is (i / inner) % channels.
  int64_t inner = 1;
  int64_t channels = 1;
  if (p.per_axis()) {
    channels = t.shape[p.quantized_dimension];
    for (size_t d = p.quantized_dimension + 1; d < t.shape.size(); ++d) inner *= t.shape[d];
  }
  for (int64_t i = 0; i < n; ++i) {
    const size_t c = p.per_axis() ? static_cast<size_t>((i / inner) % channels) : 0;
    real[i] = static_cast<float>(static_cast<double>(q[i]) - static_cast<double>(p.zero_point_at(c))) * p.scale_at(c);
  }
  return real;
}

Result<std::vector<float>> DequantizedConstant(const Tensor& t) {
  if (t.dtype == DType::kFloat16) {
    std::vector<float> real(t.num_elements());
    kernels::DequantizeHalf(t.data_as<uint16_t>(), t.num_elements(), real.data());
    return real;
  }
  switch (t.dtype) {
    case DType::kInt8: return Dequantized<int8_t>(t);
    case DType::kUInt8: return Dequantized<uint8_t>(t);
    case DType::kInt16: return Dequantized<int16_t>(t);
    case DType::kInt32: return Dequantized<int32_t>(t);
    case DType::kInt64: return Dequantized<int64_t>(t);
    default: return Status::Unsupported(std::string("constant '") + t.name + "' of type " + DTypeName(t.dtype));
  }
}

bool IsQuantizedActivation(const Tensor& t) {
  return !t.is_constant && t.quant.has_scale() &&
         (t.dtype == DType::kInt8 || t.dtype == DType::kUInt8 || t.dtype == DType::kInt16);
}

}  // namespace

Result<Graph> Dequantize(const Graph& quantized_graph) {
  QAUDIT_RETURN_IF_ERROR(VerifyGraph(quantized_graph));
  Graph g = quantized_graph;
  for (Tensor& t : g.tensors) {
    const bool quantized_constant = t.is_constant && (t.quant.has_scale() || t.dtype == DType::kFloat16);
    if (quantized_constant) {
      QAUDIT_ASSIGN_OR_RETURN(std::vector<float> real, DequantizedConstant(t));
      t.data.resize(real.size() * sizeof(float));
      if (!real.empty()) std::memcpy(t.data.data(), real.data(), t.data.size());
    } else if (!IsQuantizedActivation(t)) {
      continue;
    }
    t.dtype = DType::kFloat32;
    t.quant = {};
  }
  // QUANTIZE and DEQUANTIZE become identities: readers of their output read their input.
  std::vector<int> alias(g.tensors.size());
  for (size_t t = 0; t < alias.size(); ++t) alias[t] = static_cast<int>(t);
  std::vector<Operator> kept;
  for (Operator op : g.operators) {
    for (int& t : op.inputs) {
      if (t != kNoTensor) t = alias[t];
    }
    if (op.kind == OpKind::kQuantize || op.kind == OpKind::kDequantize) {
      alias[op.outputs[0]] = op.inputs[0];
      continue;
    }
    for (const int t : op.inputs) {
      if (t != kNoTensor && g.tensors[t].dtype != DType::kFloat32 && !g.tensors[t].is_constant) {
        return Status::Unsupported("operator " + std::string(OpName(op.kind)) + " reads tensor '" + g.tensors[t].name +
                                   "' of type " + DTypeName(g.tensors[t].dtype) + ", which has no float meaning");
      }
    }
    op.version = 1;
    if (op.kind == OpKind::kFullyConnected) std::get<FullyConnectedOptions>(op.options).asymmetric_quantize_inputs = false;
    kept.push_back(std::move(op));
  }
  g.operators = std::move(kept);
  for (int& t : g.outputs) {
    const int original = t;
    t = alias[t];
    bool is_input = false;
    for (int in : g.inputs) is_input = is_input || in == t;
    if (t != original && !is_input) g.tensors[t].name = g.tensors[original].name;
  }
  for (Signature& s : g.signatures) {
    for (SignatureTensor& st : s.outputs) st.tensor = alias[st.tensor];
  }
  quant::RemoveUnusedTensors(g, nullptr);
  QAUDIT_RETURN_IF_ERROR(VerifyGraph(g));
  return g;
}

}  // namespace qaudit
