#include "kernels/mean_avx512.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <type_traits>

// GCC 12 warns about the undefined first operand its own intrinsics headers pass to
// masked builtins; the warning is about the header, not this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace qaudit::kernels {

#define QAUDIT_AVX512BWVL __attribute__((target("avx512f,avx512bw,avx512vl")))

bool SumMiddleAxisAvx512Available() {
  __builtin_cpu_init();
  static const bool available = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512vl");
  return available;
}

namespace {

constexpr int kLanes = 16;
constexpr int kVectors = 4;  // accumulators per block of 64 channels

template <typename T>
QAUDIT_AVX512BWVL inline __m512i Widen(__mmask16 mask, const T* p) {
  const __m128i bytes = _mm_maskz_loadu_epi8(mask, p);
  if constexpr (std::is_signed_v<T>) return _mm512_cvtepi8_epi32(bytes);
  return _mm512_cvtepu8_epi32(bytes);
}

__mmask16 Prefix(int64_t n) {
  return n >= kLanes ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << std::max<int64_t>(n, 0)) - 1);
}

template <typename T>
QAUDIT_AVX512BWVL void SumMiddleAxis(const MiddleAxisView& v, const T* x, int32_t* sums) {
  for (int64_t o = 0; o < v.outer; ++o) {
    const T* block = x + o * v.reduced * v.inner;
    int32_t* out = sums + o * v.inner;
    for (int64_t c = 0; c < v.inner; c += kVectors * kLanes) {
      __mmask16 masks[kVectors];
      __m512i acc[kVectors];
      for (int k = 0; k < kVectors; ++k) {
        masks[k] = Prefix(v.inner - c - k * kLanes);
        acc[k] = _mm512_setzero_si512();
      }
      for (int64_t r = 0; r < v.reduced; ++r) {
        const T* row = block + r * v.inner + c;
        for (int k = 0; k < kVectors; ++k) acc[k] = _mm512_add_epi32(acc[k], Widen(masks[k], row + k * kLanes));
      }
      for (int k = 0; k < kVectors; ++k) _mm512_mask_storeu_epi32(out + c + k * kLanes, masks[k], acc[k]);
    }
  }
}

}  // namespace

void SumMiddleAxisAvx512(const MiddleAxisView& v, const int8_t* x, int32_t* sums) { SumMiddleAxis(v, x, sums); }
void SumMiddleAxisAvx512(const MiddleAxisView& v, const uint8_t* x, int32_t* sums) { SumMiddleAxis(v, x, sums); }

}  // namespace qaudit::kernels
