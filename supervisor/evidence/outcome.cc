// supervisor/evidence/outcome.cc: the names of failure classes, as the evidence spells them.
#include "supervisor/evidence/outcome.h"

namespace cordon {

const char* FailureClassName(FailureClass c) {
  switch (c) {
    case FailureClass::kNone: return "none";
    case FailureClass::kExitNonzero: return "exit_nonzero";
    case FailureClass::kSignaled: return "signaled";
    case FailureClass::kSetupFailed: return "setup_failed";
    case FailureClass::kExecFailed: return "exec_failed";
    case FailureClass::kWallTimeout: return "wall_timeout";
    case FailureClass::kKilled: return "killed";
    case FailureClass::kSeccompViolation: return "seccomp_violation";
    case FailureClass::kOom: return "oom";
    case FailureClass::kCpuBudget: return "cpu_budget";
    case FailureClass::kPidsLimit: return "pids_limit";
    case FailureClass::kOutputLimit: return "output_limit";
    case FailureClass::kSupervisorRestart: return "supervisor_restart";
    case FailureClass::kClientGone: return "client_gone";
    case FailureClass::kKilledByOperator: return "killed_by_operator";
  }
  return "unknown";
}

}  // namespace cordon
