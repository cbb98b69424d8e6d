// Finite-difference checks of every backward rule in src/train/gradients.cc.
//
// Each case builds a small model, draws its input and parameters from fixed seeds and
// compares d/dtheta of L = sum(r * output) (r fixed random weights, so every output
// element matters) with the central difference (L(theta + h) - L(theta - h)) / 2h, taken
// in double from the float forward pass, for the input and every parameter (up to 48
// coordinates each).
//
// Tolerances: the error is max |numeric - analytic| / max |analytic| over a tensor's
// checked coordinates. The forward pass is float32, so L carries rounding noise of about
// 1e-7 * sum |r * y|; divided by 2h this is ~1e-5..1e-4 of a typical gradient at h = 1e-2.
// Ops linear in the perturbed value (conv, depthwise, FC, add, pooling, mean, reshape, and
// relu/relu6/hard-swish away from their kinks, where hard-swish is quadratic and the
// central difference is exact) have no truncation error: tolerance 2e-3. Batch norm and
// the loss are smooth but not polynomial: truncation error O(h^2 f''') at h = 1e-2 is
// ~1e-4 relative, plus noise: tolerance 5e-3. Kinks are avoided by construction: inputs
// are distinct values on a grid of step 0.05 offset from 0, +-3 and 6, and fused
// activations use seeds whose pre-activations stay farther from 0 than any perturbation
// moves them; max-pool windows therefore have no ties.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <random>

#include "qaudit/train.h"

namespace qaudit::train {
namespace {

Array RandomArray(const Shape& shape, uint64_t seed, float stddev = 1.0f) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, stddev);
  Array a(shape);
  for (float& v : a.data) v = normal(rng);
  return a;
}

// Distinct values (step 0.05, shuffled) none of which is within 0.02 of 0, +-3 or 6.
Array GridArray(const Shape& shape, uint64_t seed, float first = -4.0f) {
  Array a(shape);
  std::vector<float> values;
  for (float v = first + 0.025f; static_cast<int64_t>(values.size()) < a.size(); v += 0.05f) {
    if (std::fabs(v) < 0.02f || std::fabs(std::fabs(v) - 3.0f) < 0.02f || std::fabs(v - 6.0f) < 0.02f) continue;
    values.push_back(v);
  }
  std::mt19937_64 rng(seed);
  std::shuffle(values.begin(), values.end(), rng);
  std::copy(values.begin(), values.end(), a.data.begin());
  return a;
}

void RandomizeParameters(Model& m, uint64_t seed) {
  uint64_t s = seed;
  for (Parameter* p : m.parameters()) {
    Array r = RandomArray(p->value.shape, ++s, 0.5f);
    if (p->name.find("gamma") != std::string::npos) {
      for (float& v : r.data) v += 1.0f;
    }
    p->value.data = r.data;
  }
}

struct Check {
  std::string what;
  double error = 0;
};

// The weighted output sum L for the current input and parameters.
double Loss(Model& m, const Array& x, const Array& r) {
  const Array& y = m.Forward(x, Mode::kTraining);
  double l = 0;
  for (int64_t i = 0; i < y.size(); ++i) l += double{r.data[i]} * y.data[i];
  return l;
}

// `floor` keeps gradients that are exactly 0 in theory (a bias before a folded batch norm)
// from dividing rounding noise by rounding noise.
double RelativeError(const std::vector<double>& numeric, const std::vector<double>& analytic, double floor = 1e-6) {
  double worst = 0, scale = floor;
  for (size_t i = 0; i < numeric.size(); ++i) {
    worst = std::max(worst, std::fabs(numeric[i] - analytic[i]));
    scale = std::max(scale, std::fabs(analytic[i]));
  }
  return worst / scale;
}

// Numeric against analytic gradient for up to 48 coordinates of `values`.
double CheckTensor(Model& m, Array& x, const Array& r, std::vector<float>& values, const std::vector<float>& analytic,
                   double h, uint64_t seed, double floor) {
  std::vector<size_t> coords(values.size());
  for (size_t i = 0; i < coords.size(); ++i) coords[i] = i;
  std::mt19937_64 rng(seed);
  std::shuffle(coords.begin(), coords.end(), rng);
  coords.resize(std::min<size_t>(coords.size(), 48));
  std::vector<double> numeric, expected;
  for (size_t i : coords) {
    const float saved = values[i];
    values[i] = saved + static_cast<float>(h);
    const double plus = Loss(m, x, r);
    values[i] = saved - static_cast<float>(h);
    const double minus = Loss(m, x, r);
    values[i] = saved;
    // The float perturbation is not exactly h: divide by what was added.
    const double step = double{saved + static_cast<float>(h)} - double{saved - static_cast<float>(h)};
    numeric.push_back((plus - minus) / step);
    expected.push_back(analytic[i]);
  }
  return RelativeError(numeric, expected, floor);
}

// Checks the input gradient and every parameter's; returns the worst relative error.
double CheckModel(Model& m, Array x, double h = 1e-2, uint64_t seed = 7) {
  m.set_input_gradient(true);
  const Array& y0 = m.Forward(x, Mode::kTraining);
  const Array r = RandomArray(y0.shape, seed);
  m.ZeroGrad();
  m.Backward(r);
  const Array input_grad = m.gradient(m.input());
  std::vector<std::vector<float>> param_grads;
  for (Parameter* p : m.parameters()) param_grads.push_back(p->grad.data);

  // A tensor's error is relative to its largest gradient, but at least to 1% of the largest
  // gradient in the model.
  double largest = 0;
  for (float g : input_grad.data) largest = std::max(largest, std::fabs(double{g}));
  for (const std::vector<float>& grads : param_grads) {
    for (float g : grads) largest = std::max(largest, std::fabs(double{g}));
  }
  const double floor = 0.01 * largest;
  double worst = CheckTensor(m, x, r, x.data, input_grad.data, h, seed + 1, floor);
  if (getenv("GRADCHECK_VERBOSE")) printf("  input: %g\n", worst);
  EXPECT_FALSE(std::isnan(worst));
  const std::vector<Parameter*> params = m.parameters();
  for (size_t k = 0; k < params.size(); ++k) {
    const double e = CheckTensor(m, x, r, params[k]->value.data, param_grads[k], h, seed + 2 + k, floor);
    SCOPED_TRACE(params[k]->name);
    if (getenv("GRADCHECK_VERBOSE")) printf("  %s: %g\n", params[k]->name.c_str(), e);
    EXPECT_FALSE(std::isnan(e));
    worst = std::max(worst, e);
  }
  return worst;
}

// The smallest |pre-activation| of a model without its fused activation, to pick seeds
// whose perturbations never cross the kink; 0 unless a third of them are positive (so
// that the activation passes enough gradient for the check to mean something).
double MinAbsOutput(const std::function<void(Model&, Activation)>& build, uint64_t seed, const Array& x) {
  Model m(seed, 1);
  build(m, Activation::kNone);
  RandomizeParameters(m, seed);
  const Array& y = m.Forward(x, Mode::kTraining);
  double least = 1e9;
  int64_t positive = 0;
  for (float v : y.data) least = std::min(least, std::fabs(double{v})), positive += v > 0;
  return 3 * positive >= y.size() ? least : 0.0;
}

constexpr double kLinearTolerance = 2e-3;
constexpr double kSmoothTolerance = 5e-3;

double CheckBuilt(const std::function<void(Model&)>& build, const Shape& input_shape, bool grid_input = false,
                  uint64_t seed = 1, int threads = 1) {
  Model m(seed, threads);
  build(m);
  RandomizeParameters(m, seed);
  const Array x = grid_input ? GridArray(input_shape, seed) : RandomArray(input_shape, seed);
  return CheckModel(m, x);
}

TEST(GradientCheck, Conv2DStride1Same) {
  const double e = CheckBuilt(
      [](Model& m) {
        m.Conv2D(m.Input("x", {5, 5, 3}), 4, 3, 1, Padding::kSame);
      },
      {2, 5, 5, 3});
  EXPECT_LT(e, kLinearTolerance);
}

TEST(GradientCheck, Conv2DStride2SameEvenAndOddInputs) {
  // 6x6: padding 0 above, 1 below; 7x7: 1 and 1.
  EXPECT_LT(CheckBuilt(
                [](Model& m) {
                  m.Conv2D(m.Input("x", {6, 6, 2}), 3, 3, 2, Padding::kSame);
                },
                {2, 6, 6, 2}),
            kLinearTolerance);
  EXPECT_LT(CheckBuilt(
                [](Model& m) {
                  m.Conv2D(m.Input("x", {7, 7, 2}), 3, 3, 2, Padding::kSame);
                },
                {2, 7, 7, 2}),
            kLinearTolerance);
}

TEST(GradientCheck, Conv2DStride2ValidAndPointwise) {
  EXPECT_LT(CheckBuilt(
                [](Model& m) {
                  m.Conv2D(m.Input("x", {7, 7, 2}), 3, 3, 2, Padding::kValid);
                },
                {2, 7, 7, 2}),
            kLinearTolerance);
  EXPECT_LT(CheckBuilt(
                [](Model& m) {
                  m.Conv2D(m.Input("x", {4, 4, 5}), 3, 1, 1, Padding::kValid);
                },
                {2, 4, 4, 5}),
            kLinearTolerance);
}

TEST(GradientCheck, Conv2DOnTwoThreads) {
  // Many samples, so both workers' partial weight gradients are summed.
  EXPECT_LT(CheckBuilt(
                [](Model& m) {
                  m.Conv2D(m.Input("x", {4, 4, 2}), 3, 3, 1, Padding::kSame, Activation::kNone, false);
                },
                {6, 4, 4, 2}, false, 1, 2),
            kLinearTolerance);
}

TEST(GradientCheck, FusedRelu6AndRelu) {
  const Shape shape{2, 5, 5, 2};
  for (Activation act : {Activation::kRelu, Activation::kRelu6}) {
    auto build = [](Model& m, Activation a) { m.Conv2D(m.Input("x", {5, 5, 2}), 3, 3, 1, Padding::kSame, a); };
    // A perturbation of 1e-2 moves a pre-activation by at most ~0.05 here.
    uint64_t seed = 1;
    while (MinAbsOutput(build, seed, RandomArray(shape, seed)) < 0.06) ++seed;
    Model m(seed, 1);
    build(m, act);
    RandomizeParameters(m, seed);
    EXPECT_LT(CheckModel(m, RandomArray(shape, seed)), kLinearTolerance) << ActivationName(act);
  }
}

TEST(GradientCheck, DepthwiseConv2D) {
  EXPECT_LT(CheckBuilt(
                [](Model& m) {
                  m.DepthwiseConv2D(m.Input("x", {5, 5, 3}), 3, 1, Padding::kSame);
                },
                {2, 5, 5, 3}),
            kLinearTolerance);
  EXPECT_LT(CheckBuilt(
                [](Model& m) {
                  m.DepthwiseConv2D(m.Input("x", {7, 7, 3}), 3, 2, Padding::kValid);
                },
                {2, 7, 7, 3}),
            kLinearTolerance);
  EXPECT_LT(CheckBuilt(
                [](Model& m) {
                  m.DepthwiseConv2D(m.Input("x", {6, 6, 2}), 3, 2, Padding::kSame);
                },
                {2, 6, 6, 2}),
            kLinearTolerance);
}

TEST(GradientCheck, FullyConnectedAndReshape) {
  EXPECT_LT(CheckBuilt(
                [](Model& m) {
                  m.FullyConnected(m.Reshape(m.Input("x", {2, 3, 2}), {12}), 5);
                },
                {3, 2, 3, 2}),
            kLinearTolerance);
}

TEST(GradientCheck, AddWithFusedRelu) {
  // Both operands are the input (through a 1x1 conv for one), on the grid: the sum
  // x + conv(x) is kept off 0 by seed choice.
  const Shape shape{2, 3, 3, 2};
  auto build = [](Model& m, Activation a) {
    const int x = m.Input("x", {3, 3, 2});
    m.Add(x, m.Conv2D(x, 2, 1, 1, Padding::kValid), a);
  };
  uint64_t seed = 1;
  while (MinAbsOutput(build, seed, GridArray(shape, seed)) < 0.06) ++seed;
  Model m(seed, 1);
  build(m, Activation::kRelu);
  RandomizeParameters(m, seed);
  EXPECT_LT(CheckModel(m, GridArray(shape, seed)), kLinearTolerance);
}

TEST(GradientCheck, MaxPool) {
  EXPECT_LT(CheckBuilt(
                [](Model& m) {
                  m.MaxPool2D(m.Input("x", {4, 4, 3}), 2, 2);
                },
                {2, 4, 4, 3}, true),
            kLinearTolerance);
  // Overlapping windows with SAME padding.
  EXPECT_LT(CheckBuilt(
                [](Model& m) {
                  m.MaxPool2D(m.Input("x", {5, 5, 2}), 3, 2, Padding::kSame);
                },
                {2, 5, 5, 2}, true),
            kLinearTolerance);
}

TEST(GradientCheck, AveragePool) {
  EXPECT_LT(CheckBuilt(
                [](Model& m) {
                  m.AveragePool2D(m.Input("x", {4, 4, 3}), 2, 2);
                },
                {2, 4, 4, 3}),
            kLinearTolerance);
  // SAME: border windows average over fewer elements.
  EXPECT_LT(CheckBuilt(
                [](Model& m) {
                  m.AveragePool2D(m.Input("x", {5, 5, 2}), 3, 1, Padding::kSame);
                },
                {2, 5, 5, 2}),
            kLinearTolerance);
}

TEST(GradientCheck, GlobalAveragePool) {
  EXPECT_LT(CheckBuilt([](Model& m) { m.GlobalAveragePool(m.Input("x", {3, 4, 5})); }, {2, 3, 4, 5}), kLinearTolerance);
}

TEST(GradientCheck, UnaryActivations) {
  for (LayerKind kind : {LayerKind::kRelu, LayerKind::kRelu6, LayerKind::kHardSwish}) {
    // The grid spans -4..8, so every branch of each function is exercised.
    Model m(1, 1);
    m.Unary(kind, m.Input("x", {4, 4, 15}));
    EXPECT_LT(CheckModel(m, GridArray({1, 4, 4, 15}, 3)), kLinearTolerance) << LayerKindName(kind);
  }
}

TEST(GradientCheck, BatchNormTraining) {
  EXPECT_LT(CheckBuilt([](Model& m) { m.BatchNorm(m.Input("x", {3, 3, 4})); }, {3, 3, 3, 4}), kSmoothTolerance);
  // After a conv, over a batch on two threads.
  EXPECT_LT(CheckBuilt(
                [](Model& m) {
                  m.BatchNorm(m.Conv2D(m.Input("x", {4, 4, 2}), 3, 3, 1, Padding::kSame, Activation::kNone, false));
                },
                {4, 4, 4, 2}, false, 2, 2),
            kSmoothTolerance);
}

// y = x + a * x^2 with a trainable `a`: smooth, not identity, and with a parameter.
class SquareTransform : public Transform {
 public:
  explicit SquareTransform(Parameter* a) : a_(a) {}
  void Forward(const Array& x, Array& y, bool, ThreadPool&) override {
    for (int64_t i = 0; i < x.size(); ++i) y.data[i] = x.data[i] + a_->value.data[0] * x.data[i] * x.data[i];
  }
  void Backward(const Array& x, const Array& dy, Array& dx, ThreadPool&) override {
    for (int64_t i = 0; i < x.size(); ++i) {
      dx.data[i] = dy.data[i] * (1 + 2 * a_->value.data[0] * x.data[i]);
      a_->grad.data[0] += dy.data[i] * x.data[i] * x.data[i];
    }
  }

 private:
  Parameter* a_;
};

TEST(GradientCheck, WeightAndOutputTransforms) {
  Model m(4, 1);
  const int conv = m.Conv2D(m.Input("x", {4, 4, 2}), 3, 3, 1, Padding::kSame);
  const int fc = m.FullyConnected(m.Reshape(conv, {48}), 4);
  RandomizeParameters(m, 4);
  m.SetWeightTransform(conv, std::make_shared<SquareTransform>(m.AddParameter("a1", {1}, {0.3f})));
  m.SetOutputTransform(conv, std::make_shared<SquareTransform>(m.AddParameter("a2", {1}, {-0.2f})));
  m.SetWeightTransform(fc, std::make_shared<SquareTransform>(m.AddParameter("a3", {1}, {0.1f})));
  EXPECT_LT(CheckModel(m, RandomArray({2, 4, 4, 2}, 4)), kSmoothTolerance);
}

TEST(GradientCheck, FoldedBatchNorm) {
  for (LayerKind kind : {LayerKind::kConv2D, LayerKind::kDepthwiseConv2D, LayerKind::kFullyConnected}) {
    for (bool transform : {false, true}) {
      Model m(5, 2);
      const int x = m.Input("x", {4, 4, 3});
      const int linear = kind == LayerKind::kConv2D            ? m.Conv2D(x, 3, 3, 2, Padding::kSame)
                         : kind == LayerKind::kDepthwiseConv2D ? m.DepthwiseConv2D(x, 3, 1, Padding::kSame)
                                                               : m.FullyConnected(m.Reshape(x, {48}), 5);
      const int bn = m.BatchNorm(linear);
      ASSERT_TRUE(m.FoldBatchNorm(bn).ok());
      RandomizeParameters(m, 5);
      if (transform) m.SetWeightTransform(linear, std::make_shared<SquareTransform>(m.AddParameter("a", {1}, {0.2f})));
      EXPECT_LT(CheckModel(m, RandomArray({4, 4, 4, 3}, 5)), kSmoothTolerance)
          << LayerKindName(kind) << (transform ? " with weight transform" : "");
    }
  }
}

TEST(GradientCheck, SoftmaxCrossEntropy) {
  Array logits = RandomArray({4, 7}, 9, 2.0f);
  const std::vector<int32_t> labels = {3, 0, 6, 3};
  Array analytic;
  SoftmaxCrossEntropy(logits, labels.data(), &analytic);
  std::vector<double> numeric, expected;
  const double h = 1e-2;
  for (int64_t i = 0; i < logits.size(); ++i) {
    const float saved = logits.data[i];
    logits.data[i] = saved + static_cast<float>(h);
    const double plus = SoftmaxCrossEntropy(logits, labels.data(), nullptr);
    logits.data[i] = saved - static_cast<float>(h);
    const double minus = SoftmaxCrossEntropy(logits, labels.data(), nullptr);
    logits.data[i] = saved;
    numeric.push_back((plus - minus) / (2 * h));
    expected.push_back(analytic.data[i]);
  }
  EXPECT_LT(RelativeError(numeric, expected), kSmoothTolerance);
}

}  // namespace
}  // namespace qaudit::train
