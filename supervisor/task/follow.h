// supervisor/task/follow.h: one task followed to its end on the calling thread with poll(): its
// watches and write watches, its deadlines, and a signalfd whose signals the caller decides about.
// The loop of `cordon run` (run_loop.cc) and of cordon-runc's monitor (oci/monitor.cc).
#pragma once

#include <functional>

#include "common/result.h"
#include "supervisor/task/task.h"

namespace cordon {

struct FollowOptions {
  int sigfd = -1;  // a signalfd (non-blocking), or -1
  // Each signal read from sigfd; unset: forwarded to the task (Task::ForwardSignal).
  std::function<void(int signo)> on_signal;
  // After every round of events (the warm pool's hand-over, for one).
  std::function<Result<void>()> after_round;
  // Stay until the task's cgroup is removed (done()), not only until the outcome is settled
  // (finished()); without a cgroup the shim's own exit is not the caller's wait.
  bool wait_for_cleanup = true;
};

// Returns when the task is finished (and, with wait_for_cleanup, done), or with poll's or
// after_round's error.
Result<void> FollowTask(Task& task, const FollowOptions& opts);

}  // namespace cordon
