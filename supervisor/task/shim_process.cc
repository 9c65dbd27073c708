// supervisor/task/shim_process.cc: spawning, signalling and reaping a task's outer shim.
#include "supervisor/task/shim_process.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "common/protocol.h"
#include "common/syscalls.h"

namespace cordon {
namespace {

struct ShimExec {
  const char* path;
  int ctrl_child;
};

// Runs in the spawned child, on its own stack, sharing our memory until execve: system calls only.
int ShimChild(void* p) {
  const ShimExec* a = static_cast<const ShimExec*>(p);
  const char* argv[] = {"cordon-shim", nullptr};
  const char* envp[] = {nullptr};
  ::setpgid(0, 0);
  if (a->ctrl_child == 3) {
    ::fcntl(3, F_SETFD, 0);
  } else if (::dup2(a->ctrl_child, 3) < 0) {
    _exit(kExitCordonFailure);
  }
  sys::CloseRange(4, ~0u, CLOSE_RANGE_CLOEXEC);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(a->path, const_cast<char* const*>(argv), const_cast<char* const*>(envp));
  _exit(kExitCordonFailure);
}

}  // namespace

Result<ShimProcess> ShimProcess::Spawn(const std::string& shim_path) {
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) return Fail(errno, "socketpair");
  ShimProcess s;
  s.ctrl_.Reset(sp[0]);
  UniqueFd child_end(sp[1]);
  int pidfd = -1;
  ShimExec args{shim_path.c_str(), child_end.Get()};
  pid_t pid = sys::CloneVfork(ShimChild, &args, CLONE_PIDFD, &pidfd);
  if (pid < 0) return Fail(errno, "clone for the shim");
  s.pid_ = pid;
  s.pidfd_.Reset(pidfd);
  s.spawned_ns_ = sys::MonotonicNs();
  return s;
}

Result<void> ShimProcess::Send(const void* buf, size_t len, const int* fds, size_t nfds) const {
  return SendMsg(ctrl_.Get(), buf, len, fds, nfds);
}

void ShimProcess::MakeControlNonBlocking() const { ::fcntl(ctrl_.Get(), F_SETFL, O_NONBLOCK); }

void ShimProcess::SignalKill() const {
  if (pidfd_) sys::PidfdSendSignal(pidfd_.Get(), SIGKILL);
}

void ShimProcess::Reap() {
  if (reaped_ || !pidfd_) return;
  siginfo_t si{};
  if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_.Get()), &si, WEXITED) == 0)
    status_ = si.si_code == CLD_EXITED ? (si.si_status << 8) : si.si_status;
  reaped_ = true;
}

void ShimProcess::KillAndReap() {
  if (reaped_ || !pidfd_) return;
  sys::PidfdSendSignal(pidfd_.Get(), SIGKILL);
  ::waitpid(pid_, nullptr, 0);
  reaped_ = true;
}

void ShimProcess::ReapIfExited() {
  if (reaped_ || !pidfd_) return;
  siginfo_t si{};
  ::waitid(P_PIDFD, static_cast<id_t>(pidfd_.Get()), &si, WEXITED | WNOHANG);
}

}  // namespace cordon
