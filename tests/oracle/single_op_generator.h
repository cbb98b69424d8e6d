// Seeded random single-operator models for differential testing against TFLite.
//
// Each case is one Graph with one operator: activations as graph inputs, weights, bias,
// paddings, permutations and shapes as constants, random quantization parameters, plus
// the input data to run it on. Case `index` of seed `seed` is a pure function of the two
// (its generator is std::mt19937_64 seeded from both), so any failure reproduces from
// (seed, index) alone, independently of the cases before it.
//
// The generator is a table (SingleOpTable()): one OpEntry per operator (or per operator
// variant), naming the dtypes it supports and a build function. Covering a new operator
// is one more entry. Cases cycle through every (entry, dtype) pair, weighted by
// OpEntry::weight, so each pair gets an even share of any run.
//
// Every model is meant to be valid for TFLite 2.12's interpreter (the oracle): the
// entries encode TFLite's restrictions (bias scale = input scale x weight scale, equal
// input/output quantization where the spec demands it, int16 zero points of 0, fixed
// output scales of LOGISTIC/SOFTMAX/TANH, ...). A model the oracle refuses is a
// generator bug.
#ifndef QAUDIT_TESTS_ORACLE_SINGLE_OP_GENERATOR_H_
#define QAUDIT_TESTS_ORACLE_SINGLE_OP_GENERATOR_H_

#include <cstdint>
#include <cstring>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "qaudit/graph.h"
#include "qaudit/status.h"
#include "qaudit/tensor.h"

namespace qaudit::testing {

// The dtype family of a case. kInt16 is TFLite's "16x8" scheme wherever an op has
// weights: int16 activations with zero point 0, int8 symmetric weights, int64 bias.
enum class CaseType : uint8_t { kFloat32, kInt8, kUInt8, kInt16 };
const char* CaseTypeName(CaseType t);  // "float32", "int8", "uint8", "int16"

using Rng = std::mt19937_64;

// Builds the one-operator graph of a case and records how to fill its inputs.
class ModelBuilder {
 public:
  // A graph input (an activation). Its data is drawn uniformly from [lo, hi] (integers for
  // integer dtypes); by default the dtype's whole range, or [-4, 4] for float32.
  int Input(const std::string& name, DType dtype, const Shape& shape, const QuantParams& quant = {});
  int Input(const std::string& name, DType dtype, const Shape& shape, const QuantParams& quant, double lo, double hi);
  int Constant(const std::string& name, DType dtype, const Shape& shape, const QuantParams& quant,
               std::vector<uint8_t> bytes);
  template <typename T>
  int Constant(const std::string& name, DType dtype, const Shape& shape, const QuantParams& quant,
               const std::vector<T>& values) {
    std::vector<uint8_t> bytes(values.size() * sizeof(T));
    if (!bytes.empty()) std::memcpy(bytes.data(), values.data(), bytes.size());
    return Constant(name, dtype, shape, quant, std::move(bytes));
  }
  int Output(const std::string& name, DType dtype, const Shape& shape, const QuantParams& quant = {});
  void SetOperator(OpKind kind, std::vector<int> inputs, std::vector<int> outputs, OpOptions options,
                   int32_t version = 1);
  // A short tag describing a choice the build function made ("per-channel", "tie-scales").
  void Tag(const std::string& tag) { tags_.push_back(tag); }

  Graph& graph() { return graph_; }
  const std::vector<std::string>& tags() const { return tags_; }

  struct InputFill {
    double lo = 0, hi = 0;
  };
  const std::vector<InputFill>& fills() const { return fills_; }
  // Changes the data range of graph input `k` (in the order the inputs were added).
  void SetInputRange(size_t k, double lo, double hi) { fills_.at(k) = {lo, hi}; }

 private:
  int AddTensor(const std::string& name, DType dtype, const Shape& shape, const QuantParams& quant);
  Graph graph_;
  std::vector<InputFill> fills_;  // one per graph input
  std::vector<std::string> tags_;
};

// One row of the generator table.
struct OpEntry {
  std::string name;  // unique label: "CONV_2D", "DEPTHWISE_CONV_2D", ...
  OpKind kind;
  std::vector<CaseType> types;  // the dtype families TFLite's built-in kernel supports
  int weight = 1;               // relative share of cases per dtype
  std::function<void(Rng&, CaseType, ModelBuilder&)> build;
};

// The table, in a fixed order.
const std::vector<OpEntry>& SingleOpTable();

struct SingleOpCase {
  uint64_t seed = 0;
  int64_t index = 0;
  std::string entry;  // OpEntry::name
  OpKind kind = OpKind::kAdd;
  CaseType type = CaseType::kFloat32;
  std::vector<std::string> tags;
  Graph graph;
  std::vector<HostTensor> inputs;  // one per graph input

  // Several lines: seed/index, op, tags, options, then every tensor with its role, dtype,
  // shape and quantization parameters (constants with their values when small).
  std::string Describe() const;
};

// Case `index` of `seed`. `only`, when not empty, restricts the cycle to the table entries
// with these names (an unknown name is an InvalidArgument error).
Result<SingleOpCase> GenerateSingleOpCase(uint64_t seed, int64_t index, const std::vector<std::string>& only = {});

// The number of (entry, dtype) slots one cycle of GenerateSingleOpCase goes through.
Result<int64_t> SingleOpCycleLength(const std::vector<std::string>& only = {});

}  // namespace qaudit::testing

#endif  // QAUDIT_TESTS_ORACLE_SINGLE_OP_GENERATOR_H_
