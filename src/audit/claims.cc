#include "audit/claims.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "audit/variants.h"
#include "qaudit/stats.h"

namespace qaudit::audit {

extern const char* const kClaimsRegistryJson;  // claims/claims.json, generated at build time

namespace {

std::string Format(const char* format, double a, double b = 0, double c = 0) {
  char buf[160];
  std::snprintf(buf, sizeof(buf), format, a, b, c);
  return buf;
}

// "+0.12 points [-0.05, +0.30]" for a delta in [0, 1] units.
std::string Points(const stats::Interval& i) {
  return Format("%+.2f points [%+.2f, %+.2f]", 100 * i.estimate, 100 * i.low, 100 * i.high);
}

double Param(const JsonValue& check, const char* key, double fallback) {
  const JsonValue* v = check.Find(key);
  return v != nullptr && v->kind == JsonValue::Kind::kNumber ? v->number : fallback;
}

std::string Text(const JsonValue& check, const char* key, const std::string& fallback = "") {
  const JsonValue* v = check.Find(key);
  return v != nullptr && v->kind == JsonValue::Kind::kString ? v->string : fallback;
}

std::vector<std::string> Texts(const JsonValue& check, const char* key) {
  std::vector<std::string> out;
  if (const JsonValue* v = check.Find(key)) {
    for (const JsonValue& item : v->array) {
      if (item.kind == JsonValue::Kind::kString) out.push_back(item.string);
    }
  }
  return out;
}

// The cost of `method` for `model`: the exact label, else the first whose label starts
// with it ("qat" matches "qat/steps=300").
const MethodCost* FindCost(const AuditReport& r, const std::string& model, const std::string& method) {
  for (const MethodCost& c : r.costs) {
    if (c.model == model && c.method == method) return &c;
  }
  for (const MethodCost& c : r.costs) {
    if (c.model == model && c.method.rfind(method + "/", 0) == 0) return &c;
  }
  return nullptr;
}

bool IsNumber(const std::string& s) { return !s.empty() && s.find_first_not_of("0123456789") == std::string::npos; }

ClaimVerdict Base(const ClaimDefinition& d, const std::string& model) {
  ClaimVerdict v;
  v.claim_id = d.id;
  v.claim = d.claim;
  v.source = d.source;
  v.condition = d.condition;
  v.model = model;
  return v;
}

// Holds when the whole interval is at or above `threshold`, fails when it is below.
Verdict AtLeast(const stats::Interval& i, double threshold) {
  if (i.low >= threshold) return Verdict::kHolds;
  if (i.high < threshold) return Verdict::kFails;
  return Verdict::kInconclusive;
}

class Judge {
 public:
  Judge(const AuditReport& r, const Correctness& correctness) : r_(r), correctness_(correctness) {}

  void Run(const ClaimDefinition& d, std::vector<ClaimVerdict>& out) {
    const std::string kind = Text(d.check, "kind");
    const size_t before = out.size();
    for (const ModelInfo& m : r_.models) {
      if (kind == "size_ratio") SizeRatio(d, m.label, out);
      else if (kind == "speedup") Speedup(d, m.label, out);
      else if (kind == "accuracy_drop") AccuracyDrop(d, m.label, out);
      else if (kind == "calibration_size") CalibrationSize(d, m.label, out);
      else if (kind == "improvement") Improvement(d, m.label, out);
      else if (kind == "qat_best") QatBest(d, m.label, out);
      else {
        ClaimVerdict v = Base(d, m.label);
        v.note = "unknown check kind '" + kind + "' in the registry";
        out.push_back(v);
      }
    }
    if (out.size() == before) {
      ClaimVerdict v = Base(d, "");
      v.note = "the plan produced no data for this claim";
      out.push_back(v);
    }
  }

 private:
  void NotTested(const ClaimDefinition& d, const std::string& model, const std::string& why,
                 std::vector<ClaimVerdict>& out) {
    ClaimVerdict v = Base(d, model);
    v.note = why;
    out.push_back(v);
  }

  void SizeRatio(const ClaimDefinition& d, const std::string& model, std::vector<ClaimVerdict>& out) {
    const std::string method = Text(d.check, "method");
    const MethodCost* c = FindCost(r_, model, method);
    if (c == nullptr) return NotTested(d, model, "the plan has no " + method + " model", out);
    ClaimVerdict v = Base(d, model);
    v.setting = c->method;
    v.value = {c->size_ratio, c->size_ratio, c->size_ratio};
    const double at_least = Param(d.check, "at_least", 0);
    v.verdict = c->size_ratio >= at_least ? Verdict::kHolds : Verdict::kFails;
    v.measured = Format("%.2fx smaller (%.0f -> %.0f bytes)", c->size_ratio, static_cast<double>(c->float_bytes),
                        static_cast<double>(c->bytes));
    v.note = Format("threshold %.2fx", at_least);
    out.push_back(v);
  }

  void Speedup(const ClaimDefinition& d, const std::string& model, std::vector<ClaimVerdict>& out) {
    const std::string method = Text(d.check, "method");
    const MethodCost* c = FindCost(r_, model, method);
    if (c == nullptr || c->latency.empty()) return NotTested(d, model, "the plan timed no " + method + " model", out);
    const double at_least = Param(d.check, "at_least", 1);
    for (const LatencyResult& l : c->latency) {
      ClaimVerdict v = Base(d, model);
      v.setting = c->method + ", batch " + std::to_string(l.batch) + ", " + std::to_string(l.threads) +
                  (l.threads == 1 ? " thread" : " threads");
      v.value = l.speedup;
      v.verdict = AtLeast(l.speedup, at_least);
      v.measured = Format("%.2fx [%.2f, %.2f]", l.speedup.estimate, l.speedup.low, l.speedup.high) +
                   Format(" (%.4f vs %.4f ms/sample)", l.ms_per_sample, l.float_ms_per_sample);
      const bool integer = method.rfind("int8", 0) == 0 || method.rfind("qat", 0) == 0;
      const double hardware = r_.hardware.int8_over_fp32();  // 0 when not measured
      if (integer && hardware > 0 && at_least > hardware) {
        v.note = Format("this CPU's int8 multiply-accumulate throughput is about %.1fx fp32's: a %.1fx speed-up "
                        "cannot come from arithmetic alone",
                        hardware, at_least);
      } else if (integer) {
        v.note = "the float baseline is qaudit's: it runs 3x3 stride-1 convolutions with 8 or more input channels "
                 "by Winograd, with fewer multiplies than TFLite's float kernels, so for models with such layers "
                 "the speed-up over TFLite's own float path is larger than measured here";
      } else if (method.rfind("dynamic", 0) == 0 || method.rfind("int16x8", 0) == 0) {
        // A verdict would judge qaudit's kernels, not TFLite's.
        v.verdict = Verdict::kNotTested;
        v.note = "qaudit runs hybrid and 16x8 operators with its portable reference kernels (no SIMD yet): the "
                 "figure measures those, not TFLite's optimized kernels";
      }
      out.push_back(v);
    }
  }

  void AccuracyDrop(const ClaimDefinition& d, const std::string& model, std::vector<ClaimVerdict>& out) {
    const std::vector<std::string> methods = Texts(d.check, "methods");
    const std::string experiment = Text(d.check, "experiment", "*");
    const std::string numerics = Text(d.check, "numerics", "*");
    const std::string variant = Text(d.check, "variant", "*");
    const double max_drop = Param(d.check, "max_drop_points", 0) / 100;
    std::vector<std::string> seen;
    for (const CellResult& c : r_.cells) {
      if (c.model != model || std::find(methods.begin(), methods.end(), c.method) == methods.end()) continue;
      if ((experiment != "*" && c.experiment != experiment) || (numerics != "*" && c.numerics != numerics) ||
          (variant != "*" && c.variant != variant)) {
        continue;
      }
      const std::string key = CellKey(c.model, c.method, c.calibration, c.variant, c.numerics);
      if (std::find(seen.begin(), seen.end(), key) != seen.end()) continue;
      seen.push_back(key);
      const stats::Interval drop{-c.delta_top1.estimate, -c.delta_top1.high, -c.delta_top1.low};
      ClaimVerdict v = Base(d, model);
      v.setting = c.method + (c.calibration.empty() ? "" : ", calibration " + c.calibration) + ", " + c.variant +
                  ", " + c.numerics;
      v.value = drop;
      v.verdict = drop.high <= max_drop ? Verdict::kHolds : (drop.low > max_drop ? Verdict::kFails : Verdict::kInconclusive);
      v.measured = "top-1 " + Format("%.2f%% vs float %.2f%%, ", 100 * c.top1, 100 * c.float_top1) + Points(c.delta_top1);
      v.note = Format("allowed drop %.2f points; McNemar p = %.3g", 100 * max_drop, c.mcnemar.p_value);
      out.push_back(v);
    }
  }

  const CellResult* FindCell(const std::string& model, const std::string& experiment, const std::string& method,
                             const std::string& calibration, const std::string& variant, const std::string& numerics) {
    for (const CellResult& c : r_.cells) {
      if (c.model == model && (experiment == "*" || c.experiment == experiment) && c.method == method &&
          c.calibration == calibration && c.variant == variant && c.numerics == numerics) {
        return &c;
      }
    }
    return nullptr;
  }

  // b minus a on the same samples, from the two cells' correctness.
  stats::Interval Paired(const CellResult& a, const CellResult& b, const std::string& what) {
    const auto& ca = correctness_.at(CellKey(a.model, a.method, a.calibration, a.variant, a.numerics));
    const auto& cb = correctness_.at(CellKey(b.model, b.method, b.calibration, b.variant, b.numerics));
    return stats::PairedBootstrapDelta(ca, cb, r_.plan.confidence, r_.plan.resamples, HashText(what, r_.plan.seed));
  }

  void CalibrationSize(const ClaimDefinition& d, const std::string& model, std::vector<ClaimVerdict>& out) {
    const std::string experiment = Text(d.check, "experiment", "calibration-size");
    const double max_drop = Param(d.check, "max_drop_points", 0.5) / 100;
    std::vector<std::string> methods;
    for (const CellResult& c : r_.cells) {
      if (c.model == model && c.experiment == experiment && c.calibration == "all" &&
          std::find(methods.begin(), methods.end(), c.method) == methods.end()) {
        methods.push_back(c.method);
      }
    }
    const JsonValue* sizes = d.check.Find("sizes");
    for (const std::string& method : methods) {
      for (const JsonValue& size : sizes ? sizes->array : std::vector<JsonValue>{}) {
        const std::string label = std::to_string(static_cast<int64_t>(size.number));
        const CellResult* all = FindCell(model, experiment, method, "all", "clean", "tflite");
        const CellResult* few = FindCell(model, experiment, method, label, "clean", "tflite");
        if (all == nullptr || few == nullptr) continue;
        const stats::Interval delta = Paired(*all, *few, d.id + model + method + label);
        ClaimVerdict v = Base(d, model);
        v.setting = method + ", " + label + " samples vs the whole pool, clean";
        v.value = delta;
        v.verdict = AtLeast(delta, -max_drop);
        v.measured = Format("top-1 %.2f%% vs %.2f%%, ", 100 * few->top1, 100 * all->top1) + Points(delta);
        v.note = Format("allowed shortfall %.2f points", 100 * max_drop);
        out.push_back(v);
      }
    }
  }

  void Improvement(const ClaimDefinition& d, const std::string& model, std::vector<ClaimVerdict>& out) {
    const std::string method = Text(d.check, "method"), baseline = Text(d.check, "baseline");
    const std::string experiment = Text(d.check, "experiment", "*"), numerics = Text(d.check, "numerics", "tflite");
    const double min_gain = Param(d.check, "min_gain_points", 0.5) / 100;
    for (const CellResult& base : r_.cells) {
      if (base.model != model || base.method != baseline || base.numerics != numerics ||
          (experiment != "*" && base.experiment != experiment)) {
        continue;
      }
      const CellResult* better = FindCell(model, base.experiment, method, base.calibration, base.variant, numerics);
      if (better == nullptr) continue;
      ClaimVerdict v = Base(d, model);
      v.setting = method + " vs " + baseline + ", calibration " + base.calibration + ", " + base.variant;
      if (base.delta_top1.high >= 0) {
        v.verdict = Verdict::kNotTested;
        v.measured = baseline + " vs float " + Points(base.delta_top1);
        v.note = baseline + "'s loss is not significant here (its interval reaches 0): nothing for " + method +
                 " to recover";
        out.push_back(v);
        continue;
      }
      const stats::Interval gain = Paired(base, *better, d.id + model + base.variant + base.calibration);
      v.value = gain;
      v.verdict = gain.low > 0 ? Verdict::kHolds : (gain.high < min_gain ? Verdict::kFails : Verdict::kInconclusive);
      v.measured = Format("top-1 %.2f%% vs %.2f%%, ", 100 * better->top1, 100 * base.top1) + Points(gain);
      out.push_back(v);
    }
  }

  void QatBest(const ClaimDefinition& d, const std::string& model, std::vector<ClaimVerdict>& out) {
    const double tolerance = Param(d.check, "tolerance_points", 0.1) / 100;
    const std::string numerics = Text(d.check, "numerics", "tflite");
    // The best int8 PTQ cell on clean data at the plan's first calibration of each method.
    const CellResult* best = nullptr;
    for (const CellResult& c : r_.cells) {
      if (c.model == model && c.method.rfind("int8/", 0) == 0 && c.variant == "clean" && c.numerics == numerics &&
          IsNumber(c.calibration) && std::stoll(c.calibration) >= 100 && (best == nullptr || c.top1 > best->top1)) {
        best = &c;
      }
    }
    std::vector<std::string> seen;
    for (const CellResult& q : r_.cells) {
      if (q.model != model || q.method.rfind("qat", 0) != 0 || q.variant != "clean" || q.numerics != numerics) continue;
      if (std::find(seen.begin(), seen.end(), q.method) != seen.end()) continue;
      seen.push_back(q.method);
      if (best == nullptr) return NotTested(d, model, "no int8 PTQ cell on clean data to compare with", out);
      const stats::Interval delta = Paired(*best, q, d.id + model + q.method);
      ClaimVerdict v = Base(d, model);
      v.setting = q.method + " vs the best PTQ (" + best->method + ", calibration " + best->calibration + ")";
      v.value = delta;
      v.verdict = AtLeast(delta, -tolerance);
      if (v.verdict == Verdict::kInconclusive && delta.high < 0) v.verdict = Verdict::kFails;
      v.measured = Format("top-1 %.2f%% vs %.2f%%, ", 100 * q.top1, 100 * best->top1) + Points(delta);
      out.push_back(v);
    }
  }

  const AuditReport& r_;
  const Correctness& correctness_;
};

}  // namespace

std::string CellKey(const std::string& model, const std::string& method, const std::string& calibration,
                    const std::string& variant, const std::string& numerics) {
  return model + "|" + method + "|" + calibration + "|" + variant + "|" + numerics;
}

Result<std::vector<ClaimDefinition>> ParseClaims(const std::string& json_text) {
  auto doc = ParseJson(json_text);
  if (!doc.ok()) return Status::InvalidArgument("claims registry: " + doc.status().message());
  const JsonValue* claims = doc->Find("claims");
  if (claims == nullptr || claims->kind != JsonValue::Kind::kArray) {
    return Status::InvalidArgument("claims registry: expected an array \"claims\"");
  }
  std::vector<ClaimDefinition> out;
  for (size_t i = 0; i < claims->array.size(); ++i) {
    const JsonValue& c = claims->array[i];
    ClaimDefinition d{Text(c, "id"), Text(c, "claim"), Text(c, "source"), Text(c, "condition"), {}};
    const JsonValue* check = c.Find("check");
    if (d.id.empty() || d.claim.empty() || d.source.empty() || check == nullptr ||
        check->kind != JsonValue::Kind::kObject || Text(*check, "kind").empty()) {
      return Status::InvalidArgument("claims registry: claim " + std::to_string(i) +
                                     " needs id, claim, source, condition and a check with a kind");
    }
    d.check = *check;
    out.push_back(std::move(d));
  }
  return out;
}

Result<std::vector<ClaimDefinition>> BuiltInClaims() { return ParseClaims(kClaimsRegistryJson); }

std::vector<ClaimVerdict> JudgeClaims(const std::vector<ClaimDefinition>& claims, const AuditReport& report,
                                      const Correctness& correctness) {
  std::vector<ClaimVerdict> out;
  Judge judge(report, correctness);
  for (const ClaimDefinition& d : claims) judge.Run(d, out);
  return out;
}

std::vector<std::string> Findings(const AuditReport& report) {
  std::vector<std::string> out;
  for (const ModelInfo& m : report.models) {
    for (const Experiment& e : report.plan.experiments) {
      // The largest drop whose interval excludes 0, and the best method in that setting.
      const CellResult* worst = nullptr;
      for (const CellResult& c : report.cells) {
        if (c.model == m.label && c.experiment == e.name && c.delta_top1.high < 0 &&
            (worst == nullptr || c.delta_top1.estimate < worst->delta_top1.estimate)) {
          worst = &c;
        }
      }
      if (worst == nullptr) {
        bool any = false;
        for (const CellResult& c : report.cells) any = any || (c.model == m.label && c.experiment == e.name);
        if (any) out.push_back(m.label + ", " + e.name + ": no cell loses accuracy beyond its interval");
        continue;
      }
      const CellResult* best = nullptr;
      for (const CellResult& c : report.cells) {
        if (c.model == m.label && c.experiment == e.name && c.calibration == worst->calibration &&
            c.variant == worst->variant && c.numerics == worst->numerics && c.method != worst->method &&
            (best == nullptr || c.top1 > best->top1)) {
          best = &c;
        }
      }
      std::string line = m.label + ", " + e.name + ": worst " + worst->method +
                         (worst->calibration.empty() ? "" : " calibrated on " + worst->calibration) + ", " +
                         worst->variant + " (" + worst->numerics + "): " + Points(worst->delta_top1) +
                         Format(", McNemar p = %.3g", worst->mcnemar.p_value);
      if (best != nullptr) line += "; in the same setting " + best->method + ": " + Points(best->delta_top1);
      out.push_back(line);
    }
    // The float-with-clamped-input control.
    for (const CellResult& c : report.cells) {
      if (c.model == m.label && c.clamped_float_top1 >= 0 && c.delta_top1.low > 0 && c.delta_vs_clamped.high >= 0 &&
          c.delta_vs_clamped.low <= 0) {
        out.push_back(m.label + ": " + c.method + " beats float on " + c.variant +
                      Format(" (%+.2f points), but float with its input clamped to the int8 input range scores %.2f%%: ",
                             100 * c.delta_top1.estimate, 100 * c.clamped_float_top1) +
                      "the gain is input saturation, not robustness");
        break;
      }
    }
  }
  for (const MethodCost& c : report.costs) {
    if (c.method != "int8/minmax") continue;
    for (const LatencyResult& l : c.latency) {
      out.push_back(c.model + Format(": int8 runs %.2fx as fast as float at batch %.0f, %.0f thread(s)", l.speedup.estimate,
                                     l.batch, l.threads) +
                    (report.hardware.int8_over_fp32() > 0
                         ? Format(" (hardware int8/fp32 multiply-accumulate ratio %.1fx)", report.hardware.int8_over_fp32())
                         : std::string()));
    }
  }
  for (const LayerDiagnosis& d : report.diagnoses) {
    int flagged = 0;
    for (const debug::LayerStats& l : d.layers) flagged += l.flagged;
    std::string line = d.model + ", " + d.method + Format(": %.0f of %.0f layers above rmse/scale 0.7", flagged,
                                                         static_cast<double>(d.layers.size()));
    if (!d.selective.steps.empty()) {
      const debug::SelectiveStep& last = d.selective.steps.back();
      line += std::string("; selective quantization ") + (d.selective.reached ? "reaches" : "does not reach") +
              Format(" the %.2f-point budget with %.0f layer(s) in float: drop ", 100 * d.max_drop,
                     static_cast<double>(last.denied.size())) +
              Format("%.2f points [%.2f, %.2f]", 100 * last.drop.estimate, 100 * last.drop.low, 100 * last.drop.high);
    }
    out.push_back(line);
  }
  return out;
}

}  // namespace qaudit::audit
