// cordond's metrics (docs/metrics.md) through a real daemon: tasks run, then `cordon metrics` over
// the API socket and an HTTP scrape of --metrics-listen must show them. Rootful and rootless.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

#include "common/unique_fd.h"
#include "tests/support/daemon_process.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

using Labels = std::map<std::string, std::string>;

// The value of the sample NAME{LABELS} in Prometheus text; -1 when there is no such sample.
double Sample(const std::string& text, const std::string& name, const Labels& want) {
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    size_t brace = line.find('{'), space = line.rfind(' ');
    std::string n = line.substr(0, std::min(brace, space));
    if (n != name) continue;
    Labels got;
    if (brace != std::string::npos) {
      std::string body = line.substr(brace + 1, line.find('}') - brace - 1);
      for (size_t at = 0; at < body.size();) {
        size_t eq = body.find('=', at), q2 = body.find('"', eq + 2);
        got[body.substr(at, eq - at)] = body.substr(eq + 2, q2 - eq - 2);
        at = q2 + 2;  // past '",'
      }
    }
    if (got == want) return std::stod(line.substr(space + 1));
  }
  return -1;
}

// A port nobody listens on now (the kernel's pick for port 0).
int FreePort() {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(s.Get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return 0;
  socklen_t len = sizeof(a);
  ::getsockname(s.Get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

// GET /metrics over plain HTTP/1.0, as Prometheus scrapes it; the whole response.
std::string Scrape(int port) {
  UniqueFd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(s.Get(), reinterpret_cast<sockaddr*>(&a), sizeof(a)) != 0) return "connect failed";
  const std::string req = "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (::write(s.Get(), req.data(), req.size()) != static_cast<ssize_t>(req.size())) return "write failed";
  std::string out;
  char buf[8192];
  for (ssize_t n; (n = ::read(s.Get(), buf, sizeof(buf))) > 0;) out.append(buf, static_cast<size_t>(n));
  return out;
}

TEST(Metrics, FinishedTasksMoveTheCountersAndHistogramsWithoutPerTaskLabels) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  auto before = d.Cli({"metrics"});
  ASSERT_EQ(before.exit_code, 0) << before.err;
  const Labels ok = {{"class", "batch"}, {"failure_class", "none"}, {"policy", "default"}};
  EXPECT_EQ(Sample(before.out, "cordon_tasks_finished_total", ok), -1) << before.out;

  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    auto r = d.Cli({"submit", "--detach", "--", "/bin/true"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    ids.push_back(Trim(r.out));
  }
  auto r = d.Cli({"submit", "--detach", "--", "/bin/sh", "-c", "exit 3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ids.push_back(Trim(r.out));
  for (const auto& id : ids) d.Cli({"wait", id});

  auto m = d.Cli({"metrics"});
  ASSERT_EQ(m.exit_code, 0) << m.err;
  const std::string& t = m.out;
  EXPECT_EQ(Sample(t, "cordon_tasks_finished_total", ok), 3) << t;
  EXPECT_EQ(Sample(t, "cordon_tasks_finished_total",
                   {{"class", "batch"}, {"failure_class", "exit_nonzero"}, {"policy", "default"}}),
            1)
      << t;
  for (const char* phase : {"admission", "sandbox_build", "handover", "run", "evidence"}) {
    Labels l = {{"class", "batch"}, {"phase", phase}, {"policy", "default"}};
    EXPECT_EQ(Sample(t, "cordon_task_phase_seconds_count", l), 4) << phase << "\n" << t;
    EXPECT_GE(Sample(t, "cordon_task_phase_seconds_sum", l), 0) << phase;
    Labels inf = l;
    inf["le"] = "+Inf";
    EXPECT_EQ(Sample(t, "cordon_task_phase_seconds_bucket", inf), 4) << phase;
  }
  EXPECT_GT(Sample(t, "cordon_task_phase_seconds_sum", {{"class", "batch"}, {"phase", "sandbox_build"}, {"policy", "default"}}),
            0);
  // Every start was a pool hit or a miss.
  double hits = std::max(0.0, Sample(t, "cordon_pool_starts_total", {{"policy", "default"}, {"pooled", "true"}}));
  double misses = std::max(0.0, Sample(t, "cordon_pool_starts_total", {{"policy", "default"}, {"pooled", "false"}}));
  EXPECT_EQ(hits + misses, 4) << t;
  EXPECT_GE(Sample(t, "cordon_task_cpu_seconds_total", {{"class", "batch"}, {"policy", "default"}}), 0) << t;
  EXPECT_EQ(Sample(t, "cordon_daemon", {{"what", "tasks_running"}}), 0) << t;
  EXPECT_EQ(Sample(t, "cordon_errors_total", {{"kind", "store"}}), 0) << t;
  // Cardinality: no task id (nor anything else per task) is a label value.
  for (const auto& id : ids) EXPECT_EQ(t.find(id), std::string::npos) << id;
}

TEST(Metrics, ListenServesTheSameFiguresOverHttpOnLoopbackOnly) {
  REQUIRE_SANDBOX();
  const int port = FreePort();
  ASSERT_NE(port, 0);
  const std::string addr = "127.0.0.1:" + std::to_string(port);
  DaemonProcess d(PrincipalsFor(::geteuid()), {"--metrics-listen", addr});
  ASSERT_TRUE(d.WaitForLog("metrics on http://" + addr + "/metrics")) << d.Log();
  auto r = d.Cli({"submit", "--", "/bin/true"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::string http = Scrape(port);
  ASSERT_NE(http.find("200 OK"), std::string::npos) << http;
  std::string body = http.substr(http.find("\r\n\r\n") + 4);
  EXPECT_EQ(Sample(body, "cordon_tasks_finished_total",
                   {{"class", "batch"}, {"failure_class", "none"}, {"policy", "default"}}),
            1)
      << body;

  // Anything but a loopback address is refused at start, with the reason.
  auto bad = RunProgram({BuildPath("bin/cordond"), "--metrics-listen", "0.0.0.0:" + std::to_string(port)});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("is not a loopback address"), std::string::npos) << bad.err;
}

// The endpoint from daemon.json alone (no flag), and the governance figures on it: a breaker
// tripped by tasks that really fail, and a kill-switch freeze, each seen in a scrape.
TEST(Metrics, DaemonJsonEnablesTheEndpointAndItShowsBreakersAndFreezes) {
  REQUIRE_SANDBOX();
  const int port = FreePort();
  ASSERT_NE(port, 0);
  const std::string addr = "127.0.0.1:" + std::to_string(port);
  DaemonProcess d(R"({"version": 1, "roles": {"ops": {"policies": ["default"], "classes": ["interactive", "batch"],
    "operator": true}}, "principals": [{"name": "ops", "tenant": "ci", "uids": [)" +
                  std::to_string(::geteuid()) + R"(], "roles": ["ops"]}]})");
  // A bad address is refused at start, naming the field.
  std::ofstream(d.conf() + "/daemon.json") << R"({"version": 1, "metrics": {"listen": "0.0.0.0:)" << port << R"("}})";
  auto bad = RunProgram({BuildPath("bin/cordond"), "--socket", d.dir() + "/other.sock", "--state-dir",
                         d.dir() + "/other-state", "--config-dir", d.conf()});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("metrics.listen"), std::string::npos) << bad.err;
  EXPECT_NE(bad.err.find("is not a loopback address"), std::string::npos) << bad.err;

  std::ofstream(d.conf() + "/daemon.json")
      << R"({"version": 1, "metrics": {"listen": ")" << addr << R"("},
             "breakers": {"failure_rate_pct": 50, "minimum_calls": 2, "window_ms": 60000, "open_ms": 600000}})";
  ASSERT_NE(d.Signal(SIGTERM), -1);
  d.Start();
  ASSERT_TRUE(d.WaitForLog("metrics on http://" + addr + "/metrics (" + d.conf() + "/daemon.json)")) << d.Log();
  auto body = [&] {
    std::string http = Scrape(port);
    size_t at = http.find("\r\n\r\n");
    return at == std::string::npos ? http : http.substr(at + 4);
  };
  // Waits (5 s at most) until the scrape shows `value` for the sample; the loop sets gauges each turn.
  auto shows = [&](const std::string& name, const Labels& l, double value) {
    for (int i = 0; i < 500; ++i) {
      if (Sample(body(), name, l) == value) return true;
      ::usleep(10000);
    }
    return false;
  };
  EXPECT_TRUE(shows("cordon_breakers", {{"state", "open"}}, 0)) << body();
  EXPECT_TRUE(shows("cordon_daemon", {{"what", "freezes"}}, 0)) << body();
  for (int i = 0; i < 2; ++i) {
    auto f = d.Cli({"submit", "--app", "flaky", "--", "/nonexistent/tool"});
    EXPECT_EQ(f.exit_code, 127) << f.err;
  }
  EXPECT_TRUE(shows("cordon_breakers", {{"state", "open"}}, 1)) << body();
  EXPECT_TRUE(shows("cordon_breakers", {{"state", "closed"}}, 0)) << body();
  auto fr = d.Cli({"freeze", "--app", "other", "--reason", "metrics test"});
  ASSERT_EQ(fr.exit_code, 0) << fr.err;
  EXPECT_TRUE(shows("cordon_daemon", {{"what", "freezes"}}, 1)) << body();
  EXPECT_TRUE(shows("cordon_daemon", {{"what", "tasks_frozen"}}, 0)) << body();
  ASSERT_EQ(d.Cli({"thaw", "--app", "other"}).exit_code, 0);
  EXPECT_TRUE(shows("cordon_daemon", {{"what", "freezes"}}, 0)) << body();
}

TEST(Metrics, OnlyPrincipalsMayReadThem) {
  DaemonProcess d(PrincipalsFor(::geteuid() + 4242));
  auto m = d.Cli({"metrics"});
  EXPECT_NE(m.exit_code, 0);
  EXPECT_NE(m.err.find("is not a principal"), std::string::npos) << m.err;
}

}  // namespace
}  // namespace cordon::test
