// What `qaudit train` and `qaudit qat` share: training flags, labelled data fitted to a
// train::Model, the training loop with a progress bar, and test accuracy of a graph.
#ifndef QAUDIT_SRC_CLI_TRAINING_DATA_H_
#define QAUDIT_SRC_CLI_TRAINING_DATA_H_

#include <string>
#include <vector>

#include "cli/cli.h"
#include "qaudit/data.h"
#include "qaudit/executor.h"
#include "qaudit/graph.h"
#include "qaudit/train.h"
#include "qaudit/zoo.h"

namespace qaudit::cli {

struct TrainingSetup {
  train::TrainOptions options;
  train::LrSchedule schedule;
  std::string optimizer = "adam";
  float weight_decay = 0.0f;
  uint64_t seed = 0;
  int threads = 2;
};

// The flags as given; Resolve fills what was not given from a recipe.
struct TrainingFlags {
  std::string data, test_data, epochs, batch, lr, optimizer, weight_decay, seed, threads;

  static TrainingFlags Read(Args& args, const std::string& default_data);
  Result<TrainingSetup> Resolve(const zoo::Recipe& recipe) const;
};

struct TrainingData {
  HostTensor train_x, test_x;  // [N, ...model input], float32
  std::vector<int32_t> train_y, test_y;
  bool has_test = false;
};

// Loads both splits; "fmnist" as training data means fmnist:train.
Result<TrainingData> LoadTrainingData(const train::Model& model, const std::string& data, const std::string& test_data);

// Trains with a progress bar (loss, rate, time left) on stderr when `show_progress`.
Result<train::TrainSummary> RunTraining(train::Model& model, const TrainingData& data, const TrainingSetup& setup,
                                        const std::string& what, bool show_progress);

// Top-1 of `graph` on the test split, run by the executor in `numerics`; -1 without one.
Result<double> TestAccuracy(const Graph& graph, const TrainingData& data, Numerics numerics = Numerics::kTflite);

}  // namespace qaudit::cli

#endif  // QAUDIT_SRC_CLI_TRAINING_DATA_H_
