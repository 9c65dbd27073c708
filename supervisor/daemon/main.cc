// cordond: the Cordon supervisor daemon. Parses flags, resolves the runtime, and hands over to
// RunDaemon (supervisor/daemon/daemon.h). docs/daemon.md describes running it.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "common/setup_step.h"
#include "supervisor/daemon/daemon.h"
#include "supervisor/daemon/paths.h"

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
    "  --state-dir DIR           SQLite state and lock (default /var/lib/cordon).\n"
    "  --config-dir DIR          principals.json and policies/*.json (default /etc/cordon).\n"
    "  --grace-ms N              On SIGTERM, how long running tasks may finish (default 10000).\n"
    "  --read-timeout-ms N       A started frame must arrive whole within N ms (default 5000).\n"
    "  --idempotency-window S    Seconds a request_id is remembered (default 86400).\n"
    "  --max-tasks N             Live tasks at most; more submits get UNAVAILABLE (default 4096).\n"
    "  --id-range S:C            Rootful host uid/gid pool (default 524288:65536, or CORDON_ID_RANGE).\n"
    "  -h, --help                Show this help.\n"
    "  --version                 Show the version.\n"
    "\n"
    "Signals: SIGHUP reloads principals and policies (a bad file keeps the old set); SIGTERM stops\n"
    "admitting, lets tasks run for --grace-ms, kills the rest and exits.\n";

int Usage(const std::string& msg) {
  std::fprintf(stderr, "cordond: %s\nTry 'cordond --help' for more information.\n", msg.c_str());
  return cordon::kExitCordonFailure;
}

bool ParseU64(const std::string& s, uint64_t* out) {
  if (s.empty()) return false;
  char* end = nullptr;
  unsigned long long v = std::strtoull(s.c_str(), &end, 10);
  if (*end != '\0') return false;
  *out = v;
  return true;
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
               flag == "--max-tasks") {
      if (!ParseU64(value, &n)) return Usage(flag + " needs a non-negative integer, got '" + value + "'");
      if (flag == "--grace-ms") o.grace_ms = n;
      if (flag == "--read-timeout-ms") o.read_timeout_ms = n == 0 ? 1 : n;
      if (flag == "--idempotency-window") o.idempotency_window_s = n;
      if (flag == "--max-tasks") o.max_tasks = n;
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
  try {
    auto r = daemon::RunDaemon(o);
    if (!r) return fail(r.error());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "cordond: internal error: %s\n", e.what());
    return kExitCordonFailure;
  }
  return 0;
}
