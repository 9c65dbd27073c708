#include "shim/landlock.h"

#include <fcntl.h>
#include <sys/stat.h>
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

// Fd `fd` of the task, by what it is and how it was opened. Pipes and sockets are not
// Landlock's (no rule is needed or possible for them).
bool AllowFd(const proto::LaunchSpec& spec, int ruleset, int fd, uint64_t all, Failure* f) {
  struct stat st;
  const int fl = ::fcntl(fd, F_GETFL);
  if (::fstat(fd, &st) != 0 || fl < 0) return true;  // not open: nothing to allow
  uint64_t access = 0;
  if (S_ISDIR(st.st_mode)) {
    access = landlock::kFsReadOnly;
    for (const proto::BindEntry& b : spec.binds)
      if (3 + static_cast<int>(b.fd_index) == fd && (b.flags & proto::kBindWritable)) access = all;
  } else if (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)) {
    const int mode = fl & O_ACCMODE;
    if ((fl & O_PATH) || mode == O_RDONLY || mode == O_RDWR) access |= landlock::kFsReadFile;
    if (!(fl & O_PATH) && (mode == O_WRONLY || mode == O_RDWR)) access |= landlock::kFsWriteFile | (all & landlock::kFsTruncate);
    if (S_ISCHR(st.st_mode)) access |= all & landlock::kFsIoctlDev;
  } else {
    return true;
  }
  if (int err = landlock::AllowPath(ruleset, fd, access); err < 0)
    return SetFailure(f, SetupStep::kLandlock, -err, "landlock: allow fd %d", fd);
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
  for (int fd = 0; fd < nfds; ++fd)
    if (!AllowFd(spec, rs.Get(), fd, all, f)) return false;
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
