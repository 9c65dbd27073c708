// supervisor/seccomp/audit/policy_lint.h: `cordon policy lint` and `cordon policy diff`, the static
// review of task policies (docs/policy.md) that a security team runs before shipping one.
//
// Supervisor side only, pure: the caller reads the files, parses the policy (ParsePolicy) and loads
// its seccomp profile; these functions only look.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "supervisor/policy.h"
#include "supervisor/seccomp/audit/diff.h"
#include "supervisor/seccomp/audit/finding.h"
#include "supervisor/seccomp/profile.h"

namespace cordon::seccomp::audit {

// Findings about `policy` (parsed) and `raw_json` (its text, searched for literal secrets).
// `profile` is the policy's seccomp profile, loaded; its lint findings are included with their
// paths prefixed "seccomp_profile: ".
std::vector<Finding> LintPolicy(const Policy& policy, std::string_view raw_json, const Profile* profile);

// One thing a new policy version grants or takes away.
struct PolicyChange {
  std::string path;   // "bindings.data", "outbound.allow", "limits.memory_bytes", "seccomp_profile"
  std::string was, now;
  std::string kind;   // "grants", "takes away", "changes"
};
// `seccomp` is DiffProfiles() of the two policies' profiles (empty when they are the same).
std::vector<PolicyChange> DiffPolicies(const Policy& a, const Policy& b, const std::vector<Change>& seccomp);
std::string RenderPolicyDiffText(const std::string& a, const std::string& b, const std::vector<PolicyChange>& c);
std::string RenderPolicyDiffJson(const std::string& a, const std::string& b, const std::vector<PolicyChange>& c);

}  // namespace cordon::seccomp::audit
