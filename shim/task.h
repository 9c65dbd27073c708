// shim/task.h: the task process (PID 2) between clone and execve.
#pragma once

#include <cstdint>
#include <vector>

#include "common/protocol.h"

namespace cordon::shim {

// Shared (MAP_SHARED) between PID 1 and the task process: the task reports a failed step here, with
// plain memory stores, because after the seccomp filter is loaded it must make no system call but
// execve (the profile may deny everything else).
struct TaskReport {
  proto::ErrorRecord error;  // error.step != kNone when a step failed
  volatile int32_t reached_exec = 0;
};

struct TaskArgs {
  const proto::LaunchSpec* spec = nullptr;
  std::vector<int> fds;  // stdin, stdout, stderr, bound fds: moved to 0..N
  const std::vector<uint8_t>* bpf = nullptr;
  TaskReport* report = nullptr;
  // Prebuilt before the clone so that the task allocates nothing after it (sandbox2's rule).
  std::vector<char*> argv, envp;
  const char* path_env = nullptr;  // value of PATH in envp, for the command lookup
};

// Steps kStdioFds..kExec. Runs in a child cloned with CLONE_VFORK|CLONE_FILES: it shares PID 1's
// fd table until execve, so PID 1 keeps any fd the task creates before exec (the seccomp listener).
[[noreturn]] void RunTask(const TaskArgs& args);

}  // namespace cordon::shim
