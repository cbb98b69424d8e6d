// ADD / SUB on values worked through TFLite's arithmetic by hand.
#include "kernels/add.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>

#include "qaudit/executor.h"
#include "support/kernel_test_util.h"

namespace qaudit::kernels {
namespace {

TEST(AddTest, Int8RescalesBothInputs) {
  // a: scale 0.5 zp 0, q 3 (1.5); b: scale 0.25 zp 1, q 5 (1.0); out scale 1 zp 0.
  // twice_max = 1: a * 2^20 * 0.5 = 1572864; b: 4 * 2^20 * 0.25 = 1048576; sum 2621440;
  // * 2^-20 = 2.5, rounded half away from zero by RoundingDivideByPOT: 3.
  const QuantizedAddParams p = MakeQuantizedAddParams(false, 20, 0.5, 0, 0.25, 1, 1.0, 0, -128, 127);
  BroadcastPlan plan;
  ASSERT_TRUE(MakeBroadcastPlan({1}, {1}, {1}, &plan));
  const int8_t a[1] = {3}, b[1] = {5};
  int8_t out[1];
  AddQuantized<int8_t>(plan, a, b, p, out);
  EXPECT_EQ(out[0], 3);
  const QuantizedAddParams sub = MakeQuantizedAddParams(true, 20, 0.5, 0, 0.25, 1, 1.0, 0, -128, 127);
  AddQuantized<int8_t>(plan, a, b, sub, out);
  EXPECT_EQ(out[0], 1);  // 1.5 - 1.0 = 0.5 -> 1
}

TEST(AddTest, BroadcastsLikeNumpy) {
  // [2,3] + [3] and [2,1] + [1,3].
  BroadcastPlan plan;
  ASSERT_TRUE(MakeBroadcastPlan({2, 3}, {3}, {2, 3}, &plan));
  const float a[6] = {0, 1, 2, 3, 4, 5}, b[3] = {10, 20, 30};
  float out[6];
  AddFloat(plan, a, b, false, -1e9f, 1e9f, out);
  const float expected[6] = {10, 21, 32, 13, 24, 35};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], expected[i]);
  ASSERT_TRUE(MakeBroadcastPlan({2, 1}, {1, 3}, {2, 3}, &plan));
  const float col[2] = {100, 200};
  AddFloat(plan, col, b, true, -1e9f, 1e9f, out);
  const float diff[6] = {90, 80, 70, 190, 180, 170};
  for (int i = 0; i < 6; ++i) EXPECT_EQ(out[i], diff[i]);
  EXPECT_FALSE(MakeBroadcastPlan({2, 3}, {2}, {2, 3}, &plan));
}

TEST(AddTest, CheckedLog2AcceptsScalesWithin1e3OfAPowerOfTwo) {
  // log2 is taken in float and compared with its nearest integer to within 1e-3.
  int e = 0;
  EXPECT_TRUE(CheckedLog2(std::ldexp(1.0f, -10), &e));
  EXPECT_EQ(e, -10);
  EXPECT_FALSE(CheckedLog2(3 * std::ldexp(1.0f, -10), &e));  // log2(3) = 1.585
  // 1.0005 * 2^-10: log2 = -10 + 0.00072, within the tolerance: treated as 2^-10.
  EXPECT_TRUE(CheckedLog2(1.0005f * std::ldexp(1.0f, -10), &e));
  EXPECT_EQ(e, -10);
  // 1.0008 * 2^-10: -10 + 0.00115, outside: the general int16 path runs.
  EXPECT_FALSE(CheckedLog2(1.0008f * std::ldexp(1.0f, -10), &e));
}

TEST(AddTest, Pot16AddShiftsTheSmallerScaledInput) {
  // a at the output's scale 2^-10, b at 2^-12: b is divided by 2^2, half away from zero:
  // 6/4 = 1.5 -> 2, -6/4 -> -2, 2/4 = 0.5 -> 1, 4/4 = 1. Sums 102, -102, 1, 32768 (-> 32767).
  BroadcastPlan plan;
  ASSERT_TRUE(MakeBroadcastPlan({4}, {4}, {4}, &plan));
  const int16_t a[4] = {100, -100, 0, 32767}, b[4] = {6, -6, 2, 4};
  int16_t out[4];
  Pot16AddParams p;
  p.b_shift = 2;
  AddPot16(plan, a, b, p, out);
  EXPECT_EQ(testing::Ints(out, 4), (std::vector<int>{102, -102, 1, 32767}));
  // RELU6 at output scale 2^-10 clamps to [0, 6 * 2^10].
  const int16_t big[4] = {7000, -5, 6000, 6143};
  p.act_min = 0;
  p.act_max = 6144;
  AddPot16(plan, big, b, p, out);  // 7000 + 2, -5 - 2, 6000 + 1, 6143 + 1
  EXPECT_EQ(testing::Ints(out, 4), (std::vector<int>{6144, 0, 6001, 6144}));
}

TEST(AddTest, Pot16SubShiftsEitherInput) {
  // a at 2^-11 under an output at 2^-10 (shift 1): 3/2 = 1.5 -> 2, -3/2 -> -2, 5/2 -> 3;
  // minus b = 1: 1, -3, 2. Then a at the output's scale and b shifted: 1 - 1 = 0, ...
  BroadcastPlan plan;
  ASSERT_TRUE(MakeBroadcastPlan({3}, {3}, {3}, &plan));
  const int16_t a[3] = {3, -3, 5}, b[3] = {1, 1, 1};
  int16_t out[3];
  Pot16AddParams p;
  p.subtract = true;
  p.a_shift = 1;
  AddPot16(plan, a, b, p, out);
  EXPECT_EQ(testing::Ints(out, 3), (std::vector<int>{1, -3, 2}));
  p.a_shift = 0;
  p.b_shift = 1;  // b / 2 = 0.5 -> 1
  AddPot16(plan, a, b, p, out);
  EXPECT_EQ(testing::Ints(out, 3), (std::vector<int>{2, -4, 4}));
}

TEST(AddTest, Pot16ShiftsOf16AndMoreDependOnTheRoundingInstance) {
  // Element-wise kernels divide with the int16 RoundingDivideByPOT, whose mask wraps from
  // shift 16 on: every x >= 0 becomes 1 and every x < 0 becomes -1. The broadcasting SUB
  // uses the int32 one: 32767 / 2^16 = 0.49998 -> 0, -32768 / 2^16 = -0.5 -> -1, -1 -> 0.
  // (Both measured against TFLite with shifts 16, 17, 20 and 31.)
  BroadcastPlan plan;
  ASSERT_TRUE(MakeBroadcastPlan({4}, {4}, {4}, &plan));
  const int16_t a[4] = {0, 0, 0, 0}, b[4] = {0, -1, 32767, -32768};
  int16_t out[4];
  Pot16AddParams p;
  p.b_shift = 16;
  AddPot16(plan, a, b, p, out);
  EXPECT_EQ(testing::Ints(out, 4), (std::vector<int>{1, -1, 1, -1}));
  p.int16_rounding = false;
  AddPot16(plan, a, b, p, out);
  EXPECT_EQ(testing::Ints(out, 4), (std::vector<int>{0, 0, 0, -1}));
  // Up to shift 15 the two agree: 32767 / 2^15 = 0.99997 -> 1, -32768 / 2^15 = -1, -1 -> 0.
  p.b_shift = 15;
  for (bool int16_rounding : {true, false}) {
    p.int16_rounding = int16_rounding;
    AddPot16(plan, a, b, p, out);
    EXPECT_EQ(testing::Ints(out, 4), (std::vector<int>{0, 0, 1, -1}));
  }
}

// int16 ADD/SUB through the executor: which path TFLite's Prepare picks, and what it refuses.
Graph Int16Binary(OpKind kind, Shape sa, float qa, Shape sb, float qb, float qo, bool pot) {
  Graph g;
  auto tensor = [&](const char* name, const Shape& shape, float scale) {
    Tensor t;
    t.name = name;
    t.dtype = DType::kInt16;
    t.shape = shape;
    t.quant.scale = {scale};
    t.quant.zero_point = {0};
    g.tensors.push_back(t);
    return static_cast<int>(g.tensors.size()) - 1;
  };
  const Shape so = sa.size() >= sb.size() ? sa : sb;
  const int a = tensor("a", sa, qa), b = tensor("b", sb, qb), o = tensor("out", so, qo);
  g.inputs = {a, b};
  g.outputs = {o};
  ElementwiseOptions opts;
  opts.pot_scale_int16 = pot;
  g.operators.push_back({kind, {a, b}, {o}, opts, 1});
  return g;
}

HostTensor Int16Tensor(const Shape& shape, const std::vector<int16_t>& v) {
  HostTensor h;
  h.dtype = DType::kInt16;
  h.shape = shape;
  h.bytes.resize(v.size() * 2);
  std::memcpy(h.bytes.data(), v.data(), h.bytes.size());
  return h;
}

std::vector<int> RunInt16(const Graph& g, const std::vector<HostTensor>& inputs, Numerics numerics) {
  auto ex = Executor::Create(g, {numerics, 1});
  EXPECT_TRUE(ex.ok()) << ex.status().message();
  if (!ex.ok()) return {};
  auto out = (*ex)->Run(inputs);
  EXPECT_TRUE(out.ok()) << out.status().message();
  if (!out.ok()) return {};
  return testing::Ints((*out)[0].data<int16_t>(), static_cast<int>((*out)[0].num_elements()));
}

TEST(AddTest, Int16PotScalePathInEveryMode) {
  // a = 2^-10 (the output's), b = 2^-11: out = a + round(b / 2): 100 + 3 (5/2 = 2.5 -> 3),
  // -100 - 3. The same in every mode: XNNPACK takes no int16 node, and TFLite's reference
  // and built-in kernels share this arithmetic.
  const float s = std::ldexp(1.0f, -10);
  const Graph g = Int16Binary(OpKind::kAdd, {2}, s, {2}, s / 2, s, true);
  const std::vector<HostTensor> in = {Int16Tensor({2}, {100, -100}), Int16Tensor({2}, {5, -5})};
  for (Numerics n : {Numerics::kReference, Numerics::kTflite, Numerics::kXnnpack}) {
    EXPECT_EQ(RunInt16(g, in, n), (std::vector<int>{103, -103})) << NumericsName(n);
  }
  // SUB broadcasts: [2,2] - [2] with b at 2^-11: 100 - 3, 7 - (-2) (-3/2 = -1.5 -> -2), ...
  const Graph sub = Int16Binary(OpKind::kSub, {2, 2}, s, {2}, s / 2, s, true);
  const std::vector<HostTensor> sub_in = {Int16Tensor({2, 2}, {100, 7, -100, 0}), Int16Tensor({2}, {5, -3})};
  EXPECT_EQ(RunInt16(sub, sub_in, Numerics::kTflite), (std::vector<int>{97, 9, -103, 2}));
}

TEST(AddTest, Int16PotScaleFallsBackToTheGeneralPathUnlessAllScalesArePowersOfTwo) {
  // a at 1.5 * 2^-10: not a power of two, so TFLite ignores pot_scale_int16 and runs the
  // general path (left shift 15, twice_max = 3 * 2^-10): a: 100 * 2^15 * 0.5 = 1638400;
  // b: 5 * 2^15 / 3 = 54613.3 -> 54613; (1638400 + 54613) * 3 / 2^15 = 154.99996 -> 155.
  const float s = std::ldexp(1.0f, -10);
  const Graph g = Int16Binary(OpKind::kAdd, {1}, 1.5f * s, {1}, s, s, true);
  EXPECT_EQ(RunInt16(g, {Int16Tensor({1}, {100}), Int16Tensor({1}, {5})}, Numerics::kTflite),
            (std::vector<int>{155}));
}

TEST(AddTest, Int16PotScaleRefusalsMirrorTflite) {
  const float s = std::ldexp(1.0f, -10);
  auto status = [](const Graph& g) { return Executor::Create(g, {Numerics::kTflite, 1}).status(); };
  // Both inputs below the output's scale (TFLite: "input1_shift == 0 || input2_shift == 0").
  Status st = status(Int16Binary(OpKind::kSub, {2}, s / 2, {2}, s / 2, s, true));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("2^-1 and 2^-1"), std::string::npos) << st.message();
  // An input above the output's scale ("input1_shift <= 0").
  st = status(Int16Binary(OpKind::kAdd, {2}, 2 * s, {2}, s, s, true));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("2^1 and 2^0"), std::string::npos) << st.message();
  // ADD does not broadcast on this path (TFLite aborts); [1,2] + [2] is no broadcast.
  st = status(Int16Binary(OpKind::kAdd, {2, 2}, s, {2}, s, s, true));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("[2,2] and [2]"), std::string::npos) << st.message();
  EXPECT_TRUE(status(Int16Binary(OpKind::kAdd, {1, 2}, s, {2}, s, s, true)).ok());
}

}  // namespace
}  // namespace qaudit::kernels
