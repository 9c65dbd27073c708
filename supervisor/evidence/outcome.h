// supervisor/evidence/outcome.h: how a task ended and when each stage happened: what the running
// task settles (supervisor/task/) and what its evidence record reports (record.h). Plain data.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/protocol.h"

namespace cordon {

enum class FailureClass {
  kNone, kExitNonzero, kSignaled, kSetupFailed, kExecFailed, kWallTimeout, kKilled, kSeccompViolation,
  kOom, kCpuBudget, kPidsLimit, kOutputLimit, kSupervisorRestart,
  kClientGone,  // cordond: the attached client's connection closed before the task ended
  kKilledByOperator  // cordond: ended by the kill-switch (`cordon kill`, docs/incident-response.md)
};
// The evidence's failure_class name ("exit_nonzero", ...).
const char* FailureClassName(FailureClass c);

struct TaskOutcome {
  FailureClass failure = FailureClass::kNone;
  int exit_code = 0;             // what `cordon run` exits with
  int task_exit_code = -1;       // the command's own exit code, -1 if it did not exit normally
  int task_signal = 0;           // the signal that killed it, 0 if none
  std::optional<proto::ErrorRecord> setup_error;
  std::string message;           // one line for the user when failure is setup/exec/timeout
};

struct TaskTiming {  // CLOCK_MONOTONIC ns; 0 = did not happen
  uint64_t received = 0, admitted = 0, spawned = 0, ready = 0, exec = 0, exit = 0, done = 0;
  uint64_t prepared = 0, pool_ready = 0;  // pooled: Prepare() began; PID 1 began waiting for the task
  uint64_t cgroup = 0;                    // the task's cgroup is created and limited (0: none)
  std::vector<proto::StepMark> steps;  // when each setup step started, as the shim stamped them
};

}  // namespace cordon
