// qaudit: audit TensorFlow Lite quantization on your model and data.
#include <cstring>
#include <string>

#include "cli/cli.h"
#include "qaudit/hardware.h"

namespace qaudit::cli {

int Fail(const char* command, const Status& status) {
  std::fprintf(stderr, "qaudit %s: error: %s\n", command, status.message().c_str());
  switch (status.code()) {
    case StatusCode::kInvalidArgument:
    case StatusCode::kUnsupported:
    case StatusCode::kNotFound: return kExitBadInput;
    default: return kExitInternal;
  }
}

Args::Args(int argc, char** argv, int first) {
  for (int i = first; i < argc; ++i) {
    std::string a = argv[i];
    const size_t eq = a.find('=');
    if (a.rfind("--", 0) == 0 && eq != std::string::npos) {
      args_.push_back(a.substr(0, eq));
      args_.push_back(a.substr(eq + 1));
    } else {
      args_.push_back(a);
    }
  }
  used_.assign(args_.size(), false);
}

bool Args::Flag(const std::string& name) {
  bool found = false;
  for (size_t i = 0; i < args_.size(); ++i) {
    if (!used_[i] && args_[i] == name) used_[i] = found = true;
  }
  return found;
}

std::vector<std::string> Args::Values(const std::string& name) {
  std::vector<std::string> values;
  for (size_t i = 0; i + 1 < args_.size(); ++i) {
    if (!used_[i] && args_[i] == name) {
      used_[i] = used_[i + 1] = true;
      values.push_back(args_[i + 1]);
    }
  }
  return values;
}

std::string Args::Value(const std::string& name, const std::string& fallback) {
  auto v = Values(name);
  return v.empty() ? fallback : v.back();
}

Result<std::vector<std::string>> Args::Positionals() const {
  std::vector<std::string> out;
  for (size_t i = 0; i < args_.size(); ++i) {
    if (used_[i]) continue;
    if (args_[i].rfind("--", 0) == 0) {
      return Status::InvalidArgument("unknown option " + args_[i] + " (or it needs a value); see --help");
    }
    out.push_back(args_[i]);
  }
  return out;
}

}  // namespace qaudit::cli

namespace {

constexpr const char* kUsage = R"HELP(qaudit: audit TensorFlow Lite quantization on your model and data

usage: qaudit <command> [options]

commands:
  audit --model M ...  audit every quantization method on your model and data against
                       TFLite's documented claims; writes report.json/.md/.html
  inspect MODEL        list a .tflite model's operators and tensors (dtypes, shapes,
                       quantization, bytes) and any problems found in it
  run MODEL ...        run a model on data (.npy/.npz, images, image folders, IDX,
                       fmnist) with TFLite-exact integer numerics and write every
                       output as .npy
  quantize MODEL ...   quantize a float model: dynamic range, full integer int8 with a
                       choice of calibrators, float16 or 16x8; writes a .tflite
  dequantize MODEL ... make a float model from a quantized one
  compare A B ...      compare two models' outputs on the same data (argmax agreement,
                       errors, SQNR, accuracy with labels)
  train --arch NAME    train a zoo model (cnn, mobilenet, mlp) on Fashion-MNIST; writes
                       a float .tflite
  qat MODEL ...        quantization-aware training, exported as an int8 .tflite
  search MODEL ...     search calibrators and clipping ranges on held-out data
  debug MODEL ...      compare a quantized model with its float original layer by layer
                       (errors, saturation, range drift); keep the worst layers in float
                       until the accuracy drop fits a budget
  repair MODEL OUT     write a copy of MODEL with the problems that `inspect` reports
                       as repairable fixed (e.g. stray quantized_dimension on biases)

Run `qaudit <command> --help` for a command's options; `qaudit --version` prints the
version and the instruction sets the fast kernels use on this CPU.

exit codes: 0 success, 2 bad input (unreadable or invalid model or data, unsupported
operator), 1 internal error.
)HELP";

}  // namespace

int main(int argc, char** argv) {
  using namespace qaudit::cli;
  if (argc < 2 || !std::strcmp(argv[1], "--help") || !std::strcmp(argv[1], "-h") || !std::strcmp(argv[1], "help")) {
    std::fputs(kUsage, argc < 2 ? stderr : stdout);
    return argc < 2 ? kExitBadInput : kExitOk;
  }
  const std::string command = argv[1];
  if (command == "--version") {
    std::printf("qaudit %s\nfast kernels: %s\n", QAUDIT_VERSION, qaudit::FastKernelInstructions().c_str());
    return kExitOk;
  }
  if (command == "audit") return Audit(argc, argv);
  if (command == "inspect") return Inspect(argc, argv);
  if (command == "run") return Run(argc, argv);
  if (command == "repair") return Repair(argc, argv);
  if (command == "quantize") return Quantize(argc, argv);
  if (command == "dequantize") return Dequantize(argc, argv);
  if (command == "compare") return Compare(argc, argv);
  if (command == "train") return Train(argc, argv);
  if (command == "qat") return Qat(argc, argv);
  if (command == "search") return Search(argc, argv);
  if (command == "debug") return Debug(argc, argv);
  std::fprintf(stderr, "qaudit: unknown command '%s'\n\n%s", command.c_str(), kUsage);
  return kExitBadInput;
}
