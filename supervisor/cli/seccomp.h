// supervisor/cli/seccomp.h: `cordon seccomp …`, for people who read, review and test profiles.
#pragma once

namespace cordon {

// argv starts after "seccomp". Returns the process exit code.
int CmdSeccomp(int argc, char** argv, const char* data_dir);

}  // namespace cordon
