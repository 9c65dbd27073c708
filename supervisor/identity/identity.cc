#include "supervisor/identity/identity.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include <dirent.h>

#include <charconv>
#include <vector>

#include "common/fs_util.h"

namespace cordon {
namespace {

Result<void> MkdirPrivate(const std::string& dir) {
  if (!MkdirAll(dir, 0755)) return Fail(errno, "mkdir " + dir);
  struct stat st;
  if (::stat(dir.c_str(), &st) < 0) return Fail(errno, "stat " + dir);
  // Another user able to create lock files here could squat every slot: insist on root's own dir.
  if (st.st_uid != 0 || (st.st_mode & 022) != 0) {
    if (::chmod(dir.c_str(), 0700) < 0 || st.st_uid != 0)
      return FailMsg(dir + " must be owned by root and not writable by others",
                     "remove it or fix its owner and mode (0700)");
  }
  return {};
}

// After flock() succeeded: does `path` still name the inode `fd` locked? (Not when its holder
// unlinked it between our open and our lock.)
bool StillNamed(int fd, const std::string& path) {
  struct stat a, b;
  return ::fstat(fd, &a) == 0 && ::lstat(path.c_str(), &b) == 0 && a.st_dev == b.st_dev && a.st_ino == b.st_ino;
}

}  // namespace

void IdLease::Release() {
  if (!fd_) return;
  ::unlink(path_.c_str());  // still locked: nobody can take the slot between the unlink and the close
  fd_.Reset();
}

size_t SweepStaleLeases(const std::string& lock_dir) {
  DIR* d = ::opendir(lock_dir.c_str());
  if (d == nullptr) return 0;
  std::vector<std::string> names;
  while (dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n.size() > 5 && n.ends_with(".lock")) names.push_back(n);
  }
  ::closedir(d);
  size_t removed = 0;
  for (const auto& n : names) {
    const std::string path = lock_dir + "/" + n;
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
    if (!fd) continue;
    if (::flock(fd.Get(), LOCK_EX | LOCK_NB) != 0) continue;  // held: its task lives
    if (!StillNamed(fd.Get(), path)) continue;
    if (::unlink(path.c_str()) == 0) ++removed;
  }
  return removed;
}

Result<IdRange> ParseIdRange(const std::string& text) {
  auto colon = text.find(':');
  IdRange r;
  auto parse = [](std::string_view s, uint32_t* out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), *out);
    return ec == std::errc() && p == s.data() + s.size();
  };
  if (colon == std::string::npos || !parse(std::string_view(text).substr(0, colon), &r.start) ||
      !parse(std::string_view(text).substr(colon + 1), &r.count))
    return FailMsg("id range '" + text + "' is not START:COUNT", "use e.g. 524288:65536");
  if (r.start == 0 || r.count == 0 || uint64_t{r.start} + r.count > 0xFFFFFFFEull)
    return FailMsg("id range '" + text + "' must not include uid 0 and must end below 4294967294",
                   "use e.g. 524288:65536");
  return r;
}

Result<TaskIdentity> AcquireIdentity(const IdRange& range, const std::string& lock_dir) {
  TaskIdentity id;
  if (::geteuid() != 0) {
    id.host_uid = ::geteuid();
    id.host_gid = ::getegid();
    return id;
  }
  id.rootful = true;
  CORDON_TRY(MkdirPrivate(lock_dir));
  // Probe from a random slot: concurrent supervisors rarely collide, and a collision only costs
  // one more flock attempt.
  // getrandom(2) directly: std::random_device probes the CPU with cpuid on every construction, and
  // each cpuid is a VM exit on most hypervisors.
  uint32_t first = 0;
  if (::getrandom(&first, sizeof first, GRND_NONBLOCK) != sizeof first) first = static_cast<uint32_t>(::getpid());
  first %= range.count;
  uint32_t tries = range.count < 4096 ? range.count : 4096;
  for (uint32_t i = 0; i < tries; ++i) {
    uint32_t slot = (first + i) % range.count;
    std::string path = lock_dir + "/" + std::to_string(range.start + slot) + ".lock";
    // A few rounds: each lost race with a holder that removed the file costs one.
    for (int round = 0; round < 4; ++round) {
      UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600));
      if (!fd) return Fail(errno, "open " + path);
      if (::flock(fd.Get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK) return Fail(errno, "flock " + path);
        break;  // held: the next slot
      }
      if (!StillNamed(fd.Get(), path)) continue;  // we locked a file its holder had just removed
      id.host_uid = id.host_gid = range.start + slot;
      id.lease = IdLease(std::move(fd), path);
      return id;
    }
  }
  return FailMsg("no free task identity in range " + std::to_string(range.start) + ":" +
                     std::to_string(range.count) + " after " + std::to_string(tries) + " tries",
                 "too many tasks at once: widen the range with --id-range or CORDON_ID_RANGE");
}

}  // namespace cordon
