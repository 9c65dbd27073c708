// supervisor/egress/proxy_dns.cc: the sandbox's DNS server (docs/network.md "DNS inside the
// sandbox"). PID 1 binds a UDP socket on 127.0.0.53:53 inside the task's network namespace (the
// sandbox's resolv.conf names it) and hands it over with the transparent listeners; the proxy's
// loop answers each query from the plan's names (dns.h). No query is ever forwarded.
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <algorithm>

#include "common/syscalls.h"
#include "supervisor/egress/dns.h"
#include "supervisor/egress/proxy_impl.h"

namespace cordon::egress {
using namespace proxy_internal;  // NOLINT: this file implements the proxy

namespace {
constexpr int kMaxQueriesPerWake = 64;
constexpr size_t kMaxRefusedNamesRecorded = 1000;
}  // namespace

Result<void> Proxy::AddDns(UniqueFd udp_fd, std::map<std::string, uint32_t> names) {
  Impl& m = *impl_;
  if (m.dns_fd) return FailMsg("transparent egress: a second DNS socket");
  int type = 0;
  socklen_t len = sizeof type;
  if (::getsockopt(udp_fd.Get(), SOL_SOCKET, SO_TYPE, &type, &len) < 0 || type != SOCK_DGRAM)
    return FailMsg("transparent egress: the DNS socket is not a UDP socket");
  const int fl = ::fcntl(udp_fd.Get(), F_GETFL);
  if (fl < 0 || ::fcntl(udp_fd.Get(), F_SETFL, fl | O_NONBLOCK) < 0)
    return Fail(errno, "transparent egress: make the DNS socket non-blocking");
  m.dns_fd = std::move(udp_fd);
  m.dns_names = std::move(names);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.u64 = Tag(1, kResolverSide);
  if (::epoll_ctl(m.epoll.Get(), EPOLL_CTL_ADD, m.dns_fd.Get(), &ev) < 0)
    return Fail(errno, "transparent egress: epoll_ctl DNS socket");
  return {};
}

void Proxy::Impl::AnswerDnsQueries() {
  char buf[512];  // a UDP query without EDNS fits; a longer one is cut and answered FORMERR
  for (int i = 0; i < kMaxQueriesPerWake; ++i) {
    sockaddr_in from{};
    socklen_t from_len = sizeof from;
    ssize_t n = ::recvfrom(dns_fd.Get(), buf, sizeof buf, MSG_TRUNC, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) return;  // EAGAIN: all answered (any other error: the next wake-up tries again)
    const size_t got = std::min(static_cast<size_t>(n), sizeof buf);
    DnsAnswer a = AnswerDns(std::string_view(buf, got), dns_names);
    if (a.reply.empty()) continue;
    (void)::sendto(dns_fd.Get(), a.reply.data(), a.reply.size(), MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from),
                   from_len);
    if (a.known || a.name.empty() || dns_refused.size() >= kMaxRefusedNamesRecorded ||
        !dns_refused.insert(a.name).second)
      continue;
    EgressRecord r;
    const uint64_t now = sys::MonotonicNs();
    r.time_us = now >= origin_ns ? (now - origin_ns) / 1000 : 0;
    r.host = a.name;
    r.port = 53;
    r.decision = "deny";
    r.reason = "name " + a.name + " is not an exact name in outbound.allow: the sandbox's DNS answered NXDOMAIN";
    r.via = "dns";
    r.payload_class = "dns";
    Emit(std::move(r));
  }
}

}  // namespace cordon::egress
