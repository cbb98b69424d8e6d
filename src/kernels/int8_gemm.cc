#include "kernels/int8_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

// GCC 12 warns about the undefined first operand its own intrinsics headers pass to
// masked builtins (_mm512_undefined_epi32); the warning is about the header, not this code.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace qaudit::kernels {

#define QAUDIT_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))

bool Int8GemmAvailable() {
  __builtin_cpu_init();
  static const bool available = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni");
  return available;
}

namespace {

constexpr int kBlock = 16;  // output channels per zmm of int32 accumulators

int RoundUp(int x, int multiple) { return (x + multiple - 1) / multiple * multiple; }

}  // namespace

Int8GemmWeights PackInt8GemmWeights(const int8_t* w, int n, int k, const int32_t* bias, int32_t input_zero_point) {
  Int8GemmWeights p;
  p.n = n, p.k = k;
  p.n_padded = RoundUp(n, kBlock), p.k_padded = RoundUp(k, 4);
  p.packed.assign(static_cast<size_t>(p.n_padded) * p.k_padded, 0);
  p.offset.assign(p.n_padded, 0);
  for (int c = 0; c < n; ++c) {
    const int8_t* row = w + static_cast<int64_t>(c) * k;
    int8_t* block = p.packed.data() + static_cast<int64_t>(c / kBlock) * kBlock * p.k_padded;
    uint32_t sum = 0;  // modulo 2^32, as the accumulator
    for (int i = 0; i < k; ++i) {
      block[(i / 4) * kBlock * 4 + (c % kBlock) * 4 + i % 4] = row[i];
      sum += static_cast<uint32_t>(row[i]);
    }
    const uint32_t b = bias ? static_cast<uint32_t>(bias[c]) : 0;
    p.offset[c] = static_cast<int32_t>(b - static_cast<uint32_t>(input_zero_point + 128) * sum);
  }
  return p;
}

Int8GemmWeights PackInt8ConvWeights(const int8_t* w, const ConvGeometry& g, const int32_t* bias,
                                    int32_t input_zero_point) {
  if (g.dilation_w != 1) return PackInt8GemmWeights(w, g.out_c, g.patch_size(), bias, input_zero_point);
  const int run = g.filter_w * g.in_c, run_padded = RoundUp(run, 4), k = g.filter_h * run_padded;
  std::vector<int8_t> segmented(static_cast<size_t>(g.out_c) * k, 0);
  for (int c = 0; c < g.out_c; ++c) {
    for (int ky = 0; ky < g.filter_h; ++ky) {
      std::copy_n(w + (static_cast<int64_t>(c) * g.filter_h + ky) * run, run,
                  segmented.data() + static_cast<int64_t>(c) * k + ky * run_padded);
    }
  }
  Int8GemmWeights p = PackInt8GemmWeights(segmented.data(), g.out_c, k, bias, input_zero_point);
  p.segments = g.filter_h;
  return p;
}

Int8Requantization MakeInt8Requantization(const OutputStage& stage) {
  Int8Requantization r;
  r.rounding = stage.rounding;
  const int padded = RoundUp(static_cast<int>(stage.multipliers.size()), kBlock);
  r.multiplier.assign(padded, 0);
  r.right_shift.assign(padded, 0);
  r.shift64.assign(padded, 0);
  r.round64.assign(padded, 0);
  r.scale.assign(padded, 0.0f);
  for (int c = 0; c < padded; ++c) {
    // Padding channels get multiplier 0 and shift 0, which every rule handles.
    const QuantizedMultiplier m =
        c < static_cast<int>(stage.multipliers.size()) ? stage.multipliers[c] : QuantizedMultiplier{};
    const int lane = c / kBlock * kBlock + (c % 2) * (kBlock / 2) + (c % kBlock) / 2;
    r.multiplier[c] = m.multiplier;
    r.right_shift[c] = std::max(-m.shift, 0);
    if (stage.rounding == Rounding::kSingle) {
      r.shift64[lane] = 31 - m.shift;
      r.round64[lane] = int64_t{1} << (30 - m.shift);
    } else {
      r.shift64[lane] = std::max(m.shift, 0);
    }
    if (c < static_cast<int>(stage.scales.size())) r.scale[c] = stage.scales[c];
  }
  r.zero_point = stage.zero_point, r.act_min = stage.act_min, r.act_max = stage.act_max;
  return r;
}

namespace {

// Where the rows of A are: row i is `segments` runs of `quads` * 4 bytes, the first at
// row[i], the next `segment_stride` bytes further (a convolution reads one run per filter
// row from the padded image; a plain matrix has one run per row).
struct RowsOfA {
  int segments;
  int quads;  // per segment
  int64_t segment_stride;
};

// A kRows x (16 * kBlocks) tile of acc over the whole shared dimension: kRows * kBlocks
// accumulators stay in zmm registers; each step of four taps loads kBlocks weight vectors
// and broadcasts four bytes of each row. `row` holds kRows pointers; rows at or past
// `rows` are computed (from whatever they point at) but not stored.
template <int kRows, int kBlocks>
QAUDIT_VNNI void MicroKernel(int rows, const uint8_t* const* row, const RowsOfA& a, const int8_t* w,
                             int64_t block_bytes, const int32_t* offset, int32_t* acc, int64_t ldc) {
  __m512i sum[kRows][kBlocks];
#pragma GCC unroll 4
  for (int j = 0; j < kBlocks; ++j) {
    const __m512i o = _mm512_loadu_si512(offset + j * kBlock);
#pragma GCC unroll 24
    for (int i = 0; i < kRows; ++i) sum[i][j] = o;
  }
  for (int s = 0; s < a.segments; ++s) {
    const uint8_t* r[kRows];
#pragma GCC unroll 24
    for (int i = 0; i < kRows; ++i) r[i] = row[i] + s * a.segment_stride;
    for (int q = 0; q < a.quads; ++q, w += 64) {
      __m512i wv[kBlocks];
#pragma GCC unroll 4
      for (int j = 0; j < kBlocks; ++j) wv[j] = _mm512_loadu_si512(w + j * block_bytes);
#pragma GCC unroll 24
      for (int i = 0; i < kRows; ++i) {
        int32_t four;
        std::memcpy(&four, r[i] + 4 * q, 4);
        const __m512i av = _mm512_set1_epi32(four);
#pragma GCC unroll 4
        for (int j = 0; j < kBlocks; ++j) sum[i][j] = _mm512_dpbusd_epi32(sum[i][j], av, wv[j]);
      }
    }
  }
#pragma GCC unroll 24
  for (int i = 0; i < kRows; ++i) {
    if (i >= rows) break;
#pragma GCC unroll 4
    for (int j = 0; j < kBlocks; ++j) _mm512_storeu_si512(acc + i * ldc + j * kBlock, sum[i][j]);
  }
}

using MicroKernelFn = void (*)(int, const uint8_t* const*, const RowsOfA&, const int8_t*, int64_t, const int32_t*,
                               int32_t*, int64_t);

// Tiles that keep 24 accumulators in registers, by the number of channel blocks; the
// one-row kernels take the rows left over (a batch-1 FULLY_CONNECTED is one row).
struct TileKernel {
  int rows;
  MicroKernelFn fn;
  MicroKernelFn one_row;
};
constexpr TileKernel kTiles[5] = {
    {},
    {12, MicroKernel<12, 1>, MicroKernel<1, 1>},
    {12, MicroKernel<12, 2>, MicroKernel<1, 2>},
    {8, MicroKernel<8, 3>, MicroKernel<1, 3>},
    {6, MicroKernel<6, 4>, MicroKernel<1, 4>},
};
constexpr int kMaxTileRows = 12;

// acc = A x weights for the m rows `row_of(i)` points at.
template <typename RowOf>
void Gemm(int m, RowOf row_of, const RowsOfA& a, const Int8GemmWeights& w, int32_t* acc) {
  const int blocks = w.n_padded / kBlock;
  const int64_t block_bytes = static_cast<int64_t>(w.k_padded) * kBlock;
  const int64_t ldc = w.n_padded;
  for (int b0 = 0; b0 < blocks; b0 += 4) {
    const TileKernel& tile = kTiles[std::min(4, blocks - b0)];
    const int8_t* panel = w.packed.data() + b0 * block_bytes;
    const int32_t* offset = w.offset.data() + b0 * kBlock;
    const uint8_t* rows[kMaxTileRows];
    int i = 0;
    for (; i + tile.rows <= m; i += tile.rows) {
      for (int r = 0; r < tile.rows; ++r) rows[r] = row_of(i + r);
      tile.fn(tile.rows, rows, a, panel, block_bytes, offset, acc + i * ldc + b0 * kBlock, ldc);
    }
    for (; i < m; ++i) {
      rows[0] = row_of(i);
      tile.one_row(1, rows, a, panel, block_bytes, offset, acc + i * ldc + b0 * kBlock, ldc);
    }
  }
}

}  // namespace

void Int8Gemm(int m, const uint8_t* a, int64_t lda, const Int8GemmWeights& w, int32_t* acc) {
  Gemm(
      m, [&](int i) { return a + i * lda; }, RowsOfA{1, w.k_padded / 4, 0}, w, acc);
}

namespace {

// 16 int32s in channel order from the even channels' and the odd channels' 64-bit
// results, each saturated to int32 (as std::clamp to the int32 range).
QAUDIT_VNNI inline __m512i InterleaveSaturated(__m512i even, __m512i odd) {
  const __m512i order = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  return _mm512_permutex2var_epi32(_mm512_castsi256_si512(_mm512_cvtsepi64_epi32(even)), order,
                                   _mm512_castsi256_si512(_mm512_cvtsepi64_epi32(odd)));
}

// MultiplyByQuantizedMultiplierSingleRounding on channels [c, c + 16): vpmuldq multiplies
// the low halves of the 64-bit lanes, i.e. the even channels, then (shifted down) the odd.
QAUDIT_VNNI inline __m512i SingleRounding(const Int8Requantization& r, int c, __m512i x, __m512i m) {
  const __m512i even =
      _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(x, m), _mm512_loadu_si512(r.round64.data() + c)),
                        _mm512_loadu_si512(r.shift64.data() + c));
  const __m512i odd =
      _mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(_mm512_srli_epi64(x, 32), _mm512_srli_epi64(m, 32)),
                                         _mm512_loadu_si512(r.round64.data() + c + 8)),
                        _mm512_loadu_si512(r.shift64.data() + c + 8));
  return InterleaveSaturated(even, odd);
}

// SaturatingRoundingDoublingHighMul(x * 2^left saturated, m) of one parity's 64-bit lanes
// (x sign-extended). The multiplier is never INT32_MIN, so the one saturating case of
// SaturatingRoundingDoublingHighMul cannot occur.
QAUDIT_VNNI inline __m512i DoublingHighMul(__m512i x64, __m512i left, __m512i m) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i shifted = _mm512_min_epi64(_mm512_max_epi64(_mm512_sllv_epi64(x64, left), _mm512_set1_epi64(INT32_MIN)),
                                           _mm512_set1_epi64(INT32_MAX));
  const __m512i ab = _mm512_mul_epi32(shifted, m);
  const __mmask8 negative = _mm512_cmplt_epi64_mask(ab, zero);
  const __m512i nudge =
      _mm512_mask_blend_epi64(negative, _mm512_set1_epi64(int64_t{1} << 30), _mm512_set1_epi64(1 - (int64_t{1} << 30)));
  const __m512i sum = _mm512_add_epi64(ab, nudge);
  // sum / 2^31 truncated toward zero: add 2^31 - 1 to negative sums before the shift.
  const __mmask8 sum_negative = _mm512_cmplt_epi64_mask(sum, zero);
  return _mm512_srai_epi64(_mm512_mask_add_epi64(sum, sum_negative, sum, _mm512_set1_epi64((int64_t{1} << 31) - 1)),
                           31);
}

// MultiplyByQuantizedMultiplierDoubleRounding on channels [c, c + 16).
QAUDIT_VNNI inline __m512i DoubleRounding(const Int8Requantization& r, int c, __m512i x, __m512i m) {
  const __m512i even =
      DoublingHighMul(_mm512_srai_epi64(_mm512_slli_epi64(x, 32), 32), _mm512_loadu_si512(r.shift64.data() + c), m);
  const __m512i odd =
      DoublingHighMul(_mm512_srai_epi64(x, 32), _mm512_loadu_si512(r.shift64.data() + c + 8), _mm512_srli_epi64(m, 32));
  const __m512i high = InterleaveSaturated(even, odd);  // already in int32 range
  // RoundingDivideByPOT(high, right).
  const __m512i zero = _mm512_setzero_si512(), one = _mm512_set1_epi32(1);
  const __m512i right = _mm512_loadu_si512(r.right_shift.data() + c);
  const __m512i mask = _mm512_sub_epi32(_mm512_sllv_epi32(one, right), one);
  const __m512i remainder = _mm512_and_si512(high, mask);
  const __m512i half = _mm512_srai_epi32(mask, 1);
  const __m512i threshold = _mm512_mask_add_epi32(half, _mm512_cmplt_epi32_mask(high, zero), half, one);
  const __m512i quotient = _mm512_srav_epi32(high, right);
  return _mm512_mask_add_epi32(quotient, _mm512_cmpgt_epi32_mask(remainder, threshold), quotient, one);
}

template <Rounding R>
QAUDIT_VNNI void RequantizeRows(const Int8Requantization& r, const int32_t* acc, int64_t ld_acc, int m, int n,
                                int8_t* out, int64_t ld_out) {
  const __m512i zp = _mm512_set1_epi32(r.zero_point);
  const __m512i lo = _mm512_set1_epi32(r.act_min), hi = _mm512_set1_epi32(r.act_max);
  const __m512 lo_less_zp = _mm512_set1_ps(static_cast<float>(r.act_min - r.zero_point));
  const __m512 hi_less_zp = _mm512_set1_ps(static_cast<float>(r.act_max - r.zero_point));
  for (int i = 0; i < m; ++i) {
    const int32_t* a = acc + i * ld_acc;
    int8_t* o = out + i * ld_out;
    for (int c = 0; c < n; c += kBlock) {
      const __mmask16 valid = n - c >= kBlock ? __mmask16{0xFFFF} : static_cast<__mmask16>((1u << (n - c)) - 1);
      const __m512i x = _mm512_loadu_si512(a + c);
      __m512i v;
      if constexpr (R == Rounding::kFp32) {
        __m512 f = _mm512_mul_ps(_mm512_cvtepi32_ps(x), _mm512_loadu_ps(r.scale.data() + c));
        f = _mm512_min_ps(_mm512_max_ps(f, lo_less_zp), hi_less_zp);
        v = _mm512_cvtps_epi32(f);  // round half to even (the default rounding mode), as nearbyintf
      } else {
        const __m512i mult = _mm512_loadu_si512(r.multiplier.data() + c);
        v = R == Rounding::kSingle ? SingleRounding(r, c, x, mult) : DoubleRounding(r, c, x, mult);
      }
      v = _mm512_add_epi32(v, zp);  // wraps, as WrapAdd
      v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
      // Narrowed in a register: vpmovdb with a memory operand is slow on AMD's Zen cores.
      const __m128i bytes = _mm512_cvtepi32_epi8(v);
      if (valid == 0xFFFF) {
        _mm_storeu_si128(reinterpret_cast<__m128i*>(o + c), bytes);
      } else {
        _mm_mask_storeu_epi8(o + c, valid, bytes);
      }
    }
  }
}

}  // namespace

void Requantize(const Int8Requantization& r, const int32_t* acc, int64_t ld_acc, int m, int n, int8_t* out,
                int64_t ld_out) {
  switch (r.rounding) {
    case Rounding::kDouble:
      RequantizeRows<Rounding::kDouble>(r, acc, ld_acc, m, n, out, ld_out);
      break;
    case Rounding::kSingle:
      RequantizeRows<Rounding::kSingle>(r, acc, ld_acc, m, n, out, ld_out);
      break;
    case Rounding::kFp32:
      RequantizeRows<Rounding::kFp32>(r, acc, ld_acc, m, n, out, ld_out);
      break;
    case Rounding::kInt64:
      break;  // 16x8 only; never packed for this path
  }
}

namespace {

// About 32 KiB of patches per pass, in a whole number of every tile height (6, 8, 12).
int RowsPerPass(int k_padded) { return std::clamp(32768 / k_padded / 24 * 24, 24, 240); }

}  // namespace

// Marked for the VNNI target so that the patch copies inlined here vectorize with it.
QAUDIT_VNNI void ConvInt8Vnni(const ConvGeometry& g, const int8_t* in, int32_t in_zp, const Int8GemmWeights& w,
                              const Int8Requantization& r, int8_t* out) {
  const int64_t pixels = static_cast<int64_t>(g.out_h) * g.out_w;
  const int rows_per_pass = RowsPerPass(w.k_padded);
  thread_local PaddedImage<uint8_t> image;
  thread_local std::vector<uint8_t> patches, patch;
  thread_local std::vector<int32_t> acc;
  patches.resize(static_cast<size_t>(rows_per_pass) * w.k_padded + 64);  // the copies below overrun by < 64
  patch.resize(g.patch_size());
  acc.resize(static_cast<size_t>(rows_per_pass) * w.n_padded);
  const auto zero = static_cast<uint8_t>(in_zp + 128);
  const auto to_unsigned = [](int8_t v) { return static_cast<uint8_t>(v + 128); };
  // Runs are short (3 bytes for a 3x3 filter over one channel), so they are copied in
  // whole vectors: the bytes written past a run's end are overwritten by the next run, or
  // fall in the row's padding to k_padded (zero weights), or in the slack of `patches`;
  // the reads past it stay within the padded image's slack. The narrowest vector that
  // holds the run keeps short runs from splitting cache lines.
  const auto copy = [](const uint8_t* src, int n, uint8_t* dst) QAUDIT_VNNI {
    if (n <= 16) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
    } else if (n <= 32) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)));
    } else {
      for (int i = 0; i < n; i += 64) _mm512_storeu_si512(dst + i, _mm512_loadu_si512(src + i));
    }
  };
  const int run = g.filter_w * g.in_c, run_padded = w.segments > 0 ? w.k_padded / w.segments : w.k_padded;
  for (int b = 0; b < g.batch; ++b) {
    const bool padded = PadImage(g, in, b, zero, to_unsigned, &image);
    const int64_t image_row = static_cast<int64_t>(image.width) * g.in_c;
    for (int64_t p0 = 0; p0 < pixels; p0 += rows_per_pass) {
      const int rows = static_cast<int>(std::min<int64_t>(rows_per_pass, pixels - p0));
      if (w.segments > 0 && padded) {
        // Patches read in place: output pixel p's filter row ky starts at padded pixel
        // (oy * stride_h + ky * dilation_h, ox * stride_w).
        const auto row_of = [&](int i) {
          const int oy = static_cast<int>((p0 + i) / g.out_w), ox = static_cast<int>((p0 + i) % g.out_w);
          return image.data.data() + oy * g.stride_h * image_row + static_cast<int64_t>(ox) * g.stride_w * g.in_c;
        };
        Gemm(rows, row_of, RowsOfA{w.segments, run_padded / 4, image_row * g.dilation_h}, w, acc.data());
      } else {
        for (int i = 0; i < rows; ++i) {
          const int oy = static_cast<int>((p0 + i) / g.out_w), ox = static_cast<int>((p0 + i) % g.out_w);
          uint8_t* dst = patches.data() + static_cast<int64_t>(i) * w.k_padded;
          if (w.segments == 0 && padded) {
            PatchFromPadded(g, image, oy, ox, copy, dst);
            continue;
          }
          GatherPatch(g, in, b, oy, ox, zero, to_unsigned, patch.data());
          if (w.segments == 0) {
            std::copy(patch.begin(), patch.end(), dst);
            continue;
          }
          for (int ky = 0; ky < g.filter_h; ++ky) std::copy_n(patch.data() + ky * run, run, dst + ky * run_padded);
        }
        Gemm(
            rows, [&](int i) { return patches.data() + static_cast<int64_t>(i) * w.k_padded; },
            RowsOfA{std::max(w.segments, 1), run_padded / 4, run_padded}, w, acc.data());
      }
      Requantize(r, acc.data(), w.n_padded, rows, g.out_c, out + (b * pixels + p0) * g.out_c, g.out_c);
    }
  }
}

// Marked for the VNNI target so that the conversion loop vectorizes with it.
QAUDIT_VNNI void FullyConnectedInt8Vnni(int rows, const int8_t* const* x, const Int8GemmWeights& w,
                                        const Int8Requantization& r, int8_t* const* y) {
  thread_local std::vector<uint8_t> a;
  thread_local std::vector<int32_t> acc;
  a.resize(static_cast<size_t>(rows) * w.k_padded);
  acc.resize(static_cast<size_t>(rows) * w.n_padded);
  for (int i = 0; i < rows; ++i) {
    uint8_t* row = a.data() + static_cast<int64_t>(i) * w.k_padded;
    for (int k = 0; k < w.k; ++k) row[k] = static_cast<uint8_t>(x[i][k] + 128);
  }
  Int8Gemm(rows, a.data(), w.k_padded, w, acc.data());
  for (int i = 0; i < rows; ++i)
    Requantize(r, acc.data() + static_cast<int64_t>(i) * w.n_padded, w.n_padded, 1, w.n, y[i], w.n);
}

QAUDIT_VNNI void DepthwiseConvInt8Avx512(const ConvGeometry& g, const int8_t* in, int32_t in_zp, const int16_t* w16,
                                         const int32_t* bias, const Int8Requantization& r, int8_t* out) {
  // 32 channels per step. (x - zp) * w is at most 255 * 128 in magnitude, so the products
  // are exact in int16 (vpmullw); they are widened to int32 before the sum.
  constexpr int kStep = 2 * kBlock;
  const int channels = g.out_c, padded = RoundUp(channels, kStep);
  thread_local std::vector<int32_t> acc;  // one output row
  acc.resize(static_cast<size_t>(g.out_w) * padded);
  const __m512i zp = _mm512_set1_epi16(static_cast<int16_t>(in_zp));
  for (int b = 0; b < g.batch; ++b) {
    for (int oy = 0; oy < g.out_h; ++oy) {
      const int y_origin = oy * g.stride_h - g.pad_top;
      for (int ox = 0; ox < g.out_w; ++ox) {
        const int x_origin = ox * g.stride_w - g.pad_left;
        for (int c = 0; c < channels; c += kStep) {
          const __mmask32 valid = channels - c >= kStep ? ~__mmask32{0} : (__mmask32{1} << (channels - c)) - 1;
          __m512i low =
              bias ? _mm512_maskz_loadu_epi32(static_cast<__mmask16>(valid), bias + c) : _mm512_setzero_si512();
          __m512i high = bias ? _mm512_maskz_loadu_epi32(static_cast<__mmask16>(valid >> 16), bias + c + 16)
                              : _mm512_setzero_si512();
          for (int ky = 0; ky < g.filter_h; ++ky) {
            const int iy = y_origin + ky * g.dilation_h;
            if (iy < 0 || iy >= g.in_h) continue;
            for (int kx = 0; kx < g.filter_w; ++kx) {
              const int ix = x_origin + kx * g.dilation_w;
              if (ix < 0 || ix >= g.in_w) continue;
              const int8_t* x = in + ((static_cast<int64_t>(b) * g.in_h + iy) * g.in_w + ix) * g.in_c + c;
              const int16_t* w = w16 + (static_cast<int64_t>(ky) * g.filter_w + kx) * channels + c;
              const __m512i xv = _mm512_sub_epi16(_mm512_cvtepi8_epi16(_mm256_maskz_loadu_epi8(valid, x)), zp);
              const __m512i product = _mm512_mullo_epi16(xv, _mm512_maskz_loadu_epi16(valid, w));
              // Sums wrap, as WrapAdd.
              low = _mm512_add_epi32(low, _mm512_cvtepi16_epi32(_mm512_castsi512_si256(product)));
              high = _mm512_add_epi32(high, _mm512_cvtepi16_epi32(_mm512_extracti64x4_epi64(product, 1)));
            }
          }
          int32_t* a = acc.data() + static_cast<int64_t>(ox) * padded + c;
          _mm512_storeu_si512(a, low);
          _mm512_storeu_si512(a + kBlock, high);
        }
      }
      Requantize(r, acc.data(), padded, g.out_w, channels,
                 out + ((static_cast<int64_t>(b) * g.out_h + oy) * g.out_w) * channels, channels);
    }
  }
}

}  // namespace qaudit::kernels
