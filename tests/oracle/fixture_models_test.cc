// Every fixture model qaudit runs must match TFLite's own interpreter bit for bit, in
// every layer: the test exposes each operator's output as a model output, runs the model
// in the oracle (built-in kernels for Numerics::kTflite, XNNPACK for kXnnpack) and in
// qaudit, and compares all of them, on seeded random inputs and on the fixture images.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <unistd.h>
#include <filesystem>
#include <random>

#include "qaudit/data.h"
#include "qaudit/executor.h"
#include "qaudit/tflite.h"
#include "support/fixtures.h"
#include "support/oracle_compare.h"
#include "support/tflite_oracle.h"

namespace qaudit {
namespace {

namespace fs = std::filesystem;

struct FixtureModel {
  const char* path;
  std::vector<const char*> images;  // fed like `qaudit run --input FILE.bmp`
};

const FixtureModel kModels[] = {
    {"tflite-micro/hello_world_int8.tflite", {}},
    {"tflite-micro/hello_world_float.tflite", {}},
    {"tflite-micro/person_detect.tflite", {"tflite-micro/person.bmp", "tflite-micro/no_person.bmp"}},
    {"tflite-micro/micro_speech_quantized.tflite", {}},
    {"tflite-micro/mobilenet_v2_quantized_1x3x224x224.tflite", {}},
    {"coral/mobilenet_v1_0.25_128_quant.tflite", {"coral/grace_hopper.bmp"}},
    {"coral/tf2_mobilenet_v2_1.0_224_ptq.tflite", {"coral/grace_hopper.bmp", "coral/cat.bmp"}},
    {"tflite-micro/seanet/conv3.tflite", {}},
    {"tflite-micro/seanet/add5.tflite", {}},
};

HostTensor RandomInput(const Tensor& t, uint64_t seed) {
  std::mt19937_64 rng(seed);
  HostTensor h;
  h.dtype = t.dtype;
  h.shape = t.shape;
  h.bytes.resize(static_cast<size_t>(t.num_elements()) * DTypeSize(t.dtype));
  if (t.dtype == DType::kFloat32) {
    std::uniform_real_distribution<float> u(0.0f, 6.2831853f);
    for (int64_t i = 0; i < t.num_elements(); ++i) h.data<float>()[i] = u(rng);
  } else {
    for (uint8_t& b : h.bytes) b = static_cast<uint8_t>(rng());
  }
  return h;
}

HostTensor ImageInput(const Tensor& t, const std::string& path) {
  auto pixels = ReadBmp(path);
  EXPECT_TRUE(pixels.ok()) << pixels.status().message();
  HostTensor image = ResizeImage(*pixels, t.shape[1], t.shape[2]);
  HostTensor h;
  h.dtype = t.dtype;
  h.shape = t.shape;
  h.bytes.resize(image.bytes.size());
  for (size_t i = 0; i < image.bytes.size(); ++i) {
    h.bytes[i] = t.dtype == DType::kInt8 ? static_cast<uint8_t>(image.bytes[i] - 128) : image.bytes[i];
  }
  return h;
}

class FixtureOracleTest : public testing::WithOracle<::testing::TestWithParam<std::tuple<int, Numerics>>> {};

TEST_P(FixtureOracleTest, EveryLayerMatchesTflite) {
  QAUDIT_REQUIRE_FIXTURES();
  ASSERT_NE(oracle_, nullptr);
  const auto& [index, numerics] = GetParam();
  const FixtureModel& model = kModels[index];
  auto read = ReadTfliteFile(testing::Fixture(model.path));
  ASSERT_TRUE(read.ok()) << read.status().message();
  RepairGraph(*read);  // person_detect: TFLite loads only the repaired copy
  const Graph graph = testing::ExposeAllLayers(std::move(read).value());
  std::vector<std::vector<HostTensor>> cases;
  for (uint64_t seed : {1u, 2u}) {
    std::vector<HostTensor> inputs;
    for (size_t k = 0; k < graph.inputs.size(); ++k) inputs.push_back(RandomInput(graph.tensors[graph.inputs[k]], seed * 31 + k));
    cases.push_back(inputs);
  }
  for (const char* image : model.images) cases.push_back({ImageInput(graph.tensors[graph.inputs[0]], testing::Fixture(image))});
  const testing::OracleComparison result = testing::CompareWithOracle(*oracle_, graph, cases, numerics);
  EXPECT_TRUE(result.ok) << model.path << ": " << result.message;
}

// TFLite refuses person_detect as distributed (1-D biases with quantized_dimension 3);
// the copy qaudit repairs loads.
TEST_F(FixtureOracleTest, RepairedPersonDetectLoadsInTflite) {
  QAUDIT_REQUIRE_FIXTURES();
  ASSERT_NE(oracle_, nullptr);
  const fs::path dir = fs::temp_directory_path() / ("qaudit_repair_oracle_" + std::to_string(getpid()));
  fs::create_directories(dir);
  const std::string original = testing::Fixture("tflite-micro/person_detect.tflite");
  auto graph = ReadTfliteFile(original);
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  const HostTensor input = RandomInput(graph->tensors[graph->inputs[0]], 5);
  const std::string input_file = (dir / "in.npy").string();
  ASSERT_TRUE(WriteNpy(input_file, input).ok());

  auto refused = oracle_->Run(original, {input_file}, (dir / "a").string(), false);
  ASSERT_TRUE(refused.ok()) << refused.status().message();
  EXPECT_TRUE(refused->refused);
  EXPECT_NE(refused->error.find("quantized_dimension"), std::string::npos) << refused->error;

  EXPECT_GT(RepairGraph(*graph), 0);
  const std::string repaired = (dir / "repaired.tflite").string();
  ASSERT_TRUE(WriteTfliteFile(*graph, repaired).ok());
  auto loaded = oracle_->Run(repaired, {input_file}, (dir / "b").string(), false);
  ASSERT_TRUE(loaded.ok()) << loaded.status().message();
  EXPECT_TRUE(loaded->ok) << loaded->error;
  fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(
    Fixtures, FixtureOracleTest,
    ::testing::Combine(::testing::Range(0, static_cast<int>(std::size(kModels))),
                       ::testing::Values(Numerics::kTflite, Numerics::kXnnpack)),
    [](const auto& info) {
      std::string name = fs::path(kModels[std::get<0>(info.param)].path).stem().string();
      for (char& ch : name) {
        if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
      }
      return name + "_" + NumericsName(std::get<1>(info.param));
    });

}  // namespace
}  // namespace qaudit
