// supervisor/daemon/sync_worker.h: a thread that makes a file durable (fdatasync) off cordond's
// event loop. The loop asks for a sync and gets a ticket; the worker syncs once for every ticket
// asked before it started (a group commit), then makes its eventfd readable. cordond uses it
// for the write-ahead log of its state database: a refused Submit is answered once its decision
// is on disk, without the loop waiting for the disk (docs/daemon.md "The loop never waits").
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "supervisor/work_queue.h"

namespace cordon::daemon {

class SyncWorker {
 public:
  // Opens `path` (it must exist) and starts the thread. fdatasync makes the file's data durable
  // whichever fd of it was used to write (fsync(2)).
  static Result<std::unique_ptr<SyncWorker>> Start(const std::string& path);
  ~SyncWorker() = default;  // makes the syncs asked for, then stops the thread

  // A ticket: durable once a Completion with synced >= ticket has come back.
  uint64_t Request();
  // Readable (EPOLLIN) when syncs have completed; Collect() then reads them.
  int event_fd() const { return event_.Get(); }
  struct Completion {
    uint64_t synced = 0;  // every ticket <= this one was covered by this sync
    int err = 0;          // 0, or fdatasync's errno: those tickets are not durable
  };
  std::vector<Completion> Collect();

 private:
  SyncWorker() = default;
  void SyncFor(uint64_t ticket);  // on the queue's thread

  UniqueFd file_, event_;
  std::mutex mu_;
  uint64_t requested_ = 0;  // guarded by mu_
  uint64_t synced_ = 0;     // guarded by mu_: every ticket <= this one is covered
  std::vector<Completion> done_;  // guarded by mu_
  WorkQueue queue_;         // last: its thread stops before the members above go
};

}  // namespace cordon::daemon
