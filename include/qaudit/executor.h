// Running a Graph: float models in fp32, quantized models with integer arithmetic that is
// bit-exact with the runtime named by the Numerics mode.
#ifndef QAUDIT_EXECUTOR_H_
#define QAUDIT_EXECUTOR_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "qaudit/graph.h"
#include "qaudit/status.h"

namespace qaudit {

// Whose integer arithmetic to reproduce. Float ops are fp32 in every mode.
enum class Numerics {
  // TFLite's reference integer kernels (reference_ops / reference_integer_ops), which
  // requantize with double rounding (SaturatingRoundingDoublingHighMul, then
  // RoundingDivideByPOT).
  kReference,
  // TFLite's interpreter with its built-in kernels and no delegate. Where an op's
  // optimized kernel rounds differently from the reference (fully-connected requantizes
  // once, through ruy), this mode does what the interpreter does.
  kTflite,
  // TFLite's interpreter with its default XNNPACK delegate: fp32 requantization with
  // round-half-to-even for the ops XNNPACK takes, the built-in kernels for the rest.
  kXnnpack,
};
const char* NumericsName(Numerics n);
std::optional<Numerics> NumericsFromName(const std::string& name);

struct ExecutorOptions {
  Numerics numerics = Numerics::kTflite;
  int num_threads = 2;  // RunBatch splits samples over this many threads
};

// Called with (samples done, samples total) while RunBatch works.
using ProgressFn = std::function<void(int64_t, int64_t)>;

// Sees every tensor of every sample: called after sample `sample` has run, on the thread
// that ran it, with `worker` in [0, ExecutorOptions::num_threads) naming that thread (so
// observers can keep per-thread state without locks). tensors[t] points at tensor t's
// data (activations of this sample, or constants).
using SampleObserver =
    std::function<void(int worker, int64_t sample, const std::vector<const void*>& tensors)>;

class Executor {
 public:
  // Validates every operator (types, shapes, quantization parameters) and precomputes
  // multipliers; a model that passes Create runs without further checks.
  static Result<std::unique_ptr<Executor>> Create(Graph graph, const ExecutorOptions& options = {});
  ~Executor();

  const Graph& graph() const;

  // One invocation: `inputs` match the graph inputs in order, dtype and shape.
  Result<std::vector<HostTensor>> Run(const std::vector<HostTensor>& inputs) const;

  // Many invocations: each input holds N samples stacked along a new leading axis
  // ([N, ...graph input shape]) or, when the graph input's first dimension is 1, along
  // that axis ([N, rest...]). Outputs whose first dimension is 1 come back as [N, rest...],
  // others as [N, ...shape]. Results do not depend on the number of threads.
  Result<std::vector<HostTensor>> RunBatch(const std::vector<HostTensor>& inputs, const ProgressFn& progress = {},
                                           const SampleObserver& observer = {}) const;

  // Where one invocation's time goes: runs `inputs` (as for Run) `runs` times on the
  // calling thread and times each operator, or each pair of operators that runs fused.
  struct OperatorTime {
    int op = 0;          // index in graph().operators
    int fused_ops = 1;   // 2: op ran fused with op + 1, whose time this includes
    int64_t macs = 0;    // MultiplyAccumulates of the operators timed
    double median_us = 0;
  };
  Result<std::vector<OperatorTime>> ProfileOperators(const std::vector<HostTensor>& inputs, int runs) const;
  // The times as a table for people: index, operator (A+B when fused), output shape, MACs,
  // microseconds, G MAC/s and share of the total, one line each, then the total.
  static std::string OperatorTimesTable(const Graph& graph, const std::vector<OperatorTime>& times);

 private:
  struct Impl;
  explicit Executor(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace qaudit

#endif  // QAUDIT_EXECUTOR_H_
