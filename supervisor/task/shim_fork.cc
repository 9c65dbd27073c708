// supervisor/task/shim_fork.cc: ShimProcess::Fork (shim_process.h), the outer shim as a fork of
// the one-shot instead of an exec of cordon-shim. What the exec gave the shim (a fresh program: its
// own name, no inherited handler, no fd but the ones Spawn leaves) the child sets up here, before it
// runs the shim's code; what the caller's state is made of is read in the parent, where a surprise
// (a second thread) can still be reported as an error.
#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>

#include "common/protocol.h"
#include "common/syscalls.h"
#include "supervisor/task/shim_process.h"

namespace cordon {
namespace {

// What the child must undo of the caller, read before the fork.
struct ForkState {
  int ctrl_child = -1;
  int (*outer_shim)() = nullptr;
  // proc(5) /proc/self/stat fields 48-51: the strings of the command line and the environment,
  // which /proc/PID/cmdline and /proc/PID/environ show.
  uintptr_t arg_start = 0, arg_end = 0, env_start = 0, env_end = 0;
  uint64_t caught = 0;  // SigCgt: bit N-1 for a signal N with a handler
};

// Reads a small /proc/self file whole into `buf` (NUL-terminated).
Result<size_t> ReadProcSelf(const char* name, char* buf, size_t size) {
  UniqueFd fd(::open(name, O_RDONLY | O_CLOEXEC));
  if (!fd) return Fail(errno, std::string("open ") + name);
  const ssize_t n = ::read(fd.Get(), buf, size - 1);
  if (n < 0) return Fail(errno, std::string("read ") + name);
  buf[n] = '\0';
  return static_cast<size_t>(n);
}

// The number of threads (field 20) and the command line's and environment's bounds (48-51) from
// /proc/self/stat. Fields are counted after the last ')': the command name may hold spaces.
Result<void> ReadStat(ForkState* st) {
  char buf[2048];
  CORDON_TRY(ReadProcSelf("/proc/self/stat", buf, sizeof buf));
  const char* p = std::strrchr(buf, ')');
  uintptr_t field[52] = {};
  int n = 2;
  while (p != nullptr && n < 51) {
    p = std::strchr(p + 1, ' ');
    if (p == nullptr) break;
    field[++n] = std::strtoull(p + 1, nullptr, 10);
  }
  if (n != 51) return FailMsg("/proc/self/stat has fewer than 51 fields", "a kernel of 3.5 or later has them all");
  if (field[20] != 1)
    return FailMsg("the shim is forked from a process with " + std::to_string(field[20]) +
                   " threads; fork keeps only the calling one, so it needs a single-threaded caller");
  st->arg_start = field[48];
  st->arg_end = field[49];
  st->env_start = field[50];
  st->env_end = field[51];
  if (st->arg_start == 0 || st->arg_start >= st->arg_end || st->arg_end > st->env_start || st->env_start > st->env_end)
    return FailMsg("/proc/self/stat gives no command line to clear before the fork");
  return {};
}

Result<void> ReadCaughtSignals(ForkState* st) {
  char buf[4096];
  CORDON_TRY(ReadProcSelf("/proc/self/status", buf, sizeof buf));
  const char* line = std::strstr(buf, "\nSigCgt:\t");
  if (line == nullptr) return FailMsg("no SigCgt line in /proc/self/status");
  st->caught = std::strtoull(line + 9, nullptr, 16);
  return {};
}

// What execve(2) and Spawn's child would have done, in the forked child: its own process group
// (terminal signals reach only the supervisor), the control socket at fd 3 and nothing above it,
// handlers back to SIG_DFL (execve keeps only SIG_IGN, which the shim resets itself), an empty mask.
// The command line becomes "cordon-shim" and the environment is cleared, in this process's copy of
// them: PID 1 is a clone of this process and shows its /proc/1/cmdline to the task, which must not
// read the caller's command line there (its paths, its --env values). noexcept: an exception must
// end this child (std::terminate), never unwind into the copy of the caller's stack below it.
[[noreturn]] void RunForkedShim(const ForkState& st) noexcept {
  ::setpgid(0, 0);
  if (st.ctrl_child == 3) {
    ::fcntl(3, F_SETFD, 0);
  } else if (::dup2(st.ctrl_child, 3) < 0) {
    _exit(kExitCordonFailure);
  }
  if (sys::CloseRange(4, ~0u, 0) < 0) _exit(kExitCordonFailure);
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig <= 64; ++sig) {
    // glibc's own signals between SIGSYS and SIGRTMIN (32, 33) are left as they are, as the shim does.
    const bool reserved = sig > SIGSYS && sig < SIGRTMIN;
    if ((st.caught >> (sig - 1) & 1) && !reserved && ::sigaction(sig, &dfl, nullptr) < 0) _exit(kExitCordonFailure);
  }
  // The kernel shows [arg_start, arg_end) as the command line while its last byte is NUL, and the
  // string at arg_start (up to its NUL, which may lie beyond arg_end) when it is not (setproctitle):
  // either way exactly "cordon-shim", as after the exec (fs/proc/base.c get_mm_cmdline).
  static constexpr char kName[] = "cordon-shim";
  char* args = reinterpret_cast<char*>(st.arg_start);
  char* env = reinterpret_cast<char*>(st.env_start);
  const size_t arg_len = st.arg_end - st.arg_start, env_len = st.env_end - st.env_start;
  std::memset(args, 0, arg_len);
  std::memset(env, 0, env_len);
  const size_t room = st.arg_end == st.env_start ? arg_len + env_len : arg_len;
  if (room < sizeof kName) _exit(kExitCordonFailure);  // cannot happen: "cordon-run run CMD" is longer
  std::memcpy(args, kName, sizeof kName);
  if (arg_len > sizeof kName) args[arg_len - 1] = ' ';
  if (::prctl(PR_SET_NAME, kName) < 0) _exit(kExitCordonFailure);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  _exit(st.outer_shim());
}

// The shim Prefork made, until Fork takes it.
struct Preforked {
  int (*outer_shim)() = nullptr;
  std::optional<ShimProcess> shim;
  rlimit nofile{};  // ours when it was forked
};

// The one process attribute the supervisor changes between the early fork and the spawn: the task
// launcher raises its hard RLIMIT_NOFILE to the policy's limits.nofile (launcher.cc Create), which
// the shim, PID 1 and the task must inherit as they did from the exec.
bool SameNofile(const rlimit& a) {
  rlimit now{};
  return ::getrlimit(RLIMIT_NOFILE, &now) == 0 && now.rlim_cur == a.rlim_cur && now.rlim_max == a.rlim_max;
}
Preforked& Slot() {
  static Preforked p;
  return p;
}

}  // namespace

void ShimProcess::Prefork(int (*outer_shim)()) {
  DiscardPrefork();
  rlimit nofile{};
  if (::getrlimit(RLIMIT_NOFILE, &nofile) < 0) return;
  if (auto s = ForkNow(outer_shim)) {
    Slot().outer_shim = outer_shim;
    Slot().shim = std::move(*s);
    Slot().nofile = nofile;
  }
}

void ShimProcess::DiscardPrefork() {
  if (!Slot().shim) return;
  Slot().shim->KillAndReap();
  Slot().shim.reset();
}

Result<ShimProcess> ShimProcess::Fork(int (*outer_shim)()) {
  // A preforked shim that would start the task with other limits than ours is not the same shim.
  if (Slot().shim && !(Slot().outer_shim == outer_shim && SameNofile(Slot().nofile))) DiscardPrefork();
  if (Slot().shim) {
    ShimProcess s = std::move(*Slot().shim);
    Slot().shim.reset();
    s.spawned_ns_ = sys::MonotonicNs();
    return s;
  }
  return ForkNow(outer_shim);
}

Result<ShimProcess> ShimProcess::ForkNow(int (*outer_shim)()) {
  ForkState st;
  st.outer_shim = outer_shim;
  CORDON_TRY(ReadStat(&st));
  CORDON_TRY(ReadCaughtSignals(&st));
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) return Fail(errno, "socketpair");
  ShimProcess s;
  s.ctrl_.Reset(sp[0]);
  UniqueFd child_end(sp[1]);
  st.ctrl_child = child_end.Get();
  const pid_t pid = ::fork();
  if (pid < 0) return Fail(errno, "fork for the shim");
  if (pid == 0) RunForkedShim(st);
  s.spawned_ns_ = sys::MonotonicNs();
  s.pid_ = pid;
  // Both sides set the group, so that it is set whichever runs first (as a shell does for a job).
  (void)::setpgid(pid, pid);
  // Our child, not yet reaped: its pid cannot name another process before we wait for it.
  const int pidfd = sys::PidfdOpen(pid, 0);
  if (pidfd < 0) {
    const int err = errno;
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return Fail(err, "pidfd_open of the shim");
  }
  s.pidfd_.Reset(pidfd);
  return s;
}

}  // namespace cordon
