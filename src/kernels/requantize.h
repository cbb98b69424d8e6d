// Fixed-point requantization as TFLite computes it: the multiplier representation, and
// the three rounding rules found in TFLite's kernels (see Numerics in qaudit/executor.h).
#ifndef QAUDIT_SRC_KERNELS_REQUANTIZE_H_
#define QAUDIT_SRC_KERNELS_REQUANTIZE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

#include "fixedpoint/fixedpoint.h"


namespace qaudit::kernels {

// real_multiplier ~= multiplier * 2^(shift - 31), multiplier in [2^30, 2^31) or 0.
struct QuantizedMultiplier {
  int32_t multiplier = 0;
  int32_t shift = 0;
};

// TFLite's QuantizeMultiplier: frexp, round the mantissa half away from zero into Q31,
// renormalise a mantissa that rounded up to 2^31, flush multipliers below 2^-31 to zero.
inline QuantizedMultiplier QuantizeMultiplier(double real_multiplier) {
  if (real_multiplier == 0.0) return {};
  int shift = 0;
  const double q = std::frexp(real_multiplier, &shift);
  auto q_fixed = static_cast<int64_t>(std::round(q * (int64_t{1} << 31)));
  if (q_fixed == (int64_t{1} << 31)) {
    q_fixed /= 2;
    ++shift;
  }
  if (shift < -31) return {};
  return {static_cast<int32_t>(q_fixed), shift};
}

// gemmlowp's SaturatingRoundingDoublingHighMul: round(a * b / 2^31), ties away from zero
// except that the nudge makes negative ties round up; the one overflow, INT32_MIN^2,
// saturates. Written without branches so that loops over channels vectorize.
inline int32_t SaturatingRoundingDoublingHighMul(int32_t a, int32_t b) {
  const int64_t ab = static_cast<int64_t>(a) * b;
  const int64_t x = ab + (ab >= 0 ? (int64_t{1} << 30) : 1 - (int64_t{1} << 30));
  const int32_t high = static_cast<int32_t>((x + (x < 0 ? (int64_t{1} << 31) - 1 : 0)) >> 31);  // x / 2^31, truncated
  return a == b && a == std::numeric_limits<int32_t>::min() ? std::numeric_limits<int32_t>::max() : high;
}

// gemmlowp's RoundingDivideByPOT: x / 2^exponent rounded half away from zero.
inline int32_t RoundingDivideByPOT(int32_t x, int exponent) {
  const int32_t mask = static_cast<int32_t>((int64_t{1} << exponent) - 1);
  const int32_t remainder = x & mask;
  const int32_t threshold = (mask >> 1) + (x < 0 ? 1 : 0);
  return (x >> exponent) + (remainder > threshold ? 1 : 0);
}

// Double rounding (reference kernels): SaturatingRoundingDoublingHighMul, then
// RoundingDivideByPOT.
inline int32_t MultiplyByQuantizedMultiplierDoubleRounding(int32_t x, QuantizedMultiplier m) {
  const int left_shift = m.shift > 0 ? m.shift : 0;
  const int right_shift = m.shift > 0 ? 0 : -m.shift;
  // The left shift is done in 64 bits and saturated: the reference's int32 shift would be
  // undefined for such inputs.
  int64_t shifted = static_cast<int64_t>(x) * (int64_t{1} << left_shift);
  shifted = std::clamp<int64_t>(shifted, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max());
  return RoundingDivideByPOT(SaturatingRoundingDoublingHighMul(static_cast<int32_t>(shifted), m.multiplier),
                             right_shift);
}

// Single rounding (ruy's ApplyMultiplier, TFLITE_SINGLE_ROUNDING): one rounding of
// x * multiplier / 2^(31 - shift), half toward +infinity.
inline int32_t MultiplyByQuantizedMultiplierSingleRounding(int32_t x, QuantizedMultiplier m) {
  const int total_shift = 31 - m.shift;
  const int64_t round = int64_t{1} << (total_shift - 1);
  const int64_t result = (static_cast<int64_t>(x) * m.multiplier + round) >> total_shift;
  return static_cast<int32_t>(
      std::clamp<int64_t>(result, std::numeric_limits<int32_t>::min(), std::numeric_limits<int32_t>::max()));
}

// The int64-accumulator variant used by the 16x8 kernels: the multiplier is first reduced
// to 16 bits (rounded, capped at 0x7FFF), then one rounding, half toward +infinity.
inline int32_t MultiplyByQuantizedMultiplier64(int64_t x, QuantizedMultiplier m) {
  const int32_t reduced = m.multiplier < 0x7FFF0000 ? (m.multiplier + (1 << 15)) >> 16 : 0x7FFF;
  const int total_shift = 15 - m.shift;
  const int64_t result = (x * reduced + (int64_t{1} << (total_shift - 1))) >> total_shift;
  return static_cast<int32_t>(result);
}

// XNNPACK's fp32 requantization: float(acc) * scale, clamped to the output range, then
// rounded half to even. Returns the value before adding the zero point.
inline int32_t RequantizeFp32(int32_t acc, float scale, float min_less_zp, float max_less_zp) {
  float v = static_cast<float>(acc) * scale;
  v = std::min(std::max(v, min_less_zp), max_less_zp);
  return static_cast<int32_t>(std::nearbyintf(v));
}

// TFLite's rounding of a float to the nearest integer, half away from zero.
inline int32_t RoundHalfAway(float x) { return static_cast<int32_t>(std::round(x)); }

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_REQUANTIZE_H_
