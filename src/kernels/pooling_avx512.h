// MAX_POOL_2D with AVX-512 masked vectors over the channels: MaxPool (pooling.h) spends
// most of its time in loop tails when a row holds fewer channels than one vector. Same
// results as MaxPool, NaN and signed zeros included. Callers check MaxPoolAvx512Available().
#ifndef QAUDIT_SRC_KERNELS_POOLING_AVX512_H_
#define QAUDIT_SRC_KERNELS_POOLING_AVX512_H_

#include <cstdint>

#include "kernels/conv.h"

namespace qaudit::kernels {

bool MaxPoolAvx512Available();  // AVX-512 F, BW and VL
void MaxPoolAvx512(const ConvGeometry& g, const int8_t* in, int8_t act_min, int8_t act_max, int8_t* out);
void MaxPoolAvx512(const ConvGeometry& g, const float* in, float act_min, float act_max, float* out);

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_POOLING_AVX512_H_
