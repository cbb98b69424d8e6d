#include "qaudit/graph_builder.h"

#include <cmath>
#include <cstring>

namespace qaudit {
namespace {

int OutputSize(int in, int kernel, int stride, Padding padding) {
  return padding == Padding::kSame ? (in + stride - 1) / stride : (in - kernel) / stride + 1;
}

}  // namespace

int GraphBuilder::AddTensor(const std::string& prefix, const Shape& shape) {
  Tensor t;
  t.name = prefix + "_" + std::to_string(graph_.tensors.size());
  t.shape = shape;
  graph_.tensors.push_back(std::move(t));
  return static_cast<int>(graph_.tensors.size()) - 1;
}

int GraphBuilder::Constant(const std::string& name, const Shape& shape, const std::vector<float>& values) {
  const int t = AddTensor(name, shape);
  Tensor& c = graph_.tensors[t];
  c.is_constant = true;
  c.data.resize(values.size() * sizeof(float));
  if (!values.empty()) std::memcpy(c.data.data(), values.data(), c.data.size());
  return t;
}

int GraphBuilder::AddRandomConstant(const std::string& prefix, const Shape& shape, float stddev) {
  std::normal_distribution<float> normal(0.0f, stddev);
  std::vector<float> values(NumElements(shape));
  for (float& v : values) v = normal(rng_);
  return Constant(prefix, shape, values);
}

int GraphBuilder::AddOp(OpKind kind, std::vector<int> inputs, const Shape& output_shape, OpOptions options) {
  const int out = AddTensor(OpName(kind), output_shape);
  graph_.operators.push_back(Operator{kind, std::move(inputs), {out}, std::move(options), 1});
  return out;
}

int GraphBuilder::Input(const std::string& name, const Shape& shape) {
  const int t = AddTensor(name, shape);
  graph_.tensors[t].name = name;
  graph_.inputs.push_back(t);
  return t;
}

int GraphBuilder::Conv2D(int x, int out_channels, int kernel, int stride, Padding padding, Activation act) {
  const Shape in = tensor(x).shape;
  const float he = std::sqrt(2.0f / (kernel * kernel * in[3]));
  const int w = AddRandomConstant("conv_weights", {out_channels, kernel, kernel, in[3]}, he);
  const int b = AddRandomConstant("conv_bias", {out_channels}, 0.05f);
  ConvOptions o;
  o.padding = padding;
  o.stride_h = o.stride_w = stride;
  o.activation = act;
  return AddOp(OpKind::kConv2D, {x, w, b},
               {in[0], OutputSize(in[1], kernel, stride, padding), OutputSize(in[2], kernel, stride, padding), out_channels},
               o);
}

int GraphBuilder::DepthwiseConv2D(int x, int kernel, int stride, Padding padding, Activation act) {
  const Shape in = tensor(x).shape;
  const float he = std::sqrt(2.0f / (kernel * kernel));
  const int w = AddRandomConstant("depthwise_weights", {1, kernel, kernel, in[3]}, he);
  const int b = AddRandomConstant("depthwise_bias", {in[3]}, 0.05f);
  ConvOptions o;
  o.padding = padding;
  o.stride_h = o.stride_w = stride;
  o.activation = act;
  return AddOp(OpKind::kDepthwiseConv2D, {x, w, b},
               {in[0], OutputSize(in[1], kernel, stride, padding), OutputSize(in[2], kernel, stride, padding), in[3]}, o);
}

int GraphBuilder::FullyConnected(int x, int units, Activation act) {
  const Shape in = tensor(x).shape;
  const int w = AddRandomConstant("fc_weights", {units, in.back()}, std::sqrt(2.0f / in.back()));
  const int b = AddRandomConstant("fc_bias", {units}, 0.05f);
  FullyConnectedOptions o;
  o.activation = act;
  return AddOp(OpKind::kFullyConnected, {x, w, b}, {in[0], units}, o);
}

int GraphBuilder::Pool(OpKind kind, int x, int size, int stride, Padding padding) {
  const Shape in = tensor(x).shape;
  PoolOptions o;
  o.padding = padding;
  o.filter_h = o.filter_w = size;
  o.stride_h = o.stride_w = stride;
  return AddOp(kind, {x}, {in[0], OutputSize(in[1], size, stride, padding), OutputSize(in[2], size, stride, padding), in[3]},
               o);
}

int GraphBuilder::MaxPool2D(int x, int size, int stride, Padding padding) {
  return Pool(OpKind::kMaxPool2D, x, size, stride, padding);
}
int GraphBuilder::AveragePool2D(int x, int size, int stride, Padding padding) {
  return Pool(OpKind::kAveragePool2D, x, size, stride, padding);
}

int GraphBuilder::Add(int a, int b, Activation act) {
  ElementwiseOptions o;
  o.activation = act;
  return AddOp(OpKind::kAdd, {a, b}, tensor(a).shape, o);
}

int GraphBuilder::Mul(int a, int b) { return AddOp(OpKind::kMul, {a, b}, tensor(a).shape, ElementwiseOptions{}); }

int GraphBuilder::GlobalAveragePool(int x) {
  const Shape in = tensor(x).shape;
  const int axes = AddTensor("mean_axes", {2});
  Tensor& a = graph_.tensors[axes];
  a.dtype = DType::kInt32;
  a.is_constant = true;
  const int32_t hw[2] = {1, 2};
  a.data.resize(sizeof(hw));
  std::memcpy(a.data.data(), hw, sizeof(hw));
  return AddOp(OpKind::kMean, {x, axes}, {in[0], in[3]}, ReducerOptions{false});
}

int GraphBuilder::Reshape(int x, const Shape& shape) {
  ReshapeOptions o;
  o.new_shape = shape;
  o.has_new_shape = true;
  return AddOp(OpKind::kReshape, {x}, shape, o);
}

int GraphBuilder::Concatenation(const std::vector<int>& xs, int axis) {
  Shape shape = tensor(xs[0]).shape;
  shape[axis] = 0;
  for (int x : xs) shape[axis] += tensor(x).shape[axis];
  ConcatenationOptions o;
  o.axis = axis;
  return AddOp(OpKind::kConcatenation, xs, shape, o);
}

int GraphBuilder::Softmax(int x) { return AddOp(OpKind::kSoftmax, {x}, tensor(x).shape, SoftmaxOptions{}); }

int GraphBuilder::Unary(OpKind kind, int x) { return AddOp(kind, {x}, tensor(x).shape, DefaultOptions(kind)); }

Graph GraphBuilder::Finish(const std::vector<int>& outputs) {
  graph_.outputs = outputs;
  Graph g = std::move(graph_);
  graph_ = Graph{};
  return g;
}

}  // namespace qaudit
