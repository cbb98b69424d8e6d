// QUANTIZE and DEQUANTIZE: float -> integer, integer -> float, and integer -> integer
// requantization, with the rounding each runtime uses. Also the fixed-point multiply that
// the other elementwise kernels (activations, MUL, MEAN) share.
#ifndef QAUDIT_SRC_KERNELS_QUANTIZE_H_
#define QAUDIT_SRC_KERNELS_QUANTIZE_H_

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "kernels/output_stage.h"
#include "kernels/requantize.h"

namespace qaudit::kernels {

template <typename T>
inline constexpr int32_t kQMin = std::numeric_limits<T>::min();
template <typename T>
inline constexpr int32_t kQMax = std::numeric_limits<T>::max();

template <typename T>
inline T ClampTo(int32_t v) {
  return static_cast<T>(std::min(std::max(v, kQMin<T>), kQMax<T>));
}

// TFLite's MultiplyByQuantizedMultiplier: kDouble (SaturatingRoundingDoublingHighMul,
// then RoundingDivideByPOT), kSingle (TFLITE_SINGLE_ROUNDING), or kInt64, the overload for
// int64 arguments, which first reduces the multiplier to 16 bits.
inline int32_t ApplyMultiplier(int32_t x, QuantizedMultiplier m, Rounding r) {
  switch (r) {
    case Rounding::kSingle: return MultiplyByQuantizedMultiplierSingleRounding(x, m);
    case Rounding::kInt64: return MultiplyByQuantizedMultiplier64(x, m);
    default: return MultiplyByQuantizedMultiplierDoubleRounding(x, m);
  }
}

// What a C++ float -> int32 cast yields for values outside int32 (and NaN) on x86 and
// in TFLite's WebAssembly build: the "integer indefinite" INT32_MIN. TFLite's quantize
// kernels cast before they clamp, so +inf quantizes to the type's minimum.
inline int32_t CastToInt32LikeTflite(double v) {
  if (!(v > -2147483649.0 && v < 2147483648.0)) return std::numeric_limits<int32_t>::min();
  return static_cast<int32_t>(v);
}

// Adds a zero point with int32 wrap-around, as the unchecked C++ addition does.
inline int32_t WrappingAdd(int32_t a, int32_t b) {
  return static_cast<int32_t>(static_cast<uint32_t>(a) + static_cast<uint32_t>(b));
}

// How float -> integer quantization divides and rounds.
enum class QuantizeRule {
  kFloatDivide,   // reference_ops::AffineQuantize: round(x / scale) in float, ties away from zero
  kDoubleDivide,  // optimized_ops::AffineQuantize: round(x / double(scale)), ties away from zero
  kXnnpack,       // XNNPACK f32 -> qs8/qu8: x * (1 / scale) in float, clamp (NaN to max), ties to even
};

template <typename T>
void QuantizeFloat(const float* x, int64_t n, float scale, int32_t zero_point, QuantizeRule rule, T* q) {
  if (rule == QuantizeRule::kXnnpack) {
    // XNNPACK clamps before rounding, so out-of-range values and infinities saturate.
    const float inv_scale = 1.0f / scale;
    const float lo = static_cast<float>(kQMin<T> - zero_point);
    const float hi = static_cast<float>(kQMax<T> - zero_point);
    for (int64_t i = 0; i < n; ++i) {
      float v = x[i] * inv_scale;
      v = std::isnan(v) ? hi : std::min(std::max(v, lo), hi);  // XNNPACK's clamp maps NaN to the top
      q[i] = static_cast<T>(static_cast<int32_t>(std::nearbyintf(v)) + zero_point);
    }
    return;
  }
  for (int64_t i = 0; i < n; ++i) {
    const double rounded = rule == QuantizeRule::kFloatDivide
                               ? static_cast<double>(std::round(x[i] / scale))
                               : std::round(static_cast<double>(x[i]) / static_cast<double>(scale));
    q[i] = ClampTo<T>(WrappingAdd(CastToInt32LikeTflite(rounded), zero_point));
  }
}

// (q - zero_point) * scale, computed in double and rounded to float once; XNNPACK's float
// product rounds the same exact value once, so every runtime agrees.
template <typename T>
void Dequantize(const T* q, int64_t n, float scale, int32_t zero_point, float* x) {
  for (int64_t i = 0; i < n; ++i) {
    x[i] = static_cast<float>(static_cast<double>(scale) * (static_cast<int32_t>(q[i]) - zero_point));
  }
}

// Per-axis parameters along the middle dimension of an [outer, axis, inner] view. TFLite
// multiplies in float here (reference_ops::PerChannelDequantize), not in double.
template <typename T>
void DequantizePerAxis(const T* q, int64_t outer, int64_t axis, int64_t inner, const float* scales,
                       const int64_t* zero_points, float* x) {
  for (int64_t o = 0; o < outer; ++o) {
    for (int64_t a = 0; a < axis; ++a) {
      const int64_t base = (o * axis + a) * inner;
      const float scale = scales[a];
      const int32_t zp = static_cast<int32_t>(zero_points[a]);
      for (int64_t i = 0; i < inner; ++i) {
        x[base + i] = scale * static_cast<float>(static_cast<int32_t>(q[base + i]) - zp);
      }
    }
  }
}

// IEEE binary16 -> binary32; exact, so every runtime agrees.
inline float HalfToFloat(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1Fu;
  uint32_t mantissa = h & 0x3FFu;
  uint32_t bits;
  if (exponent == 0x1F) {
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {
    // Subnormal half: normalise into a float exponent.
    int e = 113;
    while ((mantissa & 0x400u) == 0) {
      mantissa <<= 1;
      --e;
    }
    bits = sign | (static_cast<uint32_t>(e) << 23) | ((mantissa & 0x3FFu) << 13);
  }
  float f;
  std::memcpy(&f, &bits, sizeof(f));
  return f;
}

inline void DequantizeHalf(const uint16_t* h, int64_t n, float* x) {
  for (int64_t i = 0; i < n; ++i) x[i] = HalfToFloat(h[i]);
}

// IEEE binary16 nearest to x, ties to even (as numpy's astype(float16)); overflow gives
// infinity, NaN stays NaN.
inline uint16_t FloatToHalf(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, 4);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  const uint32_t abs = bits & 0x7fffffffu;
  if (abs > 0x7f800000u) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
  if (abs >= 0x477ff000u) return static_cast<uint16_t>(sign | 0x7c00u);  // rounds past 65504
  if (abs < 0x38800000u) {
    // Subnormal half (or zero): the value in units of 2^-24, rounded to even.
    float magnitude;
    std::memcpy(&magnitude, &abs, 4);
    return static_cast<uint16_t>(sign | static_cast<uint16_t>(std::nearbyint(magnitude * 0x1.0p24f)));
  }
  // Normal: rebias the exponent, then round the 13 dropped mantissa bits to even.
  const uint32_t rebased = abs - ((127u - 15u) << 23);
  const uint32_t dropped = rebased & 0x1fffu;
  uint32_t half = rebased >> 13;
  if (dropped > 0x1000u || (dropped == 0x1000u && (half & 1u))) ++half;
  return static_cast<uint16_t>(sign | half);
}

// TFLite's requantization (reference_ops::Requantize): (q - in_zp) * M, rounded by the
// build's rule, plus out_zp, saturated. The int8 <-> uint8 "xor 0x80" fast path in TFLite
// gives the same bits, as M is then exactly 1.
template <typename In, typename Out>
void Requantize(const In* q, int64_t n, int32_t in_zp, QuantizedMultiplier m, Rounding r, int32_t out_zp, Out* out) {
  for (int64_t i = 0; i < n; ++i) {
    out[i] = ClampTo<Out>(ApplyMultiplier(static_cast<int32_t>(q[i]) - in_zp, m, r) + out_zp);
  }
}

// XNNPACK's qs8 -> qs8 and qu8 -> qu8 convert: in_scale / out_scale as a Q8 multiplier
// (lrintf(256 * ratio)), then one arithmetic shift by 8 whose bias 0x80 rounds ties up.
struct XnnpackRequantParams {
  int32_t input_zero_point = 0;
  int32_t output_zero_point = 0;
  int32_t multiplier = 0;

  // The ratios XNNPACK's convert accepts; outside them the node stays on TFLite's kernel.
  static bool Supported(float in_scale, float out_scale) {
    const float ratio = in_scale / out_scale;
    return ratio >= 0x1.0p-8f && ratio <= 0x1.0p+7f;
  }
  static XnnpackRequantParams Make(float in_scale, int32_t in_zp, float out_scale, int32_t out_zp) {
    return {in_zp, out_zp, static_cast<int32_t>(std::lrintf(256.0f * (in_scale / out_scale)))};
  }
};

template <typename T>
void RequantizeXnnpack(const T* q, int64_t n, const XnnpackRequantParams& p, T* out) {
  const int32_t bias = (p.output_zero_point << 8) + 0x80;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t acc = bias + (static_cast<int32_t>(q[i]) - p.input_zero_point) * p.multiplier;
    out[i] = ClampTo<T>(acc >> 8);
  }
}

// An 8-bit -> 8-bit map as a 256-entry table indexed by the input's byte and holding the
// output's byte: `map(in, n, out)` (a requantization kernel) run once on every value, so a
// byte lookup (LookUpBytesAvx512 or a plain loop) serves every pair of 8-bit types.
template <typename In, typename Out, typename Map>
std::array<uint8_t, 256> ByteTable(Map map) {
  static_assert(sizeof(In) == 1 && sizeof(Out) == 1);
  std::array<In, 256> every_value;
  for (int i = 0; i < 256; ++i) every_value[i] = static_cast<In>(i);
  std::array<Out, 256> results;
  map(every_value.data(), 256, results.data());
  std::array<uint8_t, 256> table;
  std::memcpy(table.data(), results.data(), table.size());
  return table;
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_QUANTIZE_H_
