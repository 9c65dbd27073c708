// The /proc parsers of the supervisor's sandbox monitor (supervisor/task/sandbox_monitor.h), and one
// sample of a real process tree.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>

#include "supervisor/task/sandbox_monitor.h"

namespace cordon {
namespace {

TEST(SandboxMonitor, ParsesStatTimesPastACommWithSpacesAndParentheses) {
  // Fields 14-17: utime stime cutime cstime.
  auto t = ParseProcStatTimes("4242 (a) b (c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 7 3 20 5 20 0 1 0 12345 8000000 99 0");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->self_ticks, 10u);
  EXPECT_EQ(t->children_ticks, 25u);
  EXPECT_EQ(t->threads, 1u);
  EXPECT_EQ(t->rss_pages, 99u);
  EXPECT_FALSE(ParseProcStatTimes("4242 (x) S 1 2 3"));
  EXPECT_FALSE(ParseProcStatTimes("garbage"));
}

TEST(SandboxMonitor, ParsesStatmResidentPages) {
  EXPECT_EQ(ParseStatmResidentPages("5000 1234 300 10 0 800 0\n"), 1234u);
  EXPECT_FALSE(ParseStatmResidentPages("5000"));
}

TEST(SandboxMonitor, ParsesSmapsRollupPss) {
  EXPECT_EQ(ParseSmapsRollupPssBytes("55d0c0000000-7ffd00000000 ---p 00000000 00:00 0  [rollup]\n"
                                     "Rss:                9000 kB\nPss:                4321 kB\nPss_Anon: 100 kB\n"),
            4321u * 1024);
  EXPECT_FALSE(ParseSmapsRollupPssBytes("Rss: 1 kB\n"));
}

// A child (the "shim") with a grandchild (the "PID 1") that touches 64 MiB: the sample counts the
// grandchild and not the child itself.
TEST(SandboxMonitor, SamplesTheDescendantsOfTheShim) {
  ASSERT_TRUE(SandboxMonitorAvailable());
  int ready[2];
  ASSERT_EQ(::pipe(ready), 0);
  pid_t shim = ::fork();
  if (shim == 0) {
    ::setpgid(0, 0);  // one group, so the test kills both
    if (::fork() == 0) {
      char* p = static_cast<char*>(::malloc(64 << 20));
      for (size_t i = 0; i < (64u << 20); i += 4096) p[i] = 1;
      (void)!::write(ready[1], "r", 1);
      ::pause();
      _exit(0);
    }
    ::pause();
    _exit(0);
  }
  ::setpgid(shim, shim);
  char c;
  ASSERT_EQ(::read(ready[0], &c, 1), 1);
  auto s = SampleSandbox(shim);
  ASSERT_TRUE(s) << s.error().Message();
  EXPECT_EQ(s->processes, 1u);
  EXPECT_GE(s->memory_bytes, 64u << 20);
  EXPECT_LT(s->memory_bytes, 96u << 20);
  ::kill(-shim, SIGKILL);
  ::waitpid(shim, nullptr, 0);
  EXPECT_FALSE(SampleSandbox(shim));
}

}  // namespace
}  // namespace cordon
