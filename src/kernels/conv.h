// CONV_2D and DEPTHWISE_CONV_2D over NHWC tensors, float and quantized.
//
// Quantized: acc = bias[c] + sum over valid taps of w * (x - input_zero_point), then the
// output stage. Taps that fall in the padding are skipped, which is the same as padding
// with real zero. Weights are OHWI (conv) or 1HWC (depthwise, C = in_channels * multiplier);
// weight zero points are 0 for int8/int16 weights and may be non-zero for uint8.
#ifndef QAUDIT_SRC_KERNELS_CONV_H_
#define QAUDIT_SRC_KERNELS_CONV_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/output_stage.h"

namespace qaudit::kernels {

struct ConvGeometry {
  int batch, in_h, in_w, in_c;
  int out_h, out_w, out_c;
  int filter_h, filter_w;
  int stride_h, stride_w, dilation_h, dilation_w;
  int pad_top, pad_left;
  int depth_multiplier;  // depthwise only
};

// TFLite's rule: SAME pads so that out = ceil(in / stride) and puts the odd pixel at the
// end; VALID does not pad.
inline int ConvOutputSize(bool same, int in, int filter, int stride, int dilation) {
  const int effective = (filter - 1) * dilation + 1;
  return same ? (in + stride - 1) / stride : (in - effective + stride) / stride;
}
inline int ConvPadding(int in, int filter, int stride, int dilation, int out) {
  const int effective = (filter - 1) * dilation + 1;
  return std::max(((out - 1) * stride + effective - in) / 2, 0);
}

inline void ConvFloat(const ConvGeometry& g, const float* in, const float* w, const float* bias, float act_min,
               float act_max, float* out) {
  for (int b = 0; b < g.batch; ++b) {
    for (int oy = 0; oy < g.out_h; ++oy) {
      for (int ox = 0; ox < g.out_w; ++ox) {
        float* o = out + ((static_cast<int64_t>(b) * g.out_h + oy) * g.out_w + ox) * g.out_c;
        for (int oc = 0; oc < g.out_c; ++oc) o[oc] = bias ? bias[oc] : 0.0f;
        for (int ky = 0; ky < g.filter_h; ++ky) {
          const int iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
          if (iy < 0 || iy >= g.in_h) continue;
          for (int kx = 0; kx < g.filter_w; ++kx) {
            const int ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
            if (ix < 0 || ix >= g.in_w) continue;
            const float* x = in + ((static_cast<int64_t>(b) * g.in_h + iy) * g.in_w + ix) * g.in_c;
            for (int oc = 0; oc < g.out_c; ++oc) {
              const float* wk = w + ((static_cast<int64_t>(oc) * g.filter_h + ky) * g.filter_w + kx) * g.in_c;
              float acc = 0.0f;
              for (int ic = 0; ic < g.in_c; ++ic) acc += x[ic] * wk[ic];
              o[oc] += acc;
            }
          }
        }
        for (int oc = 0; oc < g.out_c; ++oc) o[oc] = std::min(std::max(o[oc], act_min), act_max);
      }
    }
  }
}

// In: int8/uint8/int16 activations; W: int8/uint8 weights; Acc: int32, or int64 for 16x8.
template <typename In, typename W, typename Bias, typename Acc, typename Out>
void ConvQuantized(const ConvGeometry& g, const In* in, int32_t in_zp, const W* w, int32_t w_zp, const Bias* bias,
                   const OutputStage& stage, Out* out) {
  DispatchRounding(stage.rounding, [&](auto rounding) {
    std::vector<Acc> acc(g.out_c);
    std::vector<int32_t> centered(g.in_c);
    for (int b = 0; b < g.batch; ++b) {
      for (int oy = 0; oy < g.out_h; ++oy) {
        for (int ox = 0; ox < g.out_w; ++ox) {
          for (int oc = 0; oc < g.out_c; ++oc) acc[oc] = bias ? static_cast<Acc>(bias[oc]) : 0;
          for (int ky = 0; ky < g.filter_h; ++ky) {
            const int iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
            if (iy < 0 || iy >= g.in_h) continue;
            for (int kx = 0; kx < g.filter_w; ++kx) {
              const int ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
              if (ix < 0 || ix >= g.in_w) continue;
              const In* x = in + ((static_cast<int64_t>(b) * g.in_h + iy) * g.in_w + ix) * g.in_c;
              for (int ic = 0; ic < g.in_c; ++ic) centered[ic] = x[ic] - in_zp;
              for (int oc = 0; oc < g.out_c; ++oc) {
                const W* wk = w + ((static_cast<int64_t>(oc) * g.filter_h + ky) * g.filter_w + kx) * g.in_c;
                Acc sum = 0;
                for (int ic = 0; ic < g.in_c; ++ic) sum += static_cast<Acc>(centered[ic] * (wk[ic] - w_zp));
                acc[oc] += sum;
              }
            }
          }
          Out* o = out + ((static_cast<int64_t>(b) * g.out_h + oy) * g.out_w + ox) * g.out_c;
          for (int oc = 0; oc < g.out_c; ++oc) {
            o[oc] = static_cast<Out>(stage.Apply<decltype(rounding)::value>(acc[oc], oc));
          }
        }
      }
    }
  });
}

inline void DepthwiseConvFloat(const ConvGeometry& g, const float* in, const float* w, const float* bias,
                               float act_min, float act_max, float* out) {
  std::vector<float> acc(g.out_c);
  for (int b = 0; b < g.batch; ++b) {
    for (int oy = 0; oy < g.out_h; ++oy) {
      for (int ox = 0; ox < g.out_w; ++ox) {
        for (int oc = 0; oc < g.out_c; ++oc) acc[oc] = bias ? bias[oc] : 0.0f;
        for (int ky = 0; ky < g.filter_h; ++ky) {
          const int iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
          if (iy < 0 || iy >= g.in_h) continue;
          for (int kx = 0; kx < g.filter_w; ++kx) {
            const int ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
            if (ix < 0 || ix >= g.in_w) continue;
            const float* x = in + ((static_cast<int64_t>(b) * g.in_h + iy) * g.in_w + ix) * g.in_c;
            const float* wk = w + (static_cast<int64_t>(ky) * g.filter_w + kx) * g.out_c;
            for (int oc = 0; oc < g.out_c; ++oc) acc[oc] += x[oc / g.depth_multiplier] * wk[oc];
          }
        }
        float* o = out + ((static_cast<int64_t>(b) * g.out_h + oy) * g.out_w + ox) * g.out_c;
        for (int oc = 0; oc < g.out_c; ++oc) o[oc] = std::min(std::max(acc[oc], act_min), act_max);
      }
    }
  }
}

template <typename In, typename W, typename Bias, typename Acc, typename Out>
void DepthwiseConvQuantized(const ConvGeometry& g, const In* in, int32_t in_zp, const W* w, int32_t w_zp,
                            const Bias* bias, const OutputStage& stage, Out* out) {
  DispatchRounding(stage.rounding, [&](auto rounding) {
    std::vector<Acc> acc(g.out_c);
    for (int b = 0; b < g.batch; ++b) {
      for (int oy = 0; oy < g.out_h; ++oy) {
        for (int ox = 0; ox < g.out_w; ++ox) {
          for (int oc = 0; oc < g.out_c; ++oc) acc[oc] = bias ? static_cast<Acc>(bias[oc]) : 0;
          for (int ky = 0; ky < g.filter_h; ++ky) {
            const int iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
            if (iy < 0 || iy >= g.in_h) continue;
            for (int kx = 0; kx < g.filter_w; ++kx) {
              const int ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
              if (ix < 0 || ix >= g.in_w) continue;
              const In* x = in + ((static_cast<int64_t>(b) * g.in_h + iy) * g.in_w + ix) * g.in_c;
              const W* wk = w + (static_cast<int64_t>(ky) * g.filter_w + kx) * g.out_c;
              if (g.depth_multiplier == 1) {
                for (int oc = 0; oc < g.out_c; ++oc) {
                  acc[oc] += static_cast<Acc>((x[oc] - in_zp) * (wk[oc] - w_zp));
                }
              } else {
                for (int oc = 0; oc < g.out_c; ++oc) {
                  acc[oc] += static_cast<Acc>((x[oc / g.depth_multiplier] - in_zp) * (wk[oc] - w_zp));
                }
              }
            }
          }
          Out* o = out + ((static_cast<int64_t>(b) * g.out_h + oy) * g.out_w + ox) * g.out_c;
          for (int oc = 0; oc < g.out_c; ++oc) {
            o[oc] = static_cast<Out>(stage.Apply<decltype(rounding)::value>(acc[oc], oc));
          }
        }
      }
    }
  });
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_CONV_H_
