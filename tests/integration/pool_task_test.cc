// The warm pool's hand-over at the Task level: a sandbox built by Task::Prepare, handed its task by
// Task::Launch. With hold_exec, the task must not exec before ReleaseExec(), and a task withdrawn
// while held must never run: cordond relies on that to keep an admission decision's sync ahead of
// the task's exec. Runs rootful and rootless.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "common/syscalls.h"
#include "supervisor/policy_loader.h"
#include "supervisor/seccomp/filter.h"
#include "supervisor/task/task.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

// Where `step` sits in the task's reported setup steps (their count when it is missing).
size_t StepIndex(const Task& t, SetupStep step) {
  const auto& steps = t.timing().steps;
  auto it = std::find_if(steps.begin(), steps.end(), [&](const auto& m) { return m.step == step; });
  return static_cast<size_t>(it - steps.begin());
}

class PoolTask : public ::testing::Test {
 protected:
  void SetUp() override {
    REQUIRE_SANDBOX();
    rt_.shim = BuildPath("libexec/cordon/cordon-shim");
    rt_.data_dir = BuildPath("share/cordon");
    auto policy = LoadPolicy("default", rt_.data_dir);
    ASSERT_TRUE(policy) << policy.error().Message();
    policy_ = std::make_shared<const Policy>(std::move(*policy));
    FilterOptions fo;
    fo.data_dir = rt_.data_dir;
    auto filter = LoadSeccompFilter(policy_->seccomp_profile, fo);
    ASSERT_TRUE(filter) << filter.error().Message();
    filter_ = std::make_shared<const SeccompFilter>(std::move(*filter));
    int p[2];
    ASSERT_EQ(::pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
    out_r_ = p[0];
    out_w_ = p[1];
    null_ = ::open("/dev/null", O_RDWR | O_CLOEXEC);
  }
  void TearDown() override {
    for (int fd : {out_r_, out_w_, null_})
      if (fd >= 0) ::close(fd);
  }

  // Builds a pooled sandbox (no per-task cgroup: this is about the hand-over) and drives it until
  // it is ready.
  std::unique_ptr<Task> ReadySandbox() {
    auto id = AcquireIdentity(IdRange{});
    EXPECT_TRUE(id) << id.error().Message();
    if (!id) return nullptr;
    auto t = Task::Prepare(rt_, policy_, filter_, std::move(*id), TaskRequest{});
    EXPECT_TRUE(t) << t.error().Message();
    if (!t) return nullptr;
    const uint64_t give_up = sys::MonotonicNs() + 10'000'000'000ull;
    while (!(*t)->ready() && !(*t)->finished() && sys::MonotonicNs() < give_up) Drive(**t, 100);
    EXPECT_TRUE((*t)->ready()) << (*t)->outcome().message;
    return std::move(*t);
  }

  // One round of the task's event loop.
  static void Drive(Task& t, int timeout_ms) {
    std::vector<pollfd> p;
    for (int fd : t.Watches()) p.push_back({fd, POLLIN, 0});
    if (::poll(p.data(), p.size(), timeout_ms) <= 0) return;
    for (const auto& x : p)
      if (x.revents) t.OnReady(x.fd);
  }

  TaskRequest Request() const {
    TaskRequest r;
    r.argv = {"/bin/sh", "-c", "echo ran"};
    r.stdin_fd = null_;
    r.stdout_fd = out_w_;
    r.stderr_fd = null_;
    return r;
  }

  std::string ReadOut() const {
    char buf[64];
    ssize_t n = ::read(out_r_, buf, sizeof buf);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
  }

  RuntimePaths rt_;
  std::shared_ptr<const Policy> policy_;
  std::shared_ptr<const SeccompFilter> filter_;
  int out_r_ = -1, out_w_ = -1, null_ = -1;
};

TEST_F(PoolTask, HeldTaskWaitsForReleaseThenRuns) {
  auto t = ReadySandbox();
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->Launch(Request(), sys::MonotonicNs(), /*hold_exec=*/true));
  for (int i = 0; i < 5; ++i) Drive(*t, 100);  // half a second: plenty of time to run, were it free to
  EXPECT_EQ(ReadOut(), "") << "the held task ran before its release";
  EXPECT_FALSE(t->finished());
  ASSERT_TRUE(t->ReleaseExec());
  EXPECT_FALSE(t->ReleaseExec()) << "a second release";
  const uint64_t give_up = sys::MonotonicNs() + 10'000'000'000ull;
  while (!t->finished() && sys::MonotonicNs() < give_up) Drive(*t, 100);
  ASSERT_TRUE(t->finished());
  EXPECT_EQ(t->outcome().failure, FailureClass::kNone) << t->outcome().message;
  EXPECT_EQ(ReadOut(), "ran\n");
  // The task waited at await-go, after no-new-privs. The default profile allows that wait, so the
  // filter was loaded before it (its load overlaps cordond's fdatasync); exec came last.
  EXPECT_TRUE(filter_->allows_held_wait);
  auto at = [&](SetupStep s) { return StepIndex(*t, s); };
  EXPECT_LT(at(SetupStep::kNoNewPrivs), at(SetupStep::kSeccomp));
  EXPECT_LT(at(SetupStep::kSeccomp), at(SetupStep::kAwaitGo));
  EXPECT_LT(at(SetupStep::kAwaitGo), at(SetupStep::kExec));
  EXPECT_LT(static_cast<size_t>(at(SetupStep::kExec)), t->timing().steps.size());
}

// A filter that could refuse the wait for kGo (here: a conditional rule on recvfrom, which the
// wait calls) is loaded after it, as the last step before exec: a denial during the wait would be
// notified to a listener nobody reads yet, and the task would hang.
TEST_F(PoolTask, FilterThatCouldRefuseTheWaitIsLoadedAfterIt) {
  char dir[] = "/tmp/cordon-pool-filter-XXXXXX";
  ASSERT_NE(::mkdtemp(dir), nullptr);
  const std::string profile = std::string(dir) + "/recvfrom-conditional.json";
  FILE* f = std::fopen(profile.c_str(), "w");
  ASSERT_NE(f, nullptr);
  std::fputs(R"({"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["recvfrom"],
    "action": "SCMP_ACT_ERRNO", "args": [{"index": 3, "value": 74565, "op": "SCMP_CMP_EQ"}]}]})", f);
  std::fclose(f);
  FilterOptions fo;
  fo.data_dir = rt_.data_dir;
  fo.use_cache = false;
  auto filter = LoadSeccompFilter(profile, fo);
  ::unlink(profile.c_str());
  ::rmdir(dir);
  ASSERT_TRUE(filter) << filter.error().Message();
  EXPECT_FALSE(filter->allows_held_wait);
  filter_ = std::make_shared<const SeccompFilter>(std::move(*filter));

  auto t = ReadySandbox();
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->Launch(Request(), sys::MonotonicNs(), /*hold_exec=*/true));
  ASSERT_TRUE(t->ReleaseExec());
  const uint64_t give_up = sys::MonotonicNs() + 10'000'000'000ull;
  while (!t->finished() && sys::MonotonicNs() < give_up) Drive(*t, 100);
  ASSERT_TRUE(t->finished());
  EXPECT_EQ(t->outcome().failure, FailureClass::kNone) << t->outcome().message;
  EXPECT_EQ(ReadOut(), "ran\n");
  auto at = [&](SetupStep s) { return StepIndex(*t, s); };
  EXPECT_LT(at(SetupStep::kAwaitGo), at(SetupStep::kSeccomp));
  EXPECT_LT(at(SetupStep::kSeccomp), at(SetupStep::kExec));
  EXPECT_LT(static_cast<size_t>(at(SetupStep::kExec)), t->timing().steps.size());
}

TEST_F(PoolTask, TaskWithdrawnWhileHeldNeverRuns) {
  auto t = ReadySandbox();
  ASSERT_TRUE(t);
  ASSERT_TRUE(t->Launch(Request(), sys::MonotonicNs(), /*hold_exec=*/true));
  for (int i = 0; i < 5; ++i) Drive(*t, 100);
  t.reset();  // what cordond does when the decision's sync fails
  ::close(out_w_);
  out_w_ = -1;
  // Every writer of the pipe is gone (the sandbox with it): EOF, and nothing was written.
  pollfd p{out_r_, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 10000), 1);
  char c;
  EXPECT_EQ(::read(out_r_, &c, 1), 0) << "the withdrawn task wrote something";
}

TEST_F(PoolTask, LaunchIsRefusedUnlessTheSandboxIsReadyAndUnused) {
  auto t = ReadySandbox();
  ASSERT_TRUE(t);
  EXPECT_FALSE(t->ReleaseExec()) << "nothing is held yet";
  ASSERT_TRUE(t->Launch(Request(), sys::MonotonicNs()));
  auto again = t->Launch(Request(), sys::MonotonicNs());
  ASSERT_FALSE(again) << "a pooled sandbox served a second task";
  EXPECT_NE(again.error().Message().find("not a pooled sandbox waiting"), std::string::npos);
  const uint64_t give_up = sys::MonotonicNs() + 10'000'000'000ull;
  while (!t->finished() && sys::MonotonicNs() < give_up) Drive(*t, 100);
  EXPECT_EQ(ReadOut(), "ran\n");
}

}  // namespace
}  // namespace cordon::test
