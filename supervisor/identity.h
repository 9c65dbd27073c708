// supervisor/identity.h: which host uid/gid a task runs as.
//
// Rootless (the supervisor is not root): the caller's own uid/gid is the only id mapped into the
// task's user namespace. Rootful: every live task gets a host uid/gid of its own from a dedicated
// range (like systemd's DynamicUser= or a subordinate-id block), so two tasks never share a host
// identity. A slot is held by an flock() on /run/cordon/ids/<slot>.lock for the task's lifetime:
// the kernel releases it if the supervisor dies, so crashed supervisors leak nothing.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace cordon {

struct IdRange {
  uint32_t start = 524288;  // 0x80000: above systemd's dynamic (61184-65519) and container ranges
  uint32_t count = 65536;
};

// Parses "START:COUNT" (e.g. "524288:65536"). Rejects ranges that include uid 0 or overflow.
Result<IdRange> ParseIdRange(const std::string& text);

struct TaskIdentity {
  bool rootful = false;
  uint32_t host_uid = 0, host_gid = 0;
  UniqueFd lease;  // holds the slot's lock while the task lives (rootful only)
};

// Rootful when euid is 0. `lock_dir` is created (0700) if missing.
Result<TaskIdentity> AcquireIdentity(const IdRange& range, const std::string& lock_dir = "/run/cordon/ids");

}  // namespace cordon
