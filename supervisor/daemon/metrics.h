// supervisor/daemon/metrics.h: cordond's metrics (docs/metrics.md), kept with prometheus-cpp and
// served as OpenMetrics/Prometheus text two ways: over the API socket (`cordon metrics`, always),
// and, when --metrics-listen ADDR:PORT (or daemon.json's "metrics": {"listen": ADDR:PORT}) is
// given, on a localhost TCP port by prometheus-cpp's Exposer (off by default).
//
// Labels are bounded sets only (class, policy, failure class, phase, pooled): never a task id,
// principal or command, so the number of series does not grow with the number of tasks.
//
// Most figures come from one place, the finished task's evidence record (TaskFinished): the start
// latency phases from its timing, the failure class, seccomp denials, outbound calls and refusals,
// CPU time, and whether a pooled sandbox served it. The loop sets the gauges (SetGauges); the
// store and the evidence log count their errors (StoreError, LogError).
//
// Counters and histograms are prometheus-cpp's (atomic): TaskFinished runs on the loop and a
// scrape on the Exposer's thread.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include <nlohmann/json_fwd.hpp>

#include "common/result.h"
#include "supervisor/daemon/store.h"

namespace cordon::daemon {

struct MetricsGauges {
  uint64_t tasks_running = 0;
  uint64_t pool_ready = 0, pool_target = 0;
  uint64_t connections = 0;
  uint64_t records_pending = 0;
  // Governance (docs/governance.md, docs/incident-response.md): breakers by state (forced-open ones
  // count as open), kill-switch freezes in force, and running tasks they hold frozen.
  uint64_t breakers_closed = 0, breakers_open = 0, breakers_half_open = 0;
  uint64_t freezes = 0, tasks_frozen = 0;
};

class Metrics {
 public:
  Metrics();
  ~Metrics();
  Metrics(const Metrics&) = delete;
  Metrics& operator=(const Metrics&) = delete;

  // Serves the metrics on ADDR:PORT (127.0.0.1:9464, [::1]:9464; a loopback address only) at
  // /metrics. Fails with the reason when the address is not loopback or cannot be bound.
  Result<void> Listen(const std::string& addr_port);

  // A finished task, from its row and its evidence record (JSON text; unreadable parts are skipped).
  void TaskFinished(const TaskRow& row, const nlohmann::json& evidence);
  void SetGauges(const MetricsGauges& g);
  void StoreError();
  void LogError();

  // The current values, in the Prometheus text exposition format (version 0.0.4).
  std::string Text() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Whether ADDR:PORT names a loopback address with a port (the only kind --metrics-listen and
// daemon.json's metrics.listen take). `what` names the setting in the error.
Result<void> CheckMetricsListen(const std::string& addr_port, const std::string& what = "--metrics-listen");

}  // namespace cordon::daemon
