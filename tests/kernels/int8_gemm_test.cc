// The VNNI fast path (int8_gemm.h) against the reference kernels on seeded random shapes
// and parameters: every output byte must match, in each rounding rule.
#include "kernels/int8_gemm.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "kernels/conv.h"
#include "kernels/depthwise_int8_avx512.h"
#include "kernels/fully_connected.h"
#include "kernels/pooling.h"
#include "support/fixtures.h"

namespace qaudit::kernels {
namespace {

constexpr Rounding kRoundings[] = {Rounding::kDouble, Rounding::kSingle, Rounding::kFp32};

const char* RoundingName(Rounding r) {
  return r == Rounding::kDouble ? "double" : r == Rounding::kSingle ? "single" : "fp32";
}

int Uniform(std::mt19937& rng, int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng); }

// Zero points at the extremes of int8 half of the time.
int32_t ZeroPoint(std::mt19937& rng) {
  switch (Uniform(rng, 0, 3)) {
    case 0:
      return -128;
    case 1:
      return 127;
    default:
      return Uniform(rng, -128, 127);
  }
}

// A stage for `channels` channels: per-tensor (one repeated multiplier) or per-channel,
// multipliers from tiny to large, and an activation range inside int8.
OutputStage RandomStage(std::mt19937& rng, Rounding rounding, int channels, bool per_channel) {
  std::vector<double> real(channels);
  std::vector<float> as_float(channels);
  const double exponent = std::uniform_real_distribution<double>(-34.0, 9.0)(rng);  // flushed to zero up to 2^12
  for (int c = 0; c < channels; ++c) {
    const double m =
        std::exp2(per_channel ? exponent + std::uniform_real_distribution<double>(-3.0, 3.0)(rng) : exponent);
    real[c] = per_channel || c == 0 ? m : real[0];
    as_float[c] = static_cast<float>(real[c]);
  }
  const int32_t lo = Uniform(rng, 0, 1) ? -128 : Uniform(rng, -128, 0);
  const int32_t hi = Uniform(rng, 0, 1) ? 127 : Uniform(rng, lo, 127);
  return OutputStage::Make(rounding, real, as_float, ZeroPoint(rng), lo, hi);
}

std::vector<int8_t> RandomBytes(std::mt19937& rng, size_t n) {
  std::vector<int8_t> v(n);
  for (int8_t& x : v) x = static_cast<int8_t>(Uniform(rng, -128, 127));
  return v;
}

std::vector<int32_t> RandomBias(std::mt19937& rng, int n) {
  std::vector<int32_t> v(n);
  // Mostly modest, sometimes near the int32 limits so that the accumulator wraps.
  for (int32_t& b : v) b = Uniform(rng, 0, 9) == 0 ? Uniform(rng, INT32_MIN, INT32_MAX) : Uniform(rng, -50000, 50000);
  return v;
}

// A random int8 CONV_2D on geometry `g` and its reference output (ConvQuantized).
struct ConvCase {
  OutputStage stage;
  int32_t in_zp = 0;
  std::vector<int8_t> in, w;
  bool has_bias = false;
  std::vector<int32_t> bias;
  std::vector<int8_t> reference;
  const int32_t* bias_or_null() const { return has_bias ? bias.data() : nullptr; }
};

ConvCase DrawConvCase(std::mt19937& rng, const ConvGeometry& g, Rounding rounding) {
  ConvCase c;
  c.stage = RandomStage(rng, rounding, g.out_c, Uniform(rng, 0, 1));
  c.in_zp = ZeroPoint(rng);
  c.in = RandomBytes(rng, static_cast<size_t>(g.batch) * g.in_h * g.in_w * g.in_c);
  c.w = RandomBytes(rng, static_cast<size_t>(g.out_c) * g.patch_size());
  c.has_bias = Uniform(rng, 0, 3) != 0;
  c.bias = RandomBias(rng, g.out_c);
  c.reference.resize(static_cast<size_t>(g.batch) * g.out_h * g.out_w * g.out_c);
  const std::vector<int16_t> w16 = CenteredWeights(c.w.data(), static_cast<int64_t>(c.w.size()), 0);
  ConvQuantized<int8_t, int32_t, int32_t, int8_t>(g, c.in.data(), c.in_zp, w16.data(), c.bias_or_null(), c.stage,
                                                  c.reference.data());
  return c;
}

// The output size and padding of `g` for SAME or VALID; false when there is no output.
bool SetOutputWindow(bool same, ConvGeometry& g) {
  WindowAxis y, x;
  if (!ComputeWindowAxis(same, g.in_h, g.filter_h, g.stride_h, g.dilation_h, &y) ||
      !ComputeWindowAxis(same, g.in_w, g.filter_w, g.stride_w, g.dilation_w, &x) || y.out <= 0 || x.out <= 0) {
    return false;
  }
  g.out_h = y.out, g.out_w = x.out, g.pad_top = y.pad, g.pad_left = x.pad;
  return true;
}

TEST(Int8GemmTest, RequantizeMatchesOutputStage) {
  QAUDIT_REQUIRE_CPU_FEATURES(Int8GemmAvailable(), "AVX-512 VNNI");
  std::mt19937 rng(7);
  for (int trial = 0; trial < 300; ++trial) {
    for (Rounding rounding : kRoundings) {
      const int n = Uniform(rng, 1, 70);
      const OutputStage stage = RandomStage(rng, rounding, n, Uniform(rng, 0, 1));
      std::vector<int32_t> acc((n + 15) / 16 * 16);  // Requantize reads whole vectors
      for (int c = 0; c < n; ++c) {
        switch (Uniform(rng, 0, 5)) {
          case 0:
            acc[c] = INT32_MIN;
            break;
          case 1:
            acc[c] = INT32_MAX;
            break;
          case 2:
            acc[c] = Uniform(rng, INT32_MIN, INT32_MAX);
            break;
          default:
            acc[c] = Uniform(rng, -100000, 100000);
        }
      }
      std::vector<int8_t> expected(n), got(n);
      DispatchRounding(rounding, [&](auto r) { stage.ApplyRow<decltype(r)::value>(acc.data(), n, expected.data()); });
      Requantize(MakeInt8Requantization(stage), acc.data(), acc.size(), 1, n, got.data(), n);
      ASSERT_EQ(got, expected) << "trial " << trial << " rounding " << RoundingName(rounding);
    }
  }
}

// ConvInt8Vnni on a drawn case, with its weights packed as ops_conv.cc packs them.
std::vector<int8_t> RunConvInt8Vnni(const ConvGeometry& g, const ConvCase& c) {
  std::vector<int8_t> got(c.reference.size());
  const Int8GemmWeights packed = PackInt8ConvWeights(c.w.data(), g, c.bias_or_null(), c.in_zp);
  ConvInt8Vnni(g, c.in.data(), c.in_zp, packed, MakeInt8Requantization(c.stage), got.data());
  return got;
}

TEST(Int8GemmTest, ConvMatchesReference) {
  QAUDIT_REQUIRE_CPU_FEATURES(Int8GemmAvailable(), "AVX-512 VNNI");
  std::mt19937 rng(11);
  for (int trial = 0; trial < 300; ++trial) {
    ConvGeometry g{};
    g.batch = Uniform(rng, 1, 2), g.in_h = Uniform(rng, 1, 12), g.in_w = Uniform(rng, 1, 12);
    g.in_c = Uniform(rng, 0, 2) == 0 ? Uniform(rng, 1, 3) : Uniform(rng, 1, 40);  // odd counts included
    g.out_c = Uniform(rng, 1, 80);
    g.filter_h = Uniform(rng, 1, 5), g.filter_w = Uniform(rng, 1, 5);
    g.stride_h = Uniform(rng, 1, 3), g.stride_w = Uniform(rng, 1, 3);
    // Now and then a dilation so large that the padded image is not materialised.
    const int max_dilation = trial % 10 == 0 ? 30 : 2;
    g.dilation_h = Uniform(rng, 1, max_dilation), g.dilation_w = Uniform(rng, 1, max_dilation);
    g.depth_multiplier = 1;
    if (!SetOutputWindow(Uniform(rng, 0, 1) == 1, g)) continue;
    // XNNPACK's wrapped SAME padding (every tap outside), as ops_conv.cc sets it: the
    // padded image cannot be materialised and patches are gathered.
    if (trial % 17 == 0) g.pad_top = g.pad_left = 1 << 29;
    const Rounding rounding = kRoundings[trial % 3];
    const ConvCase c = DrawConvCase(rng, g, rounding);
    ASSERT_EQ(RunConvInt8Vnni(g, c), c.reference)
        << "trial " << trial << " rounding " << RoundingName(rounding) << " in " << g.in_h << "x" << g.in_w << "x"
        << g.in_c << " filter " << g.filter_h << "x" << g.filter_w << " out_c " << g.out_c;
  }
}

// 1x1 convolutions as MobileNet's pointwise layers: output pixels read consecutive input
// pixels (no row table), over images large enough for several passes of rows, with few
// input channels and output channels that fill the tiles of 1 to 4 blocks in part and in
// whole (the 2- and 4-block tiles narrow their blocks together).
TEST(Int8GemmTest, PointwiseConvMatchesReference) {
  QAUDIT_REQUIRE_CPU_FEATURES(Int8GemmAvailable(), "AVX-512 VNNI");
  std::mt19937 rng(29);
  for (int trial = 0; trial < 120; ++trial) {
    ConvGeometry g{};
    g.batch = Uniform(rng, 1, 2), g.in_h = Uniform(rng, 1, 40), g.in_w = Uniform(rng, 1, 40);
    g.in_c = Uniform(rng, 0, 1) == 0 ? Uniform(rng, 1, 40) : 4 * Uniform(rng, 1, 10);
    g.out_c = trial % 4 == 0 ? 16 * Uniform(rng, 1, 10) : Uniform(rng, 1, 160);
    g.filter_h = g.filter_w = 1;
    // Stride 2 only where an output row still spans its input row (width 1).
    g.stride_h = g.stride_w = trial % 10 == 0 ? 2 : 1;
    if (g.stride_w == 2) g.in_w = 1;
    g.dilation_h = g.dilation_w = g.depth_multiplier = 1;
    if (!SetOutputWindow(Uniform(rng, 0, 1) == 1, g)) continue;
    const Rounding rounding = kRoundings[trial % 3];
    const ConvCase c = DrawConvCase(rng, g, rounding);
    ASSERT_EQ(RunConvInt8Vnni(g, c), c.reference)
        << "trial " << trial << " rounding " << RoundingName(rounding) << " in " << g.in_h << "x" << g.in_w << "x"
        << g.in_c << " stride " << g.stride_h << " out_c " << g.out_c;
  }
}

// CONV_2D then MAX_POOL_2D (non-overlapping VALID windows) fused, against the two
// reference kernels: biases near the int32 limits and large multipliers make accumulators
// that saturate or wrap, where the fused kernel must requantize before the maximum.
TEST(Int8GemmTest, ConvMaxPoolMatchesReference) {
  QAUDIT_REQUIRE_CPU_FEATURES(Int8GemmAvailable(), "AVX-512 VNNI");
  std::mt19937 rng(23);
  int monotone_trials = 0;
  for (int trial = 0; trial < 600; ++trial) {
    ConvGeometry g{};
    g.batch = Uniform(rng, 1, 2), g.in_h = Uniform(rng, 1, 30), g.in_w = Uniform(rng, 1, 30);
    g.in_c = Uniform(rng, 0, 2) == 0 ? 1 : Uniform(rng, 1, 40);
    g.out_c = Uniform(rng, 1, 80);
    g.filter_h = Uniform(rng, 1, 4), g.filter_w = Uniform(rng, 1, 4);
    g.stride_h = Uniform(rng, 1, 2), g.stride_w = Uniform(rng, 1, 2);
    g.dilation_h = Uniform(rng, 1, 2), g.dilation_w = trial % 7 == 0 ? 2 : 1;  // dilated: patches gathered
    g.depth_multiplier = 1;
    if (!SetOutputWindow(Uniform(rng, 0, 1) == 1, g)) continue;
    if (trial % 23 == 0) g.pad_top = g.pad_left = 1 << 29;  // no padded image: the unfused fallback
    MaxPoolAfterConv pool;
    pool.size = Uniform(rng, 1, 3);
    if (g.out_h < pool.size || g.out_w < pool.size) continue;
    pool.act_min = Uniform(rng, 0, 1) ? -128 : Uniform(rng, -128, 0);
    pool.act_max = Uniform(rng, 0, 1) ? 127 : Uniform(rng, pool.act_min, 127);
    const Rounding rounding = kRoundings[trial % 3];
    const ConvCase c = DrawConvCase(rng, g, rounding);
    ConvGeometry p{};
    p.batch = g.batch, p.in_h = g.out_h, p.in_w = g.out_w, p.in_c = p.out_c = g.out_c;
    p.filter_h = p.filter_w = p.stride_h = p.stride_w = pool.size;
    p.dilation_h = p.dilation_w = p.depth_multiplier = 1;
    p.out_h = g.out_h / pool.size, p.out_w = g.out_w / pool.size;
    const size_t out_size = static_cast<size_t>(p.batch) * p.out_h * p.out_w * p.out_c;
    std::vector<int8_t> expected(out_size), got(out_size);
    MaxPool<int8_t>(p, c.reference.data(), static_cast<int8_t>(pool.act_min), static_cast<int8_t>(pool.act_max),
                    expected.data());
    const Int8GemmWeights packed = PackInt8ConvWeights(c.w.data(), g, c.bias_or_null(), c.in_zp);
    const Int8Requantization requant = MakeInt8Requantization(c.stage);
    // Half the trials skip the per-window check where AccumulatorsStayMonotone allows it.
    pool.monotone = trial % 2 == 0 && AccumulatorsStayMonotone(packed, requant);
    monotone_trials += pool.monotone;
    ConvMaxPoolInt8Vnni(g, c.in.data(), c.in_zp, packed, requant, pool, got.data());
    ASSERT_EQ(got, expected) << "trial " << trial << " rounding " << RoundingName(rounding) << " in " << g.in_h << "x"
                             << g.in_w << "x" << g.in_c << " filter " << g.filter_h << "x" << g.filter_w << " out_c "
                             << g.out_c << " pool " << pool.size << " monotone " << pool.monotone;
  }
  EXPECT_GT(monotone_trials, 20);
}

TEST(Int8GemmTest, DepthwiseMatchesReference) {
  QAUDIT_REQUIRE_CPU_FEATURES(Int8GemmAvailable(), "AVX-512 VNNI");
  std::mt19937 rng(17);
  for (int trial = 0; trial < 200; ++trial) {
    ConvGeometry g{};
    g.batch = Uniform(rng, 1, 2), g.in_h = Uniform(rng, 1, 12), g.in_w = Uniform(rng, 1, 12);
    // Up to 150 channels: groups of 64 (filters at most 4 wide) and blocks of 16 after them.
    g.in_c = Uniform(rng, 1, 150), g.out_c = g.in_c, g.depth_multiplier = 1;
    g.filter_h = Uniform(rng, 1, 5), g.filter_w = Uniform(rng, 1, 5);
    g.stride_h = Uniform(rng, 1, 3), g.stride_w = Uniform(rng, 1, 3);
    g.dilation_h = Uniform(rng, 1, 2), g.dilation_w = Uniform(rng, 1, 2);
    if (trial % 4 == 0) g.filter_h = g.filter_w = 3;  // the kernel's own path for 3x3 filters
    if (!SetOutputWindow(Uniform(rng, 0, 1) == 1, g)) continue;
    const Rounding rounding = kRoundings[trial % 3];
    const OutputStage stage = RandomStage(rng, rounding, g.out_c, Uniform(rng, 0, 1));
    const int32_t in_zp = ZeroPoint(rng);
    const std::vector<int8_t> in = RandomBytes(rng, static_cast<size_t>(g.batch) * g.in_h * g.in_w * g.in_c);
    const std::vector<int8_t> w = RandomBytes(rng, static_cast<size_t>(g.filter_h) * g.filter_w * g.out_c);
    const std::vector<int32_t> bias = RandomBias(rng, g.out_c);
    const int32_t* b = Uniform(rng, 0, 3) != 0 ? bias.data() : nullptr;
    const size_t out_size = static_cast<size_t>(g.batch) * g.out_h * g.out_w * g.out_c;
    std::vector<int8_t> expected(out_size), got(out_size);
    const std::vector<int16_t> w16 = CenteredWeights(w.data(), static_cast<int64_t>(w.size()), 0);
    DepthwiseConvQuantized<int8_t, int32_t, int32_t, int8_t>(g, in.data(), in_zp, w16.data(), b, stage,
                                                             expected.data());
    DepthwiseConvInt8Vnni(g, in.data(), PrepareInt8Depthwise(w.data(), g, b, in_zp, stage), got.data());
    ASSERT_EQ(got, expected) << "trial " << trial << " rounding " << RoundingName(rounding) << " in " << g.in_h << "x"
                             << g.in_w << "x" << g.in_c << " filter " << g.filter_h << "x" << g.filter_w;
  }
}

// Every accumulator in a range around zero and near the int32 limits, through multipliers
// whose products land exactly on the rounding ties (0.5 = 2^30 / 2^31, powers of two,
// multipliers above 1 that shift left and saturate, products just below -2^30 where the
// double rounding's sign correction starts): the vector output stage against
// OutputStage::ApplyRow, per channel.
TEST(Int8GemmTest, RequantizeMatchesTheOutputStageOnTies) {
  QAUDIT_REQUIRE_CPU_FEATURES(Int8GemmAvailable(), "AVX-512 VNNI");
  const std::vector<double> multipliers = {0.5,    0.25,   1.0 / 3, 0.75, std::exp2(-20), 0.999999,
                                           1.0,    2.0,    3.5,     1e-9, 0.5000001,      std::exp2(-31),
                                           4096.0, 0.0625, 0.3,     1.5,
                                           // Multipliers 2^30 + 1 and 2^30 + 3 (over 2^31) with right shifts:
                                           // products of small accumulators fall just below -2^30.
                                           0.25 + std::exp2(-32), 0.125 + 3 * std::exp2(-34)};
  const int channels = static_cast<int>(multipliers.size());
  std::vector<int32_t> values;
  for (int32_t v = -70000; v <= 70000; ++v) values.push_back(v);
  for (int32_t d = 0; d < 2000; ++d) values.insert(values.end(), {INT32_MIN + d, INT32_MAX - d});
  for (const Rounding rounding : kRoundings) {
    const std::vector<float> as_float(multipliers.begin(), multipliers.end());
    const OutputStage stage = OutputStage::Make(rounding, multipliers, as_float, 3, -128, 127);
    const Int8Requantization r = MakeInt8Requantization(stage);
    const int rows = static_cast<int>(values.size());
    const int ld = (channels + 15) / 16 * 16;  // Requantize reads whole vectors of 16
    std::vector<int32_t> acc(static_cast<size_t>(rows) * ld);
    for (int i = 0; i < rows; ++i) {
      for (int c = 0; c < channels; ++c) acc[static_cast<size_t>(i) * ld + c] = values[i];
    }
    std::vector<int8_t> got(static_cast<size_t>(rows) * channels), want(got.size());
    Requantize(r, acc.data(), ld, rows, channels, got.data(), channels);
    for (int i = 0; i < rows; ++i) {
      const int32_t* row = acc.data() + static_cast<size_t>(i) * ld;
      int8_t* out = want.data() + static_cast<size_t>(i) * channels;
      switch (rounding) {
        case Rounding::kDouble: stage.ApplyRow<Rounding::kDouble>(row, channels, out); break;
        case Rounding::kSingle: stage.ApplyRow<Rounding::kSingle>(row, channels, out); break;
        default: stage.ApplyRow<Rounding::kFp32>(row, channels, out); break;
      }
    }
    for (size_t i = 0; i < got.size(); ++i) {
      ASSERT_EQ(got[i], want[i]) << RoundingName(rounding) << " accumulator " << values[i / channels]
                                 << " multiplier " << multipliers[i % channels];
    }
  }
}

TEST(Int8GemmTest, FullyConnectedMatchesReference) {
  QAUDIT_REQUIRE_CPU_FEATURES(Int8GemmAvailable(), "AVX-512 VNNI");
  std::mt19937 rng(13);
  for (int trial = 0; trial < 150; ++trial) {
    FullyConnectedShape s{};
    s.batch = Uniform(rng, 1, 40), s.in = Uniform(rng, 1, 700), s.out = Uniform(rng, 1, 150);
    const Rounding rounding = kRoundings[trial % 3];
    const OutputStage stage = RandomStage(rng, rounding, s.out, Uniform(rng, 0, 1));
    const int32_t in_zp = ZeroPoint(rng);
    const std::vector<int8_t> x = RandomBytes(rng, static_cast<size_t>(s.batch) * s.in);
    const std::vector<int8_t> w = RandomBytes(rng, static_cast<size_t>(s.out) * s.in);
    const std::vector<int32_t> bias = RandomBias(rng, s.out);
    std::vector<int8_t> expected(static_cast<size_t>(s.batch) * s.out), got(expected.size());
    const std::vector<int16_t> w16 = CenteredWeights(w.data(), static_cast<int64_t>(w.size()), 0);
    FullyConnectedQuantized<int8_t, int32_t, int32_t, int8_t>(s, x.data(), in_zp, w16.data(), bias.data(), stage,
                                                              expected.data());
    std::vector<const int8_t*> rows;
    std::vector<int8_t*> outs;
    for (int r = 0; r < s.batch; ++r) {
      rows.push_back(x.data() + static_cast<size_t>(r) * s.in);
      outs.push_back(got.data() + static_cast<size_t>(r) * s.out);
    }
    const Int8GemmWeights packed = PackInt8GemmWeights(w.data(), s.out, s.in, bias.data(), in_zp);
    FullyConnectedInt8Vnni(s.batch, rows.data(), packed, MakeInt8Requantization(stage), outs.data());
    ASSERT_EQ(got, expected) << "trial " << trial << " rounding " << RoundingName(rounding) << " " << s.batch << "x"
                             << s.in << "x" << s.out;
  }
}

}  // namespace
}  // namespace qaudit::kernels
