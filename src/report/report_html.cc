// report.html: one self-contained page. Styles are inline and plots are inline SVG; a
// Content-Security-Policy forbids every external resource and every script, so that the
// page looks the same offline, in a mail attachment or years later, and a browser reports
// any slip instead of fetching something.
#include <string>

#include "qaudit/report.h"
#include "report/format.h"
#include "report/plots.h"

namespace qaudit::report {
namespace {

using internal::HtmlEscape;

constexpr const char* kStyle = R"css(
:root{--fg:#1f2328;--muted:#59636e;--border:#d1d9e0;--rule:#eaeef2;--alt:#f6f8fa;--link:#0969da;
--green:#116329;--green-bg:#dafbe1;--red:#a40e26;--red-bg:#ffebe9;--amber:#7d4e00;--amber-bg:#fff3c4;
--grey:#59636e;--grey-bg:#eaeef2}
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;color:var(--fg);background:#fff;
font:15px/1.55 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1200px;margin:0 auto;padding:36px 40px 72px}
h1{font-size:30px;line-height:1.2;margin:0 0 6px;font-weight:650;letter-spacing:-.01em}
h2{font-size:21px;margin:48px 0 14px;padding-bottom:6px;border-bottom:1px solid var(--border);font-weight:620}
h3{font-size:17px;margin:30px 0 6px;font-weight:620}
h4{font-size:15px;margin:22px 0 6px;font-weight:620}
p{margin:6px 0 12px}
a{color:var(--link);text-decoration:none}a:hover{text-decoration:underline}
code{font:13px/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,"Liberation Mono",monospace;background:var(--alt);
padding:2px 6px;border-radius:4px;word-break:break-all}
.lede{color:var(--muted);margin:0 0 20px;font-size:16px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:4px 18px;margin:0;font-size:14px}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0}
nav.toc{margin:26px 0 0;padding:10px 14px;background:var(--alt);border-radius:8px;font-size:14px}
nav.toc a{margin-right:18px;white-space:nowrap}
.note{color:var(--muted);font-size:13.5px}
.table-wrap{overflow-x:auto;margin:10px 0 18px;border:1px solid var(--border);border-radius:8px}
table{border-collapse:collapse;width:100%;font-size:13.5px}
th{text-align:left;font-weight:600;background:var(--alt);border-bottom:1px solid var(--border);padding:8px 10px;
vertical-align:bottom}
td{padding:6px 10px;border-bottom:1px solid var(--rule);vertical-align:top}
tbody tr:last-child td{border-bottom:0}
tbody tr:nth-child(even){background:#fbfcfd}
th.num,td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td.num .detail{white-space:nowrap}
td a{overflow-wrap:anywhere}
#claims-table td:nth-child(2){min-width:240px}
.detail{display:block;color:var(--muted);font-size:12px;font-weight:400;white-space:normal}
.pill{display:inline-block;padding:1px 10px;border-radius:999px;font-weight:600;font-size:12.5px;white-space:nowrap}
.verdict-holds .pill,.pill.verdict-holds{color:var(--green);background:var(--green-bg)}
.verdict-fails .pill,.pill.verdict-fails{color:var(--red);background:var(--red-bg)}
.verdict-inconclusive .pill,.pill.verdict-inconclusive{color:var(--amber);background:var(--amber-bg)}
.verdict-not-tested .pill,.pill.verdict-not-tested{color:var(--grey);background:var(--grey-bg)}
tr.verdict-holds td:first-child{box-shadow:inset 4px 0 var(--green)}
tr.verdict-fails td:first-child{box-shadow:inset 4px 0 var(--red)}
tr.verdict-inconclusive td:first-child{box-shadow:inset 4px 0 #d4a72c}
tr.verdict-not-tested td:first-child{box-shadow:inset 4px 0 #afb8c1}
.verdicts{display:flex;gap:8px;flex-wrap:wrap;margin:4px 0 10px}
td.worse{color:var(--red)}td.better{color:var(--green)}
tr.flagged td{background:#fff4ef}
td.flag .pill{color:var(--red);background:var(--red-bg)}
tr.final td{font-weight:600}
ol.findings{margin:8px 0;padding:14px 18px 14px 40px;background:var(--alt);border-radius:8px}
ol.findings li{margin:4px 0}
ul.plan{margin:6px 0 12px;padding-left:22px;font-size:14px}ul.plan li{margin:3px 0}
figure{margin:18px 0 26px}
svg.plot{display:block;max-width:100%;height:auto;font-family:inherit;background:#fff;
border:1px solid var(--rule);border-radius:8px}
svg .plot-title{font-size:15px;font-weight:620;fill:var(--fg)}
svg .plot-subtitle{font-size:12px;fill:var(--muted)}
svg .tick{font-size:11px;fill:var(--muted);font-variant-numeric:tabular-nums}
svg .axis-label{font-size:12px;fill:var(--fg)}
svg .legend{font-size:12px;fill:var(--fg)}
svg .legend-note{font-size:11px;fill:var(--muted)}
svg .grid{stroke:var(--rule);stroke-width:1}
svg .axis{stroke:#8c959f;stroke-width:1}
svg .band{fill-opacity:.16;stroke:none}
svg .series{fill:none;stroke-width:2.2;stroke-linejoin:round}
svg .marker{stroke:#fff;stroke-width:1.2}
svg .float-line{stroke:var(--fg);stroke-width:1.4;stroke-dasharray:6 4}
svg .threshold{stroke:var(--red);stroke-width:1.5;stroke-dasharray:5 3}
svg .threshold-label{font-size:11px;fill:var(--red)}
svg .value{font-size:10px;fill:var(--muted)}
.no-data{color:var(--muted);font-style:italic;padding:16px;border:1px dashed var(--border);border-radius:8px}
details>summary{cursor:pointer;color:var(--link);font-size:14px;margin:8px 0}
footer{margin-top:56px;color:var(--muted);font-size:13px;border-top:1px solid var(--border);padding-top:12px}
@media print{main{padding:0;max-width:none}nav.toc{display:none}h2{break-after:avoid}
figure,tr{break-inside:avoid}}
)css";

std::string CellHtml(const internal::TableCell& cell) {
  std::string html = HtmlEscape(cell.text);
  if (!cell.href.empty()) html = "<a href=\"" + HtmlEscape(cell.href) + "\">" + html + "</a>";
  if (cell.strong) html = "<strong>" + html + "</strong>";
  if (cell.style.rfind("verdict-", 0) == 0 || cell.style == "flag") html = "<span class=\"pill\">" + html + "</span>";
  if (!cell.detail.empty()) html += "<span class=\"detail\">" + HtmlEscape(cell.detail) + "</span>";
  return html;
}

std::string Table(const internal::Table& t, const std::string& id = "") {
  if (t.rows.empty()) return "<p class=\"note\">None.</p>\n";
  const auto numeric = [&t](size_t c) { return c < t.numeric.size() && t.numeric[c]; };
  std::string html =
      "<div class=\"table-wrap\"><table" + (id.empty() ? "" : " id=\"" + HtmlEscape(id) + "\"") + "><thead><tr>";
  for (size_t c = 0; c < t.header.size(); ++c) {
    html += std::string(numeric(c) ? "<th class=\"num\">" : "<th>") + HtmlEscape(t.header[c]) + "</th>";
  }
  html += "</tr></thead><tbody>\n";
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const std::string row_style = r < t.row_styles.size() ? t.row_styles[r] : "";
    html += row_style.empty() ? "<tr>" : "<tr class=\"" + HtmlEscape(row_style) + "\">";
    for (size_t c = 0; c < t.rows[r].size(); ++c) {
      const internal::TableCell& cell = t.rows[r][c];
      std::string classes = numeric(c) ? "num" : "";
      if (!cell.style.empty()) classes += (classes.empty() ? "" : " ") + cell.style;
      html += (classes.empty() ? "<td>" : "<td class=\"" + HtmlEscape(classes) + "\">") + CellHtml(cell) + "</td>";
    }
    html += "</tr>\n";
  }
  return html + "</tbody></table></div>\n";
}

std::string Figure(const std::string& plot) { return "<figure>" + plot + "</figure>\n"; }

std::string Header(const audit::AuditReport& report) {
  std::string models;
  for (const audit::ModelInfo& m : report.models) models += (models.empty() ? "" : ", ") + m.label;
  std::string html = "<header>\n<h1>Quantization audit</h1>\n<p class=\"lede\">" +
                     HtmlEscape(models.empty() ? "no models" : models) + " · " +
                     HtmlEscape(internal::VerdictCounts(report)) + "</p>\n<dl class=\"meta\">\n";
  const auto row = [&html](const std::string& name, const std::string& value_html) {
    html += "<dt>" + HtmlEscape(name) + "</dt><dd>" + value_html + "</dd>\n";
  };
  row("created", HtmlEscape(report.created) + " in " + HtmlEscape(internal::Significant(report.seconds, 3)) + " s");
  row("qaudit", HtmlEscape(report.qaudit_version));
  if (!report.command.empty()) row("command", "<code>" + HtmlEscape(report.command) + "</code>");
  if (!report.machine.empty()) row("machine", HtmlEscape(report.machine));
  row("int8 / fp32 throughput", HtmlEscape(internal::HardwareRates(report.hardware)) +
                                    " <span class=\"note\">one core's multiply-accumulate rates, measured</span>");
  row("seed", HtmlEscape(std::to_string(report.plan.seed)));
  html += "</dl>\n</header>\n";
  html +=
      "<nav class=\"toc\"><a href=\"#setup\">Models and data</a><a href=\"#claims\">Claims</a>"
      "<a href=\"#findings\">Findings</a><a href=\"#calibration\">Calibration size</a>"
      "<a href=\"#experiments\">Experiments</a><a href=\"#costs\">Size and speed</a>"
      "<a href=\"#layers\">Per-layer diagnosis</a></nav>\n";
  return html;
}

std::string VerdictPills(const audit::AuditReport& report) {
  const audit::Verdict kinds[] = {audit::Verdict::kHolds, audit::Verdict::kFails, audit::Verdict::kInconclusive,
                                  audit::Verdict::kNotTested};
  std::string html = "<div class=\"verdicts\">";
  for (audit::Verdict v : kinds) {
    int n = 0;
    for (const audit::ClaimVerdict& c : report.claims) n += c.verdict == v;
    html += "<span class=\"pill " + internal::VerdictStyle(v) + "\">" + std::to_string(n) + " " +
            HtmlEscape(audit::VerdictName(v)) + "</span>";
  }
  return html + "</div>\n";
}

}  // namespace

std::string ReportHtml(const audit::AuditReport& report) {
  std::string models;
  for (const audit::ModelInfo& m : report.models) models += (models.empty() ? "" : ", ") + m.label;
  std::string html =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
      "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
      "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n"
      "<title>qaudit report" +
      HtmlEscape(models.empty() ? "" : ": " + models) + "</title>\n<style>" + kStyle +
      "</style>\n</head>\n<body>\n<main>\n";
  html += Header(report);

  html += "<section id=\"setup\">\n<h2>Models and data</h2>\n" + Table(internal::ModelsTable(report), "models-table");
  html += Table(internal::DataTable(report), "data-table");
  html += "<h3>Plan</h3>\n<ul class=\"plan\">\n";
  for (const std::string& line : internal::PlanSummary(report.plan)) html += "<li>" + HtmlEscape(line) + "</li>\n";
  html += "</ul>\n</section>\n";

  html +=
      "<section id=\"claims\">\n<h2>Claims</h2>\n<p class=\"note\">TFLite's documented claims, each judged on "
      "this audit's measurements by its interval: it holds or fails only when the whole interval says so.</p>\n" +
      VerdictPills(report) + Table(internal::ClaimsTable(report), "claims-table") + "</section>\n";

  html += "<section id=\"findings\">\n<h2>Findings</h2>\n";
  if (report.findings.empty()) {
    html += "<p class=\"note\">None.</p>\n";
  } else {
    html += "<ol class=\"findings\">\n";
    for (const std::string& f : report.findings) html += "<li>" + HtmlEscape(f) + "</li>\n";
    html += "</ol>\n";
  }
  html += "</section>\n";

  html += "<section id=\"calibration\">\n<h2>Accuracy against calibration-set size</h2>\n";
  if (report.models.empty()) html += "<p class=\"no-data\">No models in this report.</p>\n";
  for (size_t m = 0; m < report.models.size(); ++m) html += Figure(internal::CalibrationPlot(report, m));
  html += "</section>\n";

  html +=
      "<section id=\"experiments\">\n<h2>Experiments</h2>\n<p class=\"note\">Δ top-1: the quantized model's "
      "top-1 minus the float model's, in percentage points, with its paired bootstrap interval (red: the "
      "whole interval is below zero). McNemar's p tests whether the two models differ; lost and gained count "
      "the samples only the float or only the quantized model got right.</p>\n";
  const std::vector<internal::ExperimentGroup> groups = internal::GroupCells(report);
  if (groups.empty()) html += "<p class=\"no-data\">No cells were run.</p>\n";
  for (size_t g = 0; g < groups.size(); ++g) {
    html += "<h3>" + HtmlEscape(groups[g].name) + "</h3>\n";
    if (!groups[g].purpose.empty()) html += "<p>" + HtmlEscape(groups[g].purpose) + "</p>\n";
    html += Table(internal::CellsTable(report, groups[g]), "experiment-table-" + std::to_string(g));
  }
  html += "</section>\n";

  html += "<section id=\"costs\">\n<h2>Size and speed</h2>\n" + Table(internal::CostsTable(report), "costs-table") +
          "<p class=\"note\">Speed-up: float time over quantized time per sample, the median repeat with the lowest "
          "and highest repeat ratios.</p>\n</section>\n";

  html += "<section id=\"layers\">\n<h2>Per-layer diagnosis</h2>\n";
  if (report.diagnoses.empty()) html += "<p class=\"no-data\">The per-layer debugger did not run.</p>\n";
  for (size_t d = 0; d < report.diagnoses.size(); ++d) {
    const audit::LayerDiagnosis& diagnosis = report.diagnoses[d];
    html += "<h3>" + HtmlEscape(internal::DiagnosisTitle(diagnosis)) + "</h3>\n<p class=\"note\">" +
            HtmlEscape(internal::DiagnosisSubtitle(diagnosis)) + "</p>\n";
    html += Figure(internal::LayerErrorPlot(diagnosis, d));
    html += Figure(internal::SaturationPlot(diagnosis, d));
    // Long layer lists stay folded so that the plots above carry the page.
    html += diagnosis.layers.size() <= 30 ? "<details open>" : "<details>";
    html += "<summary>Every compared tensor (" + std::to_string(diagnosis.layers.size()) + ")</summary>\n" +
            Table(internal::LayersTable(diagnosis), "layers-table-" + std::to_string(d)) + "</details>\n";
    const debug::SelectiveResult& s = diagnosis.selective;
    html +=
        "<h4>Selective quantization</h4>\n<p>Layers kept in float, worst rmse/scale first, until the upper bound "
        "of the top-1 drop is within " +
        HtmlEscape(internal::Significant(diagnosis.max_drop * 100, 3)) + " pp of the float model (" +
        HtmlEscape(internal::Percent(s.float_top1)) + ", " + HtmlEscape(internal::Bytes(s.float_model_bytes)) + ", " +
        HtmlEscape(internal::Milliseconds(s.float_ms_per_sample)) + " per sample): <strong>" +
        (s.reached ? "reached" : "not reached") + "</strong>.</p>\n";
    html += Table(internal::SelectiveTable(diagnosis), "selective-table-" + std::to_string(d));
  }
  html += "</section>\n";

  html += "<footer>qaudit " + HtmlEscape(report.qaudit_version) + " · " + HtmlEscape(report.created) +
          " · every number in this page is also in report.json</footer>\n</main>\n</body>\n</html>\n";
  return html;
}

}  // namespace qaudit::report
