// The experiment plan: method labels, calibration sets, variants, and the built-in plan.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <set>

#include "core/json.h"
#include "qaudit/audit.h"

namespace qaudit::audit {
namespace {

std::vector<std::string> Split(const std::string& text, char sep) {
  std::vector<std::string> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(sep, start);
    parts.push_back(text.substr(start, end - start));
    if (end == std::string::npos) return parts;
    start = end + 1;
  }
}

Result<double> ParseNumber(const std::string& text, const std::string& what) {
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (text.empty() || end != text.c_str() + text.size() || !std::isfinite(v)) {
    return Status::InvalidArgument(what + ": '" + text + "' is not a number");
  }
  return v;
}

std::string FormatNumber(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%g", v);
  return buf;
}

}  // namespace

Result<MethodSpec> ParseMethodSpec(const std::string& label) {
  MethodSpec spec;
  spec.label = label;
  const std::vector<std::string> parts = Split(label, '/');
  const std::string what = "method '" + label + "'";
  if (parts[0] == "qat") {
    spec.qat = true;
    spec.quantize.method = QuantMethod::kInt8;
    for (size_t i = 1; i < parts.size(); ++i) {
      const size_t eq = parts[i].find('=');
      const std::string key = parts[i].substr(0, eq);
      const std::string value = eq == std::string::npos ? "" : parts[i].substr(eq + 1);
      if (key == "steps") {
        QAUDIT_ASSIGN_OR_RETURN(double steps, ParseNumber(value, what + " steps"));
        if (steps < 1 || steps != std::floor(steps)) return Status::InvalidArgument(what + ": steps must be a whole number >= 1");
        spec.qat_steps = static_cast<int>(steps);
      } else if (key == "decay") {
        QAUDIT_ASSIGN_OR_RETURN(double decay, ParseNumber(value, what + " decay"));
        if (decay < 0 || decay >= 1) return Status::InvalidArgument(what + ": decay must be in [0, 1)");
        spec.qat_ema_decay = static_cast<float>(decay);
      } else if (key == "init" && (value == "tfmot" || value == "batch")) {
        spec.qat_tfmot_init = value == "tfmot";
      } else {
        return Status::InvalidArgument(what + ": unknown part '" + parts[i] +
                                       "' (expected steps=N, decay=D or init=tfmot|batch)");
      }
    }
    return spec;
  }
  const auto method = QuantMethodFromName(parts[0]);
  if (!method) {
    return Status::InvalidArgument(what + ": expected dynamic, float16, int8/CALIBRATOR, int16x8/CALIBRATOR or qat");
  }
  spec.quantize.method = *method;
  size_t next = 1;
  if (NeedsCalibration(*method)) {
    if (parts.size() < 2) return Status::InvalidArgument(what + ": name a calibrator, e.g. " + parts[0] + "/minmax");
    const size_t eq = parts[1].find('=');
    const std::string name = parts[1].substr(0, eq);
    const auto calibrator = CalibratorFromName(name);
    if (!calibrator) {
      return Status::InvalidArgument(what + ": unknown calibrator '" + name +
                                     "' (minmax, moving-average, percentile, mse, entropy)");
    }
    spec.calibrator.calibrator = *calibrator;
    if (eq != std::string::npos) {
      if (*calibrator != Calibrator::kPercentile) return Status::InvalidArgument(what + ": only percentile takes a value");
      QAUDIT_ASSIGN_OR_RETURN(spec.calibrator.percentile, ParseNumber(parts[1].substr(eq + 1), what + " percentile"));
      if (spec.calibrator.percentile <= 0 || spec.calibrator.percentile > 100) {
        return Status::InvalidArgument(what + ": the percentile must be in (0, 100]");
      }
    }
    next = 2;
  }
  for (; next < parts.size(); ++next) {
    if (parts[next] == "per-tensor") {
      spec.quantize.granularity = WeightGranularity::kPerTensor;
    } else if (parts[next] == "per-channel") {
      spec.quantize.granularity = WeightGranularity::kPerChannel;
    } else {
      return Status::InvalidArgument(what + ": unknown part '" + parts[next] + "' (expected per-tensor or per-channel)");
    }
  }
  return spec;
}

std::string CalibrationSpec::Label() const {
  std::string label = size < 0 ? "all" : std::to_string(size);
  if (!classes.empty()) {
    label += " of classes ";
    for (size_t i = 0; i < classes.size(); ++i) label += (i ? "/" : "") + std::to_string(classes[i]);
  }
  if (outliers > 0) label += " + " + std::to_string(outliers) + (outliers == 1 ? " outlier" : " outliers");
  return label;
}

const char* VariantName(Variant v) {
  switch (v) {
    case Variant::kClean: return "clean";
    case Variant::kOutlierPixels: return "outlier-pixels";
    case Variant::kBrightnessContrast: return "brightness-contrast";
    case Variant::kGaussianNoise: return "noise";
    case Variant::kLongTail: return "long-tail";
  }
  return "?";
}

Result<Variant> VariantFromName(const std::string& name) {
  for (Variant v : kAllVariants) {
    if (name == VariantName(v)) return v;
  }
  return Status::InvalidArgument("unknown variant '" + name +
                                 "' (clean, outlier-pixels, brightness-contrast, noise, long-tail)");
}

const char* VerdictName(Verdict v) {
  switch (v) {
    case Verdict::kHolds: return "holds";
    case Verdict::kFails: return "fails";
    case Verdict::kInconclusive: return "inconclusive";
    case Verdict::kNotTested: return "not tested";
  }
  return "?";
}

namespace {

std::vector<MethodSpec> Methods(std::initializer_list<const char*> labels) {
  std::vector<MethodSpec> methods;
  for (const char* label : labels) methods.push_back(*ParseMethodSpec(label));
  return methods;
}

CalibrationSpec Calibration(int64_t size, int outliers = 0, std::vector<int> classes = {}) {
  CalibrationSpec c;
  c.size = size;
  c.outliers = outliers;
  c.classes = std::move(classes);
  return c;
}

}  // namespace

Plan DefaultPlan() {
  // Sized to run in a few minutes on 2 cores for the zoo's cnn and mobilenet: 5,000
  // evaluation samples resolve paired top-1 differences of about 0.3 points.
  Plan plan;
  plan.eval_samples = 5000;
  plan.calibration_pool = 5000;
  const std::vector<Variant> all_variants(std::begin(kAllVariants), std::end(kAllVariants));
  const std::vector<Numerics> both{Numerics::kTflite, Numerics::kXnnpack};
  // Every TFLite method and every calibrator at TFLite's suggested calibration size.
  plan.experiments.push_back({"methods", "every method at 500 calibration samples, in both integer numerics", {},
                              Methods({"dynamic", "float16", "int16x8/minmax", "int8/minmax", "int8/moving-average",
                                       "int8/percentile", "int8/mse", "int8/entropy", "qat/steps=50"}),
                              {Calibration(500)}, {Variant::kClean}, both});
  // Deployment data unlike the calibration data; the clamped-input control runs with it.
  plan.experiments.push_back({"deployment-shift", "deployment data with outlier pixels, brightness/contrast, noise, a long tail", {},
                              Methods({"float16", "int8/minmax", "int8/percentile", "int8/mse", "qat/steps=50"}),
                              {Calibration(500)}, all_variants, {Numerics::kTflite}});
  // TFLite says ~100-500 samples suffice; tiny sets and the whole pool show where that holds.
  plan.experiments.push_back({"calibration-size", "top-1 against the number of calibration samples", {},
                              Methods({"int8/minmax", "int8/percentile", "int8/mse", "int8/entropy"}),
                              {Calibration(1), Calibration(10), Calibration(100), Calibration(500), Calibration(1000),
                               Calibration(-1)},
                              {Variant::kClean}, {Numerics::kTflite}});
  // TFLite's calibrator keeps the global min/max: one extreme sample fixes a range for good.
  plan.experiments.push_back({"calibration-outliers", "calibration sets contaminated with k unnormalised samples", {},
                              Methods({"int8/minmax", "int8/moving-average", "int8/percentile", "int8/mse"}),
                              {Calibration(500), Calibration(500, 1), Calibration(500, 5)}, {Variant::kClean},
                              {Numerics::kTflite}});
  plan.experiments.push_back({"calibration-classes", "calibration data from two classes only", {},
                              Methods({"int8/minmax", "int8/mse"}), {Calibration(500), Calibration(500, 0, {0, 1})},
                              {Variant::kClean, Variant::kLongTail}, {Numerics::kTflite}});
  // Per-tensor weights are where depthwise networks are known to collapse.
  plan.experiments.push_back({"granularity", "per-channel against per-tensor weights", {},
                              Methods({"int8/minmax", "int8/minmax/per-tensor", "dynamic", "dynamic/per-tensor"}),
                              {Calibration(500)}, {Variant::kClean}, both});
  // tfmot's defaults: EMA decay 0.999 from a [-6, 6] start. After 50 steps 95% of each
  // range is still the starting one.
  plan.experiments.push_back({"qat-ranges", "QAT for 50 steps: tfmot's EMA decay 0.999 and [-6, 6] start, and alternatives", {},
                              Methods({"qat/steps=50", "qat/steps=50/init=tfmot", "qat/steps=50/decay=0.9/init=tfmot"}),
                              {}, {Variant::kClean}, {Numerics::kTflite}});
  for (const MethodSpec& m : plan.experiments[0].methods) plan.latency.methods.push_back(m.label);
  plan.latency.repeats = 3;
  plan.debug.calibration = Calibration(500);
  return plan;
}

// ---------------------------------------------------------------------------------------
// JSON

namespace {

class Reader {
 public:
  Reader(const JsonValue& object, std::string where) : object_(object), where_(std::move(where)) {}

  Status CheckKeys(std::initializer_list<const char*> known) const {
    if (object_.kind != JsonValue::Kind::kObject) return Error("", "expected an object, got " + std::string(object_.KindName()));
    for (const JsonMember& member : object_.object) {
      const std::string& key = member.key;  // a named variable: clang before 16 cannot capture a structured binding
      if (std::none_of(known.begin(), known.end(), [&](const char* k) { return key == k; })) {
        std::string list;
        for (const char* k : known) list += std::string(list.empty() ? "" : ", ") + k;
        return Error(key, "unknown field (known: " + list + ")");
      }
    }
    return Status::Ok();
  }

  Status Number(const char* key, double& out, double low, double high) const {
    const JsonValue* v = object_.Find(key);
    if (v == nullptr) return Status::Ok();
    if (v->kind != JsonValue::Kind::kNumber) return Error(key, "expected a number, got " + std::string(v->KindName()));
    if (v->number < low || v->number > high) {
      return Error(key, FormatNumber(v->number) + " is outside [" + FormatNumber(low) + ", " + FormatNumber(high) + "]");
    }
    out = v->number;
    return Status::Ok();
  }

  template <typename Int>
  Status Integer(const char* key, Int& out, double low, double high) const {
    double v = static_cast<double>(out);
    QAUDIT_RETURN_IF_ERROR(Number(key, v, low, high));
    if (v != std::floor(v)) return Error(key, FormatNumber(v) + " is not a whole number");
    out = static_cast<Int>(v);
    return Status::Ok();
  }

  Status Bool(const char* key, bool& out) const {
    const JsonValue* v = object_.Find(key);
    if (v == nullptr) return Status::Ok();
    if (v->kind != JsonValue::Kind::kBool) return Error(key, "expected true or false");
    out = v->boolean;
    return Status::Ok();
  }

  Status String(const char* key, std::string& out) const {
    const JsonValue* v = object_.Find(key);
    if (v == nullptr) return Status::Ok();
    if (v->kind != JsonValue::Kind::kString) return Error(key, "expected a string, got " + std::string(v->KindName()));
    out = v->string;
    return Status::Ok();
  }

  // An array whose items `parse` turns into T; absent keeps `out`.
  template <typename T, typename Parse>
  Status Array(const char* key, std::vector<T>& out, Parse parse) const {
    const JsonValue* v = object_.Find(key);
    if (v == nullptr) return Status::Ok();
    if (v->kind != JsonValue::Kind::kArray) return Error(key, "expected an array, got " + std::string(v->KindName()));
    std::vector<T> items;
    for (size_t i = 0; i < v->array.size(); ++i) {
      auto item = parse(v->array[i], where_ + "." + key + "[" + std::to_string(i) + "]");
      if (!item.ok()) return item.status();
      items.push_back(std::move(*item));
    }
    out = std::move(items);
    return Status::Ok();
  }

  const JsonValue* Find(const char* key) const { return object_.Find(key); }
  std::string Where(const char* key) const { return where_ + "." + key; }

 private:
  Status Error(const std::string& key, const std::string& what) const {
    return Status::InvalidArgument("plan " + where_ + (key.empty() ? "" : "." + key) + ": " + what);
  }

  const JsonValue& object_;
  std::string where_;
};

Result<std::string> StringItem(const JsonValue& v, const std::string& where) {
  if (v.kind != JsonValue::Kind::kString) return Status::InvalidArgument("plan " + where + ": expected a string");
  return v.string;
}

Result<int> IntItem(const JsonValue& v, const std::string& where) {
  if (v.kind != JsonValue::Kind::kNumber || v.number != std::floor(v.number) || v.number < 0 || v.number > 1e6) {
    return Status::InvalidArgument("plan " + where + ": expected a whole number >= 0");
  }
  return static_cast<int>(v.number);
}

Result<MethodSpec> MethodItem(const JsonValue& v, const std::string& where) {
  QAUDIT_ASSIGN_OR_RETURN(std::string label, StringItem(v, where));
  auto spec = ParseMethodSpec(label);
  if (!spec.ok()) return Status::InvalidArgument("plan " + where + ": " + spec.status().message());
  return spec;
}

Result<Variant> VariantItem(const JsonValue& v, const std::string& where) {
  QAUDIT_ASSIGN_OR_RETURN(std::string name, StringItem(v, where));
  auto variant = VariantFromName(name);
  if (!variant.ok()) return Status::InvalidArgument("plan " + where + ": " + variant.status().message());
  return variant;
}

Result<Numerics> NumericsItem(const JsonValue& v, const std::string& where) {
  QAUDIT_ASSIGN_OR_RETURN(std::string name, StringItem(v, where));
  const auto numerics = NumericsFromName(name);
  if (!numerics) return Status::InvalidArgument("plan " + where + ": unknown numerics '" + name + "' (tflite, xnnpack, reference)");
  return *numerics;
}

Result<int64_t> SizeItem(const JsonValue& v, const std::string& where) {
  if (v.kind == JsonValue::Kind::kString && v.string == "all") return int64_t{-1};
  if (v.kind == JsonValue::Kind::kNumber && v.number >= 1 && v.number == std::floor(v.number) && v.number <= 1e9) {
    return static_cast<int64_t>(v.number);
  }
  return Status::InvalidArgument("plan " + where + ": a calibration size is a whole number >= 1 or \"all\"");
}

// A number, "all", or {"size": ..., "classes": [...], "outliers": k}.
Result<CalibrationSpec> CalibrationItem(const JsonValue& v, const std::string& where) {
  CalibrationSpec spec;
  if (v.kind != JsonValue::Kind::kObject) {
    QAUDIT_ASSIGN_OR_RETURN(spec.size, SizeItem(v, where));
    return spec;
  }
  Reader r(v, where);
  QAUDIT_RETURN_IF_ERROR(r.CheckKeys({"size", "classes", "outliers"}));
  if (const JsonValue* size = r.Find("size")) {
    QAUDIT_ASSIGN_OR_RETURN(spec.size, SizeItem(*size, r.Where("size")));
  }
  QAUDIT_RETURN_IF_ERROR(r.Array("classes", spec.classes, IntItem));
  QAUDIT_RETURN_IF_ERROR(r.Integer("outliers", spec.outliers, 0, 1e6));
  return spec;
}

Result<Experiment> ExperimentItem(const JsonValue& v, const std::string& where) {
  Experiment e;
  e.variants = {Variant::kClean};
  e.numerics = {Numerics::kTflite};
  Reader r(v, where);
  QAUDIT_RETURN_IF_ERROR(r.CheckKeys({"name", "purpose", "models", "methods", "calibrations", "variants", "numerics"}));
  QAUDIT_RETURN_IF_ERROR(r.String("name", e.name));
  QAUDIT_RETURN_IF_ERROR(r.String("purpose", e.purpose));
  QAUDIT_RETURN_IF_ERROR(r.Array("models", e.models, StringItem));
  QAUDIT_RETURN_IF_ERROR(r.Array("methods", e.methods, MethodItem));
  QAUDIT_RETURN_IF_ERROR(r.Array("calibrations", e.calibrations, CalibrationItem));
  QAUDIT_RETURN_IF_ERROR(r.Array("variants", e.variants, VariantItem));
  QAUDIT_RETURN_IF_ERROR(r.Array("numerics", e.numerics, NumericsItem));
  if (e.name.empty()) return Status::InvalidArgument("plan " + where + ": every experiment needs a name");
  if (e.methods.empty()) return Status::InvalidArgument("plan " + where + " (" + e.name + "): no methods");
  if (e.variants.empty() || e.numerics.empty()) {
    return Status::InvalidArgument("plan " + where + " (" + e.name + "): variants and numerics must not be empty");
  }
  const bool calibrated = std::any_of(e.methods.begin(), e.methods.end(), [](const MethodSpec& m) { return m.needs_calibration(); });
  if (calibrated && e.calibrations.empty()) {
    return Status::InvalidArgument("plan " + where + " (" + e.name + "): calibrated methods need \"calibrations\"");
  }
  return e;
}

std::string CalibrationJson(const CalibrationSpec& c) {
  const std::string size = c.size < 0 ? "\"all\"" : std::to_string(c.size);
  if (c.classes.empty() && c.outliers == 0) return size;
  return "{\"size\":" + size + ",\"classes\":" + JsonArray(c.classes, [](int k) { return std::to_string(k); }) +
         ",\"outliers\":" + std::to_string(c.outliers) + "}";
}

}  // namespace

Result<Plan> ParsePlan(const std::string& json_text) {
  auto doc = ParseJson(json_text);
  if (!doc.ok()) return Status::InvalidArgument("plan: " + doc.status().message());
  Plan plan = DefaultPlan();
  Reader r(*doc, "");
  QAUDIT_RETURN_IF_ERROR(r.CheckKeys({"seed", "eval_samples", "calibration_pool", "confidence", "resamples", "shifts",
                                      "experiments", "latency", "debug"}));
  QAUDIT_RETURN_IF_ERROR(r.Integer("seed", plan.seed, 0, 9.007199254740992e15));
  QAUDIT_RETURN_IF_ERROR(r.Integer("eval_samples", plan.eval_samples, 0, 1e9));
  QAUDIT_RETURN_IF_ERROR(r.Integer("calibration_pool", plan.calibration_pool, 1, 1e9));
  QAUDIT_RETURN_IF_ERROR(r.Number("confidence", plan.confidence, 0.5, 0.999));
  QAUDIT_RETURN_IF_ERROR(r.Integer("resamples", plan.resamples, 100, 1e6));
  if (const JsonValue* shifts = r.Find("shifts")) {
    Reader s(*shifts, ".shifts");
    ShiftSettings& x = plan.shifts;
    QAUDIT_RETURN_IF_ERROR(s.CheckKeys({"outlier_pixel_share", "outlier_pixel_value", "contrast", "brightness",
                                        "noise_stddev", "long_tail_ratio", "calibration_outlier_value"}));
    QAUDIT_RETURN_IF_ERROR(s.Number("outlier_pixel_share", x.outlier_pixel_share, 0, 1));
    QAUDIT_RETURN_IF_ERROR(s.Number("outlier_pixel_value", x.outlier_pixel_value, -1e6, 1e6));
    QAUDIT_RETURN_IF_ERROR(s.Number("contrast", x.contrast, 0, 1e3));
    QAUDIT_RETURN_IF_ERROR(s.Number("brightness", x.brightness, -1e3, 1e3));
    QAUDIT_RETURN_IF_ERROR(s.Number("noise_stddev", x.noise_stddev, 0, 1e3));
    QAUDIT_RETURN_IF_ERROR(s.Number("long_tail_ratio", x.long_tail_ratio, 0.01, 1));
    QAUDIT_RETURN_IF_ERROR(s.Number("calibration_outlier_value", x.calibration_outlier_value, -1e6, 1e6));
  }
  QAUDIT_RETURN_IF_ERROR(r.Array("experiments", plan.experiments, ExperimentItem));
  // The built-in list of timed methods names the built-in experiments' methods.
  if (r.Find("experiments") != nullptr) plan.latency.methods.clear();
  std::set<std::string> names;
  for (const Experiment& e : plan.experiments) {
    if (!names.insert(e.name).second) return Status::InvalidArgument("plan .experiments: two experiments are named '" + e.name + "'");
  }
  if (const JsonValue* latency = r.Find("latency")) {
    Reader l(*latency, ".latency");
    QAUDIT_RETURN_IF_ERROR(l.CheckKeys({"methods", "batches", "threads", "repeats", "min_seconds"}));
    std::vector<MethodSpec> methods;
    QAUDIT_RETURN_IF_ERROR(l.Array("methods", methods, MethodItem));
    if (l.Find("methods") != nullptr) {
      plan.latency.methods.clear();
      for (const MethodSpec& m : methods) plan.latency.methods.push_back(m.label);
    }
    const auto positive = [](const JsonValue& v, const std::string& where) -> Result<int> {
      QAUDIT_ASSIGN_OR_RETURN(int n, IntItem(v, where));
      if (n < 1) return Status::InvalidArgument("plan " + where + ": must be >= 1");
      return n;
    };
    QAUDIT_RETURN_IF_ERROR(l.Array("batches", plan.latency.batches, positive));
    QAUDIT_RETURN_IF_ERROR(l.Array("threads", plan.latency.threads, positive));
    QAUDIT_RETURN_IF_ERROR(l.Integer("repeats", plan.latency.repeats, 1, 1000));
    QAUDIT_RETURN_IF_ERROR(l.Number("min_seconds", plan.latency.min_seconds, 0, 60));
  }
  if (const JsonValue* debug = r.Find("debug")) {
    Reader d(*debug, ".debug");
    QAUDIT_RETURN_IF_ERROR(d.CheckKeys({"enabled", "methods", "calibration", "deployment", "max_drop"}));
    QAUDIT_RETURN_IF_ERROR(d.Bool("enabled", plan.debug.enabled));
    std::vector<MethodSpec> methods;
    QAUDIT_RETURN_IF_ERROR(d.Array("methods", methods, MethodItem));
    if (d.Find("methods") != nullptr) {
      plan.debug.methods.clear();
      for (const MethodSpec& m : methods) {
        if (!m.needs_calibration()) {
          return Status::InvalidArgument("plan .debug.methods: '" + m.label + "' is not an int8 or int16x8 method");
        }
        plan.debug.methods.push_back(m.label);
      }
    }
    if (const JsonValue* c = d.Find("calibration")) {
      QAUDIT_ASSIGN_OR_RETURN(plan.debug.calibration, CalibrationItem(*c, ".debug.calibration"));
    }
    if (const JsonValue* v = d.Find("deployment")) {
      QAUDIT_ASSIGN_OR_RETURN(plan.debug.deployment, VariantItem(*v, ".debug.deployment"));
    }
    QAUDIT_RETURN_IF_ERROR(d.Number("max_drop", plan.debug.max_drop, 0, 1));
  }
  return plan;
}

std::string PlanToJson(const Plan& plan) {
  const auto strings = [](const std::vector<std::string>& v) { return JsonArray(v, [](const std::string& s) { return JsonString(s); }); };
  const auto ints = [](const std::vector<int>& v) { return JsonArray(v, [](int n) { return std::to_string(n); }); };
  const ShiftSettings& s = plan.shifts;
  std::string out = "{\"seed\":" + std::to_string(plan.seed) + ",\"eval_samples\":" + std::to_string(plan.eval_samples) +
                    ",\"calibration_pool\":" + std::to_string(plan.calibration_pool) +
                    ",\"confidence\":" + JsonNumber(plan.confidence) + ",\"resamples\":" + std::to_string(plan.resamples);
  out += ",\"shifts\":{\"outlier_pixel_share\":" + JsonNumber(s.outlier_pixel_share) +
         ",\"outlier_pixel_value\":" + JsonNumber(s.outlier_pixel_value) + ",\"contrast\":" + JsonNumber(s.contrast) +
         ",\"brightness\":" + JsonNumber(s.brightness) + ",\"noise_stddev\":" + JsonNumber(s.noise_stddev) +
         ",\"long_tail_ratio\":" + JsonNumber(s.long_tail_ratio) +
         ",\"calibration_outlier_value\":" + JsonNumber(s.calibration_outlier_value) + "}";
  out += ",\"experiments\":" + JsonArray(plan.experiments, [&](const Experiment& e) {
           return "{\"name\":" + JsonString(e.name) + ",\"purpose\":" + JsonString(e.purpose) +
                  ",\"models\":" + strings(e.models) +
                  ",\"methods\":" + JsonArray(e.methods, [](const MethodSpec& m) { return JsonString(m.label); }) +
                  ",\"calibrations\":" + JsonArray(e.calibrations, CalibrationJson) +
                  ",\"variants\":" + JsonArray(e.variants, [](Variant v) { return JsonString(VariantName(v)); }) +
                  ",\"numerics\":" + JsonArray(e.numerics, [](Numerics n) { return JsonString(NumericsName(n)); }) + "}";
         });
  out += ",\"latency\":{\"methods\":" + strings(plan.latency.methods) + ",\"batches\":" + ints(plan.latency.batches) + ",\"threads\":" + ints(plan.latency.threads) +
         ",\"repeats\":" + std::to_string(plan.latency.repeats) +
         ",\"min_seconds\":" + JsonNumber(plan.latency.min_seconds) + "}";
  out += ",\"debug\":{\"enabled\":" + std::string(plan.debug.enabled ? "true" : "false") +
         ",\"methods\":" + strings(plan.debug.methods) + ",\"calibration\":" + CalibrationJson(plan.debug.calibration) +
         ",\"deployment\":" + JsonString(VariantName(plan.debug.deployment)) +
         ",\"max_drop\":" + JsonNumber(plan.debug.max_drop) + "}}";
  return out;
}

}  // namespace qaudit::audit
