// supervisor/oci/query.h: the read-only commands of cordon-runc: state (the OCI state JSON), ps,
// events --stats (the sandbox's cgroup figures), features. Each prints to stdout.
#pragma once

#include <string>

#include "common/result.h"
#include "supervisor/oci/container.h"

namespace cordon::oci {

Result<void> PrintState(const Globals& g, const std::string& id);
Result<void> PrintPs(const Globals& g, const std::string& id, bool json);
Result<void> PrintStats(const Globals& g, const std::string& id);
void PrintFeatures();

// The sandbox's cgroup directory in `controller`'s hierarchy ("" = the cgroup2 one), found from a
// process of the container; empty when it has none.
std::string ContainerCgroupDir(const Globals& g, const std::string& id, const std::string& controller);

}  // namespace cordon::oci
