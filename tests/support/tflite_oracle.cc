#include "tests/support/tflite_oracle.h"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cmath>
#include <cstring>
#include <string_view>
#include <thread>
#include <utility>

#include "core/json.h"

extern char** environ;

namespace qaudit::testing {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

// How long serve.js may take to exit after its stdin closes before it is killed. It
// exits as soon as it sees EOF, as no request can be in flight by then.
constexpr milliseconds kExitGrace{5000};

std::string ErrnoText(int err) { return std::strerror(err); }

// ---------------------------------------------------------------------------------------
// Reply decoding: every field is type-checked, because a reply that is not what the
// protocol says means the child and this client disagree and nothing after it is safe.

Result<bool> GetBool(const JsonValue& obj, const std::string& key, bool required) {
  const JsonValue* v = obj.Find(key);
  if (v == nullptr) {
    if (required) return Status::Internal("reply has no \"" + key + "\"");
    return false;
  }
  if (v->kind != JsonValue::Kind::kBool) {
    return Status::Internal("reply field \"" + key + "\" is not a boolean");
  }
  return v->boolean;
}

Result<int> ToInt(const JsonValue& v, std::string_view what) {
  if (v.kind != JsonValue::Kind::kNumber || v.number != std::floor(v.number) || v.number < INT_MIN ||
      v.number > INT_MAX) {
    return Status::Internal("reply: " + std::string(what) + " is not an integer");
  }
  return static_cast<int>(v.number);
}

Result<std::string> GetString(const JsonValue& obj, const std::string& key, std::string_view what) {
  const JsonValue* v = obj.Find(key);
  if (v == nullptr || v->kind != JsonValue::Kind::kString) {
    return Status::Internal("reply: " + std::string(what) + " has no string \"" + key + "\"");
  }
  return v->string;
}

Result<OracleOutput> DecodeOutput(const JsonValue& v, size_t k) {
  const std::string what = "outputs[" + std::to_string(k) + "]";
  if (v.kind != JsonValue::Kind::kObject) return Status::Internal("reply: " + what + " is not an object");
  OracleOutput output;
  QAUDIT_ASSIGN_OR_RETURN(output.file, GetString(v, "file", what));
  QAUDIT_ASSIGN_OR_RETURN(output.dtype, GetString(v, "dtype", what));
  const JsonValue* shape = v.Find("shape");
  if (shape == nullptr || shape->kind != JsonValue::Kind::kArray) {
    return Status::Internal("reply: " + what + " has no array \"shape\"");
  }
  for (const JsonValue& dim : shape->array) {
    QAUDIT_ASSIGN_OR_RETURN(int d, ToInt(dim, what + ".shape"));
    output.shape.push_back(d);
  }
  return output;
}

Result<OracleReply> DecodeReply(const JsonValue& v, int64_t expected_id) {
  if (v.kind != JsonValue::Kind::kObject) return Status::Internal("reply is not a JSON object");
  const JsonValue* id = v.Find("id");
  if (id == nullptr || id->kind != JsonValue::Kind::kNumber || id->number != static_cast<double>(expected_id)) {
    return Status::Internal("reply does not answer request id " + std::to_string(expected_id));
  }
  OracleReply reply;
  QAUDIT_ASSIGN_OR_RETURN(reply.ok, GetBool(v, "ok", /*required=*/true));
  QAUDIT_ASSIGN_OR_RETURN(reply.refused, GetBool(v, "refused", /*required=*/false));
  QAUDIT_ASSIGN_OR_RETURN(reply.aborted, GetBool(v, "aborted", /*required=*/false));
  if (!reply.ok) {
    QAUDIT_ASSIGN_OR_RETURN(reply.error, GetString(v, "error", "a failure reply"));
    return reply;
  }
  const JsonValue* outputs = v.Find("outputs");
  if (outputs != nullptr) {
    if (outputs->kind != JsonValue::Kind::kArray) return Status::Internal("reply: \"outputs\" is not an array");
    for (size_t k = 0; k < outputs->array.size(); ++k) {
      QAUDIT_ASSIGN_OR_RETURN(OracleOutput output, DecodeOutput(outputs->array[k], k));
      reply.outputs.push_back(std::move(output));
    }
  }
  const JsonValue* kernels = v.Find("executedKernels");
  if (kernels != nullptr) {
    if (kernels->kind != JsonValue::Kind::kObject) {
      return Status::Internal("reply: \"executedKernels\" is not an object");
    }
    for (const auto& [name, value] : kernels->object) {
      QAUDIT_ASSIGN_OR_RETURN(int count, ToInt(value, "executedKernels." + name));
      reply.executed_kernels[name] = count;
    }
  }
  return reply;
}

// Parses and decodes a reply line; the context names the line for the error message.
Result<OracleReply> ParseReply(const std::string& line, int64_t expected_id) {
  auto context = [&line] {
    constexpr size_t kShown = 300;
    return "reply line '" + line.substr(0, kShown) + (line.size() > kShown ? "...'" : "'");
  };
  Result<JsonValue> json = ParseJson(line);
  // A reply that is not JSON is a protocol break like any other, whatever ParseJson calls it.
  if (!json.ok()) return Status::Internal(context() + ": " + json.status().message());
  Result<OracleReply> reply = DecodeReply(*json, expected_id);
  if (!reply.ok()) return reply.status().WithContext(context());
  return reply;
}

// ---------------------------------------------------------------------------------------
// Process plumbing.

// A write to a pipe whose reader died raises SIGPIPE, which would kill the whole test
// binary. Blocking it around the write turns it into EPIPE; the signal left pending is
// then consumed so that unblocking does not deliver it after all. Changing the process
// disposition instead would meddle with the host program.
class ScopedSigpipeBlock {
 public:
  ScopedSigpipeBlock() {
    sigemptyset(&pipe_set_);
    sigaddset(&pipe_set_, SIGPIPE);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
    pthread_sigmask(SIG_BLOCK, &pipe_set_, &old_mask_);
  }
  ~ScopedSigpipeBlock() {
    if (!was_pending_) {
      const timespec no_wait = {0, 0};
      sigtimedwait(&pipe_set_, nullptr, &no_wait);
    }
    pthread_sigmask(SIG_SETMASK, &old_mask_, nullptr);
  }
  ScopedSigpipeBlock(const ScopedSigpipeBlock&) = delete;
  ScopedSigpipeBlock& operator=(const ScopedSigpipeBlock&) = delete;

 private:
  sigset_t pipe_set_;
  sigset_t old_mask_;
  bool was_pending_ = false;
};

std::string DescribeWaitStatus(int status) {
  if (WIFEXITED(status)) return "exited with status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) {
    const int sig = WTERMSIG(status);
    return "was killed by signal " + std::to_string(sig) + " (" + strsignal(sig) + ")";
  }
  return "ended with wait status " + std::to_string(status);
}

// Waits up to `grace` for `pid` to exit, then kills it. Returns how it ended.
std::string ReapChild(pid_t pid, milliseconds grace) {
  const Clock::time_point deadline = Clock::now() + grace;
  int status = 0;
  while (true) {
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) return DescribeWaitStatus(status);
    if (r < 0 && errno != EINTR) return "exit status unknown (waitpid: " + ErrnoText(errno) + ")";
    if (Clock::now() >= deadline) break;
    std::this_thread::sleep_for(milliseconds(5));
  }
  kill(pid, SIGKILL);
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return "did not exit; killed (waitpid: " + ErrnoText(errno) + ")";
  }
  return "did not exit within " + std::to_string(grace.count()) + " ms; " + DescribeWaitStatus(status);
}

void CloseFd(int& fd) {
  if (fd >= 0) close(fd);
  fd = -1;
}

}  // namespace

TfliteOracle::TfliteOracle(pid_t pid, int to_child, int from_child, std::string description)
    : pid_(pid), to_child_(to_child), from_child_(from_child), description_(std::move(description)) {}

Result<std::unique_ptr<TfliteOracle>> TfliteOracle::Start(const std::string& oracle_dir,
                                                           const std::string& node_modules_dir,
                                                           const std::string& node_binary) {
  const std::string script = oracle_dir + "/serve.js";
  struct stat st;
  if (stat(script.c_str(), &st) != 0) {
    return Status::NotFound("TFLite oracle script " + script + ": " + ErrnoText(errno));
  }

  // O_CLOEXEC: the child gets only its dup2'ed copies, and children spawned later by
  // anyone else in this process do not hold our pipe ends open (which would hide EOF).
  int to_child[2];
  int from_child[2];
  if (pipe2(to_child, O_CLOEXEC) != 0) return Status::IOError("pipe2: " + ErrnoText(errno));
  if (pipe2(from_child, O_CLOEXEC) != 0) {
    const int err = errno;
    close(to_child[0]);
    close(to_child[1]);
    return Status::IOError("pipe2: " + ErrnoText(err));
  }

  const std::string kNodeModulesVar = "TFLITE_ORACLE_NODE_MODULES=";
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    if (!node_modules_dir.empty() && std::string_view(*e).starts_with(kNodeModulesVar)) continue;
    env.emplace_back(*e);
  }
  if (!node_modules_dir.empty()) env.push_back(kNodeModulesVar + node_modules_dir);
  std::vector<char*> envp;
  for (std::string& var : env) envp.push_back(var.data());
  envp.push_back(nullptr);
  std::string arg0 = node_binary;
  std::string arg1 = script;
  char* argv[] = {arg0.data(), arg1.data(), nullptr};

  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, to_child[0], STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&actions, from_child[1], STDOUT_FILENO);
  // The child inherits the calling thread's signal mask; give it a clean one.
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  sigset_t no_signals;
  sigemptyset(&no_signals);
  posix_spawnattr_setsigmask(&attr, &no_signals);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK);
  pid_t pid = -1;
  const int rc = posix_spawnp(&pid, node_binary.c_str(), &actions, &attr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attr);
  close(to_child[0]);
  close(from_child[1]);
  if (rc != 0) {
    close(to_child[1]);
    close(from_child[0]);
    return Status::NotFound("cannot start '" + node_binary + "' for the TFLite oracle: " + ErrnoText(rc));
  }

  std::unique_ptr<TfliteOracle> oracle(new TfliteOracle(
      pid, to_child[1], from_child[0],
      "tflite oracle (" + node_binary + " " + script + ", pid " + std::to_string(pid) + ")"));
  // A round trip that needs no model proves the child runs and can find TFLite's WASM
  // files, so a broken setup fails here with its own message rather than in every Run.
  Result<std::string> line = oracle->Exchange("{\"id\":0,\"cmd\":\"ping\"}");
  if (!line.ok()) return line.status();
  Result<OracleReply> ping = ParseReply(*line, 0);
  if (!ping.ok()) return ping.status().WithContext(oracle->description_);
  if (!ping->ok) return Status::NotFound(oracle->description_ + ": " + ping->error);
  return oracle;
}

Result<OracleReply> TfliteOracle::Run(const std::string& model, const std::vector<std::string>& input_npys,
                                      const std::string& out_dir, bool xnnpack) {
  const int64_t id = next_id_++;
  std::string request = "{\"id\":" + std::to_string(id) + ",\"model\":" + JsonString(model);
  request += ",\"inputs\":[";
  for (size_t i = 0; i < input_npys.size(); ++i) {
    if (i > 0) request.push_back(',');
    request += JsonString(input_npys[i]);
  }
  request += "],\"out\":" + JsonString(out_dir);
  request += xnnpack ? ",\"xnnpack\":true}" : ",\"xnnpack\":false}";

  QAUDIT_ASSIGN_OR_RETURN(std::string line, Exchange(request));
  Result<OracleReply> reply = ParseReply(line, id);
  if (!reply.ok()) {
    // Replies can no longer be matched to requests, so stop rather than mislead.
    KillAndReap();
    dead_ = reply.status().WithContext(description_ + " broke the protocol and was stopped");
    return dead_;
  }
  return reply;
}

Result<std::string> TfliteOracle::Exchange(const std::string& request_line) {
  if (!dead_.ok()) return dead_;
  QAUDIT_RETURN_IF_ERROR(WriteAll(request_line + "\n"));
  return ReadLine();
}

Status TfliteOracle::WriteAll(const std::string& data) {
  ScopedSigpipeBlock no_sigpipe;
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = write(to_child_, data.data() + done, data.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return MarkDead("stopped reading requests (write: " + ErrnoText(errno) + ")");
    }
    done += static_cast<size_t>(n);
  }
  return Status::Ok();
}

Result<std::string> TfliteOracle::ReadLine() {
  const Clock::time_point deadline = Clock::now() + reply_timeout_;
  while (true) {
    const size_t newline = read_buffer_.find('\n');
    if (newline != std::string::npos) {
      std::string line = read_buffer_.substr(0, newline);
      read_buffer_.erase(0, newline + 1);
      return line;
    }
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      KillAndReap();
      return MarkDead("sent no reply within " + std::to_string(reply_timeout_.count()) + " ms and was killed");
    }
    pollfd pfd = {from_child_, POLLIN, 0};
    const int ready = poll(&pfd, 1, static_cast<int>(std::min<int64_t>(left, INT_MAX)));
    if (ready < 0) {
      if (errno == EINTR) continue;
      return MarkDead("could not be polled (" + ErrnoText(errno) + ")");
    }
    if (ready == 0) continue;  // the deadline check above decides
    char buffer[4096];
    const ssize_t n = read(from_child_, buffer, sizeof(buffer));
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) continue;
      return MarkDead("could not be read (" + ErrnoText(errno) + ")");
    }
    if (n == 0) return MarkDead("closed its output before replying");
    read_buffer_.append(buffer, static_cast<size_t>(n));
  }
}

Status TfliteOracle::MarkDead(const std::string& what) {
  std::string how;
  if (!reaped_) {
    // Closing its stdin lets a child that merely lost track of us exit on its own.
    CloseFd(to_child_);
    how = "; it " + ReapChild(pid_, kExitGrace);
    reaped_ = true;
  }
  dead_ = Status::Internal(description_ + " " + what + how);
  return dead_;
}

void TfliteOracle::KillAndReap() {
  if (reaped_) return;
  kill(pid_, SIGKILL);
  ReapChild(pid_, kExitGrace);
  reaped_ = true;
}

TfliteOracle::~TfliteOracle() {
  CloseFd(to_child_);  // EOF: serve.js finishes and exits
  if (!reaped_) ReapChild(pid_, kExitGrace);
  CloseFd(from_child_);
}

std::string OracleSetting(const char* variable, const char* build_default) {
  const char* value = std::getenv(variable);
  return value != nullptr && *value != '\0' ? value : build_default;
}

Result<std::unique_ptr<TfliteOracle>> StartOracleFromEnvironment() {
  const std::string dir = OracleSetting("QAUDIT_ORACLE_DIR", QAUDIT_ORACLE_DIR_DEFAULT);
  if (dir.empty()) {
    return Status::NotFound("the oracle is not configured (build with QAUDIT_ORACLE_TESTS=ON or set QAUDIT_ORACLE_DIR)");
  }
  return TfliteOracle::Start(dir, OracleSetting("TFLITE_ORACLE_NODE_MODULES", QAUDIT_ORACLE_NODE_MODULES_DEFAULT));
}

TfliteOracle* SharedOracle(std::string* error) {
  static Result<std::unique_ptr<TfliteOracle>> oracle = StartOracleFromEnvironment();
  if (!oracle.ok()) {
    *error = oracle.status().message();
    return nullptr;
  }
  return oracle->get();
}

}  // namespace qaudit::testing
