// Single-precision matrix product (training and float inference): C (+)= A * B with A and B read
// through strides, so transposed operands cost nothing extra. Cache-blocked and packed,
// with an AVX-512 micro-kernel chosen at run time when the CPU has it and a portable one
// otherwise. Serial: callers split work over threads.
#ifndef QAUDIT_SRC_KERNELS_SGEMM_H_
#define QAUDIT_SRC_KERNELS_SGEMM_H_

#include <cstdint>

namespace qaudit::kernels {

// Element (i, j) is data[i * row_stride + j * col_stride].
struct MatrixView {
  const float* data;
  int64_t row_stride, col_stride;
};
inline MatrixView RowMajor(const float* data, int64_t cols) { return {data, cols, 1}; }
inline MatrixView Transposed(const float* row_major_data, int64_t row_major_cols) {
  return {row_major_data, 1, row_major_cols};
}

// C[m x n] = A[m x k] * B[k x n], or C += A * B when `accumulate`. C is row-major with
// leading dimension ldc. Uses FMA (rounding differs from the -ffp-contract=off kernels).
void Sgemm(int64_t m, int64_t n, int64_t k, MatrixView a, MatrixView b, float* c, int64_t ldc, bool accumulate);

// Sgemm with the portable micro-kernel, the one machines without AVX-512 run.
void SgemmPortable(int64_t m, int64_t n, int64_t k, MatrixView a, MatrixView b, float* c, int64_t ldc, bool accumulate);

// Whether Sgemm runs the AVX-512 micro-kernel on this CPU.
bool SgemmUsesAvx512();

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_SGEMM_H_
