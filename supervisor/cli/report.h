// supervisor/cli/report.h: how every `cordon` subcommand reports a failure. The cause on one line,
// then what to do on a `hint:` line, on stderr; the return value is the exit code the command
// documents (125 for Cordon's own failure unless the command says otherwise). One printer, so that
// every command's errors look alike and no command shadows `cordon::Fail` (common/result.h).
#pragma once

#include <string_view>

#include "common/result.h"
#include "common/setup_step.h"

namespace cordon::cli {

// `who` prefixes both lines ("cordon", "cordon evidence").
int ReportFailure(std::string_view msg, std::string_view hint = {}, int exit_code = kExitCordonFailure,
                  std::string_view who = "cordon");
inline int ReportFailure(const Error& e, int exit_code = kExitCordonFailure, std::string_view who = "cordon") {
  return ReportFailure(e.Message(), e.hint, exit_code, who);
}

}  // namespace cordon::cli
