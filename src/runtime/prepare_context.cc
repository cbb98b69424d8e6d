#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "runtime/op_kernel.h"
#include "runtime/op_util.h"

namespace qaudit::runtime {

std::string PrepareContext::Label() const {
  return "operator " + std::to_string(op_index) + " (" + OpName(op.kind) + ")";
}

Status PrepareContext::Error(const std::string& what) const { return Status::InvalidArgument(Label() + ": " + what); }

Status PrepareContext::Unsupported(const std::string& what) const {
  return Status::Unsupported(Label() + ": " + what);
}

Status PrepareContext::ExpectArity(size_t min_inputs, size_t max_inputs, size_t outputs) const {
  if (op.inputs.size() < min_inputs || op.inputs.size() > max_inputs) {
    return Error("has " + std::to_string(op.inputs.size()) + " inputs, expected " +
                 (min_inputs == max_inputs ? std::to_string(min_inputs)
                                           : std::to_string(min_inputs) + " to " + std::to_string(max_inputs)));
  }
  for (size_t i = 0; i < min_inputs; ++i) {
    if (op.inputs[i] == kNoTensor) return Error("required input " + std::to_string(i) + " is absent");
  }
  if (op.outputs.size() != outputs) {
    return Error("has " + std::to_string(op.outputs.size()) + " outputs, expected " + std::to_string(outputs));
  }
  return Status::Ok();
}

Status PrepareContext::ExpectInputType(size_t i, std::initializer_list<DType> dtypes) const {
  if (!has_input(i)) return Error("input " + std::to_string(i) + " is absent");
  for (DType d : dtypes) {
    if (input(i).dtype == d) return Status::Ok();
  }
  std::string allowed;
  for (DType d : dtypes) allowed += std::string(allowed.empty() ? "" : ", ") + DTypeName(d);
  return Unsupported("input " + std::to_string(i) + " '" + input(i).name + "' is " + DTypeName(input(i).dtype) +
                     "; supported: " + allowed);
}

Status PrepareContext::ExpectConstant(size_t i) const {
  if (!has_input(i) || !input(i).is_constant) {
    return Unsupported("input " + std::to_string(i) + (has_input(i) ? " '" + input(i).name + "'" : "") +
                       " must be a constant");
  }
  return Status::Ok();
}

Status PrepareContext::ExpectPerTensorQuant(const Tensor& t, const char* role) const {
  if (t.quant.scale.size() != 1) {
    return Error(std::string(role) + " '" + t.name + "' is " + DTypeName(t.dtype) + " but has " +
                 std::to_string(t.quant.scale.size()) + " scales; expected one");
  }
  if (!(t.quant.scale[0] > 0)) {
    return Error(std::string(role) + " '" + t.name + "' has scale " + std::to_string(t.quant.scale[0]) +
                 "; scales must be > 0");
  }
  return Status::Ok();
}

Result<std::pair<float, float>> FloatActivationRange(const PrepareContext& ctx, Activation a) {
  constexpr float kInf = std::numeric_limits<float>::infinity();
  switch (a) {
    case Activation::kNone: return std::pair(-kInf, kInf);
    case Activation::kRelu: return std::pair(0.0f, kInf);
    case Activation::kReluN1To1: return std::pair(-1.0f, 1.0f);
    case Activation::kRelu6: return std::pair(0.0f, 6.0f);
    default: break;
  }
  return ctx.Unsupported(std::string("fused activation ") + ActivationName(a) + " is not supported");
}

std::pair<int32_t, int32_t> DTypeRange(DType d) {
  switch (d) {
    case DType::kInt8: return {-128, 127};
    case DType::kUInt8: return {0, 255};
    case DType::kInt16: return {-32768, 32767};
    default: return {std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()};
  }
}

Result<std::pair<int32_t, int32_t>> QuantizedActivationRange(const PrepareContext& ctx, Activation a,
                                                             const Tensor& out) {
  auto [qmin, qmax] = DTypeRange(out.dtype);
  const float scale = out.quant.scale.empty() ? 1.0f : out.quant.scale[0];
  const int32_t zp = ZeroPoint(out);
  // TFLite's zero_point + int32(round(f / scale)), with the conversion and the addition
  // saturated: a tiny scale from the file makes both overflow, which is undefined.
  auto quantize = [&](float f) {
    const float r = std::round(f / scale);
    if (std::isnan(r)) return zp;
    const double q = static_cast<double>(zp) + static_cast<double>(r);
    return static_cast<int32_t>(std::clamp(q, static_cast<double>(std::numeric_limits<int32_t>::min()),
                                           static_cast<double>(std::numeric_limits<int32_t>::max())));
  };
  switch (a) {
    case Activation::kNone: return std::pair(qmin, qmax);
    case Activation::kRelu: return std::pair(std::max(qmin, quantize(0.0f)), qmax);
    case Activation::kRelu6: return std::pair(std::max(qmin, quantize(0.0f)), std::min(qmax, quantize(6.0f)));
    case Activation::kReluN1To1:
      return std::pair(std::max(qmin, quantize(-1.0f)), std::min(qmax, quantize(1.0f)));
    default: break;
  }
  return ctx.Unsupported(std::string("fused activation ") + ActivationName(a) + " is not supported");
}

int32_t ZeroPoint(const Tensor& t) {
  return t.quant.zero_point.empty() ? 0 : static_cast<int32_t>(t.quant.zero_point[0]);
}
double Scale(const Tensor& t) { return t.quant.scale.empty() ? 1.0 : t.quant.scale[0]; }

bool IsQuantizedType(DType d) { return d == DType::kInt8 || d == DType::kUInt8 || d == DType::kInt16; }

}  // namespace qaudit::runtime
