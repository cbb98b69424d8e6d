// Pooling on small cases computed by hand.
#include "kernels/pooling.h"

#include <gtest/gtest.h>

namespace qaudit::kernels {
namespace {

ConvGeometry TwoByTwoSame(int in_h, int in_w) {
  ConvGeometry g{};
  g.batch = 1, g.in_h = in_h, g.in_w = in_w, g.in_c = 1, g.out_c = 1;
  g.filter_h = g.filter_w = g.stride_h = g.stride_w = 2;
  g.dilation_h = g.dilation_w = 1;
  g.out_h = ConvOutputSize(true, in_h, 2, 2, 1);
  g.out_w = ConvOutputSize(true, in_w, 2, 2, 1);
  g.pad_top = ConvPadding(in_h, 2, 2, 1, g.out_h);
  g.pad_left = ConvPadding(in_w, 2, 2, 1, g.out_w);
  return g;
}

TEST(PoolingTest, AverageCountsOnlyValidTapsAndRoundsHalfAway) {
  // 1x3 row [1, 2, -3] padded on the right: windows {1,2} and {-3}.
  const int8_t in[3] = {1, 2, -3};
  int8_t out[2];
  AveragePoolQuantized<int8_t>(TwoByTwoSame(1, 3), in, -128, 127, out);
  EXPECT_EQ(out[0], 2);   // 1.5 -> 2
  EXPECT_EQ(out[1], -3);  // one valid tap
  const int8_t neg[2] = {-1, -2};
  AveragePoolQuantized<int8_t>(TwoByTwoSame(1, 2), neg, -128, 127, out);
  EXPECT_EQ(out[0], -2);  // -1.5 -> -2
  const float f[3] = {1, 2, -3};
  float fout[2];
  AveragePoolFloat(TwoByTwoSame(1, 3), f, -1e9f, 1e9f, fout);
  EXPECT_EQ(fout[0], 1.5f);
  EXPECT_EQ(fout[1], -3.0f);
}

TEST(PoolingTest, MaxIgnoresPaddingAndClamps) {
  const int8_t in[3] = {-5, -7, -9};
  int8_t out[2];
  MaxPool<int8_t>(TwoByTwoSame(1, 3), in, -128, 127, out);
  EXPECT_EQ(out[0], -5);
  EXPECT_EQ(out[1], -9);  // the padded tap is not a zero
  MaxPool<int8_t>(TwoByTwoSame(1, 3), in, -6, 127, out);
  EXPECT_EQ(out[1], -6);
}

}  // namespace
}  // namespace qaudit::kernels
