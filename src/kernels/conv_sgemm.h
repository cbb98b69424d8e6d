// The fast path of float CONV_2D and FULLY_CONNECTED: im2col (for conv) and Sgemm, then
// bias and the activation's clamp. Sgemm fuses multiply and add, so results differ from
// ConvFloat / FullyConnectedFloat by rounding (float results are not bit-exact with TFLite
// either way); they do not depend on how many rows one call takes, so batching and
// threading leave them unchanged.
#ifndef QAUDIT_SRC_KERNELS_CONV_SGEMM_H_
#define QAUDIT_SRC_KERNELS_CONV_SGEMM_H_

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/conv.h"
#include "kernels/sgemm.h"

namespace qaudit::kernels {

// y[i][c] = clamp(y[i][c] + bias[c]) over `rows` rows of n.
inline void AddBiasAndClamp(int64_t rows, int n, const float* bias, float act_min, float act_max, float* y) {
  for (int64_t i = 0; i < rows; ++i) {
    float* row = y + i * n;
    for (int c = 0; c < n; ++c) row[c] = std::min(std::max(row[c] + (bias ? bias[c] : 0.0f), act_min), act_max);
  }
}

// `wt` holds the weights transposed to [patch_size][out_c] (Transposed(w, out_c, patch_size)).
inline void ConvFloatSgemm(const ConvGeometry& g, const float* in, const float* wt, const float* bias, float act_min,
                           float act_max, float* out) {
  const int k = g.patch_size();
  const int64_t pixels = static_cast<int64_t>(g.out_h) * g.out_w;
  // About 64 KiB of patches per pass, in whole 12-row tiles.
  const int rows_per_pass = std::clamp(16384 / k / 12 * 12, 12, 240);
  thread_local PaddedImage<float> image;
  thread_local std::vector<float> patches;
  patches.resize(static_cast<size_t>(rows_per_pass) * k + 4);
  const auto same = [](float v) { return v; };
  // A first layer's runs are a few floats (3 for 3x3 over one channel): a fixed 16-byte
  // move instead of a library call; the float written past such a run is overwritten by
  // the next run or falls in the slack of `patches`.
  const auto copy = [](const float* src, int n, float* dst) {
    if (n <= 4) {
      std::memcpy(dst, src, 4 * sizeof(float));
    } else {
      std::copy_n(src, n, dst);
    }
  };
  for (int b = 0; b < g.batch; ++b) {
    const bool padded = PadImage(g, in, b, 0.0f, same, &image);
    for (int64_t p0 = 0; p0 < pixels; p0 += rows_per_pass) {
      const int rows = static_cast<int>(std::min<int64_t>(rows_per_pass, pixels - p0));
      for (int i = 0; i < rows; ++i) {
        const int oy = static_cast<int>((p0 + i) / g.out_w), ox = static_cast<int>((p0 + i) % g.out_w);
        float* patch = patches.data() + static_cast<int64_t>(i) * k;
        if (padded) {
          PatchFromPadded(g, image, oy, ox, copy, patch);
        } else {
          GatherPatch(g, in, b, oy, ox, 0.0f, same, patch);
        }
      }
      float* o = out + (b * pixels + p0) * g.out_c;
      Sgemm(rows, g.out_c, k, RowMajor(patches.data(), k), RowMajor(wt, g.out_c), o, g.out_c, false);
      AddBiasAndClamp(rows, g.out_c, bias, act_min, act_max, o);
    }
  }
}

}  // namespace qaudit::kernels

#endif  // QAUDIT_SRC_KERNELS_CONV_SGEMM_H_
