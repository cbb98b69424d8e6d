#include "kernels/add_avx512.h"

#include <immintrin.h>

#include <array>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "kernels/fixed_point_avx512.h"
#include "kernels/quantize_avx512.h"
#include "kernels/requantize.h"

// GCC 12 warns about the undefined first operand its own intrinsics headers pass to
// masked builtins; the warning is about the header, not this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace qaudit::kernels {

#define QAUDIT_AVX512BWVL __attribute__((target("avx512f,avx512bw,avx512vl")))
#define QAUDIT_AVX512VBMI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vbmi")))

bool AddQuantizedAvx512Available() {
  __builtin_cpu_init();
  static const bool available = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512vl");
  return available;
}

bool AddQuantizedTableAvx512Available() {
  __builtin_cpu_init();
  static const bool available = AddQuantizedAvx512Available() && __builtin_cpu_supports("avx512vbmi");
  return available;
}

namespace {

constexpr int kLanes = 16;

// A QuantizedMultiplier as MultiplyByQuantizedMultiplierDoubleRounding applies it.
struct VectorMultiplier {
  int left = 0, right = 0;
  bool int32_min = false;  // the multiplier is INT32_MIN: SRDHM's one saturating case exists
  __m512i multiplier, left_v;
  __m512i round, total_shift;  // DoubleRounding's (fixed_point_avx512.h), in 64-bit lanes
  __mmask8 rounds = 0;
  __m512i saturated;  // RoundingDivideByPOT(INT32_MAX, right): SRDHM(INT32_MIN, INT32_MIN)'s result
};

QAUDIT_AVX512BWVL VectorMultiplier MakeVectorMultiplier(QuantizedMultiplier m) {
  VectorMultiplier v;
  v.left = m.shift > 0 ? m.shift : 0;
  v.right = m.shift > 0 ? 0 : -m.shift;
  v.int32_min = m.multiplier == std::numeric_limits<int32_t>::min();
  v.multiplier = _mm512_set1_epi32(m.multiplier);
  v.left_v = _mm512_set1_epi32(v.left);
  v.round = _mm512_set1_epi64((int64_t{1} << 30) + (v.right > 0 ? int64_t{1} << (30 + v.right) : 0));
  v.total_shift = _mm512_set1_epi64(31 + v.right);
  v.rounds = v.right > 0 ? 0xFF : 0;
  v.saturated = _mm512_set1_epi32(RoundingDivideByPOT(std::numeric_limits<int32_t>::max(), v.right));
  return v;
}

// MultiplyByQuantizedMultiplierDoubleRounding on 16 lanes.
QAUDIT_AVX512BWVL inline __m512i MultiplyDoubleRounding(__m512i x, const VectorMultiplier& m) {
  const __m512i int32_max = _mm512_set1_epi32(std::numeric_limits<int32_t>::max());
  const __m512i int32_min = _mm512_set1_epi32(std::numeric_limits<int32_t>::min());
  if (m.left > 0) {
    // The reference shifts in 64 bits and clamps to int32: a 32-bit shift that does not
    // shift back to x has overflowed, and then the clamp gives the bound of x's sign.
    const __m512i shifted = _mm512_sllv_epi32(x, m.left_v);
    const __mmask16 overflow = _mm512_cmpneq_epi32_mask(_mm512_srav_epi32(shifted, m.left_v), x);
    const __m512i bound = _mm512_mask_blend_epi32(_mm512_cmplt_epi32_mask(x, _mm512_setzero_si512()), int32_max,
                                                  int32_min);
    x = _mm512_mask_blend_epi32(overflow, shifted, bound);
  }
  // Both roundings in one shift per parity (DoubleRounding); vpmuldq reads the even lanes
  // (the low halves of the 64-bit lanes), then, shifted down, the odd.
  const __m512i even = DoubleRounding(x, m.multiplier, m.round, m.total_shift, m.rounds);
  const __m512i odd = DoubleRounding(_mm512_srli_epi64(x, 32), m.multiplier, m.round, m.total_shift, m.rounds);
  const __m512i v = _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
  if (!m.int32_min) return v;
  return _mm512_mask_mov_epi32(v, _mm512_cmpeq_epi32_mask(x, int32_min), m.saturated);
}

template <typename T>
QAUDIT_AVX512BWVL inline __m512i Load(__mmask16 mask, const T* p) {
  const __m128i bytes = _mm_maskz_loadu_epi8(mask, p);
  if constexpr (std::is_signed_v<T>) return _mm512_cvtepi8_epi32(bytes);
  return _mm512_cvtepu8_epi32(bytes);
}

// `v` is within T's range (clamped), so truncating to bytes is the reference's cast.
template <typename T>
QAUDIT_AVX512BWVL inline void Store(__mmask16 mask, T* p, __m512i v) {
  const __m128i bytes = _mm512_cvtepi32_epi8(v);  // narrowed in a register: vpmovdb to memory is slow on Zen
  if (mask == 0xFFFF) {
    _mm_storeu_si128(reinterpret_cast<__m128i*>(p), bytes);
  } else {
    _mm_mask_storeu_epi8(p, mask, bytes);
  }
}

__mmask16 Prefix(int64_t n) { return n >= kLanes ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << n) - 1); }

template <typename T>
QAUDIT_AVX512BWVL void AddDoubleRounding(int64_t n, const T* a, const T* b, const QuantizedAddParams& p, T* out) {
  const VectorMultiplier am = MakeVectorMultiplier(p.a_multiplier), bm = MakeVectorMultiplier(p.b_multiplier),
                         om = MakeVectorMultiplier(p.out_multiplier);
  const __m512i a_zp = _mm512_set1_epi32(p.a_zero_point), b_zp = _mm512_set1_epi32(p.b_zero_point);
  const __m512i out_zp = _mm512_set1_epi32(p.out_zero_point);
  const __m512i lo = _mm512_set1_epi32(p.act_min), hi = _mm512_set1_epi32(p.act_max);
  const __m128i left_shift = _mm_cvtsi32_si128(p.left_shift);
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 mask = Prefix(n - i);
    const __m512i x = _mm512_sll_epi32(_mm512_sub_epi32(Load(mask, a + i), a_zp), left_shift);
    const __m512i y = _mm512_sll_epi32(_mm512_sub_epi32(Load(mask, b + i), b_zp), left_shift);
    const __m512i xs = MultiplyDoubleRounding(x, am), ys = MultiplyDoubleRounding(y, bm);
    const __m512i sum = p.subtract ? _mm512_sub_epi32(xs, ys) : _mm512_add_epi32(xs, ys);
    const __m512i v = _mm512_add_epi32(MultiplyDoubleRounding(sum, om), out_zp);  // wraps, as WrapAdd
    Store(mask, out + i, _mm512_min_epi32(_mm512_max_epi32(v, lo), hi));
  }
}

// The int32 entries of a byte-plane table for 64 indices, in four registers in the order
// the byte and word interleaves leave them: out[r] holds elements 16L + 4r .. 16L + 4r + 3
// of each 128-bit lane L. Saturating packs of out[0], out[1] and of out[2], out[3], then of
// the two results, restore the input order.
QAUDIT_AVX512VBMI inline void LookUp64Int32(const __m512i planes[4][4], __m512i index, __m512i out[4]) {
  const __m512i b0 = LookUp64Bytes(planes[0], index), b1 = LookUp64Bytes(planes[1], index);
  const __m512i b2 = LookUp64Bytes(planes[2], index), b3 = LookUp64Bytes(planes[3], index);
  const __m512i low_words_lo = _mm512_unpacklo_epi8(b0, b1), low_words_hi = _mm512_unpackhi_epi8(b0, b1);
  const __m512i high_words_lo = _mm512_unpacklo_epi8(b2, b3), high_words_hi = _mm512_unpackhi_epi8(b2, b3);
  out[0] = _mm512_unpacklo_epi16(low_words_lo, high_words_lo);
  out[1] = _mm512_unpackhi_epi16(low_words_lo, high_words_lo);
  out[2] = _mm512_unpacklo_epi16(low_words_hi, high_words_hi);
  out[3] = _mm512_unpackhi_epi16(low_words_hi, high_words_hi);
}

QAUDIT_AVX512VBMI void LoadPlanes(const std::array<std::array<uint8_t, 256>, 4>& planes, __m512i registers[4][4]) {
  for (int k = 0; k < 4; ++k) {
    for (int r = 0; r < 4; ++r) registers[k][r] = _mm512_loadu_si512(planes[k].data() + 64 * r);
  }
}

template <typename T>
QAUDIT_AVX512VBMI void AddByTables(int64_t n, const T* a, const T* b, const AddTables& t, T* out) {
  __m512i a_planes[4][4], b_planes[4][4];
  LoadPlanes(t.a_planes, a_planes);
  LoadPlanes(t.b_planes, b_planes);
  const VectorMultiplier om = MakeVectorMultiplier(t.out_multiplier);
  const __m512i out_zp = _mm512_set1_epi32(t.out_zero_point);
  const __m512i lo = _mm512_set1_epi32(t.act_min), hi = _mm512_set1_epi32(t.act_max);
  for (int64_t i = 0; i < n; i += 64) {
    const __mmask64 mask = n - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (n - i)) - 1;
    __m512i x[4], y[4], v[4];
    LookUp64Int32(a_planes, _mm512_maskz_loadu_epi8(mask, a + i), x);
    LookUp64Int32(b_planes, _mm512_maskz_loadu_epi8(mask, b + i), y);
    for (int r = 0; r < 4; ++r) {
      const __m512i sum = _mm512_add_epi32(x[r], y[r]);
      const __m512i scaled = _mm512_add_epi32(MultiplyDoubleRounding(sum, om), out_zp);  // wraps, as WrapAdd
      v[r] = _mm512_min_epi32(_mm512_max_epi32(scaled, lo), hi);
    }
    // v is within T's range, so the saturating packs only narrow.
    const __m512i words_lo = _mm512_packs_epi32(v[0], v[1]), words_hi = _mm512_packs_epi32(v[2], v[3]);
    const __m512i bytes = std::is_signed_v<T> ? _mm512_packs_epi16(words_lo, words_hi)
                                              : _mm512_packus_epi16(words_lo, words_hi);
    _mm512_mask_storeu_epi8(out + i, mask, bytes);
  }
}

template <typename T>
QAUDIT_AVX512BWVL void AddXnnpack(int64_t n, const T* a, const T* b, const XnnpackAddParams& p, T* out) {
  const __m512i am = _mm512_set1_epi32(p.a_multiplier), bm = _mm512_set1_epi32(p.b_multiplier);
  const __m512i bias = _mm512_set1_epi32(p.bias), zp = _mm512_set1_epi32(p.out_zero_point);
  const __m512i lo = _mm512_set1_epi32(p.out_min_less_zp), hi = _mm512_set1_epi32(p.out_max_less_zp);
  const __m128i shift = _mm_cvtsi32_si128(static_cast<int>(p.shift));
  for (int64_t i = 0; i < n; i += kLanes) {
    const __mmask16 mask = Prefix(n - i);
    // Products and sums wrap modulo 2^32, as XNNPACK's int32 arithmetic does.
    const __m512i acc = _mm512_add_epi32(_mm512_add_epi32(bias, _mm512_mullo_epi32(Load(mask, a + i), am)),
                                         _mm512_mullo_epi32(Load(mask, b + i), bm));
    const __m512i v = _mm512_min_epi32(_mm512_max_epi32(_mm512_sra_epi32(acc, shift), lo), hi);
    Store(mask, out + i, _mm512_add_epi32(v, zp));
  }
}

}  // namespace

void AddQuantizedAvx512(int64_t n, const int8_t* a, const int8_t* b, const QuantizedAddParams& p, int8_t* out) {
  AddDoubleRounding(n, a, b, p, out);
}
void AddQuantizedAvx512(int64_t n, const uint8_t* a, const uint8_t* b, const QuantizedAddParams& p, uint8_t* out) {
  AddDoubleRounding(n, a, b, p, out);
}
void AddQuantizedTableAvx512(int64_t n, const int8_t* a, const int8_t* b, const AddTables& t, int8_t* out) {
  AddByTables(n, a, b, t, out);
}
void AddQuantizedTableAvx512(int64_t n, const uint8_t* a, const uint8_t* b, const AddTables& t, uint8_t* out) {
  AddByTables(n, a, b, t, out);
}
void AddQuantizedXnnpackAvx512(int64_t n, const int8_t* a, const int8_t* b, const XnnpackAddParams& p, int8_t* out) {
  AddXnnpack(n, a, b, p, out);
}
void AddQuantizedXnnpackAvx512(int64_t n, const uint8_t* a, const uint8_t* b, const XnnpackAddParams& p,
                               uint8_t* out) {
  AddXnnpack(n, a, b, p, out);
}

}  // namespace qaudit::kernels
