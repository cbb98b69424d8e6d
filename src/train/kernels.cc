// Forward kernels of the training engine.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/sgemm.h"
#include "train/engine.h"

namespace qaudit::train {

using kernels::RowMajor;
using kernels::Sgemm;
using kernels::Transposed;
int OutputSize(int in, int kernel, int stride, Padding padding) {
  return padding == Padding::kSame ? (in + stride - 1) / stride : (in - kernel) / stride + 1;
}

Window MakeWindow(const Layer& layer, const Shape& in) {
  Window w;
  if (in.size() == 1) {
    w.in_c = in[0];
    w.out_c = layer.shape[0];
    return w;
  }
  assert(in.size() == 3 && layer.shape.size() == 3);
  w.in_h = in[0], w.in_w = in[1], w.in_c = in[2];
  w.out_h = layer.shape[0], w.out_w = layer.shape[1], w.out_c = layer.shape[2];
  w.kernel = layer.kernel;
  w.stride = layer.stride;
  if (layer.padding == Padding::kSame) {
    w.pad_top = std::max((w.out_h - 1) * w.stride + w.kernel - w.in_h, 0) / 2;
    w.pad_left = std::max((w.out_w - 1) * w.stride + w.kernel - w.in_w, 0) / 2;
  }
  return w;
}

void Im2Col(const Window& win, const float* x, int64_t count, float* col) {
  const int64_t patch = win.patch();
  const size_t row_bytes = sizeof(float) * win.kernel * win.in_c;
  for (int64_t n = 0; n < count; ++n) {
    const float* image = x + n * win.in_size();
    for (int oy = 0; oy < win.out_h; ++oy) {
      for (int ox = 0; ox < win.out_w; ++ox) {
        float* out = col + ((n * win.out_h + oy) * win.out_w + ox) * patch;
        const int y0 = oy * win.stride - win.pad_top, x0 = ox * win.stride - win.pad_left;
        const bool inside_x = x0 >= 0 && x0 + win.kernel <= win.in_w;
        for (int ky = 0; ky < win.kernel; ++ky, out += win.kernel * win.in_c) {
          const int iy = y0 + ky;
          if (iy < 0 || iy >= win.in_h) {
            std::memset(out, 0, row_bytes);
          } else if (inside_x) {
            std::memcpy(out, image + (int64_t{iy} * win.in_w + x0) * win.in_c, row_bytes);
          } else {
            for (int kx = 0; kx < win.kernel; ++kx) {
              const int ix = x0 + kx;
              float* dst = out + kx * win.in_c;
              if (ix < 0 || ix >= win.in_w) {
                std::fill(dst, dst + win.in_c, 0.0f);
              } else {
                std::memcpy(dst, image + (int64_t{iy} * win.in_w + ix) * win.in_c, sizeof(float) * win.in_c);
              }
            }
          }
        }
      }
    }
  }
}

void ApplyActivation(Activation act, float* data, int64_t n) {
  if (act == Activation::kRelu) {
    for (int64_t i = 0; i < n; ++i) data[i] = std::max(data[i], 0.0f);
  } else if (act == Activation::kRelu6) {
    for (int64_t i = 0; i < n; ++i) data[i] = std::min(std::max(data[i], 0.0f), 6.0f);
  }
}

namespace {

void ConvForward(const Window& win, int64_t batch, const float* x, const float* w, const float* bias, Activation act,
                 float* y, ThreadPool& pool) {
  const int64_t patch = win.patch(), chunk = SamplesPerChunk(win);
  pool.ParallelFor(batch, [&](int64_t begin, int64_t end, int) {
    thread_local std::vector<float> col;
    for (int64_t n0 = begin; n0 < end; n0 += chunk) {
      const int64_t count = std::min(chunk, end - n0);
      const int64_t rows = count * win.out_pixels();
      const float* a = x + n0 * win.in_size();
      if (!win.is_pointwise()) {
        col.resize(static_cast<size_t>(rows * patch));
        Im2Col(win, a, count, col.data());
        a = col.data();
      }
      float* out = y + n0 * win.out_size();
      const int out_c = win.out_c;
      Sgemm(rows, out_c, patch, RowMajor(a, patch), Transposed(w, patch), out, out_c, false);
      if (bias != nullptr) {
        for (int64_t r = 0; r < rows; ++r) {
          for (int c = 0; c < out_c; ++c) out[r * out_c + c] += bias[c];
        }
      }
      ApplyActivation(act, out, rows * out_c);
    }
  });
}

void DepthwiseForward(const Window& win, int64_t batch, const float* x, const float* w, const float* bias,
                      Activation act, float* y, ThreadPool& pool) {
  const int channels = win.in_c;
  pool.ParallelFor(batch, [&](int64_t begin, int64_t end, int) {
    for (int64_t n = begin; n < end; ++n) {
      const float* image = x + n * win.in_size();
      for (int oy = 0; oy < win.out_h; ++oy) {
        for (int ox = 0; ox < win.out_w; ++ox) {
          float* out = y + n * win.out_size() + (int64_t{oy} * win.out_w + ox) * channels;
          for (int c = 0; c < channels; ++c) out[c] = bias != nullptr ? bias[c] : 0.0f;
          win.ForEachTap(oy, ox, [&](int ky, int kx, int iy, int ix) {
            const float* in = image + (int64_t{iy} * win.in_w + ix) * channels;
            const float* k = w + (ky * win.kernel + kx) * channels;
            for (int c = 0; c < channels; ++c) out[c] += in[c] * k[c];
          });
          ApplyActivation(act, out, channels);
        }
      }
    }
  });
}

}  // namespace

void LinearForward(LayerKind kind, const Window& win, int64_t batch, const float* x, const float* w, const float* bias,
                   Activation act, float* y, ThreadPool& pool) {
  if (kind == LayerKind::kDepthwiseConv2D) {
    DepthwiseForward(win, batch, x, w, bias, act, y, pool);
  } else {
    ConvForward(win, batch, x, w, bias, act, y, pool);
  }
}

namespace {

void MaxPoolSample(const Window& win, const float* __restrict image, float* __restrict y, int32_t* __restrict argmax) {
  const int channels = win.in_c;
  for (int oy = 0; oy < win.out_h; ++oy) {
    for (int ox = 0; ox < win.out_w; ++ox) {
      float* __restrict out = y + (int64_t{oy} * win.out_w + ox) * channels;
      int32_t* __restrict index = argmax + (int64_t{oy} * win.out_w + ox) * channels;
      for (int c = 0; c < channels; ++c) out[c] = -std::numeric_limits<float>::infinity(), index[c] = c;
      win.ForEachTap(oy, ox, [&](int, int, int iy, int ix) {
        const int32_t base = (iy * win.in_w + ix) * channels;
        const float* __restrict in = image + base;
        for (int c = 0; c < channels; ++c) {
          // Strictly greater: the first maximum in window order gets the gradient.
          const bool greater = in[c] > out[c];
          out[c] = greater ? in[c] : out[c];
          index[c] = greater ? base + c : index[c];
        }
      });
    }
  }
}

}  // namespace

void MaxPoolForward(const Window& win, int64_t batch, const float* x, float* y, int32_t* argmax, ThreadPool& pool) {
  pool.ParallelFor(batch, [&](int64_t begin, int64_t end, int) {
    for (int64_t n = begin; n < end; ++n) {
      MaxPoolSample(win, x + n * win.in_size(), y + n * win.out_size(), argmax + n * win.out_size());
    }
  });
}

int AveragePoolCount(const Window& win, int oy, int ox) {
  const int y0 = oy * win.stride - win.pad_top, x0 = ox * win.stride - win.pad_left;
  const int rows = std::min(y0 + win.kernel, win.in_h) - std::max(y0, 0);
  const int cols = std::min(x0 + win.kernel, win.in_w) - std::max(x0, 0);
  return rows * cols;
}

void AveragePoolForward(const Window& win, int64_t batch, const float* x, float* y, ThreadPool& pool) {
  const int channels = win.in_c;
  pool.ParallelFor(batch, [&](int64_t begin, int64_t end, int) {
    for (int64_t n = begin; n < end; ++n) {
      const float* image = x + n * win.in_size();
      for (int oy = 0; oy < win.out_h; ++oy) {
        for (int ox = 0; ox < win.out_w; ++ox) {
          float* out = y + n * win.out_size() + (int64_t{oy} * win.out_w + ox) * channels;
          std::fill(out, out + channels, 0.0f);
          win.ForEachTap(oy, ox, [&](int, int, int iy, int ix) {
            const float* in = image + (int64_t{iy} * win.in_w + ix) * channels;
            for (int c = 0; c < channels; ++c) out[c] += in[c];
          });
          const float inv_count = 1.0f / AveragePoolCount(win, oy, ox);
          for (int c = 0; c < channels; ++c) out[c] *= inv_count;
        }
      }
    }
  });
}

void GlobalAveragePoolForward(int64_t batch, int64_t pixels, int64_t channels, const float* x, float* y,
                              ThreadPool& pool) {
  pool.ParallelFor(batch, [&](int64_t begin, int64_t end, int) {
    for (int64_t n = begin; n < end; ++n) {
      float* out = y + n * channels;
      std::fill(out, out + channels, 0.0f);
      for (int64_t p = 0; p < pixels; ++p) {
        const float* in = x + (n * pixels + p) * channels;
        for (int64_t c = 0; c < channels; ++c) out[c] += in[c];
      }
      for (int64_t c = 0; c < channels; ++c) out[c] /= static_cast<float>(pixels);
    }
  });
}

void UnaryForward(LayerKind kind, const float* x, float* y, int64_t n, ThreadPool& pool) {
  pool.ParallelFor(n, [&](int64_t begin, int64_t end, int) {
    for (int64_t i = begin; i < end; ++i) {
      const float v = x[i];
      switch (kind) {
        case LayerKind::kRelu:
          y[i] = std::max(v, 0.0f);
          break;
        case LayerKind::kRelu6:
          y[i] = std::min(std::max(v, 0.0f), 6.0f);
          break;
        case LayerKind::kHardSwish:
          y[i] = v * std::min(std::max(v + 3.0f, 0.0f), 6.0f) / 6.0f;
          break;
        default:
          assert(false && "not a unary layer");
      }
    }
  });
}

void ChannelMoments(const float* x, int64_t rows, int64_t channels, float epsilon, std::vector<float>& mean,
                    std::vector<float>& inv_std, std::vector<float>& variance, ThreadPool& pool) {
  // Sums in double per worker: a batch of 128 x 28 x 28 rows would lose digits in float.
  std::vector<std::vector<double>> sums(pool.num_threads(), std::vector<double>(2 * channels, 0.0));
  pool.ParallelFor(rows, [&](int64_t begin, int64_t end, int worker) {
    double* sum = sums[worker].data();
    double* sum_sq = sum + channels;
    for (int64_t r = begin; r < end; ++r) {
      const float* row = x + r * channels;
      for (int64_t c = 0; c < channels; ++c) sum[c] += row[c], sum_sq[c] += double{row[c]} * row[c];
    }
  });
  mean.assign(channels, 0.0f);
  inv_std.assign(channels, 0.0f);
  variance.assign(channels, 0.0f);
  for (int64_t c = 0; c < channels; ++c) {
    double sum = 0, sum_sq = 0;
    for (const std::vector<double>& s : sums) sum += s[c], sum_sq += s[channels + c];
    const double m = sum / rows;
    const double var = std::max(sum_sq / rows - m * m, 0.0);
    mean[c] = static_cast<float>(m);
    variance[c] = static_cast<float>(var);
    inv_std[c] = static_cast<float>(1.0 / std::sqrt(var + epsilon));
  }
}

float SoftmaxCrossEntropyLoss(const Array& logits, const int32_t* labels) {
  const int64_t batch = logits.shape[0], classes = logits.size() / batch;
  double total = 0;
  for (int64_t n = 0; n < batch; ++n) {
    const float* z = logits.data.data() + n * classes;
    const float max = *std::max_element(z, z + classes);
    double sum = 0;
    for (int64_t k = 0; k < classes; ++k) sum += std::exp(double{z[k]} - max);
    total += std::log(sum) + max - z[labels[n]];
  }
  return static_cast<float>(total / batch);
}

float SoftmaxCrossEntropy(const Array& logits, const int32_t* labels, Array* dlogits) {
  if (dlogits != nullptr) SoftmaxCrossEntropyBackward(logits, labels, *dlogits);
  return SoftmaxCrossEntropyLoss(logits, labels);
}

}  // namespace qaudit::train
