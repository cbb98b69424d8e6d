#include "kernels/pooling_avx512.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <limits>

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

// Channels [c, c + N * lanes) of one output pixel from the clipped window [y0, y1) x
// [x0, x1) of `image`, in the order MaxPool visits it (rows, then columns, from the lowest
// value). N vectors at a time: independent chains of maxima, and one tap's channels read
// together rather than one vector's across a large window's taps.
template <typename L, int N>
QAUDIT_AVX512BW inline void WindowBlock(const typename L::T* image, int64_t row, int channels, int c, int y0, int y1,
                                        int x0, int x1, typename L::V lo, typename L::V hi, typename L::V lowest,
                                        typename L::T* o) {
  typename L::Mask mask[N];
  typename L::V m[N];
  for (int j = 0; j < N; ++j) mask[j] = L::Prefix(channels - c - j * L::kLanes), m[j] = lowest;
  for (int y = y0; y < y1; ++y) {
    for (int x = x0; x < x1; ++x) {
      const typename L::T* p = image + y * row + static_cast<int64_t>(x) * channels + c;
      for (int j = 0; j < N; ++j) m[j] = L::Max(L::Load(mask[j], p + j * L::kLanes), m[j]);
    }
  }
  for (int j = 0; j < N; ++j) {
    L::Store(channels - c - j * L::kLanes, mask[j], o + c + j * L::kLanes, L::Min(hi, L::Max(lo, m[j])));
  }
}

template <typename L>
QAUDIT_AVX512BW inline void Window(const typename L::T* image, int64_t row, int channels, int y0, int y1, int x0,
                                   int x1, typename L::V lo, typename L::V hi, typename L::V lowest,
                                   typename L::T* o) {
  int c = 0;
  for (; channels - c > 3 * L::kLanes; c += 4 * L::kLanes) {
    WindowBlock<L, 4>(image, row, channels, c, y0, y1, x0, x1, lo, hi, lowest, o);
  }
  const int rest = (channels - c + L::kLanes - 1) / L::kLanes;
  if (rest == 3) WindowBlock<L, 3>(image, row, channels, c, y0, y1, x0, x1, lo, hi, lowest, o);
  if (rest == 2) WindowBlock<L, 2>(image, row, channels, c, y0, y1, x0, x1, lo, hi, lowest, o);
  if (rest == 1) WindowBlock<L, 1>(image, row, channels, c, y0, y1, x0, x1, lo, hi, lowest, o);
}

// The loops are written out here rather than in ForEachPoolWindow: a lambda does not
// inherit the target attribute, so the window body would be an out-of-line call per
// output pixel that reloads the geometry and the bound vectors each time.
template <typename L>
QAUDIT_AVX512BW void MaxPoolLanes(const ConvGeometry& g, const typename L::T* in, typename L::T act_min,
                                  typename L::T act_max, typename L::T* out) {
  using T = typename L::T;
  const typename L::V lo = L::Set(act_min), hi = L::Set(act_max), lowest = L::Set(std::numeric_limits<T>::lowest());
  const int channels = g.in_c, in_h = g.in_h, in_w = g.in_w, out_h = g.out_h, out_w = g.out_w;
  const int filter_h = g.filter_h, filter_w = g.filter_w, stride_h = g.stride_h, stride_w = g.stride_w;
  const int pad_top = g.pad_top, pad_left = g.pad_left;
  const int64_t row = static_cast<int64_t>(in_w) * channels;
  // 2x2 windows at stride 2 without padding (the usual pooling after a convolution) take a
  // loop of four fixed loads over the output pixels whose window is whole.
  const bool halving = filter_h == 2 && filter_w == 2 && stride_h == 2 && stride_w == 2 && pad_top == 0 &&
                       pad_left == 0;
  const int whole_h = halving ? std::min(out_h, in_h / 2) : 0, whole_w = halving ? std::min(out_w, in_w / 2) : 0;
  const int64_t step = 2 * static_cast<int64_t>(channels);
  for (int b = 0; b < g.batch; ++b) {
    const T* image = in + static_cast<int64_t>(b) * in_h * row;
    for (int oy = 0; oy < out_h; ++oy) {
      T* o = out + (static_cast<int64_t>(b) * out_h + oy) * out_w * channels;
      int ox = 0;
      if (oy < whole_h) {
        const T* r0 = image + 2 * oy * row;
        const T* r1 = r0 + row;
        for (; ox < whole_w; ++ox, r0 += step, r1 += step, o += channels) {
          for (int c = 0; c < channels; c += L::kLanes) {
            const typename L::Mask mask = L::Prefix(channels - c);
            typename L::V m = L::Max(L::Load(mask, r0 + c), lowest);
            m = L::Max(L::Load(mask, r0 + channels + c), m);
            m = L::Max(L::Load(mask, r1 + c), m);
            m = L::Max(L::Load(mask, r1 + channels + c), m);
            L::Store(channels - c, mask, o + c, L::Min(hi, L::Max(lo, m)));
          }
        }
      }
      const int y_origin = oy * stride_h - pad_top;
      const int y0 = std::max(y_origin, 0), y1 = std::min(y_origin + filter_h, in_h);
      for (; ox < out_w; ++ox, o += channels) {
        const int x_origin = ox * stride_w - pad_left;
        const int x0 = std::max(x_origin, 0), x1 = std::min(x_origin + filter_w, in_w);
        Window<L>(image, row, channels, y0, y1, x0, x1, lo, hi, lowest, o);
      }
    }
  }
}

}  // namespace

void MaxPoolAvx512(const ConvGeometry& g, const int8_t* in, int8_t act_min, int8_t act_max, int8_t* out) {
  MaxPoolLanes<Int8Lanes>(g, in, act_min, act_max, out);
}
void MaxPoolAvx512(const ConvGeometry& g, const float* in, float act_min, float act_max, float* out) {
  MaxPoolLanes<FloatLanes>(g, in, act_min, act_max, out);
}

}  // namespace qaudit::kernels
