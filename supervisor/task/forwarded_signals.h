// supervisor/task/forwarded_signals.h: the signals a user sends to `cordon run` that are meant for
// the task, collected on a signalfd for the supervisor to pass on (full mode: task/run_loop.cc;
// landlock mode: cli/landlock_run.cc, through its keeper).
#pragma once

#include <signal.h>

#include "common/unique_fd.h"

namespace cordon {

// While it lives: SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2 and SIGWINCH are blocked and
// readable on fd(); SIGPIPE is blocked too, not forwarded, so that a write to a reader (or a
// keeper) that is gone sees EPIPE instead of killing us. Construct it before the task's processes
// are started, so that no signal is lost in between. Its end takes a SIGPIPE left pending (unless
// the caller had SIGPIPE blocked) and restores the caller's signal mask.
class ForwardedSignals {
 public:
  ForwardedSignals();
  ~ForwardedSignals();
  ForwardedSignals(const ForwardedSignals&) = delete;
  ForwardedSignals& operator=(const ForwardedSignals&) = delete;

  // The signalfd (non-blocking, close-on-exec), or -1 when it could not be made: errno_value().
  int fd() const { return fd_.Get(); }
  int errno_value() const { return err_; }

 private:
  sigset_t old_{};
  UniqueFd fd_;
  int err_ = 0;
};

}  // namespace cordon
