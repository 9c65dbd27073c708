// Egress in landlock mode (docs/landlock.md "Network"): no network namespace, so the task's HTTP(S)
// goes through Cordon's egress proxy on the host's loopback, which holds it to the policy's
// allowlist; Landlock (ABI >= 4) allows TCP connect to the proxy's port alone, and a seccomp rule
// refuses UDP, raw, IPv6 and packet sockets. All traffic stays on this machine's loopback.
#include <gtest/gtest.h>

#include <string>

#include "tests/integration/landlock_support.h"
#include "tests/support/host.h"
#include "tests/support/http_server.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

std::string Curl(int port, const std::string& path = "/") {
  return "curl -s -m 5 -o /dev/null -w '%{http_code}\\n' http://127.0.0.1:" + std::to_string(port) + path + "; ";
}

// From Python: a direct connection, a UDP socket, an IPv6 socket, a bind: each refused or not.
std::string Direct(int port) {
  return "python3 -c \"\n"
         "import socket\n"
         "try:\n"
         "    socket.create_connection(('127.0.0.1', " + std::to_string(port) + "), timeout=3); print('direct=reached')\n"
         "except OSError: print('direct=refused')\n"
         "try:\n"
         "    socket.socket(socket.AF_INET, socket.SOCK_DGRAM); print('udp=open')\n"
         "except OSError: print('udp=refused')\n"
         "try:\n"
         "    socket.socket(socket.AF_INET6, socket.SOCK_STREAM); print('v6=open')\n"
         "except OSError: print('v6=refused')\n"
         "try:\n"
         "    socket.socket(socket.AF_INET, socket.SOCK_STREAM).bind(('127.0.0.1', 0)); print('bind=made')\n"
         "except OSError: print('bind=refused')\n"
         "\"; ";
}

class LandlockEgress : public ::testing::TestWithParam<const char*> {};

TEST_P(LandlockEgress, AllowlistThroughTheProxyAndNothingPastIt) {
  REQUIRE_LANDLOCK(4);
  LoopbackHttpServer allowed, denied;
  const std::string policy = WriteTempFile(
      std::string("landlock-egress-") + GetParam() + ".json",
      R"({"name": "ll-egress", "version": 1, "outbound": {"mode": "allowlist", "allow": ["127.0.0.1:)" +
          std::to_string(allowed.port()) + R"("]}})");
  const std::string script = Curl(allowed.port(), "/ok") + Curl(denied.port()) + Direct(denied.port()) +
                             "echo \"$HTTP_PROXY\" | grep -c '^http://127.0.0.1:[0-9]*$'";
  RunResult r = WithoutUserns(GetParam(), {"run", "--allow-landlock-mode", "--policy", policy, "--evidence", "-", "--",
                                           "/bin/sh", "-c", script});
  SKIP_IF_HELPER_REFUSED(r);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('{')), "200\n403\ndirect=refused\nudp=refused\nv6=refused\nbind=refused\n1\n") << r.out << r.err;
  EXPECT_EQ(allowed.served(), 1);
  EXPECT_EQ(denied.served(), 0);
  const std::string ev = EvidenceLine(r);
  EXPECT_EQ(JsonField(ev, "sandbox/mode"), "landlock") << ev;
  EXPECT_EQ(JsonField(ev, "outbound/mode"), "allowlist") << ev;
  EXPECT_EQ(JsonField(ev, "egress/0/decision"), "allow") << ev;
  EXPECT_EQ(JsonField(ev, "egress/0/status"), "200") << ev;
  EXPECT_EQ(JsonField(ev, "egress/1/decision"), "deny") << ev;
  EXPECT_EQ(JsonField(ev, "egress/1/port"), std::to_string(denied.port())) << ev;
  EXPECT_EQ(JsonField(ev, "egress/2"), "") << ev;  // the direct connection never reached the proxy
  // The one port the task may connect to is the proxy's, the one in its HTTP_PROXY.
  const std::string ports = JsonField(ev, "sandbox/landlock/tcp_ports_allowed");
  EXPECT_TRUE(ports.size() > 2 && ports.front() == '[' && ports.find(',') == std::string::npos) << ev;
}

INSTANTIATE_TEST_SUITE_P(TakenAway, LandlockEgress, ::testing::Values("sysctl", "seccomp"));

}  // namespace
}  // namespace cordon::test
