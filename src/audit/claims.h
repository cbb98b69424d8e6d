// The claims registry (claims/claims.json, compiled into the library) and the verdicts.
#ifndef QAUDIT_SRC_AUDIT_CLAIMS_H_
#define QAUDIT_SRC_AUDIT_CLAIMS_H_

#include <map>
#include <string>
#include <vector>

#include "core/json.h"
#include "qaudit/audit.h"

namespace qaudit::audit {

struct ClaimDefinition {
  std::string id, claim, source, condition;
  JsonValue check;  // {"kind": ..., parameters}
};

// The registry as built into the library.
Result<std::vector<ClaimDefinition>> BuiltInClaims();
Result<std::vector<ClaimDefinition>> ParseClaims(const std::string& json_text);

// Which samples each cell got right, by CellKey: paired comparisons between cells need them.
using Correctness = std::map<std::string, std::vector<uint8_t>>;
std::string CellKey(const std::string& model, const std::string& method, const std::string& calibration,
                    const std::string& variant, const std::string& numerics);

// One verdict per claim, model and setting the report holds data for; claims whose data
// the plan did not produce get kNotTested with the reason.
std::vector<ClaimVerdict> JudgeClaims(const std::vector<ClaimDefinition>& claims, const AuditReport& report,
                                      const Correctness& correctness);

// Plain-language findings from a judged report, most important first: per experiment the
// largest significant drop and how the alternatives fared in the same setting, the
// clamped-input control, speed against the hardware ratio, the debugger's worst layers.
std::vector<std::string> Findings(const AuditReport& report);

}  // namespace qaudit::audit

#endif  // QAUDIT_SRC_AUDIT_CLAIMS_H_
