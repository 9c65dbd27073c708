// supervisor/egress/proxy_request.cc: a client's request head (CONNECT or an absolute-URI request),
// the policy's decision on it, then resolving and connecting upstream (proxy_impl.h).
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

// ---- request head --------------------------------------------------------------------------
void Proxy::Impl::ReadHead(Conn& c) {
  char buf[8192];
  while (c.state == State::kHead) {
    size_t want = std::min(sizeof buf, limits.max_header_bytes + 1 - std::min(c.up.size(), limits.max_header_bytes));
    ssize_t n = ::recv(c.client.Get(), buf, want, 0);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      return Finish(c, ErrnoText("client", errno));
    }
    if (n == 0) {
      if (!c.up.empty()) {
        c.has_record = true;
        c.rec.decision = "error";
        c.rec.reason = "client closed the connection before the request head was complete";
      }
      return Finish(c);
    }
    c.activity_ns = sys::MonotonicNs();
    c.up.Append(std::string_view(buf, static_cast<size_t>(n)));
    if (auto end = FindHeadEnd(c.up.view()); end && *end <= limits.max_header_bytes) return HandleHead(c, *end);
    if (c.up.size() > limits.max_header_bytes) {
      return Reply(c, 431, "request head larger than " + std::to_string(limits.max_header_bytes) + " bytes",
                   "error");
    }
  }
}

void Proxy::Impl::HandleHead(Conn& c, size_t head_len) {
  c.has_record = true;
  std::string_view all = c.up.view();
  auto head = ParseRequestHead(all.substr(0, head_len));
  if (!head) return Reply(c, 400, "bad request: " + head.error().context, "error");
  c.rec.method = head->method;
  ProxyTarget target;
  BodyFraming framing;
  if (head->method == "CONNECT") {
    auto t = ParseAuthority(head->target);
    if (!t) return Reply(c, 400, "bad request: " + t.error().context, "error");
    target = *t;
    c.connect_mode = true;
  } else {
    if (head->target.starts_with('/') || head->target == "*")
      return Reply(c, 400,
                   "bad request: not a proxy request (origin-form target); send absolute http:// URLs or CONNECT",
                   "error");
    auto t = ParseAbsoluteUrl(head->target);
    if (!t) return Reply(c, 400, "bad request: " + t.error().context, "error");
    target = *t;
    auto f = RequestFraming(*head);
    if (!f) return Reply(c, 400, "bad request: " + f.error().context, "error");
    framing = *f;
  }
  c.dest = Destination{target.host, target.port};
  c.dest_key = HostPortKey(c.dest);
  c.rec.host = target.host;
  c.rec.port = target.port;

  Decision d = CheckDestination(policy, c.dest);
  if (!d.allow) return Reply(c, 403, d.reason, "deny");
  if (limits.max_calls != 0 && calls + reserved_calls >= limits.max_calls)
    return Reply(c, 403, "limits.max_calls (" + std::to_string(limits.max_calls) + ") reached", "deny");
  if (limits.max_bytes_per_destination != 0 && dest_bytes[c.dest_key] >= limits.max_bytes_per_destination)
    return Reply(c, 403,
                 "limits.max_bytes_per_destination (" + std::to_string(limits.max_bytes_per_destination) +
                     ") reached for " + c.dest_key,
                 "deny");
  if (dest_conns[c.dest_key] >= limits.max_connections_per_destination)
    return Reply(c, 403,
                 "limits.max_connections_per_destination (" +
                     std::to_string(limits.max_connections_per_destination) + ") reached for " + c.dest_key,
                 "deny");
  ++reserved_calls;
  c.holds_call = true;
  ++dest_conns[c.dest_key];
  c.holds_dest_slot = true;
  c.rec.reason = d.reason;

  // What goes upstream once connected: the rewritten head and the body bytes already read
  // (CONNECT: whatever the client sent after the head, e.g. a TLS ClientHello).
  std::string_view rest = all.substr(head_len);
  if (c.connect_mode) {
    if (auto o = credentials ? CheckTunnelHead(*credentials, c.dest, *head) : CredentialOutcome{}; !o.allow)
      return Reply(c, 403, o.reason, "deny");  // secret.h: a placeholder where it may not go
    c.up.Assign(std::string(rest));
  } else {
    c.body_unbounded = framing.chunked;
    if (!framing.chunked && rest.size() > framing.length) rest = rest.substr(0, framing.length);
    c.body_left = framing.chunked ? 0 : framing.length - rest.size();
    std::string body(rest);
    if (credentials) {  // secret.h: substitute secrets, attach tokens, or refuse
      auto o = ApplyToRequest(*credentials, c.dest, &*head, &target, &body, !framing.chunked && c.body_left == 0);
      if (!o.allow) return Reply(c, 403, o.reason, "deny");
      c.rec.credentials = std::move(o.applied);
    }
    c.up.Assign(BuildOriginRequest(*head, target) + body);
  }
  c.phase_deadline_ns = sys::MonotonicNs() + static_cast<uint64_t>(limits.connect_timeout_ms) * kNsPerMs;

  if (auto lit = ParseIpLiteral(target.host)) return AddressesReady(c, {*lit});
  c.state = State::kResolving;
  if (auto r = resolver->Submit(c.id, target.host); !r)
    return Reply(c, 502, "cannot resolve " + target.host + ": " + r.error().Message(), "error");
}

void Proxy::Impl::AddressesReady(Conn& c, std::vector<IpAddress> addrs) {
  if (!addrs.empty()) c.rec.address = FormatIp(addrs.front());
  Decision d = CheckAddresses(policy, c.dest, addrs);
  if (!d.allow) {
    for (const IpAddress& a : addrs) {
      if (Classify(a) != AddressClass::kPublic) {
        c.rec.address = FormatIp(a);
        break;
      }
    }
    return Reply(c, 403, d.reason, "deny");
  }
  c.holds_call = false;
  --reserved_calls;
  ++calls;
  c.rec.decision = "allow";
  c.addrs = std::move(addrs);
  c.next_addr = 0;
  StartConnect(c);
}

void Proxy::Impl::StartConnect(Conn& c) {
  while (c.next_addr < c.addrs.size()) {
    const IpAddress& a = c.addrs[c.next_addr];
    c.rec.address = FormatIp(a);
    int fd = ::socket(a.family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
      c.connect_error = ErrnoText("socket", errno);
      ++c.next_addr;
      continue;
    }
    c.upstream.Reset(fd);
    sockaddr_storage ss;
    socklen_t len = ToSockaddr(a, c.dest.port, &ss);
    // Connect to the address that was checked, never to the name again: no second lookup can
    // rebind it (DNS rebinding).
    if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) == 0) return Connected(c);
    const int err = errno;
    if (err == EINPROGRESS || err == EINTR) {
      c.state = State::kConnecting;
      UpdateInterest(c);
      return;
    }
    c.connect_error = ErrnoText(("connect " + FormatEndpoint(a, c.dest.port)).c_str(), err);
    CloseUpstream(c);
    ++c.next_addr;
  }
  Reply(c, 502, "cannot connect to " + c.dest_key + ": " + c.connect_error, "allow");
}

void Proxy::Impl::CheckConnect(Conn& c) {
  int err = 0;
  socklen_t len = sizeof err;
  if (::getsockopt(c.upstream.Get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
  if (err == 0) return Connected(c);
  c.connect_error = ErrnoText(("connect " + FormatEndpoint(c.addrs[c.next_addr], c.dest.port)).c_str(), err);
  CloseUpstream(c);
  ++c.next_addr;
  StartConnect(c);
}

void Proxy::Impl::Connected(Conn& c) {
  c.state = State::kTunnel;
  c.phase_deadline_ns = 0;
  c.activity_ns = sys::MonotonicNs();
  if (c.connect_mode && !c.transparent) {
    c.rec.status = 200;
    c.down.Append(kEstablished);  // the proxy's own bytes: not counted in bytes_down
  }
  FlushUp(c);
  FlushDown(c);
  UpdateInterest(c);
}

}  // namespace cordon::egress
