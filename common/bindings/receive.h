// common/bindings/receive.h: the shim's end of the bindings module (docs/bindings.md): the steps
// that turn the supervisor's verified bindings into mounts and fds inside the sandbox. Each
// re-opens the host path with common/bindings/resolve.h's OpenVerified, the function the
// supervisor opened it with, and checks it is the inode the supervisor recorded. Built into
// cordon-shim only (-fno-exceptions, no parser); reports through shim/failure.h.
#pragma once

#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/unique_fd.h"
#include "shim/failure.h"

namespace cordon::bindings {

// Step kStageBindings, in the rootful outer shim, while it is still host root: enters a private
// mount namespace of its own (PID 1's is cloned from it), re-opens each mounted binding's source
// and binds it under a staging tmpfs; spec->binds[i].source then names the staged path. PID 1
// (which runs as the task's host uid) could not traverse root-only directories itself, and cannot
// clone a mount of the host's namespace.
bool StageBindings(proto::LaunchSpec* spec, shim::Failure* f);

// Step kResolveBindings, in PID 1 before its ids drop (rootful PID 1 still has the host root's
// owner access to the path): re-opens each mounted binding's (staged) source in its own mount
// namespace. `out` is parallel to spec.binds (empty fds for bindings that are not mounted).
bool ResolveBindings(const proto::LaunchSpec& spec, std::vector<UniqueFd>* out, shim::Failure* f);

// Step kMountBindings: mounts each binding at new_root + target from PID 1's verified fd (an
// OPEN_TREE_CLONE of it), nosuid, nodev, noexec, read-only unless the binding is writable.
bool MountBindings(const proto::LaunchSpec& spec, const std::string& new_root, const std::vector<UniqueFd>& fds,
                   shim::Failure* f);

// Step kBindingFds, after pivot_root: a directory binding reaches the task as an O_PATH fd on its
// mount inside the sandbox, never on the host directory: ".." from there stays in the sandbox.
// Sets task_fds[3 + fd_index] to it; `owned` keeps the fds.
bool OpenBindingFds(const proto::LaunchSpec& spec, std::vector<int>* task_fds, std::vector<UniqueFd>* owned,
                    shim::Failure* f);

}  // namespace cordon::bindings
