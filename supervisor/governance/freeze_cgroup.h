// supervisor/governance/freeze_cgroup.h: freezing and thawing one running task through the cgroup
// freezer, the kill-switch's data-plane half. Supervisor side; needs write access to the task's
// cgroup (the one TaskCgroup::Create made: <base>/task-<id> in each hierarchy of the Layout).
//
// Which freezer: the cgroup2 core file cgroup.freeze (kernel >= 5.2) in the task's v2 directory
// whenever the layout uses a v2 tree, which on a hybrid host is the controller-less
// /sys/fs/cgroup/unified tree (cgroup.freeze needs no controller); otherwise the v1 freezer
// hierarchy's freezer.state (Documentation/admin-guide/cgroup-v1/freezer-subsystem.rst), which is
// where the Layout places task cgroups on a v1-only host. Frozen processes stay frozen until
// thawed; SIGKILL still ends them on v2, while on v1 a frozen process dies only once thawed, so
// the caller thaws after a kill.
#pragma once

#include <string>

#include "common/result.h"
#include "supervisor/cgroup/layout.h"

namespace cordon::governance {

struct FreezerFile {
  std::string path;  // the file written (cgroup.freeze or freezer.state)
  bool v2 = false;
};

// The freezer file of task `task_id`'s cgroup, or an error saying why there is none (no per-task
// cgroup on this host, or no freezer in its hierarchies).
Result<FreezerFile> TaskFreezer(const cgroup::Layout& layout, const std::string& task_id);

// Writes "1"/"0" (v2) or "FROZEN"/"THAWED" (v1). Does not wait: the kernel completes a freeze
// asynchronously (IsFrozen tells when).
Result<void> SetFrozen(const FreezerFile& f, bool frozen);

// Whether the kernel reports the cgroup frozen: cgroup.events "frozen 1" (v2), freezer.state
// "FROZEN" (v1; "FREEZING" is not yet).
Result<bool> IsFrozen(const FreezerFile& f);

}  // namespace cordon::governance
