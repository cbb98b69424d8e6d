// PAD, TRANSPOSE and CONCATENATION move elements exactly; uint8 CONCATENATION of inputs
// quantized unlike the output requantizes them as TFLite does.
#include "kernels/shape_ops.h"

#include <gtest/gtest.h>

#include "qaudit/executor.h"
#include "support/kernel_test_util.h"

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

TEST(ShapeOpsTest, ConcatRescaleRoundsHalfAwayFromZeroAfterFloatArithmetic) {
  // Input scale 0.5 into output scale 1: q / 2 with ties away from zero: 0.5 -> 1,
  // 1.5 -> 2, 2.5 -> 3, 127.5 -> 128 (TFLite gives the same four values).
  const ConcatRescale half = MakeConcatRescale(0.5f, 0, 1.0f, 0);
  EXPECT_FALSE(half.copy);
  EXPECT_EQ(RescaleUint8(1, half), 1);
  EXPECT_EQ(RescaleUint8(3, half), 2);
  EXPECT_EQ(RescaleUint8(5, half), 3);
  EXPECT_EQ(RescaleUint8(255, half), 128);
  // Zero points: scale 0.25 zp 3 into scale 0.5 zp 0: scale 0.5, bias -1.5:
  // 20 -> 8.5 -> 9, 21 -> 9.0 -> 9, 2 -> -0.5 -> -1 -> clamped to 0.
  const ConcatRescale zp = MakeConcatRescale(0.25f, 3, 0.5f, 0);
  EXPECT_EQ(RescaleUint8(20, zp), 9);
  EXPECT_EQ(RescaleUint8(21, zp), 9);
  EXPECT_EQ(RescaleUint8(2, zp), 0);
  // Scale 1 zp 7 into scale 0.5 zp 10: 2q - 14 + 10: 50 -> 96, 200 -> 396 -> 255.
  const ConcatRescale up = MakeConcatRescale(1.0f, 7, 0.5f, 10);
  EXPECT_EQ(RescaleUint8(50, up), 96);
  EXPECT_EQ(RescaleUint8(200, up), 255);
  // In float, not in reals: 0.1 into 0.6 makes scale = 0.1f * (1 / 0.6f) = 0x1.555556p-3,
  // and 3 * scale = 0x1.0000008p-1 rounds to exactly 0.5f, so q = 3 gives 1 (measured in
  // TFLite); exactly, 3 * 0.1f / 0.6f = 0.49999999 would give 0.
  const ConcatRescale sixth = MakeConcatRescale(0.1f, 0, 0.6f, 0);
  EXPECT_EQ(sixth.scale, 0x1.555556p-3f);
  EXPECT_EQ(RescaleUint8(3, sixth), 1);
  EXPECT_EQ(RescaleUint8(9, sixth), 2);  // 1.5 -> 2
  // Equal parameters: copied.
  EXPECT_TRUE(MakeConcatRescale(0.5f, 4, 0.5f, 4).copy);
}

TEST(ShapeOpsTest, ConcatenateUint8WithScalingRescalesOnlyTheDifferingInputs) {
  // [2,1] copied and [2,2] at scale 0.5 into scale 1 along axis 1: rows [a0 b0/2 b1/2], ...
  const uint8_t a[2] = {7, 9}, b[4] = {1, 3, 10, 255};
  uint8_t out[6];
  const std::vector<ConcatRescale> rescale = {MakeConcatRescale(1.0f, 0, 1.0f, 0), MakeConcatRescale(0.5f, 0, 1.0f, 0)};
  ConcatenateUint8WithScaling(2, 1, {1, 2}, rescale, {a, b}, out);
  EXPECT_EQ(testing::Ints(out, 6), (std::vector<int>{7, 1, 2, 9, 5, 128}));
}

// uint8 / int8 / int16 CONCATENATION through the executor: TFLite's rules per mode.
Graph Concat2(DType dtype, float scale0, int64_t zp0, float scale1, float out_scale) {
  Graph g;
  auto tensor = [&](const char* name, int32_t width, float scale, int64_t zp) {
    Tensor t;
    t.name = name;
    t.dtype = dtype;
    t.shape = {1, width};
    t.quant.scale = {scale};
    t.quant.zero_point = {zp};
    g.tensors.push_back(t);
    return static_cast<int>(g.tensors.size()) - 1;
  };
  const int a = tensor("a", 2, scale0, zp0), b = tensor("b", 2, scale1, 0), o = tensor("out", 4, out_scale, 0);
  g.inputs = {a, b};
  g.outputs = {o};
  ConcatenationOptions opts;
  opts.axis = 1;
  g.operators.push_back({OpKind::kConcatenation, {a, b}, {o}, opts, 1});
  return g;
}

HostTensor Bytes(DType dtype, const std::vector<uint8_t>& bytes, int32_t width) {
  HostTensor h;
  h.dtype = dtype;
  h.shape = {1, width};
  h.bytes = bytes;
  return h;
}

std::vector<uint8_t> RunConcat(const Graph& g, const std::vector<HostTensor>& in, Numerics numerics) {
  auto ex = Executor::Create(g, {numerics, 1});
  EXPECT_TRUE(ex.ok()) << ex.status().message();
  if (!ex.ok()) return {};
  auto out = (*ex)->Run(in);
  EXPECT_TRUE(out.ok()) << out.status().message();
  return out.ok() ? (*out)[0].bytes : std::vector<uint8_t>{};
}

TEST(ShapeOpsTest, Uint8ConcatenationRequantizesExceptUnderXnnpack) {
  // Input a at scale 0.5 into an output at scale 1: TFLite's kernels halve it (1 -> 1,
  // 3 -> 2); XNNPACK copies the bytes (measured: it ignores its own quantization check).
  const Graph g = Concat2(DType::kUInt8, 0.5f, 0, 1.0f, 1.0f);
  const std::vector<HostTensor> in = {Bytes(DType::kUInt8, {1, 3}, 2), Bytes(DType::kUInt8, {4, 5}, 2)};
  EXPECT_EQ(RunConcat(g, in, Numerics::kReference), (std::vector<uint8_t>{1, 2, 4, 5}));
  EXPECT_EQ(RunConcat(g, in, Numerics::kTflite), (std::vector<uint8_t>{1, 2, 4, 5}));
  EXPECT_EQ(RunConcat(g, in, Numerics::kXnnpack), (std::vector<uint8_t>{1, 3, 4, 5}));
}

TEST(ShapeOpsTest, Int16ConcatenationCopiesWhateverTheScales) {
  // TFLite compares no int16 scales: values are copied as they are (measured).
  const Graph g = Concat2(DType::kInt16, 0.5f, 0, 0.25f, 1.0f);
  const std::vector<HostTensor> in = {Bytes(DType::kInt16, {1, 0, 2, 0}, 2), Bytes(DType::kInt16, {3, 0, 4, 0}, 2)};
  EXPECT_EQ(RunConcat(g, in, Numerics::kTflite), (std::vector<uint8_t>{1, 0, 2, 0, 3, 0, 4, 0}));
}

TEST(ShapeOpsTest, ConcatenationRefusalsMirrorTflite) {
  auto status = [](const Graph& g) { return Executor::Create(g, {Numerics::kXnnpack, 1}).status(); };
  // int8 inputs must have the output's scale and zero point, even under XNNPACK.
  Status st = status(Concat2(DType::kInt8, 0.5f, 0, 0.25f, 0.5f));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("input 1 'b' has scale 0.250000"), std::string::npos) << st.message();
  st = status(Concat2(DType::kInt8, 0.5f, 3, 0.5f, 0.5f));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("zero point 3"), std::string::npos) << st.message();
  // int16 zero points must be 0.
  st = status(Concat2(DType::kInt16, 0.5f, 2, 0.5f, 0.5f));
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument);
  EXPECT_NE(st.message().find("zero point 0; input 0 'a' has 2"), std::string::npos) << st.message();
}

}  // namespace
}  // namespace qaudit::kernels
