// ADD and SUB. Quantized inputs are brought to a common scale before adding: each input,
// centred and shifted left by `left_shift` bits for headroom, is multiplied by
// s_i / (2 * max(s_a, s_b)); the sum is multiplied by 2 * max(s_a, s_b) / (2^left_shift * s_out).
// Every multiplication rounds twice (SRDHM, then RoundingDivideByPOT), as TFLite does.
// int16 with power-of-two scales (pot_scale_int16) has its own path: AddPot16 below.
#ifndef QAUDIT_SRC_KERNELS_ADD_H_
#define QAUDIT_SRC_KERNELS_ADD_H_

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>

#include "kernels/broadcast.h"
#include "kernels/requantize.h"

namespace qaudit::kernels {

inline void AddFloat(const BroadcastPlan& p, const float* a, const float* b, bool subtract, float act_min,
                     float act_max, float* out) {
  ForEachBroadcast(p, [&](int64_t o, int64_t i, int64_t j) {
    const float v = subtract ? a[i] - b[j] : a[i] + b[j];
    out[o] = std::min(std::max(v, act_min), act_max);
  });
}

struct QuantizedAddParams {
  bool subtract = false;
  int left_shift = 20;  // 20 for 8-bit, 15 for int16
  int32_t a_zero_point = 0, b_zero_point = 0, out_zero_point = 0;
  QuantizedMultiplier a_multiplier, b_multiplier, out_multiplier;
  int32_t act_min = 0, act_max = 0;
};

inline QuantizedAddParams MakeQuantizedAddParams(bool subtract, int left_shift, double a_scale, int32_t a_zp,
                                                 double b_scale, int32_t b_zp, double out_scale, int32_t out_zp,
                                                 int32_t act_min, int32_t act_max) {
  QuantizedAddParams p;
  p.subtract = subtract;
  p.left_shift = left_shift;
  p.a_zero_point = a_zp, p.b_zero_point = b_zp, p.out_zero_point = out_zp;
  const double twice_max = 2 * std::max(a_scale, b_scale);
  p.a_multiplier = QuantizeMultiplier(a_scale / twice_max);
  p.b_multiplier = QuantizeMultiplier(b_scale / twice_max);
  p.out_multiplier = QuantizeMultiplier(twice_max / ((1 << left_shift) * out_scale));
  p.act_min = act_min, p.act_max = act_max;
  return p;
}

// One input brought to the common scale; it depends on that input's value alone.
inline int32_t RescaleAddInput(int32_t q, int32_t zero_point, int left_shift, QuantizedMultiplier m) {
  return MultiplyByQuantizedMultiplierDoubleRounding((q - zero_point) * (1 << left_shift), m);
}

template <typename T>
void AddQuantized(const BroadcastPlan& plan, const T* a, const T* b, const QuantizedAddParams& p, T* out) {
  ForEachBroadcast(plan, [&](int64_t o, int64_t i, int64_t j) {
    const int32_t a_scaled = RescaleAddInput(a[i], p.a_zero_point, p.left_shift, p.a_multiplier);
    const int32_t b_scaled = RescaleAddInput(b[j], p.b_zero_point, p.left_shift, p.b_multiplier);
    const int32_t sum = p.subtract ? a_scaled - b_scaled : a_scaled + b_scaled;
    const int32_t v = WrapAdd(MultiplyByQuantizedMultiplierDoubleRounding(sum, p.out_multiplier), p.out_zero_point);
    out[o] = static_cast<T>(std::min(std::max(v, p.act_min), p.act_max));
  });
}

// XNNPACK's quantized ADD (and SUB, as ADD with the second scale negated), as TFLite's
// XNNPACK delegate runs it: ~20-bit multipliers derived from the float scale ratios, one
// integer multiply-add of the raw (uncentred) inputs, one arithmetic right shift whose
// rounding term 2^(shift-1) is folded into a bias (so ties round toward +infinity).
struct XnnpackAddParams {
  int32_t a_multiplier = 0, b_multiplier = 0, bias = 0;
  uint32_t shift = 0;
  int32_t out_min_less_zp = 0, out_max_less_zp = 0, out_zero_point = 0;
};

inline uint32_t FloatBits(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  return u;
}
inline float BitsFloat(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// act_min/act_max: XNNPACK's activation range (zero point included). The ratios
// a_scale / out_scale and b_scale / out_scale must lie in [2^-10, 2^8) (the delegate
// refuses the node otherwise).
inline XnnpackAddParams MakeXnnpackAddParams(bool subtract, float a_scale, int32_t a_zp, float b_scale, int32_t b_zp,
                                             float out_scale, int32_t out_zp, int32_t act_min, int32_t act_max) {
  const float a_output_scale = a_scale / out_scale;
  const float b_output_scale = (subtract ? -b_scale : b_scale) / out_scale;
  const float max_abs = std::max(std::fabs(a_output_scale), std::fabs(b_output_scale));
  const int32_t max_exponent = static_cast<int32_t>(FloatBits(max_abs) >> 23) - 127;
  XnnpackAddParams p;
  p.shift = static_cast<uint32_t>(20 - max_exponent);  // in [12, 30]
  // Multipliers: the ratios times 2^shift (exponent arithmetic on the float bits), rounded to even.
  p.a_multiplier = static_cast<int32_t>(std::lrintf(BitsFloat(FloatBits(a_output_scale) + (p.shift << 23))));
  p.b_multiplier = static_cast<int32_t>(std::lrintf(BitsFloat(FloatBits(b_output_scale) + (p.shift << 23))));
  p.bias = (int32_t{1} << (p.shift - 1)) - p.a_multiplier * a_zp - p.b_multiplier * b_zp;
  p.out_min_less_zp = act_min - out_zp;
  p.out_max_less_zp = act_max - out_zp;
  p.out_zero_point = out_zp;
  return p;
}

template <typename T>
void AddQuantizedXnnpack(const BroadcastPlan& plan, const T* a, const T* b, const XnnpackAddParams& p, T* out) {
  ForEachBroadcast(plan, [&](int64_t o, int64_t i, int64_t j) {
    const int32_t acc = p.bias + static_cast<int32_t>(a[i]) * p.a_multiplier + static_cast<int32_t>(b[j]) * p.b_multiplier;
    int32_t v = acc >> p.shift;  // arithmetic shift: floor
    v = std::min(std::max(v, p.out_min_less_zp), p.out_max_less_zp);
    out[o] = static_cast<T>(v + p.out_zero_point);
  });
}

// ---- int16 with power-of-two scales (TFLite's pot_scale_int16 path, made for LSTM cells).

// TFLite's test for a power-of-two scale: log2(x), computed in float as log(x) / log(2),
// within 1e-3 of an integer, which it stores in *log2 (rounded half away from zero).
inline bool CheckedLog2(float x, int* log2) {
  const float l = std::log(x) * (1.0f / std::log(2.0f));
  const float rounded = std::round(l);
  *log2 = static_cast<int>(rounded);
  return std::fabs(l - rounded) < 1e-3f;
}

// gemmlowp's RoundingDivideByPOT instantiated for int16_t, as TFLite's element-wise int16
// kernels call it. Up to exponent 15 it equals the int32 one; from 16 on its mask
// (2^e - 1 stored in int16) wraps to all ones, so x >= 0 gives 1 and x < 0 gives -1.
inline int32_t RoundingDivideByPOTInt16(int16_t x, int exponent) {
  if (exponent <= 15) return RoundingDivideByPOT(x, exponent);
  return x >= 0 ? 1 : -1;
}

// Zero points are 0 and scales 2^k. The input whose scale is below the output's is divided
// by 2^shift, rounded half away from zero; the other (shift 0) is already in output units.
// The sum or difference is clamped to the activation range (TFLite saturates to int16
// first, which the clamp subsumes).
struct Pot16AddParams {
  bool subtract = false;
  int a_shift = 0, b_shift = 0;  // right shifts, in [0, 31]; at least one is 0
  // TFLite's element-wise kernels round with the int16 RoundingDivideByPOT; its
  // broadcasting SUB with the int32 one (they differ only for shifts >= 16).
  bool int16_rounding = true;
  int32_t act_min = -32768, act_max = 32767;
};

inline void AddPot16(const BroadcastPlan& plan, const int16_t* a, const int16_t* b, const Pot16AddParams& p,
                     int16_t* out) {
  auto rescale = [&](int16_t x, int shift) {
    return p.int16_rounding ? RoundingDivideByPOTInt16(x, shift) : RoundingDivideByPOT(x, shift);
  };
  ForEachBroadcast(plan, [&](int64_t o, int64_t i, int64_t j) {
    const int32_t x = rescale(a[i], p.a_shift), y = rescale(b[j], p.b_shift);
    const int32_t v = p.subtract ? x - y : x + y;
    out[o] = static_cast<int16_t>(std::min(std::max(v, p.act_min), p.act_max));
  });
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_ADD_H_
