// supervisor/seccomp/task_watch.h: one task's registration with the notifier thread
// (notifier.h). The running task hands its listener over once the task has exec'd, and takes its
// denial record back when the sandbox is gone; between the two the notifier thread owns the record.
// Supervisor side; not thread-safe itself (the task's loop calls it).
#pragma once

#include <memory>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "supervisor/seccomp/notifier.h"

namespace cordon::seccomp {

class TaskWatch {
 public:
  TaskWatch() = default;
  TaskWatch(const TaskWatch&) = delete;
  TaskWatch& operator=(const TaskWatch&) = delete;
  ~TaskWatch() { End(); }

  // Serves `listener` (the task's SECCOMP_FILTER_FLAG_NEW_LISTENER fd) on the shared notifier.
  // The notifier keeps its own reference to `filter` and evaluates with the profile the filter
  // parsed once (SeccompFilter::ParsedProfile), shared by every task that uses that filter.
  // `sandbox_pidfd` is the shim's, the notifier's last resort for a kill. On failure nobody would
  // answer the task's denials: the caller must kill the sandbox.
  Result<void> Start(UniqueFd listener, std::shared_ptr<const SeccompFilter> filter, int sandbox_pidfd);
  // Stops serving and takes the record back. Safe to call again, and without Start().
  void End();
  // The record, complete once End() was called.
  const DenialLog& log() const { return log_; }

 private:
  std::shared_ptr<Notifier::Watch> watch_;
  DenialLog log_;
};

// The one line for the user when a task died by SIGSYS: the fatal call of `log` and what profile
// `profile_name` did with it, a trapped call, or a SIGSYS that seccomp did not send. Pure.
std::string SigsysDeathMessage(const DenialLog& log, const std::string& profile_name);

}  // namespace cordon::seccomp
