// The report writers on a hand-built AuditReport: report.json reads back with every value,
// report.md holds the tables, report.html holds every plot, escapes what it shows and
// loads nothing from elsewhere.
#include "qaudit/report.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <regex>
#include <set>

#include "core/file_io.h"
#include "core/json.h"
#include "report/format.h"
#include "report/plots.h"
#include "report/synthetic_report.h"

namespace qaudit::report {
namespace {

using testing::SyntheticReport;

JsonValue Parse(const std::string& text) {
  Result<JsonValue> v = ParseJson(text);
  EXPECT_TRUE(v.ok()) << v.status().message();
  return v.ok() ? *v : JsonValue{};
}

const JsonValue& At(const JsonValue& v, const std::string& key) {
  static const JsonValue kNull;
  const JsonValue* m = v.Find(key);
  EXPECT_NE(m, nullptr) << "missing key " << key;
  return m != nullptr ? *m : kNull;
}

size_t Count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

// The report without the values that depend on timing (see report_json.cc).
JsonValue WithoutTiming(JsonValue v) {
  const auto erase = [](JsonValue& object, const std::set<std::string>& keys) {
    auto& members = object.object;
    members.erase(std::remove_if(members.begin(), members.end(), [&](const auto& m) { return keys.count(m.key); }),
                  members.end());
  };
  erase(v, {"created", "seconds"});
  for (auto& [key, value] : v.object) {
    if (key == "costs") {
      for (JsonValue& cost : value.array) erase(cost, {"latency"});
    }
    if (key == "diagnoses") {
      for (JsonValue& d : value.array) {
        for (auto& [dk, selective] : d.object) {
          if (dk != "selective") continue;
          erase(selective, {"float_ms_per_sample"});
          for (auto& [sk, steps] : selective.object) {
            if (sk != "steps") continue;
            for (JsonValue& step : steps.array) erase(step, {"ms_per_sample"});
          }
        }
      }
    }
  }
  return v;
}

bool SameJson(const JsonValue& a, const JsonValue& b) {
  if (a.kind != b.kind || a.boolean != b.boolean || a.string != b.string) return false;
  if (a.kind == JsonValue::Kind::kNumber && a.number != b.number) return false;
  if (a.array.size() != b.array.size() || a.object.size() != b.object.size()) return false;
  for (size_t i = 0; i < a.array.size(); ++i) {
    if (!SameJson(a.array[i], b.array[i])) return false;
  }
  for (size_t i = 0; i < a.object.size(); ++i) {
    if (a.object[i].key != b.object[i].key || !SameJson(a.object[i].value, b.object[i].value)) return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------
// Formatting

TEST(ReportFormatTest, NumbersForPeople) {
  using namespace internal;
  EXPECT_EQ(Percent(0.87451), "87.45%");
  EXPECT_EQ(Percent(1), "100.00%");
  EXPECT_EQ(Percent(NAN), "—");
  EXPECT_EQ(Points(0.0012), "+0.12 pp");
  EXPECT_EQ(Points(-0.0034), "-0.34 pp");
  EXPECT_EQ(Points(-0.00001), "0.00 pp");  // no "-0.00"
  EXPECT_EQ(PointsInterval({-0.0012, -0.004, 0.0016}), "-0.12 pp [-0.40, +0.16]");
  EXPECT_EQ(PValue(0.038574), "0.0386");
  EXPECT_EQ(PValue(1), "1.00");
  EXPECT_EQ(PValue(0.5), "0.500");
  EXPECT_EQ(PValue(2.4712e-7), "2.47e-07");
  EXPECT_EQ(PValue(0), "<1e-300");
  EXPECT_EQ(Decibels(24.46), "24.5 dB");
  EXPECT_EQ(Decibels(INFINITY), "∞ dB");
  EXPECT_EQ(Bytes(812), "812 B");
  EXPECT_EQ(Bytes(104000), "104 kB");
  EXPECT_EQ(Bytes(3470000), "3.47 MB");
  EXPECT_EQ(Milliseconds(0.0421), "0.0421 ms");
  EXPECT_EQ(Milliseconds(12.34), "12.3 ms");
  EXPECT_EQ(Times(3.846), "3.85×");
  EXPECT_EQ(TimesInterval({2.48, 2.3, 2.61}), "2.48× [2.30, 2.61]");
  EXPECT_EQ(Share(0), "0");
  EXPECT_EQ(Share(0.00001), "<0.01%");
  EXPECT_EQ(Share(0.0125), "1.25%");
  EXPECT_EQ(HtmlEscape("<a href=\"x\">'&'</a>"), "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;");
  EXPECT_EQ(MarkdownEscape("a|b<c>\nd"), "a\\|b&lt;c&gt; d");
  EXPECT_TRUE(IsWebUrl("https://x.org/a?b=1&c=2"));
  EXPECT_FALSE(IsWebUrl("javascript:alert(1)"));
  EXPECT_FALSE(IsWebUrl("https://x.org/\"onmouseover=1"));
  EXPECT_TRUE(IsPlainCalibrationSize("500"));
  EXPECT_TRUE(IsPlainCalibrationSize("all"));
  EXPECT_FALSE(IsPlainCalibrationSize("500 + 3 outliers"));
  EXPECT_FALSE(IsPlainCalibrationSize(""));
}

TEST(ReportFormatTest, NiceTicksCoverTheRangeAndSurviveDegenerateOnes) {
  const std::vector<double> t = internal::NiceTicks(85.2, 91.7, 5);
  ASSERT_GE(t.size(), 3u);
  EXPECT_LE(t.front(), 85.2);
  EXPECT_GE(t.back(), 91.7);
  EXPECT_DOUBLE_EQ(t[1] - t[0], 2.0);
  for (double lo : {5.0, 0.0, -3.0}) {
    const std::vector<double> d = internal::NiceTicks(lo, lo, 5);
    ASSERT_GE(d.size(), 2u);
    EXPECT_LT(d.front(), d.back());
    EXPECT_LE(d.front(), lo);
    EXPECT_GE(d.back(), lo);
  }
  EXPECT_GE(internal::NiceTicks(NAN, 1, 5).size(), 2u);
}

// ---------------------------------------------------------------------------------------
// report.json

TEST(ReportJsonTest, ParsesAndHoldsEveryValue) {
  const audit::AuditReport report = SyntheticReport();
  const JsonValue j = Parse(ReportJson(report));
  ASSERT_EQ(j.kind, JsonValue::Kind::kObject);
  std::vector<std::string> keys;
  for (const auto& [k, v] : j.object) keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"format", "format_version", "qaudit_version", "created", "seconds",
                                            "command", "machine", "hardware", "models", "data", "plan",
                                            "findings", "claims", "cells", "costs", "diagnoses"}));
  EXPECT_EQ(At(j, "created").string, "2025-01-02T03:04:05Z");
  EXPECT_DOUBLE_EQ(At(j, "seconds").number, 123.4);
  EXPECT_DOUBLE_EQ(At(At(j, "hardware"), "int8_over_fp32").number, 2.8);
  EXPECT_DOUBLE_EQ(At(At(j, "hardware"), "int8_macs_per_second").number, 140e9);
  EXPECT_EQ(At(At(j, "hardware"), "fp32_instructions").string, "AVX-512 FMA");
  EXPECT_EQ(At(At(j, "plan"), "seed").number, 7);
  EXPECT_EQ(At(At(j, "plan"), "experiments").array.size(), 2u);

  const JsonValue& models = At(j, "models");
  ASSERT_EQ(models.array.size(), 2u);
  EXPECT_EQ(At(models.array[1], "label").string, testing::kHostileLabel);  // JSON keeps text as it is
  EXPECT_EQ(At(models.array[0], "bytes").number, 400000);
  EXPECT_EQ(At(At(j, "data").array[1], "spec").string, "fmnist:train[0:1000]");
  EXPECT_EQ(At(j, "findings").array.size(), 2u);

  const JsonValue& claims = At(j, "claims");
  ASSERT_EQ(claims.array.size(), 4u);
  const char* verdicts[] = {"holds", "fails", "inconclusive", "not tested"};
  for (size_t i = 0; i < 4; ++i) EXPECT_EQ(At(claims.array[i], "verdict").string, verdicts[i]);
  EXPECT_EQ(At(claims.array[1], "source").string, testing::kSpeedSource);
  EXPECT_DOUBLE_EQ(At(At(claims.array[1], "value"), "low").number, 2.30);

  const JsonValue& cells = At(j, "cells");
  ASSERT_EQ(cells.array.size(), report.cells.size());
  const JsonValue& c0 = cells.array[0];
  EXPECT_EQ(At(c0, "method").string, "int8/minmax");
  EXPECT_EQ(At(c0, "calibration").string, "1");
  EXPECT_DOUBLE_EQ(At(c0, "top1").number, 0.80);
  EXPECT_DOUBLE_EQ(At(At(c0, "delta_top1"), "low").number, -0.125);
  EXPECT_EQ(At(At(c0, "mcnemar"), "only_float").number, 40);
  EXPECT_DOUBLE_EQ(At(At(c0, "mcnemar"), "p_value").number, 0.000123);
  EXPECT_EQ(At(c0, "top5").kind, JsonValue::Kind::kNull);  // -1 in the model
  EXPECT_EQ(At(c0, "clamped_float_top1").kind, JsonValue::Kind::kNull);
  EXPECT_EQ(At(c0, "delta_vs_clamped").kind, JsonValue::Kind::kNull);
  EXPECT_EQ(At(c0, "flipped_to_wrong").array.size(), 3u);
  EXPECT_EQ(At(c0, "per_class_top1").array.size(), 3u);
  const JsonValue& shifted = cells.array.back();
  EXPECT_DOUBLE_EQ(At(shifted, "clamped_float_top1").number, 0.74);
  EXPECT_DOUBLE_EQ(At(At(shifted, "delta_vs_clamped"), "high").number, -0.03);
  EXPECT_DOUBLE_EQ(At(shifted, "top5").number, 0.97);
  EXPECT_EQ(At(shifted, "notes").array[0].string, "input clamped by quantization");

  const JsonValue& cost = At(j, "costs").array.at(0);
  EXPECT_EQ(At(cost, "bytes").number, 104000);
  ASSERT_EQ(At(cost, "latency").array.size(), 2u);
  EXPECT_EQ(At(At(cost, "latency").array[1], "batch").number, 64);
  EXPECT_DOUBLE_EQ(At(At(At(cost, "latency").array[0], "speedup"), "low").number, 2.30);

  const JsonValue& diagnosis = At(j, "diagnoses").array.at(0);
  const JsonValue& layers = At(diagnosis, "layers");
  ASSERT_EQ(layers.array.size(), 5u);
  EXPECT_TRUE(At(layers.array[2], "flagged").boolean);
  EXPECT_FALSE(At(layers.array[1], "flagged").boolean);
  EXPECT_EQ(At(layers.array[2], "dtype").string, "int8");
  EXPECT_EQ(At(layers.array[4], "sqnr_db").kind, JsonValue::Kind::kNull);  // +inf
  EXPECT_DOUBLE_EQ(At(At(layers.array[0], "deployment_range"), "max").number, 4.0);
  const JsonValue& selective = At(diagnosis, "selective");
  EXPECT_TRUE(At(selective, "reached").boolean);
  EXPECT_EQ(At(At(selective, "steps").array[1], "denied").array[0].string, "dense/MatMul");
}

TEST(ReportJsonTest, RunsDifferOnlyInTimingKeys) {
  const JsonValue a = Parse(ReportJson(SyntheticReport(1.0)));
  const JsonValue b = Parse(ReportJson(SyntheticReport(1.7)));
  EXPECT_FALSE(SameJson(a, b));
  EXPECT_TRUE(SameJson(WithoutTiming(a), WithoutTiming(b)));
  audit::AuditReport changed = SyntheticReport(1.0);
  changed.cells[3].top1 += 0.001;
  EXPECT_FALSE(SameJson(WithoutTiming(a), WithoutTiming(Parse(ReportJson(changed)))));
}

TEST(ReportJsonTest, NonFiniteNumbersAndEmptyReports) {
  audit::AuditReport report = SyntheticReport();
  report.cells[0].sqnr_db = INFINITY;
  report.cells[0].delta_top1.low = NAN;
  const JsonValue j = Parse(ReportJson(report));
  EXPECT_EQ(At(At(j, "cells").array[0], "sqnr_db").kind, JsonValue::Kind::kNull);
  EXPECT_EQ(At(At(At(j, "cells").array[0], "delta_top1"), "low").kind, JsonValue::Kind::kNull);

  const JsonValue empty = Parse(ReportJson(audit::AuditReport{}));
  EXPECT_EQ(At(empty, "cells").array.size(), 0u);
  EXPECT_EQ(At(empty, "plan").kind, JsonValue::Kind::kObject);
}

// ---------------------------------------------------------------------------------------
// report.md

TEST(ReportMarkdownTest, HoldsTheTables) {
  const std::string md = ReportMarkdown(SyntheticReport());
  EXPECT_NE(md.find("| id | claim | source | model | setting | measured | verdict |"), std::string::npos);
  EXPECT_NE(md.find("| int8-size | Full integer quantization makes the model 4x smaller. (condition: weights dominate the "
                    "model) | [ai.google.dev/edge/litert/models/post_training_"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| 3.85× [3.85, 3.85] | **holds** |"), std::string::npos);
  EXPECT_NE(md.find("| **fails** (this CPU quotes 2.8× int8 over fp32 throughput) |"), std::string::npos);
  EXPECT_NE(md.find("| **inconclusive** |"), std::string::npos);
  EXPECT_NE(md.find("| **not tested** (no GPU here) |"), std::string::npos);
  EXPECT_NE(md.find("1 holds, 1 fails, 1 inconclusive, 1 not tested."), std::string::npos);
  // The sweep's cell rows, numbers formatted for people.
  EXPECT_NE(md.find("| cnn | int8/minmax | 1 | clean | tflite | 10000 | **80.00%** | -11.23 pp [-12.50, -10.00] | "
                    "0.000123 (40 lost / 12 gained) | 98.10% | 24.5 dB |"),
            std::string::npos)
      << md;
  EXPECT_NE(md.find("| 74.00% | -4.00 pp [-5.00, -3.00] |"), std::string::npos);  // clamped-float control
  EXPECT_NE(md.find("| 2.48× [2.30, 2.61] |"), std::string::npos);
  EXPECT_NE(md.find("| 2 | dense/MatMul | FULLY_CONNECTED | int8 |"), std::string::npos);
  EXPECT_NE(md.find("**1.32**"), std::string::npos);
  EXPECT_NE(md.find("**flagged**"), std::string::npos);
  EXPECT_NE(md.find("| 1 | + dense/MatMul (1 in float) | 91.00% | +0.23 pp [-0.10, +0.60] | yes |"), std::string::npos);
  EXPECT_NE(md.find("### calibration-size"), std::string::npos);
  EXPECT_NE(md.find("seed 7"), std::string::npos);
  // Markup in a label is shown, not interpreted.
  EXPECT_EQ(md.find("<script>"), std::string::npos);
  EXPECT_NE(md.find("mlp&lt;script&gt;"), std::string::npos);
}

// ---------------------------------------------------------------------------------------
// report.html

TEST(ReportHtmlTest, HoldsEveryPlotAndTable) {
  const std::string html = ReportHtml(SyntheticReport());
  EXPECT_NE(html.find("<svg id=\"calibration-plot-0\" class=\"plot plot-calibration\""), std::string::npos);
  // The second model has no sweep: a note in the plot's place.
  EXPECT_NE(html.find("<p id=\"calibration-plot-1\" class=\"no-data\">"), std::string::npos);
  EXPECT_NE(html.find("<svg id=\"layer-error-plot-0\" class=\"plot plot-layer-error\""), std::string::npos);
  EXPECT_NE(html.find("<svg id=\"saturation-plot-0\" class=\"plot plot-saturation\""), std::string::npos);
  EXPECT_EQ(Count(html, "<svg "), 3u);
  EXPECT_NE(html.find("<table id=\"claims-table\">"), std::string::npos);
  for (const char* v : {"verdict-holds", "verdict-fails", "verdict-inconclusive", "verdict-not-tested"}) {
    EXPECT_NE(html.find(std::string("<tr class=\"") + v + "\">"), std::string::npos) << v;
  }
  // One line per method (and two bands), the float model dashed, ticks for each size.
  EXPECT_EQ(Count(html, "<polyline class=\"series\""), 2u);
  EXPECT_EQ(Count(html, "<polygon class=\"band\""), 2u);
  EXPECT_NE(html.find("class=\"float-line\""), std::string::npos);
  for (const char* tick : {">1</text>", ">10</text>", ">100</text>", ">all</text>"}) {
    EXPECT_NE(html.find(tick), std::string::npos) << tick;
  }
  EXPECT_NE(html.find("calibration samples (log scale)"), std::string::npos);
  // The flagged layer's bar in its own colour, and the threshold line.
  EXPECT_EQ(Count(html, "class=\"bar flagged\""), 1u);
  EXPECT_NE(html.find("class=\"threshold\""), std::string::npos);
  // The same tables as report.md.
  EXPECT_NE(html.find("<table id=\"experiment-table-0\">"), std::string::npos);
  EXPECT_NE(html.find("<table id=\"experiment-table-1\">"), std::string::npos);
  EXPECT_NE(html.find("<table id=\"costs-table\">"), std::string::npos);
  EXPECT_NE(html.find("<table id=\"layers-table-0\">"), std::string::npos);
  EXPECT_NE(html.find("<table id=\"selective-table-0\">"), std::string::npos);
  EXPECT_NE(html.find("-11.23 pp [-12.50, -10.00]"), std::string::npos);
  EXPECT_NE(html.find("0.000123"), std::string::npos);
}

TEST(ReportHtmlTest, EscapesTextAndIsSelfContained) {
  const std::string html = ReportHtml(SyntheticReport());
  const std::string lower = Lower(html);
  EXPECT_EQ(lower.find("<script"), std::string::npos);
  EXPECT_NE(html.find("mlp&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;"), std::string::npos);
  EXPECT_EQ(lower.find(" src="), std::string::npos);
  EXPECT_EQ(lower.find("url("), std::string::npos);
  EXPECT_EQ(lower.find("@import"), std::string::npos);
  EXPECT_EQ(lower.find("<link"), std::string::npos);
  EXPECT_EQ(lower.find("<iframe"), std::string::npos);
  EXPECT_EQ(lower.find("<img"), std::string::npos);
  // Every link is an anchor in the page or a claim's source, and every "http" is in one.
  std::set<std::string> external;
  const std::regex href("href=\"([^\"]*)\"");
  for (auto it = std::sregex_iterator(html.begin(), html.end(), href); it != std::sregex_iterator(); ++it) {
    const std::string target = (*it)[1];
    if (target[0] == '#') continue;
    external.insert(target);
    EXPECT_TRUE(target == testing::kSizeSource ||
                target == "https://ai.google.dev/edge/litert/models/post_training_integer_quant?a=1&amp;b=2")
        << target;
  }
  EXPECT_EQ(external.size(), 2u);
  EXPECT_EQ(Count(lower, "http") - Count(lower, "http-equiv"), Count(lower, "href=\"http"));
  // The claim whose source is not a URL is shown as text.
  EXPECT_NE(html.find("see the TFLite docs"), std::string::npos);
  EXPECT_NE(html.find("Content-Security-Policy"), std::string::npos);
}

TEST(ReportHtmlTest, DegenerateAndEmptyData) {
  // All values equal and one method with a single size: a flat range and a lone point.
  audit::AuditReport flat = SyntheticReport();
  flat.cells.clear();
  flat.cells.push_back(testing::SweepCell("int8/minmax", "10", 0.9123, 0, 0));
  flat.cells.push_back(testing::SweepCell("int8/minmax", "100", 0.9123, 0, 0));
  flat.cells.push_back(testing::SweepCell("int8/mse", "100", 0.9123, 0, 0));
  for (auto& layer : flat.diagnoses[0].layers) {
    layer.rmse_over_scale = 0;
    layer.saturation_calibration = layer.saturation_deployment = 0;
  }
  flat.diagnoses[0].layers[1].rmse_over_scale = NAN;
  flat.cells[1].delta_top1.high = NAN;
  const std::string html = ReportHtml(flat);
  EXPECT_NE(html.find("<svg id=\"calibration-plot-0\""), std::string::npos);
  EXPECT_EQ(Count(html, "<polyline class=\"series\""), 1u);
  EXPECT_NE(html.find("no layer saturates"), std::string::npos);
  const std::string lower = Lower(html);
  for (const char* bad : {"\"nan", "nan\"", "nan,", "\"inf", "inf\"", "inf,", "\"-inf"}) {
    EXPECT_EQ(lower.find(bad), std::string::npos) << bad;
  }

  // Nothing finite to draw.
  audit::AuditReport unknown = flat;
  for (auto& c : unknown.cells) c.top1 = c.float_top1 = NAN;
  EXPECT_NE(ReportHtml(unknown).find("<p id=\"calibration-plot-0\" class=\"no-data\">"), std::string::npos);

  // One size only: no sweep, so no plot.
  audit::AuditReport single = SyntheticReport();
  single.cells.resize(1);
  EXPECT_NE(ReportHtml(single).find("<p id=\"calibration-plot-0\" class=\"no-data\">"), std::string::npos);

  audit::AuditReport no_layers = SyntheticReport();
  no_layers.diagnoses[0].layers.clear();
  no_layers.diagnoses[0].selective = {};
  const std::string h = ReportHtml(no_layers);
  EXPECT_NE(h.find("<p id=\"layer-error-plot-0\" class=\"no-data\">"), std::string::npos);
  EXPECT_NE(h.find("<p id=\"saturation-plot-0\" class=\"no-data\">"), std::string::npos);

  const audit::AuditReport empty;
  const std::string e = ReportHtml(empty);
  EXPECT_NE(e.find("</html>"), std::string::npos);
  EXPECT_EQ(e.find("<svg"), std::string::npos);
  EXPECT_FALSE(ReportMarkdown(empty).empty());
}

// ---------------------------------------------------------------------------------------
// WriteReports

TEST(WriteReportsTest, CreatesTheDirectoryAndWritesEveryFile) {
  const std::filesystem::path root =
      std::filesystem::temp_directory_path() / ("qaudit-report-test-" + std::to_string(::getpid()));
  std::filesystem::remove_all(root);
  const std::filesystem::path dir = root / "a" / "b";
  const audit::AuditReport report = SyntheticReport();
  ASSERT_TRUE(WriteReports(report, dir.string()).ok());
  const std::pair<const char*, std::string> expected[] = {
      {"report.json", ReportJson(report)}, {"report.md", ReportMarkdown(report)}, {"report.html", ReportHtml(report)}};
  for (const auto& [name, text] : expected) {
    Result<std::vector<uint8_t>> bytes = ReadWholeFile((dir / name).string());
    ASSERT_TRUE(bytes.ok()) << name;
    EXPECT_EQ(std::string(bytes->begin(), bytes->end()), text) << name;
  }
  size_t files = 0;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    ++files;
    EXPECT_EQ(entry.path().extension().string().find("tmp"), std::string::npos) << entry.path();
  }
  EXPECT_EQ(files, 3u);
  // Writing again replaces the files.
  ASSERT_TRUE(WriteReports(report, dir.string()).ok());

  // A file where the directory should be: an error, not a crash.
  const Status s = WriteReports(report, (dir / "report.json").string());
  EXPECT_FALSE(s.ok());
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace qaudit::report
