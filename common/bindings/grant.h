// common/bindings/grant.h: the supervisor's end of the bindings module, capabilities as file
// descriptors (docs/bindings.md). The supervisor opens every binding the policy declares
// (common/bindings/resolve.h); the task receives each as an fd ($CORDON_FD_<NAME>) and, for
// directories, files and state, as a mount at its target (the shim's end, receive.h). Nothing
// undeclared reaches the task. Built into the supervisor only (it reads the parsed Policy).
#pragma once

#include <sys/types.h>

#include <map>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "supervisor/policy.h"

namespace cordon {

struct OpenBinding {
  Binding binding;
  std::string host_path;   // resolved host path (the state directory for kState; "caller" fds: "")
  UniqueFd fd;             // dir/state: O_PATH|O_DIRECTORY; file: opened ro or rw; socket: connected
  dev_t dev = 0;           // identity of what was opened, checked again by the shim before mounting
  ino_t ino = 0;
  bool mounted = false;    // mounted at binding.target inside the sandbox
  uint64_t state_bytes = 0;  // kState: bytes held before the task
};

struct BindingContext {
  std::string state_root;              // e.g. /var/lib/cordon/state
  std::string tenant;                  // the verified principal's tenant
  std::string app = "default";         // app id of the request
  std::map<std::string, int> caller_fds;  // --fd NAME=N: borrowed fds of the caller
  // false: state bindings are not measured here (state_bytes 0, no quota check); the caller
  // measures them off its thread, then calls CheckStateQuota (cordond, docs/daemon.md).
  bool measure_state = true;
};

// Opens every binding of `policy`. Refuses (naming the binding, the policy and the reason): a caller
// fd the policy does not declare, a declared caller binding without its fd, a source that does not
// exist, is a symlink or passes through one, or is of the wrong type, a state binding over quota.
Result<std::vector<OpenBinding>> OpenBindings(const Policy& policy, const BindingContext& ctx);

// Refuses a state binding whose state_bytes is over its max_bytes, naming it and its policy.
Result<void> CheckStateQuota(const OpenBinding& ob, const Policy& policy);

// Default state root: /var/lib/cordon/state as root, $XDG_STATE_HOME/cordon/state otherwise.
std::string DefaultStateRoot();

// Bytes held by the files below `dir` (st_blocks), not following symlinks or crossing mounts.
// Walks by fd (openat O_NOFOLLOW|O_DIRECTORY, fdopendir): a symlink swapped in for a directory
// during the walk is never followed. `dir` itself may not be or pass through a symlink. At most
// 256 levels deep. 0 when `dir` cannot be opened.
uint64_t DirectoryBytes(const std::string& dir);
// The same for the directory `dir_fd` refers to (an O_PATH fd is fine).
uint64_t DirectoryBytes(int dir_fd);

}  // namespace cordon
