// supervisor/identity/identity.h: which host uid/gid a task runs as.
//
// Rootless (the supervisor is not root): the caller's own uid/gid is the only id mapped into the
// task's user namespace. Rootful: every live task gets a host uid/gid of its own from a dedicated
// range (like systemd's DynamicUser= or a subordinate-id block), so two tasks never share a host
// identity. A slot is held by an flock() on /run/cordon/ids/<slot>.lock for the task's lifetime:
// the kernel releases it if the supervisor dies. The file is removed when its task is done
// (IdLease); a supervisor killed with SIGKILL leaves an unlocked file, which SweepStaleLeases
// removes (cordond does at start and every minute).
//
// Removing a lock file safely: the holder unlinks it while still holding the lock, then closes.
// A process that opened the file before the unlink may then win the lock on the unlinked inode;
// so whoever takes a lock checks afterwards that the path still names the inode it locked, and
// starts over if not. Two holders of one slot are therefore impossible.
#pragma once

#include <sys/types.h>

#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace cordon {

struct IdRange {
  uint32_t start = 524288;  // 0x80000: above systemd's dynamic (61184-65519) and container ranges
  uint32_t count = 65536;
};

// Parses "START:COUNT" (e.g. "524288:65536"). Rejects ranges that include uid 0 or overflow.
Result<IdRange> ParseIdRange(const std::string& text);

// A slot's lock file, locked. Destroying it (or Release) unlinks the file, then unlocks it.
class IdLease {
 public:
  IdLease() = default;
  IdLease(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}
  IdLease(IdLease&& o) noexcept : fd_(std::move(o.fd_)), path_(std::move(o.path_)) {}
  IdLease& operator=(IdLease&& o) noexcept {
    if (this != &o) {
      Release();
      fd_ = std::move(o.fd_);
      path_ = std::move(o.path_);
    }
    return *this;
  }
  ~IdLease() { Release(); }
  void Release();
  explicit operator bool() const { return static_cast<bool>(fd_); }

 private:
  UniqueFd fd_;
  std::string path_;
};

struct TaskIdentity {
  bool rootful = false;
  uint32_t host_uid = 0, host_gid = 0;
  IdLease lease;  // holds the slot's lock while the task lives (rootful only)
};

// Removes the lock files in `lock_dir` that nobody holds (their supervisor died). Returns how many.
// Safe against concurrent AcquireIdentity calls (see above). Missing dir: 0.
size_t SweepStaleLeases(const std::string& lock_dir = "/run/cordon/ids");

// Rootful when euid is 0. `lock_dir` is created (0700) if missing.
Result<TaskIdentity> AcquireIdentity(const IdRange& range, const std::string& lock_dir = "/run/cordon/ids");

}  // namespace cordon
