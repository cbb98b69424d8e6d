// What the training engine's pieces share: the per-layer state a forward pass keeps for the
// backward pass, the geometry of sliding-window ops, the forward kernels (kernels.cc) and
// the backward rules (gradients.cc).
#ifndef QAUDIT_SRC_TRAIN_ENGINE_H_
#define QAUDIT_SRC_TRAIN_ENGINE_H_

#include <algorithm>
#include <cstdint>
#include <vector>

#include "qaudit/train.h"

namespace qaudit::train {

// What one layer holds between Forward and Backward.
struct LayerState {
  Array value;          // the layer's output, after activation and output transform
  Array grad;           // d(loss)/d(value)
  Array pre_transform;  // the output before the output transform (only with one)
  // Weights as the op used them: after the weight transform, or folded with a batch norm.
  Array weights_used;
  Array weights_used_grad;
  Array folded_weights;  // folded batch norm: the weights times `scale`, before the transform
  Array bias_used;       // folded batch norm's bias
  Array bias_transformed;  // the bias after Layer::bias_transform
  // Batch norm: the normalised input and the batch statistics (per channel). For a folded
  // batch norm: the statistics of the raw product and the scale gamma / sqrt(var + eps).
  Array normalized;
  std::vector<float> mean, inv_std, scale;
  std::vector<int32_t> argmax;  // max pool: the input index (within the sample) of each output
};

struct ModelState {
  std::vector<LayerState> layers;
  // needs_grad[i]: whether d(loss)/d(layer i) is wanted (false for the input and what only
  // depends on it through nothing trainable).
  std::vector<bool> needs_grad;
  std::vector<int> folded_into;  // for a conv/FC feeding a folded batch norm: that BN; else -1
  Mode mode = Mode::kEval;
  int64_t batch = 0;
  std::vector<std::vector<float>> partials;  // per-worker scratch for gradient sums

  // Gives every worker `size` zeros in partials[worker] to accumulate into.
  void ZeroPartials(size_t size) {
    for (std::vector<float>& p : partials) p.assign(size, 0.0f);
  }
  // Adds floats [offset, offset + size) of every worker's partial to `out`.
  void SumPartials(size_t offset, size_t size, float* out) const {
    for (const std::vector<float>& p : partials) {
      for (size_t i = 0; i < size; ++i) out[i] += p[offset + i];
    }
  }
};

// The sliding window of conv, depthwise conv and pooling, with TFLite's padding: SAME puts
// the extra padding row/column at the bottom/right. A fully-connected layer is a 1x1
// convolution of a 1x1 image with in_c = input features.
struct Window {
  int in_h = 1, in_w = 1, in_c = 1;
  int out_h = 1, out_w = 1, out_c = 1;
  int kernel = 1, stride = 1;
  int pad_top = 0, pad_left = 0;

  int64_t in_size() const { return int64_t{in_h} * in_w * in_c; }
  int64_t out_pixels() const { return int64_t{out_h} * out_w; }
  int64_t out_size() const { return out_pixels() * out_c; }
  int64_t patch() const { return int64_t{kernel} * kernel * in_c; }  // conv: one im2col row
  // Whether im2col would copy the input unchanged.
  bool is_pointwise() const { return kernel == 1 && stride == 1 && pad_top == 0 && pad_left == 0; }
  // Calls fn(ky, kx, iy, ix) for every tap of output pixel (oy, ox) that lies inside the
  // image (taps in the padding contribute nothing).
  template <typename Fn>
  void ForEachTap(int oy, int ox, Fn&& fn) const {
    for (int ky = 0; ky < kernel; ++ky) {
      const int iy = oy * stride - pad_top + ky;
      if (iy < 0 || iy >= in_h) continue;
      for (int kx = 0; kx < kernel; ++kx) {
        const int ix = ox * stride - pad_left + kx;
        if (ix >= 0 && ix < in_w) fn(ky, kx, iy, ix);
      }
    }
  }
};
// REQUIRES: in and out of rank 3 ([H, W, C]), or rank 1 for a fully-connected layer.
Window MakeWindow(const Layer& layer, const Shape& in_shape);
int OutputSize(int in, int kernel, int stride, Padding padding);

// Convolutions run im2col + Sgemm over chunks of samples with about this many im2col rows,
// so that a chunk's rows stay in L2 (768 x 288 floats is ~0.9 MB).
inline constexpr int64_t kRowsPerChunk = 768;
inline int64_t SamplesPerChunk(const Window& win) { return std::max<int64_t>(1, kRowsPerChunk / win.out_pixels()); }

// ---- forward kernels (kernels.cc); `batch` samples, work split over the pool.

// Conv, depthwise or fully-connected with weights `w` (the layer's layout), optional bias
// and fused activation.
void LinearForward(LayerKind kind, const Window& win, int64_t batch, const float* x, const float* w, const float* bias,
                   Activation act, float* y, ThreadPool& pool);
// Rows of im2col for samples [first, first + count): row (n, oy, ox) holds the patch in
// (ky, kx, c) order, zeros where the window leaves the image.
void Im2Col(const Window& win, const float* x, int64_t count, float* col);
void MaxPoolForward(const Window& win, int64_t batch, const float* x, float* y, int32_t* argmax, ThreadPool& pool);
void AveragePoolForward(const Window& win, int64_t batch, const float* x, float* y, ThreadPool& pool);
// How many in-bounds elements the window of output (oy, ox) covers.
int AveragePoolCount(const Window& win, int oy, int ox);
void GlobalAveragePoolForward(int64_t batch, int64_t pixels, int64_t channels, const float* x, float* y,
                              ThreadPool& pool);
void ApplyActivation(Activation act, float* data, int64_t n);
void UnaryForward(LayerKind kind, const float* x, float* y, int64_t n, ThreadPool& pool);
// Per-channel mean and inverse standard deviation over `rows` rows of `channels`.
void ChannelMoments(const float* x, int64_t rows, int64_t channels, float epsilon, std::vector<float>& mean,
                    std::vector<float>& inv_std, std::vector<float>& variance, ThreadPool& pool);

// out = w scaled per output channel (w.channel_axis: 0 or the last axis).
void ScaleWeightsPerChannel(const Parameter& w, const std::vector<float>& scale, Array& out);

float SoftmaxCrossEntropyLoss(const Array& logits, const int32_t* labels);

// ---- backward (gradients.cc)

void SoftmaxCrossEntropyBackward(const Array& logits, const int32_t* labels, Array& dlogits);

// Back-propagates layer `index`: reads state.layers[index].grad, adds to the grads of its
// inputs (when needed) and of its parameters.
void BackwardLayer(const std::vector<Layer>& layers, int index, ModelState& state, ThreadPool& pool);

}  // namespace qaudit::train

#endif  // QAUDIT_SRC_TRAIN_ENGINE_H_
