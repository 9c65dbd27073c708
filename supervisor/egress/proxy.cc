// supervisor/egress/proxy.cc: the egress proxy's loop: accepting clients, dispatching events,
// deadlines and records (proxy_impl.h); the request and the relay are in proxy_request.cc and
// proxy_relay.cc.
#include "supervisor/egress/proxy.h"

#include <fcntl.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "common/syscalls.h"
#include "supervisor/egress/http.h"
#include "supervisor/egress/proxy_impl.h"

namespace cordon::egress {
using namespace proxy_internal;  // NOLINT: this file implements the proxy

// ---- registration -------------------------------------------------------------------------
void Proxy::Impl::SetMask(int fd, uint64_t tag, bool* registered, uint32_t* mask, uint32_t want) {
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

size_t Proxy::Impl::UpRoom(const Conn& c) const {
  size_t room = c.up.size() >= limits.buffer_bytes ? 0 : limits.buffer_bytes - c.up.size();
  if (!c.connect_mode && !c.body_unbounded) room = static_cast<size_t>(std::min<uint64_t>(room, c.body_left));
  return room;
}

void Proxy::Impl::UpdateInterest(Conn& c) {
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

void Proxy::Impl::CloseUpstream(Conn& c) {
  if (c.upstream_registered) ::epoll_ctl(epoll.Get(), EPOLL_CTL_DEL, c.upstream.Get(), nullptr);
  c.upstream_registered = false;
  c.upstream_mask = 0;
  c.upstream.Reset();
}

// ---- records and accounting ----------------------------------------------------------------
void Proxy::Impl::Emit(EgressRecord r) {
  if (records.size() >= limits.max_records) {
    ++dropped_records;
    return;
  }
  records.push_back(std::move(r));
}

void Proxy::Impl::ReleaseSlots(Conn& c) {
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
void Proxy::Impl::EmitRecord(Conn& c) {
  if (!c.has_record || c.record_emitted) return;
  c.record_emitted = true;
  if (c.rec.decision.empty()) c.rec.decision = "error";
  if (c.rec.reason.empty() && c.rec.decision == "error") c.rec.reason = c.rec.error;
  c.rec.duration_us = (sys::MonotonicNs() - c.start_ns) / 1000;
  Emit(std::move(c.rec));
}

void Proxy::Impl::Finish(Conn& c, const std::string& error) {
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

// The record of a connection the proxy answers itself: a refusal keeps the first deny and its
// reason; an "allow" that ends in the proxy's own reply (an upstream failure) keeps its error.
void Proxy::Impl::NoteOutcome(Conn& c, const std::string& reason, const char* decision) {
  c.has_record = true;
  if (c.rec.decision.empty() || std::string_view(decision) != "allow") c.rec.decision = decision;
  if (std::string_view(decision) == "allow") {
    if (c.rec.error.empty()) c.rec.error = reason;
  } else {
    c.rec.reason = reason;
  }
}

// The proxy's own response; the connection then only drains the client until it closes.
void Proxy::Impl::Reply(Conn& c, int status, const std::string& reason, const char* decision) {
  if (c.state == State::kDone) return;
  if (c.tls) return ReplyTls(c, status, reason, decision);  // inside the task's TLS (proxy_tls.cc)
  if (c.transparent) return RefuseTransparent(c, reason, decision);
  if (c.state == State::kResolving) resolver->Cancel(c.id);
  CloseUpstream(c);
  ReleaseSlots(c);
  NoteOutcome(c, reason, decision);
  c.rec.status = status;
  c.up.Clear();
  c.down.Assign(ProxyResponse(status, reason));
  c.state = State::kReplying;
  c.phase_deadline_ns = sys::MonotonicNs() + static_cast<uint64_t>(limits.linger_ms) * kNsPerMs;
  FlushDown(c);
  UpdateInterest(c);
}

// ---- accept --------------------------------------------------------------------------------
void Proxy::Impl::AcceptAll() {
  for (int i = 0; i < kMaxAcceptsPerWake; ++i) {
    int fd = ::accept4(listen.Get(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        // The pending connection stays in the backlog and the listener stays readable: stop
        // polling it for a moment instead of spinning.
        SetMask(listen.Get(), Tag(0, kListenSide), &listen_registered, &listen_mask_, 0);
        PauseTransparent(true);
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

void Proxy::Impl::OnResolverEvent() {
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

void Proxy::Impl::Dispatch(uint64_t tag, uint32_t ev) {
  auto side = static_cast<Side>(tag & 3);
  if (side == kListenSide) return (tag >> 2) == 0 ? AcceptAll() : AcceptTransparent((tag >> 2) - 1);
  if (side == kResolverSide) return (tag >> 2) == 0 ? OnResolverEvent() : AnswerDnsQueries();
  auto it = conns.find(tag >> 2);
  if (it == conns.end() || it->second->state == State::kDone) return;
  if (side == kClientSide) OnClientEvent(*it->second, ev);
  else OnUpstreamEvent(*it->second, ev);
}

void Proxy::Impl::Reap() {
  for (uint64_t id : done_ids) conns.erase(id);
  done_ids.clear();
}

// ---- deadlines -----------------------------------------------------------------------------
uint64_t Proxy::Impl::Deadline(const Conn& c) const {
  uint64_t d = c.start_ns + static_cast<uint64_t>(limits.max_connection_ms) * kNsPerMs;
  d = std::min(d, c.activity_ns + static_cast<uint64_t>(limits.idle_timeout_ms) * kNsPerMs);
  if (c.phase_deadline_ns != 0) d = std::min(d, c.phase_deadline_ns);
  return d;
}

void Proxy::Impl::Expire(Conn& c, uint64_t now) {
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

void Proxy::Impl::ExpireDeadlines() {
  uint64_t now = sys::MonotonicNs();
  if (accept_paused_until != 0 && now >= accept_paused_until) {
    accept_paused_until = 0;
    SetMask(listen.Get(), Tag(0, kListenSide), &listen_registered, &listen_mask_, EPOLLIN);
    PauseTransparent(false);
  }
  for (auto& [id, c] : conns) {
    if (c->state != State::kDone && Deadline(*c) <= now) {
      Expire(*c, now);
      UpdateInterest(*c);
    }
  }
  Reap();
}

void Proxy::Impl::Process() {
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

Result<void> proxy_internal::AdoptListener(int fd, const std::string& who) {
  int accepting = 0;
  socklen_t len = sizeof accepting;
  if (::getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len) < 0)
    return Fail(errno, who + ": getsockopt SO_ACCEPTCONN");
  if (!accepting) return FailMsg(who + ": the fd is not a listening socket");
  int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0)
    return Fail(errno, who + ": make the listening socket non-blocking");
  return {};
}

Proxy::Proxy(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Proxy::~Proxy() = default;

Result<std::unique_ptr<Proxy>> Proxy::Create(UniqueFd listen_fd, OutboundPolicy policy, Limits limits,
                                             Resolver resolver, uint64_t origin_ns) {
  CORDON_TRY(AdoptListener(listen_fd.Get(), "egress proxy"));
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

void Proxy::SetCredentials(std::shared_ptr<const Credentials> credentials) {
  impl_->credentials = std::move(credentials);
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

