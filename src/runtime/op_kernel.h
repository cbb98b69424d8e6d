// How an operator joins the executor: Prepare<Op> validates the operator against its
// tensors once and returns the function that evaluates it. Eval functions check nothing;
// everything they rely on was established in Prepare (TFLite Micro's split).
#ifndef QAUDIT_SRC_RUNTIME_OP_KERNEL_H_
#define QAUDIT_SRC_RUNTIME_OP_KERNEL_H_

#include <functional>
#include <string>
#include <vector>

#include "qaudit/executor.h"
#include "qaudit/graph.h"
#include "qaudit/status.h"

namespace qaudit::runtime {

// The data of every tensor during one invocation, by tensor index.
class Workspace {
 public:
  explicit Workspace(std::vector<void*> data) : data_(std::move(data)) {}
  template <typename T>
  T* Mutable(int tensor) const { return static_cast<T*>(data_[tensor]); }
  template <typename T>
  const T* Get(int tensor) const { return static_cast<const T*>(data_[tensor]); }

 private:
  std::vector<void*> data_;
};

using EvalFn = std::function<void(const Workspace&)>;

// Evaluates an operator for a block of samples at once, one Workspace per sample, with the
// same results as its EvalFn on each. Ops whose work per sample is too small to keep the
// machine busy (a FULLY_CONNECTED's one row) offer one; the executor then runs them once
// per block (RunBatch) instead of once per sample.
using BlockEvalFn = std::function<void(const std::vector<const Workspace*>&)>;

struct PrepareContext {
  const Graph& graph;
  const Operator& op;
  int op_index;
  Numerics numerics;
  // Where Prepare may leave a BlockEvalFn; null when the caller takes none.
  BlockEvalFn* block_eval = nullptr;
  // Where Prepare may leave an EvalFn that evaluates this operator and the next one
  // together, writing only the next one's outputs (this one's are left unwritten); null
  // when the caller takes none. The executor runs it in place of both only when nobody
  // observes the tensors in between (a SampleObserver sees every tensor).
  EvalFn* fused_with_next = nullptr;

  size_t num_inputs() const { return op.inputs.size(); }
  bool has_input(size_t i) const { return i < op.inputs.size() && op.inputs[i] != kNoTensor; }
  int input_index(size_t i) const { return op.inputs[i]; }
  int output_index(size_t i) const { return op.outputs[i]; }
  const Tensor& input(size_t i) const { return graph.tensors[op.inputs[i]]; }
  const Tensor& output(size_t i) const { return graph.tensors[op.outputs[i]]; }

  // "operator 3 (CONV_2D): <what>"
  std::string Label() const;
  Status Error(const std::string& what) const;        // InvalidArgument
  Status Unsupported(const std::string& what) const;  // Unsupported
  // Checks the number of inputs (absent optional inputs count) and outputs.
  Status ExpectArity(size_t min_inputs, size_t max_inputs, size_t outputs) const;
  // Checks that input i is present and has one of `dtypes`.
  Status ExpectInputType(size_t i, std::initializer_list<DType> dtypes) const;
  // Checks that input i is a constant (weights, shapes, axes).
  Status ExpectConstant(size_t i) const;
  // Checks that a quantized tensor has a single positive scale (per-tensor parameters).
  Status ExpectPerTensorQuant(const Tensor& t, const char* role) const;
};

#define QAUDIT_OP(kind, tflite_name, code, options) Result<EvalFn> Prepare##kind(const PrepareContext& ctx);
#include "qaudit/ops.def"
#undef QAUDIT_OP

}  // namespace qaudit::runtime

#endif  // QAUDIT_SRC_RUNTIME_OP_KERNEL_H_
