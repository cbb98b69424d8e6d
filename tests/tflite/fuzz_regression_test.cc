// Replays every input the fuzzer (fuzz/reader_fuzzer.cc) found that crashed, hung, leaked,
// over-allocated or tripped a sanitizer: each must now read to an error Status or to a graph
// that Executor::Create accepts or refuses with an error Status, and a small accepted model
// must run. Run it under the ASan+UBSan build for the full check; tests/tflite/
// fuzz_regressions/README.md says what each file triggered.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include "qaudit/executor.h"
#include "qaudit/tflite.h"

#ifndef QAUDIT_FUZZ_REGRESSIONS_DIR
#error "define QAUDIT_FUZZ_REGRESSIONS_DIR to the tests/tflite/fuzz_regressions folder"
#endif

namespace qaudit {
namespace {

std::vector<std::filesystem::path> RegressionInputs() {
  std::vector<std::filesystem::path> files;
  for (const auto& entry : std::filesystem::directory_iterator(QAUDIT_FUZZ_REGRESSIONS_DIR)) {
    if (entry.is_regular_file() && entry.path().extension() != ".md") files.push_back(entry.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<uint8_t> ReadBytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::vector<uint8_t>((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void ExpectUserError(const Status& s) {
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kUnsupported)
      << "status code " << static_cast<int>(s.code()) << ": " << s.message();
  EXPECT_FALSE(s.message().empty());
}

// The same bound as the fuzzer's: run only models whose activations are small.
bool SmallEnoughToRun(const Graph& g) {
  int64_t bytes = 0;
  for (const Tensor& t : g.tensors) {
    if (!t.is_constant) bytes += t.num_elements() * static_cast<int64_t>(DTypeSize(t.dtype));
  }
  return bytes <= (int64_t{4} << 20);
}

TEST(FuzzRegressionTest, EveryFoundInputFailsCleanlyOrWorks) {
  const auto files = RegressionInputs();
  ASSERT_FALSE(files.empty()) << "no inputs in " << QAUDIT_FUZZ_REGRESSIONS_DIR;
  for (const auto& path : files) {
    SCOPED_TRACE(path.filename().string());
    const std::vector<uint8_t> bytes = ReadBytes(path);
    auto graph = ReadTflite(bytes.data(), bytes.size(), path.filename().string());
    if (!graph.ok()) {
      ExpectUserError(graph.status());
      continue;
    }
    // A graph the reader accepts writes and reads back unchanged (floats aside, which the
    // fuzzer compares NaN-aware; the regression inputs hold no NaN where it matters).
    auto written = WriteTflite(*graph);
    ASSERT_TRUE(written.ok()) << written.status().message();
    auto again = ReadTflite(written->data(), written->size(), "rewritten");
    ASSERT_TRUE(again.ok()) << again.status().message();
    EXPECT_EQ(again->tensors.size(), graph->tensors.size());
    for (size_t t = 0; t < graph->tensors.size() && t < again->tensors.size(); ++t) {
      EXPECT_EQ(again->tensors[t].quant.quantized_dimension, graph->tensors[t].quant.quantized_dimension)
          << "tensor " << t;
    }
    for (Numerics numerics : {Numerics::kReference, Numerics::kTflite, Numerics::kXnnpack}) {
      SCOPED_TRACE(NumericsName(numerics));
      ExecutorOptions options;
      options.numerics = numerics;
      options.num_threads = 1;
      auto executor = Executor::Create(*graph, options);
      if (!executor.ok()) {
        ExpectUserError(executor.status());
        continue;
      }
      if (!SmallEnoughToRun(*graph)) continue;
      std::vector<HostTensor> inputs;
      for (int t : graph->inputs) {
        HostTensor in;
        in.dtype = graph->tensors[t].dtype;
        in.shape = graph->tensors[t].shape;
        in.bytes.assign(static_cast<size_t>(graph->tensors[t].num_elements()) * DTypeSize(in.dtype), 0x7F);
        inputs.push_back(std::move(in));
      }
      auto outputs = (*executor)->Run(inputs);
      EXPECT_TRUE(outputs.ok()) << outputs.status().message();
    }
  }
}

}  // namespace
}  // namespace qaudit
