// Quantized 8-bit ADD and SUB without broadcasting, 16 elements per AVX-512 vector. The
// reference kernels (add.h) run one element at a time through three scalar fixed-point
// multiplications; these compute the same integers, bit for bit, in both rule sets:
// AddQuantized (TFLite's double rounding) and AddQuantizedXnnpack. Callers check
// AddQuantizedAvx512Available().
#ifndef QAUDIT_SRC_KERNELS_ADD_AVX512_H_
#define QAUDIT_SRC_KERNELS_ADD_AVX512_H_

#include <cstdint>

#include "kernels/add.h"

namespace qaudit::kernels {

bool AddQuantizedAvx512Available();  // AVX-512 F, BW and VL

// AddQuantized<T> over `n` elements of same-shaped a, b and out. REQUIRES: p.left_shift
// <= 22, so that (x - zero_point) * 2^left_shift fits in int32 as the reference assumes.
void AddQuantizedAvx512(int64_t n, const int8_t* a, const int8_t* b, const QuantizedAddParams& p, int8_t* out);
void AddQuantizedAvx512(int64_t n, const uint8_t* a, const uint8_t* b, const QuantizedAddParams& p, uint8_t* out);

// AddQuantizedXnnpack<T> over `n` elements of same-shaped a, b and out.
void AddQuantizedXnnpackAvx512(int64_t n, const int8_t* a, const int8_t* b, const XnnpackAddParams& p, int8_t* out);
void AddQuantizedXnnpackAvx512(int64_t n, const uint8_t* a, const uint8_t* b, const XnnpackAddParams& p,
                               uint8_t* out);

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_ADD_AVX512_H_
