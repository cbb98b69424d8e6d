// RunBatch runs blocks of samples through operators with a block form (FULLY_CONNECTED):
// its results must not depend on the thread count or on how samples fall into blocks, and
// the SampleObserver must still see each sample's own activations.
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
  t.bytes.resize(v.size() * sizeof(float));
  std::memcpy(t.bytes.data(), v.data(), t.bytes.size());
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

}  // namespace
}  // namespace qaudit
