#include "train/gemm.h"

#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <vector>

namespace qaudit::train {
namespace {

// A 12 x 32 tile of C lives in 24 zmm registers while the micro-kernel walks the shared
// dimension; the packed B panel (kKc x 32 floats, 32 KiB) stays in L1, the packed A block
// (kMc x kKc) in L2.
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

void KernelPortable(int64_t depth, const float* a, const float* b, float* c, int64_t ldc, int mr, int nr, bool add) {
  float tile[kMr * kNr] = {};
  for (int64_t p = 0; p < depth; ++p) {
    for (int i = 0; i < kMr; ++i) {
      const float ai = a[p * kMr + i];
      for (int j = 0; j < kNr; ++j) tile[i * kNr + j] += ai * b[p * kNr + j];
    }
  }
  StoreTile(tile, mr, nr, c, ldc, add);
}

__attribute__((target("avx512f"))) void KernelAvx512(int64_t depth, const float* a, const float* b, float* c,
                                                    int64_t ldc, int mr, int nr, bool add) {
  __m512 acc[kMr][2];
#pragma GCC unroll 12
  for (int i = 0; i < kMr; ++i) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int64_t p = 0; p < depth; ++p) {
    const __m512 b0 = _mm512_loadu_ps(b + p * kNr);
    const __m512 b1 = _mm512_loadu_ps(b + p * kNr + 16);
#pragma GCC unroll 12
    for (int i = 0; i < kMr; ++i) {
      const __m512 ai = _mm512_set1_ps(a[p * kMr + i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
  if (mr == kMr && nr == kNr) {
#pragma GCC unroll 12
    for (int i = 0; i < kMr; ++i) {
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
  for (int i = 0; i < kMr; ++i) {
    _mm512_store_ps(tile + i * kNr, acc[i][0]);
    _mm512_store_ps(tile + i * kNr + 16, acc[i][1]);
  }
  StoreTile(tile, mr, nr, c, ldc, add);
}

using Kernel = void (*)(int64_t, const float*, const float*, float*, int64_t, int, int, bool);

Kernel ChooseKernel() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") ? KernelAvx512 : KernelPortable;
}

const Kernel kKernel = ChooseKernel();

}  // namespace

bool SgemmUsesAvx512() { return kKernel == KernelAvx512; }

namespace {

void BlockedSgemm(Kernel kernel, int64_t m, int64_t n, int64_t k, MatrixView a, MatrixView b, float* c, int64_t ldc,
                  bool accumulate) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) {
    if (!accumulate) {
      for (int64_t i = 0; i < m; ++i) std::fill(c + i * ldc, c + i * ldc + n, 0.0f);
    }
    return;
  }
  thread_local std::vector<float> packed_a, packed_b;
  const int64_t n_padded = (n + kNr - 1) / kNr * kNr;
  packed_b.resize(static_cast<size_t>(n_padded * std::min(k, kKc)));
  packed_a.resize(static_cast<size_t>(kMc * std::min(k, kKc)));
  for (int64_t p0 = 0; p0 < k; p0 += kKc) {
    const int64_t depth = std::min(kKc, k - p0);
    const bool add = accumulate || p0 > 0;
    PackB({b.data + p0 * b.row_stride, b.row_stride, b.col_stride}, depth, n, packed_b.data());
    for (int64_t i0 = 0; i0 < m; i0 += kMc) {
      const int64_t rows = std::min(kMc, m - i0);
      PackA({a.data + i0 * a.row_stride + p0 * a.col_stride, a.row_stride, a.col_stride}, rows, depth,
            packed_a.data());
      for (int64_t j0 = 0; j0 < n; j0 += kNr) {
        const int nr = static_cast<int>(std::min<int64_t>(kNr, n - j0));
        for (int64_t r0 = 0; r0 < rows; r0 += kMr) {
          const int mr = static_cast<int>(std::min<int64_t>(kMr, rows - r0));
          kernel(depth, packed_a.data() + r0 * depth, packed_b.data() + j0 * depth, c + (i0 + r0) * ldc + j0, ldc,
                  mr, nr, add);
        }
      }
    }
  }
}

}  // namespace

void Sgemm(int64_t m, int64_t n, int64_t k, MatrixView a, MatrixView b, float* c, int64_t ldc, bool accumulate) {
  BlockedSgemm(kKernel, m, n, k, a, b, c, ldc, accumulate);
}

void SgemmPortable(int64_t m, int64_t n, int64_t k, MatrixView a, MatrixView b, float* c, int64_t ldc,
                   bool accumulate) {
  BlockedSgemm(KernelPortable, m, n, k, a, b, c, ldc, accumulate);
}

}  // namespace qaudit::train
