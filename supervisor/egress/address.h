// supervisor/egress/address.h: IP addresses, CIDR ranges, host names and the address classes the
// egress proxy refuses by default (docs/network.md). Pure: no sockets, no resolver.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace cordon::egress {

// One IPv4 or IPv6 address. IPv4-mapped IPv6 addresses (::ffff:a.b.c.d) are stored as IPv4, so a
// policy entry or a classification never sees two spellings of one destination.
struct IpAddress {
  int family = AF_INET;                 // AF_INET or AF_INET6
  std::array<uint8_t, 16> bytes{};      // network order; IPv4 uses bytes[0..3]

  size_t Size() const { return family == AF_INET ? 4 : 16; }
  bool operator==(const IpAddress&) const = default;
};

// Strict literal parsing (inet_pton): "10.0.0.1", "::1", "fe80::1". No brackets, no zone ids,
// none of the legacy inet_aton forms ("127.1", "0x7f.0.0.1", "2130706433").
std::optional<IpAddress> ParseIpLiteral(std::string_view text);
// "10.0.0.1", "2001:db8::1" (RFC 5952 form, no brackets).
std::string FormatIp(const IpAddress& a);
// "10.0.0.1:80", "[2001:db8::1]:443".
std::string FormatEndpoint(const IpAddress& a, uint16_t port);

// sockaddr for connect(); returns the length to pass.
socklen_t ToSockaddr(const IpAddress& a, uint16_t port, sockaddr_storage* out);
std::optional<IpAddress> FromSockaddr(const sockaddr* sa, socklen_t len);

// An address range: "10.0.0.0/8", "fc00::/7"; a single address is a /32 or /128.
struct Cidr {
  IpAddress base;  // host bits are zero
  int prefix = 0;

  bool Contains(const IpAddress& a) const;
  bool operator==(const Cidr&) const = default;
};
// "10.0.0.0/8", "10.1.2.3" (a /32), "fc00::/7". Fails on host bits set below the prefix
// ("10.0.0.1/8"): such an entry is almost always a typo for something else.
std::optional<Cidr> ParseCidr(std::string_view text, std::string* why);
std::string FormatCidr(const Cidr& c);

// Address classes. Everything but kPublic is refused unless an IP/CIDR allow entry covers it.
enum class AddressClass {
  kPublic,
  kUnspecified,  // 0.0.0.0/8, ::
  kLoopback,     // 127.0.0.0/8, ::1
  kPrivate,      // 10/8, 172.16/12, 192.168/16, 100.64/10 (CGNAT), fc00::/7, fec0::/10
  kLinkLocal,    // 169.254/16 (cloud metadata at 169.254.169.254), fe80::/10
  kMulticast,    // 224/4, ff00::/8
  kBroadcast,    // 255.255.255.255
  kReserved,     // 240/4, documentation and benchmark ranges, 192.0.0/24, IPv4-compatible ::/96
};
// IPv6 forms that embed an IPv4 address (NAT64 64:ff9b::/96, 6to4 2002::/16) are classified by
// the embedded address, so [64:ff9b::a9fe:a9fe] is link-local like 169.254.169.254.
AddressClass Classify(const IpAddress& a);
// "loopback", "private", "link-local (cloud metadata)", ... used in refusal reasons.
std::string DescribeClass(const IpAddress& a);
const char* AddressClassName(AddressClass c);

// Lower-cases and validates a DNS name: 1..253 characters, labels of 1..63 [a-z0-9_-] not
// starting or ending with '-', one trailing '.' dropped. The last label may not be all digits, so
// "2130706433" or "127.1" never reach getaddrinfo's numeric parser as a "name".
std::optional<std::string> NormalizeHostName(std::string_view name);

}  // namespace cordon::egress
