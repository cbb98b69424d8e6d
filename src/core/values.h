// Reading model outputs as real numbers.
#ifndef QAUDIT_SRC_CORE_VALUES_H_
#define QAUDIT_SRC_CORE_VALUES_H_

#include <cstdint>
#include <vector>

#include "qaudit/tensor.h"

namespace qaudit {

// Elements [begin, begin + count) of `t` as real values: quantized integers dequantized
// with the tensor's (per-tensor) scale and zero point, float32 as is.
inline std::vector<float> RealValues(const HostTensor& t, const QuantParams& quant, int64_t begin = 0,
                                     int64_t count = -1) {
  if (count < 0) count = t.num_elements() - begin;
  std::vector<float> v(count);
  const float scale = quant.has_scale() ? quant.scale[0] : 1.0f;
  const float zp = static_cast<float>(quant.zero_point_at(0));
  for (int64_t i = 0; i < count; ++i) {
    switch (t.dtype) {
      case DType::kFloat32: v[i] = t.data<float>()[begin + i]; break;
      case DType::kInt8: v[i] = (t.data<int8_t>()[begin + i] - zp) * scale; break;
      case DType::kUInt8: v[i] = (t.data<uint8_t>()[begin + i] - zp) * scale; break;
      case DType::kInt16: v[i] = (t.data<int16_t>()[begin + i] - zp) * scale; break;
      case DType::kInt32: v[i] = static_cast<float>(t.data<int32_t>()[begin + i]); break;
      default: v[i] = 0; break;
    }
  }
  return v;
}

// Index of the largest of n values (the first on ties).
inline int64_t ArgMax(const float* v, int64_t n) {
  int64_t best = 0;
  for (int64_t i = 1; i < n; ++i) {
    if (v[i] > v[best]) best = i;
  }
  return best;
}

}  // namespace qaudit

#endif  // QAUDIT_SRC_CORE_VALUES_H_
