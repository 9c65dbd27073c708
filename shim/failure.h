// shim/failure.h: how a setup step reports its failure without exceptions or allocation.
#pragma once

#include <cerrno>
#include <cstdarg>
#include <cstdio>

#include "common/protocol.h"

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

// The test hook: LaunchSpec.fail_at_step makes exactly that step fail with EPERM, so a test can
// check that every step reports itself by name and that the checklist runs in order.
inline bool HookFails(const proto::LaunchSpec& spec, SetupStep step, Failure* f) {
  if (spec.fail_at_step != static_cast<uint32_t>(step)) return false;
  SetFailure(f, step, EPERM, "failed on purpose by the test hook");
  return true;
}

}  // namespace cordon::shim
