// The egress proxy's credentials (supervisor/egress/secret.h): a secret's placeholder becomes its
// value only for the destinations it is bound to, is refused anywhere else, and a token header is
// attached only for its audience's destinations.
#include <gtest/gtest.h>

#include "supervisor/egress/secret.h"

namespace cordon::egress {
namespace {

AllowEntry Entry(const std::string& text) {
  auto e = ParseAllowEntry(text);
  EXPECT_TRUE(e) << text;
  return *e;
}

Credentials Creds() {
  Credentials c;
  c.secrets.push_back({"API_KEY", "cordon-secret-API_KEY-1234", "s3cr3t-value", {Entry("api.example.com:443"),
                                                                                   Entry("127.0.0.1:8080")},
                       /*body=*/false});
  c.secrets.push_back({"DB_PASS", "cordon-secret-DB_PASS-99", "hunter2", {Entry("127.0.0.1:8080")}, /*body=*/true});
  c.headers.push_back({"token:billing", {Entry("127.0.0.1:8080")}, "Authorization", "Bearer JWT"});
  return c;
}

RequestHead Head(std::vector<std::pair<std::string, std::string>> headers) {
  RequestHead h;
  h.method = "POST";
  h.target = "http://x/";
  h.headers = std::move(headers);
  return h;
}

TEST(EgressSecret, SubstitutedOnlyForItsDestinations) {
  Credentials c = Creds();
  RequestHead h = Head({{"X-Api-Key", "cordon-secret-API_KEY-1234"}, {"Authorization", "Bearer forged"},
                        {"Content-Length", "24"}});
  ProxyTarget t{"127.0.0.1", 8080, "/q?key=cordon-secret-API_KEY-1234"};
  std::string body = "pw=cordon-secret-DB_PASS-99";
  body.resize(24);  // only the first 24 bytes arrived with the head: not the whole body
  std::string partial = body;
  auto o = ApplyToRequest(c, {"127.0.0.1", 8080}, &h, &t, &partial, /*body_complete=*/false);
  ASSERT_TRUE(o.allow) << o.reason;
  EXPECT_EQ(h.headers[0].second, "s3cr3t-value");
  EXPECT_EQ(t.path, "/q?key=s3cr3t-value");
  EXPECT_EQ(partial, body) << "an incomplete body is forwarded as it came";
  // The token header replaces the task's own.
  ASSERT_EQ(h.headers.back().first, "Authorization");
  EXPECT_EQ(h.headers.back().second, "Bearer JWT");
  EXPECT_EQ(std::count_if(h.headers.begin(), h.headers.end(), [](auto& kv) { return kv.first == "Authorization"; }), 1);
  EXPECT_EQ(o.applied, (std::vector<std::string>{"secret:API_KEY", "token:billing"}));
}

TEST(EgressSecret, BodyOnlyWhereDeclaredAndContentLengthFollows) {
  Credentials c = Creds();
  RequestHead h = Head({{"Content-Length", "27"}});
  ProxyTarget t{"127.0.0.1", 8080, "/"};
  std::string body = "pw=cordon-secret-DB_PASS-99";
  auto o = ApplyToRequest(c, {"127.0.0.1", 8080}, &h, &t, &body, /*body_complete=*/true);
  ASSERT_TRUE(o.allow);
  EXPECT_EQ(body, "pw=hunter2");
  EXPECT_EQ(h.headers[0].second, "10");
  // API_KEY is not declared for bodies: its placeholder in a body to its own destination stays.
  RequestHead h2 = Head({{"Content-Length", "29"}});
  std::string body2 = "k=cordon-secret-API_KEY-1234";
  auto o2 = ApplyToRequest(c, {"api.example.com", 443}, &h2, &t, &body2, true);
  ASSERT_TRUE(o2.allow);
  EXPECT_EQ(body2, "k=cordon-secret-API_KEY-1234");
}

TEST(EgressSecret, PlaceholderElsewhereIsRefusedWithoutTheValue) {
  Credentials c = Creds();
  for (int where = 0; where < 3; ++where) {
    RequestHead h = Head({{"X-Other", where == 0 ? "cordon-secret-API_KEY-1234" : "plain"}});
    ProxyTarget t{"evil.example.net", 80, where == 1 ? "/?k=cordon-secret-API_KEY-1234" : "/"};
    std::string body = where == 2 ? "cordon-secret-API_KEY-1234" : "";
    auto o = ApplyToRequest(c, {"evil.example.net", 80}, &h, &t, &body, true);
    ASSERT_FALSE(o.allow) << where;
    EXPECT_NE(o.reason.find("secret placeholder 'API_KEY'"), std::string::npos) << o.reason;
    EXPECT_NE(o.reason.find("evil.example.net:80"), std::string::npos) << o.reason;
    EXPECT_EQ(o.reason.find("s3cr3t"), std::string::npos) << o.reason;
  }
  // The right host on another port is elsewhere too.
  RequestHead h = Head({{"X-Api-Key", "cordon-secret-API_KEY-1234"}});
  ProxyTarget t{"127.0.0.1", 8081, "/"};
  std::string body;
  EXPECT_FALSE(ApplyToRequest(c, {"127.0.0.1", 8081}, &h, &t, &body, true).allow);
  // No token header for a destination that is not its audience's.
  RequestHead clean = Head({{"Accept", "*/*"}});
  ProxyTarget other{"api.example.com", 443, "/"};
  auto o = ApplyToRequest(c, {"api.example.com", 443}, &clean, &other, &body, true);
  ASSERT_TRUE(o.allow);
  EXPECT_EQ(clean.headers.size(), 1u);
}

TEST(EgressSecret, TunnelHeadsCarryNoPlaceholder) {
  Credentials c = Creds();
  RequestHead h = Head({{"Proxy-Authorization", "Basic cordon-secret-API_KEY-1234"}});
  h.method = "CONNECT";
  auto o = CheckTunnelHead(c, {"api.example.com", 443}, h);
  ASSERT_FALSE(o.allow);
  EXPECT_NE(o.reason.find("nothing can be substituted in a tunnel"), std::string::npos);
  EXPECT_TRUE(CheckTunnelHead(c, {"api.example.com", 443}, Head({{"Host", "api.example.com"}})).allow);
}

}  // namespace
}  // namespace cordon::egress
