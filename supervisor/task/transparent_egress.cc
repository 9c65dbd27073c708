#include "supervisor/task/transparent_egress.h"

#include "supervisor/egress/transparent_plan.h"

namespace cordon {

static_assert(egress::kMaxTransparentDoors == proto::kMaxTransparentListeners);

void AddTransparentEgress(const egress::OutboundPolicy& policy, proto::LaunchSpec* spec) {
  if (spec->proxy_port == 0) return;
  egress::TransparentPlan plan = egress::PlanTransparent(policy, static_cast<uint16_t>(spec->proxy_port));
  spec->transparent.clear();
  for (const egress::TransparentDoor& d : plan.doors) spec->transparent.push_back({d.listen_addr, d.port});
  if (plan.hosts.empty()) return;
  // The generated file, or a fresh one: `text` replaces (resolv.conf) or extends (hosts) it.
  auto file = [spec](const char* target, const std::string& text, bool replace) {
    for (proto::MountEntry& m : spec->mounts) {
      if (m.kind == proto::MountKind::kFile && m.target == target) {
        m.source = replace ? text : m.source + text;
        return;
      }
    }
    spec->mounts.push_back({proto::MountKind::kFile, 0644, text, target});
  };
  file("/etc/hosts", "# Cordon transparent egress: allowed names, each relayed by the supervisor\n" + plan.hosts, false);
  if (!plan.dns) return;
  // The sandbox's DNS server: the last listener (AttachTransparentEgress takes it last too).
  spec->transparent.push_back({egress::kDnsAddr, egress::kDnsPort | proto::kTransparentUdp});
  file("/etc/resolv.conf",
       "# Cordon transparent egress: the supervisor answers for the allowed names only (NXDOMAIN otherwise)\n"
       "nameserver " + egress::FormatIpv4(egress::kDnsAddr) + "\noptions timeout:2 attempts:2\n",
       true);
}

Result<void> AttachTransparentEgress(egress::Proxy& proxy, const egress::OutboundPolicy& policy, uint16_t proxy_port,
                                     std::vector<UniqueFd>* fds, size_t* next, uint32_t count) {
  egress::TransparentPlan plan = egress::PlanTransparent(policy, proxy_port);
  const size_t want = plan.doors.size() + (plan.dns ? 1 : 0);
  if (count != want || *next + count > fds->size())
    return FailMsg("transparent egress: got " + std::to_string(count) + " sockets for " + std::to_string(want) +
                   " listeners");
  for (const egress::TransparentDoor& d : plan.doors) {
    CORDON_TRY(proxy.AddTransparent(std::move((*fds)[(*next)++]), d.dest));
  }
  if (plan.dns) CORDON_TRY(proxy.AddDns(std::move((*fds)[(*next)++]), std::move(plan.names)));
  return {};
}

}  // namespace cordon
