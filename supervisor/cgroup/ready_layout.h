// supervisor/cgroup/ready_layout.h: the cgroup layout of a supervisor that runs one task (`cordon
// run`, cordon-runc's monitor): detected, its base prepared, and any failure kept as the layout's
// no_cgroup_reason, so that the task runs without a cgroup and its evidence says why.
#pragma once

#include <string>

#include "supervisor/cgroup/layout.h"

namespace cordon::cgroup {

// DetectLayout(options), then PrepareBase. `not_ours`: when not "", why the host's cgroups are not
// this process's to use (checked before preparing anything).
Layout ReadyLayout(const BaseOptions& options = {}, const std::string& not_ours = "");

}  // namespace cordon::cgroup
