// MUL with NumPy broadcasting (kernels/broadcast.h) and a fused activation clamp.
//
// Quantized: (q1 - zp1) * (q2 - zp2) is exact in int32 for 8- and 16-bit inputs; it is
// scaled by s1 * s2 / s_out either with TFLite's fixed-point multiplier or, in XNNPACK,
// in float with round-half-to-even.
#ifndef QAUDIT_SRC_KERNELS_MUL_H_
#define QAUDIT_SRC_KERNELS_MUL_H_

#include <algorithm>
#include <cstdint>

#include "kernels/broadcast.h"
#include "kernels/quantize.h"

namespace qaudit::kernels {

inline void MulFloat(const BroadcastPlan& s, const float* a, const float* b, float act_min, float act_max, float* y) {
  ForEachBroadcast(
      s, [&](int64_t o, int64_t i1, int64_t i2) { y[o] = std::min(std::max(a[i1] * b[i2], act_min), act_max); });
}

struct QuantizedMulParams {
  int32_t zero_point1 = 0, zero_point2 = 0, output_zero_point = 0;
  QuantizedMultiplier multiplier;  // s1 * s2 / s_out
  float scale = 0.0f;              // the same ratio in float, for XNNPACK
  int32_t act_min = 0, act_max = 0;
};

// TFLite (reference_integer_ops::Mul and the optimized kernels, which agree): one
// MultiplyByQuantizedMultiplier of the exact product.
template <typename T>
void QuantizedMul(const BroadcastPlan& s, const QuantizedMulParams& p, Rounding r, const T* a, const T* b, T* y) {
  ForEachBroadcast(s, [&](int64_t o, int64_t i1, int64_t i2) {
    const int32_t product =
        (static_cast<int32_t>(a[i1]) - p.zero_point1) * (static_cast<int32_t>(b[i2]) - p.zero_point2);
    const int32_t v = ApplyMultiplier(product, p.multiplier, r) + p.output_zero_point;
    y[o] = static_cast<T>(std::min(std::max(v, p.act_min), p.act_max));
  });
}

// XNNPACK's vmul: float(product) * scale, clamped to the activation range, rounded half to
// even.
template <typename T>
void QuantizedMulXnnpack(const BroadcastPlan& s, const QuantizedMulParams& p, const T* a, const T* b, T* y) {
  const float lo = static_cast<float>(p.act_min - p.output_zero_point);
  const float hi = static_cast<float>(p.act_max - p.output_zero_point);
  ForEachBroadcast(s, [&](int64_t o, int64_t i1, int64_t i2) {
    const int32_t product =
        (static_cast<int32_t>(a[i1]) - p.zero_point1) * (static_cast<int32_t>(b[i2]) - p.zero_point2);
    y[o] = static_cast<T>(RequantizeFp32(product, p.scale, lo, hi) + p.output_zero_point);
  });
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_MUL_H_
