// ADD and SUB.
#include <algorithm>
#include <limits>
#include <string>

#include "kernels/add.h"
#include "kernels/add_avx512.h"
#include "runtime/op_kernel.h"
#include "runtime/op_util.h"
#include "runtime/xnnpack_rules.h"

namespace qaudit::runtime {
namespace {

// Shapes equal once the shorter is padded with leading 1s: TFLite's "no broadcast" test.
bool SameExtendedShape(const Shape& a, const Shape& b) {
  const size_t rank = std::max(a.size(), b.size());
  Shape ea(rank - a.size(), 1), eb(rank - b.size(), 1);
  ea.insert(ea.end(), a.begin(), a.end());
  eb.insert(eb.end(), b.begin(), b.end());
  return ea == eb;
}

// int16 ADD/SUB with pot_scale_int16 and power-of-two scales; a_exp and b_exp are
// log2(input scale / output scale). TFLite's Prepare refuses unless one input has the
// output's scale and the other at most that.
Result<EvalFn> PreparePot16(const PrepareContext& ctx, bool subtract, int a_exp, int b_exp,
                            const kernels::BroadcastPlan& plan) {
  const auto& o = ctx.op.opts<ElementwiseOptions>();
  const std::string scales = "input scales are 2^" + std::to_string(a_exp) + " and 2^" + std::to_string(b_exp) +
                             " times the output's";
  if (a_exp != 0 && b_exp != 0) {
    return ctx.Error("int16 with pot_scale_int16 needs one input at the output's scale; " + scales);
  }
  if (a_exp > 0 || b_exp > 0) {
    return ctx.Error("int16 with pot_scale_int16 needs input scales at most the output's; " + scales);
  }
  const int shift = -(a_exp + b_exp);
  if (shift > 31) {
    return ctx.Unsupported("int16 with pot_scale_int16 and a scale ratio of 2^-" + std::to_string(shift) +
                           ": TFLite's rescaling is undefined beyond 2^-31");
  }
  // TFLite's ADD runs its element-wise kernel whatever the shapes and aborts (a failed
  // size check) when they differ; SUB has a broadcasting kernel.
  const bool elementwise = SameExtendedShape(ctx.input(0).shape, ctx.input(1).shape);
  if (!subtract && !elementwise) {
    return ctx.Error("int16 with pot_scale_int16 does not broadcast (TFLite aborts); shapes " +
                     ShapeToString(ctx.input(0).shape) + " and " + ShapeToString(ctx.input(1).shape));
  }
  QAUDIT_ASSIGN_OR_RETURN(auto range, QuantizedActivationRange(ctx, o.activation, ctx.output(0)));
  kernels::Pot16AddParams p;
  p.subtract = subtract;
  p.a_shift = -a_exp;
  p.b_shift = -b_exp;
  p.int16_rounding = elementwise;
  p.act_min = range.first;
  p.act_max = range.second;
  const int a_t = ctx.input_index(0), b_t = ctx.input_index(1), out_t = ctx.output_index(0);
  return EvalFn([=](const Workspace& ws) {
    kernels::AddPot16(plan, ws.Get<int16_t>(a_t), ws.Get<int16_t>(b_t), p, ws.Mutable<int16_t>(out_t));
  });
}

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
    if (ZeroPoint(a) != 0 || ZeroPoint(b) != 0 || ZeroPoint(out) != 0) {
      return ctx.Error("int16 tensors must have zero point 0; got " + std::to_string(ZeroPoint(a)) + ", " +
                       std::to_string(ZeroPoint(b)) + " -> " + std::to_string(ZeroPoint(out)));
    }
    // TFLite takes the power-of-two path only when all three scales are powers of two;
    // otherwise pot_scale_int16 is ignored and the general path below runs.
    int a_log2 = 0, b_log2 = 0, out_log2 = 0;
    if (o.pot_scale_int16 && kernels::CheckedLog2(a.quant.scale[0], &a_log2) &&
        kernels::CheckedLog2(b.quant.scale[0], &b_log2) && kernels::CheckedLog2(out.quant.scale[0], &out_log2)) {
      return PreparePot16(ctx, subtract, a_log2 - out_log2, b_log2 - out_log2, plan);
    }
  }
  if (ctx.numerics == Numerics::kXnnpack && XnnpackClaims(ctx.graph, ctx.op)) {
    const auto range = XnnpackQuantizedActivationRange(o.activation, out);
    const kernels::XnnpackAddParams p =
        kernels::MakeXnnpackAddParams(subtract, a.quant.scale[0], ZeroPoint(a), b.quant.scale[0], ZeroPoint(b),
                                      out.quant.scale[0], ZeroPoint(out), range.first, range.second);
    auto make = [&](auto type_tag) {
      using T = decltype(type_tag);
      if (plan.same_shape && kernels::AddQuantizedAvx512Available()) {
        return EvalFn([=](const Workspace& ws) {
          kernels::AddQuantizedXnnpackAvx512(plan.size, ws.Get<T>(a_t), ws.Get<T>(b_t), p, ws.Mutable<T>(out_t));
        });
      }
      return EvalFn([=](const Workspace& ws) {
        kernels::AddQuantizedXnnpack<T>(plan, ws.Get<T>(a_t), ws.Get<T>(b_t), p, ws.Mutable<T>(out_t));
      });
    };
    return a.dtype == DType::kInt8 ? make(int8_t{}) : make(uint8_t{});  // XNNPACK claims no int16
  }
  QAUDIT_ASSIGN_OR_RETURN(auto range, QuantizedActivationRange(ctx, o.activation, out));
  const int left_shift = a.dtype == DType::kInt16 ? 15 : 20;
  const double out_multiplier = 2 * std::max<double>(a.quant.scale[0], b.quant.scale[0]) /
                                ((1 << left_shift) * static_cast<double>(out.quant.scale[0]));
  if (!kernels::RealMultiplierInRange(out_multiplier)) {
    return ctx.Error("the output scale " + std::to_string(out.quant.scale[0]) +
                     " is too small for the input scales (requantization multiplier " +
                     std::to_string(out_multiplier) + ")");
  }
  const kernels::QuantizedAddParams p = kernels::MakeQuantizedAddParams(
      subtract, left_shift, a.quant.scale[0], ZeroPoint(a), b.quant.scale[0], ZeroPoint(b), out.quant.scale[0],
      ZeroPoint(out), range.first, range.second);
  auto make = [&](auto type_tag) {
    using T = decltype(type_tag);
    // The vector kernel centres inputs in int32 without overflow only for zero points in
    // T's range (the reference's int arithmetic overflows otherwise).
    constexpr int32_t kMin = std::numeric_limits<T>::min(), kMax = std::numeric_limits<T>::max();
    const bool centred_fits = p.a_zero_point >= kMin && p.a_zero_point <= kMax && p.b_zero_point >= kMin &&
                              p.b_zero_point <= kMax && p.left_shift <= 22;
    if constexpr (sizeof(T) == 1) {
      if (plan.same_shape && kernels::AddQuantizedTableAvx512Available()) {
        const kernels::AddTables tables = kernels::MakeAddTables<T>(p);
        return EvalFn([=](const Workspace& ws) {
          kernels::AddQuantizedTableAvx512(plan.size, ws.Get<T>(a_t), ws.Get<T>(b_t), tables, ws.Mutable<T>(out_t));
        });
      }
      if (plan.same_shape && centred_fits && kernels::AddQuantizedAvx512Available()) {
        return EvalFn([=](const Workspace& ws) {
          kernels::AddQuantizedAvx512(plan.size, ws.Get<T>(a_t), ws.Get<T>(b_t), p, ws.Mutable<T>(out_t));
        });
      }
    }
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
