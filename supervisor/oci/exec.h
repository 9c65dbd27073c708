// supervisor/oci/exec.h: `cordon-runc exec` (a process that joins a running container) and `run`
// (create, start and wait, for the benchmark and by hand).
//
// exec joins the sandbox's namespaces (user first, through a pidfd of its PID 1, or of the task's
// side of the sandbox for an unprivileged caller: PID 1 is not dumpable) and its cgroups,
// then drops to the same state as the container's task: the task's ids, no capabilities (bounding
// set and ambient set cleared too), no_new_privs, and the container's seccomp filter compiled
// again by Cordon's compiler (without a listener: a call the profile sends to the supervisor fails
// with ENOSYS in an exec'd process instead, docs/kubernetes.md). The process is re-parented to the
// caller's subreaper like the container's init (--detach), or waited for.
#pragma once

#include <string>
#include <vector>

#include "supervisor/oci/container.h"

namespace cordon::oci {

struct ExecOptions {
  std::string id, process_file, pid_file, console_socket;
  bool detach = false, tty = false;
  std::vector<std::string> args;  // without --process: the command
};

// The exit status to exit with: 0 when detached, else the process's (128+N for a signal).
Result<int> Exec(const Globals& g, const ExecOptions& o);
// create + start, then waits for the container's end and deletes it; its exit status.
Result<int> RunAndWait(const Globals& g, const CreateOptions& o);

}  // namespace cordon::oci
