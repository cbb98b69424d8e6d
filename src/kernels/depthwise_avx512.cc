#include "kernels/depthwise_avx512.h"

#include <immintrin.h>

#include <algorithm>
#include <cstdint>
#include <vector>

// GCC 12 warns about the undefined first operand its own intrinsics headers pass to
// masked builtins; the warning is about the header, not this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace qaudit::kernels {

#define QAUDIT_AVX512F __attribute__((target("avx512f")))

bool DepthwiseConvFloatAvx512Available() {
  __builtin_cpu_init();
  static const bool available = __builtin_cpu_supports("avx512f");
  return available;
}

namespace {

constexpr int kLanes = 16;
constexpr int kMaxBlocks = 4;  // independent accumulator chains per step, to hide vaddps latency

__mmask16 Prefix(int n) { return n >= kLanes ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << n) - 1); }

// With a depth multiplier m, output channels [c, c + 16) read input channels c / m ...
// (c + 15) / m: one load of 16 input channels from c / m, then a permutation.
struct MultiplierBlock {
  int first_in = 0;
  __mmask16 in_mask = 0;
  alignas(64) int32_t index[kLanes] = {};
};

// Output channels [c, c + N * 16) of one output pixel. `x[t]` is tap t's input pixel (its
// channel 0), `w[t]` its weights; the taps are in the reference's order.
template <int N, bool kMultiplier>
QAUDIT_AVX512F inline void Blocks(int channels, int c, int taps, const float* const* x, const float* const* w,
                                  const float* bias, const MultiplierBlock* mb, __m512 lo, __m512 hi, float* o) {
  __mmask16 mask[N];
  __m512 acc[N];
  __m512i index[N];
  for (int j = 0; j < N; ++j) {
    mask[j] = Prefix(channels - c - j * kLanes);
    acc[j] = bias ? _mm512_maskz_loadu_ps(mask[j], bias + c + j * kLanes) : _mm512_setzero_ps();
    if constexpr (kMultiplier) index[j] = _mm512_load_si512(mb[j].index);
  }
  for (int t = 0; t < taps; ++t) {
    for (int j = 0; j < N; ++j) {
      __m512 xv;
      if constexpr (kMultiplier) {
        xv = _mm512_permutexvar_ps(index[j], _mm512_maskz_loadu_ps(mb[j].in_mask, x[t] + mb[j].first_in));
      } else {
        xv = _mm512_maskz_loadu_ps(mask[j], x[t] + c + j * kLanes);
      }
      const __m512 wv = _mm512_maskz_loadu_ps(mask[j], w[t] + c + j * kLanes);
      acc[j] = _mm512_add_ps(acc[j], _mm512_mul_ps(xv, wv));
    }
  }
  for (int j = 0; j < N; ++j) {
    // std::max(acc, lo) is acc < lo ? lo : acc, which is vmaxps(lo, acc) (it returns its
    // second operand when either is NaN); std::min(v, hi) likewise is vminps(hi, v).
    const __m512 v = _mm512_min_ps(hi, _mm512_max_ps(lo, acc[j]));
    if (mask[j] == 0xFFFF) {
      _mm512_storeu_ps(o + c + j * kLanes, v);
    } else {
      _mm512_mask_storeu_ps(o + c + j * kLanes, mask[j], v);
    }
  }
}

template <bool kMultiplier>
QAUDIT_AVX512F void Pixel(int channels, int taps, const float* const* x, const float* const* w, const float* bias,
                          const MultiplierBlock* mb, __m512 lo, __m512 hi, float* o) {
  int c = 0;
  for (; channels - c > (kMaxBlocks - 1) * kLanes; c += kMaxBlocks * kLanes) {
    Blocks<kMaxBlocks, kMultiplier>(channels, c, taps, x, w, bias, mb + c / kLanes, lo, hi, o);
  }
  const int rest = (channels - c + kLanes - 1) / kLanes;
  if (rest == 3) Blocks<3, kMultiplier>(channels, c, taps, x, w, bias, mb + c / kLanes, lo, hi, o);
  if (rest == 2) Blocks<2, kMultiplier>(channels, c, taps, x, w, bias, mb + c / kLanes, lo, hi, o);
  if (rest == 1) Blocks<1, kMultiplier>(channels, c, taps, x, w, bias, mb + c / kLanes, lo, hi, o);
}

}  // namespace

QAUDIT_AVX512F void DepthwiseConvFloatAvx512(const ConvGeometry& g, const float* in, const float* w,
                                             const float* bias, float act_min, float act_max, float* out) {
  const int channels = g.out_c, multiplier = g.depth_multiplier;
  const int blocks = (channels + kLanes - 1) / kLanes;
  std::vector<MultiplierBlock> mb(multiplier == 1 ? 0 : blocks);
  for (int k = 0; k < static_cast<int>(mb.size()); ++k) {
    const int c = k * kLanes;
    mb[k].first_in = c / multiplier;
    mb[k].in_mask = Prefix(g.in_c - mb[k].first_in);
    for (int i = 0; i < kLanes; ++i) mb[k].index[i] = (c + i) / multiplier - mb[k].first_in;  // < 16 for m >= 2
  }
  // The taps of the current output pixel that fall inside the image.
  std::vector<const float*> tap_x(static_cast<size_t>(g.filter_h) * g.filter_w);
  std::vector<const float*> tap_w(tap_x.size());
  const __m512 lo = _mm512_set1_ps(act_min), hi = _mm512_set1_ps(act_max);
  for (int b = 0; b < g.batch; ++b) {
    for (int oy = 0; oy < g.out_h; ++oy) {
      for (int ox = 0; ox < g.out_w; ++ox) {
        int taps = 0;
        ForEachInsideTap(g, b, oy, ox, [&](int ky, int kx, int64_t offset) {
          tap_x[taps] = in + offset;
          tap_w[taps] = w + (static_cast<int64_t>(ky) * g.filter_w + kx) * channels;
          ++taps;
        });
        float* o = out + ((static_cast<int64_t>(b) * g.out_h + oy) * g.out_w + ox) * channels;
        if (multiplier == 1) {
          Pixel<false>(channels, taps, tap_x.data(), tap_w.data(), bias, nullptr, lo, hi, o);
        } else {
          Pixel<true>(channels, taps, tap_x.data(), tap_w.data(), bias, mb.data(), lo, hi, o);
        }
      }
    }
  }
}

}  // namespace qaudit::kernels
