// qaudit debug: where a quantized model departs from its float original, layer by layer,
// and which layers to keep in float to bring the accuracy drop within a budget.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>

#include "cli/cli.h"
#include "cli/model_data.h"
#include "cli/progress.h"
#include "cli/quant_flags.h"
#include "core/json.h"
#include "qaudit/debug.h"
#include "qaudit/tflite.h"

namespace qaudit::cli {
namespace {

constexpr const char* kUsageLine =
    "usage: qaudit debug FLOAT.tflite --calibration DATA --data DATA [options]\n";

std::string Help() {
  std::string help = kUsageLine;
  help += R"HELP(
TFLite's QuantizationDebugger, and more. Quantizes a float model (int8 or int16x8, from
ranges calibrated on --calibration), runs the float and the quantized model side by side
on both data sets and compares every quantized activation with the float tensor it stands
for, after dequantization (d = (q - zero_point) x scale - float):

  rmse/s         sqrt(mean d^2) / scale: rounding alone gives 1/sqrt(12) = 0.29; above 0.7
                 a layer is flagged "!" (TFLite's tutorial threshold, made for int8: with
                 int16x8 the int8 weights' error dwarfs the 16-bit step and nearly every
                 layer is flagged, so read SQNR there)
  SQNR dB        10 log10(sum float^2 / sum d^2); inf when there is no error at all
  mean d, max|d| the bias and the worst error
  sat cal/dep    share of quantized values at the type's minimum or maximum, on the
                 calibration data and on --data: clipping (an end that is the zero point
                 holds exact zeros, e.g. after RELU, and does not count)
  out of range   share of --data's float values outside what the quantized tensor can
                 represent ((qmin - zp) x s .. (qmax - zp) x s): deployment data that
                 drifted beyond the calibrated range
  representable  the real range the quantized tensor covers: what calibration chose
  ranges         the float tensor's min and max on each data set

Error statistics are over --data (the deployment data). Layers are listed in graph order;
the worst ones by rmse/s are named after the table. The model input's QUANTIZE is a layer
too: a saturating input is where drift shows first.

Selective quantization (with --max-drop or -o, and labels in --data): starting from the
full quantization, keeps in float, one at a time, the not yet denied layer with the
largest rmse/s, re-quantizing and measuring top-1 on --data after each, until the upper
bound of the 95% paired-bootstrap interval of the drop (float top-1 minus quantized
top-1) is within --max-drop, or --max-denied layers are in float, or --patience layers
in a row lowered that upper bound by less than 0.1 points. Each step shows the
denied layer, top-1, the drop with its interval, the model's size and its latency
(ms/sample, median of 3 batches of 64) against the fully quantized model: float layers
cost bytes and, on integer-only accelerators, graph fragmentation. The layers are chosen
on --data itself, so confirm the result on other data.

options:
  --calibration DATA   representative data for the ranges (see `qaudit quantize --help` for
                       the forms of DATA, e.g. "fmnist:train[0:500]")
  --data DATA          deployment data to compare on, e.g. "fmnist:test[0:2000]"
  --preprocess SPEC    how stored values become model inputs, for both data sets (see
                       `qaudit quantize --help`)
  --method M           int8 (default) or int16x8
)HELP";
  help += CalibrationFlagsHelp();
  help += R"HELP(  --numerics MODE      tflite (default), xnnpack or reference: whose integer arithmetic
                       the quantized model runs with
  --threads N          threads (default 2); results do not depend on it
  --max-drop P         run selective quantization with a budget of P percentage points of
                       top-1 (default 1 when only -o is given)
  --max-denied N       keep at most N layers in float (default 16)
  --patience N         stop after N layers in a row that did not help (default 3; 0: never)
  --json               print everything as one JSON object on stdout (fractions, not
                       percentages; SQNR null when there is no error)
  -o, --output FILE    write the last selectively quantized model (through a temporary file:
                       never half-written); needs labelled --data

exit codes: 0 done (whether or not the budget was reached), 2 bad input (model, data,
options; nothing is written), 1 internal error.
)HELP";
  return help;
}

Result<double> ParseNumber(const std::string& text, const char* option) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || *end != '\0' || !std::isfinite(v) || v < 0) {
    return Status::InvalidArgument(std::string(option) + " '" + text + "' must be a number >= 0");
  }
  return v;
}

const char* GranularityName(WeightGranularity g) {
  switch (g) {
    case WeightGranularity::kDefault: return "default";
    case WeightGranularity::kPerChannel: return "per-channel";
    case WeightGranularity::kPerTensor: return "per-tensor";
  }
  return "?";
}

std::string Percent(double share) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.2f%%", 100 * share);
  return buf;
}

std::string Range(const FloatRange& r) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "[%.4g, %.4g]", r.min, r.max);
  return buf;
}

std::string LayerJson(const debug::LayerStats& l) {
  auto range = [](const FloatRange& r) { return "[" + JsonNumber(r.min) + "," + JsonNumber(r.max) + "]"; };
  return "{\"tensor\":" + std::to_string(l.tensor) + ",\"source_tensor\":" + std::to_string(l.source_tensor) +
         ",\"name\":" + JsonString(l.tensor_name) + ",\"op\":" + JsonString(l.op) +
         ",\"op_index\":" + std::to_string(l.op_index) + ",\"dtype\":" + JsonString(DTypeName(l.dtype)) +
         ",\"scale\":" + JsonNumber(l.scale) + ",\"zero_point\":" + std::to_string(l.zero_point) +
         ",\"elements_per_sample\":" + std::to_string(l.elements_per_sample) +
         ",\"mean_error\":" + JsonNumber(l.mean_error) + ",\"max_abs_error\":" + JsonNumber(l.max_abs_error) +
         ",\"mse\":" + JsonNumber(l.mse) + ",\"rmse_over_scale\":" + JsonNumber(l.rmse_over_scale) +
         ",\"sqnr_db\":" + JsonNumber(l.sqnr_db) + ",\"flagged\":" + (l.flagged ? "true" : "false") +
         ",\"saturation_calibration\":" + JsonNumber(l.saturation_calibration) +
         ",\"saturation_deployment\":" + JsonNumber(l.saturation_deployment) +
         ",\"calibration_range\":" + range(l.calibration_range) + ",\"deployment_range\":" + range(l.deployment_range) +
         ",\"out_of_range_deployment\":" + JsonNumber(l.out_of_range_deployment) + "}";
}

std::string SelectiveJson(const debug::SelectiveResult& r, double max_drop, const std::string& output) {
  std::string steps = JsonArray(r.steps, [](const debug::SelectiveStep& s) {
    return "{\"denied\":" + JsonArray(s.denied, [](const std::string& n) { return JsonString(n); }) +
           ",\"top1\":" + JsonNumber(s.top1) + ",\"drop\":{\"estimate\":" + JsonNumber(s.drop.estimate) +
           ",\"low\":" + JsonNumber(s.drop.low) + ",\"high\":" + JsonNumber(s.drop.high) +
           "},\"model_bytes\":" + std::to_string(s.model_bytes) + ",\"ms_per_sample\":" + JsonNumber(s.ms_per_sample) +
           "}";
  });
  return "{\"max_drop\":" + JsonNumber(max_drop) + ",\"float_top1\":" + JsonNumber(r.float_top1) +
         ",\"float_model_bytes\":" + std::to_string(r.float_model_bytes) +
         ",\"float_ms_per_sample\":" + JsonNumber(r.float_ms_per_sample) + ",\"reached\":" +
         (r.reached ? "true" : "false") + ",\"steps\":" + steps +
         ",\"output\":" + (output.empty() ? "null" : JsonString(output)) + "}";
}

void PrintLayers(const std::vector<debug::LayerStats>& layers) {
  std::printf("  %-3s %-4s %-17s %-28s %-5s %9s %8s %8s %9s %8s %8s %8s  %-20s %-20s %s\n", "#", "op", "operator",
              "tensor", "type", "scale", "rmse/s", "SQNR dB", "max|d|", "sat cal", "sat dep", "out rng", "representable",
              "calibration range", "deployment range");
  for (size_t i = 0; i < layers.size(); ++i) {
    const debug::LayerStats& l = layers[i];
    const std::string op_index = l.op_index < 0 ? "-" : "#" + std::to_string(l.op_index);
    std::string name = l.tensor_name;
    if (name.size() > 28) name = "..." + name.substr(name.size() - 25);  // the end tells layers apart
    const bool int16 = l.dtype == DType::kInt16;
    const FloatRange representable{static_cast<float>(((int16 ? -32768 : -128) - l.zero_point) * double{l.scale}),
                                   static_cast<float>(((int16 ? 32767 : 127) - l.zero_point) * double{l.scale})};
    std::printf("%c %-3zu %-4s %-17s %-28s %-5s %9.3g %8.3f %8.2f %9.3g %8s %8s %8s  %-20s %-20s %s\n",
                l.flagged ? '!' : ' ', i, op_index.c_str(), l.op.substr(0, 17).c_str(), name.c_str(),
                DTypeName(l.dtype), l.scale, l.rmse_over_scale, l.sqnr_db, l.max_abs_error,
                Percent(l.saturation_calibration).c_str(), Percent(l.saturation_deployment).c_str(),
                Percent(l.out_of_range_deployment).c_str(), Range(representable).c_str(),
                Range(l.calibration_range).c_str(), Range(l.deployment_range).c_str());
  }
  std::vector<const debug::LayerStats*> worst;
  for (const debug::LayerStats& l : layers) worst.push_back(&l);
  std::stable_sort(worst.begin(), worst.end(), [](const debug::LayerStats* a, const debug::LayerStats* b) {
    return a->rmse_over_scale > b->rmse_over_scale;
  });
  const int64_t flagged = std::count_if(layers.begin(), layers.end(), [](const debug::LayerStats& l) { return l.flagged; });
  std::printf("%lld of %zu layers flagged (rmse/s > %.1f)", static_cast<long long>(flagged), layers.size(),
              debug::kRmseOverScaleFlag);
  if (!worst.empty()) std::printf("; worst:");
  for (size_t i = 0; i < worst.size() && i < 5; ++i) {
    std::printf("%s %s (%.2f)", i ? "," : "", worst[i]->tensor_name.c_str(), worst[i]->rmse_over_scale);
  }
  std::printf("\n");
}

void PrintSelective(const debug::SelectiveResult& r, double max_drop) {
  std::printf("\nselective quantization: keep the worst layers in float until the top-1 drop's upper bound "
              "(95%% interval) is <= %.2f points\n",
              100 * max_drop);
  std::printf("float model: top-1 %.2f%%, %lld bytes, %.4f ms/sample\n", 100 * r.float_top1,
              static_cast<long long>(r.float_model_bytes), r.float_ms_per_sample);
  std::printf("%-4s %-32s %8s %24s %10s %7s %10s %7s\n", "step", "kept in float", "top-1", "drop points [95% CI]",
              "bytes", "size", "ms/sample", "time");
  const debug::SelectiveStep& full = r.steps.front();
  for (size_t i = 0; i < r.steps.size(); ++i) {
    const debug::SelectiveStep& s = r.steps[i];
    std::string added = s.denied.empty() ? "(nothing)" : "+" + s.denied.back();
    if (added.size() > 32) added = "+..." + added.substr(added.size() - 28);
    char drop[64];
    std::snprintf(drop, sizeof(drop), "%.2f [%.2f, %.2f]", 100 * s.drop.estimate, 100 * s.drop.low, 100 * s.drop.high);
    std::printf("%-4zu %-32s %7.2f%% %24s %10lld %6.2fx %10.4f %6.2fx%s\n", i, added.c_str(), 100 * s.top1, drop,
                static_cast<long long>(s.model_bytes), static_cast<double>(s.model_bytes) / full.model_bytes,
                s.ms_per_sample, full.ms_per_sample > 0 ? s.ms_per_sample / full.ms_per_sample : 0.0,
                s.drop.high <= max_drop ? "  <- within budget" : "");
  }
  std::printf("(size and time relative to step 0, the full quantization)\n");
  if (r.reached) {
    std::printf("budget reached with %zu layer(s) in float\n", r.steps.back().denied.size());
  } else {
    std::printf("budget NOT reached: the last step keeps %zu layer(s) in float and the drop's upper bound is %.2f points\n",
                r.steps.back().denied.size(), 100 * r.steps.back().drop.high);
  }
}

}  // namespace

int Debug(int argc, char** argv) {
  constexpr const char* kCommand = "debug";
  Args args(argc, argv, 2);
  if (args.Flag("--help") || args.Flag("-h")) {
    std::fputs(Help().c_str(), stdout);
    return kExitOk;
  }
  const auto start = std::chrono::steady_clock::now();
  const std::string calibration_spec = args.Value("--calibration");
  const std::string data_spec = args.Value("--data");
  const std::string preprocess = args.Value("--preprocess");
  const std::string method_name = args.Value("--method", "int8");
  const std::string calibrator_name = args.Value("--calibrator", "minmax");
  const std::string percentile = args.Value("--percentile", "99.99");
  const bool per_channel = args.Flag("--per-channel");
  const bool per_tensor = args.Flag("--per-tensor");
  const std::string numerics_name = args.Value("--numerics", "tflite");
  const std::string threads = args.Value("--threads", "2");
  const std::string max_drop_text = args.Value("--max-drop");
  const std::string max_denied_text = args.Value("--max-denied", "16");
  const std::string patience_text = args.Value("--patience", "3");
  const bool json = args.Flag("--json");
  std::string output = args.Value("--output");
  if (output.empty()) output = args.Value("-o");
  auto positionals = args.Positionals();
  if (!positionals.ok()) return Fail(kCommand, positionals.status());
  if (positionals->size() != 1 || calibration_spec.empty() || data_spec.empty()) {
    std::fprintf(stderr, "%s(qaudit debug --help for the options)\n", kUsageLine);
    return kExitBadInput;
  }
  const std::string model_path = (*positionals)[0];

  QuantizeOptions quantize;
  const auto method = QuantMethodFromName(method_name);
  if (!method || !NeedsCalibration(*method)) {
    return Fail(kCommand, Status::InvalidArgument("--method '" + method_name + "': expected int8 or int16x8"));
  }
  quantize.method = *method;
  const auto granularity = ParseGranularity(per_channel, per_tensor);
  if (!granularity.ok()) return Fail(kCommand, granularity.status());
  quantize.granularity = *granularity;
  const auto settings = ParseCalibratorSettings(calibrator_name, percentile);
  if (!settings.ok()) return Fail(kCommand, settings.status());
  const auto numerics = NumericsFromName(numerics_name);
  if (!numerics) {
    return Fail(kCommand, Status::InvalidArgument("--numerics '" + numerics_name + "': expected tflite, xnnpack or reference"));
  }
  const int num_threads = std::atoi(threads.c_str());
  if (num_threads < 1) return Fail(kCommand, Status::InvalidArgument("--threads '" + threads + "' must be >= 1"));
  const bool selective = !max_drop_text.empty() || !output.empty();
  double max_drop_points = 1.0;
  if (!max_drop_text.empty()) {
    auto parsed = ParseNumber(max_drop_text, "--max-drop");
    if (!parsed.ok()) return Fail(kCommand, parsed.status());
    max_drop_points = *parsed;
  }
  const auto max_denied = ParseNumber(max_denied_text, "--max-denied");
  if (!max_denied.ok() || *max_denied != std::floor(*max_denied) || *max_denied > 100000) {
    return Fail(kCommand, Status::InvalidArgument("--max-denied '" + max_denied_text + "' must be a count >= 0"));
  }
  const auto patience = ParseNumber(patience_text, "--patience");
  if (!patience.ok() || *patience != std::floor(*patience) || *patience < 0 || *patience > 100000) {
    return Fail(kCommand, Status::InvalidArgument("--patience '" + patience_text + "' must be a count >= 0"));
  }

  auto graph = ReadTfliteFile(model_path);
  if (!graph.ok()) return Fail(kCommand, graph.status());
  auto calibration = LoadModelData(*graph, calibration_spec, preprocess);
  if (!calibration.ok()) return Fail(kCommand, calibration.status().WithContext("--calibration"));
  auto deployment = LoadModelData(*graph, data_spec, preprocess);
  if (!deployment.ok()) return Fail(kCommand, deployment.status().WithContext("--data"));
  if (selective && deployment->dataset.labels.empty()) {
    return Fail(kCommand, Status::InvalidArgument("selective quantization (--max-drop, -o) needs labels in --data; " +
                                                  deployment->dataset.source + " has none"));
  }

  auto calibrated = Calibrate(kCommand, *graph, calibration->inputs, *settings, num_threads, json);
  if (!calibrated.ok()) return Fail(kCommand, calibrated.status());
  auto model = qaudit::Quantize(*graph, quantize, &calibrated->ranges);
  if (!model.ok()) return Fail(kCommand, model.status());

  debug::DebugOptions debug_options;
  debug_options.numerics = *numerics;
  debug_options.num_threads = num_threads;
  ProgressBar compare_bar("comparing layers", "sample runs", !json && isatty(STDERR_FILENO));
  debug_options.progress = compare_bar.AsCallback();
  auto layers = debug::CompareLayers(*graph, *model, calibration->inputs, deployment->inputs, debug_options);
  if (!layers.ok()) return Fail(kCommand, layers.status());

  std::optional<debug::SelectiveResult> repaired;
  debug::SelectiveOptions selective_options;
  if (selective) {
    selective_options.quantize = quantize;
    selective_options.max_drop = max_drop_points / 100;
    selective_options.max_denied = static_cast<int>(*max_denied);
    selective_options.patience = static_cast<int>(*patience);
    selective_options.numerics = *numerics;
    selective_options.num_threads = num_threads;
    ProgressBar bar("selective quantization", "models", !json && isatty(STDERR_FILENO));
    selective_options.progress = bar.AsCallback();
    auto result = debug::SelectiveQuantize(*graph, calibrated->ranges, *layers, deployment->inputs,
                                           deployment->dataset.labels, selective_options);
    if (!result.ok()) return Fail(kCommand, result.status());
    repaired = std::move(*result);
  }
  if (!output.empty()) {
    // The steps keep no models; the last one is made again from its deny list, identically.
    QuantizeOptions last = quantize;
    for (const std::string& name : repaired->steps.back().denied) last.deny_tensors.push_back(name);
    auto final_model = qaudit::Quantize(*graph, last, &calibrated->ranges);
    if (!final_model.ok()) return Fail(kCommand, final_model.status());
    if (Status s = WriteTfliteFile(final_model->graph, output); !s.ok()) return Fail(kCommand, s);
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  if (json) {
    std::printf("{\"model\":%s,\"method\":%s,\"calibrator\":%s,\"granularity\":%s,\"numerics\":%s,\"calibration\":%s,"
                "\"calibration_samples\":%lld,\"data\":%s,\"samples\":%lld,\"flag_threshold\":%s,\"notes\":%s,"
                "\"layers\":%s,\"selective\":%s,\"seconds\":%s}\n",
                JsonString(model_path).c_str(), JsonString(QuantMethodName(quantize.method)).c_str(),
                JsonString(CalibratorName(settings->calibrator)).c_str(),
                JsonString(GranularityName(quantize.granularity)).c_str(), JsonString(numerics_name).c_str(),
                JsonString(calibration_spec).c_str(), static_cast<long long>(calibration->dataset.size()),
                JsonString(data_spec).c_str(), static_cast<long long>(deployment->dataset.size()),
                JsonNumber(debug::kRmseOverScaleFlag).c_str(),
                JsonArray(model->notes, [](const std::string& n) { return JsonString(n); }).c_str(),
                JsonArray(*layers, LayerJson).c_str(),
                repaired ? SelectiveJson(*repaired, selective_options.max_drop, output).c_str() : "null",
                JsonNumber(seconds).c_str());
    return kExitOk;
  }
  std::printf("%s: %s quantization (%s calibrator, %s weights), %s numerics\n", model_path.c_str(),
              QuantMethodName(quantize.method), CalibratorName(settings->calibrator),
              GranularityName(quantize.granularity), numerics_name.c_str());
  std::printf("calibration: %s (%lld samples); deployment: %s (%lld samples)\n", calibration_spec.c_str(),
              static_cast<long long>(calibration->dataset.size()), data_spec.c_str(),
              static_cast<long long>(deployment->dataset.size()));
  for (const std::string& note : model->notes) std::printf("note: %s\n", note.c_str());
  std::printf("\nper layer, d = dequantized - float on the deployment data; ! = flagged (rmse/s > %.1f)\n",
              debug::kRmseOverScaleFlag);
  PrintLayers(*layers);
  if (repaired) PrintSelective(*repaired, selective_options.max_drop);
  if (!output.empty()) {
    std::printf("wrote %s (%zu layer(s) kept in float)\n", output.c_str(), repaired->steps.back().denied.size());
  }
  std::printf("%.1f s\n", seconds);
  return kExitOk;
}

}  // namespace qaudit::cli
