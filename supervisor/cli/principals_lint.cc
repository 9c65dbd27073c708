#include "supervisor/cli/principals_lint.h"

#include <algorithm>
#include <string>

namespace cordon {
namespace {

using seccomp::audit::Finding;
using seccomp::audit::Severity;

bool Has(const std::vector<std::string>& v, const std::string& x) { return std::ranges::find(v, x) != v.end(); }

std::string Join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

std::vector<Finding> LintPrincipals(const daemon::Principals& p) {
  std::vector<Finding> out;
  for (const auto& [name, role] : p.roles) {
    auto it = std::ranges::find(role.classes, std::string("privileged"));
    if (it == role.classes.end()) continue;
    // The policies on which the class is usable: policy_classes may take it away per policy.
    std::vector<std::string> on;
    for (const auto& pol : role.policies) {
      auto pc = p.policy_classes.find(pol);
      if (pol == "*" || pc == p.policy_classes.end() || Has(pc->second, "privileged")) on.push_back(pol);
    }
    if (on.empty()) continue;
    std::vector<std::string> holders;
    for (const auto& pr : p.principals) {
      if (Has(pr.roles, name)) holders.push_back(pr.name);
    }
    const std::string path = "roles." + name + ".classes[" + std::to_string(it - role.classes.begin()) + "]";
    const std::string where = Has(on, "*") ? "every policy" : "policies " + Join(on);
    Finding f;
    f.rule = "principals/privileged-without-approval";
    f.path = path;
    if (holders.empty()) {
      f.severity = Severity::kLow;
      f.message = "role '" + name + "' grants the privileged class on " + where +
                  " with no approval; no principal holds the role yet, but whoever is given it may start "
                  "privileged tasks alone: Cordon does not enforce approvals yet (approval_required_for is "
                  "not implemented)";
    } else {
      f.severity = Severity::kHigh;
      f.message = "role '" + name + "' grants the privileged class on " + where + " to " + Join(holders) +
                  " with no approval: Cordon does not enforce approvals yet (approval_required_for is not "
                  "implemented), so each of them may start privileged tasks alone, with nobody else signing off";
    }
    f.fix = "restrict privileged to principals that are host administrators already (they could run the task "
            "as root anyway): drop it from other roles, or leave it out of a policy with policy_classes";
    out.push_back(std::move(f));
  }
  seccomp::audit::SortFindings(&out);
  return out;
}

}  // namespace cordon
