#include "quant/params.h"

#include <algorithm>
#include <cmath>
#include <limits>

namespace qaudit::quant {

QuantParams AsymmetricParams(FloatRange range, int qmin, int qmax) {
  const float lo = std::min(range.min, 0.0f);
  const float hi = std::max(range.max, 0.0f);
  float scale = (hi - lo) / static_cast<float>(qmax - qmin);
  float zero_point_from_min = static_cast<float>(qmin);
  if (scale != 0.0f) {
    zero_point_from_min = static_cast<float>(qmin) - lo / scale;
  } else {
    scale = 1.0f;
  }
  int64_t zero_point;
  if (zero_point_from_min < static_cast<float>(qmin)) {
    zero_point = qmin;
  } else if (zero_point_from_min > static_cast<float>(qmax)) {
    zero_point = qmax;
  } else {
    zero_point = static_cast<int64_t>(std::round(zero_point_from_min));
  }
  QuantParams p;
  p.scale = {scale};
  p.zero_point = {zero_point};
  return p;
}

QuantParams SymmetricInt16Params(FloatRange range) {
  const float half_range = std::max(std::fabs(range.min), std::fabs(range.max));
  QuantParams p;
  p.scale = {half_range > 0.0f ? half_range / 32767.0f : 1.0f};
  p.zero_point = {0};
  return p;
}

std::vector<int64_t> QuantizeValues(const float* values, int64_t n, const QuantParams& params, int qmin, int qmax) {
  std::vector<int64_t> q(n);
  const float scale = params.scale[0];
  const int64_t zero_point = params.zero_point_at(0);
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = static_cast<int64_t>(std::round(values[i] / scale)) + zero_point;
    q[i] = std::clamp<int64_t>(v, qmin, qmax);
  }
  return q;
}

namespace {

// Elements of `shape` after `axis`: consecutive elements share a channel in runs this long.
int64_t InnerSize(const Shape& shape, int axis) {
  int64_t inner = 1;
  for (size_t d = axis + 1; d < shape.size(); ++d) inner *= shape[d];
  return inner;
}

}  // namespace

std::vector<float> WeightHalfRanges(const float* w, const Shape& shape, int axis) {
  const int64_t n = NumElements(shape);
  if (axis < 0) {
    float half = 0.0f;
    for (int64_t i = 0; i < n; ++i) half = std::max(half, std::fabs(w[i]));
    return {half};
  }
  const int64_t channels = shape[axis], inner = InnerSize(shape, axis);
  std::vector<float> half(channels, 0.0f);
  for (int64_t i = 0; i < n; ++i) {
    float& h = half[(i / inner) % channels];
    h = std::max(h, std::fabs(w[i]));
  }
  return half;
}

SymmetricWeights QuantizeWeights(const float* w, const Shape& shape, int axis, std::vector<float> half_range) {
  SymmetricWeights out;
  out.axis = axis;
  const size_t channels = half_range.size();
  std::vector<float> inverse(channels);
  for (size_t c = 0; c < channels; ++c) {
    // An all-zero channel gets scale 1 rather than TFLite's 0: its values are 0 either way,
    // and kernels refuse a zero scale.
    out.scales.push_back(half_range[c] > 0.0f ? half_range[c] / 127.0f : 1.0f);
    inverse[c] = half_range[c] > 0.0f ? 127.0f / half_range[c] : 0.0f;
  }
  const int64_t n = NumElements(shape);
  const int64_t inner = axis < 0 ? n : InnerSize(shape, axis);
  out.values.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    const size_t c = axis < 0 ? 0 : (i / inner) % channels;
    const float q = std::round(w[i] * inverse[c]);
    out.values[i] = static_cast<int8_t>(std::clamp(q, -127.0f, 127.0f));
  }
  out.half_range = std::move(half_range);
  return out;
}

int WidenForInt32Bias(const float* bias, int64_t bias_size, float input_scale, std::vector<float>& half_range) {
  constexpr double kInt32Max = std::numeric_limits<int32_t>::max();
  int widened = 0;
  if (half_range.size() > 1) {
    for (size_t c = 0; c < half_range.size() && static_cast<int64_t>(c) < bias_size; ++c) {
      const double weight_scale = half_range[c] / 127.0;
      if (std::fabs(bias[c]) >= 0.5 * input_scale * weight_scale * kInt32Max) {
        half_range[c] = static_cast<float>(2.0 * std::fabs(bias[c]) / kInt32Max * (127.0 / input_scale));
        ++widened;
      }
    }
    return widened;
  }
  float bias_half_range = 0.0f;
  for (int64_t i = 0; i < bias_size; ++i) bias_half_range = std::max(bias_half_range, std::fabs(bias[i]));
  if (bias_half_range / kInt32Max >= 0.5 * input_scale * (half_range[0] / 127.0)) {
    half_range[0] = static_cast<float>(2.0 * bias_half_range / kInt32Max * (127.0 / input_scale));
    ++widened;
  }
  return widened;
}

std::vector<int64_t> QuantizeBias(const float* bias, int64_t n, float input_scale, const std::vector<float>& weight_scales,
                                  bool int64_bias) {
  const double limit = int64_bias ? 9.2e18 : static_cast<double>(std::numeric_limits<int32_t>::max());
  std::vector<int64_t> q(n);
  for (int64_t c = 0; c < n; ++c) {
    const float scale = input_scale * weight_scales[weight_scales.size() == 1 ? 0 : c];
    const double v = std::round(static_cast<double>(bias[c]) / scale);
    q[c] = static_cast<int64_t>(std::clamp(v, -limit, limit));
  }
  return q;
}

}  // namespace qaudit::quant
