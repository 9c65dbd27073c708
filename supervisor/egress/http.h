// supervisor/egress/http.h: the HTTP/1.x pieces of the egress proxy: request-head parsing,
// proxy targets, the origin-form rewrite and the proxy's own responses. Pure and strict: anything
// ambiguous (obs-fold, bare CR, conflicting lengths) is a 400, since the proxy and the origin
// must never read one request two ways.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace cordon::egress {

inline constexpr size_t kMaxHeaderCount = 128;

struct RequestHead {
  std::string method;  // a token: "GET", "CONNECT", ...
  std::string target;  // as sent: "http://host/path" or "host:443"
  int minor_version = 1;  // HTTP/1.0 or HTTP/1.1
  std::vector<std::pair<std::string, std::string>> headers;  // names as sent, values trimmed

  // First value of a header, by case-insensitive name.
  const std::string* Find(std::string_view name) const;
};

// Offset just past the blank line ending the head ("\r\n\r\n", or "\n\n" from lenient clients),
// or nullopt if `buf` does not hold a whole head yet.
std::optional<size_t> FindHeadEnd(std::string_view buf);

// Parses a request head (request line and header lines, with or without the final blank line).
// Errors are short phrases for a 400 reason ("malformed request line", "obsolete line folding").
// They never quote the input, so a credential in a malformed line cannot reach a log.
Result<RequestHead> ParseRequestHead(std::string_view head);

// Where a proxy request goes. `host` is a normalised name or a bare IP literal (no brackets).
struct ProxyTarget {
  std::string host;
  uint16_t port = 0;
  std::string path;  // origin-form: "/", "/a?b" (empty for CONNECT)
};

// Absolute-form "http://[user[:pass]@]host[:port][/path][?query]". The userinfo is dropped (never
// forwarded, never recorded); the fragment too. https:// is refused: clients use CONNECT for TLS.
Result<ProxyTarget> ParseAbsoluteUrl(std::string_view url);
// Authority-form of CONNECT: "host:port" or "[v6]:port"; the port is required.
Result<ProxyTarget> ParseAuthority(std::string_view authority);
// "host[:port]" → "host" with any "user:pass@" removed; for tests and log lines.
std::string StripUserinfo(std::string_view authority);

// Body framing of a forwarded request.
struct BodyFraming {
  bool chunked = false;      // Transfer-Encoding: chunked: streamed until the client stops
  uint64_t length = 0;       // Content-Length, when not chunked (0 = no body)
};
// Refuses Content-Length together with Transfer-Encoding, differing Content-Length values and any
// transfer coding other than a final "chunked" (request smuggling).
Result<BodyFraming> RequestFraming(const RequestHead& head);

// The request the origin sees: "METHOD path HTTP/1.1", the client's end-to-end headers, Host set
// from the target, and "Connection: close". Dropped: Proxy-* (Proxy-Authorization never leaves),
// Connection and the headers it names, Keep-Alive, TE, Trailer, Upgrade, Host (replaced).
// `default_port`: the scheme's (80, or 443 inside intercepted TLS), left out of Host.
std::string BuildOriginRequest(const RequestHead& head, const ProxyTarget& target, uint16_t default_port = 80);

// A response of the proxy itself ("HTTP/1.1 403 Forbidden" ...), with X-Cordon-Reason, a short
// text body and "Connection: close". `reason` is sanitised to printable ASCII.
std::string ProxyResponse(int status, std::string_view reason);
const char* StatusText(int status);

// Status code of a response's first line ("HTTP/1.1 200 OK"), or nullopt.
std::optional<int> ParseStatusLine(std::string_view line);

// Case-insensitive ASCII equality.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

}  // namespace cordon::egress
