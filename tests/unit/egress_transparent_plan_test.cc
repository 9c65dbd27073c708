// Which allow entries get a transparent listener inside the sandbox, on which address, and which
// stay proxy-only (docs/network.md "Clients that ignore the proxy variables").
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "supervisor/egress/transparent_plan.h"

namespace cordon::egress {
namespace {

OutboundPolicy Parse(const std::string& json) {
  auto p = ParseOutbound(nlohmann::json::parse(json), "outbound");
  EXPECT_TRUE(p) << p.error().Message();
  return p ? *p : OutboundPolicy{};
}

TEST(TransparentPlan, NamesGetAddressesOfTheirOwnAndLoopbackEntriesKeepTheirs) {
  auto plan = PlanTransparent(Parse(R"({"mode": "allowlist", "allow": [
      "db.internal:5432", "api.example.com:443", "db.internal:6432", "127.0.0.1:8080", "127.0.0.2:9000"]})"),
                              3128);
  ASSERT_EQ(plan.doors.size(), 5u);
  EXPECT_EQ(FormatIpv4(plan.doors[0].listen_addr), "127.77.0.1");
  EXPECT_EQ(plan.doors[0].dest.host, "db.internal");
  EXPECT_EQ(plan.doors[0].port, 5432);
  EXPECT_EQ(FormatIpv4(plan.doors[1].listen_addr), "127.77.0.2");
  EXPECT_EQ(plan.doors[2].listen_addr, plan.doors[0].listen_addr) << "one address per name, whatever its ports";
  EXPECT_EQ(plan.doors[2].port, 6432);
  EXPECT_EQ(FormatIpv4(plan.doors[3].listen_addr), "127.0.0.1");
  EXPECT_EQ(plan.doors[3].dest.host, "127.0.0.1");
  EXPECT_EQ(FormatIpv4(plan.doors[4].listen_addr), "127.0.0.2");
  EXPECT_EQ(plan.hosts, "127.77.0.1\tdb.internal\n127.77.0.2\tapi.example.com\n");
  EXPECT_TRUE(plan.dns) << "names: the sandbox gets its DNS server";
  EXPECT_EQ(plan.names, (std::map<std::string, uint32_t>{{"db.internal", 0x7f4d0001}, {"api.example.com", 0x7f4d0002}}));
  EXPECT_TRUE(plan.proxy_only.empty());
}

TEST(TransparentPlan, WildcardsRangesAnyPortsAndTheSandboxesOwnNamesStayWithTheProxy) {
  auto plan = PlanTransparent(Parse(R"({"mode": "allowlist", "allow": [
      "*.example.com:443", "*:443", "10.0.0.0/8:5432", "224.0.0.1:5432", "[::1]:80", "db:*", "localhost:80",
      "a.localhost:80", "127.0.0.1:3128", "127.77.0.9:80", "x.test:80", "x.test:80"]})"),
                              3128);
  ASSERT_EQ(plan.doors.size(), 1u);
  EXPECT_EQ(plan.doors[0].dest.host, "x.test");
  ASSERT_EQ(plan.proxy_only.size(), 11u);
  EXPECT_NE(plan.proxy_only[3].find("not a unicast address"), std::string::npos) << plan.proxy_only[3];
  EXPECT_NE(plan.proxy_only[5].find("any port"), std::string::npos) << plan.proxy_only[5];
  EXPECT_NE(plan.proxy_only[8].find("the proxy's own port"), std::string::npos) << plan.proxy_only[8];
  EXPECT_NE(plan.proxy_only[10].find("listed twice"), std::string::npos) << plan.proxy_only[10];
}

// A non-loopback IPv4 literal keeps its own address: the shim puts it on the sandbox's lo.
TEST(TransparentPlan, NonLoopbackLiteralsGetADoorOnTheirOwnAddress) {
  auto plan = PlanTransparent(Parse(R"({"mode": "allowlist", "allow": ["10.1.2.3:5432", "203.0.113.7:443",
      "10.1.2.3:6432"]})"), 3128);
  ASSERT_EQ(plan.doors.size(), 3u);
  EXPECT_EQ(FormatIpv4(plan.doors[0].listen_addr), "10.1.2.3");
  EXPECT_EQ(plan.doors[0].dest.host, "10.1.2.3");
  EXPECT_EQ(plan.doors[1].dest.host, "203.0.113.7");
  EXPECT_EQ(plan.doors[1].port, 443);
  EXPECT_EQ(FormatIpv4(plan.doors[2].listen_addr), "10.1.2.3");
  EXPECT_EQ(plan.doors[2].port, 6432);
  EXPECT_EQ(plan.hosts, "") << "literals need no name";
  EXPECT_FALSE(plan.dns) << "no names, no DNS server";
  EXPECT_TRUE(plan.proxy_only.empty());
}

TEST(TransparentPlan, ModeNoneAndTooManyDestinations) {
  EXPECT_TRUE(PlanTransparent(OutboundPolicy{}, 3128).doors.empty());
  std::string allow;
  for (int i = 0; i < 70; ++i) allow += std::string(i ? "," : "") + "\"h" + std::to_string(i) + ".test:80\"";
  auto plan = PlanTransparent(Parse(R"({"mode": "monitored", "allow": [)" + allow + "]}"), 3128);
  EXPECT_EQ(plan.doors.size(), kMaxTransparentDoors);
  EXPECT_EQ(plan.proxy_only.size(), 70 - kMaxTransparentDoors);
}

}  // namespace
}  // namespace cordon::egress
