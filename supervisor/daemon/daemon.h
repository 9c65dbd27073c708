// supervisor/daemon/daemon.h: cordond's event loop (docs/daemon.md). One thread, one epoll set:
// the listening socket, every client connection, a signalfd, and every fd each live Task asks to
// be watched (control socket, shim pidfd, seccomp listener, output pumps). Task deadlines (wall
// clock, kill grace) and connection read deadlines become the epoll_wait timeout, so a thousand
// sleeping tasks cost no thread and no timer each.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "supervisor/identity/identity.h"
#include "supervisor/task/task.h"

namespace cordon::daemon {

struct DaemonOptions {
  std::string socket_path;
  std::string state_dir;
  std::string config_dir;
  RuntimePaths runtime;
  IdRange ids;                            // rootful host uid/gid pool, as for `cordon run`
  std::string id_lock_dir = "/run/cordon/ids";
  uint64_t grace_ms = 10000;              // SIGTERM: how long running tasks may go on
  uint64_t read_timeout_ms = 5000;        // a frame must arrive whole within this of its first byte
  uint64_t idempotency_window_s = 86400;  // how long a request_id is remembered
  size_t max_tasks = 4096;                // live tasks; Submit beyond it gets UNAVAILABLE
  size_t max_connections = 4096;
  // Limits per peer uid (docs/daemon.md "Limits per uid"). A uid that is not a principal may hold
  // max_conns_unknown connections, and all such uids together max_connections / 4, so that
  // principals always find room; a principal's uid may hold max_conns_per_uid.
  size_t max_conns_per_uid = 256;
  size_t max_conns_unknown = 8;
  uint64_t idle_timeout_ms = 60000;       // a connection with nothing in progress is closed after this
  // Every this many seconds (and at start) cordond removes what killed supervisors left: task
  // cgroups whose owner is dead, and unheld uid lease files (docs/daemon.md "Leftovers"). 0 = only at start.
  uint64_t sweep_interval_s = 60;
  // Retention (docs/daemon.md "Retention"), applied at start and at every sweep: finished tasks
  // older than this many days (0: no age limit), or beyond the newest retain_tasks (0: no limit).
  // These are the defaults; daemon.json's "retention" replaces them unless the flag was given
  // (the *_flag members): flags > daemon.json > defaults.
  uint64_t retain_days = 30;
  uint64_t retain_tasks = 100000;
  bool retain_days_flag = false;          // --retain-days was given
  bool retain_tasks_flag = false;         // --retain-tasks was given
  bool bpf_cache = true;
  bool sync_decisions = true;             // --decision-sync each (true) | os (false): see Store
  bool evidence_log = true;               // --evidence-log on (true) | off (false): docs/evidence.md
  // Warm pool (docs/daemon.md "Warm pool"): sandboxes built ahead of their tasks, per policy.
  size_t pool_size = 2;                   // ready sandboxes kept per pooled policy; 0 turns the pool off
  std::vector<std::string> pool_policies; // policies to pool; empty = every policy that can be pooled
  size_t pool_refill = 1;                 // sandboxes built at the same time when refilling
  uint64_t pool_memory_max = 256ull << 20;  // bytes all pooled sandboxes may hold together
  uint64_t pool_max_age_s = 600;          // a pooled sandbox unused this long is rebuilt; 0 = never
  std::string metrics_listen;             // ADDR:PORT (loopback) for the metrics endpoint; empty = off
};

// Runs the daemon until SIGTERM/SIGINT and the shutdown that follows. Errors that prevent the
// start (socket in use, unreadable config, state database) come back as an Error; after the
// start, failures are logged to stderr and the loop goes on.
Result<void> RunDaemon(const DaemonOptions& opts);

}  // namespace cordon::daemon
