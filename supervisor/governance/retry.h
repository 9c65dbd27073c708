// supervisor/governance/retry.h: what a caller should do after each failure (docs/governance.md
// "Retry semantics"). Every failure_class a task can end with has one verdict: never (an
// actionable denial: the same request fails the same way), later with backoff (transient), or
// once after repair (the request or the generated code is wrong). cordond returns the verdict in
// TaskInfo.retry and Error.retry; `cordon submit|wait --retry-exit-codes` exits with the verdict's
// code. Pure: tests/unit/governance_retry_test.cc checks the table against FailureClassName.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace cordon::governance {

enum class RetryVerdict { kNone, kNever, kLater, kOnceAfterRepair };
const char* VerdictName(RetryVerdict v);  // "none", "never", "later", "once_after_repair"

// Exit codes of `--retry-exit-codes` (sysexits.h's EX_TEMPFAIL and EX_NOPERM where they fit).
inline constexpr int kExitRetryLater = 75;
inline constexpr int kExitRepairThenRetry = 76;
inline constexpr int kExitNeverRetry = 77;
int ExitCodeFor(RetryVerdict v);  // 0 for kNone

struct RetryAdvice {
  RetryVerdict verdict = RetryVerdict::kNone;
  int64_t retry_after_ms = 0;  // kLater: the first backoff (or when a budget refills)
  std::string why;
};

// One row of the table: a task's failure_class and its verdict.
struct FailureClassRule {
  const char* failure_class;
  RetryVerdict verdict;
  int64_t backoff_ms;  // kLater only
  const char* why;
};
std::span<const FailureClassRule> FailureClassRules();

// The verdict for a finished task's failure_class. An unknown class is never retried (a class
// added without a rule must not make callers loop); its why says so.
RetryAdvice ForFailureClass(std::string_view failure_class);

}  // namespace cordon::governance
