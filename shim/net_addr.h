// shim/net_addr.h: an IPv4 address put on the sandbox's own lo, so that a listener for transparent
// egress can stand for an allowed non-loopback address literal (docs/network.md "Clients that
// ignore the proxy variables"). The task's network namespace has no other interface: a connect to
// that address is delivered to the listener, and nothing else of the network is reachable.
#pragma once

#include <cstdint>

namespace cordon::shim {

// Adds `addr` (IPv4, host byte order) as a /32 to lo in the calling process's network namespace
// (RTM_NEWADDR over rtnetlink). An address already there is fine. Returns 0 or an errno value.
int AddAddressToLoopback(uint32_t addr);

}  // namespace cordon::shim
