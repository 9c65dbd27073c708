// WorkQueue (supervisor/work_queue.h): jobs run in order on one thread other than the caller's,
// what a job owns is destroyed there, and the destructor runs what was posted before it returns.
#include "supervisor/work_queue.h"

#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace cordon {
namespace {

TEST(WorkQueue, RunsJobsInOrderOnItsOwnThread) {
  std::mutex mu;
  std::vector<int> seen;
  std::vector<std::thread::id> threads;
  {
    WorkQueue q;
    for (int i = 0; i < 100; ++i)
      q.Post([&, i] {
        std::lock_guard lock(mu);
        seen.push_back(i);
        threads.push_back(std::this_thread::get_id());
      });
  }
  ASSERT_EQ(seen.size(), 100u);
  for (int i = 0; i < 100; ++i) EXPECT_EQ(seen[static_cast<size_t>(i)], i);
  for (const auto& t : threads) {
    EXPECT_NE(t, std::this_thread::get_id());
    EXPECT_EQ(t, threads[0]);
  }
}

// A pooled Task handed over to be destroyed must still be destroyed (it kills its sandbox) when
// the daemon goes: the destructor finishes the queue, and the owned object dies on the thread.
TEST(WorkQueue, DestructorRunsWhatWasPostedAndOwnedObjectsDieOnTheThread) {
  struct Owned {
    std::thread::id* died_on;
    ~Owned() { *died_on = std::this_thread::get_id(); }
  };
  std::thread::id died_on;
  int ran = 0;
  {
    WorkQueue q;
    q.Post([] { std::this_thread::sleep_for(std::chrono::milliseconds(100)); });
    for (int i = 0; i < 10; ++i) q.Post([&ran] { ++ran; });
    q.Post([owned = std::make_unique<Owned>(Owned{&died_on})] {});
  }
  EXPECT_EQ(ran, 10);
  EXPECT_NE(died_on, std::thread::id());
  EXPECT_NE(died_on, std::this_thread::get_id());
}

}  // namespace
}  // namespace cordon
