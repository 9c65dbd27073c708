// supervisor/seccomp/audit/finding.h: one lint finding, its severity, and the three renderings
// (text for people, JSON for scripts, SARIF 2.1.0 for code-scanning dashboards).
//
// Supervisor side only, pure. Shared by `cordon seccomp lint` and `cordon policy lint`.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace cordon::seccomp::audit {

enum class Severity { kInfo, kLow, kMedium, kHigh, kCritical };
std::string_view SeverityName(Severity s);  // "info" … "critical"
// "info|low|medium|high|critical" -> Severity; nullopt otherwise.
std::optional<Severity> ParseSeverity(std::string_view s);

struct Finding {
  std::string rule;      // stable check id, e.g. "dangerous-allow/namespaces"
  Severity severity = Severity::kInfo;
  std::string path;      // JSON path in the profile/policy, e.g. "syscalls[12]" or "defaultAction"
  std::string syscall;   // the syscall concerned, or empty
  std::string message;   // what is wrong and why it matters
  std::string fix;       // what to change
};

// Most severe first, then by path; stable.
void SortFindings(std::vector<Finding>* f);

// "high  syscalls[3] (ptrace): ...\n      fix: ...\n" per finding, then a count line.
std::string RenderText(const std::string& source, const std::vector<Finding>& f);
// {"source":..., "findings":[{rule, severity, path, syscall, message, fix}], "counts":{...}}
std::string RenderJson(const std::string& source, const std::vector<Finding>& f);
// A SARIF 2.1.0 log with one run: tool cordon, one reportingDescriptor per rule id, one result
// per finding, located by artifact `uri` and the JSON path as a logical location.
std::string RenderSarif(const std::string& uri, const std::string& tool_name, const std::vector<Finding>& f);

// True when some finding is at least `threshold`.
bool AnyAtLeast(const std::vector<Finding>& f, Severity threshold);

}  // namespace cordon::seccomp::audit
