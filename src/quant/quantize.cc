#include "qaudit/quantize.h"

#include <algorithm>
#include <map>

#include "quant/passes.h"

namespace qaudit {

const char* QuantMethodName(QuantMethod m) {
  switch (m) {
    case QuantMethod::kDynamic: return "dynamic";
    case QuantMethod::kInt8: return "int8";
    case QuantMethod::kFloat16: return "float16";
    case QuantMethod::kInt16x8: return "int16x8";
  }
  return "?";
}

std::optional<QuantMethod> QuantMethodFromName(const std::string& name) {
  for (QuantMethod m : {QuantMethod::kDynamic, QuantMethod::kInt8, QuantMethod::kFloat16, QuantMethod::kInt16x8}) {
    if (name == QuantMethodName(m)) return m;
  }
  if (name == "16x8") return QuantMethod::kInt16x8;
  return std::nullopt;
}

bool NeedsCalibration(QuantMethod m) { return m == QuantMethod::kInt8 || m == QuantMethod::kInt16x8; }

namespace quant {

Result<std::vector<bool>> ChooseIntegerOps(const Graph& graph, const QuantizeOptions& options,
                                           std::vector<std::string>& notes) {
  std::vector<bool> chosen(graph.operators.size(), true);
  for (const std::string& entry : options.deny_ops) {
    bool matched = false;
    for (size_t i = 0; i < graph.operators.size(); ++i) {
      if (entry == OpName(graph.operators[i].kind) || entry == "#" + std::to_string(i)) {
        chosen[i] = false;
        matched = true;
      }
    }
    if (!matched) return Status::InvalidArgument("--deny-ops: no operator is '" + entry + "' (names like SOFTMAX, or #index)");
  }
  for (const std::string& name : options.deny_tensors) {
    bool matched = false;
    for (size_t i = 0; i < graph.operators.size(); ++i) {
      for (int t : graph.operators[i].outputs) {
        if (graph.tensors[t].name == name) {
          chosen[i] = false;
          matched = true;
        }
      }
    }
    if (!matched) return Status::InvalidArgument("--deny-tensors: no operator produces a tensor named '" + name + "'");
  }
  for (size_t i = 0; i < graph.operators.size(); ++i) {
    if (!chosen[i]) {
      notes.push_back("operator " + std::to_string(i) + " (" + OpName(graph.operators[i].kind) +
                      ") kept in float: denied");
    }
  }
  return chosen;
}

void RemoveUnusedTensors(Graph& graph, std::vector<int>* source) {
  std::vector<bool> used(graph.tensors.size(), false);
  for (const Operator& op : graph.operators) {
    for (int t : op.inputs) {
      if (t != kNoTensor) used[t] = true;
    }
    for (int t : op.outputs) used[t] = true;
  }
  for (int t : graph.inputs) used[t] = true;
  for (int t : graph.outputs) used[t] = true;
  std::vector<int> renumbered(graph.tensors.size(), kNoTensor);
  std::vector<Tensor> kept;
  std::vector<int> kept_source;
  for (size_t t = 0; t < graph.tensors.size(); ++t) {
    if (!used[t]) continue;
    renumbered[t] = static_cast<int>(kept.size());
    kept.push_back(std::move(graph.tensors[t]));
    if (source) kept_source.push_back((*source)[t]);
  }
  auto remap = [&](std::vector<int>& list) {
    for (int& t : list) {
      if (t != kNoTensor) t = renumbered[t];
    }
  };
  for (Operator& op : graph.operators) {
    remap(op.inputs);
    remap(op.outputs);
  }
  remap(graph.inputs);
  remap(graph.outputs);
  for (Signature& s : graph.signatures) {
    for (auto* list : {&s.inputs, &s.outputs}) {
      for (SignatureTensor& st : *list) st.tensor = renumbered[st.tensor];
    }
  }
  graph.tensors = std::move(kept);
  if (source) *source = std::move(kept_source);
}

void CopyGraphAttributes(const Graph& src, Graph& out) {
  out.name = src.name;
  out.description = src.description;
  out.schema_version = src.schema_version;
  out.metadata = src.metadata;
  std::map<std::string, int> by_name;
  for (int t : out.inputs) by_name[out.tensors[t].name] = t;
  for (int t : out.outputs) by_name[out.tensors[t].name] = t;
  for (const Signature& s : src.signatures) {
    Signature mapped{s.key, {}, {}};
    bool complete = true;
    for (auto [list, target] : {std::pair{&s.inputs, &mapped.inputs}, std::pair{&s.outputs, &mapped.outputs}}) {
      for (const SignatureTensor& st : *list) {
        auto it = by_name.find(src.tensors[st.tensor].name);
        if (it == by_name.end()) {
          complete = false;
          continue;
        }
        target->push_back({st.name, it->second});
      }
    }
    if (complete) out.signatures.push_back(std::move(mapped));
  }
}

}  // namespace quant

Result<QuantizedModel> Quantize(const Graph& float_graph, const QuantizeOptions& options, const TensorRanges* ranges) {
  QAUDIT_RETURN_IF_ERROR(VerifyGraph(float_graph));
  if (NeedsCalibration(options.method) && ranges == nullptr) {
    return Status::InvalidArgument(std::string(QuantMethodName(options.method)) + " quantization needs calibration data");
  }
  QuantizedModel model;
  switch (options.method) {
    case QuantMethod::kInt8:
    case QuantMethod::kInt16x8: {
      QAUDIT_ASSIGN_OR_RETURN(model, quant::QuantizeInteger(float_graph, options, *ranges));
      break;
    }
    case QuantMethod::kDynamic: {
      QAUDIT_ASSIGN_OR_RETURN(model, quant::QuantizeDynamic(float_graph, options));
      break;
    }
    case QuantMethod::kFloat16: {
      QAUDIT_ASSIGN_OR_RETURN(model, quant::QuantizeFloat16(float_graph, options));
      break;
    }
  }
  quant::RemoveUnusedTensors(model.graph, &model.source_tensor);
  QAUDIT_RETURN_IF_ERROR(VerifyGraph(model.graph));
  return model;
}

}  // namespace qaudit
