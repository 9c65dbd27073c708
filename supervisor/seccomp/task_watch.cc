// supervisor/seccomp/task_watch.cc: a task's side of seccomp: its listener goes to the notifier
// thread (notifier.h), its record comes back when it is finished, and a death by a seccomp kill
// is described for its outcome (docs/seccomp.md).
#include "supervisor/seccomp/task_watch.h"

#include <signal.h>

namespace cordon::seccomp {
namespace {

std::string Describe(const Denial& d) { return d.name + " (nr " + std::to_string(d.nr) + ", " + d.arch + ")"; }

}  // namespace

Result<void> TaskWatch::Start(UniqueFd listener, std::shared_ptr<const SeccompFilter> filter, int sandbox_pidfd) {
  CORDON_ASSIGN_OR_RETURN(watch_, Notifier::Shared().Add(std::move(listener), std::move(filter), sandbox_pidfd));
  return {};
}

void TaskWatch::End() {
  if (!watch_) return;
  log_ = Notifier::Shared().Remove(watch_);
  watch_.reset();
}

std::string SigsysDeathMessage(const DenialLog& log, const std::string& profile_name) {
  if (log.fatal) {
    const Denial& f = *log.fatal;
    const std::string how = log.fatal_signal == SIGKILL ? "SIGKILL (it caught, ignored or blocked SIGSYS)" : "SIGSYS";
    if (f.rule == "architecture")
      return "a process of the task made a system call of a foreign ABI, " + Describe(f) +
             ", which the seccomp filter kills; it was killed by " + how;
    return "a process of the task called " + Describe(f) + ", which seccomp profile " + profile_name +
           " answers with " + f.action + " (" + f.rule + "); it was killed by " + how;
  }
  for (const auto& d : log.denied) {
    if (d.action == "SCMP_ACT_TRAP")
      return "the task was killed by SIGSYS after seccomp profile " + profile_name + " trapped " + Describe(d) +
             " (" + d.rule + ") and delivered SIGSYS to its handler";
  }
  return "the task was killed by SIGSYS, which seccomp did not send (the process raised it itself)";
}

}  // namespace cordon::seccomp
