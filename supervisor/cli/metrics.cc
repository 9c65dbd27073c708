// supervisor/cli/metrics.cc: `cordon metrics` (metrics.h).
#include "supervisor/cli/metrics.h"

#include <cstdio>
#include <string>

#include "supervisor/cli/report.h"
#include "supervisor/daemon/client.h"
#include "supervisor/daemon/paths.h"

namespace cordon {
namespace {

constexpr const char* kMetricsUsage =
    "Usage: cordon metrics [--socket PATH]\n"
    "\n"
    "Prints cordond's current metrics in the Prometheus text format (docs/metrics.md): task phase\n"
    "latencies, tasks by failure class, pool hits and misses, seccomp denials, outbound requests,\n"
    "CPU time per task class, store and evidence-log errors, and the daemon's gauges. Any principal\n"
    "may read them; cordond serves them over its API socket whether or not --metrics-listen is set.\n"
    "\n"
    "Options:\n"
    "  --socket PATH    cordond's socket (default: CORDON_SOCKET, else /run/cordon/cordond.sock as\n"
    "                   root and $XDG_RUNTIME_DIR/cordon/cordond.sock otherwise)\n"
    "  -h, --help       Show this help\n";

}  // namespace

int CmdMetrics(int argc, char** argv) {
  std::string socket;
  for (int i = 0; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "-h" || a == "--help") {
      std::fputs(kMetricsUsage, stdout);
      return 0;
    }
    if (a == "--socket" && i + 1 < argc) {
      socket = argv[++i];
    } else if (a.starts_with("--socket=")) {
      socket = a.substr(9);
    } else {
      return cli::ReportFailure(a == "--socket" ? "--socket needs a path" : "cordon metrics: unexpected '" + a + "'",
                                "cordon metrics --help");
    }
  }
  auto conn = daemon::ClientConnection::Open(socket.empty() ? daemon::ClientSocketPath() : socket);
  if (!conn) return cli::ReportFailure(conn.error());
  api::v1::Request req;
  req.mutable_metrics();
  auto resp = conn->Call(req);
  if (!resp) return cli::ReportFailure(resp.error());
  if (resp->has_error()) return cli::ReportFailure("cordond: " + resp->error().message());
  if (!resp->has_metrics())
    return cli::ReportFailure("cordond did not answer the Metrics call (an older cordond?)",
                              "upgrade cordond to the version of this cordon");
  std::fputs(resp->metrics().text().c_str(), stdout);
  return 0;
}

}  // namespace cordon
