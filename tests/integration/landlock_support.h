// tests/integration/landlock_support.h: `cordon` run on a host whose user namespaces are taken
// away, for the landlock-mode tests (docs/landlock.md). tests/helpers/take_userns_away does it the
// ways real hosts do (as no_userns_test.cc uses it): "sysctl", user.max_user_namespaces = 0 inside
// a user namespace (the caller becomes uid 1000 there, so no cgroup of the host is ours), or
// "seccomp", a container runtime's seccomp answer (the caller keeps its uid: a rootful run stays
// rootful and gets a cgroup).
#pragma once

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "tests/support/run.h"

namespace cordon::test {

// take_userns_away MODE build/bin/cordon ARGS...
inline std::vector<std::string> WithoutUsernsArgv(const std::string& mode, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {BuildPath("tests/helpers/take_userns_away"), mode, BuildPath("bin/cordon")};
  argv.insert(argv.end(), args.begin(), args.end());
  return argv;
}

inline RunResult WithoutUserns(const std::string& mode, const std::vector<std::string>& args, const RunOptions& o = {}) {
  return RunProgram(WithoutUsernsArgv(mode, args), o);
}

// The helper exits 126 with "take_userns_away: ..." when the host will not let it set up: a skip.
#define SKIP_IF_HELPER_REFUSED(r)                                                                    \
  do {                                                                                               \
    if ((r).exit_code == 126 && (r).err.rfind("take_userns_away:", 0) == 0) GTEST_SKIP() << (r).err; \
  } while (0)

}  // namespace cordon::test
