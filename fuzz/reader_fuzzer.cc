// libFuzzer target for everything a .tflite file reaches before and while it runs.
//
// For any input bytes:
//   1. ReadTflite returns a Graph or an error Status (InvalidArgument or Unsupported, with a
//      message); it never crashes, trips a sanitizer, leaks, hangs or allocates far more
//      than the input's size (run.sh sets -malloc_limit_mb).
// For any Graph the reader accepts, these properties hold (a violation is __builtin_trap):
//   2. VerifyGraph accepts it (the reader promises to return only verified graphs).
//   3. GraphWarnings and RepairGraph work on it; the repaired graph still verifies and a
//      second repair changes nothing.
//   4. WriteTflite accepts it, ReadTflite reads the bytes back, and the result is equal to
//      the original (floats compared by value, with NaN equal to NaN); writing the re-read
//      graph gives the same bytes. The same holds for the repaired graph.
//   5. Executor::Create in every Numerics mode returns an executor or an error Status
//      (InvalidArgument or Unsupported); never kInternal.
//   6. When Create succeeds and the model is small (activations under 4 MiB, and the work
//      its shapes call for under a bound), one Run on input bytes taken from the fuzz
//      input succeeds: Eval relies on nothing that Prepare did not establish.
//
// The custom mutator below also mutates at the level of the Graph (shapes, dtypes,
// quantization, options, operator wiring, constant values) and writes the result back with
// WriteTflite, so the fuzzer reaches the executor's checks with well-formed files far more
// often than byte flips alone would. Half of the mutations stay plain libFuzzer ones, which
// exercise the FlatBuffers verifier and the reader's own checks.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "qaudit/executor.h"
#include "qaudit/graph.h"
#include "qaudit/tflite.h"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

using namespace qaudit;

// Run is attempted only below these bounds (they keep one execution well under the
// fuzzer's -timeout, under ASan). The work bound counts what the shapes ask for
// (output elements x taps x input channels and so on), not what the kernels happen to
// loop over: a kernel that spins far longer than its data calls for is a finding.
constexpr int64_t kMaxRunActivationBytes = int64_t{4} << 20;
constexpr double kMaxRunWork = 5e6;

[[noreturn]] void Violated(const std::string& what) {
  std::fprintf(stderr, "\n*** qaudit reader_fuzzer: property violated: %s\n", what.c_str());
  std::fflush(stderr);
  __builtin_trap();
}

// ---------------------------------------------------------------- graph equality

bool SameFloat(float a, float b) { return a == b || (std::isnan(a) && std::isnan(b)); }
bool SameFloats(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!SameFloat(a[i], b[i])) return false;
  }
  return true;
}

bool SameOptions(const OpOptions& a, const OpOptions& b) {
  if (a.index() != b.index()) return false;
  if (const auto* x = std::get_if<SoftmaxOptions>(&a)) return SameFloat(x->beta, std::get<SoftmaxOptions>(b).beta);
  if (const auto* x = std::get_if<LeakyReluOptions>(&a)) {
    return SameFloat(x->alpha, std::get<LeakyReluOptions>(b).alpha);
  }
  return a == b;
}

// Returns "" when equal, else the first difference found.
std::string GraphDifference(const Graph& a, const Graph& b) {
  if (a.tensors.size() != b.tensors.size()) return "tensor count";
  for (size_t i = 0; i < a.tensors.size(); ++i) {
    const Tensor& x = a.tensors[i];
    const Tensor& y = b.tensors[i];
    const std::string t = "tensor " + std::to_string(i) + " ";
    if (x.name != y.name) return t + "name";
    if (x.dtype != y.dtype) return t + "dtype";
    if (x.shape != y.shape) return t + "shape";
    if (x.shape_signature != y.shape_signature) return t + "shape_signature";
    if (!SameFloats(x.quant.scale, y.quant.scale)) return t + "quant.scale";
    if (x.quant.zero_point != y.quant.zero_point) return t + "quant.zero_point";
    if (x.quant.quantized_dimension != y.quant.quantized_dimension) {
      return t + "quant.quantized_dimension (" + std::to_string(x.quant.quantized_dimension) + " became " +
             std::to_string(y.quant.quantized_dimension) + ")";
    }
    if (!SameFloats(x.quant.min, y.quant.min)) return t + "quant.min";
    if (!SameFloats(x.quant.max, y.quant.max)) return t + "quant.max";
    if (x.is_constant != y.is_constant) return t + "is_constant";
    if (x.is_variable != y.is_variable) return t + "is_variable";
    if (x.data != y.data) return t + "data";
  }
  if (a.operators.size() != b.operators.size()) return "operator count";
  for (size_t i = 0; i < a.operators.size(); ++i) {
    const Operator& x = a.operators[i];
    const Operator& y = b.operators[i];
    const std::string o = "operator " + std::to_string(i) + " ";
    if (x.kind != y.kind) return o + "kind";
    if (x.inputs != y.inputs) return o + "inputs";
    if (x.outputs != y.outputs) return o + "outputs";
    if (x.version != y.version) return o + "version";
    if (!SameOptions(x.options, y.options)) return o + "options";
  }
  if (a.inputs != b.inputs) return "graph inputs";
  if (a.outputs != b.outputs) return "graph outputs";
  if (a.name != b.name) return "name";
  if (a.description != b.description) return "description";
  if (a.schema_version != b.schema_version) return "schema_version";
  if (a.metadata != b.metadata) return "metadata";
  if (a.signatures != b.signatures) return "signatures";
  return "";
}

void ExpectUserError(const Status& s, const char* where) {
  if (s.ok()) Violated(std::string(where) + " failed with an OK status");
  if (s.code() != StatusCode::kInvalidArgument && s.code() != StatusCode::kUnsupported) {
    Violated(std::string(where) + " failed with status code " + std::to_string(static_cast<int>(s.code())) + ": " +
             s.message());
  }
  if (s.message().empty()) Violated(std::string(where) + " failed without a message");
}

// Write, read back, compare; returns the written bytes.
std::vector<uint8_t> CheckRoundTrip(const Graph& g, const char* which) {
  auto bytes = WriteTflite(g);
  if (!bytes.ok()) Violated(std::string("WriteTflite refused the ") + which + " graph: " + bytes.status().message());
  auto again = ReadTflite(bytes->data(), bytes->size(), "rewritten");
  if (!again.ok()) {
    Violated(std::string("ReadTflite refused what WriteTflite wrote for the ") + which +
             " graph: " + again.status().message());
  }
  const std::string diff = GraphDifference(g, *again);
  if (!diff.empty()) Violated(std::string("the ") + which + " graph changed in a write/read round trip: " + diff);
  auto bytes2 = WriteTflite(*again);
  if (!bytes2.ok() || *bytes2 != *bytes) {
    Violated(std::string("writing the re-read ") + which + " graph gave different bytes");
  }
  return std::move(bytes).value();
}

// ---------------------------------------------------------------- bounded run

int64_t Elements(const Graph& g, int t) { return t >= 0 ? g.tensors[t].num_elements() : 0; }
int32_t Dim(const Graph& g, int t, size_t d) {
  const Shape& s = g.tensors[t].shape;
  return d < s.size() ? s[d] : 1;
}

// What the operator's shapes call for, in multiply-adds (or element moves).
double OperatorWork(const Graph& g, const Operator& op) {
  double out = 0;
  for (int t : op.outputs) out += static_cast<double>(Elements(g, t));
  double in = 0;
  for (int t : op.inputs) in += t >= 0 ? static_cast<double>(Elements(g, t)) : 0.0;
  const int x = op.inputs.empty() ? -1 : op.inputs[0];
  const int w = op.inputs.size() > 1 ? op.inputs[1] : -1;
  switch (op.kind) {
    case OpKind::kConv2D:
      if (x < 0 || w < 0) break;
      return out * Dim(g, w, 1) * Dim(g, w, 2) * Dim(g, w, 3) + in;
    case OpKind::kDepthwiseConv2D:
      if (x < 0 || w < 0) break;
      return out * Dim(g, w, 1) * Dim(g, w, 2) + in;
    case OpKind::kFullyConnected:
      if (w < 0) break;
      return out * Dim(g, w, 1) + in;
    case OpKind::kAveragePool2D:
    case OpKind::kMaxPool2D: {
      if (x < 0) break;
      const auto& o = op.opts<PoolOptions>();
      return out * std::min<double>(o.filter_h, Dim(g, x, 1)) * std::min<double>(o.filter_w, Dim(g, x, 2)) + in;
    }
    default: break;
  }
  return out + in;
}

void MaybeRun(const Executor& executor, const Graph& g, const uint8_t* data, size_t size) {
  int64_t activation_bytes = 0;
  for (const Tensor& t : g.tensors) {
    if (!t.is_constant) activation_bytes += (t.num_elements() * static_cast<int64_t>(DTypeSize(t.dtype)) + 63) / 64 * 64;
  }
  if (activation_bytes > kMaxRunActivationBytes) return;
  double work = 0;
  for (const Operator& op : g.operators) work += OperatorWork(g, op);
  if (work > kMaxRunWork) return;

  std::vector<HostTensor> inputs;
  size_t cursor = 0;
  for (int t : g.inputs) {
    HostTensor in;
    in.dtype = g.tensors[t].dtype;
    in.shape = g.tensors[t].shape;
    in.bytes.resize(static_cast<size_t>(g.tensors[t].num_elements()) * DTypeSize(in.dtype));
    for (uint8_t& b : in.bytes) b = data[cursor++ % size];  // the fuzzer's bytes, cycled
    if (in.dtype == DType::kBool) {
      for (uint8_t& b : in.bytes) b &= 1;
    }
    inputs.push_back(std::move(in));
  }
  auto outputs = executor.Run(inputs);
  if (!outputs.ok()) Violated("Run refused inputs made to the graph's own shapes: " + outputs.status().message());
  if (outputs->size() != g.outputs.size()) Violated("Run returned the wrong number of outputs");
  for (size_t k = 0; k < outputs->size(); ++k) {
    const Tensor& t = g.tensors[g.outputs[k]];
    const HostTensor& o = (*outputs)[k];
    if (o.dtype != t.dtype || o.shape != t.shape ||
        o.bytes.size() != static_cast<size_t>(t.num_elements()) * DTypeSize(t.dtype)) {
      Violated("Run output " + std::to_string(k) + " does not match the graph output's dtype and shape");
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto read = ReadTflite(data, size, "fuzz.tflite");
  if (!read.ok()) {
    ExpectUserError(read.status(), "ReadTflite");
    return 0;
  }
  const Graph& g = *read;

  if (Status s = VerifyGraph(g); !s.ok()) Violated("ReadTflite returned a graph VerifyGraph refuses: " + s.message());

  const std::vector<std::string> warnings = GraphWarnings(g);
  Graph repaired = g;
  const int changed = RepairGraph(repaired);
  if (changed < 0 || static_cast<size_t>(changed) > g.tensors.size()) Violated("RepairGraph's count is off");
  if (Status s = VerifyGraph(repaired); !s.ok()) Violated("RepairGraph broke the graph: " + s.message());
  if (RepairGraph(repaired) != 0) Violated("a second RepairGraph changed the graph again");
  if (GraphWarnings(repaired).size() > warnings.size()) Violated("RepairGraph added warnings");

  CheckRoundTrip(g, "read");
  if (changed > 0) CheckRoundTrip(repaired, "repaired");

  for (Numerics numerics : {Numerics::kReference, Numerics::kTflite, Numerics::kXnnpack}) {
    ExecutorOptions options;
    options.numerics = numerics;
    options.num_threads = 1;
    auto executor = Executor::Create(g, options);
    if (!executor.ok()) {
      ExpectUserError(executor.status(), "Executor::Create");
      continue;  // another mode may accept what this one refuses
    }
    MaybeRun(**executor, g, data, size);
  }
  return 0;
}

// ---------------------------------------------------------------- graph-level mutator

namespace {

template <typename T>
T Pick(std::mt19937& rng, std::initializer_list<T> values) {
  return *(values.begin() + std::uniform_int_distribution<size_t>(0, values.size() - 1)(rng));
}

int32_t InterestingInt(std::mt19937& rng) {
  switch (rng() % 3) {
    case 0: return Pick<int32_t>(rng, {0, 1, 2, 3, 4, 7, 8, 16, 255, 256, 4096, 65535, 65536});
    case 1: return Pick<int32_t>(rng, {-1, -2, -128, 127, 32767, -32768, 1 << 20, 1 << 24, 1 << 30,
                                       INT32_MAX, INT32_MAX - 1, INT32_MIN, INT32_MIN + 1});
    default: return static_cast<int32_t>(rng() % 64);
  }
}

float InterestingFloat(std::mt19937& rng) {
  switch (rng() % 2) {
    case 0: return Pick<float>(rng, {0.0f, -0.0f, 1.0f, -1.0f, 0.5f, 1.0f / 128, 1.0f / 256, 1e-3f, 1e-6f, 1e-12f,
                                     1e-30f, 1e-38f, 1e-45f, 1e6f, 1e12f, 1e30f, 3.4e38f, -3.4e38f,
                                     std::numeric_limits<float>::infinity(),
                                     std::numeric_limits<float>::quiet_NaN()});
    default: return std::ldexp(static_cast<float>(rng() % 1000) / 1000.0f + 0.001f, static_cast<int>(rng() % 80) - 40);
  }
}

int64_t InterestingZeroPoint(std::mt19937& rng) {
  return Pick<int64_t>(rng, {0, 1, -1, -128, 127, 128, 255, -32768, 32767, 256});
}

// Keeps a constant's bytes consistent with its shape and dtype, or makes it an activation
// when that would take too many bytes.
void FitData(Tensor& t, std::mt19937& rng) {
  if (!t.is_constant) return;
  const int64_t n = t.num_elements();
  const int64_t bytes = n < 0 ? -1 : n * static_cast<int64_t>(DTypeSize(t.dtype));
  if (bytes <= 0 || bytes > (64 << 10)) {
    t.is_constant = false;
    t.data.clear();
    return;
  }
  const size_t old = t.data.size();
  t.data.resize(static_cast<size_t>(bytes));
  for (size_t i = old; i < t.data.size(); ++i) t.data[i] = static_cast<uint8_t>(rng());
}

void MutateTensor(Tensor& t, std::mt19937& rng) {
  switch (rng() % 10) {
    case 0:
    case 1:
      if (!t.shape.empty()) {
        t.shape[rng() % t.shape.size()] = InterestingInt(rng);
      } else {
        t.shape.push_back(InterestingInt(rng));
      }
      break;
    case 2:
      if (rng() % 2 && !t.shape.empty()) {
        t.shape.erase(t.shape.begin() + static_cast<long>(rng() % t.shape.size()));
      } else {
        t.shape.insert(t.shape.begin() + static_cast<long>(rng() % (t.shape.size() + 1)), Pick<int32_t>(rng, {0, 1, 2, 3}));
      }
      break;
    case 3:
      t.dtype = Pick(rng, {DType::kFloat32, DType::kFloat16, DType::kInt32, DType::kUInt8, DType::kInt64,
                           DType::kInt16, DType::kInt8, DType::kBool});
      break;
    case 4:
      if (t.quant.scale.empty()) {
        t.quant.scale = {InterestingFloat(rng)};
        t.quant.zero_point = {InterestingZeroPoint(rng)};
      } else {
        t.quant.scale[rng() % t.quant.scale.size()] = InterestingFloat(rng);
      }
      break;
    case 5:
      if (!t.quant.zero_point.empty()) {
        t.quant.zero_point[rng() % t.quant.zero_point.size()] = InterestingZeroPoint(rng);
      }
      break;
    case 6: {  // per-axis along a random dimension
      if (t.shape.empty()) break;
      const int axis = static_cast<int>(rng() % t.shape.size());
      const int32_t n = t.shape[axis];
      if (n < 1 || n > 4096) break;
      t.quant.quantized_dimension = rng() % 4 ? axis : InterestingInt(rng);
      t.quant.scale.assign(n, InterestingFloat(rng));
      t.quant.zero_point.assign(n, 0);
      break;
    }
    case 7:
      if (rng() % 2) {
        t.quant = {};
      } else {
        t.quant.quantized_dimension = InterestingInt(rng);
      }
      break;
    case 8:  // constant values at the extremes
      if (t.is_constant && !t.data.empty()) {
        const size_t elem = DTypeSize(t.dtype);
        const size_t i = (rng() % (t.data.size() / elem)) * elem;
        const uint8_t fill = Pick<uint8_t>(rng, {0x00, 0xFF, 0x7F, 0x80});
        for (size_t k = 0; k < elem; ++k) t.data[i + k] = fill;
        if (rng() % 2) t.data[i + elem - 1] ^= 0x80;
      }
      break;
    default:
      if (rng() % 4 == 0) t.is_variable = !t.is_variable;
      if (rng() % 4 == 0 && !t.is_constant) {
        t.is_constant = true;
      }
      break;
  }
  FitData(t, rng);
}

void MutateOptions(Operator& op, std::mt19937& rng) {
  const int32_t v = InterestingInt(rng);
  const auto act = static_cast<Activation>(rng() % 6);
  const int field = static_cast<int>(rng() % 8);
  std::visit(
      [&](auto& o) {
        using O = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<O, ConvOptions>) {
          int32_t* f[] = {&o.stride_w, &o.stride_h, &o.dilation_w, &o.dilation_h, &o.depth_multiplier};
          if (field < 5) *f[field] = v;
          else if (field == 5) o.padding = o.padding == Padding::kSame ? Padding::kValid : Padding::kSame;
          else o.activation = act;
        } else if constexpr (std::is_same_v<O, PoolOptions>) {
          int32_t* f[] = {&o.stride_w, &o.stride_h, &o.filter_w, &o.filter_h};
          if (field < 4) *f[field] = v;
          else if (field < 6) o.padding = o.padding == Padding::kSame ? Padding::kValid : Padding::kSame;
          else o.activation = act;
        } else if constexpr (std::is_same_v<O, FullyConnectedOptions>) {
          if (field < 4) o.activation = act;
          else if (field < 6) o.keep_num_dims = !o.keep_num_dims;
          else o.asymmetric_quantize_inputs = !o.asymmetric_quantize_inputs;
        } else if constexpr (std::is_same_v<O, ElementwiseOptions>) {
          if (field < 5) o.activation = act;
          else o.pot_scale_int16 = !o.pot_scale_int16;
        } else if constexpr (std::is_same_v<O, ConcatenationOptions>) {
          if (field < 6) o.axis = rng() % 2 ? v : static_cast<int32_t>(rng() % 9) - 4;
          else o.activation = act;
        } else if constexpr (std::is_same_v<O, SoftmaxOptions>) {
          o.beta = InterestingFloat(rng);
        } else if constexpr (std::is_same_v<O, ReducerOptions>) {
          o.keep_dims = !o.keep_dims;
        } else if constexpr (std::is_same_v<O, ReshapeOptions>) {
          o.has_new_shape = true;
          if (o.new_shape.empty() || field < 2) o.new_shape.push_back(v);
          else o.new_shape[rng() % o.new_shape.size()] = v;
        } else if constexpr (std::is_same_v<O, LeakyReluOptions>) {
          o.alpha = InterestingFloat(rng);
        }
      },
      op.options);
}

void MutateGraph(Graph& g, std::mt19937& rng) {
  const int num_tensors = static_cast<int>(g.tensors.size());
  switch (rng() % 8) {
    case 0:
    case 1:
    case 2:
      if (num_tensors > 0) MutateTensor(g.tensors[rng() % num_tensors], rng);
      break;
    case 3:
    case 4:
      if (!g.operators.empty()) MutateOptions(g.operators[rng() % g.operators.size()], rng);
      break;
    case 5:  // rewire an input
      if (!g.operators.empty() && num_tensors > 0) {
        Operator& op = g.operators[rng() % g.operators.size()];
        const int t = rng() % 8 == 0 ? kNoTensor : static_cast<int>(rng() % num_tensors);
        if (op.inputs.empty() || rng() % 4 == 0) {
          op.inputs.push_back(t);
        } else if (rng() % 6 == 0) {
          op.inputs.pop_back();
        } else {
          op.inputs[rng() % op.inputs.size()] = t;
        }
      }
      break;
    case 6: {  // another kind of operator on the same tensors
      if (g.operators.empty()) break;
      Operator& op = g.operators[rng() % g.operators.size()];
      static const OpKind kinds[] = {
#define QAUDIT_OP(kind, tflite_name, code, options) OpKind::k##kind,
#include "qaudit/ops.def"
#undef QAUDIT_OP
      };
      const OpKind kind = kinds[rng() % kNumOpKinds];
      if (DefaultOptions(kind).index() != op.options.index()) op.options = DefaultOptions(kind);
      op.kind = kind;
      break;
    }
    default:  // copy one tensor's shape, dtype and quantization to another
      if (num_tensors > 1) {
        Tensor& to = g.tensors[rng() % num_tensors];
        const Tensor& from = g.tensors[rng() % num_tensors];
        if (rng() % 2) to.shape = from.shape;
        if (rng() % 2) to.dtype = from.dtype;
        if (rng() % 2) to.quant = from.quant;
        FitData(to, rng);
      }
      break;
  }
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned int seed) {
  std::mt19937 rng(seed);
  if (rng() % 2 == 0) {
    auto read = ReadTflite(data, size, "mutate");
    if (read.ok()) {
      Graph& g = *read;
      const int rounds = 1 + static_cast<int>(rng() % 3);
      for (int i = 0; i < rounds; ++i) MutateGraph(g, rng);
      auto bytes = WriteTflite(g);  // refuses graphs VerifyGraph refuses
      if (bytes.ok() && bytes->size() <= max_size) {
        std::memcpy(data, bytes->data(), bytes->size());
        return bytes->size();
      }
    }
  }
  return LLVMFuzzerMutate(data, size, max_size);
}
