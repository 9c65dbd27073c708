// supervisor/cli/session.h: `cordon session list|show|mark|budget` and `cordon envelope`
// (docs/governance.md), and the retry verdicts' exit codes shared with submit and wait.
#pragma once

#include "proto/cordon.pb.h"

namespace cordon::cli {

// True for "session" and "envelope".
bool IsSessionCommand(const char* cmd);
// argv[0] is the first argument after the command.
int RunSessionCommand(const char* cmd, int argc, char** argv);

// `--retry-exit-codes`: 0, or 75 (later), 76 (once after repair), 77 (never).
int RetryExitCode(::cordon::api::v1::RetryVerdict v);
const char* RetryVerdictName(::cordon::api::v1::RetryVerdict v);

}  // namespace cordon::cli
