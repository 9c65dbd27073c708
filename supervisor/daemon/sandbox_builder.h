// supervisor/daemon/sandbox_builder.h: builds sandboxes off cordond's event loop (issue 14, docs/
// daemon.md "The loop never waits"). Building one (identity lease, bindings opened, task cgroup
// created and limited, rootfs planned, the shim spawned and sent its launch message) takes some
// ms of system calls, and opening a socket binding waits for its service to accept: on the loop,
// every other caller waited behind each build. The loop posts a build with the serial it will
// know it by and goes on; the build runs on the builder's thread and is handed back through an
// eventfd the loop watches. The built Task is the loop's from Collect() on: the builder only ever
// touches a Task before it hands it back.
//
// The shims are children of the builder's thread. The outer shim's PR_SET_PDEATHSIG fires when
// the thread that spawned it ends, so the thread lives as long as the builder (the daemon).
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "common/bindings/grant.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "supervisor/task/task.h"
#include "supervisor/work_queue.h"

namespace cordon::daemon {

// One build's result, under the serial it was posted with.
struct BuiltSandbox {
  uint64_t serial = 0;
  std::unique_ptr<Task> task;                          // set unless `error` is
  std::shared_ptr<std::vector<OpenBinding>> bindings;  // as opened for the sandbox
  std::optional<Error> error;
  bool bad_input = false;  // `error` is the request's (a binding refused), not the host's
};

class SandboxBuilder {
 public:
  using Job = std::move_only_function<BuiltSandbox()>;
  static Result<std::unique_ptr<SandboxBuilder>> Start();
  ~SandboxBuilder() = default;  // finishes the builds posted; Tasks not collected are destroyed (killed)

  // Runs `job` on the builder's thread. Builds are taken in turns by `owner` (cordond: the peer
  // uid, or kPoolOwner), each owner's in the order posted, so that one owner's burst of builds
  // delays another owner's build by at most the one under way. What the job reads must stay valid
  // until its result is collected; it must not touch the loop's state.
  void Post(uint64_t serial, uint64_t owner, Job job);
  static constexpr uint64_t kPoolOwner = uint64_t{1} << 32;  // no uid
  // Readable (EPOLLIN) when builds are done; Collect() then takes them.
  int event_fd() const { return event_.Get(); }
  std::vector<BuiltSandbox> Collect();

 private:
  SandboxBuilder() = default;

  struct Posted {
    uint64_t serial = 0;
    Job job;
  };
  void RunNext();  // on the queue's thread: the next owner's oldest build

  UniqueFd event_;
  std::mutex mu_;
  std::map<uint64_t, std::deque<Posted>> waiting_;  // guarded by mu_: by owner
  uint64_t last_owner_ = 0;                          // guarded by mu_: whose build ran last
  std::vector<BuiltSandbox> done_;  // guarded by mu_
  WorkQueue queue_;                 // last: its thread stops before the members above go
};

}  // namespace cordon::daemon
