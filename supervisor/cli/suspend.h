// supervisor/cli/suspend.h: `cordon suspensions` and `cordon resume` (docs/incident-response.md
// "Auto-suspend").
#pragma once

#include <string>

namespace cordon::cli {

// `cmd` is "suspensions" or "resume"; argv[0] is the first argument after it.
int RunSuspendCommand(const std::string& cmd, int argc, char** argv);

}  // namespace cordon::cli
