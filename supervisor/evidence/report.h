// supervisor/evidence/report.h: everything a task's evidence record says, as plain data. The
// running task (supervisor/task/) fills one in when it is finished; BuildEvidence (record.h)
// turns it into the record. Nothing here refers back to the task.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/bindings/grant.h"
#include "supervisor/cgroup/task_cgroup.h"
#include "supervisor/egress/record.h"
#include "supervisor/evidence/outcome.h"
#include "supervisor/policy.h"
#include "supervisor/seccomp/filter.h"
#include "supervisor/seccomp/notifier.h"

namespace cordon {

// What the supervisor's monitor saw of a sandbox without a cgroup (supervisor/task/sandbox_monitor.h).
struct MonitorFigures {
  uint64_t period_ms = 0;
  uint64_t samples = 0, pss_samples = 0, peak_memory_bytes = 0, cpu_usec = 0;
  uint32_t peak_processes = 0;
};

// How the sandbox's resources were held and counted (docs/evidence.md usage, limits.enforcement).
struct AccountingReport {
  std::string cgroup_mode;                // "v2", "hybrid", "v1", or "none: why"
  std::optional<cgroup::Usage> cgroup;    // the cgroup's final figures, when there was one
  std::optional<MonitorFigures> monitor;  // when the supervisor's monitor held the budgets
  // "cgroup", "monitor", "rlimit" or "none" (lifted), per budget.
  std::string enforce_memory, enforce_cpu, enforce_pids;
};

struct TaskReport {
  std::string task_id;
  std::vector<std::string> argv;
  std::string cwd;
  std::shared_ptr<const Policy> policy;
  std::shared_ptr<const SeccompFilter> filter;
  // The sandbox: how the ids map, its hostname and tmpfs size, the outer shim.
  bool rootful = false;
  uint32_t task_uid = 0, task_gid = 0, host_uid = 0, host_gid = 0;
  std::string hostname;
  uint64_t tmpfs_bytes = 0;
  pid_t shim_pid = -1;
  bool pooled = false;
  int landlock_abi = 0;  // Landlock's ABI the task restricted itself with as a second layer, 0 = none
  TaskTiming timing;
  TaskOutcome outcome;
  std::optional<proto::ExitRecord> exit;  // PID 1's report: the task's status and rusage
  seccomp::DenialLog seccomp;
  AccountingReport accounting;
  uint64_t output_bytes = 0;              // forwarded (counted only with limits.output_bytes)
  // The capability map: the bindings as opened, and each state binding's size after the task.
  std::shared_ptr<std::vector<OpenBinding>> bindings;
  std::vector<uint64_t> state_bytes_after;  // parallel to *bindings
  std::vector<egress::EgressRecord> egress;
  uint64_t egress_calls = 0, egress_dropped = 0;
};

}  // namespace cordon
