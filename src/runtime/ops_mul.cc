// MUL (tensorflow/lite/kernels/mul.cc): elementwise with broadcasting and a fused
// activation.
#include <string>

#include "kernels/mul.h"
#include "runtime/op_kernel.h"
#include "runtime/op_util.h"

namespace qaudit::runtime {

// float: the product, clamped; every runtime agrees.
// int8/uint8/int16 (same dtype in and out): the exact product of the centred inputs
// scaled by s1 * s2 / s_out, which TFLite forms in float before QuantizeMultiplier.
//  - kReference, kTflite: MultiplyByQuantizedMultiplier (the optimized kernels agree
//    with the reference ones).
//  - kXnnpack: XNNPACK takes int8/uint8 MUL when that ratio is in [2^-16, 2^8), and
//    requantizes in float with round-half-to-even; int16 stays on TFLite's kernel.
Result<EvalFn> PrepareMul(const PrepareContext& ctx) {
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectArity(2, 2, 1));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectInputType(0, {DType::kFloat32, DType::kInt8, DType::kUInt8, DType::kInt16}));
  const auto& o = ctx.op.opts<ElementwiseOptions>();
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const Tensor& out = ctx.output(0);
  if (b.dtype != a.dtype) {
    return ctx.Error(std::string("inputs must have one dtype; got ") + DTypeName(a.dtype) + " and " +
                     DTypeName(b.dtype));
  }
  if (out.dtype != a.dtype) {  // TFLite also has int16 x int16 -> int8/uint8 (LSTM-style)
    return ctx.Unsupported(std::string("output dtype ") + DTypeName(out.dtype) + " differs from the inputs' " +
                           DTypeName(a.dtype));
  }
  kernels::BroadcastPlan plan;
  if (!kernels::MakeBroadcastPlan(a.shape, b.shape, out.shape, &plan)) {
    return ctx.Error("shapes " + ShapeToString(a.shape) + " and " + ShapeToString(b.shape) +
                     " do not broadcast to the output " + ShapeToString(out.shape) + " (at most " +
                     std::to_string(kernels::kMaxBroadcastRank) + " dimensions)");
  }
  // TFLite 2.12's built-in MUL broadcasts through 4-D index helpers and aborts beyond;
  // only XNNPACK (float, int8, uint8) takes 5-D and 6-D broadcasts.
  const bool broadcasts = a.shape != b.shape;
  const bool wide = broadcasts && out.shape.size() > 4;
  const int a_t = ctx.input_index(0), b_t = ctx.input_index(1), out_t = ctx.output_index(0);
  if (a.dtype == DType::kFloat32) {
    if (wide && ctx.numerics != Numerics::kXnnpack) {
      return ctx.Unsupported("broadcasting beyond 4 dimensions (TFLite's built-in MUL aborts on it)");
    }
    QAUDIT_ASSIGN_OR_RETURN(auto range, FloatActivationRange(ctx, o.activation));
    return EvalFn([=](const Workspace& ws) {
      kernels::MulFloat(plan, ws.Get<float>(a_t), ws.Get<float>(b_t), range.first, range.second,
                        ws.Mutable<float>(out_t));
    });
  }
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(a, "input 0"));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(b, "input 1"));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(out, "output"));
  kernels::QuantizedMulParams p;
  p.zero_point1 = ZeroPoint(a);
  p.zero_point2 = ZeroPoint(b);
  p.output_zero_point = ZeroPoint(out);
  if (a.dtype == DType::kInt16 && (p.zero_point1 != 0 || p.zero_point2 != 0 || p.output_zero_point != 0)) {
    return ctx.Error("int16 inputs and output must have zero point 0");
  }
  QAUDIT_ASSIGN_OR_RETURN(auto range, QuantizedActivationRange(ctx, o.activation, out));
  p.act_min = range.first;
  p.act_max = range.second;
  p.scale = a.quant.scale[0] * b.quant.scale[0] / out.quant.scale[0];
  if (!kernels::RealMultiplierInRange(p.scale)) {  // also inf and NaN from the float product
    return ctx.Error("input scales " + std::to_string(a.quant.scale[0]) + " x " + std::to_string(b.quant.scale[0]) +
                     " / output scale " + std::to_string(out.quant.scale[0]) + " is out of range");
  }
  p.multiplier = kernels::QuantizeMultiplier(p.scale);
  const bool xnnpack =
      ctx.numerics == Numerics::kXnnpack && a.dtype != DType::kInt16 && p.scale >= 0x1.0p-16f && p.scale < 0x1.0p+8f;
  if (wide && !xnnpack) {
    return ctx.Unsupported("broadcasting beyond 4 dimensions (TFLite's built-in MUL aborts on it)");
  }
  auto make = [&](auto tag) {
    using T = decltype(tag);
    if (xnnpack) {
      return EvalFn([=](const Workspace& ws) {
        kernels::QuantizedMulXnnpack<T>(plan, p, ws.Get<T>(a_t), ws.Get<T>(b_t), ws.Mutable<T>(out_t));
      });
    }
    return EvalFn([=](const Workspace& ws) {
      kernels::QuantizedMul<T>(plan, p, kernels::Rounding::kDouble, ws.Get<T>(a_t), ws.Get<T>(b_t),
                               ws.Mutable<T>(out_t));
    });
  };
  if (a.dtype == DType::kInt8) return make(int8_t{});
  if (a.dtype == DType::kUInt8) return make(uint8_t{});
  return make(int16_t{});
}

}  // namespace qaudit::runtime
