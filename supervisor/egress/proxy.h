// supervisor/egress/proxy.h: the supervisor-side egress proxy (docs/network.md).
//
// Runs in the supervisor, on the host's network namespace, on the caller's event loop. The shim
// creates a listening TCP socket on 127.0.0.1 inside the task's network namespace and passes it to
// the supervisor (SCM_RIGHTS); the Proxy accepts on that fd and serves each connection from the host
// side:
//   - "GET http://host:port/path HTTP/1.1" (absolute form): checked, then forwarded to the origin in
//     origin form with Proxy-* and hop-by-hop headers removed and "Connection: close" added; the
//     response is streamed back unchanged. One request per client connection.
//   - "CONNECT host:port HTTP/1.1": checked, then a byte tunnel (TLS passes through untouched).
// Refusals are "403 Forbidden" with an X-Cordon-Reason header; malformed requests 400, oversized
// heads 431, upstream connect failures 502, resolve/connect/response timeouts 504, a slow request
// head 408, and connections past limits.max_connections 503.
//
// Threading: single-threaded and not thread-safe; call every method from the loop's thread. Name
// resolution alone runs on a small detached worker pool (resolver.h); its answers come back through
// the same epoll fd.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "supervisor/egress/policy.h"
#include "supervisor/egress/record.h"
#include "supervisor/egress/resolver.h"
#include "supervisor/egress/secret.h"

namespace cordon::egress {

// Bounds on what one task can make the supervisor hold. Defaults are in docs/network.md.
struct Limits {
  uint64_t max_calls = 0;                          // requests + CONNECTs allowed in total; 0 = unlimited
  size_t max_connections = 64;                     // concurrent client connections; more get 503
  size_t max_connections_per_destination = 16;     // concurrent allowed connections per host:port
  uint64_t max_bytes_per_destination = 1ull << 30; // up + down per host:port over the proxy's life; 0 = unlimited
  size_t buffer_bytes = 64u << 10;                 // per direction per connection
  size_t max_header_bytes = 16u << 10;             // request head, request line included
  uint32_t header_timeout_ms = 10'000;             // whole request head, from accept
  uint32_t connect_timeout_ms = 10'000;            // name resolution + TCP connect
  uint32_t idle_timeout_ms = 60'000;               // no byte moved either way
  uint32_t max_connection_ms = 600'000;            // total life of one client connection
  uint32_t linger_ms = 2'000;                      // after the proxy's own response, waiting for the client to close
  size_t resolver_threads = 2;                     // getaddrinfo workers
  size_t max_records = 10'000;                     // records held between TakeRecords(); more are counted, not kept
};

class Proxy {
 public:
  // Takes ownership of `listen_fd`, which must be a listening TCP socket (SO_ACCEPTCONN); it is
  // made non-blocking. `origin_ns` is the CLOCK_MONOTONIC time that EgressRecord::time_us counts
  // from (the task's start). Fails on a non-listening fd or when epoll/eventfd cannot be created.
  // Mode none is accepted and refuses everything (the sandbox normally creates no proxy then).
  static Result<std::unique_ptr<Proxy>> Create(UniqueFd listen_fd, OutboundPolicy policy, Limits limits = {},
                                               Resolver resolver = SystemResolver(), uint64_t origin_ns = 0);
  ~Proxy();  // closes every connection without records; call CloseAll() first to keep them
  Proxy(const Proxy&) = delete;
  Proxy& operator=(const Proxy&) = delete;

  // One epoll fd (CLOEXEC) for the caller's loop: poll it for POLLIN/EPOLLIN, level-triggered.
  int fd() const;
  // Handles everything ready (accepts, reads, writes, resolver answers) and expired deadlines.
  // Never blocks.
  void OnReadable();
  // CLOCK_MONOTONIC nanoseconds of the earliest deadline, or 0 when nothing is pending.
  uint64_t NextDeadlineNs() const;
  // NextDeadlineNs() as a poll()/epoll_wait() timeout from now: -1 when none, else >= 0.
  int PollTimeoutMs() const;
  // Expires deadlines that have passed (a timeout of PollTimeoutMs() elapsed). Never blocks.
  void OnTimer();

  // Transparent egress (docs/network.md, proxy_transparent.cc): also accept on `listen_fd`, a
  // listening TCP socket of the sandbox's loopback, and treat every connection to it as a CONNECT
  // to `dest`: the same checks, limits and records (via "transparent"), no HTTP exchange with the
  // client. A refused or failed connection is reset. Fails on a non-listening fd.
  Result<void> AddTransparent(UniqueFd listen_fd, Destination dest);
  // The sandbox's DNS server (proxy_dns.cc, dns.h): answers the queries arriving on `udp_fd`, a
  // bound UDP socket of the sandbox's loopback, from `names` (lower-case name -> 127.77.x.y) and
  // NXDOMAIN for every other name, which is recorded once per name (via "dns", decision "deny").
  Result<void> AddDns(UniqueFd udp_fd, std::map<std::string, uint32_t> names);

  // Records of connections finished since the last call, oldest first.
  std::vector<EgressRecord> TakeRecords();
  // Ends every open connection now (error "proxy shut down"), so their records can be taken.
  void CloseAll();

  // Secrets and identity tokens this task's requests get (secret.h, docs/identity.md); nullptr or
  // empty for none. Applies to requests whose head arrives after the call.
  void SetCredentials(std::shared_ptr<const Credentials> credentials);

  size_t active_connections() const;
  uint64_t calls() const;            // requests counted against Limits::max_calls so far
  uint64_t dropped_records() const;  // records lost to Limits::max_records

 private:
  struct Impl;
  explicit Proxy(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// What the task's environment gets: HTTP_PROXY, HTTPS_PROXY, http_proxy, https_proxy =
// "http://127.0.0.1:PORT", and NO_PROXY/no_proxy = "localhost,127.0.0.1,::1" (the task's own
// loopback stays direct), as "NAME=value" strings.
std::vector<std::string> ProxyEnvironment(uint16_t port);

// The local port a bound socket listens on (getsockname).
Result<uint16_t> LocalPort(int fd);

}  // namespace cordon::egress
