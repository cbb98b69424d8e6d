// report.md: the report for people who read it in a terminal, an editor or a code host.
#include <string>

#include "qaudit/report.h"
#include "report/format.h"

namespace qaudit::report {
namespace {

using internal::MarkdownEscape;

std::string CellText(const internal::TableCell& cell) {
  std::string text = MarkdownEscape(cell.text);
  if (text.empty()) return MarkdownEscape(cell.detail);
  if (!cell.href.empty()) {
    // A URL that IsWebUrl accepted has no spaces or brackets that would end the link;
    // parentheses are percent-encoded so that they do not either.
    std::string url;
    for (char c : cell.href) url += c == '(' ? "%28" : c == ')' ? "%29" : std::string(1, c);
    text = "[" + text + "](" + url + ")";
  }
  if (cell.strong) text = "**" + text + "**";
  if (!cell.detail.empty()) text += " (" + MarkdownEscape(cell.detail) + ")";
  return text;
}

std::string Table(const internal::Table& t) {
  if (t.rows.empty()) return "_None._\n\n";
  std::string out = "|";
  for (const std::string& h : t.header) {
    out += ' ';
    out += MarkdownEscape(h);
    out += " |";
  }
  out += "\n|";
  for (size_t c = 0; c < t.header.size(); ++c) out += c < t.numeric.size() && t.numeric[c] ? "---:|" : "---|";
  out += "\n";
  for (const auto& row : t.rows) {
    out += "|";
    for (const internal::TableCell& cell : row) {
      out += ' ';
      out += CellText(cell);
      out += " |";
    }
    out += "\n";
  }
  return out + "\n";
}

std::string Paragraph(const std::string& text) { return MarkdownEscape(text) + "\n\n"; }

}  // namespace

std::string ReportMarkdown(const audit::AuditReport& report) {
  std::string md = "# qaudit quantization audit\n\n";
  md += "qaudit " + MarkdownEscape(report.qaudit_version) + ", " + MarkdownEscape(report.created) + ", " +
        internal::Significant(report.seconds, 3) + " s";
  if (!report.machine.empty()) md += ", on " + MarkdownEscape(report.machine);
  md += ".  \n";
  if (!report.command.empty()) {
    // A code span cannot escape a backtick; a longer fence around it can hold one.
    const bool tick = report.command.find('`') != std::string::npos;
    std::string command = report.command;
    for (char& c : command) c = c == '\n' || c == '\r' ? ' ' : c;
    md += std::string("Command: ") + (tick ? "`` " : "`") + command + (tick ? " ``" : "`") + "  \n";
  }
  md += "int8 over fp32 multiply-accumulate throughput of one core, measured: " + internal::HardwareRates(report.hardware) +
        "\n\n";

  md += "## Models\n\n" + Table(internal::ModelsTable(report));
  md += "## Data\n\n" + Table(internal::DataTable(report));
  md += "## Plan\n\n";
  for (const std::string& line : internal::PlanSummary(report.plan)) md += "- " + MarkdownEscape(line) + "\n";
  md += "\n";

  md += "## Claims\n\n" + Paragraph(internal::VerdictCounts(report) + ".") + Table(internal::ClaimsTable(report));

  md += "## Findings\n\n";
  if (report.findings.empty()) md += "_None._\n";
  for (size_t i = 0; i < report.findings.size(); ++i) {
    md += std::to_string(i + 1) + ". " + MarkdownEscape(report.findings[i]) + "\n";
  }
  md += "\n";

  md += "## Experiments\n\n";
  const std::vector<internal::ExperimentGroup> groups = internal::GroupCells(report);
  if (groups.empty()) md += "_No cells were run._\n\n";
  for (const internal::ExperimentGroup& g : groups) {
    md += "### " + MarkdownEscape(g.name) + "\n\n";
    if (!g.purpose.empty()) md += Paragraph(g.purpose);
    md += Table(internal::CellsTable(report, g));
  }
  md +=
      "Δ top-1 is the quantized model's top-1 minus the float model's, in percentage points, with its paired "
      "bootstrap interval; McNemar's p tests whether the two differ (lost: samples only the float model got "
      "right; gained: the reverse).\n\n";

  md += "## Size and speed\n\n" + Table(internal::CostsTable(report));
  md +=
      "Speed-up is float time over quantized time per sample: the median repeat, with the lowest and highest "
      "repeat ratios.\n\n";

  md += "## Per-layer diagnosis\n\n";
  if (report.diagnoses.empty()) md += "_The per-layer debugger did not run._\n\n";
  for (const audit::LayerDiagnosis& d : report.diagnoses) {
    md += "### " + MarkdownEscape(internal::DiagnosisTitle(d)) + "\n\n" + Paragraph(internal::DiagnosisSubtitle(d));
    md += Table(internal::LayersTable(d));
    const debug::SelectiveResult& s = d.selective;
    md += "#### Selective quantization\n\n";
    md += Paragraph("Layers kept in float, worst rmse/scale first, until the top-1 drop's upper bound is within " +
                    internal::Significant(d.max_drop * 100, 3) + " pp of the float model (" +
                    internal::Percent(s.float_top1) + ", " + internal::Bytes(s.float_model_bytes) + ", " +
                    internal::Milliseconds(s.float_ms_per_sample) +
                    " per sample): " + (s.reached ? "reached." : "not reached."));
    md += Table(internal::SelectiveTable(d));
  }
  return md;
}

}  // namespace qaudit::report
