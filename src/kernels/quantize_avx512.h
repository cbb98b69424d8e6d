// float -> int8 QUANTIZE with AVX-512 (a model's float input enters this way, once per
// sample): QuantizeFloat<int8_t> (quantize.h) in every QuantizeRule, NaN, infinities and
// ties included, 16 values per step instead of a call to std::round per value. Callers
// check QuantizeAvx512Available().
#ifndef QAUDIT_SRC_KERNELS_QUANTIZE_AVX512_H_
#define QAUDIT_SRC_KERNELS_QUANTIZE_AVX512_H_

#include <cstdint>

#include "kernels/quantize.h"

namespace qaudit::kernels {

bool QuantizeAvx512Available();  // AVX-512 F, BW and VL
void QuantizeFloatToInt8Avx512(const float* x, int64_t n, float scale, int32_t zero_point, QuantizeRule rule,
                               int8_t* q);

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_QUANTIZE_AVX512_H_
