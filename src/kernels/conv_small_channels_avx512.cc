#include "kernels/conv_small_channels_avx512.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <utility>
#include <vector>

// GCC 12 warns about the undefined first operand its own intrinsics headers pass to
// masked builtins (as -Wuninitialized where it inlines them into a template); the warning
// is about the header, not this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif

namespace qaudit::kernels {

#define QAUDIT_AVX512F __attribute__((target("avx512f")))

bool ConvSmallChannelsAvx512Available() {
  __builtin_cpu_init();
  static const bool available = __builtin_cpu_supports("avx512f");
  return available;
}

namespace {

constexpr int kLanes = 16;
constexpr int kMaxVectors = 4;  // output channels per pass: 64
// Output pixels per run, by vectors of output channels: the run's accumulators, a vector of
// weights per vector of channels and the broadcast input take at most 31 of the 32 zmm
// registers (7 pixels of 64 channels would take 33, and GCC spills an accumulator).
constexpr std::array<int, kMaxVectors> kMaxPixels = {16, 14, 9, 6};
constexpr int kMostPixels = 16;

}  // namespace

// Up to 8 input channels the direct kernel measured 1.1x to 5x faster than im2col + Sgemm
// on every shape tried (1x1 to 7x7 filters, strides 1 and 2, 7 to 112 pixels wide, 16 to
// 1000 output channels), most on a first layer's 1 to 3 channels (the zoo cnn's first
// layer: 5.5 us against 16 to 23 us an image); with more channels the margin shrinks (1.07x
// at 64) and a pass's weights (patch size times 64 floats) would outgrow the caches for
// large filters, which Sgemm's packing is built for. 3x3 stride-1 layers with 8 channels or
// more go to Winograd first.
constexpr int kMaxInputChannels = 8;

bool ConvSmallChannelsSuits(const ConvGeometry& g) {
  int64_t height = 0, width = 0;
  return g.in_c >= 1 && g.in_c <= kMaxInputChannels && g.out_c >= 1 && PaddedImageSize(g, &height, &width);
}

SmallChannelsWeights PrepareSmallChannelsWeights(const float* w, const ConvGeometry& g) {
  SmallChannelsWeights p;
  p.patch_size = g.patch_size();
  p.out_c = g.out_c;
  p.out_c_stride = (g.out_c + kLanes - 1) / kLanes * kLanes;
  p.w.assign(static_cast<size_t>(p.patch_size) * p.out_c_stride, 0.0f);
  // OHWI is [out_c][patch] with the patch in (ky, kx, ic) order: a transpose.
  for (int oc = 0; oc < g.out_c; ++oc) {
    for (int k = 0; k < p.patch_size; ++k) {
      p.w[static_cast<size_t>(k) * p.out_c_stride + oc] = w[static_cast<size_t>(oc) * p.patch_size + k];
    }
  }
  return p;
}

namespace {

__mmask16 Prefix(int n) { return n >= kLanes ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << n) - 1); }

// P output pixels of one row, step floats apart in the padded image (x is the first
// pixel's window corner), times NV vectors of output channels: out = clamp(bias + sum over
// the patch of x * w). offsets[k] is patch element k's place relative to the window corner;
// w is the weights' row 0 at this pass's first output channel, rows w_stride apart. The
// last vector of channels is stored under `last`.
template <int P, int NV>
QAUDIT_AVX512F void Run(int depth, const int64_t* offsets, const float* x, int64_t step, const float* w,
                        int64_t w_stride, const float* bias, __mmask16 last, float act_min, float act_max, float* o,
                        int64_t o_stride) {
  __m512 acc[P][NV];
#pragma GCC unroll 4
  for (int j = 0; j < NV; ++j) {
    const __m512 b = bias ? _mm512_maskz_loadu_ps(j == NV - 1 ? last : __mmask16{0xFFFF}, bias + j * kLanes)
                          : _mm512_setzero_ps();
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p) acc[p][j] = b;
  }
  for (int k = 0; k < depth; ++k) {
    __m512 wv[NV];
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) wv[j] = _mm512_load_ps(w + k * w_stride + j * kLanes);
    const float* xk = x + offsets[k];
#pragma GCC unroll 16
    for (int p = 0; p < P; ++p) {
      const __m512 a = _mm512_set1_ps(xk[p * step]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[p][j] = _mm512_fmadd_ps(a, wv[j], acc[p][j]);
    }
  }
  const __m512 lo = _mm512_set1_ps(act_min), hi = _mm512_set1_ps(act_max);
#pragma GCC unroll 16
  for (int p = 0; p < P; ++p) {
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) {
      // min(max(v, lo), hi) as the reference's std::min(std::max(...)): NaN stays NaN.
      const __m512 v = _mm512_min_ps(hi, _mm512_max_ps(lo, acc[p][j]));
      float* out = o + p * o_stride + j * kLanes;
      if (j == NV - 1 && last != 0xFFFF) {
        _mm512_mask_storeu_ps(out, last, v);
      } else {
        _mm512_storeu_ps(out, v);
      }
    }
  }
}

using RunFn = void (*)(int, const int64_t*, const float*, int64_t, const float*, int64_t, const float*, __mmask16,
                       float, float, float*, int64_t);

template <int NV, int... P>
constexpr std::array<RunFn, kMostPixels> RunsOfWidth(std::integer_sequence<int, P...>) {
  return {(P + 1 <= kMaxPixels[NV - 1] ? &Run<(P + 1 <= kMaxPixels[NV - 1] ? P + 1 : 1), NV> : nullptr)...};
}

// kRun[nv - 1][p - 1] computes p pixels and nv vectors of output channels.
constexpr std::array<std::array<RunFn, kMostPixels>, kMaxVectors> kRun = {
    RunsOfWidth<1>(std::make_integer_sequence<int, kMostPixels>()),
    RunsOfWidth<2>(std::make_integer_sequence<int, kMostPixels>()),
    RunsOfWidth<3>(std::make_integer_sequence<int, kMostPixels>()),
    RunsOfWidth<4>(std::make_integer_sequence<int, kMostPixels>())};

}  // namespace

QAUDIT_AVX512F void ConvSmallChannelsAvx512(const ConvGeometry& g, const float* in, const SmallChannelsWeights& w,
                                            const float* bias, float act_min, float act_max, float* out) {
  if (g.out_h <= 0 || g.out_w <= 0) return;
  thread_local PaddedImage<float> image;
  thread_local std::vector<int64_t> offsets;
  const int depth = w.patch_size;
  const int64_t in_c = g.in_c, out_c = g.out_c;
  const int64_t step = g.stride_w * in_c;
  const int64_t out_image = static_cast<int64_t>(g.out_h) * g.out_w * out_c;
  for (int b = 0; b < g.batch; ++b) {
    const bool padded = PadImage(g, in, b, 0.0f, [](float v) { return v; }, &image);
    if (!padded) return;  // ConvSmallChannelsSuits excludes this
    const int64_t row = image.width * in_c;
    if (b == 0) {
      offsets.resize(depth);
      for (int ky = 0, k = 0; ky < g.filter_h; ++ky) {
        for (int kx = 0; kx < g.filter_w; ++kx) {
          for (int ic = 0; ic < g.in_c; ++ic, ++k) {
            offsets[k] = ky * g.dilation_h * row + static_cast<int64_t>(kx) * g.dilation_w * in_c + ic;
          }
        }
      }
    }
    for (int oy = 0; oy < g.out_h; ++oy) {
      const float* x_row = image.data.data() + static_cast<int64_t>(oy) * g.stride_h * row;
      float* o_row = out + b * out_image + static_cast<int64_t>(oy) * g.out_w * out_c;
      for (int c = 0; c < g.out_c; c += kMaxVectors * kLanes) {
        const int nv = std::min<int>(kMaxVectors, (g.out_c - c + kLanes - 1) / kLanes);
        const __mmask16 last = Prefix(g.out_c - c - (nv - 1) * kLanes);
        // Runs of nearly equal length (30 pixels of 32 channels: three of 10, not 14, 14 and
        // 2, whose few accumulator chains would wait on the FMA latency).
        const int most = kMaxPixels[nv - 1];
        const int runs = (g.out_w + most - 1) / most;
        for (int r = 0, ox = 0; r < runs; ++r) {
          const int pixels = g.out_w / runs + (r < g.out_w % runs ? 1 : 0);
          kRun[nv - 1][pixels - 1](depth, offsets.data(), x_row + ox * step, step, w.data() + c, w.out_c_stride,
                                   bias ? bias + c : nullptr, last, act_min, act_max, o_row + ox * out_c + c, out_c);
          ox += pixels;
        }
      }
    }
  }
}

}  // namespace qaudit::kernels
