// Histogram range calibrators: hand-checked cases, then goldens from PyTorch's own
// HistogramObserver and from numpy/scipy references (tests/calib/make_range_goldens.py).
#include "calib/range_search.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

namespace qaudit::calib {
namespace {

Histogram FromCounts(float lo, float hi, std::vector<int64_t> counts) {
  Histogram h(lo, hi, static_cast<int>(counts.size()));
  h.counts = std::move(counts);
  return h;
}

// Reads a .hist file written by make_range_goldens.py: "lo hi bins" (hex floats), counts.
Histogram LoadHistogram(const std::string& name) {
  const auto path = std::filesystem::path(__FILE__).parent_path() / "data" / (name + ".hist");
  std::ifstream in(path);
  EXPECT_TRUE(in) << "cannot open " << path;
  std::string lo, hi;
  int bins = 0;
  in >> lo >> hi >> bins;
  Histogram h(std::strtof(lo.c_str(), nullptr), std::strtof(hi.c_str(), nullptr), bins);
  for (int64_t& count : h.counts) in >> count;
  EXPECT_TRUE(in) << "truncated " << path;
  return h;
}

// ---------------------------------------------------------------- Histogram

TEST(HistogramTest, BinsValuesAndClampsOutliersIntoEdgeBins) {
  Histogram h(0.0f, 4.0f, 4);
  const std::vector<float> values = {0.0f, 0.5f, 1.0f, 2.9f, 3.99f, 4.0f, -7.0f, 100.0f};
  h.Add(values.data(), static_cast<int64_t>(values.size()));
  // 0, 0.5 and -7 in bin 0; 1 in bin 1; 2.9 in bin 2; 3.99, 4 (hi) and 100 in bin 3.
  EXPECT_EQ(h.counts, (std::vector<int64_t>{3, 1, 1, 3}));
  EXPECT_EQ(h.total(), 8);
  EXPECT_DOUBLE_EQ(h.bin_width(), 1.0);
}

TEST(HistogramTest, SkipsNanAndSendsInfinitiesToEdgeBins) {
  Histogram h(-1.0f, 1.0f, 2);
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> values = {std::nanf(""), -inf, inf, inf, std::nanf("")};
  h.Add(values.data(), static_cast<int64_t>(values.size()));
  EXPECT_EQ(h.counts, (std::vector<int64_t>{1, 2}));
}

TEST(HistogramTest, ConstantRangePutsEverythingInBinZero) {
  Histogram h(2.0f, 2.0f, 8);
  const float inf = std::numeric_limits<float>::infinity();
  const std::vector<float> values = {2.0f, 2.0f, -3.0f, 9.0f, inf, -inf, std::nanf("")};
  h.Add(values.data(), static_cast<int64_t>(values.size()));
  EXPECT_EQ(h.counts[0], 6);
  EXPECT_EQ(h.total(), 6);
  EXPECT_EQ(h.bin_width(), 0.0);
}

TEST(HistogramTest, MergeAddsCountsAndAnEmptyHistogramAdoptsTheOther) {
  Histogram merged;
  merged.Merge(FromCounts(-1.0f, 1.0f, {1, 2, 3}));
  merged.Merge(FromCounts(-1.0f, 1.0f, {10, 0, 5}));
  EXPECT_EQ(merged.lo, -1.0f);
  EXPECT_EQ(merged.hi, 1.0f);
  EXPECT_EQ(merged.counts, (std::vector<int64_t>{11, 2, 8}));
}

TEST(HistogramTest, AddAgreesWithExactBinningOnRandomData) {
  std::mt19937 rng(7);
  std::normal_distribution<float> normal(0.5f, 2.0f);
  std::vector<float> values(100000);
  for (float& v : values) v = normal(rng);
  Histogram h(-3.0f, 4.0f, 70);  // width 0.1
  h.Add(values.data(), static_cast<int64_t>(values.size()));
  std::vector<int64_t> expected(70, 0);
  for (float v : values) {
    const double position = (static_cast<double>(v) + 3.0) / 0.1;
    ++expected[std::clamp(static_cast<int>(std::floor(position)), 0, 69)];
  }
  // A value within rounding of a bin edge may fall either side; nothing else may differ.
  int64_t moved = 0;
  for (int k = 0; k < 70; ++k) moved += std::abs(h.counts[k] - expected[k]);
  EXPECT_LE(moved, 4);
  EXPECT_EQ(h.total(), 100000);
}

// ---------------------------------------------------------------- PercentileRange

TEST(PercentileRangeTest, TwoSidedCutsHalfFromEachTailInterpolatingInsideBins) {
  // 100 values, width 0.5; 90% keeps 90: 5 off each end = 0.2 of an edge bin = 0.1.
  const Range r = PercentileRange(FromCounts(-1.0f, 1.0f, {25, 25, 25, 25}), 90.0);
  EXPECT_FLOAT_EQ(r.min, -0.9f);
  EXPECT_FLOAT_EQ(r.max, 0.9f);
}

TEST(PercentileRangeTest, OneSidedKeepsLoAndCutsOnlyTheTop) {
  // 10 values off the top: 0.4 of the last bin (width 1).
  const Range r = PercentileRange(FromCounts(0.0f, 4.0f, {25, 25, 25, 25}), 90.0);
  EXPECT_EQ(r.min, 0.0f);
  EXPECT_FLOAT_EQ(r.max, 3.6f);
}

TEST(PercentileRangeTest, CutsPastEmptyBinsAndWholeBins) {
  // The top two bins are empty; the 10 clipped values empty bin 1 and the cut lands at its
  // lower edge.
  const Range r = PercentileRange(FromCounts(0.0f, 4.0f, {90, 10, 0, 0}), 90.0);
  EXPECT_FLOAT_EQ(r.max, 1.0f);
  // Cutting nothing still drops the empty bins at both ends.
  const Range full = PercentileRange(FromCounts(-2.0f, 2.0f, {0, 7, 3, 0}), 100.0);
  EXPECT_FLOAT_EQ(full.min, -1.0f);
  EXPECT_FLOAT_EQ(full.max, 1.0f);
}

TEST(PercentileRangeTest, DegenerateHistogramsReturnTheirRange) {
  const Range constant = PercentileRange(FromCounts(3.0f, 3.0f, {5, 0}), 99.0);
  EXPECT_EQ(constant.min, 3.0f);
  EXPECT_EQ(constant.max, 3.0f);
  const Range empty = PercentileRange(FromCounts(-1.0f, 2.0f, {0, 0, 0}), 99.0);
  EXPECT_EQ(empty.min, -1.0f);
  EXPECT_EQ(empty.max, 2.0f);
}

// ---------------------------------------------------------------- MseRange

// A bulk of `per_bin` values in each of bins [0, 100) and one value in the top bin 2047.
Histogram BulkAndOneOutlier(int64_t per_bin) {
  std::vector<int64_t> counts(2048, 0);
  for (int k = 0; k < 100; ++k) counts[k] = per_bin;
  counts[2047] = 1;
  return FromCounts(0.0f, 2048.0f, counts);
}

TEST(MseRangeTest, ClipsAFarOutlierOnlyWhenTheBulkOutweighsIt) {
  // Over the full range a level is 8 wide, costing the bulk n * 8^2 / 12; clipping at ~99
  // costs the outlier about 1950^2 = 3.8e6. For n = 1e5 (5.3e5) the outlier stays; for
  // n = 1e6 (5.3e6) it goes, and the first quantile step down lands below bin 99.
  const Range kept = MseRange(BulkAndOneOutlier(1000));
  EXPECT_EQ(kept.min, 0.0f);
  EXPECT_EQ(kept.max, 2047.0f);  // the first step only dropped the top bin
  const Range clipped = MseRange(BulkAndOneOutlier(10000));
  EXPECT_EQ(clipped.min, 0.0f);
  EXPECT_EQ(clipped.max, 99.0f);
}

TEST(MseRangeTest, ASingleBinOfDataShrinksToThatBin) {
  std::vector<int64_t> counts(64, 0);
  counts[40] = 500;
  const Range r = MseRange(FromCounts(0.0f, 64.0f, counts));
  EXPECT_EQ(r.min, 40.0f);
  EXPECT_EQ(r.max, 41.0f);
}

TEST(MseRangeTest, DegenerateHistogramsReturnTheirRange) {
  const Range constant = MseRange(FromCounts(-0.5f, -0.5f, {9}));
  EXPECT_EQ(constant.min, -0.5f);
  EXPECT_EQ(constant.max, -0.5f);
  const Range empty = MseRange(FromCounts(-1.0f, 2.0f, {0, 0, 0}));
  EXPECT_EQ(empty.min, -1.0f);
  EXPECT_EQ(empty.max, 2.0f);
}

// ---------------------------------------------------------------- KlAmax

TEST(KlAmaxTest, UniformDataKeepsTheFullRange) {
  // Cutting at the end reproduces P exactly (KL 0); every earlier cut folds a tail.
  const Histogram h = FromCounts(0.0f, 8.0f, std::vector<int64_t>(2048, 37));
  EXPECT_EQ(KlAmax(h), 8.0f);
}

TEST(KlAmaxTest, TiesGoToTheLargestCut) {
  // Data only in the first 128 of 256 bins: every cut from 128 to 256 gives KL exactly 0.
  std::vector<int64_t> counts(256, 0);
  for (int k = 0; k < 128; ++k) counts[k] = 11;
  EXPECT_EQ(KlAmax(FromCounts(0.0f, 256.0f, counts)), 256.0f);
}

TEST(KlAmaxTest, BinZeroIsReplacedByBinOne) {
  Histogram h = LoadHistogram("relu_abs");
  const float amax = KlAmax(h);
  h.counts[0] = 1;  // the ReLU spike is ignored either way
  EXPECT_EQ(KlAmax(h), amax);
}

TEST(KlAmaxTest, ClipsFarOutliersAndReturnsABinEdge) {
  std::mt19937 rng(11);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> values(200000);
  for (float& v : values) v = std::abs(normal(rng));
  for (int i = 0; i < 5; ++i) values[i] = 40.0f;
  Histogram h(0.0f, 40.0f, 2048);
  h.Add(values.data(), static_cast<int64_t>(values.size()));
  const float amax = KlAmax(h);
  EXPECT_GT(amax, 2.0f);
  EXPECT_LT(amax, 10.0f);
  const double edge = amax / h.bin_width();
  EXPECT_NEAR(edge, std::round(edge), 1e-3);
}

TEST(KlAmaxTest, DegenerateHistogramsReturnHi) {
  EXPECT_EQ(KlAmax(FromCounts(0.0f, 0.0f, std::vector<int64_t>(2048, 1))), 0.0f);
  EXPECT_EQ(KlAmax(FromCounts(0.0f, 5.0f, std::vector<int64_t>(2048, 0))), 5.0f);
  EXPECT_EQ(KlAmax(FromCounts(0.0f, 5.0f, std::vector<int64_t>(64, 3))), 5.0f);
}

// ---------------------------------------------------------------- Goldens

struct Golden {
  const char* name;
  Range torch_l2;    // PyTorch 1.13 HistogramObserver._non_linear_param_search
  float kl_amax;     // numpy/scipy reimplementation of pytorch-quantization
  Range percentile;  // numpy interpolated quantiles at kGoldenPercentile
};

constexpr double kGoldenPercentile = 99.9;

const Golden kGoldens[] = {
    // Generated by tests/calib/make_range_goldens.py (percentile 99.9).
    {"gaussian", {-4.00644207f, 3.98193169f}, 4.40635347f, {-3.3424921f, 3.32638288f}},
    {"uniform", {-0.999974787f, 2.99602818f}, 2.99993443f, {-0.997983813f, 2.99788499f}},
    {"relu", {0.0f, 4.08530951f}, 4.15447617f, {0.0f, 3.27147865f}},
    {"heavy_tails", {-36.5470772f, 56.4200897f}, 18.9411106f, {-12.6249657f, 12.5835075f}},
    {"spike_at_zero", {-4.55761623f, 4.37786436f}, 4.55893946f, {-2.84823513f, 2.83239341f}},
    {"sparse", {-5.66183281f, 7.26160049f}, 5.89098501f, {-5.65962315f, 7.26570415f}},
    {"round_total", {-3.25111103f, 5.61284351f}, 5.65750265f, {-2.55982256f, 5.01251411f}},
};

// Relative 1e-5 is a fiftieth of a bin or less: a bound one bin off fails.
void ExpectRelativelyNear(float actual, float expected, const std::string& what) {
  EXPECT_NEAR(actual, expected, 1e-5 * std::abs(expected)) << what;
}

class GoldenTest : public testing::TestWithParam<Golden> {};

TEST_P(GoldenTest, MseRangeMatchesPyTorch) {
  const Range r = MseRange(LoadHistogram(GetParam().name));
  ExpectRelativelyNear(r.min, GetParam().torch_l2.min, "min");
  ExpectRelativelyNear(r.max, GetParam().torch_l2.max, "max");
}

TEST_P(GoldenTest, KlAmaxMatchesTheScipyReference) {
  ExpectRelativelyNear(KlAmax(LoadHistogram(std::string(GetParam().name) + "_abs")), GetParam().kl_amax, "amax");
}

TEST_P(GoldenTest, PercentileRangeMatchesNumpy) {
  const Range r = PercentileRange(LoadHistogram(GetParam().name), kGoldenPercentile);
  ExpectRelativelyNear(r.min, GetParam().percentile.min, "min");
  ExpectRelativelyNear(r.max, GetParam().percentile.max, "max");
}

INSTANTIATE_TEST_SUITE_P(Histograms, GoldenTest, testing::ValuesIn(kGoldens),
                         [](const testing::TestParamInfo<Golden>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace qaudit::calib
