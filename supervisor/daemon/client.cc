#include "supervisor/daemon/client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>

#include "common/scm_rights.h"
#include "common/syscalls.h"

namespace cordon::daemon {

Result<ClientConnection> ClientConnection::Open(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.size() >= sizeof addr.sun_path) return FailMsg("socket path too long: " + path);
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);
  ClientConnection c;
  c.fd_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!c.fd_) return Fail(errno, "socket");
  int rc;
  do {
    rc = ::connect(c.fd_.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0)
    return Fail(errno, "connect to cordond at " + path,
                "is cordond running? Start it (docs/daemon.md), or point --socket / CORDON_SOCKET at its socket");
  return c;
}

Result<void> ClientConnection::Send(const api::v1::Request& req, const int* fds, size_t nfds) {
  std::string body;
  if (!req.SerializeToString(&body)) return FailMsg("serialize request");
  if (body.size() > kMaxFrameBytes) return Fail(EMSGSIZE, "request larger than the 1 MiB frame limit");
  std::string frame = EncodeFrame(body);
  // The fds go with the first chunk; a blocking stream socket takes the rest as it drains.
  size_t off = 0;
  while (off < frame.size()) {
    if (off == 0 && nfds > 0) {
      CORDON_TRY(SendMsg(fd_.Get(), frame.data(), frame.size(), fds, nfds));
      return {};
    }
    ssize_t n = ::send(fd_.Get(), frame.data() + off, frame.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(errno, "send to cordond");
    off += static_cast<size_t>(n);
  }
  return {};
}

Result<void> ClientConnection::SendRaw(const std::string& bytes) {
  size_t off = 0;
  while (off < bytes.size()) {
    ssize_t n = ::send(fd_.Get(), bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(errno, "send to cordond");
    off += static_cast<size_t>(n);
  }
  return {};
}

Result<api::v1::Response> ClientConnection::Receive(int timeout_ms) {
  const uint64_t deadline = timeout_ms < 0 ? 0 : sys::MonotonicNs() + uint64_t(timeout_ms) * 1'000'000ull;
  std::string payload;
  for (;;) {
    auto st = decoder_.Next(&payload);
    if (st == FrameDecoder::Status::kTooLarge) return Fail(EMSGSIZE, "cordond sent a frame above the limit");
    if (st == FrameDecoder::Status::kFrame) {
      api::v1::Response resp;
      if (!resp.ParseFromString(payload)) return Fail(EBADMSG, "cordond sent a frame that is not a Response");
      return resp;
    }
    int wait = -1;
    if (deadline) {
      uint64_t now = sys::MonotonicNs();
      if (now >= deadline) return Fail(ETIMEDOUT, "no reply from cordond");
      wait = static_cast<int>((deadline - now) / 1'000'000 + 1);
    }
    pollfd p{fd_.Get(), POLLIN, 0};
    int rc = ::poll(&p, 1, wait);
    if (rc < 0 && errno == EINTR) continue;
    if (rc < 0) return Fail(errno, "poll");
    if (rc == 0) continue;
    char buf[65536];
    ssize_t n = ::recv(fd_.Get(), buf, sizeof buf, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return Fail(errno, "recv from cordond");
    if (n == 0) return Fail(ECONNRESET, "cordond closed the connection");
    decoder_.Append(buf, static_cast<size_t>(n));
  }
}

Result<api::v1::Response> ClientConnection::Call(api::v1::Request req, const int* fds, size_t nfds, int timeout_ms) {
  const uint64_t id = NextCallId();
  req.set_call_id(id);
  CORDON_TRY(Send(req, fds, nfds));
  for (;;) {
    CORDON_ASSIGN_OR_RETURN(api::v1::Response resp, Receive(timeout_ms));
    // call_id 0 is a connection-level error (the daemon closes the connection after it).
    if (resp.call_id() == id || resp.call_id() == 0) return resp;
  }
}

}  // namespace cordon::daemon
