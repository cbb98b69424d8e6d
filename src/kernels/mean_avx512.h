// The sums behind 8-bit MEAN (SumReduced in mean.h) with AVX-512, for reductions over
// adjacent axes (a MiddleAxisView), such as a global average over H and W: 16 channels per
// vector instead of one element per call through ForEachReduced. Callers check
// SumMiddleAxisAvx512Available().
#ifndef QAUDIT_SRC_KERNELS_MEAN_AVX512_H_
#define QAUDIT_SRC_KERNELS_MEAN_AVX512_H_

#include <cstdint>

#include "kernels/mean.h"

namespace qaudit::kernels {

bool SumMiddleAxisAvx512Available();  // AVX-512 F, BW and VL

// sums[o * inner + i] = the int32 sum over r of x[(o * reduced + r) * inner + i], for the
// v.outer * v.inner outputs.
void SumMiddleAxisAvx512(const MiddleAxisView& v, const int8_t* x, int32_t* sums);
void SumMiddleAxisAvx512(const MiddleAxisView& v, const uint8_t* x, int32_t* sums);

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_MEAN_AVX512_H_
