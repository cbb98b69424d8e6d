#include <chrono>
#include <cstring>

#include "qaudit/train.h"

namespace qaudit::train {
namespace {

// A uniform draw from [0, bound) by rejection, so that it depends only on the generator's
// output (std::uniform_int_distribution differs between standard libraries).
uint64_t UniformBelow(std::mt19937_64& rng, uint64_t bound) {
  const uint64_t threshold = (0 - bound) % bound;  // 2^64 mod bound: the biased low values
  for (;;) {
    const uint64_t r = rng();
    if (r >= threshold) return r % bound;
  }
}

Status CheckData(const Model& model, const HostTensor& samples, const std::vector<int32_t>& labels) {
  const Shape& in = model.layers()[model.input()].shape;
  const int64_t classes = NumElements(model.layers()[model.output()].shape);
  if (samples.dtype != DType::kFloat32 || samples.shape.empty()) {
    return Status::InvalidArgument("training data must be float32 [N, ...], got " +
                                   std::string(DTypeName(samples.dtype)) + " " + ShapeToString(samples.shape));
  }
  const int64_t n = samples.shape[0];
  if (n == 0 || samples.num_elements() != n * NumElements(in)) {
    return Status::InvalidArgument("samples " + ShapeToString(samples.shape) + " do not fit the model input " +
                                   ShapeToString(in));
  }
  if (static_cast<int64_t>(labels.size()) != n) {
    return Status::InvalidArgument(std::to_string(labels.size()) + " labels for " + std::to_string(n) + " samples");
  }
  for (size_t i = 0; i < labels.size(); ++i) {
    if (labels[i] < 0 || labels[i] >= classes) {
      return Status::InvalidArgument("label " + std::to_string(labels[i]) + " of sample " + std::to_string(i) +
                                     " is outside [0, " + std::to_string(classes) + ")");
    }
  }
  return Status::Ok();
}

// Copies samples order[first, first + count) into a batch.
void Gather(const HostTensor& samples, const std::vector<int64_t>& order, int64_t first, int64_t count,
            const Shape& sample_shape, const std::vector<int32_t>& labels, Array& batch,
            std::vector<int32_t>& batch_labels) {
  Shape shape{static_cast<int32_t>(count)};
  shape.insert(shape.end(), sample_shape.begin(), sample_shape.end());
  batch.Resize(shape);
  batch_labels.resize(count);
  const int64_t size = NumElements(sample_shape);
  for (int64_t i = 0; i < count; ++i) {
    const int64_t s = order[first + i];
    std::memcpy(batch.data.data() + i * size, samples.data<float>() + s * size, size * sizeof(float));
    batch_labels[i] = labels[s];
  }
}

}  // namespace

std::vector<int64_t> EpochOrder(int64_t n, uint64_t seed, int epoch) {
  std::mt19937_64 rng(seed + 0x9E3779B97F4A7C15ull * static_cast<uint64_t>(epoch + 1));
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  for (int64_t i = n - 1; i > 0; --i) std::swap(order[i], order[UniformBelow(rng, static_cast<uint64_t>(i) + 1)]);
  return order;
}

Result<TrainSummary> Train(Model& model, const HostTensor& samples, const std::vector<int32_t>& labels,
                           Optimizer& optimizer, LrSchedule schedule, const TrainOptions& options,
                           const StepCallback& on_step) {
  QAUDIT_RETURN_IF_ERROR(CheckData(model, samples, labels));
  if (options.epochs < 1 || options.batch_size < 1) {
    return Status::InvalidArgument("epochs and batch size must be positive, got " + std::to_string(options.epochs) +
                                   " and " + std::to_string(options.batch_size));
  }
  const int64_t n = samples.shape[0];
  const int64_t steps_per_epoch =
      options.drop_last ? n / options.batch_size : (n + options.batch_size - 1) / options.batch_size;
  if (steps_per_epoch == 0)
    return Status::InvalidArgument("drop_last leaves no batch of " + std::to_string(options.batch_size));
  const int64_t total_steps = steps_per_epoch * options.epochs;
  if (schedule.total_steps == 0) schedule.total_steps = total_steps;

  const Shape& sample_shape = model.layers()[model.input()].shape;
  const std::vector<Parameter*> params = model.parameters();
  const auto start = std::chrono::steady_clock::now();
  TrainSummary summary;
  Array batch, dlogits;
  std::vector<int32_t> batch_labels;
  int64_t samples_done = 0;
  for (int epoch = 0; epoch < options.epochs; ++epoch) {
    const std::vector<int64_t> order = EpochOrder(n, options.seed, epoch);
    double loss_sum = 0;
    for (int64_t step = 0; step < steps_per_epoch; ++step) {
      const int64_t first = step * options.batch_size;
      const int64_t count = std::min<int64_t>(options.batch_size, n - first);
      Gather(samples, order, first, count, sample_shape, labels, batch, batch_labels);
      const Array& logits = model.Forward(batch, Mode::kTraining);
      const float loss = SoftmaxCrossEntropy(logits, batch_labels.data(), &dlogits);
      model.ZeroGrad();
      model.Backward(dlogits);
      const float lr = schedule.At(summary.steps);
      optimizer.Step(params, lr);
      ++summary.steps;
      samples_done += count;
      loss_sum += loss;
      if (on_step) {
        StepInfo info;
        info.epoch = epoch;
        info.step = summary.steps;
        info.steps_per_epoch = steps_per_epoch;
        info.total_steps = total_steps;
        info.loss = loss;
        info.lr = lr;
        info.elapsed_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        info.samples_per_second = samples_done / std::max(info.elapsed_seconds, 1e-9);
        on_step(info);
      }
    }
    summary.last_epoch_mean_loss = static_cast<float>(loss_sum / steps_per_epoch);
  }
  summary.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return summary;
}

Result<double> Evaluate(Model& model, const HostTensor& samples, const std::vector<int32_t>& labels, int batch_size) {
  QAUDIT_RETURN_IF_ERROR(CheckData(model, samples, labels));
  if (batch_size < 1) return Status::InvalidArgument("batch size must be positive, got " + std::to_string(batch_size));
  const int64_t n = samples.shape[0];
  std::vector<int64_t> order(n);
  for (int64_t i = 0; i < n; ++i) order[i] = i;
  const Shape& sample_shape = model.layers()[model.input()].shape;
  Array batch;
  std::vector<int32_t> batch_labels;
  int64_t correct = 0;
  for (int64_t first = 0; first < n; first += batch_size) {
    const int64_t count = std::min<int64_t>(batch_size, n - first);
    Gather(samples, order, first, count, sample_shape, labels, batch, batch_labels);
    const Array& logits = model.Forward(batch, Mode::kEval);
    const int64_t classes = logits.size() / count;
    for (int64_t i = 0; i < count; ++i) {
      const float* z = logits.data.data() + i * classes;
      correct += std::max_element(z, z + classes) - z == batch_labels[i];
    }
  }
  return static_cast<double>(correct) / static_cast<double>(n);
}

}  // namespace qaudit::train
