// The qaudit command as a user meets it: exit codes, messages, files written.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <filesystem>
#include <cmath>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/json.h"
#include "qaudit/data.h"
#include "qaudit/graph_builder.h"
#include "qaudit/hardware.h"
#include "qaudit/tflite.h"
#include "support/fixtures.h"

namespace qaudit {
namespace {

namespace fs = std::filesystem;

struct CommandResult {
  int exit_code;
  std::string output;  // stdout and stderr together
};

CommandResult RunCli(const std::string& args) {
  const std::string command = std::string(QAUDIT_CLI_PATH) + " " + args + " 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  std::array<char, 4096> buf;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) output.append(buf.data(), n);
  const int status = pclose(pipe);
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, output};
}

class CliTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("qaudit_cli_test_" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(CliTest, HelpAndUsage) {
  auto help = RunCli("--help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("inspect MODEL"), std::string::npos);
  for (const char* command :
       {"audit", "debug", "inspect", "run", "repair", "quantize", "dequantize", "compare", "train", "qat", "search"}) {
    auto r = RunCli(std::string(command) + " --help");
    EXPECT_EQ(r.exit_code, 0) << command;
    EXPECT_NE(r.output.find("usage: qaudit"), std::string::npos) << command;
  }
  EXPECT_EQ(RunCli("").exit_code, 2);
  EXPECT_EQ(RunCli("frobnicate").exit_code, 2);
  EXPECT_EQ(RunCli("inspect").exit_code, 2);

  auto version = RunCli("--version");
  EXPECT_EQ(version.exit_code, 0);
  EXPECT_EQ(version.output, "qaudit " QAUDIT_VERSION "\nfast kernels: " + FastKernelInstructions() + "\n");
}

TEST_F(CliTest, BadInputIsExitCodeTwoWithOneLine) {
  QAUDIT_REQUIRE_FIXTURES();
  struct Case {
    std::string model;
    std::string expected;
  } cases[] = {
      {"/nonexistent/model.tflite", "cannot open file"},
      {testing::Fixture("tflite-micro/trained_lstm.tflite"), "UNIDIRECTIONAL_SEQUENCE_LSTM"},
      {testing::Fixture("coral/model_invoking_error.tflite"), "custom op 'fake-op-double'"},
      {testing::Fixture("tflite-micro/person.bmp"), "not a .tflite file"},
  };
  for (const Case& c : cases) {
    auto r = RunCli("inspect " + c.model);
    EXPECT_EQ(r.exit_code, 2) << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << r.output;
    EXPECT_EQ(std::count(r.output.begin(), r.output.end(), '\n'), 1) << r.output;
  }
  // A truncated copy of a real model.
  std::ifstream in(testing::Fixture("tflite-micro/hello_world_int8.tflite"), std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir_ / "cut.tflite", std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  auto r = RunCli("inspect " + (dir_ / "cut.tflite").string());
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.output.find("corrupt or truncated"), std::string::npos) << r.output;
}

TEST_F(CliTest, InspectJsonIsOneObject) {
  QAUDIT_REQUIRE_FIXTURES();
  auto r = RunCli("inspect --json " + testing::Fixture("tflite-micro/person_detect.tflite"));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_EQ(r.output.front(), '{');
  EXPECT_NE(r.output.find("\"op\":\"DEPTHWISE_CONV_2D\""), std::string::npos);
  EXPECT_NE(r.output.find("\"warnings\":[\"tensor"), std::string::npos);
}

TEST_F(CliTest, RunWritesOutputsAsNpy) {
  QAUDIT_REQUIRE_FIXTURES();
  HostTensor x;
  x.dtype = DType::kInt8;
  x.shape = {1, 1};
  x.bytes = {static_cast<uint8_t>(static_cast<int8_t>(-96))};
  ASSERT_TRUE(WriteNpy((dir_ / "x.npy").string(), x).ok());
  const std::string model = testing::Fixture("tflite-micro/hello_world_int8.tflite");
  for (const char* numerics : {"reference", "tflite", "xnnpack"}) {
    auto r = RunCli("run " + model + " --input " + (dir_ / "x.npy").string() + " --output-dir " +
                    (dir_ / numerics).string() + " --numerics " + numerics);
    ASSERT_EQ(r.exit_code, 0) << r.output;
    auto y = ReadNpy((dir_ / numerics / "output_0.npy").string());
    ASSERT_TRUE(y.ok()) << y.status().message();
    EXPECT_EQ(y->dtype, DType::kInt8);
    EXPECT_EQ(y->shape, (Shape{1, 1}));
  }
  auto wrong_dtype = RunCli("run " + model + " --input " + (dir_ / "x.npy").string() + " --output-dir " +
                            (dir_ / "o").string() + " --numerics fast");
  EXPECT_EQ(wrong_dtype.exit_code, 2);
  EXPECT_NE(wrong_dtype.output.find("--numerics must be"), std::string::npos);
}

// --profile: a table of the operators on stdout and the same as DIR/profile.json, one entry
// per operator or fused pair, covering every operator once; a bad count is refused.
TEST_F(CliTest, RunProfileTimesEveryOperator) {
  QAUDIT_REQUIRE_FIXTURES();
  const std::string model = testing::Fixture("tflite-micro/person_detect.tflite");
  auto r = RunCli("run " + model + " --input " + testing::Fixture("tflite-micro/person.bmp") + " --output-dir " +
                  dir_.string() + " --profile 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("median of 3 invocations"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("DEPTHWISE_CONV_2D"), std::string::npos) << r.output;
  std::ifstream in(dir_ / "profile.json");
  std::stringstream text;
  text << in.rdbuf();
  auto json = ParseJson(text.str());
  ASSERT_TRUE(json.ok()) << json.status().message();
  auto graph = ReadTfliteFile(model);
  ASSERT_TRUE(graph.ok());
  const JsonValue* operators = json->Find("operators");
  ASSERT_NE(operators, nullptr);
  size_t covered = 0;
  for (const JsonValue& entry : operators->array) {
    const JsonValue* index = entry.Find("index");
    const JsonValue* names = entry.Find("operators");
    ASSERT_TRUE(index && names && entry.Find("median_us") && entry.Find("macs"));
    EXPECT_EQ(index->number, static_cast<double>(covered));
    covered += names->array.size();
  }
  EXPECT_EQ(covered, graph->operators.size());
  EXPECT_FALSE(fs::exists(dir_ / "profile.json.partial"));
  auto bad = RunCli("run " + model + " --input " + testing::Fixture("tflite-micro/person.bmp") + " --profile -1");
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("--profile must be"), std::string::npos) << bad.output;
}

TEST_F(CliTest, RepairWritesAModelWithoutWarnings) {
  QAUDIT_REQUIRE_FIXTURES();
  const std::string fixed = (dir_ / "person_detect_fixed.tflite").string();
  auto r = RunCli("repair " + testing::Fixture("tflite-micro/person_detect.tflite") + " " + fixed);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto again = RunCli("inspect " + fixed);
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_EQ(again.output.find("warning"), std::string::npos);
}

// x in [0, 2pi] as hello_world's representative data: [n, 1] float32, with `bad` (NaN,
// or a finite value) at index 3 when given.
std::string WriteSineInputs(const fs::path& file, int n, std::optional<float> bad = std::nullopt) {
  HostTensor x;
  x.shape = {n, 1};
  x.bytes.resize(n * 4);
  for (int i = 0; i < n; ++i) x.data<float>()[i] = 6.2831853f * i / std::max(1, n - 1);
  if (bad) x.data<float>()[3] = *bad;
  EXPECT_TRUE(WriteNpy(file.string(), x).ok());
  return file.string();
}

TEST_F(CliTest, QuantizeWritesALoadableModelForEveryMethod) {
  QAUDIT_REQUIRE_FIXTURES();
  const std::string model = testing::Fixture("tflite-micro/hello_world_float.tflite");
  const std::string data = WriteSineInputs(dir_ / "x.npy", 100);
  for (const char* method : {"int8", "int16x8", "dynamic", "float16"}) {
    const bool calibrated = std::string(method) == "int8" || std::string(method) == "int16x8";
    const std::string out = (dir_ / (std::string(method) + ".tflite")).string();
    auto r = RunCli("quantize " + model + " --method " + method + (calibrated ? " --calibration " + data : "") +
                    " --min-elements 0 -o " + out);
    ASSERT_EQ(r.exit_code, 0) << method << ": " << r.output;
    EXPECT_NE(r.output.find("wrote " + out), std::string::npos) << r.output;
    auto compare = RunCli("compare --json " + model + " " + out + " --data " + data);
    ASSERT_EQ(compare.exit_code, 0) << compare.output;
    EXPECT_NE(compare.output.find("\"sqnr_db\""), std::string::npos) << compare.output;
  }
  auto json = RunCli("quantize " + model + " --method int8 --calibrator mse --calibration " + data + " --json -o " +
                     (dir_ / "mse.tflite").string());
  ASSERT_EQ(json.exit_code, 0) << json.output;
  EXPECT_EQ(json.output.front(), '{');
  EXPECT_NE(json.output.find("\"calibrator\":\"mse\""), std::string::npos) << json.output;
}

TEST_F(CliTest, QuantizeWritesNothingOnBadInput) {
  QAUDIT_REQUIRE_FIXTURES();
  const std::string model = testing::Fixture("tflite-micro/hello_world_float.tflite");
  const fs::path out = dir_ / "out.tflite";
  std::ofstream(out) << "keep me";
  struct Case {
    std::string args;
    std::string expected;
  } cases[] = {
      {"--calibration " + WriteSineInputs(dir_ / "nan.npy", 10, NAN), "sample 3 element 0 is nan"},
      {"--calibration " + WriteSineInputs(dir_ / "empty.npy", 0), "no samples"},
      {"--calibration " + WriteSineInputs(dir_ / "inf.npy", 10, INFINITY), "is inf"},
      {"--calibration " + (dir_ / "missing.npy").string(), "missing.npy"},
      {"", "needs --calibration"},
      {"--calibration fmnist", "shape"},
      {"--calibration " + WriteSineInputs(dir_ / "ok.npy", 10) + " --calibrator median", "--calibrator 'median'"},
      {"--calibration " + (dir_ / "ok.npy").string() + " --deny-ops LSTM", "no operator is 'LSTM'"},
      {"--calibration " + (dir_ / "ok.npy").string() + " --input-type int4", "--input-type 'int4'"},
  };
  for (const Case& c : cases) {
    auto r = RunCli("quantize " + model + " --method int8 " + c.args + " -o " + out.string());
    EXPECT_EQ(r.exit_code, 2) << c.args << ": " << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.args << ": " << r.output;
    std::ifstream in(out);
    std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(kept, "keep me") << c.args;
  }
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 5);  // out + 4 inputs: no stray temporaries
}

TEST_F(CliTest, DequantizeMakesAFloatModel) {
  QAUDIT_REQUIRE_FIXTURES();
  const std::string out = (dir_ / "float.tflite").string();
  auto r = RunCli("dequantize " + testing::Fixture("tflite-micro/hello_world_int8.tflite") + " -o " + out);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  auto inspect = RunCli("inspect " + out);
  EXPECT_EQ(inspect.output.find("int8"), std::string::npos) << inspect.output;
}

// train -> qat -> search on a slice of Fashion-MNIST: each writes a model the next reads.
TEST_F(CliTest, TrainQatAndSearchOnFashionMnist) {
  QAUDIT_REQUIRE_FASHION_MNIST();
  const std::string float_model = (dir_ / "mlp.tflite").string();
  auto train = RunCli("train --arch mlp --data fmnist:train[0:2000] --test-data fmnist:test[0:500] --epochs 1 --json -o " +
                      float_model);
  ASSERT_EQ(train.exit_code, 0) << train.output;
  EXPECT_NE(train.output.find("\"test_top1\":"), std::string::npos) << train.output;
  const std::string int8_model = (dir_ / "mlp_qat.tflite").string();
  auto qat = RunCli("qat " + float_model + " --data fmnist:train[0:2000] --test-data fmnist:test[0:500] --json -o " +
                    int8_model);
  ASSERT_EQ(qat.exit_code, 0) << qat.output;
  EXPECT_NE(qat.output.find("\"gap_points\":0,"), std::string::npos) << qat.output;
  auto inspect = RunCli("inspect " + int8_model);
  EXPECT_NE(inspect.output.find("int8"), std::string::npos);
  auto search = RunCli("search " + float_model + " --calibration fmnist:train[0:200] --validation fmnist:train[2000:2500] "
                       "--trials 4 --json -o " + (dir_ / "best.tflite").string());
  ASSERT_EQ(search.exit_code, 0) << search.output;
  EXPECT_NE(search.output.find("\"history\":["), std::string::npos) << search.output;
  EXPECT_TRUE(fs::exists(dir_ / "best.tflite"));
  auto bad = RunCli("train --arch resnet -o " + (dir_ / "x.tflite").string());
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.output.find("--arch 'resnet'"), std::string::npos) << bad.output;
}

// A random-weight Fashion-MNIST classifier (flat 784 inputs), written where debug reads it.
std::string WriteFlatClassifier(const fs::path& file) {
  GraphBuilder b(9);
  int x = b.Input("image", {1, 784});
  x = b.FullyConnected(x, 16, Activation::kRelu);
  EXPECT_TRUE(WriteTfliteFile(b.Finish({b.FullyConnected(x, 10, Activation::kNone)}), file.string()).ok());
  return file.string();
}

TEST_F(CliTest, DebugHelpAndBadInput) {
  auto help = RunCli("debug --help");
  EXPECT_EQ(help.exit_code, 0);
  EXPECT_NE(help.output.find("usage: qaudit debug"), std::string::npos) << help.output;
  EXPECT_NE(help.output.find("--max-drop"), std::string::npos) << help.output;
  EXPECT_NE(RunCli("--help").output.find("debug MODEL"), std::string::npos);
  const std::string data = WriteSineInputs(dir_ / "x.npy", 20);
  auto missing = RunCli("debug /nonexistent/model.tflite --calibration " + data + " --data " + data);
  EXPECT_EQ(missing.exit_code, 2) << missing.output;
  EXPECT_NE(missing.output.find("/nonexistent/model.tflite"), std::string::npos) << missing.output;
  EXPECT_EQ(std::count(missing.output.begin(), missing.output.end(), '\n'), 1) << missing.output;
  const std::string model = WriteFlatClassifier(dir_ / "mlp.tflite");
  const fs::path out = dir_ / "out.tflite";
  struct Case {
    std::string args;
    std::string expected;
  } cases[] = {
      {"--calibration fmnist:train[0:20]", "usage: qaudit debug"},
      {"--calibration fmnist:train[0:20] --data fmnist:test[0:20] --method dynamic", "--method 'dynamic'"},
      {"--calibration fmnist:train[0:20] --data fmnist:test[0:20] --max-drop lots", "--max-drop 'lots'"},
      {"--calibration fmnist:train[0:20] --data fmnist:test[0:20] --calibrator median", "--calibrator 'median'"},
      {"--calibration " + data + " --data fmnist:test[0:20]", "--calibration"},
      {"--calibration fmnist:train[0:20] --data " + (dir_ / "none.npy").string(), "none.npy"},
  };
  for (const Case& c : cases) {
    auto r = RunCli("debug " + model + " " + c.args + " -o " + out.string());
    EXPECT_EQ(r.exit_code, 2) << c.args << ": " << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.args << ": " << r.output;
    EXPECT_FALSE(fs::exists(out)) << c.args;
  }
  // Selective quantization needs labels; the .npy has none.
  auto x784 = [&] {
    HostTensor h;
    h.shape = {8, 784};
    h.bytes.assign(8 * 784 * 4, 0);
    EXPECT_TRUE(WriteNpy((dir_ / "x784.npy").string(), h).ok());
    return (dir_ / "x784.npy").string();
  }();
  auto unlabelled = RunCli("debug " + model + " --calibration " + x784 + " --data " + x784 + " -o " + out.string());
  EXPECT_EQ(unlabelled.exit_code, 2) << unlabelled.output;
  EXPECT_NE(unlabelled.output.find("needs labels in --data"), std::string::npos) << unlabelled.output;
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(CliTest, DebugComparesLayersAndWritesTheSelectiveModel) {
  QAUDIT_REQUIRE_FASHION_MNIST();
  const std::string model = WriteFlatClassifier(dir_ / "mlp.tflite");
  const std::string out = (dir_ / "selective.tflite").string();
  const std::string common = "debug " + model + " --calibration fmnist:train[0:100] --data fmnist:test[0:300]";
  auto text = RunCli(common);
  ASSERT_EQ(text.exit_code, 0) << text.output;
  EXPECT_NE(text.output.find("FULLY_CONNECTED"), std::string::npos) << text.output;
  EXPECT_NE(text.output.find("layers flagged"), std::string::npos) << text.output;
  EXPECT_EQ(text.output.find("selective quantization"), std::string::npos) << text.output;
  auto json = RunCli(common + " --json --max-drop 100 --max-denied 2 -o " + out);
  ASSERT_EQ(json.exit_code, 0) << json.output;
  auto parsed = ParseJson(json.output);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message() << "\n" << json.output;
  const JsonValue* layers = parsed->Find("layers");
  ASSERT_NE(layers, nullptr);
  ASSERT_EQ(layers->array.size(), 3u);  // the input's QUANTIZE and both FULLY_CONNECTED
  EXPECT_EQ(layers->array[1].Find("op")->string, "FULLY_CONNECTED");
  const JsonValue* selective = parsed->Find("selective");
  ASSERT_NE(selective, nullptr);
  EXPECT_TRUE(selective->Find("reached")->boolean);  // a budget of 100 points is met at once
  EXPECT_EQ(selective->Find("steps")->array.size(), 1u);
  auto written = ReadTfliteFile(out);
  ASSERT_TRUE(written.ok()) << written.status().message();
}

TEST_F(CliTest, AuditPrintsItsPlanAndNamesBadInput) {
  auto plan = RunCli("audit --print-plan");
  ASSERT_EQ(plan.exit_code, 0) << plan.output;
  auto parsed = ParseJson(plan.output);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_NE(parsed->Find("experiments"), nullptr);

  const std::string model = WriteFlatClassifier(dir_ / "mlp.tflite");
  const fs::path out = dir_ / "report";
  const fs::path bad_plan = dir_ / "plan.json";
  {
    std::ofstream f(bad_plan);
    f << R"({"experiments": [{"name": "a", "methods": ["int8/median"], "calibrations": [10]}]})";
  }
  struct Case {
    std::string args;
    std::string expected;
  } cases[] = {
      {"--model " + model + " --out " + out.string(), "usage: qaudit audit"},
      {"--model " + model + " --data fmnist:test[0:50] --out " + out.string() + " --plan " + bad_plan.string(),
       ".experiments[0].methods[0]"},
      {"--model " + model + " --data fmnist:test[0:50] --out " + out.string() + " --jobs 0", "--jobs '0'"},
      {"--model " + (dir_ / "none.tflite").string() + " --data fmnist:test[0:50] --out " + out.string(), "none.tflite"},
  };
  for (const Case& c : cases) {
    auto r = RunCli("audit " + c.args);
    EXPECT_EQ(r.exit_code, 2) << c.args << ": " << r.output;
    EXPECT_NE(r.output.find(c.expected), std::string::npos) << c.args << ": " << r.output;
    EXPECT_FALSE(fs::exists(out)) << c.args;
  }
}

TEST_F(CliTest, AuditWritesTheThreeReports) {
  QAUDIT_REQUIRE_FASHION_MNIST();
  const std::string model = WriteFlatClassifier(dir_ / "mlp.tflite");
  const fs::path plan = dir_ / "plan.json";
  {
    std::ofstream f(plan);
    f << R"({"eval_samples": 200, "calibration_pool": 200, "resamples": 100,
             "experiments": [{"name": "methods", "methods": ["float16", "int8/minmax"], "calibrations": [50],
                              "variants": ["clean", "noise"]}],
             "latency": {"batches": [2], "threads": [1], "repeats": 1, "min_seconds": 0},
             "debug": {"methods": ["int8/minmax"], "calibration": 50}})";
  }
  const fs::path out = dir_ / "report";
  auto r = RunCli("audit --model mlp=" + model + " --data fmnist:test[0:400] --plan " + plan.string() + " --out " +
                  out.string() + " --seed 3");
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("report: " + out.string() + "/report.html"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("Float16 quantization: 2x smaller"), std::string::npos) << r.output;
  for (const char* name : {"report.json", "report.md", "report.html"}) EXPECT_TRUE(fs::exists(out / name)) << name;
  std::ifstream json(out / "report.json");
  std::stringstream text;
  text << json.rdbuf();
  auto parsed = ParseJson(text.str());
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(parsed->Find("plan")->Find("seed")->number, 3);
}

}  // namespace
}  // namespace qaudit
