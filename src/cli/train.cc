// qaudit train: train a zoo model on Fashion-MNIST (or other labelled data) and write it as
// a float .tflite.
#include <cstdio>
#include <cstdlib>

#include "cli/cli.h"
#include "core/json.h"
#include "cli/progress.h"
#include "cli/training_data.h"
#include "qaudit/tflite.h"
#include "qaudit/zoo.h"

namespace qaudit::cli {
namespace {

constexpr const char* kHelp = R"HELP(usage: qaudit train --arch cnn|mobilenet|mlp [options] -o FLOAT.tflite

Trains a model of qaudit's zoo and writes it as a float .tflite (batch norms folded, ReLUs
fused, as the TFLite converter writes a Keras model), after checking it computes what the
trained model computes. The models take 28x28x1 images with values in [0, 1].

architectures:
  cnn        conv3x3(32)+ReLU, maxpool 2, conv3x3(64)+ReLU, maxpool 2, FC128+ReLU, FC10:
             4.24 M MAC per image (default recipe: 5 epochs, Adam 1e-3, cosine decay)
  mobilenet  a small MobileNetV2: inverted residual blocks with depthwise 3x3, batch norm,
             ReLU6, residual ADDs, global average pooling, FC10 (6 epochs, Adam 2e-3)
  mlp        784-256-128-10 with ReLU (5 epochs, Adam 1e-3)

options:
  --data DATA        labelled training data (default fmnist:train); see `qaudit quantize
                     --help` for the forms of DATA
  --test-data DATA   labelled data for the accuracy printed at the end (default
                     fmnist:test; "none" to skip)
  --epochs N         epochs (default: the architecture's recipe)
  --batch N          batch size (default 128)
  --lr X             base learning rate (default: the recipe's)
  --optimizer NAME   adam (default) or sgd (momentum 0.9)
  --weight-decay X   decoupled weight decay for adam, L2 for sgd (default 0)
  --seed N           weight initialisation and shuffling (default 0)
  --threads N        threads (default 2)
  --json             print a summary as JSON on stdout
  -o, --output FILE  where to write the float model (required; never half-written)
)HELP";

}  // namespace

int Train(int argc, char** argv) {
  constexpr const char* kCommand = "train";
  Args args(argc, argv, 2);
  if (args.Flag("--help") || args.Flag("-h")) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  const std::string arch_name = args.Value("--arch");
  TrainingFlags flags = TrainingFlags::Read(args, "fmnist:train");
  const bool json = args.Flag("--json");
  std::string output = args.Value("--output");
  if (output.empty()) output = args.Value("-o");
  auto positionals = args.Positionals();
  if (!positionals.ok()) return Fail(kCommand, positionals.status());
  if (!positionals->empty() || output.empty() || arch_name.empty()) {
    std::fputs("usage: qaudit train --arch cnn|mobilenet|mlp [options] -o FLOAT.tflite (--help for more)\n", stderr);
    return kExitBadInput;
  }
  const auto arch = zoo::ArchitectureFromName(arch_name);
  if (!arch) return Fail(kCommand, Status::InvalidArgument("--arch '" + arch_name + "': expected cnn, mobilenet or mlp"));
  const zoo::Recipe recipe = zoo::DefaultRecipe(*arch);
  auto setup = flags.Resolve(recipe);
  if (!setup.ok()) return Fail(kCommand, setup.status());

  std::unique_ptr<train::Model> model = zoo::Build(*arch, setup->seed, setup->threads);
  auto data = LoadTrainingData(*model, flags.data, flags.test_data);
  if (!data.ok()) return Fail(kCommand, data.status());
  auto summary = RunTraining(*model, *data, *setup, "training " + arch_name, !json);
  if (!summary.ok()) return Fail(kCommand, summary.status());
  auto graph = train::ToGraph(*model);
  if (!graph.ok()) return Fail(kCommand, graph.status());
  graph->description = std::string("qaudit zoo ") + arch_name;
  auto accuracy = TestAccuracy(*graph, *data);
  if (!accuracy.ok()) return Fail(kCommand, accuracy.status());
  if (Status s = WriteTfliteFile(*graph, output); !s.ok()) return Fail(kCommand, s);
  if (json) {
    std::printf("{\"arch\":%s,\"output\":%s,\"epochs\":%d,\"seconds\":%s,\"seconds_per_epoch\":%s,\"final_loss\":%s,"
                "\"test_top1\":%s}\n",
                JsonString(arch_name).c_str(), JsonString(output).c_str(), setup->options.epochs,
                JsonNumber(summary->seconds).c_str(), JsonNumber(summary->seconds / setup->options.epochs).c_str(),
                JsonNumber(summary->last_epoch_mean_loss).c_str(), JsonNumber(*accuracy).c_str());
    return kExitOk;
  }
  std::printf("trained %s for %d epochs in %.1f s (%.1f s per epoch), last epoch's mean loss %.4f\n", arch_name.c_str(),
              setup->options.epochs, summary->seconds, summary->seconds / setup->options.epochs,
              summary->last_epoch_mean_loss);
  if (*accuracy >= 0) {
    std::printf("top-1 on %s: %.2f%% (the written float model, run by qaudit's executor)\n", flags.test_data.c_str(),
                100 * *accuracy);
  }
  std::printf("wrote %s\n", output.c_str());
  return kExitOk;
}

}  // namespace qaudit::cli
