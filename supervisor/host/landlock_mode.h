// supervisor/host/landlock_mode.h: the degraded Landlock mode for hosts where user namespaces
// cannot be created (docs/landlock.md "Landlock mode"): what it lacks against a full sandbox, for
// the evidence, `cordon doctor` and the docs, and the small seccomp program it adds in place of the
// missing network namespace. The run itself is supervisor/cli/landlock_run.cc.
#pragma once

#include <linux/filter.h>

#include <string>
#include <vector>

#include "supervisor/host/facts.h"

namespace cordon::host {

// Why this host cannot give a task the full sandbox's namespaces, from a fresh probe: the one line
// of namespace_refusal.h for the first thing refused, or "" when everything was allowed. The probe
// failing to run at all is reported as such.
std::string NamespaceRefusal(const UsernsProbe& probe, const Facts& facts);

// One guarantee of a full sandbox that landlock mode does not give, and what that means here.
struct ModeGap {
  std::string guarantee;  // "pid_namespace", ...
  std::string effect;     // one line: what the task can do or see that it could not in full mode
};

// Every gap of landlock mode on a kernel with Landlock ABI `abi` (>= 1), rootful or not.
std::vector<ModeGap> LandlockModeGaps(int abi, bool rootful);

// Refuses socket(2) for AF_INET, AF_INET6 and AF_PACKET with EACCES: with no network namespace,
// this is what keeps a task whose policy allows no egress off the host's network (UDP, ICMP and
// raw sockets, which Landlock cannot restrict; TCP is refused by Landlock too where ABI >= 4).
// A foreign architecture's calls pass through to the policy's filter, which decides them.
std::vector<sock_filter> NoInetSocketsFilter();

// The same, but for a task whose egress goes through Cordon's proxy on the host's loopback:
// AF_INET stream sockets of protocol 0 or TCP are allowed (to reach the proxy; Landlock ABI >= 4
// then allows connect to the proxy's port alone and no bind), every other IPv4 socket (UDP, raw),
// IPv6 and packet sockets are refused with EACCES.
std::vector<sock_filter> ProxyOnlySocketsFilter();

}  // namespace cordon::host
