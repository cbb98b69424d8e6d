#include "qaudit/zoo.h"

namespace qaudit::zoo {

const char* ArchitectureName(Architecture a) {
  switch (a) {
    case Architecture::kCnn: return "cnn";
    case Architecture::kMobilenet: return "mobilenet";
    case Architecture::kMlp: return "mlp";
  }
  return "?";
}

std::optional<Architecture> ArchitectureFromName(const std::string& name) {
  for (Architecture a : {Architecture::kCnn, Architecture::kMobilenet, Architecture::kMlp}) {
    if (name == ArchitectureName(a)) return a;
  }
  return std::nullopt;
}

namespace {

using train::LayerKind;
using train::Model;

// Batch-norm running statistics follow PyTorch's default pace (Keras momentum 0.9): with
// Keras's 0.99 they lag behind for the first few hundred steps, and short runs evaluate
// with stale statistics.
constexpr float kBatchNormMomentum = 0.9f;

int ConvBn(Model& m, int x, int channels, int kernel, int stride, Activation act) {
  x = m.Conv2D(x, channels, kernel, stride, Padding::kSame, Activation::kNone, /*use_bias=*/false);
  return m.BatchNorm(x, act, kBatchNormMomentum);
}

int DepthwiseBn(Model& m, int x, int stride) {
  x = m.DepthwiseConv2D(x, 3, stride, Padding::kSame, Activation::kNone, /*use_bias=*/false);
  return m.BatchNorm(x, Activation::kRelu6, kBatchNormMomentum);
}

// MobileNetV2's inverted residual: expand x6 (here x4), depthwise, linear projection, and a
// residual ADD when the block keeps the size.
int InvertedResidual(Model& m, int x, int out_channels, int expansion, int stride) {
  const int in_channels = m.layers()[x].shape.back();
  int y = ConvBn(m, x, in_channels * expansion, 1, 1, Activation::kRelu6);
  y = DepthwiseBn(m, y, stride);
  y = ConvBn(m, y, out_channels, 1, 1, Activation::kNone);
  if (stride == 1 && in_channels == out_channels) y = m.Add(x, y);
  return y;
}

}  // namespace

std::unique_ptr<train::Model> Build(Architecture a, uint64_t seed, int num_threads) {
  auto m = std::make_unique<Model>(seed, num_threads);
  int x = m->Input("image", {28, 28, 1});
  switch (a) {
    case Architecture::kCnn:
      x = m->Conv2D(x, 32, 3, 1, Padding::kSame, Activation::kRelu);
      x = m->MaxPool2D(x, 2, 2);
      x = m->Conv2D(x, 64, 3, 1, Padding::kSame, Activation::kRelu);
      x = m->MaxPool2D(x, 2, 2);
      x = m->Reshape(x, {7 * 7 * 64});
      x = m->FullyConnected(x, 128, Activation::kRelu);
      x = m->FullyConnected(x, 10);
      break;
    case Architecture::kMobilenet:
      // The stem halves the resolution, as MobileNetV2's does: blocks at 14x14 and 7x7.
      x = ConvBn(*m, x, 16, 3, 2, Activation::kRelu6);
      x = InvertedResidual(*m, x, 16, 4, 1);
      x = InvertedResidual(*m, x, 24, 4, 1);
      x = InvertedResidual(*m, x, 24, 4, 1);
      x = InvertedResidual(*m, x, 32, 4, 2);
      x = InvertedResidual(*m, x, 32, 4, 1);
      x = InvertedResidual(*m, x, 32, 4, 1);
      x = ConvBn(*m, x, 128, 1, 1, Activation::kRelu6);
      x = m->GlobalAveragePool(x);
      x = m->FullyConnected(x, 10);
      break;
    case Architecture::kMlp:
      x = m->Reshape(x, {28 * 28});
      x = m->FullyConnected(x, 256, Activation::kRelu);
      x = m->FullyConnected(x, 128, Activation::kRelu);
      x = m->FullyConnected(x, 10);
      break;
  }
  m->SetOutput(x);
  return m;
}

Recipe DefaultRecipe(Architecture a) {
  Recipe r;
  r.schedule.base_lr = 1e-3f;
  r.schedule.kind = train::LrSchedule::Kind::kCosine;
  r.epochs = a == Architecture::kMobilenet ? 6 : 5;
  if (a == Architecture::kMobilenet) r.schedule.base_lr = 2e-3f;
  return r;
}

}  // namespace qaudit::zoo
