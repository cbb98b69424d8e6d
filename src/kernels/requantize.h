// Fixed-point requantization as TFLite computes it: the multiplier representation, and
// the three rounding rules found in TFLite's kernels (see Numerics in qaudit/executor.h).
#ifndef QAUDIT_SRC_KERNELS_REQUANTIZE_H_
#define QAUDIT_SRC_KERNELS_REQUANTIZE_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "fixedpoint/fixedpoint.h"


namespace qaudit::kernels {

// a + b with two's-complement wrap-around. TFLite's integer kernels accumulate in plain
// int32/int64 and a bias from the file can push the sum past the type's range; the C++
// overflow is undefined, the machine add wraps, and TFLite's results are the wrapped ones.
template <typename Acc>
inline Acc WrapAdd(Acc a, Acc b) {
  using U = std::make_unsigned_t<Acc>;
  return static_cast<Acc>(static_cast<U>(a) + static_cast<U>(b));
}

// real_multiplier ~= multiplier * 2^(shift - 31), multiplier in [2^30, 2^31) or 0.
struct QuantizedMultiplier {
  int32_t multiplier = 0;
  int32_t shift = 0;
};

// TFLite's QuantizeMultiplier: frexp, round the mantissa half away from zero into Q31,
// renormalise a mantissa that rounded up to 2^31, flush multipliers below 2^-31 to zero.
inline QuantizedMultiplier QuantizeMultiplier(double real_multiplier) {
  // NaN and infinities (a ratio of file scales formed in float) would make the int64 cast
  // below undefined: NaN means no multiplier, an infinity the largest one (shift 1024, as
  // for DBL_MAX), which every Prepare range check refuses.
  if (real_multiplier == 0.0 || std::isnan(real_multiplier)) return {};
  if (std::isinf(real_multiplier)) return {real_multiplier > 0 ? INT32_MAX : -INT32_MAX, 1024};
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

// The real multipliers every rounding rule below applies without an out-of-range shift or
// an overflowing product: QuantizeMultiplier gives them shift <= 14, and the int64 rule
// shifts right by 15 - shift >= 1. A larger multiplier saturates every non-zero input
// anyway; Prepare refuses it instead of handing it to a kernel.
inline constexpr double kMaxRealMultiplier = 8192.0;  // 2^13
inline bool RealMultiplierInRange(double m) { return m >= 0.0 && m < kMaxRealMultiplier; }

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
  // TFLite assumes -2^47 <= x < 2^47 (its DCHECK); an int64 bias from the file breaks that
  // and x * reduced would overflow int64. Saturating keeps the product in range.
  x = std::clamp<int64_t>(x, -(int64_t{1} << 47), (int64_t{1} << 47) - 1);
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
