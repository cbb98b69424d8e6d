#include "kernels/int8_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

// GCC 12 warns about the undefined first operand its own intrinsics headers pass to
// masked builtins (_mm512_undefined_epi32); the warning is about the header, not this code.
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

namespace qaudit::kernels {

#define QAUDIT_VNNI __attribute__((target("avx512f,avx512bw,avx512vnni")))

bool Int8GemmAvailable() {
  __builtin_cpu_init();
  static const bool available = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                __builtin_cpu_supports("avx512vnni");
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

Int8Requantization MakeInt8Requantization(const OutputStage& stage) {
  Int8Requantization r;
  r.rounding = stage.rounding;
  const int padded = RoundUp(static_cast<int>(stage.multipliers.size()), kBlock);
  r.multiplier.assign(padded, 0);
  r.shift.assign(padded, 0);
  r.scale.assign(padded, 0.0f);
  for (size_t c = 0; c < stage.multipliers.size(); ++c) {
    r.multiplier[c] = stage.multipliers[c].multiplier;
    r.shift[c] = stage.multipliers[c].shift;
    if (c < stage.scales.size()) r.scale[c] = stage.scales[c];
  }
  r.zero_point = stage.zero_point, r.act_min = stage.act_min, r.act_max = stage.act_max;
  return r;
}

namespace {

// A kRows x (16 * kBlocks) tile of acc over the whole shared dimension: kRows * kBlocks
// accumulators stay in zmm registers; each step of four taps loads kBlocks weight vectors
// and broadcasts four bytes of each row. Rows at or past `rows` read row 0 and are not
// stored.
template <int kRows, int kBlocks>
QAUDIT_VNNI void MicroKernel(int rows, int quads, const uint8_t* a, int64_t lda, const int8_t* w, int64_t block_bytes,
                             const int32_t* offset, int32_t* acc, int64_t ldc) {
  const uint8_t* row[kRows];
#pragma GCC unroll 24
  for (int i = 0; i < kRows; ++i) row[i] = a + (i < rows ? i : 0) * lda;
  __m512i sum[kRows][kBlocks];
#pragma GCC unroll 4
  for (int j = 0; j < kBlocks; ++j) {
    const __m512i o = _mm512_loadu_si512(offset + j * kBlock);
#pragma GCC unroll 24
    for (int i = 0; i < kRows; ++i) sum[i][j] = o;
  }
  for (int q = 0; q < quads; ++q) {
    __m512i wv[kBlocks];
#pragma GCC unroll 4
    for (int j = 0; j < kBlocks; ++j) wv[j] = _mm512_loadu_si512(w + j * block_bytes + q * 64);
#pragma GCC unroll 24
    for (int i = 0; i < kRows; ++i) {
      int32_t four;
      std::memcpy(&four, row[i] + 4 * q, 4);
      const __m512i av = _mm512_set1_epi32(four);
#pragma GCC unroll 4
      for (int j = 0; j < kBlocks; ++j) sum[i][j] = _mm512_dpbusd_epi32(sum[i][j], av, wv[j]);
    }
  }
#pragma GCC unroll 24
  for (int i = 0; i < kRows; ++i) {
    if (i >= rows) break;
#pragma GCC unroll 4
    for (int j = 0; j < kBlocks; ++j) _mm512_storeu_si512(acc + i * ldc + j * kBlock, sum[i][j]);
  }
}

using MicroKernelFn = void (*)(int, int, const uint8_t*, int64_t, const int8_t*, int64_t, const int32_t*, int32_t*,
                               int64_t);

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

}  // namespace

void Int8Gemm(int m, const uint8_t* a, int64_t lda, const Int8GemmWeights& w, int32_t* acc) {
  const int blocks = w.n_padded / kBlock, quads = w.k_padded / 4;
  const int64_t block_bytes = static_cast<int64_t>(w.k_padded) * kBlock;
  const int64_t ldc = w.n_padded;
  for (int b0 = 0; b0 < blocks; b0 += 4) {
    const TileKernel& tile = kTiles[std::min(4, blocks - b0)];
    const int8_t* panel = w.packed.data() + b0 * block_bytes;
    const int32_t* offset = w.offset.data() + b0 * kBlock;
    int i = 0;
    for (; i + tile.rows <= m; i += tile.rows) {
      tile.fn(tile.rows, quads, a + i * lda, lda, panel, block_bytes, offset, acc + i * ldc + b0 * kBlock, ldc);
    }
    for (; i < m; ++i) {
      tile.one_row(1, quads, a + i * lda, lda, panel, block_bytes, offset, acc + i * ldc + b0 * kBlock, ldc);
    }
  }
}

namespace {

// Packs the low 32 bits of the int64 lanes of `even` and `odd` (lanes 2i and 2i + 1 of a
// 16 x int32 vector) back into one vector.
QAUDIT_VNNI inline __m512i Interleave(__m512i even, __m512i odd) {
  return _mm512_mask_blend_epi32(0xAAAA, even, _mm512_slli_epi64(odd, 32));
}

QAUDIT_VNNI inline __m512i Clamp64ToInt32(__m512i x) {
  return _mm512_min_epi64(_mm512_max_epi64(x, _mm512_set1_epi64(INT32_MIN)), _mm512_set1_epi64(INT32_MAX));
}

// MultiplyByQuantizedMultiplierSingleRounding on 16 lanes: the even and odd lanes are
// multiplied in 64 bits separately (vpmuldq reads the low half of each 64-bit lane).
QAUDIT_VNNI inline __m512i SingleRounding(__m512i x, __m512i m, __m512i shift) {
  const __m512i total = _mm512_sub_epi32(_mm512_set1_epi32(31), shift);  // 17..62
  const __m512i low = _mm512_set1_epi64(0xFFFFFFFF), one = _mm512_set1_epi64(1);
  __m512i half[2];
  for (int odd = 0; odd < 2; ++odd) {
    const __m512i xs = odd ? _mm512_srli_epi64(x, 32) : x;
    const __m512i ms = odd ? _mm512_srli_epi64(m, 32) : m;
    const __m512i ts = odd ? _mm512_srli_epi64(total, 32) : _mm512_and_si512(total, low);
    const __m512i round = _mm512_sllv_epi64(one, _mm512_sub_epi64(ts, one));
    half[odd] = Clamp64ToInt32(_mm512_srav_epi64(_mm512_add_epi64(_mm512_mul_epi32(xs, ms), round), ts));
  }
  return Interleave(half[0], half[1]);
}

// MultiplyByQuantizedMultiplierDoubleRounding on 16 lanes. The multiplier is never
// INT32_MIN, so SaturatingRoundingDoublingHighMul's one saturating case cannot occur.
QAUDIT_VNNI inline __m512i DoubleRounding(__m512i x, __m512i m, __m512i shift) {
  const __m512i zero = _mm512_setzero_si512();
  const __m512i left = _mm512_max_epi32(shift, zero), right = _mm512_max_epi32(_mm512_sub_epi32(zero, shift), zero);
  const __m512i low = _mm512_set1_epi64(0xFFFFFFFF);
  __m512i half[2];
  for (int odd = 0; odd < 2; ++odd) {
    // x sign-extended to 64 bits, times 2^left, saturated to int32.
    const __m512i x64 = odd ? _mm512_srai_epi64(x, 32) : _mm512_srai_epi64(_mm512_slli_epi64(x, 32), 32);
    const __m512i ls = odd ? _mm512_srli_epi64(left, 32) : _mm512_and_si512(left, low);
    const __m512i shifted = Clamp64ToInt32(_mm512_sllv_epi64(x64, ls));
    const __m512i ms = odd ? _mm512_srli_epi64(m, 32) : m;
    const __m512i ab = _mm512_mul_epi32(shifted, ms);
    const __mmask8 negative = _mm512_cmplt_epi64_mask(ab, zero);
    const __m512i nudge =
        _mm512_mask_blend_epi64(negative, _mm512_set1_epi64(int64_t{1} << 30), _mm512_set1_epi64(1 - (int64_t{1} << 30)));
    const __m512i sum = _mm512_add_epi64(ab, nudge);
    // sum / 2^31 truncated toward zero: add 2^31 - 1 to negative sums before the shift.
    const __mmask8 sum_negative = _mm512_cmplt_epi64_mask(sum, zero);
    const __m512i biased = _mm512_mask_add_epi64(sum, sum_negative, sum, _mm512_set1_epi64((int64_t{1} << 31) - 1));
    half[odd] = _mm512_srai_epi64(biased, 31);
  }
  const __m512i high = Interleave(half[0], half[1]);
  // RoundingDivideByPOT(high, right).
  const __m512i mask = _mm512_sub_epi32(_mm512_sllv_epi32(_mm512_set1_epi32(1), right), _mm512_set1_epi32(1));
  const __m512i remainder = _mm512_and_si512(high, mask);
  const __mmask16 high_negative = _mm512_cmplt_epi32_mask(high, zero);
  const __m512i threshold =
      _mm512_mask_add_epi32(_mm512_srai_epi32(mask, 1), high_negative, _mm512_srai_epi32(mask, 1), _mm512_set1_epi32(1));
  const __mmask16 up = _mm512_cmpgt_epi32_mask(remainder, threshold);
  const __m512i quotient = _mm512_srav_epi32(high, right);
  return _mm512_mask_add_epi32(quotient, up, quotient, _mm512_set1_epi32(1));
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
        const __m512i shift = _mm512_loadu_si512(r.shift.data() + c);
        v = R == Rounding::kSingle ? SingleRounding(x, mult, shift) : DoubleRounding(x, mult, shift);
      }
      v = _mm512_add_epi32(v, zp);  // wraps, as WrapAdd
      v = _mm512_min_epi32(_mm512_max_epi32(v, lo), hi);
      _mm512_mask_cvtepi32_storeu_epi8(o + c, valid, v);
    }
  }
}

}  // namespace

void Requantize(const Int8Requantization& r, const int32_t* acc, int64_t ld_acc, int m, int n, int8_t* out,
                int64_t ld_out) {
  switch (r.rounding) {
    case Rounding::kDouble: RequantizeRows<Rounding::kDouble>(r, acc, ld_acc, m, n, out, ld_out); break;
    case Rounding::kSingle: RequantizeRows<Rounding::kSingle>(r, acc, ld_acc, m, n, out, ld_out); break;
    case Rounding::kFp32: RequantizeRows<Rounding::kFp32>(r, acc, ld_acc, m, n, out, ld_out); break;
    case Rounding::kInt64: break;  // 16x8 only; never packed for this path
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
  thread_local std::vector<uint8_t> patches;
  thread_local std::vector<int32_t> acc;
  patches.resize(static_cast<size_t>(rows_per_pass) * w.k_padded + 64);  // the copies below overrun by < 64
  acc.resize(static_cast<size_t>(rows_per_pass) * w.n_padded);
  const auto zero = static_cast<uint8_t>(in_zp + 128);
  const auto to_unsigned = [](int8_t v) { return static_cast<uint8_t>(v + 128); };
  // Runs are short (3 bytes for a 3x3 filter over one channel), so they are copied in
  // whole vectors: the bytes written past a run's end are overwritten by the next run, or
  // fall in the row's padding to k_padded (zero weights), or in the slack of `patches`;
  // the reads past it stay within the padded image's slack.
  // The narrowest vector that holds the run keeps short runs from splitting cache lines.
  const auto copy = [](const uint8_t* src, int n, uint8_t* dst) QAUDIT_VNNI {
    if (n <= 16) {
      _mm_storeu_si128(reinterpret_cast<__m128i*>(dst), _mm_loadu_si128(reinterpret_cast<const __m128i*>(src)));
    } else if (n <= 32) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(dst), _mm256_loadu_si256(reinterpret_cast<const __m256i*>(src)));
    } else {
      for (int i = 0; i < n; i += 64) _mm512_storeu_si512(dst + i, _mm512_loadu_si512(src + i));
    }
  };
  for (int b = 0; b < g.batch; ++b) {
    const bool padded = PadImage(g, in, b, zero, to_unsigned, &image);
    for (int64_t p0 = 0; p0 < pixels; p0 += rows_per_pass) {
      const int rows = static_cast<int>(std::min<int64_t>(rows_per_pass, pixels - p0));
      for (int i = 0; i < rows; ++i) {
        const int oy = static_cast<int>((p0 + i) / g.out_w), ox = static_cast<int>((p0 + i) % g.out_w);
        uint8_t* patch = patches.data() + static_cast<int64_t>(i) * w.k_padded;
        if (padded) {
          PatchFromPadded(g, image, oy, ox, copy, patch);
        } else {
          GatherPatch(g, in, b, oy, ox, zero, to_unsigned, patch);
        }
      }
      Int8Gemm(rows, patches.data(), w.k_padded, w, acc.data());
      Requantize(r, acc.data(), w.n_padded, rows, g.out_c, out + (b * pixels + p0) * g.out_c, g.out_c);
    }
  }
}

void FullyConnectedInt8Vnni(int rows, const int8_t* const* x, const Int8GemmWeights& w, const Int8Requantization& r,
                            int8_t* const* y) {
  thread_local std::vector<uint8_t> a;
  thread_local std::vector<int32_t> acc;
  a.resize(static_cast<size_t>(rows) * w.k_padded);
  acc.resize(static_cast<size_t>(rows) * w.n_padded);
  for (int i = 0; i < rows; ++i) {
    uint8_t* row = a.data() + static_cast<int64_t>(i) * w.k_padded;
    for (int k = 0; k < w.k; ++k) row[k] = static_cast<uint8_t>(x[i][k] + 128);
  }
  Int8Gemm(rows, a.data(), w.k_padded, w, acc.data());
  for (int i = 0; i < rows; ++i) Requantize(r, acc.data() + static_cast<int64_t>(i) * w.n_padded, w.n_padded, 1, w.n, y[i], w.n);
}

}  // namespace qaudit::kernels
