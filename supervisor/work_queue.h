// supervisor/work_queue.h: one thread that runs jobs in the order they were posted, for cordond's
// work that must not run on its event loop (docs/daemon.md "The loop never waits"): directory
// walks (StateWalker), disk syncs (daemon::SyncWorker), and the slow end of a sandbox (a cgroup
// kill that waits for the cgroup to empty, a pooled Task's destructor).
// A job reports back the way its owner chooses (an eventfd the loop watches, or nothing).
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>

namespace cordon {

class WorkQueue {
 public:
  // Starts the thread. It inherits the caller's signal mask: cordond blocks its signals before
  // it starts any, so that only the loop's signalfd takes them.
  WorkQueue();
  // Runs the jobs already posted, then stops the thread: what was handed over is done, not
  // dropped (a Task given to be destroyed still kills its sandbox).
  ~WorkQueue();
  WorkQueue(const WorkQueue&) = delete;
  WorkQueue& operator=(const WorkQueue&) = delete;

  // Queues `job`; it runs on the thread after every job posted before it. Jobs must not throw.
  // A job may own what it captures (a unique_ptr): it is destroyed on the thread, after the job.
  void Post(std::move_only_function<void()> job);

 private:
  void Loop();

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::move_only_function<void()>> jobs_;  // guarded by mu_
  bool stop_ = false;                       // guarded by mu_
  std::thread thread_;                      // last: started once the members above exist
};

}  // namespace cordon
