#include <gtest/gtest.h>

#include "supervisor/egress/address.h"

namespace cordon::egress {
namespace {

IpAddress Ip(const char* s) {
  auto a = ParseIpLiteral(s);
  EXPECT_TRUE(a) << s;
  return a.value_or(IpAddress{});
}

TEST(EgressAddress, ParsesStrictLiteralsOnly) {
  EXPECT_TRUE(ParseIpLiteral("10.0.0.1"));
  EXPECT_TRUE(ParseIpLiteral("::1"));
  EXPECT_TRUE(ParseIpLiteral("fe80::1"));
  for (const char* bad : {"", "127.1", "0x7f.0.0.1", "2130706433", "010.0.0.1x", "[::1]", "fe80::1%eth0",
                          "1.2.3.4.5", "256.0.0.1", "example.com"})
    EXPECT_FALSE(ParseIpLiteral(bad)) << bad;
}

TEST(EgressAddress, MappedIpv6BecomesIpv4) {
  IpAddress a = Ip("::ffff:169.254.169.254");
  EXPECT_EQ(a.family, AF_INET);
  EXPECT_EQ(FormatIp(a), "169.254.169.254");
  EXPECT_EQ(FormatEndpoint(Ip("2001:db8::1"), 443), "[2001:db8::1]:443");
  EXPECT_EQ(FormatEndpoint(Ip("10.1.2.3"), 80), "10.1.2.3:80");
}

TEST(EgressAddress, ClassifiesSpecialRanges) {
  struct Case { const char* ip; AddressClass want; } cases[] = {
      {"8.8.8.8", AddressClass::kPublic},           {"1.1.1.1", AddressClass::kPublic},
      {"0.0.0.0", AddressClass::kUnspecified},      {"0.1.2.3", AddressClass::kUnspecified},
      {"127.0.0.1", AddressClass::kLoopback},       {"127.255.0.9", AddressClass::kLoopback},
      {"10.0.0.1", AddressClass::kPrivate},         {"172.16.0.1", AddressClass::kPrivate},
      {"172.31.255.255", AddressClass::kPrivate},   {"172.32.0.1", AddressClass::kPublic},
      {"172.15.0.1", AddressClass::kPublic},        {"192.168.1.1", AddressClass::kPrivate},
      {"100.64.0.1", AddressClass::kPrivate},       {"100.128.0.1", AddressClass::kPublic},
      {"169.254.169.254", AddressClass::kLinkLocal}, {"169.254.0.1", AddressClass::kLinkLocal},
      {"224.0.0.1", AddressClass::kMulticast},      {"239.255.255.250", AddressClass::kMulticast},
      {"255.255.255.255", AddressClass::kBroadcast}, {"240.0.0.1", AddressClass::kReserved},
      {"192.0.2.1", AddressClass::kReserved},       {"198.18.0.1", AddressClass::kReserved},
      {"::", AddressClass::kUnspecified},           {"::1", AddressClass::kLoopback},
      {"fe80::1", AddressClass::kLinkLocal},        {"febf::1", AddressClass::kLinkLocal},
      {"fc00::1", AddressClass::kPrivate},          {"fd12:3456::1", AddressClass::kPrivate},
      {"ff02::1", AddressClass::kMulticast},        {"2001:db8::1", AddressClass::kReserved},
      {"2606:4700::1111", AddressClass::kPublic},   {"::ffff:127.0.0.1", AddressClass::kLoopback},
      {"::ffff:10.0.0.1", AddressClass::kPrivate},  {"64:ff9b::a9fe:a9fe", AddressClass::kLinkLocal},
      {"64:ff9b::808:808", AddressClass::kPublic},  {"2002:7f00:1::", AddressClass::kLoopback},
      {"::127.0.0.1", AddressClass::kReserved},
  };
  for (const auto& c : cases) EXPECT_EQ(Classify(Ip(c.ip)), c.want) << c.ip << " got " << AddressClassName(Classify(Ip(c.ip)));
}

TEST(EgressAddress, NamesCloudMetadata) {
  EXPECT_EQ(DescribeClass(Ip("169.254.169.254")), "link-local (cloud metadata)");
  EXPECT_EQ(DescribeClass(Ip("::ffff:169.254.169.254")), "link-local (cloud metadata)");
  EXPECT_EQ(DescribeClass(Ip("64:ff9b::a9fe:a9fe")), "link-local (cloud metadata)");
  EXPECT_EQ(DescribeClass(Ip("169.254.1.1")), "link-local");
  EXPECT_EQ(DescribeClass(Ip("10.0.0.1")), "private");
}

TEST(EgressAddress, CidrContains) {
  std::string why;
  auto c = ParseCidr("10.0.0.0/8", &why);
  ASSERT_TRUE(c) << why;
  EXPECT_TRUE(c->Contains(Ip("10.255.1.2")));
  EXPECT_FALSE(c->Contains(Ip("11.0.0.1")));
  EXPECT_FALSE(c->Contains(Ip("::1")));
  EXPECT_TRUE(c->Contains(Ip("::ffff:10.1.1.1")));  // the mapped form is the same address

  auto odd = ParseCidr("172.16.0.0/12", &why);
  ASSERT_TRUE(odd) << why;
  EXPECT_TRUE(odd->Contains(Ip("172.31.0.1")));
  EXPECT_FALSE(odd->Contains(Ip("172.32.0.1")));

  auto v6 = ParseCidr("fc00::/7", &why);
  ASSERT_TRUE(v6) << why;
  EXPECT_TRUE(v6->Contains(Ip("fdff::1")));
  EXPECT_FALSE(v6->Contains(Ip("fe00::1")));

  auto one = ParseCidr("127.0.0.1", &why);
  ASSERT_TRUE(one);
  EXPECT_EQ(one->prefix, 32);
  EXPECT_TRUE(one->Contains(Ip("127.0.0.1")));
  EXPECT_FALSE(one->Contains(Ip("127.0.0.2")));

  auto all = ParseCidr("0.0.0.0/0", &why);
  ASSERT_TRUE(all);
  EXPECT_TRUE(all->Contains(Ip("203.0.113.9")));

  auto mapped = ParseCidr("::ffff:10.0.0.0/104", &why);
  ASSERT_TRUE(mapped) << why;
  EXPECT_EQ(FormatCidr(*mapped), "10.0.0.0/8");
}

TEST(EgressAddress, CidrErrors) {
  std::string why;
  EXPECT_FALSE(ParseCidr("10.0.0.1/8", &why));
  EXPECT_NE(why.find("beyond the /8 prefix"), std::string::npos) << why;
  EXPECT_FALSE(ParseCidr("10.0.0.0/33", &why));
  EXPECT_NE(why.find("between 0 and 32"), std::string::npos) << why;
  EXPECT_FALSE(ParseCidr("10.0.0.0/", &why));
  EXPECT_FALSE(ParseCidr("10.0.0.0/x", &why));
  EXPECT_FALSE(ParseCidr("10.0/8", &why));
  EXPECT_FALSE(ParseCidr("fc00::/129", &why));
}

TEST(EgressAddress, NormalizesHostNames) {
  EXPECT_EQ(NormalizeHostName("API.Example.COM."), "api.example.com");
  EXPECT_EQ(NormalizeHostName("a-b_c.example"), "a-b_c.example");
  EXPECT_EQ(NormalizeHostName("localhost"), "localhost");
  for (const char* bad : {"", ".", "a..b", "-a.com", "a-.com", "a b.com", "a/b", "exa\x01mple.com", "127.1",
                          "2130706433", "1.2.3.4", "a.b.c.123", "*.example.com", "host:80"})
    EXPECT_FALSE(NormalizeHostName(bad)) << bad;
  EXPECT_FALSE(NormalizeHostName(std::string(64, 'a') + ".com"));
  EXPECT_TRUE(NormalizeHostName(std::string(63, 'a') + ".com"));
}

}  // namespace
}  // namespace cordon::egress
