// shim/failure.h: how a setup step reports its failure without exceptions or allocation.
#pragma once

#include <cerrno>
#include <cstdarg>
#include <cstdio>

#include "common/protocol.h"
#include "common/syscalls.h"
#include "shim/test_hooks.h"

namespace cordon::shim {

// Filled by the step that failed; the caller turns it into one ErrorRecord on the sync socket.
struct Failure {
  proto::ErrorRecord rec;
};

// Records step/errno/message and returns false, so steps read `if (x < 0) return Fail(...)`.
[[gnu::format(printf, 4, 5)]] inline bool SetFailure(Failure* f, SetupStep step, int err,
                                                     const char* fmt, ...) {
  f->rec.step = step;
  f->rec.err = err;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(f->rec.msg, sizeof f->rec.msg, fmt, ap);
  va_end(ap);
  return false;
}

// Start times of the steps, reported with kExecOk (evidence timing.steps). One array per process
// image: PID 1 inherits the outer shim's marks through its copy of memory, and the task writes into
// PID 1's (CLONE_VM), so PID 1 ends up holding all of them. A clock read costs ~20 ns (vDSO).
struct StepClock {
  proto::StepMark marks[proto::kMaxStepMarks];
  uint32_t n = 0;
  void Mark(SetupStep step) { MarkAt(step, sys::MonotonicNs()); }
  void MarkAt(SetupStep step, uint64_t ns) {
    if (n < proto::kMaxStepMarks) marks[n++] = {step, 0, ns};
  }
};
inline StepClock g_step_clock;

// Every step begins here: it is stamped, and in the test build of the shim (test_hooks.h) the step
// a test names fails with EPERM, so the test can check that every step reports itself by name.
inline bool HookFailsAt(const proto::LaunchSpec& /*spec*/, SetupStep step, uint64_t ns, Failure* f) {
  g_step_clock.MarkAt(step, ns);
  if (g_fail_at_step != static_cast<uint32_t>(step)) return false;
  SetFailure(f, step, EPERM, "failed on purpose by the test hook");
  return true;
}
inline bool HookFails(const proto::LaunchSpec& spec, SetupStep step, Failure* f) {
  return HookFailsAt(spec, step, sys::MonotonicNs(), f);
}

}  // namespace cordon::shim
