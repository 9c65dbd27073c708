#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "supervisor/egress/http.h"
#include "supervisor/egress/record.h"

namespace cordon::egress {
namespace {

TEST(EgressHttp, FindsTheEndOfTheHead) {
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\r\nHost: a\r\n\r\nbody"), 27u);
  EXPECT_EQ(FindHeadEnd("GET / HTTP/1.1\nHost: a\n\nbody"), 24u);
  EXPECT_FALSE(FindHeadEnd("GET / HTTP/1.1\r\nHost: a\r\n"));
  EXPECT_FALSE(FindHeadEnd("\r\n\r\n"));  // leading blank lines are not a head
  EXPECT_EQ(FindHeadEnd("\r\nGET / HTTP/1.1\r\n\r\n"), 20u);
}

TEST(EgressHttp, ParsesAProxyRequest) {
  auto h = ParseRequestHead(
      "GET http://example.com:8080/a?b=1 HTTP/1.1\r\nHost: example.com:8080\r\nUser-Agent:  curl/7.88 \r\n"
      "Proxy-Connection: Keep-Alive\r\n\r\n");
  ASSERT_TRUE(h) << h.error().context;
  EXPECT_EQ(h->method, "GET");
  EXPECT_EQ(h->target, "http://example.com:8080/a?b=1");
  EXPECT_EQ(h->minor_version, 1);
  ASSERT_EQ(h->headers.size(), 3u);
  ASSERT_NE(h->Find("user-agent"), nullptr);
  EXPECT_EQ(*h->Find("user-agent"), "curl/7.88");
  EXPECT_EQ(h->Find("accept"), nullptr);

  auto c = ParseRequestHead("CONNECT example.com:443 HTTP/1.0\n\n");
  ASSERT_TRUE(c);
  EXPECT_EQ(c->method, "CONNECT");
  EXPECT_EQ(c->minor_version, 0);
}

TEST(EgressHttp, RejectsMalformedHeads) {
  struct Case { const char* head; const char* expect; } cases[] = {
      {"", "empty request"},
      {"GET\r\n\r\n", "malformed request line"},
      {"GET  http://a/ HTTP/1.1\r\n\r\n", "malformed request line"},
      {"GET http://a/ HTTP/1.1 x\r\n\r\n", "malformed request line"},
      {"G(T http://a/ HTTP/1.1\r\n\r\n", "invalid method"},
      {"GET http://a/ HTTP/2.0\r\n\r\n", "unsupported HTTP version"},
      {"GET http://a/ http/1.1\r\n\r\n", "unsupported HTTP version"},
      {"GET http://a/ HTTP/1.1\r\nHost: a\r\n continued\r\n\r\n", "obsolete line folding"},
      {"GET http://a/ HTTP/1.1\r\nHost a\r\n\r\n", "header line without ':'"},
      {"GET http://a/ HTTP/1.1\r\nHost : a\r\n\r\n", "invalid header name"},
      {"GET http://a/ HTTP/1.1\r\nX: a\rb\r\n\r\n", "bare CR"},
      {"GET http://a/ HTTP/1.1\r\nX: a\x01z\r\n\r\n", "control character"},
      {"GET http://a/\x7f HTTP/1.1\r\n\r\n", "invalid character in request target"},
  };
  for (const auto& c : cases) {
    auto h = ParseRequestHead(c.head);
    ASSERT_FALSE(h) << c.head;
    EXPECT_NE(h.error().context.find(c.expect), std::string::npos) << c.head << " -> " << h.error().context;
  }
  std::string many = "GET http://a/ HTTP/1.1\r\n";
  for (int i = 0; i < 200; ++i) many += "X-" + std::to_string(i) + ": 1\r\n";
  EXPECT_FALSE(ParseRequestHead(many + "\r\n"));
  std::string nul = std::string("GET http://a/ HTTP/1.1\r\nX: a") + '\0' + "b\r\n\r\n";
  EXPECT_FALSE(ParseRequestHead(nul));
}

TEST(EgressHttp, ParsesAbsoluteUrls) {
  auto t = ParseAbsoluteUrl("http://Example.COM/a/b?c=d#frag");
  ASSERT_TRUE(t) << t.error().context;
  EXPECT_EQ(t->host, "example.com");
  EXPECT_EQ(t->port, 80);
  EXPECT_EQ(t->path, "/a/b?c=d");

  auto q = ParseAbsoluteUrl("HTTP://127.0.0.1:8080?x");
  ASSERT_TRUE(q);
  EXPECT_EQ(q->host, "127.0.0.1");
  EXPECT_EQ(q->port, 8080);
  EXPECT_EQ(q->path, "/?x");

  auto v6 = ParseAbsoluteUrl("http://[::ffff:169.254.169.254]/latest/meta-data");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "169.254.169.254");  // canonical: the policy sees one spelling
  auto v6b = ParseAbsoluteUrl("http://[2001:db8::1]:81/");
  ASSERT_TRUE(v6b);
  EXPECT_EQ(v6b->host, "2001:db8::1");
  EXPECT_EQ(v6b->port, 81);

  for (const char* bad : {"/path", "ftp://a/", "https://a/", "http://", "http:///x", "http://a:0/", "http://a:99999/",
                          "http://a:x/", "http://::1/", "http://[::1/", "http://[fe80::1%25eth0]/", "http://127.1/",
                          "http://a b/", "http://[127.0.0.1]/"})
    EXPECT_FALSE(ParseAbsoluteUrl(bad)) << bad;
}

TEST(EgressHttp, UserinfoNeverSurvives) {
  auto t = ParseAbsoluteUrl("http://user:s3cret@example.com:8080/x");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->host, "example.com");
  EXPECT_EQ(t->path, "/x");
  auto tricky = ParseAbsoluteUrl("http://a@b:p@ss@example.com/");
  ASSERT_TRUE(tricky);
  EXPECT_EQ(tricky->host, "example.com");
  EXPECT_EQ(StripUserinfo("user:pass@host:80"), "host:80");
  EXPECT_EQ(StripUserinfo("host:80"), "host:80");
  EXPECT_FALSE(ParseAuthority("user:pass@host:443"));
}

TEST(EgressHttp, ParsesConnectAuthority) {
  auto a = ParseAuthority("Example.com:443");
  ASSERT_TRUE(a);
  EXPECT_EQ(a->host, "example.com");
  EXPECT_EQ(a->port, 443);
  auto v6 = ParseAuthority("[::1]:22");
  ASSERT_TRUE(v6);
  EXPECT_EQ(v6->host, "::1");
  for (const char* bad : {"example.com", "example.com:", "example.com:0", "http://x:1", "x:1/y", "[::1]", "::1:22"})
    EXPECT_FALSE(ParseAuthority(bad)) << bad;
}

RequestHead Head(const std::string& text) {
  auto h = ParseRequestHead(text);
  EXPECT_TRUE(h) << text;
  return h.value_or(RequestHead{});
}

TEST(EgressHttp, BodyFraming) {
  auto none = RequestFraming(Head("GET http://a/ HTTP/1.1\r\n\r\n"));
  ASSERT_TRUE(none);
  EXPECT_EQ(none->length, 0u);
  EXPECT_FALSE(none->chunked);
  auto cl = RequestFraming(Head("POST http://a/ HTTP/1.1\r\nContent-Length: 12\r\ncontent-length: 12\r\n\r\n"));
  ASSERT_TRUE(cl);
  EXPECT_EQ(cl->length, 12u);
  auto ch = RequestFraming(Head("POST http://a/ HTTP/1.1\r\nTransfer-Encoding: Chunked\r\n\r\n"));
  ASSERT_TRUE(ch);
  EXPECT_TRUE(ch->chunked);
  for (const char* bad : {"POST http://a/ HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
                          "POST http://a/ HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
                          "POST http://a/ HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
                          "POST http://a/ HTTP/1.1\r\nContent-Length: 1, 1\r\n\r\n",
                          "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                          "POST http://a/ HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                          "POST http://a/ HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"})
    EXPECT_FALSE(RequestFraming(Head(bad))) << bad;
}

TEST(EgressHttp, RewritesToOriginForm) {
  RequestHead h = Head(
      "POST http://user:pw@example.com:8080/p?q HTTP/1.0\r\nHost: evil.example\r\nProxy-Authorization: Basic "
      "cHJveHk=\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nKeep-Alive: 5\r\n"
      "Authorization: Bearer origin-token\r\nUpgrade: websocket\r\nTE: trailers\r\nContent-Length: 3\r\n"
      "Accept: */*\r\n\r\n");
  auto t = ParseAbsoluteUrl(h.target);
  ASSERT_TRUE(t);
  std::string out = BuildOriginRequest(h, *t);
  EXPECT_EQ(out,
            "POST /p?q HTTP/1.1\r\nHost: example.com:8080\r\nAuthorization: Bearer origin-token\r\n"
            "Content-Length: 3\r\nAccept: */*\r\nConnection: close\r\n\r\n");

  RequestHead v6 = Head("GET http://[2001:db8::1]/ HTTP/1.1\r\n\r\n");
  auto t6 = ParseAbsoluteUrl(v6.target);
  ASSERT_TRUE(t6);
  EXPECT_EQ(BuildOriginRequest(v6, *t6), "GET / HTTP/1.1\r\nHost: [2001:db8::1]\r\nConnection: close\r\n\r\n");
}

TEST(EgressHttp, ProxyResponses) {
  std::string r = ProxyResponse(403, "destination 169.254.169.254 is link-local\r\nX-Injected: 1");
  EXPECT_TRUE(r.starts_with("HTTP/1.1 403 Forbidden\r\n")) << r;
  EXPECT_NE(r.find("X-Cordon-Reason: destination 169.254.169.254 is link-local??X-Injected: 1\r\n"), std::string::npos)
      << r;
  EXPECT_NE(r.find("Connection: close\r\n"), std::string::npos);
  size_t body = r.find("\r\n\r\n") + 4;
  size_t cl = r.find("Content-Length: ") + 16;
  EXPECT_EQ(std::stoul(r.substr(cl)), r.size() - body);
  EXPECT_TRUE(ProxyResponse(504, "x").starts_with("HTTP/1.1 504 Gateway Timeout\r\n"));
}

TEST(EgressHttp, StatusLines) {
  EXPECT_EQ(ParseStatusLine("HTTP/1.1 200 OK\r\n"), 200);
  EXPECT_EQ(ParseStatusLine("HTTP/1.0 404 Not Found\r\n"), 404);
  EXPECT_EQ(ParseStatusLine("HTTP/1.1 204\r\n"), 204);
  EXPECT_FALSE(ParseStatusLine("HTTP/2 200\r\n"));
  EXPECT_FALSE(ParseStatusLine("SSH-2.0-OpenSSH\r\n"));
  EXPECT_FALSE(ParseStatusLine("HTTP/1.1 20x OK\r\n"));
  EXPECT_FALSE(ParseStatusLine("HTTP/1.1 2000 OK\r\n"));
}

TEST(EgressRecord, JsonHasEveryFieldAndNoPayload) {
  EgressRecord r;
  r.time_us = 5;
  r.host = "example.com";
  r.address = "93.184.216.34";
  r.port = 443;
  r.method = "CONNECT";
  r.decision = "allow";
  r.reason = "matches outbound.allow[0] 'example.com:443'";
  r.status = 200;
  r.bytes_up = 10;
  r.bytes_down = 20;
  r.duration_us = 30;
  auto j = ToJson(r);
  for (const char* k : {"time_us", "host", "address", "port", "method", "decision", "reason", "status", "bytes_up",
                        "bytes_down", "duration_us"})
    EXPECT_TRUE(j.contains(k)) << k;
  EXPECT_FALSE(j.contains("error"));
  EXPECT_EQ(j["port"], 443);
  r.error = "idle timeout (60000 ms)";
  EXPECT_EQ(ToJson(r)["error"], "idle timeout (60000 ms)");
}

}  // namespace
}  // namespace cordon::egress
