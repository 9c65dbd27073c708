// tests/support/cgroup_bases.h: where Cordon puts task cgroups on this host, found by the cgroup
// layout code's own discovery (supervisor/cgroup/layout.h) for this process, so that a test looks
// where a run really puts them (a systemd-delegated base, CORDON_CGROUP_SUBTREE), not at fixed paths.
#pragma once

#include <string>
#include <vector>

namespace cordon::test {

// The v2 base and every v1 hierarchy's base Cordon would use here ("" entries left out); empty when
// this process may use no cgroup.
std::vector<std::string> TaskCgroupBases();

}  // namespace cordon::test
