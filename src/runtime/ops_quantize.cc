// QUANTIZE and DEQUANTIZE (tensorflow/lite/kernels/quantize.cc, dequantize.cc).
#include <array>
#include <string>
#include <vector>

#include "kernels/quantize.h"
#include "kernels/quantize_avx512.h"
#include "runtime/op_kernel.h"
#include "runtime/op_util.h"

namespace qaudit::runtime {
namespace {

template <typename Make>
Result<EvalFn> ForQuantizedType(DType d, Make&& make) {
  if (d == DType::kInt8) return make(int8_t{});
  if (d == DType::kUInt8) return make(uint8_t{});
  return make(int16_t{});
}

// An 8-bit input takes one of 256 values: Prepare runs `requantize` (the kernel, as
// requantize(in, n, out)) on each once (ByteTable) and Eval looks the results up. Exact by
// construction, and a table lookup instead of the fixed-point arithmetic per element.
template <typename In, typename Out, typename Requantize>
EvalFn ByLookupTable(int in_t, int out_t, int64_t n, Requantize requantize) {
  const std::array<uint8_t, 256> table = kernels::ByteTable<In, Out>(requantize);
  if (kernels::ByteLookupAvx512Available()) {
    return EvalFn([=](const Workspace& ws) {
      kernels::LookUpBytesAvx512(table.data(), n, ws.Get<uint8_t>(in_t), ws.Mutable<uint8_t>(out_t));
    });
  }
  return EvalFn([=](const Workspace& ws) {
    const uint8_t* in = ws.Get<uint8_t>(in_t);
    uint8_t* out = ws.Mutable<uint8_t>(out_t);
    for (int64_t i = 0; i < n; ++i) out[i] = table[in[i]];
  });
}

}  // namespace

// float32 -> int8/uint8/int16, and requantization int8/uint8 -> int8/uint8 and int16 ->
// int8/int16 (TFLite's supported pairs).
//  - float input: kReference divides in float (reference_ops::AffineQuantize), kTflite in
//    double (optimized_ops::AffineQuantize), both rounding half away from zero and
//    casting before clamping; kXnnpack (int8/uint8 outputs) multiplies by the float
//    reciprocal, clamps, then rounds half to even.
//  - quantized input: (q - in_zp) * in_scale / out_scale with TFLite's fixed-point
//    multiply (double rounding, visibly off by one where the first rounding lands on a
//    tie); XNNPACK takes int8 -> int8 and uint8 -> uint8 when the ratio is in
//    [2^-8, 2^7] and uses a Q8 multiplier instead.
Result<EvalFn> PrepareQuantize(const PrepareContext& ctx) {
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectArity(1, 1, 1));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectInputType(0, {DType::kFloat32, DType::kInt8, DType::kUInt8, DType::kInt16}));
  const Tensor& in = ctx.input(0);
  const Tensor& out = ctx.output(0);
  if (out.shape != in.shape) {
    return ctx.Error("output shape " + ShapeToString(out.shape) + " differs from input shape " +
                     ShapeToString(in.shape));
  }
  const bool out_ok = in.dtype == DType::kFloat32 ? IsQuantizedType(out.dtype)
                      : in.dtype == DType::kInt16 ? (out.dtype == DType::kInt8 || out.dtype == DType::kInt16)
                                                  : (out.dtype == DType::kInt8 || out.dtype == DType::kUInt8);
  if (!out_ok) {
    return ctx.Unsupported(std::string("QUANTIZE from ") + DTypeName(in.dtype) + " to " + DTypeName(out.dtype) +
                           " is not supported");
  }
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(out, "output"));
  const float out_scale = out.quant.scale[0];
  const int32_t out_zp = ZeroPoint(out);
  if (out.dtype == DType::kInt16 && out_zp != 0) {
    return ctx.Error("int16 output must have zero point 0; got " + std::to_string(out_zp));
  }
  const int in_t = ctx.input_index(0), out_t = ctx.output_index(0);
  const int64_t n = in.num_elements();
  if (in.dtype == DType::kFloat32) {
    kernels::QuantizeRule rule = kernels::QuantizeRule::kDoubleDivide;
    if (ctx.numerics == Numerics::kReference) rule = kernels::QuantizeRule::kFloatDivide;
    if (ctx.numerics == Numerics::kXnnpack && out.dtype != DType::kInt16) rule = kernels::QuantizeRule::kXnnpack;
    if (out.dtype == DType::kInt8 && kernels::QuantizeAvx512Available()) {
      return EvalFn([=](const Workspace& ws) {
        kernels::QuantizeFloatToInt8Avx512(ws.Get<float>(in_t), n, out_scale, out_zp, rule, ws.Mutable<int8_t>(out_t));
      });
    }
    return ForQuantizedType(out.dtype, [&](auto tag) {
      using T = decltype(tag);
      return EvalFn([=](const Workspace& ws) {
        kernels::QuantizeFloat<T>(ws.Get<float>(in_t), n, out_scale, out_zp, rule, ws.Mutable<T>(out_t));
      });
    });
  }
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(in, "input"));
  const int32_t in_zp = ZeroPoint(in);
  if (in.dtype == DType::kInt16 && in_zp != 0) {
    return ctx.Error("int16 input must have zero point 0; got " + std::to_string(in_zp));
  }
  const float in_scale = in.quant.scale[0];
  if (ctx.numerics == Numerics::kXnnpack && in.dtype == out.dtype && in.dtype != DType::kInt16 &&
      kernels::XnnpackRequantParams::Supported(in_scale, out_scale)) {
    const kernels::XnnpackRequantParams xp = kernels::XnnpackRequantParams::Make(in_scale, in_zp, out_scale, out_zp);
    return ForQuantizedType(in.dtype, [&](auto tag) {
      using T = decltype(tag);
      const auto requantize = [=](const T* q, int64_t count, T* y) { kernels::RequantizeXnnpack<T>(q, count, xp, y); };
      if constexpr (sizeof(T) == 1) return ByLookupTable<T, T>(in_t, out_t, n, requantize);
      return EvalFn([=](const Workspace& ws) { requantize(ws.Get<T>(in_t), n, ws.Mutable<T>(out_t)); });
    });
  }
  const double ratio = static_cast<double>(in_scale) / static_cast<double>(out_scale);
  if (!kernels::RealMultiplierInRange(ratio)) {
    return ctx.Error("input scale / output scale = " + std::to_string(ratio) + " is out of range");
  }
  const kernels::QuantizedMultiplier m = kernels::QuantizeMultiplier(ratio);
  return ForQuantizedType(in.dtype, [&](auto in_tag) {
    using In = decltype(in_tag);
    return ForQuantizedType(out.dtype, [&](auto out_tag) {
      using Out = decltype(out_tag);
      const auto requantize = [=](const In* q, int64_t count, Out* y) {
        kernels::Requantize<In, Out>(q, count, in_zp, m, kernels::Rounding::kDouble, out_zp, y);
      };
      if constexpr (sizeof(In) == 1 && sizeof(Out) == 1) return ByLookupTable<In, Out>(in_t, out_t, n, requantize);
      return EvalFn([=](const Workspace& ws) { requantize(ws.Get<In>(in_t), n, ws.Mutable<Out>(out_t)); });
    });
  });
}

// int8/uint8/int16/float16 -> float32. Per-axis parameters are accepted for int8/uint8,
// as TFLite does. Every runtime computes the same exactly rounded product.
Result<EvalFn> PrepareDequantize(const PrepareContext& ctx) {
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectArity(1, 1, 1));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectInputType(0, {DType::kInt8, DType::kUInt8, DType::kInt16, DType::kFloat16}));
  const Tensor& in = ctx.input(0);
  const Tensor& out = ctx.output(0);
  if (out.dtype != DType::kFloat32) {
    return ctx.Error(std::string("output '") + out.name + "' is " + DTypeName(out.dtype) + "; expected float32");
  }
  if (out.shape != in.shape) {
    return ctx.Error("output shape " + ShapeToString(out.shape) + " differs from input shape " +
                     ShapeToString(in.shape));
  }
  const int in_t = ctx.input_index(0), out_t = ctx.output_index(0);
  const int64_t n = in.num_elements();
  if (in.dtype == DType::kFloat16) {
    return EvalFn(
        [=](const Workspace& ws) { kernels::DequantizeHalf(ws.Get<uint16_t>(in_t), n, ws.Mutable<float>(out_t)); });
  }
  if (in.quant.per_axis() && in.dtype != DType::kInt16) {
    const int axis = in.quant.quantized_dimension;
    if (axis < 0 || axis >= static_cast<int>(in.shape.size()) ||
        in.quant.scale.size() != static_cast<size_t>(in.shape[axis]) ||
        in.quant.zero_point.size() != in.quant.scale.size()) {
      return ctx.Error("input '" + in.name + "' has " + std::to_string(in.quant.scale.size()) +
                       " scales along dimension " + std::to_string(axis) + " of shape " + ShapeToString(in.shape));
    }
    for (float s : in.quant.scale) {
      if (!(s > 0)) return ctx.Error("input '" + in.name + "' has scale " + std::to_string(s) + "; scales must be > 0");
    }
    int64_t outer = 1, inner = 1;
    for (int d = 0; d < axis; ++d) outer *= in.shape[d];
    for (size_t d = axis + 1; d < in.shape.size(); ++d) inner *= in.shape[d];
    const int64_t size = in.shape[axis];
    const std::vector<float> scales = in.quant.scale;
    const std::vector<int64_t> zps = in.quant.zero_point;
    return ForQuantizedType(in.dtype, [&](auto tag) {
      using T = decltype(tag);
      return EvalFn([=](const Workspace& ws) {
        kernels::DequantizePerAxis<T>(ws.Get<T>(in_t), outer, size, inner, scales.data(), zps.data(),
                                      ws.Mutable<float>(out_t));
      });
    });
  }
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(in, "input"));
  const float scale = in.quant.scale[0];
  const int32_t zp = ZeroPoint(in);
  if (in.dtype == DType::kInt16 && zp != 0) {
    return ctx.Error("int16 input must have zero point 0; got " + std::to_string(zp));
  }
  return ForQuantizedType(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    return EvalFn(
        [=](const Workspace& ws) { kernels::Dequantize<T>(ws.Get<T>(in_t), n, scale, zp, ws.Mutable<float>(out_t)); });
  });
}

}  // namespace qaudit::runtime
