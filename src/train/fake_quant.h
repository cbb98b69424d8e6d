// TensorFlow's FakeQuantWithMinMaxVars (tensorflow/core/kernels/fake_quant_ops_functor.h),
// the op tfmot's QAT inserts and the TFLite converter reads ranges from:
//   - the range [min, max] is nudged so that 0 is exactly representable: scale =
//     (max - min) / (quant_max - quant_min), zero point = round(quant_min - min / scale)
//     clamped to [quant_min, quant_max], nudged_min = (quant_min - zero point) * scale,
//     nudged_max = (quant_max - zero point) * scale;
//   - forward: clamp x to the nudged range, then floor((x - nudged_min) * (1 / scale) +
//     0.5) * scale + nudged_min (ties round up);
//   - backward: the straight-through estimator inside the nudged range, 0 outside; min
//     receives the gradients of the values below the range, max those above it.
// 8 bits: quant range [0, 255], or [1, 255] with narrow_range (symmetric int8 weights).
#ifndef QAUDIT_SRC_TRAIN_FAKE_QUANT_H_
#define QAUDIT_SRC_TRAIN_FAKE_QUANT_H_

#include <cmath>
#include <cstdint>

namespace qaudit::train {

struct FakeQuantGrid {
  float scale = 1.0f;
  float nudged_min = 0.0f;
  float nudged_max = 0.0f;
};

inline FakeQuantGrid NudgeRange(float min, float max, int quant_min, int quant_max) {
  FakeQuantGrid g;
  const float qmin = static_cast<float>(quant_min), qmax = static_cast<float>(quant_max);
  g.scale = (max - min) / (qmax - qmin);
  if (!(g.scale > 0.0f)) return {1.0f, 0.0f, 0.0f};  // an empty range: everything becomes 0
  const float zero_point_from_min = qmin - min / g.scale;
  const float zero_point = zero_point_from_min < qmin   ? qmin
                           : zero_point_from_min > qmax ? qmax
                                                        : std::round(zero_point_from_min);
  g.nudged_min = (qmin - zero_point) * g.scale;
  g.nudged_max = (qmax - zero_point) * g.scale;
  return g;
}

// TensorFlow multiplies by the inverse scale rather than dividing; so do we.
inline float FakeQuantValue(float x, const FakeQuantGrid& g, float inverse_scale) {
  // Comparisons rather than std::fmin/fmax, which compile to library calls and stop the
  // callers' loops from vectorizing (x is never NaN here).
  const float low = x < g.nudged_min ? g.nudged_min : x;
  const float clamped = low > g.nudged_max ? g.nudged_max : low;
  return std::floor((clamped - g.nudged_min) * inverse_scale + 0.5f) * g.scale + g.nudged_min;
}
inline float FakeQuantValue(float x, const FakeQuantGrid& g) { return FakeQuantValue(x, g, 1.0f / g.scale); }

// Gradient routing of one element: 0 passes dy to x, -1 to min, +1 to max.
inline int FakeQuantRoute(float x, const FakeQuantGrid& g) { return x < g.nudged_min ? -1 : x > g.nudged_max ? 1 : 0; }

}  // namespace qaudit::train

#endif  // QAUDIT_SRC_TRAIN_FAKE_QUANT_H_
