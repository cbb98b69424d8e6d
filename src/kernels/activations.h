// Elementwise activations: RELU, RELU6, LEAKY_RELU, HARD_SWISH, LOGISTIC, TANH.
//
// Quantized variants exist in three families, and which one runs depends on the runtime:
//  - rescaling ones (RELU/RELU6/LEAKY_RELU): (q - in_zp) * M + out_zp, saturated;
//  - 8-bit lookup tables built once in float (TFLite's built-in LOGISTIC/TANH, XNNPACK);
//  - gemmlowp fixed-point evaluation (the reference kernels, and TFLite's int16 paths).
#ifndef QAUDIT_SRC_KERNELS_ACTIVATIONS_H_
#define QAUDIT_SRC_KERNELS_ACTIVATIONS_H_

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "fixedpoint/fixedpoint.h"
#include "kernels/quantize.h"

namespace qaudit::kernels {

// ---- float -------------------------------------------------------------------------

inline void ReluFloat(const float* x, int64_t n, float lo, float hi, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::min(std::max(x[i], lo), hi);
}

// alpha may be negative or above 1, so this is a select, not a max.
inline void LeakyReluFloat(const float* x, int64_t n, float alpha, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : x[i] * alpha;
}

// x * relu6(x + 3) / 6 in the three association orders the runtimes use (each measured
// bit-exact on 4096 random inputs).
enum class HardSwishOrder {
  kDivide,           // reference_ops: (x * relu6) / 6
  kTimesSixthLast,   // TFLite's built-in kernel: (x * relu6) * (1/6)
  kTimesSixthFirst,  // XNNPACK: (x * (1/6)) * relu6
};

inline void HardSwishFloat(const float* x, int64_t n, HardSwishOrder order, float* y) {
  constexpr float kSixth = 1.0f / 6.0f;
  for (int64_t i = 0; i < n; ++i) {
    const float relu6 = std::min(6.0f, std::max(0.0f, x[i] + 3.0f));
    switch (order) {
      case HardSwishOrder::kDivide: y[i] = x[i] * relu6 / 6.0f; break;
      case HardSwishOrder::kTimesSixthLast: y[i] = x[i] * relu6 * kSixth; break;
      case HardSwishOrder::kTimesSixthFirst: y[i] = x[i] * kSixth * relu6; break;
    }
  }
}

// reference_ops::Logistic: saturates above the point where float 1/(1+e^-x) is 1, and
// uses e^x below -9, where the two agree to float precision.
inline void LogisticFloat(const float* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    const float v = x[i];
    y[i] = v > 16.619047164916992188f ? 1.0f : v < -9.0f ? std::exp(v) : 1.0f / (1.0f + std::exp(-v));
  }
}

inline void TanhFloat(const float* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = std::tanh(x[i]);
}

// TFLite's built-in float TANH: Eigen's rational approximation (generic_fast_tanh_float,
// without FMA): odd degree-13 over even degree-6 polynomials on x clamped to +-7.9053,
// where the quotient reaches +-1; below |x| = 0.0004 it returns x itself.
inline float EigenTanh(float v) {
  const float x = std::max(std::min(v, 7.90531110763549805f), -7.90531110763549805f);
  const float x2 = x * x;
  float p = x2 * -2.76076847742355e-16f + 2.00018790482477e-13f;
  p = x2 * p + -8.60467152213735e-11f;
  p = x2 * p + 5.12229709037114e-08f;
  p = x2 * p + 1.48572235717979e-05f;
  p = x2 * p + 6.37261928875436e-04f;
  p = x2 * p + 4.89352455891786e-03f;
  p = x * p;
  float q = x2 * 1.19825839466702e-06f + 1.18534705686654e-04f;
  q = x2 * q + 2.26843463243900e-03f;
  q = x2 * q + 4.89352518554385e-03f;
  return std::abs(v) < 0.0004f ? x : p / q;
}

inline void TanhFloatEigen(const float* x, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = EigenTanh(x[i]);
}

// ---- rescaling activations ---------------------------------------------------------

// RELU / RELU6 / RELU_N1_TO_1 on quantized tensors: rescale to the output's parameters,
// then clamp to the quantized activation bounds (which include the type's range).
struct QuantizedReluParams {
  int32_t input_zero_point = 0;
  int32_t output_zero_point = 0;
  QuantizedMultiplier multiplier;
  int32_t act_min = 0, act_max = 0;
};

template <typename T>
void QuantizedRelu(const QuantizedReluParams& p, Rounding r, const T* x, int64_t n, T* y) {
  for (int64_t i = 0; i < n; ++i) {
    const int32_t v =
        p.output_zero_point + ApplyMultiplier(static_cast<int32_t>(x[i]) - p.input_zero_point, p.multiplier, r);
    y[i] = static_cast<T>(std::min(std::max(v, p.act_min), p.act_max));
  }
}

// Negative inputs use in_scale * alpha / out_scale, the rest in_scale / out_scale. Zero
// counts as non-negative.
struct QuantizedLeakyReluParams {
  int32_t input_zero_point = 0;
  int32_t output_zero_point = 0;
  QuantizedMultiplier identity;
  QuantizedMultiplier alpha;
};

template <typename T>
void QuantizedLeakyRelu(const QuantizedLeakyReluParams& p, Rounding r, const T* x, int64_t n, T* y) {
  for (int64_t i = 0; i < n; ++i) {
    const int32_t v = static_cast<int32_t>(x[i]) - p.input_zero_point;
    y[i] = ClampTo<T>(p.output_zero_point + ApplyMultiplier(v, v >= 0 ? p.identity : p.alpha, r));
  }
}

// XNNPACK's qs8/qu8 leaky ReLU: both slopes as signed Q8 multipliers (negated, as XNNPACK
// stores them) and one arithmetic shift by 8 whose bias 0x80 rounds ties up.
struct XnnpackLeakyReluParams {
  // The ratios XNNPACK's operator accepts; outside them it refuses the node.
  static bool Supported(float in_scale, float alpha, float out_scale) {
    const float positive_scale = in_scale / out_scale;
    const float negative_scale = positive_scale * alpha;
    return std::isfinite(alpha) && positive_scale >= 0x1.0p-8f && positive_scale <= 0x1.0p+7f &&
           negative_scale >= -0x1.FFFC00p+6f && negative_scale <= 0x1.0p+7f && std::abs(negative_scale) >= 0x1.0p-8f;
  }
  int32_t input_zero_point = 0;
  int32_t positive_multiplier = 0;
  int32_t negative_multiplier = 0;
  int32_t bias = 0;
  static XnnpackLeakyReluParams Make(float in_scale, int32_t in_zp, float alpha, float out_scale, int32_t out_zp) {
    const float positive_scale = in_scale / out_scale;
    const float negative_scale = positive_scale * alpha;
    XnnpackLeakyReluParams p;
    p.input_zero_point = in_zp;
    p.positive_multiplier = static_cast<int32_t>(std::lrintf(-256.0f * positive_scale));
    p.negative_multiplier = static_cast<int32_t>(std::lrintf(-256.0f * negative_scale));
    p.bias = (out_zp << 8) + 0x80;
    return p;
  }
};

template <typename T>
void XnnpackLeakyRelu(const XnnpackLeakyReluParams& p, const T* x, int64_t n, T* y) {
  for (int64_t i = 0; i < n; ++i) {
    const int32_t centered = p.input_zero_point - static_cast<int32_t>(x[i]);  // -(x - zp)
    const int32_t m = centered >= 0 ? p.negative_multiplier : p.positive_multiplier;
    y[i] = ClampTo<T>((p.bias + centered * m) >> 8);
  }
}

// ---- HARD_SWISH (TFLite's 16-bit fixed-point evaluation) --------------------------------

struct HardSwishParams {
  int32_t input_zero_point = 0;
  int32_t output_zero_point = 0;
  int16_t output_multiplier = 0;   // Q15
  int output_exponent = 0;         // <= 0; TFLite's Prepare rejects a positive one
  int16_t reluish_multiplier = 0;  // Q15
  int reluish_exponent = 0;
};

// The Q31 multiplier rounded to Q15 (+2^15, then >> 16), capped at INT16_MAX.
inline int16_t DownscaleMultiplierToInt16(int32_t m) {
  if (m >= std::numeric_limits<int32_t>::max() - (1 << 15)) return std::numeric_limits<int16_t>::max();
  return static_cast<int16_t>((m + (1 << 15)) >> 16);
}

// The scales are combined in float, as TFLite does, before QuantizeMultiplier.
inline HardSwishParams MakeHardSwishParams(float in_scale, int32_t in_zp, float out_scale, int32_t out_zp) {
  const float hires_input_scale = (1.0f / 128.0f) * in_scale;
  const float reluish_scale = 3.0f / 32768.0f;
  const QuantizedMultiplier out_m = QuantizeMultiplier(hires_input_scale / out_scale);
  const QuantizedMultiplier reluish_m = QuantizeMultiplier(hires_input_scale / reluish_scale);
  HardSwishParams p;
  p.input_zero_point = in_zp;
  p.output_zero_point = out_zp;
  p.output_multiplier = DownscaleMultiplierToInt16(out_m.multiplier);
  p.output_exponent = out_m.shift;
  p.reluish_multiplier = DownscaleMultiplierToInt16(reluish_m.multiplier);
  p.reluish_exponent = reluish_m.shift;
  return p;
}

inline int16_t SaturatingLeftShiftInt16(int16_t v, int amount) {
  const int64_t r = static_cast<int64_t>(v) * (int64_t{1} << amount);
  return static_cast<int16_t>(std::min<int64_t>(std::max<int64_t>(r, INT16_MIN), INT16_MAX));
}

// ARM SQDMULH: the doubled high half, truncated toward zero (not rounded); TFLite uses it
// for the final product to cancel the bias of the rounding multiplies before it.
inline int16_t SaturatingDoublingHighMulInt16(int16_t a, int16_t b) {
  if (a == b && a == INT16_MIN) return INT16_MAX;
  return static_cast<int16_t>((static_cast<int32_t>(a) * b) / (1 << 15));
}

// x * relu6(x + 3) / 6 with x on a 2^-7-finer input scale: the "reluish" factor maps
// [-3, 3] to [0, 1] in Q15, then multiplies x pre-scaled to the output scale.
template <typename T>
void QuantizedHardSwish(const HardSwishParams& p, const T* x, int64_t n, T* y) {
  for (int64_t i = 0; i < n; ++i) {
    const int16_t centered = static_cast<int16_t>(static_cast<int32_t>(x[i]) - p.input_zero_point);
    const int16_t hires = static_cast<int16_t>(centered * (1 << 7));
    const int16_t preshift_out = gemmlowp::SaturatingRoundingDoublingHighMul(hires, p.output_multiplier);
    int16_t reluish = hires;
    if (p.reluish_exponent > 0) reluish = SaturatingLeftShiftInt16(reluish, p.reluish_exponent - 1);
    reluish = gemmlowp::SaturatingRoundingDoublingHighMul(reluish, p.reluish_multiplier);
    if (p.reluish_exponent > 0) reluish = SaturatingLeftShiftInt16(reluish, 1);
    if (p.reluish_exponent < 0) reluish = gemmlowp::RoundingDivideByPOT(reluish, -p.reluish_exponent);
    reluish = static_cast<int16_t>((reluish + (1 << 15)) >> 1);
    const int16_t preshift = SaturatingDoublingHighMulInt16(reluish, preshift_out);
    int16_t out = gemmlowp::RoundingDivideByPOT(preshift, -p.output_exponent);
    out = static_cast<int16_t>(out + p.output_zero_point);
    y[i] = static_cast<T>(std::min<int16_t>(std::max<int16_t>(out, kQMin<T>), kQMax<T>));
  }
}

// ---- 8-bit lookup tables -------------------------------------------------------------

// Indexed by the input's bit pattern (int8 values cast to uint8).
using Lut8 = std::array<uint8_t, 256>;

// The transforms TFLite's built-in kernels tabulate, evaluated in float.
inline float TfliteSigmoid(float x) { return 1.0f / (1.0f + std::exp(-x)); }
inline float TfliteTanh(float x) { return std::tanh(x); }

// TFLite's LUTPopulate: dequantize in float, transform, multiply by the float reciprocal
// of the output scale, round half away from zero, add the zero point, saturate.
template <typename T>
Lut8 MakeTfliteLut(float in_scale, int32_t in_zp, float out_scale, int32_t out_zp, float (*f)(float)) {
  Lut8 lut{};
  const float inverse_scale = 1.0f / out_scale;
  for (int32_t v = kQMin<T>; v <= kQMax<T>; ++v) {
    const float dequantized = in_scale * static_cast<float>(v - in_zp);
    const float rescaled = std::round(f(dequantized) * inverse_scale);
    const int32_t q = CastToInt32LikeTflite(rescaled + static_cast<float>(out_zp));  // may be inf
    lut[static_cast<uint8_t>(static_cast<T>(v))] = static_cast<uint8_t>(ClampTo<T>(q));
  }
  return lut;
}

// XNNPACK evaluates the sigmoid on whichever side keeps 1 + e^t from cancelling.
inline float XnnpackSigmoid(float x) {
  return std::signbit(x) ? 1.0f / (1.0f + std::exp(-x)) : 1.0f - 1.0f / (1.0f + std::exp(x));
}

// XNNPACK's create_lut_elementwise_nc: like TFLite's table but rounded half to even
// (lrintf) and with the zero point added after rounding.
template <typename T>
Lut8 MakeXnnpackLut(float in_scale, int32_t in_zp, float out_scale, int32_t out_zp, float (*f)(float)) {
  Lut8 lut{};
  const float inv_output_scale = 1.0f / out_scale;
  for (int32_t v = kQMin<T>; v <= kQMax<T>; ++v) {
    const float dequantized = static_cast<float>(v - in_zp) * in_scale;
    const long q = std::lrintf(f(dequantized) * inv_output_scale) + out_zp;
    lut[static_cast<uint8_t>(static_cast<T>(v))] = static_cast<uint8_t>(ClampTo<T>(static_cast<int32_t>(q)));
  }
  return lut;
}

template <typename T>
void ApplyLut8(const Lut8& lut, const T* x, int64_t n, T* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = static_cast<T>(lut[static_cast<uint8_t>(x[i])]);
}

// ---- gemmlowp fixed-point LOGISTIC / TANH for 8-bit (reference kernels) -----------------

// The input rescaled to Q4.27 by a Q31 multiplier of in_scale * 2^27; beyond +-radius the
// function is saturated in the output type, so the fixed-point path is skipped.
struct FixedPointActivationParams {
  int32_t input_zero_point = 0;
  QuantizedMultiplier input_multiplier;
  int32_t input_range_radius = 0;
};

// TFLite's CalculateInputRadius: the largest input whose rescaled value still fits in
// `integer_bits` integer bits, floored.
inline int32_t CalculateInputRadius(int integer_bits, int left_shift, int total_signed_bits = 31) {
  const double max_input_rescaled = 1.0 * ((1 << integer_bits) - 1) *
                                    static_cast<double>(int64_t{1} << (total_signed_bits - integer_bits)) /
                                    static_cast<double>(int64_t{1} << left_shift);
  return static_cast<int32_t>(std::floor(max_input_rescaled));
}

inline FixedPointActivationParams MakeFixedPointActivationParams(float in_scale, int32_t in_zp) {
  constexpr int kInputIntegerBits = 4;
  FixedPointActivationParams p;
  p.input_zero_point = in_zp;
  p.input_multiplier = QuantizeMultiplier(static_cast<double>(in_scale) * (int64_t{1} << (31 - kInputIntegerBits)));
  p.input_range_radius = CalculateInputRadius(kInputIntegerBits, p.input_multiplier.shift);
  return p;
}

// LOGISTIC: output Q0.31 -> 2^-8 steps (rounding shift by 23), offset to the type's
// minimum (output scale 1/256, zero point min(T)).
// TANH: output Q0.31 -> 2^-7 steps (rounding shift by 24), offset to the type's middle
// (scale 1/128; zero point 0 for int8, 128 for uint8).
template <typename T, bool kTanh>
void FixedPointActivation(const FixedPointActivationParams& p, const T* x, int64_t n, T* y) {
  using F4 = gemmlowp::FixedPoint<int32_t, 4>;
  const int32_t out_offset = kTanh ? (kQMin<T> + kQMax<T> + 1) / 2 : kQMin<T>;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t v = static_cast<int32_t>(x[i]) - p.input_zero_point;
    if (v <= -p.input_range_radius) {
      y[i] = static_cast<T>(kQMin<T>);
    } else if (v >= p.input_range_radius) {
      y[i] = static_cast<T>(kQMax<T>);
    } else {
      const F4 in = F4::FromRaw(MultiplyByQuantizedMultiplierDoubleRounding(v, p.input_multiplier));
      const int32_t q0 = kTanh ? gemmlowp::tanh(in).raw() : gemmlowp::logistic(in).raw();
      y[i] = ClampTo<T>(gemmlowp::RoundingDivideByPOT(q0, kTanh ? 24 : 23) + out_offset);
    }
  }
}

// ---- int16 LOGISTIC / TANH (16x8: zero points 0, output scale 2^-15) -------------------

// sigmoid(i / 24) for i in [0, 255], unsigned Q0.16, shared with tanh via
// tanh(x) = 2 sigmoid(2x) - 1 (TFLite's sigmoid_table_uint16).
inline constexpr uint16_t kSigmoidTableUint16[256] = {
    32768, 33451, 34133, 34813, 35493, 36169, 36843, 37513, 38180, 38841, 39498, 40149, 40794, 41432, 42064, 42688,
    43304, 43912, 44511, 45102, 45683, 46255, 46817, 47369, 47911, 48443, 48964, 49475, 49975, 50464, 50942, 51409,
    51865, 52311, 52745, 53169, 53581, 53983, 54374, 54755, 55125, 55485, 55834, 56174, 56503, 56823, 57133, 57433,
    57724, 58007, 58280, 58544, 58800, 59048, 59288, 59519, 59743, 59959, 60168, 60370, 60565, 60753, 60935, 61110,
    61279, 61441, 61599, 61750, 61896, 62036, 62172, 62302, 62428, 62549, 62666, 62778, 62886, 62990, 63090, 63186,
    63279, 63368, 63454, 63536, 63615, 63691, 63765, 63835, 63903, 63968, 64030, 64090, 64148, 64204, 64257, 64308,
    64357, 64405, 64450, 64494, 64536, 64576, 64614, 64652, 64687, 64721, 64754, 64786, 64816, 64845, 64873, 64900,
    64926, 64950, 64974, 64997, 65019, 65039, 65060, 65079, 65097, 65115, 65132, 65149, 65164, 65179, 65194, 65208,
    65221, 65234, 65246, 65258, 65269, 65280, 65291, 65301, 65310, 65319, 65328, 65337, 65345, 65352, 65360, 65367,
    65374, 65381, 65387, 65393, 65399, 65404, 65410, 65415, 65420, 65425, 65429, 65433, 65438, 65442, 65445, 65449,
    65453, 65456, 65459, 65462, 65465, 65468, 65471, 65474, 65476, 65479, 65481, 65483, 65485, 65488, 65489, 65491,
    65493, 65495, 65497, 65498, 65500, 65501, 65503, 65504, 65505, 65507, 65508, 65509, 65510, 65511, 65512, 65513,
    65514, 65515, 65516, 65517, 65517, 65518, 65519, 65520, 65520, 65521, 65522, 65522, 65523, 65523, 65524, 65524,
    65525, 65525, 65526, 65526, 65526, 65527, 65527, 65528, 65528, 65528, 65529, 65529, 65529, 65529, 65530, 65530,
    65530, 65530, 65531, 65531, 65531, 65531, 65531, 65532, 65532, 65532, 65532, 65532, 65532, 65533, 65533, 65533,
    65533, 65533, 65533, 65533, 65533, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65534, 65535};

// How TFLite's Prepare maps an int16 input scale onto the table's input grid. With a
// power-of-two scale (the "POT" case) multiplier is 0 and shift the left shift of TFLite's
// fixed-point path; otherwise multiplier/shift scale the input to 1/(3 * 4096) units.
struct Int16ActivationParams {
  int32_t multiplier = 0;
  int shift = 0;
};

// TFLite's CheckedLog2: log2 through std::log in float, accepted within 1e-3 of an integer.
inline bool CheckedLog2(float x, int* log2_result) {
  const float x_log2 = std::log(x) * (1.0f / std::log(2.0f));
  const float rounded = std::round(x_log2);
  *log2_result = static_cast<int>(rounded);
  return std::abs(x_log2 - rounded) < 1e-3f;
}

// `pot_shifts` is how many left shifts the fixed-point path accepts (2 for tanh: 0 or 1;
// 1 for logistic: 0 only).
inline Int16ActivationParams MakeInt16ActivationParams(float in_scale, int pot_shifts) {
  constexpr int kInputIntegerBits = 3;
  Int16ActivationParams p;
  int log2 = 0;
  const bool pot = CheckedLog2(in_scale, &log2);
  p.shift = (15 - kInputIntegerBits) + log2;
  if (pot && p.shift >= 0 && p.shift < pot_shifts) return p;
  double multiplier = static_cast<double>(in_scale) * 4096.0 * 3.0;
  p.shift = 0;
  while (multiplier <= 32767.0 / 2.0 && p.shift <= 30) {
    ++p.shift;
    multiplier *= 2.0;
  }
  p.multiplier = static_cast<int32_t>(multiplier);
  return p;
}

// reference_integer_ops::Logistic / Tanh for int16: the 256-entry sigmoid table with
// linear interpolation.
template <bool kTanh>
void Int16ActivationLut(Int16ActivationParams p, const int16_t* x, int64_t n, int16_t* y) {
  if (p.multiplier == 0) {  // power-of-two scale: the factor 3 of the table's grid, shifted
    p.multiplier = 3 << p.shift;
    p.shift = 0;
  }
  const int32_t round = p.shift > 0 ? 1 << (p.shift - 1) : 0;
  for (int64_t i = 0; i < n; ++i) {
    const int32_t v = (static_cast<int32_t>(x[i]) * p.multiplier + round) >> p.shift;
    const uint32_t abs_v = static_cast<uint32_t>(std::abs(v));
    if constexpr (kTanh) {
      // tanh(x) = 2 sigmoid(2x) - 1: the table is read at twice the logistic resolution.
      const uint32_t uh = abs_v >> 8;
      int32_t r;
      if (uh >= 255) {
        r = 0xFFFF << 8;
      } else {
        const uint32_t ua = kSigmoidTableUint16[uh], ub = kSigmoidTableUint16[uh + 1];
        const uint8_t ut = abs_v & 0xFF;
        r = static_cast<int32_t>((ua << 8) + ut * (ub - ua));
      }
      r = v >= 0 ? (r - (1 << (14 + 9)) + (1 << (9 - 2))) : (-r + (1 << (14 + 9)) + (1 << (9 - 2)) - 1);
      y[i] = static_cast<int16_t>(r >> (9 - 1));
    } else {
      const uint32_t uh = abs_v >> 9;
      uint32_t r;
      if (uh >= 255) {
        r = 0x7FFFu << 10;
      } else {
        const uint32_t ua = kSigmoidTableUint16[uh], ub = kSigmoidTableUint16[uh + 1];
        const uint32_t ut = abs_v & 0x1FF;
        r = (ua << 9) + ut * (ub - ua);
      }
      // Negative inputs mirror: sigmoid(-x) = 1 - sigmoid(x); + 2^9 rounds the >> 10.
      r = v >= 0 ? (r + (1 << 9)) : ((1u << (16 + 9)) - r + (1 << 9) - 1);
      y[i] = static_cast<int16_t>(r >> 10);
    }
  }
}

// TFLite's optimized int16 path for power-of-two scales: gemmlowp on Q3.12 inputs (a
// saturating doubling first when the shift is 1), Q0.15 outputs.
template <bool kTanh>
void Int16ActivationFixedPoint(int shift, const int16_t* x, int64_t n, int16_t* y) {
  using F3 = gemmlowp::FixedPoint<int16_t, 3>;
  for (int64_t i = 0; i < n; ++i) {
    const int16_t raw = shift == 1 ? gemmlowp::SaturatingRoundingMultiplyByPOT<1>(x[i]) : x[i];
    y[i] = kTanh ? gemmlowp::tanh(F3::FromRaw(raw)).raw() : gemmlowp::logistic(F3::FromRaw(raw)).raw();
  }
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_ACTIVATIONS_H_
