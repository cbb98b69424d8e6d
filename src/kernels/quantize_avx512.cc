#include "kernels/quantize_avx512.h"

#include <immintrin.h>

// GCC 12 warns about the undefined first operand its own intrinsics headers pass to
// masked builtins; the warning is about the header, not this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace qaudit::kernels {

#define QAUDIT_AVX512 __attribute__((target("avx512f,avx512bw,avx512dq,avx512vl")))

bool QuantizeAvx512Available() {
  __builtin_cpu_init();
  static const bool available = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl");
  return available;
}

namespace {

// std::round: ties away from zero. v - trunc(v) is exact in binary floating point, so the
// comparison with 1/2 sees the true fraction; NaN stays NaN and infinities stay (their
// fraction is NaN, which compares false).
QAUDIT_AVX512 inline __m512d RoundHalfAway(__m512d v) {
  const __m512d t = _mm512_roundscale_pd(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512d abs_mask = _mm512_castsi512_pd(_mm512_set1_epi64(INT64_MAX));
  const __m512d frac = _mm512_and_pd(_mm512_sub_pd(v, t), abs_mask);
  const __mmask8 up = _mm512_cmp_pd_mask(frac, _mm512_set1_pd(0.5), _CMP_GE_OQ);
  const __m512d one = _mm512_or_pd(_mm512_andnot_pd(abs_mask, v), _mm512_set1_pd(1.0));  // copysign(1, v)
  return _mm512_mask_add_pd(t, up, t, one);
}
QAUDIT_AVX512 inline __m512 RoundHalfAway(__m512 v) {
  const __m512 t = _mm512_roundscale_ps(v, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
  const __m512 abs_mask = _mm512_castsi512_ps(_mm512_set1_epi32(INT32_MAX));
  const __m512 frac = _mm512_and_ps(_mm512_sub_ps(v, t), abs_mask);
  const __mmask16 up = _mm512_cmp_ps_mask(frac, _mm512_set1_ps(0.5f), _CMP_GE_OQ);
  const __m512 one = _mm512_or_ps(_mm512_andnot_ps(abs_mask, v), _mm512_set1_ps(1.0f));
  return _mm512_mask_add_ps(t, up, t, one);
}

// 16 values as int32. vcvttpd2dq / vcvttps2dq give INT32_MIN for NaN and every value
// outside int32, as CastToInt32LikeTflite; the rounded values are whole, so truncation
// changes nothing else.
template <QuantizeRule kRule>
QAUDIT_AVX512 inline __m512i Quantize16(__m512 x, float scale, float inv_scale, float lo, float hi) {
  if constexpr (kRule == QuantizeRule::kXnnpack) {
    __m512 v = _mm512_mul_ps(x, _mm512_set1_ps(inv_scale));
    v = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q), v, _mm512_set1_ps(hi));
    v = _mm512_min_ps(_mm512_max_ps(v, _mm512_set1_ps(lo)), _mm512_set1_ps(hi));
    return _mm512_cvtps_epi32(v);  // round half to even (the default rounding mode), as nearbyintf
  } else if constexpr (kRule == QuantizeRule::kFloatDivide) {
    return _mm512_cvttps_epi32(RoundHalfAway(_mm512_div_ps(x, _mm512_set1_ps(scale))));
  } else {
    const __m512d s = _mm512_set1_pd(scale);
    const __m512d low = _mm512_cvtps_pd(_mm512_castps512_ps256(x));
    const __m512d high = _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(x), 1)));
    const __m256i a = _mm512_cvttpd_epi32(RoundHalfAway(_mm512_div_pd(low, s)));
    const __m256i b = _mm512_cvttpd_epi32(RoundHalfAway(_mm512_div_pd(high, s)));
    return _mm512_inserti64x4(_mm512_castsi256_si512(a), b, 1);
  }
}

template <QuantizeRule kRule>
QAUDIT_AVX512 void QuantizeLoop(const float* x, int64_t n, float scale, int32_t zero_point, int8_t* q) {
  const float inv_scale = 1.0f / scale;
  const float lo = static_cast<float>(-128 - zero_point), hi = static_cast<float>(127 - zero_point);
  const __m512i zp = _mm512_set1_epi32(zero_point);
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 valid = n - i >= 16 ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - i)) - 1);
    const __m512i v = Quantize16<kRule>(_mm512_maskz_loadu_ps(valid, x + i), scale, inv_scale, lo, hi);
    // The zero point wraps (WrappingAdd), then vpmovsdb saturates to int8 (ClampTo).
    const __m128i bytes = _mm512_cvtsepi32_epi8(_mm512_add_epi32(v, zp));
    if (valid == 0xFFFF) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(q + i), bytes);
    } else {
      _mm_mask_storeu_epi8(q + i, valid, bytes);
    }
  }
}

}  // namespace

bool ByteLookupAvx512Available() {
  __builtin_cpu_init();
  static const bool available = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512vbmi");
  return available;
}

__attribute__((target("avx512f,avx512bw,avx512vbmi"))) void LookUpBytesAvx512(const uint8_t* table, int64_t n,
                                                                               const uint8_t* in, uint8_t* out) {
  const __m512i registers[4] = {_mm512_loadu_si512(table), _mm512_loadu_si512(table + 64),
                                _mm512_loadu_si512(table + 128), _mm512_loadu_si512(table + 192)};
  int64_t i = 0;
  for (; i + 64 <= n; i += 64) _mm512_storeu_si512(out + i, LookUp64Bytes(registers, _mm512_loadu_si512(in + i)));
  if (i < n) {
    const __mmask64 tail = (uint64_t{1} << (n - i)) - 1;
    _mm512_mask_storeu_epi8(out + i, tail, LookUp64Bytes(registers, _mm512_maskz_loadu_epi8(tail, in + i)));
  }
}

void QuantizeFloatToInt8Avx512(const float* x, int64_t n, float scale, int32_t zero_point, QuantizeRule rule,
                               int8_t* q) {
  switch (rule) {
    case QuantizeRule::kFloatDivide: return QuantizeLoop<QuantizeRule::kFloatDivide>(x, n, scale, zero_point, q);
    case QuantizeRule::kDoubleDivide: return QuantizeLoop<QuantizeRule::kDoubleDivide>(x, n, scale, zero_point, q);
    case QuantizeRule::kXnnpack: return QuantizeLoop<QuantizeRule::kXnnpack>(x, n, scale, zero_point, q);
  }
}

}  // namespace qaudit::kernels
