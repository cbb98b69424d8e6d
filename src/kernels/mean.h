// MEAN over a set of axes. Elements are summed in row-major input order (the order of
// TFLite's reference Reduce), which fixes the float result.
//
// Quantized results come from one of four rules:
//  - equal input and output parameters: the integer mean, truncated;
//  - otherwise reference_ops::QuantizedMeanOrSum, which works in float;
//  - TFLite's built-in 4-D mean over H and W (int8/uint8, keep_dims): raw sum times
//    in_scale / (count * out_scale), plus a float-rounded bias for the zero points;
//  - XNNPACK's global average pooling (fp32 requantization).
#ifndef QAUDIT_SRC_KERNELS_MEAN_H_
#define QAUDIT_SRC_KERNELS_MEAN_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <vector>

#include "kernels/quantize.h"

namespace qaudit::kernels {

// The input's dimensions, and per input dimension the output stride (0 on reduced axes).
struct ReduceShape {
  std::vector<int32_t> dims;
  std::vector<int64_t> out_strides;
  int64_t num_outputs = 1;
  int64_t count = 1;  // input elements per output
};

// `reduced[d]` marks the axes to reduce. The output keeps the other axes in order.
inline ReduceShape MakeReduceShape(const std::vector<int32_t>& dims, const std::vector<bool>& reduced) {
  ReduceShape s;
  s.dims = dims;
  s.out_strides.assign(dims.size(), 0);
  int64_t stride = 1;
  for (size_t d = dims.size(); d-- > 0;) {
    if (reduced[d]) {
      s.count *= dims[d];
    } else {
      s.out_strides[d] = stride;
      stride *= dims[d];
    }
  }
  s.num_outputs = stride;
  return s;
}

// Calls fn(output_index, input_index) for every input element in row-major order.
template <typename Fn>
void ForEachReduced(const ReduceShape& s, Fn&& fn) {
  const size_t rank = s.dims.size();
  int64_t total = 1;
  for (int32_t d : s.dims) total *= d;
  if (total == 0) return;
  std::vector<int32_t> index(rank, 0);
  int64_t out = 0;
  for (int64_t in = 0; in < total; ++in) {
    fn(out, in);
    for (size_t d = rank; d-- > 0;) {
      out += s.out_strides[d];
      if (++index[d] < s.dims[d]) break;
      out -= s.out_strides[d] * s.dims[d];
      index[d] = 0;
    }
  }
}

// The input as [outer, reduced, inner], when the reduced axes are adjacent (axes of size 1
// count as either): output o * inner + i sums x[(o * reduced + r) * inner + i] over r.
struct MiddleAxisView {
  int64_t outer = 1, reduced = 1, inner = 1;
};

inline std::optional<MiddleAxisView> AsMiddleAxis(const ReduceShape& s) {
  MiddleAxisView v;
  enum { kOuter, kReduced, kInner } part = kOuter;
  for (size_t d = 0; d < s.dims.size(); ++d) {
    if (s.dims[d] == 1) continue;
    const bool reduced = s.out_strides[d] == 0;
    if (reduced && part == kInner) return std::nullopt;  // a second run of reduced axes
    if (reduced) part = kReduced;
    if (!reduced && part == kReduced) part = kInner;
    (part == kOuter ? v.outer : part == kReduced ? v.reduced : v.inner) *= s.dims[d];
  }
  return v;
}

// Per output, the int32 sum of the input values that reduce to it.
template <typename T>
std::vector<int32_t> SumReduced(const ReduceShape& s, const T* x) {
  std::vector<int32_t> sums(s.num_outputs, 0);
  ForEachReduced(s, [&](int64_t o, int64_t i) { sums[o] += x[i]; });
  return sums;
}

inline void MeanFloat(const ReduceShape& s, const float* x, float* y) {
  std::fill(y, y + s.num_outputs, 0.0f);
  ForEachReduced(s, [&](int64_t o, int64_t i) { y[o] += x[i]; });
  if (s.count == 0) return;
  for (int64_t o = 0; o < s.num_outputs; ++o) y[o] /= static_cast<float>(s.count);
}

// reference_ops::Mean on quantized data, which TFLite uses when input and output share
// scale and zero point: the raw sum divided by the count, truncating toward zero.
// Each rule comes in two forms: from the input, and from its sums (SumReduced, or a faster
// kernel computing the same), which is where the rule's arithmetic lives.
template <typename T>
void QuantizedMeanSameParamsFromSums(const ReduceShape& s, const std::vector<int32_t>& sums, T* y) {
  for (int64_t o = 0; o < s.num_outputs; ++o) y[o] = static_cast<T>(sums[o] / static_cast<int32_t>(s.count));
}
template <typename T>
void QuantizedMeanSameParams(const ReduceShape& s, const T* x, T* y) {
  QuantizedMeanSameParamsFromSums(s, SumReduced(s, x), y);
}

// reference_ops::QuantizedMeanOrSum (TFLite 2.12): the mean of the raw values in float,
// rescaled by in_scale / out_scale in float, shifted by -in_zp * scale, rounded half away
// from zero, offset by out_zp and saturated, all in float.
template <typename T>
void QuantizedMeanFloatFromSums(const ReduceShape& s, float in_scale, int32_t in_zp, float out_scale, int32_t out_zp,
                                const std::vector<int32_t>& sums, T* y) {
  const float scale = in_scale / out_scale;
  const float bias = static_cast<float>(-in_zp) * scale;
  for (int64_t o = 0; o < s.num_outputs; ++o) {
    const float mean = static_cast<float>(sums[o]) / static_cast<float>(s.count);
    const float scaled = mean * scale;  // not fused with the add, as in TFLite
    float r = std::round(scaled + bias) + static_cast<float>(out_zp);
    r = std::max(std::min(r, static_cast<float>(kQMax<T>)), static_cast<float>(kQMin<T>));
    y[o] = static_cast<T>(r);
  }
}
template <typename T>
void QuantizedMeanFloat(const ReduceShape& s, float in_scale, int32_t in_zp, float out_scale, int32_t out_zp,
                        const T* x, T* y) {
  QuantizedMeanFloatFromSums(s, in_scale, in_zp, out_scale, out_zp, SumReduced(s, x), y);
}

// TFLite's built-in mean of an NHWC tensor over H and W. Both constants are computed in
// float as TFLite does: the bias rounds out_zp - in_zp * in_scale / out_scale half away
// from zero, the multiplier is in_scale / (H * W * out_scale).
struct Mean4DParams {
  QuantizedMultiplier multiplier;
  int32_t bias = 0;
};

inline Mean4DParams MakeMean4DParams(float in_scale, int32_t in_zp, float out_scale, int32_t out_zp, int64_t count) {
  float zp_term = static_cast<float>(in_zp) * in_scale / out_scale;
  zp_term = zp_term > 0 ? zp_term + 0.5f : zp_term - 0.5f;
  Mean4DParams p;
  p.bias = out_zp - static_cast<int32_t>(zp_term);
  p.multiplier = QuantizeMultiplier(in_scale / (static_cast<float>(count) * out_scale));
  return p;
}

template <typename T>
void QuantizedMean4DFromSums(const ReduceShape& s, const Mean4DParams& p, Rounding r, const std::vector<int32_t>& sums,
                             T* y) {
  for (int64_t o = 0; o < s.num_outputs; ++o) y[o] = ClampTo<T>(ApplyMultiplier(sums[o], p.multiplier, r) + p.bias);
}
template <typename T>
void QuantizedMean4D(const ReduceShape& s, const Mean4DParams& p, Rounding r, const T* x, T* y) {
  QuantizedMean4DFromSums(s, p, r, SumReduced(s, x), y);
}

// XNNPACK's global average pooling: the sum of (q - in_zp) times the float scale
// in_scale / (out_scale * count), clamped, rounded half to even, plus out_zp.
// The sum of the centred values is taken as the raw sum minus count * in_zp: the same
// int32, as both wrap modulo 2^32.
template <typename T>
void QuantizedMeanXnnpackFromSums(const ReduceShape& s, int32_t in_zp, float scale, int32_t out_zp,
                                  const std::vector<int32_t>& sums, T* y) {
  const float lo = static_cast<float>(kQMin<T> - out_zp);
  const float hi = static_cast<float>(kQMax<T> - out_zp);
  const uint32_t zp_total = static_cast<uint32_t>(s.count) * static_cast<uint32_t>(in_zp);
  for (int64_t o = 0; o < s.num_outputs; ++o) {
    const auto centred = static_cast<int32_t>(static_cast<uint32_t>(sums[o]) - zp_total);
    y[o] = static_cast<T>(RequantizeFp32(centred, scale, lo, hi) + out_zp);
  }
}
template <typename T>
void QuantizedMeanXnnpack(const ReduceShape& s, int32_t in_zp, float scale, int32_t out_zp, const T* x, T* y) {
  QuantizedMeanXnnpackFromSums(s, in_zp, scale, out_zp, SumReduced(s, x), y);
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_MEAN_H_
