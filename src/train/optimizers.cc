#include <cmath>
#include <unordered_map>

#include "qaudit/train.h"

namespace qaudit::train {
namespace {

class Sgd : public Optimizer {
 public:
  explicit Sgd(const SgdOptions& o) : options_(o) {}

  void Step(const std::vector<Parameter*>& params, float lr) override {
    for (Parameter* p : params) {
      std::vector<float>& velocity = velocity_[p];
      velocity.resize(p->value.data.size(), 0.0f);
      const float decay = p->decay ? options_.weight_decay : 0.0f;
      for (size_t i = 0; i < velocity.size(); ++i) {
        const float g = p->grad.data[i] + decay * p->value.data[i];
        velocity[i] = options_.momentum * velocity[i] + g;
        // Nesterov: step along the gradient plus the look-ahead momentum.
        const float step = options_.nesterov ? g + options_.momentum * velocity[i] : velocity[i];
        p->value.data[i] -= lr * step;
      }
    }
  }

 private:
  SgdOptions options_;
  std::unordered_map<const Parameter*, std::vector<float>> velocity_;
};

class Adam : public Optimizer {
 public:
  explicit Adam(const AdamOptions& o) : options_(o) {}

  void Step(const std::vector<Parameter*>& params, float lr) override {
    ++steps_;
    const double correction1 = 1.0 - std::pow(double{options_.beta1}, steps_);
    const double correction2 = 1.0 - std::pow(double{options_.beta2}, steps_);
    const float step_size = static_cast<float>(lr * std::sqrt(correction2) / correction1);
    for (Parameter* p : params) {
      Moments& m = moments_[p];
      m.first.resize(p->value.data.size(), 0.0f);
      m.second.resize(p->value.data.size(), 0.0f);
      const float decay = p->decay ? lr * options_.weight_decay : 0.0f;
      for (size_t i = 0; i < m.first.size(); ++i) {
        const float g = p->grad.data[i];
        m.first[i] = options_.beta1 * m.first[i] + (1 - options_.beta1) * g;
        m.second[i] = options_.beta2 * m.second[i] + (1 - options_.beta2) * g * g;
        p->value.data[i] -= decay * p->value.data[i];
        // Keras's epsilon placement: eps is added to sqrt(v_hat * correction2).
        p->value.data[i] -= step_size * m.first[i] / (std::sqrt(m.second[i]) + options_.epsilon);
      }
    }
  }

 private:
  struct Moments {
    std::vector<float> first, second;
  };
  AdamOptions options_;
  int64_t steps_ = 0;
  std::unordered_map<const Parameter*, Moments> moments_;
};

}  // namespace

std::unique_ptr<Optimizer> MakeSgd(const SgdOptions& options) { return std::make_unique<Sgd>(options); }
std::unique_ptr<Optimizer> MakeAdam(const AdamOptions& options) { return std::make_unique<Adam>(options); }

float LrSchedule::At(int64_t step) const {
  if (step < warmup_steps) return base_lr * static_cast<float>(step + 1) / static_cast<float>(warmup_steps);
  const int64_t after = step - warmup_steps;
  switch (kind) {
    case Kind::kConstant:
      return base_lr;
    case Kind::kStep:
      return base_lr * std::pow(gamma, static_cast<float>(after / std::max<int64_t>(step_size, 1)));
    case Kind::kCosine: {
      constexpr double kPi = 3.14159265358979323846;
      const int64_t span = std::max<int64_t>(total_steps - warmup_steps, 1);
      const double t = std::min(1.0, static_cast<double>(after) / static_cast<double>(span));
      return static_cast<float>(min_lr + (base_lr - min_lr) * 0.5 * (1.0 + std::cos(kPi * t)));
    }
  }
  return base_lr;
}

}  // namespace qaudit::train
