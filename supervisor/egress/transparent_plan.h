// supervisor/egress/transparent_plan.h: which allowed destinations a task reaches without the proxy
// variables (transparent egress, docs/network.md), and where. Pure: no sockets, no resolution.
//
// Each exact `name:port` entry gets a loopback address of its own inside the sandbox (127.77.x.y,
// written into the sandbox's /etc/hosts), and each IPv4 address entry `a.b.c.d:port` keeps its own
// address (one outside 127.0.0.0/8 is put on the sandbox's lo by the shim); PID 1 listens there
// inside the task's network namespace and the supervisor relays every connection to the
// destination, with the proxy's checks and records (Proxy::AddTransparent). Wildcards, ranges,
// IPv6, `*` ports and names under .localhost stay proxy-only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "supervisor/egress/policy.h"

namespace cordon::egress {

// One listener inside the sandbox and the destination its connections go to.
struct TransparentDoor {
  uint32_t listen_addr = 0;  // IPv4, host byte order: 127.0.0.0/8, or an allowed unicast literal
  uint16_t port = 0;         // the same port on both sides
  Destination dest;          // as if the task had sent "CONNECT dest.host:port"
};

struct TransparentPlan {
  std::vector<TransparentDoor> doors;  // at most kMaxDoors, in allow-entry order
  std::string hosts;                   // lines for the sandbox's /etc/hosts ("127.77.0.1\tdb.internal\n")
  std::vector<std::string> proxy_only; // entries left to the proxy, each with why (docs, `cordon policy`)
  // The sandbox's DNS server (dns.h): a UDP socket on kDnsAddr:53, the sandbox's resolv.conf
  // naming it, when there are names (and a listener to spare); it answers `names` only.
  bool dns = false;
  std::map<std::string, uint32_t> names;  // lower-case name -> its 127.77.x.y
};

inline constexpr size_t kMaxTransparentDoors = 64;        // = proto::kMaxTransparentListeners
inline constexpr uint32_t kTransparentNet = 0x7f4d0000;   // 127.77.0.0/16: the names' addresses
inline constexpr uint32_t kDnsAddr = 0x7f000035;          // 127.0.0.53: the sandbox's DNS server
inline constexpr uint16_t kDnsPort = 53;

// `proxy_port` is the proxy's own port on 127.0.0.1, which no door may take. Mode none: no doors.
TransparentPlan PlanTransparent(const OutboundPolicy& policy, uint16_t proxy_port);

std::string FormatIpv4(uint32_t addr);  // host byte order -> "127.77.0.1"

}  // namespace cordon::egress
