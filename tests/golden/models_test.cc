// Real converter models give the answers their authors documented: person_detect tells the
// person image from the no-person one, the ImageNet MobileNets see a military uniform on
// Grace Hopper. In every numerics mode.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <numeric>

#include "qaudit/data.h"
#include "qaudit/executor.h"
#include "qaudit/tflite.h"
#include "support/fixtures.h"

namespace qaudit {
namespace {

enum class PixelCoding {
  kShifted,  // int8 inputs take pixel - 128 (what `qaudit run` does)
  kRawBytes,  // the pixel bytes copied into the int8 tensor, as TFLite Micro's examples do
};

// The image as the model's input: resized to its H x W; uint8 as is, int8 per `coding`.
HostTensor ImageInput(const Tensor& input, const std::string& path, PixelCoding coding) {
  auto pixels = ReadBmp(path);
  EXPECT_TRUE(pixels.ok()) << pixels.status().message();
  HostTensor image = ResizeImage(*pixels, input.shape[1], input.shape[2]);
  HostTensor t;
  t.dtype = input.dtype;
  t.shape = input.shape;
  t.bytes = image.bytes;
  if (input.dtype == DType::kInt8 && coding == PixelCoding::kShifted) {
    for (uint8_t& b : t.bytes) b = static_cast<uint8_t>(b - 128);
  }
  return t;
}

std::vector<float> RunImage(const std::string& model, const std::string& image, Numerics numerics,
                            PixelCoding coding = PixelCoding::kShifted) {
  auto graph = ReadTfliteFile(testing::Fixture(model));
  EXPECT_TRUE(graph.ok()) << graph.status().message();
  if (!graph.ok()) return {};
  RepairGraph(*graph);
  const Tensor input = graph->tensors[graph->inputs[0]];
  const Tensor output = graph->tensors[graph->outputs[0]];
  auto executor = Executor::Create(std::move(graph).value(), {numerics, 1});
  EXPECT_TRUE(executor.ok()) << executor.status().message();
  if (!executor.ok()) return {};
  auto out = (*executor)->Run({ImageInput(input, testing::Fixture(image), coding)});
  EXPECT_TRUE(out.ok()) << out.status().message();
  if (!out.ok()) return {};
  std::vector<float> scores(out->at(0).num_elements());
  for (size_t i = 0; i < scores.size(); ++i) {
    const int q = output.dtype == DType::kUInt8 ? out->at(0).data<uint8_t>()[i] : out->at(0).data<int8_t>()[i];
    scores[i] = (q - output.quant.zero_point_at(0)) * output.quant.scale_at(0);
  }
  return scores;
}

std::vector<std::string> TopLabels(const std::vector<float>& scores, int k) {
  std::ifstream in(testing::Fixture("coral/imagenet_labels.txt"));
  std::vector<std::string> labels;
  for (std::string line; std::getline(in, line);) labels.push_back(line);
  std::vector<int> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) { return scores[a] > scores[b]; });
  std::vector<std::string> top;
  for (int i = 0; i < k; ++i) top.push_back(order[i] < static_cast<int>(labels.size()) ? labels[order[i]] : "?");
  return top;
}

class ModelsTest : public ::testing::TestWithParam<Numerics> {};

TEST_P(ModelsTest, PersonDetectScoresThePersonImageHigher) {
  QAUDIT_REQUIRE_FIXTURES();
  const char* model = "tflite-micro/person_detect.tflite";
  // TFLite Micro's person detection test copies the BMP's bytes into the int8 input
  // unchanged (tools/generate_cc_arrays.py, then a memcpy); the model scores as documented
  // only with that coding.
  const auto person = RunImage(model, "tflite-micro/person.bmp", GetParam(), PixelCoding::kRawBytes);
  const auto no_person = RunImage(model, "tflite-micro/no_person.bmp", GetParam(), PixelCoding::kRawBytes);
  ASSERT_EQ(person.size(), 2u);
  ASSERT_EQ(no_person.size(), 2u);
  // Output 1 is the "person" score, output 0 "no person".
  EXPECT_GT(person[1], no_person[1]);
  EXPECT_GT(person[1], person[0]);
  EXPECT_GT(no_person[0], no_person[1]);
}

TEST_P(ModelsTest, MobileNetsSeeAMilitaryUniformOnGraceHopper) {
  QAUDIT_REQUIRE_FIXTURES();
  for (const char* model : {"coral/tf2_mobilenet_v2_1.0_224_ptq.tflite", "coral/mobilenet_v1_0.25_128_quant.tflite"}) {
    const auto scores = RunImage(model, "coral/grace_hopper.bmp", GetParam());
    ASSERT_EQ(scores.size(), 1001u) << model;
    const auto top5 = TopLabels(scores, 5);
    EXPECT_NE(std::find(top5.begin(), top5.end(), "military uniform"), top5.end())
        << model << ": top 5 are " << top5[0] << ", " << top5[1] << ", " << top5[2] << ", " << top5[3] << ", "
        << top5[4];
  }
}

INSTANTIATE_TEST_SUITE_P(AllModes, ModelsTest,
                         ::testing::Values(Numerics::kReference, Numerics::kTflite, Numerics::kXnnpack),
                         [](const auto& info) { return std::string(NumericsName(info.param)); });

}  // namespace
}  // namespace qaudit
