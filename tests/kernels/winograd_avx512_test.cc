// WinogradConvFloatAvx512 against ConvFloat on seeded random geometries (batch 1-3, sizes
// 1-17 odd and even, SAME, VALID and XNNPACK's wrapped padding, channel counts around the
// vector width, with and without bias, no clamp, ReLU and ReLU6), within a rounding bound
// derived per output from the magnitudes it sums; the same image gives the same bits alone,
// inside a batch and on another thread; the weight transform against G g G^T in double;
// the executor's float CONV_2D takes this path.
//
// The bound. With u = 2^-24, each output's error against exact arithmetic is at most
//   Winograd:  (in_c + 8) u (W + |bias|),   W = sum over input channels, pixels p of the
//              output's 3x3 window and all 9 taps q of C(p, q) |x_p| |w_q|,
//   ConvFloat: (9 in_c + 1) u (S + |bias|), S = sum over the window's taps of |x| |w|,
// to first order (each term of a sum rounded n times is off by at most n u of itself).
// C is the product of |A^T| |B^T| |G| along each axis (the transforms' coefficients
// without their signs), so W is what the Winograd sums add and cancel, not only the
// products that survive; it is about 7 S when pixels and taps are of similar size.
// Winograd's count: two roundings in V = B^T d B, one in U (rounded from double), in_c in
// the channel sum (FMA), four in A^T M A, one adding the bias. ConvFloat's: one per
// product, at most 9 in_c - 1 adds and the bias. Clamping does not widen a difference.
// The test allows the sum of the two bounds, times 1.01 for the second-order terms: a
// worst case, so no seed makes it fail, yet a single tap dropped or misplaced (an error
// near S / (9 in_c) on average) exceeds it 25 times or more for every channel count
// tested (the least margin at in_c 64, where the bound is about 1100 u S). The largest
// error seen, as a multiple of u (W + |bias|), is printed.
#include "kernels/winograd_avx512.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "kernels/conv.h"
#include "kernels/float_conv_test_support.h"
#include "support/fixtures.h"

namespace qaudit::kernels {
namespace {

using namespace ::qaudit::kernels::testing;  // float_conv_test_support.h

constexpr double kAT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
constexpr double kBT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
constexpr double kG[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};

// C along one axis: output i of a tile, tile pixel p (0-3), tap q (0-2).
struct AxisMagnitudes {
  double c[2][4][3] = {};
  AxisMagnitudes() {
    for (int i = 0; i < 2; ++i) {
      for (int p = 0; p < 4; ++p) {
        for (int q = 0; q < 3; ++q) {
          for (int r = 0; r < 4; ++r) c[i][p][q] += std::abs(kAT[i][r]) * std::abs(kBT[r][p]) * std::abs(kG[r][q]);
        }
      }
    }
  }
};

ConvGeometry Geometry(int batch, int in_h, int in_w, int in_c, int out_c, bool same, bool* ok) {
  ConvGeometry g{};
  g.batch = batch, g.in_h = in_h, g.in_w = in_w, g.in_c = in_c, g.out_c = out_c;
  g.filter_h = g.filter_w = 3;
  g.stride_h = g.stride_w = g.dilation_h = g.dilation_w = 1;
  g.depth_multiplier = 1;
  WindowAxis y, x;
  *ok = ComputeWindowAxis(same, in_h, 3, 1, 1, &y) && ComputeWindowAxis(same, in_w, 3, 1, 1, &x);
  g.out_h = y.out, g.out_w = x.out, g.pad_top = y.pad, g.pad_left = x.pad;
  return g;
}

bool RandomCase(std::mt19937& rng, Case* c) {
  const int channels[] = {1, 3, 8, 16, 17, 32, 33, 64};
  bool ok = false;
  const bool same = Uniform(rng, 0, 1);
  c->g = Geometry(Uniform(rng, 1, 3), Uniform(rng, 1, 17), Uniform(rng, 1, 17), channels[Uniform(rng, 0, 7)],
                  channels[Uniform(rng, 0, 7)], same, &ok);
  if (!ok) return false;
  if (same && Uniform(rng, 0, 24) == 0) c->g.pad_top = c->g.pad_left = 1 << 29;  // as ops_conv.cc for XNNPACK
  Fill(rng, c);
  return true;
}

std::vector<float> RunWinograd(const Case& c) {
  const WinogradWeights u = PrepareWinogradWeights(c.w.data(), c.g.in_c, c.g.out_c);
  std::vector<float> out = UnwrittenOutput(c);
  WinogradConvFloatAvx512(c.g, c.in.data(), u, c.bias_or_null(), c.lo, c.hi, out.data());
  return out;
}

// Checks `got` against ConvFloat within the bound above; returns the largest error as a
// multiple of u (W + |bias|).
double ExpectWithinBound(const Case& c, const std::vector<float>& got, const std::string& what) {
  const ConvGeometry& g = c.g;
  const std::vector<float> want = ConvFloatOutput(c);
  static const AxisMagnitudes axis;
  // h[oc][ic][i][j][py][px]: sum over taps of C |w| for output (i, j) of a tile and its
  // pixel (py, px).
  std::vector<double> h(static_cast<size_t>(g.out_c) * g.in_c * 64);
  for (int oc = 0; oc < g.out_c; ++oc) {
    for (int ic = 0; ic < g.in_c; ++ic) {
      double* hk = h.data() + (static_cast<size_t>(oc) * g.in_c + ic) * 64;
      for (int e = 0; e < 64; ++e) {
        const int i = e >> 5, j = (e >> 4) & 1, py = (e >> 2) & 3, px = e & 3;
        for (int ky = 0; ky < 3; ++ky) {
          for (int kx = 0; kx < 3; ++kx) {
            hk[e] += axis.c[i][py][ky] * axis.c[j][px][kx] * std::abs(c.w[((oc * 3 + ky) * 3 + kx) * g.in_c + ic]);
          }
        }
      }
    }
  }
  const auto pixel = [&](int b, int y, int x, int ic) -> double {
    if (y < 0 || y >= g.in_h || x < 0 || x >= g.in_w) return 0.0;
    return std::abs(c.in[((static_cast<size_t>(b) * g.in_h + y) * g.in_w + x) * g.in_c + ic]);
  };
  double worst = 0;
  for (int b = 0; b < g.batch; ++b) {
    for (int oy = 0; oy < g.out_h; ++oy) {
      for (int ox = 0; ox < g.out_w; ++ox) {
        const int i = oy % 2, j = ox % 2;
        const int y0 = oy - i - g.pad_top, x0 = ox - j - g.pad_left;  // the tile's corner
        for (int oc = 0; oc < g.out_c; ++oc) {
          double wino = 0, direct = 0;
          for (int ic = 0; ic < g.in_c; ++ic) {
            const double* hk = h.data() + (static_cast<size_t>(oc) * g.in_c + ic) * 64 + (i * 2 + j) * 16;
            for (int py = 0; py < 4; ++py) {
              for (int px = 0; px < 4; ++px) wino += hk[py * 4 + px] * pixel(b, y0 + py, x0 + px, ic);
            }
            for (int ky = 0; ky < 3; ++ky) {
              for (int kx = 0; kx < 3; ++kx) {
                direct += pixel(b, oy - g.pad_top + ky, ox - g.pad_left + kx, ic) *
                          std::abs(c.w[((oc * 3 + ky) * 3 + kx) * g.in_c + ic]);
              }
            }
          }
          const double bias = c.with_bias ? std::abs(c.bias[oc]) : 0.0;
          const double bound = 1.01 * kU * ((g.in_c + 8) * (wino + bias) + (9.0 * g.in_c + 1) * (direct + bias));
          const size_t k = ((static_cast<size_t>(b) * g.out_h + oy) * g.out_w + ox) * g.out_c + oc;
          const double error = std::abs(static_cast<double>(got[k]) - want[k]);
          if (!(error <= bound)) {
            ADD_FAILURE() << what << ": output (" << b << ", " << oy << ", " << ox << ", " << oc << ") is " << got[k]
                          << ", ConvFloat " << want[k] << ", error " << error << " > bound " << bound << " (in "
                          << g.in_h << "x" << g.in_w << "x" << g.in_c << ", out_c " << g.out_c << ", pad "
                          << g.pad_top << "," << g.pad_left << ")";
            return worst;
          }
          if (wino + bias > 0) worst = std::max(worst, error / (kU * (wino + bias)));
        }
      }
    }
  }
  return worst;
}

TEST(WinogradConvFloatAvx512Test, AvailabilityFollowsTheCpu) {
  __builtin_cpu_init();
  EXPECT_EQ(WinogradConvFloatAvx512Available(), static_cast<bool>(__builtin_cpu_supports("avx512f")));
}

TEST(WinogradConvFloatAvx512Test, SuitsOnly3x3Stride1WithEnoughChannels) {
  bool ok = false;
  ConvGeometry g = Geometry(1, 14, 14, 32, 64, true, &ok);
  ASSERT_TRUE(ok);
  EXPECT_TRUE(WinogradConvFloatSuits(g));
  ConvGeometry h = g;
  h.in_c = 1;  // the zoo cnn's first layer
  EXPECT_FALSE(WinogradConvFloatSuits(h));
  h = g, h.stride_w = 2;
  EXPECT_FALSE(WinogradConvFloatSuits(h));
  h = g, h.dilation_h = 2;
  EXPECT_FALSE(WinogradConvFloatSuits(h));
  h = g, h.filter_h = 5;
  EXPECT_FALSE(WinogradConvFloatSuits(h));
}

// Portable code, checked on every CPU: U = G g G^T per channel pair, laid out
// [16][in_c][out_c rounded up to 16] with zeros after out_c, 64-byte aligned.
TEST(WinogradConvFloatAvx512Test, WeightTransformIsGgGt) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  for (const auto& [in_c, out_c] : {std::pair{1, 1}, std::pair{3, 17}, std::pair{32, 64}, std::pair{33, 5}}) {
    std::vector<float> w(static_cast<size_t>(out_c) * 9 * in_c);
    for (float& v : w) v = normal(rng);
    const WinogradWeights u = PrepareWinogradWeights(w.data(), in_c, out_c);
    const int stride = (out_c + 15) / 16 * 16;
    ASSERT_EQ(u.in_c, in_c);
    ASSERT_EQ(u.out_c, out_c);
    ASSERT_EQ(u.out_c_stride, stride);
    ASSERT_EQ(reinterpret_cast<uintptr_t>(u.data()) % 64, 0u);
    ASSERT_EQ(u.u.size(), static_cast<size_t>(16) * in_c * stride);
    const WinogradWeights copy = u;  // as the op's EvalFn holds it
    ASSERT_EQ(reinterpret_cast<uintptr_t>(copy.data()) % 64, 0u);
    ASSERT_EQ(copy.u, u.u);
    for (int r = 0; r < 4; ++r) {
      for (int col = 0; col < 4; ++col) {
        for (int ic = 0; ic < in_c; ++ic) {
          const float* row = u.data() + ((r * 4 + col) * in_c + ic) * stride;
          for (int oc = 0; oc < stride; ++oc) {
            double want = 0;
            if (oc < out_c) {
              for (int ky = 0; ky < 3; ++ky) {
                for (int kx = 0; kx < 3; ++kx) {
                  want += kG[r][ky] * kG[col][kx] * w[((oc * 3 + ky) * 3 + kx) * in_c + ic];
                }
              }
            }
            // The double sum of nine terms is within a few double ulps, far below half a float ulp.
            ASSERT_EQ(row[oc], static_cast<float>(want)) << r << "," << col << " ic " << ic << " oc " << oc;
          }
        }
      }
    }
  }
}

TEST(WinogradConvFloatAvx512Test, MatchesConvFloatWithinRoundingBound) {
  QAUDIT_REQUIRE_CPU_FEATURES(WinogradConvFloatAvx512Available(), "AVX-512 F");
  std::mt19937 rng(41);
  int run = 0;
  const double worst = CheckRandomCases(rng, 400, RandomCase, RunWinograd, ExpectWithinBound, &run);
  if (HasFailure()) return;
  EXPECT_GT(run, 300);
  std::printf("largest error: %.2f u (W + |bias|)\n", worst);
}

// The zoo cnn's second convolution, and sizes around it.
TEST(WinogradConvFloatAvx512Test, CnnLayerShapes) {
  QAUDIT_REQUIRE_CPU_FEATURES(WinogradConvFloatAvx512Available(), "AVX-512 F");
  std::mt19937 rng(43);
  for (const auto& [size, in_c, out_c] : {std::tuple{14, 32, 64}, std::tuple{28, 32, 64}, std::tuple{13, 32, 64},
                                          std::tuple{7, 64, 128}, std::tuple{15, 48, 80}, std::tuple{30, 16, 32}}) {
    for (bool same : {true, false}) {
      Case c;
      bool ok = false;
      c.g = Geometry(2, size, size, in_c, out_c, same, &ok);
      ASSERT_TRUE(ok);
      Fill(rng, &c);
      ExpectWithinBound(c, RunWinograd(c), "size " + std::to_string(size));
      if (HasFailure()) return;
    }
  }
}

// Each output depends only on its own window, as in the direct convolution: an infinity
// makes exactly the outputs whose window holds it non-finite (no weight is zero here), and
// leaves the bits of every other output as they were without it, even in the same tile.
TEST(WinogradConvFloatAvx512Test, InfinityStaysInItsWindows) {
  QAUDIT_REQUIRE_CPU_FEATURES(WinogradConvFloatAvx512Available(), "AVX-512 F");
  std::mt19937 rng(47);
  bool ok = false;
  Case c;
  c.g = Geometry(1, 9, 9, 16, 16, true, &ok);
  ASSERT_TRUE(ok);
  Fill(rng, &c);
  c.lo = -std::numeric_limits<float>::infinity(), c.hi = std::numeric_limits<float>::infinity();
  const std::vector<float> finite = RunWinograd(c);
  for (int y : {0, 3, 4, 8}) {
    for (int x : {0, 4, 5, 8}) {
      Case d = c;
      d.in[(static_cast<size_t>(y) * 9 + x) * 16 + 5] = std::numeric_limits<float>::infinity();
      const std::vector<float> got = RunWinograd(d);
      for (int oy = 0; oy < 9; ++oy) {
        for (int ox = 0; ox < 9; ++ox) {
          const bool reached = std::abs(oy - y) <= 1 && std::abs(ox - x) <= 1;
          for (int oc = 0; oc < 16; ++oc) {
            const int k = (oy * 9 + ox) * 16 + oc;
            if (reached) {
              EXPECT_FALSE(std::isfinite(got[k])) << "inf at " << y << "," << x << " output " << oy << "," << ox;
            } else {
              EXPECT_TRUE(SameBits(&got[k], &finite[k], 1)) << "inf at " << y << "," << x << " output " << oy << ","
                                                            << ox;
            }
          }
        }
      }
      if (HasFailure()) return;
    }
  }
}

// An image gives the same bits alone, as any member of a batch, and on another thread while
// a different geometry runs concurrently.
TEST(WinogradConvFloatAvx512Test, ImagesDoNotDependOnBatchOrThread) {
  QAUDIT_REQUIRE_CPU_FEATURES(WinogradConvFloatAvx512Available(), "AVX-512 F");
  std::mt19937 rng(53);
  bool ok = false;
  Case a, b;
  a.g = Geometry(3, 14, 14, 32, 64, true, &ok);
  ASSERT_TRUE(ok);
  Fill(rng, &a);
  b.g = Geometry(2, 17, 11, 33, 17, false, &ok);
  ASSERT_TRUE(ok);
  Fill(rng, &b);
  const std::vector<float> batch_a = RunWinograd(a), batch_b = RunWinograd(b);
  ExpectImagesMatchBatch(a, batch_a, RunWinograd);
  ExpectImagesMatchBatch(b, batch_b, RunWinograd);
  ExpectSameBitsOnTwoThreads(a, b, batch_a, batch_b, RunWinograd);
}

// Through the executor: a float 3x3 stride-1 CONV_2D with 16 input channels gives the
// bits of a direct WinogradConvFloatAvx512 call with the graph's weights (so ops_conv.cc
// routes it here and passes weights, bias and ReLU right), within the bound of ConvFloat,
// for every sample of a batch on 1 and 2 threads.
TEST(WinogradConvFloatAvx512Test, ExecutorTakesWinogradForFloat3x3Conv) {
  QAUDIT_REQUIRE_CPU_FEATURES(WinogradConvFloatAvx512Available(), "AVX-512 F");
  Case c;
  bool ok = false;
  c.g = Geometry(1, 11, 9, 16, 24, true, &ok);
  ASSERT_TRUE(ok);
  ExpectExecutorMatchesKernel(c, /*builder_seed=*/11, /*image_seed=*/59, RunWinograd, ExpectWithinBound);
}

}  // namespace
}  // namespace qaudit::kernels
