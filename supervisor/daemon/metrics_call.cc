// supervisor/daemon/metrics_call.cc: cordond's side of its metrics (metrics.h, docs/metrics.md):
// the optional TCP endpoint at start, the gauges from the loop, and the Metrics API call behind
// `cordon metrics`.
#include "supervisor/daemon/daemon_internal.h"

namespace cordon::daemon::internal {

Result<void> Daemon::StartMetrics() {
  // The flag overrides daemon.json's "metrics": {"listen": ...}; neither: no endpoint (the API
  // call still answers). The address is bound once: a reload that changes it says so.
  metrics_listen_ = !opts_.metrics_listen.empty() ? opts_.metrics_listen : config_->settings.metrics_listen;
  if (metrics_listen_.empty()) return {};
  CORDON_TRY(metrics_.Listen(metrics_listen_));
  Log("metrics on http://" + metrics_listen_ + "/metrics" +
      (opts_.metrics_listen.empty() ? " (" + config_->settings.source + ")" : ""));
  return {};
}

void Daemon::NoteMetricsReload() {
  if (!opts_.metrics_listen.empty() || config_->settings.metrics_listen == metrics_listen_) return;
  Log("SIGHUP: metrics.listen changed to '" + config_->settings.metrics_listen + "'; the endpoint stays on '" +
      metrics_listen_ + "' until cordond restarts");
}

void Daemon::UpdateMetricsGauges() {
  MetricsGauges g;
  g.tasks_running = live_.size();
  for (const auto& [s, p] : pool_)
    if (p->task->ready()) ++g.pool_ready;
  g.pool_target = stopping_ ? 0 : opts_.pool_size * pool_plan_.size();
  g.connections = conns_.size();
  g.records_pending = pending_.size();
  for (auto& [name, b] : breakers_.all()) {
    if (b.mode() == governance::BreakerMode::kForcedOpen || b.state() == governance::BreakerState::kOpen)
      ++g.breakers_open;
    else if (b.state() == governance::BreakerState::kHalfOpen)
      ++g.breakers_half_open;
    else
      ++g.breakers_closed;
  }
  g.freezes = freezes_.all().size();
  g.tasks_frozen = frozen_tasks_.size();
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
