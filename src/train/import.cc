// FromGraph: a float Graph (a .tflite model, e.g. one `qaudit train` wrote) as a trainable
// Model, the inverse of ToGraph for the operators training supports.
#include <cstring>
#include <map>

#include "qaudit/train.h"

namespace qaudit::train {
namespace {

// Per-sample shape: the graph's shape without its batch dimension of 1.
Result<Shape> SampleShape(const Tensor& t) {
  if (t.shape.empty() || t.shape[0] != 1) {
    return Status::Unsupported("tensor '" + t.name + "' has shape " + ShapeToString(t.shape) +
                               "; training needs a leading batch dimension of 1");
  }
  return Shape(t.shape.begin() + 1, t.shape.end());
}

void CopyInto(Parameter* p, const Tensor& t) {
  std::memcpy(p->value.data.data(), t.data.data(), p->value.data.size() * sizeof(float));
}

class Importer {
 public:
  Importer(const Graph& g, Model& m) : g_(g), m_(m) {}

  Result<bool> Run() {
    if (g_.inputs.size() != 1 || g_.outputs.size() != 1) {
      return Status::Unsupported("training needs a model with one input and one output; this one has " +
                                 std::to_string(g_.inputs.size()) + " and " + std::to_string(g_.outputs.size()));
    }
    const Tensor& in = g_.tensors[g_.inputs[0]];
    if (in.dtype != DType::kFloat32) return Status::Unsupported("input '" + in.name + "' is not float32; train a float model");
    QAUDIT_ASSIGN_OR_RETURN(Shape shape, SampleShape(in));
    layer_of_[g_.inputs[0]] = m_.Input(in.name, shape);
    bool final_softmax = false;
    for (size_t i = 0; i < g_.operators.size(); ++i) {
      const Operator& op = g_.operators[i];
      const std::string label = "operator " + std::to_string(i) + " (" + OpName(op.kind) + ")";
      if (op.kind == OpKind::kSoftmax && i + 1 == g_.operators.size() && op.outputs[0] == g_.outputs[0]) {
        if (op.opts<SoftmaxOptions>().beta != 1.0f) return Status::Unsupported(label + ": beta other than 1");
        m_.SetOutput(layer_of_.at(op.inputs[0]));
        final_softmax = true;
        continue;
      }
      for (const int t : op.outputs) {
        if (g_.tensors[t].dtype != DType::kFloat32) return Status::Unsupported(label + ": not a float operator");
      }
      QAUDIT_ASSIGN_OR_RETURN(int layer, Add(op, label));
      layer_of_[op.outputs[0]] = layer;
      m_.layer(layer).name = g_.tensors[op.outputs[0]].name;
    }
    if (!final_softmax) m_.SetOutput(layer_of_.at(g_.outputs[0]));
    return final_softmax;
  }

 private:
  Result<int> Layer(const Operator& op, size_t input, const std::string& label) {
    auto it = layer_of_.find(op.inputs[input]);
    if (it == layer_of_.end()) {
      return Status::Unsupported(label + ": input " + std::to_string(input) + " '" + g_.tensors[op.inputs[input]].name +
                                 "' is a constant; training supports constants only as weights and biases");
    }
    return it->second;
  }

  static Result<Activation> TrainableActivation(Activation a, const std::string& label) {
    if (a == Activation::kNone || a == Activation::kRelu || a == Activation::kRelu6) return a;
    return Status::Unsupported(label + ": fused activation " + ActivationName(a));
  }

  Result<int> Add(const Operator& op, const std::string& label) {
    switch (op.kind) {
      case OpKind::kConv2D:
      case OpKind::kDepthwiseConv2D: {
        const ConvOptions& o = op.opts<ConvOptions>();
        const Tensor& w = g_.tensors[op.inputs[1]];
        const bool depthwise = op.kind == OpKind::kDepthwiseConv2D;
        if (o.stride_h != o.stride_w || o.dilation_h != 1 || o.dilation_w != 1 || w.shape[1] != w.shape[2] ||
            (depthwise && o.depth_multiplier != 1) || !w.is_constant) {
          return Status::Unsupported(label + ": training supports square kernels, equal strides, no dilation" +
                                     std::string(depthwise ? ", depth multiplier 1" : "") + " and constant weights");
        }
        QAUDIT_ASSIGN_OR_RETURN(int x, Layer(op, 0, label));
        QAUDIT_ASSIGN_OR_RETURN(Activation act, TrainableActivation(o.activation, label));
        const bool bias = op.inputs.size() > 2 && op.inputs[2] != kNoTensor;
        const int layer = depthwise ? m_.DepthwiseConv2D(x, w.shape[1], o.stride_h, o.padding, act, bias)
                                    : m_.Conv2D(x, w.shape[0], w.shape[1], o.stride_h, o.padding, act, bias);
        CopyInto(m_.layer(layer).weights, w);
        if (bias) CopyInto(m_.layer(layer).bias, g_.tensors[op.inputs[2]]);
        return layer;
      }
      case OpKind::kFullyConnected: {
        const FullyConnectedOptions& o = op.opts<FullyConnectedOptions>();
        const Tensor& w = g_.tensors[op.inputs[1]];
        if (!w.is_constant) return Status::Unsupported(label + ": weights that are not constant");
        QAUDIT_ASSIGN_OR_RETURN(int x, Layer(op, 0, label));
        // TFLite flattens what comes in; training's FC takes a vector.
        if (m_.layers()[x].shape.size() != 1) x = m_.Reshape(x, {static_cast<int32_t>(NumElements(m_.layers()[x].shape))});
        QAUDIT_ASSIGN_OR_RETURN(Activation act, TrainableActivation(o.activation, label));
        const bool bias = op.inputs.size() > 2 && op.inputs[2] != kNoTensor;
        const int layer = m_.FullyConnected(x, w.shape[0], act, bias);
        CopyInto(m_.layer(layer).weights, w);
        if (bias) CopyInto(m_.layer(layer).bias, g_.tensors[op.inputs[2]]);
        return layer;
      }
      case OpKind::kMaxPool2D:
      case OpKind::kAveragePool2D: {
        const PoolOptions& o = op.opts<PoolOptions>();
        if (o.filter_h != o.filter_w || o.stride_h != o.stride_w || o.activation != Activation::kNone) {
          return Status::Unsupported(label + ": training supports square windows, equal strides, no fused activation");
        }
        QAUDIT_ASSIGN_OR_RETURN(int x, Layer(op, 0, label));
        return op.kind == OpKind::kMaxPool2D ? m_.MaxPool2D(x, o.filter_h, o.stride_h, o.padding)
                                             : m_.AveragePool2D(x, o.filter_h, o.stride_h, o.padding);
      }
      case OpKind::kAdd: {
        QAUDIT_ASSIGN_OR_RETURN(int a, Layer(op, 0, label));
        QAUDIT_ASSIGN_OR_RETURN(int b, Layer(op, 1, label));
        if (m_.layers()[a].shape != m_.layers()[b].shape) return Status::Unsupported(label + ": broadcasting");
        QAUDIT_ASSIGN_OR_RETURN(Activation act, TrainableActivation(op.opts<ElementwiseOptions>().activation, label));
        return m_.Add(a, b, act);
      }
      case OpKind::kMean: {
        QAUDIT_ASSIGN_OR_RETURN(int x, Layer(op, 0, label));
        const Tensor& axes = g_.tensors[op.inputs[1]];
        const bool hw = axes.num_elements() == 2 && axes.data_as<int32_t>()[0] == 1 && axes.data_as<int32_t>()[1] == 2;
        if (!hw || op.opts<ReducerOptions>().keep_dims || m_.layers()[x].shape.size() != 3) {
          return Status::Unsupported(label + ": training supports MEAN over height and width without keep_dims");
        }
        return m_.GlobalAveragePool(x);
      }
      case OpKind::kReshape: {
        QAUDIT_ASSIGN_OR_RETURN(int x, Layer(op, 0, label));
        QAUDIT_ASSIGN_OR_RETURN(Shape shape, SampleShape(g_.tensors[op.outputs[0]]));
        return m_.Reshape(x, shape);
      }
      case OpKind::kRelu:
      case OpKind::kRelu6:
      case OpKind::kHardSwish: {
        QAUDIT_ASSIGN_OR_RETURN(int x, Layer(op, 0, label));
        const LayerKind kind = op.kind == OpKind::kRelu    ? LayerKind::kRelu
                               : op.kind == OpKind::kRelu6 ? LayerKind::kRelu6
                                                           : LayerKind::kHardSwish;
        return m_.Unary(kind, x);
      }
      default:
        return Status::Unsupported(label + " cannot be trained (training supports CONV_2D, DEPTHWISE_CONV_2D, "
                                   "FULLY_CONNECTED, MAX/AVERAGE_POOL_2D, ADD, MEAN, RESHAPE, RELU, RELU6, "
                                   "HARD_SWISH and a final SOFTMAX)");
    }
  }

  const Graph& g_;
  Model& m_;
  std::map<int, int> layer_of_;  // graph tensor -> layer
};

}  // namespace

Result<ImportedModel> FromGraph(const Graph& graph, int num_threads) {
  QAUDIT_RETURN_IF_ERROR(VerifyGraph(graph));
  ImportedModel imported;
  imported.model = std::make_unique<Model>(0, num_threads);
  QAUDIT_ASSIGN_OR_RETURN(imported.final_softmax, Importer(graph, *imported.model).Run());
  return imported;
}

}  // namespace qaudit::train
