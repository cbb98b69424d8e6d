// RunBatch runs blocks of samples through operators with a block form (FULLY_CONNECTED):
// its results must not depend on the thread count or on how samples fall into blocks, and
// the SampleObserver must still see each sample's own activations. ProfileOperators times
// the operators as Run groups them.
#include <gtest/gtest.h>

#include <cstring>
#include <mutex>
#include <random>
#include <vector>

#include "qaudit/calibrate.h"
#include "qaudit/executor.h"
#include "qaudit/graph_builder.h"
#include "qaudit/quantize.h"

namespace qaudit {
namespace {

Graph SmallCnn() {
  GraphBuilder b(/*seed=*/3);
  int x = b.Input("image", {1, 12, 12, 3});
  x = b.Conv2D(x, 20, 3, 1, Padding::kSame, Activation::kRelu);
  x = b.MaxPool2D(x, 2, 2);
  x = b.DepthwiseConv2D(x, 3, 1, Padding::kSame, Activation::kRelu6);
  x = b.Reshape(x, {1, 6 * 6 * 20});
  x = b.FullyConnected(x, 33, Activation::kRelu);
  x = b.FullyConnected(x, 7, Activation::kNone);
  return b.Finish({x});
}

HostTensor RandomImages(int n) {
  HostTensor t;
  t.dtype = DType::kFloat32;
  t.shape = {n, 12, 12, 3};
  std::vector<float> v(static_cast<size_t>(n) * 12 * 12 * 3);
  std::mt19937 rng(9);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& x : v) x = u(rng);
  // Assigned from the bytes, not resized then memcpy'd: GCC 12 misreads that memcpy's
  // bounds once the size is constant-folded (a false -Warray-bounds).
  const auto* bytes = reinterpret_cast<const uint8_t*>(v.data());
  t.bytes.assign(bytes, bytes + v.size() * sizeof(float));
  return t;
}

// Every sample of `images` run alone, then in one batch with 1 and 2 threads: the same bytes.
void ExpectBatchIndependent(const Graph& g, const HostTensor& images) {
  const int n = images.shape[0];
  const size_t sample_bytes = images.bytes.size() / n;
  for (int threads : {1, 2}) {
    ExecutorOptions options;
    options.num_threads = threads;
    auto e = Executor::Create(g, options);
    ASSERT_TRUE(e.ok()) << e.status().message();
    const int output = g.outputs[0];
    std::vector<std::vector<uint8_t>> observed(n);
    std::mutex mu;
    auto batch = (*e)->RunBatch({images}, {}, [&](int, int64_t s, const std::vector<const void*>& tensors) {
      const size_t bytes = g.tensors[output].num_elements() * DTypeSize(g.tensors[output].dtype);
      const auto* p = static_cast<const uint8_t*>(tensors[output]);
      std::lock_guard<std::mutex> lock(mu);
      observed[s].assign(p, p + bytes);
    });
    ASSERT_TRUE(batch.ok()) << batch.status().message();
    const size_t out_bytes = batch->at(0).bytes.size() / n;
    for (int s = 0; s < n; ++s) {
      HostTensor one = images;
      one.shape = {1, 12, 12, 3};
      one.bytes.assign(images.bytes.begin() + s * sample_bytes, images.bytes.begin() + (s + 1) * sample_bytes);
      auto alone = (*e)->Run({one});
      ASSERT_TRUE(alone.ok()) << alone.status().message();
      const std::vector<uint8_t> expected = alone->at(0).bytes;
      const std::vector<uint8_t> got(batch->at(0).bytes.begin() + s * out_bytes,
                                     batch->at(0).bytes.begin() + (s + 1) * out_bytes);
      EXPECT_EQ(got, expected) << "sample " << s << " threads " << threads;
      EXPECT_EQ(observed[s], expected) << "observer, sample " << s << " threads " << threads;
    }
  }
}

TEST(ExecutorBatchTest, FloatResultsDoNotDependOnBlocksOrThreads) {
  ExpectBatchIndependent(SmallCnn(), RandomImages(77));
}

TEST(ExecutorBatchTest, Int8ResultsDoNotDependOnBlocksOrThreads) {
  const Graph g = SmallCnn();
  const HostTensor images = RandomImages(77);
  auto stats = CalibrationStatistics::Collect(g, {images}, CollectOptions{.histograms = false});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  const TensorRanges ranges = stats->GlobalRanges();
  auto q = Quantize(g, QuantizeOptions{}, &ranges);
  ASSERT_TRUE(q.ok()) << q.status().message();
  ExpectBatchIndependent(q->graph, images);
}

// A CONV_2D followed by a MAX_POOL_2D runs fused (ops_conv.cc) when no observer is
// attached, and as two operators when one is: the outputs must be the same bytes, in every
// numerics, with odd sizes (the pool drops the last row and column), 3x3 and 1x1 windows,
// a convolution that two operators read (not fused) and a pool that overlaps (not fused).
TEST(ExecutorBatchTest, FusedConvMaxPoolMatchesUnfused) {
  GraphBuilder b(/*seed=*/5);
  int x = b.Input("image", {1, 13, 13, 3});
  x = b.MaxPool2D(b.Conv2D(x, 24, 3, 1, Padding::kSame, Activation::kRelu), 2, 2);  // fused, 13 -> 6
  const int y = b.Conv2D(x, 40, 3, 1, Padding::kValid, Activation::kNone);        // 4x4, read twice
  const int a = b.MaxPool2D(y, 3, 3);                                              // not fused
  const int c = b.MaxPool2D(y, 2, 1);                                              // overlapping
  const int d = b.MaxPool2D(b.Conv2D(c, 16, 1, 1, Padding::kValid, Activation::kRelu6), 3, 3);  // fused, 3x3
  const int s = b.MaxPool2D(b.Conv2D(x, 8, 5, 2, Padding::kSame, Activation::kNone), 1, 1);     // fused, 1x1
  x = b.FullyConnected(b.Reshape(a, {1, 40}), 7, Activation::kNone);
  const Graph g = b.Finish({x, b.Reshape(d, {1, 16}), b.Reshape(s, {1, 3 * 3 * 8})});
  HostTensor images;
  images.dtype = DType::kFloat32;
  images.shape = {40, 13, 13, 3};
  std::vector<float> v(40 * 13 * 13 * 3);
  std::mt19937 rng(4);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (float& f : v) f = u(rng);
  images.bytes.resize(v.size() * sizeof(float));
  std::memcpy(images.bytes.data(), v.data(), images.bytes.size());
  auto stats = CalibrationStatistics::Collect(g, {images}, CollectOptions{.histograms = false});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  const TensorRanges ranges = stats->GlobalRanges();
  for (WeightGranularity granularity : {WeightGranularity::kDefault, WeightGranularity::kPerTensor}) {
    QuantizeOptions qo;
    qo.granularity = granularity;
    auto q = Quantize(g, qo, &ranges);
    ASSERT_TRUE(q.ok()) << q.status().message();
    for (Numerics numerics : {Numerics::kReference, Numerics::kTflite, Numerics::kXnnpack}) {
      ExecutorOptions options;
      options.numerics = numerics;
      options.num_threads = 1;
      auto e = Executor::Create(q->graph, options);
      ASSERT_TRUE(e.ok()) << e.status().message();
      auto fused = (*e)->RunBatch({images});
      auto unfused = (*e)->RunBatch({images}, {}, [](int, int64_t, const std::vector<const void*>&) {});
      ASSERT_TRUE(fused.ok() && unfused.ok());
      for (size_t k = 0; k < fused->size(); ++k) {
        EXPECT_EQ(fused->at(k).bytes, unfused->at(k).bytes)
            << "output " << k << " numerics " << NumericsName(numerics) << " granularity "
            << static_cast<int>(granularity);
      }
    }
  }
}

TEST(ExecutorBatchTest, ProfileOperatorsTimesEachOperatorOnceAsRunGroupsThem) {
  const Graph g = SmallCnn();
  const HostTensor images = RandomImages(8);
  auto stats = CalibrationStatistics::Collect(g, {images}, CollectOptions{.histograms = false});
  ASSERT_TRUE(stats.ok()) << stats.status().message();
  const TensorRanges ranges = stats->GlobalRanges();
  auto q = Quantize(g, QuantizeOptions{}, &ranges);
  ASSERT_TRUE(q.ok()) << q.status().message();
  auto e = Executor::Create(q->graph);
  ASSERT_TRUE(e.ok()) << e.status().message();
  HostTensor one = images;
  one.shape = {1, 12, 12, 3};
  one.bytes.resize(images.bytes.size() / 8);
  auto times = (*e)->ProfileOperators({one}, 3);
  ASSERT_TRUE(times.ok()) << times.status().message();
  const std::vector<Operator>& ops = q->graph.operators;
  int next = 0;
  bool conv_pool_fused = false;
  for (const Executor::OperatorTime& t : *times) {
    EXPECT_EQ(t.op, next);
    if (t.fused_ops == 2) {
      conv_pool_fused |= ops[t.op].kind == OpKind::kConv2D && ops[t.op + 1].kind == OpKind::kMaxPool2D;
    }
    next += t.fused_ops;
  }
  EXPECT_EQ(next, static_cast<int>(ops.size()));
  EXPECT_TRUE(conv_pool_fused);
  one.shape = {1, 12, 12, 4};  // the wrong shape, and as many bytes as its elements need
  one.bytes.resize(12 * 12 * 4 * sizeof(float));
  EXPECT_FALSE((*e)->ProfileOperators({one}, 3).ok());
}

}  // namespace
}  // namespace qaudit
