// shim/mnt.h: the sandbox's filesystem. Runs in the child (PID 1 of the new namespaces) after the
// id maps are written and while it still holds every capability of its user namespace.
#pragma once

#include "common/protocol.h"
#include "shim/failure.h"

namespace cordon::shim::mnt {

// Steps kMountPrivate..kRemountReadOnly: makes mounts private, builds a tmpfs root with the spec's
// read-only binds, generated files, a fresh /proc and a minimal /dev, a scratch tmpfs shared by
// /tmp, /work and /dev/shm (size = spec.tmpfs_bytes), then pivots into it, detaches the old root
// and makes "/" read-only. On return the process's cwd is "/".
bool BuildRoot(const proto::LaunchSpec& spec, Failure* f);

}  // namespace cordon::shim::mnt
