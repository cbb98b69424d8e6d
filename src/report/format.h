// What the report writers share: number formatting for people, escaping, and the report's
// tables built once as plain data, so that report.md and report.html show the same rows.
#ifndef QAUDIT_SRC_REPORT_FORMAT_H_
#define QAUDIT_SRC_REPORT_FORMAT_H_

#include <cstdint>
#include <string>
#include <vector>

#include "qaudit/audit.h"
#include "qaudit/stats.h"

namespace qaudit::report::internal {

// Shown wherever a number is absent or not finite.
inline constexpr const char* kMissing = "—";

// 0.87451 -> "87.45%".
std::string Percent(double fraction);
// A difference of two fractions in percentage points: 0.0012 -> "+0.12 pp", -0.0034 ->
// "-0.34 pp"; anything that rounds to zero is "0.00 pp" (no "-0.00").
std::string Points(double fraction);
// "+0.12 pp [-0.30, +0.55]".
std::string PointsInterval(const stats::Interval& interval);
// Three significant digits: "0.0386", "1.00", "2.47e-07".
std::string PValue(double p);
// "32.1 dB", "∞ dB" for identical outputs.
std::string Decibels(double db);
// Decimal units: "812 B", "14.3 kB", "3.47 MB".
std::string Bytes(int64_t bytes);
// Three significant digits at most, in milliseconds: "12.3 ms", "0.0421 ms".
std::string Milliseconds(double ms);
// A ratio: "3.98×"; with an interval "2.10× [1.95, 2.30]".
std::string Times(double ratio);
std::string TimesInterval(const stats::Interval& interval);
// "4.00× (int8 234 G MAC/s by AVX-512 VNNI, fp32 58.6 G MAC/s by AVX-512 FMA)"; "—" when
// the rates were not measured.
std::string HardwareRates(const PeakRates& rates);
// A share that is often tiny (saturation, out-of-range values): "0", "<0.01%", "1.25%".
std::string Share(double fraction);
// A plain number with `digits` significant digits, never in exponent form below 1e6.
std::string Significant(double value, int digits);

std::string HtmlEscape(const std::string& text);
// For a Markdown table cell: pipes escaped, line breaks flattened, angle brackets as
// entities (renderers pass raw HTML through).
std::string MarkdownEscape(const std::string& text);
// http(s) URLs only: anything else in a claim's source is shown, never linked.
bool IsWebUrl(const std::string& text);
// "https://www.tensorflow.org/lite/x" -> "www.tensorflow.org/lite/x", cut to `max_chars`.
std::string UrlForDisplay(const std::string& url, size_t max_chars = 48);

// A calibration label that is a plain size ("500") or "all": the cells of a
// calibration-size sweep.
bool IsPlainCalibrationSize(const std::string& label);

// ---------------------------------------------------------------------------------------
// Tables

struct TableCell {
  std::string text;
  std::string detail;   // a second, quieter line (HTML) or a parenthesis (Markdown)
  std::string href;     // a link when non-empty (already checked by IsWebUrl)
  std::string style;    // a CSS class in HTML (e.g. "verdict-fails"); ignored in Markdown
  bool strong = false;  // bold in both
};

struct Table {
  std::vector<std::string> header;
  std::vector<bool> numeric;  // per column: right-aligned, tabular figures
  std::vector<std::vector<TableCell>> rows;
  std::vector<std::string> row_styles;  // per row, a CSS class ("" for none)
};

Table ModelsTable(const audit::AuditReport& report);
Table DataTable(const audit::AuditReport& report);
Table ClaimsTable(const audit::AuditReport& report);
Table CostsTable(const audit::AuditReport& report);
Table LayersTable(const audit::LayerDiagnosis& diagnosis);
Table SelectiveTable(const audit::LayerDiagnosis& diagnosis);

// The cells of one experiment, in report order.
struct ExperimentGroup {
  std::string name;
  std::string purpose;  // from the plan; "" when the plan does not name the experiment
  std::vector<size_t> cells;
};
// Experiments in plan order, then any that only the cells name, in order of appearance;
// experiments without cells are left out.
std::vector<ExperimentGroup> GroupCells(const audit::AuditReport& report);
Table CellsTable(const audit::AuditReport& report, const ExperimentGroup& group);

// The plan in a few lines of plain text ("seed 1", "5 experiments: ...").
std::vector<std::string> PlanSummary(const audit::Plan& plan);

// "3 hold, 1 fails, 2 inconclusive, 1 not tested" (kinds with no claims left out).
std::string VerdictCounts(const audit::AuditReport& report);
// The CSS class of a verdict: "verdict-holds", "verdict-fails", ...
std::string VerdictStyle(audit::Verdict verdict);

// Headings of a diagnosis: "cnn — int8/minmax".
std::string DiagnosisTitle(const audit::LayerDiagnosis& diagnosis);
// "calibration 500, deployment clean; selective budget 1.00 pp".
std::string DiagnosisSubtitle(const audit::LayerDiagnosis& diagnosis);

}  // namespace qaudit::report::internal

#endif  // QAUDIT_SRC_REPORT_FORMAT_H_
