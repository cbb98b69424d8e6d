// A hand-built AuditReport for the report writers' tests: a calibration-size sweep of two
// methods on one model, a shifted-data cell with its clamped-float control, costs, one
// diagnosis with a flagged layer, and one claim of each verdict. The second model's label
// carries markup that every writer must escape, and it has no sweep (an empty plot).
#ifndef QAUDIT_TESTS_REPORT_SYNTHETIC_REPORT_H_
#define QAUDIT_TESTS_REPORT_SYNTHETIC_REPORT_H_

#include <limits>
#include <string>

#include "qaudit/audit.h"

namespace qaudit::report::testing {

inline constexpr const char* kHostileLabel = "mlp<script>alert('x')</script>";
inline constexpr const char* kSizeSource = "https://ai.google.dev/edge/litert/models/post_training_quantization";
inline constexpr const char* kSpeedSource =
    "https://ai.google.dev/edge/litert/models/post_training_integer_quant?a=1&b=2";

inline audit::CellResult SweepCell(const std::string& method, const std::string& calibration, double top1, double low,
                                   double high) {
  audit::CellResult c;
  c.model = "cnn";
  c.experiment = "calibration-size";
  c.method = method;
  c.calibration = calibration;
  c.variant = "clean";
  c.numerics = "tflite";
  c.samples = 10000;
  c.float_top1 = 0.9123;
  c.top1 = top1;
  c.delta_top1 = {top1 - c.float_top1, low, high};
  c.mcnemar = {40, 12, 0.000123};
  c.agreement = 0.981;
  c.sqnr_db = 24.5;
  c.per_class_top1 = {0.9, 0.95, 0.8};
  c.float_per_class_top1 = {0.91, 0.96, 0.82};
  c.flipped_to_wrong = {3, 17, 42};
  c.flipped_to_right = {5};
  c.flipped_to_wrong_count = 40;
  c.flipped_to_right_count = 12;
  return c;
}

// `timing` shifts every timing-dependent number (and nothing else).
inline audit::AuditReport SyntheticReport(double timing = 1.0) {
  audit::AuditReport r;
  r.qaudit_version = "0.1.0";
  r.created = timing == 1.0 ? "2025-01-02T03:04:05Z" : "2025-01-02T09:09:09Z";
  r.command = "qaudit audit cnn.tflite --data fmnist";
  r.machine = "Test CPU (avx512-vnni), 2 threads";
  r.hardware = {.fp32_macs_per_second = 50e9, .int8_macs_per_second = 140e9, .fp32_instructions = "AVX-512 FMA",
                .int8_instructions = "AVX-512 VNNI"};
  r.seconds = 123.4 * timing;

  r.plan.seed = 7;
  r.plan.calibration_pool = 1000;
  audit::Experiment sweep;
  sweep.name = "calibration-size";
  sweep.purpose = "how many calibration samples each calibrator needs";
  for (const char* m : {"int8/minmax", "int8/mse"}) {
    audit::MethodSpec spec;
    spec.label = m;
    sweep.methods.push_back(spec);
  }
  for (int64_t size : {1, 10, 100, -1}) {
    audit::CalibrationSpec c;
    c.size = size;
    sweep.calibrations.push_back(c);
  }
  sweep.variants = {audit::Variant::kClean};
  sweep.numerics = {Numerics::kTflite};
  r.plan.experiments.push_back(sweep);
  audit::Experiment shift = sweep;
  shift.name = "deployment-shift";
  shift.purpose = "accuracy when deployment data leaves the calibrated range";
  shift.methods.resize(1);
  shift.calibrations.resize(1);
  shift.variants = {audit::Variant::kOutlierPixels};
  r.plan.experiments.push_back(shift);

  r.models = {{"cnn", "/models/cnn.tflite", "ab12", 400000, 0.9123},
              {kHostileLabel, "/models/mlp.tflite", "cd34", 90000, 0.85}};
  r.data = {{"evaluation", "fmnist:test", 10000, "ef56"}, {"training", "fmnist:train[0:1000]", 1000, "7890"}};

  // int8/minmax improves with more samples; int8/mse is flat.
  r.cells.push_back(SweepCell("int8/minmax", "1", 0.80, -0.125, -0.100));
  r.cells.push_back(SweepCell("int8/minmax", "10", 0.88, -0.040, -0.025));
  r.cells.push_back(SweepCell("int8/minmax", "100", 0.905, -0.012, -0.003));
  r.cells.push_back(SweepCell("int8/minmax", "all", 0.9111, -0.004, 0.0016));
  r.cells.push_back(SweepCell("int8/mse", "1", 0.90, -0.018, -0.006));
  r.cells.push_back(SweepCell("int8/mse", "10", 0.906, -0.011, -0.002));
  r.cells.push_back(SweepCell("int8/mse", "100", 0.9101, -0.005, 0.0008));
  r.cells.push_back(SweepCell("int8/mse", "all", 0.9125, -0.002, 0.0026));
  audit::CellResult shifted = SweepCell("int8/minmax", "1", 0.70, -0.23, -0.19);
  shifted.experiment = "deployment-shift";
  shifted.variant = "outlier-pixels";
  shifted.clamped_float_top1 = 0.74;
  shifted.delta_vs_clamped = {-0.04, -0.05, -0.03};
  shifted.top5 = 0.97;
  shifted.float_top5 = 0.99;
  shifted.notes = {"input clamped by quantization"};
  r.cells.push_back(shifted);

  audit::MethodCost cost;
  cost.model = "cnn";
  cost.method = "int8/minmax";
  cost.bytes = 104000;
  cost.float_bytes = 400000;
  cost.size_ratio = 400000.0 / 104000.0;
  cost.latency = {{1, 1, 0.21 * timing, 0.52 * timing, {2.48, 2.30 * timing, 2.61}},
                  {64, 2, 0.05 * timing, 0.16 * timing, {3.2, 3.0, 3.4 * timing}}};
  r.costs.push_back(cost);

  audit::LayerDiagnosis d;
  d.model = "cnn";
  d.method = "int8/minmax";
  d.calibration = "100";
  d.deployment = "clean";
  d.max_drop = 0.01;
  const char* names[] = {"conv1/Relu", "conv2/Relu", "dense/MatMul", "logits", "softmax"};
  const char* ops[] = {"CONV_2D", "CONV_2D", "FULLY_CONNECTED", "FULLY_CONNECTED", "SOFTMAX"};
  const double ratios[] = {0.31, 0.45, 1.32, 0.52, 0.29};
  for (int i = 0; i < 5; ++i) {
    debug::LayerStats l;
    l.tensor = 10 + i;
    l.source_tensor = 20 + i;
    l.tensor_name = names[i];
    l.op = ops[i];
    l.op_index = i;
    l.scale = 0.0235f;
    l.zero_point = -128;
    l.elements_per_sample = 100;
    l.rmse_over_scale = ratios[i];
    l.flagged = ratios[i] > debug::kRmseOverScaleFlag;
    l.mse = 1e-4;
    l.max_abs_error = 0.05;
    l.sqnr_db = i == 4 ? std::numeric_limits<double>::infinity() : 30.0 - i;
    l.saturation_calibration = i == 2 ? 0.0012 : 0;
    l.saturation_deployment = i == 2 ? 0.034 : 0.00001;
    l.calibration_range = {-1.5f, 2.5f};
    l.deployment_range = {-1.7f, 4.0f};
    l.out_of_range_deployment = i == 2 ? 0.021 : 0;
    d.layers.push_back(l);
  }
  d.selective.float_top1 = 0.9123;
  d.selective.float_model_bytes = 400000;
  d.selective.float_ms_per_sample = 0.16 * timing;
  d.selective.steps = {{{}, 0.905, {0.0073, 0.003, 0.012}, 104000, 0.05 * timing},
                       {{"dense/MatMul"}, 0.910, {0.0023, -0.001, 0.006}, 120000, 0.06 * timing}};
  d.selective.reached = true;
  r.diagnoses.push_back(d);

  audit::ClaimVerdict holds{"int8-size",
                            "Full integer quantization makes the model 4x smaller.",
                            kSizeSource,
                            "weights dominate the model",
                            "cnn",
                            "int8/minmax",
                            audit::Verdict::kHolds,
                            "3.85× [3.85, 3.85]",
                            {3.85, 3.85, 3.85},
                            ""};
  audit::ClaimVerdict fails{"int8-speed",
                            "Integer models run 3x faster.",
                            kSpeedSource,
                            "on CPU",
                            "cnn",
                            "batch 1, 1 thread",
                            audit::Verdict::kFails,
                            "2.48× [2.30, 2.61]",
                            {2.48, 2.30, 2.61},
                            "this CPU quotes 2.8× int8 over fp32 throughput"};
  audit::ClaimVerdict inconclusive{"int8-accuracy",
                                   "Accuracy drops little.",
                                   kSizeSource,
                                   "",
                                   "cnn",
                                   "calibration all, variant clean",
                                   audit::Verdict::kInconclusive,
                                   "-0.12 pp [-0.40, +0.16]",
                                   {-0.0012, -0.004, 0.0016},
                                   ""};
  audit::ClaimVerdict untested{"float16-gpu",
                               "float16 halves the size with GPU speed-ups.",
                               "see the TFLite docs",
                               "on GPU",
                               kHostileLabel,
                               "",
                               audit::Verdict::kNotTested,
                               "",
                               {},
                               "no GPU here"};
  r.claims = {holds, fails, inconclusive, untested};
  r.findings = {"int8/minmax needs about 100 calibration samples; with 1 it loses 11 points.",
                "Outlier pixels cost int8/minmax 21 points; clamping the float model's input explains 17."};
  return r;
}

}  // namespace qaudit::report::testing

#endif  // QAUDIT_TESTS_REPORT_SYNTHETIC_REPORT_H_
