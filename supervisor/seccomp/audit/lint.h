// supervisor/seccomp/audit/lint.h: `cordon seccomp lint`, the checks a security reviewer makes on a
// seccomp profile, as findings with a severity, the JSON path that decides and a fix.
//
// Supervisor side only, pure. Works on a loaded Profile (profile.h): includes/excludes already
// resolved for the Context it was loaded with (Cordon's: no capabilities, this kernel), so a
// finding says what a task under that context can do. The loader's warnings (duplicate, shadowed,
// conflicting rules, unknown names, ignored errnoRet) become findings too.
#pragma once

#include <vector>

#include "supervisor/seccomp/audit/finding.h"
#include "supervisor/seccomp/profile.h"

namespace cordon::seccomp::audit {

// Every check, in a fixed order; see docs/seccomp.md "For security teams" for the list.
std::vector<Finding> LintProfile(const Profile& p);

}  // namespace cordon::seccomp::audit
