// The calibration and weight-granularity flags shared by the commands that quantize
// (quantize, debug): their --help text, their parsing, and the calibration run itself.
#ifndef QAUDIT_SRC_CLI_QUANT_FLAGS_H_
#define QAUDIT_SRC_CLI_QUANT_FLAGS_H_

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "cli/progress.h"
#include "qaudit/calibrate.h"
#include "qaudit/quantize.h"

namespace qaudit::cli {

// The --help lines of --calibrator (one wrapped paragraph per calibrator), --percentile,
// --per-channel and --per-tensor.
inline std::string CalibrationFlagsHelp() {
  std::string help = "  --calibrator NAME    how a range is chosen from the calibration data (default minmax):\n";
  for (Calibrator c : kAllCalibrators) {
    const std::string name = CalibratorName(c);
    help += "      " + name + std::string(16 - name.size(), ' ');
    std::istringstream words(CalibratorDescription(c));
    std::string word, line;
    bool first_line = true;
    while (words >> word) {
      if (line.size() + word.size() + 1 > 62) {
        help += (first_line ? "" : std::string(22, ' ')) + line + "\n";
        first_line = false;
        line.clear();
      }
      line += (line.empty() ? "" : " ") + word;
    }
    help += (first_line ? "" : std::string(22, ' ')) + line + "\n";
  }
  help += R"HELP(  --percentile P       the share of values the percentile calibrator keeps (default 99.99)
  --per-channel        per-channel weights for FULLY_CONNECTED too (default: TFLite's choice,
                       per channel for convolutions only)
  --per-tensor         one weight scale per tensor everywhere
)HELP";
  return help;
}

// --calibrator NAME and --percentile P.
inline Result<CalibratorSettings> ParseCalibratorSettings(const std::string& name, const std::string& percentile) {
  CalibratorSettings settings;
  const auto calibrator = CalibratorFromName(name);
  if (!calibrator) {
    return Status::InvalidArgument("--calibrator '" + name + "': expected minmax, moving-average, percentile, mse or entropy");
  }
  settings.calibrator = *calibrator;
  char* end = nullptr;
  settings.percentile = std::strtod(percentile.c_str(), &end);
  if (end == percentile.c_str() || *end != '\0') {
    return Status::InvalidArgument("--percentile '" + percentile + "' is not a number");
  }
  return settings;
}

// --per-channel and --per-tensor.
inline Result<WeightGranularity> ParseGranularity(bool per_channel, bool per_tensor) {
  if (per_channel && per_tensor) return Status::InvalidArgument("--per-channel and --per-tensor exclude each other");
  return per_channel ? WeightGranularity::kPerChannel
         : per_tensor ? WeightGranularity::kPerTensor
                      : WeightGranularity::kDefault;
}

struct Calibration {
  TensorRanges ranges;
  int64_t samples = 0;
};

// Collects calibration statistics on `inputs` (with a progress bar on a terminal unless
// `quiet`) and picks `settings`' ranges. NaN activations are skipped, with a warning on
// stderr unless `quiet`.
inline Result<Calibration> Calibrate(const char* command, const Graph& graph, const std::vector<HostTensor>& inputs,
                                     const CalibratorSettings& settings, int num_threads, bool quiet) {
  CollectOptions collect;
  collect.histograms = NeedsHistograms(settings.calibrator);
  collect.num_threads = num_threads;
  ProgressBar bar("calibrating", "sample passes", !quiet && isatty(STDERR_FILENO));
  collect.progress = bar.AsCallback();
  QAUDIT_ASSIGN_OR_RETURN(CalibrationStatistics stats, CalibrationStatistics::Collect(graph, inputs, collect));
  Calibration calibration;
  calibration.samples = stats.samples();
  QAUDIT_ASSIGN_OR_RETURN(calibration.ranges, stats.Ranges(settings));
  if (stats.nan_count() > 0 && !quiet) {
    std::fprintf(stderr, "qaudit %s: warning: %lld NaN activation values were skipped during calibration\n", command,
                 static_cast<long long>(stats.nan_count()));
  }
  return calibration;
}

}  // namespace qaudit::cli

#endif  // QAUDIT_SRC_CLI_QUANT_FLAGS_H_
