#include "kernels/pooling_avx512.h"

#include <immintrin.h>

#include <limits>

#include "kernels/pooling.h"

// GCC 12 warns about the undefined first operand its own intrinsics headers pass to
// masked builtins; the warning is about the header, not this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace qaudit::kernels {

#define QAUDIT_AVX512BW __attribute__((target("avx512f,avx512bw,avx512vl")))

bool MaxPoolAvx512Available() {
  __builtin_cpu_init();
  static const bool available =
      __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
  return available;
}

namespace {

// One output pixel's channels [c, c + lanes) under `mask`. Stores of a whole or half vector
// go unmasked: masked stores are slow on AMD's Zen cores.
// MaxPool computes o = std::max(o, v), i.e. o < v ? v : o, from the lowest value; with
// MAXPS(a, b) = a > b ? a : b that is max(v, o), and the clamp min(max(o, lo), hi) is
// min(hi, max(lo, o)). For integers the order does not matter.
struct Int8Lanes {
  using T = int8_t;
  static constexpr int kLanes = 64;
  using V = __m512i;
  using Mask = __mmask64;
  QAUDIT_AVX512BW static V Set(T x) { return _mm512_set1_epi8(x); }
  // A row of at most 32 channels is read as a ymm: a zmm load of it crosses into the next
  // cache line, and masking the excess off does not keep Zen 4 from waiting on that line.
  QAUDIT_AVX512BW static V Load(Mask m, const T* p) {
    if ((m >> 32) == 0) return _mm512_zextsi256_si512(_mm256_maskz_loadu_epi8(static_cast<__mmask32>(m), p));
    return _mm512_maskz_loadu_epi8(m, p);
  }
  QAUDIT_AVX512BW static void Store(int n, Mask m, T* p, V v) {
    if (n >= kLanes) return _mm512_storeu_si512(p, v);
    if (n == kLanes / 2) return _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), _mm512_castsi512_si256(v));
    _mm512_mask_storeu_epi8(p, m, v);
  }
  QAUDIT_AVX512BW static V Max(V a, V b) { return _mm512_max_epi8(a, b); }
  QAUDIT_AVX512BW static V Min(V a, V b) { return _mm512_min_epi8(a, b); }
  static Mask Prefix(int n) { return n >= 64 ? ~Mask{0} : (Mask{1} << n) - 1; }
};
struct FloatLanes {
  using T = float;
  static constexpr int kLanes = 16;
  using V = __m512;
  using Mask = __mmask16;
  QAUDIT_AVX512BW static V Set(T x) { return _mm512_set1_ps(x); }
  QAUDIT_AVX512BW static V Load(Mask m, const T* p) { return _mm512_maskz_loadu_ps(m, p); }
  QAUDIT_AVX512BW static void Store(int n, Mask m, T* p, V v) {
    if (n >= kLanes) return _mm512_storeu_ps(p, v);
    if (n == kLanes / 2) return _mm256_storeu_ps(p, _mm512_castps512_ps256(v));
    _mm512_mask_storeu_ps(p, m, v);
  }
  QAUDIT_AVX512BW static V Max(V a, V b) { return _mm512_max_ps(a, b); }
  QAUDIT_AVX512BW static V Min(V a, V b) { return _mm512_min_ps(a, b); }
  static Mask Prefix(int n) { return n >= 16 ? Mask{0xFFFF} : static_cast<Mask>((1u << n) - 1); }
};

template <typename L>
QAUDIT_AVX512BW void MaxPoolLanes(const ConvGeometry& g, const typename L::T* in, typename L::T act_min,
                                  typename L::T act_max, typename L::T* out) {
  using T = typename L::T;
  const typename L::V lo = L::Set(act_min), hi = L::Set(act_max), lowest = L::Set(std::numeric_limits<T>::lowest());
  ForEachPoolWindow(g, [&](int b, int oy, int ox, int y0, int y1, int x0, int x1) QAUDIT_AVX512BW {
    T* o = out + ((static_cast<int64_t>(b) * g.out_h + oy) * g.out_w + ox) * g.in_c;
    for (int c = 0; c < g.in_c; c += L::kLanes) {
      const typename L::Mask mask = L::Prefix(g.in_c - c);
      typename L::V m = lowest;
      for (int y = y0; y < y1; ++y) {
        for (int x = x0; x < x1; ++x) {
          m = L::Max(L::Load(mask, in + ((static_cast<int64_t>(b) * g.in_h + y) * g.in_w + x) * g.in_c + c), m);
        }
      }
      L::Store(g.in_c - c, mask, o + c, L::Min(hi, L::Max(lo, m)));
    }
  });
}

}  // namespace

void MaxPoolAvx512(const ConvGeometry& g, const int8_t* in, int8_t act_min, int8_t act_max, int8_t* out) {
  MaxPoolLanes<Int8Lanes>(g, in, act_min, act_max, out);
}
void MaxPoolAvx512(const ConvGeometry& g, const float* in, float act_min, float act_max, float* out) {
  MaxPoolLanes<FloatLanes>(g, in, act_min, act_max, out);
}

}  // namespace qaudit::kernels
