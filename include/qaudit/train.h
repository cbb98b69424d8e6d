// Training float models in C++: a layer graph over NHWC float32 tensors whose forward and
// backward passes are explicit, optimizers, a training loop and export to a float Graph.
//
// A Model is built layer by layer with the vocabulary of GraphBuilder (Conv2D(x,
// out_channels, kernel, stride, padding, act), FullyConnected, MaxPool2D, ...), plus
// BatchNorm. Shapes are per sample (no batch dimension): Input("x", {28, 28, 1}). Weight
// layouts are TFLite's (conv OHWI, depthwise 1HWC, fully-connected [out, in]), so ToGraph
// copies them.
//
// Hooks for quantization-aware training: a Transform (a differentiable function with its
// own forward and backward) may be set on any layer's weights (applied before use) and on
// any layer's output (applied after the op and its fused activation). Transforms own
// Parameters (e.g. trainable min/max) created with Model::AddParameter; the optimizer
// updates them with the rest.
//
// The backward rule of every op is in src/train/gradients.cc; forward kernels are in
// src/train/kernels.cc. Thread-safety: a Model and its ThreadPool are used by one caller
// thread at a time; ops split their work over the pool's threads. Results are the same
// for the same seeds and number of threads (the thread count changes the order in which
// gradient sums are added, hence their last bits).
#ifndef QAUDIT_TRAIN_H_
#define QAUDIT_TRAIN_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include "qaudit/graph.h"
#include "qaudit/status.h"
#include "qaudit/tensor.h"

namespace qaudit::train {

// A dense float32 tensor, row-major. Activations carry the batch dimension first.
struct Array {
  Shape shape;
  std::vector<float> data;

  Array() = default;
  explicit Array(Shape s) : shape(std::move(s)), data(static_cast<size_t>(NumElements(shape)), 0.0f) {}
  int64_t size() const { return static_cast<int64_t>(data.size()); }
  // Resizes to `s` (keeping the allocation when it is large enough); contents unspecified.
  void Resize(const Shape& s) {
    shape = s;
    data.resize(static_cast<size_t>(NumElements(s)));
  }
};

// A trainable tensor: weights, biases, batch-norm gamma/beta, transform parameters.
struct Parameter {
  std::string name;
  Array value;
  Array grad;  // same shape; Model::Backward adds to it, Model::ZeroGrad clears it
  // The axis of output channels (0 for conv OHWI and fully-connected [out, in], 3 for
  // depthwise 1HWC), for per-channel transforms; -1 for tensors without one.
  int channel_axis = -1;
  // Whether weight decay applies (conv/depthwise/FC weights only, by default).
  bool decay = false;
};

// Runs work on a fixed set of threads: the caller's plus num_threads - 1 workers.
class ThreadPool {
 public:
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return num_threads_; }
  // Splits [0, n) into num_threads() contiguous ranges and calls fn(begin, end, worker)
  // once per non-empty range, worker in [0, num_threads()); returns when all are done.
  // REQUIRES: not called from inside another ParallelFor's fn.
  void ParallelFor(int64_t n, const std::function<void(int64_t begin, int64_t end, int worker)>& fn);

 private:
  struct Shared;
  int num_threads_;
  std::unique_ptr<Shared> shared_;
};

// A differentiable elementwise-shaped function y = f(x) inserted by the QAT layer.
// Implementations may own Parameters (create them with Model::AddParameter) and must add
// their gradients to Parameter::grad in Backward.
class Transform {
 public:
  virtual ~Transform() = default;
  // y = f(x); y has x's shape (the caller has resized it). `training` is false in
  // evaluation, so observers (e.g. moving min/max) update only in training.
  virtual void Forward(const Array& x, Array& y, bool training, ThreadPool& pool) = 0;
  // dx = dy * df/dx at the x that the last Forward saw; dx has x's shape. Adds dL/dtheta
  // of the transform's own parameters to their grads.
  virtual void Backward(const Array& x, const Array& dy, Array& dx, ThreadPool& pool) = 0;
};

enum class LayerKind : uint8_t {
  kInput,
  kConv2D,
  kDepthwiseConv2D,
  kFullyConnected,
  kMaxPool2D,
  kAveragePool2D,
  kAdd,
  kGlobalAveragePool,  // MEAN over H and W: [H, W, C] -> [C]
  kReshape,
  kRelu,
  kRelu6,
  kHardSwish,
  kBatchNorm,
};
const char* LayerKindName(LayerKind kind);

// One node of the model. Conv, depthwise, fully-connected, ADD and batch norm carry a fused
// activation (kNone, kRelu or kRelu6) applied before the output transform, as TFLite fuses.
struct Layer {
  LayerKind kind = LayerKind::kInput;
  std::string name;
  std::vector<int> inputs;  // layer indices
  Shape shape;              // output shape per sample
  int kernel = 1, stride = 1;
  Padding padding = Padding::kValid;
  Activation activation = Activation::kNone;
  Parameter* weights = nullptr;  // conv, depthwise, FC
  Parameter* bias = nullptr;     // conv, depthwise, FC (may be absent before a BatchNorm)
  // Batch norm: y = gamma * (x - mean) / sqrt(var + epsilon) + beta per channel (the last
  // axis). Training uses the batch's mean and (biased) variance and updates
  // running = momentum * running + (1 - momentum) * batch (Keras's convention).
  Parameter* gamma = nullptr;
  Parameter* beta = nullptr;
  std::vector<float> running_mean, running_var;
  float momentum = 0.99f, epsilon = 1e-3f;
  // Fold this batch norm into the preceding conv/depthwise/FC in training too, so that the
  // weight transform of that layer sees folded weights. Set by FoldBatchNorm; see there.
  bool folded = false;
  std::shared_ptr<Transform> weight_transform;  // applied to weights before use
  std::shared_ptr<Transform> output_transform;  // applied to the output
  // Applied to the bias actually used (after folding), forward only: its gradient is taken
  // to be the identity (QAT's simulation of the int32 bias grid).
  std::shared_ptr<Transform> bias_transform;
};

enum class Mode { kTraining, kEval };

struct ModelState;  // internal: what a forward pass keeps for the backward pass

class Model {
 public:
  // `seed` drives the weight initialisation (He-normal weights, zero biases), drawn with
  // the model's own normal sampler, so the same seed gives the same weights everywhere.
  explicit Model(uint64_t seed = 0, int num_threads = 2);
  ~Model();
  Model(const Model&) = delete;
  Model& operator=(const Model&) = delete;

  // ---- building; every function returns the new layer's index. REQUIRES: shapes that fit
  // (asserted): rank-3 [H, W, C] inputs for conv and pooling, rank-1 for FullyConnected.
  int Input(const std::string& name, const Shape& shape);
  int Conv2D(int x, int out_channels, int kernel, int stride, Padding padding, Activation act = Activation::kNone,
             bool use_bias = true);
  int DepthwiseConv2D(int x, int kernel, int stride, Padding padding, Activation act = Activation::kNone,
                      bool use_bias = true);
  int FullyConnected(int x, int units, Activation act = Activation::kNone, bool use_bias = true);
  int MaxPool2D(int x, int size, int stride, Padding padding = Padding::kValid);
  // As TFLite: SAME padding averages over the window's in-bounds elements only.
  int AveragePool2D(int x, int size, int stride, Padding padding = Padding::kValid);
  int Add(int a, int b, Activation act = Activation::kNone);
  int GlobalAveragePool(int x);
  int Reshape(int x, const Shape& shape);
  // kRelu, kRelu6 or kHardSwish.
  int Unary(LayerKind kind, int x);
  int BatchNorm(int x, Activation act = Activation::kNone, float momentum = 0.99f, float epsilon = 1e-3f);
  // The layer whose value Forward returns (the logits); default: the last layer added.
  void SetOutput(int x) { output_ = x; }

  // A parameter outside any layer, e.g. a transform's trainable min/max; the optimizer
  // updates it like the others. The pointer stays valid as long as the model.
  Parameter* AddParameter(const std::string& name, const Shape& shape, const std::vector<float>& values);

  // ---- hooks for QAT
  void SetWeightTransform(int layer, std::shared_ptr<Transform> t) { layers_[layer].weight_transform = std::move(t); }
  void SetOutputTransform(int layer, std::shared_ptr<Transform> t) { layers_[layer].output_transform = std::move(t); }
  // Runs after the weight transform of the same forward pass (so it can read the weight
  // grid that pass chose).
  void SetBiasTransform(int layer, std::shared_ptr<Transform> t) { layers_[layer].bias_transform = std::move(t); }
  // Folds BatchNorm layer `bn` into the conv/depthwise/FC that feeds it, as tfmot's QAT
  // does: in training the layer first runs with its raw weights to get the batch
  // statistics (mean, var), then again with W * gamma / sqrt(var + eps) (through the weight
  // transform) and bias beta + (b - mean) * gamma / sqrt(var + eps); gradients flow
  // through the statistics. In eval the running statistics are used. The output
  // transform and activation of `bn` then apply to that result.
  // InvalidArgument unless `bn` is a BatchNorm whose input is a conv/depthwise/FC layer
  // without activation or output transform that only `bn` reads.
  Status FoldBatchNorm(int bn);

  // ---- running
  // input: [N, ...input shape]. Returns the output layer's value [N, ...]. In training
  // mode, keeps what Backward needs and updates batch-norm running statistics.
  const Array& Forward(const Array& input, Mode mode);
  // Back-propagates d(loss)/d(output) of the last training-mode Forward, adding to the
  // grads of every parameter (weights, biases, BN, transforms).
  void Backward(const Array& doutput);
  void ZeroGrad();
  // Whether Backward also computes d(loss)/d(input) (off by default: nothing needs it for
  // training), for gradient checks and saliency maps; read it with gradient(input()).
  void set_input_gradient(bool on) { input_gradient_ = on; }

  // ---- inspection
  const std::vector<Layer>& layers() const { return layers_; }
  Layer& layer(int i) { return layers_[i]; }
  int output() const { return output_; }
  int input() const { return input_; }
  // Every parameter, layers' first, in creation order.
  std::vector<Parameter*> parameters() const;
  // The value of layer i after the last Forward, [N, ...] (stale in eval mode for a layer
  // whose batch norm is folded: that one computes it).
  const Array& value(int i) const;
  // d(loss)/d(value of layer i) after the last Backward; empty or stale for layers whose
  // gradient nothing needed.
  const Array& gradient(int i) const;
  ThreadPool& pool() { return *pool_; }

 private:
  int AddLayer(Layer layer);
  int Pool(LayerKind kind, int x, int size, int stride, Padding padding);
  Parameter* NewParameter(const std::string& name, const Shape& shape, float stddev, int channel_axis, bool decay);

  std::vector<Layer> layers_;
  std::vector<std::unique_ptr<Parameter>> params_;
  int input_ = -1, output_ = -1;
  bool input_gradient_ = false;
  std::mt19937_64 rng_;
  std::unique_ptr<ThreadPool> pool_;
  std::unique_ptr<ModelState> state_;
};

// Mean over the batch of -log softmax(logits)[label]; logits [N, classes]. Writes
// d(loss)/d(logits) to `dlogits` when it is not null. REQUIRES: labels in [0, classes).
float SoftmaxCrossEntropy(const Array& logits, const int32_t* labels, Array* dlogits);

// ---- optimizers

class Optimizer {
 public:
  virtual ~Optimizer() = default;
  // Updates every parameter from its grad with learning rate `lr`.
  virtual void Step(const std::vector<Parameter*>& params, float lr) = 0;
};

struct SgdOptions {
  float momentum = 0.9f;
  bool nesterov = false;
  // L2 regularisation: weight_decay * w is added to the gradient of decaying parameters.
  float weight_decay = 0.0f;
};
std::unique_ptr<Optimizer> MakeSgd(const SgdOptions& options = {});

struct AdamOptions {
  float beta1 = 0.9f, beta2 = 0.999f, epsilon = 1e-7f;
  // Decoupled (AdamW): w -= lr * weight_decay * w for decaying parameters, outside the
  // adaptive step.
  float weight_decay = 0.0f;
};
std::unique_ptr<Optimizer> MakeAdam(const AdamOptions& options = {});

// Learning rate by step: linear warm-up from 0 over warmup_steps, then
//   kConstant: base_lr
//   kStep:     base_lr * gamma^floor((step - warmup) / step_size)
//   kCosine:   min_lr + (base_lr - min_lr) * (1 + cos(pi * t)) / 2, t = progress after
//              warm-up towards total_steps
// (Warm-up step s, from 0, uses base_lr * (s + 1) / warmup_steps.)
struct LrSchedule {
  enum class Kind { kConstant, kStep, kCosine };
  Kind kind = Kind::kConstant;
  float base_lr = 1e-3f;
  int64_t warmup_steps = 0;
  int64_t step_size = 1;    // kStep
  float gamma = 0.1f;       // kStep
  int64_t total_steps = 0;  // kCosine; 0: Train fills in epochs x steps per epoch
  float min_lr = 0.0f;      // kCosine
  float At(int64_t step) const;
};

// ---- the training loop

struct TrainOptions {
  int epochs = 1;
  int batch_size = 128;
  uint64_t seed = 0;       // the order of samples in each epoch
  bool drop_last = false;  // drop a last partial batch
};

struct StepInfo {
  int epoch = 0;     // from 0
  int64_t step = 0;  // steps done in all epochs, from 1
  int64_t steps_per_epoch = 0;
  int64_t total_steps = 0;
  float loss = 0;  // this batch's mean loss
  float lr = 0;
  double samples_per_second = 0;  // since the start of training
  double elapsed_seconds = 0;
};
using StepCallback = std::function<void(const StepInfo&)>;

struct TrainSummary {
  double seconds = 0;
  int64_t steps = 0;
  float last_epoch_mean_loss = 0;
};

// The order of samples in `epoch`: a Fisher-Yates shuffle of [0, n) drawn from
// std::mt19937_64 seeded with (seed, epoch) with its own uniform draw, so it is the same
// on every platform.
std::vector<int64_t> EpochOrder(int64_t n, uint64_t seed, int epoch);

// Trains `model` on samples [N, ...input shape] (float32) with class labels.
// InvalidArgument when the samples do not fit the model input, labels are missing or out of
// range, or the options are bad.
Result<TrainSummary> Train(Model& model, const HostTensor& samples, const std::vector<int32_t>& labels,
                           Optimizer& optimizer, LrSchedule schedule, const TrainOptions& options,
                           const StepCallback& on_step = {});

// Top-1 accuracy in [0, 1] in eval mode.
Result<double> Evaluate(Model& model, const HostTensor& samples, const std::vector<int32_t>& labels,
                        int batch_size = 256);

// ---- export

// The float Graph (batch 1) computing the model in eval mode: batch norms folded into the
// conv/depthwise/FC before them (running statistics) or, elsewhere, MUL and ADD by
// per-channel constants; RELU/RELU6 after conv/FC/ADD fused into it when nothing else reads
// the unfused value. Weights are the raw parameters (transforms are not applied).
// When `layer_tensors` is given, it receives for each layer the graph tensor holding its
// value, or -1 for a layer whose value the graph does not keep (a conv whose batch norm
// or activation was folded/fused into it: the later layer owns the tensor).
Result<Graph> ToGraph(const Model& model, std::vector<int>* layer_tensors = nullptr);

// The inverse for float models in training's vocabulary (e.g. what `qaudit train` wrote):
// CONV_2D, DEPTHWISE_CONV_2D (depth multiplier 1), FULLY_CONNECTED, MAX/AVERAGE_POOL_2D,
// ADD, MEAN over height and width, RESHAPE, RELU, RELU6, HARD_SWISH, with square kernels
// and fused ReLU/ReLU6. A final SOFTMAX is left out (training takes logits) and reported
// in `final_softmax`. Unsupported, naming the operator, for anything else.
struct ImportedModel {
  std::unique_ptr<Model> model;
  bool final_softmax = false;
};
Result<ImportedModel> FromGraph(const Graph& graph, int num_threads = 2);

}  // namespace qaudit::train

#endif  // QAUDIT_TRAIN_H_
