// qaudit compare: how far two models' outputs are apart on the same data.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "cli/cli.h"
#include "core/json.h"
#include "cli/model_data.h"
#include "cli/progress.h"
#include "core/values.h"
#include "qaudit/executor.h"
#include "qaudit/tflite.h"

namespace qaudit::cli {
namespace {

constexpr const char* kHelp = R"HELP(usage: qaudit compare A.tflite B.tflite --data DATA [options]

Runs both models on the same samples and reports, for each output, how far B is from A:
e.g. A a float model and B its quantized version. Quantized outputs are dequantized
((q - zero_point) x scale) first.

per output:
  argmax agreement   share of samples whose largest output is at the same index in A and B
                     (only for outputs with more than one value per sample)
  max abs error      the largest |A - B| over all samples and values
  mean abs error     the mean of |A - B|
  SQNR               10 log10(sum A^2 / sum (A - B)^2) in dB; higher is closer
With labels in DATA (fmnist, npz with y, class folders, IDX with a labels file), the top-1
accuracy of each model on output 0 is reported too.

options:
  --data DATA          the samples (see `qaudit quantize --help` for the forms of DATA)
  --preprocess SPEC    how stored values become model inputs (see `qaudit quantize --help`);
                       each model's input is fitted on its own, so a float and an int8 model
                       get the same real values
  --numerics MODE      tflite (default), xnnpack or reference, for both models
  --threads N          threads (default 2)
  --json               print the report as JSON on stdout
)HELP";

struct OutputComparison {
  std::string name;
  int64_t values_per_sample = 0;
  double argmax_agreement = -1;  // -1: not meaningful
  double max_abs_error = 0;
  double mean_abs_error = 0;
  double sqnr_db = 0;
};

OutputComparison CompareOutput(const std::string& name, const std::vector<float>& a, const std::vector<float>& b,
                               int64_t samples) {
  OutputComparison c;
  c.name = name;
  c.values_per_sample = samples > 0 ? static_cast<int64_t>(a.size()) / samples : 0;
  double signal = 0, noise = 0, abs_sum = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = static_cast<double>(a[i]) - b[i];
    signal += static_cast<double>(a[i]) * a[i];
    noise += d * d;
    abs_sum += std::fabs(d);
    c.max_abs_error = std::max(c.max_abs_error, std::fabs(d));
  }
  c.mean_abs_error = a.empty() ? 0 : abs_sum / a.size();
  c.sqnr_db = noise == 0 ? INFINITY : 10 * std::log10(signal / noise);
  if (c.values_per_sample > 1) {
    int64_t agree = 0;
    for (int64_t s = 0; s < samples; ++s) {
      agree += ArgMax(a.data() + s * c.values_per_sample, c.values_per_sample) ==
               ArgMax(b.data() + s * c.values_per_sample, c.values_per_sample);
    }
    c.argmax_agreement = static_cast<double>(agree) / samples;
  }
  return c;
}

double Accuracy(const std::vector<float>& scores, const std::vector<int32_t>& labels) {
  const int64_t n = static_cast<int64_t>(labels.size());
  const int64_t per = static_cast<int64_t>(scores.size()) / n;
  int64_t correct = 0;
  for (int64_t s = 0; s < n; ++s) correct += ArgMax(scores.data() + s * per, per) == labels[s];
  return static_cast<double>(correct) / n;
}

}  // namespace

int Compare(int argc, char** argv) {
  constexpr const char* kCommand = "compare";
  Args args(argc, argv, 2);
  if (args.Flag("--help") || args.Flag("-h")) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  const std::string data_spec = args.Value("--data");
  const std::string preprocess = args.Value("--preprocess");
  const std::string numerics_name = args.Value("--numerics", "tflite");
  const int threads = std::atoi(args.Value("--threads", "2").c_str());
  const bool json = args.Flag("--json");
  auto positionals = args.Positionals();
  if (!positionals.ok()) return Fail(kCommand, positionals.status());
  if (positionals->size() != 2 || data_spec.empty()) {
    std::fputs("usage: qaudit compare A.tflite B.tflite --data DATA [options] (--help for more)\n", stderr);
    return kExitBadInput;
  }
  const auto numerics = NumericsFromName(numerics_name);
  if (!numerics) return Fail(kCommand, Status::InvalidArgument("--numerics '" + numerics_name + "': expected tflite, xnnpack or reference"));
  if (threads < 1) return Fail(kCommand, Status::InvalidArgument("--threads must be >= 1"));

  std::vector<std::vector<std::vector<float>>> outputs(2);  // [model][output] -> values
  std::vector<std::string> names;
  Dataset dataset;
  int64_t samples = 0;
  for (int m = 0; m < 2; ++m) {
    const std::string& path = (*positionals)[m];
    auto graph = ReadTfliteFile(path);
    if (!graph.ok()) return Fail(kCommand, graph.status());
    auto data = LoadModelData(*graph, data_spec, preprocess);
    if (!data.ok()) return Fail(kCommand, data.status());
    auto executor = Executor::Create(*graph, ExecutorOptions{*numerics, threads});
    if (!executor.ok()) return Fail(kCommand, executor.status());
    ProgressBar bar("running " + path, "samples", !json && isatty(STDERR_FILENO));
    auto result = (*executor)->RunBatch(data->inputs, bar.AsCallback());
    if (!result.ok()) return Fail(kCommand, result.status());
    for (size_t k = 0; k < result->size(); ++k) {
      const Tensor& t = (*executor)->graph().tensors[(*executor)->graph().outputs[k]];
      outputs[m].push_back(RealValues((*result)[k], t.quant));
      if (m == 0) names.push_back(t.name);
    }
    samples = data->dataset.size();
    if (m == 0) dataset = std::move(data->dataset);
  }
  if (outputs[0].size() != outputs[1].size()) {
    return Fail(kCommand, Status::InvalidArgument("the models have " + std::to_string(outputs[0].size()) + " and " +
                                                  std::to_string(outputs[1].size()) + " outputs"));
  }
  std::vector<OutputComparison> report;
  for (size_t k = 0; k < outputs[0].size(); ++k) {
    if (outputs[0][k].size() != outputs[1][k].size()) {
      return Fail(kCommand, Status::InvalidArgument("output " + std::to_string(k) + " has " +
                                                    std::to_string(outputs[0][k].size()) + " values in A and " +
                                                    std::to_string(outputs[1][k].size()) + " in B"));
    }
    report.push_back(CompareOutput(names[k], outputs[0][k], outputs[1][k], samples));
  }
  const bool labelled = !dataset.labels.empty() && !outputs[0].empty() && samples > 0;
  const double accuracy_a = labelled ? Accuracy(outputs[0][0], dataset.labels) : 0;
  const double accuracy_b = labelled ? Accuracy(outputs[1][0], dataset.labels) : 0;
  if (json) {
    std::printf("{\"a\":%s,\"b\":%s,\"data\":%s,\"samples\":%lld,\"numerics\":%s,", JsonString((*positionals)[0]).c_str(),
                JsonString((*positionals)[1]).c_str(), JsonString(data_spec).c_str(), static_cast<long long>(samples),
                JsonString(numerics_name).c_str());
    if (labelled) {
      std::printf("\"top1_a\":%s,\"top1_b\":%s,", JsonNumber(accuracy_a).c_str(), JsonNumber(accuracy_b).c_str());
    }
    std::printf("\"outputs\":%s}\n", JsonArray(report, [](const OutputComparison& c) {
                                      return "{\"name\":" + JsonString(c.name) + ",\"argmax_agreement\":" +
                                             (c.argmax_agreement < 0 ? "null" : JsonNumber(c.argmax_agreement)) +
                                             ",\"max_abs_error\":" + JsonNumber(c.max_abs_error) +
                                             ",\"mean_abs_error\":" + JsonNumber(c.mean_abs_error) +
                                             ",\"sqnr_db\":" + JsonNumber(c.sqnr_db) + "}";
                                    }).c_str());
    return kExitOk;
  }
  std::printf("A: %s\nB: %s\n%lld samples of %s, %s numerics\n", (*positionals)[0].c_str(), (*positionals)[1].c_str(),
              static_cast<long long>(samples), data_spec.c_str(), numerics_name.c_str());
  if (labelled) std::printf("top-1 accuracy: A %.2f%%, B %.2f%%\n", 100 * accuracy_a, 100 * accuracy_b);
  std::printf("%-3s %-40s %12s %14s %14s %10s\n", "#", "output", "argmax agree", "max abs err", "mean abs err", "SQNR dB");
  for (size_t k = 0; k < report.size(); ++k) {
    const OutputComparison& c = report[k];
    char agree[32] = "-";
    if (c.argmax_agreement >= 0) std::snprintf(agree, sizeof(agree), "%.2f%%", 100 * c.argmax_agreement);
    std::printf("%-3zu %-40s %12s %14.6g %14.6g %10.2f\n", k, c.name.substr(0, 40).c_str(), agree, c.max_abs_error,
                c.mean_abs_error, c.sqnr_db);
  }
  return kExitOk;
}

}  // namespace qaudit::cli
