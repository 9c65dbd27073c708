// supervisor/cli/session.h: `cordon session list|show|mark|budget` and `cordon envelope`
// (docs/governance.md), and the retry verdicts' exit codes shared with submit and wait.
#pragma once

#include "proto/cordon.pb.h"
#include "supervisor/cli/retry_exit.h"  // RetryExitCode, RetryVerdictName

namespace cordon::cli {

// True for "session" and "envelope".
bool IsSessionCommand(const char* cmd);
// argv[0] is the first argument after the command.
int RunSessionCommand(const char* cmd, int argc, char** argv);

}  // namespace cordon::cli
