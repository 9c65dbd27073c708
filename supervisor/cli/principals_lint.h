// supervisor/cli/principals_lint.h: `cordon policy lint --principals FILE`, the review of cordond's
// principals.json (docs/daemon.md): which principals may start tasks in the `privileged` admission
// class without anyone approving them.
//
// Supervisor side only, pure. Lives with the CLI because it joins the daemon's principals parser
// (daemon/config.h) with the audit kit's findings (seccomp/audit/finding.h).
#pragma once

#include <vector>

#include "supervisor/daemon/config.h"
#include "supervisor/seccomp/audit/finding.h"

namespace cordon {

// One finding per role that grants `privileged` on some policy (its `policies`, less the policies
// whose `policy_classes` entry leaves privileged out), located at roles.NAME.classes[i]: high when a
// principal holds the role, low when none does yet. Cordon has no approval step, so every such
// grant is unapproved.
std::vector<seccomp::audit::Finding> LintPrincipals(const daemon::Principals& p);

}  // namespace cordon
