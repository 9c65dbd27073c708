// shim/task.h: the task process (PID 2) between clone and execve.
#pragma once

#include <sys/capability.h>

#include <cstdint>
#include <vector>

#include "common/protocol.h"

namespace cordon::shim {

// Lives in PID 1's memory, which the task shares until execve: the task reports a failed step here,
// with plain memory stores, because after the seccomp filter is loaded it must make no system call but
// execve (the profile may deny everything else).
struct TaskReport {
  proto::ErrorRecord error;  // error.step != kNone when a step failed
  volatile int32_t reached_exec = 0;
  volatile int32_t listener_fd = -1;  // seccomp user-notification fd, in PID 1's (shared) fd table
};

struct TaskArgs {
  const proto::LaunchSpec* spec = nullptr;
  std::vector<int> fds;  // stdin, stdout, stderr, bound fds: moved to 0..N
  const std::vector<uint8_t>* bpf = nullptr;
  TaskReport* report = nullptr;
  // Prebuilt before the clone so that the task allocates nothing after it (sandbox2's rule).
  std::vector<char*> argv, envp;
  const char* path_env = nullptr;  // value of PATH in envp, for the command lookup
  std::vector<int> handled_signals;  // PID 1's handlers, reset to SIG_DFL in the task
  cap_t empty_caps = nullptr;        // cap_init() result, made by PID 1 (the task must not malloc)
  int go_fd = -1;                    // held start (kStartHold): wait for kGo here before the filter
};

// Steps kStdioFds..kExec. Runs in a child cloned with CLONE_VM|CLONE_VFORK|CLONE_FILES: it shares
// PID 1's memory and fd table until execve, so PID 1 keeps any fd the task creates before exec (the
// seccomp listener). It must not allocate: everything it uses is prepared in TaskArgs.
[[noreturn]] void RunTask(const TaskArgs& args);

}  // namespace cordon::shim
