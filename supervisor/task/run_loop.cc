// supervisor/task/run_loop.cc: one task, driven to completion on the calling thread (`cordon run`).
#include <poll.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "common/syscalls.h"
#include "supervisor/task/task.h"

namespace cordon {

Result<std::unique_ptr<Task>> RunTaskToCompletion(const RuntimePaths& rt, std::shared_ptr<const Policy> policy,
                                                  std::shared_ptr<const SeccompFilter> filter,
                                                  const TaskRequest& req, const IdRange& ids, uint64_t received_ns,
                                                  const cgroup::Layout* cgroups, bool pooled) {
  CORDON_ASSIGN_OR_RETURN(TaskIdentity identity, AcquireIdentity(ids));
  // Signals that a user sends to `cordon run` are meant for the task: collect them on a signalfd
  // and forward. They are blocked before the shim starts so none is lost in between.
  sigset_t fwd, old;
  sigemptyset(&fwd);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaddset(&fwd, s);
  ::sigprocmask(SIG_BLOCK, &fwd, &old);
  // SIGPIPE too, but not forwarded: the output pump writes to the caller's fds and must see EPIPE
  // when the reader is gone, not die of it. One left pending is taken before the mask is restored.
  sigset_t pipe_set;
  sigemptyset(&pipe_set);
  sigaddset(&pipe_set, SIGPIPE);
  ::sigprocmask(SIG_BLOCK, &pipe_set, nullptr);
  struct Restore {
    sigset_t m, pipe;
    ~Restore() {
      const timespec zero{0, 0};
      if (!sigismember(&m, SIGPIPE)) while (::sigtimedwait(&pipe, nullptr, &zero) == SIGPIPE) {}
      ::sigprocmask(SIG_SETMASK, &m, nullptr);
    }
  } restore{old, pipe_set};
  UniqueFd sigfd(::signalfd(-1, &fwd, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!sigfd) return Fail(errno, "signalfd");

  std::unique_ptr<Task> task;
  if (pooled) {
    CORDON_ASSIGN_OR_RETURN(task, Task::Prepare(rt, std::move(policy), std::move(filter), std::move(identity), req,
                                                cgroups));
  } else {
    CORDON_ASSIGN_OR_RETURN(task, Task::Start(rt, std::move(policy), std::move(filter), std::move(identity), req,
                                              received_ns, cgroups));
  }
  // Without a cgroup to remove, the outcome is all we wait for: the shim's own exit (the
  // namespaces' teardown) is not the caller's wait. With one, stay until it is removed.
  while (!(task->finished() && (task->done() || !cgroups || !cgroups->no_cgroup_reason.empty()))) {
    std::vector<int> fds = task->Watches();
    std::vector<pollfd> p;
    for (int fd : fds) p.push_back({fd, POLLIN, 0});
    for (int fd : task->WriteWatches()) p.push_back({fd, POLLOUT, 0});
    p.push_back({sigfd.Get(), POLLIN, 0});
    int timeout = -1;
    if (uint64_t d = task->NextDeadlineNs()) {
      uint64_t now = sys::MonotonicNs();
      timeout = now >= d ? 0 : static_cast<int>((d - now) / 1000000 + 1);
    }
    int rc = ::poll(p.data(), p.size(), timeout);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return Fail(errno, "poll");
    for (size_t i = 0; i + 1 < p.size(); ++i)
      if (p[i].revents) task->OnReady(p[i].fd);
    if (p.back().revents & POLLIN) {
      signalfd_siginfo si;
      while (::read(sigfd.Get(), &si, sizeof si) == sizeof si) task->ForwardSignal(static_cast<int>(si.ssi_signo));
    }
    if (uint64_t d = task->NextDeadlineNs(); d && sys::MonotonicNs() >= d) task->OnDeadline(sys::MonotonicNs());
    if (!task->launched() && task->ready()) {
      // Held and released at once: the pooled tests go through cordond's whole hand-over.
      CORDON_TRY(task->Launch(req, sys::MonotonicNs(), /*hold_exec=*/true));
      CORDON_TRY(task->ReleaseExec());
    }
  }
  return task;
}

}  // namespace cordon
