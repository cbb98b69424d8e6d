// ADD and SUB.
#include <string>

#include "kernels/add.h"
#include "runtime/op_kernel.h"
#include "runtime/op_util.h"
#include "runtime/xnnpack_rules.h"

namespace qaudit::runtime {
namespace {

Result<EvalFn> PrepareAddSub(const PrepareContext& ctx, bool subtract) {
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectArity(2, 2, 1));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectInputType(0, {DType::kFloat32, DType::kInt8, DType::kUInt8, DType::kInt16}));
  const auto& o = ctx.op.opts<ElementwiseOptions>();
  const Tensor& a = ctx.input(0);
  const Tensor& b = ctx.input(1);
  const Tensor& out = ctx.output(0);
  if (b.dtype != a.dtype || out.dtype != a.dtype) {
    return ctx.Error(std::string("inputs and output must have one dtype; got ") + DTypeName(a.dtype) + ", " +
                     DTypeName(b.dtype) + " -> " + DTypeName(out.dtype));
  }
  kernels::BroadcastPlan plan;
  if (!kernels::MakeBroadcastPlan(a.shape, b.shape, out.shape, &plan)) {
    return ctx.Error("shapes " + ShapeToString(a.shape) + " and " + ShapeToString(b.shape) +
                     " do not broadcast to the output " + ShapeToString(out.shape));
  }
  const int a_t = ctx.input_index(0), b_t = ctx.input_index(1), out_t = ctx.output_index(0);
  if (a.dtype == DType::kFloat32) {
    QAUDIT_ASSIGN_OR_RETURN(auto range, FloatActivationRange(ctx, o.activation));
    return EvalFn([=](const Workspace& ws) {
      kernels::AddFloat(plan, ws.Get<float>(a_t), ws.Get<float>(b_t), subtract, range.first, range.second,
                        ws.Mutable<float>(out_t));
    });
  }
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(a, "input 0"));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(b, "input 1"));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(out, "output"));
  if (a.dtype == DType::kInt16) {
    if (o.pot_scale_int16) {
      return ctx.Unsupported("int16 with pot_scale_int16 (power-of-two scales) is not supported yet");
    }
    if (ZeroPoint(a) != 0 || ZeroPoint(b) != 0 || ZeroPoint(out) != 0) {
      return ctx.Error("int16 tensors must have zero point 0");
    }
  }
  if (ctx.numerics == Numerics::kXnnpack && XnnpackClaims(ctx.graph, ctx.op)) {
    const auto range = XnnpackQuantizedActivationRange(o.activation, out);
    const kernels::XnnpackAddParams p =
        kernels::MakeXnnpackAddParams(subtract, a.quant.scale[0], ZeroPoint(a), b.quant.scale[0], ZeroPoint(b),
                                      out.quant.scale[0], ZeroPoint(out), range.first, range.second);
    auto make = [&](auto type_tag) {
      using T = decltype(type_tag);
      return EvalFn([=](const Workspace& ws) {
        kernels::AddQuantizedXnnpack<T>(plan, ws.Get<T>(a_t), ws.Get<T>(b_t), p, ws.Mutable<T>(out_t));
      });
    };
    return a.dtype == DType::kInt8 ? make(int8_t{}) : make(uint8_t{});  // XNNPACK claims no int16
  }
  QAUDIT_ASSIGN_OR_RETURN(auto range, QuantizedActivationRange(ctx, o.activation, out));
  const int left_shift = a.dtype == DType::kInt16 ? 15 : 20;
  const kernels::QuantizedAddParams p = kernels::MakeQuantizedAddParams(
      subtract, left_shift, a.quant.scale[0], ZeroPoint(a), b.quant.scale[0], ZeroPoint(b), out.quant.scale[0],
      ZeroPoint(out), range.first, range.second);
  auto make = [&](auto type_tag) {
    using T = decltype(type_tag);
    return EvalFn([=](const Workspace& ws) {
      kernels::AddQuantized<T>(plan, ws.Get<T>(a_t), ws.Get<T>(b_t), p, ws.Mutable<T>(out_t));
    });
  };
  if (a.dtype == DType::kInt8) return make(int8_t{});
  if (a.dtype == DType::kUInt8) return make(uint8_t{});
  return make(int16_t{});
}

}  // namespace

Result<EvalFn> PrepareAdd(const PrepareContext& ctx) { return PrepareAddSub(ctx, false); }
Result<EvalFn> PrepareSub(const PrepareContext& ctx) { return PrepareAddSub(ctx, true); }

}  // namespace qaudit::runtime
