// PAD, TRANSPOSE, CONCATENATION and RESHAPE: element moves without arithmetic, except uint8
// CONCATENATION of inputs quantized unlike the output, which TFLite requantizes.
#include <cmath>
#include <cstring>
#include <string>

#include "kernels/shape_ops.h"
#include "runtime/op_kernel.h"
#include "runtime/op_util.h"

namespace qaudit::runtime {
namespace {

// Reads a constant int32 or int64 tensor as int32 values.
Result<std::vector<int32_t>> ConstantInts(const PrepareContext& ctx, size_t i) {
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectConstant(i));
  const Tensor& t = ctx.input(i);
  std::vector<int32_t> v;
  if (t.dtype == DType::kInt32) {
    v.assign(t.data_as<int32_t>(), t.data_as<int32_t>() + t.num_elements());
  } else if (t.dtype == DType::kInt64) {
    for (int64_t k = 0; k < t.num_elements(); ++k) {
      const int64_t x = t.data_as<int64_t>()[k];
      if (x < INT32_MIN || x > INT32_MAX) return ctx.Error("input " + std::to_string(i) + " value " + std::to_string(x) + " is out of range");
      v.push_back(static_cast<int32_t>(x));
    }
  } else {
    return ctx.Unsupported("input " + std::to_string(i) + " must be int32 or int64, not " + DTypeName(t.dtype));
  }
  return v;
}

// Quantized inputs and outputs of element-moving ops must share scale and zero point.
Status ExpectSameQuantization(const PrepareContext& ctx, const Tensor& in, const Tensor& out) {
  if (!IsQuantizedType(in.dtype)) return Status::Ok();
  if (in.quant.scale != out.quant.scale || ZeroPoint(in) != ZeroPoint(out)) {
    return ctx.Unsupported("input '" + in.name + "' and output '" + out.name +
                           "' have different quantization; requantizing in this op is not supported");
  }
  return Status::Ok();
}

Status ExpectSameDType(const PrepareContext& ctx, const Tensor& in, const Tensor& out) {
  if (in.dtype != out.dtype) {
    return ctx.Error(std::string("input is ") + DTypeName(in.dtype) + " but output is " + DTypeName(out.dtype));
  }
  return Status::Ok();
}

// TFLite's XNNPACK delegate takes CONCATENATION nodes of 2 to 4 float32, int8 or uint8
// inputs of rank at most 6. It copies quantized inputs byte for byte: XNNPACK's check that
// their scale and zero point match the output's has its result ignored, so nothing is
// requantized (measured: a uint8 input at scale 0.5 into an output at scale 1 comes out
// unchanged with 2 to 4 inputs of rank <= 6; requantized with 1 or 5 inputs, or rank 7).
bool XnnpackTakesConcatenation(const PrepareContext& ctx) {
  const DType d = ctx.output(0).dtype;
  return ctx.numerics == Numerics::kXnnpack && ctx.num_inputs() >= 2 && ctx.num_inputs() <= 4 &&
         ctx.output(0).shape.size() <= 6 && (d == DType::kFloat32 || d == DType::kInt8 || d == DType::kUInt8);
}

std::string QuantString(const Tensor& t) {
  return "scale " + std::to_string(t.quant.scale.empty() ? 0.0f : t.quant.scale[0]) + " zero point " +
         std::to_string(ZeroPoint(t));
}

// TFLite's quantization rules for CONCATENATION: int8 inputs must share the output's scale
// and zero point; int16 tensors need zero point 0 (their scales are not compared: values
// are copied as they are); uint8 inputs may differ (they are requantized, or copied under
// XNNPACK). Sets *rescale when some uint8 input must be requantized.
Status CheckConcatenationQuant(const PrepareContext& ctx, std::vector<kernels::ConcatRescale>* rescale) {
  const Tensor& out = ctx.output(0);
  bool any_rescale = false;
  for (size_t k = 0; k < ctx.num_inputs(); ++k) {
    const Tensor& in = ctx.input(k);
    const std::string which = "input " + std::to_string(k) + " '" + in.name + "'";
    const bool same = in.quant.scale == out.quant.scale && ZeroPoint(in) == ZeroPoint(out);
    if (in.dtype == DType::kInt8 && !same) {
      return ctx.Error("int8 inputs must have the output's quantization; " + which + " has " + QuantString(in) +
                       ", the output " + QuantString(out));
    }
    if (in.dtype == DType::kInt16 && ZeroPoint(in) != 0) {
      return ctx.Error("int16 tensors must have zero point 0; " + which + " has " + std::to_string(ZeroPoint(in)));
    }
    if (in.dtype == DType::kUInt8) {
      if (!same) {
        QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(in, which.c_str()));
        QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(out, "output"));
      }
      const float in_scale = in.quant.scale.empty() ? 0.0f : in.quant.scale[0];
      const float out_scale = out.quant.scale.empty() ? 0.0f : out.quant.scale[0];
      rescale->push_back(kernels::MakeConcatRescale(in_scale, ZeroPoint(in), out_scale, ZeroPoint(out)));
      if (!rescale->back().copy) {
        if (!std::isfinite(rescale->back().scale)) {
          return ctx.Unsupported(which + " to output scale ratio overflows float");
        }
        any_rescale = true;
      }
    }
  }
  if (out.dtype == DType::kInt16 && ZeroPoint(out) != 0) {
    return ctx.Error("int16 tensors must have zero point 0; the output has " + std::to_string(ZeroPoint(out)));
  }
  if (!any_rescale) rescale->clear();
  return Status::Ok();
}

}  // namespace

Result<EvalFn> PreparePad(const PrepareContext& ctx) {
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectArity(2, 2, 1));
  const Tensor& in = ctx.input(0);
  const Tensor& out = ctx.output(0);
  QAUDIT_RETURN_IF_ERROR(ExpectSameDType(ctx, in, out));
  QAUDIT_RETURN_IF_ERROR(ExpectSameQuantization(ctx, in, out));
  QAUDIT_ASSIGN_OR_RETURN(std::vector<int32_t> paddings, ConstantInts(ctx, 1));
  const size_t rank = in.shape.size();
  if (paddings.size() != rank * 2) {
    return ctx.Error("paddings have " + std::to_string(paddings.size()) + " values for a rank-" +
                     std::to_string(rank) + " input; expected " + std::to_string(rank * 2));
  }
  std::vector<int32_t> before(rank);
  Shape expected(rank);
  for (size_t d = 0; d < rank; ++d) {
    if (paddings[2 * d] < 0 || paddings[2 * d + 1] < 0) return ctx.Error("negative padding in dimension " + std::to_string(d));
    before[d] = paddings[2 * d];
    expected[d] = in.shape[d] + paddings[2 * d] + paddings[2 * d + 1];
  }
  if (out.shape != expected) return ctx.Error("output shape " + ShapeToString(out.shape) + " should be " + ShapeToString(expected));
  // Quantized tensors pad with the zero point, i.e. with real zero.
  std::vector<uint8_t> pad_value(DTypeSize(in.dtype), 0);
  const int32_t zp = ZeroPoint(out);
  if (in.dtype == DType::kInt8) pad_value[0] = static_cast<uint8_t>(static_cast<int8_t>(zp));
  if (in.dtype == DType::kUInt8) pad_value[0] = static_cast<uint8_t>(zp);
  const size_t elem = DTypeSize(in.dtype);
  const Shape in_shape = in.shape;
  const int in_t = ctx.input_index(0), out_t = ctx.output_index(0);
  return EvalFn([=](const Workspace& ws) {
    kernels::Pad(in_shape, before, expected, elem, pad_value.data(), ws.Get<uint8_t>(in_t), ws.Mutable<uint8_t>(out_t));
  });
}

Result<EvalFn> PrepareTranspose(const PrepareContext& ctx) {
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectArity(2, 2, 1));
  const Tensor& in = ctx.input(0);
  const Tensor& out = ctx.output(0);
  QAUDIT_RETURN_IF_ERROR(ExpectSameDType(ctx, in, out));
  QAUDIT_RETURN_IF_ERROR(ExpectSameQuantization(ctx, in, out));
  QAUDIT_ASSIGN_OR_RETURN(std::vector<int32_t> perm, ConstantInts(ctx, 1));
  const int rank = static_cast<int>(in.shape.size());
  if (static_cast<int>(perm.size()) != rank) {
    return ctx.Error("permutation has " + std::to_string(perm.size()) + " entries for a rank-" + std::to_string(rank) + " input");
  }
  std::vector<bool> seen(rank, false);
  Shape expected(rank);
  for (int d = 0; d < rank; ++d) {
    if (perm[d] < 0) perm[d] += rank;
    if (perm[d] < 0 || perm[d] >= rank || seen[perm[d]]) return ctx.Error("permutation is not a permutation of 0.." + std::to_string(rank - 1));
    seen[perm[d]] = true;
    expected[d] = in.shape[perm[d]];
  }
  if (out.shape != expected) return ctx.Error("output shape " + ShapeToString(out.shape) + " should be " + ShapeToString(expected));
  const size_t elem = DTypeSize(in.dtype);
  const Shape in_shape = in.shape;
  const int in_t = ctx.input_index(0), out_t = ctx.output_index(0);
  return EvalFn([=](const Workspace& ws) {
    kernels::Transpose(in_shape, perm, elem, ws.Get<uint8_t>(in_t), ws.Mutable<uint8_t>(out_t));
  });
}

Result<EvalFn> PrepareConcatenation(const PrepareContext& ctx) {
  if (ctx.num_inputs() < 1) return ctx.Error("has no inputs");
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectArity(ctx.num_inputs(), ctx.num_inputs(), 1));
  const auto& o = ctx.op.opts<ConcatenationOptions>();
  if (o.activation != Activation::kNone) {
    return ctx.Error(std::string("TFLite allows no fused activation on CONCATENATION; got ") +
                     ActivationName(o.activation));
  }
  const Tensor& out = ctx.output(0);
  const int rank = static_cast<int>(out.shape.size());
  const int axis = o.axis < 0 ? o.axis + rank : o.axis;
  if (axis < 0 || axis >= rank) return ctx.Error("axis " + std::to_string(o.axis) + " is out of range for rank " + std::to_string(rank));
  std::vector<int32_t> axis_sizes;
  int64_t total = 0;  // input axis sizes of empty tensors can add up past int32
  std::vector<int> ins;
  for (size_t k = 0; k < ctx.num_inputs(); ++k) {
    const Tensor& in = ctx.input(k);
    QAUDIT_RETURN_IF_ERROR(ExpectSameDType(ctx, in, out));
    if (static_cast<int>(in.shape.size()) != rank) return ctx.Error("input " + std::to_string(k) + " has rank " + std::to_string(in.shape.size()) + ", output " + std::to_string(rank));
    for (int d = 0; d < rank; ++d) {
      if (d != axis && in.shape[d] != out.shape[d]) {
        return ctx.Error("input " + std::to_string(k) + " shape " + ShapeToString(in.shape) + " does not match output " + ShapeToString(out.shape) + " outside axis " + std::to_string(axis));
      }
    }
    axis_sizes.push_back(in.shape[axis]);
    total += in.shape[axis];
    ins.push_back(ctx.input_index(k));
  }
  if (total != out.shape[axis]) return ctx.Error("inputs add up to " + std::to_string(total) + " along axis " + std::to_string(axis) + " but the output has " + std::to_string(out.shape[axis]));
  std::vector<kernels::ConcatRescale> rescale;
  QAUDIT_RETURN_IF_ERROR(CheckConcatenationQuant(ctx, &rescale));
  if (XnnpackTakesConcatenation(ctx)) rescale.clear();  // XNNPACK copies the bytes
  int64_t outer = 0, inner = 0;  // an empty output: nothing to copy, and its dims may overflow
  if (out.num_elements() > 0) {
    outer = inner = 1;
    for (int d = 0; d < axis; ++d) outer *= out.shape[d];
    for (int d = axis + 1; d < rank; ++d) inner *= out.shape[d];
  }
  const size_t elem = DTypeSize(out.dtype);
  const int out_t = ctx.output_index(0);
  if (!rescale.empty()) {
    return EvalFn([=](const Workspace& ws) {
      std::vector<const uint8_t*> data;
      for (int t : ins) data.push_back(ws.Get<uint8_t>(t));
      kernels::ConcatenateUint8WithScaling(outer, inner, axis_sizes, rescale, data, ws.Mutable<uint8_t>(out_t));
    });
  }
  return EvalFn([=](const Workspace& ws) {
    std::vector<const uint8_t*> data;
    for (int t : ins) data.push_back(ws.Get<uint8_t>(t));
    kernels::Concatenate(outer, inner, axis_sizes, elem, data, ws.Mutable<uint8_t>(out_t));
  });
}

Result<EvalFn> PrepareReshape(const PrepareContext& ctx) {
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectArity(1, 2, 1));
  const Tensor& in = ctx.input(0);
  const Tensor& out = ctx.output(0);
  QAUDIT_RETURN_IF_ERROR(ExpectSameDType(ctx, in, out));
  QAUDIT_RETURN_IF_ERROR(ExpectSameQuantization(ctx, in, out));
  if (in.num_elements() != out.num_elements()) {
    return ctx.Error("input " + ShapeToString(in.shape) + " and output " + ShapeToString(out.shape) + " differ in element count");
  }
  const size_t bytes = static_cast<size_t>(in.num_elements()) * DTypeSize(in.dtype);
  const int in_t = ctx.input_index(0), out_t = ctx.output_index(0);
  return EvalFn([=](const Workspace& ws) { std::memcpy(ws.Mutable<uint8_t>(out_t), ws.Get<uint8_t>(in_t), bytes); });
}

}  // namespace qaudit::runtime
