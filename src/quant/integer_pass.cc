// Full-integer quantization (int8, and 16x8): every operator that has an integer kernel
// gets quantized inputs and outputs; the rest stay float behind DEQUANTIZE/QUANTIZE pairs.
#include "quant/passes.h"

#include <algorithm>
#include <cstring>

#include "quant/params.h"

namespace qaudit::quant {
namespace {

bool HasIntegerKernel(OpKind kind, bool int16) {
  switch (kind) {
    case OpKind::kConv2D: case OpKind::kDepthwiseConv2D: case OpKind::kFullyConnected:
    case OpKind::kAdd: case OpKind::kSub: case OpKind::kMul: case OpKind::kMean:
    case OpKind::kAveragePool2D: case OpKind::kMaxPool2D: case OpKind::kConcatenation:
    case OpKind::kReshape: case OpKind::kPad: case OpKind::kTranspose:
    case OpKind::kSoftmax: case OpKind::kLogistic: case OpKind::kTanh:
    case OpKind::kRelu: case OpKind::kRelu6: case OpKind::kLeakyRelu:
      return true;
    case OpKind::kHardSwish: return !int16;  // TFLite has no int16 HARD_SWISH
    default: return false;
  }
}

// Operators whose output must carry their input's parameters (quantization spec).
bool KeepsInputParams(OpKind kind) {
  return kind == OpKind::kAveragePool2D || kind == OpKind::kMaxPool2D || kind == OpKind::kReshape ||
         kind == OpKind::kPad || kind == OpKind::kTranspose;
}

// Which inputs hold activations (quantized with activation parameters); the others are
// weights, biases, shapes or axes.
bool IsActivationInput(OpKind kind, size_t input) {
  switch (kind) {
    case OpKind::kAdd: case OpKind::kSub: case OpKind::kMul: case OpKind::kConcatenation: return true;
    default: return input == 0;
  }
}

// The operator versions the TFLite converter records for integer kernels.
int32_t IntegerOpVersion(OpKind kind, bool int16) {
  switch (kind) {
    case OpKind::kConv2D: return int16 ? 4 : 3;
    case OpKind::kDepthwiseConv2D: return int16 ? 5 : 3;
    case OpKind::kFullyConnected: return int16 ? 7 : 4;
    case OpKind::kReshape: case OpKind::kHardSwish: return 1;
    case OpKind::kLeakyRelu: return 2;
    default: return int16 ? 3 : 2;
  }
}

class IntegerPass {
 public:
  IntegerPass(const Graph& src, const QuantizeOptions& options, const TensorRanges& ranges)
      : src_(src), options_(options), ranges_(ranges), int16_(options.method == QuantMethod::kInt16x8),
        params_(src.tensors.size()), float_version_(src.tensors.size(), -1), quant_version_(src.tensors.size(), -1),
        constant_copy_(src.tensors.size(), -1) {}

  Result<QuantizedModel> Run() {
    QAUDIT_RETURN_IF_ERROR(CheckBoundaryTypes());
    QAUDIT_ASSIGN_OR_RETURN(std::vector<bool> integer, ChooseIntegerOps(src_, options_, result_.notes));
    for (size_t i = 0; i < src_.operators.size(); ++i) {
      if (integer[i] && !HasIntegerKernel(src_.operators[i].kind, int16_)) {
        result_.notes.push_back("operator " + std::to_string(i) + " (" + OpName(src_.operators[i].kind) +
                                ") has no " + (int16_ ? "16x8" : "int8") + " kernel in TFLite; kept in float");
        integer[i] = false;
      }
    }
    QAUDIT_RETURN_IF_ERROR(AddGraphInputs());
    for (size_t i = 0; i < src_.operators.size(); ++i) {
      if (integer[i]) {
        QAUDIT_RETURN_IF_ERROR(AddIntegerOp(i));
      } else {
        QAUDIT_RETURN_IF_ERROR(AddFloatOp(src_.operators[i]));
      }
    }
    QAUDIT_RETURN_IF_ERROR(AddGraphOutputs());
    CopyGraphAttributes(src_, out_);
    result_.graph = std::move(out_);
    return std::move(result_);
  }

 private:
  DType act_type() const { return int16_ ? DType::kInt16 : DType::kInt8; }
  int qmin() const { return int16_ ? -32768 : -128; }
  int qmax() const { return int16_ ? 32767 : 127; }

  Status CheckBoundaryTypes() const {
    for (DType t : {options_.input_type, options_.output_type}) {
      const bool ok = t == DType::kFloat32 || t == act_type() || (!int16_ && t == DType::kUInt8);
      if (!ok) {
        return Status::InvalidArgument(std::string("input/output type ") + DTypeName(t) + " is not available for " +
                                       QuantMethodName(options_.method) + " (use float32, " +
                                       DTypeName(act_type()) + (int16_ ? "" : " or uint8") + ")");
      }
    }
    return Status::Ok();
  }

  int AddTensor(Tensor t, int source) {
    out_.tensors.push_back(std::move(t));
    result_.source_tensor.push_back(source);
    return static_cast<int>(out_.tensors.size()) - 1;
  }
  void AddOp(OpKind kind, std::vector<int> inputs, std::vector<int> outputs, OpOptions options, int32_t version) {
    out_.operators.push_back(Operator{kind, std::move(inputs), std::move(outputs), std::move(options), version});
  }

  // The parameters chosen for float activation t.
  Result<QuantParams> ParamsOf(int t) {
    if (params_[t]) return *params_[t];
    const Tensor& tensor = src_.tensors[t];
    FloatRange range;
    if (tensor.is_constant) {
      const float* v = tensor.data_as<float>();
      const int64_t n = tensor.num_elements();
      if (n > 0) range = {*std::min_element(v, v + n), *std::max_element(v, v + n)};
    } else {
      auto it = ranges_.find(t);
      if (it == ranges_.end()) {
        return Status::InvalidArgument("no calibrated range for tensor " + std::to_string(t) + " '" + tensor.name +
                                       "' (was it computed by the calibration run?)");
      }
      range = it->second;
    }
    params_[t] = int16_ ? SymmetricInt16Params(range) : AsymmetricParams(range, qmin(), qmax());
    return *params_[t];
  }

  Tensor QuantizedLike(const Tensor& t, DType dtype, QuantParams params, const std::string& name) const {
    Tensor q;
    q.name = name;
    q.dtype = dtype;
    q.shape = t.shape;
    q.shape_signature = t.shape_signature;
    q.quant = std::move(params);
    return q;
  }

  // The integer version of float tensor t, made by a QUANTIZE operator (or quantized data for
  // a constant) the first time an integer operator needs it.
  Result<int> QuantVersion(int t) {
    if (quant_version_[t] >= 0) return quant_version_[t];
    const Tensor& tensor = src_.tensors[t];
    QAUDIT_ASSIGN_OR_RETURN(QuantParams params, ParamsOf(t));
    if (tensor.is_constant) {
      Tensor q = QuantizedLike(tensor, act_type(), params, tensor.name);
      q.is_constant = true;
      const std::vector<int64_t> values = QuantizeValues(tensor.data_as<float>(), tensor.num_elements(), params, qmin(), qmax());
      q.data = int16_ ? Pack<int16_t>(values) : Pack<int8_t>(values);
      return quant_version_[t] = AddTensor(std::move(q), t);
    }
    QAUDIT_ASSIGN_OR_RETURN(int f, FloatVersion(t));
    const int q = AddTensor(QuantizedLike(tensor, act_type(), params, tensor.name + "_" + DTypeName(act_type())), t);
    AddOp(OpKind::kQuantize, {f}, {q}, NoOptions{}, int16_ ? 3 : 2);
    return quant_version_[t] = q;
  }

  // The float version of tensor t, made by a DEQUANTIZE operator when only an integer one
  // exists.
  Result<int> FloatVersion(int t) {
    if (float_version_[t] >= 0) return float_version_[t];
    const Tensor& tensor = src_.tensors[t];
    if (tensor.is_constant || tensor.dtype != DType::kFloat32) return CopyConstantOrFail(t);
    if (quant_version_[t] < 0) {
      return Status::Internal("tensor " + std::to_string(t) + " '" + tensor.name + "' is read before it is written");
    }
    Tensor f = tensor;
    f.name = tensor.name + "_dequantized";
    f.quant = {};
    const int fi = AddTensor(std::move(f), t);
    AddOp(OpKind::kDequantize, {quant_version_[t]}, {fi}, NoOptions{}, int16_ ? 3 : 2);
    return float_version_[t] = fi;
  }

  Result<int> CopyConstantOrFail(int t) {
    if (constant_copy_[t] >= 0) return constant_copy_[t];
    if (!src_.tensors[t].is_constant) {
      return Status::Unsupported("tensor " + std::to_string(t) + " '" + src_.tensors[t].name + "' is a " +
                                 DTypeName(src_.tensors[t].dtype) + " activation; only float models can be quantized");
    }
    return constant_copy_[t] = AddTensor(src_.tensors[t], t);
  }

  Status AddGraphInputs() {
    for (int t : src_.inputs) {
      const Tensor& tensor = src_.tensors[t];
      if (tensor.dtype != DType::kFloat32) {
        return Status::Unsupported("model input '" + tensor.name + "' is " + DTypeName(tensor.dtype) +
                                   "; quantize takes float models (see `qaudit dequantize`)");
      }
      if (options_.input_type == DType::kFloat32) {
        float_version_[t] = AddTensor(tensor, t);
        out_.inputs.push_back(float_version_[t]);
        continue;
      }
      QAUDIT_ASSIGN_OR_RETURN(QuantParams params, ParamsOf(t));
      if (options_.input_type == DType::kUInt8) {
        QuantParams shifted = params;
        shifted.zero_point[0] += 128;
        const int u = AddTensor(QuantizedLike(tensor, DType::kUInt8, shifted, tensor.name), t);
        out_.inputs.push_back(u);
        quant_version_[t] = AddTensor(QuantizedLike(tensor, DType::kInt8, params, tensor.name + "_int8"), t);
        AddOp(OpKind::kQuantize, {u}, {quant_version_[t]}, NoOptions{}, 2);
      } else {
        quant_version_[t] = AddTensor(QuantizedLike(tensor, act_type(), params, tensor.name), t);
        out_.inputs.push_back(quant_version_[t]);
      }
    }
    return Status::Ok();
  }

  Status AddGraphOutputs() {
    for (int t : src_.outputs) {
      int boundary;
      if (options_.output_type == DType::kFloat32) {
        QAUDIT_ASSIGN_OR_RETURN(boundary, FloatVersion(t));
      } else if (options_.output_type == DType::kUInt8) {
        QAUDIT_ASSIGN_OR_RETURN(int q, QuantVersion(t));
        QuantParams shifted = out_.tensors[q].quant;
        shifted.zero_point[0] += 128;
        boundary = AddTensor(QuantizedLike(src_.tensors[t], DType::kUInt8, shifted, src_.tensors[t].name + "_uint8"), t);
        AddOp(OpKind::kQuantize, {q}, {boundary}, NoOptions{}, 2);
      } else {
        QAUDIT_ASSIGN_OR_RETURN(boundary, QuantVersion(t));
      }
      // The boundary tensor carries the float model's name, so signatures and users find it.
      const std::string& name = src_.tensors[t].name;
      for (Tensor& other : out_.tensors) {
        if (&other != &out_.tensors[boundary] && other.name == name) other.name = name + "_internal";
      }
      out_.tensors[boundary].name = name;
      out_.outputs.push_back(boundary);
    }
    return Status::Ok();
  }

  Status AddFloatOp(const Operator& op) {
    Operator copy = op;
    for (int& t : copy.inputs) {
      if (t == kNoTensor) continue;
      QAUDIT_ASSIGN_OR_RETURN(t, FloatVersion(t));
    }
    for (int& t : copy.outputs) {
      const int source = t;
      if (src_.tensors[source].dtype != DType::kFloat32) {
        return Status::Unsupported("operator output '" + src_.tensors[source].name + "' is " +
                                   DTypeName(src_.tensors[source].dtype) + "; only float models can be quantized");
      }
      t = float_version_[source] = AddTensor(src_.tensors[source], source);
    }
    out_.operators.push_back(std::move(copy));
    return Status::Ok();
  }

  Result<QuantParams> OutputParams(const Operator& op) {
    const int out = op.outputs[0];
    QuantParams fixed;
    switch (op.kind) {
      case OpKind::kSoftmax:
      case OpKind::kLogistic:
        fixed.scale = {int16_ ? 1.0f / 32768 : 1.0f / 256};
        fixed.zero_point = {int16_ ? 0 : -128};
        return fixed;
      case OpKind::kTanh:
        fixed.scale = {int16_ ? 1.0f / 32768 : 1.0f / 128};
        fixed.zero_point = {0};
        return fixed;
      default: break;
    }
    if (KeepsInputParams(op.kind)) return ParamsOf(op.inputs[0]);
    return ParamsOf(out);
  }

  Status AddIntegerOp(size_t index) {
    const Operator& op = src_.operators[index];
    Operator q{op.kind, {}, {}, op.options, IntegerOpVersion(op.kind, int16_)};
    const bool has_weights = op.kind == OpKind::kConv2D || op.kind == OpKind::kDepthwiseConv2D ||
                             op.kind == OpKind::kFullyConnected;
    for (size_t i = 0; i < op.inputs.size(); ++i) {
      const int t = op.inputs[i];
      if (t == kNoTensor) {
        q.inputs.push_back(kNoTensor);
      } else if (IsActivationInput(op.kind, i) && src_.tensors[t].dtype == DType::kFloat32) {
        QAUDIT_ASSIGN_OR_RETURN(int v, QuantVersion(t));
        q.inputs.push_back(v);
      } else if (has_weights && i >= 1) {
        q.inputs.push_back(kNoTensor);  // filled by AddWeightsAndBias
      } else {
        QAUDIT_ASSIGN_OR_RETURN(int v, CopyConstantOrFail(t));
        q.inputs.push_back(v);
      }
    }
    if (has_weights) QAUDIT_RETURN_IF_ERROR(AddWeightsAndBias(index, q));
    if (op.kind == OpKind::kConcatenation) QAUDIT_RETURN_IF_ERROR(UnifyConcatenationInputs(op, q));
    for (int t : op.outputs) {
      QAUDIT_ASSIGN_OR_RETURN(QuantParams p, OutputParams(op));
      params_[t] = p;
      quant_version_[t] = AddTensor(QuantizedLike(src_.tensors[t], act_type(), p, src_.tensors[t].name), t);
      q.outputs.push_back(quant_version_[t]);
    }
    if (op.kind == OpKind::kAdd || op.kind == OpKind::kSub) {
      // 16x8 ADD/SUB with arbitrary scales need the general path, not the power-of-two one.
      std::get<ElementwiseOptions>(q.options).pot_scale_int16 = false;
    }
    out_.operators.push_back(std::move(q));
    return Status::Ok();
  }

  // TFLite's int8 and int16 CONCATENATION copy bytes: every input must carry the output's
  // parameters. Inputs that already agree keep theirs (and so does the output); otherwise
  // the output takes its calibrated range and differing inputs are requantized to it by a
  // QUANTIZE operator, as TFLite's own quantizer does for same-scale operators.
  Status UnifyConcatenationInputs(const Operator& op, Operator& q) {
    const QuantParams& first = out_.tensors[q.inputs[0]].quant;
    bool all_equal = true;
    for (int t : q.inputs) all_equal = all_equal && out_.tensors[t].quant == first;
    if (all_equal) {
      params_[op.outputs[0]] = first;
      return Status::Ok();
    }
    QAUDIT_ASSIGN_OR_RETURN(QuantParams target, ParamsOf(op.outputs[0]));
    for (size_t i = 0; i < q.inputs.size(); ++i) {
      const Tensor& in = out_.tensors[q.inputs[i]];
      if (in.quant == target) continue;
      const int requantized =
          AddTensor(QuantizedLike(in, act_type(), target, in.name + "_requantized"), result_.source_tensor[q.inputs[i]]);
      AddOp(OpKind::kQuantize, {q.inputs[i]}, {requantized}, NoOptions{}, int16_ ? 3 : 2);
      q.inputs[i] = requantized;
    }
    return Status::Ok();
  }

  int WeightAxis(OpKind kind) const {
    const WeightGranularity g = options_.granularity;
    if (g == WeightGranularity::kPerTensor) return -1;
    if (kind == OpKind::kConv2D) return 0;
    if (kind == OpKind::kDepthwiseConv2D) return 3;
    return g == WeightGranularity::kPerChannel ? 0 : -1;
  }

  Status AddWeightsAndBias(size_t index, Operator& q) {
    const Operator& op = src_.operators[index];
    const Tensor& w = src_.tensors[op.inputs[1]];
    if (!w.is_constant || w.dtype != DType::kFloat32) {
      return Status::Unsupported("operator " + std::to_string(index) + " (" + OpName(op.kind) + ") has weights '" +
                                 w.name + "' that are not float constants; deny it to keep it in float");
    }
    const float input_scale = out_.tensors[q.inputs[0]].quant.scale[0];
    const int axis = WeightAxis(op.kind);
    std::vector<float> half_range = WeightHalfRanges(w.data_as<float>(), w.shape, axis);
    const bool has_bias = op.inputs.size() > 2 && op.inputs[2] != kNoTensor;
    const Tensor* bias = has_bias ? &src_.tensors[op.inputs[2]] : nullptr;
    if (bias && (!bias->is_constant || bias->dtype != DType::kFloat32)) {
      return Status::Unsupported("operator " + std::to_string(index) + " (" + OpName(op.kind) + ") has a bias '" +
                                 bias->name + "' that is not a float constant");
    }
    if (bias && !int16_ && WidenForInt32Bias(bias->data_as<float>(), bias->num_elements(), input_scale, half_range) > 0) {
      result_.notes.push_back("operator " + std::to_string(index) + " (" + OpName(op.kind) + "): weight range of '" +
                              w.name + "' widened so the int32 bias does not overflow");
    }
    const SymmetricWeights sw = QuantizeWeights(w.data_as<float>(), w.shape, axis, std::move(half_range));
    Tensor wq = QuantizedLike(w, DType::kInt8, {}, w.name);
    wq.is_constant = true;
    wq.quant.scale = sw.scales;
    wq.quant.zero_point.assign(sw.scales.size(), 0);
    wq.quant.quantized_dimension = std::max(axis, 0);
    wq.data.resize(sw.values.size());
    if (!sw.values.empty()) std::memcpy(wq.data.data(), sw.values.data(), sw.values.size());
    q.inputs[1] = AddTensor(std::move(wq), op.inputs[1]);
    if (!bias) return Status::Ok();
    const std::vector<int64_t> values =
        QuantizeBias(bias->data_as<float>(), bias->num_elements(), input_scale, sw.scales, int16_);
    Tensor bq = QuantizedLike(*bias, int16_ ? DType::kInt64 : DType::kInt32, {}, bias->name);
    bq.is_constant = true;
    for (float s : sw.scales) bq.quant.scale.push_back(input_scale * s);
    bq.quant.zero_point.assign(sw.scales.size(), 0);
    bq.data = int16_ ? Pack<int64_t>(values) : Pack<int32_t>(values);
    q.inputs[2] = AddTensor(std::move(bq), op.inputs[2]);
    return Status::Ok();
  }

  const Graph& src_;
  const QuantizeOptions& options_;
  const TensorRanges& ranges_;
  const bool int16_;
  std::vector<std::optional<QuantParams>> params_;
  std::vector<int> float_version_, quant_version_, constant_copy_;
  Graph out_;
  QuantizedModel result_;
};

}  // namespace

Result<QuantizedModel> QuantizeInteger(const Graph& float_graph, const QuantizeOptions& options,
                                       const TensorRanges& ranges) {
  return IntegerPass(float_graph, options, ranges).Run();
}

}  // namespace qaudit::quant
