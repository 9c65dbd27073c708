// supervisor/daemon/systemd.h: cordond's side of the systemd service protocols, written against
// their documented wire format (sd_listen_fds(3), sd_notify(3)) rather than linked from
// libsystemd: cordond is a static PIE and Debian 12 ships no libsystemd.a. Both protocols are
// environment variables and one datagram per message, so the implementation is small.
//
// - Socket activation: LISTEN_PID (must be our pid) and LISTEN_FDS (how many fds from 3 on). A
//   socket unit gives cordond exactly one fd, 3: a listening AF_UNIX SOCK_STREAM socket.
// - Notification: NOTIFY_SOCKET names a datagram socket (a path, or "@name" for an abstract one);
//   each message is "KEY=value" lines. WATCHDOG_USEC (and WATCHDOG_PID, when set, our pid) asks
//   for "WATCHDOG=1" at least every WATCHDOG_USEC; we send one every half of it.
//
// Without these variables (cordond started by hand) every call here does nothing and cordond
// binds its own socket.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"

namespace cordon::daemon::systemd {

// What the environment said. Parsing is pure (unit-testable); see TakeEnvironment().
struct Environment {
  int listen_fds = 0;              // LISTEN_FDS, when LISTEN_PID names us (else 0)
  std::string listen_fdnames;      // LISTEN_FDNAMES, for messages
  std::string notify_socket;       // NOTIFY_SOCKET, "" when unset
  uint64_t watchdog_usec = 0;      // WATCHDOG_USEC, when WATCHDOG_PID is unset or names us (else 0)
};

// Reads LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES/NOTIFY_SOCKET/WATCHDOG_USEC/WATCHDOG_PID, checks
// them against `self`, and unsets all of them so that no shim or task inherits them (a task must
// not be able to notify systemd as cordond, nor mistake fd 3 for a socket). Call once, early.
Result<Environment> TakeEnvironment(pid_t self);

// The listening socket systemd passed as fd 3, checked: a socket, AF_UNIX, SOCK_STREAM, listening.
// Made CLOEXEC and non-blocking. Errors name what fd 3 is instead, and how to fix the unit.
Result<UniqueFd> AdoptListenFd(const Environment& env);

// The path a unix socket is bound to ("@name" when abstract), or "" if unknown.
std::string SocketPath(int fd);

// Sends sd_notify messages on NOTIFY_SOCKET (best effort: a lost datagram only delays systemd's
// view; errors are kept for the log). All methods are no-ops when there is no NOTIFY_SOCKET.
class Notifier {
 public:
  Notifier() = default;
  // Opens the datagram socket. A malformed NOTIFY_SOCKET is an error (the unit is broken).
  Result<void> Open(const Environment& env);
  bool enabled() const { return sock_.Get() >= 0; }

  void Ready(std::string_view status);          // READY=1 + STATUS=
  void Status(std::string_view status);         // STATUS=, only when it changed
  void Reloading();                             // RELOADING=1 (then Ready() when done)
  void Stopping(std::string_view status);       // STOPPING=1 + STATUS=
  // From the event loop, each turn: sends WATCHDOG=1 when half the interval has passed. A loop
  // that is stuck sends none, which is what the watchdog is for.
  void Tick(uint64_t now_ns);
  // When the next Tick() must happen (for the epoll timeout); 0 without a watchdog.
  uint64_t NextPingNs() const { return watchdog_ns_ ? last_ping_ns_ + watchdog_ns_ / 2 : 0; }
  // The last send error ("" if none since the last call); the caller logs it once.
  std::string TakeError();

 private:
  void Send(const std::string& msg);

  UniqueFd sock_;
  std::string addr_;  // sockaddr_un bytes
  uint64_t watchdog_ns_ = 0;
  uint64_t last_ping_ns_ = 0;
  std::string last_status_;
  std::string error_;
};

// Parses the NOTIFY_SOCKET value into sockaddr_un bytes (pure): "/path" or "@abstract".
Result<std::string> NotifyAddress(std::string_view value);

}  // namespace cordon::daemon::systemd
