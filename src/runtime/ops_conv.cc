// CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED: the accumulating ops.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/conv.h"
#include "kernels/conv_sgemm.h"
#include "kernels/conv_small_channels_avx512.h"
#include "kernels/depthwise_avx512.h"
#include "kernels/depthwise_int8_avx512.h"
#include "kernels/fully_connected.h"
#include "kernels/hybrid.h"
#include "kernels/int8_gemm.h"
#include "kernels/winograd_avx512.h"
#include "runtime/op_kernel.h"
#include "runtime/op_util.h"
#include "runtime/xnnpack_rules.h"

namespace qaudit::runtime {
namespace {

using kernels::OutputStage;
using kernels::Rounding;

// Which requantization each runtime applies to an accumulating op. These rules were
// established against TFLite's own interpreter (tests/oracle); the reference kernels
// always round twice.
bool XnnpackTakes(const PrepareContext& ctx) {
  return ctx.numerics == Numerics::kXnnpack && XnnpackClaims(ctx.graph, ctx.op);
}

Rounding AccumulatorRounding(const PrepareContext& ctx, DType input_type, bool xnnpack_takes) {
  if (input_type == DType::kInt16) {
    // 16x8 (measured): DEPTHWISE_CONV_2D, and CONV_2D / FULLY_CONNECTED with an int64
    // bias, use the 16-bit reduced multiplier; CONV_2D / FULLY_CONNECTED with an int32
    // bias or none round once with the full 31-bit multiplier.
    const bool bias64 = ctx.has_input(2) && ctx.input(2).dtype == DType::kInt64;
    return bias64 || ctx.op.kind == OpKind::kDepthwiseConv2D ? Rounding::kInt64 : Rounding::kSingle;
  }
  if (xnnpack_takes) return Rounding::kFp32;
  switch (ctx.numerics) {
    case Numerics::kReference: return Rounding::kDouble;
    case Numerics::kTflite:
    case Numerics::kXnnpack:  // nodes XNNPACK does not take run TFLite's kernels
      // int8 FC and CONV_2D run their GEMM through ruy, which rounds once. Depthwise has
      // its own kernels with the double-rounding MultiplyByQuantizedMultiplier, and the
      // legacy uint8 GEMMs use gemmlowp's output stage, which also rounds twice.
      if (input_type == DType::kUInt8 || ctx.op.kind == OpKind::kDepthwiseConv2D) return Rounding::kDouble;
      return Rounding::kSingle;
  }
  return Rounding::kDouble;
}

// The quantization checks TFLite's Prepare makes, then the output stage.
Result<OutputStage> MakeAccumulatorStage(const PrepareContext& ctx, Activation activation, int channels,
                                         int weight_axis) {
  const Tensor& in = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor& out = ctx.output(0);
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(in, "input"));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(out, "output"));
  const size_t num_scales = w.quant.scale.size();
  if (num_scales != 1 && num_scales != static_cast<size_t>(channels)) {
    return ctx.Error("weights '" + w.name + "' have " + std::to_string(num_scales) + " scales for " +
                     std::to_string(channels) + " output channels");
  }
  if (num_scales > 1 && w.quant.quantized_dimension != weight_axis) {
    return ctx.Error("weights '" + w.name + "' are quantized along dimension " +
                     std::to_string(w.quant.quantized_dimension) + ", expected " + std::to_string(weight_axis));
  }
  for (size_t c = 0; c < num_scales; ++c) {
    if (!(w.quant.scale[c] > 0)) {
      return ctx.Error("weights '" + w.name + "' scale[" + std::to_string(c) + "] is " +
                       std::to_string(w.quant.scale[c]));
    }
  }
  const float s_in = in.quant.scale[0], s_out = out.quant.scale[0];
  if (ctx.has_input(2)) {
    const Tensor& bias = ctx.input(2);
    // TFLite refuses a bias whose scale is not input_scale * weight_scale (2% of the output scale).
    for (size_t c = 0; c < bias.quant.scale.size() && c < num_scales; ++c) {
      const double expected = static_cast<double>(s_in) * w.quant.scale_at(c);
      if (std::abs(expected - bias.quant.scale[c]) / s_out > 0.02) {
        return ctx.Error("bias '" + bias.name + "' scale[" + std::to_string(c) + "] " +
                         std::to_string(bias.quant.scale[c]) + " differs from input scale x weight scale " +
                         std::to_string(expected));
      }
    }
  }
  std::vector<double> real(channels);
  std::vector<float> as_float(channels);
  for (int c = 0; c < channels; ++c) {
    const float s_w = w.quant.scale_at(num_scales == 1 ? 0 : c);
    // The legacy uint8 kernels, and FULLY_CONNECTED with per-tensor weights of any type
    // (GetQuantizedConvolutionMultipler), form the input x weight product in float before
    // widening; per-channel multipliers are computed in double.
    const bool float_product =
        in.dtype == DType::kUInt8 || (ctx.op.kind == OpKind::kFullyConnected && num_scales == 1);
    real[c] = float_product ? static_cast<double>(s_in * s_w) / s_out : static_cast<double>(s_in) * s_w / s_out;
    as_float[c] = s_in * s_w / s_out;
    // XNNPACK mode applies as_float, formed in float: s_in * s_w can overflow to inf there
    // while the double ratio is in range, and inf * 0 is NaN.
    if (!kernels::RealMultiplierInRange(real[c]) || !std::isfinite(as_float[c])) {
      return ctx.Error("input scale x weight scale / output scale = " + std::to_string(real[c]) +
                       (num_scales > 1 ? " (channel " + std::to_string(c) + ")" : std::string()) +
                       " is out of range (must be below " + std::to_string(kernels::kMaxRealMultiplier) + ")");
    }
  }
  QAUDIT_ASSIGN_OR_RETURN(auto range, QuantizedActivationRange(ctx, activation, out));
  const bool xnnpack = XnnpackTakes(ctx);
  if (xnnpack) range = XnnpackQuantizedActivationRange(activation, out);
  return OutputStage::Make(AccumulatorRounding(ctx, in.dtype, xnnpack), real, as_float, ZeroPoint(out), range.first,
                           range.second);
}

// Checks the dtypes of (input, weights, bias, output) of a quantized accumulating op.
Status ExpectQuantizedTypes(const PrepareContext& ctx) {
  const DType in = ctx.input(0).dtype;
  const DType w = ctx.input(1).dtype;
  const DType out = ctx.output(0).dtype;
  const DType want_w = in == DType::kUInt8 ? DType::kUInt8 : DType::kInt8;
  if (w != want_w) {
    if (in == DType::kFloat32) {
      // int8 weights take the hybrid kernels; TFLite's legacy uint8 hybrid path is not covered.
      return ctx.Unsupported("float input with " + std::string(DTypeName(w)) +
                             " weights (only int8 dynamic-range weights are supported)");
    }
    return ctx.Unsupported(std::string(DTypeName(in)) + " input needs " + DTypeName(want_w) + " weights, got " +
                           DTypeName(w));
  }
  if (out != in) return ctx.Unsupported(std::string(DTypeName(in)) + " input with " + DTypeName(out) + " output");
  if (ctx.has_input(2)) {
    const DType b = ctx.input(2).dtype;
    const bool ok = in == DType::kInt16 ? (b == DType::kInt64 || b == DType::kInt32) : b == DType::kInt32;
    if (!ok) return ctx.Unsupported("bias is " + std::string(DTypeName(b)) + " for " + DTypeName(in) + " input");
  }
  // The 16x8 kernels centre int16 activations in int16 (x - zero_point must fit), and
  // TFLite's 16x8 kernels take symmetric activations only, as int16 ADD here does.
  if (in == DType::kInt16 && (ZeroPoint(ctx.input(0)) != 0 || ZeroPoint(ctx.output(0)) != 0)) {
    return ctx.Error("int16 input and output must have zero point 0");
  }
  return Status::Ok();
}

// Calls make(input, bias, accumulator) with a value of each type this op needs.
template <typename Fn>
EvalFn DispatchQuantized(const PrepareContext& ctx, Fn&& make) {
  const DType in = ctx.input(0).dtype;
  const bool bias64 = ctx.has_input(2) && ctx.input(2).dtype == DType::kInt64;
  if (in == DType::kInt8) return make(int8_t{}, int32_t{}, int32_t{});
  if (in == DType::kUInt8) return make(uint8_t{}, int32_t{}, int32_t{});
  if (bias64) return make(int16_t{}, int64_t{}, int64_t{});
  return make(int16_t{}, int32_t{}, int64_t{});
}

// The weights minus their zero point as int16 (int8 weights are symmetric: TFLite ignores
// their zero point).
std::vector<int16_t> CenteredWeightsOf(const Tensor& w) {
  if (w.dtype == DType::kUInt8) return kernels::CenteredWeights(w.data_as<uint8_t>(), w.num_elements(), ZeroPoint(w));
  return kernels::CenteredWeights(w.data_as<int8_t>(), w.num_elements(), 0);
}

// ---------------------------------------------------------------- fast paths

// Whether int8 CONV_2D / FULLY_CONNECTED / DEPTHWISE_CONV_2D take the AVX-512 kernels
// (kernels/int8_gemm.h): int8 activations with constant weights and bias (packed once
// here), on a CPU that has them.
bool TakesInt8Avx512(const PrepareContext& ctx, const OutputStage& stage) {
  const int32_t in_zp = ZeroPoint(ctx.input(0));
  return kernels::Int8GemmAvailable() && ctx.input(0).dtype == DType::kInt8 && in_zp >= -128 && in_zp <= 127 &&
         stage.rounding != Rounding::kInt64 && (!ctx.has_input(2) || ctx.input(2).is_constant);
}

// The MAX_POOL_2D that ConvMaxPoolInt8Vnni can compute together with this CONV_2D: the
// next operator, the only reader of this output (which is no graph output), over
// non-overlapping VALID windows, int8 with the same quantization. Its size is 0 otherwise.
kernels::MaxPoolAfterConv FusableMaxPool(const PrepareContext& ctx, const kernels::ConvGeometry& g) {
  const size_t next = static_cast<size_t>(ctx.op_index) + 1;
  if (ctx.fused_with_next == nullptr || next >= ctx.graph.operators.size()) return {};
  const Operator& pool = ctx.graph.operators[next];
  const int t = ctx.output_index(0);
  if (pool.kind != OpKind::kMaxPool2D || pool.inputs.size() != 1 || pool.inputs[0] != t || pool.outputs.size() != 1 ||
      ctx.op.outputs.size() != 1) {
    return {};
  }
  const Graph& graph = ctx.graph;
  if (std::find(graph.outputs.begin(), graph.outputs.end(), t) != graph.outputs.end()) return {};
  for (size_t i = 0; i < graph.operators.size(); ++i) {
    const std::vector<int>& inputs = graph.operators[i].inputs;
    if (i != next && std::find(inputs.begin(), inputs.end(), t) != inputs.end()) return {};
  }
  const auto& o = pool.opts<PoolOptions>();
  const int size = o.filter_h;
  if (o.padding != Padding::kValid || o.filter_w != size || o.stride_h != size || o.stride_w != size || size < 1 ||
      g.out_h < size || g.out_w < size) {
    return {};
  }
  const Tensor& in = ctx.output(0);
  const Tensor& out = graph.tensors[pool.outputs[0]];
  if (out.dtype != DType::kInt8 || out.shape != Shape{g.batch, g.out_h / size, g.out_w / size, g.out_c} ||
      in.quant.scale.size() != 1 || out.quant.scale.size() != 1 || in.quant.scale[0] != out.quant.scale[0] ||
      ZeroPoint(in) != ZeroPoint(out)) {
    return {};
  }
  const PrepareContext pool_ctx{graph, pool, static_cast<int>(next), ctx.numerics};
  auto range = QuantizedActivationRange(pool_ctx, o.activation, out);
  if (!range.ok()) return {};
  return kernels::MaxPoolAfterConv{size, range->first, range->second};
}

const int32_t* ConstantBias(const PrepareContext& ctx) {
  return ctx.has_input(2) ? ctx.input(2).data_as<int32_t>() : nullptr;
}

// Offers `block_eval` to the executor and returns its one-sample form as the EvalFn.
EvalFn WithBlockEval(const PrepareContext& ctx, BlockEvalFn block_eval) {
  if (ctx.block_eval) *ctx.block_eval = block_eval;
  return [block_eval](const Workspace& ws) { block_eval({&ws}); };
}

// Float weights and bias known at Prepare: Sgemm reads the weights pre-transposed.
bool TakesSgemm(const PrepareContext& ctx) {
  return ctx.input(1).is_constant && (!ctx.has_input(2) || ctx.input(2).is_constant);
}

// ---------------------------------------------------------------- dynamic range ("hybrid")

// Float input with int8 weights: TFLite's hybrid kernels (kernels/hybrid.h).
bool IsHybrid(const PrepareContext& ctx) {
  return ctx.input(0).dtype == DType::kFloat32 && ctx.input(1).dtype == DType::kInt8;
}

// The dtype and quantization checks every hybrid op makes; returns the weight scales.
Result<std::vector<float>> HybridWeightScales(const PrepareContext& ctx) {
  const Tensor& w = ctx.input(1);
  if (ctx.output(0).dtype != DType::kFloat32) {
    return ctx.Unsupported("float input with int8 weights needs a float32 output, got " +
                           std::string(DTypeName(ctx.output(0).dtype)));
  }
  if (ctx.has_input(2) && ctx.input(2).dtype != DType::kFloat32) {
    return ctx.Unsupported("float input with int8 weights needs a float32 bias, got " +
                           std::string(DTypeName(ctx.input(2).dtype)));
  }
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectConstant(1));
  if (w.quant.scale.empty()) return ctx.Error("int8 weights '" + w.name + "' have no quantization scale");
  for (size_t c = 0; c < w.quant.scale.size(); ++c) {
    if (!(w.quant.scale[c] > 0) || !std::isfinite(w.quant.scale[c])) {
      return ctx.Error("weights '" + w.name + "' scale[" + std::to_string(c) + "] is " +
                       std::to_string(w.quant.scale[c]));
    }
  }
  return w.quant.scale;
}

// TFLite clamps convolution outputs to [lowest, max] when there is no activation.
std::pair<float, float> FiniteRange(std::pair<float, float> r) {
  constexpr float kMax = std::numeric_limits<float>::max();
  return {std::max(r.first, -kMax), std::min(r.second, kMax)};
}

Result<EvalFn> PrepareHybridConv(const PrepareContext& ctx, const kernels::ConvGeometry& g, bool depthwise) {
  const auto& o = ctx.op.opts<ConvOptions>();
  const Tensor& w = ctx.input(1);
  QAUDIT_ASSIGN_OR_RETURN(std::vector<float> scales, HybridWeightScales(ctx));
  QAUDIT_ASSIGN_OR_RETURN(auto range, FloatActivationRange(ctx, o.activation));
  kernels::HybridConvParams p;
  p.g = g;
  std::tie(p.act_min, p.act_max) = FiniteRange(range);
  const int axis = depthwise ? 3 : 0;
  if (scales.size() != 1 && scales.size() != static_cast<size_t>(g.out_c)) {
    return ctx.Error("weights '" + w.name + "' have " + std::to_string(scales.size()) + " scales for " +
                     std::to_string(g.out_c) + " output channels");
  }
  if (scales.size() > 1 && w.quant.quantized_dimension != axis) {
    return ctx.Error("weights '" + w.name + "' are quantized along dimension " +
                     std::to_string(w.quant.quantized_dimension) + ", expected " + std::to_string(axis));
  }
  const bool reference = ctx.numerics == Numerics::kReference;
  if (depthwise) {
    // TFLite's hybrid depthwise kernel reads one scale per output channel, past the end of
    // a single per-tensor scale. It also reads the bias unconditionally: without one the
    // oracle (WebAssembly) reads zeros, which is what runs here; native TFLite would crash.
    if (scales.size() != static_cast<size_t>(g.out_c)) {
      return ctx.Unsupported("hybrid DEPTHWISE_CONV_2D needs one weight scale per output channel (TFLite reads " +
                             std::to_string(g.out_c) + "), got " + std::to_string(scales.size()));
    }
    p.kernel = reference ? kernels::HybridConvKernel::kDepthwiseReference : kernels::HybridConvKernel::kDepthwise;
  } else {
    if (!ctx.has_input(2)) return ctx.Unsupported("hybrid CONV_2D without a bias (TFLite requires one)");
    // TFLite takes the per-channel kernel only when the scales differ.
    const bool per_channel =
        std::any_of(scales.begin(), scales.end(), [&](float s) { return s != scales[0]; });
    // With equal scales TFLite 2.12 takes the per-tensor kernel, whose legacy per-tensor scale
    // is 0 for a per-channel tensor: it outputs act(bias) (verified against the oracle).
    if (!per_channel && scales.size() > 1) {
      return ctx.Unsupported("hybrid CONV_2D with " + std::to_string(scales.size()) +
                             " equal per-channel weight scales: TFLite 2.12 ignores the weights and outputs only "
                             "the bias; write one per-tensor scale");
    }
    p.kernel = !per_channel ? kernels::HybridConvKernel::kConvPerTensor
               : reference  ? kernels::HybridConvKernel::kConvPerChannelReference
                            : kernels::HybridConvKernel::kConvPerChannel;
  }
  p.weight_scales = std::move(scales);
  const int in_t = ctx.input_index(0), out_t = ctx.output_index(0);
  const int b_t = ctx.has_input(2) ? ctx.input_index(2) : kNoTensor;
  const std::vector<int16_t> w16 = kernels::CenteredWeights(w.data_as<int8_t>(), w.num_elements(), 0);
  return EvalFn([=](const Workspace& ws) {
    const float* bias = b_t == kNoTensor ? nullptr : ws.Get<float>(b_t);
    if (depthwise) {
      kernels::HybridDepthwiseConv(p, ws.Get<float>(in_t), w16.data(), bias, ws.Mutable<float>(out_t));
    } else {
      kernels::HybridConv(p, ws.Get<float>(in_t), w16.data(), bias, ws.Mutable<float>(out_t));
    }
  });
}

Result<EvalFn> PrepareHybridFullyConnected(const PrepareContext& ctx, const kernels::FullyConnectedShape& s) {
  const auto& o = ctx.op.opts<FullyConnectedOptions>();
  const Tensor& w = ctx.input(1);
  QAUDIT_ASSIGN_OR_RETURN(std::vector<float> scales, HybridWeightScales(ctx));
  QAUDIT_ASSIGN_OR_RETURN(auto range, FloatActivationRange(ctx, o.activation));
  // TFLite 2.12's hybrid FULLY_CONNECTED reads only the legacy per-tensor scale, which is 0
  // for per-channel weights, so it outputs act(bias) (verified against the oracle).
  if (scales.size() > 1) {
    return ctx.Unsupported("hybrid FULLY_CONNECTED with per-channel weights ('" + w.name + "', " +
                           std::to_string(scales.size()) +
                           " scales): TFLite 2.12 ignores them and outputs only the bias; write one scale");
  }
  kernels::HybridFullyConnectedParams p;
  p.shape = s;
  p.asymmetric_inputs = o.asymmetric_quantize_inputs;
  p.weight_scales = std::move(scales);
  std::tie(p.act_min, p.act_max) = range;
  const std::vector<int16_t> w16 = kernels::CenteredWeights(w.data_as<int8_t>(), w.num_elements(), 0);
  if (p.asymmetric_inputs) p.row_sums = kernels::WeightRowSums(w16.data(), s.out, s.in);
  const int in_t = ctx.input_index(0), out_t = ctx.output_index(0);
  const int b_t = ctx.has_input(2) ? ctx.input_index(2) : kNoTensor;
  return EvalFn([=](const Workspace& ws) {
    kernels::HybridFullyConnected(p, ws.Get<float>(in_t), w16.data(), b_t == kNoTensor ? nullptr : ws.Get<float>(b_t),
                                  ws.Mutable<float>(out_t));
  });
}

Result<EvalFn> PrepareConvLike(const PrepareContext& ctx, bool depthwise) {
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectArity(2, 3, 1));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectInputType(0, {DType::kFloat32, DType::kInt8, DType::kUInt8, DType::kInt16}));
  const auto& o = ctx.op.opts<ConvOptions>();
  const Tensor& in = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor& out = ctx.output(0);
  if (in.shape.size() != 4 || w.shape.size() != 4 || out.shape.size() != 4) {
    return ctx.Error("needs 4-D input, weights and output; got " + ShapeToString(in.shape) + ", " +
                     ShapeToString(w.shape) + ", " + ShapeToString(out.shape));
  }
  if (o.stride_w < 1 || o.stride_h < 1 || o.dilation_w < 1 || o.dilation_h < 1) {
    return ctx.Error("strides and dilations must be >= 1; got stride " + std::to_string(o.stride_h) + "x" +
                     std::to_string(o.stride_w) + ", dilation " + std::to_string(o.dilation_h) + "x" +
                     std::to_string(o.dilation_w));
  }
  // Empty weights compute nothing, and their other dimensions would be unbounded (the
  // patch size filter_h * filter_w * in_c is an int).
  if (w.num_elements() == 0) return ctx.Error("weights " + ShapeToString(w.shape) + " have no elements");
  kernels::ConvGeometry g{};
  g.batch = in.shape[0], g.in_h = in.shape[1], g.in_w = in.shape[2], g.in_c = in.shape[3];
  g.filter_h = w.shape[1], g.filter_w = w.shape[2];
  g.out_c = depthwise ? w.shape[3] : w.shape[0];
  g.stride_h = o.stride_h, g.stride_w = o.stride_w, g.dilation_h = o.dilation_h, g.dilation_w = o.dilation_w;
  if (depthwise) {
    if (w.shape[0] != 1) return ctx.Error("depthwise weights " + ShapeToString(w.shape) + " must have shape [1,H,W,C]");
    if (g.in_c == 0 || g.out_c % g.in_c != 0) {
      return ctx.Error("output channels " + std::to_string(g.out_c) + " are not a multiple of input channels " +
                       std::to_string(g.in_c));
    }
    g.depth_multiplier = g.out_c / g.in_c;
  } else if (w.shape[3] != g.in_c) {
    return ctx.Error("weights " + ShapeToString(w.shape) + " expect " + std::to_string(w.shape[3]) +
                     " input channels but the input " + ShapeToString(in.shape) + " has " + std::to_string(g.in_c));
  }
  const bool same = o.padding == Padding::kSame;
  kernels::WindowAxis y, x;
  if (!kernels::ComputeWindowAxis(same, g.in_h, g.filter_h, g.stride_h, g.dilation_h, &y) ||
      !kernels::ComputeWindowAxis(same, g.in_w, g.filter_w, g.stride_w, g.dilation_w, &x)) {
    return ctx.Error("filter " + std::to_string(g.filter_h) + "x" + std::to_string(g.filter_w) + " with stride " +
                     std::to_string(g.stride_h) + "x" + std::to_string(g.stride_w) + " and dilation " +
                     std::to_string(g.dilation_h) + "x" + std::to_string(g.dilation_w) +
                     " does not fit the input " + ShapeToString(in.shape));
  }
  g.out_h = y.out, g.out_w = x.out, g.pad_top = y.pad, g.pad_left = x.pad;
  const Shape expected = {g.batch, g.out_h, g.out_w, g.out_c};
  if (out.shape != expected) {
    return ctx.Error("output shape " + ShapeToString(out.shape) + " should be " + ShapeToString(expected));
  }
  if (ctx.has_input(2) && ctx.input(2).num_elements() != g.out_c) {
    return ctx.Error("bias has " + std::to_string(ctx.input(2).num_elements()) + " elements for " +
                     std::to_string(g.out_c) + " output channels");
  }
  if (IsHybrid(ctx)) return PrepareHybridConv(ctx, g, depthwise);
  // XNNPACK (as built into TFLite 2.12) computes SAME padding as an unsigned
  // (out - 1) * stride + effective_filter - in; when that is negative it wraps, every tap
  // falls outside the image and each output is the bias alone (then clamped and
  // requantized). 1x1 filters take a path without padding and are unaffected.
  if (XnnpackTakes(ctx) && same && !(g.filter_h == 1 && g.filter_w == 1)) {
    const int total_h = (g.out_h - 1) * g.stride_h + (g.filter_h - 1) * g.dilation_h + 1 - g.in_h;
    const int total_w = (g.out_w - 1) * g.stride_w + (g.filter_w - 1) * g.dilation_w + 1 - g.in_w;
    if (total_h < 0 || total_w < 0) g.pad_top = g.pad_left = 1 << 29;  // no tap inside the image
  }
  const int in_t = ctx.input_index(0), w_t = ctx.input_index(1), out_t = ctx.output_index(0);
  const int b_t = ctx.has_input(2) ? ctx.input_index(2) : kNoTensor;

  if (in.dtype == DType::kFloat32) {
    if (w.dtype != DType::kFloat32 || out.dtype != DType::kFloat32 ||
        (b_t != kNoTensor && ctx.input(2).dtype != DType::kFloat32)) {
      QAUDIT_RETURN_IF_ERROR(ExpectQuantizedTypes(ctx));  // names the hybrid case
      return ctx.Unsupported("float input needs float weights, bias and output");
    }
    QAUDIT_ASSIGN_OR_RETURN(auto range, FloatActivationRange(ctx, o.activation));
    if (!depthwise && TakesSgemm(ctx) && kernels::WinogradConvFloatAvx512Available() &&
        kernels::WinogradConvFloatSuits(g)) {
      const kernels::WinogradWeights u = kernels::PrepareWinogradWeights(w.data_as<float>(), g.in_c, g.out_c);
      return EvalFn([=](const Workspace& ws) {
        kernels::WinogradConvFloatAvx512(g, ws.Get<float>(in_t), u, b_t == kNoTensor ? nullptr : ws.Get<float>(b_t),
                                         range.first, range.second, ws.Mutable<float>(out_t));
      });
    }
    if (!depthwise && TakesSgemm(ctx) && kernels::ConvSmallChannelsAvx512Available() &&
        kernels::ConvSmallChannelsSuits(g)) {
      const kernels::SmallChannelsWeights sw = kernels::PrepareSmallChannelsWeights(w.data_as<float>(), g);
      return EvalFn([=](const Workspace& ws) {
        kernels::ConvSmallChannelsAvx512(g, ws.Get<float>(in_t), sw, b_t == kNoTensor ? nullptr : ws.Get<float>(b_t),
                                         range.first, range.second, ws.Mutable<float>(out_t));
      });
    }
    if (!depthwise && TakesSgemm(ctx)) {
      const std::vector<float> wt = kernels::Transposed(w.data_as<float>(), g.out_c, g.patch_size());
      return EvalFn([=](const Workspace& ws) {
        kernels::ConvFloatSgemm(g, ws.Get<float>(in_t), wt.data(), b_t == kNoTensor ? nullptr : ws.Get<float>(b_t),
                                range.first, range.second, ws.Mutable<float>(out_t));
      });
    }
    if (depthwise && kernels::DepthwiseConvFloatAvx512Available()) {
      return EvalFn([=](const Workspace& ws) {
        kernels::DepthwiseConvFloatAvx512(g, ws.Get<float>(in_t), ws.Get<float>(w_t),
                                          b_t == kNoTensor ? nullptr : ws.Get<float>(b_t), range.first, range.second,
                                          ws.Mutable<float>(out_t));
      });
    }
    return EvalFn([=](const Workspace& ws) {
      const float* bias = b_t == kNoTensor ? nullptr : ws.Get<float>(b_t);
      if (depthwise) {
        kernels::DepthwiseConvFloat(g, ws.Get<float>(in_t), ws.Get<float>(w_t), bias, range.first, range.second,
                                    ws.Mutable<float>(out_t));
      } else {
        kernels::ConvFloat(g, ws.Get<float>(in_t), ws.Get<float>(w_t), bias, range.first, range.second,
                           ws.Mutable<float>(out_t));
      }
    });
  }
  QAUDIT_RETURN_IF_ERROR(ExpectQuantizedTypes(ctx));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectConstant(1));
  QAUDIT_ASSIGN_OR_RETURN(OutputStage stage, MakeAccumulatorStage(ctx, o.activation, g.out_c, depthwise ? 3 : 0));
  const int32_t in_zp = ZeroPoint(in);
  if (!depthwise && TakesInt8Avx512(ctx, stage)) {
    const kernels::Int8GemmWeights packed =
        kernels::PackInt8ConvWeights(w.data_as<int8_t>(), g, ConstantBias(ctx), in_zp);
    const kernels::Int8Requantization requant = kernels::MakeInt8Requantization(stage);
    if (kernels::MaxPoolAfterConv pool = FusableMaxPool(ctx, g); pool.size > 0) {
      pool.monotone = kernels::AccumulatorsStayMonotone(packed, requant);
      // Pooling the accumulators requantizes a quarter of the values (2x2 windows) and
      // never stores the convolution's output.
      const int pool_out_t = ctx.graph.operators[ctx.op_index + 1].outputs[0];
      *ctx.fused_with_next = [=](const Workspace& ws) {
        kernels::ConvMaxPoolInt8Vnni(g, ws.Get<int8_t>(in_t), in_zp, packed, requant, pool,
                                     ws.Mutable<int8_t>(pool_out_t));
      };
    }
    return EvalFn([=](const Workspace& ws) {
      kernels::ConvInt8Vnni(g, ws.Get<int8_t>(in_t), in_zp, packed, requant, ws.Mutable<int8_t>(out_t));
    });
  }
  if (depthwise && g.depth_multiplier == 1 && w.dtype == DType::kInt8 && TakesInt8Avx512(ctx, stage)) {
    const kernels::Int8Depthwise prepared =
        kernels::PrepareInt8Depthwise(w.data_as<int8_t>(), g, ConstantBias(ctx), in_zp, stage);
    return EvalFn([=](const Workspace& ws) {
      kernels::DepthwiseConvInt8Vnni(g, ws.Get<int8_t>(in_t), prepared, ws.Mutable<int8_t>(out_t));
    });
  }
  const std::vector<int16_t> w16 = CenteredWeightsOf(w);
  return DispatchQuantized(ctx, [&](auto in_v, auto bias_v, auto acc_v) {
    using In = decltype(in_v);
    using Bias = decltype(bias_v);
    using Acc = decltype(acc_v);
    return EvalFn([=](const Workspace& ws) {
      const Bias* bias = b_t == kNoTensor ? nullptr : ws.Get<Bias>(b_t);
      if (depthwise) {
        kernels::DepthwiseConvQuantized<In, Bias, Acc, In>(g, ws.Get<In>(in_t), in_zp, w16.data(), bias, stage,
                                                           ws.Mutable<In>(out_t));
      } else {
        kernels::ConvQuantized<In, Bias, Acc, In>(g, ws.Get<In>(in_t), in_zp, w16.data(), bias, stage,
                                                  ws.Mutable<In>(out_t));
      }
    });
  });
}

}  // namespace

Result<EvalFn> PrepareConv2D(const PrepareContext& ctx) { return PrepareConvLike(ctx, false); }
Result<EvalFn> PrepareDepthwiseConv2D(const PrepareContext& ctx) { return PrepareConvLike(ctx, true); }

Result<EvalFn> PrepareFullyConnected(const PrepareContext& ctx) {
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectArity(2, 3, 1));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectInputType(0, {DType::kFloat32, DType::kInt8, DType::kUInt8, DType::kInt16}));
  const auto& o = ctx.op.opts<FullyConnectedOptions>();
  const Tensor& in = ctx.input(0);
  const Tensor& w = ctx.input(1);
  const Tensor& out = ctx.output(0);
  if (w.shape.size() != 2) return ctx.Error("weights " + ShapeToString(w.shape) + " must be 2-D [out, in]");
  kernels::FullyConnectedShape s{};
  s.out = w.shape[0];
  s.in = w.shape[1];
  const int64_t n = in.num_elements();
  if (s.in == 0 || n % s.in != 0) {
    return ctx.Error("input " + ShapeToString(in.shape) + " (" + std::to_string(n) +
                     " elements) is not a whole number of rows of " + std::to_string(s.in) + " for weights " +
                     ShapeToString(w.shape));
  }
  s.batch = static_cast<int>(n / s.in);
  if (out.num_elements() != static_cast<int64_t>(s.batch) * s.out) {
    return ctx.Error("output " + ShapeToString(out.shape) + " should hold " + std::to_string(s.batch) + " x " +
                     std::to_string(s.out) + " elements");
  }
  if (ctx.has_input(2) && ctx.input(2).num_elements() != s.out) {
    return ctx.Error("bias has " + std::to_string(ctx.input(2).num_elements()) + " elements for " +
                     std::to_string(s.out) + " outputs");
  }
  const int in_t = ctx.input_index(0), w_t = ctx.input_index(1), out_t = ctx.output_index(0);
  const int b_t = ctx.has_input(2) ? ctx.input_index(2) : kNoTensor;
  if (IsHybrid(ctx)) return PrepareHybridFullyConnected(ctx, s);
  if (in.dtype == DType::kFloat32) {
    if (w.dtype != DType::kFloat32 || out.dtype != DType::kFloat32 ||
        (b_t != kNoTensor && ctx.input(2).dtype != DType::kFloat32)) {
      QAUDIT_RETURN_IF_ERROR(ExpectQuantizedTypes(ctx));
      return ctx.Unsupported("float input needs float weights, bias and output");
    }
    QAUDIT_ASSIGN_OR_RETURN(auto range, FloatActivationRange(ctx, o.activation));
    if (TakesSgemm(ctx)) {
      const std::vector<float> wt = kernels::Transposed(w.data_as<float>(), s.out, s.in);
      const float* bias = b_t == kNoTensor ? nullptr : ctx.input(2).data_as<float>();
      return WithBlockEval(ctx, [=](const std::vector<const Workspace*>& block) {
        const int rows = s.batch * static_cast<int>(block.size());
        thread_local std::vector<float> x, y;
        x.resize(static_cast<size_t>(rows) * s.in);
        y.resize(static_cast<size_t>(rows) * s.out);
        for (size_t b = 0; b < block.size(); ++b) {
          std::copy_n(block[b]->Get<float>(in_t), static_cast<int64_t>(s.batch) * s.in, x.data() + b * s.batch * s.in);
        }
        kernels::Sgemm(rows, s.out, s.in, kernels::RowMajor(x.data(), s.in), kernels::RowMajor(wt.data(), s.out),
                       y.data(), s.out, false);
        kernels::AddBiasAndClamp(rows, s.out, bias, range.first, range.second, y.data());
        for (size_t b = 0; b < block.size(); ++b) {
          std::copy_n(y.data() + b * s.batch * s.out, static_cast<int64_t>(s.batch) * s.out,
                      block[b]->Mutable<float>(out_t));
        }
      });
    }
    return EvalFn([=](const Workspace& ws) {
      kernels::FullyConnectedFloat(s, ws.Get<float>(in_t), ws.Get<float>(w_t),
                                   b_t == kNoTensor ? nullptr : ws.Get<float>(b_t), range.first, range.second,
                                   ws.Mutable<float>(out_t));
    });
  }
  QAUDIT_RETURN_IF_ERROR(ExpectQuantizedTypes(ctx));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectConstant(1));
  QAUDIT_ASSIGN_OR_RETURN(OutputStage stage, MakeAccumulatorStage(ctx, o.activation, s.out, 0));
  const int32_t in_zp = ZeroPoint(in);
  if (TakesInt8Avx512(ctx, stage)) {
    const kernels::Int8GemmWeights packed =
        kernels::PackInt8GemmWeights(w.data_as<int8_t>(), s.out, s.in, ConstantBias(ctx), in_zp);
    const kernels::Int8Requantization requant = kernels::MakeInt8Requantization(stage);
    return WithBlockEval(ctx, [=](const std::vector<const Workspace*>& block) {
      thread_local std::vector<const int8_t*> x;
      thread_local std::vector<int8_t*> y;
      x.clear(), y.clear();
      for (const Workspace* ws : block) {
        for (int r = 0; r < s.batch; ++r) {
          x.push_back(ws->Get<int8_t>(in_t) + static_cast<int64_t>(r) * s.in);
          y.push_back(ws->Mutable<int8_t>(out_t) + static_cast<int64_t>(r) * s.out);
        }
      }
      kernels::FullyConnectedInt8Vnni(static_cast<int>(x.size()), x.data(), packed, requant, y.data());
    });
  }
  const std::vector<int16_t> w16 = CenteredWeightsOf(w);
  return DispatchQuantized(ctx, [&](auto in_v, auto bias_v, auto acc_v) {
    using In = decltype(in_v);
    using Bias = decltype(bias_v);
    using Acc = decltype(acc_v);
    return EvalFn([=](const Workspace& ws) {
      kernels::FullyConnectedQuantized<In, Bias, Acc, In>(s, ws.Get<In>(in_t), in_zp, w16.data(),
                                                          b_t == kNoTensor ? nullptr : ws.Get<Bias>(b_t), stage,
                                                          ws.Mutable<In>(out_t));
    });
  });
}

}  // namespace qaudit::runtime
