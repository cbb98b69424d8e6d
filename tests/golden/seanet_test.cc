// The 16 single-layer 16x8 models of tests/fixtures/tflite-micro/seanet must give
// exactly the outputs TFLite's interpreter produced (the *_golden_int16.csv files), in
// every numerics mode (no runtime delegates int16 ops, so all three agree).
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <sstream>

#include "qaudit/executor.h"
#include "qaudit/tflite.h"
#include "support/fixtures.h"

namespace qaudit {
namespace {

std::vector<int16_t> ReadCsv(const std::string& path) {
  std::ifstream in(path);
  std::vector<int16_t> values;
  std::string item;
  while (std::getline(in, item, ',')) values.push_back(static_cast<int16_t>(std::stoi(item)));
  return values;
}

HostTensor Int16Tensor(const Shape& shape, const std::vector<int16_t>& values) {
  HostTensor t;
  t.dtype = DType::kInt16;
  t.shape = shape;
  t.bytes.resize(values.size() * 2);
  std::memcpy(t.bytes.data(), values.data(), t.bytes.size());
  return t;
}

class SeanetTest : public ::testing::TestWithParam<std::tuple<std::string, Numerics>> {};

TEST_P(SeanetTest, MatchesGoldenExactly) {
  QAUDIT_REQUIRE_FIXTURES();
  const auto& [name, numerics] = GetParam();
  const std::string base = testing::Fixture("tflite-micro/seanet/" + name);
  auto graph = ReadTfliteFile(base + ".tflite");
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  std::vector<HostTensor> inputs;
  for (size_t k = 0; k < graph->inputs.size(); ++k) {
    const Tensor& t = graph->tensors[graph->inputs[k]];
    auto values = ReadCsv(base + "_input" + std::to_string(k) + "_int16.csv");
    ASSERT_EQ(static_cast<int64_t>(values.size()), t.num_elements()) << "input " << k;
    inputs.push_back(Int16Tensor(t.shape, values));
  }
  auto executor = Executor::Create(std::move(graph).value(), {numerics, 1});
  ASSERT_TRUE(executor.ok()) << executor.status().message();
  auto outputs = (*executor)->Run(inputs);
  ASSERT_TRUE(outputs.ok()) << outputs.status().message();
  const auto golden = ReadCsv(base + "_golden_int16.csv");
  ASSERT_EQ(static_cast<int64_t>(golden.size()), (*outputs)[0].num_elements());
  int mismatches = 0;
  for (size_t i = 0; i < golden.size(); ++i) mismatches += (*outputs)[0].data<int16_t>()[i] != golden[i];
  EXPECT_EQ(mismatches, 0) << "of " << golden.size() << " outputs";
}

std::vector<std::string> SeanetModels() {
  std::vector<std::string> names;
  for (int k = 0; k < 8; ++k) names.push_back("conv" + std::to_string(k));
  for (int k = 0; k < 8; ++k) names.push_back("add" + std::to_string(k));
  return names;
}

INSTANTIATE_TEST_SUITE_P(AllModes, SeanetTest,
                         ::testing::Combine(::testing::ValuesIn(SeanetModels()),
                                            ::testing::Values(Numerics::kReference, Numerics::kTflite,
                                                              Numerics::kXnnpack)),
                         [](const auto& info) {
                           return std::get<0>(info.param) + "_" + NumericsName(std::get<1>(info.param));
                         });

}  // namespace
}  // namespace qaudit
