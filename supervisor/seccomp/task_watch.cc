// supervisor/seccomp/task_watch.cc: a task's side of seccomp: its listener goes to the notifier thread
// (supervisor/seccomp/notifier.h), its record comes back when it is finished, and a death by a
// seccomp kill becomes its outcome (docs/seccomp.md).
#include <signal.h>

#include "supervisor/seccomp/notifier.h"
#include "supervisor/task/task.h"

namespace cordon {
namespace {

std::string Describe(const SeccompDenial& d) {
  return d.name + " (nr " + std::to_string(d.nr) + ", " + d.arch + ")";
}

}  // namespace

void Task::WatchSeccomp(UniqueFd listener) {
  auto w = seccomp::Notifier::Shared().Add(std::move(listener), filter_, pidfd_.Get());
  if (w) {
    seccomp_watch_ = std::move(*w);
  } else {
    // Nobody would answer the task's denials: it would block in its first one.
    Kill(FailureClass::kSetupFailed, "seccomp notifications cannot be served: " + w.error().Message());
  }
}

void Task::EndSeccompWatch() {
  if (!seccomp_watch_) return;
  seccomp_log_ = seccomp::Notifier::Shared().Remove(seccomp_watch_);
  seccomp_watch_.reset();
}

void Task::SettleSeccompDeath() {
  TaskOutcome& o = outcome_;
  o.failure = FailureClass::kSeccompViolation;
  const auto& log = seccomp_log_;
  // A process the supervisor had to SIGKILL for a seccomp kill (it caught or blocked SIGSYS), or
  // a task that vanished without a status, ended as the profile's kill: by SIGSYS.
  if (log.fatal && (o.task_signal == SIGKILL || o.task_signal == SIGSYS || (o.task_signal == 0 && o.task_exit_code < 0))) {
    o.task_signal = SIGSYS;
    o.task_exit_code = -1;
    o.exit_code = 128 + SIGSYS;
  }
  if (log.fatal) {
    const SeccompDenial& f = *log.fatal;
    const std::string how = log.fatal_signal == SIGKILL ? "SIGKILL (it caught, ignored or blocked SIGSYS)" : "SIGSYS";
    if (f.rule == "architecture") {
      o.message = "a process of the task made a system call of a foreign ABI, " + Describe(f) +
                  ", which the seccomp filter kills; it was killed by " + how;
    } else {
      o.message = "a process of the task called " + Describe(f) + ", which seccomp profile " + filter_->name +
                  " answers with " + f.action + " (" + f.rule + "); it was killed by " + how;
    }
    return;
  }
  for (const auto& d : log.denied) {
    if (d.action == "SCMP_ACT_TRAP") {
      o.message = "the task was killed by SIGSYS after seccomp profile " + filter_->name + " trapped " + Describe(d) +
                  " (" + d.rule + ") and delivered SIGSYS to its handler";
      return;
    }
  }
  o.message = "the task was killed by SIGSYS, which seccomp did not send (the process raised it itself)";
}

}  // namespace cordon
