// Building float Graphs layer by layer, with shapes inferred and weights either given or
// drawn from a seeded He-normal initialisation. Used for the model zoo, tests and
// benchmarks; the result is an ordinary Graph that the writer turns into a .tflite file.
#ifndef QAUDIT_GRAPH_BUILDER_H_
#define QAUDIT_GRAPH_BUILDER_H_

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "qaudit/graph.h"

namespace qaudit {

class GraphBuilder {
 public:
  explicit GraphBuilder(uint64_t seed = 0) : rng_(seed) {}

  // A float32 graph input of `shape` (NHWC for images, batch dimension first).
  int Input(const std::string& name, const Shape& shape);

  // CONV_2D with `out_channels` filters of kernel x kernel; DEPTHWISE_CONV_2D keeps the
  // channel count (depth multiplier 1). Weights OHWI (conv) or 1HWC (depthwise), He-normal;
  // bias drawn from N(0, 0.05).
  int Conv2D(int x, int out_channels, int kernel, int stride, Padding padding, Activation act);
  int DepthwiseConv2D(int x, int kernel, int stride, Padding padding, Activation act);
  // FULLY_CONNECTED over the last dimension (input [batch, features]).
  int FullyConnected(int x, int units, Activation act);
  int MaxPool2D(int x, int size, int stride, Padding padding = Padding::kValid);
  int AveragePool2D(int x, int size, int stride, Padding padding = Padding::kValid);
  int Add(int a, int b, Activation act = Activation::kNone);
  int Mul(int a, int b);
  // MEAN over H and W of an NHWC tensor: [N, C].
  int GlobalAveragePool(int x);
  int Reshape(int x, const Shape& shape);
  int Concatenation(const std::vector<int>& xs, int axis);
  int Softmax(int x);
  // An activation operator without options: RELU, RELU6, LOGISTIC, TANH, HARD_SWISH.
  int Unary(OpKind kind, int x);
  // A float constant of `shape` holding `values`.
  int Constant(const std::string& name, const Shape& shape, const std::vector<float>& values);

  const Tensor& tensor(int t) const { return graph_.tensors[t]; }
  Tensor& mutable_tensor(int t) { return graph_.tensors[t]; }
  // The graph with `outputs` as its outputs; the builder is left empty.
  Graph Finish(const std::vector<int>& outputs);

 private:
  int AddTensor(const std::string& prefix, const Shape& shape);
  int AddRandomConstant(const std::string& prefix, const Shape& shape, float stddev);
  int AddOp(OpKind kind, std::vector<int> inputs, const Shape& output_shape, OpOptions options);
  int Pool(OpKind kind, int x, int size, int stride, Padding padding);

  std::mt19937_64 rng_;
  Graph graph_;
};

}  // namespace qaudit

#endif  // QAUDIT_GRAPH_BUILDER_H_
