// qaudit search: find the calibration that quantizes a model best on held-out data.
#include <cstdio>
#include <cstdlib>

#include "cli/cli.h"
#include "core/json.h"
#include "cli/model_data.h"
#include "cli/progress.h"
#include "qaudit/search.h"
#include "qaudit/tflite.h"

namespace qaudit::cli {
namespace {

constexpr const char* kHelp = R"HELP(usage: qaudit search FLOAT.tflite --calibration DATA --validation DATA [options]

Searches for the calibration that gives the best int8 (or 16x8) model, judged on a
validation split: the calibrator (minmax, moving-average, percentile, mse, entropy), the
percentile (99.9 to 99.9999), the moving-average constant (0.001 to 0.1), and a clipping
fraction of every range (0.5 to 1; one for all tensors, or one per tensor with
--per-tensor). Each trial quantizes the model and runs it on the validation data in
qaudit's executor. TFLite's own choice (minmax, no clipping) is always a trial, so the
report shows what the search gains over it.

Keep the validation split apart from the data you report final figures on: the search
fits to it (e.g. --validation fmnist:train[50000:55000] and report on fmnist:test).

options:
  --calibration DATA  representative data (see `qaudit quantize --help` for DATA)
  --validation DATA   held-out data; labelled for --objective accuracy
  --preprocess SPEC   as for quantize, applied to both
  --method M          bayes (default: a Gaussian process with expected improvement; the
                      first quarter of the trials are random) or grid (calibrators x
                      clipping fractions x percentiles, then per tensor by coordinate descent)
  --objective O       accuracy (default: top-1 on the validation labels) or mse (mean
                      squared error of the outputs against the float model)
  --trials N          evaluations (default 30)
  --per-tensor        one clipping fraction per tensor
  --quant-method M    int8 (default) or int16x8
  --numerics MODE     tflite (default), xnnpack or reference
  --seed N            the random points of the Bayesian search (default 0)
  --threads N         threads (default 2)
  --json              print the best configuration and the whole trial history as JSON
  -o, --output FILE   also write the best model (float input and output)
)HELP";

}  // namespace

int Search(int argc, char** argv) {
  constexpr const char* kCommand = "search";
  Args args(argc, argv, 2);
  if (args.Flag("--help") || args.Flag("-h")) {
    std::fputs(kHelp, stdout);
    return kExitOk;
  }
  const std::string calibration = args.Value("--calibration");
  const std::string validation = args.Value("--validation");
  const std::string preprocess = args.Value("--preprocess");
  const std::string method = args.Value("--method", "bayes");
  const std::string objective = args.Value("--objective", "accuracy");
  const int trials = std::atoi(args.Value("--trials", "30").c_str());
  const bool per_tensor = args.Flag("--per-tensor");
  const std::string quant_method = args.Value("--quant-method", "int8");
  const std::string numerics_name = args.Value("--numerics", "tflite");
  const uint64_t seed = std::strtoull(args.Value("--seed", "0").c_str(), nullptr, 10);
  const int threads = std::atoi(args.Value("--threads", "2").c_str());
  const bool json = args.Flag("--json");
  std::string output = args.Value("--output");
  if (output.empty()) output = args.Value("-o");
  auto positionals = args.Positionals();
  if (!positionals.ok()) return Fail(kCommand, positionals.status());
  if (positionals->size() != 1 || calibration.empty() || validation.empty()) {
    std::fputs("usage: qaudit search FLOAT.tflite --calibration DATA --validation DATA [options] (--help for more)\n",
               stderr);
    return kExitBadInput;
  }
  search::SearchOptions options;
  if (method != "bayes" && method != "grid") return Fail(kCommand, Status::InvalidArgument("--method '" + method + "': expected bayes or grid"));
  options.method = method == "grid" ? search::Method::kGrid : search::Method::kBayes;
  if (objective != "accuracy" && objective != "mse") return Fail(kCommand, Status::InvalidArgument("--objective '" + objective + "': expected accuracy or mse"));
  options.objective = objective == "mse" ? search::Objective::kMse : search::Objective::kAccuracy;
  if (trials < 1) return Fail(kCommand, Status::InvalidArgument("--trials must be >= 1"));
  options.trials = trials;
  options.per_tensor = per_tensor;
  options.seed = seed;
  const auto q = QuantMethodFromName(quant_method);
  if (!q || !NeedsCalibration(*q)) return Fail(kCommand, Status::InvalidArgument("--quant-method '" + quant_method + "': expected int8 or int16x8"));
  options.quantize.method = *q;
  const auto numerics = NumericsFromName(numerics_name);
  if (!numerics) return Fail(kCommand, Status::InvalidArgument("--numerics '" + numerics_name + "': expected tflite, xnnpack or reference"));
  if (threads < 1) return Fail(kCommand, Status::InvalidArgument("--threads must be >= 1"));
  options.executor = ExecutorOptions{*numerics, threads};

  auto graph = ReadTfliteFile((*positionals)[0]);
  if (!graph.ok()) return Fail(kCommand, graph.status());
  auto calibration_data = LoadModelData(*graph, calibration, preprocess);
  if (!calibration_data.ok()) return Fail(kCommand, calibration_data.status());
  auto validation_data = LoadModelData(*graph, validation, preprocess);
  if (!validation_data.ok()) return Fail(kCommand, validation_data.status());
  CollectOptions collect;
  collect.num_threads = threads;
  ProgressBar calibrating("calibrating", "sample passes", !json && isatty(STDERR_FILENO));
  collect.progress = calibrating.AsCallback();
  auto stats = CalibrationStatistics::Collect(*graph, calibration_data->inputs, collect);
  if (!stats.ok()) return Fail(kCommand, stats.status());
  ProgressBar searching("searching", "trials", !json && isatty(STDERR_FILENO));
  options.progress = searching.AsCallback();
  auto result = search::Search(*graph, *stats, validation_data->inputs, validation_data->dataset.labels, options);
  if (!result.ok()) return Fail(kCommand, result.status());
  const search::Trial& best = result->history[result->best];
  const search::Trial& baseline = result->history[0];
  if (!output.empty()) {
    auto model = Quantize(*graph, options.quantize, &result->best_ranges);
    if (!model.ok()) return Fail(kCommand, model.status());
    if (Status s = WriteTfliteFile(model->graph, output); !s.ok()) return Fail(kCommand, s);
  }
  auto trial_json = [](const search::Trial& t) {
    return "{\"config\":" + search::ConfigToJson(t.config) + ",\"objective\":" + JsonNumber(t.objective) +
           ",\"accuracy\":" + (t.accuracy < 0 ? "null" : JsonNumber(t.accuracy)) + ",\"mse\":" + JsonNumber(t.mse) +
           ",\"seconds\":" + JsonNumber(t.seconds) + "}";
  };
  if (json) {
    std::printf("{\"model\":%s,\"calibration\":%s,\"validation\":%s,\"method\":%s,\"objective\":%s,\"best\":%s,"
                "\"tflite_default\":%s,\"history\":%s}\n",
                JsonString((*positionals)[0]).c_str(), JsonString(calibration).c_str(), JsonString(validation).c_str(),
                JsonString(method).c_str(), JsonString(objective).c_str(), trial_json(best).c_str(),
                trial_json(baseline).c_str(), JsonArray(result->history, trial_json).c_str());
    return kExitOk;
  }
  std::printf("%-4s %-15s %10s %10s %8s %12s %12s\n", "#", "calibrator", "percentile", "ema c", "clip", "accuracy", "mse");
  for (size_t i = 0; i < result->history.size(); ++i) {
    const search::Trial& t = result->history[i];
    // Only the chosen calibrator's own parameter is shown.
    char percentile[32] = "-", ema[32] = "-";
    if (t.config.calibrator == Calibrator::kPercentile) std::snprintf(percentile, sizeof(percentile), "%.4f", t.config.percentile);
    if (t.config.calibrator == Calibrator::kMovingAverage) std::snprintf(ema, sizeof(ema), "%.4f", t.config.averaging_constant);
    std::printf("%-4zu %-15s %10s %10s %8.3f %11.2f%% %12.4g%s\n", i, CalibratorName(t.config.calibrator), percentile,
                ema, t.config.clip_fraction, t.accuracy < 0 ? 0.0 : 100 * t.accuracy, t.mse,
                i == result->best ? "  <- best" : "");
  }
  std::printf("best: %s\nTFLite's default (minmax, no clipping): objective %.6g; best %.6g\n",
              search::ConfigToJson(best.config).c_str(), baseline.objective, best.objective);
  if (!output.empty()) std::printf("wrote %s\n", output.c_str());
  return kExitOk;
}

}  // namespace qaudit::cli
