// supervisor/task/follow.cc: one task followed to its end with poll().
#include "supervisor/task/follow.h"

#include <poll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <vector>

#include "common/syscalls.h"

namespace cordon {

Result<void> FollowTask(Task& task, const FollowOptions& opts) {
  while (!(task.finished() && (task.done() || !opts.wait_for_cleanup))) {
    std::vector<pollfd> p;
    for (int fd : task.Watches()) p.push_back({fd, POLLIN, 0});
    for (int fd : task.WriteWatches()) p.push_back({fd, POLLOUT, 0});
    const size_t task_fds = p.size();
    if (opts.sigfd >= 0) p.push_back({opts.sigfd, POLLIN, 0});
    int timeout = -1;
    if (uint64_t d = task.NextDeadlineNs()) {
      uint64_t now = sys::MonotonicNs();
      timeout = now >= d ? 0 : static_cast<int>((d - now) / 1000000 + 1);
    }
    int rc = ::poll(p.data(), p.size(), timeout);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return Fail(errno, "poll");
    for (size_t i = 0; i < task_fds; ++i)
      if (p[i].revents) task.OnReady(p[i].fd);
    if (opts.sigfd >= 0 && (p.back().revents & POLLIN)) {
      signalfd_siginfo si;
      while (::read(opts.sigfd, &si, sizeof si) == sizeof si) {
        const int signo = static_cast<int>(si.ssi_signo);
        if (opts.on_signal) {
          opts.on_signal(signo);
        } else {
          task.ForwardSignal(signo);
        }
      }
    }
    if (uint64_t d = task.NextDeadlineNs(); d && sys::MonotonicNs() >= d) task.OnDeadline(sys::MonotonicNs());
    if (opts.after_round) CORDON_TRY(opts.after_round());
  }
  return {};
}

}  // namespace cordon
