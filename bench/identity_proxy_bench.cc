// cordon-identity-bench: the per-request cost of the egress proxy's identity path (a secret's
// placeholder substituted and a token attached, supervisor/egress/secret.h) beside a plain proxied
// request and a direct connection, in one run on this machine; then the same for HTTPS: a direct
// TLS connection, an end-to-end CONNECT tunnel, and an intercepted one (egress/tls_bridge.h). Everything is on 127.0.0.1: an
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
#include <utility>
#include <vector>

#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "supervisor/egress/proxy.h"
#include "supervisor/egress/secret.h"
#include "supervisor/egress/tls_ca.h"
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

// A TCP connection to 127.0.0.1:`port`, or an invalid fd.
UniqueFd Connect(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(fd.Get(), IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  a.sin_port = htons(port);
  if (::connect(fd.Get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0) return UniqueFd();
  return fd;
}

// One request over a fresh connection to `port`, read to EOF; false on any failure.
bool Request(uint16_t port, const std::string& req, std::string* resp) {
  UniqueFd fd = Connect(port);
  if (fd.Get() < 0) return false;
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

// One HTTPS request on a fresh connection: to the origin directly (`connect_to` empty), or through
// a proxy at `port` with CONNECT `connect_to`; the client verifies 127.0.0.1 against `ctx`.
bool TlsRequest(uint16_t port, const std::string& connect_to, SSL_CTX* ctx, const std::string& req, std::string* resp) {
  UniqueFd fd = Connect(port);
  if (fd.Get() < 0) return false;
  if (!connect_to.empty()) {
    const std::string c = "CONNECT " + connect_to + " HTTP/1.1\r\nHost: " + connect_to + "\r\n\r\n";
    if (::send(fd.Get(), c.data(), c.size(), MSG_NOSIGNAL) != static_cast<ssize_t>(c.size())) return false;
    std::string head;
    char ch;
    while (!head.ends_with("\r\n\r\n") && ::read(fd.Get(), &ch, 1) == 1) head += ch;
    if (!head.starts_with("HTTP/1.1 200")) return false;
  }
  SSL* s = SSL_new(ctx);
  SSL_set_fd(s, fd.Get());
  X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(s), "127.0.0.1");
  bool ok = SSL_connect(s) == 1 && SSL_write(s, req.data(), static_cast<int>(req.size())) > 0;
  resp->clear();
  char buf[4096];
  for (int r; ok && (r = SSL_read(s, buf, sizeof buf)) > 0;) resp->append(buf, static_cast<size_t>(r));
  SSL_free(s);
  return ok && resp->starts_with("HTTP/1.");
}

// An origin on `listen`: answers each request "200 ok" (over TLS with `tls`, else in plain text)
// until `stop`, counting in `saw_value` the requests whose head carries the real secret (the proxy
// substituted it).
void ServeOrigin(int listen, SSL_CTX* tls, const std::atomic<bool>& stop, std::atomic<long>& saw_value) {
  static const char kResp[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok";
  while (!stop) {
    pollfd p{listen, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    UniqueFd c(::accept4(listen, nullptr, nullptr, SOCK_CLOEXEC));
    if (c.Get() < 0) continue;
    SSL* s = nullptr;
    if (tls) {
      s = SSL_new(tls);
      SSL_set_fd(s, c.Get());
      if (SSL_accept(s) != 1) {
        SSL_free(s);
        continue;
      }
    }
    std::string head;
    char buf[4096];
    while (head.find("\r\n\r\n") == std::string::npos) {
      int r = s ? SSL_read(s, buf, sizeof buf) : static_cast<int>(::read(c.Get(), buf, sizeof buf));
      if (r <= 0) break;
      head.append(buf, static_cast<size_t>(r));
    }
    if (head.find("X-Api-Key: the-real-value-0123456789") != std::string::npos) ++saw_value;
    if (s) {
      SSL_write(s, kResp, sizeof kResp - 1);
      SSL_shutdown(s);
      SSL_free(s);
    } else {
      (void)!::write(c.Get(), kResp, sizeof kResp - 1);
    }
  }
}

// A table of p50s (us), each against `direct` and against `base` (the column `base_name`).
void PrintTable(const char* base_name, const std::vector<std::pair<const char*, double>>& rows, double direct,
                double base) {
  std::printf("%-48s %10s %10s %10s\n", "path", "p50 us", "/ direct", base_name);
  for (const auto& [name, v] : rows) std::printf("%-48s %10.1f %10.2fx %10.2fx\n", name, v, v / direct, v / base);
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
  std::thread origin_thread([&] { ServeOrigin(origin.Get(), nullptr, stop, saw_value); });

  // The HTTPS origin: a certificate for 127.0.0.1 from a CA of its own, which the proxy trusts.
  auto origin_ca = cordon::egress::InterceptCa::Generate();
  auto intercept_ca = cordon::egress::InterceptCa::Generate();
  auto origin_tls = origin_ca ? (*origin_ca)->ServerContext("127.0.0.1") : decltype((*origin_ca)->ServerContext("")){};
  if (!origin_ca || !intercept_ca || !origin_tls) {
    std::fprintf(stderr, "TLS setup failed\n");
    return 1;
  }
  const char* tmp = ::getenv("TMPDIR");
  const std::string ca_file = std::string(tmp && *tmp ? tmp : "/tmp") + "/cordon-identity-bench-ca-" +
                              std::to_string(::getpid()) + ".pem";
  if (FILE* f = std::fopen(ca_file.c_str(), "w")) {
    std::fputs((*origin_ca)->cert_pem().c_str(), f);
    std::fclose(f);
  }
  auto upstream_ctx = cordon::egress::UpstreamContext(ca_file);
  ::unlink(ca_file.c_str());
  if (!upstream_ctx) {
    std::fprintf(stderr, "TLS client context: %s\n", upstream_ctx.error().Message().c_str());
    return 1;
  }
  uint16_t tls_port = 0;
  UniqueFd tls_origin = Listen(&tls_port);
  std::thread tls_origin_thread([&] { ServeOrigin(tls_origin.Get(), origin_tls->get(), stop, saw_value); });

  const std::string dest = "127.0.0.1:" + std::to_string(origin_port);
  const std::string tls_dest = "127.0.0.1:" + std::to_string(tls_port);
  cordon::egress::OutboundPolicy policy;
  policy.mode = cordon::egress::OutboundMode::kAllowlist;
  policy.allow.push_back(*cordon::egress::ParseAllowEntry(dest));
  policy.allow.push_back(*cordon::egress::ParseAllowEntry(tls_dest));
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
      cr->tls = std::make_shared<const cordon::egress::TlsInterception>(
          cordon::egress::TlsInterception{*intercept_ca, *upstream_ctx});
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

  // HTTPS: the client trusts the origin's CA (direct, tunnel) or the interception CA (intercepted).
  auto client_ctx = [](const cordon::egress::InterceptCa& ca) {
    SSL_CTX* c = SSL_CTX_new(TLS_client_method());
    BIO* b = BIO_new_mem_buf(ca.cert_pem().data(), static_cast<int>(ca.cert_pem().size()));
    X509* x = PEM_read_bio_X509(b, nullptr, nullptr, nullptr);
    X509_STORE_add_cert(SSL_CTX_get_cert_store(c), x);
    X509_free(x);
    BIO_free(b);
    SSL_CTX_set_verify(c, SSL_VERIFY_PEER, nullptr);
    return c;
  };
  SSL_CTX* to_origin = client_ctx(**origin_ca);
  SSL_CTX* to_proxy = client_ctx(**intercept_ca);
  const std::string tls_req = "GET /x HTTP/1.1\r\nHost: " + tls_dest + "\r\nUser-Agent: bench\r\nAccept: */*\r\n";
  const std::string tls_ident_req = tls_req + "X-Api-Key: cordon-secret-API_KEY-0123456789abcdef\r\n\r\n";
  std::vector<double> tls_direct, tls_tunnel, tls_intercepted;
  auto time_tls = [&](uint16_t port, const std::string& via, SSL_CTX* ctx, const std::string& req,
                      std::vector<double>* out) {
    auto t0 = Clock::now();
    if (!TlsRequest(port, via, ctx, req, &resp)) {
      std::fprintf(stderr, "HTTPS request failed on port %u\n", port);
      std::exit(1);
    }
    out->push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
  };
  const int tls_n = std::max(1, n / 4);  // a TLS handshake costs far more than a request
  for (int i = 0; i < tls_n / 10 + 1; ++i) {
    time_tls(tls_port, "", to_origin, tls_req + "\r\n", &tls_direct);
    time_tls(plain_port, tls_dest, to_origin, tls_req + "\r\n", &tls_tunnel);
    time_tls(ident_port, tls_dest, to_proxy, tls_ident_req, &tls_intercepted);
  }
  tls_direct.clear(), tls_tunnel.clear(), tls_intercepted.clear();
  const long tls_seen_before = saw_value;
  for (int i = 0; i < tls_n; ++i) {
    time_tls(tls_port, "", to_origin, tls_req + "\r\n", &tls_direct);
    time_tls(plain_port, tls_dest, to_origin, tls_req + "\r\n", &tls_tunnel);
    time_tls(ident_port, tls_dest, to_proxy, tls_ident_req, &tls_intercepted);
  }
  const long tls_substituted = saw_value - tls_seen_before;
  SSL_CTX_free(to_origin);
  SSL_CTX_free(to_proxy);
  stop = true;
  t1.join();
  t2.join();
  origin_thread.join();
  tls_origin_thread.join();

  const double d = Median(direct), p = Median(proxied), id = Median(identity);
  std::printf("cordon-identity-bench: %d requests of each kind, interleaved, one connection each (loopback)\n", n);
  PrintTable("/ proxied", {{"direct connection to the origin", d}, {"through the egress proxy", p},
                           {"proxy + secret substituted + token attached", id}}, d, p);
  std::printf("identity path overhead per request (p50): %+.1f us; secret arrived substituted in %ld of %d\n", id - p,
              substituted, n);
  const double td = Median(tls_direct), tt = Median(tls_tunnel), ti = Median(tls_intercepted);
  std::printf("\nHTTPS: %d requests of each kind, interleaved, one connection and TLS 1.3 handshake each\n", tls_n);
  PrintTable("/ tunnel", {{"direct TLS connection to the origin", td}, {"CONNECT tunnel through the proxy (end to end)", tt},
                          {"intercepted + secret + token (two handshakes)", ti}}, td, tt);
  std::printf("TLS interception overhead per request (p50): %+.1f us; secret arrived substituted in %ld of %d\n",
              ti - tt, tls_substituted, tls_n);
  return substituted == n && tls_substituted == tls_n ? 0 : 1;
}
