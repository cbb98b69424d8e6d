// The graph IR: what a .tflite model means, independent of the file format.
//
// Start here. A Graph is a list of tensors (activations and constants) and a list of
// operators in execution order, each naming its input and output tensors by index. The
// .tflite reader produces a Graph that has passed VerifyGraph(); the executor, the
// quantizers and the writer take Graphs.
#ifndef QAUDIT_GRAPH_H_
#define QAUDIT_GRAPH_H_

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "qaudit/status.h"
#include "qaudit/tensor.h"

namespace qaudit {

// Fused activations, with the .tflite numbering.
enum class Activation : uint8_t { kNone = 0, kRelu = 1, kReluN1To1 = 2, kRelu6 = 3, kTanh = 4, kSignBit = 5 };
const char* ActivationName(Activation a);

enum class Padding : uint8_t { kSame = 0, kValid = 1 };

struct NoOptions {
  bool operator==(const NoOptions&) const = default;
};
// CONV_2D and DEPTHWISE_CONV_2D (depth_multiplier only for the latter).
struct ConvOptions {
  Padding padding = Padding::kValid;
  int32_t stride_w = 1, stride_h = 1;
  int32_t dilation_w = 1, dilation_h = 1;
  int32_t depth_multiplier = 1;
  Activation activation = Activation::kNone;
  bool operator==(const ConvOptions&) const = default;
};
struct PoolOptions {
  Padding padding = Padding::kValid;
  int32_t stride_w = 1, stride_h = 1;
  int32_t filter_w = 1, filter_h = 1;
  Activation activation = Activation::kNone;
  bool operator==(const PoolOptions&) const = default;
};
struct FullyConnectedOptions {
  Activation activation = Activation::kNone;
  bool keep_num_dims = false;
  bool asymmetric_quantize_inputs = false;
  bool operator==(const FullyConnectedOptions&) const = default;
};
// ADD, SUB, MUL. pot_scale_int16 is meaningful for int16 ADD/SUB only.
struct ElementwiseOptions {
  Activation activation = Activation::kNone;
  bool pot_scale_int16 = true;
  bool operator==(const ElementwiseOptions&) const = default;
};
struct ConcatenationOptions {
  int32_t axis = 0;
  Activation activation = Activation::kNone;
  bool operator==(const ConcatenationOptions&) const = default;
};
struct SoftmaxOptions {
  float beta = 1.0f;
  bool operator==(const SoftmaxOptions&) const = default;
};
struct ReducerOptions {
  bool keep_dims = false;
  bool operator==(const ReducerOptions&) const = default;
};
struct ReshapeOptions {
  std::vector<int32_t> new_shape;  // optional; the shape input, when present, wins
  bool has_new_shape = false;
  bool operator==(const ReshapeOptions&) const = default;
};
struct LeakyReluOptions {
  float alpha = 0.2f;
  bool operator==(const LeakyReluOptions&) const = default;
};

enum class OpKind : uint8_t {
#define QAUDIT_OP(kind, tflite_name, code, options) k##kind,
#include "qaudit/ops.def"
#undef QAUDIT_OP
};

inline constexpr int kNumOpKinds = 0
#define QAUDIT_OP(kind, tflite_name, code, options) +1
#include "qaudit/ops.def"
#undef QAUDIT_OP
    ;

using OpOptions = std::variant<NoOptions, ConvOptions, PoolOptions, FullyConnectedOptions,
                               ElementwiseOptions, ConcatenationOptions, SoftmaxOptions,
                               ReducerOptions, ReshapeOptions, LeakyReluOptions>;

const char* OpName(OpKind kind);          // the .tflite name, e.g. "CONV_2D"
int32_t OpTfliteCode(OpKind kind);        // BuiltinOperator number
// The options an op of this kind carries, default-initialised.
OpOptions DefaultOptions(OpKind kind);

// An operator input of -1 means "absent" (an optional input such as a missing bias).
inline constexpr int kNoTensor = -1;

struct Operator {
  OpKind kind;
  std::vector<int> inputs;
  std::vector<int> outputs;
  OpOptions options;
  int32_t version = 1;  // the operator code version recorded in the file

  template <typename T>
  const T& opts() const { return std::get<T>(options); }
  bool operator==(const Operator&) const = default;
};

struct Tensor {
  std::string name;
  DType dtype = DType::kFloat32;
  Shape shape;
  Shape shape_signature;  // -1 marks a dynamic dimension; empty when the file has none
  QuantParams quant;
  bool is_constant = false;
  bool is_variable = false;
  std::vector<uint8_t> data;  // the constant's bytes, little-endian, row-major

  int64_t num_elements() const { return NumElements(shape); }
  template <typename T>
  const T* data_as() const { return reinterpret_cast<const T*>(data.data()); }
  bool operator==(const Tensor&) const = default;
};

struct Metadata {
  std::string name;
  std::vector<uint8_t> data;
  bool operator==(const Metadata&) const = default;
};

struct SignatureTensor {
  std::string name;
  int tensor = 0;
  bool operator==(const SignatureTensor&) const = default;
};
struct Signature {
  std::string key;
  std::vector<SignatureTensor> inputs;
  std::vector<SignatureTensor> outputs;
  bool operator==(const Signature&) const = default;
};

struct Graph {
  std::vector<Tensor> tensors;
  std::vector<Operator> operators;  // in execution order
  std::vector<int> inputs;
  std::vector<int> outputs;
  std::string name;
  std::string description;
  uint32_t schema_version = 3;
  std::vector<Metadata> metadata;
  std::vector<Signature> signatures;

  bool operator==(const Graph&) const = default;
};

// The multiply-accumulates one invocation of `op` does as a direct product counts them:
// CONV_2D, DEPTHWISE_CONV_2D and FULLY_CONNECTED; 0 for other operators.
int64_t MultiplyAccumulates(const Graph& graph, const Operator& op);

// Checks what must hold before anything runs: tensor indices in range, constants with
// exactly shape x dtype bytes, quantization arrays that fit the shape, each activation
// produced at most once and before it is read (so no cycles), graph outputs produced.
// Errors name the operator (index and type) and tensor.
Status VerifyGraph(const Graph& graph);

// Lines of non-fatal findings (e.g. a 1-D bias whose quantized_dimension is out of range)
// with what qaudit does about them.
std::vector<std::string> GraphWarnings(const Graph& graph);

// Repairs what GraphWarnings reports where the repair is unambiguous (today: resets the
// quantized_dimension of per-axis 1-D tensors to 0). Returns how many tensors changed.
int RepairGraph(Graph& graph);

}  // namespace qaudit

#endif  // QAUDIT_GRAPH_H_
