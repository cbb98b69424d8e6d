// MEAN over constant int32 axes, with keep_dims (tensorflow/lite/kernels/reduce.cc).
#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "kernels/mean.h"
#include "kernels/mean_avx512.h"
#include "runtime/op_kernel.h"
#include "runtime/op_util.h"

namespace qaudit::runtime {

// Which rule computes a quantized mean (TFLite 2.12's reduce.cc):
//  - kTflite only: int8/uint8, keep_dims, a 4-D input and axes exactly {1, 2} or {2, 1}
//    as written in the model (negative spellings miss it) run TFLite's optimized Mean,
//    with a fixed-point multiplier and a float-rounded zero-point bias.
//  - otherwise, equal input and output scale and zero point: the truncated integer mean.
//  - otherwise reference_ops::QuantizedMeanOrSum, computed in float.
//  - kXnnpack: XNNPACK takes int8/uint8 4-D means over exactly {1, 2} (with or without
//    keep_dims) when in_scale / out_scale is in [2^-8, 2^8), as a global average pooling;
//    the rest falls back to TFLite's kernels.
// An empty axis list reduces over nothing: every element is rescaled on its own.
// float: summed in input order and divided, as TFLite's kernel does (bit-exact); XNNPACK's
// float global average pooling sums in another order and differs in the last bits.
Result<EvalFn> PrepareMean(const PrepareContext& ctx) {
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectArity(2, 2, 1));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectInputType(0, {DType::kFloat32, DType::kInt8, DType::kUInt8, DType::kInt16}));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectInputType(1, {DType::kInt32}));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectConstant(1));
  const Tensor& in = ctx.input(0);
  const Tensor& axes_t = ctx.input(1);
  const Tensor& out = ctx.output(0);
  const bool keep_dims = ctx.op.opts<ReducerOptions>().keep_dims;
  if (out.dtype != in.dtype) {
    return ctx.Error(std::string("output '") + out.name + "' is " + DTypeName(out.dtype) + " but input '" + in.name +
                     "' is " + DTypeName(in.dtype));
  }
  const int rank = static_cast<int>(in.shape.size());
  const int64_t num_axes = axes_t.num_elements();
  const int32_t* axes = axes_t.data_as<int32_t>();
  std::vector<bool> reduced(rank, false);
  for (int64_t k = 0; k < num_axes; ++k) {
    const int32_t a = axes[k] < 0 ? axes[k] + rank : axes[k];
    if (a < 0 || a >= rank) {
      return ctx.Error("axis " + std::to_string(axes[k]) + " is out of range for a " + std::to_string(rank) +
                       "-D input");
    }
    reduced[a] = true;
  }
  Shape expected;
  for (int d = 0; d < rank; ++d) {
    if (!reduced[d]) {
      expected.push_back(in.shape[d]);
    } else if (keep_dims) {
      expected.push_back(1);
    }
  }
  if (out.shape != expected) {
    return ctx.Error("output shape " + ShapeToString(out.shape) + " should be " + ShapeToString(expected));
  }
  const int in_t = ctx.input_index(0), out_t = ctx.output_index(0);
  const kernels::ReduceShape s = kernels::MakeReduceShape(in.shape, reduced);
  if (in.dtype == DType::kFloat32) {
    return EvalFn([=](const Workspace& ws) { kernels::MeanFloat(s, ws.Get<float>(in_t), ws.Mutable<float>(out_t)); });
  }
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(in, "input"));
  QAUDIT_RETURN_IF_ERROR(ctx.ExpectPerTensorQuant(out, "output"));
  const float in_scale = in.quant.scale[0], out_scale = out.quant.scale[0];
  const int32_t in_zp = ZeroPoint(in), out_zp = ZeroPoint(out);
  if (in.dtype == DType::kInt16 && (in_zp != 0 || out_zp != 0)) {
    return ctx.Error("int16 input and output must have zero point 0; got " + std::to_string(in_zp) + " and " +
                     std::to_string(out_zp));
  }
  const bool hw_axes = rank == 4 && num_axes == 2 && ((axes[0] == 1 && axes[1] == 2) || (axes[0] == 2 && axes[1] == 1));
  const bool eight_bit = in.dtype != DType::kInt16;
  // XNNPACK also takes a 4-D mean over axis {2} alone (its 1-D global average pooling,
  // over the second-innermost dimension).
  const bool w_axis = rank == 4 && num_axes == 1 && axes[0] == 2;
  const bool xnnpack = ctx.numerics == Numerics::kXnnpack && eight_bit && (hw_axes || w_axis) &&
                       in_scale / out_scale >= 0x1.0p-8f && in_scale / out_scale < 0x1.0p+8f;
  const bool optimized_4d = ctx.numerics != Numerics::kReference && eight_bit && hw_axes && keep_dims;
  // Every rule starts from the per-output sums; 8-bit reductions over adjacent axes (the
  // global average pools) have a vector kernel for them.
  const std::optional<kernels::MiddleAxisView> middle = kernels::AsMiddleAxis(s);
  const bool vector_sums = eight_bit && middle.has_value() && kernels::SumMiddleAxisAvx512Available();
  auto make = [&](auto tag) -> Result<EvalFn> {
    using T = decltype(tag);
    const auto sums_of = [=](const T* x) {
      if constexpr (sizeof(T) == 1) {
        if (vector_sums) {
          std::vector<int32_t> sums(s.num_outputs);
          kernels::SumMiddleAxisAvx512(*middle, x, sums.data());
          return sums;
        }
      }
      return kernels::SumReduced(s, x);
    };
    if (xnnpack) {
      const float scale = in_scale / (out_scale * static_cast<float>(s.count));
      return EvalFn([=](const Workspace& ws) {
        kernels::QuantizedMeanXnnpackFromSums<T>(s, in_zp, scale, out_zp, sums_of(ws.Get<T>(in_t)),
                                                 ws.Mutable<T>(out_t));
      });
    }
    if (optimized_4d) {
      const kernels::Mean4DParams p = kernels::MakeMean4DParams(in_scale, in_zp, out_scale, out_zp, s.count);
      return EvalFn([=](const Workspace& ws) {
        kernels::QuantizedMean4DFromSums<T>(s, p, kernels::Rounding::kDouble, sums_of(ws.Get<T>(in_t)),
                                            ws.Mutable<T>(out_t));
      });
    }
    if (in_scale == out_scale && in_zp == out_zp) {
      return EvalFn([=](const Workspace& ws) {
        kernels::QuantizedMeanSameParamsFromSums<T>(s, sums_of(ws.Get<T>(in_t)), ws.Mutable<T>(out_t));
      });
    }
    return EvalFn([=](const Workspace& ws) {
      kernels::QuantizedMeanFloatFromSums<T>(s, in_scale, in_zp, out_scale, out_zp, sums_of(ws.Get<T>(in_t)),
                                             ws.Mutable<T>(out_t));
    });
  };
  if (in.dtype == DType::kInt8) return make(int8_t{});
  if (in.dtype == DType::kUInt8) return make(uint8_t{});
  return make(int16_t{});
}

}  // namespace qaudit::runtime
