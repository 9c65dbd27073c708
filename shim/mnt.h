// shim/mnt.h: the sandbox's filesystem, one function per setup step (common/setup_step.h), called
// in order by shim/child.cc. Runs in the child (PID 1 of the new namespaces) after the id maps are
// written and while it still holds every capability of its user namespace. The policy's bindings
// are mounted by common/bindings/receive.h, between ScratchMounts and MountProc.
#pragma once

#include <cstdint>
#include <vector>

#include "common/protocol.h"
#include "common/unique_fd.h"
#include "shim/failure.h"

namespace cordon::shim::mnt {

// What one step leaves for a later one.
struct RootState {
  std::vector<UniqueFd> sources;  // read-only binds' host sources, parallel to spec.mounts
};

// The new root, below the scratch tmpfs, until kPivotRoot makes it "/".
const char* NewRoot();

// kMountPrivate: MS_REC|MS_PRIVATE on "/", so nothing propagates to the host; then opens every
// read-only bind's host source (O_PATH) while the host's tree is still what the spec names
// (kMountRoot mounts the scratch tmpfs over /tmp, which would hide a source below it).
bool MakeMountsPrivate(const proto::LaunchSpec& spec, RootState* st, Failure* f);
// kMountRoot: the scratch tmpfs (size = spec.tmpfs_bytes; /tmp, /work, /dev/shm) and the root tmpfs.
bool MountRoot(const proto::LaunchSpec& spec, Failure* f);
// kBindMounts: the spec's read-only binds, symlinks and directories, in the spec's order.
bool BindMounts(const proto::LaunchSpec& spec, RootState* st, Failure* f);
// kScratchMounts: /tmp and /work of the new root from the scratch tmpfs (nosuid, nodev, noexec).
bool ScratchMounts(Failure* f);
// kMountProc: a fresh /proc with docs/sandbox.md's masks and views, and the time namespace whose
// uptime starts at `boot_floor_s` (whole seconds of CLOCK_BOOTTIME read before PID 1 was cloned).
bool MountProc(const proto::LaunchSpec& spec, uint64_t boot_floor_s, Failure* f);
// kMountDev: tmpfs /dev with binds of the host's harmless character devices.
bool MountDev(const proto::LaunchSpec& spec, Failure* f);
// kEtcFiles: the spec's generated files (/etc/passwd, group, hosts, ...).
bool EtcFiles(const proto::LaunchSpec& spec, Failure* f);
// kPivotRoot: pivot_root(".", ".") into the new root, detach the old one; cwd is "/" afterwards.
bool PivotRoot(Failure* f);
// kRemountReadOnly: "/" read-only; /tmp and /work below it stay writable.
bool RemountReadOnly(Failure* f);

}  // namespace cordon::shim::mnt
