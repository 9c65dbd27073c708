// supervisor/task/outcome.h: the outcome of a finished task (exit code, failure class, the one
// line for the user), settled from what its sandbox reported. Pure: no system calls.
#pragma once

#include <optional>
#include <string>

#include "common/protocol.h"
#include "supervisor/evidence/outcome.h"
#include "supervisor/policy.h"
#include "supervisor/seccomp/notifier.h"
#include "supervisor/task/accounting.h"

namespace cordon {

// What is known when the sandbox is gone.
struct TaskEnd {
  const std::optional<proto::ExitRecord>& exit;  // PID 1's report, if it sent one
  int shim_status = 0;                           // the outer shim's wait status
  const std::optional<FailureClass>& killed;     // the supervisor killed the sandbox, and why
  const std::string& kill_message;
  const seccomp::DenialLog& seccomp;             // the task's denials (TaskWatch::End() called)
  const std::string& profile_name;               // the seccomp profile, for messages
  const TaskAccounting& accounting;              // the cgroup's final figures
  const PolicyLimits& limits;
};

// Fills `outcome` (whose setup_error the control records may have set already).
void SettleOutcome(const TaskEnd& end, TaskOutcome* outcome);

// The command's execve failed with `err`: exec_failed, exit 127 when it is missing (ENOENT,
// ENOTDIR) or 126 when it cannot be executed, and the line that says what to do. `detail` names
// the command and the error ("execve /usr/bin/x: No such file or directory"). Full and landlock
// mode give the same line.
void SetExecFailed(int err, const std::string& detail, TaskOutcome* outcome);

}  // namespace cordon
