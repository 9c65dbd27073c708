#include "supervisor/egress/http.h"

#include "supervisor/egress/address.h"

namespace cordon::egress {
namespace {

constexpr size_t kMaxMethod = 32;
constexpr size_t kMaxTarget = 8192;

std::unexpected<Error> Malformed(std::string what) { return FailMsg(std::move(what)); }

// RFC 9110 tchar.
bool IsTokenChar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("!#$%&'*+-.^_`|~").find(c) != std::string_view::npos;
}
bool IsToken(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (!IsTokenChar(c)) return false;
  return true;
}

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }
std::string LowerCopy(std::string_view s) {
  std::string r(s);
  for (char& c : r) c = Lower(c);
  return r;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

Result<uint16_t> ParsePortText(std::string_view p) {
  if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string_view::npos)
    return Malformed("invalid port");
  int v = std::stoi(std::string(p));
  if (v < 1 || v > 65535) return Malformed("port out of range");
  return static_cast<uint16_t>(v);
}

// "host", "host:port", "[v6]", "[v6]:port". default_port 0 = the port is required.
Result<ProxyTarget> ParseHostPort(std::string_view s, uint16_t default_port) {
  ProxyTarget t;
  std::string_view host, port;
  bool has_port = false;
  if (s.starts_with('[')) {
    size_t close = s.find(']');
    if (close == std::string_view::npos) return Malformed("unterminated IPv6 literal");
    host = s.substr(1, close - 1);
    std::string_view rest = s.substr(close + 1);
    if (!rest.empty()) {
      if (!rest.starts_with(':')) return Malformed("garbage after IPv6 literal");
      port = rest.substr(1);
      has_port = true;
    }
    auto lit = ParseIpLiteral(host);
    if (!lit || host.find(':') == std::string_view::npos) return Malformed("invalid IPv6 literal");
    t.host = FormatIp(*lit);
  } else {
    size_t colon = s.rfind(':');
    if (colon != std::string_view::npos) {
      host = s.substr(0, colon);
      port = s.substr(colon + 1);
      has_port = true;
    } else {
      host = s;
    }
    if (host.find(':') != std::string_view::npos) return Malformed("IPv6 literal without brackets");
    if (auto lit = ParseIpLiteral(host)) {
      t.host = FormatIp(*lit);
    } else {
      auto name = NormalizeHostName(host);
      if (!name) return Malformed("invalid host name");
      t.host = *name;
    }
  }
  if (has_port && !port.empty()) {
    CORDON_ASSIGN_OR_RETURN(t.port, ParsePortText(port));
  } else if (default_port != 0) {
    t.port = default_port;
  } else {
    return Malformed("port required");
  }
  return t;
}

// Transfer-Encoding is hop-by-hop too, but the body is streamed unchanged, so its framing header
// must travel with it.
bool IsHopByHop(std::string_view lname) {
  for (const char* h : {"connection", "keep-alive", "te", "trailer", "upgrade", "host"})
    if (lname == h) return true;
  return lname.starts_with("proxy-");
}

}  // namespace

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i)
    if (Lower(a[i]) != Lower(b[i])) return false;
  return true;
}

const std::string* RequestHead::Find(std::string_view name) const {
  for (const auto& [k, v] : headers)
    if (EqualsIgnoreCase(k, name)) return &v;
  return nullptr;
}

std::optional<size_t> FindHeadEnd(std::string_view buf) {
  // Leading blank lines before the request line are allowed (RFC 9112 2.2) and skipped.
  size_t start = 0;
  while (true) {
    if (buf.substr(start).starts_with("\r\n")) start += 2;
    else if (buf.substr(start).starts_with("\n")) start += 1;
    else break;
  }
  for (size_t i = start; i < buf.size(); ++i) {
    if (buf[i] != '\n') continue;
    if (i + 1 < buf.size() && buf[i + 1] == '\n') return i + 2;
    if (i + 2 < buf.size() && buf[i + 1] == '\r' && buf[i + 2] == '\n') return i + 3;
  }
  return std::nullopt;
}

Result<RequestHead> ParseRequestHead(std::string_view head) {
  RequestHead r;
  std::vector<std::string_view> lines;
  size_t pos = 0;
  while (pos < head.size()) {
    size_t nl = head.find('\n', pos);
    std::string_view line = head.substr(pos, nl == std::string_view::npos ? std::string_view::npos : nl - pos);
    pos = nl == std::string_view::npos ? head.size() : nl + 1;
    if (line.ends_with('\r')) line.remove_suffix(1);
    if (line.find('\r') != std::string_view::npos) return Malformed("bare CR in request head");
    if (line.find('\0') != std::string_view::npos) return Malformed("NUL in request head");
    if (line.empty()) {
      if (lines.empty()) continue;  // leading blank lines
      break;                        // end of head
    }
    lines.push_back(line);
  }
  if (lines.empty()) return Malformed("empty request");

  // request-line = method SP request-target SP HTTP-version
  std::string_view rl = lines[0];
  size_t sp1 = rl.find(' ');
  size_t sp2 = sp1 == std::string_view::npos ? sp1 : rl.find(' ', sp1 + 1);
  if (sp1 == std::string_view::npos || sp2 == std::string_view::npos || rl.find(' ', sp2 + 1) != std::string_view::npos)
    return Malformed("malformed request line");
  std::string_view method = rl.substr(0, sp1), target = rl.substr(sp1 + 1, sp2 - sp1 - 1),
                   version = rl.substr(sp2 + 1);
  if (!IsToken(method) || method.size() > kMaxMethod) return Malformed("invalid method");
  if (target.empty() || target.size() > kMaxTarget) return Malformed("invalid request target");
  for (char c : target)
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return Malformed("invalid character in request target");
  if (version == "HTTP/1.1") r.minor_version = 1;
  else if (version == "HTTP/1.0") r.minor_version = 0;
  else return Malformed("unsupported HTTP version");
  r.method = std::string(method);
  r.target = std::string(target);

  for (size_t i = 1; i < lines.size(); ++i) {
    std::string_view l = lines[i];
    if (l.front() == ' ' || l.front() == '\t') return Malformed("obsolete line folding");
    size_t colon = l.find(':');
    if (colon == std::string_view::npos) return Malformed("header line without ':'");
    std::string_view name = l.substr(0, colon);
    if (!IsToken(name)) return Malformed("invalid header name");
    std::string_view value = Trim(l.substr(colon + 1));
    for (char c : value) {
      unsigned char u = static_cast<unsigned char>(c);
      if ((u < ' ' && c != '\t') || u == 0x7f) return Malformed("control character in header value");
    }
    if (r.headers.size() >= kMaxHeaderCount) return Malformed("too many header fields");
    r.headers.emplace_back(std::string(name), std::string(value));
  }
  return r;
}

Result<ProxyTarget> ParseAbsoluteUrl(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) return Malformed("request target is not an absolute http:// URL");
  std::string scheme = LowerCopy(url.substr(0, sep));
  if (scheme == "https") return Malformed("https:// URLs go through CONNECT, not a plain proxy request");
  if (scheme != "http") return Malformed("unsupported URL scheme");
  std::string_view rest = url.substr(sep + 3);
  size_t auth_end = rest.find_first_of("/?#");
  std::string_view authority = rest.substr(0, auth_end);
  std::string_view path = auth_end == std::string_view::npos ? std::string_view() : rest.substr(auth_end);
  if (size_t at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);
  if (authority.empty()) return Malformed("URL without a host");
  CORDON_ASSIGN_OR_RETURN(ProxyTarget t, ParseHostPort(authority, 80));
  if (size_t hash = path.find('#'); hash != std::string_view::npos) path = path.substr(0, hash);
  t.path = path.starts_with('/') ? std::string(path) : "/" + std::string(path);
  return t;
}

Result<ProxyTarget> ParseAuthority(std::string_view authority) {
  if (authority.find_first_of("@/?#") != std::string_view::npos) return Malformed("CONNECT target must be host:port");
  return ParseHostPort(authority, 0);
}

std::string StripUserinfo(std::string_view authority) {
  size_t at = authority.rfind('@');
  return std::string(at == std::string_view::npos ? authority : authority.substr(at + 1));
}

Result<BodyFraming> RequestFraming(const RequestHead& head) {
  BodyFraming f;
  bool have_te = false, have_cl = false;
  std::string cl;
  for (const auto& [k, v] : head.headers) {
    if (EqualsIgnoreCase(k, "transfer-encoding")) {
      if (have_te) return Malformed("repeated Transfer-Encoding");
      have_te = true;
      if (!EqualsIgnoreCase(v, "chunked")) return Malformed("unsupported Transfer-Encoding");
      f.chunked = true;
    } else if (EqualsIgnoreCase(k, "content-length")) {
      if (v.empty() || v.size() > 18 || v.find_first_not_of("0123456789") != std::string::npos)
        return Malformed("invalid Content-Length");
      if (have_cl && v != cl) return Malformed("conflicting Content-Length");
      have_cl = true;
      cl = v;
    }
  }
  if (have_te && have_cl) return Malformed("both Content-Length and Transfer-Encoding");
  if (have_te && head.minor_version == 0) return Malformed("Transfer-Encoding in an HTTP/1.0 request");
  if (have_cl) f.length = std::stoull(cl);
  return f;
}

std::string BuildOriginRequest(const RequestHead& head, const ProxyTarget& target, uint16_t default_port) {
  // Headers named by Connection are hop-by-hop too (RFC 9110 7.6.1).
  std::vector<std::string> named;
  for (const auto& [k, v] : head.headers) {
    if (!EqualsIgnoreCase(k, "connection") && !EqualsIgnoreCase(k, "proxy-connection")) continue;
    size_t p = 0;
    while (p <= v.size()) {
      size_t comma = v.find(',', p);
      std::string_view tok = Trim(std::string_view(v).substr(p, comma == std::string::npos ? std::string::npos : comma - p));
      if (!tok.empty()) named.push_back(LowerCopy(tok));
      if (comma == std::string::npos) break;
      p = comma + 1;
    }
  }
  std::string out;
  out.reserve(256);
  out += head.method;
  out += ' ';
  out += target.path.empty() ? "/" : target.path;
  out += " HTTP/1.1\r\nHost: ";
  out += target.host.find(':') != std::string::npos ? "[" + target.host + "]" : target.host;
  if (target.port != default_port) out += ":" + std::to_string(target.port);
  out += "\r\n";
  for (const auto& [k, v] : head.headers) {
    std::string lk = LowerCopy(k);
    if (IsHopByHop(lk)) continue;
    bool drop = false;
    for (const auto& n : named) drop = drop || (n == lk && n != "transfer-encoding" && n != "content-length");
    if (drop) continue;
    out += k;
    out += ": ";
    out += v;
    out += "\r\n";
  }
  out += "Connection: close\r\n\r\n";
  return out;
}

const char* StatusText(int status) {
  switch (status) {
    case 200: return "OK";
    case 400: return "Bad Request";
    case 403: return "Forbidden";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 431: return "Request Header Fields Too Large";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
  }
  return "Error";
}

std::string ProxyResponse(int status, std::string_view reason) {
  std::string r(reason.substr(0, 400));
  for (char& c : r)
    if (static_cast<unsigned char>(c) < ' ' || static_cast<unsigned char>(c) >= 0x7f) c = '?';
  std::string body = "cordon egress proxy: " + std::to_string(status) + " " + StatusText(status) + ": " + r + "\n";
  std::string out = "HTTP/1.1 " + std::to_string(status) + " " + StatusText(status) + "\r\n";
  out += "X-Cordon-Reason: " + r + "\r\n";
  out += "Content-Type: text/plain; charset=utf-8\r\n";
  out += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  out += "Connection: close\r\n\r\n";
  out += body;
  return out;
}

std::optional<int> ParseStatusLine(std::string_view line) {
  if (!line.starts_with("HTTP/1.") || line.size() < 12 || line[8] != ' ') return std::nullopt;
  int v = 0;
  for (size_t i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return std::nullopt;
    v = v * 10 + (line[i] - '0');
  }
  if (line.size() > 12 && line[12] != ' ' && line[12] != '\r' && line[12] != '\n') return std::nullopt;
  if (v < 100) return std::nullopt;
  return v;
}

}  // namespace cordon::egress
