#include "kernels/int8_gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>

#include "kernels/output_stage_avx512.h"

// GCC 12 warns about the undefined first operand its own intrinsics headers pass to
// masked builtins (_mm512_undefined_epi32); the warning is about the header, not this code.
// (Some draw the definite form, -Wuninitialized, once inlined into the depthwise loop.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
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

using namespace int8_avx512;  // NOLINT(build/namespaces): the shared output stage and its block size

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
  // The fixed-point rules are monotone in the accumulator (multipliers are >= 0), so the
  // accumulators whose product stays 256 away from the int32 limits form an interval,
  // found by bisection. The float rule clamps before it converts and never wraps.
  r.monotone_min.assign(padded, INT32_MIN);
  r.monotone_max.assign(padded, INT32_MAX);
  if (stage.rounding == Rounding::kSingle || stage.rounding == Rounding::kDouble) {
    for (int c = 0; c < static_cast<int>(stage.multipliers.size()); ++c) {
      const QuantizedMultiplier m = stage.multipliers[c];
      const auto product = [&](int64_t x) {
        return stage.rounding == Rounding::kSingle
                   ? MultiplyByQuantizedMultiplierSingleRounding(static_cast<int32_t>(x), m)
                   : MultiplyByQuantizedMultiplierDoubleRounding(static_cast<int32_t>(x), m);
      };
      int64_t lo = 0, hi = INT32_MAX;  // product(lo) is safe; find the largest safe x
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo + 1) / 2;
        if (product(mid) <= INT32_MAX - 256) {
          lo = mid;
        } else {
          hi = mid - 1;
        }
      }
      r.monotone_max[c] = static_cast<int32_t>(lo);
      lo = INT32_MIN, hi = 0;  // the smallest safe x
      while (lo < hi) {
        const int64_t mid = lo + (hi - lo) / 2;
        if (product(mid) >= INT32_MIN + 256) {
          hi = mid;
        } else {
          lo = mid + 1;
        }
      }
      r.monotone_min[c] = static_cast<int32_t>(lo);
    }
  }
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

// What a micro-kernel does with its accumulators: store them (Int8Gemm), or apply the
// output stage in registers and store int8, so that they never go through memory.
// The kPool epilogues also take the maximum of each group of four rows (a 2x2 window of a
// MAX_POOL_2D after the convolution) before they requantize: see ConvMaxPoolInt8Vnni.
enum class Epilogue { kInt32, kDouble, kSingle, kFp32, kPoolDouble, kPoolSingle, kPoolFp32 };

constexpr bool IsPool(Epilogue e) {
  return e == Epilogue::kPoolDouble || e == Epilogue::kPoolSingle || e == Epilogue::kPoolFp32;
}
constexpr Rounding RoundingOf(Epilogue e) {
  return e == Epilogue::kSingle || e == Epilogue::kPoolSingle ? Rounding::kSingle
         : e == Epilogue::kFp32 || e == Epilogue::kPoolFp32   ? Rounding::kFp32
                                                              : Rounding::kDouble;
}

struct TileOut {
  int32_t* acc;  // kInt32: the tile's first accumulator, rows ldc apart
  int64_t ldc;
  int8_t* const* out;  // otherwise: per row of the tile, its output row (channel 0)
  const Int8Requantization* r;
  int c0, n;  // the tile's first channel; the channels there are
  int32_t pool_min, pool_max;  // kPool: the MAX_POOL_2D's activation range
  bool monotone;               // kPool: MaxPoolAfterConv::monotone
};

// A kRows x (16 * kBlocks) tile over the whole shared dimension: kRows * kBlocks
// accumulators stay in zmm registers; each step of four taps loads kBlocks weight vectors
// and broadcasts four bytes of each row. `row` holds kRows pointers; rows at or past
// `rows` are computed (from whatever they point at) but not stored.
// kSegments > 0: A has that many segments of one quad each (a 3x3 filter over one
// channel: three runs of 3 taps), unrolled; the loops over segments and quads would
// otherwise cost more than the few vpdpbusd they hold. 0: any segments and quads.
template <int kRows, int kBlocks, Epilogue E, int kSegments = 0>
QAUDIT_VNNI void MicroKernel(int rows, const uint8_t* const* row, const RowsOfA& a, const int8_t* w,
                             int64_t block_bytes, const int32_t* offset, const TileOut& o) {
  __m512i sum[kRows][kBlocks];
#pragma GCC unroll 4
  for (int j = 0; j < kBlocks; ++j) {
    const __m512i off = _mm512_loadu_si512(offset + j * kBlock);
#pragma GCC unroll 24
    for (int i = 0; i < kRows; ++i) sum[i][j] = off;
  }
  // One step of four taps at byte `at` of each row's current segment.
  const auto step = [&](const uint8_t* const* r, int64_t at, const int8_t* weights) QAUDIT_VNNI {
    __m512i wv[kBlocks];
#pragma GCC unroll 4
    for (int j = 0; j < kBlocks; ++j) {
      wv[j] = _mm512_loadu_si512(weights + j * block_bytes);
      // Held in a register: GCC otherwise folds the load into every vpdpbusd that uses
      // it (kRows loads instead of one), and with few rows the loads become the limit.
      __asm__("" : "+v"(wv[j]));
    }
#pragma GCC unroll 24
    for (int i = 0; i < kRows; ++i) {
      int32_t four;
      std::memcpy(&four, r[i] + at, 4);
      const __m512i av = _mm512_set1_epi32(four);
#pragma GCC unroll 4
      for (int j = 0; j < kBlocks; ++j) sum[i][j] = _mm512_dpbusd_epi32(sum[i][j], av, wv[j]);
    }
  };
  if constexpr (kSegments > 0) {
#pragma GCC unroll 8
    for (int s = 0; s < kSegments; ++s) step(row, s * a.segment_stride, w + s * 64);
  } else {
    for (int s = 0; s < a.segments; ++s) {
      const uint8_t* r[kRows];
#pragma GCC unroll 24
      for (int i = 0; i < kRows; ++i) r[i] = row[i] + s * a.segment_stride;
      // Unrolled: GCC keeps the 12x1 tile's accumulators in registers but stores them to
      // the stack as well once per iteration, which then cost more than the steps with
      // few input channels.
#pragma GCC unroll 4
      for (int q = 0; q < a.quads; ++q, w += 64) step(r, 4 * q, w);
    }
  }
  if constexpr (E == Epilogue::kInt32) {
#pragma GCC unroll 24
    for (int i = 0; i < kRows; ++i) {
      if (i >= rows) break;
#pragma GCC unroll 4
      for (int j = 0; j < kBlocks; ++j) _mm512_storeu_si512(o.acc + i * o.ldc + j * kBlock, sum[i][j]);
    }
  } else if constexpr (IsPool(E)) {
    static_assert(kRows % 4 == 0, "whole windows");
    constexpr Rounding R = RoundingOf(E);
    // Per window and block the requantized maximum, before the clamps: the clamps are
    // monotone, so the maximum of clamped values is the clamped maximum. Blocks narrow in
    // pairs: an odd count gets a block of zeros, never stored.
    constexpr int kNarrowed = kBlocks + kBlocks % 2;
    __m512i pooled[kRows / 4][kNarrowed];
    if constexpr (kNarrowed > kBlocks) {
      for (int i = 0; i < kRows / 4; ++i) pooled[i][kBlocks] = _mm512_setzero_si512();
    }
#pragma GCC unroll 4
    for (int j = 0; j < kBlocks; ++j) {
      const int c = o.c0 + j * kBlock;
      const StageRegs stage = LoadStage<R>(*o.r, c);
      const __m512i safe_min = _mm512_loadu_si512(o.r->monotone_min.data() + c);
      const __m512i safe_max = _mm512_loadu_si512(o.r->monotone_max.data() + c);
#pragma GCC unroll 6
      for (int i = 0; i < kRows; i += 4) {
        if (i >= rows) break;
        const __m512i high = _mm512_max_epi32(_mm512_max_epi32(sum[i][j], sum[i + 1][j]),
                                              _mm512_max_epi32(sum[i + 2][j], sum[i + 3][j]));
        if (o.monotone) {
          pooled[i / 4][j] = ApplyStageUnclamped<R>(stage, high);
          continue;
        }
        const __m512i low = _mm512_min_epi32(_mm512_min_epi32(sum[i][j], sum[i + 1][j]),
                                             _mm512_min_epi32(sum[i + 2][j], sum[i + 3][j]));
        if (_mm512_cmpge_epi32_mask(low, safe_min) == 0xFFFF && _mm512_cmple_epi32_mask(high, safe_max) == 0xFFFF)
            [[likely]] {
          pooled[i / 4][j] = ApplyStageUnclamped<R>(stage, high);
        } else {
          pooled[i / 4][j] = _mm512_max_epi32(
              _mm512_max_epi32(ApplyStageUnclamped<R>(stage, sum[i][j]), ApplyStageUnclamped<R>(stage, sum[i + 1][j])),
              _mm512_max_epi32(ApplyStageUnclamped<R>(stage, sum[i + 2][j]),
                               ApplyStageUnclamped<R>(stage, sum[i + 3][j])));
        }
      }
    }
    // The convolution's activation range, then the pool's.
    const __m512i bounds[4] = {_mm512_set1_epi8(static_cast<int8_t>(o.r->act_min)),
                               _mm512_set1_epi8(static_cast<int8_t>(o.r->act_max)),
                               _mm512_set1_epi8(static_cast<int8_t>(o.pool_min)),
                               _mm512_set1_epi8(static_cast<int8_t>(o.pool_max))};
    const int valid = std::min(o.n - o.c0, kBlocks * kBlock);
#pragma GCC unroll 6
    for (int i = 0; i < kRows; i += 4) {
      if (i >= rows) break;
      StoreNarrowed<kNarrowed>(o.out[i] + o.c0, valid, pooled[i / 4], bounds, 2);
    }
  } else if constexpr (kBlocks == 2 || kBlocks == 4) {
    // Blocks past n are computed from padding channels (multiplier 0) and not stored.
    constexpr Rounding R = RoundingOf(E);
#pragma GCC unroll 4
    for (int j = 0; j < kBlocks; ++j) {
      const StageRegs stage = LoadStage<R>(*o.r, o.c0 + j * kBlock);
#pragma GCC unroll 24
      for (int i = 0; i < kRows; ++i) sum[i][j] = ApplyStageUnclamped<R>(stage, sum[i][j]);
    }
    const __m512i bounds[2] = {_mm512_set1_epi8(static_cast<int8_t>(o.r->act_min)),
                               _mm512_set1_epi8(static_cast<int8_t>(o.r->act_max))};
    const int valid = std::min(o.n - o.c0, kBlocks * kBlock);
    // Read before the stores, which may alias them.
    int8_t* dst[kRows];
#pragma GCC unroll 24
    for (int i = 0; i < kRows; ++i) dst[i] = o.out[i] + o.c0;
#pragma GCC unroll 24
    for (int i = 0; i < kRows; ++i) {
      if (i >= rows) break;
      StoreNarrowed<kBlocks>(dst[i], valid, sum[i], bounds, 1);
    }
  } else {
    constexpr Rounding R = RoundingOf(E);
#pragma GCC unroll 4
    for (int j = 0; j < kBlocks; ++j) {
      const int c = o.c0 + j * kBlock;
      if (c >= o.n) break;
      const StageRegs stage = LoadStage<R>(*o.r, c);
#pragma GCC unroll 24
      for (int i = 0; i < kRows; ++i) {
        if (i >= rows) break;
        StoreBytes(o.out[i] + c, o.n - c, ApplyStage<R>(stage, sum[i][j]));
      }
    }
  }
}

using MicroKernelFn = void (*)(int, const uint8_t* const*, const RowsOfA&, const int8_t*, int64_t, const int32_t*,
                               const TileOut&);

// Tiles that keep 24 accumulators in registers, by the number of channel blocks; the
// one-row kernels take a lone row left over (a batch-1 FULLY_CONNECTED is one row).
struct TileKernel {
  int rows;
  MicroKernelFn fn;
  MicroKernelFn one_row;
  MicroKernelFn three_quads;  // fn for A of three segments of one quad each
};
template <Epilogue E>
constexpr TileKernel kTiles[5] = {
    {},
    {12, MicroKernel<12, 1, E>, MicroKernel<1, 1, E>, MicroKernel<12, 1, E, 3>},
    {12, MicroKernel<12, 2, E>, MicroKernel<1, 2, E>, MicroKernel<12, 2, E, 3>},
    {8, MicroKernel<8, 3, E>, MicroKernel<1, 3, E>, MicroKernel<8, 3, E, 3>},
    {6, MicroKernel<6, 4, E>, MicroKernel<1, 4, E>, MicroKernel<6, 4, E, 3>},
};
// Whole 2x2 windows per tile; never one row.
template <Epilogue E>
constexpr TileKernel kPoolTiles[5] = {
    {},
    {12, MicroKernel<12, 1, E>, nullptr, MicroKernel<12, 1, E, 3>},
    {12, MicroKernel<12, 2, E>, nullptr, MicroKernel<12, 2, E, 3>},
    {8, MicroKernel<8, 3, E>, nullptr, MicroKernel<8, 3, E, 3>},
    {4, MicroKernel<4, 4, E>, nullptr, MicroKernel<4, 4, E, 3>},
};
constexpr int kMaxTileRows = 12;

// A x weights for the m rows `row_of(i)` points at: into acc (kInt32), or through the
// output stage `r` into the int8 rows `out_of(i)` points at.
template <Epilogue E, typename RowOf, typename OutOf>
void Gemm(int m, RowOf row_of, OutOf out_of, const RowsOfA& a, const Int8GemmWeights& w,
          const Int8Requantization* r, int32_t* acc, const MaxPoolAfterConv* pool = nullptr) {
  const int blocks = w.n_padded / kBlock;
  const int64_t block_bytes = static_cast<int64_t>(w.k_padded) * kBlock;
  const int64_t ldc = w.n_padded;
  const bool three_quads = a.segments == 3 && a.quads == 1;
  for (int b0 = 0; b0 < blocks; b0 += 4) {
    const TileKernel* tiles;
    if constexpr (IsPool(E)) {
      tiles = kPoolTiles<E>;
    } else {
      tiles = kTiles<E>;
    }
    const TileKernel& tile = tiles[std::min(4, blocks - b0)];
    const int8_t* panel = w.packed.data() + b0 * block_bytes;
    const int32_t* offset = w.offset.data() + b0 * kBlock;
    const uint8_t* rows[kMaxTileRows];
    int8_t* outs[kMaxTileRows] = {};
    for (int i = 0; i < m; i += tile.rows) {
      // A partial tile of two rows or more costs less computed whole than row by row (the
      // one-row kernel waits on its few accumulators): its missing rows repeat the last
      // one and are not stored.
      const int n_rows = std::min(tile.rows, m - i);
      for (int k = 0; k < tile.rows; ++k) {
        const int src = i + std::min(k, n_rows - 1);
        rows[k] = row_of(src);
        // The pooling epilogues store once per window, through its first row's pointer.
        if constexpr (IsPool(E)) {
          if (k % 4 == 0) outs[k] = out_of(src);
        } else if constexpr (E != Epilogue::kInt32) {
          outs[k] = out_of(src);
        }
      }
      const TileOut o{acc == nullptr ? nullptr : acc + i * ldc + b0 * kBlock,
                      ldc,
                      outs,
                      r,
                      b0 * kBlock,
                      w.n,
                      pool ? pool->act_min : 0,
                      pool ? pool->act_max : 0,
                      pool ? pool->monotone : false};
      const MicroKernelFn fn = n_rows == 1 ? tile.one_row : three_quads ? tile.three_quads : tile.fn;
      fn(n_rows, rows, a, panel, block_bytes, offset, o);
    }
  }
}

// Gemm through the output stage `r` into int8 rows.
template <typename RowOf, typename OutOf>
void GemmRequantized(int m, RowOf row_of, OutOf out_of, const RowsOfA& a, const Int8GemmWeights& w,
                     const Int8Requantization& r) {
  switch (r.rounding) {
    case Rounding::kDouble: return Gemm<Epilogue::kDouble>(m, row_of, out_of, a, w, &r, nullptr);
    case Rounding::kSingle: return Gemm<Epilogue::kSingle>(m, row_of, out_of, a, w, &r, nullptr);
    case Rounding::kFp32: return Gemm<Epilogue::kFp32>(m, row_of, out_of, a, w, &r, nullptr);
    case Rounding::kInt64: return;  // 16x8 only; never packed for this path
  }
}

int8_t* NoOutput(int) { return nullptr; }

}  // namespace

void Int8Gemm(int m, const uint8_t* a, int64_t lda, const Int8GemmWeights& w, int32_t* acc) {
  Gemm<Epilogue::kInt32>(
      m, [&](int i) { return a + i * lda; }, NoOutput, RowsOfA{1, w.k_padded / 4, 0}, w, nullptr, acc);
}

namespace {

template <Rounding R>
QAUDIT_VNNI void RequantizeRows(const Int8Requantization& r, const int32_t* acc, int64_t ld_acc, int m, int n,
                                int8_t* out, int64_t ld_out) {
  for (int c = 0; c < n; c += kBlock) {
    const StageRegs stage = LoadStage<R>(r, c);
    for (int i = 0; i < m; ++i) {
      StoreBytes(out + i * ld_out + c, n - c, ApplyStage<R>(stage, _mm512_loadu_si512(acc + i * ld_acc + c)));
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

// PadImage (conv.h) of x + 128, in vectors: a first layer's rows (28 pixels of one
// channel) are too short for the compiler's vector loop, and run byte by byte there.
QAUDIT_VNNI bool PadImageUnsigned(const ConvGeometry& g, const int8_t* in, int b, uint8_t zero,
                                  PaddedImage<uint8_t>* out) {
  int64_t height = 0, width = 0;
  if (!PaddedImageSize(g, &height, &width)) return false;
  out->height = static_cast<int>(height), out->width = static_cast<int>(width);
  out->data.resize(static_cast<size_t>(height * width) * g.in_c + PaddedImage<uint8_t>::kSlack);
  uint8_t* data = out->data.data();
  const int64_t c = g.in_c, row = g.in_w * c;
  const int64_t left = g.pad_left * c, right = (width - g.pad_left - g.in_w) * c;
  const __m512i flip = _mm512_set1_epi8(-128);
  std::memset(data, zero, g.pad_top * width * c);
  for (int y = 0; y < g.in_h; ++y) {
    const int8_t* src = in + (static_cast<int64_t>(b) * g.in_h + y) * row;
    uint8_t* dst = data + (y + g.pad_top) * width * c;
    std::memset(dst, zero, left);
    // Whole-vector stores: the bytes past the row's end land in padding (or the slack)
    // written after them.
    for (int64_t i = 0; i < row; i += 64) {
      const __mmask64 valid = row - i >= 64 ? ~__mmask64{0} : (__mmask64{1} << (row - i)) - 1;
      _mm512_storeu_si512(dst + left + i, _mm512_xor_si512(_mm512_maskz_loadu_epi8(valid, src + i), flip));
    }
    std::memset(dst + left + row, zero, right);
  }
  const int64_t filled = (g.pad_top + g.in_h) * width * c;
  std::memset(data + filled, zero, out->data.size() - filled);
  return true;
}

}  // namespace

// Marked for the VNNI target so that the patch copies inlined here vectorize with it.
QAUDIT_VNNI void ConvInt8Vnni(const ConvGeometry& g, const int8_t* in, int32_t in_zp, const Int8GemmWeights& w,
                              const Int8Requantization& r, int8_t* out) {
  const int64_t pixels = static_cast<int64_t>(g.out_h) * g.out_w;
  const int rows_per_pass = RowsPerPass(w.k_padded);
  thread_local PaddedImage<uint8_t> image;
  thread_local std::vector<uint8_t> patches, patch;
  patches.resize(static_cast<size_t>(rows_per_pass) * w.k_padded + 64);  // the copies below overrun by < 64
  patch.resize(g.patch_size());
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
  thread_local std::vector<const uint8_t*> row_table;
  for (int b = 0; b < g.batch; ++b) {
    const bool padded = PadImageUnsigned(g, in, b, zero, &image);
    const int64_t image_row = static_cast<int64_t>(image.width) * g.in_c;
    for (int64_t p0 = 0; p0 < pixels; p0 += rows_per_pass) {
      const int rows = static_cast<int>(std::min<int64_t>(rows_per_pass, pixels - p0));
      int8_t* const pass_out = out + (b * pixels + p0) * g.out_c;
      const auto out_of = [&](int i) { return pass_out + static_cast<int64_t>(i) * g.out_c; };
      if (w.segments > 0 && padded && g.stride_h * image_row == static_cast<int64_t>(g.out_w) * g.stride_w * g.in_c) {
        // Output pixel p's patch starts p * stride_w pixels into the padded image: a
        // convolution whose output rows tile its input rows (a 1x1 with stride 1 and no
        // padding), whose row pointers need no table.
        const uint8_t* const first = image.data.data() + p0 * g.stride_w * g.in_c;
        const int64_t step = static_cast<int64_t>(g.stride_w) * g.in_c;
        GemmRequantized(
            rows, [&](int i) { return first + i * step; }, out_of,
            RowsOfA{w.segments, run_padded / 4, image_row * g.dilation_h}, w, r);
      } else if (w.segments > 0 && padded) {
        // Patches read in place: output pixel p's filter row ky starts at padded pixel
        // (oy * stride_h + ky * dilation_h, ox * stride_w). Tabled once per pass: the tiles
        // ask for each row again per panel of channels, and a division per row shows.
        // In locals: the table's stores may alias whatever is read through a pointer.
        row_table.resize(rows);
        const uint8_t** table = row_table.data();
        const int out_w = g.out_w;
        const int64_t line_step = g.stride_h * image_row, pixel_step = static_cast<int64_t>(g.stride_w) * g.in_c;
        int ox = static_cast<int>(p0 % out_w);
        const uint8_t* line = image.data.data() + p0 / out_w * line_step;
        for (int i = 0; i < rows; ++i) {
          table[i] = line + ox * pixel_step;
          if (++ox == out_w) ox = 0, line += line_step;
        }
        GemmRequantized(
            rows, [&](int i) { return row_table[i]; }, out_of,
            RowsOfA{w.segments, run_padded / 4, image_row * g.dilation_h}, w, r);
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
        GemmRequantized(
            rows, [&](int i) { return patches.data() + static_cast<int64_t>(i) * w.k_padded; }, out_of,
            RowsOfA{std::max(w.segments, 1), run_padded / 4, run_padded}, w, r);
      }
    }
  }
}

bool AccumulatorsStayMonotone(const Int8GemmWeights& w, const Int8Requantization& r) {
  if (r.rounding == Rounding::kInt64 || static_cast<int>(r.monotone_min.size()) < w.n_padded) return false;
  for (int c = 0; c < w.n; ++c) {
    // shift64 is stored per block as its even channels, then its odd ones; padding
    // channels are never stored, whatever their shift.
    const int lane = c / kBlock * kBlock + (c % 2) * (kBlock / 2) + (c % kBlock) / 2;
    if (r.rounding == Rounding::kSingle && r.shift64[lane] < 32) return false;
    const int8_t* block = w.packed.data() + static_cast<int64_t>(c / kBlock) * kBlock * w.k_padded;
    int64_t negative = 0, positive = 0;
    for (int q = 0; q < w.k_padded / 4; ++q) {
      for (int t = 0; t < 4; ++t) {
        const int v = block[q * kBlock * 4 + (c % kBlock) * 4 + t];
        (v < 0 ? negative : positive) += v;
      }
    }
    // Taps are uint8: the accumulator lies in offset + 255 * [negative, positive].
    const int64_t lo = r.monotone_min[c], hi = r.monotone_max[c];
    if (w.offset[c] + 255 * negative < lo || w.offset[c] + 255 * positive > hi) return false;
  }
  return true;
}

namespace {

// The pooled rows [py0, py0 + count) of sample b from the accumulators of conv rows
// [py0 * size, (py0 + count) * size), columns [0, pool_w * size): acc rows are those
// pixels in order, n_padded apart.
template <Rounding R>
QAUDIT_VNNI void PoolAccumulators(const ConvGeometry& g, const Int8Requantization& r, const MaxPoolAfterConv& pool,
                                  const int32_t* acc, int64_t ldc, int count, int pool_w, int8_t* out) {
  const int size = pool.size, cols = pool_w * size, channels = g.out_c;
  const __m512i pool_lo = _mm512_set1_epi32(pool.act_min), pool_hi = _mm512_set1_epi32(pool.act_max);
  for (int c = 0; c < channels; c += kBlock) {
    const StageRegs stage = LoadStage<R>(r, c);
    const __m512i safe_min = _mm512_loadu_si512(r.monotone_min.data() + c);
    const __m512i safe_max = _mm512_loadu_si512(r.monotone_max.data() + c);
    for (int py = 0; py < count; ++py) {
      for (int px = 0; px < pool_w; ++px) {
        const int32_t* window = acc + (static_cast<int64_t>(py) * size * cols + px * size) * ldc + c;
        __m512i high = _mm512_loadu_si512(window), low = high;
        for (int dy = 0; dy < size; ++dy) {
          for (int dx = 0; dx < size; ++dx) {
            const __m512i a = _mm512_loadu_si512(window + (static_cast<int64_t>(dy) * cols + dx) * ldc);
            high = _mm512_max_epi32(high, a), low = _mm512_min_epi32(low, a);
          }
        }
        __m512i v;
        if (_mm512_cmpge_epi32_mask(low, safe_min) == 0xFFFF && _mm512_cmple_epi32_mask(high, safe_max) == 0xFFFF) {
          v = ApplyStage<R>(stage, high);
        } else {
          v = _mm512_set1_epi32(INT32_MIN);  // MaxPool starts from the lowest value
          for (int dy = 0; dy < size; ++dy) {
            for (int dx = 0; dx < size; ++dx) {
              const __m512i a = _mm512_loadu_si512(window + (static_cast<int64_t>(dy) * cols + dx) * ldc);
              v = _mm512_max_epi32(v, ApplyStage<R>(stage, a));
            }
          }
        }
        v = _mm512_min_epi32(_mm512_max_epi32(v, pool_lo), pool_hi);
        StoreBytes(out + (static_cast<int64_t>(py) * pool_w + px) * channels + c, channels - c, v);
      }
    }
  }
}

}  // namespace

QAUDIT_VNNI void ConvMaxPoolInt8Vnni(const ConvGeometry& g, const int8_t* in, int32_t in_zp,
                                     const Int8GemmWeights& w, const Int8Requantization& r,
                                     const MaxPoolAfterConv& pool, int8_t* out) {
  const int size = pool.size, pool_h = g.out_h / size, pool_w = g.out_w / size, cols = pool_w * size;
  const int64_t in_sample = static_cast<int64_t>(g.in_h) * g.in_w * g.in_c;
  const int64_t out_sample = static_cast<int64_t>(pool_h) * pool_w * g.out_c;
  thread_local PaddedImage<uint8_t> image;
  thread_local std::vector<int32_t> acc;
  thread_local std::vector<int8_t> unpooled;
  thread_local std::vector<const uint8_t*> row_table;
  const auto zero = static_cast<uint8_t>(in_zp + 128);
  // Pooled rows per matrix product: as many as keep their accumulators in about 24 KiB,
  // so that pooling reads them from L1.
  const int band = std::max(1, 24576 / (size * cols * w.n_padded * 4));
  const int run_padded = w.segments > 0 ? w.k_padded / w.segments : w.k_padded;
  for (int b = 0; b < g.batch; ++b) {
    int8_t* const sample_out = out + b * out_sample;
    if (w.segments == 0 || !PadImageUnsigned(g, in, b, zero, &image)) {
      // Patches that are not read in place: the two ops one after the other.
      ConvGeometry one = g;
      one.batch = 1;
      unpooled.resize(static_cast<size_t>(g.out_h) * g.out_w * g.out_c);
      ConvInt8Vnni(one, in + b * in_sample, in_zp, w, r, unpooled.data());
      for (int py = 0; py < pool_h; ++py) {
        for (int px = 0; px < pool_w; ++px) {
          for (int c = 0; c < g.out_c; ++c) {
            int32_t m = INT32_MIN;
            for (int dy = 0; dy < size; ++dy) {
              for (int dx = 0; dx < size; ++dx) {
                m = std::max<int32_t>(m, unpooled[((py * size + dy) * g.out_w + px * size + dx) * g.out_c + c]);
              }
            }
            sample_out[(py * pool_w + px) * g.out_c + c] =
                static_cast<int8_t>(std::clamp(m, pool.act_min, pool.act_max));
          }
        }
      }
      continue;
    }
    const int64_t image_row = static_cast<int64_t>(image.width) * g.in_c;
    if (size == 2) {
      // Rows in window order, four per window, so that the micro-kernels pool their
      // accumulators in registers: nothing goes through memory but the output.
      row_table.resize(static_cast<size_t>(4) * pool_h * pool_w);
      const uint8_t** row = row_table.data();
      const int64_t step_y = g.stride_h * image_row, step_x = static_cast<int64_t>(g.stride_w) * g.in_c;
      for (int py = 0; py < pool_h; ++py) {
        const uint8_t* top = image.data.data() + 2 * py * step_y;
        for (int px = 0; px < pool_w; ++px, row += 4) {
          const uint8_t* left = top + 2 * px * step_x;
          row[0] = left, row[1] = left + step_x, row[2] = left + step_y, row[3] = left + step_y + step_x;
        }
      }
      const auto window_out = [&](int i) { return sample_out + static_cast<int64_t>(i >> 2) * g.out_c; };
      const RowsOfA a{w.segments, run_padded / 4, image_row * g.dilation_h};
      const int m = 4 * pool_h * pool_w;
      const auto rows = [&](int i) { return row_table[i]; };
      switch (r.rounding) {
        case Rounding::kDouble: Gemm<Epilogue::kPoolDouble>(m, rows, window_out, a, w, &r, nullptr, &pool); break;
        case Rounding::kSingle: Gemm<Epilogue::kPoolSingle>(m, rows, window_out, a, w, &r, nullptr, &pool); break;
        case Rounding::kFp32: Gemm<Epilogue::kPoolFp32>(m, rows, window_out, a, w, &r, nullptr, &pool); break;
        case Rounding::kInt64: break;  // 16x8 only; never packed for this path
      }
      continue;
    }
    acc.resize(static_cast<size_t>(band) * size * cols * w.n_padded);
    for (int py0 = 0; py0 < pool_h; py0 += band) {
      const int count = std::min(band, pool_h - py0), rows = count * size * cols;
      row_table.resize(rows);
      for (int i = 0, oy = py0 * size, ox = 0; i < rows; ++i) {
        row_table[i] = image.data.data() + oy * g.stride_h * image_row + static_cast<int64_t>(ox) * g.stride_w * g.in_c;
        if (++ox == cols) ox = 0, ++oy;
      }
      Gemm<Epilogue::kInt32>(
          rows, [&](int i) { return row_table[i]; }, NoOutput,
          RowsOfA{w.segments, run_padded / 4, image_row * g.dilation_h}, w, nullptr, acc.data());
      int8_t* const band_out = sample_out + static_cast<int64_t>(py0) * pool_w * g.out_c;
      const auto pool_band = [&](auto rounding) {
        PoolAccumulators<decltype(rounding)::value>(g, r, pool, acc.data(), w.n_padded, count, pool_w, band_out);
      };
      if (r.rounding != Rounding::kInt64) DispatchRounding(r.rounding, pool_band);  // kInt64: 16x8, never here
    }
  }
}

// Marked for the VNNI target, for the conversion and the Gemm inlined here.
QAUDIT_VNNI void FullyConnectedInt8Vnni(int rows, const int8_t* const* x, const Int8GemmWeights& w,
                                        const Int8Requantization& r, int8_t* const* y) {
  thread_local std::vector<uint8_t> a;
  a.resize(static_cast<size_t>(rows) * w.k_padded + 64);  // the stores below overrun by < 64
  // x + 128 in whole vectors: the compiler's loop ran byte by byte, as a byte store might
  // change w.k. The bytes past k meet zero weights, or the next row overwrites them.
  const int k = w.k;
  const __m512i flip = _mm512_set1_epi8(-128);
  for (int i = 0; i < rows; ++i) {
    uint8_t* row = a.data() + static_cast<int64_t>(i) * w.k_padded;
    for (int j = 0; j < k; j += 64) {
      const __mmask64 valid = k - j >= 64 ? ~__mmask64{0} : (__mmask64{1} << (k - j)) - 1;
      _mm512_storeu_si512(row + j, _mm512_xor_si512(_mm512_maskz_loadu_epi8(valid, x[i] + j), flip));
    }
  }
  GemmRequantized(
      rows, [&](int i) { return a.data() + static_cast<int64_t>(i) * w.k_padded; }, [&](int i) { return y[i]; },
      RowsOfA{1, w.k_padded / 4, 0}, w, r);
}

}  // namespace qaudit::kernels
