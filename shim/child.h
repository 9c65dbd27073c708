// shim/child.h: the child of clone3(), PID 1 of the sandbox's PID namespace.
#pragma once

#include <cstdint>
#include <vector>

#include "common/protocol.h"

namespace cordon::shim {

struct ChildArgs {
  proto::LaunchSpec* spec = nullptr;  // pooled: argv, envp and cwd are filled in by kStart
  int sync_fd = -1;                   // SEQPACKET to the outer shim (child's end)
  int start_fd = -1;                  // pooled: SEQPACKET to the supervisor, kStart arrives on it
  std::vector<int> task_fds;          // stdin, stdout, stderr, then bound fds, in target order
  const std::vector<uint8_t>* bpf = nullptr;  // sock_filter array, installed last before exec
  uint64_t boot_floor_s = 0;  // whole seconds of CLOCK_BOOTTIME before clone3: the sandbox's uptime 0
};

// Runs the setup checklist (docs/setup-sequence.md), starts the task as PID 2, then stays as the
// sandbox's init: reaps every process, forwards SIGTERM/SIGINT/SIGHUP/SIGQUIT/SIGUSR1/SIGUSR2 to the
// task, and exits as soon as the task does — which makes the kernel kill whatever else is left in
// the PID namespace. Reports kExecOk/kError/kExit records on sync_fd. Never returns.
[[noreturn]] void RunChild(const ChildArgs& args);

}  // namespace cordon::shim
