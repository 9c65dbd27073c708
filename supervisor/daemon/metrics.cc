// supervisor/daemon/metrics.cc: cordond's metrics with prometheus-cpp (metrics.h, docs/metrics.md).
#include "supervisor/daemon/metrics.h"

#include <arpa/inet.h>
#include <prometheus/counter.h>
#include <prometheus/exposer.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>
#include <prometheus/text_serializer.h>

#include <algorithm>
#include <exception>
#include <optional>
#include <nlohmann/json.hpp>

namespace cordon::daemon {
namespace {

using prometheus::Histogram;

// Seconds: from 1 ms (a pooled handover) to 10 min (a long run).
Histogram::BucketBoundaries LatencyBuckets() {
  return {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 600};
}

// The integer at j[a][b] (or j[a]); nullopt when it is missing or not an integer. Timing stamps
// may be negative: a pooled sandbox was built before its task was admitted (time 0).
std::optional<int64_t> Int(const nlohmann::json& j, const char* a, const char* b = nullptr) {
  const nlohmann::json* p = &j;
  for (const char* k : {a, b}) {
    if (k == nullptr) break;
    if (!p->is_object() || !p->contains(k)) return std::nullopt;
    p = &(*p)[k];
  }
  if (!p->is_number_integer()) return std::nullopt;
  return p->get<int64_t>();
}

}  // namespace

struct Metrics::Impl {
  std::shared_ptr<prometheus::Registry> registry = std::make_shared<prometheus::Registry>();
  std::unique_ptr<prometheus::Exposer> exposer;

  prometheus::Family<prometheus::Histogram>& phase =
      prometheus::BuildHistogram()
          .Name("cordon_task_phase_seconds")
          .Help("Time a finished task spent in each phase: admission, sandbox_build, handover, run, evidence")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& tasks =
      prometheus::BuildCounter()
          .Name("cordon_tasks_finished_total")
          .Help("Finished tasks by class, policy and failure class (none = it ran to its own exit)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& starts =
      prometheus::BuildCounter()
          .Name("cordon_pool_starts_total")
          .Help("Task starts by policy, on a pooled sandbox (pooled=\"true\": a pool hit) or a fresh one (a miss)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& denials =
      prometheus::BuildCounter()
          .Name("cordon_seccomp_denials_total")
          .Help("System calls the seccomp profile refused, by policy")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& outbound =
      prometheus::BuildCounter()
          .Name("cordon_outbound_requests_total")
          .Help("Outbound requests through the egress proxy, by policy and decision (allow, deny, error)")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& cpu =
      prometheus::BuildCounter()
          .Name("cordon_task_cpu_seconds_total")
          .Help("CPU time (user + system) of finished tasks, by class and policy: the cost per task class")
          .Register(*registry);
  prometheus::Family<prometheus::Counter>& errors =
      prometheus::BuildCounter()
          .Name("cordon_errors_total")
          .Help("Writes that failed: the state database (kind=\"store\") or the evidence log (kind=\"evidence_log\")")
          .Register(*registry);
  prometheus::Family<prometheus::Gauge>& gauges =
      prometheus::BuildGauge().Name("cordon_daemon").Help("cordond's current figures, by what").Register(*registry);
  prometheus::Family<prometheus::Gauge>& breakers =
      prometheus::BuildGauge()
          .Name("cordon_breakers")
          .Help("Circuit breakers by state (closed, open, half_open); a forced-open breaker counts as open")
          .Register(*registry);
  prometheus::Gauge& breakers_closed = breakers.Add({{"state", "closed"}});
  prometheus::Gauge& breakers_open = breakers.Add({{"state", "open"}});
  prometheus::Gauge& breakers_half_open = breakers.Add({{"state", "half_open"}});
  prometheus::Counter& store_errors = errors.Add({{"kind", "store"}});
  prometheus::Counter& log_errors = errors.Add({{"kind", "evidence_log"}});
  prometheus::Gauge& running = gauges.Add({{"what", "tasks_running"}});
  prometheus::Gauge& pool_ready = gauges.Add({{"what", "pool_ready"}});
  prometheus::Gauge& pool_target = gauges.Add({{"what", "pool_target"}});
  prometheus::Gauge& connections = gauges.Add({{"what", "connections"}});
  prometheus::Gauge& pending = gauges.Add({{"what", "records_pending"}});
  prometheus::Gauge& freezes = gauges.Add({{"what", "freezes"}});
  prometheus::Gauge& tasks_frozen = gauges.Add({{"what", "tasks_frozen"}});
};

Metrics::Metrics() : impl_(std::make_unique<Impl>()) {}
Metrics::~Metrics() = default;

Result<void> Metrics::Listen(const std::string& addr_port) {
  CORDON_TRY(CheckMetricsListen(addr_port));
  try {
    // civetweb's options: one listening port, its own two threads.
    impl_->exposer = std::make_unique<prometheus::Exposer>(addr_port, 2);
  } catch (const std::exception& e) {
    return Fail(EADDRINUSE, "--metrics-listen " + addr_port + ": cannot listen: " + e.what(),
                "choose a free port, or leave --metrics-listen out");
  }
  impl_->exposer->RegisterCollectable(impl_->registry);
  return {};
}

void Metrics::TaskFinished(const TaskRow& row, const nlohmann::json& ev) {
  const std::string cls = row.cls.empty() ? "batch" : row.cls;
  const std::string& policy = row.policy;
  impl_->tasks.Add({{"class", cls}, {"policy", policy}, {"failure_class", row.failure_class.empty() ? "none" : row.failure_class}})
      .Increment();
  if (!ev.is_object()) return;  // the record could not be built
  static const nlohmann::json kNone = nlohmann::json::object();
  const nlohmann::json& t = ev.contains("timing") ? ev["timing"] : kNone;
  // Phases in the order a task goes through them (docs/evidence.md "timing"); a phase whose end
  // stamp is missing (a task that never started) is not observed.
  auto phase = [&](const char* name, const char* from, const char* to) {
    std::optional<int64_t> a = Int(t, from), b = Int(t, to);
    if (!a || !b || *b < *a) return;
    impl_->phase.Add({{"phase", name}, {"class", cls}, {"policy", policy}}, LatencyBuckets())
        .Observe(static_cast<double>(*b - *a) / 1e6);
  };
  phase("admission", "received_us", "admitted_us");
  phase("sandbox_build", "admitted_us", "ready_us");
  phase("handover", "ready_us", "exec_us");
  phase("run", "exec_us", "exit_us");
  phase("evidence", "exit_us", "done_us");
  if (ev.contains("sandbox") && ev["sandbox"].is_object() && ev["sandbox"].contains("pooled") &&
      ev["sandbox"]["pooled"].is_boolean())
    impl_->starts.Add({{"policy", policy}, {"pooled", ev["sandbox"]["pooled"].get<bool>() ? "true" : "false"}})
        .Increment();
  if (auto d = Int(ev, "seccomp", "denied_total"); d && *d > 0)
    impl_->denials.Add({{"policy", policy}}).Increment(static_cast<double>(*d));
  if (ev.contains("egress") && ev["egress"].is_array())
    for (const auto& r : ev["egress"])
      if (r.is_object() && r.contains("decision") && r["decision"].is_string()) {
        std::string d = r["decision"].get<std::string>();
        if (d != "allow" && d != "deny") d = "error";
        impl_->outbound.Add({{"policy", policy}, {"decision", d}}).Increment();
      }
  int64_t cpu_us = Int(ev, "usage", "cpu_user_usec").value_or(0) + Int(ev, "usage", "cpu_system_usec").value_or(0);
  impl_->cpu.Add({{"class", cls}, {"policy", policy}}).Increment(static_cast<double>(std::max<int64_t>(cpu_us, 0)) / 1e6);
}

void Metrics::SetGauges(const MetricsGauges& g) {
  impl_->running.Set(static_cast<double>(g.tasks_running));
  impl_->pool_ready.Set(static_cast<double>(g.pool_ready));
  impl_->pool_target.Set(static_cast<double>(g.pool_target));
  impl_->connections.Set(static_cast<double>(g.connections));
  impl_->pending.Set(static_cast<double>(g.records_pending));
  impl_->breakers_closed.Set(static_cast<double>(g.breakers_closed));
  impl_->breakers_open.Set(static_cast<double>(g.breakers_open));
  impl_->breakers_half_open.Set(static_cast<double>(g.breakers_half_open));
  impl_->freezes.Set(static_cast<double>(g.freezes));
  impl_->tasks_frozen.Set(static_cast<double>(g.tasks_frozen));
}

void Metrics::StoreError() { impl_->store_errors.Increment(); }
void Metrics::LogError() { impl_->log_errors.Increment(); }

std::string Metrics::Text() const {
  prometheus::TextSerializer s;
  return s.Serialize(impl_->registry->Collect());
}

}  // namespace cordon::daemon
