// supervisor/cli/metrics.h: `cordon metrics [--socket PATH]`: cordond's current metrics, in the
// Prometheus text format, over its API socket (docs/metrics.md).
#pragma once

namespace cordon {

// argv[0] is the first argument after `metrics`; returns the exit code.
int CmdMetrics(int argc, char** argv);

}  // namespace cordon
