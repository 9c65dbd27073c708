// supervisor/cli/retry_exit.h: the retry verdicts' exit codes and names that submit, wait and the
// session commands share. Their own file so that the lean client (cli/lean/) links them without the
// session commands.
#pragma once

#include "proto/cordon.pb.h"

namespace cordon::cli {

// `--retry-exit-codes`: 0, or 75 (later), 76 (once after repair), 77 (never).
int RetryExitCode(::cordon::api::v1::RetryVerdict v);
const char* RetryVerdictName(::cordon::api::v1::RetryVerdict v);

}  // namespace cordon::cli
