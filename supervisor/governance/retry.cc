#include "supervisor/governance/retry.h"

namespace cordon::governance {
namespace {

constexpr FailureClassRule kRules[] = {
    {"none", RetryVerdict::kNone, 0, "the task succeeded"},
    {"exit_nonzero", RetryVerdict::kOnceAfterRepair, 0,
     "the command failed by its own exit code (a syntax error, a failed check): repair it, then run it once more"},
    {"signaled", RetryVerdict::kOnceAfterRepair, 0, "the command crashed (killed by a signal): repair it first"},
    {"exec_failed", RetryVerdict::kOnceAfterRepair, 0,
     "the program could not be executed (missing, not executable, bad interpreter): repair the command"},
    {"setup_failed", RetryVerdict::kLater, 1000,
     "Cordon could not build the sandbox (a host resource, a binding): transient; retry with backoff"},
    {"wall_timeout", RetryVerdict::kOnceAfterRepair, 0,
     "the task ran past the policy's max_wall_ms: make it do less, then retry once"},
    {"killed", RetryVerdict::kNever, 0, "the task was cancelled: retrying would undo that decision"},
    {"killed_by_operator", RetryVerdict::kNever, 0, "an operator killed the task (incident response)"},
    {"seccomp_violation", RetryVerdict::kNever, 0,
     "the task made a system call its policy forbids: a policy mismatch, the same code fails again"},
    {"oom", RetryVerdict::kOnceAfterRepair, 0, "the task ran out of its memory budget: use less memory, then retry once"},
    {"cpu_budget", RetryVerdict::kOnceAfterRepair, 0,
     "the task spent its CPU budget: make it do less, then retry once"},
    {"pids_limit", RetryVerdict::kOnceAfterRepair, 0,
     "the task hit its process limit (a fork loop?): repair it, then retry once"},
    {"output_limit", RetryVerdict::kOnceAfterRepair, 0,
     "the task wrote more than its output budget: make it print less, then retry once"},
    {"supervisor_restart", RetryVerdict::kLater, 1000,
     "cordond restarted while the task ran: transient; retry with backoff"},
    {"client_gone", RetryVerdict::kLater, 0,
     "the submitting client went away, so the task was stopped: retry when a client waits for it"},
};

}  // namespace

const char* VerdictName(RetryVerdict v) {
  switch (v) {
    case RetryVerdict::kNone: return "none";
    case RetryVerdict::kNever: return "never";
    case RetryVerdict::kLater: return "later";
    case RetryVerdict::kOnceAfterRepair: return "once_after_repair";
  }
  return "never";
}

int ExitCodeFor(RetryVerdict v) {
  switch (v) {
    case RetryVerdict::kNone: return 0;
    case RetryVerdict::kNever: return kExitNeverRetry;
    case RetryVerdict::kLater: return kExitRetryLater;
    case RetryVerdict::kOnceAfterRepair: return kExitRepairThenRetry;
  }
  return kExitNeverRetry;
}

std::span<const FailureClassRule> FailureClassRules() { return kRules; }

RetryAdvice ForFailureClass(std::string_view failure_class) {
  for (const FailureClassRule& r : kRules)
    if (failure_class == r.failure_class) return RetryAdvice{r.verdict, r.backoff_ms, r.why};
  return RetryAdvice{RetryVerdict::kNever, 0,
                     "failure class '" + std::string(failure_class) +
                         "' has no retry rule (docs/governance.md): treated as never, so that callers do not loop"};
}

}  // namespace cordon::governance
