// The audit's reports, written from the result model (qaudit/audit.h): report.json (every
// number, the plan, seeds, data hashes and versions: a reproducibility manifest),
// report.md, and a self-contained report.html with inline SVG plots.
#ifndef QAUDIT_REPORT_H_
#define QAUDIT_REPORT_H_

#include <string>

#include "qaudit/audit.h"
#include "qaudit/status.h"

namespace qaudit::report {

std::string ReportJson(const audit::AuditReport& report);
std::string ReportMarkdown(const audit::AuditReport& report);
// One file, no external resources: styles inline, plots as inline SVG (accuracy against
// calibration-set size per method with interval bands, per-layer error bars, the claims
// table with verdict colours).
std::string ReportHtml(const audit::AuditReport& report);

// Writes report.json, report.md and report.html into `directory` (created if missing),
// each through a temporary file and a rename, so no report is left half-written.
Status WriteReports(const audit::AuditReport& report, const std::string& directory);

}  // namespace qaudit::report

#endif  // QAUDIT_REPORT_H_
