// Training throughput and accuracy of the engine in src/train: the zoo's `cnn` on the
// 60,000 Fashion-MNIST training images, Adam, then top-1 accuracy on the 10,000 test images.
// --qat trains with qaudit's QAT (qat::QatModel: fake-quant weights, int32 bias grid,
// requantized outputs, moving-average ranges), to measure what quantization-aware training
// costs; --arch picks the zoo model.
//
//   bench/train_bench [--arch cnn|mobilenet|mlp] [--epochs E] [--batch B] [--threads T]
//                     [--lr LR] [--seed S] [--train SPEC (default fmnist:train)] [--qat]
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "qaudit/data.h"
#include "qaudit/qat.h"
#include "qaudit/train.h"
#include "qaudit/zoo.h"

namespace qaudit {
namespace {

Result<std::pair<HostTensor, std::vector<int32_t>>> Load(const std::string& spec) {
  QAUDIT_ASSIGN_OR_RETURN(Dataset d, LoadDataset(spec));
  InputSpec input;
  input.name = "image";
  input.shape = {1, 28, 28, 1};
  QAUDIT_ASSIGN_OR_RETURN(HostTensor x, FitToInput(d, input));
  return std::make_pair(std::move(x), std::move(d.labels));
}

int Main(int argc, char** argv) {
  int epochs = 1, batch = 128, threads = 2;
  float lr = 1e-3f;
  uint64_t seed = 1;
  bool qat = false;
  std::string train_spec = "fmnist:train", arch_name = "cnn";
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const bool has_value = i + 1 < argc;
    if (a == "--epochs" && has_value)
      epochs = std::atoi(argv[++i]);
    else if (a == "--batch" && has_value)
      batch = std::atoi(argv[++i]);
    else if (a == "--threads" && has_value)
      threads = std::atoi(argv[++i]);
    else if (a == "--lr" && has_value)
      lr = std::strtof(argv[++i], nullptr);
    else if (a == "--seed" && has_value)
      seed = std::strtoull(argv[++i], nullptr, 10);
    else if (a == "--train" && has_value)
      train_spec = argv[++i];
    else if (a == "--arch" && has_value)
      arch_name = argv[++i];
    else if (a == "--qat")
      qat = true;
    else {
      std::fprintf(
          stderr,
          "usage: %s [--arch A] [--epochs E] [--batch B] [--threads T] [--lr LR] [--seed S] [--train SPEC] [--qat]\n",
          argv[0]);
      return 2;
    }
  }
  auto train_data = Load(train_spec);
  auto test_data = Load("fmnist:test");
  if (!train_data.ok() || !test_data.ok()) {
    std::fprintf(stderr, "%s\n", (train_data.ok() ? test_data.status() : train_data.status()).message().c_str());
    return 1;
  }
  const auto arch = zoo::ArchitectureFromName(arch_name);
  if (!arch) {
    std::fprintf(stderr, "unknown --arch %s\n", arch_name.c_str());
    return 2;
  }
  std::unique_ptr<train::Model> model_owner = zoo::Build(*arch, seed, threads);
  train::Model& model = *model_owner;
  std::unique_ptr<qat::QatModel> qat_model;
  if (qat) {
    auto prepared = qat::QatModel::Prepare(model, {});
    if (!prepared.ok()) {
      std::fprintf(stderr, "%s\n", prepared.status().message().c_str());
      return 1;
    }
    qat_model = std::move(*prepared);
  }
  auto adam = train::MakeAdam();
  train::LrSchedule schedule;
  schedule.base_lr = lr;
  std::printf("%s on %s, batch %d, %d threads, Adam lr %g%s\n", arch_name.c_str(), train_spec.c_str(), batch, threads,
              lr, qat ? ", QAT" : "");
  for (int epoch = 0; epoch < epochs; ++epoch) {
    train::TrainOptions options;
    options.batch_size = batch;
    options.seed = seed + epoch;
    auto summary = train::Train(model, train_data->first, train_data->second, *adam, schedule, options);
    if (!summary.ok()) {
      std::fprintf(stderr, "%s\n", summary.status().message().c_str());
      return 1;
    }
    auto accuracy = train::Evaluate(model, test_data->first, test_data->second);
    if (!accuracy.ok()) {
      std::fprintf(stderr, "%s\n", accuracy.status().message().c_str());
      return 1;
    }
    const double images = static_cast<double>(train_data->first.shape[0]);
    std::printf("epoch %d: %.2f s, %.0f images/s, mean loss %.4f, test top-1 %.2f%%\n", epoch + 1, summary->seconds,
                images / summary->seconds, summary->last_epoch_mean_loss, 100.0 * *accuracy);
    std::fflush(stdout);
  }
  return 0;
}

}  // namespace
}  // namespace qaudit

int main(int argc, char** argv) { return qaudit::Main(argc, argv); }
