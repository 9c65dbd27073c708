#include "shim/landlock.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "common/landlock.h"
#include "common/unique_fd.h"

namespace cordon::shim {
namespace {

// Allows `access` beneath `path` of the task's view. A path the sandbox does not have is skipped:
// there is nothing there to allow.
bool Allow(int ruleset, const char* path, uint64_t access, Failure* f) {
  UniqueFd fd(::open(path, O_PATH | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return true;
    return SetFailure(f, SetupStep::kLandlock, errno, "landlock: open %s", path);
  }
  if (int err = landlock::AllowPath(ruleset, fd.Get(), access); err < 0)
    return SetFailure(f, SetupStep::kLandlock, -err, "landlock: allow %s", path);
  return true;
}

}  // namespace

bool ApplyLandlockLayer(const proto::LaunchSpec& spec, int nfds, Failure* f) {
  const int abi = landlock::Abi();
  if (abi < 1) return SetFailure(f, SetupStep::kLandlock, -abi, "landlock: the kernel has no Landlock");
  const uint64_t all = landlock::FsRights(abi);
  UniqueFd rs(landlock::CreateRuleset(abi, all, 0, landlock::Scopes(abi)));
  if (rs.Get() < 0) return SetFailure(f, SetupStep::kLandlock, -rs.Release(), "landlock: create the ruleset");
  const uint64_t files = landlock::kFsReadOnly | landlock::kFsWriteFile | (all & landlock::kFsTruncate);
  if (!Allow(rs.Get(), "/", landlock::kFsReadOnly, f) || !Allow(rs.Get(), "/tmp", all, f) ||
      !Allow(rs.Get(), "/work", all, f) || !Allow(rs.Get(), "/dev/shm", all, f) ||
      !Allow(rs.Get(), "/dev", files | (all & landlock::kFsIoctlDev), f) || !Allow(rs.Get(), "/proc", files, f))
    return false;
  for (int fd = 0; fd < nfds; ++fd) {
    bool writable = false;  // a bound directory: its binding's access
    for (const proto::BindEntry& b : spec.binds)
      if (3 + static_cast<int>(b.fd_index) == fd && (b.flags & proto::kBindWritable)) writable = true;
    if (int err = landlock::AllowOpenFd(rs.Get(), fd, all, writable); err < 0)
      return SetFailure(f, SetupStep::kLandlock, -err, "landlock: allow fd %d", fd);
  }
  for (const proto::BindEntry& b : spec.binds) {
    if (!(b.flags & proto::kBindMount)) continue;
    if (!Allow(rs.Get(), b.target.c_str(), (b.flags & proto::kBindWritable) ? all : landlock::kFsReadOnly, f))
      return false;
  }
  if (int err = landlock::RestrictSelf(rs.Get()); err < 0)
    return SetFailure(f, SetupStep::kLandlock, -err, "landlock: restrict self");
  return true;
}

}  // namespace cordon::shim
