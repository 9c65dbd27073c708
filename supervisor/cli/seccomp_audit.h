// supervisor/cli/seccomp_audit.h: the audit commands of `cordon seccomp` for security teams:
// lint, explain, diff (docs/seccomp.md "For security teams").
#pragma once

#include <string_view>

namespace cordon {

// True for the subcommands CmdSeccompAudit handles.
bool IsSeccompAuditCommand(std::string_view sub);
// argv starts after the subcommand name. Returns the process exit code: 0 clean, 1 findings at or
// above --fail-on (lint) / the profiles differ (diff), 125 on bad input.
int CmdSeccompAudit(std::string_view sub, int argc, char** argv, const char* data_dir);

// `cordon seccomp record …` (seccomp_record.cc); argv starts after "record".
int CmdSeccompRecord(int argc, char** argv, const char* data_dir);

}  // namespace cordon
