// qaudit quantize: a float .tflite model in, a quantized .tflite model out.
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>

#include "cli/cli.h"
#include "core/json.h"
#include "cli/model_data.h"
#include "cli/quant_flags.h"
#include "qaudit/calibrate.h"
#include "qaudit/quantize.h"
#include "qaudit/tflite.h"

namespace qaudit::cli {
namespace {

std::string Help() {
  std::string help = R"HELP(usage: qaudit quantize FLOAT.tflite --method METHOD [options] -o OUT.tflite

Quantizes a float model the way the TFLite converter does, or better where an option says
so, and writes a real .tflite file (through a temporary file: never half-written). The
result is checked to load in qaudit's executor before anything is written.

methods:
  dynamic    int8 weights (CONV_2D and DEPTHWISE_CONV_2D per channel, FULLY_CONNECTED per
             tensor), float activations quantized per batch row at run time; weight tensors
             under 1024 elements stay float. No calibration data needed.
  int8       full integer: int8 activations from calibrated ranges (asymmetric, range
             widened to include 0, nudged zero point), int8 symmetric weights, int32 bias.
  float16    weights stored as float16, each followed by a DEQUANTIZE.
  int16x8    int16 symmetric activations, int8 weights, int64 bias (TFLite's 16x8).

options:
  --calibration DATA   representative data for int8 and int16x8 (the converter's
                       "representative dataset"). DATA is fmnist[:train|:test], FILE.npy,
                       FILE.npz[:KEY], an IDX file, or a folder of images (flat, or one
                       subfolder per class); append [A:B], [random=K,seed=S] or
                       [classes=0/3] to select samples, e.g. "fmnist:train[0:500]".
  --preprocess SPEC    how stored values become model inputs, e.g.
                       "resize=224x224,scale=1/127.5,mean=1" (items: resize=HxW,
                       channels=1|3, scale=X, mean=M[/M/M], std=S[/S/S], layout=nhwc|nchw,
                       raw). Default: uint8 data is scaled by 1/255.
)HELP";
  help += CalibrationFlagsHelp();
  help += R"HELP(  --input-type T       float32 (default; a QUANTIZE op converts), int8 (int16 for int16x8)
                       or uint8 (int8 inside, zero point shifted by 128)
  --output-type T      the same for outputs (a DEQUANTIZE op converts back by default)
  --deny-ops LIST      keep these operators in float: op names or #index, comma-separated
                       (e.g. SOFTMAX,#3)
  --deny-tensors LIST  keep in float the operators producing these tensors (by name)
  --min-elements N     dynamic: weight tensors with fewer elements stay float (default 1024,
                       TFLite's; 0 quantizes all)
  --threads N          threads for the calibration run (default 2)
  --json               print the summary as JSON on stdout
  -o, --output FILE    where to write the quantized model (required)

exit codes: 0 written, 2 bad input (model, data, options; nothing is written), 1 internal error.
)HELP";
  return help;
}

std::vector<std::string> SplitList(const std::vector<std::string>& values) {
  std::vector<std::string> items;
  for (const std::string& v : values) {
    std::stringstream ss(v);
    std::string item;
    while (std::getline(ss, item, ',')) {
      if (!item.empty()) items.push_back(item);
    }
  }
  return items;
}

Result<DType> ParseBoundaryType(const std::string& name, const char* option) {
  if (name == "float" || name == "float32") return DType::kFloat32;
  if (name == "int8") return DType::kInt8;
  if (name == "uint8") return DType::kUInt8;
  if (name == "int16") return DType::kInt16;
  return Status::InvalidArgument(std::string(option) + " '" + name + "': expected float32, int8, uint8 or int16");
}

int64_t ConstantBytes(const Graph& g) {
  int64_t bytes = 0;
  for (const Tensor& t : g.tensors) bytes += static_cast<int64_t>(t.data.size());
  return bytes;
}

}  // namespace

int Quantize(int argc, char** argv) {
  constexpr const char* kCommand = "quantize";
  Args args(argc, argv, 2);
  if (args.Flag("--help") || args.Flag("-h")) {
    std::fputs(Help().c_str(), stdout);
    return kExitOk;
  }
  const auto start = std::chrono::steady_clock::now();
  const std::string method_name = args.Value("--method");
  const std::string calibration = args.Value("--calibration");
  const std::string preprocess = args.Value("--preprocess");
  const std::string calibrator_name = args.Value("--calibrator", "minmax");
  const std::string percentile = args.Value("--percentile", "99.99");
  const bool per_channel = args.Flag("--per-channel");
  const bool per_tensor = args.Flag("--per-tensor");
  const std::string input_type = args.Value("--input-type", "float32");
  const std::string output_type = args.Value("--output-type", "float32");
  const auto deny_ops = SplitList(args.Values("--deny-ops"));
  const auto deny_tensors = SplitList(args.Values("--deny-tensors"));
  const std::string threads = args.Value("--threads", "2");
  const std::string min_elements = args.Value("--min-elements", "1024");
  const bool json = args.Flag("--json");
  std::string output = args.Value("--output");
  if (output.empty()) output = args.Value("-o");
  auto positionals = args.Positionals();
  if (!positionals.ok()) return Fail(kCommand, positionals.status());
  if (positionals->size() != 1 || output.empty() || method_name.empty()) {
    std::fputs("usage: qaudit quantize FLOAT.tflite --method dynamic|int8|float16|int16x8 [options] -o OUT.tflite\n"
               "(qaudit quantize --help for the options)\n",
               stderr);
    return kExitBadInput;
  }
  const std::string model_path = (*positionals)[0];

  QuantizeOptions options;
  const auto method = QuantMethodFromName(method_name);
  if (!method) return Fail(kCommand, Status::InvalidArgument("--method '" + method_name + "': expected dynamic, int8, float16 or int16x8"));
  options.method = *method;
  const auto granularity = ParseGranularity(per_channel, per_tensor);
  if (!granularity.ok()) return Fail(kCommand, granularity.status());
  options.granularity = *granularity;
  auto in_type = ParseBoundaryType(input_type, "--input-type");
  if (!in_type.ok()) return Fail(kCommand, in_type.status());
  auto out_type = ParseBoundaryType(output_type, "--output-type");
  if (!out_type.ok()) return Fail(kCommand, out_type.status());
  options.input_type = *in_type;
  options.output_type = *out_type;
  options.deny_ops = deny_ops;
  options.dynamic_min_elements = std::atoll(min_elements.c_str());
  if (options.dynamic_min_elements < 0 || min_elements.find_first_not_of("0123456789") != std::string::npos) {
    return Fail(kCommand, Status::InvalidArgument("--min-elements '" + min_elements + "' must be a count >= 0"));
  }
  options.deny_tensors = deny_tensors;
  const auto parsed_settings = ParseCalibratorSettings(calibrator_name, percentile);
  if (!parsed_settings.ok()) return Fail(kCommand, parsed_settings.status());
  const CalibratorSettings settings = *parsed_settings;
  const int num_threads = std::atoi(threads.c_str());
  if (num_threads < 1) return Fail(kCommand, Status::InvalidArgument("--threads '" + threads + "' must be >= 1"));
  if (NeedsCalibration(options.method) && calibration.empty()) {
    return Fail(kCommand, Status::InvalidArgument(std::string("--method ") + method_name +
                                                  " needs --calibration DATA (e.g. --calibration fmnist:train[0:500])"));
  }
  if (!NeedsCalibration(options.method) && !calibration.empty()) {
    return Fail(kCommand, Status::InvalidArgument(std::string("--method ") + method_name + " takes no calibration data"));
  }

  auto graph = ReadTfliteFile(model_path);
  if (!graph.ok()) return Fail(kCommand, graph.status());
  std::optional<TensorRanges> ranges;
  int64_t samples = 0;
  if (NeedsCalibration(options.method)) {
    auto data = LoadModelData(*graph, calibration, preprocess);
    if (!data.ok()) return Fail(kCommand, data.status());
    auto calibrated = Calibrate(kCommand, *graph, data->inputs, settings, num_threads, json);
    if (!calibrated.ok()) return Fail(kCommand, calibrated.status());
    samples = calibrated->samples;
    ranges = std::move(calibrated->ranges);
  }
  auto model = qaudit::Quantize(*graph, options, ranges ? &*ranges : nullptr);
  if (!model.ok()) return Fail(kCommand, model.status());
  // A model qaudit cannot run is never written.
  if (auto check = Executor::Create(model->graph); !check.ok()) {
    return Fail(kCommand, Status::Internal("the quantized model does not pass qaudit's own checks: " +
                                           check.status().message()));
  }
  auto bytes = WriteTflite(model->graph);
  if (!bytes.ok()) return Fail(kCommand, bytes.status());
  if (Status s = WriteTfliteFile(model->graph, output); !s.ok()) return Fail(kCommand, s);
  const int64_t float_bytes = static_cast<int64_t>(std::filesystem::file_size(model_path));
  const int64_t out_bytes = static_cast<int64_t>(bytes->size());
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const bool calibrated = NeedsCalibration(options.method);
  if (json) {
    std::printf("{\"model\":%s,\"output\":%s,\"method\":%s,", JsonString(model_path).c_str(), JsonString(output).c_str(),
                JsonString(QuantMethodName(options.method)).c_str());
    if (calibrated) {
      std::printf("\"calibration\":%s,\"calibrator\":%s,\"samples\":%lld,", JsonString(calibration).c_str(),
                  JsonString(CalibratorName(settings.calibrator)).c_str(), static_cast<long long>(samples));
    }
    std::printf("\"float_bytes\":%lld,\"bytes\":%lld,\"size_ratio\":%s,\"constant_bytes\":%lld,\"operators\":%zu,"
                "\"notes\":%s,\"seconds\":%s}\n",
                static_cast<long long>(float_bytes), static_cast<long long>(out_bytes),
                JsonNumber(static_cast<double>(float_bytes) / out_bytes).c_str(),
                static_cast<long long>(ConstantBytes(model->graph)), model->graph.operators.size(),
                JsonArray(model->notes, [](const std::string& n) { return JsonString(n); }).c_str(),
                JsonNumber(seconds).c_str());
    return kExitOk;
  }
  std::printf("wrote %s: %s quantization of %s", output.c_str(), QuantMethodName(options.method), model_path.c_str());
  if (calibrated) {
    std::printf(", %s calibrator on %lld samples of %s", CalibratorName(settings.calibrator),
                static_cast<long long>(samples), calibration.c_str());
  }
  std::printf("\nsize: %lld -> %lld bytes (%.2fx smaller), %zu operators, %.2f s\n", static_cast<long long>(float_bytes),
              static_cast<long long>(out_bytes), static_cast<double>(float_bytes) / out_bytes,
              model->graph.operators.size(), seconds);
  for (const std::string& note : model->notes) std::printf("note: %s\n", note.c_str());
  return kExitOk;
}

}  // namespace qaudit::cli
