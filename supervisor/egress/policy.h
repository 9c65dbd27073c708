// supervisor/egress/policy.h: the `outbound` policy section and the allow/refuse decision of the
// egress proxy (docs/network.md). Pure: names are resolved by the caller, never in here.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "common/result.h"
#include "supervisor/egress/address.h"

namespace cordon::egress {

enum class OutboundMode {
  kNone,       // default: no proxy, the task's network namespace has only lo
  kAllowlist,  // only destinations named in `allow`
  kMonitored,  // every public destination, each one recorded
};
const char* OutboundModeName(OutboundMode m);

// One `outbound.allow` entry: HOST:PORT.
//   HOST  api.example.com     exact DNS name (case-insensitive)
//         *.example.com       any name strictly below example.com (not example.com itself)
//         *                   any name or public address
//         203.0.113.7         one IPv4 address
//         10.0.0.0/8          an IPv4 range
//         [2001:db8::1]       one IPv6 address (brackets required)
//         [fc00::/7]          an IPv6 range
//   PORT  1..65535, or * for any port
// Only IP and range entries unlock non-public addresses (loopback, private, link-local, ...).
struct AllowEntry {
  enum class Kind { kExactName, kWildcardName, kAnyHost, kAddress };
  Kind kind = Kind::kExactName;
  std::string name;  // kExactName: the name; kWildcardName: the suffix without "*." ("example.com")
  Cidr range;        // kAddress
  uint16_t port = 0; // 0 = any port
  std::string text;  // the entry as written, for reasons

  bool MatchesPort(uint16_t p) const { return port == 0 || port == p; }
};

struct OutboundPolicy {
  OutboundMode mode = OutboundMode::kNone;
  std::vector<AllowEntry> allow;
};

// Parses one entry. The error says what is wrong with it, without the JSON path.
Result<AllowEntry> ParseAllowEntry(std::string_view text);

// Parses the `outbound` object: {"mode": "none"|"allowlist"|"monitored", "allow": [...]}.
// `path` is the JSON path of the object ("outbound") and prefixes every error:
// "outbound.allow[2]: '10.0.0.1/8:5432': '10.0.0.1/8' has address bits set beyond the /8 prefix ...".
// Never throws: nlohmann exceptions are caught here.
Result<OutboundPolicy> ParseOutbound(const nlohmann::json& j, const std::string& path);

// A destination as the task asked for it. `host` is a normalised name (NormalizeHostName) or an
// IP literal without brackets.
struct Destination {
  std::string host;
  uint16_t port = 0;
};

struct Decision {
  bool allow = false;
  std::string reason;  // why, naming the entry or the address class; safe for a header value
};

// Step 1, before any resolution: may this name or literal be asked for at all? In allowlist mode
// a name that no name entry matches is refused here, so the proxy never resolves it (DNS queries
// are a channel too).
Decision CheckDestination(const OutboundPolicy& policy, const Destination& dest);

// Step 2, after resolution: every address the name resolved to (or the literal itself) must be
// public, or covered by an IP/range entry for this port. The proxy connects only to addresses
// checked here and never resolves again (DNS rebinding).
Decision CheckAddresses(const OutboundPolicy& policy, const Destination& dest,
                        const std::vector<IpAddress>& addresses);

// Both steps, for callers that already have the addresses.
Decision Decide(const OutboundPolicy& policy, const Destination& dest, const std::vector<IpAddress>& addresses);

}  // namespace cordon::egress
