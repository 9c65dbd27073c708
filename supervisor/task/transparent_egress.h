// supervisor/task/transparent_egress.h: a task's transparent egress doors (docs/network.md), both
// ends of the task's wiring: the launch spec's listeners and /etc/hosts lines, then the listening
// sockets PID 1 hands back with exec-ok, attached to the task's egress proxy.
#pragma once

#include <cstdint>
#include <vector>

#include "common/protocol.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "supervisor/egress/proxy.h"

namespace cordon {

// Adds the policy's doors to `spec` (spec->transparent) and their names to the /etc/hosts entry of
// spec->mounts. Needs spec->proxy_port and spec->mounts set; does nothing in mode none.
void AddTransparentEgress(const egress::OutboundPolicy& policy, proto::LaunchSpec* spec);

// Attaches `count` listening sockets, fds[*next...], to `proxy`, in the order AddTransparentEgress
// planned them for the same policy and port.
Result<void> AttachTransparentEgress(egress::Proxy& proxy, const egress::OutboundPolicy& policy, uint16_t proxy_port,
                                     std::vector<UniqueFd>* fds, size_t* next, uint32_t count);

}  // namespace cordon
