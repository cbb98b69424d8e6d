#include "report/format.h"

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "qaudit/tensor.h"

namespace qaudit::report::internal {
namespace {

std::string Printf(const char* format, double value) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), format, value);
  return buf;
}

// Percentage points with an explicit sign; values that print as zero lose the sign so
// that a table never shows "-0.00".
std::string SignedPoints(double fraction) {
  const double points = fraction * 100;
  if (std::fabs(points) < 0.005) return "0.00";
  return Printf("%+.2f", points);
}

std::string Join(const std::vector<std::string>& parts, const std::string& separator) {
  std::string out;
  for (size_t i = 0; i < parts.size(); ++i) out += (i ? separator : "") + parts[i];
  return out;
}

TableCell Text(std::string text) { return TableCell{std::move(text)}; }

}  // namespace

std::string Percent(double fraction) {
  if (!std::isfinite(fraction)) return kMissing;
  return Printf("%.2f%%", fraction * 100);
}

std::string Points(double fraction) {
  if (!std::isfinite(fraction)) return kMissing;
  return SignedPoints(fraction) + " pp";
}

std::string PointsInterval(const stats::Interval& interval) {
  if (!std::isfinite(interval.estimate)) return kMissing;
  return Points(interval.estimate) + " [" + SignedPoints(interval.low) + ", " + SignedPoints(interval.high) + "]";
}

std::string PValue(double p) {
  if (!std::isfinite(p) || p < 0) return kMissing;
  if (p == 0) return "<1e-300";
  // %#.3g keeps trailing zeros ("1.00", "0.500") so every p shows three digits.
  if (p >= 1e-4) return Printf("%#.3g", p);
  return Printf("%.2e", p);
}

std::string Decibels(double db) {
  if (std::isnan(db)) return kMissing;
  if (std::isinf(db)) return db > 0 ? "∞ dB" : "-∞ dB";
  return Printf("%.1f dB", db);
}

std::string Bytes(int64_t bytes) {
  const double b = static_cast<double>(bytes);
  if (bytes < 0) return kMissing;
  if (b < 1e3) return std::to_string(bytes) + " B";
  if (b < 1e6) return Significant(b / 1e3, 3) + " kB";
  if (b < 1e9) return Significant(b / 1e6, 3) + " MB";
  return Significant(b / 1e9, 3) + " GB";
}

std::string Milliseconds(double ms) {
  if (!std::isfinite(ms) || ms < 0) return kMissing;
  return Significant(ms, 3) + " ms";
}

std::string Times(double ratio) {
  if (!std::isfinite(ratio)) return kMissing;
  return Printf("%.2f", ratio) + "×";
}

std::string TimesInterval(const stats::Interval& interval) {
  if (!std::isfinite(interval.estimate)) return kMissing;
  return Times(interval.estimate) + " [" + Printf("%.2f", interval.low) + ", " + Printf("%.2f", interval.high) + "]";
}

std::string HardwareRates(const PeakRates& rates) {
  if (rates.fp32_macs_per_second <= 0 || rates.int8_macs_per_second <= 0) return kMissing;
  return Times(rates.int8_over_fp32()) + " (int8 " + Significant(rates.int8_macs_per_second / 1e9, 3) + " G MAC/s by " +
         rates.int8_instructions + ", fp32 " + Significant(rates.fp32_macs_per_second / 1e9, 3) + " G MAC/s by " +
         rates.fp32_instructions + ")";
}

std::string Share(double fraction) {
  if (!std::isfinite(fraction)) return kMissing;
  if (fraction <= 0) return "0";
  if (fraction < 0.0001) return "<0.01%";
  return Printf("%.2f%%", fraction * 100);
}

std::string Significant(double value, int digits) {
  if (!std::isfinite(value)) return kMissing;
  if (value == 0) return "0";
  const double magnitude = std::fabs(value);
  if (magnitude >= 1e6 || magnitude < 1e-4) return Printf(digits == 3 ? "%.2e" : "%.3e", value);
  // Decimals so that `digits` significant digits show: 123 -> 0, 12.3 -> 1, 0.0123 -> 4.
  const int exponent = static_cast<int>(std::floor(std::log10(magnitude)));
  const int decimals = std::max(0, digits - 1 - exponent);
  char format[16];
  std::snprintf(format, sizeof(format), "%%.%df", decimals);
  return Printf(format, value);
}

std::string HtmlEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

std::string MarkdownEscape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '|':
        out += "\\|";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\n':
      case '\r':
        out += ' ';
        break;
      default:
        out += c;
    }
  }
  return out;
}

bool IsWebUrl(const std::string& text) {
  if (text.rfind("https://", 0) != 0 && text.rfind("http://", 0) != 0) return false;
  for (unsigned char c : text) {
    if (c <= ' ' || c == '"' || c == '<' || c == '>' || c == '\\' || c == 0x7f) return false;
  }
  return true;
}

std::string UrlForDisplay(const std::string& url, size_t max_chars) {
  std::string shown = url;
  for (const char* scheme : {"https://", "http://"}) {
    if (shown.rfind(scheme, 0) == 0) shown = shown.substr(std::char_traits<char>::length(scheme));
  }
  if (shown.size() > max_chars) shown = shown.substr(0, max_chars - 1) + "…";
  return shown;
}

bool IsPlainCalibrationSize(const std::string& label) {
  if (label == "all") return true;
  if (label.empty() || label.size() > 15) return false;
  for (char c : label) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------

Table ModelsTable(const audit::AuditReport& report) {
  Table t{{"model", "float top-1", "size", "SHA-256", "path"}, {false, true, true, false, false}};
  for (const audit::ModelInfo& m : report.models) {
    t.rows.push_back({Text(m.label), Text(Percent(m.float_top1)), Text(Bytes(m.bytes)), Text(m.sha256), Text(m.path)});
    t.rows.back()[0].strong = true;
  }
  return t;
}

Table DataTable(const audit::AuditReport& report) {
  Table t{{"role", "data", "samples", "SHA-256"}, {false, false, true, false}};
  for (const audit::DataInfo& d : report.data) {
    t.rows.push_back({Text(d.role), Text(d.spec), Text(std::to_string(d.samples)), Text(d.sha256)});
  }
  return t;
}

std::string VerdictStyle(audit::Verdict verdict) {
  switch (verdict) {
    case audit::Verdict::kHolds:
      return "verdict-holds";
    case audit::Verdict::kFails:
      return "verdict-fails";
    case audit::Verdict::kInconclusive:
      return "verdict-inconclusive";
    case audit::Verdict::kNotTested:
      return "verdict-not-tested";
  }
  return "verdict-not-tested";
}

Table ClaimsTable(const audit::AuditReport& report) {
  Table t{{"id", "claim", "source", "model", "setting", "measured", "verdict"},
          {false, false, false, false, false, false, false}};
  std::string previous_id;
  for (const audit::ClaimVerdict& c : report.claims) {
    // A claim judged in several settings states itself and its source once.
    const bool repeat = c.claim_id == previous_id;
    previous_id = c.claim_id;
    TableCell id = Text(repeat ? "" : c.claim_id);
    TableCell claim = Text(repeat ? "" : c.claim);
    if (!repeat && !c.condition.empty()) claim.detail = "condition: " + c.condition;
    TableCell source = Text(repeat ? "" : c.source.empty() ? std::string(kMissing) : c.source);
    if (!repeat && IsWebUrl(c.source)) {
      source.text = UrlForDisplay(c.source);
      source.href = c.source;
    }
    TableCell verdict = Text(audit::VerdictName(c.verdict));
    verdict.style = VerdictStyle(c.verdict);
    verdict.strong = true;
    verdict.detail = c.note;
    t.rows.push_back(
        {id, claim, source, Text(c.model), Text(c.setting), Text(c.measured.empty() ? kMissing : c.measured), verdict});
    t.row_styles.push_back(VerdictStyle(c.verdict));
  }
  return t;
}

std::string VerdictCounts(const audit::AuditReport& report) {
  const audit::Verdict kinds[] = {audit::Verdict::kHolds, audit::Verdict::kFails, audit::Verdict::kInconclusive,
                                  audit::Verdict::kNotTested};
  std::vector<std::string> parts;
  for (audit::Verdict v : kinds) {
    int n = 0;
    for (const audit::ClaimVerdict& c : report.claims) n += c.verdict == v;
    if (n == 0) continue;
    std::string name = audit::VerdictName(v);
    // "1 holds, 3 hold": the verb agrees with the count.
    if (v == audit::Verdict::kHolds || v == audit::Verdict::kFails) {
      if (n != 1) name.pop_back();
    }
    parts.push_back(std::to_string(n) + " " + name);
  }
  return parts.empty() ? "no claims judged" : Join(parts, ", ");
}

std::vector<ExperimentGroup> GroupCells(const audit::AuditReport& report) {
  std::vector<ExperimentGroup> groups;
  for (const audit::Experiment& e : report.plan.experiments) {
    bool seen = false;
    for (const ExperimentGroup& g : groups) seen = seen || g.name == e.name;
    if (!seen) groups.push_back({e.name, e.purpose, {}});
  }
  for (size_t i = 0; i < report.cells.size(); ++i) {
    const std::string& name = report.cells[i].experiment;
    ExperimentGroup* group = nullptr;
    for (ExperimentGroup& g : groups) {
      if (g.name == name) group = &g;
    }
    if (group == nullptr) {
      groups.push_back({name, "", {}});
      group = &groups.back();
    }
    group->cells.push_back(i);
  }
  std::vector<ExperimentGroup> non_empty;
  for (ExperimentGroup& g : groups) {
    if (!g.cells.empty()) non_empty.push_back(std::move(g));
  }
  return non_empty;
}

Table CellsTable(const audit::AuditReport& report, const ExperimentGroup& group) {
  bool any_top5 = false, any_clamped = false;
  for (size_t i : group.cells) {
    any_top5 = any_top5 || report.cells[i].top5 >= 0;
    any_clamped = any_clamped || report.cells[i].clamped_float_top1 >= 0;
  }
  const std::string level = Printf("%.0f%%", report.plan.confidence * 100);
  Table t{{"model", "method", "calibration", "variant", "numerics", "samples", "top-1", "Δ top-1 [" + level + "]",
           "McNemar p", "agreement", "SQNR"},
          {false, false, false, false, false, true, true, true, true, true, true}};
  if (any_top5) {
    t.header.push_back("top-5");
    t.numeric.push_back(true);
  }
  if (any_clamped) {
    t.header.insert(t.header.end(), {"clamped float top-1", "Δ vs clamped [" + level + "]"});
    t.numeric.insert(t.numeric.end(), {true, true});
  }
  for (size_t i : group.cells) {
    const audit::CellResult& c = report.cells[i];
    TableCell delta = Text(PointsInterval(c.delta_top1));
    // Only an interval that excludes zero says the quantized model differs.
    if (c.delta_top1.high < 0) delta.style = "worse";
    if (c.delta_top1.low > 0) delta.style = "better";
    TableCell p = Text(PValue(c.mcnemar.p_value));
    p.detail = std::to_string(c.mcnemar.only_a) + " lost / " + std::to_string(c.mcnemar.only_b) + " gained";
    std::vector<TableCell> row{Text(c.model),
                               Text(c.method),
                               Text(c.calibration.empty() ? kMissing : c.calibration),
                               Text(c.variant),
                               Text(c.numerics),
                               Text(std::to_string(c.samples)),
                               Text(Percent(c.top1)),
                               delta,
                               p,
                               Text(Percent(c.agreement)),
                               Text(Decibels(c.sqnr_db))};
    row[6].strong = true;
    if (any_top5) row.push_back(Text(c.top5 >= 0 ? Percent(c.top5) : kMissing));
    if (any_clamped) {
      if (c.clamped_float_top1 >= 0) {
        row.push_back(Text(Percent(c.clamped_float_top1)));
        row.push_back(Text(PointsInterval(c.delta_vs_clamped)));
      } else {
        row.push_back(Text(kMissing));
        row.push_back(Text(kMissing));
      }
    }
    for (const std::string& note : c.notes) row[1].detail += (row[1].detail.empty() ? "" : "; ") + note;
    t.rows.push_back(std::move(row));
  }
  return t;
}

Table CostsTable(const audit::AuditReport& report) {
  Table t{{"model", "method", "size", "float size", "size ratio", "batch", "threads", "ms / sample",
           "float ms / sample", "speed-up [min, max]"},
          {false, false, true, true, true, true, true, true, true, true}};
  for (const audit::MethodCost& c : report.costs) {
    std::vector<TableCell> prefix{Text(c.model), Text(c.method), Text(Bytes(c.bytes)), Text(Bytes(c.float_bytes)),
                                  Text(Times(c.size_ratio))};
    prefix[4].strong = true;
    if (c.latency.empty()) {
      std::vector<TableCell> row = prefix;
      for (int k = 0; k < 5; ++k) row.push_back(Text(kMissing));
      t.rows.push_back(std::move(row));
      continue;
    }
    for (const audit::LatencyResult& l : c.latency) {
      std::vector<TableCell> row = prefix;
      row.push_back(Text(std::to_string(l.batch)));
      row.push_back(Text(std::to_string(l.threads)));
      row.push_back(Text(Milliseconds(l.ms_per_sample)));
      row.push_back(Text(Milliseconds(l.float_ms_per_sample)));
      TableCell speedup = Text(TimesInterval(l.speedup));
      speedup.strong = true;
      if (l.speedup.high < 1) speedup.style = "worse";
      row.push_back(speedup);
      t.rows.push_back(std::move(row));
    }
  }
  return t;
}

Table LayersTable(const audit::LayerDiagnosis& diagnosis) {
  Table t{{"#", "tensor", "op", "type", "scale", "rmse / scale", "SQNR", "max |error|", "saturated (calib.)",
           "saturated (deploy.)", "out of range (deploy.)", "flag"},
          {true, false, false, false, true, true, true, true, true, true, true, false}};
  for (const debug::LayerStats& l : diagnosis.layers) {
    TableCell ratio = Text(Significant(l.rmse_over_scale, 3));
    ratio.strong = l.flagged;
    TableCell flag = Text(l.flagged ? "flagged" : "");
    flag.strong = l.flagged;
    if (l.flagged) flag.style = "flag";
    TableCell scale = Text(Significant(l.scale, 3));
    scale.detail = "zp " + std::to_string(l.zero_point);
    t.rows.push_back({Text(std::to_string(l.op_index)), Text(l.tensor_name), Text(l.op), Text(DTypeName(l.dtype)),
                      scale, ratio, Text(Decibels(l.sqnr_db)), Text(Significant(l.max_abs_error, 3)),
                      Text(Share(l.saturation_calibration)), Text(Share(l.saturation_deployment)),
                      Text(Share(l.out_of_range_deployment)), flag});
    t.row_styles.push_back(l.flagged ? "flagged" : "");
  }
  return t;
}

Table SelectiveTable(const audit::LayerDiagnosis& diagnosis) {
  const debug::SelectiveResult& s = diagnosis.selective;
  Table t{{"step", "kept in float", "top-1", "drop [interval]", "within budget", "size", "ms / sample"},
          {true, false, true, true, false, true, true}};
  for (size_t i = 0; i < s.steps.size(); ++i) {
    const debug::SelectiveStep& step = s.steps[i];
    // Each step adds one layer to the previous step's list; show that one, and the count.
    std::vector<std::string> added;
    const std::vector<std::string>* before = i > 0 ? &s.steps[i - 1].denied : nullptr;
    for (const std::string& name : step.denied) {
      bool old = false;
      if (before != nullptr) {
        for (const std::string& b : *before) old = old || b == name;
      }
      if (!old) added.push_back(name);
    }
    TableCell kept = Text(step.denied.empty() ? "nothing (full quantization)" : "+ " + Join(added, ", "));
    if (!step.denied.empty()) kept.detail = std::to_string(step.denied.size()) + " in float";
    const bool within = step.drop.high <= diagnosis.max_drop;
    TableCell budget = Text(within ? "yes" : "no");
    budget.style = within ? "better" : "";
    t.rows.push_back({Text(std::to_string(i)), kept, Text(Percent(step.top1)), Text(PointsInterval(step.drop)), budget,
                      Text(Bytes(step.model_bytes)), Text(Milliseconds(step.ms_per_sample))});
    t.row_styles.push_back(i + 1 == s.steps.size() ? "final" : "");
  }
  return t;
}

std::vector<std::string> PlanSummary(const audit::Plan& plan) {
  std::vector<std::string> lines;
  lines.push_back("seed " + std::to_string(plan.seed) + "; evaluation samples: " +
                  (plan.eval_samples > 0 ? std::to_string(plan.eval_samples) : std::string("all")) +
                  "; calibration pool: " + std::to_string(plan.calibration_pool) + " samples");
  lines.push_back("intervals: " + Printf("%.0f%%", plan.confidence * 100) + " paired bootstrap, " +
                  std::to_string(plan.resamples) + " resamples; McNemar's test for p");
  for (const audit::Experiment& e : plan.experiments) {
    std::vector<std::string> methods, calibrations, variants, numerics;
    for (const audit::MethodSpec& m : e.methods) methods.push_back(m.label);
    for (const audit::CalibrationSpec& c : e.calibrations) calibrations.push_back(c.Label());
    for (audit::Variant v : e.variants) variants.push_back(audit::VariantName(v));
    for (Numerics n : e.numerics) numerics.push_back(NumericsName(n));
    std::string line =
        "experiment " + e.name + (e.purpose.empty() ? "" : " (" + e.purpose + ")") + ": methods " + Join(methods, ", ");
    if (!calibrations.empty()) line += "; calibration " + Join(calibrations, ", ");
    line += "; variants " + Join(variants, ", ") + "; numerics " + Join(numerics, ", ");
    if (!e.models.empty()) line += "; models " + Join(e.models, ", ");
    lines.push_back(line);
  }
  std::vector<std::string> batches, threads;
  for (int b : plan.latency.batches) batches.push_back(std::to_string(b));
  for (int t : plan.latency.threads) threads.push_back(std::to_string(t));
  lines.push_back("latency: batch " + Join(batches, ", ") + "; threads " + Join(threads, ", ") + "; median of " +
                  std::to_string(plan.latency.repeats) + " repeats of at least " +
                  Printf("%g", plan.latency.min_seconds) + " s");
  const audit::ShiftSettings& s = plan.shifts;
  lines.push_back("shifts (relative to the data's range r): outlier pixels " + Share(s.outlier_pixel_share) +
                  " set to min + " + Printf("%g", s.outlier_pixel_value) + " r; contrast " + Printf("%g", s.contrast) +
                  ", brightness " + Printf("%g", s.brightness) + " r; noise σ " + Printf("%g", s.noise_stddev) +
                  " r; long tail ratio " + Printf("%g", s.long_tail_ratio) + "; calibration outliers ×" +
                  Printf("%g", s.calibration_outlier_value));
  if (plan.debug.enabled) {
    lines.push_back("per-layer debugger: " + Join(plan.debug.methods, ", ") + "; calibration " +
                    plan.debug.calibration.Label() + "; deployment " + audit::VariantName(plan.debug.deployment) +
                    "; selective quantization budget " + Printf("%.2f", plan.debug.max_drop * 100) + " pp");
  } else {
    lines.push_back("per-layer debugger: off");
  }
  return lines;
}

std::string DiagnosisTitle(const audit::LayerDiagnosis& diagnosis) {
  return diagnosis.model + " — " + diagnosis.method;
}

std::string DiagnosisSubtitle(const audit::LayerDiagnosis& diagnosis) {
  int flagged = 0;
  for (const debug::LayerStats& l : diagnosis.layers) flagged += l.flagged;
  return "calibration " + (diagnosis.calibration.empty() ? std::string(kMissing) : diagnosis.calibration) +
         ", deployment " + diagnosis.deployment + "; " + std::to_string(diagnosis.layers.size()) +
         " tensors compared, " + std::to_string(flagged) + " flagged (rmse/scale > " +
         Significant(debug::kRmseOverScaleFlag, 2) + ")";
}

}  // namespace qaudit::report::internal
