// FULLY_CONNECTED: out[b][o] = act(bias[o] + sum_i w[o][i] * x[b][i]) with weights [O, I].
// Quantized: the accumulator is sum (x - input_zero_point) * (w - weight_zero_point).
#ifndef QAUDIT_SRC_KERNELS_FULLY_CONNECTED_H_
#define QAUDIT_SRC_KERNELS_FULLY_CONNECTED_H_

#include <algorithm>
#include <cstdint>
#include <vector>

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
      const float* wo = w + static_cast<int64_t>(o) * s.in;
      float acc = 0.0f;
      for (int i = 0; i < s.in; ++i) acc += xb[i] * wo[i];
      if (bias) acc += bias[o];
      y[static_cast<int64_t>(b) * s.out + o] = std::min(std::max(acc, act_min), act_max);
    }
  }
}

template <typename In, typename W, typename Bias, typename Acc, typename Out>
void FullyConnectedQuantized(const FullyConnectedShape& s, const In* x, int32_t in_zp, const W* w, int32_t w_zp,
                             const Bias* bias, const OutputStage& stage, Out* y) {
  DispatchRounding(stage.rounding, [&](auto rounding) {
    std::vector<int32_t> centered(s.in);
    for (int b = 0; b < s.batch; ++b) {
      const In* xb = x + static_cast<int64_t>(b) * s.in;
      for (int i = 0; i < s.in; ++i) centered[i] = xb[i] - in_zp;
      for (int o = 0; o < s.out; ++o) {
        const W* wo = w + static_cast<int64_t>(o) * s.in;
        Acc acc = 0;
        for (int i = 0; i < s.in; ++i) acc += static_cast<Acc>(centered[i] * (wo[i] - w_zp));
        if (bias) acc += static_cast<Acc>(bias[o]);
        y[static_cast<int64_t>(b) * s.out + o] = static_cast<Out>(stage.Apply<decltype(rounding)::value>(acc, o));
      }
    }
  });
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_FULLY_CONNECTED_H_
