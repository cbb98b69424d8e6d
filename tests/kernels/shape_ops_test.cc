// PAD, TRANSPOSE and CONCATENATION move elements exactly.
#include "kernels/shape_ops.h"

#include <gtest/gtest.h>

namespace qaudit::kernels {
namespace {

TEST(ShapeOpsTest, PadFillsWithTheGivenValue) {
  // [2,2] padded by 1 row before and 1 column after: [3,3].
  const int8_t in[4] = {1, 2, 3, 4};
  int8_t out[9];
  const int8_t zero_point = -7;
  Pad({2, 2}, {1, 0}, {3, 3}, 1, &zero_point, reinterpret_cast<const uint8_t*>(in), reinterpret_cast<uint8_t*>(out));
  const int8_t expected[9] = {-7, -7, -7, 1, 2, -7, 3, 4, -7};
  for (int i = 0; i < 9; ++i) EXPECT_EQ(out[i], expected[i]) << i;
}

TEST(ShapeOpsTest, TransposeNchwToNhwc) {
  // [1,2,1,3] NCHW (channel 0: 0,1,2; channel 1: 10,11,12) -> perm {0,2,3,1}: [1,1,3,2].
  const float in[6] = {0, 1, 2, 10, 11, 12};
  float out[6];
  Transpose({1, 2, 1, 3}, {0, 2, 3, 1}, 4, reinterpret_cast<const uint8_t*>(in), reinterpret_cast<uint8_t*>(out));
  const float expected[6] = {0, 10, 1, 11, 2, 12};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], expected[i]) << i;
}

TEST(ShapeOpsTest, ConcatenateAlongTheLastAxis) {
  // [2,1] and [2,2] along axis 1: rows [a0 b0 b1], [a1 b2 b3].
  const int16_t a[2] = {1, 2}, b[4] = {10, 11, 12, 13};
  int16_t out[6];
  Concatenate(2, 1, {1, 2}, 2, {reinterpret_cast<const uint8_t*>(a), reinterpret_cast<const uint8_t*>(b)},
              reinterpret_cast<uint8_t*>(out));
  const int16_t expected[6] = {1, 10, 11, 2, 12, 13};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], expected[i]) << i;
}

}  // namespace
}  // namespace qaudit::kernels
