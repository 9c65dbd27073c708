// supervisor/task/run_loop.cc: one task, driven to completion on the calling thread (`cordon run`).
#include "common/syscalls.h"
#include "supervisor/task/follow.h"
#include "supervisor/task/forwarded_signals.h"
#include "supervisor/task/task.h"

namespace cordon {

Result<std::unique_ptr<Task>> RunTaskToCompletion(const RuntimePaths& rt, std::shared_ptr<const Policy> policy,
                                                  std::shared_ptr<const SeccompFilter> filter,
                                                  const TaskRequest& req, const IdRange& ids, uint64_t received_ns,
                                                  const cgroup::Layout* cgroups, bool pooled) {
  CORDON_ASSIGN_OR_RETURN(TaskIdentity identity, AcquireIdentity(ids));
  // Signals that a user sends to `cordon run` are meant for the task: collected on a signalfd and
  // forwarded. Blocked before the shim starts so none is lost in between.
  ForwardedSignals signals;
  if (signals.fd() < 0) return Fail(signals.errno_value(), "signalfd");

  std::unique_ptr<Task> task;
  if (pooled) {
    CORDON_ASSIGN_OR_RETURN(task, Task::Prepare(rt, std::move(policy), std::move(filter), std::move(identity), req,
                                                cgroups));
  } else {
    CORDON_ASSIGN_OR_RETURN(task, Task::Start(rt, std::move(policy), std::move(filter), std::move(identity), req,
                                              received_ns, cgroups));
  }
  // Without a cgroup to remove, the outcome is all we wait for: the shim's own exit (the
  // namespaces' teardown) is not the caller's wait. With one, stay until it is removed.
  FollowOptions follow;
  follow.sigfd = signals.fd();
  follow.wait_for_cleanup = cgroups && cgroups->no_cgroup_reason.empty();
  follow.after_round = [&]() -> Result<void> {
    if (!task->launched() && task->ready()) {
      // Held and released at once: the pooled tests go through cordond's whole hand-over.
      CORDON_TRY(task->Launch(req, sys::MonotonicNs(), /*hold_exec=*/true));
      CORDON_TRY(task->ReleaseExec());
    }
    return {};
  };
  CORDON_TRY(FollowTask(*task, follow));
  return task;
}

}  // namespace cordon
