// qaudit dequantize: a float model from a quantized one.
#include <cstdio>

#include "cli/cli.h"
#include "qaudit/quantize.h"
#include "qaudit/tflite.h"

namespace qaudit::cli {
namespace {

constexpr const char* kHelp = R"HELP(usage: qaudit dequantize QUANTIZED.tflite -o FLOAT.tflite

Writes a float model that computes what QUANTIZED computes with real-valued weights:
every quantized constant becomes float32 ((q - zero_point) x scale, per channel where the
model has per-channel scales; float16 weights become float32), every activation becomes
float32, and QUANTIZE / DEQUANTIZE operators disappear. Quantized inputs and outputs
become float inputs and outputs holding the real values (for a uint8 MobileNet with
scale 1/128 and zero point 128, inputs in [-1, 1]).

Use it to re-quantize a converter-made model with qaudit's methods and calibrators and
compare the result with the converter's own (`qaudit compare`). The float model's
weights carry the original quantization error, so it is not the model before conversion.
The output is written through a temporary file, never half-written.
)HELP";

}  // namespace

int Dequantize(int argc, char** argv) {
  constexpr const char* kCommand = "dequantize";
  Args args(argc, argv, 2);
  if (args.Flag("--help") || args.Flag("-h")) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  std::string output = args.Value("--output");
  if (output.empty()) output = args.Value("-o");
  auto positionals = args.Positionals();
  if (!positionals.ok()) return Fail(kCommand, positionals.status());
  if (positionals->size() != 1 || output.empty()) {
    std::fputs("usage: qaudit dequantize QUANTIZED.tflite -o FLOAT.tflite (--help for more)\n", stderr);
    return kExitBadInput;
  }
  auto graph = ReadTfliteFile((*positionals)[0]);
  if (!graph.ok()) return Fail(kCommand, graph.status());
  auto float_graph = qaudit::Dequantize(*graph);
  if (!float_graph.ok()) return Fail(kCommand, float_graph.status());
  if (Status s = WriteTfliteFile(*float_graph, output); !s.ok()) return Fail(kCommand, s);
  std::printf("wrote %s: %zu operators, all float32\n", output.c_str(), float_graph->operators.size());
  return kExitOk;
}

}  // namespace qaudit::cli
