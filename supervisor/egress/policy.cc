#include "supervisor/egress/policy.h"

#include <nlohmann/json.hpp>

namespace cordon::egress {
namespace {

constexpr size_t kMaxAllowEntries = 1024;
constexpr const char* kHint = "see docs/network.md for outbound modes and the allow-entry grammar";

std::unexpected<Error> Bad(std::string why) { return Fail(EINVAL, std::move(why), kHint); }

Result<uint16_t> ParsePort(std::string_view p) {
  if (p == "*") return 0;
  if (p.empty()) return Bad("missing port after ':' (use * for any port)");
  if (p.size() > 5 || p.find_first_not_of("0123456789") != std::string_view::npos)
    return Bad("port '" + std::string(p) + "' is not a number or *");
  int v = std::stoi(std::string(p));
  if (v < 1 || v > 65535) return Bad("port " + std::to_string(v) + " is not between 1 and 65535");
  return static_cast<uint16_t>(v);
}

std::string EntryRef(const OutboundPolicy& policy, size_t i) {
  return "outbound.allow[" + std::to_string(i) + "] '" + policy.allow[i].text + "'";
}

bool NameMatches(const AllowEntry& e, std::string_view host) {
  switch (e.kind) {
    case AllowEntry::Kind::kExactName: return host == e.name;
    case AllowEntry::Kind::kWildcardName:
      return host.size() > e.name.size() + 1 && host.ends_with(e.name) &&
             host[host.size() - e.name.size() - 1] == '.';
    case AllowEntry::Kind::kAnyHost: return true;
    case AllowEntry::Kind::kAddress: return false;
  }
  return false;
}

// The first IP/range entry that covers `a` on `port`, or -1.
int CoveringEntry(const OutboundPolicy& policy, const IpAddress& a, uint16_t port) {
  for (size_t i = 0; i < policy.allow.size(); ++i) {
    const AllowEntry& e = policy.allow[i];
    if (e.kind == AllowEntry::Kind::kAddress && e.MatchesPort(port) && e.range.Contains(a)) return static_cast<int>(i);
  }
  return -1;
}

std::string HostPort(const Destination& d) {
  if (d.host.find(':') != std::string::npos) return "[" + d.host + "]:" + std::to_string(d.port);
  return d.host + ":" + std::to_string(d.port);
}

Decision Allow(std::string reason) { return Decision{true, std::move(reason)}; }
Decision Deny(std::string reason) { return Decision{false, std::move(reason)}; }

}  // namespace

const char* OutboundModeName(OutboundMode m) {
  switch (m) {
    case OutboundMode::kNone: return "none";
    case OutboundMode::kAllowlist: return "allowlist";
    case OutboundMode::kMonitored: return "monitored";
  }
  return "unknown";
}

Result<AllowEntry> ParseAllowEntry(std::string_view text) {
  AllowEntry e;
  e.text = std::string(text);
  if (text.empty()) return Bad("must not be empty");
  if (text.size() > 300) return Bad("longer than 300 characters");
  for (char c : text)
    if (c <= ' ' || c >= 0x7f) return Bad("contains a space or a non-ASCII character");
  std::string_view host, port;
  bool bracketed = false;
  if (text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos) return Bad("'[' without a matching ']'");
    host = text.substr(1, close - 1);
    std::string_view rest = text.substr(close + 1);
    if (!rest.starts_with(':')) return Bad("missing :PORT after ']' (use :* for any port)");
    port = rest.substr(1);
    bracketed = true;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return Bad("missing :PORT (use HOST:* for any port)");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos)
      return Bad("IPv6 addresses need brackets, e.g. [2001:db8::1]:443 or [fc00::/7]:*");
  }
  CORDON_ASSIGN_OR_RETURN(e.port, ParsePort(port));
  if (host.empty()) return Bad("missing host before ':'");

  if (bracketed) {
    std::string why;
    auto c = ParseCidr(host, &why);
    if (!c || host.find(':') == std::string_view::npos) {
      return Bad(c ? "brackets are for IPv6 addresses only" : why);
    }
    e.kind = AllowEntry::Kind::kAddress;
    e.range = *c;
    return e;
  }
  if (host == "*") {
    e.kind = AllowEntry::Kind::kAnyHost;
    return e;
  }
  if (host.starts_with("*.")) {
    auto suffix = NormalizeHostName(host.substr(2));
    if (!suffix || host.substr(2).find('*') != std::string_view::npos)
      return Bad("'" + std::string(host.substr(2)) + "' after '*.' is not a valid host name");
    e.kind = AllowEntry::Kind::kWildcardName;
    e.name = *suffix;
    return e;
  }
  if (host.find('*') != std::string_view::npos)
    return Bad("'*' is allowed only as the whole host or as a leading '*.' label");
  if (host.find('/') != std::string_view::npos || ParseIpLiteral(host)) {
    std::string why;
    auto c = ParseCidr(host, &why);
    if (!c) return Bad(why);
    e.kind = AllowEntry::Kind::kAddress;
    e.range = *c;
    return e;
  }
  auto name = NormalizeHostName(host);
  if (!name)
    return Bad("'" + std::string(host) +
               "' is not a valid host name, IPv4 address or range (IPv4 must be dotted-quad, e.g. 127.0.0.1)");
  e.kind = AllowEntry::Kind::kExactName;
  e.name = *name;
  return e;
}

Result<OutboundPolicy> ParseOutbound(const nlohmann::json& j, const std::string& path) {
  OutboundPolicy p;
  try {
    if (!j.is_object()) return Bad(path + ": expected an object, got " + std::string(j.type_name()));
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key() != "mode" && it.key() != "allow")
        return Bad(path + "." + it.key() + ": unknown field (known fields: mode, allow)");
    }
    if (j.contains("mode")) {
      const auto& m = j["mode"];
      if (!m.is_string()) return Bad(path + ".mode: expected a string, got " + std::string(m.type_name()));
      std::string s = m.get<std::string>();
      if (s == "none") p.mode = OutboundMode::kNone;
      else if (s == "allowlist") p.mode = OutboundMode::kAllowlist;
      else if (s == "monitored") p.mode = OutboundMode::kMonitored;
      else return Bad(path + ".mode: '" + s + "' is not one of none, allowlist, monitored");
    }
    if (j.contains("allow")) {
      const auto& a = j["allow"];
      if (!a.is_array()) return Bad(path + ".allow: expected an array of strings, got " + std::string(a.type_name()));
      if (a.size() > kMaxAllowEntries)
        return Bad(path + ".allow: more than " + std::to_string(kMaxAllowEntries) + " entries");
      for (size_t i = 0; i < a.size(); ++i) {
        std::string where = path + ".allow[" + std::to_string(i) + "]";
        if (!a[i].is_string()) return Bad(where + ": expected a string, got " + std::string(a[i].type_name()));
        std::string text = a[i].get<std::string>();
        auto e = ParseAllowEntry(text);
        if (!e) return Bad(where + ": '" + text + "': " + e.error().context);
        p.allow.push_back(std::move(*e));
      }
    }
    if (p.mode == OutboundMode::kNone && !p.allow.empty())
      return Bad(path + ".allow: entries given but " + path + ".mode is none (set mode to allowlist or monitored)");
  } catch (const nlohmann::json::exception& e) {
    return Bad(path + ": " + e.what());
  }
  return p;
}

Decision CheckDestination(const OutboundPolicy& policy, const Destination& dest) {
  if (policy.mode == OutboundMode::kNone) return Deny("outbound.mode is none: the task has no network access");
  if (auto lit = ParseIpLiteral(dest.host)) {
    if (int i = CoveringEntry(policy, *lit, dest.port); i >= 0) return Allow("address in " + EntryRef(policy, i));
    if (Classify(*lit) != AddressClass::kPublic)
      return Deny("destination " + FormatIp(*lit) + " is " + DescribeClass(*lit) + " and not in outbound.allow");
    if (policy.mode == OutboundMode::kMonitored) return Allow("public destination (monitored)");
    for (size_t i = 0; i < policy.allow.size(); ++i) {
      const AllowEntry& e = policy.allow[i];
      if (e.kind == AllowEntry::Kind::kAnyHost && e.MatchesPort(dest.port)) return Allow("matches " + EntryRef(policy, i));
    }
    return Deny("destination " + HostPort(dest) + " is not in outbound.allow");
  }
  if (policy.mode == OutboundMode::kMonitored) return Allow("public destination (monitored)");
  for (size_t i = 0; i < policy.allow.size(); ++i) {
    const AllowEntry& e = policy.allow[i];
    if (e.MatchesPort(dest.port) && NameMatches(e, dest.host)) return Allow("matches " + EntryRef(policy, i));
  }
  return Deny("destination " + HostPort(dest) + " is not in outbound.allow");
}

Decision CheckAddresses(const OutboundPolicy& policy, const Destination& dest,
                        const std::vector<IpAddress>& addresses) {
  if (policy.mode == OutboundMode::kNone) return Deny("outbound.mode is none: the task has no network access");
  if (addresses.empty()) return Deny("destination " + dest.host + " resolved to no address");
  const bool literal = ParseIpLiteral(dest.host).has_value();
  for (const IpAddress& a : addresses) {
    if (CoveringEntry(policy, a, dest.port) >= 0) continue;
    if (Classify(a) == AddressClass::kPublic) continue;
    if (literal)
      return Deny("destination " + FormatIp(a) + " is " + DescribeClass(a) + " and not in outbound.allow");
    return Deny("destination " + dest.host + " resolves to " + FormatIp(a) + ", which is " + DescribeClass(a) +
                " and not in outbound.allow");
  }
  return Allow("every resolved address is public or in outbound.allow");
}

Decision Decide(const OutboundPolicy& policy, const Destination& dest, const std::vector<IpAddress>& addresses) {
  Decision d = CheckDestination(policy, dest);
  if (!d.allow) return d;
  Decision a = CheckAddresses(policy, dest, addresses);
  if (!a.allow) return a;
  return d;
}

}  // namespace cordon::egress
