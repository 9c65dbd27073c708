// supervisor/task/accounting.h: how a task's sandbox is held to its budgets and counted: a
// per-task cgroup where the host allows one (limits written before anything of the task exists,
// CPU budget checks, final figures), otherwise the supervisor's /proc monitor (sandbox_monitor.h)
// and rlimits. One part of a running task; it fills the evidence's AccountingReport.
// Supervisor side, driven by the task's loop; owns the task's cgroup.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>

#include "common/protocol.h"
#include "common/result.h"
#include "supervisor/cgroup/layout.h"
#include "supervisor/cgroup/task_cgroup.h"
#include "supervisor/evidence/report.h"
#include "supervisor/policy.h"

namespace cordon {

// How often the supervisor samples a sandbox that has no cgroup (sandbox_monitor.h): the most a
// budget can be overrun by is what the sandbox gains in one period.
inline constexpr uint64_t kMonitorPeriodNs = 20'000'000ull;

class TaskAccounting {
 public:
  struct Options {
    // Without a cgroup, memory and CPU budgets are refused unless the caller accepts per-process
    // rlimits (TaskRequest::per_process_limits); `no_monitor` never uses the monitor.
    bool per_process_limits = false;
    bool no_monitor = false;
  };
  // A budget the task went over: the task is to be killed with this failure class and message.
  struct Verdict {
    FailureClass failure;
    std::string message;
  };

  // Creates and limits the task's cgroup `cgroup_name` under `cgroups` (nullptr, or a layout with
  // no_cgroup_reason set: none), or decides how the budgets hold without one. Writes the rlimits
  // and cgroup flag the shim applies into `spec`. Fails with what to do when a budget cannot be
  // held at all.
  static Result<TaskAccounting> Create(const Policy& policy, const cgroup::Layout* cgroups,
                                       const std::string& cgroup_name, const Options& opts, proto::LaunchSpec* spec);

  // The task's cgroup, nullptr without one (or once removed).
  cgroup::TaskCgroup* cgroup() { return cgroup_ ? &*cgroup_ : nullptr; }
  bool has_cgroup() const { return cgroup_.has_value(); }
  // Removes the (empty) cgroup; the final figures were read by Finish().
  void RemoveCgroup();

  // The task's clocks start at `from`: the first CPU budget check or monitor sample.
  void StartClocks(uint64_t from);
  // The next check (0: none), and the checks that are due. `killed`: the task is being killed
  // already, so nothing is checked any more. `shim_pid` roots the monitor's process walk.
  uint64_t NextDeadlineNs() const;
  std::optional<Verdict> OnDeadline(uint64_t now_ns, pid_t shim_pid, bool killed);
  // Memory charged to the sandbox's cgroup right now, nullopt without a memory cgroup.
  std::optional<uint64_t> MemoryBytes() const;

  // The sandbox is gone: reads the cgroup's final figures.
  void Finish();
  // What the cgroup (or, without one, the rlimits) says about how the task ended. Only refines
  // an unsuccessful end: a task that exited 0 stays "none" whatever it brushed against.
  void RefineOutcome(const PolicyLimits& limits, const std::optional<proto::ExitRecord>& exit,
                     TaskOutcome* outcome) const;

  const AccountingReport& report() const { return report_; }

 private:
  std::optional<Verdict> CheckCpuBudget(uint64_t now);
  std::optional<Verdict> SampleMonitor(uint64_t now, pid_t shim_pid);

  std::optional<cgroup::TaskCgroup> cgroup_;
  bool shim_in_v1_pids_ = false;  // the outer shim counts in the v1 pids cgroup
  uint64_t memory_budget_ = 0, cpu_budget_ms_ = 0;
  uint64_t cpu_check_ns_ = 0, monitor_check_ns_ = 0;
  AccountingReport report_;  // report_.monitor is set when the monitor holds the budgets
};

}  // namespace cordon
