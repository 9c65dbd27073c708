#include "supervisor/egress/address.h"

#include <arpa/inet.h>

#include <cstring>

namespace cordon::egress {
namespace {

constexpr std::array<uint8_t, 12> kV4MappedPrefix = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

IpAddress V4(uint8_t a, uint8_t b, uint8_t c, uint8_t d) {
  IpAddress r;
  r.family = AF_INET;
  r.bytes[0] = a, r.bytes[1] = b, r.bytes[2] = c, r.bytes[3] = d;
  return r;
}

// ::ffff:a.b.c.d becomes a.b.c.d.
IpAddress Canonical(IpAddress a) {
  if (a.family == AF_INET6 && std::memcmp(a.bytes.data(), kV4MappedPrefix.data(), 12) == 0) {
    IpAddress v4 = V4(a.bytes[12], a.bytes[13], a.bytes[14], a.bytes[15]);
    return v4;
  }
  return a;
}

bool InRange(const IpAddress& a, const char* cidr) {
  std::string why;
  auto c = ParseCidr(cidr, &why);
  return c && c->Contains(a);
}

AddressClass ClassifyV4(const IpAddress& a) {
  const uint8_t b0 = a.bytes[0], b1 = a.bytes[1];
  if (b0 == 0) return AddressClass::kUnspecified;
  if (b0 == 127) return AddressClass::kLoopback;
  if (b0 == 10 || (b0 == 172 && (b1 & 0xf0) == 16) || (b0 == 192 && b1 == 168) ||
      (b0 == 100 && (b1 & 0xc0) == 64))
    return AddressClass::kPrivate;
  if (b0 == 169 && b1 == 254) return AddressClass::kLinkLocal;
  if (a == V4(255, 255, 255, 255)) return AddressClass::kBroadcast;
  if ((b0 & 0xf0) == 224) return AddressClass::kMulticast;
  if ((b0 & 0xf0) == 240) return AddressClass::kReserved;
  // IETF protocol assignments, TEST-NET-1/2/3, benchmarking (RFC 6890).
  for (const char* r : {"192.0.0.0/24", "192.0.2.0/24", "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24"})
    if (InRange(a, r)) return AddressClass::kReserved;
  return AddressClass::kPublic;
}

}  // namespace

std::optional<IpAddress> ParseIpLiteral(std::string_view text) {
  if (text.empty() || text.size() > INET6_ADDRSTRLEN) return std::nullopt;
  std::string s(text);
  IpAddress a;
  if (s.find(':') == std::string::npos) {
    a.family = AF_INET;
    if (::inet_pton(AF_INET, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
    return a;
  }
  a.family = AF_INET6;
  if (::inet_pton(AF_INET6, s.c_str(), a.bytes.data()) != 1) return std::nullopt;
  return Canonical(a);
}

std::string FormatIp(const IpAddress& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  ::inet_ntop(a.family, a.bytes.data(), buf, sizeof buf);
  return buf;
}

std::string FormatEndpoint(const IpAddress& a, uint16_t port) {
  if (a.family == AF_INET6) return "[" + FormatIp(a) + "]:" + std::to_string(port);
  return FormatIp(a) + ":" + std::to_string(port);
}

socklen_t ToSockaddr(const IpAddress& a, uint16_t port, sockaddr_storage* out) {
  std::memset(out, 0, sizeof *out);
  if (a.family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(out);
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    std::memcpy(&sin->sin_addr, a.bytes.data(), 4);
    return sizeof(sockaddr_in);
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(out);
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  std::memcpy(&sin6->sin6_addr, a.bytes.data(), 16);
  return sizeof(sockaddr_in6);
}

std::optional<IpAddress> FromSockaddr(const sockaddr* sa, socklen_t len) {
  IpAddress a;
  if (sa->sa_family == AF_INET && len >= static_cast<socklen_t>(sizeof(sockaddr_in))) {
    a.family = AF_INET;
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr, 4);
    return a;
  }
  if (sa->sa_family == AF_INET6 && len >= static_cast<socklen_t>(sizeof(sockaddr_in6))) {
    a.family = AF_INET6;
    std::memcpy(a.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr, 16);
    return Canonical(a);
  }
  return std::nullopt;
}

bool Cidr::Contains(const IpAddress& a) const {
  if (a.family != base.family) return false;
  int full = prefix / 8, rest = prefix % 8;
  if (std::memcmp(a.bytes.data(), base.bytes.data(), full) != 0) return false;
  if (rest == 0) return true;
  uint8_t mask = static_cast<uint8_t>(0xff << (8 - rest));
  return (a.bytes[full] & mask) == (base.bytes[full] & mask);
}

std::optional<Cidr> ParseCidr(std::string_view text, std::string* why) {
  size_t slash = text.find('/');
  auto addr = ParseIpLiteral(text.substr(0, slash));
  if (!addr) {
    *why = "'" + std::string(text.substr(0, slash)) + "' is not an IP address";
    return std::nullopt;
  }
  Cidr c;
  c.base = *addr;
  const int max = static_cast<int>(addr->Size() * 8);
  c.prefix = max;
  if (slash != std::string_view::npos) {
    std::string_view p = text.substr(slash + 1);
    if (p.empty() || p.size() > 3 || p.find_first_not_of("0123456789") != std::string_view::npos) {
      *why = "prefix length '" + std::string(p) + "' is not a number";
      return std::nullopt;
    }
    c.prefix = std::stoi(std::string(p));
    // An IPv4-mapped base (::ffff:10.0.0.0/104) was canonicalised to IPv4: shift its prefix too.
    if (addr->family == AF_INET && text.substr(0, slash).find(':') != std::string_view::npos) c.prefix -= 96;
    if (c.prefix < 0 || c.prefix > max) {
      *why = "prefix length must be between 0 and " + std::to_string(max);
      return std::nullopt;
    }
  }
  IpAddress network = c.base;
  for (int bit = c.prefix; bit < max; ++bit) network.bytes[bit / 8] &= static_cast<uint8_t>(~(0x80 >> (bit % 8)));
  if (network != c.base) {
    *why = "'" + std::string(text) + "' has address bits set beyond the /" + std::to_string(c.prefix) +
           " prefix (did you mean " + FormatIp(network) + "/" + std::to_string(c.prefix) + " or " + FormatIp(c.base) +
           "?)";
    return std::nullopt;
  }
  return c;
}

std::string FormatCidr(const Cidr& c) {
  std::string s = FormatIp(c.base);
  if (c.prefix != static_cast<int>(c.base.Size() * 8)) s += "/" + std::to_string(c.prefix);
  return s;
}

AddressClass Classify(const IpAddress& in) {
  IpAddress a = Canonical(in);
  if (a.family == AF_INET) return ClassifyV4(a);
  const auto& b = a.bytes;
  static const IpAddress kAny{AF_INET6, {}};
  IpAddress loop6{AF_INET6, {}};
  loop6.bytes[15] = 1;
  if (a == kAny) return AddressClass::kUnspecified;
  if (a == loop6) return AddressClass::kLoopback;
  // NAT64 well-known prefix 64:ff9b::/96 and 6to4 2002::/16 carry an IPv4 address.
  if (InRange(a, "64:ff9b::/96")) return ClassifyV4(V4(b[12], b[13], b[14], b[15]));
  if (b[0] == 0x20 && b[1] == 0x02) return ClassifyV4(V4(b[2], b[3], b[4], b[5]));
  if (b[0] == 0xff) return AddressClass::kMulticast;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0x80) return AddressClass::kLinkLocal;
  if (b[0] == 0xfe && (b[1] & 0xc0) == 0xc0) return AddressClass::kPrivate;  // site-local (deprecated)
  if ((b[0] & 0xfe) == 0xfc) return AddressClass::kPrivate;                  // unique local
  // IPv4-compatible ::/96 (deprecated), the discard prefix 100::/64 and documentation 2001:db8::/32.
  if (InRange(a, "::/96") || InRange(a, "100::/64") || InRange(a, "2001:db8::/32"))
    return AddressClass::kReserved;
  return AddressClass::kPublic;
}

const char* AddressClassName(AddressClass c) {
  switch (c) {
    case AddressClass::kPublic: return "public";
    case AddressClass::kUnspecified: return "unspecified";
    case AddressClass::kLoopback: return "loopback";
    case AddressClass::kPrivate: return "private";
    case AddressClass::kLinkLocal: return "link-local";
    case AddressClass::kMulticast: return "multicast";
    case AddressClass::kBroadcast: return "broadcast";
    case AddressClass::kReserved: return "reserved";
  }
  return "unknown";
}

std::string DescribeClass(const IpAddress& a) {
  AddressClass c = Classify(a);
  std::string s = AddressClassName(c);
  if (c == AddressClass::kLinkLocal) {
    IpAddress metadata = V4(169, 254, 169, 254);
    if (Canonical(a) == metadata || (a.family == AF_INET6 && InRange(a, "64:ff9b::a9fe:a9fe/128")))
      s += " (cloud metadata)";
  }
  return s;
}

std::optional<std::string> NormalizeHostName(std::string_view name) {
  if (name.ends_with('.')) name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return std::nullopt;
  std::string out;
  out.reserve(name.size());
  size_t label_start = 0;
  for (size_t i = 0; i <= name.size(); ++i) {
    if (i == name.size() || name[i] == '.') {
      std::string_view label = name.substr(label_start, i - label_start);
      if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return std::nullopt;
      if (i == name.size() && label.find_first_not_of("0123456789") == std::string_view::npos) return std::nullopt;
      label_start = i + 1;
      if (i < name.size()) out += '.';
      continue;
    }
    char c = name[i];
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_')) return std::nullopt;
    out += c;
  }
  return out;
}

}  // namespace cordon::egress
