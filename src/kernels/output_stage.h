// The last step of every accumulating integer kernel: scale the int32 (or int64)
// accumulator to the output's scale, add the output zero point, clamp to the fused
// activation's range. Which rounding rule is used is what distinguishes the Numerics modes.
#ifndef QAUDIT_SRC_KERNELS_OUTPUT_STAGE_H_
#define QAUDIT_SRC_KERNELS_OUTPUT_STAGE_H_

#include <cstdint>
#include <vector>

#include "kernels/requantize.h"

namespace qaudit::kernels {

enum class Rounding {
  kDouble,  // TFLite reference kernels: SRDHM then RoundingDivideByPOT
  kSingle,  // ruy (TFLite's built-in FC and conv): one rounding, half up
  kFp32,    // XNNPACK: float multiply, round half to even
  kInt64,   // TFLite 16x8 kernels: int64 accumulator, 16-bit multiplier
};

struct OutputStage {
  Rounding rounding = Rounding::kDouble;
  std::vector<QuantizedMultiplier> multipliers;  // one per output channel, or one
  std::vector<float> scales;                     // the same multipliers as floats (kFp32)
  int32_t zero_point = 0;
  int32_t act_min = 0, act_max = 0;  // in the output's integer domain, zero point included

  // Builds the stage for real multipliers (input_scale * weight_scale[c] / output_scale).
  // XNNPACK computes its float scale in single precision, so `float_multipliers` are kept
  // as the caller computed them in float.
  static OutputStage Make(Rounding rounding, const std::vector<double>& real_multipliers,
                          const std::vector<float>& float_multipliers, int32_t zero_point, int32_t act_min,
                          int32_t act_max);

  // Requantizes a row of accumulators, one per channel; the stage must hold a multiplier
  // (and scale) for each of the n channels. Written as one flat loop over plain arrays so
  // that the compiler vectorizes it.
  template <Rounding R, typename Acc, typename Out>
  void ApplyRow(const Acc* acc, int n, Out* out) const {
    const QuantizedMultiplier* m = multipliers.data();
    const float* scale = scales.data();
    const int32_t zp = zero_point, lo = act_min, hi = act_max;
    for (int c = 0; c < n; ++c) {
      int32_t v;
      if constexpr (R == Rounding::kDouble) {
        v = MultiplyByQuantizedMultiplierDoubleRounding(static_cast<int32_t>(acc[c]), m[c]);
      } else if constexpr (R == Rounding::kSingle) {
        v = MultiplyByQuantizedMultiplierSingleRounding(static_cast<int32_t>(acc[c]), m[c]);
      } else if constexpr (R == Rounding::kFp32) {
        v = RequantizeFp32(static_cast<int32_t>(acc[c]), scale[c], static_cast<float>(lo - zp), static_cast<float>(hi - zp));
      } else {
        v = MultiplyByQuantizedMultiplier64(acc[c], m[c]);
      }
      v = WrapAdd(v, zp);  // a saturated INT32_MIN plus a negative zero point wraps, as in TFLite
      out[c] = static_cast<Out>(v < lo ? lo : (v > hi ? hi : v));
    }
  }

  template <Rounding R>
  int32_t Apply(int64_t acc, int channel) const {
    const int c = multipliers.size() == 1 ? 0 : channel;
    int32_t v;
    if constexpr (R == Rounding::kDouble) {
      // The zero point is added with wrap-around, as TFLite's int32 addition behaves when the
      // product saturated at INT32_MIN or INT32_MAX.
      v = WrapAdd(MultiplyByQuantizedMultiplierDoubleRounding(static_cast<int32_t>(acc), multipliers[c]), zero_point);
    } else if constexpr (R == Rounding::kSingle) {
      v = WrapAdd(MultiplyByQuantizedMultiplierSingleRounding(static_cast<int32_t>(acc), multipliers[c]), zero_point);
    } else if constexpr (R == Rounding::kFp32) {
      v = RequantizeFp32(static_cast<int32_t>(acc), scales[c], static_cast<float>(act_min - zero_point),
                         static_cast<float>(act_max - zero_point)) +
          zero_point;
    } else {
      v = WrapAdd(MultiplyByQuantizedMultiplier64(acc, multipliers[c]), zero_point);
    }
    return v < act_min ? act_min : (v > act_max ? act_max : v);
  }
};

// Calls `fn(std::integral_constant<Rounding, R>{})` for the stage's rounding, so kernels
// are instantiated once per rule and the hot loop has no branch on it.
template <typename Fn>
void DispatchRounding(Rounding r, Fn&& fn) {
  switch (r) {
    case Rounding::kDouble: fn(std::integral_constant<Rounding, Rounding::kDouble>{}); break;
    case Rounding::kSingle: fn(std::integral_constant<Rounding, Rounding::kSingle>{}); break;
    case Rounding::kFp32: fn(std::integral_constant<Rounding, Rounding::kFp32>{}); break;
    case Rounding::kInt64: fn(std::integral_constant<Rounding, Rounding::kInt64>{}); break;
  }
}

inline OutputStage OutputStage::Make(Rounding rounding, const std::vector<double>& real_multipliers,
                                     const std::vector<float>& float_multipliers, int32_t zero_point,
                                     int32_t act_min, int32_t act_max) {
  OutputStage s;
  s.rounding = rounding;
  for (double m : real_multipliers) s.multipliers.push_back(QuantizeMultiplier(m));
  s.scales = float_multipliers;
  s.zero_point = zero_point;
  s.act_min = act_min;
  s.act_max = act_max;
  return s;
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_OUTPUT_STAGE_H_
