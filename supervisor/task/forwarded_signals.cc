// supervisor/task/forwarded_signals.cc: see forwarded_signals.h.
#include "supervisor/task/forwarded_signals.h"

#include <sys/signalfd.h>

#include <cerrno>
#include <ctime>

namespace cordon {

ForwardedSignals::ForwardedSignals() {
  sigset_t forwarded;
  sigemptyset(&forwarded);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH}) sigaddset(&forwarded, s);
  sigset_t blocked = forwarded;
  sigaddset(&blocked, SIGPIPE);
  ::sigprocmask(SIG_BLOCK, &blocked, &old_);
  fd_.Reset(::signalfd(-1, &forwarded, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!fd_) err_ = errno;
}

ForwardedSignals::~ForwardedSignals() {
  if (!sigismember(&old_, SIGPIPE)) {
    sigset_t pipe;
    sigemptyset(&pipe);
    sigaddset(&pipe, SIGPIPE);
    const timespec zero{0, 0};
    while (::sigtimedwait(&pipe, nullptr, &zero) == SIGPIPE) {
    }
  }
  ::sigprocmask(SIG_SETMASK, &old_, nullptr);
}

}  // namespace cordon
