// supervisor/daemon/metrics_call.cc: cordond's side of its metrics (metrics.h, docs/metrics.md):
// the optional TCP endpoint at start, the gauges from the loop, and the Metrics API call behind
// `cordon metrics`.
#include "supervisor/daemon/daemon_internal.h"

namespace cordon::daemon::internal {

Result<void> Daemon::StartMetrics() {
  if (opts_.metrics_listen.empty()) return {};
  CORDON_TRY(metrics_.Listen(opts_.metrics_listen));
  Log("metrics on http://" + opts_.metrics_listen + "/metrics");
  return {};
}

void Daemon::UpdateMetricsGauges() {
  MetricsGauges g;
  g.tasks_running = live_.size();
  for (const auto& [s, p] : pool_)
    if (p->task->ready()) ++g.pool_ready;
  g.pool_target = stopping_ ? 0 : opts_.pool_size * pool_plan_.size();
  g.connections = conns_.size();
  g.records_pending = pending_.size();
  metrics_.SetGauges(g);
}

void Daemon::HandleMetrics(Conn& c, uint64_t call_id) {
  // Principals only, as for every other call: the figures are the host's workload.
  if (FindPrincipal(config_->principals, c.peer.uid, c.peer.gid) == nullptr)
    return ReplyError(c, call_id, api::ERROR_CODE_UNAUTHENTICATED,
                      "uid " + std::to_string(c.peer.uid) + " is not a principal in " + config_->principals.source);
  UpdateMetricsGauges();
  api::Response resp;
  resp.set_call_id(call_id);
  resp.mutable_metrics()->set_text(metrics_.Text());
  Reply(c, resp);
}

}  // namespace cordon::daemon::internal
