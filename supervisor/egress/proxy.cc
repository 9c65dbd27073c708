#include "supervisor/egress/proxy.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <unordered_map>

#include "common/syscalls.h"
#include "supervisor/egress/http.h"
#include "supervisor/egress/proxy_conn.h"

namespace cordon::egress {
namespace {

using proxy_internal::Buffer;
using proxy_internal::Conn;
using proxy_internal::State;

constexpr uint64_t kNsPerMs = 1'000'000;
constexpr int kMaxEventsPerWait = 64;
constexpr int kMaxAcceptsPerWake = 64;
constexpr uint64_t kAcceptPauseNs = 100 * kNsPerMs;
constexpr size_t kStatusPeekMax = 4096;
constexpr const char* kEstablished = "HTTP/1.1 200 Connection established\r\n\r\n";


// epoll data: connection id << 2 | side. Ids are never reused, so an event still queued for a
// connection that was closed (and whose fd number was reused) finds nothing and is dropped.
enum Side : uint64_t { kListenSide = 0, kClientSide = 1, kUpstreamSide = 2, kResolverSide = 3 };
uint64_t Tag(uint64_t id, Side s) { return id << 2 | s; }

std::string HostPortKey(const Destination& d) {
  if (d.host.find(':') != std::string::npos) return "[" + d.host + "]:" + std::to_string(d.port);
  return d.host + ":" + std::to_string(d.port);
}

std::string ErrnoText(const char* what, int err) { return std::string(what) + ": " + std::strerror(err); }

}  // namespace

struct Proxy::Impl {
  UniqueFd epoll, listen;
  OutboundPolicy policy;
  Limits limits;
  std::unique_ptr<ResolverPool> resolver;
  uint64_t origin_ns = 0;
  uint64_t next_id = 1;
  std::unordered_map<uint64_t, std::unique_ptr<Conn>> conns;
  std::vector<uint64_t> done_ids;
  std::map<std::string, size_t> dest_conns;
  std::map<std::string, uint64_t> dest_bytes;
  uint64_t calls = 0, reserved_calls = 0;
  std::vector<EgressRecord> records;
  uint64_t dropped_records = 0;
  bool listen_registered = false;
  uint32_t listen_mask_ = 0;
  uint64_t accept_paused_until = 0;

  // ---- registration -------------------------------------------------------------------------
  void SetMask(int fd, uint64_t tag, bool* registered, uint32_t* mask, uint32_t want) {
    if (fd < 0) return;
    if (want == 0) {
      // Deregister rather than wait with an empty mask: EPOLLHUP/EPOLLERR are reported whatever the
      // mask, and a level-triggered HUP nobody consumes would spin the loop.
      if (*registered) ::epoll_ctl(epoll.Get(), EPOLL_CTL_DEL, fd, nullptr);
      *registered = false;
      *mask = 0;
      return;
    }
    if (*registered && *mask == want) return;
    epoll_event ev{};
    ev.events = want;
    ev.data.u64 = tag;
    if (::epoll_ctl(epoll.Get(), *registered ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) == 0) {
      *registered = true;
      *mask = want;
    }
  }

  size_t UpRoom(const Conn& c) const {
    size_t room = c.up.size() >= limits.buffer_bytes ? 0 : limits.buffer_bytes - c.up.size();
    if (!c.connect_mode && !c.body_unbounded) room = static_cast<size_t>(std::min<uint64_t>(room, c.body_left));
    return room;
  }

  void UpdateInterest(Conn& c) {
    if (c.state == State::kDone) return;
    uint32_t cm = 0, um = 0;
    switch (c.state) {
      case State::kHead: cm = EPOLLIN; break;
      case State::kResolving:
      case State::kConnecting:
      case State::kTunnel:
        if (!c.client_eof && UpRoom(c) > 0) cm |= EPOLLIN;
        if (!c.down.empty()) cm |= EPOLLOUT;
        if (c.state == State::kConnecting) um = EPOLLOUT;
        if (c.state == State::kTunnel) {
          if (!c.upstream_eof && c.down.size() < limits.buffer_bytes) um |= EPOLLIN;
          if (!c.up.empty()) um |= EPOLLOUT;
        }
        break;
      case State::kReplying: cm = c.down.empty() ? EPOLLIN : EPOLLOUT; break;
      case State::kDone: break;
    }
    SetMask(c.client.Get(), Tag(c.id, kClientSide), &c.client_registered, &c.client_mask, cm);
    SetMask(c.upstream.Get(), Tag(c.id, kUpstreamSide), &c.upstream_registered, &c.upstream_mask, um);
  }

  void CloseUpstream(Conn& c) {
    if (c.upstream_registered) ::epoll_ctl(epoll.Get(), EPOLL_CTL_DEL, c.upstream.Get(), nullptr);
    c.upstream_registered = false;
    c.upstream_mask = 0;
    c.upstream.Reset();
  }

  // ---- records and accounting ----------------------------------------------------------------
  void Emit(EgressRecord r) {
    if (records.size() >= limits.max_records) {
      ++dropped_records;
      return;
    }
    records.push_back(std::move(r));
  }

  void ReleaseSlots(Conn& c) {
    if (c.holds_call) {
      --reserved_calls;
      c.holds_call = false;
    }
    if (c.holds_dest_slot) {
      auto it = dest_conns.find(c.dest_key);
      if (it != dest_conns.end() && --it->second == 0) dest_conns.erase(it);
      c.holds_dest_slot = false;
    }
  }

  // A connection's record, once: when it closes, or as soon as the proxy's own response is out
  // (the drain that follows is not the destination's business).
  void EmitRecord(Conn& c) {
    if (!c.has_record || c.record_emitted) return;
    c.record_emitted = true;
    if (c.rec.decision.empty()) c.rec.decision = "error";
    if (c.rec.reason.empty() && c.rec.decision == "error") c.rec.reason = c.rec.error;
    c.rec.duration_us = (sys::MonotonicNs() - c.start_ns) / 1000;
    Emit(std::move(c.rec));
  }

  void Finish(Conn& c, const std::string& error = {}) {
    if (c.state == State::kDone) return;
    if (c.state == State::kResolving) resolver->Cancel(c.id);
    if (!error.empty() && c.rec.error.empty()) c.rec.error = error;
    ReleaseSlots(c);
    EmitRecord(c);
    if (c.client_registered) ::epoll_ctl(epoll.Get(), EPOLL_CTL_DEL, c.client.Get(), nullptr);
    c.client_registered = false;
    c.client.Reset();
    CloseUpstream(c);
    c.state = State::kDone;
    done_ids.push_back(c.id);
  }

  // The proxy's own response; the connection then only drains the client until it closes.
  void Reply(Conn& c, int status, const std::string& reason, const char* decision) {
    if (c.state == State::kDone) return;
    if (c.state == State::kResolving) resolver->Cancel(c.id);
    CloseUpstream(c);
    ReleaseSlots(c);
    c.has_record = true;
    if (c.rec.decision.empty() || std::string_view(decision) != "allow") c.rec.decision = decision;
    if (std::string_view(decision) == "allow") {
      if (c.rec.error.empty()) c.rec.error = reason;
    } else {
      c.rec.reason = reason;
    }
    c.rec.status = status;
    c.up.Clear();
    c.down.Assign(ProxyResponse(status, reason));
    c.state = State::kReplying;
    c.phase_deadline_ns = sys::MonotonicNs() + static_cast<uint64_t>(limits.linger_ms) * kNsPerMs;
    FlushDown(c);
    UpdateInterest(c);
  }

  // ---- accept --------------------------------------------------------------------------------
  void AcceptAll() {
    for (int i = 0; i < kMaxAcceptsPerWake; ++i) {
      int fd = ::accept4(listen.Get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
        if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
          // The pending connection stays in the backlog and the listener stays readable: stop
          // polling it for a moment instead of spinning.
          SetMask(listen.Get(), Tag(0, kListenSide), &listen_registered, &listen_mask_, 0);
          accept_paused_until = sys::MonotonicNs() + kAcceptPauseNs;
        } else if (errno != EAGAIN && errno != EWOULDBLOCK) {
          // The listener itself is broken (shut down, closed under us): a level-triggered
          // EPOLLIN|EPOLLHUP would spin the loop. Existing connections carry on.
          SetMask(listen.Get(), Tag(0, kListenSide), &listen_registered, &listen_mask_, 0);
        }
        return;
      }
      UniqueFd client(fd);
      uint64_t now = sys::MonotonicNs();
      if (conns.size() >= limits.max_connections) {
        // Best effort: a fresh socket's send buffer is empty, so the short answer fits.
        std::string reason = "limits.max_connections (" + std::to_string(limits.max_connections) + ") reached";
        std::string resp = ProxyResponse(503, reason);
        [[maybe_unused]] ssize_t n = ::send(client.Get(), resp.data(), resp.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
        EgressRecord r;
        r.time_us = now >= origin_ns ? (now - origin_ns) / 1000 : 0;
        r.decision = "deny";
        r.reason = reason;
        r.status = 503;
        Emit(std::move(r));
        continue;
      }
      auto c = std::make_unique<Conn>();
      c->id = next_id++;
      c->client = std::move(client);
      c->start_ns = c->activity_ns = now;
      c->phase_deadline_ns = now + static_cast<uint64_t>(limits.header_timeout_ms) * kNsPerMs;
      c->rec.time_us = now >= origin_ns ? (now - origin_ns) / 1000 : 0;
      Conn& ref = *c;
      conns.emplace(c->id, std::move(c));
      UpdateInterest(ref);
    }
  }

  // ---- request head --------------------------------------------------------------------------
  void ReadHead(Conn& c) {
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

  void HandleHead(Conn& c, size_t head_len) {
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
      c.up.Assign(std::string(rest));
    } else {
      c.body_unbounded = framing.chunked;
      if (!framing.chunked && rest.size() > framing.length) rest = rest.substr(0, framing.length);
      c.body_left = framing.chunked ? 0 : framing.length - rest.size();
      c.up.Assign(BuildOriginRequest(*head, target) + std::string(rest));
    }
    c.phase_deadline_ns = sys::MonotonicNs() + static_cast<uint64_t>(limits.connect_timeout_ms) * kNsPerMs;

    if (auto lit = ParseIpLiteral(target.host)) return AddressesReady(c, {*lit});
    c.state = State::kResolving;
    if (auto r = resolver->Submit(c.id, target.host); !r)
      return Reply(c, 502, "cannot resolve " + target.host + ": " + r.error().Message(), "error");
  }

  void AddressesReady(Conn& c, std::vector<IpAddress> addrs) {
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

  void StartConnect(Conn& c) {
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

  void CheckConnect(Conn& c) {
    int err = 0;
    socklen_t len = sizeof err;
    if (::getsockopt(c.upstream.Get(), SOL_SOCKET, SO_ERROR, &err, &len) < 0) err = errno;
    if (err == 0) return Connected(c);
    c.connect_error = ErrnoText(("connect " + FormatEndpoint(c.addrs[c.next_addr], c.dest.port)).c_str(), err);
    CloseUpstream(c);
    ++c.next_addr;
    StartConnect(c);
  }

  void Connected(Conn& c) {
    c.state = State::kTunnel;
    c.phase_deadline_ns = 0;
    c.activity_ns = sys::MonotonicNs();
    if (c.connect_mode) {
      c.rec.status = 200;
      c.down.Append(kEstablished);  // the proxy's own bytes: not counted in bytes_down
    }
    FlushUp(c);
    FlushDown(c);
    UpdateInterest(c);
  }

  // ---- data ----------------------------------------------------------------------------------
  bool OverByteCap(Conn& c) {
    if (limits.max_bytes_per_destination == 0 || dest_bytes[c.dest_key] <= limits.max_bytes_per_destination)
      return false;
    Finish(c, "limits.max_bytes_per_destination (" + std::to_string(limits.max_bytes_per_destination) +
                  ") reached for " + c.dest_key);
    return true;
  }

  void ReadClient(Conn& c) {
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
      c.up.Append(std::string_view(buf, static_cast<size_t>(n)));
      if (!c.connect_mode && !c.body_unbounded) c.body_left -= static_cast<uint64_t>(n);
    }
    if (c.state == State::kTunnel) FlushUp(c);
  }

  void FlushUp(Conn& c) {
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
    if (c.state == State::kTunnel && c.connect_mode && c.client_eof && c.up.empty() && !c.upstream_shut) {
      ::shutdown(c.upstream.Get(), SHUT_WR);
      c.upstream_shut = true;
    }
    MaybeDone(c);
  }

  void ReadUpstream(Conn& c) {
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
        break;
      }
      std::string_view data(buf, static_cast<size_t>(n));
      c.activity_ns = sys::MonotonicNs();
      c.down.Append(data);
      c.rec.bytes_down += data.size();
      dest_bytes[c.dest_key] += data.size();
      if (!c.connect_mode && !c.status_done) PeekStatus(c, data);
      if (OverByteCap(c)) return;
    }
    FlushDown(c);
  }

  // Records the origin's final status: interim 1xx heads (100 Continue) are skipped.
  void PeekStatus(Conn& c, std::string_view data) {
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

  void FlushDown(Conn& c) {
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

  void MaybeDone(Conn& c) {
    if (c.state != State::kTunnel) return;
    if (!c.upstream_eof || !c.down.empty()) return;
    // A forwarded request is over when the origin closed and everything reached the client.
    if (!c.connect_mode) return Finish(c);
    if (c.client_eof && c.up.empty()) return Finish(c);
  }

  void DrainClient(Conn& c) {
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
  void OnClientEvent(Conn& c, uint32_t ev) {
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

  void OnUpstreamEvent(Conn& c, uint32_t ev) {
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

  void OnResolverEvent() {
    for (auto& done : resolver->TakeDone()) {
      auto it = conns.find(done.tag);
      if (it == conns.end() || it->second->state != State::kResolving) continue;  // timed out meanwhile
      Conn& c = *it->second;
      if (!done.result) {
        Reply(c, 502, "cannot resolve " + c.dest.host + ": " + done.result.error().Message(), "error");
      } else {
        AddressesReady(c, std::move(*done.result));
      }
      UpdateInterest(c);
    }
  }

  void Dispatch(uint64_t tag, uint32_t ev) {
    auto side = static_cast<Side>(tag & 3);
    if (side == kListenSide) return AcceptAll();
    if (side == kResolverSide) return OnResolverEvent();
    auto it = conns.find(tag >> 2);
    if (it == conns.end() || it->second->state == State::kDone) return;
    if (side == kClientSide) OnClientEvent(*it->second, ev);
    else OnUpstreamEvent(*it->second, ev);
  }

  void Reap() {
    for (uint64_t id : done_ids) conns.erase(id);
    done_ids.clear();
  }

  // ---- deadlines -----------------------------------------------------------------------------
  uint64_t Deadline(const Conn& c) const {
    uint64_t d = c.start_ns + static_cast<uint64_t>(limits.max_connection_ms) * kNsPerMs;
    d = std::min(d, c.activity_ns + static_cast<uint64_t>(limits.idle_timeout_ms) * kNsPerMs);
    if (c.phase_deadline_ns != 0) d = std::min(d, c.phase_deadline_ns);
    return d;
  }

  void Expire(Conn& c, uint64_t now) {
    const bool total = now >= c.start_ns + static_cast<uint64_t>(limits.max_connection_ms) * kNsPerMs;
    switch (c.state) {
      case State::kHead:
        if (c.up.empty()) return Finish(c);  // never said anything: no record
        c.has_record = true;
        return Reply(c, 408, "request head not complete within " + std::to_string(limits.header_timeout_ms) + " ms",
                     "error");
      case State::kResolving:
        return Reply(c, 504,
                     "resolving " + c.dest.host + " took longer than " + std::to_string(limits.connect_timeout_ms) +
                         " ms",
                     "error");
      case State::kConnecting:
        return Reply(c, 504,
                     "connecting to " + c.dest_key + " took longer than " +
                         std::to_string(limits.connect_timeout_ms) + " ms",
                     "allow");
      case State::kTunnel: {
        std::string why = total ? "connection time limit (" + std::to_string(limits.max_connection_ms) + " ms)"
                                : "idle timeout (" + std::to_string(limits.idle_timeout_ms) + " ms)";
        // Nothing came back from the origin yet: the client still gets an answer.
        if (!c.connect_mode && c.rec.bytes_down == 0) return Reply(c, 504, "origin did not answer: " + why, "allow");
        return Finish(c, why);
      }
      case State::kReplying: return Finish(c);
      case State::kDone: return;
    }
  }

  void ExpireDeadlines() {
    uint64_t now = sys::MonotonicNs();
    if (accept_paused_until != 0 && now >= accept_paused_until) {
      accept_paused_until = 0;
      SetMask(listen.Get(), Tag(0, kListenSide), &listen_registered, &listen_mask_, EPOLLIN);
    }
    for (auto& [id, c] : conns) {
      if (c->state != State::kDone && Deadline(*c) <= now) {
        Expire(*c, now);
        UpdateInterest(*c);
      }
    }
    Reap();
  }

  void Process() {
    epoll_event evs[kMaxEventsPerWait];
    for (int round = 0; round < 4; ++round) {
      int n = ::epoll_wait(epoll.Get(), evs, kMaxEventsPerWait, 0);
      if (n <= 0) break;
      for (int i = 0; i < n; ++i) {
        Dispatch(evs[i].data.u64, evs[i].events);
        Reap();
      }
      if (n < kMaxEventsPerWait) break;
    }
    ExpireDeadlines();
  }
};

Proxy::Proxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Proxy::~Proxy() = default;

Result<std::unique_ptr<Proxy>> Proxy::Create(UniqueFd listen_fd, OutboundPolicy policy, Limits limits,
                                             Resolver resolver, uint64_t origin_ns) {
  int accepting = 0;
  socklen_t len = sizeof accepting;
  if (::getsockopt(listen_fd.Get(), SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) < 0)
    return Fail(errno, "egress proxy: getsockopt SO_ACCEPTCONN");
  if (!accepting) return FailMsg("egress proxy: the fd is not a listening socket");
  int fl = ::fcntl(listen_fd.Get(), F_GETFL);
  if (fl < 0 || ::fcntl(listen_fd.Get(), F_SETFL, fl | O_NONBLOCK) < 0)
    return Fail(errno, "egress proxy: make the listening socket non-blocking");
  if (limits.buffer_bytes == 0 || limits.max_header_bytes == 0 || limits.max_connections == 0)
    return FailMsg("egress proxy: buffer_bytes, max_header_bytes and max_connections must be positive");

  auto impl = std::make_unique<Impl>();
  int ep = ::epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) return Fail(errno, "egress proxy: epoll_create1");
  impl->epoll.Reset(ep);
  impl->listen = std::move(listen_fd);
  impl->policy = std::move(policy);
  impl->limits = limits;
  impl->origin_ns = origin_ns;
  CORDON_ASSIGN_OR_RETURN(impl->resolver, ResolverPool::Create(std::move(resolver), limits.resolver_threads));

  impl->SetMask(impl->listen.Get(), Tag(0, kListenSide), &impl->listen_registered, &impl->listen_mask_, EPOLLIN);
  if (!impl->listen_registered) return Fail(errno, "egress proxy: epoll_ctl listening socket");
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = Tag(0, kResolverSide);
  if (::epoll_ctl(ep, EPOLL_CTL_ADD, impl->resolver->event_fd(), &ev) < 0)
    return Fail(errno, "egress proxy: epoll_ctl resolver eventfd");
  return std::unique_ptr<Proxy>(new Proxy(std::move(impl)));
}

int Proxy::fd() const { return impl_->epoll.Get(); }
void Proxy::OnReadable() { impl_->Process(); }
void Proxy::OnTimer() { impl_->Process(); }

uint64_t Proxy::NextDeadlineNs() const {
  uint64_t d = impl_->accept_paused_until;
  for (const auto& [id, c] : impl_->conns) {
    if (c->state == State::kDone) continue;
    uint64_t cd = impl_->Deadline(*c);
    if (d == 0 || cd < d) d = cd;
  }
  return d;
}

int Proxy::PollTimeoutMs() const {
  uint64_t d = NextDeadlineNs();
  if (d == 0) return -1;
  uint64_t now = sys::MonotonicNs();
  if (d <= now) return 0;
  uint64_t ms = (d - now + kNsPerMs - 1) / kNsPerMs;
  return static_cast<int>(std::min<uint64_t>(ms, 1u << 30));
}

std::vector<EgressRecord> Proxy::TakeRecords() { return std::exchange(impl_->records, {}); }

void Proxy::CloseAll() {
  for (auto& [id, c] : impl_->conns) {
    if (c->state == State::kDone) continue;
    c->has_record = !(c->state == State::kHead && c->up.empty());
    impl_->Finish(*c, "proxy shut down");
  }
  impl_->Reap();
}

size_t Proxy::active_connections() const { return impl_->conns.size(); }
uint64_t Proxy::calls() const { return impl_->calls; }
uint64_t Proxy::dropped_records() const { return impl_->dropped_records; }

std::vector<std::string> ProxyEnvironment(uint16_t port) {
  std::string url = "http://127.0.0.1:" + std::to_string(port);
  std::string no_proxy = "localhost,127.0.0.1,::1";
  return {"HTTP_PROXY=" + url,      "HTTPS_PROXY=" + url,      "http_proxy=" + url,
          "https_proxy=" + url,     "NO_PROXY=" + no_proxy,    "no_proxy=" + no_proxy};
}

Result<uint16_t> LocalPort(int fd) {
  sockaddr_storage ss{};
  socklen_t len = sizeof ss;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&ss), &len) < 0) return Fail(errno, "getsockname");
  if (ss.ss_family == AF_INET) return ntohs(reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  if (ss.ss_family == AF_INET6) return ntohs(reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
  return FailMsg("getsockname: not an IP socket");
}

}  // namespace cordon::egress
