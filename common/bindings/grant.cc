#include "common/bindings/grant.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "common/bindings/resolve.h"
#include "common/fs_util.h"

namespace cordon {
namespace {

// How long a socket binding's connect waits for a service whose accept queue is full.
constexpr long kSocketConnectTimeoutS = 10;

std::string Who(const Binding& b, const Policy& p) {
  return "binding '" + b.name + "' (" + BindingKindName(b.kind) + ") of policy '" + p.name + "'";
}

using bindings::Kind;
using bindings::OpenVerified;

std::string OpenError(int err) {
  switch (err) {
    case ELOOP: return "is a symlink or passes through one (bindings never follow symlinks)";
    case ENOENT: return "does not exist";
    case ENOTDIR: return "is not a directory";
    case EISDIR:
    case EINVAL: return "is not a regular file";  // OpenVerified's kRegular check
    case EACCES: return "is not accessible";
    default: return std::strerror(err);
  }
}

constexpr int kMaxWalkDepth = 256;  // deeper directories are not counted (and cost no more fds)

bool ValidKey(const std::string& s) {
  if (s.empty() || s.size() > 64 || s == "." || s == "..") return false;
  for (char c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  return true;
}

// Every task of a tenant runs under a host uid of its own (rootful), yet all of them must be able to
// change the tenant's state: the state directory gets a default ACL granting rwx to everyone, so
// whatever a task creates stays writable by the next. Only root can reach it on the host (the
// state root is 0700), and inside a sandbox it is mounted only for its own tenant and app.
void ShareWithEveryTaskUid(const std::string& dir) {
  struct Entry {
    uint16_t tag, perm;
    uint32_t id;
  };
  struct {
    uint32_t version = 2;
    Entry e[4] = {{0x01, 7, ~0u}, {0x04, 7, ~0u}, {0x10, 7, ~0u}, {0x20, 7, ~0u}};  // user, group, mask, other
  } acl;
  ::chmod(dir.c_str(), 0777);
  ::setxattr(dir.c_str(), "system.posix_acl_default", &acl, sizeof acl, 0);
}

}  // namespace

std::string DefaultStateRoot() {
  if (::geteuid() == 0) return "/var/lib/cordon/state";
  const char* xdg = ::getenv("XDG_STATE_HOME");
  if (xdg && *xdg == '/') return std::string(xdg) + "/cordon/state";
  const char* home = ::getenv("HOME");
  return std::string(home && *home == '/' ? home : "/tmp") + "/.local/state/cordon/state";
}

namespace {

// Which mount a node is on: its mount ID where the kernel reports one (statx STATX_MNT_ID, Linux
// 5.8), else its st_dev. st_dev alone is wrong on overlayfs, the root filesystem of most
// containers: there a regular file reports the st_dev of the layer it lives in, not the overlay's,
// so a walk that compared st_dev skipped every file and a state directory always measured 0 bytes
// (its max_bytes quota never held).
struct Node {
  uint16_t mode = 0;
  uint64_t blocks = 0;
  uint64_t mount = 0;
  bool by_mount_id = false;
};

bool StatNode(int dir_fd, const char* name, int flags, Node* n) {
  struct statx sx{};
  if (::statx(dir_fd, name, flags | AT_SYMLINK_NOFOLLOW | AT_NO_AUTOMOUNT,
              STATX_TYPE | STATX_BLOCKS | STATX_MNT_ID, &sx) < 0)
    return false;
  n->mode = sx.stx_mode;
  n->blocks = sx.stx_blocks;
  n->by_mount_id = (sx.stx_mask & STATX_MNT_ID) != 0;
  n->mount = n->by_mount_id ? sx.stx_mnt_id : ::makedev(sx.stx_dev_major, sx.stx_dev_minor);
  return true;
}

bool SameMount(const Node& a, const Node& top) { return a.by_mount_id == top.by_mount_id && a.mount == top.mount; }

// Walks by fd only: each subdirectory is opened relative to its parent's fd with O_NOFOLLOW and
// O_DIRECTORY, so a task that swaps a directory for a symlink between our statx and the open
// (the task shares this tree: a state binding is mounted read-write in its sandbox) makes the open
// fail (ELOOP/ENOTDIR) instead of leading root elsewhere. Never crosses into another mount.
uint64_t WalkBytes(int dir_fd, const Node& top, int depth) {
  // fdopendir takes the fd; a duplicate keeps the caller's.
  UniqueFd own(::fcntl(dir_fd, F_DUPFD_CLOEXEC, 0));
  if (!own) return 0;
  DIR* d = ::fdopendir(own.Get());
  if (d == nullptr) return 0;
  (void)own.Release();  // closedir closes it
  uint64_t total = 0;
  while (dirent* e = ::readdir(d)) {
    if (std::strcmp(e->d_name, ".") == 0 || std::strcmp(e->d_name, "..") == 0) continue;
    Node n;
    if (!StatNode(::dirfd(d), e->d_name, 0, &n) || !SameMount(n, top)) continue;
    if (!S_ISDIR(n.mode)) {
      total += n.blocks * 512;
      continue;
    }
    // The directory is counted from what the open found, not from the statx before it.
    UniqueFd sub(::openat(::dirfd(d), e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    Node again;
    if (!sub || !StatNode(sub.Get(), "", AT_EMPTY_PATH, &again) || !SameMount(again, top)) continue;
    total += again.blocks * 512;
    if (depth < kMaxWalkDepth) total += WalkBytes(sub.Get(), top, depth + 1);
  }
  ::closedir(d);
  return total;
}

}  // namespace

uint64_t DirectoryBytes(int dir_fd) {
  UniqueFd top(::openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  Node n;
  if (!top || !StatNode(top.Get(), "", AT_EMPTY_PATH, &n)) return 0;
  return WalkBytes(top.Get(), n, 1);
}

uint64_t DirectoryBytes(const std::string& dir) {
  auto top = OpenVerified(dir.c_str(), O_PATH, Kind::kDirectory);
  if (!top) return 0;
  return DirectoryBytes(top->fd.Get());
}

Result<void> CheckStateQuota(const OpenBinding& ob, const Policy& policy) {
  const Binding& b = ob.binding;
  if (b.kind != Binding::Kind::kState || !b.max_bytes || ob.state_bytes <= b.max_bytes) return {};
  return FailMsg(Who(b, policy) + ": " + ob.host_path + " holds " + std::to_string(ob.state_bytes) +
                     " bytes, over its max_bytes of " + std::to_string(b.max_bytes),
                 "remove data from it, or raise max_bytes in the policy");
}

Result<std::vector<OpenBinding>> OpenBindings(const Policy& policy, const BindingContext& ctx) {
  for (const auto& [name, fd] : ctx.caller_fds) {
    bool declared = false;
    for (const auto& b : policy.bindings) declared = declared || (b.name == name && b.from_caller());
    if (!declared)
      return FailMsg("--fd " + name + "=" + std::to_string(fd) + ": policy '" + policy.name +
                         "' declares no caller binding named '" + name + "'; nothing was started",
                     "add a binding with \"source\": \"caller\" to the policy, or drop the --fd");
  }
  std::vector<OpenBinding> out;
  for (const Binding& b : policy.bindings) {
    OpenBinding ob;
    ob.binding = b;
    const std::string who = Who(b, policy);
    if (b.from_caller()) {
      auto it = ctx.caller_fds.find(b.name);
      if (it == ctx.caller_fds.end())
        return FailMsg(who + " expects an fd from the caller", "pass it with --fd " + b.name + "=N");
      struct stat st;
      if (::fstat(it->second, &st) < 0)
        return Fail(errno, "--fd " + b.name + "=" + std::to_string(it->second), "pass an fd this process holds open");
      const bindings::Identity given{st.st_dev, st.st_ino};
      const bool ok = (b.kind == Binding::Kind::kDir && S_ISDIR(st.st_mode)) ||
                      (b.kind == Binding::Kind::kFile && S_ISREG(st.st_mode)) ||
                      (b.kind == Binding::Kind::kPipe && S_ISFIFO(st.st_mode)) ||
                      (b.kind == Binding::Kind::kSocket && S_ISSOCK(st.st_mode));
      if (!ok || b.kind == Binding::Kind::kState)
        return FailMsg("--fd " + b.name + "=" + std::to_string(it->second) + " is not a " + BindingKindName(b.kind),
                       who + " declares that kind");
      if (b.kind == Binding::Kind::kDir) {
        // Never hand the task the caller's directory fd itself: its mount is in the host's mount
        // namespace, so ".." from it walks up the host tree, past the sandbox's root. Mount the
        // directory at the binding's target instead, like any dir binding, after checking that
        // its path still names the inode the caller gave; the task gets an fd on that mount.
        char link[64], path[4096];
        snprintf(link, sizeof link, "/proc/self/fd/%d", it->second);
        ssize_t n = ::readlink(link, path, sizeof path - 1);
        if (n <= 0 || path[0] != '/')
          return FailMsg("--fd " + b.name + ": the directory has no path the supervisor can mount",
                         "pass a directory fd opened by path (not a deleted or foreign-namespace directory)");
        ob.host_path.assign(path, static_cast<size_t>(n));
        auto again = OpenVerified(ob.host_path.c_str(), O_PATH, Kind::kDirectory, &given);
        if (!again)
          return FailMsg("--fd " + b.name + ": " + ob.host_path + " no longer names the directory that was passed",
                         "pass the directory again; it must not be moved or replaced by a symlink meanwhile");
        ob.fd = std::move(again->fd);
        ob.dev = given.dev;
        ob.ino = given.ino;
        ob.mounted = true;
        out.push_back(std::move(ob));
        continue;
      }
      // Files, pipes and sockets cannot be walked out of: the task gets (a duplicate of) the fd.
      ob.fd.Reset(::fcntl(it->second, F_DUPFD_CLOEXEC, 3));
      if (!ob.fd) return Fail(errno, "dup --fd " + b.name);
      ob.dev = st.st_dev;
      ob.ino = st.st_ino;
      out.push_back(std::move(ob));
      continue;
    }
    switch (b.kind) {
      case Binding::Kind::kDir:
      case Binding::Kind::kState: {
        if (b.kind == Binding::Kind::kState) {
          if (!ValidKey(ctx.tenant) || !ValidKey(ctx.app))
            return FailMsg(who + ": tenant '" + ctx.tenant + "' or app '" + ctx.app + "' is not a valid key",
                           "use letters, digits, '-', '_' or '.', at most 64");
          // Keyed only by the verified tenant and the app id, never by a path from the request.
          if (!MkdirAll(ctx.state_root, 0700, 0700)) return Fail(errno, "mkdir " + ctx.state_root);
          ::chmod(ctx.state_root.c_str(), 0700);
          ob.host_path = ctx.state_root + "/tenants/" + ctx.tenant + "/apps/" + ctx.app + "/" + b.name;
          bool fresh = ::access(ob.host_path.c_str(), F_OK) != 0;
          if (!MkdirAll(ob.host_path, 0700, 0700)) return Fail(errno, "mkdir " + ob.host_path);
          if (fresh && ::geteuid() == 0) ShareWithEveryTaskUid(ob.host_path);
          if (ctx.measure_state) {
            ob.state_bytes = DirectoryBytes(ob.host_path);
            CORDON_TRY(CheckStateQuota(ob, policy));
          }
        } else {
          ob.host_path = b.source;
        }
        auto dir = OpenVerified(ob.host_path.c_str(), O_PATH, Kind::kDirectory);
        if (!dir) return FailMsg(who + ": source " + ob.host_path + " " + OpenError(dir.error().err), "fix the policy's source");
        ob.fd = std::move(dir->fd);
        ob.mounted = true;
        break;
      }
      case Binding::Kind::kFile: {
        ob.host_path = b.source;
        auto file = OpenVerified(b.source.c_str(), (b.writable ? O_RDWR : O_RDONLY) | O_NOCTTY | O_NONBLOCK, Kind::kRegular);
        if (!file) return FailMsg(who + ": source " + b.source + " " + OpenError(file.error().err), "fix the policy's source");
        ob.fd = std::move(file->fd);
        // O_NONBLOCK only kept the open from blocking on a FIFO swapped in for the file.
        if (::fcntl(ob.fd.Get(), F_SETFL, 0) < 0) return Fail(errno, who + ": clear O_NONBLOCK on " + b.source);
        ob.mounted = !b.target.empty();
        break;
      }
      case Binding::Kind::kSocket: {
        ob.host_path = b.source;
        struct stat st;
        if (::lstat(b.source.c_str(), &st) < 0)
          return FailMsg(who + ": source " + b.source + " " + OpenError(errno), "start the service, or fix the path");
        if (!S_ISSOCK(st.st_mode))
          return FailMsg(who + ": source " + b.source + " is not a Unix socket", "fix the policy's source");
        sockaddr_un addr{};
        addr.sun_family = AF_UNIX;
        if (b.source.size() >= sizeof addr.sun_path) return FailMsg(who + ": socket path too long");
        std::memcpy(addr.sun_path, b.source.c_str(), b.source.size());
        ob.fd.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
        if (!ob.fd) return Fail(errno, who + ": socket for " + b.source);
        // A service whose accept queue stays full would hold this build, and every build queued
        // behind it, for as long as it likes: the connect waits at most kSocketConnectTimeoutS
        // (SO_SNDTIMEO bounds a Unix stream connect's wait for the peer), then fails the task.
        timeval limit{kSocketConnectTimeoutS, 0};
        ::setsockopt(ob.fd.Get(), SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof limit);
        if (::connect(ob.fd.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) < 0) {
          if (errno == EAGAIN)
            return FailMsg(who + ": the service at " + b.source + " did not accept a connection within " +
                               std::to_string(kSocketConnectTimeoutS) + " s",
                           "its accept queue is full: is the service stuck or overloaded? submit again once it accepts");
          return Fail(errno, who + ": connect " + b.source, "is the service listening?");
        }
        timeval none{};  // the task's end of the socket keeps no send timeout of ours
        ::setsockopt(ob.fd.Get(), SOL_SOCKET, SO_SNDTIMEO, &none, sizeof none);
        break;
      }
      case Binding::Kind::kPipe:
        return FailMsg(who + ": a pipe binding must come from the caller");
    }
    struct stat st;
    if (::fstat(ob.fd.Get(), &st) == 0) {
      ob.dev = st.st_dev;
      ob.ino = st.st_ino;
    }
    out.push_back(std::move(ob));
  }
  return out;
}

}  // namespace cordon
