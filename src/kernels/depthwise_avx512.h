// Float DEPTHWISE_CONV_2D with AVX-512 vectors over the channels. DepthwiseConvFloat
// (conv.h) leaves the channel loop to the compiler, which cannot keep the accumulators in
// registers across taps and, with a depth multiplier, does not vectorize at all.
//
// Bit for bit DepthwiseConvFloat, infinities and signed zeros included: each output element
// starts from its bias (or +0), adds the rounded product x * w of each tap inside the image
// in the same order (ky, then kx), each add rounded (separate vmulps and vaddps, never FMA:
// the reference is built with -ffp-contract=off), and is clamped as
// min(max(acc, act_min), act_max). NaN comes out wherever the reference's does; which NaN
// (its sign and payload) does not carry over: when two NaNs meet in an add, x86 returns the
// first operand, and for `+` the compiler picks that order, per build, in both kernels.
// Callers check DepthwiseConvFloatAvx512Available().
#ifndef QAUDIT_SRC_KERNELS_DEPTHWISE_AVX512_H_
#define QAUDIT_SRC_KERNELS_DEPTHWISE_AVX512_H_

#include "kernels/conv.h"

namespace qaudit::kernels {

bool DepthwiseConvFloatAvx512Available();  // AVX-512 F
// Same arguments and layout as DepthwiseConvFloat: `w` is [filter_h][filter_w][out_c],
// `bias` may be null; any depth multiplier.
void DepthwiseConvFloatAvx512(const ConvGeometry& g, const float* in, const float* w, const float* bias,
                              float act_min, float act_max, float* out);

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_DEPTHWISE_AVX512_H_
