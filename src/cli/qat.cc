// qaudit qat: quantization-aware training, exported through the int8 quantize pass.
#include <cstdio>
#include <cstdlib>

#include "cli/cli.h"
#include "core/json.h"
#include "cli/training_data.h"
#include "qaudit/qat.h"
#include "qaudit/tflite.h"
#include "qaudit/zoo.h"

namespace qaudit::cli {
namespace {

constexpr const char* kHelp = R"HELP(usage: qaudit qat FLOAT.tflite --data DATA [options] -o INT8.tflite
       qaudit qat --arch cnn|mobilenet|mlp [--float-epochs N] --data DATA [options] -o INT8.tflite

Quantization-aware training. Fake-quant operations with TensorFlow's FakeQuantWithMinMaxVars
semantics (ranges nudged so that 0 is exact; straight-through gradient inside the range;
min and max receive the gradients of the values clipped below and above) are put on the
model input, every weight tensor (per channel, symmetric, int8 in [-127, 127]; per tensor
for FULLY_CONNECTED unless --per-channel) and every tensor the int8 model will hold. After
training, the model is exported through the same quantize pass as `qaudit quantize
--method int8`, with the ranges training arrived at, so the int8 model computes what
training simulated. Both accuracies are printed: the fake-quant model's (qaudit's trainer,
evaluation mode) and the written int8 model's (qaudit's executor, tflite numerics).

FLOAT.tflite is a float model such as `qaudit train` writes (CONV_2D, DEPTHWISE_CONV_2D,
FULLY_CONNECTED, pooling, ADD, MEAN, RESHAPE, RELU, RELU6, HARD_SWISH; a final SOFTMAX is
kept out of training and put back on export). With --arch, the zoo model is trained in
float first (--float-epochs, default its recipe) and keeps its batch norms for QAT.

options:
  --data DATA        labelled training data (default fmnist:train; "fmnist" means the
                     training split)
  --test-data DATA   labelled data for the printed accuracies (default fmnist:test)
  --epochs N         QAT epochs (default 1)
  --lr X             learning rate (default 1e-4, constant)
  --ranges MODE      ema (default): tfmot's moving average of batch min/max; learned:
                     trainable min/max (PACT/LSQ-style) that get FakeQuant's range gradients
  --ema-decay X      the moving average's decay (default 0.999, tfmot's)
  --tfmot-init       start the moving averages at [-6, 6] as tfmot does (default: at the
                     first batch's range)
  --bn MODE          with --arch: fold (default) folds batch norms into the conv before
                     fake-quantizing the weights, so the int8 weights are the simulated
                     ones; tfmot quantizes weights before folding, as tfmot does, and the
                     exported weights then differ from the simulated ones
  --per-channel      per-channel FULLY_CONNECTED weights too
  --batch N, --optimizer adam|sgd, --weight-decay X, --seed N, --threads N: as for train
  --json             print a summary as JSON on stdout
  -o, --output FILE  where to write the int8 model (required; never half-written)
)HELP";

}  // namespace

int Qat(int argc, char** argv) {
  constexpr const char* kCommand = "qat";
  Args args(argc, argv, 2);
  if (args.Flag("--help") || args.Flag("-h")) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  const std::string arch_name = args.Value("--arch");
  const std::string float_epochs = args.Value("--float-epochs");
  const std::string ranges = args.Value("--ranges", "ema");
  const std::string ema_decay = args.Value("--ema-decay", "0.999");
  const bool tfmot_init = args.Flag("--tfmot-init");
  const std::string bn = args.Value("--bn", "fold");
  const bool per_channel = args.Flag("--per-channel");
  TrainingFlags flags = TrainingFlags::Read(args, "fmnist:train");
  if (flags.epochs.empty()) flags.epochs = "1";
  if (flags.lr.empty()) flags.lr = "1e-4";
  const bool json = args.Flag("--json");
  std::string output = args.Value("--output");
  if (output.empty()) output = args.Value("-o");
  auto positionals = args.Positionals();
  if (!positionals.ok()) return Fail(kCommand, positionals.status());
  if (output.empty() || (positionals->size() == 1) == !arch_name.empty() || positionals->size() > 1) {
    std::fputs("usage: qaudit qat FLOAT.tflite|--arch NAME --data DATA [options] -o INT8.tflite (--help for more)\n",
               stderr);
    return kExitBadInput;
  }
  qat::QatOptions options;
  if (ranges != "ema" && ranges != "learned") return Fail(kCommand, Status::InvalidArgument("--ranges '" + ranges + "': expected ema or learned"));
  options.range_mode = ranges == "ema" ? qat::RangeMode::kMovingAverage : qat::RangeMode::kLearned;
  char* end = nullptr;
  options.ema_decay = std::strtof(ema_decay.c_str(), &end);
  if (*end != '\0' || !(options.ema_decay >= 0 && options.ema_decay < 1)) {
    return Fail(kCommand, Status::InvalidArgument("--ema-decay '" + ema_decay + "' must be in [0, 1)"));
  }
  options.tfmot_initial_range = tfmot_init;
  if (bn != "fold" && bn != "tfmot") return Fail(kCommand, Status::InvalidArgument("--bn '" + bn + "': expected fold or tfmot"));
  options.batch_norm = bn == "fold" ? qat::BatchNormHandling::kFoldFirst : qat::BatchNormHandling::kTfmot;
  options.per_channel_fully_connected = per_channel;

  zoo::Recipe recipe;
  std::unique_ptr<train::Model> model;
  std::string source;
  std::optional<zoo::Architecture> arch;
  if (!arch_name.empty()) {
    arch = zoo::ArchitectureFromName(arch_name);
    if (!arch) return Fail(kCommand, Status::InvalidArgument("--arch '" + arch_name + "': expected cnn, mobilenet or mlp"));
    recipe = zoo::DefaultRecipe(*arch);
    source = "zoo " + arch_name;
  } else {
    source = (*positionals)[0];
  }
  auto setup = flags.Resolve(recipe);
  if (!setup.ok()) return Fail(kCommand, setup.status());
  train::LrSchedule constant;
  constant.base_lr = setup->schedule.base_lr;
  setup->schedule = constant;

  bool final_softmax = false;
  if (arch) {
    model = zoo::Build(*arch, setup->seed, setup->threads);
  } else {
    auto graph = ReadTfliteFile(source);
    if (!graph.ok()) return Fail(kCommand, graph.status());
    auto built = train::FromGraph(*graph, setup->threads);
    if (!built.ok()) return Fail(kCommand, built.status());
    model = std::move(built->model);
    final_softmax = built->final_softmax;
  }
  auto data = LoadTrainingData(*model, flags.data, flags.test_data);
  if (!data.ok()) return Fail(kCommand, data.status());
  if (arch) {
    TrainingSetup float_setup = *setup;
    float_setup.schedule = recipe.schedule;
    float_setup.options.epochs = recipe.epochs;
    if (!float_epochs.empty()) float_setup.options.epochs = std::atoi(float_epochs.c_str());
    if (float_setup.options.epochs < 0) return Fail(kCommand, Status::InvalidArgument("--float-epochs must be >= 0"));
    if (float_setup.options.epochs > 0) {
      auto pre = RunTraining(*model, *data, float_setup, "float " + arch_name, !json);
      if (!pre.ok()) return Fail(kCommand, pre.status());
    }
  }
  auto qat_model = qat::QatModel::Prepare(*model, options);
  if (!qat_model.ok()) return Fail(kCommand, qat_model.status());
  auto summary = RunTraining(*model, *data, *setup, "QAT", !json);
  if (!summary.ok()) return Fail(kCommand, summary.status());
  double fake_quant_accuracy = -1;
  if (data->has_test) {
    auto a = train::Evaluate(*model, data->test_x, data->test_y);
    if (!a.ok()) return Fail(kCommand, a.status());
    fake_quant_accuracy = *a;
  }
  auto int8 = (*qat_model)->Export({}, final_softmax);
  if (!int8.ok()) return Fail(kCommand, int8.status());
  auto int8_accuracy = TestAccuracy(int8->graph, *data);
  if (!int8_accuracy.ok()) return Fail(kCommand, int8_accuracy.status());
  if (Status s = WriteTfliteFile(int8->graph, output); !s.ok()) return Fail(kCommand, s);
  const double gap = 100 * (fake_quant_accuracy - *int8_accuracy);
  if (json) {
    std::printf("{\"model\":%s,\"output\":%s,\"epochs\":%d,\"seconds\":%s,\"seconds_per_epoch\":%s,"
                "\"fake_quant_top1\":%s,\"int8_top1\":%s,\"gap_points\":%s,\"ranges\":%s,\"batch_norm\":%s}\n",
                JsonString(source).c_str(), JsonString(output).c_str(), setup->options.epochs,
                JsonNumber(summary->seconds).c_str(), JsonNumber(summary->seconds / setup->options.epochs).c_str(),
                JsonNumber(fake_quant_accuracy).c_str(), JsonNumber(*int8_accuracy).c_str(), JsonNumber(gap).c_str(),
                JsonString(ranges).c_str(), JsonString(bn).c_str());
    return kExitOk;
  }
  std::printf("QAT of %s: %d epochs in %.1f s (%.1f s per epoch)\n", source.c_str(), setup->options.epochs,
              summary->seconds, summary->seconds / setup->options.epochs);
  if (data->has_test) {
    std::printf("top-1 on %s: fake-quant model %.2f%%, int8 model %.2f%% (gap %+.2f points)\n", flags.test_data.c_str(),
                100 * fake_quant_accuracy, 100 * *int8_accuracy, gap);
  }
  std::printf("wrote %s\n", output.c_str());
  return kExitOk;
}

}  // namespace qaudit::cli
