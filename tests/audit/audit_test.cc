// The audit: plan parsing, deployment variants, claim verdicts against hand-built results,
// and a whole (small) audit of a briefly trained mlp, run twice to check that the same
// seed gives the same report numbers.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>

#include "audit/claims.h"
#include "audit/variants.h"
#include "core/json.h"
#include "core/sha256.h"
#include "qaudit/audit.h"
#include "qaudit/data.h"
#include "qaudit/report.h"
#include "qaudit/tflite.h"
#include "qaudit/train.h"
#include "qaudit/zoo.h"
#include "support/fixtures.h"

namespace qaudit::audit {
namespace {

TEST(MethodSpecTest, ParsesEveryForm) {
  auto a = ParseMethodSpec("int8/percentile=99.9/per-tensor");
  ASSERT_TRUE(a.ok()) << a.status().message();
  EXPECT_EQ(a->quantize.method, QuantMethod::kInt8);
  EXPECT_EQ(a->calibrator.calibrator, Calibrator::kPercentile);
  EXPECT_DOUBLE_EQ(a->calibrator.percentile, 99.9);
  EXPECT_EQ(a->quantize.granularity, WeightGranularity::kPerTensor);
  EXPECT_TRUE(a->needs_calibration());

  auto q = ParseMethodSpec("qat/steps=30/decay=0.9/init=tfmot");
  ASSERT_TRUE(q.ok()) << q.status().message();
  EXPECT_TRUE(q->qat);
  EXPECT_EQ(q->qat_steps, 30);
  EXPECT_FLOAT_EQ(q->qat_ema_decay, 0.9f);
  EXPECT_TRUE(q->qat_tfmot_init);
  EXPECT_FALSE(q->needs_calibration());

  auto d = ParseMethodSpec("dynamic/per-tensor");
  ASSERT_TRUE(d.ok());
  EXPECT_EQ(d->quantize.method, QuantMethod::kDynamic);
  EXPECT_FALSE(d->needs_calibration());
}

TEST(MethodSpecTest, ErrorsNameTheLabelAndThePart) {
  for (const char* bad : {"int8", "int8/median", "int8/minmax/per-row", "qat/steps=0", "qat/decay=1", "int4/minmax",
                          "int8/minmax=3"}) {
    auto r = ParseMethodSpec(bad);
    ASSERT_FALSE(r.ok()) << bad;
    EXPECT_NE(r.status().message().find(bad), std::string::npos) << r.status().message();
  }
}

CalibrationSpec Spec(int64_t size, std::vector<int> classes, int outliers) {
  CalibrationSpec c;
  c.size = size;
  c.classes = std::move(classes);
  c.outliers = outliers;
  return c;
}

TEST(CalibrationSpecTest, Labels) {
  EXPECT_EQ(Spec(500, {}, 0).Label(), "500");
  EXPECT_EQ(Spec(-1, {}, 0).Label(), "all");
  EXPECT_EQ(Spec(500, {}, 1).Label(), "500 + 1 outlier");
  EXPECT_EQ(Spec(500, {0, 3}, 5).Label(), "500 of classes 0/3 + 5 outliers");
}

TEST(PlanTest, DefaultPlanRoundTripsThroughJson) {
  const std::string json = PlanToJson(DefaultPlan());
  auto parsed = ParsePlan(json);
  ASSERT_TRUE(parsed.ok()) << parsed.status().message();
  EXPECT_EQ(PlanToJson(*parsed), json);
  // The cases where documented claims are known to break are in the default plan.
  std::string all_methods, all_calibrations;
  for (const Experiment& e : parsed->experiments) {
    for (const MethodSpec& m : e.methods) all_methods += m.label + " ";
    for (const CalibrationSpec& c : e.calibrations) all_calibrations += c.Label() + ";";
  }
  for (const char* method : {"dynamic", "float16", "int16x8/minmax", "int8/minmax/per-tensor", "int8/entropy",
                             "qat/steps=50/init=tfmot"}) {
    EXPECT_NE(all_methods.find(method), std::string::npos) << method;
  }
  for (const char* calibration : {"1;", "10;", "all;", "+ 1 outlier", "of classes"}) {
    EXPECT_NE(all_calibrations.find(calibration), std::string::npos) << calibration;
  }
}

TEST(PlanTest, FieldsLeftOutKeepTheDefaults) {
  auto plan = ParsePlan(R"({"seed": 7, "experiments": [{"name": "x", "methods": ["float16"]}]})");
  ASSERT_TRUE(plan.ok()) << plan.status().message();
  EXPECT_EQ(plan->seed, 7u);
  ASSERT_EQ(plan->experiments.size(), 1u);
  EXPECT_EQ(plan->experiments[0].variants, std::vector<Variant>{Variant::kClean});
  EXPECT_EQ(plan->experiments[0].numerics, std::vector<Numerics>{Numerics::kTflite});
  EXPECT_EQ(plan->calibration_pool, DefaultPlan().calibration_pool);
}

TEST(PlanTest, ErrorsNameTheField) {
  const std::pair<const char*, const char*> cases[] = {
      {R"({"sede": 1})", "sede"},
      {R"({"seed": -1})", ".seed"},
      {R"({"experiments": [{"name": "a", "methods": ["int8/median"]}]})", ".experiments[0].methods[0]"},
      {R"({"experiments": [{"name": "a", "methods": ["int8/minmax"]}]})", "calibrations"},
      {R"({"experiments": [{"name": "a", "methods": ["float16"], "calibrations": [0]}]})", ".experiments[0].calibrations[0]"},
      {R"({"experiments": [{"name": "a", "methods": ["float16"], "variants": ["fog"]}]})", "fog"},
      {R"({"debug": {"methods": ["dynamic"]}})", ".debug.methods"},
      {R"({"experiments": [)", "JSON line 1"},
  };
  for (const auto& [text, expected] : cases) {
    auto plan = ParsePlan(text);
    ASSERT_FALSE(plan.ok()) << text;
    EXPECT_NE(plan.status().message().find(expected), std::string::npos) << plan.status().message();
  }
}

LabelledBatch Ramp(int samples, int per_sample, std::vector<int32_t> labels = {}) {
  LabelledBatch b;
  b.samples = HostTensor{DType::kFloat32, {samples, per_sample}, std::vector<uint8_t>(samples * per_sample * 4)};
  for (int i = 0; i < samples * per_sample; ++i) b.samples.data<float>()[i] = static_cast<float>(i % per_sample) / per_sample;
  b.labels = std::move(labels);
  return b;
}

TEST(VariantTest, OutlierPixelsSetTheShareOfValuesFarOutside) {
  const LabelledBatch clean = Ramp(3, 200);
  ShiftSettings s;
  s.outlier_pixel_share = 0.01;  // 2 of 200 values (positions may repeat)
  s.outlier_pixel_value = 4.0;
  auto shifted = ApplyVariant(clean, Variant::kOutlierPixels, s, 0.0f, 1.0f, 3);
  ASSERT_TRUE(shifted.ok());
  for (int sample = 0; sample < 3; ++sample) {
    int outliers = 0;
    for (int i = 0; i < 200; ++i) {
      const float v = shifted->samples.data<float>()[sample * 200 + i];
      if (v == 4.0f) ++outliers;
      else EXPECT_EQ(v, clean.samples.data<float>()[sample * 200 + i]);
    }
    EXPECT_GE(outliers, 1);
    EXPECT_LE(outliers, 2);
  }
}

TEST(VariantTest, BrightnessContrastAboutTheSampleMean) {
  LabelledBatch clean;
  clean.samples = HostTensor{DType::kFloat32, {1, 4}, std::vector<uint8_t>(16)};
  const float x[4] = {0.0f, 0.2f, 0.4f, 0.6f};  // mean 0.3
  std::copy(x, x + 4, clean.samples.data<float>());
  ShiftSettings s;
  s.contrast = 2.0;
  s.brightness = 0.1;
  auto shifted = ApplyVariant(clean, Variant::kBrightnessContrast, s, 0.0f, 2.0f, 0);  // range 2: brightness +0.2
  ASSERT_TRUE(shifted.ok());
  const float expected[4] = {-0.1f, 0.3f, 0.7f, 1.1f};  // 0.3 + 2 (x - 0.3) + 0.2
  for (int i = 0; i < 4; ++i) EXPECT_NEAR(shifted->samples.data<float>()[i], expected[i], 1e-6);
}

TEST(VariantTest, LongTailKeepsRatioToTheClassRank) {
  std::vector<int32_t> labels;
  for (int i = 0; i < 300; ++i) labels.push_back(i % 3);  // 100 per class
  ShiftSettings s;
  s.long_tail_ratio = 0.5;
  auto shifted = ApplyVariant(Ramp(300, 2, labels), Variant::kLongTail, s, 0.0f, 1.0f, 0);
  ASSERT_TRUE(shifted.ok());
  int count[3] = {0, 0, 0};
  for (int32_t l : shifted->labels) ++count[l];
  EXPECT_EQ(count[0], 100);
  EXPECT_EQ(count[1], 50);
  EXPECT_EQ(count[2], 25);
  EXPECT_FALSE(ApplyVariant(Ramp(3, 2), Variant::kLongTail, s, 0, 1, 0).ok());  // no labels
}

TEST(VariantTest, NoiseIsSeededAndHasTheRequestedSpread) {
  const LabelledBatch clean = Ramp(10, 1000);
  ShiftSettings s;
  s.noise_stddev = 0.1;
  auto a = ApplyVariant(clean, Variant::kGaussianNoise, s, 0.0f, 2.0f, 5);
  auto b = ApplyVariant(clean, Variant::kGaussianNoise, s, 0.0f, 2.0f, 5);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(a->samples.bytes, b->samples.bytes);
  double sum = 0, sum2 = 0;
  const int n = 10000;
  for (int i = 0; i < n; ++i) {
    const double d = a->samples.data<float>()[i] - clean.samples.data<float>()[i];
    sum += d;
    sum2 += d * d;
  }
  const double sd = std::sqrt(sum2 / n - (sum / n) * (sum / n));
  EXPECT_NEAR(sd, 0.2, 0.01);  // 0.1 x range 2
  EXPECT_NEAR(sum / n, 0.0, 0.01);
}

// ---- verdicts on hand-built results

AuditReport TwoCellReport(double int8_delta_low, double int8_delta_high) {
  AuditReport r;
  r.hardware = {.fp32_macs_per_second = 50e9, .int8_macs_per_second = 140e9};  // 2.8x
  r.models.push_back({"m", "m.tflite", "", 4000, 0.9});
  CellResult c;
  c.model = "m";
  c.experiment = "methods";
  c.method = "int8/minmax";
  c.calibration = "500";
  c.variant = "clean";
  c.numerics = "tflite";
  c.top1 = 0.89;
  c.float_top1 = 0.9;
  c.delta_top1 = {-0.01, int8_delta_low, int8_delta_high};
  r.cells.push_back(c);
  MethodCost cost;
  cost.model = "m";
  cost.method = "int8/minmax";
  cost.bytes = 1000;
  cost.float_bytes = 4000;
  cost.size_ratio = 4.0;
  LatencyResult l;
  l.batch = 1;
  l.threads = 1;
  l.speedup = {2.5, 2.2, 3.4};
  cost.latency.push_back(l);
  r.costs.push_back(cost);
  return r;
}

ClaimDefinition Claim(const std::string& check_json) {
  ClaimDefinition d{"id", "claim", "https://example.org", "condition", {}};
  d.check = *ParseJson(check_json);
  return d;
}

TEST(ClaimsTest, VerdictsUseTheInterval) {
  const AuditReport r = TwoCellReport(-0.025, 0.005);
  const Correctness none;
  // A drop of at most 2 points: the interval reaches a 2.5-point drop -> inconclusive.
  auto v = JudgeClaims({Claim(R"({"kind": "accuracy_drop", "methods": ["int8/minmax"], "max_drop_points": 2})")}, r, none);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].verdict, Verdict::kInconclusive);
  // At most 3 points: the whole interval is within -> holds.
  v = JudgeClaims({Claim(R"({"kind": "accuracy_drop", "methods": ["int8/minmax"], "max_drop_points": 3})")}, r, none);
  EXPECT_EQ(v[0].verdict, Verdict::kHolds);
  const AuditReport bad = TwoCellReport(-0.08, -0.03);
  v = JudgeClaims({Claim(R"({"kind": "accuracy_drop", "methods": ["int8/minmax"], "max_drop_points": 2})")}, bad, none);
  EXPECT_EQ(v[0].verdict, Verdict::kFails);

  // Speed-up interval [2.2, 3.4]: "3x+" inconclusive, "1.5x" holds, "4x" fails; 3x is
  // beyond the int8/fp32 hardware ratio, which the verdict notes.
  v = JudgeClaims({Claim(R"({"kind": "speedup", "method": "int8/minmax", "at_least": 3})")}, r, none);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].verdict, Verdict::kInconclusive);
  EXPECT_NE(v[0].note.find("2.8x"), std::string::npos) << v[0].note;
  AuditReport unmeasured = r;  // no hardware figure: no hardware note, the float baseline's instead
  unmeasured.hardware = {};
  v = JudgeClaims({Claim(R"({"kind": "speedup", "method": "int8/minmax", "at_least": 3})")}, unmeasured, none);
  EXPECT_EQ(v[0].verdict, Verdict::kInconclusive);
  EXPECT_EQ(v[0].note.find("hardware"), std::string::npos) << v[0].note;
  EXPECT_NE(v[0].note.find("Winograd"), std::string::npos) << v[0].note;
  v = JudgeClaims({Claim(R"({"kind": "speedup", "method": "int8", "at_least": 1.5})")}, r, none);  // prefix match
  EXPECT_EQ(v[0].verdict, Verdict::kHolds);
  v = JudgeClaims({Claim(R"({"kind": "speedup", "method": "int8/minmax", "at_least": 4})")}, r, none);
  EXPECT_EQ(v[0].verdict, Verdict::kFails);

  v = JudgeClaims({Claim(R"({"kind": "size_ratio", "method": "int8/minmax", "at_least": 3.6})")}, r, none);
  EXPECT_EQ(v[0].verdict, Verdict::kHolds);
  v = JudgeClaims({Claim(R"({"kind": "size_ratio", "method": "float16", "at_least": 1.9})")}, r, none);
  EXPECT_EQ(v[0].verdict, Verdict::kNotTested);
  EXPECT_NE(v[0].note.find("float16"), std::string::npos);
}

TEST(ClaimsTest, CalibrationSizeComparesPairedCells) {
  AuditReport r;
  r.plan.resamples = 500;
  r.models.push_back({"m", "m.tflite", "", 4000, 0.9});
  Correctness correctness;
  const int n = 1000;
  for (const char* calibration : {"100", "all"}) {
    CellResult c;
    c.model = "m";
    c.experiment = "calibration-size";
    c.method = "int8/minmax";
    c.calibration = calibration;
    c.variant = "clean";
    c.numerics = "tflite";
    std::vector<uint8_t> correct(n, 1);
    // 100 samples: 60 more mistakes than the whole pool -> a 6-point shortfall.
    for (int i = 0; i < (std::string(calibration) == "100" ? 160 : 100); ++i) correct[i] = 0;
    c.top1 = 1.0 - (std::string(calibration) == "100" ? 0.16 : 0.10);
    correctness[CellKey(c.model, c.method, c.calibration, c.variant, c.numerics)] = correct;
    r.cells.push_back(c);
  }
  auto v = JudgeClaims({Claim(R"({"kind": "calibration_size", "sizes": [100], "max_drop_points": 0.5})")}, r, correctness);
  ASSERT_EQ(v.size(), 1u);
  EXPECT_EQ(v[0].verdict, Verdict::kFails);
  EXPECT_NEAR(v[0].value.estimate, -0.06, 1e-12);
}

TEST(ClaimsTest, BuiltInRegistryParsesAndEveryKindIsKnown) {
  auto claims = BuiltInClaims();
  ASSERT_TRUE(claims.ok()) << claims.status().message();
  EXPECT_GE(claims->size(), 10u);
  AuditReport empty;
  empty.models.push_back({"m", "m.tflite", "", 1, 0.5});
  for (const ClaimVerdict& v : JudgeClaims(*claims, empty, {})) {
    EXPECT_EQ(v.note.find("unknown check kind"), std::string::npos) << v.claim_id;
    EXPECT_EQ(v.verdict, Verdict::kNotTested) << v.claim_id;
    EXPECT_EQ(v.source.rfind("https://", 0), 0u) << v.claim_id;
  }
}

// ---- a whole audit

class AuditRunTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(std::string(kFashionMnistDir))) return;
    dir_ = new std::string(std::filesystem::temp_directory_path() / ("qaudit_audit_test_" + std::to_string(getpid())));
    std::filesystem::create_directories(*dir_);
    auto model = zoo::Build(zoo::Architecture::kMlp, 1, 2);
    auto data = LoadDataset("fmnist:train[0:3000]");
    ASSERT_TRUE(data.ok());
    auto x = FitToInput(*data, InputSpec{"x", DType::kFloat32, {1, 28, 28, 1}, {}});
    ASSERT_TRUE(x.ok());
    auto optimizer = train::MakeAdam();
    train::LrSchedule schedule;
    schedule.base_lr = 2e-3f;
    ASSERT_TRUE(train::Train(*model, *x, data->labels, *optimizer, schedule, {}).ok());
    auto graph = train::ToGraph(*model);
    ASSERT_TRUE(graph.ok());
    ASSERT_TRUE(WriteTfliteFile(*graph, *dir_ + "/mlp.tflite").ok());
  }
  static void TearDownTestSuite() {
    if (dir_ != nullptr) std::filesystem::remove_all(*dir_);
    delete dir_;
    dir_ = nullptr;
  }

  static Plan SmallPlan(uint64_t seed) {
    auto plan = ParsePlan(R"({
      "eval_samples": 600, "calibration_pool": 800, "resamples": 200,
      "experiments": [
        {"name": "methods", "methods": ["dynamic", "float16", "int8/minmax", "int8/percentile", "qat/steps=3"],
         "calibrations": [100], "variants": ["clean", "outlier-pixels", "long-tail"], "numerics": ["tflite", "xnnpack"]},
        {"name": "calibration-size", "methods": ["int8/minmax"], "calibrations": [1, 100, "all"]},
        {"name": "calibration-outliers", "methods": ["int8/minmax"], "calibrations": [100, {"size": 100, "outliers": 2}]}
      ],
      "latency": {"batches": [4], "threads": [1], "repeats": 1, "min_seconds": 0},
      "debug": {"methods": ["int8/minmax"], "calibration": 100, "max_drop": 0.5}
    })");
    EXPECT_TRUE(plan.ok()) << plan.status().message();
    plan->seed = seed;
    return *plan;
  }

  static Result<AuditReport> Run(uint64_t seed) {
    AuditInput input;
    input.models = {{"mlp", *dir_ + "/mlp.tflite"}};
    input.data_spec = "fmnist:test[0:1000]";
    input.train_data_spec = "fmnist:train[3000:6000]";
    input.threads_per_job = 1;
    input.jobs = 2;
    return RunAudit(input, SmallPlan(seed));
  }

  static std::string* dir_;
};
std::string* AuditRunTest::dir_ = nullptr;

// report.json without what depends on time: latencies, speed-ups and the verdicts and
// findings made of them, timestamps, durations.
std::string WithoutTiming(const JsonValue& v) {
  switch (v.kind) {
    case JsonValue::Kind::kObject: {
      std::string out = "{";
      const JsonValue* id = v.Find("claim_id");
      if (id != nullptr && id->string.size() > 6 && id->string.substr(id->string.size() - 6) == "-speed") return "{}";
      for (const auto& [key, value] : v.object) {
        if (key == "latency" || key == "created" || key == "seconds" || key == "ms_per_sample" ||
            key == "float_ms_per_sample" || key == "machine" || key == "hardware") {
          continue;
        }
        out += JsonString(key) + ":" + WithoutTiming(value) + ",";
      }
      return out + "}";
    }
    case JsonValue::Kind::kArray: {
      std::string out = "[";
      for (const JsonValue& item : v.array) out += WithoutTiming(item) + ",";
      return out + "]";
    }
    case JsonValue::Kind::kString:
      return v.string.find("as fast as float") != std::string::npos ? "\"(timing)\"" : JsonString(v.string);
    case JsonValue::Kind::kNumber: return JsonNumber(v.number);
    case JsonValue::Kind::kBool: return v.boolean ? "true" : "false";
    case JsonValue::Kind::kNull: return "null";
  }
  return "";
}

TEST_F(AuditRunTest, RunsThePlanAndTheSameSeedGivesTheSameNumbers) {
  QAUDIT_REQUIRE_FASHION_MNIST();
  auto first = Run(11);
  ASSERT_TRUE(first.ok()) << first.status().message();
  const AuditReport& r = *first;
  ASSERT_EQ(r.models.size(), 1u);
  EXPECT_GT(r.models[0].float_top1, 0.6);

  // methods: 5 methods x 3 variants x 2 numerics; calibration-size 3; outliers 2.
  int methods = 0, sizes = 0, outliers = 0;
  for (const CellResult& c : r.cells) {
    methods += c.experiment == "methods";
    sizes += c.experiment == "calibration-size";
    outliers += c.experiment == "calibration-outliers";
    EXPECT_GE(c.delta_top1.high, c.delta_top1.estimate - 1e-12) << c.method;
    EXPECT_LE(c.delta_top1.low, c.delta_top1.estimate + 1e-12) << c.method;
    EXPECT_NEAR(c.delta_top1.estimate, c.top1 - c.float_top1, 1e-9);
    if (c.variant == "clean") {
      EXPECT_EQ(c.samples, 600);
    }
    if (c.variant == "long-tail") {
      EXPECT_LT(c.samples, 600);
    }
    // The clamped-input control exists exactly where the model's input is quantized and the data shifted.
    const bool quantized_input = c.method.rfind("int8", 0) == 0 || c.method.rfind("qat", 0) == 0;
    EXPECT_EQ(c.clamped_float_top1 >= 0, quantized_input && c.variant != "clean") << c.method << " " << c.variant;
    if (c.method == "float16" && c.variant == "clean") {
      EXPECT_GT(c.agreement, 0.99);
    }
  }
  EXPECT_EQ(methods, 5 * 3 * 2);
  EXPECT_EQ(sizes, 3);
  EXPECT_EQ(outliers, 2);
  EXPECT_EQ(r.costs.size(), 5u);  // one per method label, the first calibration
  for (const MethodCost& c : r.costs) {
    ASSERT_EQ(c.latency.size(), 1u);
    EXPECT_GT(c.bytes, 0);
    if (c.method == "float16") {
      EXPECT_NEAR(c.size_ratio, 2.0, 0.05);
    }
    if (c.method == "int8/minmax") {
      EXPECT_GT(c.size_ratio, 3.5);
    }
  }
  ASSERT_EQ(r.diagnoses.size(), 1u);
  EXPECT_FALSE(r.diagnoses[0].layers.empty());
  EXPECT_FALSE(r.diagnoses[0].selective.steps.empty());
  auto registry = BuiltInClaims();
  ASSERT_TRUE(registry.ok());
  for (const ClaimDefinition& d : *registry) {
    EXPECT_TRUE(std::any_of(r.claims.begin(), r.claims.end(), [&](const ClaimVerdict& v) { return v.claim_id == d.id; }))
        << d.id;
  }
  EXPECT_FALSE(r.findings.empty());
  ASSERT_EQ(r.data.size(), 3u);
  EXPECT_EQ(r.data[0].sha256.size(), 64u);

  auto second = Run(11);
  ASSERT_TRUE(second.ok()) << second.status().message();
  auto a = ParseJson(report::ReportJson(r));
  auto b = ParseJson(report::ReportJson(*second));
  ASSERT_TRUE(a.ok() && b.ok());
  const std::string ja = WithoutTiming(*a), jb = WithoutTiming(*b);
  size_t first_difference = 0;
  while (first_difference < std::min(ja.size(), jb.size()) && ja[first_difference] == jb[first_difference]) {
    ++first_difference;
  }
  EXPECT_EQ(ja.size(), jb.size());
  EXPECT_EQ(first_difference, ja.size()) << "first difference: ..." << ja.substr(first_difference > 200 ? first_difference - 200 : 0, 400)
                                         << "\n vs ..." << jb.substr(first_difference > 200 ? first_difference - 200 : 0, 400);
}

TEST_F(AuditRunTest, BadInputIsNamed) {
  QAUDIT_REQUIRE_FASHION_MNIST();
  AuditInput input;
  input.models = {{"mlp", *dir_ + "/missing.tflite"}};
  input.data_spec = "fmnist:test[0:100]";
  auto r = RunAudit(input, SmallPlan(1));
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("missing.tflite"), std::string::npos) << r.status().message();

  input.models = {{"mlp", *dir_ + "/mlp.tflite"}};
  input.data_spec = *dir_ + "/mlp.tflite";  // not data
  r = RunAudit(input, SmallPlan(1));
  ASSERT_FALSE(r.ok());
}

std::string Digest(const std::string& text, size_t chunk) {
  Sha256 h;
  for (size_t i = 0; i < text.size(); i += chunk) h.Update(text.data() + i, std::min(chunk, text.size() - i));
  return h.HexDigest();
}

TEST(Sha256Test, KnownDigests) {
  // FIPS 180-4 / NIST examples, fed whole and in odd-sized pieces.
  for (size_t chunk : {size_t{1}, size_t{7}, size_t{64}, size_t{1000000}}) {
    EXPECT_EQ(Digest("", chunk), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(Digest("abc", chunk), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(Digest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq", chunk),
              "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  }
  EXPECT_EQ(Digest(std::string(1000000, 'a'), 4096), "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

}  // namespace
}  // namespace qaudit::audit
