// supervisor/task/task.h: one task's life on the supervisor side, as a state machine driven by an
// event loop: the launcher (launcher.h) builds and starts the sandbox; the running task follows the
// shim's records and owns small parts with one job each: the shim process (shim_process.h), the
// output pump (output_pump.h), the seccomp watch on the notifier thread sharing the filter's one
// parsed profile (seccomp/task_watch.h), cgroup or monitor accounting (accounting.h), the egress
// proxy (task_egress.h) and the state measurement (state_measure.h). Its evidence is built from a
// plain report (Report(), evidence/report.h). Event-driven so that one loop (`cordon run`'s,
// follow.h; the daemon's epoll loop) can drive many tasks: watch Watches(), call OnReady().
#pragma once

#include <linux/seccomp.h>
#include <sys/resource.h>
#include <sys/types.h>

#include <array>
#include <memory>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <vector>

#include "common/protocol.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "common/bindings/grant.h"
#include "supervisor/cgroup/layout.h"
#include "supervisor/cgroup/task_cgroup.h"
#include "supervisor/egress/proxy.h"
#include "supervisor/evidence/outcome.h"
#include "supervisor/evidence/report.h"
#include "supervisor/identity/identity.h"
#include "supervisor/policy.h"
#include "supervisor/seccomp/notifier.h"
#include "supervisor/seccomp/task_watch.h"
#include "supervisor/seccomp/filter.h"
#include "supervisor/state_walker.h"
#include "supervisor/task/accounting.h"
#include "supervisor/task/launcher.h"
#include "supervisor/task/outcome.h"
#include "supervisor/task/output_pump.h"
#include "supervisor/task/shim_process.h"
#include "supervisor/task/state_measure.h"
#include "supervisor/task/task_egress.h"

namespace cordon {

// One denied syscall, as the supervisor answered it (docs/evidence.md seccomp.denied).
using SeccompDenial = seccomp::Denial;

class Task {
 public:
  // Builds the launch spec, spawns the shim and sends it everything. `received_ns` anchors timing.
  // The task keeps `policy` and `filter` alive for its whole life (a daemon may reload them).
  // `cgroups`: the host's layout, prepared once (cgroup::DetectLayout + PrepareBase); nullptr or a
  // layout with no_cgroup_reason set means no per-task cgroup: limits fall back to rlimits and
  // the evidence says so.
  static Result<std::unique_ptr<Task>> Start(const RuntimePaths& rt, std::shared_ptr<const Policy> policy,
                                             std::shared_ptr<const SeccompFilter> filter, TaskIdentity identity,
                                             const TaskRequest& req, uint64_t received_ns,
                                             const cgroup::Layout* cgroups = nullptr);
  ~Task();

  // ---- Pooled sandboxes (cordond's warm pool, docs/performance.md) ----
  // Builds a sandbox ahead of its task: cgroup, namespaces, mounts, bindings and BPF, all as Start
  // would. `shape` gives what belongs to the sandbox rather than the task (bindings, tty, the test
  // hook); argv, env, cwd and stdio come with Launch(). Drive it like a running task (Watches,
  // OnReady) until ready(); if it fails or dies first, finished() says so and outcome() why.
  static Result<std::unique_ptr<Task>> Prepare(const RuntimePaths& rt, std::shared_ptr<const Policy> policy,
                                               std::shared_ptr<const SeccompFilter> filter, TaskIdentity identity,
                                               const TaskRequest& shape, const cgroup::Layout* cgroups = nullptr);
  bool pooled() const { return pooled_; }
  // The bindings this sandbox was built with (nullptr: none); the daemon hashes what the task runs from them.
  const std::vector<OpenBinding>* bindings() const { return req_.bindings.get(); }
  // A pooled sandbox is built and waits for its task (PID 1 blocks before the task's clone).
  bool ready() const { return ready_ && !launched_ && !settled_; }
  bool launched() const { return !pooled_ || launched_; }
  // Hands the waiting sandbox its one task; from here on it is an ordinary running task. The
  // request's bindings, tty and test hook are ignored: the sandbox keeps those it was built with.
  // `hold_exec`: the task gets as far as its seccomp filter and waits for ReleaseExec() (the
  // caller makes something durable meanwhile); destroying or killing the task withdraws it.
  Result<void> Launch(const TaskRequest& req, uint64_t received_ns, bool hold_exec = false);
  Result<void> ReleaseExec();
  // Memory charged to the sandbox's cgroup right now (memory.current, v1 memory.usage_in_bytes),
  // or nullopt without a memory cgroup.
  std::optional<uint64_t> MemoryBytes() const;

  // ---- Driving a task from any event loop (poll, epoll) ----
  // The fds the task wants watched right now (all for POLLIN); the set changes as the task runs
  // (the seccomp listener appears after exec, pipes close), so re-read it after every event.
  std::vector<int> Watches() const;
  // The caller's fds that forwarded output waits on (watch for POLLOUT; OnReady(fd) when ready).
  // Optional: a loop that does not watch them gets the same through a 10 ms retry deadline.
  std::vector<int> WriteWatches() const;
  // Something happened on `fd` (one of Watches()).
  void OnReady(int fd);
  // CLOCK_MONOTONIC ns of the next deadline (wall clock, CPU budget check, kill grace), 0 if none.
  uint64_t NextDeadlineNs() const;
  // Call when NextDeadlineNs() has passed.
  void OnDeadline(uint64_t now_ns);
  // The kill-switch (wip/govc): the wall clock (max_wall_ms) stops while the task is frozen.
  void PauseWallClock(uint64_t now_ns) {
    if (wall_deadline_ns_) wall_paused_left_ns_ = wall_deadline_ns_ > now_ns ? wall_deadline_ns_ - now_ns : 1;
    wall_deadline_ns_ = 0;
  }
  void ResumeWallClock(uint64_t now_ns) {
    if (wall_paused_left_ns_) wall_deadline_ns_ = now_ns + wall_paused_left_ns_;
    wall_paused_left_ns_ = 0;
  }
  // True once the outcome is settled and nothing is left to clean up (the shim is reaped and the
  // cgroup removed). A loop may stop at finished() when it does not own cleanup (the CLI exits).
  bool done() const {
    return finished_ && shim_.reaped() && (defer_cgroup_removal_ || !accounting_.has_cgroup()) && output_.idle();
  }
  // cordond: the cgroup is removed by the destructor, which the daemon runs on its chores thread,
  // instead of when the shim is reaped: its rmdirs (4 directories on a hybrid host) stay off the
  // loop and out of the time to the Wait reply. done() no longer waits for them.
  void DeferCgroupRemoval() { defer_cgroup_removal_ = true; }

  int control_fd() const { return shim_.control_fd(); }
  // The task's seccomp notifications are answered on the notifier thread
  // (supervisor/seccomp/notifier.h), not by the loop that drives the task.
  int shim_pidfd() const { return shim_.pidfd(); }
  // The outcome is settled: the sandbox's PID 1 reported that every process of it is gone (or the
  // shim died). The shim may still be finishing its own exit; shim_reaped() tells.
  bool finished() const { return finished_; }
  // Secrets and identity tokens the egress proxy adds to this task's requests (egress/secret.h);
  // given to the proxy when it starts, or at once if it runs.
  void SetEgressCredentials(std::shared_ptr<const egress::Credentials> c) { egress_.SetCredentials(std::move(c)); }
  // cordond: measure the task's `state` directories on `walker`'s thread when it ends, not on the
  // caller's; finished() then waits for the sizes (the walk's fd is among Watches()). Without a
  // walker (`cordon run`) the end measures them at once.
  void MeasureStateWith(StateWalker* walker) { state_.UseWalker(walker); }
  bool shim_reaped() const { return shim_.reaped(); }

  // Reads every pending record from the shim. Returns false when the control socket closed.
  bool OnControlReadable();
  // The shim exited: reap it, and settle the outcome if no exit record did.
  void OnShimExited();
  // Forwards a signal to the task (through the shim and the sandbox's PID 1).
  void ForwardSignal(int signo);
  // Kills the whole sandbox now (the shim; its PID 1 follows through PDEATHSIG and takes the PID
  // namespace with it), recording why.
  void Kill(FailureClass why, const std::string& message);

  const std::string& id() const { return id_; }
  const TaskOutcome& outcome() const { return outcome_; }
  const TaskTiming& timing() const { return timing_; }
  // Everything the evidence says about the task, valid once finished() (supervisor/evidence/).
  TaskReport Report() const;
  // The evidence record (docs/evidence.md), valid once finished(): as JSON text, or as the object
  // (a daemon adds its admission block before serialising it once). BuildEvidence(Report()).
  std::string EvidenceJson() const;
  nlohmann::json Evidence() const;

 private:
  Task() = default;
  // The launcher's first step and the task's accounting (the cgroup, made before anything of the
  // task exists), shared by Start and Prepare (task_start.cc).
  static Result<std::unique_ptr<Task>> Create(std::shared_ptr<const Policy> policy,
                                              std::shared_ptr<const SeccompFilter> filter, TaskIdentity identity,
                                              const cgroup::Layout* cgroups, const TaskRequest& req);
  Result<void> Spawn(const RuntimePaths& rt, const std::vector<int>& head);
  void StartClocks(uint64_t from);
  void HandleRecord(const void* buf, size_t len, std::vector<UniqueFd>* fds);
  void OnExecOk(const proto::ExecOkRecord& r, std::vector<UniqueFd>* fds);
  void WatchSeccomp(UniqueFd listener);  // hands the listener to the notifier thread
  void EndSeccompWatch();                // takes the denial record back (the task is gone)
  void Settle();
  void Finish();
  void OnOutputOverBudget();  // the pump cut the output: stop the task

  // What the task is, fixed at the start.
  std::string id_;
  std::shared_ptr<const Policy> policy_;
  std::shared_ptr<const SeccompFilter> filter_;
  TaskIdentity identity_;
  TaskRequest req_;
  TaskLauncher launcher_;  // the spec, and a pooled sandbox's sockets until its task runs

  // The parts, one job each.
  ShimProcess shim_;           // the outer shim: control socket, pidfd, reaping
  OutputPump output_;          // stdout/stderr through pipes of the task's own, when they are
  TaskAccounting accounting_;  // the cgroup or the monitor: budgets held and counted
  seccomp::TaskWatch seccomp_; // the listener on the notifier thread; the record once ended
  TaskEgress egress_;          // the egress proxy and, once finished, its records
  StateMeasure state_;         // the state bindings' sizes once finished

  // The state machine: pooled -> ready -> launched -> exec'd -> settled -> finished (-> reaped).
  bool pooled_ = false, ready_ = false, launched_ = false;
  bool exec_ok_ = false;
  bool settled_ = false;   // the sandbox is gone and the outcome settled (Finish)
  bool finished_ = false;  // settled, and the state directories measured
  bool defer_cgroup_removal_ = false;  // DeferCgroupRemoval
  uint64_t wall_deadline_ns_ = 0, kill_grace_ns_ = 0;
  uint64_t wall_paused_left_ns_ = 0;  // PauseWallClock: what was left of max_wall_ms
  std::optional<proto::ExitRecord> exit_;
  TaskTiming timing_;
  TaskOutcome outcome_;
  std::optional<FailureClass> killed_;
  std::string kill_message_;
};

// Runs one task to completion on the calling thread: forwards SIGINT/SIGTERM/SIGHUP/SIGQUIT to it,
// enforces the policy's limits, and returns the finished task (its cgroup removed). `cordon run`.
// `pooled`: build the sandbox with Prepare() and hand it the task with Launch() once ready, the
// path of cordond's warm pool (the test build tests/ cordon-pooled runs the CLI's tests through it).
Result<std::unique_ptr<Task>> RunTaskToCompletion(const RuntimePaths& rt, std::shared_ptr<const Policy> policy,
                                                  std::shared_ptr<const SeccompFilter> filter,
                                                  const TaskRequest& req, const IdRange& ids, uint64_t received_ns,
                                                  const cgroup::Layout* cgroups = nullptr, bool pooled = false);

}  // namespace cordon
