// supervisor/state_walker.h: a thread that measures state directories (DirectoryBytes) off
// cordond's event loop. A task with `state` bindings measures them when it ends; the walk costs
// two system calls per file, so a state tree of 200,000 files would hold the loop for a second
// (docs/daemon.md "The loop never waits"). `cordon run` has no walker and walks at once.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "supervisor/work_queue.h"

namespace cordon {

class StateWalker {
 public:
  // One request: the directories to measure, in order. Its event_fd() turns readable (EPOLLIN)
  // once every size is in; Take() then returns them.
  class Walk {
   public:
    int event_fd() const { return event_.Get(); }
    // The sizes (parallel to the directories), once event_fd() was readable; empty before.
    std::vector<uint64_t> Take();

   private:
    friend class StateWalker;
    UniqueFd event_;
    std::vector<UniqueFd> dirs_;  // the worker's own duplicates; closed by the worker after the walk
    std::mutex mu_;
    bool done_ = false;             // guarded by mu_
    std::vector<uint64_t> bytes_;   // guarded by mu_
  };

  StateWalker() = default;
  ~StateWalker() = default;  // finishes the walks queued, then stops the thread
  StateWalker(const StateWalker&) = delete;
  StateWalker& operator=(const StateWalker&) = delete;

  // Queues a walk of `dirs` (each an fd of a directory; duplicated here, the caller keeps its own).
  Result<std::shared_ptr<Walk>> Measure(const std::vector<int>& dirs);

 private:
  WorkQueue queue_;  // one walk after the other
};

}  // namespace cordon
