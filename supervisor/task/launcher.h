// supervisor/task/launcher.h: building and starting a task's sandbox: the launch spec (the
// sandbox's part from the policy, the task's part from the request), the shim's spawn with the
// launch message, and the warm pool's hand-over of a task to a sandbox built ahead (kStart, and the
// held exec released by kGo). It produces the parts a running task owns (task.h): the shim
// process and the output pump's pipes. Supervisor side; holds the spec and the pool's sockets.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/bindings/grant.h"
#include "common/protocol.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "supervisor/cgroup/task_cgroup.h"
#include "supervisor/identity/identity.h"
#include "supervisor/policy.h"
#include "supervisor/seccomp/filter.h"
#include "supervisor/task/output_pump.h"
#include "supervisor/task/shim_process.h"

namespace cordon {

struct TaskRequest {
  std::vector<std::string> argv;
  std::vector<std::string> env;  // caller's K=V, already checked against the policy's env.allow
  std::string cwd = "/work";
  int stdin_fd = 0, stdout_fd = 1, stderr_fd = 2;  // borrowed; duplicated into the task
  bool tty = false;
  // The policy's bindings, opened by OpenBindings (common/bindings/grant.h); the task gets binding i
  // as fd 3+i and $CORDON_FD_<NAME>, mounted ones also at their target.
  std::shared_ptr<std::vector<OpenBinding>> bindings;
  // With limits.output_bytes: how long, once the task is gone, to wait for a caller that stops
  // reading before the rest of the output is dropped. 0 = as long as it takes (a CLI's own stdout);
  // a daemon serving many callers bounds it.
  uint32_t output_drain_ms = 0;
  // Without a cgroup, memory_bytes and max_cpu_ms hold for the whole sandbox through the
  // supervisor's monitor (sandbox_monitor.h). Where that is impossible too, a run that asks for
  // them is refused unless the caller accepts per-process rlimits instead (`--per-process-limits`).
  bool per_process_limits = false;
  bool no_monitor = false;  // never use the monitor (operator/test knob CORDON_LIMITS_MONITOR=off)
  // An OCI container (cordon-runc, supervisor/oci/): the bundle's root instead of the host's
  // runtime paths (RootfsOptions::image_root), and the ids and hostname its config.json asks for.
  std::string image_root;
  std::optional<uint32_t> task_uid, task_gid;
  std::string hostname;
  // A host directory whose egress-ca.pem and ca-bundle.pem (the egress TLS interception CA, and a
  // CA bundle with it) are copied into the sandbox's /etc/cordon/tls (egress/tls_ca.h; cordond,
  // docs/network.md). "" = none.
  std::string trust_dir;
};

// Where the runtime lives; resolved once per supervisor.
struct RuntimePaths {
  std::string shim;        // .../libexec/cordon/cordon-shim
  std::string data_dir;    // .../share/cordon
};
Result<RuntimePaths> LocateRuntime();

// The task's environment: $CORDON_FD_<NAME> of its bindings, the caller's --env, the policy's
// env.set (which wins), the proxy's variables and a default PATH. Also landlock mode's (cli/landlock_run.h).
std::vector<std::string> BuildTaskEnv(const Policy& policy, const TaskRequest& req);

// A fresh random task id (32 hex digits).
std::string NewTaskId();

class TaskLauncher {
 public:
  TaskLauncher() = default;
  // The spec's base, from the policy, the compiled filter and the task's host identity. Raises
  // this process's RLIMIT_NOFILE hard limit to the policy's limits.nofile (the shim inherits it),
  // or fails saying what to do.
  static Result<TaskLauncher> Create(std::shared_ptr<const Policy> policy,
                                     std::shared_ptr<const SeccompFilter> filter, const TaskIdentity& identity);

  proto::LaunchSpec& spec() { return spec_; }
  const proto::LaunchSpec& spec() const { return spec_; }

  // The sandbox's shape: its filesystem (policy mounts, /dev/tty, mounted bindings), its ids and
  // hostname, the transparent egress doors.
  Result<void> BuildSandbox(const TaskRequest& shape);
  // The task's own part: argv, environment, cwd, and its stdin/stdout/stderr (the caller's fds, or
  // pipes of the task's own that `output` forwards: with limits.output_bytes, or when the task
  // could not reopen the caller's pipe or file by name). Returns the three fds to pass; `keep`
  // holds the pipes' write ends until they are sent.
  Result<std::array<int, 3>> BuildTaskPart(const TaskRequest& req, OutputPump* output, std::array<UniqueFd, 2>* keep);

  // Spawns the shim and sends it the launch message: spec, BPF, `head` (stdio when cold, see
  // PooledHead when pooled), the bound fds and the v2 cgroup. v1 cgroups get the shim placed
  // before it can clone anything. A failure kills and reaps the shim.
  Result<ShimProcess> Spawn(const std::string& shim_path, const std::vector<int>& head,
                            const std::shared_ptr<std::vector<OpenBinding>>& bindings, cgroup::TaskCgroup* cgroup);

  // ---- The warm pool (docs/performance.md) ----
  // Marks the spec pooled and makes the socket the sandbox's PID 1 waits on for its task; the
  // returned end is the `head` to Spawn with (close it after).
  Result<UniqueFd> PooledHead();
  // The sandbox still waits for its one task.
  bool waiting() const { return static_cast<bool>(start_); }
  // Sends the task's part (spec().cwd/argv/envp, built by BuildTaskPart) and its stdio to the
  // waiting sandbox. `hold_exec`: the task stops before its exec until ReleaseExec().
  Result<void> SendTask(const std::array<int, 3>& stdio, bool hold_exec);
  bool held() const { return static_cast<bool>(held_); }
  // The sandbox gets no task (its part could not be built): PID 1 sees the start socket close.
  void Withdraw() { start_.Reset(); }
  // Lets a held task exec. `task_id` names it in the error when it is not held.
  Result<void> ReleaseExec(const std::string& task_id);

 private:
  std::shared_ptr<const Policy> policy_;
  std::shared_ptr<const SeccompFilter> filter_;
  uint32_t host_uid_ = 0, host_gid_ = 0;
  proto::LaunchSpec spec_;
  UniqueFd start_;  // pooled, until the task is sent: the socket PID 1 waits on for kStart
  UniqueFd held_;   // sent with hold_exec, until ReleaseExec: the task waits on it for kGo
};

}  // namespace cordon
