// cordon-identity-bench: the per-request cost of the egress proxy's identity path (a secret's
// placeholder substituted and a token attached, supervisor/egress/secret.h) beside a plain proxied
// request and a direct connection, in one run on this machine. Everything is on 127.0.0.1: an
// origin thread, the proxy on its own thread (as on the supervisor's loop), and this client.
// Prints medians and ratios; never passes or fails on timing (docs/identity.md).
//
// Usage: cordon-identity-bench [REQUESTS]   (default 2000 of each kind, interleaved)
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "supervisor/egress/proxy.h"
#include "supervisor/token/jwt.h"

namespace {

using cordon::UniqueFd;
using Clock = std::chrono::steady_clock;

UniqueFd Listen(uint16_t* port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.Get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(fd.Get(), 128) < 0) {
    std::perror("bind/listen");
    std::exit(1);
  }
  socklen_t len = sizeof a;
  ::getsockname(fd.Get(), reinterpret_cast<sockaddr*>(&a), &len);
  *port = ntohs(a.sin_port);
  return fd;
}

// One request over a fresh connection to `port`, read to EOF; false on any failure.
bool Request(uint16_t port, const std::string& req, std::string* resp) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(fd.Get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd.Get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) return false;
  if (::send(fd.Get(), req.data(), req.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(req.size())) return false;
  resp->clear();
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd.Get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    resp->append(buf, static_cast<size_t>(n));
  }
  return resp->starts_with("HTTP/1.");
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

}  // namespace

int main(int argc, char** argv) {
  const int n = argc > 1 ? std::atoi(argv[1]) : 2000;
  if (n <= 0) {
    std::fprintf(stderr, "usage: cordon-identity-bench [REQUESTS > 0]\n");
    return 2;
  }
  // The origin: answers every request; checks that the secret arrived substituted.
  uint16_t origin_port = 0;
  UniqueFd origin = Listen(&origin_port);
  std::atomic<bool> stop{false};
  std::atomic<long> saw_value{0};
  std::thread origin_thread([&] {
    while (!stop) {
      pollfd p{origin.Get(), POLLIN, 0};
      if (::poll(&p, 1, 50) <= 0) continue;
      UniqueFd c(::accept4(origin.Get(), nullptr, nullptr, SOCK_CLOEXEC));
      if (c.Get() < 0) continue;
      std::string head;
      char buf[4096];
      while (head.find("\r\n\r\n") == std::string::npos) {
        ssize_t r = ::read(c.Get(), buf, sizeof buf);
        if (r <= 0) break;
        head.append(buf, static_cast<size_t>(r));
      }
      if (head.find("X-Api-Key: the-real-value-0123456789") != std::string::npos) ++saw_value;
      static const char kResp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
      (void)!::write(c.Get(), kResp, sizeof kResp - 1);
    }
  });

  const std::string dest = "127.0.0.1:" + std::to_string(origin_port);
  cordon::egress::OutboundPolicy policy;
  policy.mode = cordon::egress::OutboundMode::kAllowlist;
  policy.allow.push_back(*cordon::egress::ParseAllowEntry(dest));
  auto make_proxy = [&](uint16_t* port, bool creds) {
    auto p = cordon::egress::Proxy::Create(Listen(port), policy);
    if (!p) {
      std::fprintf(stderr, "proxy: %s\n", p.error().Message().c_str());
      std::exit(1);
    }
    if (creds) {
      auto key = cordon::token::SigningKey::Generate();
      cordon::token::Claims c;
      c.iss = "cordond", c.sub = "bench/default/bench", c.aud = "svc", c.iat = c.nbf = 0, c.exp = 1;
      c.jti = "0", c.task_id = "bench";
      auto jwt = cordon::token::Mint(*key, c);
      auto cr = std::make_shared<cordon::egress::Credentials>();
      cr->secrets.push_back({"API_KEY", "cordon-secret-API_KEY-0123456789abcdef", "the-real-value-0123456789",
                             policy.allow, false});
      cr->headers.push_back({"token:svc", policy.allow, "Authorization", "Bearer " + *jwt});
      (*p)->SetCredentials(cr);
    }
    return std::move(*p);
  };
  uint16_t plain_port = 0, ident_port = 0;
  auto plain = make_proxy(&plain_port, false);
  auto ident = make_proxy(&ident_port, true);
  // Each proxy on its own thread, as each task's proxy runs on its supervisor's loop.
  auto drive = [&](cordon::egress::Proxy* p) {
    while (!stop) {
      pollfd pf{p->fd(), POLLIN, 0};
      int t = p->PollTimeoutMs();
      ::poll(&pf, 1, t < 0 || t > 50 ? 50 : t);
      p->OnReadable();
      (void)p->TakeRecords();
    }
  };
  std::thread t1(drive, plain.get()), t2(drive, ident.get());

  const std::string head_tail = " HTTP/1.1\r\nHost: " + dest + "\r\nUser-Agent: bench\r\nAccept: */*\r\n";
  const std::string direct_req = "GET /x" + head_tail + "\r\n";
  const std::string plain_req = "GET http://" + dest + "/x" + head_tail + "\r\n";
  const std::string ident_req =
      "GET http://" + dest + "/x" + head_tail + "X-Api-Key: cordon-secret-API_KEY-0123456789abcdef\r\n\r\n";
  std::vector<double> direct, proxied, identity;
  std::string resp;
  auto time_one = [&](uint16_t port, const std::string& req, std::vector<double>* out) {
    auto t0 = Clock::now();
    if (!Request(port, req, &resp)) {
      std::fprintf(stderr, "request failed on port %u\n", port);
      std::exit(1);
    }
    out->push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  };
  for (int i = 0; i < n / 10 + 1; ++i) {  // warm-up
    time_one(origin_port, direct_req, &direct);
    time_one(plain_port, plain_req, &proxied);
    time_one(ident_port, ident_req, &identity);
  }
  direct.clear(), proxied.clear(), identity.clear();
  const long seen_before = saw_value;
  for (int i = 0; i < n; ++i) {
    time_one(origin_port, direct_req, &direct);
    time_one(plain_port, plain_req, &proxied);
    time_one(ident_port, ident_req, &identity);
  }
  const long substituted = saw_value - seen_before;
  stop = true;
  t1.join();
  t2.join();
  origin_thread.join();

  const double d = Median(direct), p = Median(proxied), id = Median(identity);
  std::printf("cordon-identity-bench: %d requests of each kind, interleaved, one connection each (loopback)\n", n);
  std::printf("%-48s %10s %10s %10s\n", "path", "p50 us", "/ direct", "/ proxied");
  std::printf("%-48s %10.1f %10.2fx %10.2fx\n", "direct connection to the origin", d, 1.0, d / p);
  std::printf("%-48s %10.1f %10.2fx %10.2fx\n", "through the egress proxy", p, p / d, 1.0);
  std::printf("%-48s %10.1f %10.2fx %10.2fx\n", "proxy + secret substituted + token attached", id, id / d, id / p);
  std::printf("identity path overhead per request (p50): %+.1f us; secret arrived substituted in %ld of %d\n", id - p,
              substituted, n);
  return substituted == n ? 0 : 1;
}
