// tests/support/cgroup_bases.h: where Cordon puts task cgroups on this host, found by the cgroup
// layout code's own discovery (supervisor/cgroup/layout.h) for this process, so that a test looks
// where a run really puts them (a systemd-delegated base, CORDON_CGROUP_SUBTREE), not at fixed
// paths; and whether this host gives this uid a cgroup at all, decided from the host (the
// cgroupfs mounts, our cgroup's delegation, write access), not from a run's evidence.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace cordon::test {

// The v2 base and every v1 hierarchy's base Cordon would use here ("" entries left out); empty when
// this process may use no cgroup. ignore_v2: as with CORDON_CGROUPS=v1.
std::vector<std::string> TaskCgroupBases(bool ignore_v2 = false);

// "" when this uid may create task cgroups here; otherwise why not (for GTEST_SKIP).
std::string NoTaskCgroupReason(bool ignore_v2 = false);

// The task cgroup directories (in every hierarchy Cordon uses here, wherever its base is) whose
// owner mark names `pid` (a cordond, or a `cordon run`).
std::vector<std::string> CgroupsOwnedBy(pid_t pid);

// Kills what the task cgroups owned by `pid` hold and removes them (the test side's clean-up after
// a test that crashed that supervisor on purpose). Returns the task names removed.
std::vector<std::string> RemoveCgroupsOwnedBy(pid_t pid);

}  // namespace cordon::test
