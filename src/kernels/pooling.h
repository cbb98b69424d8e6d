// AVERAGE_POOL_2D and MAX_POOL_2D over NHWC. Only taps inside the image count: the
// average divides by the number of valid taps. Quantized pooling needs no rescaling
// because input and output share scale and zero point (TFLite's spec).
#ifndef QAUDIT_SRC_KERNELS_POOLING_H_
#define QAUDIT_SRC_KERNELS_POOLING_H_

#include <algorithm>
#include <cstdint>
#include <limits>

#include "kernels/conv.h"

namespace qaudit::kernels {

// Visits each output position with the clipped window [y0, y1) x [x0, x1).
template <typename Fn>
void ForEachPoolWindow(const ConvGeometry& g, Fn&& fn) {
  for (int b = 0; b < g.batch; ++b) {
    for (int oy = 0; oy < g.out_h; ++oy) {
      for (int ox = 0; ox < g.out_w; ++ox) {
        const int y_origin = oy * g.stride_h - g.pad_top;
        const int x_origin = ox * g.stride_w - g.pad_left;
        const int y0 = std::max(y_origin, 0), y1 = std::min(y_origin + g.filter_h, g.in_h);
        const int x0 = std::max(x_origin, 0), x1 = std::min(x_origin + g.filter_w, g.in_w);
        fn(b, oy, ox, y0, y1, x0, x1);
      }
    }
  }
}

template <typename T>
void MaxPool(const ConvGeometry& g, const T* in, T act_min, T act_max, T* out) {
  ForEachPoolWindow(g, [&](int b, int oy, int ox, int y0, int y1, int x0, int x1) {
    T* o = out + ((static_cast<int64_t>(b) * g.out_h + oy) * g.out_w + ox) * g.in_c;
    for (int c = 0; c < g.in_c; ++c) o[c] = std::numeric_limits<T>::lowest();
    for (int y = y0; y < y1; ++y) {
      for (int x = x0; x < x1; ++x) {
        const T* v = in + ((static_cast<int64_t>(b) * g.in_h + y) * g.in_w + x) * g.in_c;
        for (int c = 0; c < g.in_c; ++c) o[c] = std::max(o[c], v[c]);
      }
    }
    for (int c = 0; c < g.in_c; ++c) o[c] = std::min(std::max(o[c], act_min), act_max);
  });
}

inline void AveragePoolFloat(const ConvGeometry& g, const float* in, float act_min, float act_max, float* out) {
  ForEachPoolWindow(g, [&](int b, int oy, int ox, int y0, int y1, int x0, int x1) {
    float* o = out + ((static_cast<int64_t>(b) * g.out_h + oy) * g.out_w + ox) * g.in_c;
    const float count = static_cast<float>((y1 - y0) * (x1 - x0));
    for (int c = 0; c < g.in_c; ++c) {
      float sum = 0.0f;
      for (int y = y0; y < y1; ++y) {
        for (int x = x0; x < x1; ++x) sum += in[((static_cast<int64_t>(b) * g.in_h + y) * g.in_w + x) * g.in_c + c];
      }
      o[c] = std::min(std::max(sum / count, act_min), act_max);
    }
  });
}

// The sum divided by the tap count, rounded half away from zero.
template <typename T>
void AveragePoolQuantized(const ConvGeometry& g, const T* in, int32_t act_min, int32_t act_max, T* out) {
  ForEachPoolWindow(g, [&](int b, int oy, int ox, int y0, int y1, int x0, int x1) {
    T* o = out + ((static_cast<int64_t>(b) * g.out_h + oy) * g.out_w + ox) * g.in_c;
    const int32_t count = (y1 - y0) * (x1 - x0);
    for (int c = 0; c < g.in_c; ++c) {
      int32_t sum = 0;
      for (int y = y0; y < y1; ++y) {
        for (int x = x0; x < x1; ++x) sum += in[((static_cast<int64_t>(b) * g.in_h + y) * g.in_w + x) * g.in_c + c];
      }
      int32_t avg = sum > 0 ? (sum + count / 2) / count : (sum - count / 2) / count;
      o[c] = static_cast<T>(std::min(std::max(avg, act_min), act_max));
    }
  });
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_POOLING_H_
