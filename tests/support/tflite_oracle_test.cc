// Runs the TFLite oracle client against the real serve.js. Needs Node, the oracle's
// node_modules and the shared fixtures; skips (with the reason) when they are missing:
//   QAUDIT_ORACLE_DIR=<repo>/tools/tflite-oracle
//   TFLITE_ORACLE_NODE_MODULES=<dir holding @tensorflow/tfjs-tflite>  (or <oracle dir>/node_modules)
//   QAUDIT_FIXTURES=<fixtures dir>  (default tests/fixtures, as CMake passes it)
#include "tests/support/tflite_oracle.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

namespace qaudit::testing {
namespace {

namespace fs = std::filesystem;

// A [1, 1] int8 array in NPY format 1.0, written byte by byte so that this test does not
// depend on the project's NPY code, which the oracle is meant to check.
void WriteInt8Scalar11Npy(const fs::path& path, int8_t value) {
  std::string header = "{'descr': '|i1', 'fortran_order': False, 'shape': (1, 1), }";
  // Magic (6) + version (2) + header length (2) + header + '\n' is padded to 64 bytes.
  header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
  header.push_back('\n');
  std::string bytes = "\x93NUMPY";
  bytes.push_back('\x01');  // major version
  bytes.push_back('\x00');  // minor version
  bytes.push_back(static_cast<char>(header.size() & 0xFF));  // little-endian uint16
  bytes.push_back(static_cast<char>(header.size() >> 8));
  bytes += header;
  bytes.push_back(static_cast<char>(value));
  std::ofstream(path, std::ios::binary) << bytes;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

class TfliteOracleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const std::string oracle_dir = OracleSetting("QAUDIT_ORACLE_DIR", QAUDIT_ORACLE_DIR_DEFAULT);
    ASSERT_FALSE(oracle_dir.empty()) << "QAUDIT_ORACLE_DIR is not set (point it at tools/tflite-oracle)";
    node_modules_ = OracleSetting("TFLITE_ORACLE_NODE_MODULES", QAUDIT_ORACLE_NODE_MODULES_DEFAULT);
    ASSERT_TRUE(!node_modules_.empty() || fs::exists(fs::path(oracle_dir) / "node_modules"))
        << "TFLITE_ORACLE_NODE_MODULES is not set and " << oracle_dir
        << "/node_modules does not exist (run `npm ci --omit=peer` there)";
    const std::string fixtures = OracleSetting("QAUDIT_FIXTURES", QAUDIT_FIXTURES_DIR);
    hello_world_ = fixtures + "/tflite-micro/hello_world_int8.tflite";
    person_detect_ = fixtures + "/tflite-micro/person_detect.tflite";
    ASSERT_TRUE(fs::exists(hello_world_) && fs::exists(person_detect_))
        << "fixtures not found under " << fixtures << " (tests/fixtures, or set QAUDIT_FIXTURES)";

    std::string pattern = (fs::temp_directory_path() / "tflite_oracle_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    tmp_ = pattern;
    input_ = (tmp_ / "x.npy").string();
    WriteInt8Scalar11Npy(input_, 5);

    Result<std::unique_ptr<TfliteOracle>> oracle = TfliteOracle::Start(oracle_dir, node_modules_);
    ASSERT_TRUE(oracle.ok()) << oracle.status().message();
    oracle_ = std::move(oracle).value();
    oracle_->set_reply_timeout(std::chrono::seconds(60));
  }

  void TearDown() override {
    oracle_.reset();
    if (!tmp_.empty()) fs::remove_all(tmp_);
  }

  std::string node_modules_;
  std::string hello_world_;
  std::string person_detect_;
  fs::path tmp_;
  std::string input_;
  std::unique_ptr<TfliteOracle> oracle_;
};

TEST_F(TfliteOracleTest, RunsHelloWorldWithAndWithoutXnnpack) {
  std::string output_bytes[2];
  for (const bool xnnpack : {true, false}) {
    SCOPED_TRACE(xnnpack ? "xnnpack" : "builtin kernels");
    const std::string out_dir = (tmp_ / (xnnpack ? "xnnpack" : "builtin")).string();
    Result<OracleReply> reply = oracle_->Run(hello_world_, {input_}, out_dir, xnnpack);
    ASSERT_TRUE(reply.ok()) << reply.status().message();
    ASSERT_TRUE(reply->ok) << reply->error;
    EXPECT_FALSE(reply->refused);
    ASSERT_EQ(reply->outputs.size(), 1u);
    EXPECT_EQ(reply->outputs[0].file, out_dir + "/output_0.npy");
    EXPECT_EQ(reply->outputs[0].dtype, "int8");
    EXPECT_EQ(reply->outputs[0].shape, (std::vector<int>{1, 1}));
    output_bytes[xnnpack ? 0 : 1] = ReadFile(reply->outputs[0].file);
    if (xnnpack) {
      EXPECT_EQ(reply->executed_kernels.count("TfLiteXNNPackDelegate"), 1u);
    } else {
      EXPECT_EQ(reply->executed_kernels, (std::map<std::string, int>{{"FULLY_CONNECTED", 3}}));
    }
  }
  // One input, no .5 ties to round differently: both paths give the same int8.
  EXPECT_FALSE(output_bytes[0].empty());
  EXPECT_EQ(output_bytes[0], output_bytes[1]);
}

TEST_F(TfliteOracleTest, ReportsModelTfliteRefuses) {
  for (const bool xnnpack : {true, false}) {
    Result<OracleReply> reply = oracle_->Run(person_detect_, {}, (tmp_ / "person").string(), xnnpack);
    ASSERT_TRUE(reply.ok()) << reply.status().message();
    EXPECT_FALSE(reply->ok);
    EXPECT_TRUE(reply->refused);
    EXPECT_NE(reply->error.find("quantized_dimension must be in range"), std::string::npos) << reply->error;
  }
}

TEST_F(TfliteOracleTest, MissingModelIsAnAnswerAndTheOracleCarriesOn) {
  Result<OracleReply> reply = oracle_->Run((tmp_ / "no such \"model\".tflite").string(), {input_},
                                           tmp_.string(), true);
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_FALSE(reply->ok);
  EXPECT_FALSE(reply->refused);
  EXPECT_NE(reply->error.find("no such \"model\".tflite"), std::string::npos) << reply->error;

  reply = oracle_->Run(hello_world_, {input_}, (tmp_ / "after").string(), true);
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_TRUE(reply->ok) << reply->error;
}

TEST_F(TfliteOracleTest, DeadChildIsAnErrorNamingItNotAHang) {
  ASSERT_EQ(kill(oracle_->pid(), SIGKILL), 0);
  Result<OracleReply> reply = oracle_->Run(hello_world_, {input_}, tmp_.string(), true);
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.status().message().find("tflite oracle"), std::string::npos) << reply.status().message();
  EXPECT_NE(reply.status().message().find("signal 9"), std::string::npos) << reply.status().message();
  // Later calls fail fast with the same explanation.
  Result<OracleReply> again = oracle_->Run(hello_world_, {input_}, tmp_.string(), true);
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().message(), reply.status().message());
}

// Stand-ins for serve.js that misbehave after answering the start-up ping, to check
// that the client neither hangs nor trusts a stream it can no longer follow.
class MisbehavingOracleTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_FALSE(OracleSetting("QAUDIT_ORACLE_DIR", QAUDIT_ORACLE_DIR_DEFAULT).empty())
        << "QAUDIT_ORACLE_DIR is not set (Node is needed)";
    std::string pattern = (fs::temp_directory_path() / "tflite_oracle_fake_XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    tmp_ = pattern;
  }
  void TearDown() override {
    if (!tmp_.empty()) fs::remove_all(tmp_);
  }
  // Starts a fake whose reply to every non-ping request is `reply_js` (a JS expression
  // of the request `r`; undefined means no reply).
  Result<std::unique_ptr<TfliteOracle>> StartFake(const std::string& reply_js) {
    std::ofstream(tmp_ / "serve.js")
        << "require('readline').createInterface({ input: process.stdin }).on('line', line => {\n"
        << "  const r = JSON.parse(line);\n"
        << "  const reply = r.cmd === 'ping' ? JSON.stringify({ id: r.id, ok: true }) : (" << reply_js << ");\n"
        << "  if (reply !== undefined) process.stdout.write(reply + '\\n');\n"
        << "});\n";
    return TfliteOracle::Start(tmp_.string(), "");
  }
  fs::path tmp_;
};

TEST_F(MisbehavingOracleTest, SilentChildTimesOutAndIsKilled) {
  Result<std::unique_ptr<TfliteOracle>> oracle = StartFake("undefined");
  ASSERT_TRUE(oracle.ok()) << oracle.status().message();
  (*oracle)->set_reply_timeout(std::chrono::milliseconds(300));
  Result<OracleReply> reply = (*oracle)->Run("m.tflite", {}, tmp_.string(), true);
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.status().message().find("no reply within 300 ms"), std::string::npos)
      << reply.status().message();
}

TEST_F(MisbehavingOracleTest, GarbageOnStdoutStopsTheOracle) {
  Result<std::unique_ptr<TfliteOracle>> oracle =
      StartFake("'debug output\\n' + JSON.stringify({ id: r.id, ok: true })");
  ASSERT_TRUE(oracle.ok()) << oracle.status().message();
  Result<OracleReply> reply = (*oracle)->Run("m.tflite", {}, tmp_.string(), true);
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.status().message().find("broke the protocol"), std::string::npos) << reply.status().message();
  EXPECT_NE(reply.status().message().find("'debug output'"), std::string::npos) << reply.status().message();
}

TEST_F(MisbehavingOracleTest, WrongReplyIdIsAProtocolError) {
  Result<std::unique_ptr<TfliteOracle>> oracle = StartFake("JSON.stringify({ id: r.id + 1, ok: true })");
  ASSERT_TRUE(oracle.ok()) << oracle.status().message();
  Result<OracleReply> reply = (*oracle)->Run("m.tflite", {}, tmp_.string(), true);
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.status().message().find("does not answer request id 1"), std::string::npos)
      << reply.status().message();
}

TEST_F(MisbehavingOracleTest, DecodesEscapesInReplies) {
  Result<std::unique_ptr<TfliteOracle>> oracle = StartFake(
      "JSON.stringify({ id: r.id, ok: false, refused: true, error: 'a \"q\" \\\\ \\n\\u00e9\\u{1F600}\\t\\u0001' })");
  ASSERT_TRUE(oracle.ok()) << oracle.status().message();
  Result<OracleReply> reply = (*oracle)->Run("m.tflite", {}, tmp_.string(), true);
  ASSERT_TRUE(reply.ok()) << reply.status().message();
  EXPECT_FALSE(reply->ok);
  EXPECT_TRUE(reply->refused);
  EXPECT_EQ(reply->error, "a \"q\" \\ \n\xC3\xA9\xF0\x9F\x98\x80\t\x01");
}

TEST(TfliteOracleStartTest, MissingScriptIsNotFound) {
  Result<std::unique_ptr<TfliteOracle>> oracle = TfliteOracle::Start("/nonexistent/tflite-oracle", "");
  ASSERT_FALSE(oracle.ok());
  EXPECT_EQ(oracle.status().code(), StatusCode::kNotFound);
  EXPECT_NE(oracle.status().message().find("serve.js"), std::string::npos);
}

}  // namespace
}  // namespace qaudit::testing
