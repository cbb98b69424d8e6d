// Ops that move elements without arithmetic: PAD, TRANSPOSE, CONCATENATION. They work on
// raw elements of any size, so one function serves every dtype. The exception is uint8
// CONCATENATION of inputs quantized unlike the output, which TFLite requantizes
// (ConcatenateUint8WithScaling).
#ifndef QAUDIT_SRC_KERNELS_SHAPE_OPS_H_
#define QAUDIT_SRC_KERNELS_SHAPE_OPS_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace qaudit::kernels {

inline std::vector<int64_t> RowMajorStrides(const std::vector<int32_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (int i = static_cast<int>(shape.size()) - 2; i >= 0; --i) strides[i] = strides[i + 1] * shape[i + 1];
  return strides;
}

// out has shape in_shape[i] + before[i] + after[i]; `pad_value` points to one element.
inline void Pad(const std::vector<int32_t>& in_shape, const std::vector<int32_t>& before,
                const std::vector<int32_t>& out_shape, size_t elem_size, const void* pad_value, const uint8_t* in,
                uint8_t* out) {
  int64_t out_count = 1;
  for (int32_t d : out_shape) out_count *= d;
  for (int64_t i = 0; i < out_count; ++i) std::memcpy(out + i * elem_size, pad_value, elem_size);
  const int rank = static_cast<int>(in_shape.size());
  if (rank == 0) {
    std::memcpy(out, in, elem_size);
    return;
  }
  const auto in_strides = RowMajorStrides(in_shape);
  const auto out_strides = RowMajorStrides(out_shape);
  int64_t in_count = 1;
  for (int32_t d : in_shape) in_count *= d;
  // Copy whole innermost rows.
  const int64_t row = in_shape[rank - 1];
  for (int64_t start = 0; start < in_count; start += row) {
    int64_t o = 0, rem = start;
    for (int d = 0; d < rank; ++d) {
      o += (rem / in_strides[d] + before[d]) * out_strides[d];
      rem %= in_strides[d];
    }
    std::memcpy(out + o * elem_size, in + start * elem_size, row * elem_size);
  }
}

// out[i_perm...] = in[...]: output dimension d is input dimension perm[d].
inline void Transpose(const std::vector<int32_t>& in_shape, const std::vector<int32_t>& perm, size_t elem_size,
                      const uint8_t* in, uint8_t* out) {
  const int rank = static_cast<int>(in_shape.size());
  std::vector<int32_t> out_shape(rank);
  for (int d = 0; d < rank; ++d) out_shape[d] = in_shape[perm[d]];
  const auto in_strides = RowMajorStrides(in_shape);
  std::vector<int64_t> src_stride(rank);  // input stride of each output dimension
  for (int d = 0; d < rank; ++d) src_stride[d] = in_strides[perm[d]];
  int64_t count = 1;
  for (int32_t d : out_shape) count *= d;
  std::vector<int32_t> idx(rank, 0);
  int64_t src = 0;
  for (int64_t o = 0; o < count; ++o) {
    std::memcpy(out + o * elem_size, in + src * elem_size, elem_size);
    for (int d = rank - 1; d >= 0; --d) {
      src += src_stride[d];
      if (++idx[d] < out_shape[d]) break;
      src -= src_stride[d] * out_shape[d];
      idx[d] = 0;
    }
  }
}

// Concatenates along `axis`: each input contributes `axis_sizes[k] * inner` contiguous
// elements per outer index.
inline void Concatenate(int64_t outer, int64_t inner, const std::vector<int32_t>& axis_sizes, size_t elem_size,
                        const std::vector<const uint8_t*>& inputs, uint8_t* out) {
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t k = 0; k < inputs.size(); ++k) {
      const int64_t n = axis_sizes[k] * inner * static_cast<int64_t>(elem_size);
      if (n > 0) std::memcpy(out, inputs[k] + o * n, n);  // an empty input may have no data
      out += n;
    }
  }
}

// How one uint8 CONCATENATION input reaches the output's quantization, as TFLite's
// ConcatenationWithScaling does it, in float: q_out = round(q * scale + bias) + out_zp with
// scale = s_in * (1 / s_out) and bias = -zp_in * scale, each operation rounded to float
// (no fused multiply-add), round half away from zero, then clamped to [0, 255]. An input
// with exactly the output's scale and zero point is copied.
struct ConcatRescale {
  bool copy = true;
  float scale = 1.0f, bias = 0.0f;
  int32_t out_zero_point = 0;
};

inline ConcatRescale MakeConcatRescale(float in_scale, int32_t in_zero_point, float out_scale,
                                       int32_t out_zero_point) {
  ConcatRescale r;
  r.copy = in_zero_point == out_zero_point && in_scale == out_scale;
  const float inverse_out_scale = 1.0f / out_scale;
  r.scale = in_scale * inverse_out_scale;
  r.bias = static_cast<float>(-in_zero_point) * r.scale;
  r.out_zero_point = out_zero_point;
  return r;
}

inline uint8_t RescaleUint8(uint8_t q, const ConcatRescale& r) {
  const float v = static_cast<float>(q) * r.scale + r.bias;
  // TFLite converts to int32 unchecked; beyond int32 this saturates (the result clamps anyway).
  const float rounded = std::round(std::min(std::max(v, -2147483520.0f), 2147483520.0f));
  const int64_t q_out = static_cast<int64_t>(rounded) + r.out_zero_point;
  return static_cast<uint8_t>(std::clamp<int64_t>(q_out, 0, 255));
}

// Concatenate for uint8 with one ConcatRescale per input.
inline void ConcatenateUint8WithScaling(int64_t outer, int64_t inner, const std::vector<int32_t>& axis_sizes,
                                        const std::vector<ConcatRescale>& rescale,
                                        const std::vector<const uint8_t*>& inputs, uint8_t* out) {
  for (int64_t o = 0; o < outer; ++o) {
    for (size_t k = 0; k < inputs.size(); ++k) {
      const int64_t n = axis_sizes[k] * inner;
      const uint8_t* in = inputs[k] + o * n;
      if (rescale[k].copy) {
        std::memcpy(out, in, n);
      } else {
        for (int64_t i = 0; i < n; ++i) out[i] = RescaleUint8(in[i], rescale[k]);
      }
      out += n;
    }
  }
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_SHAPE_OPS_H_
