#include "cli/training_data.h"

#include <cstdio>
#include <cstdlib>

#include "cli/progress.h"
#include "core/values.h"
#include "qaudit/executor.h"

namespace qaudit::cli {

TrainingFlags TrainingFlags::Read(Args& args, const std::string& default_data) {
  TrainingFlags f;
  f.data = args.Value("--data", default_data);
  f.test_data = args.Value("--test-data", "fmnist:test");
  f.epochs = args.Value("--epochs");
  f.batch = args.Value("--batch", "128");
  f.lr = args.Value("--lr");
  f.optimizer = args.Value("--optimizer", "adam");
  f.weight_decay = args.Value("--weight-decay", "0");
  f.seed = args.Value("--seed", "0");
  f.threads = args.Value("--threads", "2");
  return f;
}

namespace {

Result<double> Number(const std::string& text, const char* option, double lo, double hi) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !(v >= lo && v <= hi)) {
    return Status::InvalidArgument(std::string(option) + " '" + text + "' must be a number in [" + std::to_string(lo) +
                                   ", " + std::to_string(hi) + "]");
  }
  return v;
}

Result<int32_t> Count(const std::string& text, const char* option, int32_t lo, int32_t hi) {
  QAUDIT_ASSIGN_OR_RETURN(double v, Number(text, option, lo, hi));
  if (v != static_cast<int32_t>(v)) return Status::InvalidArgument(std::string(option) + " '" + text + "' must be a whole number");
  return static_cast<int32_t>(v);
}

}  // namespace

Result<TrainingSetup> TrainingFlags::Resolve(const zoo::Recipe& recipe) const {
  TrainingSetup s;
  s.schedule = recipe.schedule;
  QAUDIT_ASSIGN_OR_RETURN(s.options.epochs, epochs.empty() ? recipe.epochs : Count(epochs, "--epochs", 1, 100000));
  QAUDIT_ASSIGN_OR_RETURN(s.options.batch_size, Count(batch, "--batch", 1, 1 << 20));
  if (!lr.empty()) {
    QAUDIT_ASSIGN_OR_RETURN(double v, Number(lr, "--lr", 1e-9, 10));
    s.schedule.base_lr = static_cast<float>(v);
  }
  if (optimizer != "adam" && optimizer != "sgd") {
    return Status::InvalidArgument("--optimizer '" + optimizer + "': expected adam or sgd");
  }
  s.optimizer = optimizer;
  QAUDIT_ASSIGN_OR_RETURN(double wd, Number(weight_decay, "--weight-decay", 0, 1));
  s.weight_decay = static_cast<float>(wd);
  QAUDIT_ASSIGN_OR_RETURN(double seed_value, Number(seed, "--seed", 0, 1e15));
  s.seed = static_cast<uint64_t>(seed_value);
  s.options.seed = s.seed;
  QAUDIT_ASSIGN_OR_RETURN(s.threads, Count(threads, "--threads", 1, 256));
  return s;
}

namespace {

Result<std::pair<HostTensor, std::vector<int32_t>>> LoadSplit(const train::Model& model, const std::string& spec) {
  QAUDIT_ASSIGN_OR_RETURN(Dataset d, LoadDataset(spec));
  if (d.labels.empty()) return Status::InvalidArgument(spec + ": training needs labels (class folders, npz with y, IDX with a labels file, fmnist)");
  Shape shape = model.layers()[model.input()].shape;
  shape.insert(shape.begin(), 1);
  QAUDIT_ASSIGN_OR_RETURN(HostTensor x, FitToInput(d, InputSpec{"model input", DType::kFloat32, shape, {}}));
  return std::pair{std::move(x), std::move(d.labels)};
}

}  // namespace

Result<TrainingData> LoadTrainingData(const train::Model& model, const std::string& data, const std::string& test_data) {
  TrainingData t;
  QAUDIT_ASSIGN_OR_RETURN(auto train_split, LoadSplit(model, data == "fmnist" ? "fmnist:train" : data));
  t.train_x = std::move(train_split.first);
  t.train_y = std::move(train_split.second);
  if (test_data != "none") {
    QAUDIT_ASSIGN_OR_RETURN(auto test_split, LoadSplit(model, test_data));
    t.test_x = std::move(test_split.first);
    t.test_y = std::move(test_split.second);
    t.has_test = true;
  }
  return t;
}

Result<train::TrainSummary> RunTraining(train::Model& model, const TrainingData& data, const TrainingSetup& setup,
                                        const std::string& what, bool show_progress) {
  std::unique_ptr<train::Optimizer> optimizer;
  if (setup.optimizer == "sgd") {
    train::SgdOptions o;
    o.weight_decay = setup.weight_decay;
    optimizer = train::MakeSgd(o);
  } else {
    train::AdamOptions o;
    o.weight_decay = setup.weight_decay;
    optimizer = train::MakeAdam(o);
  }
  ProgressBar bar(what, "samples", show_progress && isatty(STDERR_FILENO));
  const int64_t samples = data.train_x.shape[0];
  float smoothed_loss = -1;
  auto on_step = [&](const train::StepInfo& info) {
    smoothed_loss = smoothed_loss < 0 ? info.loss : 0.98f * smoothed_loss + 0.02f * info.loss;
    char extra[96];
    std::snprintf(extra, sizeof(extra), "epoch %d/%d, loss %.4f", info.epoch + 1, setup.options.epochs, smoothed_loss);
    bar.Update(std::min(info.step * setup.options.batch_size, samples * setup.options.epochs),
               samples * setup.options.epochs, extra);
  };
  return train::Train(model, data.train_x, data.train_y, *optimizer, setup.schedule, setup.options, on_step);
}

Result<double> TestAccuracy(const Graph& graph, const TrainingData& data, Numerics numerics) {
  if (!data.has_test) return -1.0;
  QAUDIT_ASSIGN_OR_RETURN(auto executor, Executor::Create(graph, ExecutorOptions{numerics, 2}));
  const Tensor& in = graph.tensors[graph.inputs[0]];
  HostTensor x = data.test_x;
  if (in.dtype != DType::kFloat32) {
    return Status::InvalidArgument("test accuracy needs a model with a float input");
  }
  QAUDIT_ASSIGN_OR_RETURN(auto outputs, executor->RunBatch({x}));
  const Tensor& out = graph.tensors[graph.outputs[0]];
  const int64_t n = static_cast<int64_t>(data.test_y.size());
  const int64_t per = outputs[0].num_elements() / n;
  int64_t correct = 0;
  for (int64_t s = 0; s < n; ++s) {
    const std::vector<float> v = RealValues(outputs[0], out.quant, s * per, per);
    correct += ArgMax(v.data(), per) == data.test_y[s];
  }
  return static_cast<double>(correct) / n;
}

}  // namespace qaudit::cli
