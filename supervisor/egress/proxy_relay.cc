// supervisor/egress/proxy_relay.cc: moving bytes both ways once a connection is made, with the
// byte caps, the response status peek and the half-close (proxy_impl.h).
#include "supervisor/egress/proxy_impl.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>

#include "common/syscalls.h"
#include "supervisor/egress/http.h"

namespace cordon::egress {
using namespace proxy_internal;  // NOLINT: this file implements the proxy

// ---- data ----------------------------------------------------------------------------------
bool Proxy::Impl::OverByteCap(Conn& c) {
  if (limits.max_bytes_per_destination == 0 || dest_bytes[c.dest_key] <= limits.max_bytes_per_destination)
    return false;
  Finish(c, "limits.max_bytes_per_destination (" + std::to_string(limits.max_bytes_per_destination) +
                ") reached for " + c.dest_key);
  return true;
}

void Proxy::Impl::ReadClient(Conn& c) {
  char buf[16384];
  while (c.state != State::kDone && !c.client_eof) {
    size_t room = std::min(sizeof buf, UpRoom(c));
    if (room == 0) break;
    ssize_t n = ::recv(c.client.Get(), buf, room, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return Finish(c, ErrnoText("client", errno));
    }
    if (n == 0) {
      c.client_eof = true;
      break;
    }
    c.activity_ns = sys::MonotonicNs();
    if (c.tls) {  // intercepted (proxy_tls.cc): the task's ciphertext
      TlsPump(c, std::string_view(buf, static_cast<size_t>(n)));
      if (c.state != State::kTunnel) return;
      continue;
    }
    c.up.Append(std::string_view(buf, static_cast<size_t>(n)));
    if (!c.connect_mode && !c.body_unbounded) c.body_left -= static_cast<uint64_t>(n);
  }
  if (c.state == State::kTunnel) FlushUp(c);
}

void Proxy::Impl::FlushUp(Conn& c) {
  if (c.rec.payload_class.empty() && !c.up.empty()) ClassifyPayload(c);
  if (!c.tls_decided && c.state == State::kTunnel && c.connect_mode && !c.up.empty()) {
    MaybeIntercept(c);
    if (c.state != State::kTunnel) return;
  }
  while (c.state == State::kTunnel && !c.up.empty()) {
    std::string_view v = c.up.view();
    ssize_t n = ::send(c.upstream.Get(), v.data(), v.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return Finish(c, ErrnoText("upstream", errno));
    }
    c.up.Consume(static_cast<size_t>(n));
    c.rec.bytes_up += static_cast<uint64_t>(n);
    dest_bytes[c.dest_key] += static_cast<uint64_t>(n);
    c.activity_ns = sys::MonotonicNs();
    if (OverByteCap(c)) return;
  }
  // CONNECT passes a half-close on; a forwarded request does not (the origin may take an early
  // FIN as an abort, and "Connection: close" already ends the exchange).
  if (c.state == State::kTunnel && c.connect_mode && !c.tls && c.client_eof && c.up.empty() && !c.upstream_shut) {
    ::shutdown(c.upstream.Get(), SHUT_WR);
    c.upstream_shut = true;
  }
  MaybeDone(c);
}

void Proxy::Impl::ReadUpstream(Conn& c) {
  char buf[16384];
  while (c.state == State::kTunnel && !c.upstream_eof && c.down.size() < limits.buffer_bytes) {
    size_t room = std::min(sizeof buf, limits.buffer_bytes - c.down.size());
    ssize_t n = ::recv(c.upstream.Get(), buf, room, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return Finish(c, ErrnoText("upstream", errno));
    }
    if (n == 0) {
      c.upstream_eof = true;
      if (c.tls) TlsUpstreamEof(c);
      break;
    }
    std::string_view data(buf, static_cast<size_t>(n));
    c.activity_ns = sys::MonotonicNs();
    c.rec.bytes_down += data.size();
    dest_bytes[c.dest_key] += data.size();
    if (c.tls) {  // intercepted (proxy_tls.cc): decrypted, checked, re-encrypted for the task
      TlsFromUpstream(c, data);
      if (c.state != State::kTunnel) return;
      if (OverByteCap(c)) return;
      continue;
    }
    c.down.Append(data);
    if (!c.connect_mode && !c.status_done) PeekStatus(c, data);
    if (OverByteCap(c)) return;
  }
  FlushDown(c);
}

// Records the origin's final status: interim 1xx heads (100 Continue) are skipped.
void Proxy::Impl::PeekStatus(Conn& c, std::string_view data) {
  c.status_peek.append(data.substr(0, kStatusPeekMax));
  while (!c.status_done) {
    size_t eol = c.status_peek.find('\n');
    if (eol == std::string::npos) break;
    auto st = ParseStatusLine(std::string_view(c.status_peek).substr(0, eol + 1));
    if (!st) {
      c.status_done = true;  // not HTTP: leave status 0
      break;
    }
    if (*st >= 200 || *st == 101) {
      c.rec.status = *st;
      c.status_done = true;
      break;
    }
    auto end = FindHeadEnd(c.status_peek);
    if (!end) break;
    c.status_peek.erase(0, *end);
  }
  if (c.status_done || c.status_peek.size() > kStatusPeekMax) {
    c.status_done = true;
    c.status_peek.clear();
    c.status_peek.shrink_to_fit();
  }
}

void Proxy::Impl::FlushDown(Conn& c) {
  while (c.state != State::kDone && !c.down.empty()) {
    std::string_view v = c.down.view();
    ssize_t n = ::send(c.client.Get(), v.data(), v.size(), MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return Finish(c, ErrnoText("client", errno));
    }
    c.down.Consume(static_cast<size_t>(n));
    c.activity_ns = sys::MonotonicNs();
  }
  if (c.state == State::kReplying && c.down.empty() && !c.client_shut) {
    // Half-close and keep reading until the client closes: closing with unread request bytes
    // would send an RST that can destroy the response before the client reads it.
    ::shutdown(c.client.Get(), SHUT_WR);
    c.client_shut = true;
    EmitRecord(c);
  }
  if (c.state == State::kTunnel && c.connect_mode && c.upstream_eof && c.down.empty() && !c.client_shut) {
    ::shutdown(c.client.Get(), SHUT_WR);
    c.client_shut = true;
  }
  MaybeDone(c);
}

void Proxy::Impl::MaybeDone(Conn& c) {
  if (c.state != State::kTunnel) return;
  if (!c.upstream_eof || !c.down.empty()) return;
  // A forwarded request is over when the origin closed and everything reached the client.
  if (!c.connect_mode || c.tls) return Finish(c);  // intercepted: one request, like a forwarded one
  if (c.client_eof && c.up.empty()) return Finish(c);
}

void Proxy::Impl::DrainClient(Conn& c) {
  char buf[4096];
  while (c.state == State::kReplying) {
    ssize_t n = ::recv(c.client.Get(), buf, sizeof buf, 0);
    if (n > 0) continue;
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    return Finish(c);  // EOF or error: the client is gone
  }
}

// ---- events --------------------------------------------------------------------------------
void Proxy::Impl::OnClientEvent(Conn& c, uint32_t ev) {
  if (ev & EPOLLERR) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.client.Get(), SOL_SOCKET, SO_ERROR, &err, &len);
    return Finish(c, ErrnoText("client", err != 0 ? err : ECONNRESET));
  }
  if ((ev & (EPOLLIN | EPOLLHUP)) && (c.client_mask & EPOLLIN)) {
    switch (c.state) {
      case State::kHead: ReadHead(c); break;
      case State::kReplying: DrainClient(c); break;
      case State::kResolving:
      case State::kConnecting:
      case State::kTunnel: ReadClient(c); break;
      case State::kDone: break;
    }
  }
  if ((ev & (EPOLLOUT | EPOLLHUP)) && (c.client_mask & EPOLLOUT)) FlushDown(c);
  UpdateInterest(c);
}

void Proxy::Impl::OnUpstreamEvent(Conn& c, uint32_t ev) {
  if (c.state == State::kConnecting) {
    if (ev & (EPOLLOUT | EPOLLERR | EPOLLHUP)) CheckConnect(c);
    UpdateInterest(c);
    return;
  }
  if (ev & EPOLLERR) {
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(c.upstream.Get(), SOL_SOCKET, SO_ERROR, &err, &len);
    return Finish(c, ErrnoText("upstream", err != 0 ? err : ECONNRESET));
  }
  if ((ev & (EPOLLIN | EPOLLHUP)) && (c.upstream_mask & EPOLLIN)) ReadUpstream(c);
  if ((ev & (EPOLLOUT | EPOLLHUP)) && (c.upstream_mask & EPOLLOUT)) FlushUp(c);
  UpdateInterest(c);
}

}  // namespace cordon::egress
