// supervisor/cli/client.h: the `cordon` subcommands that talk to cordond: submit, ps, status,
// wait, cancel, evidence (docs/daemon.md). Kept out of the `cordon run` path: main() calls in here
// only for these commands, and nothing here runs at static-initialisation time.
#pragma once

#include <string>

namespace cordon {

// True when `cmd` is one of the client subcommands.
bool IsClientCommand(const std::string& cmd);

// Runs client subcommand `cmd` with its own arguments (argv[0] is the first argument after the
// command) and returns the process exit code.
int RunClientCommand(const std::string& cmd, int argc, char** argv);

}  // namespace cordon
