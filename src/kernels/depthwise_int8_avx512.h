// Int8 DEPTHWISE_CONV_2D with depth multiplier 1 on AVX-512 VNNI: the values of
// DepthwiseConvQuantized<int8_t, int32_t, int32_t, int8_t> (conv.h), bit for bit, in the
// kDouble, kSingle and kFp32 rules, for any filter size, stride, dilation and padding.
//
// vpdpbusd sums four u8 x s8 products into each int32 lane. Here a lane is one channel and
// its four bytes are four horizontal taps of one filter row. For each input row the kernel
// builds once, per block of 16 channels, that row's "tap quads": for every output column ox
// and every group q of four filter columns, the bytes x(iy, ix0 + (4q + j) * dilation) + 128
// (j < 4, ix0 = ox * stride - pad_left). Output (oy, ox) is then filter_h * quads vpdpbusd
// of the quads of the rows its window covers against the weights, and every output row
// whose window covers an input row reuses its quads: the bytes are rearranged once per
// input row rather than once per tap. Taps in the padding read as zp + 128 and taps past
// the filter's width as 0 against weight 0, so that, as in int8_gemm.h,
//   bias[c] + sum_t (x_t - zp) * w[c][t] = sum_t (x_t + 128) * w[c][t] + offset[c],
//   offset[c] = bias[c] - (zp + 128) * sum_t w[c][t]   (modulo 2^32, as the accumulator).
//
// Callers check Int8GemmAvailable() (the same instructions).
#ifndef QAUDIT_SRC_KERNELS_DEPTHWISE_INT8_AVX512_H_
#define QAUDIT_SRC_KERNELS_DEPTHWISE_INT8_AVX512_H_

#include <cstdint>
#include <vector>

#include "kernels/conv.h"
#include "kernels/int8_gemm.h"

namespace qaudit::kernels {

// Weights, offsets and output stage packed once (at Prepare) for one depthwise layer.
// Vector v of each of these covers 16 channels, one per int32 lane: channels 16v ... 16v + 15
// in order, except in the first `wide_channels` channels (whole groups of 64, filters at
// most 4 wide), where the kernel interleaves 64 channels of taps with in-lane unpacks and
// vector 4g + k, lane 4L + d holds channel 64g + 16L + 4k + d (ChannelOfLane).
struct Int8Depthwise {
  int channels = 0, filter_h = 0, filter_w = 0;
  int quads = 0;                // groups of four filter columns: ceil(filter_w / 4)
  int wide_channels = 0;
  int32_t input_zero_point = 0;
  std::vector<int8_t> packed;   // [vector][filter_h][quads][16 lanes][4 taps], zero-padded
  std::vector<int32_t> offset;  // [vector][16 lanes]
  Int8Requantization requant;   // its channels in the lanes' order
  // The quads of an input row outside the image (every tap the zero point, + 128), one
  // column per output column: [out_w][4 vectors if wide_channels, else quads][16 lanes].
  std::vector<int32_t> padding_row;
};
// `w` as TFLite stores it, [filter_h][filter_w][channels] (int8, symmetric); `bias` may be
// null; `stage` as Int8Requantization requires, for g.out_c channels.
Int8Depthwise PrepareInt8Depthwise(const int8_t* w, const ConvGeometry& g, const int32_t* bias,
                                   int32_t input_zero_point, const OutputStage& stage);

// REQUIRES: g.depth_multiplier == 1, `d` prepared for g.
void DepthwiseConvInt8Vnni(const ConvGeometry& g, const int8_t* in, const Int8Depthwise& d, int8_t* out);

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_DEPTHWISE_INT8_AVX512_H_
