// Float CONV_2D with few input channels (a first layer's 1 to 3, up to 8) as a
// direct convolution on AVX-512. im2col + Sgemm is a poor fit there: the patch of one
// output pixel is a handful of floats (9 for 3x3 over one channel), so gathering the
// patches costs as much as the products, and a GEMM of depth 9 spends its time loading and
// storing its accumulators. Here each output pixel's accumulators (up to 64 output
// channels) stay in registers for the whole patch: for each tap and input channel, the
// input value is broadcast straight from memory into an FMA with that tap's weight
// vectors, which are loaded once for a run of output pixels of one row.
//
// Each image is first copied into a zero-padded image (PadImage, conv.h), so that every tap
// of every output pixel reads memory without a bounds check; taps outside the image read
// these zeros, as ConvFloat's patches do. Any filter size, stride, dilation, padding and
// output channel count; ConvSmallChannelsSuits says when the kernel is used.
//
// Numerics: not bit-exact with ConvFloat (nor is the Sgemm path). Each output starts from
// its bias (or +0) and adds the products of its patch in the order (ky, kx, ic), each with
// one FMA: with u = 2^-24 and K = filter_h * filter_w * in_c, the error against exact
// arithmetic is at most K u (|bias| + sum |x| |w|) to first order, against ConvFloat's
// (K + 1) u (...). Then clamp(acc) as min(max(acc, act_min), act_max), so NaN stays NaN.
// Non-finite values come out where ConvFloat's do (an infinite weight times a padding zero
// is NaN in both), except near float's overflow, where a product ConvFloat rounds to
// infinity may stay finite inside an FMA.
//
// Results do not depend on the batch size, on how a row is cut into runs of pixels, or on
// which thread runs an image: every output is the same chain of FMAs. Scratch is
// thread_local. Callers check ConvSmallChannelsAvx512Available().
#ifndef QAUDIT_SRC_KERNELS_CONV_SMALL_CHANNELS_AVX512_H_
#define QAUDIT_SRC_KERNELS_CONV_SMALL_CHANNELS_AVX512_H_

#include <vector>

#include "kernels/conv.h"
#include "kernels/winograd_avx512.h"  // CacheLineAllocator

namespace qaudit::kernels {

bool ConvSmallChannelsAvx512Available();  // AVX-512 F

// Whether the direct kernel is the faster path: few input channels (measured against
// im2col + Sgemm, see the .cc), and a padded image not far larger than the image.
bool ConvSmallChannelsSuits(const ConvGeometry& g);

// The weights as [filter_h][filter_w][in_c][out_c_stride], out_c_stride the output
// channels rounded up to 16 (zeros after out_c), on 64-byte boundaries.
struct SmallChannelsWeights {
  int patch_size = 0, out_c = 0, out_c_stride = 0;
  std::vector<float, CacheLineAllocator<float>> w;
  const float* data() const { return w.data(); }
};

// `w` is TFLite's OHWI [out_c][filter_h][filter_w][in_c]. Portable code.
SmallChannelsWeights PrepareSmallChannelsWeights(const float* w, const ConvGeometry& g);

// Same arguments as ConvFloatSgemm, the weights as PrepareSmallChannelsWeights made them
// for `g`; `bias` may be null. Needs ConvSmallChannelsSuits(g).
void ConvSmallChannelsAvx512(const ConvGeometry& g, const float* in, const SmallChannelsWeights& w,
                             const float* bias, float act_min, float act_max, float* out);

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_CONV_SMALL_CHANNELS_AVX512_H_
