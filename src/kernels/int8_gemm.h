// The fast path of int8 CONV_2D and FULLY_CONNECTED: an AVX-512 VNNI matrix product with
// int32 accumulation (convolutions read their patches in place from a padded copy of the
// image), then the output stage of output_stage.h vectorized (output_stage_avx512.h).
// Results are the reference kernels' (conv.h, fully_connected.h), bit for bit, in every
// rounding rule but kInt64 (16x8, which never comes here).
//
// vpdpbusd multiplies unsigned by signed bytes, so activations enter as x + 128 (uint8) and
// the weights as they are (int8 weights are symmetric). Per output channel c the reference
// accumulator is
//   bias[c] + sum_k (x_k - zp) * w[c][k] = sum_k (x_k + 128) * w[c][k] + offset[c],
//   offset[c] = bias[c] - (zp + 128) * sum_k w[c][k],
// all modulo 2^32 as TFLite's int32 accumulator wraps; Prepare computes offset once and the
// micro-kernel starts from it. Taps in the padding enter as zp + 128, i.e. x - zp = 0.
//
// Callers check Int8GemmAvailable() (the CPU has AVX-512 F, BW, VL and VNNI); elsewhere the
// reference kernels run.
#ifndef QAUDIT_SRC_KERNELS_INT8_GEMM_H_
#define QAUDIT_SRC_KERNELS_INT8_GEMM_H_

#include <cstdint>
#include <vector>

#include "kernels/conv.h"
#include "kernels/output_stage.h"

namespace qaudit::kernels {

bool Int8GemmAvailable();

// Int8 weights [n][k] for the micro-kernel: blocks of 16 output channels, each laid out as
// [k_padded / 4][16 channels][4 taps], zero beyond n and k; plus the offsets above.
struct Int8GemmWeights {
  int n = 0, k = 0;
  int n_padded = 0, k_padded = 0;  // multiples of 16 and 4
  // Convolution weights packed by PackInt8ConvWeights as `segments` runs, one per filter
  // row, each filter_w * in_c taps zero-padded to a multiple of 4: the kernel then reads
  // each patch row in place from the padded image. 0 for plain [n][k] weights.
  int segments = 0;
  std::vector<int8_t> packed;
  std::vector<int32_t> offset;  // [n_padded]
};
// `bias` may be null. `input_zero_point` is the activations' zero point.
Int8GemmWeights PackInt8GemmWeights(const int8_t* w, int n, int k, const int32_t* bias, int32_t input_zero_point);
// CONV_2D weights [out_c][patch_size]: in segments when the filter is not dilated along x,
// else as PackInt8GemmWeights.
Int8GemmWeights PackInt8ConvWeights(const int8_t* w, const ConvGeometry& g, const int32_t* bias,
                                    int32_t input_zero_point);

// The output stage's per-channel parameters as flat arrays padded to a multiple of 16.
// The kernel multiplies the even and the odd channels of each 16 in 64-bit lanes, so the
// 64-bit parameters are stored per block of 16 as its 8 even channels, then its 8 odd ones.
struct Int8Requantization {
  Rounding rounding = Rounding::kDouble;
  std::vector<int32_t> multiplier;
  std::vector<int32_t> right_shift;  // kDouble: max(-shift, 0)
  std::vector<int64_t> shift64;      // kSingle: 31 - shift; kDouble: max(shift, 0) (the left shift)
  std::vector<int64_t> round64;      // kSingle: 2^(30 - shift)
  std::vector<float> scale;          // kFp32
  int32_t zero_point = 0, act_min = 0, act_max = 0;
  // Per channel, accumulators in [monotone_min, monotone_max] requantize without saturating
  // or wrapping around when the zero point is added: there the output stage is monotone,
  // so the maximum of requantized values is the requantized maximum.
  std::vector<int32_t> monotone_min, monotone_max;
};
// REQUIRES: stage.rounding is kDouble, kSingle or kFp32, with one multiplier per channel.
Int8Requantization MakeInt8Requantization(const OutputStage& stage);

// acc[i][c] = offset[c] + sum_k a[i][k] * w[c][k] (mod 2^32) for i < m, c < n_padded.
// Rows of `a` are lda >= k_padded bytes apart; acc rows are n_padded int32s apart.
void Int8Gemm(int m, const uint8_t* a, int64_t lda, const Int8GemmWeights& w, int32_t* acc);

// out[i][c] = the output stage applied to acc[i][c], for i < m, c < n; acc rows are
// ld_acc apart, out rows ld_out. Each acc row is read up to n rounded up to 16.
void Requantize(const Int8Requantization& r, const int32_t* acc, int64_t ld_acc, int m, int n, int8_t* out,
                int64_t ld_out);

// CONV_2D: ConvQuantized<int8_t, int32_t, int32_t, int8_t> with the bias folded into `w`
// (PackInt8ConvWeights).
void ConvInt8Vnni(const ConvGeometry& g, const int8_t* in, int32_t in_zp, const Int8GemmWeights& w,
                  const Int8Requantization& r, int8_t* out);

// A MAX_POOL_2D whose windows are size x size with stride size and no padding (VALID),
// with its activation range (in the common integer domain of its input and output).
struct MaxPoolAfterConv {
  int size = 0;
  int32_t act_min = -128, act_max = 127;
  // AccumulatorsStayMonotone for the convolution: no window needs checking.
  bool monotone = false;
};
// Whether every accumulator these weights can produce (any uint8 taps) lies in r's
// monotone range, without wrapping around, and (kSingle) every channel's shift is at least
// 32 bits: the fused pooling then skips its per-window check and shortcuts its rounding.
bool AccumulatorsStayMonotone(const Int8GemmWeights& w, const Int8Requantization& r);
// CONV_2D, then that MAX_POOL_2D on its output, writing only the pooled output
// [batch][out_h / size][out_w / size][out_c]: the same values as ConvInt8Vnni followed by
// MaxPool. Windows are pooled on the int32 accumulators and requantized once, where the
// output stage is monotone (Int8Requantization::monotone_min/max); elsewhere each value is
// requantized before the maximum.
void ConvMaxPoolInt8Vnni(const ConvGeometry& g, const int8_t* in, int32_t in_zp, const Int8GemmWeights& w,
                         const Int8Requantization& r, const MaxPoolAfterConv& pool, int8_t* out);

// FULLY_CONNECTED over `rows` input rows, each at its own address (samples of a block live
// in separate arenas): FullyConnectedQuantized<int8_t, int32_t, int32_t, int8_t> per row.
void FullyConnectedInt8Vnni(int rows, const int8_t* const* x, const Int8GemmWeights& w, const Int8Requantization& r,
                            int8_t* const* y);

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_INT8_GEMM_H_
