// supervisor/cli/evidence_log.h: `cordon evidence verify|export|checkpoint|prove` (docs/evidence.md), the
// offline side of the tamper-evident evidence log. `cordon evidence ID` (a task's record from
// cordond) stays with the daemon client.
#pragma once

namespace cordon {

// True for the subcommands this file handles.
bool IsEvidenceLogCommand(const char* sub);
// argv[0] is the subcommand. Exit status as documented in kEvidenceUsage.
int CmdEvidenceLog(int argc, char** argv);

}  // namespace cordon
