// supervisor/daemon/systemd.cc: socket activation and sd_notify, from their documented protocols
// (sd_listen_fds(3), sd_notify(3)); see systemd.h for why not libsystemd.
#include "supervisor/daemon/systemd.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>

#include "common/syscalls.h"

namespace cordon::daemon::systemd {
namespace {

// SD_LISTEN_FDS_START: the first passed fd is always 3.
constexpr int kListenFdsStart = 3;

std::string Env(const char* name) {
  const char* v = ::getenv(name);
  return v ? std::string(v) : std::string();
}

bool ParseNumber(const std::string& s, uint64_t* out) {
  if (s.empty() || s[0] < '0' || s[0] > '9') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (*end != '\0' || errno == ERANGE) return false;
  *out = v;
  return true;
}

std::string DescribeFileType(mode_t mode) {
  switch (mode & S_IFMT) {
    case S_IFREG: return "a regular file";
    case S_IFDIR: return "a directory";
    case S_IFCHR: return "a character device";
    case S_IFBLK: return "a block device";
    case S_IFIFO: return "a pipe";
    case S_IFLNK: return "a symlink";
    default: return "not a socket";
  }
}

constexpr const char* kUnitHint =
    "cordond takes one listening stream socket from systemd: give cordond.socket exactly one "
    "ListenStream=/run/cordon/cordond.sock (systemd/cordond.socket), or start cordond without LISTEN_FDS "
    "and it binds --socket itself";

}  // namespace

Result<Environment> TakeEnvironment(pid_t self) {
  Environment env;
  const std::string listen_pid = Env("LISTEN_PID"), listen_fds = Env("LISTEN_FDS");
  const std::string watchdog_pid = Env("WATCHDOG_PID"), watchdog_usec = Env("WATCHDOG_USEC");
  env.listen_fdnames = Env("LISTEN_FDNAMES");
  env.notify_socket = Env("NOTIFY_SOCKET");
  for (const char* v : {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES", "NOTIFY_SOCKET", "WATCHDOG_PID", "WATCHDOG_USEC"})
    ::unsetenv(v);

  uint64_t n = 0;
  if (!listen_fds.empty()) {
    if (listen_pid.empty() || !ParseNumber(listen_pid, &n))
      return FailMsg("LISTEN_FDS=" + listen_fds + " is set but LISTEN_PID='" + listen_pid + "' is not a pid",
                     "socket activation sets both (sd_listen_fds(3)); unset LISTEN_FDS to start cordond by hand");
    // As sd_listen_fds(): fds passed to another process (LISTEN_PID is not us) are not ours.
    if (n == static_cast<uint64_t>(self)) {
      uint64_t count = 0;
      if (!ParseNumber(listen_fds, &count))
        return FailMsg("LISTEN_FDS='" + listen_fds + "' is not a number of file descriptors", kUnitHint);
      if (count > 1)
        return FailMsg("systemd passed " + listen_fds + " sockets (LISTEN_FDS, names '" + env.listen_fdnames +
                           "'), cordond takes exactly one",
                       kUnitHint);
      env.listen_fds = static_cast<int>(count);
    }
  }
  if (!watchdog_usec.empty()) {
    uint64_t usec = 0;
    if (!ParseNumber(watchdog_usec, &usec) || usec == 0)
      return FailMsg("WATCHDOG_USEC='" + watchdog_usec + "' is not a positive number of microseconds",
                     "set WatchdogSec= in cordond.service, or unset WATCHDOG_USEC");
    uint64_t wpid = 0;
    if (watchdog_pid.empty() || (ParseNumber(watchdog_pid, &wpid) && wpid == static_cast<uint64_t>(self)))
      env.watchdog_usec = usec;
  }
  return env;
}

Result<UniqueFd> AdoptListenFd(const Environment& env) {
  if (env.listen_fds != 1) return FailMsg("no socket from systemd (LISTEN_FDS)");
  const int fd = kListenFdsStart;
  struct stat st{};
  if (::fstat(fd, &st) < 0)
    return Fail(errno, "LISTEN_FDS=1 but fd 3 is not open", kUnitHint);
  if (!S_ISSOCK(st.st_mode))
    return FailMsg("LISTEN_FDS=1 but fd 3 is " + DescribeFileType(st.st_mode) + ", not a socket", kUnitHint);
  int domain = 0, type = 0, listening = 0;
  socklen_t len = sizeof domain;
  if (::getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0) return Fail(errno, "getsockopt SO_DOMAIN fd 3");
  len = sizeof type;
  if (::getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0) return Fail(errno, "getsockopt SO_TYPE fd 3");
  len = sizeof listening;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &len) < 0)
    return Fail(errno, "getsockopt SO_ACCEPTCONN fd 3");
  if (domain != AF_UNIX)
    return FailMsg("the socket systemd passed (fd 3) is not a Unix socket (address family " + std::to_string(domain) +
                       "): cordond's API is local only, its callers are identified by SO_PEERCRED",
                   kUnitHint);
  if (type != SOCK_STREAM)
    return FailMsg(std::string("the socket systemd passed (fd 3) is a ") +
                       (type == SOCK_DGRAM ? "datagram (ListenDatagram=)" : type == SOCK_SEQPACKET ? "seqpacket (ListenSequentialPacket=)" : "non-stream") +
                       " socket; cordond speaks a stream protocol",
                   kUnitHint);
  if (!listening)
    return FailMsg("the socket systemd passed (fd 3) is not listening (Accept=yes passes connections, not the listener)",
                   "set Accept=no in cordond.socket (the default)");
  // Ours now: not inherited by shims, and accept4() must not block the loop.
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return Fail(errno, "fcntl O_NONBLOCK fd 3");
  if (::fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) return Fail(errno, "fcntl FD_CLOEXEC fd 3");
  return UniqueFd(fd);
}

std::string SocketPath(int fd) {
  sockaddr_un a{};
  socklen_t len = sizeof a;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) < 0 || len <= offsetof(sockaddr_un, sun_path))
    return "";
  const size_t n = len - offsetof(sockaddr_un, sun_path);
  if (a.sun_path[0] == '\0') return "@" + std::string(a.sun_path + 1, n - 1);
  return std::string(a.sun_path, strnlen(a.sun_path, n));
}

Result<std::string> NotifyAddress(std::string_view value) {
  sockaddr_un a{};
  a.sun_family = AF_UNIX;
  if (value.empty() || (value[0] != '/' && value[0] != '@'))
    return FailMsg("NOTIFY_SOCKET='" + std::string(value) + "' is neither an absolute path nor an @abstract name",
                   "systemd sets it for Type=notify services; unset it when starting cordond by hand");
  if (value.size() >= sizeof a.sun_path)
    return FailMsg("NOTIFY_SOCKET is longer than a Unix socket path may be (" + std::to_string(value.size()) + " bytes)");
  std::memcpy(a.sun_path, value.data(), value.size());
  if (value[0] == '@') a.sun_path[0] = '\0';  // abstract namespace: length-delimited, no NUL end
  const size_t len = offsetof(sockaddr_un, sun_path) + value.size() + (value[0] == '/' ? 1 : 0);
  return std::string(reinterpret_cast<const char*>(&a), len);
}

Result<void> Notifier::Open(const Environment& env) {
  if (env.notify_socket.empty()) return {};
  CORDON_ASSIGN_OR_RETURN(addr_, NotifyAddress(env.notify_socket));
  UniqueFd s(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!s) return Fail(errno, "socket for NOTIFY_SOCKET");
  sock_ = std::move(s);
  watchdog_ns_ = env.watchdog_usec * 1000;
  last_ping_ns_ = sys::MonotonicNs();
  return {};
}

void Notifier::Send(const std::string& msg) {
  if (!enabled()) return;
  // MSG_NOSIGNAL: systemd gone is not a reason to die. Non-blocking: a full queue drops this one.
  if (::sendto(sock_.Get(), msg.data(), msg.size(), MSG_NOSIGNAL, reinterpret_cast<const sockaddr*>(addr_.data()),
               static_cast<socklen_t>(addr_.size())) < 0 &&
      error_.empty())
    error_ = std::string("sd_notify to NOTIFY_SOCKET: ") + std::strerror(errno);
}

void Notifier::Ready(std::string_view status) {
  last_status_ = status;
  Send("READY=1\nSTATUS=" + last_status_);
}

void Notifier::Status(std::string_view status) {
  if (!enabled() || status == last_status_) return;
  last_status_ = status;
  Send("STATUS=" + last_status_);
}

void Notifier::Reloading() {
  // MONOTONIC_USEC: systemd >= 253 (Type=notify-reload) matches it to the reload request; older
  // systemd ignores it.
  Send("RELOADING=1\nMONOTONIC_USEC=" + std::to_string(sys::MonotonicNs() / 1000));
}

void Notifier::Stopping(std::string_view status) {
  last_status_ = status;
  Send("STOPPING=1\nSTATUS=" + last_status_);
}

void Notifier::Tick(uint64_t now_ns) {
  if (!watchdog_ns_ || now_ns < last_ping_ns_ + watchdog_ns_ / 2) return;
  last_ping_ns_ = now_ns;
  Send("WATCHDOG=1");
}

std::string Notifier::TakeError() { return std::exchange(error_, std::string()); }

}  // namespace cordon::daemon::systemd
