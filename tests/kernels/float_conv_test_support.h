// Test code shared by the float convolution kernel tests (winograd_avx512_test.cc and
// conv_small_channels_avx512_test.cc), which check a fast kernel against ConvFloat in the
// same way: a Case (geometry, input, weights, bias, clamp), a seeded random fill of it,
// bit-for-bit comparisons, the check that an image gives the same bits alone as inside a
// batch and on either of two threads running different geometries, and the check that the
// executor routes a float CONV_2D to the kernel. Kept here so the two tests do not drift
// apart; what is specific to a kernel (its geometries, its rounding bound, the call that
// runs it) stays in its test, and reaches these helpers as a callable
// `std::vector<float> run(const Case&)`.
#ifndef QAUDIT_TESTS_KERNELS_FLOAT_CONV_TEST_SUPPORT_H_
#define QAUDIT_TESTS_KERNELS_FLOAT_CONV_TEST_SUPPORT_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "kernels/conv.h"
#include "qaudit/executor.h"
#include "qaudit/graph_builder.h"

namespace qaudit::kernels::testing {

inline constexpr double kU = 1.0 / (1 << 24);  // float's unit roundoff
inline constexpr float kInf = std::numeric_limits<float>::infinity();

inline int Uniform(std::mt19937& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

// One convolution: NHWC input, OHWI weights, a bias used or not, and the clamp [lo, hi].
struct Case {
  ConvGeometry g{};
  std::vector<float> in, w, bias;
  bool with_bias = true;
  float lo = -kInf, hi = kInf;
  const float* bias_or_null() const { return with_bias ? bias.data() : nullptr; }
  size_t out_size() const { return static_cast<size_t>(g.batch) * g.out_h * g.out_w * g.out_c; }
};

// Fills c->in, w, bias, with_bias, lo and hi for c->g from `rng`, drawing in this order.
inline void Fill(std::mt19937& rng, Case* c) {
  const ConvGeometry& g = c->g;
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // A scale per tensor, and some exact zeros (ReLU outputs and padding are often zero).
  const float x_scale = std::ldexp(1.0f, Uniform(rng, -4, 4)), w_scale = std::ldexp(1.0f, Uniform(rng, -6, 2));
  c->in.resize(static_cast<size_t>(g.batch) * g.in_h * g.in_w * g.in_c);
  for (float& v : c->in) v = Uniform(rng, 0, 4) == 0 ? 0.0f : normal(rng) * x_scale;
  c->w.resize(static_cast<size_t>(g.out_c) * g.patch_size());
  for (float& v : c->w) v = normal(rng) * w_scale;
  c->bias.resize(g.out_c);
  for (float& v : c->bias) v = normal(rng) * x_scale * w_scale * 4;
  c->with_bias = Uniform(rng, 0, 3) != 0;
  switch (Uniform(rng, 0, 2)) {
    case 0: c->lo = -kInf, c->hi = kInf; break;
    case 1: c->lo = 0.0f, c->hi = kInf; break;
    default: c->lo = 0.0f, c->hi = 6.0f * x_scale * w_scale; break;  // ReLU6, scaled to bite
  }
}

// An output buffer for c, filled with 123 so that an output the kernel leaves unwritten shows.
inline std::vector<float> UnwrittenOutput(const Case& c) { return std::vector<float>(c.out_size(), 123.0f); }

// ConvFloat's output for c, the reference the kernels are held to.
inline std::vector<float> ConvFloatOutput(const Case& c) {
  std::vector<float> want(c.out_size());
  ConvFloat(c.g, c.in.data(), c.w.data(), c.bias_or_null(), c.lo, c.hi, want.data());
  return want;
}

// Draws `trials` cases with random_case(rng, &c), which returns false for a geometry to
// pass over, and checks each with check(c, run(c), "trial N"), stopping at the first
// failure; returns the largest error check returned, and the number of cases checked in
// *checked.
template <typename RandomCase, typename Run, typename Check>
double CheckRandomCases(std::mt19937& rng, int trials, RandomCase random_case, Run run, Check check, int* checked) {
  *checked = 0;
  double worst = 0;
  for (int trial = 0; trial < trials; ++trial) {
    Case c;
    if (!random_case(rng, &c)) continue;
    worst = std::max(worst, check(c, run(c), "trial " + std::to_string(trial)));
    if (::testing::Test::HasFailure()) break;
    ++*checked;
  }
  return worst;
}

inline bool SameBits(const float* a, const float* b, size_t n) { return std::memcmp(a, b, n * sizeof(float)) == 0; }

// Each image of `c`, run alone, gives the bits it has in `whole` (run(c), the whole batch).
template <typename Run>
void ExpectImagesMatchBatch(const Case& c, const std::vector<float>& whole, Run run) {
  const size_t in_image = c.in.size() / c.g.batch, out_image = whole.size() / c.g.batch;
  for (int k = 0; k < c.g.batch; ++k) {
    Case one = c;
    one.g.batch = 1;
    one.in.assign(c.in.begin() + k * in_image, c.in.begin() + (k + 1) * in_image);
    const std::vector<float> alone = run(one);
    EXPECT_TRUE(SameBits(alone.data(), whole.data() + k * out_image, out_image)) << "image " << k;
  }
}

// Two threads, each alternating geometries so that their scratch grows and shrinks in use:
// every run gives the bits of want_a = run(a) and want_b = run(b), computed before.
template <typename Run>
void ExpectSameBitsOnTwoThreads(const Case& a, const Case& b, const std::vector<float>& want_a,
                                const std::vector<float>& want_b, Run run) {
  std::vector<float> got[2][2];
  std::thread threads[2];
  for (int t = 0; t < 2; ++t) {
    threads[t] = std::thread([&, t] {
      for (int rep = 0; rep < 20; ++rep) {
        got[t][0] = run(t == 0 ? a : b);
        got[t][1] = run(t == 0 ? b : a);
      }
    });
  }
  for (std::thread& th : threads) th.join();
  EXPECT_TRUE(SameBits(got[0][0].data(), want_a.data(), want_a.size()));
  EXPECT_TRUE(SameBits(got[0][1].data(), want_b.data(), want_b.size()));
  EXPECT_TRUE(SameBits(got[1][0].data(), want_b.data(), want_b.size()));
  EXPECT_TRUE(SameBits(got[1][1].data(), want_a.data(), want_a.size()));
}

// Through the executor: builds a one-op graph with GraphBuilder(builder_seed), a float
// CONV_2D with SAME padding and ReLU over images of c.g's size (c.g: batch 1, square filter
// and stride, SAME), feeds it five normal images drawn from std::mt19937(image_seed), and
// on 1 and 2 threads expects every sample's output to have the bits of a direct run(c) on
// that image with the graph's weights, bias and ReLU (so ops_conv.cc routes the op to the
// kernel and passes them right), and calls check(c, output, what) on it for the kernel's
// bound.
template <typename Run, typename Check>
void ExpectExecutorMatchesKernel(Case c, int builder_seed, std::mt19937::result_type image_seed, Run run,
                                 Check check) {
  const ConvGeometry& g = c.g;
  ASSERT_EQ(g.batch, 1);
  ASSERT_EQ(g.filter_h, g.filter_w);
  ASSERT_EQ(g.stride_h, g.stride_w);
  GraphBuilder builder(builder_seed);
  const int x = builder.Input("image", {1, g.in_h, g.in_w, g.in_c});
  const int y = builder.Conv2D(x, g.out_c, g.filter_h, g.stride_h, Padding::kSame, Activation::kRelu);
  const Graph graph = builder.Finish({y});
  ASSERT_EQ(graph.operators.size(), 1u);
  const Operator& op = graph.operators[0];
  ASSERT_EQ(op.inputs.size(), 3u);
  constexpr int kSamples = 5;
  const Tensor& w = graph.tensors[op.inputs[1]];
  const Tensor& bias = graph.tensors[op.inputs[2]];
  c.w.assign(w.data_as<float>(), w.data_as<float>() + w.num_elements());
  c.bias.assign(bias.data_as<float>(), bias.data_as<float>() + bias.num_elements());
  c.lo = 0.0f, c.hi = kInf;
  std::mt19937 rng(image_seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  HostTensor images;
  images.dtype = DType::kFloat32;
  images.shape = {kSamples, g.in_h, g.in_w, g.in_c};
  std::vector<float> pixels(static_cast<size_t>(kSamples) * g.in_h * g.in_w * g.in_c);
  for (float& v : pixels) v = normal(rng);
  images.bytes.resize(pixels.size() * sizeof(float));
  std::memcpy(images.bytes.data(), pixels.data(), images.bytes.size());
  const size_t in_image = pixels.size() / kSamples, out_image = static_cast<size_t>(g.out_h) * g.out_w * g.out_c;
  for (int threads : {1, 2}) {
    ExecutorOptions options;
    options.num_threads = threads;
    auto e = Executor::Create(graph, options);
    ASSERT_TRUE(e.ok()) << e.status().message();
    auto batch = (*e)->RunBatch({images});
    ASSERT_TRUE(batch.ok()) << batch.status().message();
    ASSERT_EQ(batch->at(0).bytes.size(), kSamples * out_image * sizeof(float));
    const auto* got = reinterpret_cast<const float*>(batch->at(0).bytes.data());
    for (int k = 0; k < kSamples; ++k) {
      c.in.assign(pixels.begin() + k * in_image, pixels.begin() + (k + 1) * in_image);
      const std::vector<float> direct = run(c);
      EXPECT_TRUE(SameBits(got + k * out_image, direct.data(), out_image)) << "sample " << k << " threads " << threads;
      check(c, std::vector<float>(got + k * out_image, got + (k + 1) * out_image), "sample " + std::to_string(k));
    }
  }
}

}  // namespace qaudit::kernels::testing

#endif  // QAUDIT_TESTS_KERNELS_FLOAT_CONV_TEST_SUPPORT_H_
