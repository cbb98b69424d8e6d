// Throughput of the executor on real data: a 4-million-MAC int8 CNN with seeded random
// weights over the 10,000 Fashion-MNIST test images, in each numerics mode, plus the same
// network in float32. Also writes the int8 model as a .tflite so `qaudit run` can be
// timed on it too.
//
//   bench/fmnist_cnn_bench [--images PATH] [--threads N] [--repeats R] [--write-model FILE]
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>

#include "qaudit/data.h"
#include "qaudit/executor.h"
#include "qaudit/tflite.h"

namespace qaudit {
namespace {

// conv3x3(1->32) 28x28, maxpool 2, conv3x3(32->64) 14x14, maxpool 2, FC 3136->64, FC 64->10.
constexpr int64_t kMacs = 28 * 28 * 32 * 9 + 14 * 14 * 64 * 9 * 32 + 3136 * 64 + 64 * 10;

class CnnBuilder {
 public:
  CnnBuilder(bool quantized, uint64_t seed) : quantized_(quantized), rng_(seed) {}

  Graph Build() {
    int x = Activation({1, 28, 28, 1}, 1.0f / 255, -128);
    g_.inputs = {x};
    x = Conv(x, 32, 28, 0.05f);
    x = MaxPool(x, 14, 32);
    x = Conv(x, 64, 14, 0.08f);
    x = MaxPool(x, 7, 64);
    x = Reshape(x, {1, 7 * 7 * 64});
    x = FullyConnected(x, 64, 0.1f, Activation::kRelu);
    x = FullyConnected(x, 10, 0.2f, Activation::kNone);
    g_.outputs = {x};
    return g_;
  }

 private:
  int Add(Tensor t) {
    t.name = "t" + std::to_string(g_.tensors.size());
    g_.tensors.push_back(std::move(t));
    return static_cast<int>(g_.tensors.size()) - 1;
  }
  int Activation(const Shape& shape, float scale, int zp) {
    Tensor t;
    t.shape = shape;
    t.dtype = quantized_ ? DType::kInt8 : DType::kFloat32;
    if (quantized_) t.quant = {{scale}, {zp}};
    return Add(t);
  }
  int Weights(const Shape& shape, int out_channels) {
    Tensor t;
    t.shape = shape;
    t.is_constant = true;
    const int64_t n = NumElements(shape);
    std::normal_distribution<float> w(0.0f, 0.3f);
    if (quantized_) {
      t.dtype = DType::kInt8;
      for (int c = 0; c < out_channels; ++c) t.quant.scale.push_back(0.01f * (1 + c % 5)), t.quant.zero_point.push_back(0);
      for (int64_t i = 0; i < n; ++i) t.data.push_back(static_cast<uint8_t>(static_cast<int8_t>(std::clamp<int>(std::lround(w(rng_) * 100), -127, 127))));
    } else {
      t.dtype = DType::kFloat32;
      t.data.resize(n * 4);
      for (int64_t i = 0; i < n; ++i) reinterpret_cast<float*>(t.data.data())[i] = w(rng_);
    }
    return Add(t);
  }
  int Bias(int channels, const Tensor& in, const Tensor& weights) {
    Tensor t;
    t.shape = {channels};
    t.is_constant = true;
    std::uniform_int_distribution<int32_t> b(-500, 500);
    t.dtype = quantized_ ? DType::kInt32 : DType::kFloat32;
    t.data.resize(channels * 4);
    for (int c = 0; c < channels; ++c) {
      if (quantized_) {
        reinterpret_cast<int32_t*>(t.data.data())[c] = b(rng_);
        t.quant.scale.push_back(in.quant.scale[0] * weights.quant.scale[c]);
        t.quant.zero_point.push_back(0);
      } else {
        reinterpret_cast<float*>(t.data.data())[c] = b(rng_) / 1000.0f;
      }
    }
    return Add(t);
  }
  int Conv(int x, int out_c, int size, float out_scale) {
    const int in_c = g_.tensors[x].shape[3];
    const int w = Weights({out_c, 3, 3, in_c}, out_c);
    const int b = Bias(out_c, g_.tensors[x], g_.tensors[w]);
    const int y = Activation({1, size, size, out_c}, out_scale, -128);
    ConvOptions o;
    o.padding = Padding::kSame;
    o.activation = Activation::kRelu;
    g_.operators.push_back({OpKind::kConv2D, {x, w, b}, {y}, o, 3});
    return y;
  }
  int MaxPool(int x, int size, int channels) {
    const Tensor& in = g_.tensors[x];
    const int y = Activation({1, size, size, channels}, quantized_ ? in.quant.scale[0] : 1, -128);
    PoolOptions o;
    o.filter_h = o.filter_w = o.stride_h = o.stride_w = 2;
    g_.operators.push_back({OpKind::kMaxPool2D, {x}, {y}, o, 2});
    return y;
  }
  int Reshape(int x, const Shape& shape) {
    const int y = Activation(shape, quantized_ ? g_.tensors[x].quant.scale[0] : 1, -128);
    ReshapeOptions o;
    o.new_shape = shape;
    o.has_new_shape = true;
    g_.operators.push_back({OpKind::kReshape, {x}, {y}, o, 1});
    return y;
  }
  int FullyConnected(int x, int out, float out_scale, qaudit::Activation act) {
    const int in = g_.tensors[x].shape[1];
    const int w = Weights({out, in}, 1);
    g_.tensors[w].quant.scale.resize(quantized_ ? 1 : 0);
    g_.tensors[w].quant.zero_point.resize(quantized_ ? 1 : 0);
    const int b = Bias(out, g_.tensors[x], g_.tensors[w]);
    if (quantized_) {
      Tensor& bias = g_.tensors[b];
      bias.quant.scale.assign(1, bias.quant.scale[0]);
      bias.quant.zero_point.assign(1, 0);
    }
    const int y = Activation({1, out}, out_scale, act == Activation::kRelu ? -128 : 0);
    FullyConnectedOptions o;
    o.activation = act;
    g_.operators.push_back({OpKind::kFullyConnected, {x, w, b}, {y}, o, quantized_ ? 4 : 1});
    return y;
  }

  bool quantized_;
  std::mt19937_64 rng_;
  Graph g_;
};

HostTensor ToInput(const HostTensor& pixels, bool quantized) {
  HostTensor t;
  const int64_t n = pixels.num_elements();
  t.shape = {pixels.shape[0], 28, 28, 1};
  t.dtype = quantized ? DType::kInt8 : DType::kFloat32;
  t.bytes.resize(n * (quantized ? 1 : 4));
  for (int64_t i = 0; i < n; ++i) {
    if (quantized) {
      t.data<int8_t>()[i] = static_cast<int8_t>(pixels.data<uint8_t>()[i] - 128);
    } else {
      t.data<float>()[i] = pixels.data<uint8_t>()[i] / 255.0f;
    }
  }
  return t;
}

int Main(int argc, char** argv) {
  std::string images = "/usr/share/datasets/fashion-mnist/t10k-images-idx3-ubyte.gz";
  std::string model_out;
  int threads = 2, repeats = 3;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--images") images = argv[i + 1];
    else if (a == "--threads") threads = std::stoi(argv[i + 1]);
    else if (a == "--repeats") repeats = std::stoi(argv[i + 1]);
    else if (a == "--write-model") model_out = argv[i + 1];
  }
  auto pixels = ReadIdx(images);
  if (!pixels.ok()) {
    std::fprintf(stderr, "%s\n", pixels.status().message().c_str());
    return 2;
  }
  std::printf("%d images, %lld MACs per image, %d thread(s), median of %d runs\n", pixels->shape[0],
              static_cast<long long>(kMacs), threads, repeats);
  struct Mode {
    const char* name;
    bool quantized;
    Numerics numerics;
  } modes[] = {{"int8 reference", true, Numerics::kReference},
               {"int8 tflite", true, Numerics::kTflite},
               {"int8 xnnpack", true, Numerics::kXnnpack},
               {"float32", false, Numerics::kTflite}};
  for (const Mode& m : modes) {
    Graph g = CnnBuilder(m.quantized, 42).Build();
    if (m.quantized && !model_out.empty()) {
      Status s = WriteTfliteFile(g, model_out);
      if (!s.ok()) std::fprintf(stderr, "%s\n", s.message().c_str());
      model_out.clear();
    }
    auto executor = Executor::Create(std::move(g), {m.numerics, threads});
    if (!executor.ok()) {
      std::fprintf(stderr, "%s: %s\n", m.name, executor.status().message().c_str());
      return 1;
    }
    const HostTensor input = ToInput(*pixels, m.quantized);
    std::vector<double> seconds;
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      auto out = (*executor)->RunBatch({input});
      seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
      if (!out.ok()) {
        std::fprintf(stderr, "%s\n", out.status().message().c_str());
        return 1;
      }
    }
    std::sort(seconds.begin(), seconds.end());
    const double median = seconds[seconds.size() / 2];
    std::printf("%-15s %7.3f s  (%.2f GMAC/s)\n", m.name, median, kMacs * 1e-9 * pixels->shape[0] / median);
  }
  return 0;
}

}  // namespace
}  // namespace qaudit

int main(int argc, char** argv) { return qaudit::Main(argc, argv); }
