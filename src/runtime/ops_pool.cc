// AVERAGE_POOL_2D and MAX_POOL_2D.
#include <string>
#include <type_traits>

#include "kernels/pooling.h"
#include "kernels/pooling_avx512.h"
#include "runtime/op_kernel.h"
#include "runtime/op_util.h"

namespace qaudit::runtime {
namespace {

// int8 and float take the AVX-512 kernel where the CPU has it.
template <typename T>
void RunMaxPool(const kernels::ConvGeometry& g, const T* in, T act_min, T act_max, T* out) {
  if constexpr (std::is_same_v<T, int8_t> || std::is_same_v<T, float>) {
    if (kernels::MaxPoolAvx512Available()) return kernels::MaxPoolAvx512(g, in, act_min, act_max, out);
  }
  kernels::MaxPool<T>(g, in, act_min, act_max, out);
}

Result<EvalFn> PreparePool(const PrepareContext& ctx, bool average) {
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectArity(1, 1, 1));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectInputType(0, {DType::kFloat32, DType::kInt8, DType::kUInt8, DType::kInt16}));
  const auto& o = ctx.op.opts<PoolOptions>();
  const Tensor& in = ctx.input(0);
  const Tensor& out = ctx.output(0);
  if (in.shape.size() != 4) return ctx.Error("input " + ShapeToString(in.shape) + " must be 4-D NHWC");
  if (out.dtype != in.dtype) return ctx.Error(std::string("output is ") + DTypeName(out.dtype) + ", input " + DTypeName(in.dtype));
  if (o.stride_w < 1 || o.stride_h < 1 || o.filter_w < 1 || o.filter_h < 1) {
    return ctx.Error("filter " + std::to_string(o.filter_h) + "x" + std::to_string(o.filter_w) + " and stride " +
                     std::to_string(o.stride_h) + "x" + std::to_string(o.stride_w) + " must be >= 1");
  }
  kernels::ConvGeometry g{};
  g.batch = in.shape[0], g.in_h = in.shape[1], g.in_w = in.shape[2], g.in_c = in.shape[3];
  g.out_c = g.in_c;
  g.filter_h = o.filter_h, g.filter_w = o.filter_w, g.stride_h = o.stride_h, g.stride_w = o.stride_w;
  g.dilation_h = g.dilation_w = 1;
  const bool same = o.padding == Padding::kSame;
  kernels::WindowAxis y, x;
  if (!kernels::ComputeWindowAxis(same, g.in_h, g.filter_h, g.stride_h, 1, &y) ||
      !kernels::ComputeWindowAxis(same, g.in_w, g.filter_w, g.stride_w, 1, &x) || y.out == 0 || x.out == 0) {
    return ctx.Error("the window is larger than the input");
  }
  g.out_h = y.out, g.out_w = x.out, g.pad_top = y.pad, g.pad_left = x.pad;
  const Shape expected = {g.batch, g.out_h, g.out_w, g.in_c};
  if (out.shape != expected) {
    return ctx.Error("output shape " + ShapeToString(out.shape) + " should be " + ShapeToString(expected));
  }
  const int in_t = ctx.input_index(0), out_t = ctx.output_index(0);

  if (in.dtype == DType::kFloat32) {
    QAUDIT_ASSIGN_OR_RETURN(auto range, FloatActivationRange(ctx, o.activation));
    return EvalFn([=](const Workspace& ws) {
      if (average) {
        kernels::AveragePoolFloat(g, ws.Get<float>(in_t), range.first, range.second, ws.Mutable<float>(out_t));
      } else {
        RunMaxPool<float>(g, ws.Get<float>(in_t), range.first, range.second, ws.Mutable<float>(out_t));
      }
    });
  }
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(in, "input"));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(out, "output"));
  if (in.quant.scale[0] != out.quant.scale[0] || ZeroPoint(in) != ZeroPoint(out)) {
    return ctx.Error("input and output must share scale and zero point; got " + std::to_string(in.quant.scale[0]) +
                     "/" + std::to_string(ZeroPoint(in)) + " and " + std::to_string(out.quant.scale[0]) + "/" +
                     std::to_string(ZeroPoint(out)));
  }
  QAUDIT_ASSIGN_OR_RETURN(auto range, QuantizedActivationRange(ctx, o.activation, out));
  auto make = [&](auto type_tag) {
    using T = decltype(type_tag);
    return EvalFn([=](const Workspace& ws) {
      if (average) {
        kernels::AveragePoolQuantized<T>(g, ws.Get<T>(in_t), range.first, range.second, ws.Mutable<T>(out_t));
      } else {
        RunMaxPool<T>(g, ws.Get<T>(in_t), static_cast<T>(range.first), static_cast<T>(range.second),
                      ws.Mutable<T>(out_t));
      }
    });
  };
  if (in.dtype == DType::kInt8) return make(int8_t{});
  if (in.dtype == DType::kUInt8) return make(uint8_t{});
  return make(int16_t{});
}

}  // namespace

Result<EvalFn> PrepareAveragePool2D(const PrepareContext& ctx) { return PreparePool(ctx, true); }
Result<EvalFn> PrepareMaxPool2D(const PrepareContext& ctx) { return PreparePool(ctx, false); }

}  // namespace qaudit::runtime
