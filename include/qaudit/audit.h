// The audit: every quantization method run on the user's model and data, under calibration
// sets of different size and make-up and under deployment data that differs from the
// calibration data, measured with paired statistics and judged against TFLite's documented
// claims (a registry kept as a data file, claims/claims.json).
//
// An audit runs a Plan (a JSON file, or DefaultPlan()) and returns an AuditReport, the
// result model that the report writers (qaudit/report.h) turn into JSON, Markdown and HTML.
#ifndef QAUDIT_AUDIT_H_
#define QAUDIT_AUDIT_H_

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "qaudit/calibrate.h"
#include "qaudit/debug.h"
#include "qaudit/executor.h"
#include "qaudit/hardware.h"
#include "qaudit/quantize.h"
#include "qaudit/stats.h"
#include "qaudit/status.h"

namespace qaudit::audit {

// ---------------------------------------------------------------------------------------
// The plan

// One way to quantize, written as a compact label that is also its name in reports:
//   dynamic | float16
//   int8/CALIBRATOR[/per-tensor|/per-channel]      e.g. int8/minmax, int8/mse/per-tensor
//   int16x8/CALIBRATOR[/...]                        e.g. int16x8/minmax
//   qat[/steps=N][/decay=D][/init=tfmot|batch]      QAT from the float model (needs training data)
// CALIBRATOR is minmax, moving-average, percentile[=P], mse or entropy.
struct MethodSpec {
  std::string label;
  bool qat = false;  // else quantized by `quantize`
  QuantizeOptions quantize;
  CalibratorSettings calibrator;
  int qat_steps = 100;            // training steps of batch 128
  float qat_ema_decay = 0.999f;   // tfmot's default
  bool qat_tfmot_init = false;    // start ranges at [-6, 6] as tfmot does
  bool needs_calibration() const { return !qat && NeedsCalibration(quantize.method); }
};
Result<MethodSpec> ParseMethodSpec(const std::string& label);

// Which samples calibrate: `size` drawn at random from the calibration pool (-1: the whole
// pool), optionally only of some classes, with `outliers` contaminated samples added.
struct CalibrationSpec {
  int64_t size = 500;
  std::vector<int> classes;  // empty: every class
  int outliers = 0;
  std::string Label() const;  // e.g. "500", "all", "500 of classes 0/1", "500 + 3 outliers"
};

// Deployment data as the audit varies it (magnitudes in ShiftSettings).
enum class Variant {
  kClean,
  kOutlierPixels,       // a share of pixels set far beyond the data's range
  kBrightnessContrast,  // contrast scaled about the mean, brightness added
  kGaussianNoise,
  kLongTail,            // a long-tailed class mix: class k kept with weight ratio^k
};
inline constexpr Variant kAllVariants[] = {Variant::kClean, Variant::kOutlierPixels, Variant::kBrightnessContrast,
                                           Variant::kGaussianNoise, Variant::kLongTail};
const char* VariantName(Variant v);  // "clean", "outlier-pixels", "brightness-contrast", "noise", "long-tail"
Result<Variant> VariantFromName(const std::string& name);

// Magnitudes, relative to the clean evaluation data's real-valued range r = max - min.
struct ShiftSettings {
  double outlier_pixel_share = 0.01;   // of the values of each sample
  double outlier_pixel_value = 4.0;    // set to min + value x r
  double contrast = 1.5;               // x -> mean + contrast (x - mean) + brightness r
  double brightness = 0.2;
  double noise_stddev = 0.1;           // x r
  double long_tail_ratio = 0.6;        // class k (by index) keeps ratio^k of its samples
  // A contaminating calibration sample: a pool sample times this (255: an image that
  // skipped the /255 normalisation, the usual way one gets into a representative set).
  double calibration_outlier_value = 255.0;
};

// Experiments cross their methods, calibration sets, evaluation variants and numerics;
// each combination is a cell. `models` restricts an experiment to models by label
// (empty: every model).
struct Experiment {
  std::string name;
  std::string purpose;  // one line for the report
  std::vector<std::string> models;
  std::vector<MethodSpec> methods;
  std::vector<CalibrationSpec> calibrations;
  std::vector<Variant> variants;
  std::vector<Numerics> numerics;
};

struct LatencySettings {
  std::vector<std::string> methods;  // method labels to time; empty: every method of the plan
  std::vector<int> batches{1, 64};
  std::vector<int> threads{1, 2};
  int repeats = 5;            // the reported figure is the median
  double min_seconds = 0.05;  // each repeat runs at least this long
};

// The per-layer debugger and selective quantization, for one method per model.
struct DebugSettings {
  bool enabled = true;
  // One per model, matched by position (the last repeats). Empty: for each model, the
  // calibrated method whose clean top-1 at `calibration` dropped most in the plan's cells
  // (int8/minmax when none did), so the debugger looks where quantization hurt.
  std::vector<std::string> methods;
  CalibrationSpec calibration;
  Variant deployment = Variant::kClean;
  double max_drop = 0.01;  // selective quantization budget, top-1 in [0, 1]
};

struct Plan {
  uint64_t seed = 1;
  int64_t eval_samples = 0;          // 0: all of --data (a seeded random subset otherwise)
  int64_t calibration_pool = 10000;  // samples of the training data calibration draws from
  double confidence = 0.95;
  int resamples = 1000;
  ShiftSettings shifts;
  std::vector<Experiment> experiments;
  LatencySettings latency;
  DebugSettings debug;
};

// The built-in plan (see audit/plan.cc for what it covers and why).
Plan DefaultPlan();
// A plan from JSON text; fields left out keep DefaultPlan()'s values, except that a plan
// with its own experiments times every method unless it lists latency.methods. Errors
// name the field and the offending value.
Result<Plan> ParsePlan(const std::string& json_text);
std::string PlanToJson(const Plan& plan);

// ---------------------------------------------------------------------------------------
// The result model

// A model and method's accuracy on one variant in one numerics mode.
struct CellResult {
  std::string model;  // model label
  std::string experiment;
  std::string method;       // MethodSpec::label
  std::string calibration;  // CalibrationSpec::Label(), "" when none
  std::string variant;      // VariantName
  std::string numerics;     // NumericsName
  int64_t samples = 0;
  double top1 = 0, float_top1 = 0;
  double top5 = -1, float_top5 = -1;  // -1: fewer than 6 classes
  stats::Interval delta_top1;         // top1 - float_top1, paired bootstrap
  stats::McNemarResult mcnemar;       // A = float, B = quantized
  double agreement = 0;               // argmax equal to the float model's
  double sqnr_db = 0;                 // output vs the float model's output
  std::vector<double> per_class_top1, float_per_class_top1;
  std::vector<int64_t> flipped_to_wrong;  // sample indices float got right and this got wrong (first 100)
  std::vector<int64_t> flipped_to_right;  // and the reverse (first 100)
  int64_t flipped_to_wrong_count = 0, flipped_to_right_count = 0;
  // Control for variants other than clean: the float model run on the same data clamped
  // to the quantized model's input range (-1 when the input is not quantized), and the
  // quantized model's delta against it.
  double clamped_float_top1 = -1;
  stats::Interval delta_vs_clamped;
  std::vector<std::string> notes;
};

struct LatencyResult {
  int batch = 1;
  int threads = 1;
  double ms_per_sample = 0;        // median over repeats
  double float_ms_per_sample = 0;  // the float model, same settings
  stats::Interval speedup;         // float / quantized: median, lowest and highest repeat ratio
};

// Size and speed of one model under one method (the plan's first calibration of it).
struct MethodCost {
  std::string model;
  std::string method;
  int64_t bytes = 0;
  int64_t float_bytes = 0;
  double size_ratio = 0;  // float_bytes / bytes
  std::vector<LatencyResult> latency;
};

// The debugger's findings for one model.
struct LayerDiagnosis {
  std::string model;
  std::string method;
  std::string calibration;
  std::string deployment;  // variant
  std::vector<debug::LayerStats> layers;
  debug::SelectiveResult selective;
  double max_drop = 0;
};

enum class Verdict { kHolds, kFails, kInconclusive, kNotTested };
const char* VerdictName(Verdict v);  // "holds", "fails", "inconclusive", "not tested"

// A documented claim (claims/claims.json) judged on one model in one setting.
struct ClaimVerdict {
  std::string claim_id;
  std::string claim;      // the claim as documented
  std::string source;     // URL
  std::string condition;  // when the claim applies, as documented
  std::string model;
  std::string setting;    // e.g. "calibration 500 + 3 outliers, variant clean"
  Verdict verdict = Verdict::kNotTested;
  std::string measured;   // the figure and its interval, as text
  stats::Interval value;  // the figure in the claim's unit
  std::string note;       // e.g. why the hardware cannot meet it
};

struct ModelInfo {
  std::string label;
  std::string path;
  std::string sha256;
  int64_t bytes = 0;
  double float_top1 = 0;  // on clean evaluation data
};

struct DataInfo {
  std::string role;  // "evaluation", "training"
  std::string spec;
  int64_t samples = 0;
  std::string sha256;  // of the samples as fitted to the model input, and the labels
};

struct AuditReport {
  std::string qaudit_version;
  std::string created;  // UTC, ISO 8601
  std::string command;  // the command line
  Plan plan;
  std::vector<ModelInfo> models;
  std::vector<DataInfo> data;
  std::string machine;  // CPU model, features used, threads
  PeakRates hardware;  // one core's multiply-accumulate throughput, measured by the audit
  std::vector<CellResult> cells;
  std::vector<MethodCost> costs;
  std::vector<LayerDiagnosis> diagnoses;
  std::vector<ClaimVerdict> claims;
  std::vector<std::string> findings;  // plain-language summary lines, most important first
  double seconds = 0;
};

// ---------------------------------------------------------------------------------------
// Running

struct AuditInput {
  std::vector<std::pair<std::string, std::string>> models;  // (label, float .tflite path)
  std::string data_spec;        // evaluation data (labelled)
  std::string train_data_spec;  // calibration pool and QAT data; "" : calibrate from the first half of data
  std::string preprocess;
  int jobs = 1;  // cells run side by side
  int threads_per_job = 2;
  std::string command;  // recorded in the report
};

// Progress: (what, done, total) for the whole plan ("plan") and for the current cell.
using AuditProgress = std::function<void(const std::string& what, int64_t done, int64_t total)>;

Result<AuditReport> RunAudit(const AuditInput& input, const Plan& plan, const AuditProgress& plan_progress = {},
                             const AuditProgress& cell_progress = {});

}  // namespace qaudit::audit

#endif  // QAUDIT_AUDIT_H_
