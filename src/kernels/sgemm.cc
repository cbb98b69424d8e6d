#include "kernels/sgemm.h"

#include <immintrin.h>

#include <algorithm>
#include <array>
#include <cstring>
#include <utility>
#include <vector>

namespace qaudit::kernels {
namespace {

// A 12 x 32 tile of C lives in 24 zmm registers while the micro-kernel walks the shared
// dimension in blocks of kKc; a B panel (kKc x 32 floats, 32 KiB) stays in L1 while the
// kernel runs down kMc rows of A.
constexpr int kMr = 12;
constexpr int kNr = 32;
constexpr int64_t kKc = 256;
constexpr int64_t kMc = 144;

// Packs rows [0, rows) x cols [0, depth) of `a` into panels of kMr rows, each stored
// column by column (kMr floats per step of the shared dimension), zero-padded.
void PackA(MatrixView a, int64_t rows, int64_t depth, float* out) {
  for (int64_t r0 = 0; r0 < rows; r0 += kMr) {
    const int64_t mr = std::min<int64_t>(kMr, rows - r0);
    float* panel = out + r0 * depth;
    if (mr < kMr) std::fill(panel, panel + kMr * depth, 0.0f);
    if (a.col_stride == 1) {
      for (int64_t i = 0; i < mr; ++i) {
        const float* row = a.data + (r0 + i) * a.row_stride;
        for (int64_t p = 0; p < depth; ++p) panel[p * kMr + i] = row[p];
      }
    } else {
      for (int64_t p = 0; p < depth; ++p) {
        const float* col = a.data + p * a.col_stride + r0 * a.row_stride;
        for (int64_t i = 0; i < mr; ++i) panel[p * kMr + i] = col[i * a.row_stride];
      }
    }
  }
}

// Packs rows [0, depth) x cols [0, cols) of `b` into panels of kNr columns, each stored
// row by row (kNr floats per step of the shared dimension), zero-padded.
void PackB(MatrixView b, int64_t depth, int64_t cols, float* out) {
  for (int64_t c0 = 0; c0 < cols; c0 += kNr) {
    const int64_t nr = std::min<int64_t>(kNr, cols - c0);
    float* panel = out + c0 * depth;
    if (nr < kNr) std::fill(panel, panel + kNr * depth, 0.0f);
    if (b.col_stride == 1) {
      for (int64_t p = 0; p < depth; ++p) {
        const float* row = b.data + p * b.row_stride + c0;
        std::memcpy(panel + p * kNr, row, nr * sizeof(float));
      }
    } else {
      for (int64_t j = 0; j < nr; ++j) {
        const float* col = b.data + (c0 + j) * b.col_stride;
        for (int64_t p = 0; p < depth; ++p) panel[p * kNr + j] = col[p * b.row_stride];
      }
    }
  }
}

// Writes (or adds) the mr x nr corner of a full kMr x kNr tile.
void StoreTile(const float* tile, int mr, int nr, float* c, int64_t ldc, bool add) {
  for (int i = 0; i < mr; ++i) {
    for (int j = 0; j < nr; ++j) c[i * ldc + j] = add ? c[i * ldc + j] + tile[i * kNr + j] : tile[i * kNr + j];
  }
}

// The micro-kernels compute a kMr x kNr tile of C over `depth` steps of the shared
// dimension. A's element (i, p) is a[p * kMr + i] in a packed panel (kPackedA) or
// a[i * lda + p] when a row-major A is read in place; B's row p starts at b + p * ldb
// (ldb = kNr for a packed panel).
template <bool kPackedA>
float AElement(const float* a, int64_t lda, int i, int64_t p) {
  return kPackedA ? a[p * kMr + i] : a[i * lda + p];
}

// A read in place may have fewer than kMr rows (mr); only those are read and computed.
template <bool kPackedA>
void KernelPortable(int64_t depth, const float* a, int64_t lda, const float* b, int64_t ldb, float* c, int64_t ldc,
                    int mr, int nr, bool add) {
  float tile[kMr * kNr] = {};
  const int rows = kPackedA ? kMr : mr;
  for (int64_t p = 0; p < depth; ++p) {
    for (int i = 0; i < rows; ++i) {
      const float ai = AElement<kPackedA>(a, lda, i, p);
      for (int j = 0; j < kNr; ++j) tile[i * kNr + j] += ai * b[p * ldb + j];
    }
  }
  StoreTile(tile, mr, nr, c, ldc, add);
}

// Computes kRows rows of the tile (kMr unless A is read in place with fewer rows).
template <bool kPackedA, int kRows>
__attribute__((target("avx512f"))) void KernelAvx512Rows(int64_t depth, const float* a, int64_t lda, const float* b,
                                                         int64_t ldb, float* c, int64_t ldc, int mr, int nr, bool add) {
  __m512 acc[kRows][2];
#pragma GCC unroll 12
  for (int i = 0; i < kRows; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < depth; ++p) {
    const __m512 b0 = _mm512_loadu_ps(b + p * ldb);
    const __m512 b1 = _mm512_loadu_ps(b + p * ldb + 16);
#pragma GCC unroll 12
    for (int i = 0; i < kRows; ++i) {
      const __m512 ai = _mm512_set1_ps(AElement<kPackedA>(a, lda, i, p));
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  if (mr == kRows && nr == kNr) {
#pragma GCC unroll 12
    for (int i = 0; i < kRows; ++i) {
      float* row = c + i * ldc;
      if (add) {
        acc[i][0] = _mm512_add_ps(acc[i][0], _mm512_loadu_ps(row));
        acc[i][1] = _mm512_add_ps(acc[i][1], _mm512_loadu_ps(row + 16));
      }
      _mm512_storeu_ps(row, acc[i][0]);
      _mm512_storeu_ps(row + 16, acc[i][1]);
    }
    return;
  }
  alignas(64) float tile[kMr * kNr];
#pragma GCC unroll 12
  for (int i = 0; i < kRows; ++i) {
    _mm512_store_ps(tile + i * kNr, acc[i][0]);
    _mm512_store_ps(tile + i * kNr + 16, acc[i][1]);
  }
  StoreTile(tile, mr, nr, c, ldc, add);
}

template <int... kRows>
constexpr auto InPlaceRowKernels(std::integer_sequence<int, kRows...>) {
  using Fn = void (*)(int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, int, int, bool);
  return std::array<Fn, sizeof...(kRows)>{KernelAvx512Rows<false, kRows + 1>...};
}

template <bool kPackedA>
__attribute__((target("avx512f"))) void KernelAvx512(int64_t depth, const float* a, int64_t lda, const float* b,
                                                     int64_t ldb, float* c, int64_t ldc, int mr, int nr, bool add) {
  if constexpr (!kPackedA) {
    // Entry r - 1 computes r rows: a batch-1 FULLY_CONNECTED computes one row, not twelve.
    static constexpr auto kByRows = InPlaceRowKernels(std::make_integer_sequence<int, kMr>());
    if (mr < kMr) return kByRows[mr - 1](depth, a, lda, b, ldb, c, ldc, mr, nr, add);
  }
  KernelAvx512Rows<kPackedA, kMr>(depth, a, lda, b, ldb, c, ldc, mr, nr, add);
}

using Kernel = void (*)(int64_t, const float*, int64_t, const float*, int64_t, float*, int64_t, int, int, bool);
struct Kernels {
  Kernel packed_a;    // A from a packed panel
  Kernel in_place_a;  // A read in place from a row-major matrix
};
constexpr Kernels kPortable{KernelPortable<true>, KernelPortable<false>};
constexpr Kernels kAvx512{KernelAvx512<true>, KernelAvx512<false>};

Kernels ChooseKernels() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") ? kAvx512 : kPortable;
}

const Kernels kKernels = ChooseKernels();

}  // namespace

bool SgemmUsesAvx512() { return kKernels.packed_a == kAvx512.packed_a; }

namespace {

// Row-major operands are read in place (their rows are already what the micro-kernel
// walks; a partial tile of A too, computing only its rows); transposed operands and a
// partial panel of B are packed first.
void BlockedSgemm(const Kernels& kernels, int64_t m, int64_t n, int64_t k, MatrixView a, MatrixView b, float* c,
                  int64_t ldc, bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    }
    return;
  }
  const bool a_in_place = a.col_stride == 1, b_in_place = b.col_stride == 1;
  thread_local std::vector<float> packed_a, packed_b;
  const int64_t n_padded = (n + kNr - 1) / kNr * kNr;
  packed_b.resize(static_cast<size_t>(n_padded * std::min(k, kKc)));
  packed_a.resize(static_cast<size_t>(kMc * std::min(k, kKc)));
  const int64_t last_panel = (n - 1) / kNr * kNr;
  for (int64_t p0 = 0; p0 < k; p0 += kKc) {
    const int64_t depth = std::min(kKc, k - p0);
    const bool add = accumulate || p0 > 0;
    const MatrixView b_block{b.data + p0 * b.row_stride, b.row_stride, b.col_stride};
    if (!b_in_place) {
      PackB(b_block, depth, n, packed_b.data());
    } else if (n - last_panel < kNr) {
      PackB({b_block.data + last_panel, b.row_stride, 1}, depth, n - last_panel, packed_b.data() + last_panel * depth);
    }
    for (int64_t i0 = 0; i0 < m; i0 += kMc) {
      const int64_t rows = std::min(kMc, m - i0);
      const MatrixView a_block{a.data + i0 * a.row_stride + p0 * a.col_stride, a.row_stride, a.col_stride};
      if (!a_in_place) PackA(a_block, rows, depth, packed_a.data());
      for (int64_t j0 = 0; j0 < n; j0 += kNr) {
        const int nr = static_cast<int>(std::min<int64_t>(kNr, n - j0));
        const bool b_direct = b_in_place && nr == kNr;
        const float* b_panel = b_direct ? b_block.data + j0 : packed_b.data() + j0 * depth;
        const int64_t ldb = b_direct ? b.row_stride : kNr;
        for (int64_t r0 = 0; r0 < rows; r0 += kMr) {
          const int mr = static_cast<int>(std::min<int64_t>(kMr, rows - r0));
          float* c_tile = c + (i0 + r0) * ldc + j0;
          if (!a_in_place) {
            kernels.packed_a(depth, packed_a.data() + r0 * depth, kMr, b_panel, ldb, c_tile, ldc, mr, nr, add);
          } else {
            kernels.in_place_a(depth, a_block.data + r0 * a.row_stride, a.row_stride, b_panel, ldb, c_tile, ldc, mr, nr,
                               add);
          }
        }
      }
    }
  }
}

}  // namespace

void Sgemm(int64_t m, int64_t n, int64_t k, MatrixView a, MatrixView b, float* c, int64_t ldc, bool accumulate) {
  BlockedSgemm(kKernels, m, n, k, a, b, c, ldc, accumulate);
}

void SgemmPortable(int64_t m, int64_t n, int64_t k, MatrixView a, MatrixView b, float* c, int64_t ldc,
                   bool accumulate) {
  BlockedSgemm(kPortable, m, n, k, a, b, c, ldc, accumulate);
}

}  // namespace qaudit::kernels
