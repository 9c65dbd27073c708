// supervisor/daemon/service_notify.cc: what cordond tells systemd from its event loop (Type=notify):
// READY=1 on the first turn (the socket is listening and the loop is running, so a connection
// queued by socket activation is served from here on), STATUS= whenever the figures change, and
// the watchdog ping. The protocol itself is in systemd.{h,cc}.
#include "supervisor/daemon/daemon_internal.h"

namespace cordon::daemon::internal {

std::string Daemon::ServiceStatus() const {
  size_t ready = 0;
  for (const auto& [s, p] : pool_)
    if (p->task->ready()) ++ready;
  // The pool's target: --pool-size sandboxes for each pooled policy.
  const size_t target = stopping_ ? 0 : opts_.pool_size * pool_plan_.size();
  std::string s = stopping_ ? "stopping: " : "";
  s += std::to_string(live_.size()) + (live_.size() == 1 ? " task" : " tasks") + " running, pool " +
       std::to_string(ready) + "/" + std::to_string(target) + " ready, " + std::to_string(conns_.size()) +
       (conns_.size() == 1 ? " connection" : " connections");
  if (!pending_.empty()) s += ", " + std::to_string(pending_.size()) + " records pending (state disk)";
  return s;
}

void Daemon::NotifyService(uint64_t now) {
  if (!sd_.enabled()) return;
  if (!sd_ready_ && !stopping_) {
    sd_.Ready(ServiceStatus());
    sd_ready_ = true;
  } else {
    sd_.Status(ServiceStatus());
  }
  sd_.Tick(now);
  if (std::string e = sd_.TakeError(); !e.empty()) Log(e);
}

}  // namespace cordon::daemon::internal
