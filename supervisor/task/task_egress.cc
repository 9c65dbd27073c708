// supervisor/task/task_egress.cc: a running task's egress proxy, from exec-ok to its records.
#include "supervisor/task/task_egress.h"

#include "supervisor/task/transparent_egress.h"

namespace cordon {

Result<void> TaskEgress::Start(UniqueFd proxy_socket, const egress::OutboundPolicy& policy, uint64_t max_calls,
                               uint16_t proxy_port, uint64_t origin_ns, std::vector<UniqueFd>* fds, size_t* next,
                               uint32_t transparent) {
  egress::Limits el;
  el.max_calls = max_calls;
  auto p = egress::Proxy::Create(std::move(proxy_socket), policy, el, egress::SystemResolver(), origin_ns);
  if (!p) return FailMsg("egress proxy could not start: " + p.error().Message());
  proxy_ = std::move(*p);
  auto t = AttachTransparentEgress(*proxy_, policy, proxy_port, fds, next, transparent);
  proxy_->SetCredentials(credentials_);
  if (!t) return FailMsg("transparent egress could not start: " + t.error().Message());
  return {};
}

void TaskEgress::SetCredentials(std::shared_ptr<const egress::Credentials> c) {
  credentials_ = c;
  if (proxy_) proxy_->SetCredentials(std::move(c));
}

void TaskEgress::OnDeadline(uint64_t now_ns) {
  if (proxy_ && proxy_->NextDeadlineNs() && now_ns >= proxy_->NextDeadlineNs()) proxy_->OnTimer();
}

void TaskEgress::Finish() {
  if (!proxy_) return;
  proxy_->CloseAll();
  records_ = proxy_->TakeRecords();
  calls_ = proxy_->calls();
  dropped_ = proxy_->dropped_records();
  proxy_.reset();
}

}  // namespace cordon
