// supervisor/seccomp/thread_control.cc: KILL_THREAD and TRAP for a thread blocked in a seccomp
// user notification, with ptrace (see the header for the contract).
#include "supervisor/seccomp/thread_control.h"

#include <errno.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>

#include "common/syscalls.h"
#include "supervisor/seccomp/proc_status.h"

namespace cordon::seccomp {
namespace {

// include/linux/errno.h (kernel-internal): what a syscall interrupted by a signal or by ptrace
// returns before the kernel restarts it.
// si_code of a seccomp SIGSYS (include/uapi/asm-generic/siginfo.h); glibc does not export it.
constexpr int kSysSeccomp = 1;
constexpr long kErestartSys = 512, kErestartNoIntr = 513, kErestartNoHand = 514, kErestartBlock = 516;
// A ptrace stop is bounded: the thread is in an interruptible wait when we start, so it stops at
// once; a limit turns a surprise into an error instead of a stuck notifier.
constexpr uint64_t kStopTimeoutNs = 500'000'000;

bool IdValid(int listener, uint64_t id) {
  return ::ioctl(listener, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) == 0;
}

bool Interrupted(long rax) {
  return rax == -kErestartSys || rax == -kErestartNoIntr || rax == -kErestartNoHand || rax == -kErestartBlock;
}

struct Stop {
  bool gone = false;   // the thread ended (and is reaped)
  int signal = 0;      // signal-delivery stop: the signal about to be delivered
  bool event = false;  // PTRACE_EVENT_STOP (interrupt or group stop)
};

// Waits for tid's next stop or its end, polling (a traced thread that is not our child has no
// pidfd to wait on), at most kStopTimeoutNs.
Result<Stop> WaitStop(pid_t tid) {
  const uint64_t deadline = sys::MonotonicNs() + kStopTimeoutNs;
  for (;;) {
    int st = 0;
    pid_t r = ::waitpid(tid, &st, __WALL | WNOHANG);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return Fail(errno, "waitpid traced thread " + std::to_string(tid));
    if (r == tid) {
      Stop s;
      if (WIFEXITED(st) || WIFSIGNALED(st)) {
        s.gone = true;
      } else if (WIFSTOPPED(st)) {
        if ((st >> 16) == PTRACE_EVENT_STOP) {
          s.event = true;
        } else {
          s.signal = WSTOPSIG(st);
        }
      }
      return s;
    }
    if (sys::MonotonicNs() > deadline) return Fail(ETIMEDOUT, "thread " + std::to_string(tid) + " did not stop");
    timespec ts{0, 20'000};
    ::nanosleep(&ts, nullptr);
  }
}

// Leaves the thread as it was: stop it if needed and detach, handing back a signal it was about
// to take. Best effort; used on the paths that give up.
void Release(pid_t tid, const Stop* already) {
  Stop s;
  if (already) {
    s = *already;
  } else {
    if (::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) < 0) return;
    auto w = WaitStop(tid);
    if (!w) return;
    s = *w;
  }
  if (s.gone) return;
  ::ptrace(PTRACE_DETACH, tid, nullptr, reinterpret_cast<void*>(static_cast<long>(s.signal)));
}

Result<void> Seize(pid_t tid, int listener, uint64_t id) {
  // The tid came from the notification; while the notification is valid the thread is in the
  // call, so the tid is still that thread (SECCOMP_IOCTL_NOTIF_ID_VALID before and after attach).
  if (!IdValid(listener, id)) return Fail(ENOENT, "the notification is gone (the thread left the call)");
  if (::ptrace(PTRACE_SEIZE, tid, nullptr, reinterpret_cast<void*>(PTRACE_O_EXITKILL)) < 0) {
    return Fail(errno, "ptrace(PTRACE_SEIZE) thread " + std::to_string(tid));
  }
  if (!IdValid(listener, id)) {
    Release(tid, nullptr);
    return Fail(ENOENT, "the notification is gone (the thread left the call)");
  }
  return {};
}

}  // namespace

CallerKill KillCaller(int listener, uint64_t id, pid_t tid) {
  CallerKill k;
  auto st = ReadThreadStatus(tid);
  if (!st) {
    if (!IdValid(listener, id)) {
      k.outcome = CallerKill::Outcome::kGone;
    } else {
      k.error = "cannot read the calling thread's status: " + st.error().Message();
    }
    return k;
  }
  UniqueFd pidfd(sys::PidfdOpen(st->tgid, 0));
  const int open_errno = errno;
  if (!IdValid(listener, id)) {
    k.outcome = CallerKill::Outcome::kGone;  // whatever the pidfd names now, it is not the caller
    return k;
  }
  if (!pidfd) {
    k.error = "pidfd_open(" + std::to_string(st->tgid) + "): " + std::strerror(open_errno);
    return k;
  }
  k.signal = st->DefaultActionRuns(SIGSYS) ? SIGSYS : SIGKILL;
  if (sys::PidfdSendSignal(pidfd.Get(), k.signal) < 0 && errno != ESRCH) {
    k.error = std::string("pidfd_send_signal: ") + std::strerror(errno);
    return k;
  }
  k.outcome = CallerKill::Outcome::kSignalled;
  k.pidfd = std::move(pidfd);
  return k;
}

#if defined(__x86_64__)

Result<void> EndThread(pid_t tid, int listener, uint64_t id, int exit_code) {
  CORDON_TRY(Seize(tid, listener, id));
  if (::ptrace(PTRACE_INTERRUPT, tid, nullptr, nullptr) < 0) {
    int e = errno;
    Release(tid, nullptr);
    return Fail(e, "ptrace(PTRACE_INTERRUPT)");
  }
  CORDON_ASSIGN_OR_RETURN(Stop s, WaitStop(tid));
  if (s.gone) return {};
  user_regs_struct regs{};
  if (::ptrace(PTRACE_GETREGS, tid, nullptr, &regs) < 0 || !Interrupted(static_cast<long>(regs.rax))) {
    int e = errno;
    Release(tid, &s);
    return Fail(e ? e : EAGAIN, "the thread is not in an interrupted call");
  }
  // -ERESTARTNOINTR restarts whether or not a signal handler runs first (arch/x86 signal.c), so a
  // signal that arrived meanwhile cannot turn the restart into EINTR.
  regs.orig_rax = __NR_exit;
  regs.rax = static_cast<unsigned long long>(-kErestartNoIntr);
  regs.rdi = static_cast<unsigned long long>(exit_code);
  if (::ptrace(PTRACE_SETREGS, tid, nullptr, &regs) < 0) {
    int e = errno;
    Release(tid, &s);
    return Fail(e, "ptrace(PTRACE_SETREGS)");
  }
  if (::ptrace(PTRACE_DETACH, tid, nullptr, reinterpret_cast<void*>(static_cast<long>(s.signal))) < 0) {
    return Fail(errno, "ptrace(PTRACE_DETACH)");
  }
  return {};
}

Result<void> DeliverTrap(pid_t tgid, pid_t tid, int listener, uint64_t id, int nr, uint32_t arch, uint32_t data) {
  CORDON_TRY(Seize(tid, listener, id));
  if (::syscall(SYS_tgkill, tgid, tid, SIGSYS) < 0) {
    int e = errno;
    Release(tid, nullptr);
    return Fail(e, "tgkill SIGSYS");
  }
  // The first stop is the SIGSYS delivery; other signals queued before it are handed back and
  // waited past (a few at most).
  Stop s;
  for (int round = 0;; ++round) {
    CORDON_ASSIGN_OR_RETURN(s, WaitStop(tid));
    if (s.gone) return {};
    if (s.signal == SIGSYS) break;
    if (round == 8) {
      Release(tid, &s);
      return Fail(EAGAIN, "no SIGSYS delivery stop");
    }
    ::ptrace(PTRACE_CONT, tid, nullptr, reinterpret_cast<void*>(static_cast<long>(s.signal)));
  }
  user_regs_struct regs{};
  if (::ptrace(PTRACE_GETREGS, tid, nullptr, &regs) < 0 || static_cast<long>(regs.orig_rax) != nr ||
      !Interrupted(static_cast<long>(regs.rax))) {
    Release(tid, &s);
    return Fail(EAGAIN, "the thread is not in the interrupted call");
  }
  // As the kernel's SECCOMP_RET_TRAP: the call is skipped and rolled back (ax = the syscall
  // number), and orig_rax = -1 keeps the signal code from restarting it after the handler.
  regs.rax = static_cast<unsigned long long>(nr);
  regs.orig_rax = static_cast<unsigned long long>(-1);
  siginfo_t si;
  std::memset(&si, 0, sizeof si);
  si.si_signo = SIGSYS;
  si.si_errno = static_cast<int>(data);
  si.si_code = kSysSeccomp;
  si.si_call_addr = reinterpret_cast<void*>(regs.rip);
  si.si_syscall = nr;
  si.si_arch = arch;
  if (::ptrace(PTRACE_SETREGS, tid, nullptr, &regs) < 0 || ::ptrace(PTRACE_SETSIGINFO, tid, nullptr, &si) < 0) {
    int e = errno;
    Release(tid, &s);
    return Fail(e, "ptrace(PTRACE_SETREGS/SETSIGINFO)");
  }
  if (::ptrace(PTRACE_DETACH, tid, nullptr, reinterpret_cast<void*>(static_cast<long>(SIGSYS))) < 0) {
    return Fail(errno, "ptrace(PTRACE_DETACH)");
  }
  return {};
}

#else

Result<void> EndThread(pid_t, int, uint64_t, int) { return Fail(ENOTSUP, "KILL_THREAD emulation is x86_64 only"); }
Result<void> DeliverTrap(pid_t, pid_t, int, uint64_t, int, uint32_t, uint32_t) {
  return Fail(ENOTSUP, "TRAP delivery is x86_64 only");
}

#endif

}  // namespace cordon::seccomp
