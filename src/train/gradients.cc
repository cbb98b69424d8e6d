// Every backward rule of the training engine, one case per layer kind in BackwardLayer,
// plus the loss's. Each rule reads d(loss)/d(output) and adds to the gradients of the
// layer's inputs and parameters (adds, because a value may feed several layers).
#include <cassert>
#include <cmath>

#include "kernels/sgemm.h"
#include "train/engine.h"

namespace qaudit::train {

using kernels::RowMajor;
using kernels::Sgemm;
using kernels::Transposed;

namespace {

// dy *= d act(v)/dv, from the activation's output y: relu passes where y > 0, relu6
// where 0 < y < 6 (the gradient at the kinks is taken as 0).
void MaskActivationRange(Activation act, const float* __restrict y, float* __restrict dy, int64_t n) {
  if (act != Activation::kRelu && act != Activation::kRelu6) return;
  const float upper = act == Activation::kRelu6 ? 6.0f : INFINITY;
  for (int64_t i = 0; i < n; ++i) dy[i] = (y[i] > 0.0f && y[i] < upper) ? dy[i] : 0.0f;
}

void MaskActivation(Activation act, const float* y, float* dy, int64_t n, ThreadPool& pool) {
  if (act == Activation::kNone) return;
  pool.ParallelFor(n, [act, y, dy](int64_t begin, int64_t end, int) {
    MaskActivationRange(act, y + begin, dy + begin, end - begin);
  });
}

// The adjoint of Im2Col: adds each patch entry back to the input element it was copied from.
void Col2ImAdd(const Window& win, const float* col, int64_t count, float* dx) {
  const int64_t patch = win.patch();
  for (int64_t n = 0; n < count; ++n) {
    float* image = dx + n * win.in_size();
    for (int oy = 0; oy < win.out_h; ++oy) {
      for (int ox = 0; ox < win.out_w; ++ox) {
        const float* row = col + ((n * win.out_h + oy) * win.out_w + ox) * patch;
        win.ForEachTap(oy, ox, [&](int ky, int kx, int iy, int ix) {
          const float* src = row + (ky * win.kernel + kx) * win.in_c;
          float* dst = image + (int64_t{iy} * win.in_w + ix) * win.in_c;
          for (int c = 0; c < win.in_c; ++c) dst[c] += src[c];
        });
      }
    }
  }
}

// The gradient of a linear layer's output arrives through its fused activation (output y);
// the rules mask it chunk by chunk, while it is in cache.
struct LinearOutput {
  const float* y;
  Activation act;
};

// Conv (and fully-connected, a 1x1 conv): dW += dY^T col, db += column sums of dY,
// dX += col2im(dY W). Each worker sums its samples' dW and db in its partial.
void ConvBackward(const Window& win, int64_t batch, const float* x, LinearOutput out, float* dy, const float* w,
                  float* dx, float* dw, float* db, ModelState& st, ThreadPool& pool) {
  const int64_t patch = win.patch(), chunk = SamplesPerChunk(win);
  const size_t weight_size = static_cast<size_t>(win.out_c * patch);
  st.ZeroPartials(weight_size + win.out_c);
  pool.ParallelFor(batch, [&](int64_t begin, int64_t end, int worker) {
    float* pw = st.partials[worker].data();
    float* pb = pw + weight_size;
    thread_local std::vector<float> col, dcol;
    for (int64_t n0 = begin; n0 < end; n0 += chunk) {
      const int64_t count = std::min(chunk, end - n0);
      const int64_t rows = count * win.out_pixels();
      const float* a = x + n0 * win.in_size();
      if (!win.is_pointwise()) {
        col.resize(static_cast<size_t>(rows * patch));
        Im2Col(win, a, count, col.data());
        a = col.data();
      }
      float* g = dy + n0 * win.out_size();
      MaskActivationRange(out.act, out.y + n0 * win.out_size(), g, count * win.out_size());
      Sgemm(win.out_c, patch, rows, Transposed(g, win.out_c), RowMajor(a, patch), pw, patch, true);
      const int out_c = win.out_c;
      for (int64_t r = 0; r < rows; ++r) {
        for (int c = 0; c < out_c; ++c) pb[c] += g[r * out_c + c];
      }
      if (dx == nullptr) continue;
      float* dx_chunk = dx + n0 * win.in_size();
      if (win.is_pointwise()) {
        Sgemm(rows, patch, win.out_c, RowMajor(g, win.out_c), RowMajor(w, patch), dx_chunk, patch, true);
      } else {
        dcol.resize(static_cast<size_t>(rows * patch));
        Sgemm(rows, patch, win.out_c, RowMajor(g, win.out_c), RowMajor(w, patch), dcol.data(), patch, false);
        Col2ImAdd(win, dcol.data(), count, dx_chunk);
      }
    }
  });
  st.SumPartials(0, weight_size, dw);
  if (db != nullptr) st.SumPartials(weight_size, win.out_c, db);
}

void DepthwiseBackward(const Window& win, int64_t batch, const float* x, LinearOutput out, float* dy, const float* w,
                       float* dx, float* dw, float* db, ModelState& st, ThreadPool& pool) {
  const int channels = win.in_c;
  const size_t weight_size = static_cast<size_t>(win.kernel) * win.kernel * channels;
  st.ZeroPartials(weight_size + channels);
  pool.ParallelFor(batch, [&](int64_t begin, int64_t end, int worker) {
    float* pw = st.partials[worker].data();
    float* pb = pw + weight_size;
    for (int64_t n = begin; n < end; ++n) {
      const float* image = x + n * win.in_size();
      MaskActivationRange(out.act, out.y + n * win.out_size(), dy + n * win.out_size(), win.out_size());
      for (int oy = 0; oy < win.out_h; ++oy) {
        for (int ox = 0; ox < win.out_w; ++ox) {
          const float* g = dy + n * win.out_size() + (int64_t{oy} * win.out_w + ox) * channels;
          for (int c = 0; c < channels; ++c) pb[c] += g[c];
          win.ForEachTap(oy, ox, [&](int ky, int kx, int iy, int ix) {
            const int64_t at = (int64_t{iy} * win.in_w + ix) * channels;
            const int tap = (ky * win.kernel + kx) * channels;
            for (int c = 0; c < channels; ++c) pw[tap + c] += image[at + c] * g[c];
            if (dx != nullptr) {
              float* d = dx + n * win.in_size() + at;
              for (int c = 0; c < channels; ++c) d[c] += w[tap + c] * g[c];
            }
          });
        }
      }
    }
  });
  st.SumPartials(0, weight_size, dw);
  if (db != nullptr) st.SumPartials(weight_size, channels, db);
}

void LinearBackward(LayerKind kind, const Window& win, int64_t batch, const float* x, LinearOutput out, float* dy,
                    const float* w, float* dx, float* dw, float* db, ModelState& st, ThreadPool& pool) {
  if (kind == LayerKind::kDepthwiseConv2D) {
    DepthwiseBackward(win, batch, x, out, dy, w, dx, dw, db, st, pool);
  } else {
    ConvBackward(win, batch, x, out, dy, w, dx, dw, db, st, pool);
  }
}

// Per-channel sums over rows: out[c] = sum_r a[r, c] (* b[r, c] when b is given).
void ChannelSums(const float* a, const float* b, int64_t rows, int64_t channels, float* out, ModelState& st,
                 ThreadPool& pool) {
  st.ZeroPartials(channels);
  pool.ParallelFor(rows, [&st, a, b, channels](int64_t begin, int64_t end, int worker) {
    float* __restrict sum = st.partials[worker].data();
    for (int64_t r = begin; r < end; ++r) {
      const float* x = a + r * channels;
      if (b == nullptr) {
        for (int64_t c = 0; c < channels; ++c) sum[c] += x[c];
      } else {
        for (int64_t c = 0; c < channels; ++c) sum[c] += x[c] * b[r * channels + c];
      }
    }
  });
  std::fill(out, out + channels, 0.0f);
  st.SumPartials(0, channels, out);
}

void Accumulate(const Array& from, Array& to) {
  for (int64_t i = 0; i < from.size(); ++i) to.data[i] += from.data[i];
}

void LinearLayerBackward(const std::vector<Layer>& layers, int index, ModelState& st, float* dx, ThreadPool& pool) {
  const Layer& l = layers[index];
  LayerState& s = st.layers[index];
  Parameter& weights = *l.weights;
  // Through the weight transform unless the layer is folded (then its batch norm applies it).
  const bool transformed = l.weight_transform && st.folded_into[index] < 0;
  const float* w = transformed ? s.weights_used.data.data() : weights.value.data.data();
  if (transformed) {
    s.weights_used_grad.Resize(weights.value.shape);
    std::fill(s.weights_used_grad.data.begin(), s.weights_used_grad.data.end(), 0.0f);
  }
  float* dw = transformed ? s.weights_used_grad.data.data() : weights.grad.data.data();
  const Array& out = l.output_transform ? s.pre_transform : s.value;
  LinearBackward(l.kind, MakeWindow(l, layers[l.inputs[0]].shape), st.batch, st.layers[l.inputs[0]].value.data.data(),
                 {out.data.data(), l.activation}, s.grad.data.data(), w, dx, dw,
                 l.bias != nullptr ? l.bias->grad.data.data() : nullptr, st, pool);
  if (transformed) {
    Array d(weights.value.shape);
    l.weight_transform->Backward(weights.value, s.weights_used_grad, d, pool);
    Accumulate(d, weights.grad);
  }
}

void BatchNormBackward(const Layer& l, LayerState& s, ModelState& st, float* dx, ThreadPool& pool) {
  const int64_t channels = l.shape.back(), rows = s.grad.size() / channels;
  const float* dy = s.grad.data.data();
  const float* norm = s.normalized.data.data();
  std::vector<float> dbeta(channels), dgamma(channels);
  ChannelSums(dy, nullptr, rows, channels, dbeta.data(), st, pool);
  ChannelSums(dy, norm, rows, channels, dgamma.data(), st, pool);
  for (int64_t c = 0; c < channels; ++c) l.beta->grad.data[c] += dbeta[c], l.gamma->grad.data[c] += dgamma[c];
  if (dx == nullptr) return;
  const float* gamma = l.gamma->value.data.data();
  pool.ParallelFor(rows, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t k = r * channels + c;
        // The batch statistics depend on x too, which removes the gradient's mean and its
        // projection on the normalised values.
        const float g = dy[k] - (dbeta[c] + norm[k] * dgamma[c]) / rows;
        dx[k] += gamma[c] * s.inv_std[c] * g;
      }
    }
  });
}

// The folded batch norm of Model::FoldBatchNorm: y = linear(x, T(W * s)) + beta + (b - mean) * s
// with s = gamma / sqrt(var + eps) and mean, var the statistics of z = linear(x, W) + b.
// Besides dx and dW through the folded product, the gradient reaches gamma through s and z
// (hence the linear layer's own backward, run next) through mean and var.
void FoldedBatchNormBackward(const std::vector<Layer>& layers, int index, ModelState& st, ThreadPool& pool) {
  const Layer& l = layers[index];
  LayerState& s = st.layers[index];
  const int linear_index = l.inputs[0];
  const Layer& linear = layers[linear_index];
  LayerState& ls = st.layers[linear_index];
  const int64_t channels = l.shape.back(), rows = s.grad.size() / channels;
  float* dy = s.grad.data.data();

  std::vector<float> dy_sum(channels);
  ChannelSums(dy, nullptr, rows, channels, dy_sum.data(), st, pool);
  for (int64_t c = 0; c < channels; ++c) l.beta->grad.data[c] += dy_sum[c];

  const Array& used = linear.weight_transform ? s.weights_used : s.folded_weights;
  s.weights_used_grad.Resize(used.shape);
  std::fill(s.weights_used_grad.data.begin(), s.weights_used_grad.data.end(), 0.0f);
  const int x_index = linear.inputs[0];
  float* dx = st.needs_grad[x_index] ? st.layers[x_index].grad.data.data() : nullptr;
  LinearBackward(linear.kind, MakeWindow(linear, layers[x_index].shape), st.batch, st.layers[x_index].value.data.data(),
                 {nullptr, Activation::kNone}, dy, used.data.data(), dx, s.weights_used_grad.data.data(), nullptr, st,
                 pool);
  Array dfolded(used.shape);
  if (linear.weight_transform) {
    linear.weight_transform->Backward(s.folded_weights, s.weights_used_grad, dfolded, pool);
  } else {
    dfolded.data = s.weights_used_grad.data;
  }

  // d(loss)/d(scale), from the weights and the bias.
  Parameter& weights = *linear.weights;
  std::vector<double> dscale(channels, 0.0);
  const int64_t per_channel = weights.value.size() / channels;
  for (int64_t i = 0; i < weights.value.size(); ++i) {
    const int64_t c = weights.channel_axis == 0 ? i / per_channel : i % channels;
    weights.grad.data[i] += dfolded.data[i] * s.scale[c];
    dscale[c] += double{dfolded.data[i]} * weights.value.data[i];
  }
  std::vector<float> dmean(channels), dvar(channels);
  for (int64_t c = 0; c < channels; ++c) {
    const float b = linear.bias != nullptr ? linear.bias->value.data[c] : 0.0f;
    if (linear.bias != nullptr) linear.bias->grad.data[c] += dy_sum[c] * s.scale[c];
    dscale[c] += double{dy_sum[c]} * (b - s.mean[c]);
    dmean[c] = -dy_sum[c] * s.scale[c];
    l.gamma->grad.data[c] += static_cast<float>(dscale[c] * s.inv_std[c]);
    const float inv_std = s.inv_std[c];
    dvar[c] = static_cast<float>(dscale[c] * l.gamma->value.data[c] * -0.5 * inv_std * inv_std * inv_std);
  }
  const float* z = ls.value.data.data();
  float* dz = ls.grad.data.data();
  pool.ParallelFor(rows, [&](int64_t begin, int64_t end, int) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t c = 0; c < channels; ++c) {
        const int64_t k = r * channels + c;
        dz[k] += (dmean[c] + 2.0f * dvar[c] * (z[k] - s.mean[c])) / rows;
      }
    }
  });
}

void MaxPoolSampleBackward(const Window& win, const int32_t* __restrict argmax, const float* __restrict dy,
                           float* __restrict dx) {
  for (int64_t o = 0; o < win.out_size(); ++o) dx[argmax[o]] += dy[o];
}

void AveragePoolSampleBackward(const Window& win, const float* __restrict dy, float* __restrict dx) {
  for (int oy = 0; oy < win.out_h; ++oy) {
    for (int ox = 0; ox < win.out_w; ++ox) {
      const float* g = dy + (int64_t{oy} * win.out_w + ox) * win.in_c;
      const float inv_count = 1.0f / AveragePoolCount(win, oy, ox);
      win.ForEachTap(oy, ox, [&](int, int, int iy, int ix) {
        float* d = dx + (int64_t{iy} * win.in_w + ix) * win.in_c;
        for (int c = 0; c < win.in_c; ++c) d[c] += g[c] * inv_count;
      });
    }
  }
}

void PoolBackward(const Layer& l, const Shape& in_shape, const LayerState& s, const ModelState& st, float* dx,
                  ThreadPool& pool) {
  const Window win = MakeWindow(l, in_shape);
  pool.ParallelFor(st.batch, [&](int64_t begin, int64_t end, int) {
    for (int64_t n = begin; n < end; ++n) {
      const float* dy = s.grad.data.data() + n * win.out_size();
      if (l.kind == LayerKind::kMaxPool2D) {
        MaxPoolSampleBackward(win, s.argmax.data() + n * win.out_size(), dy, dx + n * win.in_size());
      } else {
        AveragePoolSampleBackward(win, dy, dx + n * win.in_size());
      }
    }
  });
}

}  // namespace

void SoftmaxCrossEntropyBackward(const Array& logits, const int32_t* labels, Array& dlogits) {
  const int64_t batch = logits.shape[0], classes = logits.size() / batch;
  dlogits.Resize(logits.shape);
  for (int64_t n = 0; n < batch; ++n) {
    const float* z = logits.data.data() + n * classes;
    float* dz = dlogits.data.data() + n * classes;
    const float max = *std::max_element(z, z + classes);
    double sum = 0;
    for (int64_t k = 0; k < classes; ++k) sum += std::exp(double{z[k]} - max);
    // d/dz of mean(log sum exp z - z[label]) = (softmax(z) - onehot(label)) / batch.
    for (int64_t k = 0; k < classes; ++k) {
      const double softmax = std::exp(double{z[k]} - max) / sum;
      dz[k] = static_cast<float>((softmax - (k == labels[n] ? 1.0 : 0.0)) / batch);
    }
  }
}

void BackwardLayer(const std::vector<Layer>& layers, int index, ModelState& st, ThreadPool& pool) {
  const Layer& l = layers[index];
  LayerState& s = st.layers[index];
  const Array& out = l.output_transform ? s.pre_transform : s.value;
  float* dy = s.grad.data.data();
  const int64_t n = s.grad.size();
  const bool linear =
      l.kind == LayerKind::kConv2D || l.kind == LayerKind::kDepthwiseConv2D || l.kind == LayerKind::kFullyConnected;
  if (!linear) MaskActivation(l.activation, out.data.data(), dy, n, pool);
  auto input_grad = [&](int k) -> float* {
    const int in = l.inputs[k];
    return st.needs_grad[in] ? st.layers[in].grad.data.data() : nullptr;
  };
  auto add_to_input = [&](int k, auto derivative) {
    float* dx = input_grad(k);
    if (dx == nullptr) return;
    const float* x = st.layers[l.inputs[k]].value.data.data();
    pool.ParallelFor(n, [x, dx, dy, derivative](int64_t begin, int64_t end, int) {
      const float* __restrict in = x;
      const float* __restrict g = dy;
      float* __restrict d = dx;
      for (int64_t i = begin; i < end; ++i) d[i] += derivative(in[i]) * g[i];
    });
  };
  switch (l.kind) {
    case LayerKind::kInput:
      break;
    case LayerKind::kConv2D:
    case LayerKind::kDepthwiseConv2D:
    case LayerKind::kFullyConnected:
      LinearLayerBackward(layers, index, st, input_grad(0), pool);
      break;
    case LayerKind::kMaxPool2D:
    case LayerKind::kAveragePool2D:
      if (float* dx = input_grad(0)) PoolBackward(l, layers[l.inputs[0]].shape, s, st, dx, pool);
      break;
    case LayerKind::kAdd:
    case LayerKind::kReshape:
      for (size_t k = 0; k < l.inputs.size(); ++k) add_to_input(static_cast<int>(k), [](float) { return 1.0f; });
      break;
    case LayerKind::kGlobalAveragePool:
      if (float* dx = input_grad(0)) {
        const Shape& in = layers[l.inputs[0]].shape;
        const int64_t pixels = int64_t{in[0]} * in[1], channels = in[2];
        pool.ParallelFor(st.batch, [&](int64_t begin, int64_t end, int) {
          for (int64_t b = begin; b < end; ++b) {
            for (int64_t p = 0; p < pixels; ++p) {
              for (int64_t c = 0; c < channels; ++c)
                dx[(b * pixels + p) * channels + c] += dy[b * channels + c] / pixels;
            }
          }
        });
      }
      break;
    case LayerKind::kRelu:
      add_to_input(0, [](float x) { return x > 0.0f ? 1.0f : 0.0f; });
      break;
    case LayerKind::kRelu6:
      add_to_input(0, [](float x) { return x > 0.0f && x < 6.0f ? 1.0f : 0.0f; });
      break;
    case LayerKind::kHardSwish:
      // d/dx x * relu6(x + 3) / 6: 0 below -3, 1 above 3, (2x + 3) / 6 between.
      add_to_input(0, [](float x) { return x <= -3.0f ? 0.0f : x >= 3.0f ? 1.0f : (2.0f * x + 3.0f) / 6.0f; });
      break;
    case LayerKind::kBatchNorm:
      if (l.folded) {
        FoldedBatchNormBackward(layers, index, st, pool);
      } else {
        BatchNormBackward(l, s, st, input_grad(0), pool);
      }
      break;
  }
}

}  // namespace qaudit::train
