// The .tflite reader and writer on real converter output and on broken files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <random>

#include "qaudit/tflite.h"
#include "support/fixtures.h"

namespace qaudit {
namespace {

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// Every fixture model qaudit supports, and what it must find in it.
struct ModelFacts {
  const char* path;
  size_t operators;
  size_t tensors;
};
const ModelFacts kSupportedModels[] = {
    {"coral/tf2_mobilenet_v2_1.0_224_ptq.tflite", 68, 177},
    {"coral/mobilenet_v1_0.25_128_quant.tflite", 31, 89},
    {"tflite-micro/mobilenet_v2_quantized_1x3x224x224.tflite", 84, 212},
    {"tflite-micro/hello_world_int8.tflite", 3, 10},
    {"tflite-micro/hello_world_float.tflite", 3, 10},
    {"tflite-micro/person_detect.tflite", 31, 89},
    {"tflite-micro/micro_speech_quantized.tflite", 4, 10},
    {"tflite-micro/seanet/conv0.tflite", 1, 4},
    {"tflite-micro/seanet/add0.tflite", 1, 3},
};

TEST(ReaderTest, ReadsConverterModelsAndRoundTripsThemExactly) {
  QAUDIT_REQUIRE_FIXTURES();
  for (const ModelFacts& m : kSupportedModels) {
    SCOPED_TRACE(m.path);
    auto graph = ReadTfliteFile(testing::Fixture(m.path));
    ASSERT_TRUE(graph.ok()) << graph.status().message();
    EXPECT_EQ(graph->operators.size(), m.operators);
    EXPECT_EQ(graph->tensors.size(), m.tensors);
    auto bytes = WriteTflite(*graph);
    ASSERT_TRUE(bytes.ok()) << bytes.status().message();
    auto again = ReadTflite(bytes->data(), bytes->size(), "rewritten");
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_TRUE(*graph == *again);
  }
}

TEST(ReaderTest, KeepsQuantizationAndConstantsOfARealModel) {
  QAUDIT_REQUIRE_FIXTURES();
  auto g = ReadTfliteFile(testing::Fixture("coral/tf2_mobilenet_v2_1.0_224_ptq.tflite"));
  ASSERT_TRUE(g.ok()) << g.status().message();
  const Tensor& input = g->tensors[g->inputs[0]];
  EXPECT_EQ(input.dtype, DType::kUInt8);
  EXPECT_EQ(input.shape, (Shape{1, 224, 224, 3}));
  const Operator& conv = g->operators[1];
  ASSERT_EQ(conv.kind, OpKind::kConv2D);
  const Tensor& weights = g->tensors[conv.inputs[1]];
  EXPECT_TRUE(weights.is_constant);
  EXPECT_EQ(weights.dtype, DType::kInt8);
  EXPECT_EQ(weights.quant.quantized_dimension, 0);
  EXPECT_EQ(static_cast<int>(weights.quant.scale.size()), weights.shape[0]);  // per-channel
  EXPECT_EQ(conv.opts<ConvOptions>().stride_h, 2);
  EXPECT_EQ(conv.opts<ConvOptions>().activation, Activation::kRelu6);
}

TEST(ReaderTest, UnsupportedOperatorsAreNamedWithTheModel) {
  QAUDIT_REQUIRE_FIXTURES();
  struct Case {
    const char* path;
    const char* expected;
  } cases[] = {
      {"tflite-micro/trained_lstm.tflite", "operator 0 is UNIDIRECTIONAL_SEQUENCE_LSTM"},
      {"tflite-micro/keyword_scrambled_8bit.tflite", "is SVDF"},
      {"coral/model_invoking_error.tflite", "custom op 'fake-op-double'"},
  };
  for (const Case& c : cases) {
    auto g = ReadTfliteFile(testing::Fixture(c.path));
    ASSERT_FALSE(g.ok()) << c.path;
    EXPECT_EQ(g.status().code(), StatusCode::kUnsupported);
    EXPECT_NE(g.status().message().find(c.expected), std::string::npos) << g.status().message();
    EXPECT_NE(g.status().message().find(c.path), std::string::npos) << g.status().message();
  }
}

TEST(ReaderTest, PersonDetectLoadsWithAWarningAndRepairs) {
  QAUDIT_REQUIRE_FIXTURES();
  auto g = ReadTfliteFile(testing::Fixture("tflite-micro/person_detect.tflite"));
  ASSERT_TRUE(g.ok()) << g.status().message();
  const auto warnings = GraphWarnings(*g);
  ASSERT_FALSE(warnings.empty());
  EXPECT_NE(warnings[0].find("quantized_dimension 3"), std::string::npos) << warnings[0];
  EXPECT_EQ(RepairGraph(*g), static_cast<int>(warnings.size()));
  EXPECT_TRUE(GraphWarnings(*g).empty());
}

class CorruptModelTest : public ::testing::Test {
 protected:
  void SetUp() override {
    QAUDIT_REQUIRE_FIXTURES();
    bytes_ = ReadBytes(testing::Fixture("tflite-micro/hello_world_int8.tflite"));
    ASSERT_FALSE(bytes_.empty());
  }
  std::vector<uint8_t> bytes_;
};

TEST_F(CorruptModelTest, EveryTruncationIsAnError) {
  for (size_t n = 0; n < bytes_.size(); n += 7) {
    std::vector<uint8_t> cut(bytes_.begin(), bytes_.begin() + n);
    auto g = ReadTflite(cut.data(), cut.size(), "cut");
    ASSERT_FALSE(g.ok()) << "truncated to " << n << " bytes";
    EXPECT_EQ(g.status().code(), StatusCode::kInvalidArgument);
  }
}

TEST_F(CorruptModelTest, FlippedBytesNeverCrashAndRejectionsSayWhy) {
  std::mt19937 rng(1234);
  int rejected = 0;
  for (int i = 0; i < 3000; ++i) {
    std::vector<uint8_t> b = bytes_;
    b[rng() % b.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    auto g = ReadTflite(b.data(), b.size(), "flipped");
    if (!g.ok()) {
      ++rejected;
      EXPECT_FALSE(g.status().message().empty());
    }
  }
  EXPECT_GT(rejected, 0);
}

// A small model whose activation claims billions of elements must be refused before
// anything is allocated for it.
TEST(ReaderTest, HugeShapesAreRefused) {
  Graph g;
  Tensor in;
  in.name = "in";
  in.shape = {1, 60000, 60000, 3};
  Tensor out = in;
  out.name = "out";
  g.tensors = {in, out};
  g.inputs = {0};
  g.outputs = {1};
  g.operators.push_back({OpKind::kRelu, {0}, {1}, NoOptions{}, 1});
  auto bytes = WriteTflite(g);
  ASSERT_FALSE(bytes.ok());  // the writer checks too
  EXPECT_NE(bytes.status().message().find("more than qaudit allows"), std::string::npos) << bytes.status().message();
}

TEST(ReaderTest, OutOfRangeIndicesAndBadBuffersAreNamed) {
  Graph g;
  Tensor in;
  in.name = "in";
  in.shape = {1, 4};
  Tensor out = in;
  out.name = "out";
  g.tensors = {in, out};
  g.inputs = {0};
  g.outputs = {1};
  g.operators.push_back({OpKind::kRelu, {0}, {1}, NoOptions{}, 1});
  ASSERT_TRUE(VerifyGraph(g).ok());

  Graph bad_input = g;
  bad_input.operators[0].inputs = {7};
  EXPECT_NE(VerifyGraph(bad_input).message().find("operator 0 (RELU) input index 7 is out of range"), std::string::npos)
      << VerifyGraph(bad_input).message();

  Graph bad_buffer = g;
  bad_buffer.tensors[0].is_constant = true;
  bad_buffer.tensors[0].data.resize(3);
  EXPECT_NE(VerifyGraph(bad_buffer).message().find("needs 16 bytes but its buffer has 3"), std::string::npos)
      << VerifyGraph(bad_buffer).message();

  Graph bad_quant = g;
  bad_quant.tensors[0].dtype = DType::kInt8;
  bad_quant.tensors[0].quant.scale = {0.1f, 0.2f};
  bad_quant.tensors[0].quant.zero_point = {0, 0};
  bad_quant.tensors[0].quant.quantized_dimension = 1;
  EXPECT_NE(VerifyGraph(bad_quant).message().find("2 per-axis scales but dimension 1"), std::string::npos)
      << VerifyGraph(bad_quant).message();

  Graph cycle = g;
  cycle.operators.push_back({OpKind::kRelu, {1}, {0}, NoOptions{}, 1});
  EXPECT_FALSE(VerifyGraph(cycle).ok());
  Graph unordered = g;
  unordered.tensors.push_back(unordered.tensors[1]);
  unordered.operators = {{OpKind::kRelu, {2}, {1}, NoOptions{}, 1}, {OpKind::kRelu, {0}, {2}, NoOptions{}, 1}};
  EXPECT_NE(VerifyGraph(unordered).message().find("before any operator produces it"), std::string::npos);
}

TEST(ReaderTest, NotATfliteFile) {
  const std::string text = "this is not a model, just some text of reasonable length";
  auto g = ReadTflite(reinterpret_cast<const uint8_t*>(text.data()), text.size(), "text.tflite");
  ASSERT_FALSE(g.ok());
  EXPECT_NE(g.status().message().find("not a .tflite file"), std::string::npos);
  auto missing = ReadTfliteFile("/nonexistent/model.tflite");
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace qaudit
