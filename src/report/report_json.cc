// report.json: every field of the AuditReport, keys in a fixed order.
//
// Timing-dependent values live under these keys only, so that two runs of the same plan
// compare equal once they are removed: "created" and "seconds" (top level), "latency"
// (each cost's array of timings), and "ms_per_sample" / "float_ms_per_sample" (the
// selective quantization's steps and float model). Everything else is determined by the
// plan, the seed, the models and the data.
//
// Sentinels of the result model become null: top-5 of fewer than 6 classes, and the
// clamped-float control where there is none. Non-finite numbers are null as well.
#include <cctype>
#include <string>

#include "core/json.h"
#include "qaudit/report.h"
#include "qaudit/tensor.h"

namespace qaudit::report {
namespace {

// Members in insertion order; values are JSON texts.
class JsonObject {
 public:
  JsonObject& Add(const char* key, std::string json) {
    if (text_.size() > 1) text_ += ',';
    text_ += JsonString(key);
    text_ += ':';
    text_ += json;
    return *this;
  }
  JsonObject& Str(const char* key, const std::string& value) { return Add(key, JsonString(value)); }
  JsonObject& Num(const char* key, double value) { return Add(key, JsonNumber(value)); }
  JsonObject& Int(const char* key, int64_t value) { return Add(key, std::to_string(value)); }
  JsonObject& Bool(const char* key, bool value) { return Add(key, value ? "true" : "false"); }
  std::string Text() const { return text_ + "}"; }

 private:
  std::string text_ = "{";
};

std::string IntervalJson(const stats::Interval& i) {
  return JsonObject().Num("estimate", i.estimate).Num("low", i.low).Num("high", i.high).Text();
}

std::string StringsJson(const std::vector<std::string>& v) { return JsonArray(v, JsonString); }

std::string NumbersJson(const std::vector<double>& v) {
  return JsonArray(v, [](double x) { return JsonNumber(x); });
}

std::string IndicesJson(const std::vector<int64_t>& v) {
  return JsonArray(v, [](int64_t x) { return std::to_string(x); });
}

std::string OptionalNumber(double value, bool present) { return present ? JsonNumber(value) : "null"; }

std::string ModelJson(const audit::ModelInfo& m) {
  return JsonObject()
      .Str("label", m.label)
      .Str("path", m.path)
      .Str("sha256", m.sha256)
      .Int("bytes", m.bytes)
      .Num("float_top1", m.float_top1)
      .Text();
}

std::string DataJson(const audit::DataInfo& d) {
  return JsonObject().Str("role", d.role).Str("spec", d.spec).Int("samples", d.samples).Str("sha256", d.sha256).Text();
}

std::string ClaimJson(const audit::ClaimVerdict& c) {
  return JsonObject()
      .Str("claim_id", c.claim_id)
      .Str("claim", c.claim)
      .Str("source", c.source)
      .Str("condition", c.condition)
      .Str("model", c.model)
      .Str("setting", c.setting)
      .Str("verdict", audit::VerdictName(c.verdict))
      .Str("measured", c.measured)
      .Add("value", IntervalJson(c.value))
      .Str("note", c.note)
      .Text();
}

std::string CellJson(const audit::CellResult& c) {
  const bool top5 = c.top5 >= 0;
  const bool clamped = c.clamped_float_top1 >= 0;
  return JsonObject()
      .Str("model", c.model)
      .Str("experiment", c.experiment)
      .Str("method", c.method)
      .Str("calibration", c.calibration)
      .Str("variant", c.variant)
      .Str("numerics", c.numerics)
      .Int("samples", c.samples)
      .Num("top1", c.top1)
      .Num("float_top1", c.float_top1)
      .Add("top5", OptionalNumber(c.top5, top5))
      .Add("float_top5", OptionalNumber(c.float_top5, c.float_top5 >= 0))
      .Add("delta_top1", IntervalJson(c.delta_top1))
      .Add("mcnemar", JsonObject()
                          .Int("only_float", c.mcnemar.only_a)
                          .Int("only_quantized", c.mcnemar.only_b)
                          .Num("p_value", c.mcnemar.p_value)
                          .Text())
      .Num("agreement", c.agreement)
      .Num("sqnr_db", c.sqnr_db)
      .Add("per_class_top1", NumbersJson(c.per_class_top1))
      .Add("float_per_class_top1", NumbersJson(c.float_per_class_top1))
      .Int("flipped_to_wrong_count", c.flipped_to_wrong_count)
      .Add("flipped_to_wrong", IndicesJson(c.flipped_to_wrong))
      .Int("flipped_to_right_count", c.flipped_to_right_count)
      .Add("flipped_to_right", IndicesJson(c.flipped_to_right))
      .Add("clamped_float_top1", OptionalNumber(c.clamped_float_top1, clamped))
      .Add("delta_vs_clamped", clamped ? IntervalJson(c.delta_vs_clamped) : "null")
      .Add("notes", StringsJson(c.notes))
      .Text();
}

std::string LatencyJson(const audit::LatencyResult& l) {
  return JsonObject()
      .Int("batch", l.batch)
      .Int("threads", l.threads)
      .Num("ms_per_sample", l.ms_per_sample)
      .Num("float_ms_per_sample", l.float_ms_per_sample)
      .Add("speedup", IntervalJson(l.speedup))
      .Text();
}

std::string CostJson(const audit::MethodCost& c) {
  return JsonObject()
      .Str("model", c.model)
      .Str("method", c.method)
      .Int("bytes", c.bytes)
      .Int("float_bytes", c.float_bytes)
      .Num("size_ratio", c.size_ratio)
      .Add("latency", JsonArray(c.latency, LatencyJson))
      .Text();
}

std::string RangeJson(const FloatRange& r) { return JsonObject().Num("min", r.min).Num("max", r.max).Text(); }

std::string LayerJson(const debug::LayerStats& l) {
  return JsonObject()
      .Int("tensor", l.tensor)
      .Int("source_tensor", l.source_tensor)
      .Str("tensor_name", l.tensor_name)
      .Str("op", l.op)
      .Int("op_index", l.op_index)
      .Str("dtype", DTypeName(l.dtype))
      .Num("scale", l.scale)
      .Int("zero_point", l.zero_point)
      .Int("elements_per_sample", l.elements_per_sample)
      .Num("mean_error", l.mean_error)
      .Num("max_abs_error", l.max_abs_error)
      .Num("mse", l.mse)
      .Num("rmse_over_scale", l.rmse_over_scale)
      .Num("sqnr_db", l.sqnr_db)
      .Bool("flagged", l.flagged)
      .Num("saturation_calibration", l.saturation_calibration)
      .Num("saturation_deployment", l.saturation_deployment)
      .Add("calibration_range", RangeJson(l.calibration_range))
      .Add("deployment_range", RangeJson(l.deployment_range))
      .Num("out_of_range_deployment", l.out_of_range_deployment)
      .Text();
}

std::string StepJson(const debug::SelectiveStep& s) {
  return JsonObject()
      .Add("denied", StringsJson(s.denied))
      .Num("top1", s.top1)
      .Add("drop", IntervalJson(s.drop))
      .Int("model_bytes", s.model_bytes)
      .Num("ms_per_sample", s.ms_per_sample)
      .Text();
}

std::string DiagnosisJson(const audit::LayerDiagnosis& d) {
  const debug::SelectiveResult& s = d.selective;
  return JsonObject()
      .Str("model", d.model)
      .Str("method", d.method)
      .Str("calibration", d.calibration)
      .Str("deployment", d.deployment)
      .Num("max_drop", d.max_drop)
      .Add("layers", JsonArray(d.layers, LayerJson))
      .Add("selective", JsonObject()
                            .Num("float_top1", s.float_top1)
                            .Int("float_model_bytes", s.float_model_bytes)
                            .Num("float_ms_per_sample", s.float_ms_per_sample)
                            .Bool("reached", s.reached)
                            .Add("steps", JsonArray(s.steps, StepJson))
                            .Text())
      .Text();
}

// Re-indents compact JSON, two spaces a level; arrays of numbers stay on one line so
// that per-class accuracies and sample indices do not take a line per number.
std::string Pretty(const std::string& json) {
  // The index of the bracket closing the one at `open`, and whether anything nests inside.
  const auto scan = [&json](size_t open, bool* nested) {
    int depth = 0;
    bool in_string = false;
    *nested = false;
    for (size_t i = open; i < json.size(); ++i) {
      const char c = json[i];
      if (in_string) {
        if (c == '\\')
          ++i;
        else if (c == '"')
          in_string = false;
        continue;
      }
      if (c == '"')
        in_string = true;
      else if (c == '[' || c == '{') {
        if (++depth > 1) *nested = true;
      } else if (c == ']' || c == '}') {
        if (--depth == 0) return i;
      }
    }
    return json.size() - 1;
  };
  std::string out;
  out.reserve(json.size() * 2);
  int depth = 0;
  const auto newline = [&] {
    out += '\n';
    out.append(2 * static_cast<size_t>(depth), ' ');
  };
  for (size_t i = 0; i < json.size(); ++i) {
    const char c = json[i];
    if (c == '"') {
      const size_t start = i;
      for (++i; i < json.size() && json[i] != '"'; ++i) {
        if (json[i] == '\\') ++i;
      }
      out.append(json, start, i - start + 1);
      continue;
    }
    if (std::isspace(static_cast<unsigned char>(c))) continue;
    if (c == '[' || c == '{') {
      bool nested = false;
      const size_t close = scan(i, &nested);
      bool empty = true;
      for (size_t k = i + 1; k < close; ++k) empty = empty && std::isspace(static_cast<unsigned char>(json[k]));
      // Numbers always share a line; strings only while the line stays short.
      const bool inline_array = c == '[' && !nested && (close - i <= 100 || json.find('"', i) > close);
      if (empty || inline_array) {
        // Copied as is but with ", " between items and no other whitespace.
        bool in_string = false;
        for (size_t k = i; k <= close; ++k) {
          const char d = json[k];
          if (in_string) {
            out += d;
            if (d == '\\')
              out += json[++k];
            else if (d == '"')
              in_string = false;
          } else if (d == '"') {
            in_string = true;
            out += d;
          } else if (d == ',') {
            out += ", ";
          } else if (!std::isspace(static_cast<unsigned char>(d))) {
            out += d;
          }
        }
        i = close;
        continue;
      }
      out += c;
      ++depth;
      newline();
    } else if (c == ']' || c == '}') {
      --depth;
      newline();
      out += c;
    } else if (c == ',') {
      out += c;
      newline();
    } else if (c == ':') {
      out += ": ";
    } else {
      out += c;
    }
  }
  return out + "\n";
}

}  // namespace

std::string ReportJson(const audit::AuditReport& report) {
  const std::string compact = JsonObject()
                                  .Str("format", "qaudit-report")
                                  .Int("format_version", 1)
                                  .Str("qaudit_version", report.qaudit_version)
                                  .Str("created", report.created)
                                  .Num("seconds", report.seconds)
                                  .Str("command", report.command)
                                  .Str("machine", report.machine)
                                  .Add("hardware", JsonObject()
                                           .Num("fp32_macs_per_second", report.hardware.fp32_macs_per_second)
                                           .Str("fp32_instructions", report.hardware.fp32_instructions)
                                           .Num("int8_macs_per_second", report.hardware.int8_macs_per_second)
                                           .Str("int8_instructions", report.hardware.int8_instructions)
                                           .Num("int8_over_fp32", report.hardware.int8_over_fp32())
                                           .Text())
                                  .Add("models", JsonArray(report.models, ModelJson))
                                  .Add("data", JsonArray(report.data, DataJson))
                                  .Add("plan", audit::PlanToJson(report.plan))
                                  .Add("findings", StringsJson(report.findings))
                                  .Add("claims", JsonArray(report.claims, ClaimJson))
                                  .Add("cells", JsonArray(report.cells, CellJson))
                                  .Add("costs", JsonArray(report.costs, CostJson))
                                  .Add("diagnoses", JsonArray(report.diagnoses, DiagnosisJson))
                                  .Text();
  return Pretty(compact);
}

}  // namespace qaudit::report
