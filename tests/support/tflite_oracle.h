// Client for the TFLite oracle's batch mode (tools/tflite-oracle/serve.js): runs .tflite
// models in TFLite's real interpreter (its WebAssembly build, under Node) so that tests
// can compare qaudit's kernels with TFLite's.
//
// One Node process serves every Run() of a TfliteOracle, so thousands of small models
// cost well under a millisecond each instead of Node start-up plus WASM compilation per
// model. Inputs and outputs travel as .npy files; see tools/tflite-oracle/README.md.
//
//   QAUDIT_ASSIGN_OR_RETURN(auto oracle, TfliteOracle::Start(oracle_dir, node_modules));
//   QAUDIT_ASSIGN_OR_RETURN(OracleReply r, oracle->Run(model, {in0}, out_dir, false));
//   if (r.ok) ... r.outputs[0].file ...
//
// Not thread-safe: requests are answered strictly in order, so one thread per oracle.
#ifndef QAUDIT_TESTS_SUPPORT_TFLITE_ORACLE_H_
#define QAUDIT_TESTS_SUPPORT_TFLITE_ORACLE_H_

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "qaudit/status.h"

namespace qaudit::testing {

// One output tensor as TFLite reported it, already written to `file` (.npy).
struct OracleOutput {
  std::string file;
  std::string dtype;  // numpy-style name: "int8", "float32", ...
  std::vector<int> shape;
};

// What the oracle said about one model run. A model TFLite rejects is a valid answer,
// not a client error: Run() then returns ok=false here rather than a bad Status.
struct OracleReply {
  bool ok = false;
  bool refused = false;  // TFLite refused to load or prepare the model
  bool aborted = false;  // TFLite trapped inside WebAssembly (the oracle recovered)
  std::string error;     // message, followed by TFLite's log lines
  std::vector<OracleOutput> outputs;
  std::map<std::string, int> executed_kernels;  // profiler node type -> count
};

class TfliteOracle {
 public:
  // Starts `node <oracle_dir>/serve.js` (with TFLITE_ORACLE_NODE_MODULES set to
  // `node_modules_dir` when it is non-empty) and checks that it can find TFLite's WASM
  // files. `node_binary` is looked up in PATH unless it contains a slash.
  static Result<std::unique_ptr<TfliteOracle>> Start(const std::string& oracle_dir,
                                                     const std::string& node_modules_dir,
                                                     const std::string& node_binary = "node");

  // Runs `model` on the .npy inputs (bound positionally; dtype and element count must
  // match exactly) and writes out_dir/output_K.npy. With `xnnpack` false only TFLite's
  // builtin kernels run. Paths are resolved by the child, which shares our working
  // directory. Returns an error Status only if the oracle itself failed: it died, broke
  // the protocol or did not answer within reply_timeout().
  Result<OracleReply> Run(const std::string& model, const std::vector<std::string>& input_npys,
                          const std::string& out_dir, bool xnnpack);

  // A hung child must not hang the test; after this long without a reply it is killed.
  void set_reply_timeout(std::chrono::milliseconds timeout) { reply_timeout_ = timeout; }
  std::chrono::milliseconds reply_timeout() const { return reply_timeout_; }

  pid_t pid() const { return pid_; }

  // Closes the child's stdin (serve.js then exits) and reaps it, killing it if it
  // does not exit promptly.
  ~TfliteOracle();

  TfliteOracle(const TfliteOracle&) = delete;
  TfliteOracle& operator=(const TfliteOracle&) = delete;

 private:
  TfliteOracle(pid_t pid, int to_child, int from_child, std::string description);

  // Sends one request line and returns the reply line.
  Result<std::string> Exchange(const std::string& request_line);
  Status WriteAll(const std::string& data);
  Result<std::string> ReadLine();
  // Records that the child is unusable (reaping it) and returns the Status to report.
  Status MarkDead(const std::string& what);
  void KillAndReap();

  pid_t pid_;
  int to_child_;
  int from_child_;
  std::string description_;  // "tflite oracle (node .../serve.js, pid N)" for messages
  std::string read_buffer_;
  int64_t next_id_ = 1;
  bool reaped_ = false;
  Status dead_;  // OK while the child is usable
  std::chrono::milliseconds reply_timeout_ = std::chrono::minutes(5);
};

// The value of environment `variable`, else the build's default for it.
std::string OracleSetting(const char* variable, const char* build_default);

// Starts the oracle the build installed, or the one named by QAUDIT_ORACLE_DIR and
// TFLITE_ORACLE_NODE_MODULES; NotFound when neither says where it is.
Result<std::unique_ptr<TfliteOracle>> StartOracleFromEnvironment();

// One oracle process for the whole test binary, started on first use (Node and the WASM
// compile cost ~0.15 s). Returns nullptr and sets *error when it cannot start.
TfliteOracle* SharedOracle(std::string* error);

}  // namespace qaudit::testing

#endif  // QAUDIT_TESTS_SUPPORT_TFLITE_ORACLE_H_
