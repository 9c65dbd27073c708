// supervisor/cli/governance.h: the operator's `cordon` subcommands for cordond's governance
// (docs/incident-response.md): freeze, thaw, kill, freezes.
#pragma once

#include <string>

namespace cordon {

// True when `cmd` is one of the governance subcommands.
bool IsGovernanceCommand(const std::string& cmd);

// Runs governance subcommand `cmd`; argv[0] is the first argument after it. Returns the exit code.
int RunGovernanceCommand(const std::string& cmd, int argc, char** argv);

}  // namespace cordon
