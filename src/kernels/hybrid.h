// Dynamic-range ("hybrid") FULLY_CONNECTED, CONV_2D and DEPTHWISE_CONV_2D: float32 input and
// output, int8 symmetric weights (zero point ignored), float32 bias.
//
// TFLite quantizes the float input to int8 at run time, one row at a time (a FULLY_CONNECTED
// batch row, a whole image for the convolutions), accumulates int8 x int8 products in int32
// and converts each accumulator back to float:
//
//   symmetric row:  s = max|x| / 127, q = clamp(round(x * (127 / max|x|)), -127, 127)
//   asymmetric row: s = (max(x, 0) - min(x, 0)) / 255 in double, zero point z from whichever
//                   end of the range loses less, q = clamp(round(z + x * (1 / s)), -128, 127)
//   out = act(bias + float(acc - z * sum(w)) * s * s_w)
//
// Every function below fixes one runtime's order of those float operations, because the
// order decides the last bit: which scales are multiplied first, whether the zero-point
// correction is integer or float, when the bias is added, and how the clamp is written
// (which matters for -0.0). "round" is std::round, half away from zero.
#ifndef QAUDIT_SRC_KERNELS_HYBRID_H_
#define QAUDIT_SRC_KERNELS_HYBRID_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "kernels/conv.h"
#include "kernels/dot.h"
#include "kernels/fully_connected.h"

namespace qaudit::kernels {

// How one row of floats was quantized: real = scale * (q - zero_point).
struct RowQuantization {
  float scale = 1.0f;
  int32_t zero_point = 0;
};

// TFLite's SymmetricQuantizeFloats. An all-zero (or empty) row gets scale 1 and zeros.
inline RowQuantization QuantizeRowSymmetric(const float* x, int64_t n, int16_t* q) {
  if (n <= 0) return {};
  const auto [lo, hi] = std::minmax_element(x, x + n);
  const float range = std::max(std::abs(*lo), std::abs(*hi));
  if (range == 0) {
    std::fill(q, q + n, int16_t{0});
    return {1.0f, 0};
  }
  const float inverse = 127.0f / range;
  for (int64_t i = 0; i < n; ++i) {
    q[i] = static_cast<int16_t>(std::clamp(static_cast<int32_t>(std::round(x[i] * inverse)), -127, 127));
  }
  return {range / 127.0f, 0};
}

// TFLite's AsymmetricQuantizeFloats: the range always includes 0 and is worked out in
// double; the scale is then narrowed to float and the row is quantized with the float
// reciprocal of that float scale. An all-zero row gets scale 1, zero point 0 and zeros.
inline RowQuantization QuantizeRowAsymmetric(const float* x, int64_t n, int16_t* q) {
  if (n <= 0) return {};
  const auto [lo, hi] = std::minmax_element(x, x + n);
  const double rmin = std::fmin(0.0, *lo), rmax = std::fmax(0.0, *hi);
  if (rmin == rmax) {
    std::fill(q, q + n, int16_t{0});
    return {1.0f, 0};
  }
  constexpr double kQmin = -128, kQmax = 127;
  const double scale = (rmax - rmin) / (kQmax - kQmin);
  // Each end of the range gives a zero point; take the one whose terms are smaller.
  const double from_min = kQmin - rmin / scale, from_max = kQmax - rmax / scale;
  const double error_min = std::abs(kQmin) + std::abs(rmin / scale);
  const double error_max = std::abs(kQmax) + std::abs(rmax / scale);
  const double zero_point = error_min < error_max ? from_min : from_max;
  RowQuantization r;
  r.zero_point = zero_point <= kQmin   ? -128
                 : zero_point >= kQmax ? 127
                                       : static_cast<int32_t>(std::round(zero_point));
  r.scale = static_cast<float>(scale);
  const float inverse = static_cast<float>(1.0 / r.scale);
  for (int64_t i = 0; i < n; ++i) {
    const float shifted = static_cast<float>(r.zero_point) + x[i] * inverse;
    q[i] = static_cast<int16_t>(std::clamp(static_cast<int32_t>(std::round(shifted)), -128, 127));
  }
  return r;
}

// sum(w) of each row of a [rows][cols] weight matrix: the asymmetric correction term.
inline std::vector<int32_t> WeightRowSums(const int16_t* w, int64_t rows, int64_t cols) {
  std::vector<int32_t> sums(rows, 0);
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) sums[r] += w[r * cols + c];
  }
  return sums;
}

// ---------------------------------------------------------------- FULLY_CONNECTED

// Weights [out][in] as int16 (CenteredWeights with zero point 0); `weight_scales` has one
// entry (per-tensor) or one per output; `row_sums` is needed for asymmetric inputs only;
// `bias` may be null.
struct HybridFullyConnectedParams {
  FullyConnectedShape shape;
  bool asymmetric_inputs = false;
  std::vector<float> weight_scales;
  std::vector<int32_t> row_sums;
  float act_min, act_max;
};

// TFLite's EvalHybridDense: the output starts as the bias; an input that is zero
// everywhere skips the products; the asymmetric correction dot - row_sum * zero_point is
// done in int32 (measured: some portable versions do it in float and truncate, which
// differs once |dot| > 2^24; TFLite 2.12's oracle build does not); per-tensor weights fold
// s_w into the row scale first (per-channel weights multiply s_in * s_w per output, but
// TFLite 2.12 ignores per-channel scales, so Prepare refuses them); then ReLU-style
// activations written as max(lo, min(v, hi)).
inline void HybridFullyConnected(const HybridFullyConnectedParams& p, const float* x, const int16_t* w16,
                                 const float* bias, float* y) {
  const FullyConnectedShape& s = p.shape;
  const int64_t total_out = static_cast<int64_t>(s.batch) * s.out;
  for (int b = 0; b < s.batch; ++b) {
    for (int o = 0; o < s.out; ++o) y[static_cast<int64_t>(b) * s.out + o] = bias ? bias[o] : 0.0f;
  }
  const int64_t total_in = static_cast<int64_t>(s.batch) * s.in;
  const bool all_zero = std::all_of(x, x + total_in, [](float v) { return v == 0.0f; });
  const bool per_channel = p.weight_scales.size() > 1;
  std::vector<int16_t> q(s.in);
  for (int b = 0; b < s.batch && !all_zero; ++b) {
    const float* xb = x + static_cast<int64_t>(b) * s.in;
    const RowQuantization rq =
        p.asymmetric_inputs ? QuantizeRowAsymmetric(xb, s.in, q.data()) : QuantizeRowSymmetric(xb, s.in, q.data());
    const float row_scale = per_channel ? rq.scale : rq.scale * p.weight_scales[0];
    float* yb = y + static_cast<int64_t>(b) * s.out;
    for (int o = 0; o < s.out; ++o) {
      int32_t dot = DotInt16(q.data(), w16 + static_cast<int64_t>(o) * s.in, s.in);
      if (p.asymmetric_inputs) {
        dot = static_cast<int32_t>(static_cast<uint32_t>(dot) -
                                   static_cast<uint32_t>(p.row_sums[o]) * static_cast<uint32_t>(rq.zero_point));
      }
      const float scale = per_channel ? row_scale * p.weight_scales[o] : row_scale;
      yb[o] += static_cast<float>(dot) * scale;
    }
  }
  for (int64_t i = 0; i < total_out; ++i) y[i] = std::max(p.act_min, std::min(y[i], p.act_max));
}

// ---------------------------------------------------------------- CONV_2D, DEPTHWISE_CONV_2D

// Which of TFLite's hybrid convolution kernels to reproduce.
enum class HybridConvKernel : uint8_t {
  // CONV_2D, per-tensor weights (optimized HybridConv, TFLite's only one): symmetric
  // inputs, out = 0 + float(acc) * (s_in * s_w), then + bias, min(max(v, lo), hi).
  kConvPerTensor,
  // CONV_2D, per-channel weights, optimized HybridConvPerChannel: asymmetric inputs, the
  // zero point removed in int32, out = float(acc) * (s_w[c] * s_in) + bias,
  // max(min(v, hi), lo).
  kConvPerChannel,
  // CONV_2D, per-channel weights, reference HybridConvPerChannel:
  // out = float(acc) * s_w[c] * s_in (left to right) + bias, min(max(v, lo), hi).
  kConvPerChannelReference,
  // DEPTHWISE_CONV_2D (always per-channel, asymmetric inputs), optimized
  // DepthwiseConvHybridGeneral: out = float(acc) * s_in * s_w[c] (left to right) + bias,
  // min(max(v, lo), hi).
  kDepthwise,
  // DEPTHWISE_CONV_2D, reference DepthwiseConvHybridPerChannel:
  // out = float(acc) * (s_w[c] * s_in) + bias, min(max(v, lo), hi).
  kDepthwiseReference,
};

inline bool QuantizesAsymmetrically(HybridConvKernel k) { return k != HybridConvKernel::kConvPerTensor; }

// Weights as int16 in the layout of conv.h ([out_c][patch] for CONV_2D, [fh][fw][out_c]
// for DEPTHWISE_CONV_2D); `weight_scales` has one entry per output channel except for
// kConvPerTensor, which has one (TFLite's legacy per-tensor scale). The activation
// bounds are finite (TFLite clamps to +-FLT_MAX for "none").
struct HybridConvParams {
  ConvGeometry g;
  HybridConvKernel kernel = HybridConvKernel::kConvPerTensor;
  std::vector<float> weight_scales;
  float act_min, act_max;
};

// The float output of one accumulator, in the order of `kernel`. `acc` already has the
// input zero point removed.
inline float HybridConvOutput(HybridConvKernel kernel, int32_t acc, float s_in, float s_w, const float* bias, int c,
                              float lo, float hi) {
  const float a = static_cast<float>(acc);
  const float b = bias ? bias[c] : 0.0f;
  switch (kernel) {
    case HybridConvKernel::kConvPerTensor: {
      float v = 0.0f;
      v += a * (s_in * s_w);
      return std::min(std::max(v + b, lo), hi);
    }
    case HybridConvKernel::kConvPerChannel: return std::max(std::min(a * (s_w * s_in) + b, hi), lo);
    case HybridConvKernel::kConvPerChannelReference: return std::min(std::max(a * s_w * s_in + b, lo), hi);
    case HybridConvKernel::kDepthwise: return std::min(std::max(a * s_in * s_w + b, lo), hi);
    case HybridConvKernel::kDepthwiseReference: return std::min(std::max(a * (s_w * s_in) + b, lo), hi);
  }
  return 0.0f;
}

// Quantizes each image of the batch as one row; returns each image's quantization.
inline std::vector<RowQuantization> QuantizeImages(const ConvGeometry& g, const float* in, bool asymmetric,
                                                   int16_t* q) {
  const int64_t image = static_cast<int64_t>(g.in_h) * g.in_w * g.in_c;
  std::vector<RowQuantization> rows(g.batch);
  for (int b = 0; b < g.batch; ++b) {
    rows[b] = asymmetric ? QuantizeRowAsymmetric(in + b * image, image, q + b * image)
                         : QuantizeRowSymmetric(in + b * image, image, q + b * image);
  }
  return rows;
}

// CONV_2D. `w16` is [out_c][patch_size]. Taps in the padding contribute nothing (TFLite
// pads with the zero point, then subtracts zero_point * sum(w) in int32).
inline void HybridConv(const HybridConvParams& p, const float* in, const int16_t* w16, const float* bias,
                       float* out) {
  const ConvGeometry& g = p.g;
  const int k = g.patch_size();
  const bool per_tensor = p.weight_scales.size() == 1;
  std::vector<int16_t> q(static_cast<size_t>(g.batch) * g.in_h * g.in_w * g.in_c);
  const std::vector<RowQuantization> rows = QuantizeImages(g, in, QuantizesAsymmetrically(p.kernel), q.data());
  std::vector<int16_t> patch(k);
  for (int b = 0; b < g.batch; ++b) {
    const int16_t zp = static_cast<int16_t>(rows[b].zero_point);
    for (int oy = 0; oy < g.out_h; ++oy) {
      for (int ox = 0; ox < g.out_w; ++ox) {
        // Padding taps take the zero point, so after centring they are zero.
        GatherPatch(g, q.data(), b, oy, ox, int16_t{0}, [zp](int16_t v) { return static_cast<int16_t>(v - zp); },
                    patch.data());
        float* o = out + ((static_cast<int64_t>(b) * g.out_h + oy) * g.out_w + ox) * g.out_c;
        for (int oc = 0; oc < g.out_c; ++oc) {
          const int32_t acc = DotInt16(patch.data(), w16 + static_cast<int64_t>(oc) * k, k);
          const float s_w = per_tensor ? p.weight_scales[0] : p.weight_scales[oc];
          o[oc] = HybridConvOutput(p.kernel, acc, rows[b].scale, s_w, bias, oc, p.act_min, p.act_max);
        }
      }
    }
  }
}

// DEPTHWISE_CONV_2D. `w16` is [filter_h][filter_w][out_c]; output channel oc reads input
// channel oc / depth_multiplier.
inline void HybridDepthwiseConv(const HybridConvParams& p, const float* in, const int16_t* w16, const float* bias,
                                float* out) {
  const ConvGeometry& g = p.g;
  std::vector<int16_t> q(static_cast<size_t>(g.batch) * g.in_h * g.in_w * g.in_c);
  const std::vector<RowQuantization> rows = QuantizeImages(g, in, true, q.data());
  std::vector<int32_t> acc(g.out_c);
  for (int b = 0; b < g.batch; ++b) {
    const int32_t zp = rows[b].zero_point;
    for (int oy = 0; oy < g.out_h; ++oy) {
      for (int ox = 0; ox < g.out_w; ++ox) {
        std::fill(acc.begin(), acc.end(), 0);
        ForEachInsideTap(g, b, oy, ox, [&](int ky, int kx, int64_t offset) {
          const int16_t* x = q.data() + offset;
          const int16_t* wk = w16 + (static_cast<int64_t>(ky) * g.filter_w + kx) * g.out_c;
          for (int oc = 0; oc < g.out_c; ++oc) acc[oc] += (x[oc / g.depth_multiplier] - zp) * wk[oc];
        });
        float* o = out + ((static_cast<int64_t>(b) * g.out_h + oy) * g.out_w + ox) * g.out_c;
        for (int oc = 0; oc < g.out_c; ++oc) {
          o[oc] = HybridConvOutput(p.kernel, acc[oc], rows[b].scale, p.weight_scales[oc], bias, oc, p.act_min,
                                   p.act_max);
        }
      }
    }
  }
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_HYBRID_H_
