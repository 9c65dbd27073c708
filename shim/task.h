// shim/task.h: the task process (PID 2) between clone and execve.
#pragma once

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
  volatile int32_t withdrawn = 0;     // pooled: the start socket closed before a task came
  volatile uint64_t started_ns = 0;   // pooled: when the task part arrived
};

struct TaskArgs {
  proto::LaunchSpec* spec = nullptr;  // pooled: argv, envp and cwd arrive at await-task
  std::vector<int> fds;  // stdin, stdout, stderr, bound fds: moved to 0..N
  const std::vector<uint8_t>* bpf = nullptr;
  TaskReport* report = nullptr;
  // Cold: prebuilt before the clone, so that the task allocates nothing after it (sandbox2's
  // rule). Pooled: built at await-task, before the filter (see RunTask).
  std::vector<char*> argv, envp;
  const char* path_env = nullptr;  // value of PATH in envp, for the command lookup
  std::vector<int> handled_signals;  // PID 1's handlers, reset to SIG_DFL in the task
  bool bounding_empty = false;       // PID 1 emptied its bounding set before the clone (see ForkTask)
  int go_fd = -1;                    // held start (kStartHold): wait for kGo here before the filter
  int start_fd = -1;                 // pooled: the start socket, where kStart or kStartHold arrives
  int sync_fd = -1;                  // pooled: PID 1's socket to the outer shim, for kReady
  uint64_t exec_stamp_ns = 0;        // the exec step's stamp, when it must be taken before the filter
};

// The task process's steps, kStdioFds to kExec in SetupStep order (kTaskSteps in task.cc). Runs in a child
// cloned with CLONE_VM|CLONE_VFORK|CLONE_FILES: it shares PID 1's memory and fd table until
// execve, so PID 1 keeps any fd the task creates before exec (the seccomp listener).
// A cold task allocates nothing: everything it uses is prepared in TaskArgs.
// A pooled task (start_fd set) is cloned before its request: it drops its privileges, then waits at
// await-task for its argv, envp, cwd and stdio, so that only fd placement, chdir, the filter and
// execve are left after the request. It allocates while it decodes them, before its filter; PID 1
// is single-threaded and suspended in clone() meanwhile, so no allocator lock can be held.
[[noreturn]] void RunTask(TaskArgs& args);

// Fills args->argv, envp and path_env from args->spec (pointers into its strings).
void BuildExecArgs(TaskArgs* args);

}  // namespace cordon::shim
