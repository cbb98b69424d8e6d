// SOFTMAX over the last dimension, viewed as [outer, depth].
//
// Quantized inputs are only compared to their row maximum, so the input zero point never
// matters. Three integer algorithms exist:
//  - reference (reference_ops::Softmax): gemmlowp exp in Q5.26, sum in Q12.19, fixed-point
//    reciprocal; assumes output scale 2^-bits and zero point min(T);
//  - TFLite's built-in 8-bit kernel: a 256-entry float table of exp(-scale * beta * d),
//    float sum, float normalisation, honouring the output's scale and zero point;
//  - int16 (both): 513-entry int16 tables for exp on [-10, 0] and 1 / (1 + x) on [0, 1].
#ifndef QAUDIT_SRC_KERNELS_SOFTMAX_H_
#define QAUDIT_SRC_KERNELS_SOFTMAX_H_

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "fixedpoint/fixedpoint.h"
#include "kernels/quantize.h"

namespace qaudit::kernels {

struct SoftmaxShape {
  int64_t outer = 0;
  int64_t depth = 0;
};

inline void SoftmaxFloat(const SoftmaxShape& s, const float* x, float beta, float* y) {
  for (int64_t i = 0; i < s.outer; ++i) {
    const float* xr = x + i * s.depth;
    float* yr = y + i * s.depth;
    float max = std::numeric_limits<float>::lowest();
    for (int64_t c = 0; c < s.depth; ++c) max = std::max(max, xr[c]);
    float sum = 0.0f;
    for (int64_t c = 0; c < s.depth; ++c) {
      yr[c] = std::exp((xr[c] - max) * beta);
      sum += yr[c];
    }
    for (int64_t c = 0; c < s.depth; ++c) yr[c] /= sum;
  }
}

// ---- reference 8-bit algorithm -------------------------------------------------------

struct SoftmaxReferenceParams {
  QuantizedMultiplier input_multiplier;  // beta * in_scale * 2^26, capped, shift >= 0
  int32_t diff_min = 0;                  // differences below this contribute exactly 0
};

// TFLite's PreprocessSoftmaxScaling with 5 integer bits, and the matching radius. The cap
// on the real multiplier is 2^31 - 1, or 2^30 - 1 under single rounding.
inline SoftmaxReferenceParams MakeSoftmaxReferenceParams(double beta, double in_scale, Rounding r) {
  constexpr int kScaledDiffIntegerBits = 5;
  const double max_real = r == Rounding::kSingle ? (int64_t{1} << 30) - 1.0 : (int64_t{1} << 31) - 1.0;
  const double real = std::min(beta * in_scale * (int64_t{1} << (31 - kScaledDiffIntegerBits)), max_real);
  SoftmaxReferenceParams p;
  p.input_multiplier = QuantizeMultiplier(real);
  const double radius = 1.0 * ((1 << kScaledDiffIntegerBits) - 1) *
                        static_cast<double>(int64_t{1} << (31 - kScaledDiffIntegerBits)) /
                        static_cast<double>(int64_t{1} << p.input_multiplier.shift);
  p.diff_min = -static_cast<int32_t>(std::floor(radius));
  return p;
}

// gemmlowp's reciprocal of a Q12.19 sum: the result is 1 / (sum / 2^num_bits_over_unit),
// in Q0.31.
inline int32_t SoftmaxReciprocal(int32_t sum, int integer_bits, int* num_bits_over_unit) {
  const int headroom_plus_one = __builtin_clz(static_cast<uint32_t>(sum));
  *num_bits_over_unit = integer_bits - headroom_plus_one;
  const int32_t shifted_minus_one =
      static_cast<int32_t>((static_cast<uint32_t>(sum) << headroom_plus_one) - (uint32_t{1} << 31));
  return gemmlowp::one_over_one_plus_x_for_x_in_0_1(gemmlowp::FixedPoint<int32_t, 0>::FromRaw(shifted_minus_one)).raw();
}

template <typename In, typename Out>
void SoftmaxReference(const SoftmaxShape& s, const SoftmaxReferenceParams& p, Rounding r, const In* x, Out* y) {
  using ScaledDiff = gemmlowp::FixedPoint<int32_t, 5>;
  using Accum = gemmlowp::FixedPoint<int32_t, 12>;
  using F0 = gemmlowp::FixedPoint<int32_t, 0>;
  // MultiplyByQuantizedMultiplierGreaterThanOne: a left shift, then the high multiply.
  auto rescale = [&](int32_t diff) {
    if (r == Rounding::kSingle) return MultiplyByQuantizedMultiplierSingleRounding(diff, p.input_multiplier);
    return gemmlowp::SaturatingRoundingDoublingHighMul(diff * (1 << p.input_multiplier.shift),
                                                       p.input_multiplier.multiplier);
  };
  for (int64_t i = 0; i < s.outer; ++i) {
    const In* xr = x + i * s.depth;
    Out* yr = y + i * s.depth;
    int32_t max = kQMin<In>;
    for (int64_t c = 0; c < s.depth; ++c) max = std::max(max, static_cast<int32_t>(xr[c]));
    Accum sum = Accum::Zero();
    for (int64_t c = 0; c < s.depth; ++c) {
      const int32_t diff = static_cast<int32_t>(xr[c]) - max;
      if (diff >= p.diff_min) {
        sum = sum + gemmlowp::Rescale<12>(gemmlowp::exp_on_negative_values(ScaledDiff::FromRaw(rescale(diff))));
      }
    }
    int num_bits_over_unit = 0;
    const F0 scale = F0::FromRaw(SoftmaxReciprocal(sum.raw(), 12, &num_bits_over_unit));
    const int exponent = num_bits_over_unit + 31 - static_cast<int>(sizeof(Out) * 8);
    for (int64_t c = 0; c < s.depth; ++c) {
      const int32_t diff = static_cast<int32_t>(xr[c]) - max;
      if (diff >= p.diff_min) {
        const F0 e = gemmlowp::exp_on_negative_values(ScaledDiff::FromRaw(rescale(diff)));
        const int32_t unsat = gemmlowp::RoundingDivideByPOT((scale * e).raw(), exponent);
        yr[c] = ClampTo<Out>(unsat + kQMin<Out>);
      } else {
        yr[c] = static_cast<Out>(kQMin<Out>);
      }
    }
  }
}

// ---- TFLite's built-in 8-bit algorithm (float table) ---------------------------------

// table[255 - d] = exp(-in_scale * beta * d): indexed by 255 - max + x, so the row maximum
// reads table[255] = 1.
using SoftmaxTable = std::array<float, 256>;

inline SoftmaxTable MakeSoftmaxTable(float in_scale, float beta) {
  SoftmaxTable t{};
  const float scale = -in_scale * beta;
  for (int32_t d = 0; d <= 255; ++d) t[255 - d] = std::exp(scale * static_cast<float>(d));
  return t;
}

// The probability times 1/out_scale is rounded half away from zero and offset by the zero
// point, except for uint8 outputs, which (off aarch64) add 0.5 and truncate and ignore the
// zero point.
template <typename In, typename Out>
void SoftmaxTableLookup(const SoftmaxShape& s, const SoftmaxTable& table, float out_scale, int32_t out_zp, const In* x,
                        Out* y) {
  for (int64_t i = 0; i < s.outer; ++i) {
    const In* xr = x + i * s.depth;
    Out* yr = y + i * s.depth;
    int32_t max = kQMin<In>;
    for (int64_t c = 0; c < s.depth; ++c) max = std::max(max, static_cast<int32_t>(xr[c]));
    const int32_t offset = 255 - max;
    float sum = 0.0f;
    for (int64_t c = 0; c < s.depth; ++c) sum += table[offset + xr[c]];
    const float inv_sum = 1.0f / (sum * out_scale);
    for (int64_t c = 0; c < s.depth; ++c) {
      const float prob = table[offset + xr[c]] * inv_sum;
      int32_t q;
      if constexpr (std::is_same_v<Out, uint8_t>) {
        q = CastToInt32LikeTflite(prob + 0.5f);  // inf when out_scale underflows the sum
      } else {
        q = WrapAdd(CastToInt32LikeTflite(std::round(prob)), out_zp);
      }
      yr[c] = ClampTo<Out>(q);
    }
  }
}

// ---- int16 (both runtimes) -----------------------------------------------------------

// 512 interpolation intervals plus the end point.
using Int16Lut = std::array<int16_t, 513>;

// TFLite's LUTPopulate<int16_t> (double precision): samples func on the input grid given
// by (in_scale, in_zp) over the whole int16 range, biased by half the midpoint error of
// linear interpolation, on the output grid (out_scale, 0).
inline Int16Lut MakeInt16Lut(double in_scale, int32_t in_zp, double out_scale, double (*func)(double)) {
  Int16Lut lut{};
  const double input_min = in_scale * (-32768 - in_zp);
  const double input_max = in_scale * (32767 - in_zp);
  const double output_min = out_scale * -32768;
  const double output_max = out_scale * 32767;
  const double step = (input_max - input_min) / 512;
  const double half_step = step / 2;
  const double output_scaling_inv = 65536.0 / (output_max - output_min);
  for (int i = 0; i < 512; ++i) {
    const double val = func(input_min + i * step);
    const double val_midpoint = func(input_min + i * step + half_step);
    const double val_next = func(input_min + (i + 1) * step);
    const double sample = std::round(val * output_scaling_inv);
    const double midpoint_interp =
        std::round((val_next * output_scaling_inv + std::round(val * output_scaling_inv)) / 2);
    const double midpoint = std::round(val_midpoint * output_scaling_inv);
    const double bias = std::round((midpoint_interp - midpoint) / 2);
    lut[i] = static_cast<int16_t>(std::min(std::max(sample - bias, -32768.0), 32767.0));
  }
  lut[512] =
      static_cast<int16_t>(std::min(std::max(std::round(func(input_max) * output_scaling_inv), -32768.0), 32767.0));
  return lut;
}

// The top 9 bits pick the interval, the low 7 interpolate, rounding half up.
inline int16_t Int16LutLookup(int16_t v, const Int16Lut& lut) {
  const int index = 256 + (v >> 7);
  const int16_t offset = v & 0x7F;
  const int16_t base = lut[index];
  const int16_t slope = static_cast<int16_t>(lut[index + 1] - lut[index]);
  return static_cast<int16_t>(base + ((slope * offset + 64) >> 7));
}

struct SoftmaxInt16Params {
  QuantizedMultiplier input_multiplier;  // in_scale * beta / (10 / 65535)
  Int16Lut exp_lut;                      // exp on [-10, 0]
  Int16Lut one_over_one_plus_x_lut;      // 1 / (1 + x) on [0, 1]
};

// in_scale * beta is a float product, as in TFLite.
inline SoftmaxInt16Params MakeSoftmaxInt16Params(float in_scale, float beta) {
  constexpr double kRange = 65535.0;
  SoftmaxInt16Params p;
  p.input_multiplier = QuantizeMultiplier(static_cast<double>(in_scale * beta) / (10.0 / 65535.0));
  p.exp_lut = MakeInt16Lut(10.0 / kRange, 32767, 2.0 / kRange, [](double v) { return std::exp(v); });
  p.one_over_one_plus_x_lut =
      MakeInt16Lut(1.0 / kRange, -32768, 2.0 / kRange, [](double v) { return 1.0 / (1.0 + v); });
  return p;
}

// reference_ops::SoftmaxInt16. Differences are scaled so that [-65535, 0] spans [-10, 0]
// and recentred onto the table's [-32768, 32767]; the sum is normalised to [1, 2) for the
// reciprocal table; products round half up.
inline void SoftmaxInt16(const SoftmaxShape& s, const SoftmaxInt16Params& p, Rounding r, const int16_t* x, int16_t* y) {
  for (int64_t i = 0; i < s.outer; ++i) {
    const int16_t* xr = x + i * s.depth;
    int16_t* yr = y + i * s.depth;
    int16_t max = std::numeric_limits<int16_t>::min();
    for (int64_t c = 0; c < s.depth; ++c) max = std::max(max, xr[c]);
    int32_t sum = 0;  // Q16.15
    for (int64_t c = 0; c < s.depth; ++c) {
      const int32_t scaled = ApplyMultiplier(static_cast<int32_t>(xr[c]) - max, p.input_multiplier, r);
      const int16_t sym = static_cast<int16_t>(std::min(std::max(scaled + 32767, -32768), 32767));
      yr[c] = Int16LutLookup(sym, p.exp_lut);
      sum += yr[c];
    }
    const int headroom_plus_one = __builtin_clz(static_cast<uint32_t>(sum));
    const int32_t shifted_sum =
        static_cast<int32_t>(((static_cast<int64_t>(sum) << (headroom_plus_one - 1)) + (1 << 13)) >> 14);
    const int32_t sym_sum = shifted_sum - ((1 << 15) + (1 << 16));
    const int16_t reciprocal =
        Int16LutLookup(static_cast<int16_t>(std::min(std::max(sym_sum, -32768), 32767)), p.one_over_one_plus_x_lut);
    const int right_shift = 31 - headroom_plus_one;
    const int64_t round = int64_t{1} << (right_shift - 1);
    for (int64_t c = 0; c < s.depth; ++c) {
      const int32_t v = static_cast<int32_t>((static_cast<int64_t>(yr[c]) * reciprocal + round) >> right_shift);
      yr[c] = static_cast<int16_t>(std::min(std::max(v, 0), 32767));
    }
  }
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_SOFTMAX_H_
