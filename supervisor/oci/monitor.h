// supervisor/oci/monitor.h: the process an engine sees as the container's init (container.h,
// "Process model"). Runs in the child `create` forks, before any thread exists.
#pragma once

#include <string>

#include "common/unique_fd.h"
#include "supervisor/oci/spec.h"
#include "supervisor/policy.h"
#include "supervisor/task/task.h"

namespace cordon::oci {

struct MonitorPlan {
  std::string id, dir, bundle;  // dir: the container's directory (start.fifo, evidence.json)
  OciSpec spec;
  Policy policy;                // the container's policy, config.json's limits applied
  RuntimePaths rt;
  std::string config_sha256;
  UniqueFd tty;                 // the terminal's slave end when process.terminal
};

// Compiles the seccomp filter and finds the cgroups, then writes "ok\n" (or one error line) to
// `report` and closes it; waits for `start`; runs the sandbox to its end; writes evidence.json;
// exits as the task did. Never returns.
[[noreturn]] void MonitorMain(MonitorPlan plan, UniqueFd report);

}  // namespace cordon::oci
