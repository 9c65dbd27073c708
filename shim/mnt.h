// shim/mnt.h: the sandbox's filesystem, one function per setup step (common/setup_step.h), called
// in order by shim/child.cc. Runs in the child (PID 1 of the new namespaces) after the id maps are
// written and while it still holds every capability of its user namespace. The policy's bindings
// are mounted by common/bindings/receive.h, between ScratchMounts and MountProc.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "common/protocol.h"
#include "common/unique_fd.h"
#include "shim/failure.h"

namespace cordon::shim::mnt {

// Directories of the new root known to exist, so that making a mount point does not mkdir again
// the parents that are there already (one EEXIST system call each). Only this setup writes the new
// root, so the list is exact until a mount hides what was below its mount point: Covered forgets
// those.
class KnownDirs {
 public:
  // MkdirAll (common/fs_util.h) of `path`, unless it is known to exist. Returns false with errno.
  bool Make(const std::string& path, mode_t mode);
  // `path` exists (a mount point this setup made another way).
  void Add(std::string path) { dirs_.push_back(std::move(path)); }
  // A mount now sits on `mount_point`: what was below it is hidden.
  void Covered(const std::string& mount_point);
  void Clear() { dirs_.clear(); }

 private:
  std::vector<std::string> dirs_;
};

// What one step leaves for a later one.
struct RootState {
  std::vector<UniqueFd> sources;  // read-only binds' host sources, parallel to spec.mounts
  KnownDirs dirs;
};

// The new root, below the scratch tmpfs, until kPivotRoot makes it "/".
const char* NewRoot();

// kMountPrivate: MS_REC|MS_PRIVATE on "/", so nothing propagates to the host; then opens every
// read-only bind's host source (O_PATH) while the host's tree is still what the spec names
// (kMountRoot mounts the scratch tmpfs over /tmp, which would hide a source below it).
bool MakeMountsPrivate(const proto::LaunchSpec& spec, RootState* st, Failure* f);
// kMountRoot: the scratch tmpfs (size = spec.tmpfs_bytes; /tmp, /work, /dev/shm) and the root tmpfs.
bool MountRoot(const proto::LaunchSpec& spec, RootState* st, Failure* f);
// kBindMounts: the spec's read-only binds, symlinks and directories, in the spec's order.
bool BindMounts(const proto::LaunchSpec& spec, RootState* st, Failure* f);
// kScratchMounts: /tmp and /work of the new root from the scratch tmpfs (nosuid, nodev, noexec).
bool ScratchMounts(RootState* st, Failure* f);
// kMountProc: a fresh /proc with docs/sandbox.md's masks and views, and the time namespace whose
// uptime starts at `boot_floor_s` (whole seconds of CLOCK_BOOTTIME read before PID 1 was cloned).
bool MountProc(const proto::LaunchSpec& spec, uint64_t boot_floor_s, RootState* st, Failure* f);
// kMountDev: tmpfs /dev with binds of the host's harmless character devices.
bool MountDev(const proto::LaunchSpec& spec, RootState* st, Failure* f);
// kEtcFiles: the spec's generated files (/etc/passwd, group, hosts, ...).
bool EtcFiles(const proto::LaunchSpec& spec, RootState* st, Failure* f);
// kPivotRoot: pivot_root(".", ".") into the new root, detach the old one; cwd is "/" afterwards.
bool PivotRoot(Failure* f);
// kRemountReadOnly: "/" read-only; /tmp and /work below it stay writable.
bool RemountReadOnly(Failure* f);

}  // namespace cordon::shim::mnt
