// ToGraph: the trained model as a float Graph in TFLite's vocabulary, with batch norms
// folded and activations fused where the TFLite converter would fuse them.
#include <cmath>
#include <cstring>

#include "qaudit/train.h"

namespace qaudit::train {
namespace {

bool IsLinear(LayerKind kind) {
  return kind == LayerKind::kConv2D || kind == LayerKind::kDepthwiseConv2D || kind == LayerKind::kFullyConnected;
}

class Exporter {
 public:
  explicit Exporter(const Model& model) : model_(model), layers_(model.layers()), readers_(layers_.size(), 0) {
    for (const Layer& l : layers_) {
      for (int in : l.inputs) ++readers_[in];
    }
    ++readers_[model.output()];
  }

  Result<Graph> Run(std::vector<int>* layer_tensors) {
    tensor_of_.assign(layers_.size(), -1);
    op_of_.assign(layers_.size(), -1);
    absorbed_.assign(layers_.size(), false);
    for (size_t i = 0; i < layers_.size(); ++i) QAUDIT_RETURN_IF_ERROR(ExportLayer(static_cast<int>(i)));
    graph_.outputs = {tensor_of_[model_.output()]};
    graph_.description = "qaudit train";
    QAUDIT_RETURN_IF_ERROR(VerifyGraph(graph_));
    if (layer_tensors != nullptr) {
      *layer_tensors = tensor_of_;
      for (size_t i = 0; i < layers_.size(); ++i) {
        if (absorbed_[i]) (*layer_tensors)[i] = -1;
      }
    }
    return std::move(graph_);
  }

 private:
  Shape WithBatch(const Shape& s) const {
    Shape full{1};
    full.insert(full.end(), s.begin(), s.end());
    return full;
  }

  int AddTensor(const std::string& name, const Shape& shape) {
    Tensor t;
    t.name = name;
    t.shape = shape;
    graph_.tensors.push_back(std::move(t));
    return static_cast<int>(graph_.tensors.size()) - 1;
  }

  template <typename T>
  int AddConstant(const std::string& name, DType dtype, const Shape& shape, const std::vector<T>& values) {
    const int t = AddTensor(name, shape);
    Tensor& c = graph_.tensors[t];
    c.dtype = dtype;
    c.is_constant = true;
    c.data.resize(values.size() * sizeof(T));
    std::memcpy(c.data.data(), values.data(), c.data.size());
    return t;
  }

  // Adds an op writing the tensor of layer `i`.
  void AddOp(int i, OpKind kind, std::vector<int> inputs, OpOptions options) {
    tensor_of_[i] = AddTensor(layers_[i].name, WithBatch(layers_[i].shape));
    op_of_[i] = static_cast<int>(graph_.operators.size());
    graph_.operators.push_back(Operator{kind, std::move(inputs), {tensor_of_[i]}, std::move(options), 1});
  }

  // Whether layer i can hand its value to `reader` by changing its op: i's op can take a
  // fused activation, has none yet, and only `reader` reads i.
  bool CanFuseInto(int i) const {
    const Layer& l = layers_[i];
    const bool fusing_op = IsLinear(l.kind) || l.kind == LayerKind::kAdd || l.kind == LayerKind::kBatchNorm;
    return op_of_[i] >= 0 && fusing_op && l.activation == Activation::kNone && readers_[i] == 1 &&
           graph_.operators[op_of_[i]].outputs[0] == tensor_of_[i];
  }

  void SetFusedActivation(int op, Activation act) {
    std::visit(
        [&](auto& o) {
          if constexpr (requires { o.activation; }) o.activation = act;
        },
        graph_.operators[op].options);
  }

  // Layer i takes over the op of layer `from` (a fused activation or a folded batch norm).
  void Alias(int i, int from) {
    absorbed_[from] = true;
    tensor_of_[i] = tensor_of_[from];
    op_of_[i] = op_of_[from];
    graph_.tensors[tensor_of_[i]].name = layers_[i].name;
  }

  void ExportLinear(int i) {
    const Layer& l = layers_[i];
    const int x = tensor_of_[l.inputs[0]];
    const std::vector<float>& w = l.weights->value.data;
    const int channels = l.shape.back();
    const int weights = AddConstant(l.name + "/weights", DType::kFloat32, l.weights->value.shape, w);
    const int bias = AddConstant(l.name + "/bias", DType::kFloat32, {channels},
                                 l.bias != nullptr ? l.bias->value.data : std::vector<float>(channels, 0.0f));
    if (l.kind == LayerKind::kFullyConnected) {
      FullyConnectedOptions o;
      o.activation = l.activation;
      AddOp(i, OpKind::kFullyConnected, {x, weights, bias}, o);
      return;
    }
    ConvOptions o;
    o.padding = l.padding;
    o.stride_h = o.stride_w = l.stride;
    o.activation = l.activation;
    AddOp(i, l.kind == LayerKind::kConv2D ? OpKind::kConv2D : OpKind::kDepthwiseConv2D, {x, weights, bias}, o);
  }

  void ExportBatchNorm(int i) {
    const Layer& l = layers_[i];
    const int channels = l.shape.back();
    std::vector<float> scale(channels), shift(channels);
    for (int c = 0; c < channels; ++c) {
      scale[c] = l.gamma->value.data[c] / std::sqrt(l.running_var[c] + l.epsilon);
      shift[c] = l.beta->value.data[c] - l.running_mean[c] * scale[c];
    }
    const int in = l.inputs[0];
    if (IsLinear(layers_[in].kind) && CanFuseInto(in)) {
      // (W x + b - mean) * scale + beta = (W * scale) x + (b * scale + shift).
      const Operator& op = graph_.operators[op_of_[in]];
      Tensor& w = graph_.tensors[op.inputs[1]];
      Tensor& b = graph_.tensors[op.inputs[2]];
      float* wd = reinterpret_cast<float*>(w.data.data());
      float* bd = reinterpret_cast<float*>(b.data.data());
      const int64_t n = w.num_elements(), per_channel = n / channels;
      for (int64_t k = 0; k < n; ++k)
        wd[k] *= scale[layers_[in].weights->channel_axis == 0 ? k / per_channel : k % channels];
      for (int c = 0; c < channels; ++c) bd[c] = bd[c] * scale[c] + shift[c];
      Alias(i, in);
      SetFusedActivation(op_of_[i], l.activation);
      return;
    }
    const Shape channel_shape{channels};
    const int mul = AddTensor(l.name + "/scaled", WithBatch(l.shape));
    graph_.operators.push_back(
        Operator{OpKind::kMul,
                 {tensor_of_[in], AddConstant(l.name + "/scale", DType::kFloat32, channel_shape, scale)},
                 {mul},
                 ElementwiseOptions{},
                 1});
    ElementwiseOptions o;
    o.activation = l.activation;
    tensor_of_[i] = AddTensor(l.name, WithBatch(l.shape));
    op_of_[i] = static_cast<int>(graph_.operators.size());
    graph_.operators.push_back(Operator{OpKind::kAdd,
                                        {mul, AddConstant(l.name + "/shift", DType::kFloat32, channel_shape, shift)},
                                        {tensor_of_[i]},
                                        o,
                                        1});
  }

  Status ExportLayer(int i) {
    const Layer& l = layers_[i];
    const int x = l.inputs.empty() ? -1 : tensor_of_[l.inputs[0]];
    switch (l.kind) {
      case LayerKind::kInput:
        tensor_of_[i] = AddTensor(l.name, WithBatch(l.shape));
        graph_.inputs.push_back(tensor_of_[i]);
        return Status::Ok();
      case LayerKind::kConv2D:
      case LayerKind::kDepthwiseConv2D:
      case LayerKind::kFullyConnected:
        ExportLinear(i);
        return Status::Ok();
      case LayerKind::kMaxPool2D:
      case LayerKind::kAveragePool2D: {
        PoolOptions o;
        o.padding = l.padding;
        o.stride_h = o.stride_w = l.stride;
        o.filter_h = o.filter_w = l.kernel;
        AddOp(i, l.kind == LayerKind::kMaxPool2D ? OpKind::kMaxPool2D : OpKind::kAveragePool2D, {x}, o);
        return Status::Ok();
      }
      case LayerKind::kAdd: {
        ElementwiseOptions o;
        o.activation = l.activation;
        AddOp(i, OpKind::kAdd, {x, tensor_of_[l.inputs[1]]}, o);
        return Status::Ok();
      }
      case LayerKind::kGlobalAveragePool:
        AddOp(i, OpKind::kMean, {x, AddConstant(l.name + "/axes", DType::kInt32, {2}, std::vector<int32_t>{1, 2})},
              ReducerOptions{false});
        return Status::Ok();
      case LayerKind::kReshape: {
        ReshapeOptions o;
        o.new_shape = WithBatch(l.shape);
        o.has_new_shape = true;
        const std::vector<int32_t> shape = o.new_shape;
        AddOp(i, OpKind::kReshape,
              {x, AddConstant(l.name + "/shape", DType::kInt32, {static_cast<int32_t>(shape.size())}, shape)}, o);
        return Status::Ok();
      }
      case LayerKind::kRelu:
      case LayerKind::kRelu6:
        if (CanFuseInto(l.inputs[0])) {
          Alias(i, l.inputs[0]);
          SetFusedActivation(op_of_[i], l.kind == LayerKind::kRelu ? Activation::kRelu : Activation::kRelu6);
        } else {
          AddOp(i, l.kind == LayerKind::kRelu ? OpKind::kRelu : OpKind::kRelu6, {x}, NoOptions{});
        }
        return Status::Ok();
      case LayerKind::kHardSwish:
        AddOp(i, OpKind::kHardSwish, {x}, NoOptions{});
        return Status::Ok();
      case LayerKind::kBatchNorm:
        ExportBatchNorm(i);
        return Status::Ok();
    }
    return Status::Internal("ToGraph: unknown layer kind of " + l.name);
  }

  const Model& model_;
  const std::vector<Layer>& layers_;
  std::vector<int> readers_;    // how many layers (and the graph output) read each layer
  std::vector<int> tensor_of_;  // the graph tensor holding each layer's value
  std::vector<int> op_of_;      // the operator writing it (-1 for the input)
  std::vector<bool> absorbed_;  // whether a later layer took over the layer's op and tensor
  Graph graph_;
};

}  // namespace

Result<Graph> ToGraph(const Model& model, std::vector<int>* layer_tensors) {
  if (model.input() < 0) return Status::InvalidArgument("ToGraph: the model has no input");
  return Exporter(model).Run(layer_tensors);
}

}  // namespace qaudit::train
