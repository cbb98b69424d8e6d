#include "report/plots.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>

#include "report/format.h"

namespace qaudit::report::internal {
namespace {

// Okabe-Ito colours: distinguishable with the common colour-vision deficiencies; the
// yellow is left out, it vanishes on white.
constexpr const char* kPalette[] = {"#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000"};
constexpr const char* kFlagColour = "#D55E00";
constexpr const char* kBarColour = "#0072B2";
constexpr const char* kCalibrationColour = "#56B4E9";
constexpr const char* kDeploymentColour = "#E69F00";

std::string F(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.1f", v);
  return buf;
}

std::string Attr(const std::string& text) { return "\"" + HtmlEscape(text) + "\""; }

std::string Line(double x1, double y1, double x2, double y2, const std::string& style) {
  return "<line x1=\"" + F(x1) + "\" y1=\"" + F(y1) + "\" x2=\"" + F(x2) + "\" y2=\"" + F(y2) + "\" " + style + "/>";
}

std::string Text(double x, double y, const std::string& text, const std::string& attributes = "") {
  return "<text x=\"" + F(x) + "\" y=\"" + F(y) + "\"" + (attributes.empty() ? "" : " " + attributes) + ">" +
         HtmlEscape(text) + "</text>";
}

std::string Rect(double x, double y, double w, double h, const std::string& attributes,
                 const std::string& tooltip = "") {
  const std::string open = "<rect x=\"" + F(x) + "\" y=\"" + F(y) + "\" width=\"" + F(std::max(w, 0.0)) +
                           "\" height=\"" + F(std::max(h, 0.0)) + "\" " + attributes;
  if (tooltip.empty()) return open + "/>";
  return open + "><title>" + HtmlEscape(tooltip) + "</title></rect>";
}

std::string OpenSvg(const std::string& id, const std::string& kind, double width, double height,
                    const std::string& label) {
  return "<svg id=" + Attr(id) + " class=" + Attr("plot " + kind) + " viewBox=\"0 0 " + F(width) + " " + F(height) +
         "\" width=\"" + F(width) + "\" height=\"" + F(height) + "\" role=\"img\" aria-label=" + Attr(label) +
         "><title>" + HtmlEscape(label) + "</title>";
}

std::string NoData(const std::string& id, const std::string& text) {
  return "<p id=" + Attr(id) + " class=\"no-data\">" + HtmlEscape(text) + "</p>";
}

// Cuts a label to `max_chars` characters, counting a UTF-8 sequence as one.
std::string Shorten(const std::string& text, size_t max_chars) {
  size_t chars = 0, cut = text.size();
  for (size_t i = 0; i < text.size(); ++i) {
    if ((static_cast<unsigned char>(text[i]) & 0xC0) == 0x80) continue;
    if (chars == max_chars - 1) cut = i;
    if (++chars > max_chars) return text.substr(0, cut) + "…";
  }
  return text;
}

// A linear map from [lo, hi] to [a, b].
struct Scale {
  double lo, hi, a, b;
  double operator()(double v) const { return a + (v - lo) / (hi - lo) * (b - a); }
};

std::string TickLabel(double v, double step) {
  // As many decimals as the step needs: steps of 0.25 show two, of 5 none.
  int decimals = 0;
  while (decimals < 6 && std::fabs(step * std::pow(10, decimals) - std::round(step * std::pow(10, decimals))) > 1e-6) {
    ++decimals;
  }
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.*f", decimals, std::fabs(v) < step * 1e-9 ? 0.0 : v);
  return buf;
}

// Horizontal axis ticks, grid lines and labels of a bar chart whose values run along x.
std::string ValueAxis(const Scale& x, const std::vector<double>& ticks, double top, double bottom,
                      const std::string& unit) {
  std::string svg;
  const double step = ticks.size() > 1 ? ticks[1] - ticks[0] : 1;
  for (double t : ticks) {
    svg += Line(x(t), top, x(t), bottom, "class=\"grid\"");
    svg += Text(x(t), bottom + 16, TickLabel(t, step) + unit, "class=\"tick\" text-anchor=\"middle\"");
  }
  svg += Line(x.a, bottom, x.b, bottom, "class=\"axis\"");
  return svg;
}

}  // namespace

std::vector<double> NiceTicks(double lo, double hi, int target) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
  if (lo > hi) std::swap(lo, hi);
  if (hi - lo < 1e-12) {
    const double pad = std::fabs(lo) > 1e-12 ? std::fabs(lo) * 0.1 : 1;
    lo -= pad;
    hi += pad;
  }
  target = std::max(target, 2);
  const double raw = (hi - lo) / target;
  const double power = std::pow(10, std::floor(std::log10(raw)));
  double step = power * 10;
  for (double m : {1.0, 2.0, 2.5, 5.0, 10.0}) {
    if (power * m >= raw) {
      step = power * m;
      break;
    }
  }
  std::vector<double> ticks;
  const double first = std::floor(lo / step + 1e-9) * step;
  for (double t = first; t < hi + step * (1 - 1e-9); t += step) {
    ticks.push_back(std::fabs(t) < step * 1e-9 ? 0 : t);
    if (ticks.size() > 50) break;
  }
  if (ticks.size() < 2) ticks.push_back(first + step);
  return ticks;
}

std::string CalibrationPlot(const audit::AuditReport& report, size_t model_index) {
  const audit::ModelInfo& model = report.models[model_index];
  const std::string id = "calibration-plot-" + std::to_string(model_index);

  // The experiment trying the most calibration sizes on this model's clean data.
  std::map<std::string, std::vector<std::string>> sizes_by_experiment;
  std::vector<std::string> experiments;
  for (const audit::CellResult& c : report.cells) {
    if (c.model != model.label || c.variant != "clean" || !IsPlainCalibrationSize(c.calibration)) continue;
    auto& sizes = sizes_by_experiment[c.experiment];
    if (sizes.empty()) experiments.push_back(c.experiment);
    if (std::find(sizes.begin(), sizes.end(), c.calibration) == sizes.end()) sizes.push_back(c.calibration);
  }
  std::string experiment;
  size_t most = 1;
  for (const std::string& e : experiments) {
    if (sizes_by_experiment[e].size() > most) {
      most = sizes_by_experiment[e].size();
      experiment = e;
    }
  }
  if (experiment.empty()) {
    return NoData(id, "No calibration-size sweep ran on " + model.label + ": nothing to plot.");
  }

  struct Point {
    double x;
    std::string label;
    double top1, low, high;
  };
  struct Series {
    std::string method;
    std::vector<Point> points;
  };
  std::vector<Series> series;
  std::string numerics;
  double float_top1 = model.float_top1;
  bool have_float = false;
  int64_t largest = 0;
  for (const audit::CellResult& c : report.cells) {
    if (c.model != model.label || c.variant != "clean" || c.experiment != experiment ||
        !IsPlainCalibrationSize(c.calibration)) {
      continue;
    }
    if (c.calibration != "all") largest = std::max<int64_t>(largest, std::strtoll(c.calibration.c_str(), nullptr, 10));
  }
  // "all" is the whole calibration pool; placed beyond the largest drawn size if the pool
  // is not larger (so the order on the axis stays right).
  const double all_x = report.plan.calibration_pool > largest ? static_cast<double>(report.plan.calibration_pool)
                                                              : std::max<double>(2.0 * largest, 1.0);
  for (const audit::CellResult& c : report.cells) {
    if (c.model != model.label || c.variant != "clean" || c.experiment != experiment ||
        !IsPlainCalibrationSize(c.calibration)) {
      continue;
    }
    // Numerics modes would overlay near-identical lines; the first mode run is drawn.
    if (numerics.empty()) numerics = c.numerics;
    if (c.numerics != numerics) continue;
    if (!have_float) {
      float_top1 = c.float_top1;
      have_float = true;
    }
    Series* s = nullptr;
    for (Series& existing : series) {
      if (existing.method == c.method) s = &existing;
    }
    if (s == nullptr) {
      series.push_back({c.method, {}});
      s = &series.back();
    }
    const double x = c.calibration == "all" ? all_x : std::max(1.0, std::strtod(c.calibration.c_str(), nullptr));
    bool duplicate = false;
    for (const Point& p : s->points) duplicate = duplicate || p.x == x;
    if (duplicate || !std::isfinite(c.top1)) continue;
    Point p{x, c.calibration, c.top1 * 100, (c.float_top1 + c.delta_top1.low) * 100,
            (c.float_top1 + c.delta_top1.high) * 100};
    // A missing bound draws no band rather than a broken one.
    if (!std::isfinite(p.low) || !std::isfinite(p.high)) p.low = p.high = p.top1;
    s->points.push_back(p);
  }
  for (Series& s : series) {
    std::sort(s.points.begin(), s.points.end(), [](const Point& a, const Point& b) { return a.x < b.x; });
  }

  // Axes: log x over the sizes, y in percent over every drawn value.
  std::vector<std::pair<double, std::string>> x_ticks;
  const bool float_known = std::isfinite(float_top1);
  double y_lo = float_known ? float_top1 * 100 : INFINITY, y_hi = float_known ? float_top1 * 100 : -INFINITY;
  for (const Series& s : series) {
    for (const Point& p : s.points) {
      if (std::none_of(x_ticks.begin(), x_ticks.end(), [&](const auto& t) { return t.first == p.x; })) {
        x_ticks.push_back({p.x, p.label == "all" ? "all" : p.label});
      }
      for (double v : {p.top1, p.low, p.high}) {
        if (!std::isfinite(v)) continue;
        y_lo = std::min(y_lo, v);
        y_hi = std::max(y_hi, v);
      }
    }
  }
  if (x_ticks.empty()) return NoData(id, "No finite top-1 in the calibration-size sweep of " + model.label + ".");
  std::sort(x_ticks.begin(), x_ticks.end());
  double lx_lo = std::log10(x_ticks.front().first), lx_hi = std::log10(x_ticks.back().first);
  if (lx_hi - lx_lo < 1e-9) {
    lx_lo -= 0.5;
    lx_hi += 0.5;
  }
  const double x_pad = (lx_hi - lx_lo) * 0.05;
  // Half a point at least, so that equal values do not fill the plot with noise.
  if (y_hi - y_lo < 1) {
    const double mid = (y_hi + y_lo) / 2;
    y_lo = mid - 0.5;
    y_hi = mid + 0.5;
  }
  std::vector<double> y_ticks = NiceTicks(y_lo, y_hi, 5);

  const double width = 1000, height = 420;
  const double left = 70, right = 770, top = 62, bottom = 356;
  const Scale sx{lx_lo - x_pad, lx_hi + x_pad, left, right};
  const Scale sy{y_ticks.front(), y_ticks.back(), bottom, top};
  const auto px = [&](double x) { return sx(std::log10(x)); };

  const std::string title = model.label + ": top-1 against calibration-set size";
  std::string svg = OpenSvg(id, "plot-calibration", width, height, title);
  svg += Text(left, 22, title, "class=\"plot-title\"");
  svg += Text(left, 40,
              "experiment " + experiment + ", " + numerics + " numerics, clean data; bands: " +
                  Significant(report.plan.confidence * 100, 2) + "% interval of the drop from float",
              "class=\"plot-subtitle\"");
  const double y_step = y_ticks.size() > 1 ? y_ticks[1] - y_ticks[0] : 1;
  for (double t : y_ticks) {
    svg += Line(left, sy(t), right, sy(t), "class=\"grid\"");
    svg += Text(left - 8, sy(t) + 4, TickLabel(t, y_step) + "%", "class=\"tick\" text-anchor=\"end\"");
  }
  for (const auto& [x, label] : x_ticks) {
    svg += Line(px(x), bottom, px(x), bottom + 5, "class=\"axis\"");
    svg += Text(px(x), bottom + 19, label, "class=\"tick\" text-anchor=\"middle\"");
  }
  svg += Line(left, bottom, right, bottom, "class=\"axis\"");
  svg += Line(left, top, left, bottom, "class=\"axis\"");
  svg += Text((left + right) / 2, bottom + 44, "calibration samples (log scale)",
              "class=\"axis-label\" text-anchor=\"middle\"");
  svg += Text(0, 0, "top-1 accuracy",
              "class=\"axis-label\" text-anchor=\"middle\" transform=\"translate(18 " + F((top + bottom) / 2) +
                  ") rotate(-90)\"");

  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const std::string colour = kPalette[k % std::size(kPalette)];
    if (s.points.size() == 1) {
      const Point& p = s.points[0];
      svg += Rect(px(p.x) - 4, sy(p.high), 8, sy(p.low) - sy(p.high), "class=\"band\" fill=\"" + colour + "\"");
      continue;
    }
    std::string band;
    for (const Point& p : s.points) band += F(px(p.x)) + "," + F(sy(p.high)) + " ";
    for (auto it = s.points.rbegin(); it != s.points.rend(); ++it) band += F(px(it->x)) + "," + F(sy(it->low)) + " ";
    svg += "<polygon class=\"band\" fill=\"" + std::string(colour) + "\" points=\"" + band + "\"/>";
  }
  if (float_known) svg += Line(left, sy(float_top1 * 100), right, sy(float_top1 * 100), "class=\"float-line\"");
  for (size_t k = 0; k < series.size(); ++k) {
    const Series& s = series[k];
    const std::string colour = kPalette[k % std::size(kPalette)];
    std::string points;
    for (const Point& p : s.points) points += F(px(p.x)) + "," + F(sy(p.top1)) + " ";
    if (s.points.size() > 1) {
      svg += "<polyline class=\"series\" stroke=\"" + colour + "\" points=\"" + points + "\"/>";
    }
    for (const Point& p : s.points) {
      svg += "<circle class=\"marker\" cx=\"" + F(px(p.x)) + "\" cy=\"" + F(sy(p.top1)) + "\" r=\"3.5\" fill=\"" +
             colour + "\"><title>" +
             HtmlEscape(s.method + ", calibration " + p.label + ": top-1 " + Significant(p.top1, 4) + "%, band " +
                        Significant(p.low, 4) + "% to " + Significant(p.high, 4) + "%") +
             "</title></circle>";
    }
  }

  // Legend, right of the plot area.
  const double lx = right + 24;
  double ly = top + 6;
  for (size_t k = 0; k < series.size(); ++k) {
    const std::string colour = kPalette[k % std::size(kPalette)];
    svg += Rect(lx, ly - 7, 26, 14, "class=\"band\" fill=\"" + colour + "\"");
    svg += Line(lx, ly, lx + 26, ly, "class=\"series\" stroke=\"" + colour + "\"");
    svg += Text(lx + 34, ly + 4, Shorten(series[k].method, 24), "class=\"legend\"");
    ly += 22;
  }
  svg += Line(lx, ly, lx + 26, ly, "class=\"float-line\"");
  svg += Text(lx + 34, ly + 4, "float " + Percent(float_top1), "class=\"legend\"");
  svg += Text(lx, ly + 26, "shaded: float top-1 + Δ interval", "class=\"legend-note\"");
  svg += Text(lx, ly + 42, "hover a point for its values", "class=\"legend-note\"");
  return svg + "</svg>";
}

namespace {

// Bars of one value per layer, or two (calibration, deployment) when `second` is given.
struct BarChart {
  std::string id, kind, title, subtitle, unit, axis_label;
  std::vector<std::string> labels, tooltips;
  std::vector<double> first, second;
  std::vector<bool> highlight;
  std::vector<std::pair<double, std::string>> markers;      // vertical lines at values, with labels
  std::vector<std::pair<std::string, std::string>> legend;  // colour, text
};

std::string DrawBars(const BarChart& c) {
  const size_t n = c.labels.size();
  const bool pairs = !c.second.empty();
  const double row = pairs ? (n > 60 ? 14 : 22) : (n > 60 ? 10 : 18);
  const double width = 1000, left = 260, right = 900, top = 80;
  const double bottom = top + row * static_cast<double>(n);
  const double height = bottom + 58;
  double max_value = 0;
  for (const auto* values : {&c.first, &c.second}) {
    for (double v : *values) {
      if (std::isfinite(v)) max_value = std::max(max_value, v);
    }
  }
  for (const auto& [v, label] : c.markers) max_value = std::max(max_value, v * 1.1);
  const std::vector<double> ticks = NiceTicks(0, max_value > 0 ? max_value : 1, 6);
  const Scale x{0, ticks.back(), left, right};

  std::string svg = OpenSvg(c.id, c.kind, width, height, c.title);
  svg += Text(24, 22, c.title, "class=\"plot-title\"");
  svg += Text(24, 40, c.subtitle, "class=\"plot-subtitle\"");
  double lx = 24;
  for (const auto& [colour, text] : c.legend) {
    svg += Rect(lx, 52, 12, 12, "fill=\"" + colour + "\"");
    svg += Text(lx + 18, 62, text, "class=\"legend\"");
    lx += 30 + 7.0 * static_cast<double>(text.size());
  }
  svg += ValueAxis(x, ticks, top, bottom, c.unit);
  svg += Line(left, top, left, bottom, "class=\"axis\"");
  const double font = row < 14 ? 8 : 11;
  const std::string font_attr = "style=\"font-size:" + F(font) + "px\"";
  for (size_t i = 0; i < n; ++i) {
    const double y = top + row * static_cast<double>(i);
    svg += Text(left - 8, y + row / 2 + font / 3, Shorten(c.labels[i], 38),
                "class=\"tick\" text-anchor=\"end\" " + font_attr);
    const size_t bars = pairs ? 2 : 1;
    const double bar_h = (row - 4) / static_cast<double>(bars);
    for (size_t b = 0; b < bars; ++b) {
      const double v = b == 0 ? c.first[i] : c.second[i];
      const double by = y + 2 + bar_h * static_cast<double>(b);
      const std::string colour =
          pairs ? (b == 0 ? kCalibrationColour : kDeploymentColour) : (c.highlight[i] ? kFlagColour : kBarColour);
      if (!std::isfinite(v)) {
        svg += Text(left + 4, by + bar_h - 1, "n/a", "class=\"value\" " + font_attr);
        continue;
      }
      svg += Rect(left, by, x(std::min(v, ticks.back())) - left, bar_h,
                  "fill=\"" + colour + "\"" + (!pairs && c.highlight[i] ? " class=\"bar flagged\"" : " class=\"bar\""),
                  c.tooltips[i]);
      if (!pairs && row >= 14) {
        svg += Text(x(std::min(v, ticks.back())) + 4, by + bar_h - 2, Significant(v, 3), "class=\"value\"");
      }
    }
  }
  for (const auto& [v, label] : c.markers) {
    svg += Line(x(v), top - 4, x(v), bottom, "class=\"threshold\"");
    svg += Text(x(v) + 4, bottom + 30, label, "class=\"threshold-label\"");
  }
  svg += Text((left + right) / 2, height - 8, c.axis_label, "class=\"axis-label\" text-anchor=\"middle\"");
  return svg + "</svg>";
}

std::string LayerLabel(const debug::LayerStats& l) { return l.tensor_name.empty() ? l.op : l.tensor_name; }

}  // namespace

std::string LayerErrorPlot(const audit::LayerDiagnosis& d, size_t diagnosis_index) {
  const std::string id = "layer-error-plot-" + std::to_string(diagnosis_index);
  if (d.layers.empty()) return NoData(id, "No quantized tensor of " + d.model + " was compared: nothing to plot.");
  BarChart c;
  c.id = id;
  c.kind = "plot-layer-error";
  c.title = DiagnosisTitle(d) + ": error per layer";
  c.subtitle = "rmse of (quantized − float) over the tensor's scale; rounding alone gives 0.29";
  c.axis_label = "rmse / scale (quantization steps)";
  int flagged = 0;
  for (const debug::LayerStats& l : d.layers) {
    c.labels.push_back(LayerLabel(l));
    c.tooltips.push_back(l.tensor_name + " (" + l.op + "): rmse/scale " + Significant(l.rmse_over_scale, 3) +
                         ", SQNR " + Decibels(l.sqnr_db) + (l.flagged ? ", flagged" : ""));
    c.first.push_back(l.rmse_over_scale);
    c.highlight.push_back(l.flagged);
    flagged += l.flagged;
  }
  c.legend = {{kBarColour, "within threshold"}, {kFlagColour, "flagged (" + std::to_string(flagged) + ")"}};
  c.markers = {{debug::kRmseOverScaleFlag, "flag threshold " + Significant(debug::kRmseOverScaleFlag, 2)}};
  return DrawBars(c);
}

std::string SaturationPlot(const audit::LayerDiagnosis& d, size_t diagnosis_index) {
  const std::string id = "saturation-plot-" + std::to_string(diagnosis_index);
  if (d.layers.empty()) return NoData(id, "No quantized tensor of " + d.model + " was compared: nothing to plot.");
  BarChart c;
  c.id = id;
  c.kind = "plot-saturation";
  c.title = DiagnosisTitle(d) + ": saturation per layer";
  c.subtitle = "share of values at the integer type's limits; calibration " +
               (d.calibration.empty() ? std::string(kMissing) : d.calibration) + ", deployment " + d.deployment;
  c.axis_label = "saturated values (%)";
  c.unit = "%";
  bool any = false;
  for (const debug::LayerStats& l : d.layers) {
    c.labels.push_back(LayerLabel(l));
    c.tooltips.push_back(l.tensor_name + ": calibration " + Share(l.saturation_calibration) + ", deployment " +
                         Share(l.saturation_deployment));
    c.first.push_back(l.saturation_calibration * 100);
    c.second.push_back(l.saturation_deployment * 100);
    c.highlight.push_back(false);
    any = any || l.saturation_calibration > 0 || l.saturation_deployment > 0;
  }
  if (!any) c.subtitle += " — no layer saturates on either";
  c.legend = {{kCalibrationColour, "calibration data"}, {kDeploymentColour, "deployment data"}};
  return DrawBars(c);
}

}  // namespace qaudit::report::internal
