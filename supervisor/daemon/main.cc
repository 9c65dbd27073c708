// cordond: the Cordon supervisor daemon. Parses flags, resolves the runtime, and hands over to
// RunDaemon (supervisor/daemon/daemon.h). docs/daemon.md describes running it.
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "common/setup_step.h"
#include "supervisor/daemon/daemon.h"
#include "supervisor/daemon/metrics.h"
#include "supervisor/daemon/paths.h"
#include "supervisor/host/facts.h"
#include "supervisor/host/landlock_mode.h"

namespace {

constexpr const char* kUsage =
    "Usage: cordond [OPTIONS]\n"
    "\n"
    "The Cordon supervisor daemon: admits tasks submitted over a Unix socket (cordon submit, or the\n"
    "protobuf API in docs/api.md), runs each in a fresh sandbox and keeps their state and evidence.\n"
    "\n"
    "Options (defaults as root; rootless defaults are under $XDG_RUNTIME_DIR, $XDG_STATE_HOME and\n"
    "$XDG_CONFIG_HOME):\n"
    "  --socket PATH             Listening socket (default /run/cordon/cordond.sock), mode 0666.\n"
    "                            Under systemd socket activation (LISTEN_FDS) systemd's socket is\n"
    "                            used instead (docs/deploy.md).\n"
    "  --state-dir DIR           SQLite state and lock (default /var/lib/cordon).\n"
    "  --config-dir DIR          principals.json, daemon.json, policies/*.json (default /etc/cordon).\n"
    "  --grace-ms N              On SIGTERM, how long running tasks may finish (default 10000).\n"
    "  --read-timeout-ms N       A started frame must arrive whole within N ms (default 5000).\n"
    "  --idempotency-window S    Seconds a request_id is remembered (default 86400).\n"
    "  --max-tasks N             Live tasks at most; more submits get UNAVAILABLE (default 4096).\n"
    "  --max-connections N       Client connections at most (default 4096); uids that are not\n"
    "                            principals share a quarter of them.\n"
    "  --max-conns-per-uid N     Connections one principal's uid may hold (default 256).\n"
    "  --max-conns-unknown N     Connections a uid that is not a principal may hold (default 8).\n"
    "  --idle-timeout-ms N       A connection with no call in progress, no Wait pending and no\n"
    "                            attached task is closed after N ms without traffic (default 60000).\n"
    "  --id-range S:C            Rootful host uid/gid pool (default 524288:65536, or CORDON_ID_RANGE).\n"
    "  --id-lock-dir DIR         Rootful: where task uid/gid slots are leased (default /run/cordon/ids).\n"
    "  --retain-days D           Prune finished tasks (row and evidence) created more than D days\n"
    "                            ago (default 30; 0 = no age limit). Unfinished tasks are kept.\n"
    "  --retain-tasks N          Keep at most the newest N finished tasks (default 100000; 0 = no\n"
    "                            limit). Pruned ranges leave a summary and a digest (docs/daemon.md).\n"
    "                            Both can also be set in CONFIG_DIR/daemon.json; a flag wins.\n"
    "  --sweep-interval S        Every S seconds, remove what killed supervisors left: task cgroups\n"
    "                            whose owner is dead, unheld uid lease files (default 60; 0 = at\n"
    "                            start only).\n"
    "  --decision-sync MODE      each: every admission decision is fdatasync'd before its task\n"
    "                            can exec (default). os: committed to the OS only (survives a cordond\n"
    "                            crash, not a power loss) and synced at checkpoints; up to ~1 ms less\n"
    "                            per task.\n"
    "  --evidence-log MODE       on: the signed evidence log in STATE/evidence-log (default). off:\n"
    "                            none is written (redaction still applies); for measuring its cost\n"
    "                            (bench/evidence_ab.py). docs/evidence.md.\n"
    "  --pool-size N             Warm pool: sandboxes kept built ahead of their tasks, per policy\n"
    "                            (default 2; 0 turns the pool off). Each serves one task only.\n"
    "  --pool-policies A,B       Policies to pool (default: every policy without caller, state or\n"
    "                            socket bindings).\n"
    "  --pool-refill N           Sandboxes the pool builds at the same time (default 1).\n"
    "  --pool-memory-max BYTES   Memory all pooled sandboxes may hold together, as their cgroups\n"
    "                            count it; suffixes K, M, G (default 256M).\n"
    "  --pool-max-age S          A pooled sandbox unused for S seconds is rebuilt, so that its\n"
    "                            mounts and bindings are never older than that (default 600; 0 = never).\n"
    "  --metrics-listen ADDR:PORT Serve metrics (Prometheus text) at http://ADDR:PORT/metrics;\n"
    "                            a loopback address only (127.0.0.1:9464). Overrides daemon.json's\n"
    "                            metrics.listen. Default: off; `cordon metrics` reads them over\n"
    "                            the API socket anyway.\n"
    "  -h, --help                Show this help.\n"
    "  --version                 Show the version.\n"
    "\n"
    "Signals: SIGHUP reloads principals, daemon.json and policies (a bad file keeps the old set);\n"
    "SIGTERM stops admitting, lets tasks run for --grace-ms, kills the rest and exits.\n";

int Usage(const std::string& msg) {
  std::fprintf(stderr, "cordond: %s\nTry 'cordond --help' for more information.\n", msg.c_str());
  return cordon::kExitCordonFailure;
}

bool ParseU64(const std::string& s, uint64_t* out) {
  if (s.empty() || s[0] == '-') return false;
  char* end = nullptr;
  errno = 0;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (*end != '\0' || errno == ERANGE) return false;
  *out = v;
  return true;
}

// "64M", "1G", "1048576": bytes with an optional binary suffix.
bool ParseBytes(std::string s, uint64_t* out) {
  uint64_t mult = 1;
  if (!s.empty()) {
    switch (s.back()) {
      case 'K': case 'k': mult = 1ull << 10; break;
      case 'M': case 'm': mult = 1ull << 20; break;
      case 'G': case 'g': mult = 1ull << 30; break;
      default: break;
    }
    if (mult != 1) s.pop_back();
  }
  uint64_t v = 0;
  if (!ParseU64(s, &v) || v > UINT64_MAX / mult) return false;
  *out = v * mult;
  return true;
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at <= s.size()) {
    size_t comma = s.find(',', at);
    std::string item = s.substr(at, comma == std::string::npos ? std::string::npos : comma - at);
    if (!item.empty()) out.push_back(item);
    if (comma == std::string::npos) break;
    at = comma + 1;
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace cordon;
  daemon::DefaultPaths defaults = daemon::GetDefaultPaths();
  daemon::DaemonOptions o;
  o.socket_path = defaults.socket;
  o.state_dir = defaults.state_dir;
  o.config_dir = defaults.config_dir;
  std::string id_range;
  if (const char* e = ::getenv("CORDON_ID_RANGE"); e && *e) id_range = e;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kUsage, stdout);
      return 0;
    }
    if (a == "--version") {
      std::printf("cordond %s\n", CORDON_VERSION);
      return 0;
    }
    std::string value;
    auto eq = a.find('=');
    std::string flag = a.substr(0, eq);
    if (eq != std::string::npos) {
      value = a.substr(eq + 1);
    } else if (i + 1 < argc) {
      value = argv[++i];
    } else {
      return Usage(flag + " needs a value");
    }
    uint64_t n = 0;
    if (flag == "--socket") {
      o.socket_path = value;
    } else if (flag == "--state-dir") {
      o.state_dir = value;
    } else if (flag == "--config-dir") {
      o.config_dir = value;
    } else if (flag == "--id-range") {
      id_range = value;
    } else if (flag == "--grace-ms" || flag == "--read-timeout-ms" || flag == "--idempotency-window" ||
               flag == "--max-tasks" || flag == "--pool-size" || flag == "--pool-refill" || flag == "--pool-max-age" ||
               flag == "--max-connections" || flag == "--max-conns-per-uid" || flag == "--max-conns-unknown" ||
               flag == "--idle-timeout-ms" ||
               flag == "--sweep-interval" || flag == "--retain-days" || flag == "--retain-tasks") {
      if (!ParseU64(value, &n)) return Usage(flag + " needs a non-negative integer, got '" + value + "'");
      if (flag == "--grace-ms") o.grace_ms = n;
      if (flag == "--read-timeout-ms") o.read_timeout_ms = n == 0 ? 1 : n;
      if (flag == "--idempotency-window") o.idempotency_window_s = n;
      if (flag == "--max-tasks") o.max_tasks = n;
      if (flag == "--max-connections") o.max_connections = n == 0 ? 1 : n;
      if (flag == "--max-conns-per-uid") o.max_conns_per_uid = n == 0 ? 1 : n;
      if (flag == "--max-conns-unknown") o.max_conns_unknown = n;
      if (flag == "--idle-timeout-ms") o.idle_timeout_ms = n == 0 ? 1 : n;
      if (flag == "--pool-size") o.pool_size = n;
      if (flag == "--sweep-interval") o.sweep_interval_s = n;
      if (flag == "--retain-days") {
        if (n > 36500) return Usage("--retain-days is at most 36500 (0 = no age limit)");
        o.retain_days = n;
        o.retain_days_flag = true;
      }
      if (flag == "--retain-tasks") {
        o.retain_tasks = n;
        o.retain_tasks_flag = true;
      }
      if (flag == "--pool-max-age") {
        if (n > 100'000'000) return Usage("--pool-max-age is at most 100000000 seconds (0 = never rebuild)");
        o.pool_max_age_s = n;
      }
      if (flag == "--pool-refill") {
        if (n == 0) return Usage("--pool-refill must be at least 1 (use --pool-size 0 to turn the pool off)");
        o.pool_refill = n;
      }
    } else if (flag == "--id-lock-dir") {
      if (value.empty() || value[0] != '/') return Usage("--id-lock-dir needs an absolute directory path");
      o.id_lock_dir = value;
    } else if (flag == "--evidence-log") {  // evidence (wip/evlog)
      if (value != "on" && value != "off") return Usage("--evidence-log is 'on' or 'off', got '" + value + "'");
      o.evidence_log = value == "on";
    } else if (flag == "--decision-sync") {
      if (value != "each" && value != "os") return Usage("--decision-sync is 'each' or 'os', got '" + value + "'");
      o.sync_decisions = value == "each";
    } else if (flag == "--pool-policies") {
      o.pool_policies = SplitComma(value);
      if (o.pool_policies.empty()) return Usage("--pool-policies needs policy names, e.g. default,analyst");
    } else if (flag == "--metrics-listen") {  // ops: docs/metrics.md
      if (auto m = daemon::CheckMetricsListen(value); !m) return Usage(m.error().Message());
      o.metrics_listen = value;
    } else if (flag == "--pool-memory-max") {
      if (!ParseBytes(value, &o.pool_memory_max))
        return Usage("--pool-memory-max needs bytes with an optional K, M or G suffix, got '" + value + "'");
    } else {
      return Usage("unknown option '" + a + "'");
    }
  }
  if (!id_range.empty()) {
    auto r = ParseIdRange(id_range);
    if (!r) return Usage(r.error().Message());
    o.ids = *r;
  }
  if (const char* nc = ::getenv("CORDON_NO_BPF_CACHE"); nc && *nc == '1') o.bpf_cache = false;
  auto rt = LocateRuntime();
  auto fail = [](const Error& e) {
    std::fprintf(stderr, "cordond: %s\n", e.Message().c_str());
    if (!e.hint.empty()) std::fprintf(stderr, "cordond: hint: %s\n", e.hint.c_str());
    return kExitCordonFailure;
  };
  if (!rt) return fail(rt.error());
  o.runtime = *rt;
  // No user namespaces here (docs/landlock.md "Left"): cordond has no landlock mode, so each task
  // will be refused; said once at start, not only per task.
  if (const std::string why = host::NamespaceRefusal(host::ProbeUserns(), host::ReadFacts()); !why.empty())
    std::fprintf(stderr, "cordond: warning: every task will be refused: %s (cordond has no landlock mode: docs/landlock.md)\n",
                 why.c_str());
  try {
    auto r = daemon::RunDaemon(o);
    if (!r) return fail(r.error());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cordond: internal error: %s\n", e.what());
    return kExitCordonFailure;
  }
  return 0;
}
