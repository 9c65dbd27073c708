// Outbound network from inside real sandboxes: none, allowlist, monitored, max_calls, and that
// nothing reaches what the policy does not name, proxy or not. All traffic stays on this machine's loopback.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <thread>

#include "tests/support/http_server.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

std::string Policy(const std::string& name, const std::string& outbound, const std::string& limits = "{}") {
  return WriteTempFile(name + ".json", R"({"name": ")" + name + R"(", "version": 1, "outbound": )" + outbound +
                                           R"(, "limits": )" + limits + "}");
}

std::string Curl(int port, const std::string& path = "/") {
  return "curl -s -m 5 -o /dev/null -w '%{http_code}\\n' http://127.0.0.1:" + std::to_string(port) + path + "; ";
}

TEST(Network, NoneModeHasNoWayOut) {
  REQUIRE_SANDBOX();
  LoopbackHttpServer srv;
  auto r = CordonRun({"/bin/sh", "-c", Curl(srv.port()) + "env | grep -ci proxy"}, {"--evidence", "-"});
  EXPECT_EQ(r.out.substr(0, 8), "000\n0\n{\"") << r.out;
  EXPECT_EQ(JsonField(EvidenceLine(r), "egress"), "[]");
  EXPECT_EQ(JsonField(EvidenceLine(r), "outbound/mode"), "none");
  EXPECT_EQ(srv.served(), 0);
}

TEST(Network, AllowlistAllowsOnlyWhatItNames) {
  REQUIRE_SANDBOX();
  LoopbackHttpServer srv, other;
  std::string policy = Policy("allow", R"({"mode": "allowlist", "allow": ["127.0.0.1:)" + std::to_string(srv.port()) + R"("]})");
  std::string script = Curl(srv.port(), "/ok") + Curl(other.port()) +
                       "curl -s -m 5 -o /dev/null -w '%{http_code}\\n' http://169.254.169.254/latest; " +
                       "curl -s -m 5 -o /dev/null -w '%{http_connect}\\n' -p https://127.0.0.1:" + std::to_string(other.port()) + "/";
  auto r = CordonRun({"/bin/sh", "-c", script}, {"--policy", policy, "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(r.out.substr(0, r.out.find('{')), "200\n403\n403\n403\n") << r.out << r.err;
  EXPECT_EQ(srv.served(), 1);
  EXPECT_EQ(other.served(), 0);
  EXPECT_EQ(JsonField(ev, "egress/0/method"), "GET");
  EXPECT_EQ(JsonField(ev, "egress/0/status"), "200");
  EXPECT_EQ(JsonField(ev, "egress/0/decision"), "allow");
  EXPECT_GT(std::stoi(JsonField(ev, "egress/0/bytes_down")), 0);
  EXPECT_EQ(JsonField(ev, "egress/1/decision"), "deny");
  EXPECT_EQ(JsonField(ev, "egress/1/port"), std::to_string(other.port()));
  EXPECT_NE(JsonField(ev, "egress/2/reason").find("link-local"), std::string::npos) << ev;
  EXPECT_EQ(JsonField(ev, "egress/3/method"), "CONNECT");
  EXPECT_EQ(JsonField(ev, "egress/3/status"), "403");
}

TEST(Network, MonitoredRecordsEverything) {
  REQUIRE_SANDBOX();
  LoopbackHttpServer srv;
  // Loopback is never "public": monitored mode still needs it named to reach the test server.
  std::string policy = Policy("mon", R"({"mode": "monitored", "allow": ["127.0.0.1:)" + std::to_string(srv.port()) + R"("]})");
  auto r = CordonRun({"python3", "-c",
                      "import urllib.request\n"
                      "for p in ['/a', '/b?user=x']:\n"
                      "    print(urllib.request.urlopen('http://127.0.0.1:" + std::to_string(srv.port()) + "' + p).read().decode())\n"},
                     {"--policy", policy, "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(r.out.substr(0, 12), "hello\nhello\n") << r.err;
  EXPECT_EQ(JsonField(ev, "outbound/mode"), "monitored");
  EXPECT_EQ(JsonField(ev, "egress/1/status"), "200");
  EXPECT_EQ(JsonField(ev, "egress/2"), "");
}

TEST(Network, MaxCallsRefusesTheFourth) {
  REQUIRE_SANDBOX();
  LoopbackHttpServer srv;
  std::string policy = Policy("calls", R"({"mode": "allowlist", "allow": ["127.0.0.1:)" + std::to_string(srv.port()) + R"("]})",
                              R"({"max_calls": 3})");
  auto r = CordonRun({"/bin/sh", "-c", Curl(srv.port()) + Curl(srv.port()) + Curl(srv.port()) + Curl(srv.port())},
                     {"--policy", policy, "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(r.out.substr(0, r.out.find('{')), "200\n200\n200\n403\n") << r.out;
  EXPECT_NE(JsonField(ev, "egress/3/reason").find("max_calls"), std::string::npos) << ev;
  EXPECT_EQ(srv.served(), 3);
}

// A raw socket reaches only what the policy names (transparent egress, docs/network.md): here the
// policy names another port, so nothing reaches srv.
TEST(Network, DirectConnectionsBypassingTheProxyFail) {
  REQUIRE_SANDBOX();
  LoopbackHttpServer srv, allowed;
  for (const char* mode : {"none", "allowlist", "monitored"}) {
    std::string outbound = std::string(R"({"mode": ")") + mode + R"(")" +
                           (std::string(mode) == "none" ? "" : R"(, "allow": ["127.0.0.1:)" + std::to_string(allowed.port()) + R"("])") + "}";
    auto r = CordonRun({"python3", "-c",
                        "import socket\n"
                        "try:\n"
                        "    socket.create_connection(('127.0.0.1', " + std::to_string(srv.port()) + "), timeout=3); print('reached')\n"
                        "except OSError as e:\n"
                        "    print('refused')\n"},
                       {"--policy", Policy(std::string("direct-") + mode, outbound)});
    EXPECT_EQ(r.out, "refused\n") << mode << r.err;
  }
  EXPECT_EQ(srv.served(), 0);
}

}  // namespace
}  // namespace cordon::test
