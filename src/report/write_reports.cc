#include <filesystem>
#include <string>
#include <system_error>

#include "core/file_io.h"
#include "qaudit/report.h"

namespace qaudit::report {

Status WriteReports(const audit::AuditReport& report, const std::string& directory) {
  std::error_code ec;
  std::filesystem::create_directories(directory, ec);
  if (ec) return Status::IOError(directory + ": cannot create the report directory: " + ec.message());
  if (!std::filesystem::is_directory(directory, ec)) return Status::IOError(directory + ": not a directory");
  // Rendered before anything is written, so a report set is never part old, part new
  // because a writer failed half-way.
  const std::pair<const char*, std::string> files[] = {
      {"report.json", ReportJson(report)},
      {"report.md", ReportMarkdown(report)},
      {"report.html", ReportHtml(report)},
  };
  for (const auto& [name, text] : files) {
    const std::string path = (std::filesystem::path(directory) / name).string();
    QAUDIT_RETURN_IF_ERROR(WriteFileAtomically(path, {{text.data(), text.size()}}));
  }
  return Status::Ok();
}

}  // namespace qaudit::report
