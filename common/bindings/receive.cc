#include "common/bindings/receive.h"

#include <fcntl.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include "common/bindings/resolve.h"
#include "common/fs_util.h"

namespace cordon::bindings {
namespace {

using proto::BindEntry;
using proto::LaunchSpec;
using shim::Failure;
using shim::SetFailure;

// The supervisor's fd as it recorded it: O_PATH, a directory for dir and state bindings.
Result<Resolved> Reopen(const BindEntry& b) {
  const Identity expect{static_cast<dev_t>(b.dev), static_cast<ino_t>(b.ino)};
  return OpenVerified(b.source.c_str(), O_PATH, (b.flags & proto::kBindDir) ? Kind::kDirectory : Kind::kAny, &expect);
}

bool ReopenFailed(const BindEntry& b, const Error& e, SetupStep step, Failure* f) {
  if (e.err == ESTALE)
    return SetFailure(f, step, ESTALE,
                      "binding %s changed between admission and mount (not the inode the supervisor opened)",
                      b.source.c_str());
  return SetFailure(f, step, e.err, "binding %s: re-open without symlinks", b.source.c_str());
}

}  // namespace

bool StageBindings(LaunchSpec* spec, Failure* f) {
  bool any = false;
  for (const auto& b : spec->binds) any = any || (b.flags & proto::kBindMount);
  if (!any) return true;
  if (::unshare(CLONE_NEWNS) < 0) return SetFailure(f, SetupStep::kStageBindings, errno, "unshare mount namespace");
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) < 0)
    return SetFailure(f, SetupStep::kStageBindings, errno, "make / private");
  const char* stage = nullptr;
  for (const char* d : {"/run", "/mnt", "/srv", "/opt"}) {
    // Never over a directory that holds a read-only bind's source: PID 1 inherits this namespace
    // and opens those sources by path.
    bool holds_source = false;
    const size_t dlen = std::strlen(d);
    for (const proto::MountEntry& m : spec->mounts)
      holds_source = holds_source || (m.kind == proto::MountKind::kRoBind && m.source.compare(0, dlen, d) == 0 &&
                                      (m.source.size() == dlen || m.source[dlen] == '/'));
    if (holds_source) continue;
    if (::mount("cordon-stage", d, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0755,size=64k") == 0) {
      stage = d;
      break;
    }
  }
  if (stage == nullptr) return SetFailure(f, SetupStep::kStageBindings, errno, "mount a staging tmpfs");
  for (size_t i = 0; i < spec->binds.size(); ++i) {
    BindEntry& b = spec->binds[i];
    if (!(b.flags & proto::kBindMount)) continue;
    auto src = Reopen(b);
    if (!src) return ReopenFailed(b, src.error(), SetupStep::kStageBindings, f);
    char staged[64], from[64];
    snprintf(staged, sizeof staged, "%s/b%zu", stage, i);
    snprintf(from, sizeof from, "/proc/self/fd/%d", src->fd.Get());
    bool ok = (b.flags & proto::kBindDir) ? ::mkdir(staged, 0755) == 0 : TouchFile(staged);
    ok = ok && ::mount(from, staged, nullptr, MS_BIND | MS_REC, nullptr) == 0;
    if (!ok) return SetFailure(f, SetupStep::kStageBindings, errno, "stage binding %s", b.source.c_str());
    b.source = staged;
  }
  return true;
}

bool ResolveBindings(const LaunchSpec& spec, std::vector<UniqueFd>* out, Failure* f) {
  out->clear();
  out->resize(spec.binds.size());
  for (size_t i = 0; i < spec.binds.size(); ++i) {
    const BindEntry& b = spec.binds[i];
    if (!(b.flags & proto::kBindMount)) continue;
    auto src = Reopen(b);
    if (!src) return ReopenFailed(b, src.error(), SetupStep::kResolveBindings, f);
    (*out)[i] = std::move(src->fd);
  }
  return true;
}

bool MountBindings(const LaunchSpec& spec, const std::string& new_root, const std::vector<UniqueFd>& fds,
                   Failure* f) {
  for (size_t i = 0; i < spec.binds.size(); ++i) {
    const BindEntry& b = spec.binds[i];
    if (!(b.flags & proto::kBindMount) || i >= fds.size() || !fds[i]) continue;
    std::string dst = new_root + b.target;
    bool ok = (b.flags & proto::kBindDir) ? MkdirAll(dst, 0755) : TouchFile(dst);
    if (!ok) return SetFailure(f, SetupStep::kMountBindings, errno, "create mount point %s", b.target.c_str());
    UniqueFd tree(::open_tree(fds[i].Get(), "", OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_EMPTY_PATH | AT_RECURSIVE));
    if (!tree) return SetFailure(f, SetupStep::kMountBindings, errno, "open_tree binding %s", b.source.c_str());
    mount_attr a{};
    a.attr_set = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC |
                 ((b.flags & proto::kBindWritable) ? 0 : MOUNT_ATTR_RDONLY);
    if (::mount_setattr(tree.Get(), "", AT_EMPTY_PATH | AT_RECURSIVE, &a, sizeof a) < 0)
      return SetFailure(f, SetupStep::kMountBindings, errno, "mount_setattr binding %s", b.target.c_str());
    if (::move_mount(tree.Get(), "", AT_FDCWD, dst.c_str(), MOVE_MOUNT_F_EMPTY_PATH) < 0)
      return SetFailure(f, SetupStep::kMountBindings, errno, "mount binding at %s", b.target.c_str());
  }
  return true;
}

bool OpenBindingFds(const LaunchSpec& spec, std::vector<int>* task_fds, std::vector<UniqueFd>* owned, Failure* f) {
  for (const BindEntry& b : spec.binds) {
    if (!(b.flags & proto::kBindDir)) continue;
    UniqueFd fd(::open(b.target.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!fd) return SetFailure(f, SetupStep::kBindingFds, errno, "open binding %s inside the sandbox", b.target.c_str());
    if (3 + b.fd_index >= task_fds->size())
      return SetFailure(f, SetupStep::kBindingFds, EINVAL, "binding %s: fd index %u out of range", b.target.c_str(),
                        b.fd_index);
    (*task_fds)[3 + b.fd_index] = fd.Get();
    owned->push_back(std::move(fd));
  }
  return true;
}

}  // namespace cordon::bindings
