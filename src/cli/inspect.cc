// qaudit inspect: what a .tflite model contains.
#include <cstdio>
#include <string>
#include <variant>

#include "cli/cli.h"
#include "core/json.h"
#include "qaudit/tflite.h"

namespace qaudit::cli {
namespace {

constexpr const char* kHelp = R"HELP(usage: qaudit inspect MODEL.tflite [--json]

Reads MODEL.tflite, checks it (structure, tensor and buffer indices, buffer sizes against
shapes and dtypes, quantization arrays against shapes, operator order) and lists:
  - inputs and outputs;
  - every operator in execution order with its options;
  - every tensor: dtype, shape, quantization (scale/zero point, or per-axis scales
    along a dimension), bytes, and whether it is a constant;
  - warnings about problems qaudit works around (see `qaudit repair`).

options:
  --json    print one JSON object instead of text (same content)
)HELP";

std::string QuantText(const QuantParams& q) {
  if (q.scale.empty()) return "-";
  char buf[96];
  if (!q.per_axis()) {
    std::snprintf(buf, sizeof(buf), "scale=%.6g zp=%lld", q.scale[0], static_cast<long long>(q.zero_point_at(0)));
    return buf;
  }
  std::snprintf(buf, sizeof(buf), "per-axis dim %d: %zu scales [%.4g..]", q.quantized_dimension, q.scale.size(),
                q.scale[0]);
  return buf;
}

std::string OptionsText(const Operator& op) {
  char buf[160] = "";
  std::visit(
      [&](const auto& o) {
        using T = std::decay_t<decltype(o)>;
        if constexpr (std::is_same_v<T, ConvOptions>) {
          std::snprintf(buf, sizeof(buf), "%s stride %dx%d dilation %dx%d%s act %s",
                        o.padding == Padding::kSame ? "SAME" : "VALID", o.stride_h, o.stride_w, o.dilation_h,
                        o.dilation_w, op.kind == OpKind::kDepthwiseConv2D ? (" mult " + std::to_string(o.depth_multiplier)).c_str() : "",
                        ActivationName(o.activation));
        } else if constexpr (std::is_same_v<T, PoolOptions>) {
          std::snprintf(buf, sizeof(buf), "%s filter %dx%d stride %dx%d act %s",
                        o.padding == Padding::kSame ? "SAME" : "VALID", o.filter_h, o.filter_w, o.stride_h,
                        o.stride_w, ActivationName(o.activation));
        } else if constexpr (std::is_same_v<T, FullyConnectedOptions>) {
          std::snprintf(buf, sizeof(buf), "act %s%s", ActivationName(o.activation), o.keep_num_dims ? " keep_num_dims" : "");
        } else if constexpr (std::is_same_v<T, ElementwiseOptions>) {
          std::snprintf(buf, sizeof(buf), "act %s", ActivationName(o.activation));
        } else if constexpr (std::is_same_v<T, ConcatenationOptions>) {
          std::snprintf(buf, sizeof(buf), "axis %d act %s", o.axis, ActivationName(o.activation));
        } else if constexpr (std::is_same_v<T, SoftmaxOptions>) {
          std::snprintf(buf, sizeof(buf), "beta %g", o.beta);
        } else if constexpr (std::is_same_v<T, ReducerOptions>) {
          std::snprintf(buf, sizeof(buf), "keep_dims %s", o.keep_dims ? "true" : "false");
        } else if constexpr (std::is_same_v<T, LeakyReluOptions>) {
          std::snprintf(buf, sizeof(buf), "alpha %g", o.alpha);
        }
      },
      op.options);
  return buf;
}

size_t TensorBytes(const Tensor& t) { return static_cast<size_t>(t.num_elements()) * DTypeSize(t.dtype); }

std::string IndexList(const std::vector<int>& v) {
  std::string s;
  for (int t : v) s += (s.empty() ? "" : ",") + std::to_string(t);
  return s;
}

void PrintText(const std::string& path, const Graph& g, const std::vector<std::string>& warnings) {
  size_t constant_bytes = 0, activation_bytes = 0;
  for (const Tensor& t : g.tensors) (t.is_constant ? constant_bytes : activation_bytes) += TensorBytes(t);
  std::printf("model: %s\n", path.c_str());
  if (!g.description.empty()) std::printf("description: %s\n", g.description.c_str());
  std::printf("%zu operators, %zu tensors, %zu bytes of constants, %zu bytes of activations\n", g.operators.size(),
              g.tensors.size(), constant_bytes, activation_bytes);
  for (const char* kind : {"input", "output"}) {
    const auto& list = std::string(kind) == "input" ? g.inputs : g.outputs;
    for (size_t k = 0; k < list.size(); ++k) {
      const Tensor& t = g.tensors[list[k]];
      std::printf("%-6s %zu: tensor %d '%s' %s%s %s\n", kind, k, list[k], t.name.c_str(), DTypeName(t.dtype),
                  ShapeToString(t.shape).c_str(), QuantText(t.quant).c_str());
    }
  }
  std::printf("\noperators:\n");
  for (size_t i = 0; i < g.operators.size(); ++i) {
    const Operator& op = g.operators[i];
    std::printf("  %3zu %-18s in [%s] -> out [%s]  %s\n", i, OpName(op.kind), IndexList(op.inputs).c_str(),
                IndexList(op.outputs).c_str(), OptionsText(op).c_str());
  }
  std::printf("\ntensors:\n  %4s %-8s %-18s %10s %-5s %-40s %s\n", "#", "dtype", "shape", "bytes", "const",
              "quantization", "name");
  for (size_t t = 0; t < g.tensors.size(); ++t) {
    const Tensor& x = g.tensors[t];
    std::printf("  %4zu %-8s %-18s %10zu %-5s %-40s %s\n", t, DTypeName(x.dtype), ShapeToString(x.shape).c_str(),
                TensorBytes(x), x.is_constant ? "yes" : "", QuantText(x.quant).c_str(), x.name.c_str());
  }
  for (const std::string& w : warnings) std::printf("warning: %s\n", w.c_str());
}

void PrintJson(const std::string& path, const Graph& g, const std::vector<std::string>& warnings) {
  std::string out = "{\"model\":" + JsonString(path) + ",\"description\":" + JsonString(g.description);
  out += ",\"inputs\":" + JsonArray(g.inputs, [](int t) { return std::to_string(t); });
  out += ",\"outputs\":" + JsonArray(g.outputs, [](int t) { return std::to_string(t); });
  int index = 0;
  out += ",\"operators\":" + JsonArray(g.operators, [&](const Operator& op) {
    return "{\"index\":" + std::to_string(index++) + ",\"op\":" + JsonString(OpName(op.kind)) +
           ",\"version\":" + std::to_string(op.version) +
           ",\"inputs\":" + JsonArray(op.inputs, [](int t) { return std::to_string(t); }) +
           ",\"outputs\":" + JsonArray(op.outputs, [](int t) { return std::to_string(t); }) +
           ",\"options\":" + JsonString(OptionsText(op)) + "}";
  });
  index = 0;
  out += ",\"tensors\":" + JsonArray(g.tensors, [&](const Tensor& t) {
    std::string q = "null";
    if (!t.quant.scale.empty()) {
      q = "{\"scale\":" + JsonArray(t.quant.scale, [](float s) { return JsonNumber(s); }) +
          ",\"zero_point\":" + JsonArray(t.quant.zero_point, [](int64_t z) { return std::to_string(z); }) +
          ",\"quantized_dimension\":" + std::to_string(t.quant.quantized_dimension) + "}";
    }
    return "{\"index\":" + std::to_string(index++) + ",\"name\":" + JsonString(t.name) +
           ",\"dtype\":" + JsonString(DTypeName(t.dtype)) +
           ",\"shape\":" + JsonArray(t.shape, [](int32_t d) { return std::to_string(d); }) +
           ",\"bytes\":" + std::to_string(TensorBytes(t)) + ",\"constant\":" + (t.is_constant ? "true" : "false") +
           ",\"quantization\":" + q + "}";
  });
  out += ",\"warnings\":" + JsonArray(warnings, [](const std::string& w) { return JsonString(w); }) + "}";
  std::puts(out.c_str());
}

}  // namespace

int Inspect(int argc, char** argv) {
  Args args(argc, argv, 2);
  if (args.Flag("--help") || args.Flag("-h")) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  const bool json = args.Flag("--json");
  auto positionals = args.Positionals();
  if (!positionals.ok()) return Fail("inspect", positionals.status());
  if (positionals->size() != 1) {
    std::fputs(kHelp, stderr);
    return kExitBadInput;
  }
  const std::string& path = (*positionals)[0];
  auto graph = ReadTfliteFile(path);
  if (!graph.ok()) return Fail("inspect", graph.status());
  const auto warnings = GraphWarnings(*graph);
  json ? PrintJson(path, *graph, warnings) : PrintText(path, *graph, warnings);
  return kExitOk;
}

}  // namespace qaudit::cli
