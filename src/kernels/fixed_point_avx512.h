// TFLite's MultiplyByQuantizedMultiplierDoubleRounding (requantize.h) on AVX-512 vectors,
// shared by the int8 GEMM's output stage (per-channel multipliers) and ADD (one multiplier
// per input). Inline, for the callers' AVX-512 targets (they include AVX-512 F).
#ifndef QAUDIT_SRC_KERNELS_FIXED_POINT_AVX512_H_
#define QAUDIT_SRC_KERNELS_FIXED_POINT_AVX512_H_

#include <immintrin.h>

#include <cstdint>

namespace qaudit::kernels {

// The two roundings of one parity's 64-bit lanes: vpmuldq reads the low 32 bits of each
// lane as a (x * 2^left, saturated to int32) and as m; X = a * m, e = the right shift.
//  - SaturatingRoundingDoublingHighMul nudges X by 2^30 (X >= 0) or 1 - 2^30 (X < 0) and
//    divides by 2^31 truncating toward zero. Either way that is h = floor((X + 2^30) / 2^31):
//    for negative X the truncation adds 2^31 - 1, and 1 - 2^30 + 2^31 - 1 = 2^30. Its one
//    saturating case, a = m = INT32_MIN, is the caller's to patch (m is never INT32_MIN
//    for multipliers made from scales).
//  - RoundingDivideByPOT(h, e), e > 0, rounds half away from zero: floor((h + 2^(e-1) -
//    [h < 0]) / 2^e); h < 0 exactly when X < -2^30.
// Nested floors of integer divisions merge, so the result is one shift:
//   floor((X + 2^30 + [e > 0] (2^(30+e) - [X < -2^30] 2^31)) / 2^(31+e)),
// with `round` = 2^30 + [e > 0] 2^(30+e), `total_shift` = 31 + e and `rounds` = [e > 0]
// per lane. The result fits in int32.
__attribute__((target("avx512f"))) inline __m512i DoubleRounding(__m512i a, __m512i m, __m512i round,
                                                                  __m512i total_shift, __mmask8 rounds) {
  const __m512i product = _mm512_mul_epi32(a, m);
  const __mmask8 below = _mm512_mask_cmplt_epi64_mask(rounds, product, _mm512_set1_epi64(-(int64_t{1} << 30)));
  const __m512i sum = _mm512_add_epi64(product, round);
  return _mm512_srav_epi64(_mm512_mask_sub_epi64(sum, below, sum, _mm512_set1_epi64(int64_t{1} << 31)), total_shift);
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_FIXED_POINT_AVX512_H_
