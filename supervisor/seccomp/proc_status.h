// supervisor/seccomp/proc_status.h: the few fields of /proc/<tid>/status that the seccomp kill
// and trap paths need (thread group, thread count, SIGSYS disposition). Pure parser plus one read.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string_view>

#include "common/result.h"

namespace cordon::seccomp {

struct ThreadStatus {
  pid_t tgid = -1;       // Tgid: the process the thread belongs to
  int threads = 0;       // Threads: live threads of that process
  uint64_t sig_blk = 0;  // SigBlk: this thread's blocked mask (bit n-1 = signal n)
  uint64_t sig_ign = 0;  // SigIgn: ignored by the process
  uint64_t sig_cgt = 0;  // SigCgt: caught (a handler is installed) by the process

  bool Blocks(int sig) const { return (sig_blk >> (sig - 1)) & 1; }
  bool Ignores(int sig) const { return (sig_ign >> (sig - 1)) & 1; }
  bool Catches(int sig) const { return (sig_cgt >> (sig - 1)) & 1; }
  // The signal's default action would run if it were sent to the process now: the kernel's
  // sig_fatal() for this thread (not ignored, not caught, not blocked here).
  bool DefaultActionRuns(int sig) const { return !Blocks(sig) && !Ignores(sig) && !Catches(sig); }
};

// Parses the text of /proc/<tid>/status. Fails naming the first missing field.
Result<ThreadStatus> ParseThreadStatus(std::string_view text);

// Reads /proc/<tid>/status (tid in the caller's PID namespace).
Result<ThreadStatus> ReadThreadStatus(pid_t tid);

}  // namespace cordon::seccomp
