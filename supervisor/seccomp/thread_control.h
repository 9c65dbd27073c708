// supervisor/seccomp/thread_control.h: acting on one thread of a task that is blocked in a seccomp
// user notification, with ptrace, for the two actions that no signal sent from outside can give:
// SCMP_ACT_KILL_THREAD (end only that thread) and SCMP_ACT_TRAP (SIGSYS with si_code SYS_SECCOMP
// and si_syscall, delivered to that thread, the call skipped). docs/seccomp.md, "How each action
// behaves".
//
// Supervisor side, x86_64 only (other architectures get ENOTSUP and the caller falls back). The
// caller must be allowed to ptrace the task: it is the task's ancestor and, rootless, owns its
// user namespace. Everything here runs on the notifier thread, which is the tracer; every path
// ends with the thread detached or reaped, never left stopped.
//
// Both functions attach with PTRACE_SEIZE, then check SECCOMP_IOCTL_NOTIF_ID_VALID(`id`) on
// `listener`: while the notification is valid the thread is alive and still inside the call, so
// the tid cannot have been recycled. They never answer the notification: the thread leaves the
// notification wait by the interruption, and the kernel drops the notification.
#pragma once

#include <sys/types.h>

#include <cstdint>

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace cordon::seccomp {

// Ends the process of thread `tid`, which is blocked in notification `id` on `listener`, as
// SECCOMP_RET_KILL_PROCESS does: SIGSYS if its default action would run (not caught, ignored or
// blocked in that thread), SIGKILL otherwise (the kernel forces SIGSYS; a sender cannot).
// PID reuse: Tgid comes from /proc/<tid>/status, a pidfd is opened on it, and only then is
// SECCOMP_IOCTL_NOTIF_ID_VALID checked: if the notification is still valid, the thread is alive in
// the call, so the pidfd names its process, not a process that got a recycled pid (LXD's order).
// If the notification is no longer valid, nothing is signalled (kGone).
struct CallerKill {
  enum class Outcome { kSignalled, kGone, kFailed } outcome = Outcome::kFailed;
  int signal = 0;       // kSignalled: SIGSYS or SIGKILL
  UniqueFd pidfd;       // kSignalled: the process, to check on it later
  std::string error;    // kFailed: why no signal could be aimed (the notification is still valid)
};
CallerKill KillCaller(int listener, uint64_t id, pid_t tid);

// Makes thread `tid` leave its blocked call and run exit(`exit_code`) instead, as
// SECCOMP_RET_KILL_THREAD ends a thread that is not the last of its process. The exit goes through
// the filter again, so the caller checks first that the profile allows `exit`.
// Mechanism: PTRACE_INTERRUPT wakes the thread from the notification wait with -ERESTARTSYS; at
// its PTRACE_EVENT_STOP orig_rax becomes __NR_exit, so the kernel's syscall restart (ax = orig_ax,
// ip -= 2) re-enters as exit.
Result<void> EndThread(pid_t tid, int listener, uint64_t id, int exit_code);

// Delivers what SECCOMP_RET_TRAP delivers to thread `tid` blocked in syscall `nr` (audit arch
// `arch`): SIGSYS with si_code SYS_SECCOMP, si_call_addr, si_syscall, si_arch, si_errno = `data`,
// the call not executed and rax = nr (the kernel's syscall_rollback). Use when the process has a
// SIGSYS handler and the thread does not block SIGSYS; otherwise the native trap kills the
// process, which the caller does with a signal instead.
// Mechanism: tgkill(SIGSYS) -> signal-delivery stop; PTRACE_SETREGS (orig_rax = -1: no restart,
// rax = nr), PTRACE_SETSIGINFO, then PTRACE_DETACH with SIGSYS.
Result<void> DeliverTrap(pid_t tgid, pid_t tid, int listener, uint64_t id, int nr, uint32_t arch, uint32_t data);

}  // namespace cordon::seccomp
