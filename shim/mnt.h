// shim/mnt.h: the sandbox's filesystem. Runs in the child (PID 1 of the new namespaces) after the
// id maps are written and while it still holds every capability of its user namespace.
#pragma once

#include <vector>

#include "common/protocol.h"
#include "shim/failure.h"

namespace cordon::shim::mnt {

// Steps kMountPrivate..kRemountReadOnly: makes mounts private, builds a tmpfs root with the spec's
// read-only binds, generated files, a fresh /proc and a minimal /dev, a scratch tmpfs shared by
// /tmp, /work and /dev/shm (size = spec.tmpfs_bytes), then pivots into it, detaches the old root
// and makes "/" read-only. On return the process's cwd is "/".
// `bind_fds` are PID 1's own O_PATH fds of the mounted bindings, parallel to spec.binds (-1 for
// bindings that are not mounted). `boot_floor_s`: whole seconds of CLOCK_BOOTTIME read before PID 1
// was cloned; the sandbox's time namespace counts its uptime from there.
bool BuildRoot(const proto::LaunchSpec& spec, const std::vector<int>& bind_fds, uint64_t boot_floor_s,
               Failure* f);

// Step kStageBindings, in the rootful outer shim, while it is still host root: enters a private
// mount namespace of its own (PID 1's is cloned from it), re-opens each mounted binding's source
// without symlinks, checks the inode, and binds it under a staging tmpfs; spec->binds[i].source
// then names the staged path. PID 1 (which runs as the task's host uid) could not traverse
// root-only directories itself, and cannot clone a mount of the host's namespace.
bool StageBindings(proto::LaunchSpec* spec, Failure* f);

// Step kResolveBindings: opens each mounted binding's source in our own mount namespace, without
// following symlinks, and checks it is the inode the supervisor opened. Runs before the ids drop,
// so rootful PID 1 still has the host root's owner access to the path. Fills `out`.
bool ResolveBindings(const proto::LaunchSpec& spec, std::vector<int>* out, Failure* f);

}  // namespace cordon::shim::mnt
