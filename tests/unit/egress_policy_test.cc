#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "supervisor/egress/policy.h"

namespace cordon::egress {
namespace {

using Kind = AllowEntry::Kind;

OutboundPolicy Pol(OutboundMode mode, std::vector<std::string> allow) {
  OutboundPolicy p;
  p.mode = mode;
  for (const auto& a : allow) {
    auto e = ParseAllowEntry(a);
    EXPECT_TRUE(e) << a << ": " << (e ? "" : e.error().context);
    if (e) p.allow.push_back(*e);
  }
  return p;
}

std::vector<IpAddress> Ips(std::initializer_list<const char*> list) {
  std::vector<IpAddress> out;
  for (const char* s : list) out.push_back(*ParseIpLiteral(s));
  return out;
}

TEST(EgressAllowEntry, ParsesEveryForm) {
  struct Case { const char* text; Kind kind; const char* name; uint16_t port; } cases[] = {
      {"api.example.com:443", Kind::kExactName, "api.example.com", 443},
      {"API.Example.com:443", Kind::kExactName, "api.example.com", 443},
      {"*.example.com:443", Kind::kWildcardName, "example.com", 443},
      {"*:443", Kind::kAnyHost, "", 443},
      {"localhost:*", Kind::kExactName, "localhost", 0},
      {"10.0.0.0/8:5432", Kind::kAddress, "", 5432},
      {"203.0.113.7:80", Kind::kAddress, "", 80},
      {"[::1]:8080", Kind::kAddress, "", 8080},
      {"[fc00::/7]:*", Kind::kAddress, "", 0},
  };
  for (const auto& c : cases) {
    auto e = ParseAllowEntry(c.text);
    ASSERT_TRUE(e) << c.text << ": " << e.error().context;
    EXPECT_EQ(e->kind, c.kind) << c.text;
    EXPECT_EQ(e->name, c.name) << c.text;
    EXPECT_EQ(e->port, c.port) << c.text;
    EXPECT_EQ(e->text, c.text);
  }
  auto v6 = ParseAllowEntry("[fc00::/7]:*");
  EXPECT_EQ(FormatCidr(v6->range), "fc00::/7");
  auto v4 = ParseAllowEntry("203.0.113.7:80");
  EXPECT_EQ(v4->range.prefix, 32);
}

TEST(EgressAllowEntry, ErrorsSayWhatIsWrong) {
  struct Case { const char* text; const char* expect; } cases[] = {
      {"", "must not be empty"},
      {"example.com", "missing :PORT"},
      {"example.com:", "missing port"},
      {"example.com:http", "is not a number"},
      {"example.com:0", "not between 1 and 65535"},
      {"example.com:70000", "not between 1 and 65535"},
      {":443", "missing host"},
      {"::1:443", "IPv6 addresses need brackets"},
      {"[::1]", "missing :PORT after ']'"},
      {"[::1:443", "without a matching ']'"},
      {"[10.0.0.1]:80", "brackets are for IPv6"},
      {"[example.com]:80", "is not an IP address"},
      {"10.0.0.1/8:80", "beyond the /8 prefix"},
      {"10.0.0.0/40:80", "between 0 and 32"},
      {"foo.*.com:80", "'*' is allowed only"},
      {"*example.com:80", "'*' is allowed only"},
      {"*.:80", "after '*.' is not a valid host name"},
      {"127.1:80", "not a valid host name"},
      {"exa mple.com:80", "space"},
      {"bad_-.com:80", "not a valid host name"},
  };
  for (const auto& c : cases) {
    auto e = ParseAllowEntry(c.text);
    ASSERT_FALSE(e) << c.text;
    EXPECT_NE(e.error().context.find(c.expect), std::string::npos) << c.text << " -> " << e.error().context;
  }
}

TEST(EgressOutbound, ParsesModesAndEntries) {
  auto p = ParseOutbound(nlohmann::json::parse(R"({"mode": "allowlist", "allow": ["a.com:443", "10.0.0.0/8:*"]})"),
                         "outbound");
  ASSERT_TRUE(p) << p.error().context;
  EXPECT_EQ(p->mode, OutboundMode::kAllowlist);
  ASSERT_EQ(p->allow.size(), 2u);
  EXPECT_EQ(p->allow[1].kind, Kind::kAddress);

  auto none = ParseOutbound(nlohmann::json::object(), "outbound");
  ASSERT_TRUE(none);
  EXPECT_EQ(none->mode, OutboundMode::kNone);

  auto mon = ParseOutbound(nlohmann::json::parse(R"({"mode": "monitored"})"), "outbound");
  ASSERT_TRUE(mon);
  EXPECT_EQ(mon->mode, OutboundMode::kMonitored);
}

TEST(EgressOutbound, ErrorsNameTheEntry) {
  struct Case { const char* json; const char* expect; } cases[] = {
      {R"([])", "outbound: expected an object, got array"},
      {R"({"mode": 1})", "outbound.mode: expected a string, got number"},
      {R"({"mode": "open"})", "outbound.mode: 'open' is not one of none, allowlist, monitored"},
      {R"({"mode": "allowlist", "allow": "a.com:1"})", "outbound.allow: expected an array of strings, got string"},
      {R"({"mode": "allowlist", "allow": ["a.com:1", 5]})", "outbound.allow[1]: expected a string, got number"},
      {R"({"mode": "allowlist", "allow": ["a.com:1", "b.com:2", "10.0.0.1/8:5432"]})",
       "outbound.allow[2]: '10.0.0.1/8:5432': '10.0.0.1/8' has address bits set beyond the /8 prefix"},
      {R"({"mode": "allowlist", "allw": []})", "outbound.allw: unknown field"},
      {R"({"allow": ["a.com:443"]})", "outbound.allow: entries given but outbound.mode is none"},
  };
  for (const auto& c : cases) {
    auto p = ParseOutbound(nlohmann::json::parse(c.json), "outbound");
    ASSERT_FALSE(p) << c.json;
    EXPECT_NE(p.error().context.find(c.expect), std::string::npos) << c.json << " -> " << p.error().context;
    EXPECT_FALSE(p.error().hint.empty());
  }
}

TEST(EgressDecision, ModeNoneRefusesEverything) {
  OutboundPolicy p;
  auto d = Decide(p, {"example.com", 443}, Ips({"93.184.216.34"}));
  EXPECT_FALSE(d.allow);
  EXPECT_NE(d.reason.find("outbound.mode is none"), std::string::npos);
}

TEST(EgressDecision, ExactAndWildcardNames) {
  auto p = Pol(OutboundMode::kAllowlist, {"api.example.com:443", "*.cdn.example:443", "any.example:*"});
  EXPECT_TRUE(CheckDestination(p, {"api.example.com", 443}).allow);
  EXPECT_FALSE(CheckDestination(p, {"api.example.com", 80}).allow);
  EXPECT_FALSE(CheckDestination(p, {"www.example.com", 443}).allow);
  EXPECT_FALSE(CheckDestination(p, {"xapi.example.com", 443}).allow);
  EXPECT_TRUE(CheckDestination(p, {"a.cdn.example", 443}).allow);
  EXPECT_TRUE(CheckDestination(p, {"a.b.cdn.example", 443}).allow);
  EXPECT_FALSE(CheckDestination(p, {"cdn.example", 443}).allow);       // the wildcard needs a label
  EXPECT_FALSE(CheckDestination(p, {"evilcdn.example", 443}).allow);   // not a label boundary
  EXPECT_TRUE(CheckDestination(p, {"any.example", 1}).allow);
  auto d = CheckDestination(p, {"api.example.com", 443});
  EXPECT_EQ(d.reason, "matches outbound.allow[0] 'api.example.com:443'");
  auto no = CheckDestination(p, {"other.example", 443});
  EXPECT_EQ(no.reason, "destination other.example:443 is not in outbound.allow");
}

TEST(EgressDecision, EveryResolvedAddressIsChecked) {
  auto p = Pol(OutboundMode::kAllowlist, {"api.example.com:443"});
  EXPECT_TRUE(Decide(p, {"api.example.com", 443}, Ips({"93.184.216.34", "2606:2800:220:1::1"})).allow);
  // A name that resolves to metadata, or to a mix including a private address, is refused.
  auto meta = Decide(p, {"api.example.com", 443}, Ips({"169.254.169.254"}));
  EXPECT_FALSE(meta.allow);
  EXPECT_EQ(meta.reason,
            "destination api.example.com resolves to 169.254.169.254, which is link-local (cloud metadata) and "
            "not in outbound.allow");
  auto mixed = Decide(p, {"api.example.com", 443}, Ips({"93.184.216.34", "10.1.2.3"}));
  EXPECT_FALSE(mixed.allow);
  EXPECT_NE(mixed.reason.find("10.1.2.3, which is private"), std::string::npos);
  EXPECT_FALSE(Decide(p, {"api.example.com", 443}, Ips({"::1"})).allow);
  EXPECT_FALSE(Decide(p, {"api.example.com", 443}, {}).allow);
}

TEST(EgressDecision, OnlyAddressEntriesUnlockSpecialRanges) {
  // A name entry alone never reaches loopback: the name's owner controls what it resolves to.
  auto name_only = Pol(OutboundMode::kAllowlist, {"db.internal:5432"});
  EXPECT_FALSE(Decide(name_only, {"db.internal", 5432}, Ips({"10.0.0.5"})).allow);
  auto both = Pol(OutboundMode::kAllowlist, {"db.internal:5432", "10.0.0.0/8:5432"});
  EXPECT_TRUE(Decide(both, {"db.internal", 5432}, Ips({"10.0.0.5"})).allow);
  EXPECT_FALSE(Decide(both, {"db.internal", 5432}, Ips({"192.168.0.5"})).allow);
  // The range is for its port only.
  auto other_port = Pol(OutboundMode::kAllowlist, {"db.internal:5432", "10.0.0.0/8:6379"});
  EXPECT_FALSE(Decide(other_port, {"db.internal", 5432}, Ips({"10.0.0.5"})).allow);
  // An address entry does not allow names by itself: no resolution for unknown names.
  EXPECT_FALSE(CheckDestination(both, {"other.internal", 5432}).allow);
}

TEST(EgressDecision, Literals) {
  auto p = Pol(OutboundMode::kAllowlist, {"127.0.0.1:8080", "[::1]:8080", "10.0.0.0/8:5432"});
  EXPECT_TRUE(Decide(p, {"127.0.0.1", 8080}, Ips({"127.0.0.1"})).allow);
  EXPECT_TRUE(Decide(p, {"::1", 8080}, Ips({"::1"})).allow);
  EXPECT_TRUE(Decide(p, {"10.9.8.7", 5432}, Ips({"10.9.8.7"})).allow);
  auto other = Decide(p, {"127.0.0.1", 8081}, Ips({"127.0.0.1"}));
  EXPECT_FALSE(other.allow);
  EXPECT_EQ(other.reason, "destination 127.0.0.1 is loopback and not in outbound.allow");
  auto meta = Decide(p, {"169.254.169.254", 80}, Ips({"169.254.169.254"}));
  EXPECT_FALSE(meta.allow);
  EXPECT_EQ(meta.reason, "destination 169.254.169.254 is link-local (cloud metadata) and not in outbound.allow");
  auto pub = Decide(p, {"93.184.216.34", 80}, Ips({"93.184.216.34"}));
  EXPECT_FALSE(pub.allow);
  EXPECT_EQ(pub.reason, "destination 93.184.216.34:80 is not in outbound.allow");
  auto v6 = Decide(p, {"fe80::1", 80}, Ips({"fe80::1"}));
  EXPECT_EQ(v6.reason, "destination fe80::1 is link-local and not in outbound.allow");
}

TEST(EgressDecision, AnyHostEntryStillRefusesSpecialAddresses) {
  auto p = Pol(OutboundMode::kAllowlist, {"*:443"});
  EXPECT_TRUE(Decide(p, {"example.com", 443}, Ips({"93.184.216.34"})).allow);
  EXPECT_TRUE(Decide(p, {"93.184.216.34", 443}, Ips({"93.184.216.34"})).allow);
  EXPECT_FALSE(Decide(p, {"example.com", 80}, Ips({"93.184.216.34"})).allow);
  EXPECT_FALSE(Decide(p, {"169.254.169.254", 443}, Ips({"169.254.169.254"})).allow);
  EXPECT_FALSE(Decide(p, {"localhost", 443}, Ips({"127.0.0.1"})).allow);
}

TEST(EgressDecision, MonitoredAllowsPublicOnly) {
  auto p = Pol(OutboundMode::kMonitored, {"127.0.0.1:*"});
  auto pub = Decide(p, {"example.com", 80}, Ips({"93.184.216.34"}));
  EXPECT_TRUE(pub.allow);
  EXPECT_EQ(pub.reason, "public destination (monitored)");
  EXPECT_TRUE(Decide(p, {"127.0.0.1", 9}, Ips({"127.0.0.1"})).allow);
  EXPECT_TRUE(Decide(p, {"localhost", 9}, Ips({"127.0.0.1"})).allow);
  EXPECT_FALSE(Decide(p, {"127.0.0.2", 9}, Ips({"127.0.0.2"})).allow);
  EXPECT_FALSE(Decide(p, {"169.254.169.254", 80}, Ips({"169.254.169.254"})).allow);
  EXPECT_FALSE(Decide(p, {"metadata.google.internal", 80}, Ips({"169.254.169.254"})).allow);
  EXPECT_FALSE(Decide(p, {"::ffff:10.0.0.1", 80}, Ips({"::ffff:10.0.0.1"})).allow);
}

}  // namespace
}  // namespace cordon::egress
