// Models that are well-formed FlatBuffers but mean nothing valid: built field by field with
// the generated format code, so the reader's meaning checks (not the Verifier) must catch
// them, with a one-line error that names the problem.
#include <gtest/gtest.h>

#include "qaudit/tflite.h"
#include "tflite_format_generated.h"

namespace qaudit {
namespace {

namespace tfl = ::qaudit::tfl;

struct ModelSpec {
  std::vector<int32_t> input_shape = {1, 4};
  std::vector<int32_t> op_inputs = {0};
  std::vector<int32_t> op_outputs = {1};
  std::vector<int32_t> graph_inputs = {0};
  uint32_t input_buffer = 0;
  std::vector<uint8_t> constant;  // data of buffer 1
  int32_t builtin_code = 19;      // RELU
};

// A one-op model: tensor 0 -> RELU -> tensor 1, both float32.
std::vector<uint8_t> Build(const ModelSpec& spec) {
  flatbuffers::FlatBufferBuilder fbb;
  std::vector<flatbuffers::Offset<tfl::Buffer>> buffers = {tfl::CreateBuffer(fbb)};
  buffers.push_back(tfl::CreateBuffer(fbb, fbb.CreateVector(spec.constant)));
  std::vector<flatbuffers::Offset<tfl::Tensor>> tensors = {
      tfl::CreateTensor(fbb, fbb.CreateVector(spec.input_shape), tfl::TensorType_FLOAT32, spec.input_buffer,
                        fbb.CreateString("in")),
      tfl::CreateTensor(fbb, fbb.CreateVector(std::vector<int32_t>{1, 4}), tfl::TensorType_FLOAT32, 0,
                        fbb.CreateString("out"))};
  auto op = tfl::CreateOperator(fbb, 0, fbb.CreateVector(spec.op_inputs), fbb.CreateVector(spec.op_outputs));
  auto subgraph = tfl::CreateSubGraph(fbb, fbb.CreateVector(tensors), fbb.CreateVector(spec.graph_inputs),
                                      fbb.CreateVector(std::vector<int32_t>{1}), fbb.CreateVector(&op, 1));
  auto code = tfl::CreateOperatorCode(fbb, static_cast<int8_t>(std::min(spec.builtin_code, 127)), 0, 1,
                                      spec.builtin_code);
  auto model = tfl::CreateModel(fbb, 3, fbb.CreateVector(&code, 1), fbb.CreateVector(&subgraph, 1), 0,
                                fbb.CreateVector(buffers));
  tfl::FinishModelBuffer(fbb, model);
  return std::vector<uint8_t>(fbb.GetBufferPointer(), fbb.GetBufferPointer() + fbb.GetSize());
}

std::string ReadError(const ModelSpec& spec) {
  const auto bytes = Build(spec);
  auto g = ReadTflite(bytes.data(), bytes.size(), "m.tflite");
  if (g.ok()) return "";
  EXPECT_EQ(g.status().message().find('\n'), std::string::npos) << "one line";
  return g.status().message();
}

TEST(MalformedModelTest, TheBaseModelIsValid) { EXPECT_EQ(ReadError({}), ""); }

TEST(MalformedModelTest, OutOfRangeIndicesAreNamed) {
  ModelSpec op_input;
  op_input.op_inputs = {5};
  EXPECT_NE(ReadError(op_input).find("operator 0 (RELU) input index 5 is out of range (2 tensors)"), std::string::npos)
      << ReadError(op_input);
  ModelSpec op_output;
  op_output.op_outputs = {-3};
  EXPECT_NE(ReadError(op_output).find("output index -3 is out of range"), std::string::npos);
  ModelSpec graph_input;
  graph_input.graph_inputs = {9};
  EXPECT_NE(ReadError(graph_input).find("graph input index 9 is out of range"), std::string::npos);
  ModelSpec buffer;
  buffer.input_buffer = 7;
  EXPECT_NE(ReadError(buffer).find("refers to buffer 7 but the model has 2 buffers"), std::string::npos);
  ModelSpec opcode;
  opcode.builtin_code = 16;  // LSTM
  EXPECT_NE(ReadError(opcode).find("operator 0 is LSTM"), std::string::npos);
}

TEST(MalformedModelTest, HugeShapesAreRefusedBeforeAnyAllocation) {
  // A few hundred bytes claiming a 40 GB activation.
  ModelSpec huge;
  huge.input_shape = {100000, 100000, 1, 1};
  const auto bytes = Build(huge);
  EXPECT_LT(bytes.size(), 1024u);
  EXPECT_NE(ReadError(huge).find("more than qaudit allows"), std::string::npos) << ReadError(huge);
  ModelSpec overflow;
  overflow.input_shape = {2147483647, 2147483647, 2147483647};
  EXPECT_NE(ReadError(overflow).find("invalid shape"), std::string::npos) << ReadError(overflow);
  ModelSpec negative;
  negative.input_shape = {1, -4};
  EXPECT_NE(ReadError(negative).find("invalid shape [1,-4]"), std::string::npos) << ReadError(negative);
}

TEST(MalformedModelTest, ConstantSizeMustMatchShape) {
  ModelSpec constant;
  constant.input_buffer = 1;
  constant.constant = std::vector<uint8_t>(15, 0);  // [1,4] float32 needs 16
  EXPECT_NE(ReadError(constant).find("needs 16 bytes but its buffer has 15"), std::string::npos) << ReadError(constant);
}

}  // namespace
}  // namespace qaudit
