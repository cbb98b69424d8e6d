// Shared plumbing of the qaudit subcommands: argument parsing and Status -> exit code.
#ifndef QAUDIT_SRC_CLI_CLI_H_
#define QAUDIT_SRC_CLI_CLI_H_

#include <cstdio>
#include <string>
#include <vector>

#include "qaudit/status.h"

namespace qaudit::cli {

inline constexpr int kExitOk = 0;
inline constexpr int kExitInternal = 1;
inline constexpr int kExitBadInput = 2;

// Prints "qaudit <command>: error: <message>" and returns the exit code for `status`:
// 2 when the input was at fault (bad file, unsupported op, missing tensor), else 1.
int Fail(const char* command, const Status& status);

// Minimal flag reader: `--name value`, `--name=value`, boolean `--name`, positionals.
class Args {
 public:
  Args(int argc, char** argv, int first);
  bool Flag(const std::string& name);                    // consumes a boolean flag
  std::vector<std::string> Values(const std::string& name);  // consumes every --name value
  std::string Value(const std::string& name, const std::string& fallback = "");
  // Whatever was not consumed and does not start with "--"; an unknown "--x" is an error.
  Result<std::vector<std::string>> Positionals() const;

 private:
  std::vector<std::string> args_;
  std::vector<bool> used_;
};

int Audit(int argc, char** argv);
int Inspect(int argc, char** argv);
int Run(int argc, char** argv);
int Repair(int argc, char** argv);
int Quantize(int argc, char** argv);
int Dequantize(int argc, char** argv);
int Compare(int argc, char** argv);
int Train(int argc, char** argv);
int Qat(int argc, char** argv);
int Search(int argc, char** argv);
int Debug(int argc, char** argv);

}  // namespace qaudit::cli

#endif  // QAUDIT_SRC_CLI_CLI_H_
