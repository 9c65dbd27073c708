// SandboxBuilder (supervisor/daemon/sandbox_builder.h): builds run on its thread, come back through
// its eventfd under the serial they were posted with, and are taken in turns by owner, so that one
// owner's burst of builds delays another owner's build by at most the build under way.
#include "supervisor/daemon/sandbox_builder.h"

#include <gtest/gtest.h>
#include <poll.h>

#include <future>
#include <thread>
#include <vector>

namespace cordon::daemon {
namespace {

// Collects until `n` builds are back (each wake-up of the eventfd may bring several).
std::vector<BuiltSandbox> CollectN(SandboxBuilder& b, size_t n) {
  std::vector<BuiltSandbox> out;
  while (out.size() < n) {
    pollfd p{b.event_fd(), POLLIN, 0};
    if (::poll(&p, 1, 10000) != 1) break;  // bounds a hang only
    for (auto& built : b.Collect()) out.push_back(std::move(built));
  }
  return out;
}

// A build that fails at once (no sandbox), so that only the order is under test.
SandboxBuilder::Job Failing(std::thread::id* ran_on = nullptr) {
  return [ran_on] {
    if (ran_on) *ran_on = std::this_thread::get_id();
    BuiltSandbox b;
    b.error = Error{0, "no sandbox", ""};
    return b;
  };
}

TEST(SandboxBuilder, BuildsComeBackOffTheCallersThreadUnderTheirSerial) {
  auto b = SandboxBuilder::Start();
  ASSERT_TRUE(b) << b.error().Message();
  std::thread::id ran_on;
  (*b)->Post(42, 1000, Failing(&ran_on));
  auto got = CollectN(**b, 1);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].serial, 42u);
  EXPECT_TRUE(got[0].error.has_value());
  EXPECT_NE(ran_on, std::this_thread::get_id());
}

// Owner 1 posts a burst of four while its first build is under way; owner 2 then posts one. Owner
// 2's build is next, not fifth.
TEST(SandboxBuilder, OwnersTakeTurns) {
  auto b = SandboxBuilder::Start();
  ASSERT_TRUE(b) << b.error().Message();
  std::promise<void> started, release;
  std::shared_future<void> go = release.get_future().share();
  (*b)->Post(1, 1, [&started, go] {
    started.set_value();
    go.wait();  // held until every other build is posted
    BuiltSandbox out;
    out.error = Error{0, "no sandbox", ""};
    return out;
  });
  started.get_future().wait();
  for (uint64_t serial : {2, 3, 4}) (*b)->Post(serial, 1, Failing());
  (*b)->Post(10, 2, Failing());
  release.set_value();
  auto got = CollectN(**b, 5);
  ASSERT_EQ(got.size(), 5u);
  std::vector<uint64_t> order;
  for (const auto& built : got) order.push_back(built.serial);
  EXPECT_EQ(order, (std::vector<uint64_t>{1, 10, 2, 3, 4}));
}

}  // namespace
}  // namespace cordon::daemon
