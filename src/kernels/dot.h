// Dot products written so that the compiler vectorizes them (-O3): int16 x int16 sums into
// int32 (pmaddwd) and float sums over sixteen independent partial sums. Results are exact
// for integers and do not depend on the thread count for floats.
#ifndef QAUDIT_SRC_KERNELS_DOT_H_
#define QAUDIT_SRC_KERNELS_DOT_H_

#include <cstdint>

namespace qaudit::kernels {

// Exact while n * max|a * b| < 2^31: for 8-bit kernels (|a| <= 255, |b| <= 255) that is
// n < 33,000; callers with longer or wider operands use DotInt16Wide.
// Past that the sum wraps around as TFLite's int32 accumulator does (summed as uint32,
// so the wrap is defined; it vectorizes the same).
inline int32_t DotInt16(const int16_t* a, const int16_t* b, int n) {
  uint32_t sum = 0;
  for (int i = 0; i < n; ++i) sum += static_cast<uint32_t>(static_cast<int32_t>(a[i]) * b[i]);
  return static_cast<int32_t>(sum);
}

// Exact for any n when |b| <= 128 (int8 weights against int16 activations): each block
// of 128 products is below 2^31 in magnitude, so it is summed in int32, then in int64.
inline int64_t DotInt16Wide(const int16_t* a, const int16_t* b, int n) {
  constexpr int kBlock = 128;
  int64_t sum = 0;
  for (int start = 0; start < n; start += kBlock) {
    const int end = start + kBlock < n ? start + kBlock : n;
    int32_t block = 0;
    for (int i = start; i < end; ++i) block += static_cast<int32_t>(a[i]) * b[i];
    sum += block;
  }
  return sum;
}

// Sixteen independent partial sums (one AVX-512 register, or two AVX2 ones) added in a
// fixed order: vectorizable without -ffast-math, and the same result on every run.
inline float DotFloat(const float* a, const float* b, int n) {
  float partial[16] = {};
  int i = 0;
  for (; i + 16 <= n; i += 16) {
#pragma GCC unroll 16
    for (int k = 0; k < 16; ++k) partial[k] += a[i + k] * b[i + k];
  }
  float sum = 0.0f;
  for (int k = 0; k < 16; ++k) sum += partial[k];
  for (; i < n; ++i) sum += a[i] * b[i];
  return sum;
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_DOT_H_
