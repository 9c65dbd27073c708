// supervisor/task/task_start.cc: a task's start, cold (Start) or through the warm pool (Prepare,
// then Launch and ReleaseExec): the launcher (launcher.h) builds the spec and spawns the shim, and
// the running task takes over the parts it produced.
#include <sys/stat.h>

#include "common/syscalls.h"
#include "supervisor/task/task.h"

namespace cordon {

Result<std::unique_ptr<Task>> Task::Create(std::shared_ptr<const Policy> policy,
                                           std::shared_ptr<const SeccompFilter> filter, TaskIdentity identity,
                                           const cgroup::Layout* cgroups, const TaskRequest& req) {
  std::unique_ptr<Task> t(new Task());
  t->id_ = NewTaskId();
  CORDON_ASSIGN_OR_RETURN(t->launcher_, TaskLauncher::Create(policy, filter, identity));
  t->policy_ = std::move(policy);
  t->filter_ = std::move(filter);
  t->identity_ = std::move(identity);
  // The task's cgroup, created and limited before anything of the task exists, or the monitor.
  TaskAccounting::Options ao{.per_process_limits = req.per_process_limits, .no_monitor = req.no_monitor};
  CORDON_ASSIGN_OR_RETURN(t->accounting_, TaskAccounting::Create(*t->policy_, cgroups, "task-" + t->id_, ao,
                                                                 &t->launcher_.spec()));
  if (t->accounting_.has_cgroup()) t->timing_.cgroup = sys::MonotonicNs();
  return t;
}

Result<void> Task::Spawn(const RuntimePaths& rt, const std::vector<int>& head) {
  CORDON_ASSIGN_OR_RETURN(shim_, launcher_.Spawn(rt.shim, head, req_.bindings, accounting_.cgroup()));
  timing_.spawned = shim_.spawned_ns();
  return {};
}

// The task's clocks start: wall-clock limit and CPU budget checks count from `from`.
void Task::StartClocks(uint64_t from) {
  if (policy_->limits.max_wall_ms) wall_deadline_ns_ = from + policy_->limits.max_wall_ms * 1000000ull;
  accounting_.StartClocks(from);
}

Result<std::unique_ptr<Task>> Task::Start(const RuntimePaths& rt, std::shared_ptr<const Policy> policy,
                                          std::shared_ptr<const SeccompFilter> filter, TaskIdentity identity,
                                          const TaskRequest& req, uint64_t received_ns,
                                          const cgroup::Layout* cgroups) {
  const uint64_t admitted = sys::MonotonicNs();
  CORDON_ASSIGN_OR_RETURN(auto t, Create(std::move(policy), std::move(filter), std::move(identity), cgroups, req));
  t->timing_.received = received_ns;
  t->timing_.admitted = admitted;
  t->req_ = req;
  CORDON_TRY(t->launcher_.BuildSandbox(req));
  std::array<UniqueFd, 2> pipes;
  CORDON_ASSIGN_OR_RETURN(auto stdio, t->launcher_.BuildTaskPart(req, &t->output_, &pipes));
  CORDON_TRY(t->Spawn(rt, {stdio[0], stdio[1], stdio[2]}));
  t->StartClocks(t->timing_.spawned);
  return t;
}

Result<std::unique_ptr<Task>> Task::Prepare(const RuntimePaths& rt, std::shared_ptr<const Policy> policy,
                                            std::shared_ptr<const SeccompFilter> filter, TaskIdentity identity,
                                            const TaskRequest& shape, const cgroup::Layout* cgroups) {
  const uint64_t prepared = sys::MonotonicNs();
  CORDON_ASSIGN_OR_RETURN(auto t, Create(std::move(policy), std::move(filter), std::move(identity), cgroups, shape));
  t->pooled_ = true;
  t->timing_.prepared = prepared;
  t->req_.bindings = shape.bindings;
  t->req_.tty = shape.tty;
  CORDON_TRY(t->launcher_.BuildSandbox(shape));
  CORDON_ASSIGN_OR_RETURN(UniqueFd peer, t->launcher_.PooledHead());
  CORDON_TRY(t->Spawn(rt, {peer.Get()}));
  return t;
}

Result<void> Task::Launch(const TaskRequest& req, uint64_t received_ns, bool hold_exec) {
  if (!pooled_ || !ready_ || !launcher_.waiting())
    return FailMsg("task " + id_ + " is not a pooled sandbox waiting for its task", "take a ready one from the pool");
  timing_.received = received_ns;
  timing_.admitted = sys::MonotonicNs();
  // The sandbox's shape stays what it was built with; the request brings the rest.
  auto bindings = req_.bindings;
  const bool tty = req_.tty;
  req_ = req;
  req_.bindings = std::move(bindings);
  req_.tty = tty;
  std::array<UniqueFd, 2> pipes;
  launched_ = true;
  auto stdio = launcher_.BuildTaskPart(req_, &output_, &pipes);
  if (!stdio) {
    // One task per sandbox: the sandbox that could not take this one takes no other.
    launcher_.Withdraw();
    return std::unexpected(std::move(stdio).error());
  }
  CORDON_TRY(launcher_.SendTask(*stdio, hold_exec));
  StartClocks(timing_.admitted);
  return {};
}

Result<void> Task::ReleaseExec() { return launcher_.ReleaseExec(id_); }

}  // namespace cordon
