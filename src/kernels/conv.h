// CONV_2D and DEPTHWISE_CONV_2D over NHWC tensors, float and quantized.
//
// Quantized: acc = bias[c] + sum over taps of (w - weight_zero_point) * (x - input_zero_point),
// then the output stage. Taps in the padding contribute nothing, the same as padding with
// real zero. CONV_2D gathers each output pixel's window into a patch (zeros where it hangs
// over the border) and takes one dot product per output channel with the weights, which
// Prepare has laid out as [out_c][filter_h * filter_w * in_c] with the zero point removed.
#ifndef QAUDIT_SRC_KERNELS_CONV_H_
#define QAUDIT_SRC_KERNELS_CONV_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/dot.h"
#include "kernels/output_stage.h"

namespace qaudit::kernels {

struct ConvGeometry {
  int batch, in_h, in_w, in_c;
  int out_h, out_w, out_c;
  int filter_h, filter_w;
  int stride_h, stride_w, dilation_h, dilation_w;
  int pad_top, pad_left;
  int depth_multiplier;  // depthwise only
  int patch_size() const { return filter_h * filter_w * in_c; }
};

// TFLite's rule: SAME pads so that out = ceil(in / stride) and puts the odd pixel at the
// end; VALID does not pad.
// Computed in 64 bits: strides, dilations and filter sizes come from the file and their
// products overflow int. Callers narrow the result only after ComputeWindowAxis approved it.
inline int64_t ConvOutputSize(bool same, int64_t in, int64_t filter, int64_t stride, int64_t dilation) {
  const int64_t effective = (filter - 1) * dilation + 1;
  return same ? (in + stride - 1) / stride : (in - effective + stride) / stride;
}
inline int64_t ConvPadding(int64_t in, int64_t filter, int64_t stride, int64_t dilation, int64_t out) {
  const int64_t effective = (filter - 1) * dilation + 1;
  return std::max<int64_t>(((out - 1) * stride + effective - in) / 2, 0);
}

// One spatial axis of a windowed op: its output size and the padding before it.
struct WindowAxis {
  int out = 0;
  int pad = 0;
};
// Returns false when the filter is empty, the output size would be negative, or the window
// positions the kernels index in int, (out - 1) * stride - pad + (filter - 1) * dilation,
// do not fit in int.
inline bool ComputeWindowAxis(bool same, int in, int filter, int stride, int dilation, WindowAxis* axis) {
  if (in < 0 || filter < 1 || stride < 1 || dilation < 1) return false;
  const int64_t effective = (int64_t{filter} - 1) * dilation + 1;
  const int64_t out = ConvOutputSize(same, in, filter, stride, dilation);
  if (out < 0) return false;
  const int64_t pad = same ? ConvPadding(in, filter, stride, dilation, out) : 0;
  const int64_t last = (out > 0 ? (out - 1) * stride : 0) + effective;
  if (last > std::numeric_limits<int>::max() || pad > std::numeric_limits<int>::max()) return false;
  axis->out = static_cast<int>(out);
  axis->pad = static_cast<int>(pad);
  return true;
}

// Calls fn(ky, kx, offset) for each tap of output pixel (b, oy, ox) that falls inside the
// image, ky then kx (the order every kernel sums in), `offset` being the tap's pixel in the
// NHWC input, in elements.
template <typename Fn>
void ForEachInsideTap(const ConvGeometry& g, int b, int oy, int ox, Fn&& fn) {
  for (int ky = 0; ky < g.filter_h; ++ky) {
    const int iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
    if (iy < 0 || iy >= g.in_h) continue;
    for (int kx = 0; kx < g.filter_w; ++kx) {
      const int ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
      if (ix < 0 || ix >= g.in_w) continue;
      fn(ky, kx, ((static_cast<int64_t>(b) * g.in_h + iy) * g.in_w + ix) * g.in_c);
    }
  }
}

// Copies the window of output pixel (b, oy, ox) into `patch` ([fh][fw][in_c]) through
// `convert`, writing `zero` for taps outside the image.
template <typename In, typename P, typename Convert>
void GatherPatch(const ConvGeometry& g, const In* in, int b, int oy, int ox, P zero, Convert convert, P* patch) {
  for (int ky = 0; ky < g.filter_h; ++ky) {
    const int iy = oy * g.stride_h - g.pad_top + ky * g.dilation_h;
    for (int kx = 0; kx < g.filter_w; ++kx, patch += g.in_c) {
      const int ix = ox * g.stride_w - g.pad_left + kx * g.dilation_w;
      if (iy < 0 || iy >= g.in_h || ix < 0 || ix >= g.in_w) {
        std::fill(patch, patch + g.in_c, zero);
        continue;
      }
      const In* x = in + ((static_cast<int64_t>(b) * g.in_h + iy) * g.in_w + ix) * g.in_c;
      for (int ic = 0; ic < g.in_c; ++ic) patch[ic] = convert(x[ic]);
    }
  }
}

// The image of sample b with its padding written out (`zero` there, `convert`ed values
// inside), so that the fast paths gather patches without bounds checks: row y, column x of
// the padded image is image pixel (y - pad_top, x - pad_left). Returns false, leaving the
// callers to GatherPatch, when the padding is far larger than the image (XNNPACK's wrapped
// SAME padding puts every tap outside).
template <typename T>
struct PaddedImage {
  // Spare elements after the image, so that fast paths may copy whole vectors past the end
  // of a run.
  static constexpr int kSlack = 64;
  int height = 0, width = 0;
  std::vector<T> data;  // [height][width][in_c], then kSlack
};
// The padded image's height and width (every tap of every output pixel inside it); false
// when that is far larger than the image.
inline bool PaddedImageSize(const ConvGeometry& g, int64_t* height, int64_t* width) {
  const int64_t last_y = int64_t{g.out_h - 1} * g.stride_h + int64_t{g.filter_h - 1} * g.dilation_h;
  const int64_t last_x = int64_t{g.out_w - 1} * g.stride_w + int64_t{g.filter_w - 1} * g.dilation_w;
  *height = std::max<int64_t>(last_y + 1, g.pad_top + g.in_h);
  *width = std::max<int64_t>(last_x + 1, g.pad_left + g.in_w);
  return *height * *width <= 4 * (static_cast<int64_t>(g.in_h) + 2) * (g.in_w + 2) + 4096;
}

template <typename In, typename T, typename Convert>
bool PadImage(const ConvGeometry& g, const In* in, int b, T zero, Convert convert, PaddedImage<T>* out) {
  int64_t height = 0, width = 0;
  if (!PaddedImageSize(g, &height, &width)) return false;
  out->height = static_cast<int>(height), out->width = static_cast<int>(width);
  // Only the border is filled with `zero`: a 1x1 convolution's padded image is the image.
  out->data.resize(static_cast<size_t>(height * width) * g.in_c + PaddedImage<T>::kSlack);
  T* data = out->data.data();
  const int64_t c = g.in_c, row = g.in_w * c;  // hoisted: a char store could alias g
  const int64_t left = g.pad_left * c, right = (width - g.pad_left - g.in_w) * c;
  std::fill(data, data + g.pad_top * width * c, zero);
  for (int y = 0; y < g.in_h; ++y) {
    const In* src = in + (static_cast<int64_t>(b) * g.in_h + y) * row;
    T* dst = data + (y + g.pad_top) * width * c;
    std::fill(dst, dst + left, zero);
    for (int64_t i = 0; i < row; ++i) dst[left + i] = convert(src[i]);
    std::fill(dst + left + row, dst + left + row + right, zero);
  }
  std::fill(data + (g.pad_top + g.in_h) * width * c, data + out->data.size(), zero);
  return true;
}

// The patch of output pixel (oy, ox) from a padded image: filter_h runs of filter_w * in_c
// values when the filter is not dilated along x (one `copy(src, n, dst)` each), else one run
// of in_c per tap.
template <typename T, typename Copy>
void PatchFromPadded(const ConvGeometry& g, const PaddedImage<T>& image, int oy, int ox, Copy copy, T* patch) {
  // Locals: a char patch could alias g and would make the loop reload every field.
  const int in_c = g.in_c, filter_h = g.filter_h, filter_w = g.filter_w, dilation_w = g.dilation_w;
  const int64_t row_stride = static_cast<int64_t>(image.width) * in_c * g.dilation_h;
  const T* row = image.data.data() + (static_cast<int64_t>(oy) * g.stride_h * image.width + ox * g.stride_w) * in_c;
  if (dilation_w == 1) {
    for (int ky = 0; ky < filter_h; ++ky, row += row_stride, patch += filter_w * in_c) {
      copy(row, filter_w * in_c, patch);
    }
    return;
  }
  for (int ky = 0; ky < filter_h; ++ky, row += row_stride) {
    for (int kx = 0; kx < filter_w; ++kx, patch += in_c) {
      copy(row + static_cast<int64_t>(kx) * dilation_w * in_c, in_c, patch);
    }
  }
}

// Short patches (a first layer's 3x3x1) make poor dot products; for them the weights are
// transposed to [patch_size][out_c] and each output pixel is accumulated across all output
// channels at once. Both orders give the same integers; floats differ by summation order.
inline constexpr int kShortPatch = 64;

template <typename T>
std::vector<T> Transposed(const T* w, int rows, int cols) {
  std::vector<T> t(static_cast<size_t>(rows) * cols);
  for (int r = 0; r < rows; ++r) {
    for (int c = 0; c < cols; ++c) t[static_cast<size_t>(c) * rows + r] = w[static_cast<size_t>(r) * cols + c];
  }
  return t;
}

// Weights are OHWI, i.e. already [out_c][patch_size].
inline void ConvFloat(const ConvGeometry& g, const float* in, const float* w, const float* bias, float act_min,
                      float act_max, float* out) {
  const int k = g.patch_size();
  std::vector<float> patch(k);
  const std::vector<float> wt = k < kShortPatch ? Transposed(w, g.out_c, k) : std::vector<float>();
  for (int b = 0; b < g.batch; ++b) {
    for (int oy = 0; oy < g.out_h; ++oy) {
      for (int ox = 0; ox < g.out_w; ++ox) {
        GatherPatch(g, in, b, oy, ox, 0.0f, [](float v) { return v; }, patch.data());
        float* o = out + ((static_cast<int64_t>(b) * g.out_h + oy) * g.out_w + ox) * g.out_c;
        if (k < kShortPatch) {
          for (int oc = 0; oc < g.out_c; ++oc) o[oc] = bias ? bias[oc] : 0.0f;
          for (int i = 0; i < k; ++i) {
            const float* wi = wt.data() + static_cast<int64_t>(i) * g.out_c;
            for (int oc = 0; oc < g.out_c; ++oc) o[oc] += patch[i] * wi[oc];
          }
          for (int oc = 0; oc < g.out_c; ++oc) o[oc] = std::min(std::max(o[oc], act_min), act_max);
          continue;
        }
        for (int oc = 0; oc < g.out_c; ++oc) {
          const float v = DotFloat(patch.data(), w + static_cast<int64_t>(oc) * k, k) + (bias ? bias[oc] : 0.0f);
          o[oc] = std::min(std::max(v, act_min), act_max);
        }
      }
    }
  }
}

// `w16` holds the weights minus their zero point as int16, [out_c][patch_size]. Acc is
// int32 for 8-bit inputs and int64 for 16x8.
template <typename In, typename Bias, typename Acc, typename Out>
void ConvQuantized(const ConvGeometry& g, const In* in, int32_t in_zp, const int16_t* w16, const Bias* bias,
                   const OutputStage& stage, Out* out) {
  DispatchRounding(stage.rounding, [&](auto rounding) {
    const int k = g.patch_size();
    std::vector<int16_t> patch(k);
    const bool short_patch = k < kShortPatch;
    const std::vector<int16_t> wt = short_patch ? Transposed(w16, g.out_c, k) : std::vector<int16_t>();
    std::vector<Acc> acc(g.out_c);
    for (int b = 0; b < g.batch; ++b) {
      for (int oy = 0; oy < g.out_h; ++oy) {
        for (int ox = 0; ox < g.out_w; ++ox) {
          GatherPatch(g, in, b, oy, ox, int16_t{0}, [&](In v) { return static_cast<int16_t>(v - in_zp); },
                      patch.data());
          if (short_patch) {
            for (int oc = 0; oc < g.out_c; ++oc) acc[oc] = 0;
            for (int i = 0; i < k; ++i) {
              const int16_t* wi = wt.data() + static_cast<int64_t>(i) * g.out_c;
              for (int oc = 0; oc < g.out_c; ++oc) acc[oc] = WrapAdd(acc[oc], static_cast<Acc>(static_cast<int32_t>(patch[i]) * wi[oc]));
            }
          } else {
            for (int oc = 0; oc < g.out_c; ++oc) {
              const int16_t* wk = w16 + static_cast<int64_t>(oc) * k;
              acc[oc] = sizeof(Acc) == 8 ? DotInt16Wide(patch.data(), wk, k) : DotInt16(patch.data(), wk, k);
            }
          }
          if (bias) {
            for (int oc = 0; oc < g.out_c; ++oc) acc[oc] = WrapAdd(acc[oc], static_cast<Acc>(bias[oc]));
          }
          Out* o = out + ((static_cast<int64_t>(b) * g.out_h + oy) * g.out_w + ox) * g.out_c;
          stage.ApplyRow<decltype(rounding)::value>(acc.data(), g.out_c, o);
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
        ForEachInsideTap(g, b, oy, ox, [&](int ky, int kx, int64_t offset) {
          const float* x = in + offset;
          const float* wk = w + (static_cast<int64_t>(ky) * g.filter_w + kx) * g.out_c;
          for (int oc = 0; oc < g.out_c; ++oc) acc[oc] += x[oc / g.depth_multiplier] * wk[oc];
        });
        float* o = out + ((static_cast<int64_t>(b) * g.out_h + oy) * g.out_w + ox) * g.out_c;
        for (int oc = 0; oc < g.out_c; ++oc) o[oc] = std::min(std::max(acc[oc], act_min), act_max);
      }
    }
  }
}

// `w16` holds the 1HWC weights minus their zero point as int16, [filter_h][filter_w][out_c].
template <typename In, typename Bias, typename Acc, typename Out>
void DepthwiseConvQuantized(const ConvGeometry& g, const In* in, int32_t in_zp, const int16_t* w16, const Bias* bias,
                            const OutputStage& stage, Out* out) {
  DispatchRounding(stage.rounding, [&](auto rounding) {
    std::vector<Acc> acc(g.out_c);
    std::vector<int16_t> x16(g.out_c);  // the input channel each output channel reads, centred
    for (int b = 0; b < g.batch; ++b) {
      for (int oy = 0; oy < g.out_h; ++oy) {
        for (int ox = 0; ox < g.out_w; ++ox) {
          for (int oc = 0; oc < g.out_c; ++oc) acc[oc] = bias ? static_cast<Acc>(bias[oc]) : 0;
          ForEachInsideTap(g, b, oy, ox, [&](int ky, int kx, int64_t offset) {
            const In* x = in + offset;
            const int16_t* wk = w16 + (static_cast<int64_t>(ky) * g.filter_w + kx) * g.out_c;
            for (int oc = 0; oc < g.out_c; ++oc) x16[oc] = static_cast<int16_t>(x[oc / g.depth_multiplier] - in_zp);
            for (int oc = 0; oc < g.out_c; ++oc) acc[oc] = WrapAdd(acc[oc], static_cast<Acc>(static_cast<int32_t>(x16[oc]) * wk[oc]));
          });
          Out* o = out + ((static_cast<int64_t>(b) * g.out_h + oy) * g.out_w + ox) * g.out_c;
          stage.ApplyRow<decltype(rounding)::value>(acc.data(), g.out_c, o);
        }
      }
    }
  });
}

// Weights minus their zero point, widened to int16 once so the hot loops multiply int16s.
template <typename W>
std::vector<int16_t> CenteredWeights(const W* w, int64_t n, int32_t zero_point) {
  std::vector<int16_t> out(n);
  for (int64_t i = 0; i < n; ++i) out[i] = static_cast<int16_t>(w[i] - zero_point);
  return out;
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_CONV_H_
