// fuzz_seeds OUT_DIR MAX_BYTES MODEL.tflite...
//
// Writes the fuzzer's starting corpus into OUT_DIR:
//   - each model that is at most MAX_BYTES long, as it is;
//   - each operator of each model that qaudit reads, cut out as a one-operator model (its
//     constant inputs kept, its other inputs made graph inputs), when that is at most
//     MAX_BYTES long. Big real models (4 MB MobileNets) thus still seed the fuzzer with
//     their operators without making every execution slow;
//   - small hand-built models for operators no fixture uses (PAD, TRANSPOSE,
//     CONCATENATION, SUB, MAX_POOL_2D, float FULLY_CONNECTED, ...).
// Files are named by content, so running it twice adds nothing.
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include "qaudit/tflite.h"

namespace {

using namespace qaudit;

size_t g_written = 0;

void Save(const std::string& dir, const std::string& stem, const std::vector<uint8_t>& bytes, size_t max_bytes) {
  if (bytes.size() > max_bytes) return;
  uint64_t h = 1469598103934665603ull;  // FNV-1a, for a content name
  for (uint8_t b : bytes) h = (h ^ b) * 1099511628211ull;
  char hex[17];
  std::snprintf(hex, sizeof(hex), "%016llx", static_cast<unsigned long long>(h));
  const std::string path = dir + "/" + stem + "-" + hex + ".tflite";
  if (std::filesystem::exists(path)) return;
  std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                              static_cast<std::streamsize>(bytes.size()));
  ++g_written;
}

void SaveGraph(const std::string& dir, const std::string& stem, const Graph& g, size_t max_bytes) {
  auto bytes = WriteTflite(g);
  if (!bytes.ok()) {
    std::fprintf(stderr, "fuzz_seeds: %s: %s\n", stem.c_str(), bytes.status().message().c_str());
    return;
  }
  Save(dir, stem, *bytes, max_bytes);
}

// Operator `i` of `g` alone, with the tensors it touches.
Graph CutOperator(const Graph& g, size_t i) {
  const Operator& op = g.operators[i];
  Graph cut;
  cut.name = g.name;
  std::map<int, int> remap;
  auto add = [&](int t) {
    if (t == kNoTensor) return kNoTensor;
    auto [it, added] = remap.try_emplace(t, static_cast<int>(cut.tensors.size()));
    if (added) cut.tensors.push_back(g.tensors[t]);
    return it->second;
  };
  Operator copy = op;
  for (int& t : copy.inputs) {
    t = add(t);
    if (t != kNoTensor && !cut.tensors[t].is_constant && !cut.tensors[t].is_variable) {
      bool listed = false;
      for (int x : cut.inputs) listed |= x == t;
      if (!listed) cut.inputs.push_back(t);
    }
  }
  for (int& t : copy.outputs) {
    t = add(t);
    cut.outputs.push_back(t);
  }
  cut.operators.push_back(std::move(copy));
  return cut;
}

Tensor T(const char* name, DType dtype, Shape shape, float scale = 0.0f, int64_t zp = 0) {
  Tensor t;
  t.name = name;
  t.dtype = dtype;
  t.shape = std::move(shape);
  if (scale > 0) {
    t.quant.scale = {scale};
    t.quant.zero_point = {zp};
  }
  return t;
}

template <typename V>
Tensor Const(const char* name, DType dtype, Shape shape, const std::vector<V>& values, float scale = 0.0f) {
  Tensor t = T(name, dtype, std::move(shape), scale);
  t.is_constant = true;
  t.data.resize(values.size() * sizeof(V));
  std::memcpy(t.data.data(), values.data(), t.data.size());
  return t;
}

// A one-operator graph: tensors[0..num_inputs) are inputs (graph inputs unless constant),
// the last tensor is the output.
Graph OneOp(OpKind kind, OpOptions options, std::vector<Tensor> tensors) {
  Graph g;
  g.name = "seed";
  g.tensors = std::move(tensors);
  Operator op;
  op.kind = kind;
  op.options = std::move(options);
  const int out = static_cast<int>(g.tensors.size()) - 1;
  for (int t = 0; t < out; ++t) {
    op.inputs.push_back(t);
    if (!g.tensors[t].is_constant) g.inputs.push_back(t);
  }
  op.outputs = {out};
  g.outputs = {out};
  g.operators.push_back(std::move(op));
  return g;
}

void HandBuilt(const std::string& dir, size_t max) {
  const DType f = DType::kFloat32, i8 = DType::kInt8, u8 = DType::kUInt8, i16 = DType::kInt16;
  const DType i32 = DType::kInt32, i64 = DType::kInt64;
  SaveGraph(dir, "pad_f32",
            OneOp(OpKind::kPad, NoOptions{},
                  {T("x", f, {1, 2, 2, 1}), Const<int32_t>("p", i32, {4, 2}, {0, 0, 1, 1, 2, 0, 0, 0}),
                   T("y", f, {1, 4, 4, 1})}),
            max);
  SaveGraph(dir, "pad_i8",
            OneOp(OpKind::kPad, NoOptions{},
                  {T("x", i8, {2, 3}, 0.5f, -3), Const<int64_t>("p", i64, {2, 2}, {1, 0, 0, 2}),
                   T("y", i8, {3, 5}, 0.5f, -3)}),
            max);
  SaveGraph(dir, "transpose_u8",
            OneOp(OpKind::kTranspose, NoOptions{},
                  {T("x", u8, {2, 3, 4}, 0.1f, 128), Const<int32_t>("perm", i32, {3}, {2, 0, 1}),
                   T("y", u8, {4, 2, 3}, 0.1f, 128)}),
            max);
  SaveGraph(dir, "concat_f32",
            OneOp(OpKind::kConcatenation, ConcatenationOptions{1, Activation::kNone},
                  {T("a", f, {2, 1, 3}), T("b", f, {2, 2, 3}), Const<float>("c", f, {2, 1, 3}, {1, 2, 3, 4, 5, 6}),
                   T("y", f, {2, 4, 3})}),
            max);
  SaveGraph(dir, "concat_i16",
            OneOp(OpKind::kConcatenation, ConcatenationOptions{-1, Activation::kNone},
                  {T("a", i16, {1, 3}, 0.01f), T("b", i16, {1, 2}, 0.01f), T("y", i16, {1, 5}, 0.01f)}),
            max);
  ReshapeOptions reshape;
  reshape.has_new_shape = true;
  reshape.new_shape = {6};
  SaveGraph(dir, "reshape_i8",
            OneOp(OpKind::kReshape, reshape,
                  {T("x", i8, {2, 3}, 0.2f, 1), Const<int32_t>("s", i32, {1}, {6}), T("y", i8, {6}, 0.2f, 1)}),
            max);
  SaveGraph(dir, "sub_i8_broadcast",
            OneOp(OpKind::kSub, ElementwiseOptions{Activation::kRelu, false},
                  {T("a", i8, {2, 1, 3}, 0.05f, 2), T("b", i8, {4, 1}, 0.07f, -5), T("y", i8, {2, 4, 3}, 0.1f, 0)}),
            max);
  SaveGraph(dir, "add_i16",
            OneOp(OpKind::kAdd, ElementwiseOptions{Activation::kNone, false},
                  {T("a", i16, {1, 4}, 0.001f), T("b", i16, {1, 4}, 0.002f), T("y", i16, {1, 4}, 0.003f)}),
            max);
  SaveGraph(dir, "add_f32_broadcast",
            OneOp(OpKind::kAdd, ElementwiseOptions{Activation::kRelu6, true},
                  {T("a", f, {3, 1}), Const<float>("b", f, {2}, {1.5f, -2.0f}), T("y", f, {3, 2})}),
            max);
  SaveGraph(dir, "maxpool_f32",
            OneOp(OpKind::kMaxPool2D, PoolOptions{Padding::kSame, 2, 2, 3, 3, Activation::kNone},
                  {T("x", f, {1, 5, 5, 2}), T("y", f, {1, 3, 3, 2})}),
            max);
  SaveGraph(dir, "avgpool_u8",
            OneOp(OpKind::kAveragePool2D, PoolOptions{Padding::kValid, 1, 1, 2, 2, Activation::kRelu},
                  {T("x", u8, {1, 3, 3, 1}, 0.1f, 10), T("y", u8, {1, 2, 2, 1}, 0.1f, 10)}),
            max);
  SaveGraph(dir, "maxpool_i16",
            OneOp(OpKind::kMaxPool2D, PoolOptions{Padding::kValid, 2, 1, 2, 1, Activation::kRelu6},
                  {T("x", i16, {1, 4, 3, 1}, 0.01f), T("y", i16, {1, 3, 2, 1}, 0.01f)}),
            max);
  SaveGraph(dir, "fc_f32",
            OneOp(OpKind::kFullyConnected, FullyConnectedOptions{},
                  {T("x", f, {2, 3}), Const<float>("w", f, {2, 3}, {1, 2, 3, 4, 5, 6}),
                   Const<float>("b", f, {2}, {0.5f, -0.5f}), T("y", f, {2, 2})}),
            max);
  {
    Tensor w = Const<int8_t>("w", i8, {3, 2}, {1, -2, 3, -4, 5, 127});
    w.quant.scale = {0.5f, 0.25f, 0.125f};
    w.quant.zero_point = {0, 0, 0};
    Tensor b = Const<int32_t>("b", i32, {3}, {100, -100, 7});
    b.quant.scale = {0.05f, 0.025f, 0.0125f};
    b.quant.zero_point = {0, 0, 0};
    SaveGraph(dir, "fc_i8_per_channel",
              OneOp(OpKind::kFullyConnected, FullyConnectedOptions{Activation::kRelu, false, false},
                    {T("x", i8, {1, 2}, 0.1f, -1), w, b, T("y", i8, {1, 3}, 0.2f, 3)}),
              max);
    Tensor b64 = Const<int64_t>("b", i64, {3}, {100, -100, 7});
    b64.quant = b.quant;
    b64.quant.scale = {0.0005f, 0.00025f, 0.000125f};
    SaveGraph(dir, "fc_i16",
              OneOp(OpKind::kFullyConnected, FullyConnectedOptions{},
                    {T("x", i16, {1, 2}, 0.001f), w, b64, T("y", i16, {1, 3}, 0.002f)}),
              max);
  }
  SaveGraph(dir, "conv_f32",
            OneOp(OpKind::kConv2D, ConvOptions{Padding::kSame, 1, 1, 2, 2, 1, Activation::kRelu},
                  {T("x", f, {1, 4, 4, 2}), Const<float>("w", f, {1, 2, 2, 2}, {1, 2, 3, 4, 5, 6, 7, 8}),
                   T("y", f, {1, 4, 4, 1})}),
            max);
  SaveGraph(dir, "dwconv_u8",
            OneOp(OpKind::kDepthwiseConv2D, ConvOptions{Padding::kValid, 1, 1, 1, 1, 2, Activation::kNone},
                  {T("x", u8, {1, 3, 3, 1}, 0.1f, 128),
                   [] {
                     Tensor w = Const<uint8_t>("w", DType::kUInt8, {1, 2, 2, 2}, {1, 2, 3, 4, 250, 251, 252, 253});
                     w.quant.scale = {0.02f};
                     w.quant.zero_point = {120};
                     return w;
                   }(),
                   T("y", u8, {1, 2, 2, 2}, 0.3f, 100)}),
            max);
  SaveGraph(dir, "softmax_i8",
            OneOp(OpKind::kSoftmax, SoftmaxOptions{1.0f},
                  {T("x", i8, {1, 10}, 0.1f, 0), T("y", i8, {1, 10}, 1.0f / 256, -128)}),
            max);
  SaveGraph(dir, "mean_f32",
            OneOp(OpKind::kMean, ReducerOptions{true},
                  {T("x", f, {1, 2, 2, 3}), Const<int32_t>("axes", i32, {2}, {1, 2}), T("y", f, {1, 1, 1, 3})}),
            max);
  SaveGraph(dir, "quantize_f32_i8",
            OneOp(OpKind::kQuantize, NoOptions{}, {T("x", f, {4}), T("y", i8, {4}, 0.1f, 3)}), max);
  SaveGraph(dir, "dequantize_i8",
            OneOp(OpKind::kDequantize, NoOptions{}, {T("x", i8, {4}, 0.1f, 3), T("y", f, {4})}), max);
  SaveGraph(dir, "mul_i8",
            OneOp(OpKind::kMul, ElementwiseOptions{},
                  {T("a", i8, {4}, 0.1f, 3), T("b", i8, {4}, 0.2f, 1), T("y", i8, {4}, 0.3f, 0)}),
            max);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: fuzz_seeds OUT_DIR MAX_BYTES [MODEL.tflite...]\n");
    return 2;
  }
  const std::string dir = argv[1];
  const size_t max = std::stoul(argv[2]);
  std::filesystem::create_directories(dir);
  for (int a = 3; a < argc; ++a) {
    const std::string path = argv[a];
    const std::string stem = std::filesystem::path(path).stem().string();
    std::ifstream in(path, std::ios::binary);
    const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    Save(dir, stem, bytes, max);
    auto g = ReadTflite(bytes.data(), bytes.size(), path);
    if (!g.ok()) continue;  // still a seed (the reader's error paths), but nothing to cut
    for (size_t i = 0; i < g->operators.size(); ++i) {
      SaveGraph(dir, stem + "-op" + std::to_string(i), CutOperator(*g, i), max);
    }
  }
  HandBuilt(dir, max);
  std::printf("fuzz_seeds: wrote %zu new seeds to %s\n", g_written, dir.c_str());
  return 0;
}
