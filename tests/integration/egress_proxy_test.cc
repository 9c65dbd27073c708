// The egress proxy against real clients (curl, python3 urllib, raw sockets) and real servers, all on
// 127.0.0.1. The test's own listening socket stands in for the one the shim creates in the task's
// network namespace; no packet leaves loopback (169.254.169.254 and other refused destinations are
// refused before any connect).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "supervisor/egress/proxy.h"
#include "tests/support/run.h"

namespace cordon::egress {
namespace {

using namespace std::chrono_literals;

UniqueFd ListenLoopback(uint16_t* port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  EXPECT_TRUE(fd.Valid());
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd.Get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  EXPECT_EQ(::listen(fd.Get(), 64), 0);
  *port = LocalPort(fd.Get()).value_or(0);
  return fd;
}

UniqueFd ConnectLoopback(uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::connect(fd.Get(), reinterpret_cast<sockaddr*>(&sin), sizeof sin), 0);
  timeval tv{5, 0};
  ::setsockopt(fd.Get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

void SendAll(int fd, std::string_view s) {
  while (!s.empty()) {
    ssize_t n = ::send(fd, s.data(), s.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    s.remove_prefix(static_cast<size_t>(n));
  }
}

// Reads until EOF, the receive timeout, or `until` appears.
std::string RecvUntil(int fd, std::string_view until = {}) {
  std::string out;
  char buf[4096];
  while (until.empty() || out.find(until) == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Runs `serve(client_fd)` for each connection on its own thread, until destroyed.
class Server {
 public:
  explicit Server(std::function<void(int)> serve) : serve_(std::move(serve)) {
    listen_ = ListenLoopback(&port_);
    stop_.Reset(::eventfd(0, EFD_CLOEXEC));
    thread_ = std::thread([this] { Loop(); });
  }
  ~Server() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_.Get(), &one, sizeof one);
    thread_.join();
    for (auto& t : handlers_) t.join();
  }
  uint16_t port() const { return port_; }
  int accepted() const { return accepted_; }

 private:
  void Loop() {
    while (true) {
      pollfd p[2] = {{listen_.Get(), POLLIN, 0}, {stop_.Get(), POLLIN, 0}};
      if (::poll(p, 2, -1) < 0) continue;
      if (p[1].revents) return;
      int fd = ::accept4(listen_.Get(), nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      ++accepted_;
      handlers_.emplace_back([this, fd] {
        UniqueFd c(fd);
        timeval tv{5, 0};
        ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        serve_(fd);
      });
    }
  }
  std::function<void(int)> serve_;
  UniqueFd listen_, stop_;
  uint16_t port_ = 0;
  std::atomic<int> accepted_{0};
  std::thread thread_;
  std::vector<std::thread> handlers_;
};

// A tiny HTTP/1.1 origin: reads one request (head + Content-Length body), answers 200 with a body
// naming the path and the body it got, then closes. Keeps every request head it saw.
class Origin {
 public:
  Origin()
      : server_([this](int fd) {
          std::string req = RecvUntil(fd, "\r\n\r\n");
          size_t end = req.find("\r\n\r\n");
          std::string head = req.substr(0, end == std::string::npos ? req.size() : end);
          std::string body = end == std::string::npos ? "" : req.substr(end + 4);
          size_t cl = head.find("Content-Length: ");
          if (cl != std::string::npos) {
            size_t want = std::stoul(head.substr(cl + 16));
            while (body.size() < want) {
              char buf[4096];
              ssize_t n = ::recv(fd, buf, sizeof buf, 0);
              if (n <= 0) break;
              body.append(buf, static_cast<size_t>(n));
            }
          }
          {
            std::lock_guard lock(mu_);
            heads_.push_back(head);
          }
          std::string path = head.substr(0, head.find("\r\n"));
          std::string resp_body = "hello from origin: " + path + " body=" + body + "\n";
          SendAll(fd, "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " +
                          std::to_string(resp_body.size()) + "\r\nConnection: close\r\n\r\n" + resp_body);
        }) {}
  uint16_t port() const { return server_.port(); }
  int accepted() const { return server_.accepted(); }
  std::vector<std::string> heads() {
    std::lock_guard lock(mu_);
    return heads_;
  }

 private:
  std::mutex mu_;
  std::vector<std::string> heads_;
  Server server_;  // last: its threads use mu_ and heads_
};

Server EchoServer() {
  return Server([](int fd) {
    char buf[4096];
    while (true) {
      ssize_t n = ::recv(fd, buf, sizeof buf, 0);
      if (n <= 0) return;
      SendAll(fd, std::string_view(buf, static_cast<size_t>(n)));
    }
  });
}

// The proxy on a poll loop of its own thread, as the supervisor's loop would drive it.
class Runner {
 public:
  Runner(OutboundPolicy policy, Limits limits = {}, Resolver resolver = SystemResolver()) {
    UniqueFd listen = ListenLoopback(&port_);
    auto p = Proxy::Create(std::move(listen), std::move(policy), limits, std::move(resolver), 0);
    EXPECT_TRUE(p) << (p ? "" : p.error().Message());
    proxy_ = std::move(*p);
    stop_.Reset(::eventfd(0, EFD_CLOEXEC));
    thread_ = std::thread([this] { Loop(); });
  }
  ~Runner() {
    uint64_t one = 1;
    [[maybe_unused]] ssize_t n = ::write(stop_.Get(), &one, sizeof one);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }

  // Waits until at least `n` records exist (or 5 s), then returns all records so far.
  std::vector<EgressRecord> Records(size_t n) {
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, 5s, [&] { return records_.size() >= n; });
    return records_;
  }
  size_t Active() {
    std::lock_guard lock(mu_);
    return proxy_->active_connections();
  }

 private:
  void Loop() {
    while (true) {
      int timeout;
      {
        std::lock_guard lock(mu_);
        timeout = proxy_->PollTimeoutMs();
      }
      pollfd p[2] = {{proxy_->fd(), POLLIN, 0}, {stop_.Get(), POLLIN, 0}};
      int n = ::poll(p, 2, timeout);
      if (n < 0) continue;
      if (p[1].revents) return;
      std::lock_guard lock(mu_);
      if (p[0].revents) proxy_->OnReadable();
      else proxy_->OnTimer();
      for (auto& r : proxy_->TakeRecords()) records_.push_back(std::move(r));
      cv_.notify_all();
    }
  }
  uint16_t port_ = 0;
  std::unique_ptr<Proxy> proxy_;
  UniqueFd stop_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<EgressRecord> records_;
  std::thread thread_;
};

OutboundPolicy Policy(OutboundMode mode, std::vector<std::string> allow) {
  OutboundPolicy p;
  p.mode = mode;
  for (const auto& a : allow) {
    auto e = ParseAllowEntry(a);
    EXPECT_TRUE(e) << a;
    if (e) p.allow.push_back(*e);
  }
  return p;
}

std::string Loop(uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

// curl through the proxy; -i so refusals show their headers. A clean environment: no *_proxy
// variables, no ~/.curlrc (-q).
test::RunResult Curl(const Runner& proxy, const std::string& url, std::vector<std::string> extra = {}) {
  std::vector<std::string> argv = {"/usr/bin/curl", "-q", "-sS", "-i", "--max-time", "10", "-x", proxy.url()};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.push_back(url);
  test::RunOptions o;
  o.env = {"PATH=/usr/bin:/bin"};
  o.timeout_ms = 15000;
  return test::RunProgram(argv, o);
}

std::string RecordsJson(const std::vector<EgressRecord>& rs) {
  nlohmann::json a = nlohmann::json::array();
  for (const auto& r : rs) a.push_back(ToJson(r));
  return a.dump();
}

class EgressProxy : public ::testing::Test {
 protected:
  void SetUp() override {
    if (::access("/usr/bin/curl", X_OK) != 0) GTEST_SKIP() << "curl is not installed";
  }
};

TEST_F(EgressProxy, AllowlistGetSucceedsAndIsRecorded) {
  Origin origin;
  Runner proxy(Policy(OutboundMode::kAllowlist, {Loop(origin.port())}));
  auto r = Curl(proxy, "http://" + Loop(origin.port()) + "/hello?x=1");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("HTTP/1.1 200 OK"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("hello from origin: GET /hello?x=1 HTTP/1.1"), std::string::npos) << r.out;

  auto heads = origin.heads();
  ASSERT_EQ(heads.size(), 1u);
  EXPECT_NE(heads[0].find("\r\nHost: 127.0.0.1:" + std::to_string(origin.port())), std::string::npos) << heads[0];
  EXPECT_NE(heads[0].find("\r\nConnection: close"), std::string::npos) << heads[0];
  EXPECT_EQ(heads[0].find("Proxy-"), std::string::npos) << heads[0];

  auto recs = proxy.Records(1);
  ASSERT_EQ(recs.size(), 1u);
  const auto& rec = recs[0];
  EXPECT_EQ(rec.method, "GET");
  EXPECT_EQ(rec.host, "127.0.0.1");
  EXPECT_EQ(rec.address, "127.0.0.1");
  EXPECT_EQ(rec.port, origin.port());
  EXPECT_EQ(rec.decision, "allow");
  EXPECT_EQ(rec.reason, "address in outbound.allow[0] '" + Loop(origin.port()) + "'");
  EXPECT_EQ(rec.status, 200);
  EXPECT_EQ(rec.bytes_up, heads[0].size() + 4);
  EXPECT_GT(rec.bytes_down, 60u);
  EXPECT_TRUE(rec.error.empty()) << rec.error;
}

TEST_F(EgressProxy, PostBodyIsForwarded) {
  Origin origin;
  Runner proxy(Policy(OutboundMode::kAllowlist, {Loop(origin.port())}));
  auto r = Curl(proxy, "http://" + Loop(origin.port()) + "/submit", {"--data-binary", "a=1&b=2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("POST /submit HTTP/1.1 body=a=1&b=2"), std::string::npos) << r.out;
  auto recs = proxy.Records(1);
  ASSERT_EQ(recs.size(), 1u);
  EXPECT_EQ(recs[0].method, "POST");
  EXPECT_EQ(recs[0].status, 200);
}

TEST_F(EgressProxy, OtherLocalPortAndMetadataAreRefused) {
  Origin allowed, other;
  Runner proxy(Policy(OutboundMode::kAllowlist, {Loop(allowed.port())}));

  auto r = Curl(proxy, "http://" + Loop(other.port()) + "/");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("HTTP/1.1 403 Forbidden"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("X-Cordon-Reason: destination 127.0.0.1 is loopback and not in outbound.allow"),
            std::string::npos)
      << r.out;

  auto m = Curl(proxy, "http://169.254.169.254/latest/meta-data/");
  ASSERT_EQ(m.exit_code, 0) << m.err;
  EXPECT_NE(m.out.find("HTTP/1.1 403 Forbidden"), std::string::npos) << m.out;
  EXPECT_NE(m.out.find("X-Cordon-Reason: destination 169.254.169.254 is link-local (cloud metadata) and not in "
                       "outbound.allow"),
            std::string::npos)
      << m.out;
  EXPECT_EQ(other.accepted(), 0);

  auto recs = proxy.Records(2);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].decision, "deny");
  EXPECT_EQ(recs[0].status, 403);
  EXPECT_EQ(recs[0].port, other.port());
  EXPECT_EQ(recs[0].bytes_up, 0u);
  EXPECT_EQ(recs[1].host, "169.254.169.254");
  EXPECT_EQ(recs[1].address, "");  // never connected
  EXPECT_NE(recs[1].reason.find("cloud metadata"), std::string::npos);
}

TEST_F(EgressProxy, ConnectToAPortNotAllowedIsRefused) {
  Server echo = EchoServer();
  Origin allowed;
  Runner proxy(Policy(OutboundMode::kAllowlist, {Loop(allowed.port())}));
  UniqueFd c = ConnectLoopback(proxy.port());
  SendAll(c.Get(), "CONNECT " + Loop(echo.port()) + " HTTP/1.1\r\nHost: " + Loop(echo.port()) + "\r\n\r\n");
  std::string resp = RecvUntil(c.Get());
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 403 Forbidden\r\n")) << resp;
  EXPECT_NE(resp.find("X-Cordon-Reason: destination 127.0.0.1 is loopback"), std::string::npos) << resp;
  EXPECT_EQ(echo.accepted(), 0);

  // curl's own CONNECT (-p) is refused the same way.
  auto r = Curl(proxy, "http://" + Loop(echo.port()) + "/", {"-p"});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_NE(r.out.find("403"), std::string::npos) << r.out << r.err;

  auto recs = proxy.Records(2);
  ASSERT_EQ(recs.size(), 2u);
  for (const auto& rec : recs) {
    EXPECT_EQ(rec.method, "CONNECT");
    EXPECT_EQ(rec.decision, "deny");
    EXPECT_EQ(rec.status, 403);
  }
}

TEST_F(EgressProxy, ConnectTunnelsBytesBothWays) {
  Server echo = EchoServer();
  Origin origin;
  Runner proxy(Policy(OutboundMode::kAllowlist, {Loop(echo.port()), Loop(origin.port())}));
  {
    UniqueFd c = ConnectLoopback(proxy.port());
    // The first payload bytes ride in the same segment as the CONNECT head, like a TLS ClientHello.
    SendAll(c.Get(), "CONNECT " + Loop(echo.port()) + " HTTP/1.1\r\n\r\nping");
    std::string got = RecvUntil(c.Get(), "ping");
    EXPECT_EQ(got, "HTTP/1.1 200 Connection established\r\n\r\nping");
    std::string big(200000, 'x');  // more than one buffer: backpressure both ways
    std::thread writer([&] { SendAll(c.Get(), big); ::shutdown(c.Get(), SHUT_WR); });
    std::string echoed = RecvUntil(c.Get());
    writer.join();
    EXPECT_EQ(echoed.size(), big.size());
  }
  // curl -p: a real client's CONNECT, then HTTP inside the tunnel.
  auto r = Curl(proxy, "http://" + Loop(origin.port()) + "/tunnelled", {"-p"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("hello from origin: GET /tunnelled HTTP/1.1"), std::string::npos) << r.out;

  auto recs = proxy.Records(2);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].method, "CONNECT");
  EXPECT_EQ(recs[0].decision, "allow");
  EXPECT_EQ(recs[0].status, 200);
  EXPECT_EQ(recs[0].bytes_up, 4u + 200000u);
  EXPECT_EQ(recs[0].bytes_down, 4u + 200000u);
  EXPECT_TRUE(recs[0].error.empty()) << recs[0].error;
  EXPECT_EQ(recs[1].method, "CONNECT");
  EXPECT_EQ(recs[1].port, origin.port());
}

TEST_F(EgressProxy, PythonUrllibUsesTheProxyEnvironment) {
  if (::access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "python3 is not installed";
  Origin origin;
  Runner proxy(Policy(OutboundMode::kAllowlist, {Loop(origin.port())}));
  test::RunOptions o;
  o.env = {"PATH=/usr/bin:/bin"};
  for (const auto& e : ProxyEnvironment(proxy.port())) {
    if (!e.starts_with("NO_PROXY=") && !e.starts_with("no_proxy=")) o.env.push_back(e);
  }
  o.timeout_ms = 15000;
  std::string script =
      "import urllib.request, urllib.error, sys\n"
      "r = urllib.request.urlopen('http://" + Loop(origin.port()) + "/py', timeout=10)\n"
      "print(r.status, r.read().decode().strip())\n"
      "try:\n"
      "    urllib.request.urlopen('http://169.254.169.254/latest/', timeout=10)\n"
      "except urllib.error.HTTPError as e:\n"
      "    print(e.code, e.headers['X-Cordon-Reason'])\n";
  auto r = test::RunProgram({"/usr/bin/python3", "-c", script}, o);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("200 hello from origin: GET /py HTTP/1.1"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("403 destination 169.254.169.254 is link-local (cloud metadata)"), std::string::npos) << r.out;
  auto recs = proxy.Records(2);
  ASSERT_EQ(recs.size(), 2u);
  // A record is emitted when its connection ends; the allowed request's connection may outlive
  // the refusal, so the two can come in either order.
  std::multiset<int> statuses = {recs[0].status, recs[1].status};
  EXPECT_EQ(statuses, (std::multiset<int>{200, 403}));
}

TEST_F(EgressProxy, MonitoredRecordsEverything) {
  Origin a, b;
  Runner proxy(Policy(OutboundMode::kMonitored, {"127.0.0.1:*"}));
  for (uint16_t port : {a.port(), b.port()}) {
    auto r = Curl(proxy, "http://" + Loop(port) + "/m");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("HTTP/1.1 200 OK"), std::string::npos) << r.out;
  }
  auto m = Curl(proxy, "http://169.254.169.254/");
  EXPECT_NE(m.out.find("403 Forbidden"), std::string::npos) << m.out;
  auto loop2 = Curl(proxy, "http://127.0.0.2:" + std::to_string(a.port()) + "/");
  EXPECT_NE(loop2.out.find("403 Forbidden"), std::string::npos) << loop2.out;

  auto recs = proxy.Records(4);
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[0].decision, "allow");
  EXPECT_EQ(recs[0].port, a.port());
  EXPECT_EQ(recs[1].decision, "allow");
  EXPECT_EQ(recs[1].port, b.port());
  EXPECT_EQ(recs[2].decision, "deny");
  EXPECT_EQ(recs[3].decision, "deny");
  for (size_t i = 1; i < recs.size(); ++i) EXPECT_GE(recs[i].time_us, recs[i - 1].time_us);
}

TEST_F(EgressProxy, MaxCallsRefusesTheFourthRequest) {
  Origin origin;
  Limits limits;
  limits.max_calls = 3;
  Runner proxy(Policy(OutboundMode::kAllowlist, {Loop(origin.port())}), limits);
  for (int i = 0; i < 4; ++i) {
    auto r = Curl(proxy, "http://" + Loop(origin.port()) + "/n" + std::to_string(i));
    ASSERT_EQ(r.exit_code, 0) << r.err;
    if (i < 3) {
      EXPECT_NE(r.out.find("HTTP/1.1 200 OK"), std::string::npos) << i << r.out;
    } else {
      EXPECT_NE(r.out.find("HTTP/1.1 403 Forbidden"), std::string::npos) << r.out;
      EXPECT_NE(r.out.find("X-Cordon-Reason: limits.max_calls (3) reached"), std::string::npos) << r.out;
    }
  }
  EXPECT_EQ(origin.accepted(), 3);
  auto recs = proxy.Records(4);
  ASSERT_EQ(recs.size(), 4u);
  EXPECT_EQ(recs[3].decision, "deny");
  EXPECT_EQ(recs[3].reason, "limits.max_calls (3) reached");
}

TEST_F(EgressProxy, SlowLorisIsCutAndDoesNotBlockOthers) {
  Origin origin;
  Limits limits;
  limits.header_timeout_ms = 600;
  limits.linger_ms = 200;
  Runner proxy(Policy(OutboundMode::kAllowlist, {Loop(origin.port())}), limits);
  auto start = std::chrono::steady_clock::now();
  UniqueFd slow = ConnectLoopback(proxy.port());
  SendAll(slow.Get(), "GET http://" + Loop(origin.port()) + "/ HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ");
  UniqueFd silent = ConnectLoopback(proxy.port());  // connects and never says anything

  auto r = Curl(proxy, "http://" + Loop(origin.port()) + "/fast");
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("HTTP/1.1 200 OK"), std::string::npos) << r.out;
  EXPECT_LT(std::chrono::steady_clock::now() - start, 600ms);

  std::string resp = RecvUntil(slow.Get());  // returns at EOF: the proxy closed it
  auto took = std::chrono::steady_clock::now() - start;
  EXPECT_TRUE(resp.starts_with("HTTP/1.1 408 Request Timeout\r\n")) << resp;
  EXPECT_GE(took, 550ms);
  EXPECT_LT(took, 3s);
  char c;
  EXPECT_EQ(::recv(silent.Get(), &c, 1, 0), 0);  // closed too, without a record

  auto recs = proxy.Records(2);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[1].status, 408);
  EXPECT_EQ(recs[1].decision, "error");
  EXPECT_EQ(recs[1].reason, "request head not complete within 600 ms");
  // Every connection ends (the fast one after its linger): wait for it, 10 s at most.
  for (int i = 0; i < 1000 && proxy.Active() != 0; ++i) std::this_thread::sleep_for(10ms);
  EXPECT_EQ(proxy.Active(), 0u);
}

TEST_F(EgressProxy, CredentialsNeverReachRecords) {
  Origin origin;
  Runner proxy(Policy(OutboundMode::kAllowlist, {Loop(origin.port())}));
  {
    UniqueFd c = ConnectLoopback(proxy.port());
    SendAll(c.Get(), "GET http://alice:s3cret-pw@" + Loop(origin.port()) +
                         "/private?token=q-secret HTTP/1.1\r\nAuthorization: Bearer tok-123\r\n"
                         "Proxy-Authorization: Basic cHJveHktdXNlcjpwcm94eS1wdw==\r\n\r\n");
    std::string resp = RecvUntil(c.Get());
    EXPECT_TRUE(resp.starts_with("HTTP/1.1 200 OK")) << resp;
  }
  auto r = Curl(proxy, "http://bob:other-pw@" + Loop(origin.port()) + "/c", {"-U", "proxyuser:proxy-pw2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;

  auto heads = origin.heads();
  ASSERT_EQ(heads.size(), 2u);
  EXPECT_NE(heads[0].find("Authorization: Bearer tok-123"), std::string::npos);  // the origin's own credential passes
  for (const auto& h : heads) {
    EXPECT_EQ(h.find("Proxy-Authorization"), std::string::npos) << h;
    EXPECT_EQ(h.find("s3cret"), std::string::npos) << h;
  }
  auto recs = proxy.Records(2);
  ASSERT_EQ(recs.size(), 2u);
  std::string json = RecordsJson(recs);
  for (const char* secret : {"alice", "s3cret", "tok-123", "cHJveHkt", "q-secret", "private", "bob", "other-pw",
                             "proxyuser", "proxy-pw2", "Authorization"})
    EXPECT_EQ(json.find(secret), std::string::npos) << secret << " in " << json;
  EXPECT_EQ(recs[0].host, "127.0.0.1");
}

TEST_F(EgressProxy, NamesResolveOnTheHostAndEveryAddressIsChecked) {
  Origin origin;
  std::atomic<int> lookups{0};
  Resolver fake = [&](const std::string& host) -> Result<std::vector<IpAddress>> {
    ++lookups;
    if (host == "svc.test") return std::vector<IpAddress>{*ParseIpLiteral("127.0.0.1")};
    if (host == "meta.test") return std::vector<IpAddress>{*ParseIpLiteral("169.254.169.254")};
    return FailMsg("resolve " + host + ": Name or service not known");
  };
  std::string svc = "svc.test:" + std::to_string(origin.port());
  {
    // The name is allowed, but it resolves to loopback, which only an address entry unlocks.
    Runner proxy(Policy(OutboundMode::kAllowlist, {svc, "meta.test:80"}), {}, fake);
    auto r = Curl(proxy, "http://" + svc + "/");
    EXPECT_NE(r.out.find("X-Cordon-Reason: destination svc.test resolves to 127.0.0.1, which is loopback and not in "
                         "outbound.allow"),
              std::string::npos)
        << r.out;
    auto m = Curl(proxy, "http://meta.test/");
    EXPECT_NE(m.out.find("resolves to 169.254.169.254, which is link-local (cloud metadata)"), std::string::npos)
        << m.out;
    // A name nobody allowed is refused before any lookup.
    int before = lookups;
    auto o = Curl(proxy, "http://unlisted.test/");
    EXPECT_NE(o.out.find("X-Cordon-Reason: destination unlisted.test:80 is not in outbound.allow"), std::string::npos)
        << o.out;
    EXPECT_EQ(lookups, before);
    auto recs = proxy.Records(3);
    ASSERT_EQ(recs.size(), 3u);
    EXPECT_EQ(recs[0].host, "svc.test");
    EXPECT_EQ(recs[0].address, "127.0.0.1");
    EXPECT_EQ(recs[1].address, "169.254.169.254");
  }
  {
    Runner proxy(Policy(OutboundMode::kAllowlist, {svc, Loop(origin.port()), "gone.test:80"}), {}, fake);
    auto r = Curl(proxy, "http://" + svc + "/named");
    ASSERT_EQ(r.exit_code, 0) << r.err;
    EXPECT_NE(r.out.find("hello from origin: GET /named HTTP/1.1"), std::string::npos) << r.out;
    auto heads = origin.heads();
    ASSERT_FALSE(heads.empty());
    EXPECT_NE(heads.back().find("\r\nHost: svc.test:" + std::to_string(origin.port())), std::string::npos);
    auto g = Curl(proxy, "http://gone.test/");
    EXPECT_NE(g.out.find("HTTP/1.1 502 Bad Gateway"), std::string::npos) << g.out;
    EXPECT_NE(g.out.find("Name or service not known"), std::string::npos) << g.out;
    auto recs = proxy.Records(2);
    ASSERT_EQ(recs.size(), 2u);
    EXPECT_EQ(recs[0].decision, "allow");
    EXPECT_EQ(recs[0].reason, "matches outbound.allow[0] '" + svc + "'");
    EXPECT_EQ(recs[1].status, 502);
  }
}

TEST_F(EgressProxy, UpstreamFailuresAndTimeouts) {
  uint16_t dead_port;
  { UniqueFd gone = ListenLoopback(&dead_port); }  // closed: connections to it are refused
  Resolver slow = [](const std::string&) -> Result<std::vector<IpAddress>> {
    std::this_thread::sleep_for(1500ms);
    return std::vector<IpAddress>{*ParseIpLiteral("127.0.0.1")};
  };
  Limits limits;
  limits.connect_timeout_ms = 300;
  Runner proxy(Policy(OutboundMode::kAllowlist, {Loop(dead_port), "slow.test:80"}), limits, slow);

  auto r = Curl(proxy, "http://" + Loop(dead_port) + "/");
  EXPECT_NE(r.out.find("HTTP/1.1 502 Bad Gateway"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Connection refused"), std::string::npos) << r.out;

  auto t = Curl(proxy, "http://slow.test/");
  EXPECT_NE(t.out.find("HTTP/1.1 504 Gateway Timeout"), std::string::npos) << t.out;
  EXPECT_NE(t.out.find("resolving slow.test took longer than 300 ms"), std::string::npos) << t.out;

  auto recs = proxy.Records(2);
  ASSERT_EQ(recs.size(), 2u);
  EXPECT_EQ(recs[0].decision, "allow");
  EXPECT_EQ(recs[0].status, 502);
  EXPECT_NE(recs[0].error.find("Connection refused"), std::string::npos);
  EXPECT_EQ(recs[1].status, 504);
  EXPECT_EQ(recs[1].decision, "error");
}

TEST_F(EgressProxy, BadRequestsAndLimits) {
  Origin origin;
  Limits limits;
  limits.max_connections = 3;
  limits.max_header_bytes = 1024;
  Runner proxy(Policy(OutboundMode::kAllowlist, {Loop(origin.port())}), limits);
  auto ask = [&](const std::string& req) {
    UniqueFd c = ConnectLoopback(proxy.port());
    SendAll(c.Get(), req);
    return RecvUntil(c.Get());
  };
  EXPECT_TRUE(ask("GET / HTTP/1.1\r\nHost: x\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request"));
  EXPECT_TRUE(ask("GET https://example.com/ HTTP/1.1\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request"));
  EXPECT_TRUE(ask("GET http://a/ HTTP/1.1\r\nX: a\r\n b\r\n\r\n").starts_with("HTTP/1.1 400 Bad Request"));
  std::string huge = ask("GET http://a/ HTTP/1.1\r\nX: " + std::string(2000, 'a') + "\r\n\r\n");
  EXPECT_TRUE(huge.starts_with("HTTP/1.1 431 ")) << huge;

  // Past max_connections: 503 at once.
  UniqueFd a = ConnectLoopback(proxy.port()), b = ConnectLoopback(proxy.port()), c = ConnectLoopback(proxy.port());
  // The proxy has taken all three before the fourth arrives (10 s at most).
  for (int i = 0; i < 1000 && proxy.Active() < 3; ++i) std::this_thread::sleep_for(10ms);
  ASSERT_EQ(proxy.Active(), 3u);
  UniqueFd d = ConnectLoopback(proxy.port());
  EXPECT_TRUE(RecvUntil(d.Get()).starts_with("HTTP/1.1 503 Service Unavailable")) << "fourth connection";

  auto recs = proxy.Records(5);
  ASSERT_EQ(recs.size(), 5u);
  EXPECT_EQ(recs[0].status, 400);
  EXPECT_EQ(recs[0].decision, "error");
  EXPECT_EQ(recs[3].status, 431);
  EXPECT_EQ(recs[4].status, 503);
  EXPECT_EQ(recs[4].reason, "limits.max_connections (3) reached");
}

TEST_F(EgressProxy, PerDestinationCaps) {
  Server echo = EchoServer();
  Limits limits;
  limits.max_connections_per_destination = 1;
  limits.max_bytes_per_destination = 20000;
  Runner proxy(Policy(OutboundMode::kAllowlist, {Loop(echo.port())}), limits);
  const std::string connect = "CONNECT " + Loop(echo.port()) + " HTTP/1.1\r\n\r\n";

  UniqueFd first = ConnectLoopback(proxy.port());
  SendAll(first.Get(), connect);
  EXPECT_EQ(RecvUntil(first.Get(), "\r\n\r\n"), "HTTP/1.1 200 Connection established\r\n\r\n");
  {
    UniqueFd second = ConnectLoopback(proxy.port());
    SendAll(second.Get(), connect);
    std::string resp = RecvUntil(second.Get());
    EXPECT_NE(resp.find("X-Cordon-Reason: limits.max_connections_per_destination (1) reached for " +
                        Loop(echo.port())),
              std::string::npos)
        << resp;
  }
  // Past the byte cap the tunnel is cut, and the destination stays closed.
  std::thread writer([&] { SendAll(first.Get(), std::string(50000, 'y')); });
  std::string echoed = RecvUntil(first.Get());
  writer.join();
  EXPECT_LT(echoed.size(), 50000u);
  {
    UniqueFd third = ConnectLoopback(proxy.port());
    SendAll(third.Get(), connect);
    std::string resp = RecvUntil(third.Get());
    EXPECT_NE(resp.find("X-Cordon-Reason: limits.max_bytes_per_destination (20000) reached"), std::string::npos)
        << resp;
  }
  auto recs = proxy.Records(3);
  ASSERT_EQ(recs.size(), 3u);
  EXPECT_EQ(recs[0].decision, "deny");
  EXPECT_EQ(recs[1].decision, "allow");
  EXPECT_NE(recs[1].error.find("limits.max_bytes_per_destination (20000) reached"), std::string::npos)
      << recs[1].error;
  EXPECT_LE(recs[1].bytes_up + recs[1].bytes_down, 20000u + 65536u);
  EXPECT_EQ(recs[2].decision, "deny");
}

TEST_F(EgressProxy, ModeNoneRefusesEverything) {
  Origin origin;
  Runner proxy(OutboundPolicy{});
  auto r = Curl(proxy, "http://" + Loop(origin.port()) + "/");
  EXPECT_NE(r.out.find("X-Cordon-Reason: outbound.mode is none"), std::string::npos) << r.out;
  EXPECT_EQ(origin.accepted(), 0);
}

}  // namespace
}  // namespace cordon::egress
