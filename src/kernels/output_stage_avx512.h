// The int8 kernels' output stage (output_stage.h) on AVX-512 vectors of 16 int32
// accumulators, with the per-channel parameters of Int8Requantization: shared by the GEMM
// (int8_gemm.cc) and the depthwise convolution (depthwise_int8_avx512.cc), with the
// narrowing of results to bytes. Inline, for the callers' AVX-512 VNNI targets.
#ifndef QAUDIT_SRC_KERNELS_OUTPUT_STAGE_AVX512_H_
#define QAUDIT_SRC_KERNELS_OUTPUT_STAGE_AVX512_H_

#include <immintrin.h>

#include <cstdint>

#include "kernels/fixed_point_avx512.h"
#include "kernels/int8_gemm.h"

namespace qaudit::kernels::int8_avx512 {

#define QAUDIT_OUTPUT_STAGE_TARGET __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

constexpr int kBlock = 16;  // channels per vector of int32 accumulators

// 16 int32s in channel order from the even channels' and the odd channels' 64-bit
// results, each saturated to int32 (as std::clamp to the int32 range).
QAUDIT_OUTPUT_STAGE_TARGET inline __m512i InterleaveSaturated(__m512i even, __m512i odd) {
  const __m512i order = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  return _mm512_permutex2var_epi32(_mm512_castsi256_si512(_mm512_cvtsepi64_epi32(even)), order,
                                   _mm512_castsi256_si512(_mm512_cvtsepi64_epi32(odd)));
}

// The output stage's parameters for channels [c, c + 16) in registers. They are loaded
// once per tile and applied to all its rows: the int8 stores in between may alias them, so
// the compiler would otherwise reload them for every row.
struct StageRegs {
  __m512i multiplier, multiplier_odd;  // the odd channels' multipliers in the low halves
  __m512i shift_even, shift_odd, round_even, round_odd;
  __m512i shift_odd_less_32;               // kSingle
  bool shifts_below_32 = true;              // kSingle: some channel shifts by less than 32
  __m512i total_shift_even, total_shift_odd;  // kDouble: 31 + right shift
  __mmask8 rounds_even = 0, rounds_odd = 0;   // kDouble: channels with a right shift
  bool left_shift = false;                    // kDouble: some channel shifts left
  __m512 scale, lo_less_zp, hi_less_zp;
  __m512i zp, lo, hi;
};

template <Rounding R>
QAUDIT_OUTPUT_STAGE_TARGET inline StageRegs LoadStage(const Int8Requantization& r, int c) {
  StageRegs s{};
  s.zp = _mm512_set1_epi32(r.zero_point);
  s.lo = _mm512_set1_epi32(r.act_min), s.hi = _mm512_set1_epi32(r.act_max);
  if constexpr (R == Rounding::kFp32) {
    s.scale = _mm512_loadu_ps(r.scale.data() + c);
    s.lo_less_zp = _mm512_set1_ps(static_cast<float>(r.act_min - r.zero_point));
    s.hi_less_zp = _mm512_set1_ps(static_cast<float>(r.act_max - r.zero_point));
  } else {
    s.multiplier = _mm512_loadu_si512(r.multiplier.data() + c);
    s.multiplier_odd = _mm512_srli_epi64(s.multiplier, 32);
    s.shift_even = _mm512_loadu_si512(r.shift64.data() + c);
    s.shift_odd = _mm512_loadu_si512(r.shift64.data() + c + 8);
    if constexpr (R == Rounding::kSingle) {
      s.round_even = _mm512_loadu_si512(r.round64.data() + c);
      s.round_odd = _mm512_loadu_si512(r.round64.data() + c + 8);
      s.shift_odd_less_32 = _mm512_sub_epi64(s.shift_odd, _mm512_set1_epi64(32));
      s.shifts_below_32 = _mm512_cmplt_epi64_mask(_mm512_min_epi64(s.shift_even, s.shift_odd), _mm512_set1_epi64(32)) != 0;
    } else {
      const __m512i right = _mm512_loadu_si512(r.right_shift.data() + c);
      const __m512i right_even = _mm512_and_si512(right, _mm512_set1_epi64(0xFFFFFFFF));
      const __m512i right_odd = _mm512_srli_epi64(right, 32);
      s.total_shift_even = _mm512_add_epi64(right_even, _mm512_set1_epi64(31));
      s.total_shift_odd = _mm512_add_epi64(right_odd, _mm512_set1_epi64(31));
      s.rounds_even = _mm512_test_epi64_mask(right_even, right_even);
      s.rounds_odd = _mm512_test_epi64_mask(right_odd, right_odd);
      const __m512i nudge = _mm512_set1_epi64(int64_t{1} << 30);
      s.round_even = _mm512_mask_add_epi64(nudge, s.rounds_even, nudge, _mm512_sllv_epi64(nudge, right_even));
      s.round_odd = _mm512_mask_add_epi64(nudge, s.rounds_odd, nudge, _mm512_sllv_epi64(nudge, right_odd));
      s.left_shift = _mm512_test_epi64_mask(_mm512_or_si512(s.shift_even, s.shift_odd), _mm512_set1_epi64(-1)) != 0;
    }
  }
  return s;
}

QAUDIT_OUTPUT_STAGE_TARGET inline __m512i ShiftLeftSaturated(__m512i x64, __m512i left) {
  return _mm512_min_epi64(_mm512_max_epi64(_mm512_sllv_epi64(x64, left), _mm512_set1_epi64(INT32_MIN)),
                          _mm512_set1_epi64(INT32_MAX));
}

// The output stage on 16 accumulators up to the zero point's addition, before the
// clamp to [act_min, act_max] (ApplyStage).
template <Rounding R>
QAUDIT_OUTPUT_STAGE_TARGET inline __m512i ApplyStageUnclamped(const StageRegs& s, __m512i x) {
  __m512i v;
  if constexpr (R == Rounding::kFp32) {
    __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(x), s.scale);
    f = _mm512_min_ps(_mm512_max_ps(f, s.lo_less_zp), s.hi_less_zp);
    v = _mm512_cvtps_epi32(f);  // round half to even (the default rounding mode), as nearbyintf
  } else if constexpr (R == Rounding::kSingle) {
    // MultiplyByQuantizedMultiplierSingleRounding: vpmuldq multiplies the low halves of the
    // 64-bit lanes, i.e. the even channels, then (shifted down) the odd. With every shift at
    // least 32 (multipliers below 1/2) each result fits in 31 bits, and the odd ones, shifted
    // 32 less, land straight in the high halves: the high half of v >> (shift - 32) is
    // v >> shift. Otherwise results are saturated to int32 and interleaved.
    const __m512i even =
        _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, s.multiplier), s.round_even), s.shift_even);
    const __m512i odd_product = _mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), s.multiplier_odd), s.round_odd);
    if (s.shifts_below_32) {
      v = InterleaveSaturated(even, _mm512_srav_epi64(odd_product, s.shift_odd));
    } else {
      v = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_srav_epi64(odd_product, s.shift_odd_less_32));
    }
  } else {
    // MultiplyByQuantizedMultiplierDoubleRounding. Without a left shift (multipliers
    // below 1) the accumulators enter vpmuldq as they are: it reads only the low halves.
    __m512i even_in = x, odd_in = _mm512_srli_epi64(x, 32);
    if (s.left_shift) {
      even_in = ShiftLeftSaturated(_mm512_srai_epi64(_mm512_slli_epi64(x, 32), 32), s.shift_even);
      odd_in = ShiftLeftSaturated(_mm512_srai_epi64(x, 32), s.shift_odd);
    }
    const __m512i even = DoubleRounding(even_in, s.multiplier, s.round_even, s.total_shift_even, s.rounds_even);
    const __m512i odd = DoubleRounding(odd_in, s.multiplier_odd, s.round_odd, s.total_shift_odd, s.rounds_odd);
    // Both fit in int32: the odd results move into the high halves.
    v = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  }
  return _mm512_add_epi32(v, s.zp);  // wraps, as WrapAdd
}

// The output stage on 16 accumulators: the values to store, in [act_min, act_max].
template <Rounding R>
QAUDIT_OUTPUT_STAGE_TARGET inline __m512i ApplyStage(const StageRegs& s, __m512i x) {
  return _mm512_min_epi32(_mm512_max_epi32(ApplyStageUnclamped<R>(s, x), s.lo), s.hi);
}

// Stores the first `valid` (>= 1) of 16 int32s in [-128, 127] as bytes. Narrowed in a
// register: vpmovdb with a memory operand is slow on AMD's Zen cores.
QAUDIT_OUTPUT_STAGE_TARGET inline void StoreBytes(int8_t* o, int valid, __m512i v) {
  const __m128i bytes = _mm512_cvtepi32_epi8(v);
  if (valid >= kBlock) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(o), bytes);
  } else {
    _mm_mask_storeu_epi8(o, static_cast<__mmask16>((1u << valid) - 1), bytes);
  }
}

// Stores the first `valid` channels of one output row, kBlocks (2 or 4) vectors of
// unclamped results, as bytes: narrowed together by saturating packs (vpmovdb costs two
// uops per block), then clamped to each of `ranges` ranges (bounds[2r], bounds[2r + 1],
// bytes). The signed saturation to int8 does not change values that ranges within int8
// clamp afterwards. Per 128-bit lane L the packs leave dword q = lanes 4L..4L+3 of vector
// q; kReorder gathers each vector's dwords back in order, while callers whose vectors
// hold their channels in that interleaved order already (the depthwise kernel's unpacks)
// store the packs as they are.
template <int kBlocks, bool kReorder = true>
QAUDIT_OUTPUT_STAGE_TARGET inline void StoreNarrowed(int8_t* dst, int valid, const __m512i* v, const __m512i* bounds,
                                                     int ranges) {
  static_assert(kBlocks == 2 || kBlocks == 4);
  const __m512i low = _mm512_packs_epi32(v[0], v[1]);
  const __m512i high = kBlocks == 4 ? _mm512_packs_epi32(v[2], v[3]) : low;
  __m512i bytes = _mm512_packs_epi16(low, high);
  if constexpr (kReorder) {
    bytes = _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), bytes);
  }
  for (int r = 0; r < ranges; ++r) bytes = _mm512_min_epi8(_mm512_max_epi8(bytes, bounds[2 * r]), bounds[2 * r + 1]);
  if constexpr (kBlocks == 4) {
    if (valid == 4 * kBlock) {
      _mm512_storeu_si512(dst, bytes);
    } else {
      _mm512_mask_storeu_epi8(dst, (__mmask64{1} << valid) - 1, bytes);
    }
  } else {
    _mm256_mask_storeu_epi8(dst, static_cast<__mmask32>((uint64_t{1} << valid) - 1), _mm512_castsi512_si256(bytes));
  }
}

#undef QAUDIT_OUTPUT_STAGE_TARGET

}  // namespace qaudit::kernels::int8_avx512

#endif  // QAUDIT_SRC_KERNELS_OUTPUT_STAGE_AVX512_H_
