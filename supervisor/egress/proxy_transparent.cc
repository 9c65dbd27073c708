// supervisor/egress/proxy_transparent.cc: transparent egress, the proxy's second door
// (docs/network.md). A client that ignores the proxy variables connects to an allowed name's
// loopback address inside its sandbox; the connection arrives here on that address's listener and
// goes through the same steps as "CONNECT host:port" (proxy_request.cc): the policy's two checks,
// the limits, resolving on the host, connecting to the checked address, then the relay
// (proxy_relay.cc). The client never speaks HTTP to us: it gets no 200, and a refusal resets it.
#include <sys/epoll.h>
#include <sys/socket.h>

#include <cctype>

#include "common/syscalls.h"
#include "supervisor/egress/proxy_impl.h"

namespace cordon::egress {
using namespace proxy_internal;  // NOLINT: this file implements the proxy

namespace {

// The class of a connection's first client bytes, never the bytes: enough for a reviewer to see
// that a "database" destination carried TLS, or that HTTP went where SSH was expected.
std::string PayloadClass(std::string_view b, std::string* method) {
  if (b.size() >= 3 && b[0] == 0x16 && b[1] == 0x03 && static_cast<uint8_t>(b[2]) <= 0x04) return "tls";
  if (b.starts_with("SSH-")) return "ssh";
  if (b.size() >= 8) {
    auto be32 = [&](size_t i) {
      return uint32_t{static_cast<uint8_t>(b[i])} << 24 | uint32_t{static_cast<uint8_t>(b[i + 1])} << 16 |
             uint32_t{static_cast<uint8_t>(b[i + 2])} << 8 | static_cast<uint8_t>(b[i + 3]);
    };
    // PostgreSQL startup: length, then protocol 3.0, SSLRequest or GSSENCRequest.
    const uint32_t code = be32(4);
    if (be32(0) >= 8 && be32(0) <= 10000 && (code == 0x00030000 || code == 80877103 || code == 80877104))
      return "postgres";
  }
  // An HTTP/1 request line: a token of upper-case letters, one space, a target.
  size_t i = 0;
  while (i < b.size() && i < 16 && std::isupper(static_cast<unsigned char>(b[i]))) ++i;
  if (i > 0 && i < b.size() && b[i] == ' ') {
    *method = std::string(b.substr(0, i));
    return "http";
  }
  return "opaque";
}

}  // namespace

Result<void> Proxy::AddTransparent(UniqueFd listen_fd, Destination dest) {
  CORDON_TRY(AdoptListener(listen_fd.Get(), "transparent egress"));
  Impl& m = *impl_;
  m.transparent.push_back({std::move(listen_fd), std::move(dest)});
  const size_t index = m.transparent.size() - 1;
  auto& l = m.transparent.back();
  m.SetMask(l.fd.Get(), Tag(index + 1, kListenSide), &l.registered, &l.mask, EPOLLIN);
  if (!l.registered) return Fail(errno, "transparent egress: epoll_ctl listening socket");
  return {};
}

void Proxy::Impl::PauseTransparent(bool paused) {
  for (size_t i = 0; i < transparent.size(); ++i) {
    auto& l = transparent[i];
    SetMask(l.fd.Get(), Tag(i + 1, kListenSide), &l.registered, &l.mask, paused ? 0u : static_cast<uint32_t>(EPOLLIN));
  }
}

void Proxy::Impl::AcceptTransparent(size_t index) {
  if (index >= transparent.size()) return;
  const Destination& dest = transparent[index].dest;
  for (int i = 0; i < kMaxAcceptsPerWake; ++i) {
    int fd = ::accept4(transparent[index].fd.Get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        SetMask(listen.Get(), Tag(0, kListenSide), &listen_registered, &listen_mask_, 0);
        PauseTransparent(true);
        accept_paused_until = sys::MonotonicNs() + kAcceptPauseNs;
      } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
        auto& l = transparent[index];
        SetMask(l.fd.Get(), Tag(index + 1, kListenSide), &l.registered, &l.mask, 0);
      }
      return;
    }
    const uint64_t now = sys::MonotonicNs();
    auto c = std::make_unique<Conn>();
    c->id = next_id++;
    c->client.Reset(fd);
    c->transparent = true;
    c->start_ns = c->activity_ns = now;
    c->rec.time_us = now >= origin_ns ? (now - origin_ns) / 1000 : 0;
    c->rec.via = "transparent";
    Conn& ref = *c;
    conns.emplace(c->id, std::move(c));
    if (conns.size() > limits.max_connections) {
      ref.has_record = true;
      ref.rec.host = dest.host;
      ref.rec.port = dest.port;
      RefuseTransparent(ref, "limits.max_connections (" + std::to_string(limits.max_connections) + ") reached",
                        "deny");
      continue;
    }
    // The connection is a CONNECT to the listener's destination, without the HTTP exchange: the
    // request head is ours, so every check and limit of proxy_request.cc applies unchanged.
    const std::string head = "CONNECT " + dest.host + ":" + std::to_string(dest.port) + " HTTP/1.1\r\n\r\n";
    ref.up.Assign(head);
    HandleHead(ref, head.size());
    ref.rec.method.clear();  // there was no CONNECT on the wire; ClassifyPayload may find a method
    UpdateInterest(ref);
  }
  Reap();
}

void Proxy::Impl::RefuseTransparent(Conn& c, const std::string& reason, const char* decision) {
  if (c.state == State::kResolving) resolver->Cancel(c.id);
  c.rec.method.clear();
  NoteOutcome(c, reason, decision);
  // A reset, as from a closed port: the client's connect() already succeeded, so this is the
  // quickest unambiguous "no" a TCP client understands.
  linger lg{1, 0};
  ::setsockopt(c.client.Get(), SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
  Finish(c);
}

void Proxy::Impl::ClassifyPayload(Conn& c) {
  std::string method;
  c.rec.payload_class = PayloadClass(c.up.view().substr(0, 64), &method);
  if (c.transparent && !method.empty()) c.rec.method = method;
}

}  // namespace cordon::egress
