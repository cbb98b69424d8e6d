// ConvSmallChannelsAvx512 against ConvFloat and against exact arithmetic on seeded random
// geometries (batch 1-3, sizes 1-20, 1-8 input channels, output channel counts around the
// vector width and past 64, filters 1x1 to 7x7 and not square, strides and dilations 1-3,
// SAME and VALID, with and without bias, no clamp, ReLU and ReLU6); the zoo cnn's first
// layer and other first-layer shapes; non-finite inputs; the same image gives the same
// bits alone, inside a batch, cut into other runs of pixels and on another thread; the
// executor's float CONV_2D takes this path.
//
// The bound. With u = 2^-24, K = filter_h * filter_w * in_c and S = |bias| + sum over the
// patch of |x| |w| (taps outside the image count zero), each output's error against exact
// arithmetic is, to first order, at most
//   this kernel: K u S      (a chain of K FMAs from the bias: the bias and each product are
//                            rounded at most K times),
//   ConvFloat:   (K + 1) u S (each product rounded once, then at most K - 1 adds on its way
//                            to the sum, whatever DotFloat's order, and the bias's add).
// Clamping does not widen a difference. Against exact (double) arithmetic the test allows
// 1.01 K u S, against ConvFloat 1.01 (2K + 1) u S, the 1.01 covering second-order terms;
// plus K times the smallest subnormal, should a product underflow. A worst case, so no seed
// makes it fail, yet a tap dropped, misplaced or doubled (an error near S / K on average)
// is about 50 times the bound against ConvFloat even at the largest patch (7x7x8: 785 u S,
// about 4.7e-5 S, against S / 392, about 2.6e-3 S), and the test fails when the kernel
// leaves out the last tap. The largest error seen, as a multiple of u S, is printed (4.7
// u S over 569 geometries).
#include "kernels/conv_small_channels_avx512.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "kernels/conv.h"
#include "kernels/float_conv_test_support.h"
#include "support/fixtures.h"

namespace qaudit::kernels {
namespace {

using namespace ::qaudit::kernels::testing;  // float_conv_test_support.h

struct Shape2D {
  int batch, in_h, in_w, in_c, out_c, filter_h, filter_w, stride_h, stride_w, dilation_h, dilation_w;
  bool same;
};

bool MakeGeometry(const Shape2D& s, ConvGeometry* g) {
  *g = ConvGeometry{};
  g->batch = s.batch, g->in_h = s.in_h, g->in_w = s.in_w, g->in_c = s.in_c, g->out_c = s.out_c;
  g->filter_h = s.filter_h, g->filter_w = s.filter_w;
  g->stride_h = s.stride_h, g->stride_w = s.stride_w, g->dilation_h = s.dilation_h, g->dilation_w = s.dilation_w;
  g->depth_multiplier = 1;
  WindowAxis y, x;
  if (!ComputeWindowAxis(s.same, s.in_h, s.filter_h, s.stride_h, s.dilation_h, &y) ||
      !ComputeWindowAxis(s.same, s.in_w, s.filter_w, s.stride_w, s.dilation_w, &x)) {
    return false;
  }
  g->out_h = y.out, g->out_w = x.out, g->pad_top = y.pad, g->pad_left = x.pad;
  return true;
}

bool RandomCase(std::mt19937& rng, Case* c) {
  const int out_channels[] = {1, 3, 8, 15, 16, 17, 31, 32, 33, 48, 63, 64, 65, 100, 130};
  Shape2D s{};
  s.batch = Uniform(rng, 1, 3), s.in_h = Uniform(rng, 1, 20), s.in_w = Uniform(rng, 1, 20);
  s.in_c = Uniform(rng, 1, 8), s.out_c = out_channels[Uniform(rng, 0, 14)];
  s.filter_h = Uniform(rng, 1, 7), s.filter_w = Uniform(rng, 0, 2) == 0 ? Uniform(rng, 1, 7) : s.filter_h;
  s.stride_h = Uniform(rng, 1, 3), s.stride_w = Uniform(rng, 0, 1) ? s.stride_h : Uniform(rng, 1, 3);
  s.dilation_h = Uniform(rng, 0, 2) ? 1 : Uniform(rng, 2, 3), s.dilation_w = Uniform(rng, 0, 2) ? 1 : Uniform(rng, 2, 3);
  s.same = Uniform(rng, 0, 1);
  if (!MakeGeometry(s, &c->g) || c->g.out_h == 0 || c->g.out_w == 0 || !ConvSmallChannelsSuits(c->g)) return false;
  Fill(rng, c);
  return true;
}

std::vector<float> RunDirect(const Case& c) {
  const SmallChannelsWeights w = PrepareSmallChannelsWeights(c.w.data(), c.g);
  std::vector<float> out = UnwrittenOutput(c);
  ConvSmallChannelsAvx512(c.g, c.in.data(), w, c.bias_or_null(), c.lo, c.hi, out.data());
  return out;
}

// Checks `got` against exact arithmetic and against ConvFloat within the bounds above;
// returns the largest error against exact arithmetic as a multiple of u S.
double ExpectWithinBound(const Case& c, const std::vector<float>& got, const std::string& what) {
  const ConvGeometry& g = c.g;
  const std::vector<float> want = ConvFloatOutput(c);
  const int k = g.patch_size();
  const double tiny = k * std::numeric_limits<float>::denorm_min();
  double worst = 0;
  for (int b = 0; b < g.batch; ++b) {
    for (int oy = 0; oy < g.out_h; ++oy) {
      for (int ox = 0; ox < g.out_w; ++ox) {
        for (int oc = 0; oc < g.out_c; ++oc) {
          double exact = c.with_bias ? c.bias[oc] : 0.0, s = std::abs(exact);
          ForEachInsideTap(g, b, oy, ox, [&](int ky, int kx, int64_t offset) {
            for (int ic = 0; ic < g.in_c; ++ic) {
              const double x = c.in[offset + ic], w = c.w[((static_cast<int64_t>(oc) * g.filter_h + ky) * g.filter_w +
                                                           kx) * g.in_c + ic];
              exact += x * w;  // exact in double: 24-bit by 24-bit products
              s += std::abs(x * w);
            }
          });
          exact = std::min(std::max(exact, static_cast<double>(c.lo)), static_cast<double>(c.hi));
          const size_t i = ((static_cast<size_t>(b) * g.out_h + oy) * g.out_w + ox) * g.out_c + oc;
          const double to_exact = std::abs(got[i] - exact), to_reference = std::abs(static_cast<double>(got[i]) - want[i]);
          const double exact_bound = 1.01 * k * kU * s + tiny, reference_bound = 1.01 * (2 * k + 1) * kU * s + tiny;
          if (!(to_exact <= exact_bound) || !(to_reference <= reference_bound)) {
            ADD_FAILURE() << what << ": output (" << b << ", " << oy << ", " << ox << ", " << oc << ") is " << got[i]
                          << ", exact " << exact << ", ConvFloat " << want[i] << ", S " << s << " (in " << g.in_h
                          << "x" << g.in_w << "x" << g.in_c << ", out_c " << g.out_c << ", filter " << g.filter_h
                          << "x" << g.filter_w << ", stride " << g.stride_h << "x" << g.stride_w << ", dilation "
                          << g.dilation_h << "x" << g.dilation_w << ", pad " << g.pad_top << "," << g.pad_left << ")";
            return worst;
          }
          if (s > 0) worst = std::max(worst, to_exact / (kU * s));
        }
      }
    }
  }
  return worst;
}

TEST(ConvSmallChannelsAvx512Test, AvailabilityFollowsTheCpu) {
  __builtin_cpu_init();
  EXPECT_EQ(ConvSmallChannelsAvx512Available(), static_cast<bool>(__builtin_cpu_supports("avx512f")));
}

TEST(ConvSmallChannelsAvx512Test, SuitsFewInputChannelsAndAModestPadding) {
  ConvGeometry g{};
  ASSERT_TRUE(MakeGeometry({1, 28, 28, 1, 32, 3, 3, 1, 1, 1, 1, true}, &g));  // the zoo cnn's first layer
  EXPECT_TRUE(ConvSmallChannelsSuits(g));
  for (int in_c : {2, 3, 4, 8}) {
    ConvGeometry h = g;
    h.in_c = in_c;
    EXPECT_TRUE(ConvSmallChannelsSuits(h)) << in_c;
  }
  ConvGeometry h = g;
  h.in_c = 9;
  EXPECT_FALSE(ConvSmallChannelsSuits(h));
  h = g, h.pad_top = h.pad_left = 1 << 29;  // XNNPACK's wrapped SAME padding (ops_conv.cc)
  EXPECT_FALSE(ConvSmallChannelsSuits(h));
  // A dilation far larger than the image pads it far beyond its size.
  ASSERT_TRUE(MakeGeometry({1, 5, 5, 1, 8, 3, 3, 1, 1, 100, 100, true}, &h));
  EXPECT_FALSE(ConvSmallChannelsSuits(h));
}

// Portable code, checked on every CPU: [filter_h][filter_w][in_c][out_c rounded up to 16],
// zeros after out_c, 64-byte aligned, copies included.
TEST(ConvSmallChannelsAvx512Test, WeightsAreTransposedAndPadded) {
  for (const auto& [in_c, out_c, fh, fw] : {std::tuple{1, 32, 3, 3}, std::tuple{3, 17, 2, 5}, std::tuple{8, 1, 1, 1}}) {
    ConvGeometry g{};
    ASSERT_TRUE(MakeGeometry({1, 9, 9, in_c, out_c, fh, fw, 1, 1, 1, 1, true}, &g));
    std::vector<float> w(static_cast<size_t>(out_c) * g.patch_size());
    for (size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i + 1);
    const SmallChannelsWeights p = PrepareSmallChannelsWeights(w.data(), g);
    const int stride = (out_c + 15) / 16 * 16;
    ASSERT_EQ(p.patch_size, fh * fw * in_c);
    ASSERT_EQ(p.out_c, out_c);
    ASSERT_EQ(p.out_c_stride, stride);
    ASSERT_EQ(p.w.size(), static_cast<size_t>(p.patch_size) * stride);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(p.data()) % 64, 0u);
    const SmallChannelsWeights copy = p;  // as the op's EvalFn holds it
    ASSERT_EQ(reinterpret_cast<uintptr_t>(copy.data()) % 64, 0u);
    for (int k = 0; k < p.patch_size; ++k) {
      for (int oc = 0; oc < stride; ++oc) {
        const float want = oc < out_c ? w[static_cast<size_t>(oc) * p.patch_size + k] : 0.0f;
        ASSERT_EQ(p.w[static_cast<size_t>(k) * stride + oc], want) << "k " << k << " oc " << oc;
      }
    }
  }
}

TEST(ConvSmallChannelsAvx512Test, MatchesConvFloatWithinRoundingBound) {
  QAUDIT_REQUIRE_CPU_FEATURES(ConvSmallChannelsAvx512Available(), "AVX-512 F");
  std::mt19937 rng(61);
  int run = 0;
  const double worst = CheckRandomCases(rng, 700, RandomCase, RunDirect, ExpectWithinBound, &run);
  if (HasFailure()) return;
  EXPECT_GT(run, 400);
  std::printf("%d geometries; largest error: %.2f u S\n", run, worst);
}

// The zoo cnn's first layer, and other first layers: RGB 3x3 stride 2 (MobileNet's), 7x7
// stride 2, 5x5 VALID, a 1x1 projection.
TEST(ConvSmallChannelsAvx512Test, FirstLayerShapes) {
  QAUDIT_REQUIRE_CPU_FEATURES(ConvSmallChannelsAvx512Available(), "AVX-512 F");
  std::mt19937 rng(67);
  const Shape2D shapes[] = {{2, 28, 28, 1, 32, 3, 3, 1, 1, 1, 1, true}, {1, 28, 28, 1, 32, 3, 3, 1, 1, 1, 1, false},
                            {1, 64, 64, 3, 32, 3, 3, 2, 2, 1, 1, true}, {1, 45, 45, 3, 64, 7, 7, 2, 2, 1, 1, true},
                            {1, 32, 32, 3, 24, 5, 5, 1, 1, 1, 1, false}, {1, 20, 20, 4, 96, 1, 1, 1, 1, 1, 1, true}};
  for (const Shape2D& s : shapes) {
    Case c;
    ASSERT_TRUE(MakeGeometry(s, &c.g));
    ASSERT_TRUE(ConvSmallChannelsSuits(c.g));
    Fill(rng, &c);
    ExpectWithinBound(c, RunDirect(c), "first layer " + std::to_string(s.in_h) + "x" + std::to_string(s.in_c));
    if (HasFailure()) return;
  }
}

// An infinity makes exactly the outputs whose window holds it non-finite (no weight is
// zero here), as in ConvFloat, and leaves every other output's bits as they were; a NaN
// stays NaN through the ReLU clamp, as ConvFloat's.
TEST(ConvSmallChannelsAvx512Test, NonFiniteInputsStayInTheirWindows) {
  QAUDIT_REQUIRE_CPU_FEATURES(ConvSmallChannelsAvx512Available(), "AVX-512 F");
  std::mt19937 rng(71);
  Case c;
  ASSERT_TRUE(MakeGeometry({1, 9, 9, 2, 20, 3, 3, 1, 1, 1, 1, true}, &c.g));
  Fill(rng, &c);
  c.lo = 0.0f, c.hi = kInf;
  const std::vector<float> finite = RunDirect(c);
  for (const float bad : {kInf, std::numeric_limits<float>::quiet_NaN()}) {
    for (int y : {0, 4, 8}) {
      for (int x : {0, 5, 8}) {
        Case d = c;
        d.in[(static_cast<size_t>(y) * 9 + x) * 2 + 1] = bad;
        const std::vector<float> got = RunDirect(d);
        const std::vector<float> want = ConvFloatOutput(d);
        for (int oy = 0; oy < 9; ++oy) {
          for (int ox = 0; ox < 9; ++ox) {
            const bool reached = std::abs(oy - y) <= 1 && std::abs(ox - x) <= 1;
            for (int oc = 0; oc < 20; ++oc) {
              const int k = (oy * 9 + ox) * 20 + oc;
              if (reached) {
                // +inf times weights of both signs: NaN or an infinity; ReLU keeps +inf and NaN,
                // maps -inf to 0, exactly as ConvFloat's clamp does.
                EXPECT_EQ(std::isnan(got[k]), std::isnan(want[k])) << bad << " at " << y << "," << x;
                if (!std::isnan(want[k])) {
                  EXPECT_EQ(got[k], want[k]) << bad << " at " << y << "," << x;
                }
              } else {
                EXPECT_TRUE(SameBits(&got[k], &finite[k], 1)) << bad << " at " << y << "," << x;
              }
            }
          }
        }
        if (HasFailure()) return;
      }
    }
  }
}

// An image gives the same bits alone and as any member of a batch; an output pixel the
// same bits whether its row is cut into runs one way or another (a VALID convolution of
// an image and of its left part share their first outputs); on another thread while a
// different geometry runs concurrently.
TEST(ConvSmallChannelsAvx512Test, ImagesDoNotDependOnBatchRunsOrThread) {
  QAUDIT_REQUIRE_CPU_FEATURES(ConvSmallChannelsAvx512Available(), "AVX-512 F");
  std::mt19937 rng(73);
  Case a, b;
  ASSERT_TRUE(MakeGeometry({3, 28, 28, 1, 32, 3, 3, 1, 1, 1, 1, true}, &a.g));
  Fill(rng, &a);
  ASSERT_TRUE(MakeGeometry({2, 17, 23, 3, 70, 5, 3, 2, 1, 1, 2, false}, &b.g));
  Fill(rng, &b);
  const std::vector<float> batch_a = RunDirect(a), batch_b = RunDirect(b);
  ExpectImagesMatchBatch(a, batch_a, RunDirect);
  ExpectImagesMatchBatch(b, batch_b, RunDirect);
  // 40 output pixels a row (runs of 14, 13 and 13 with 32 channels; four of 7 and two of 6
  // with 64) against 9 (one run of 9; runs of 5 and 4).
  for (int out_c : {32, 64}) {
    Case wide, narrow;
    ASSERT_TRUE(MakeGeometry({1, 6, 42, 2, out_c, 3, 3, 1, 1, 1, 1, false}, &wide.g));
    Fill(rng, &wide);
    ASSERT_TRUE(MakeGeometry({1, 6, 11, 2, out_c, 3, 3, 1, 1, 1, 1, false}, &narrow.g));
    narrow.w = wide.w, narrow.bias = wide.bias, narrow.with_bias = wide.with_bias;
    narrow.lo = wide.lo, narrow.hi = wide.hi;
    for (int y = 0; y < 6; ++y) {
      const auto row = wide.in.begin() + y * 42 * 2;
      narrow.in.insert(narrow.in.end(), row, row + 11 * 2);
    }
    const std::vector<float> got_wide = RunDirect(wide), got_narrow = RunDirect(narrow);
    for (int oy = 0; oy < 4; ++oy) {
      EXPECT_TRUE(SameBits(got_narrow.data() + oy * 9 * out_c, got_wide.data() + oy * 40 * out_c, 9 * out_c))
          << "row " << oy << " out_c " << out_c;
    }
  }
  ExpectSameBitsOnTwoThreads(a, b, batch_a, batch_b, RunDirect);
}

// Through the executor: a float 3x3 CONV_2D over one input channel (the zoo cnn's first
// layer) gives the bits of a direct ConvSmallChannelsAvx512 call with the graph's weights
// (so ops_conv.cc routes it here and passes weights, bias and ReLU right), within the
// bounds above, for every sample of a batch on 1 and 2 threads.
TEST(ConvSmallChannelsAvx512Test, ExecutorTakesThisPathForAFirstLayer) {
  QAUDIT_REQUIRE_CPU_FEATURES(ConvSmallChannelsAvx512Available(), "AVX-512 F");
  Case c;
  ASSERT_TRUE(MakeGeometry({1, 28, 28, 1, 32, 3, 3, 1, 1, 1, 1, true}, &c.g));
  ExpectExecutorMatchesKernel(c, /*builder_seed=*/13, /*image_seed=*/79, RunDirect, ExpectWithinBound);
}

}  // namespace
}  // namespace qaudit::kernels
