// FULLY_CONNECTED: out[b][o] = act(bias[o] + sum_i w[o][i] * x[b][i]) with weights [O, I].
// Quantized: the accumulator is sum (x - input_zero_point) * (w - weight_zero_point);
// Prepare passes the weights already centred and widened to int16 (CenteredWeights).
#ifndef QAUDIT_SRC_KERNELS_FULLY_CONNECTED_H_
#define QAUDIT_SRC_KERNELS_FULLY_CONNECTED_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "kernels/dot.h"
#include "kernels/output_stage.h"

namespace qaudit::kernels {

struct FullyConnectedShape {
  int batch, in, out;
};

inline void FullyConnectedFloat(const FullyConnectedShape& s, const float* x, const float* w, const float* bias,
                                float act_min, float act_max, float* y) {
  for (int b = 0; b < s.batch; ++b) {
    const float* xb = x + static_cast<int64_t>(b) * s.in;
    for (int o = 0; o < s.out; ++o) {
      const float acc = DotFloat(xb, w + static_cast<int64_t>(o) * s.in, s.in) + (bias ? bias[o] : 0.0f);
      y[static_cast<int64_t>(b) * s.out + o] = std::min(std::max(acc, act_min), act_max);
    }
  }
}

template <typename In, typename Bias, typename Acc, typename Out>
void FullyConnectedQuantized(const FullyConnectedShape& s, const In* x, int32_t in_zp, const int16_t* w16,
                             const Bias* bias, const OutputStage& stage, Out* y) {
  DispatchRounding(stage.rounding, [&](auto rounding) {
    std::vector<int16_t> centered(s.in);
    for (int b = 0; b < s.batch; ++b) {
      const In* xb = x + static_cast<int64_t>(b) * s.in;
      for (int i = 0; i < s.in; ++i) centered[i] = static_cast<int16_t>(xb[i] - in_zp);
      for (int o = 0; o < s.out; ++o) {
        const int16_t* wo = w16 + static_cast<int64_t>(o) * s.in;
        Acc acc = sizeof(Acc) == 8 ? DotInt16Wide(centered.data(), wo, s.in) : DotInt16(centered.data(), wo, s.in);
        if (bias) acc = WrapAdd(acc, static_cast<Acc>(bias[o]));
        y[static_cast<int64_t>(b) * s.out + o] = static_cast<Out>(stage.Apply<decltype(rounding)::value>(acc, o));
      }
    }
  });
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_FULLY_CONNECTED_H_
