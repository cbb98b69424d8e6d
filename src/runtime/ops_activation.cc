// SOFTMAX, LOGISTIC, TANH, HARD_SWISH, LEAKY_RELU, RELU and RELU6.
//
// Which algorithm runs for each numerics mode, and why, is documented at each Prepare;
// the checks are those of TFLite's Prepare (tensorflow/lite/kernels/activations.cc).
#include <algorithm>
#include <cmath>
#include <limits>
#include <memory>
#include <string>

#include "kernels/activations.h"
#include "kernels/softmax.h"
#include "runtime/op_kernel.h"
#include "runtime/op_util.h"

namespace qaudit::runtime {
namespace {

using kernels::Rounding;

// The single-input activations: one input and one output of the same dtype and shape.
Status ExpectUnary(const PrepareContext& ctx, std::initializer_list<DType> dtypes) {
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectArity(1, 1, 1));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectInputType(0, dtypes));
  const Tensor& in = ctx.input(0);
  const Tensor& out = ctx.output(0);
  if (out.dtype != in.dtype) {
    return ctx.Error(std::string("output '") + out.name + "' is " + DTypeName(out.dtype) + " but input '" + in.name +
                     "' is " + DTypeName(in.dtype));
  }
  if (out.shape != in.shape) {
    return ctx.Error("output shape " + ShapeToString(out.shape) + " differs from input shape " +
                     ShapeToString(in.shape));
  }
  return Status::Ok();
}

// Both tensors of a quantized unary op carry one positive scale.
Status ExpectQuantizedUnary(const PrepareContext& ctx) {
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(ctx.input(0), "input"));
  return ctx.ExpectPerTensorQuant(ctx.output(0), "output");
}

// 16x8 tensors are symmetric.
Status ExpectZeroPointsZero(const PrepareContext& ctx) {
  if (ZeroPoint(ctx.input(0)) != 0 || ZeroPoint(ctx.output(0)) != 0) {
    return ctx.Error("int16 input and output must have zero point 0; got " + std::to_string(ZeroPoint(ctx.input(0))) +
                     " and " + std::to_string(ZeroPoint(ctx.output(0))));
  }
  return Status::Ok();
}

// TFLite's MultiplyByQuantizedMultiplier rounds twice, in the reference kernels and in the
// built-in ones alike (no TFLITE_SINGLE_ROUNDING in the build the oracle measures).
constexpr Rounding kMultiplyRounding = Rounding::kDouble;

float InputScale(const PrepareContext& ctx) { return ctx.input(0).quant.scale[0]; }
float OutputScale(const PrepareContext& ctx) { return ctx.output(0).quant.scale[0]; }

// Instantiates `make` for the dtype of input 0 among int8, uint8 and int16.
template <typename Make>
Result<EvalFn> ForQuantizedType(DType d, Make&& make) {
  if (d == DType::kInt8) return make(int8_t{});
  if (d == DType::kUInt8) return make(uint8_t{});
  return make(int16_t{});
}

// ---- RELU, RELU6 ---------------------------------------------------------------------

// TFLite: float clamps; quantized inputs are rescaled to the output's parameters (which
// may differ) and clamped to zero_point + round(bound / scale). XNNPACK (2.12) left every
// quantized RELU/RELU6 we gave it to TFLite; float clamps agree everywhere.
Result<EvalFn> PrepareReluX(const PrepareContext& ctx, float lo, float hi) {
  QAUDIT_RETURN_IF_ERROR(ExpectUnary(ctx, {DType::kFloat32, DType::kInt8, DType::kUInt8, DType::kInt16}));
  const Tensor& in = ctx.input(0);
  const int in_t = ctx.input_index(0), out_t = ctx.output_index(0);
  const int64_t n = in.num_elements();
  if (in.dtype == DType::kFloat32) {
    return EvalFn(
        [=](const Workspace& ws) { kernels::ReluFloat(ws.Get<float>(in_t), n, lo, hi, ws.Mutable<float>(out_t)); });
  }
  QAUDIT_RETURN_IF_ERROR(ExpectQuantizedUnary(ctx));
  if (in.dtype == DType::kInt16) QAUDIT_RETURN_IF_ERROR(ExpectZeroPointsZero(ctx));
  const float out_scale = OutputScale(ctx);
  const auto [qmin, qmax] = DTypeRange(in.dtype);
  kernels::QuantizedReluParams p;
  p.input_zero_point = ZeroPoint(in);
  p.output_zero_point = ZeroPoint(ctx.output(0));
  // TFLite divides the scales in float, then widens.
  if (!kernels::RealMultiplierInRange(InputScale(ctx) / out_scale)) {
    return ctx.Error("input scale / output scale = " + std::to_string(InputScale(ctx) / out_scale) + " is out of range");
  }
  p.multiplier = kernels::QuantizeMultiplier(InputScale(ctx) / out_scale);
  // zero_point + round(bound / scale), saturated: a tiny output scale overflows the cast.
  auto quantize = [&](float bound) {
    const double q = p.output_zero_point + static_cast<double>(std::round(bound / out_scale));
    return static_cast<int32_t>(std::clamp(q, -2147483648.0, 2147483647.0));
  };
  p.act_min = std::max(qmin, quantize(lo));
  p.act_max = std::isinf(hi) ? qmax : std::min(qmax, quantize(hi));
  const Rounding r = kMultiplyRounding;
  return ForQuantizedType(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    return EvalFn(
        [=](const Workspace& ws) { kernels::QuantizedRelu<T>(p, r, ws.Get<T>(in_t), n, ws.Mutable<T>(out_t)); });
  });
}

}  // namespace

Result<EvalFn> PrepareRelu(const PrepareContext& ctx) {
  return PrepareReluX(ctx, 0.0f, std::numeric_limits<float>::infinity());
}

Result<EvalFn> PrepareRelu6(const PrepareContext& ctx) { return PrepareReluX(ctx, 0.0f, 6.0f); }

// ---- LEAKY_RELU ----------------------------------------------------------------------

// TFLite: two fixed-point multipliers, in_scale / out_scale and in_scale * alpha /
// out_scale. XNNPACK takes int8/uint8 when both ratios are within its limits and applies
// 8-bit multipliers instead.
Result<EvalFn> PrepareLeakyRelu(const PrepareContext& ctx) {
  QAUDIT_RETURN_IF_ERROR(ExpectUnary(ctx, {DType::kFloat32, DType::kInt8, DType::kUInt8, DType::kInt16}));
  const Tensor& in = ctx.input(0);
  const float alpha = ctx.op.opts<LeakyReluOptions>().alpha;
  const int in_t = ctx.input_index(0), out_t = ctx.output_index(0);
  const int64_t n = in.num_elements();
  if (in.dtype == DType::kFloat32) {
    return EvalFn(
        [=](const Workspace& ws) { kernels::LeakyReluFloat(ws.Get<float>(in_t), n, alpha, ws.Mutable<float>(out_t)); });
  }
  QAUDIT_RETURN_IF_ERROR(ExpectQuantizedUnary(ctx));
  if (in.dtype == DType::kInt16) QAUDIT_RETURN_IF_ERROR(ExpectZeroPointsZero(ctx));
  const float in_scale = InputScale(ctx), out_scale = OutputScale(ctx);
  if (ctx.numerics == Numerics::kXnnpack && in.dtype != DType::kInt16 &&
      kernels::XnnpackLeakyReluParams::Supported(in_scale, alpha, out_scale)) {
    const kernels::XnnpackLeakyReluParams xp = kernels::XnnpackLeakyReluParams::Make(
        InputScale(ctx), ZeroPoint(in), alpha, OutputScale(ctx), ZeroPoint(ctx.output(0)));
    return ForQuantizedType(in.dtype, [&](auto tag) {
      using T = decltype(tag);
      return EvalFn(
          [=](const Workspace& ws) { kernels::XnnpackLeakyRelu<T>(xp, ws.Get<T>(in_t), n, ws.Mutable<T>(out_t)); });
    });
  }
  kernels::QuantizedLeakyReluParams p;
  p.input_zero_point = ZeroPoint(in);
  p.output_zero_point = ZeroPoint(ctx.output(0));
  // Both ratios are formed in float, as TFLite does, then widened.
  if (!kernels::RealMultiplierInRange(in_scale / out_scale) ||
      !kernels::RealMultiplierInRange(std::abs(in_scale * alpha / out_scale))) {
    return ctx.Error("input scale / output scale = " + std::to_string(in_scale / out_scale) + " with alpha " +
                     std::to_string(alpha) + " is out of range");
  }
  p.identity = kernels::QuantizeMultiplier(in_scale / out_scale);
  p.alpha = kernels::QuantizeMultiplier(in_scale * alpha / out_scale);
  const Rounding r = kMultiplyRounding;
  return ForQuantizedType(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    return EvalFn(
        [=](const Workspace& ws) { kernels::QuantizedLeakyRelu<T>(p, r, ws.Get<T>(in_t), n, ws.Mutable<T>(out_t)); });
  });
}

// ---- HARD_SWISH ----------------------------------------------------------------------

// int8/uint8: TFLite's 16-bit fixed-point evaluation (reference and optimized agree; XNNPACK
// (2.12) does not take quantized HARD_SWISH). TFLite's Prepare requires the output
// multiplier's exponent to be <= 0, i.e. roughly in_scale / 128 < out_scale. float: each
// runtime associates the product differently (see HardSwishOrder).
Result<EvalFn> PrepareHardSwish(const PrepareContext& ctx) {
  QAUDIT_RETURN_IF_ERROR(ExpectUnary(ctx, {DType::kFloat32, DType::kInt8, DType::kUInt8}));
  const Tensor& in = ctx.input(0);
  const int in_t = ctx.input_index(0), out_t = ctx.output_index(0);
  const int64_t n = in.num_elements();
  if (in.dtype == DType::kFloat32) {
    const kernels::HardSwishOrder order = ctx.numerics == Numerics::kReference ? kernels::HardSwishOrder::kDivide
                                          : ctx.numerics == Numerics::kTflite
                                              ? kernels::HardSwishOrder::kTimesSixthLast
                                              : kernels::HardSwishOrder::kTimesSixthFirst;
    return EvalFn(
        [=](const Workspace& ws) { kernels::HardSwishFloat(ws.Get<float>(in_t), n, order, ws.Mutable<float>(out_t)); });
  }
  QAUDIT_RETURN_IF_ERROR(ExpectQuantizedUnary(ctx));
  const kernels::HardSwishParams p =
      kernels::MakeHardSwishParams(InputScale(ctx), ZeroPoint(in), OutputScale(ctx), ZeroPoint(ctx.output(0)));
  // SaturatingLeftShiftInt16 shifts by reluish_exponent - 1 in 64 bits.
  if (p.output_exponent > 0 || p.reluish_exponent > 31) {
    return ctx.Error("output scale " + std::to_string(OutputScale(ctx)) + " is too small for input scale " +
                     std::to_string(InputScale(ctx)) + " (TFLite needs in_scale / 128 / out_scale < 1)");
  }
  return ForQuantizedType(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    return EvalFn(
        [=](const Workspace& ws) { kernels::QuantizedHardSwish<T>(p, ws.Get<T>(in_t), n, ws.Mutable<T>(out_t)); });
  });
}

// ---- LOGISTIC, TANH --------------------------------------------------------------------

namespace {

// int16 (16x8) LOGISTIC/TANH, the same in every mode except for power-of-two scales:
// TFLite's built-in kernel then evaluates gemmlowp in Q3.12, the reference kernel reads
// the interpolated sigmoid table (as it does for every other scale).
template <bool kTanh>
Result<EvalFn> PrepareInt16Activation(const PrepareContext& ctx) {
  QAUDIT_RETURN_IF_ERROR(ExpectZeroPointsZero(ctx));
  int out_log2 = 0;
  if (!kernels::CheckedLog2(OutputScale(ctx), &out_log2) || out_log2 != -15) {
    return ctx.Error("int16 output scale must be 2^-15; got " + std::to_string(OutputScale(ctx)));
  }
  if (!kTanh && OutputScale(ctx) != 1.0f / 32768) {
    return ctx.Error("int16 output scale must be exactly 2^-15; got " + std::to_string(OutputScale(ctx)));
  }
  const kernels::Int16ActivationParams p = kernels::MakeInt16ActivationParams(InputScale(ctx), kTanh ? 2 : 1);
  const int in_t = ctx.input_index(0), out_t = ctx.output_index(0);
  const int64_t n = ctx.input(0).num_elements();
  if (p.multiplier == 0 && ctx.numerics != Numerics::kReference) {
    return EvalFn([=](const Workspace& ws) {
      kernels::Int16ActivationFixedPoint<kTanh>(p.shift, ws.Get<int16_t>(in_t), n, ws.Mutable<int16_t>(out_t));
    });
  }
  return EvalFn([=](const Workspace& ws) {
    kernels::Int16ActivationLut<kTanh>(p, ws.Get<int16_t>(in_t), n, ws.Mutable<int16_t>(out_t));
  });
}

// 8-bit LOGISTIC/TANH.
//  - kTflite: TFLite's default (generic optimized) kernel, a 256-entry table computed in
//    float at Prepare (TFLite's reference registration uses the same table).
//  - kReference: reference_integer_ops' gemmlowp evaluation in Q4.27, which hard-codes
//    the output parameters (1/256 and min(T) for LOGISTIC, 1/128 and the type's middle
//    for TANH).
//  - kXnnpack: XNNPACK's table for LOGISTIC (another float formula, round half to even);
//    TANH is not delegated.
template <bool kTanh>
Result<EvalFn> PrepareInt8Activation(const PrepareContext& ctx) {
  const Tensor& in = ctx.input(0);
  const float in_scale = InputScale(ctx), out_scale = OutputScale(ctx);
  const int32_t in_zp = ZeroPoint(in), out_zp = ZeroPoint(ctx.output(0));
  const int in_t = ctx.input_index(0), out_t = ctx.output_index(0);
  const int64_t n = in.num_elements();
  if (!kTanh && out_scale != 1.0f / 256) {
    return ctx.Error("LOGISTIC output scale must be 1/256; got " + std::to_string(out_scale));
  }
  if (ctx.numerics == Numerics::kReference) {
    const bool is_int8 = in.dtype == DType::kInt8;
    const float want_scale = kTanh ? 1.0f / 128 : 1.0f / 256;
    const int32_t want_zp = kTanh ? (is_int8 ? 0 : 128) : (is_int8 ? -128 : 0);
    if (out_scale != want_scale || out_zp != want_zp) {
      return ctx.Unsupported("the reference kernel needs output scale " + std::to_string(want_scale) +
                             " and zero point " + std::to_string(want_zp) + "; got " + std::to_string(out_scale) +
                             " and " + std::to_string(out_zp));
    }
    // TFLite's reference Prepare (QuantizeMultiplierGreaterThanOne) needs in_scale * 2^27 > 1,
    // and CalculateInputRadius shifts by that multiplier's exponent, which must be in [1, 62].
    const double input_real = static_cast<double>(in_scale) * (1 << 27);
    if (!(input_real > 1.0 && input_real < 0x1.0p61)) {
      return ctx.Error("input scale " + std::to_string(in_scale) + " is out of range for the reference kernel");
    }
    const kernels::FixedPointActivationParams p = kernels::MakeFixedPointActivationParams(in_scale, in_zp);
    return ForQuantizedType(in.dtype, [&](auto tag) {
      using T = decltype(tag);
      return EvalFn([=](const Workspace& ws) {
        kernels::FixedPointActivation<T, kTanh>(p, ws.Get<T>(in_t), n, ws.Mutable<T>(out_t));
      });
    });
  }
  // XNNPACK (2.12) takes LOGISTIC only with the standard output zero point; never TANH.
  const bool xnnpack = !kTanh && ctx.numerics == Numerics::kXnnpack && out_zp == (in.dtype == DType::kInt8 ? -128 : 0);
  return ForQuantizedType(in.dtype, [&](auto tag) {
    using T = decltype(tag);
    const kernels::Lut8 lut =
        xnnpack ? kernels::MakeXnnpackLut<T>(in_scale, in_zp, out_scale, out_zp, kernels::XnnpackSigmoid)
                : kernels::MakeTfliteLut<T>(in_scale, in_zp, out_scale, out_zp,
                                            kTanh ? kernels::TfliteTanh : kernels::TfliteSigmoid);
    return EvalFn([=](const Workspace& ws) { kernels::ApplyLut8<T>(lut, ws.Get<T>(in_t), n, ws.Mutable<T>(out_t)); });
  });
}

template <bool kTanh>
Result<EvalFn> PrepareSigmoidOrTanh(const PrepareContext& ctx) {
  QAUDIT_RETURN_IF_ERROR(ExpectUnary(ctx, {DType::kFloat32, DType::kInt8, DType::kUInt8, DType::kInt16}));
  const Tensor& in = ctx.input(0);
  if (in.dtype == DType::kFloat32) {
    const int in_t = ctx.input_index(0), out_t = ctx.output_index(0);
    const int64_t n = in.num_elements();
    // Float TANH: std::tanh in the reference kernel, Eigen's approximation in TFLite's
    // built-in one (which XNNPACK, in 2.12, leaves to TFLite). Float LOGISTIC follows the
    // reference formula in every mode; TFLite's Eigen-based kernel and XNNPACK differ
    // from it in the last bits.
    const bool eigen = ctx.numerics != Numerics::kReference;
    return EvalFn([=](const Workspace& ws) {
      if (kTanh && eigen) {
        kernels::TanhFloatEigen(ws.Get<float>(in_t), n, ws.Mutable<float>(out_t));
      } else if (kTanh) {
        kernels::TanhFloat(ws.Get<float>(in_t), n, ws.Mutable<float>(out_t));
      } else {
        kernels::LogisticFloat(ws.Get<float>(in_t), n, ws.Mutable<float>(out_t));
      }
    });
  }
  QAUDIT_RETURN_IF_ERROR(ExpectQuantizedUnary(ctx));
  if (in.dtype == DType::kInt16) return PrepareInt16Activation<kTanh>(ctx);
  return PrepareInt8Activation<kTanh>(ctx);
}

}  // namespace

Result<EvalFn> PrepareLogistic(const PrepareContext& ctx) { return PrepareSigmoidOrTanh<false>(ctx); }
Result<EvalFn> PrepareTanh(const PrepareContext& ctx) { return PrepareSigmoidOrTanh<true>(ctx); }

// ---- SOFTMAX ---------------------------------------------------------------------------

// Over the last dimension, with beta.
//  - float: exp of (x - max) * beta, normalised.
//  - int8/uint8 in: kTflite uses TFLite's built-in float table (output int8, uint8 or
//    int16, honouring the output's scale and zero point); kReference the gemmlowp
//    fixed-point kernel. XNNPACK (2.12) takes only float SOFTMAX.
//  - int16: TFLite's table kernel in every mode (1-D to 4-D only).
// TFLite checks int8 -> int8 (scale 1/256 within 0.1%, zero point -128) and int16 ->
// int16 (scale 1/32768 within 0.1%, zero points 0).
Result<EvalFn> PrepareSoftmax(const PrepareContext& ctx) {
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectArity(1, 1, 1));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectInputType(0, {DType::kFloat32, DType::kInt8, DType::kUInt8, DType::kInt16}));
  const Tensor& in = ctx.input(0);
  const Tensor& out = ctx.output(0);
  const float beta = ctx.op.opts<SoftmaxOptions>().beta;
  const bool out_ok = out.dtype == in.dtype || (out.dtype == DType::kInt16 && in.dtype != DType::kFloat32);
  if (!out_ok) {
    return ctx.Unsupported(std::string("input ") + DTypeName(in.dtype) + " with output " + DTypeName(out.dtype) +
                           " is not supported");
  }
  if (in.shape.empty()) return ctx.Error("input must have at least one dimension");
  if (out.shape != in.shape) {
    return ctx.Error("output shape " + ShapeToString(out.shape) + " differs from input shape " +
                     ShapeToString(in.shape));
  }
  kernels::SoftmaxShape s;
  s.depth = in.shape.back();
  s.outer = s.depth == 0 ? 0 : in.num_elements() / s.depth;
  const int in_t = ctx.input_index(0), out_t = ctx.output_index(0);
  if (in.dtype == DType::kFloat32) {
    return EvalFn(
        [=](const Workspace& ws) { kernels::SoftmaxFloat(s, ws.Get<float>(in_t), beta, ws.Mutable<float>(out_t)); });
  }
  QAUDIT_RETURN_IF_ERROR(ExpectQuantizedUnary(ctx));
  const float in_scale = InputScale(ctx), out_scale = OutputScale(ctx);
  const int32_t out_zp = ZeroPoint(out);
  const Rounding r = kMultiplyRounding;
  if (!std::isfinite(beta)) return ctx.Error("beta " + std::to_string(beta) + " is not finite");
  if (in.dtype == DType::kInt16) {
    if (ZeroPoint(in) != 0 || out_zp != 0) return ExpectZeroPointsZero(ctx);
    if (std::abs(out_scale - 1.0f / 32768) > 0.001f * (1.0f / 32768)) {
      return ctx.Error("int16 output scale must be 1/32768; got " + std::to_string(out_scale));
    }
    if (in.shape.size() > 4) return ctx.Unsupported("int16 SOFTMAX takes 1-D to 4-D inputs (TFLite's limit)");
    const auto p = std::make_shared<const kernels::SoftmaxInt16Params>(kernels::MakeSoftmaxInt16Params(in_scale, beta));
    return EvalFn([=](const Workspace& ws) {
      kernels::SoftmaxInt16(s, *p, r, ws.Get<int16_t>(in_t), ws.Mutable<int16_t>(out_t));
    });
  }
  if (in.dtype == DType::kInt8 && out.dtype == DType::kInt8) {
    if (out_zp != -128 || std::abs(out_scale - 1.0f / 256) > 0.001f * (1.0f / 256)) {
      return ctx.Error("int8 output must have scale 1/256 and zero point -128; got " + std::to_string(out_scale) +
                       " and " + std::to_string(out_zp));
    }
  }
  auto make = [&](auto in_tag, auto out_tag) -> Result<EvalFn> {
    using In = decltype(in_tag);
    using Out = decltype(out_tag);
    if (ctx.numerics == Numerics::kReference) {
      // TFLite's reference kernel (PreprocessSoftmaxScaling) needs beta * input_scale * 2^26
      // > 1: QuantizeMultiplierGreaterThanOne CHECK-fails otherwise, and the radius below
      // shifts by the multiplier's exponent, which must then be positive.
      if (!(static_cast<double>(beta) * in_scale * (1 << 26) > 1.0)) {
        return ctx.Error("beta " + std::to_string(beta) + " x input scale " + std::to_string(in_scale) +
                         " is too small for TFLite's reference quantized SOFTMAX");
      }
      const kernels::SoftmaxReferenceParams p = kernels::MakeSoftmaxReferenceParams(beta, in_scale, r);
      return EvalFn([=](const Workspace& ws) {
        kernels::SoftmaxReference<In, Out>(s, p, r, ws.Get<In>(in_t), ws.Mutable<Out>(out_t));
      });
    }
    const kernels::SoftmaxTable table = kernels::MakeSoftmaxTable(in_scale, beta);
    return EvalFn([=](const Workspace& ws) {
      kernels::SoftmaxTableLookup<In, Out>(s, table, out_scale, out_zp, ws.Get<In>(in_t), ws.Mutable<Out>(out_t));
    });
  };
  const bool out16 = out.dtype == DType::kInt16;
  if (in.dtype == DType::kInt8) return out16 ? make(int8_t{}, int16_t{}) : make(int8_t{}, int8_t{});
  return out16 ? make(uint8_t{}, int16_t{}) : make(uint8_t{}, uint8_t{});
}

}  // namespace qaudit::runtime
