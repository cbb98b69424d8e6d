// The methods that change only constants: dynamic range (int8 weights, float activations)
// and float16 (half-precision weights).
#include <algorithm>
#include <cstring>

#include "kernels/quantize.h"
#include "quant/params.h"
#include "quant/passes.h"

namespace qaudit::quant {
namespace {

// The graph unchanged, with every tensor its own source.
QuantizedModel CopyOf(const Graph& g) {
  QuantizedModel m;
  m.graph = g;
  for (size_t t = 0; t < g.tensors.size(); ++t) m.source_tensor.push_back(static_cast<int>(t));
  return m;
}

int AddTensor(QuantizedModel& m, Tensor t, int source) {
  m.graph.tensors.push_back(std::move(t));
  m.source_tensor.push_back(source);
  return static_cast<int>(m.graph.tensors.size()) - 1;
}

// The operator versions TFLite's converter records for hybrid kernels (op_version.cc).
int32_t HybridOpVersion(const Operator& op, bool per_channel) {
  switch (op.kind) {
    case OpKind::kFullyConnected: {
      const FullyConnectedOptions& o = op.opts<FullyConnectedOptions>();
      return o.keep_num_dims ? 5 : o.asymmetric_quantize_inputs ? 9 : 3;
    }
    case OpKind::kConv2D: return per_channel ? 5 : 2;
    default: return per_channel ? 6 : 4;
  }
}

// The weight axis TFLite 2.12's hybrid kernels can run: CONV_2D per channel or per tensor,
// DEPTHWISE_CONV_2D per channel only (with one scale it reads past the scale array),
// FULLY_CONNECTED per tensor only (a per-channel one silently computes act(bias)).
int HybridAxis(OpKind kind, WeightGranularity granularity) {
  if (kind == OpKind::kDepthwiseConv2D) return 3;
  if (kind == OpKind::kConv2D && granularity != WeightGranularity::kPerTensor) return 0;
  return -1;
}

}  // namespace

Result<QuantizedModel> QuantizeDynamic(const Graph& float_graph, const QuantizeOptions& options) {
  QuantizedModel m = CopyOf(float_graph);
  QAUDIT_ASSIGN_OR_RETURN(std::vector<bool> chosen, ChooseIntegerOps(float_graph, options, m.notes));
  for (size_t i = 0; i < float_graph.operators.size(); ++i) {
    Operator& op = m.graph.operators[i];
    const bool has_weights = op.kind == OpKind::kConv2D || op.kind == OpKind::kDepthwiseConv2D ||
                             op.kind == OpKind::kFullyConnected;
    if (!chosen[i] || !has_weights || op.inputs.size() < 2) continue;
    const Tensor& w = float_graph.tensors[op.inputs[1]];
    if (!w.is_constant || w.dtype != DType::kFloat32 || float_graph.tensors[op.inputs[0]].dtype != DType::kFloat32) {
      continue;
    }
    if (w.num_elements() < options.dynamic_min_elements) {
      m.notes.push_back("operator " + std::to_string(i) + " (" + OpName(op.kind) + ") kept in float: its weights '" +
                        w.name + "' have " + std::to_string(w.num_elements()) + " elements, fewer than " +
                        std::to_string(options.dynamic_min_elements));
      continue;
    }
    const int axis = HybridAxis(op.kind, options.granularity);
    if ((op.kind == OpKind::kFullyConnected && options.granularity == WeightGranularity::kPerChannel) ||
        (op.kind == OpKind::kDepthwiseConv2D && options.granularity == WeightGranularity::kPerTensor)) {
      m.notes.push_back("operator " + std::to_string(i) + " (" + OpName(op.kind) + "): weights kept " +
                        (axis < 0 ? "per tensor" : "per channel") +
                        ", the only granularity TFLite's hybrid kernel runs correctly");
    }
    const SymmetricWeights sw =
        QuantizeWeights(w.data_as<float>(), w.shape, axis, WeightHalfRanges(w.data_as<float>(), w.shape, axis));
    Tensor q = w;
    q.dtype = DType::kInt8;
    q.quant = {};
    q.quant.scale = sw.scales;
    // Per-channel scales that all agree make TFLite's CONV_2D pick its per-tensor kernel
    // and read a scale that is not there: write the one scale.
    const bool all_equal = std::all_of(sw.scales.begin(), sw.scales.end(), [&](float s) { return s == sw.scales[0]; });
    if (op.kind == OpKind::kConv2D && all_equal) q.quant.scale.resize(1);
    q.quant.zero_point.assign(q.quant.scale.size(), 0);
    q.quant.quantized_dimension = std::max(axis, 0);
    q.data.assign(reinterpret_cast<const uint8_t*>(sw.values.data()),
                  reinterpret_cast<const uint8_t*>(sw.values.data()) + sw.values.size());
    const bool per_channel = q.quant.scale.size() > 1;
    op.inputs[1] = AddTensor(m, std::move(q), op.inputs[1]);
    if (op.kind == OpKind::kFullyConnected) {
      // The MLIR converter's choice for FULLY_CONNECTED: inputs quantized per row with a
      // zero point, which keeps one-sided activations (after ReLU) at full resolution.
      std::get<FullyConnectedOptions>(op.options).asymmetric_quantize_inputs = true;
    }
    op.version = std::max(op.version, HybridOpVersion(op, per_channel));
  }
  return m;
}

Result<QuantizedModel> QuantizeFloat16(const Graph& float_graph, const QuantizeOptions& options) {
  QuantizedModel m = CopyOf(float_graph);
  QAUDIT_ASSIGN_OR_RETURN(std::vector<bool> chosen, ChooseIntegerOps(float_graph, options, m.notes));
  std::vector<int> dequantized(float_graph.tensors.size(), -1);
  std::vector<Operator> dequantize_ops;
  for (size_t i = 0; i < float_graph.operators.size(); ++i) {
    if (!chosen[i]) continue;
    for (int& t : m.graph.operators[i].inputs) {
      if (t == kNoTensor) continue;
      const Tensor& c = float_graph.tensors[t];
      if (!c.is_constant || c.dtype != DType::kFloat32) continue;
      if (dequantized[t] < 0) {
        Tensor half = c;
        half.dtype = DType::kFloat16;
        half.data.resize(c.num_elements() * 2);
        for (int64_t k = 0; k < c.num_elements(); ++k) {
          const uint16_t h = kernels::FloatToHalf(c.data_as<float>()[k]);
          std::memcpy(half.data.data() + 2 * k, &h, 2);
        }
        const int half_index = AddTensor(m, std::move(half), t);
        Tensor f = c;
        f.name = c.name + "_dequantize";
        f.is_constant = false;
        f.data.clear();
        dequantized[t] = AddTensor(m, std::move(f), t);
        dequantize_ops.push_back(Operator{OpKind::kDequantize, {half_index}, {dequantized[t]}, NoOptions{}, 3});
      }
      t = dequantized[t];
    }
  }
  // The converter puts the DEQUANTIZE operators first; the float32 copies are computed once
  // per invocation (TFLite then keeps them, as they depend on constants only).
  m.graph.operators.insert(m.graph.operators.begin(), dequantize_ops.begin(), dequantize_ops.end());
  return m;
}

}  // namespace qaudit::quant
