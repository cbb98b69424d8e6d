// Range search: TFLite's configuration is trial 0, the best trial is never worse, a fixed
// seed repeats the search, and configurations turn into the ranges they describe.
#include <gtest/gtest.h>

#include <random>

#include "qaudit/graph_builder.h"
#include "qaudit/search.h"

namespace qaudit::search {
namespace {

// A small classifier and data with a few outliers, where clipping can pay off.
struct Problem {
  Graph graph;
  HostTensor calibration, validation;
  std::vector<int32_t> labels;
};

HostTensor Random(int n, uint64_t seed, bool outliers) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  HostTensor h;
  h.shape = {n, 8, 8, 2};
  h.bytes.resize(static_cast<size_t>(n) * 128 * 4);
  for (int64_t i = 0; i < h.num_elements(); ++i) h.data<float>()[i] = normal(rng);
  if (outliers) {
    for (int k = 0; k < 3; ++k) h.data<float>()[k * 977] = 40.0f;
  }
  return h;
}

Problem MakeProblem() {
  GraphBuilder b(11);
  int x = b.Input("x", {1, 8, 8, 2});
  x = b.Conv2D(x, 8, 3, 1, Padding::kSame, Activation::kRelu);
  x = b.GlobalAveragePool(x);
  x = b.FullyConnected(x, 4, Activation::kNone);
  Problem p;
  p.graph = b.Finish({x});
  p.calibration = Random(64, 1, true);
  p.validation = Random(200, 2, false);
  // Labels: the float model's own predictions, so accuracy measures agreement with it.
  auto exec = Executor::Create(p.graph);
  auto out = (*exec)->RunBatch({p.validation});
  for (int s = 0; s < 200; ++s) {
    const float* v = (*out)[0].data<float>() + 4 * s;
    p.labels.push_back(static_cast<int32_t>(std::max_element(v, v + 4) - v));
  }
  return p;
}

TEST(SearchTest, BayesKeepsTheBestAndRepeatsWithTheSeed) {
  const Problem p = MakeProblem();
  auto stats = CalibrationStatistics::Collect(p.graph, {p.calibration});
  ASSERT_TRUE(stats.ok());
  SearchOptions o;
  o.trials = 8;
  o.seed = 5;
  auto a = Search(p.graph, *stats, {p.validation}, p.labels, o);
  ASSERT_TRUE(a.ok()) << a.status().message();
  ASSERT_EQ(a->history.size(), 8u);
  EXPECT_EQ(a->history[0].config.calibrator, Calibrator::kMinMax);
  EXPECT_EQ(a->history[0].config.clip_fraction, 1.0);
  for (const Trial& t : a->history) EXPECT_LE(t.objective, a->history[a->best].objective);
  EXPECT_GE(a->history[a->best].accuracy, a->history[0].accuracy);
  auto b = Search(p.graph, *stats, {p.validation}, p.labels, o);
  ASSERT_TRUE(b.ok());
  for (size_t i = 0; i < a->history.size(); ++i) EXPECT_EQ(a->history[i].objective, b->history[i].objective) << i;
}

TEST(SearchTest, GridWithPerTensorRefinementAndMseObjective) {
  const Problem p = MakeProblem();
  auto stats = CalibrationStatistics::Collect(p.graph, {p.calibration});
  ASSERT_TRUE(stats.ok());
  SearchOptions o;
  o.method = Method::kGrid;
  o.objective = Objective::kMse;
  o.per_tensor = true;
  o.trials = 50;
  auto r = Search(p.graph, *stats, {p.validation}, {}, o);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->history.size(), 50u);  // 42 grid points, then per-tensor refinement
  EXPECT_FALSE(r->history.back().config.tensor_clip.empty());
  EXPECT_LE(r->history[r->best].mse, r->history[0].mse);
  EXPECT_EQ(r->history[0].accuracy, -1.0);  // no labels given
  // The accuracy objective without labels is refused.
  o.objective = Objective::kAccuracy;
  EXPECT_FALSE(Search(p.graph, *stats, {p.validation}, {}, o).ok());
}

TEST(SearchTest, ClipFractionsScaleTheRanges) {
  const Problem p = MakeProblem();
  auto stats = CalibrationStatistics::Collect(p.graph, {p.calibration});
  ASSERT_TRUE(stats.ok());
  const TensorRanges global = stats->GlobalRanges();
  Config c;
  c.clip_fraction = 0.5;
  c.tensor_clip.assign(global.size(), 1.0);
  c.tensor_clip[0] = 0.5;
  auto r = RangesFor(*stats, c);
  ASSERT_TRUE(r.ok());
  auto first = global.begin();
  EXPECT_FLOAT_EQ(r->at(first->first).max, first->second.max * 0.25f);
  auto second = std::next(global.begin());
  EXPECT_FLOAT_EQ(r->at(second->first).max, second->second.max * 0.5f);
}

}  // namespace
}  // namespace qaudit::search
