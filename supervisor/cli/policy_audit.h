// supervisor/cli/policy_audit.h: `cordon policy lint|diff`, the static review of task policies
// (docs/seccomp.md "For security teams").
#pragma once

namespace cordon {

// argv starts after "policy". Exit codes: 0 clean/same, 1 findings at or above --fail-on / the
// policies differ, 125 bad input.
int CmdPolicyAudit(int argc, char** argv, const char* data_dir);

}  // namespace cordon
