// qaudit run: execute a model on files and write its outputs.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstring>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <span>
#include <string>

#include "cli/cli.h"
#include "cli/progress.h"
#include "core/json.h"
#include "core/values.h"
#include "qaudit/data.h"
#include "qaudit/executor.h"
#include "qaudit/tflite.h"

namespace qaudit::cli {
namespace {

constexpr const char* kHelp = R"HELP(usage: qaudit run MODEL.tflite --input [NAME=]FILE ... --output-dir DIR [options]

Runs MODEL on the given inputs and writes output K as DIR/output_K.npy (the model's dtype;
shape [N, ...] when the inputs hold N samples). Integer ops compute exactly what the
runtime named by --numerics computes.

inputs (one --input per model input; NAME= binds by tensor name, else by order), each
a dataset of N samples, optionally narrowed by [SELECTION]:
  FILE.npy     an array [N, ...]: N samples of the input's size (e.g. [N,28,28] or
               [N,1,28,28,1] for an input [1,28,28,1])
  FILE.npz[:KEY]
               array KEY of a NumPy archive, else the one named x, images or inputs
  FILE.bmp, FILE.png, FILE.jpg
               one image
  FILE.idx, FILE.idx.gz, FILE-idx3-ubyte.gz
               an IDX image file (e.g. Fashion-MNIST), each image one sample
  DIR          a folder of images (flat, or one subfolder per class)
  fmnist, fmnist:test, fmnist:train
               the Fashion-MNIST test (10,000) or training (60,000) images
  SELECTION    comma-separated: A:B (samples A to B-1), classes=C/C/.. (labels to keep),
               random=K (K samples drawn with seed=S), e.g. fmnist:train[0:1000]
Samples whose size matches the input's are reshaped to it; images are converted to its
channels and resized bilinearly to its height and width. Data in the input's dtype is
taken as it is. Otherwise uint8 inputs take pixels as they are, int8 inputs pixel - 128,
float32 inputs pixel / 255; float data is quantized with a quantized input's scale and
zero point. --preprocess changes all this.

options:
  --output-dir DIR     where to write the outputs (created if missing)
  --numerics MODE      reference: TFLite's reference integer kernels (double rounding)
                       tflite:    TFLite's built-in kernels, no delegate (default)
                       xnnpack:   TFLite with its default XNNPACK delegate
  --threads N          threads for batches (default 2); results do not depend on it
  --top K              print the K largest values of output 0 for each of the first
                       samples (dequantized when quantized)
  --labels FILE        one label per line, for --top
  --preprocess SPEC    how stored values become input values, comma-separated:
                       resize=HxW, channels=1|3, scale=X (e.g. 1/255), mean=M[/M/M],
                       std=S[/S/S] (real = (value * scale - mean) / std, then quantized
                       for a quantized input), layout=nhwc|nchw, or raw (uint8 pixels into
                       int8 inputs as pixel - 128)
  --profile N          then time each operator on sample 0, N invocations on this thread,
                       and print the median per operator (with its MACs and share); with
                       --output-dir also writes DIR/profile.json
  --quiet              print nothing but errors
)HELP";

// Loads a dataset spec and fits it to `input`. uint8 data (images, IDX) feeds int8 inputs
// raw, as pixel - 128, unless --preprocess says otherwise: run has always fed them so,
// which is what person_detect expects.
Result<HostTensor> LoadInput(const std::string& spec, const Tensor& input, const Preprocess& preprocess,
                             bool preprocess_given) {
  QAUDIT_ASSIGN_OR_RETURN(Dataset data, LoadDataset(spec, preprocess));
  Preprocess fit = preprocess;
  fit.raw = fit.raw || (!preprocess_given && data.samples.dtype == DType::kUInt8 && input.dtype == DType::kInt8);
  return FitToInput(data, {input.name, input.dtype, input.shape, input.quant}, fit);
}

// --profile: times the operators on sample 0 of `inputs`, prints the table and, with an
// output folder, writes it as DIR/profile.json (through a temporary file, so that a
// failed write leaves no half a file).
Status Profile(const Executor& executor, const std::vector<HostTensor>& inputs, int invocations,
               const char* numerics, const std::string& out_dir) {
  const Graph& g = executor.graph();
  std::vector<HostTensor> first(inputs.size());
  for (size_t k = 0; k < inputs.size(); ++k) {
    const Tensor& t = g.tensors[g.inputs[k]];
    first[k] = inputs[k];
    first[k].shape = t.shape;
    first[k].bytes.resize(static_cast<size_t>(t.num_elements()) * DTypeSize(t.dtype));
  }
  QAUDIT_ASSIGN_OR_RETURN(std::vector<Executor::OperatorTime> times, executor.ProfileOperators(first, invocations));
  std::printf("operator times on sample 0 (%s numerics), median of %d invocations on one thread:\n%s", numerics,
              invocations, Executor::OperatorTimesTable(g, times).c_str());
  if (out_dir.empty()) return Status::Ok();
  const std::string json =
      "{\"numerics\":" + JsonString(numerics) + ",\"invocations\":" + std::to_string(invocations) +
      ",\"operators\":" + JsonArray(times, [&](const Executor::OperatorTime& t) {
        const std::span<const Operator> timed(g.operators.data() + t.op, t.fused_ops);
        const Operator& last = timed.back();
        return "{\"index\":" + std::to_string(t.op) + ",\"operators\":" +
               JsonArray(timed, [](const Operator& op) { return JsonString(OpName(op.kind)); }) +
               ",\"output_shape\":" +
               JsonArray(g.tensors[last.outputs[0]].shape, [](int32_t d) { return std::to_string(d); }) +
               ",\"macs\":" + std::to_string(t.macs) + ",\"median_us\":" + JsonNumber(t.median_us) + "}";
      }) + "}\n";
  const std::string path = out_dir + "/profile.json", partial = path + ".partial";
  {
    std::ofstream out(partial, std::ios::binary);
    out << json;
    if (!out.flush()) return Status::IOError(partial + ": cannot write");
  }
  std::error_code ec;
  std::filesystem::rename(partial, path, ec);
  if (ec) return Status::IOError(path + ": " + ec.message());
  std::printf("operator times -> %s\n", path.c_str());
  return Status::Ok();
}

}  // namespace

int Run(int argc, char** argv) {
  Args args(argc, argv, 2);
  if (args.Flag("--help") || args.Flag("-h")) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  const auto input_args = args.Values("--input");
  const std::string out_dir = args.Value("--output-dir");
  const std::string numerics_name = args.Value("--numerics", "tflite");
  const std::string threads_text = args.Value("--threads", "2");
  const std::string top_text = args.Value("--top", "0");
  const std::string profile_text = args.Value("--profile", "0");
  const std::string labels_path = args.Value("--labels");
  const std::string preprocess_text = args.Value("--preprocess");
  const bool quiet = args.Flag("--quiet");
  auto positionals = args.Positionals();
  if (!positionals.ok()) return Fail("run", positionals.status());
  if (positionals->size() != 1) {
    std::fputs(kHelp, stderr);
    return kExitBadInput;
  }
  const std::string& model_path = (*positionals)[0];
  const auto numerics = NumericsFromName(numerics_name);
  if (!numerics) return Fail("run", Status::InvalidArgument("--numerics must be reference, tflite or xnnpack, not '" + numerics_name + "'"));
  int threads = 0, top = 0, profile = 0;
  try {
    threads = std::stoi(threads_text);
    top = std::stoi(top_text);
    profile = std::stoi(profile_text);
  } catch (...) {
    return Fail("run", Status::InvalidArgument("--threads, --top and --profile take whole numbers"));
  }
  if (threads < 1 || threads > 256) return Fail("run", Status::InvalidArgument("--threads must be 1 to 256"));
  if (profile < 0 || profile > 100000) return Fail("run", Status::InvalidArgument("--profile must be 0 to 100000"));
  if (out_dir.empty() && top == 0 && profile == 0) {
    return Fail("run", Status::InvalidArgument("give --output-dir DIR (or --top K, --profile N)"));
  }
  const auto preprocess = ParsePreprocess(preprocess_text);
  if (!preprocess.ok()) return Fail("run", preprocess.status());

  auto graph = ReadTfliteFile(model_path);
  if (!graph.ok()) return Fail("run", graph.status());
  if (!quiet) {
    for (const std::string& w : GraphWarnings(*graph)) std::fprintf(stderr, "warning: %s\n", w.c_str());
  }
  RepairGraph(*graph);  // what GraphWarnings reported, qaudit reads the one way it can mean
  const Graph& g = *graph;
  if (input_args.size() != g.inputs.size()) {
    return Fail("run", Status::InvalidArgument(model_path + " has " + std::to_string(g.inputs.size()) +
                                               " inputs but " + std::to_string(input_args.size()) +
                                               " --input were given"));
  }
  std::vector<HostTensor> inputs(g.inputs.size());
  std::vector<bool> bound(g.inputs.size(), false);
  for (size_t pos = 0; pos < input_args.size(); ++pos) {
    std::string arg = input_args[pos], file = arg;
    size_t k = pos;
    const size_t eq = arg.find('=');
    if (eq != std::string::npos) {
      const std::string name = arg.substr(0, eq);
      auto it = std::find_if(g.inputs.begin(), g.inputs.end(), [&](int t) { return g.tensors[t].name == name; });
      if (it != g.inputs.end()) {
        k = static_cast<size_t>(it - g.inputs.begin());
        file = arg.substr(eq + 1);
      }
    }
    if (bound[k]) return Fail("run", Status::InvalidArgument("input " + std::to_string(k) + " is given twice"));
    bound[k] = true;
    auto t = LoadInput(file, g.tensors[g.inputs[k]], *preprocess, !preprocess_text.empty());
    if (!t.ok()) return Fail("run", t.status());
    inputs[k] = std::move(t).value();
  }

  ExecutorOptions options;
  options.numerics = *numerics;
  options.num_threads = threads;
  auto executor = Executor::Create(std::move(graph).value(), options);
  if (!executor.ok()) return Fail("run", executor.status().WithContext(model_path));
  const Graph& eg = (*executor)->graph();
  const bool show_progress = !quiet && isatty(STDERR_FILENO);
  const auto start = std::chrono::steady_clock::now();
  ProgressBar bar("running", "samples", show_progress);
  auto outputs = (*executor)->RunBatch(inputs, bar.AsCallback());
  if (!outputs.ok()) return Fail("run", outputs.status());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const int64_t samples = outputs->empty() ? 0 : (*outputs)[0].shape[0];

  if (!out_dir.empty()) {
    std::error_code ec;
    std::filesystem::create_directories(out_dir, ec);
    if (ec) return Fail("run", Status::IOError(out_dir + ": " + ec.message()));
    for (size_t k = 0; k < outputs->size(); ++k) {
      const std::string file = out_dir + "/output_" + std::to_string(k) + ".npy";
      Status s = WriteNpy(file, (*outputs)[k]);
      if (!s.ok()) return Fail("run", s);
      if (!quiet) {
        const Tensor& t = eg.tensors[eg.outputs[k]];
        std::printf("output %zu '%s' %s%s -> %s\n", k, t.name.c_str(), DTypeName((*outputs)[k].dtype),
                    ShapeToString((*outputs)[k].shape).c_str(), file.c_str());
      }
    }
  }
  if (top > 0 && !outputs->empty()) {
    std::vector<std::string> labels;
    if (!labels_path.empty()) {
      std::ifstream in(labels_path);
      if (!in) return Fail("run", Status::NotFound(labels_path + ": cannot open labels file"));
      for (std::string line; std::getline(in, line);) labels.push_back(line);
    }
    const HostTensor& out = (*outputs)[0];
    const Tensor& spec = eg.tensors[eg.outputs[0]];
    const int64_t per_sample = samples ? out.num_elements() / samples : 0;
    for (int64_t s = 0; s < std::min<int64_t>(samples, 10); ++s) {
      auto v = RealValues(out, spec.quant, s * per_sample, per_sample);
      std::vector<int> order(v.size());
      std::iota(order.begin(), order.end(), 0);
      const int k = std::min<int>(top, static_cast<int>(order.size()));
      std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) { return v[a] > v[b]; });
      std::printf("sample %lld top %d:\n", static_cast<long long>(s), k);
      for (int i = 0; i < k; ++i) {
        const int c = order[i];
        std::printf("  %5d %9.5f  %s\n", c, v[c], c < static_cast<int>(labels.size()) ? labels[c].c_str() : "");
      }
    }
  }
  if (!quiet) {
    std::printf("ran %lld sample(s) with %s numerics on %d thread(s) in %.3f s\n", static_cast<long long>(samples),
                NumericsName(*numerics), threads, seconds);
  }
  if (profile > 0 && samples > 0) {
    Status s = Profile(**executor, inputs, profile, NumericsName(*numerics), out_dir);
    if (!s.ok()) return Fail("run", s);
  }
  return kExitOk;
}

}  // namespace qaudit::cli
