// supervisor/seccomp/notifier.h: the thread that answers every task's seccomp user notifications
// (docs/seccomp.md, "Denials as evidence").
//
// One thread per supervisor process serves the listeners of all its tasks (`cordon run`: one;
// cordond: every running task) from its own epoll set, so a task that floods denials costs its
// own round trips and never delays another tenant's event loop. The thread owns each task's
// denial record while the task runs; the task takes the record back with Remove() when it is
// finished, after which the thread no longer touches it (no shared counters, no data race).
//
// For each notification the thread asks Evaluate() (cached per (arch, nr) when no rule of that
// syscall compares arguments), records the call, and carries out the profile's action:
//   ERRNO        answer error = -errnoRet (errnoRet 0: the call returns 0 without running)
//   KILL_PROCESS the whole process ends by SIGSYS (SIGKILL if it catches, ignores or blocks
//                SIGSYS, where SIGSYS would not end it)
//   KILL_THREAD  only the calling thread ends (ptrace, thread_control.h) when it is not the last;
//                the last thread, or any failure there, ends the process as KILL_PROCESS
//   TRAP         SIGSYS (SYS_SECCOMP, si_syscall) delivered to a handler (ptrace); with no
//                handler, the process ends by SIGSYS, as the kernel's trap does
//   bad arch     KILL_PROCESS
// A kill is always checked: SECCOMP_IOCTL_NOTIF_ID_VALID after the pidfd is opened, and a
// notification still pending 100 ms after the signal gets SIGKILL. A notification is never left
// unanswered: if nothing else is possible it is answered EPERM and the whole sandbox is killed.
#pragma once

#include <linux/seccomp.h>
#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace cordon {
struct SeccompFilter;
}

namespace cordon::seccomp {

// One denied (or trapped, or killed) syscall, as the supervisor handled it (docs/evidence.md
// seccomp.denied). One entry per (arch, syscall, rule).
struct Denial {
  int nr = -1;
  std::string arch;         // "SCMP_ARCH_X86_64"; "SCMP_ARCH_X86" for int 0x80, "SCMP_ARCH_X32"
  std::string name;         // "keyctl", or "syscall_<nr>" when libseccomp has no name for it
  std::string action;       // the profile's action: SCMP_ACT_ERRNO, SCMP_ACT_KILL_PROCESS…
  bool has_errno = false;   // an ERRNO action: errno_ret is what the call returned (0 = success)
  int errno_ret = 0;
  std::string rule;         // which rule decided: "syscalls[12]", "defaultAction", "architecture"
  uint64_t count = 0;
  uint64_t first_ns = 0;
  uint64_t args[6] = {};    // of the first occurrence: numbers only, never memory behind pointers
};

// The most distinct entries a task's record keeps; later ones are counted, not kept.
inline constexpr size_t kMaxDenialEntries = 256;

struct DenialLog {
  std::vector<Denial> denied;      // first kMaxDenialEntries distinct entries, in order of first call
  uint64_t total = 0;              // every notified call, kept or not
  uint64_t omitted_entries = 0;    // distinct (arch, syscall, rule) past the cap
  uint64_t omitted_calls = 0;      // calls of those entries
  // The first call that ended a process (KILL_PROCESS, KILL_THREAD of a last thread, an
  // unhandled TRAP, a foreign ABI), and the signal the supervisor sent for it (SIGSYS, or
  // SIGKILL when SIGSYS would not have ended the process).
  std::optional<Denial> fatal;
  int fatal_signal = 0;
  // What could not be done as the profile says, and what was done instead (at most a few).
  std::vector<std::string> notes;
};

class Notifier {
 public:
  struct Watch;
  // The process-wide notifier; its thread starts on first use and lives as long as the process.
  static Notifier& Shared();

  // Serves `listener` from now on. `filter` gives the profile (parsed on the first notification).
  // `sandbox_pidfd` (the shim's; duplicated) is the last resort when a kill cannot be aimed at
  // the calling process. Times in the record are CLOCK_MONOTONIC ns.
  Result<std::shared_ptr<Watch>> Add(UniqueFd listener, std::shared_ptr<const SeccompFilter> filter,
                                     int sandbox_pidfd);
  // Stops serving the watch (waits for a notification being handled) and hands back its record.
  // Safe to call twice; the second call returns an empty log.
  DenialLog Remove(const std::shared_ptr<Watch>& watch);

 private:
  Notifier() = default;
  struct Impl;
  Impl* impl_ = nullptr;
};

}  // namespace cordon::seccomp
