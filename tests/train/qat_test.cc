// QAT's promise: the int8 model computes what training simulated. The fake-quant model's
// accuracy (trainer, eval mode) and the exported int8 model's (executor, TFLite numerics)
// agree within 0.05 points on the 10,000 Fashion-MNIST test images, for each way ranges
// and batch norms can be handled. tfmot users report 97% falling to 0.2% after conversion.
#include <gtest/gtest.h>

#include <cmath>

#include "qaudit/data.h"
#include "qaudit/executor.h"
#include "qaudit/graph_builder.h"
#include "qaudit/qat.h"
#include "qaudit/zoo.h"
#include "support/fixtures.h"

namespace qaudit {
namespace {

struct Split {
  HostTensor x;
  std::vector<int32_t> y;
};

Split Load(const std::string& spec) {
  auto d = LoadDataset(spec);
  EXPECT_TRUE(d.ok()) << d.status().message();
  if (!d.ok()) return {};
  auto x = FitToInput(*d, InputSpec{"image", DType::kFloat32, {1, 28, 28, 1}, {}});
  EXPECT_TRUE(x.ok());
  return {*x, d->labels};
}

double Int8Accuracy(const Graph& g, const Split& test, Numerics numerics) {
  auto executor = Executor::Create(g, {numerics, 2});
  EXPECT_TRUE(executor.ok()) << executor.status().message();
  auto out = (*executor)->RunBatch({test.x});
  EXPECT_TRUE(out.ok());
  const HostTensor& o = (*out)[0];
  const int64_t n = static_cast<int64_t>(test.y.size()), per = o.num_elements() / n;
  int64_t correct = 0;
  for (int64_t s = 0; s < n; ++s) {
    const float* v = o.data<float>() + s * per;
    correct += std::max_element(v, v + per) - v == test.y[s];
  }
  return static_cast<double>(correct) / n;
}

struct GapCase {
  const char* name;
  zoo::Architecture arch;
  qat::QatOptions options;
};

class QatGapTest : public ::testing::TestWithParam<GapCase> {};

TEST_P(QatGapTest, Int8ModelMatchesTheFakeQuantModel) {
  QAUDIT_REQUIRE_FASHION_MNIST();
  const GapCase& c = GetParam();
  const Split train_split = Load("fmnist:train[0:4000]");
  const Split test = Load("fmnist:test");
  auto model = zoo::Build(c.arch, 3, 2);
  train::LrSchedule schedule;
  schedule.base_lr = 2e-3f;
  train::TrainOptions options;
  options.epochs = 1;
  // A float epoch first, as QAT fine-tunes a trained model, then a QAT epoch.
  ASSERT_TRUE(train::Train(*model, train_split.x, train_split.y, *train::MakeAdam(), schedule, options).ok());
  auto qat_model = qat::QatModel::Prepare(*model, c.options);
  ASSERT_TRUE(qat_model.ok()) << qat_model.status().message();
  schedule.base_lr = 1e-3f;
  ASSERT_TRUE(train::Train(*model, train_split.x, train_split.y, *train::MakeAdam(), schedule, options).ok());
  auto simulated = train::Evaluate(*model, test.x, test.y);
  ASSERT_TRUE(simulated.ok());
  auto int8 = (*qat_model)->Export();
  ASSERT_TRUE(int8.ok()) << int8.status().message();
  EXPECT_GT(*simulated, 0.6) << "training went wrong; the gap would mean little";
  // The promise is made for TFLite's built-in kernels, whose integer rounding QAT simulates
  // (XNNPACK requantizes in fp32).
  const double exported = Int8Accuracy(int8->graph, test, Numerics::kTflite);
  std::printf("%s: fake-quant %.2f%%, int8 %.2f%%\n", c.name, 100 * *simulated, 100 * exported);
  EXPECT_LE(std::fabs(*simulated - exported), 0.0005 + 1e-12) << c.name;
}

qat::QatOptions Options(qat::RangeMode ranges, bool tfmot_init) {
  qat::QatOptions o;
  o.range_mode = ranges;
  o.tfmot_initial_range = tfmot_init;
  return o;
}

INSTANTIATE_TEST_SUITE_P(
    Zoo, QatGapTest,
    ::testing::Values(GapCase{"cnn_ema", zoo::Architecture::kCnn, Options(qat::RangeMode::kMovingAverage, false)},
                      GapCase{"cnn_ema_tfmot_init", zoo::Architecture::kCnn, Options(qat::RangeMode::kMovingAverage, true)},
                      GapCase{"cnn_learned", zoo::Architecture::kCnn, Options(qat::RangeMode::kLearned, false)},
                      GapCase{"mlp_ema", zoo::Architecture::kMlp, Options(qat::RangeMode::kMovingAverage, false)},
                      GapCase{"mobilenet_fold_first", zoo::Architecture::kMobilenet,
                              Options(qat::RangeMode::kMovingAverage, false)}),
    [](const auto& info) { return std::string(info.param.name); });

// FromGraph reads back what ToGraph wrote: the same function.
TEST(ImportTest, FromGraphInvertsToGraph) {
  for (zoo::Architecture arch : {zoo::Architecture::kCnn, zoo::Architecture::kMobilenet, zoo::Architecture::kMlp}) {
    auto model = zoo::Build(arch, 5, 1);
    auto g = train::ToGraph(*model);
    ASSERT_TRUE(g.ok()) << g.status().message();
    // A final softmax, as converters write classifiers, is taken off and reported.
    Graph with_softmax = *g;
    Tensor probabilities = with_softmax.tensors[with_softmax.outputs[0]];
    probabilities.name = "probabilities";
    with_softmax.tensors.push_back(probabilities);
    const int p = static_cast<int>(with_softmax.tensors.size()) - 1;
    with_softmax.operators.push_back(Operator{OpKind::kSoftmax, {with_softmax.outputs[0]}, {p}, SoftmaxOptions{}, 1});
    with_softmax.outputs = {p};
    auto imported = train::FromGraph(with_softmax, 1);
    ASSERT_TRUE(imported.ok()) << imported.status().message();
    EXPECT_TRUE(imported->final_softmax);
    auto again = train::ToGraph(*imported->model);
    ASSERT_TRUE(again.ok());
    HostTensor x;
    x.shape = {1, 28, 28, 1};
    x.bytes.resize(784 * 4);
    for (int i = 0; i < 784; ++i) x.data<float>()[i] = (i % 17) / 17.0f;
    auto a = Executor::Create(*g);
    auto b = Executor::Create(*again);
    ASSERT_TRUE(a.ok() && b.ok());
    auto ya = (*a)->Run({x});
    auto yb = (*b)->Run({x});
    ASSERT_TRUE(ya.ok() && yb.ok());
    EXPECT_EQ((*ya)[0].bytes, (*yb)[0].bytes) << zoo::ArchitectureName(arch);
  }
}

TEST(ImportTest, UnsupportedOperatorsAreNamed) {
  GraphBuilder b;
  int x = b.Input("x", {1, 4, 4, 2});
  x = b.Unary(OpKind::kTanh, x);
  auto imported = train::FromGraph(b.Finish({x}));
  ASSERT_FALSE(imported.ok());
  EXPECT_NE(imported.status().message().find("TANH"), std::string::npos) << imported.status().message();
}

}  // namespace
}  // namespace qaudit
