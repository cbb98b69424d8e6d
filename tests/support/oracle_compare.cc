#include "support/oracle_compare.h"

#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "qaudit/data.h"
#include "qaudit/tflite.h"

namespace qaudit::testing {
namespace {

namespace fs = std::filesystem;

// The operator producing graph output k, for messages.
std::string Producer(const Graph& graph, int tensor) {
  for (size_t op = 0; op < graph.operators.size(); ++op) {
    const auto& outs = graph.operators[op].outputs;
    if (std::find(outs.begin(), outs.end(), tensor) != outs.end()) {
      return "operator " + std::to_string(op) + " (" + OpName(graph.operators[op].kind) + ")";
    }
  }
  return "graph input";
}

}  // namespace

Graph ExposeAllLayers(Graph g) {
  std::vector<int> outputs;
  for (const Operator& op : g.operators) {
    // Operators of constants only (float16 weights' DEQUANTIZE) are folded away by XNNPACK,
    // which then never writes their outputs.
    const bool constant_only = std::all_of(op.inputs.begin(), op.inputs.end(),
                                           [&](int t) { return t == kNoTensor || g.tensors[t].is_constant; });
    if (!constant_only) outputs.insert(outputs.end(), op.outputs.begin(), op.outputs.end());
  }
  for (int t : g.outputs) {
    if (std::find(outputs.begin(), outputs.end(), t) == outputs.end()) outputs.push_back(t);
  }
  g.outputs = outputs;
  g.signatures.clear();  // they list the original outputs only
  return g;
}

OracleComparison CompareWithOracle(TfliteOracle& oracle, const Graph& graph,
                                   const std::vector<std::vector<HostTensor>>& cases, Numerics numerics,
                                   float float_tolerance) {
  static std::atomic<int> counter{0};
  const fs::path dir = fs::temp_directory_path() /
                       ("qaudit_oracle_compare_" + std::to_string(getpid()) + "_" + std::to_string(counter++));
  fs::create_directories(dir);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() { fs::remove_all(dir); }
  } cleanup{dir};
  auto fail = [](std::string message) { return OracleComparison{false, std::move(message)}; };

  auto executor = Executor::Create(graph, {numerics, 1});
  if (!executor.ok()) return fail("qaudit refuses the model: " + executor.status().message());
  const std::string model_file = (dir / "model.tflite").string();
  if (Status s = WriteTfliteFile(graph, model_file); !s.ok()) return fail("writing the model: " + s.message());

  for (size_t c = 0; c < cases.size(); ++c) {
    const std::string label = "input case " + std::to_string(c) + ": ";
    std::vector<std::string> input_files;
    for (size_t k = 0; k < cases[c].size(); ++k) {
      input_files.push_back((dir / ("in" + std::to_string(k) + ".npy")).string());
      if (Status s = WriteNpy(input_files.back(), cases[c][k]); !s.ok()) return fail(label + s.message());
    }
    auto reply = oracle.Run(model_file, input_files, (dir / "out").string(), numerics == Numerics::kXnnpack);
    if (!reply.ok()) return fail(label + "oracle failed: " + reply.status().message());
    if (!reply->ok) return fail(label + "TFLite did not run the model: " + reply->error);
    auto ours = (*executor)->Run(cases[c]);
    if (!ours.ok()) return fail(label + "qaudit failed: " + ours.status().message());
    if (ours->size() != reply->outputs.size()) return fail(label + "output counts differ");
    for (size_t k = 0; k < ours->size(); ++k) {
      auto theirs = ReadNpy(reply->outputs[k].file);
      if (!theirs.ok()) return fail(label + theirs.status().message());
      const HostTensor& mine = (*ours)[k];
      const Tensor& t = graph.tensors[graph.outputs[k]];
      if (mine.bytes.size() != theirs->bytes.size()) return fail(label + "output '" + t.name + "' sizes differ");
      const size_t size = DTypeSize(t.dtype);
      int64_t mismatches = 0, first = -1;
      for (int64_t i = 0; i < mine.num_elements(); ++i) {
        bool same;
        if (t.dtype == DType::kFloat32) {
          const float a = mine.data<float>()[i], b = theirs->data<float>()[i];
          same = float_tolerance == 0 ? std::memcmp(&a, &b, 4) == 0
                                      : std::abs(a - b) <= float_tolerance * std::max(1.0f, std::abs(b));
        } else {
          same = std::memcmp(&mine.bytes[i * size], &theirs->bytes[i * size], size) == 0;
        }
        if (!same && first < 0) first = i;
        mismatches += !same;
      }
      // Outputs are in operator order, so the first one reported is the layer to look at.
      if (mismatches > 0) {
        return fail(label + Producer(graph, graph.outputs[k]) + " tensor '" + t.name + "': " +
                    std::to_string(mismatches) + " of " + std::to_string(mine.num_elements()) +
                    " elements differ; first at " + std::to_string(first));
      }
    }
  }
  return OracleComparison{true, ""};
}

}  // namespace qaudit::testing
