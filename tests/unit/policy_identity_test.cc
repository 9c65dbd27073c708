// A policy's `identity` section (docs/identity.md): what it accepts, and that every mistake is
// refused with the JSON path and the cause.
#include <gtest/gtest.h>

#include "supervisor/policy.h"

namespace cordon {
namespace {

Result<Policy> Parse(const std::string& identity, const std::string& bindings = "[]") {
  return ParsePolicy(R"({"name": "p", "version": 1, "bindings": )" + bindings + R"(, "identity": )" + identity + "}",
                     "p.json");
}

TEST(PolicyIdentity, AcceptsTokensAndSecrets) {
  auto p = Parse(R"({"max_token_ttl_s": 60,
      "tokens": [{"audience": "a", "binding": "tok"}, {"audience": "b", "attach": ["api.example.com:443", "10.0.0.0/8:80"]}],
      "secrets": [{"name": "K", "source": "/etc/k", "destinations": ["*.example.com:443"], "env": "API_KEY", "body": true}]})",
                 R"([{"name": "tok", "kind": "pipe", "source": "caller"}])");
  ASSERT_TRUE(p) << p.error().Message();
  EXPECT_EQ(p->identity.max_token_ttl_s, 60u);
  ASSERT_EQ(p->identity.tokens.size(), 2u);
  EXPECT_EQ(p->identity.tokens[0].binding, "tok");
  EXPECT_EQ(p->identity.tokens[1].attach.size(), 2u);
  ASSERT_EQ(p->identity.secrets.size(), 1u);
  EXPECT_EQ(p->identity.secrets[0].env, "API_KEY");
  EXPECT_TRUE(p->identity.secrets[0].body);
  auto none = ParsePolicy(R"({"name": "p", "version": 1})", "p.json");
  ASSERT_TRUE(none);
  EXPECT_TRUE(none->identity.empty());
  EXPECT_EQ(none->identity.max_token_ttl_s, 300u) << "five minutes by default";
}

TEST(PolicyIdentity, RefusesMistakesNamingThePath) {
  struct Case {
    std::string identity, bindings, expect;
  };
  const std::vector<Case> cases = {
      {R"({"tokens": [{"audience": "a"}]})", "[]", "identity.tokens[0]: say how the task gets it"},
      {R"({"tokens": [{"audience": "a", "binding": "nope"}]})", "[]", "identity.tokens[0].binding: declare a binding"},
      {R"({"tokens": [{"audience": "a", "binding": "f"}]})", R"([{"name": "f", "kind": "file", "source": "/etc/hostname"}])",
       "identity.tokens[0].binding: declare a binding"},
      {R"({"tokens": [{"audience": "a", "attach": ["x:1"]}, {"audience": "a", "attach": ["x:1"]}]})", "[]",
       "identity.tokens[1].audience: 'a' is listed twice"},
      {R"({"tokens": [{"audience": "a", "attach": ["10.0.0.1/8:80"]}]})", "[]", "identity.tokens[0].attach[0]:"},
      {R"({"tokens": [{"audience": "a", "attach": []}]})", "[]", "identity.tokens[0].attach: name at least one"},
      {R"({"secrets": [{"name": "K", "source": "rel/path", "destinations": ["x:1"]}]})", "[]",
       "identity.secrets[0].source: an absolute path"},
      {R"({"secrets": [{"name": "K-1", "source": "/k", "destinations": ["x:1"]}]})", "[]", "identity.secrets[0].name:"},
      {R"({"secrets": [{"name": "K", "source": "/k"}]})", "[]", "identity.secrets[0].destinations: required"},
      {R"({"secrets": [{"name": "K", "source": "/k", "destinations": ["x:1"], "env": "1X"}]})", "[]",
       "identity.secrets[0].env: not a valid variable name"},
      {R"({"max_token_ttl_s": 0})", "[]", "identity.max_token_ttl_s"},
      {R"({"tokenz": []})", "[]", "identity"},
  };
  for (const Case& c : cases) {
    auto p = Parse(c.identity, c.bindings);
    ASSERT_FALSE(p) << c.identity;
    EXPECT_NE(p.error().context.find("policy p.json: " + c.expect), std::string::npos)
        << c.identity << "\n  got: " << p.error().context;
    EXPECT_EQ(p.error().context.find('\n'), std::string::npos) << "one line";
  }
}

}  // namespace
}  // namespace cordon
