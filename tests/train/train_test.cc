// The training engine apart from its gradients (gradient_check_test.cc): GEMM, export to a
// Graph, optimizers, schedules, shuffling and the training loop.
#include "qaudit/train.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <random>

#include "kernels/sgemm.h"
#include "qaudit/executor.h"
#include "qaudit/tflite.h"

namespace qaudit::train {

using kernels::MatrixView;
using kernels::RowMajor;
using kernels::Sgemm;
using kernels::SgemmPortable;
using kernels::Transposed;

namespace {

std::vector<float> Random(size_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> v(n);
  for (float& x : v) x = normal(rng);
  return v;
}

TEST(SgemmTest, MatchesNaiveProductForStridesEdgesAndBothKernels) {
  // Sizes straddle the 12 x 32 tile and the 256-deep blocks.
  for (auto [m, n, k] :
       {std::tuple{1, 1, 1}, {13, 33, 7}, {150, 70, 300}, {12, 32, 256}, {24, 64, 600}, {5, 10, 600}}) {
    const std::vector<float> a = Random(static_cast<size_t>(m) * k, 1), b = Random(static_cast<size_t>(k) * n, 2);
    const std::vector<float> c0 = Random(static_cast<size_t>(m) * n, 3);
    std::vector<float> at(a.size()), bt(b.size());  // the same matrices stored transposed
    for (int i = 0; i < m; ++i) {
      for (int p = 0; p < k; ++p) at[p * m + i] = a[i * k + p];
    }
    for (int p = 0; p < k; ++p) {
      for (int j = 0; j < n; ++j) bt[j * k + p] = b[p * n + j];
    }
    for (bool portable : {false, true}) {
      for (bool transposed : {false, true}) {
        std::vector<float> c = c0;
        auto gemm = portable ? SgemmPortable : Sgemm;
        // Row-major A with transposed B (read in place / packed), and the other way round.
        const MatrixView av = transposed ? Transposed(at.data(), m) : RowMajor(a.data(), k);
        const MatrixView bv = transposed ? RowMajor(b.data(), n) : Transposed(bt.data(), k);
        gemm(m, n, k, av, bv, c.data(), n, true);
        for (int i = 0; i < m; ++i) {
          for (int j = 0; j < n; ++j) {
            double expected = c0[i * n + j];
            for (int p = 0; p < k; ++p) expected += double{a[i * k + p]} * b[p * n + j];
            ASSERT_NEAR(c[i * n + j], expected, 4e-4 * std::sqrt(k))
                << m << "x" << n << "x" << k << " portable=" << portable << " transposed=" << transposed;
          }
        }
      }
    }
  }
}

TEST(EpochOrderTest, IsASeededPermutationThatIsTheSameEverywhere) {
  const std::vector<int64_t> order = EpochOrder(10, 42, 0);
  std::vector<int64_t> sorted = order;
  std::sort(sorted.begin(), sorted.end());
  for (int64_t i = 0; i < 10; ++i) EXPECT_EQ(sorted[i], i);
  EXPECT_EQ(order, EpochOrder(10, 42, 0));
  EXPECT_NE(order, EpochOrder(10, 42, 1));
  EXPECT_NE(order, EpochOrder(10, 43, 0));
  // Golden: only std::mt19937_64 (specified by the standard) and our own draw decide it.
  EXPECT_EQ(order, (std::vector<int64_t>{2, 6, 1, 7, 3, 8, 4, 9, 5, 0}));
}

TEST(LrScheduleTest, WarmupStepAndCosine) {
  LrSchedule s;
  s.base_lr = 1.0f;
  s.warmup_steps = 4;
  EXPECT_FLOAT_EQ(s.At(0), 0.25f);
  EXPECT_FLOAT_EQ(s.At(3), 1.0f);
  EXPECT_FLOAT_EQ(s.At(100), 1.0f);
  s.kind = LrSchedule::Kind::kStep;
  s.step_size = 10;
  s.gamma = 0.5f;
  EXPECT_FLOAT_EQ(s.At(13), 1.0f);
  EXPECT_FLOAT_EQ(s.At(14), 0.5f);
  EXPECT_FLOAT_EQ(s.At(34), 0.125f);
  s.kind = LrSchedule::Kind::kCosine;
  s.total_steps = 104;
  s.min_lr = 0.1f;
  EXPECT_FLOAT_EQ(s.At(4), 1.0f);
  EXPECT_NEAR(s.At(54), 0.55f, 1e-6);
  EXPECT_NEAR(s.At(104), 0.1f, 1e-6);
}

Parameter OneParameter(float value, float grad, bool decay) {
  Parameter p;
  p.value = Array({1});
  p.grad = Array({1});
  p.value.data[0] = value;
  p.grad.data[0] = grad;
  p.decay = decay;
  return p;
}

TEST(OptimizerTest, SgdMomentumNesterovAndL2) {
  Parameter p = OneParameter(1.0f, 0.5f, true);
  auto sgd = MakeSgd({0.9f, false, 0.1f});
  sgd->Step({&p}, 0.1f);  // g = 0.5 + 0.1 * 1 = 0.6; v = 0.6
  EXPECT_FLOAT_EQ(p.value.data[0], 1.0f - 0.06f);
  sgd->Step({&p}, 0.1f);  // g = 0.5 + 0.094 = 0.594; v = 0.54 + 0.594
  EXPECT_NEAR(p.value.data[0], 0.94f - 0.1f * (0.54f + 0.594f), 1e-6);
  Parameter q = OneParameter(1.0f, 0.5f, false);
  auto nesterov = MakeSgd({0.9f, true, 0.1f});
  nesterov->Step({&q}, 0.1f);  // no decay; v = 0.5; step = 0.5 + 0.45
  EXPECT_FLOAT_EQ(q.value.data[0], 1.0f - 0.095f);
}

TEST(OptimizerTest, AdamFirstStepIsLrTimesSignAndDecayIsDecoupled) {
  Parameter p = OneParameter(1.0f, 0.25f, true);
  Parameter q = OneParameter(1.0f, -4.0f, false);
  auto adam = MakeAdam({0.9f, 0.999f, 1e-7f, 0.5f});
  adam->Step({&p, &q}, 0.01f);
  EXPECT_NEAR(p.value.data[0], 1.0f - 0.01f * 0.5f - 0.01f, 1e-6);  // decay 0.005, then Adam ~0.01
  EXPECT_NEAR(q.value.data[0], 1.0f + 0.01f, 1e-6);
}

// A model with every layer kind that export handles, trained a few steps so that batch
// norm statistics are not the initial ones.
void BuildEverything(Model& m) {
  int x = m.Input("image", {8, 8, 3});
  x = m.Conv2D(x, 8, 3, 2, Padding::kSame, Activation::kNone, false);
  x = m.BatchNorm(x, Activation::kRelu6);  // folded into the conv, RELU6 fused
  const int branch = m.DepthwiseConv2D(x, 3, 1, Padding::kSame);
  int y = m.Unary(LayerKind::kRelu, m.BatchNorm(branch));  // folded, then RELU fused
  y = m.Add(x, y);
  y = m.Unary(LayerKind::kRelu, y);  // fused into ADD
  y = m.BatchNorm(y);                // after ADD: MUL + ADD
  y = m.Unary(LayerKind::kHardSwish, y);
  const int pooled = m.AveragePool2D(y, 3, 1, Padding::kSame);
  y = m.MaxPool2D(m.Conv2D(pooled, 6, 1, 1, Padding::kValid, Activation::kRelu), 2, 2);
  const int gap = m.GlobalAveragePool(y);
  const int flat = m.Reshape(y, {2 * 2 * 6});
  const int fc = m.FullyConnected(flat, 6, Activation::kNone, false);
  m.FullyConnected(m.Add(gap, m.Unary(LayerKind::kRelu6, m.BatchNorm(fc))), 4);
}

HostTensor RandomSamples(const Shape& shape, uint64_t seed) {
  HostTensor t;
  t.shape = shape;
  const std::vector<float> v = Random(static_cast<size_t>(NumElements(shape)), seed);
  t.bytes.resize(v.size() * sizeof(float));
  std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
  return t;
}

TEST(ToGraphTest, ExecutorMatchesEvalForward) {
  Model m(11, 2);
  BuildEverything(m);
  const HostTensor samples = RandomSamples({64, 8, 8, 3}, 12);
  std::vector<int32_t> labels(64);
  for (int i = 0; i < 64; ++i) labels[i] = i % 4;
  auto adam = MakeAdam();
  LrSchedule lr;
  lr.base_lr = 1e-2f;
  TrainOptions options;
  options.batch_size = 16;
  options.epochs = 3;
  ASSERT_TRUE(Train(m, samples, labels, *adam, lr, options).ok());

  std::vector<int> layer_tensors;
  auto graph = ToGraph(m, &layer_tensors);
  ASSERT_TRUE(graph.ok()) << graph.status().message();
  ASSERT_EQ(layer_tensors.size(), m.layers().size());
  EXPECT_EQ(layer_tensors[1], -1);  // the first conv: its batch norm took over its output
  EXPECT_GE(layer_tensors[2], 0);
  EXPECT_EQ(layer_tensors[m.output()], graph->outputs[0]);
  int fused = 0, muls = 0;
  for (const Operator& op : graph->operators) {
    muls += op.kind == OpKind::kMul;
    std::visit(
        [&](const auto& o) {
          if constexpr (requires { o.activation; }) fused += o.activation != Activation::kNone;
        },
        op.options);
  }
  EXPECT_EQ(muls, 1);  // only the batch norm after ADD stays
  // conv+BN+RELU6, depthwise+BN+RELU, ADD+RELU, conv+RELU, FC+BN+RELU6.
  EXPECT_EQ(fused, 5);
  // Through the .tflite writer and reader, as the CLI will export it.
  auto bytes = WriteTflite(*graph);
  ASSERT_TRUE(bytes.ok()) << bytes.status().message();
  auto reread = ReadTflite(bytes->data(), bytes->size(), "exported");
  ASSERT_TRUE(reread.ok()) << reread.status().message();
  auto executor = Executor::Create(*reread);
  ASSERT_TRUE(executor.ok()) << executor.status().message();

  Array batch({8, 8, 8, 3});
  std::memcpy(batch.data.data(), samples.data<float>(), batch.data.size() * sizeof(float));
  const Array expected = m.Forward(batch, Mode::kEval);
  HostTensor in = RandomSamples({8, 8, 8, 3}, 0);
  std::memcpy(in.bytes.data(), batch.data.data(), in.bytes.size());
  auto out = (*executor)->RunBatch({in});
  ASSERT_TRUE(out.ok()) << out.status().message();
  ASSERT_EQ(out->at(0).num_elements(), expected.size());
  float largest = 0;
  for (float v : expected.data) largest = std::max(largest, std::fabs(v));
  for (int64_t i = 0; i < expected.size(); ++i) {
    EXPECT_NEAR(out->at(0).data<float>()[i], expected.data[i], 1e-4f * largest) << i;
  }
}

TEST(TrainTest, LearnsASeparableProblemAndRejectsBadData) {
  // Class = which of 3 channels has the largest mean.
  Model m(3, 2);
  int x = m.Input("x", {4, 4, 3});
  x = m.Conv2D(x, 8, 3, 1, Padding::kSame, Activation::kRelu);
  m.FullyConnected(m.GlobalAveragePool(x), 3);
  HostTensor samples = RandomSamples({300, 4, 4, 3}, 5);
  std::vector<int32_t> labels(300);
  float* data = samples.data<float>();
  for (int i = 0; i < 300; ++i) {
    labels[i] = i % 3;
    for (int p = 0; p < 16; ++p) data[(i * 16 + p) * 3 + labels[i]] += 1.5f;
  }
  auto sgd = MakeSgd();
  LrSchedule lr;
  lr.base_lr = 0.05f;
  lr.kind = LrSchedule::Kind::kCosine;
  TrainOptions options;
  options.epochs = 10;
  options.batch_size = 32;
  int64_t last_step = 0;
  auto summary = Train(m, samples, labels, *sgd, lr, options, [&](const StepInfo& s) { last_step = s.step; });
  ASSERT_TRUE(summary.ok()) << summary.status().message();
  EXPECT_EQ(last_step, 10 * 10);
  auto accuracy = Evaluate(m, samples, labels);
  ASSERT_TRUE(accuracy.ok());
  EXPECT_GT(*accuracy, 0.95);

  labels[7] = 3;
  EXPECT_EQ(Train(m, samples, labels, *sgd, lr, options).status().code(), StatusCode::kInvalidArgument);
  labels.pop_back();
  EXPECT_EQ(Evaluate(m, samples, labels).status().code(), StatusCode::kInvalidArgument);
}

TEST(FoldBatchNormTest, RefusesWhatCannotBeFolded) {
  Model m;
  const int x = m.Input("x", {4, 4, 2});
  const int conv = m.Conv2D(x, 2, 3, 1, Padding::kSame, Activation::kRelu);
  const int bn = m.BatchNorm(conv);
  EXPECT_EQ(m.FoldBatchNorm(bn).code(), StatusCode::kInvalidArgument);  // conv has an activation
  EXPECT_EQ(m.FoldBatchNorm(conv).code(), StatusCode::kInvalidArgument);
  const int conv2 = m.Conv2D(x, 2, 3, 1, Padding::kSame);
  const int bn2 = m.BatchNorm(conv2);
  m.Add(bn2, conv2);
  EXPECT_EQ(m.FoldBatchNorm(bn2).code(), StatusCode::kInvalidArgument);  // conv2 is read twice
}

}  // namespace
}  // namespace qaudit::train
