// qaudit repair: write a copy of a model with its repairable problems fixed.
#include <cstdio>

#include "cli/cli.h"
#include "qaudit/tflite.h"

namespace qaudit::cli {
namespace {

constexpr const char* kHelp = R"HELP(usage: qaudit repair MODEL.tflite OUT.tflite

Writes OUT.tflite: MODEL with the problems `qaudit inspect` reports as warnings fixed
where the fix is unambiguous. Today that is a 1-D per-axis quantized tensor (a bias)
whose quantized_dimension points past its only axis, which TFLite refuses ("quantized_
dimension must be in range [0, 1)"); it is set to 0. Everything else is kept. OUT is
written through a temporary file, so it is never left half-written.
)HELP";

}  // namespace

int Repair(int argc, char** argv) {
  Args args(argc, argv, 2);
  if (args.Flag("--help") || args.Flag("-h")) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  auto positionals = args.Positionals();
  if (!positionals.ok()) return Fail("repair", positionals.status());
  if (positionals->size() != 2) {
    std::fputs(kHelp, stderr);
    return kExitBadInput;
  }
  auto graph = ReadTfliteFile((*positionals)[0]);
  if (!graph.ok()) return Fail("repair", graph.status());
  for (const std::string& w : GraphWarnings(*graph)) std::printf("fixing: %s\n", w.c_str());
  const int changed = RepairGraph(*graph);
  Status s = WriteTfliteFile(*graph, (*positionals)[1]);
  if (!s.ok()) return Fail("repair", s);
  std::printf("wrote %s (%d tensor(s) changed)\n", (*positionals)[1].c_str(), changed);
  return kExitOk;
}

}  // namespace qaudit::cli
