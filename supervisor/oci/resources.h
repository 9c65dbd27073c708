// supervisor/oci/resources.h: the commands of cordon-runc that act on a running container's cgroup:
// pause and resume (the cgroup freezer: cgroup.freeze on cgroup2, also on a hybrid host's
// controller-less tree, else the v1 freezer's freezer.state) and update (linux.resources: the
// memory and pids limits, as `create` applies them; CPU fields are noted as ignored, as at create,
// since Cordon budgets CPU time rather than a rate).
//
// Each change is also appended to the container's events.jsonl (its time, the command and what it
// set), which `delete` puts into the evidence record ("oci"."events"), so the record of a container
// says when it was frozen and which limits it ran under. A container without a cgroup of its own
// (rootless with no delegated cgroup) cannot be paused or updated: the error says so.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "supervisor/oci/container.h"

namespace cordon::oci {

Result<void> Pause(const Globals& g, const std::string& id);
Result<void> Resume(const Globals& g, const std::string& id);

// What `update` may change; unset fields are left as they are.
struct ResourceUpdate {
  std::optional<int64_t> memory_limit;  // bytes; -1 = no limit
  std::optional<int64_t> pids_limit;    // -1 or 0 = no limit
  std::vector<std::string> ignored;     // fields given but not applied (cpu.*, memory.swap, ...), for the record
};

// Parses an OCI LinuxResources object (`update --resources FILE`, "-" for stdin as containerd's
// shim sends it). cpu.* and memory fields other than limit are noted in `ignored` (as `create`
// ignores them); fields whose change Cordon cannot make safely on a running sandbox (devices,
// blockIO, hugepageLimits, rdma, network, unified) are refused naming the field.
Result<ResourceUpdate> ParseResources(const std::string& json_text);

Result<void> Update(const Globals& g, const std::string& id, const ResourceUpdate& u);

// The lines of the container's events.jsonl as a JSON array text ("[]" when none).
std::string ContainerEvents(const std::string& container_dir);

}  // namespace cordon::oci
