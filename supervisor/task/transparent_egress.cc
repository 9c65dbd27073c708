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
  for (proto::MountEntry& m : spec->mounts) {
    if (m.kind == proto::MountKind::kFile && m.target == "/etc/hosts") {
      m.source += "# Cordon transparent egress: allowed names, each relayed by the supervisor\n" + plan.hosts;
      return;
    }
  }
  spec->mounts.push_back({proto::MountKind::kFile, 0644, plan.hosts, "/etc/hosts"});
}

Result<void> AttachTransparentEgress(egress::Proxy& proxy, const egress::OutboundPolicy& policy, uint16_t proxy_port,
                                     std::vector<UniqueFd>* fds, size_t* next, uint32_t count) {
  egress::TransparentPlan plan = egress::PlanTransparent(policy, proxy_port);
  if (count != plan.doors.size() || *next + count > fds->size())
    return FailMsg("transparent egress: got " + std::to_string(count) + " listening sockets for " +
                   std::to_string(plan.doors.size()) + " destinations");
  for (const egress::TransparentDoor& d : plan.doors) {
    CORDON_TRY(proxy.AddTransparent(std::move((*fds)[(*next)++]), d.dest));
  }
  return {};
}

}  // namespace cordon
