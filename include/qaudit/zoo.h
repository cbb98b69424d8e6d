// The model zoo: small networks for Fashion-MNIST (28x28x1 inputs, 10 classes) that qaudit
// trains itself, since no float ImageNet models exist on these machines. Each is a
// train::Model ready for Train(), QAT and export to a float .tflite.
#ifndef QAUDIT_ZOO_H_
#define QAUDIT_ZOO_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "qaudit/train.h"

namespace qaudit::zoo {

enum class Architecture {
  // conv3x3(32)+ReLU, maxpool 2, conv3x3(64)+ReLU, maxpool 2, FC128+ReLU, FC10 (SAME
  // padding): 4.24 M MAC per image, the common PyTorch Fashion-MNIST baseline.
  kCnn,
  // A small MobileNetV2: a stride-2 stem, six inverted residual blocks (1x1 expand x4,
  // depthwise 3x3, 1x1 linear project, each with batch norm; ReLU6) at 14x14 and 7x7,
  // residual ADDs, a 1x1 conv to 128, global average pooling, FC10.
  // The kind of network on which per-tensor weight quantization is known to collapse.
  kMobilenet,
  // 784-256-128-10 with ReLU.
  kMlp,
};
const char* ArchitectureName(Architecture a);  // "cnn", "mobilenet", "mlp"
std::optional<Architecture> ArchitectureFromName(const std::string& name);

// A freshly initialised model (weights drawn from `seed`) computing with `num_threads`.
std::unique_ptr<train::Model> Build(Architecture a, uint64_t seed = 0, int num_threads = 2);

// The training recipe each architecture reaches its accuracy target with.
struct Recipe {
  int epochs = 5;
  int batch_size = 128;
  train::LrSchedule schedule;
  train::AdamOptions adam;
};
Recipe DefaultRecipe(Architecture a);

}  // namespace qaudit::zoo

#endif  // QAUDIT_ZOO_H_
