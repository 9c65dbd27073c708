#include "supervisor/egress/transparent_plan.h"

#include <cctype>
#include <map>
#include <set>
#include <utility>

namespace cordon::egress {
namespace {

// Names the sandbox's own /etc/hosts already gives its loopback: they stay the sandbox's.
bool SandboxOwnName(const std::string& name) {
  return name == "localhost" || name.ends_with(".localhost") || name == "ip6-localhost" || name == "ip6-loopback";
}

}  // namespace

std::string FormatIpv4(uint32_t a) {
  return std::to_string(a >> 24) + "." + std::to_string((a >> 16) & 255) + "." + std::to_string((a >> 8) & 255) + "." +
         std::to_string(a & 255);
}

TransparentPlan PlanTransparent(const OutboundPolicy& policy, uint16_t proxy_port) {
  TransparentPlan plan;
  if (policy.mode == OutboundMode::kNone) return plan;
  std::map<std::string, uint32_t> name_addr;      // one address per name, whatever its ports
  std::set<std::pair<uint32_t, uint16_t>> taken;  // (address, port) already listened on
  taken.insert({0x7f000001, proxy_port});
  auto skip = [&](const AllowEntry& e, const std::string& why) {
    plan.proxy_only.push_back("'" + e.text + "': " + why);
  };
  for (const AllowEntry& e : policy.allow) {
    if (plan.doors.size() >= kMaxTransparentDoors) {
      skip(e, "more than " + std::to_string(kMaxTransparentDoors) + " transparent destinations");
      continue;
    }
    if (e.port == 0) {
      skip(e, "any port (*): a listener needs one port");
      continue;
    }
    TransparentDoor door;
    door.port = e.port;
    if (e.kind == AllowEntry::Kind::kExactName) {
      if (SandboxOwnName(e.name)) {
        skip(e, e.name + " is the sandbox's own loopback");
        continue;
      }
      auto [it, fresh] = name_addr.try_emplace(e.name, 0);
      if (fresh) {
        if (name_addr.size() >= 0xfffe) {
          skip(e, "too many names");
          continue;
        }
        it->second = kTransparentNet + static_cast<uint32_t>(name_addr.size());
        plan.hosts += FormatIpv4(it->second) + "\t" + e.name + "\n";
        std::string lower = e.name;
        for (char& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
        plan.names.emplace(std::move(lower), it->second);
      }
      door.listen_addr = it->second;
      door.dest = Destination{e.name, e.port};
    } else if (e.kind == AllowEntry::Kind::kAddress) {
      const Cidr& r = e.range;
      if (r.base.family != AF_INET || r.prefix != 32) {
        skip(e, "an address range or IPv6: proxy only");
        continue;
      }
      uint32_t a = uint32_t{r.base.bytes[0]} << 24 | uint32_t{r.base.bytes[1]} << 16 | uint32_t{r.base.bytes[2]} << 8 |
                   r.base.bytes[3];
      // A non-loopback literal: the shim puts it on the sandbox's lo (shim/net_addr.h), where the
      // door listens; the network behind it stays unreachable but through the relay.
      if ((a >> 24) == 0 || (a >> 28) >= 0xe) {
        skip(e, "not a unicast address (0.0.0.0/8, multicast, reserved): nothing to listen on");
        continue;
      }
      if ((a & 0xffff0000) == kTransparentNet) {
        skip(e, "127.77.0.0/16 holds the sandbox's addresses for allowed names");
        continue;
      }
      door.listen_addr = a;
      door.dest = Destination{FormatIpv4(a), e.port};
    } else {
      skip(e, "a wildcard: proxy only");
      continue;
    }
    if (!taken.insert({door.listen_addr, door.port}).second) {
      skip(e, door.listen_addr == 0x7f000001 && door.port == proxy_port ? "the proxy's own port" : "listed twice");
      continue;
    }
    plan.doors.push_back(std::move(door));
  }
  // The DNS door takes one listener of the 64; an allowed 127.0.0.53 entry keeps that address the
  // host's (a TCP door there would shadow it otherwise) and the sandbox has no DNS server then.
  bool dns_taken = false;
  for (const TransparentDoor& d : plan.doors) dns_taken = dns_taken || d.listen_addr == kDnsAddr;
  plan.dns = !plan.names.empty() && plan.doors.size() < kMaxTransparentDoors && !dns_taken;
  return plan;
}

}  // namespace cordon::egress
