// Landlock mode's lifetime and signals (docs/landlock.md "Lifetime"): without a PID namespace, the
// task's descendants are held by its keeper (a child subreaper) and, where one can be made, a
// cgroup. Nothing of the task outlives `cordon run`, whether the task ends, or `cordon run` is
// SIGKILLed, or its keeper is; the signals `cordon run` gets reach the task; and the messages and
// exit codes are full mode's. Each test runs both ways of taking user namespaces away
// (landlock_support.h): "sysctl" has no cgroup (the keeper alone), "seccomp" rootful has one.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/landlock_support.h"
#include "tests/support/background.h"
#include "tests/support/host.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

// Processes whose command line is `sleep MARK`.
std::vector<pid_t> Sleepers(const std::string& mark) {
  std::vector<pid_t> found;
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream f(e.path() / "cmdline");
    std::string cmd, arg;
    std::getline(f, cmd, '\0');
    std::getline(f, arg, '\0');
    if (cmd == "sleep" && arg == mark) found.push_back(std::atoi(e.path().filename().c_str()));
  }
  return found;
}

// Waits (up to 10 s) until no `sleep MARK` is left; returns those still there.
std::vector<pid_t> SurvivorsAfterWaiting(const std::string& mark) {
  std::vector<pid_t> left = Sleepers(mark);
  for (int i = 0; i < 1000 && !left.empty(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    left = Sleepers(mark);
  }
  for (pid_t p : left) ::kill(p, SIGKILL);  // not to leave them to the next test
  return left;
}

// A task that leaves three descendants of kinds a process group or session kill would miss: one
// in the task's group, one in a session of its own, one whose parent is already gone (an orphan,
// reparented at once). Prints "ready" once all three run.
std::vector<std::string> ScatteringTask(const std::string& mark) {
  const std::string s = "sleep " + mark + " >/dev/null 2>&1";
  return {"/bin/sh", "-c",
          s + " & setsid " + s + " & (" + s + " &); "
              "while [ $(pgrep -c -x -f 'sleep " + mark + "') -lt 3 ]; do sleep 0.05; done; echo ready; exec sleep " +
              mark};
}

bool HelperWorks(const std::string& mode) {
  RunResult r = WithoutUserns(mode, {"--version"});
  return !(r.exit_code == 126 && r.err.rfind("take_userns_away:", 0) == 0);
}

class LandlockLifetime : public ::testing::TestWithParam<const char*> {};

TEST_P(LandlockLifetime, NothingOutlivesTheTask) {
  REQUIRE_LANDLOCK(1);
  if (!HelperWorks(GetParam())) GTEST_SKIP() << "take_userns_away " << GetParam() << " refused here";
  const std::string mark = std::string("654.81") + (GetParam()[1] == 'y' ? "1" : "2");
  std::vector<std::string> task = ScatteringTask(mark);
  task.back().replace(task.back().rfind("exec sleep"), std::string::npos, "exit 0");
  std::vector<std::string> args = {"run", "--allow-landlock-mode", "--"};
  args.insert(args.end(), task.begin(), task.end());
  RunResult r = WithoutUserns(GetParam(), args);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "ready\n") << r.err;
  const std::vector<pid_t> left = SurvivorsAfterWaiting(mark);
  EXPECT_TRUE(left.empty()) << left.size() << " of the task's descendants outlived it, e.g. pid " << left.front();
}

// SIGKILL leaves `cordon run` no time to clean up: its keeper sees the control pipe close and
// kills the task's cgroup (where there is one) and every descendant.
TEST_P(LandlockLifetime, NothingOutlivesASigkilledCordonRun) {
  REQUIRE_LANDLOCK(1);
  if (!HelperWorks(GetParam())) GTEST_SKIP() << "take_userns_away " << GetParam() << " refused here";
  const std::string mark = std::string("654.82") + (GetParam()[1] == 'y' ? "1" : "2");
  std::vector<std::string> args = {"run", "--allow-landlock-mode", "--"};
  for (const auto& a : ScatteringTask(mark)) args.push_back(a);
  Background run(WithoutUsernsArgv(GetParam(), args));
  ASSERT_EQ(run.ReadLine().value_or("(nothing)"), "ready");
  // The task itself becomes the fourth once its shell has exec'd, just after "ready".
  for (int i = 0; i < 1000 && Sleepers(mark).size() < 4; ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_EQ(Sleepers(mark).size(), 4u) << "the task and its three descendants should be running";
  ::kill(run.pid(), SIGKILL);  // the helper exec'd cordon: this is `cordon run` itself
  run.Wait();
  const std::vector<pid_t> left = SurvivorsAfterWaiting(mark);
  EXPECT_TRUE(left.empty()) << left.size() << " of the task's processes outlived a SIGKILLed cordon run, e.g. pid "
                            << left.front();
}

// The keeper killed: the task dies by its parent-death signal, its descendants come to `cordon
// run` (a subreaper too), which kills them and says what happened.
TEST_P(LandlockLifetime, NothingOutlivesAKilledKeeper) {
  REQUIRE_LANDLOCK(1);
  if (!HelperWorks(GetParam())) GTEST_SKIP() << "take_userns_away " << GetParam() << " refused here";
  const std::string mark = std::string("654.83") + (GetParam()[1] == 'y' ? "1" : "2");
  std::vector<std::string> args = {"run", "--allow-landlock-mode", "--"};
  for (const auto& a : ScatteringTask(mark)) args.push_back(a);
  Background run(WithoutUsernsArgv(GetParam(), args));
  ASSERT_EQ(run.ReadLine().value_or("(nothing)"), "ready");
  // The keeper is `cordon run`'s one child.
  std::ifstream children("/proc/" + std::to_string(run.pid()) + "/task/" + std::to_string(run.pid()) + "/children");
  pid_t keeper = 0;
  children >> keeper;
  ASSERT_GT(keeper, 0) << "no child of cordon run found";
  ::kill(keeper, SIGKILL);
  Background::Ended e = run.Wait();
  EXPECT_EQ(e.exit_code, 125) << e.err;
  EXPECT_NE(e.err.find("the landlock-mode keeper ended without a report"), std::string::npos) << e.err;
  const std::vector<pid_t> left = SurvivorsAfterWaiting(mark);
  EXPECT_TRUE(left.empty()) << left.size() << " of the task's processes outlived its killed keeper, e.g. pid "
                            << left.front();
}

// What `cordon run` receives, the task receives (full mode: Sandbox.SignalsToCordonReachTheTask).
TEST_P(LandlockLifetime, SignalsToCordonReachTheTask) {
  REQUIRE_LANDLOCK(1);
  if (!HelperWorks(GetParam())) GTEST_SKIP() << "take_userns_away " << GetParam() << " refused here";
  const std::string py =
      "import os, signal, sys, time\n"
      "def on(sig, frame):\n"
      "    os.write(1, b'got %d\\n' % sig)\n"
      "    if sig == signal.SIGTERM: os._exit(3)\n"
      "for s in (signal.SIGINT, signal.SIGHUP, signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2, signal.SIGTERM):\n"
      "    signal.signal(s, on)\n"
      "print('ready', flush=True)\n"
      "while True: time.sleep(1)\n";
  Background run(WithoutUsernsArgv(GetParam(), {"run", "--allow-landlock-mode", "--", "/usr/bin/python3", "-c", py}));
  ASSERT_EQ(run.ReadLine().value_or("(nothing)"), "ready");
  for (int sig : {SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2}) {
    ::kill(run.pid(), sig);
    EXPECT_EQ(run.ReadLine(std::chrono::seconds(10)).value_or("(nothing)"), "got " + std::to_string(sig)) << sig;
  }
  ::kill(run.pid(), SIGTERM);
  Background::Ended e = run.Wait();
  EXPECT_EQ(e.out, "got 15\n") << e.err;
  EXPECT_EQ(e.exit_code, 3) << e.err;
}

// The same failures, in full mode and in landlock mode: the same exit code and the same line.
TEST_P(LandlockLifetime, MessagesAndExitCodesAreFullModes) {
  REQUIRE_SANDBOX();
  REQUIRE_LANDLOCK(1);
  if (!HelperWorks(GetParam())) GTEST_SKIP() << "take_userns_away " << GetParam() << " refused here";
  struct Case {
    std::vector<std::string> flags, cmd;
    int code;
  } const cases[] = {
      {{}, {"no-such-command-xyz"}, 127},
      {{}, {"/etc/passwd"}, 126},
      {{}, {"/bin/sh", "-c", "exit 3"}, 3},
      {{}, {"/bin/sh", "-c", "kill -TERM $$"}, 143},
      {{"--limit", "max_wall_ms=300"}, {"/bin/sleep", "30"}, 137},
  };
  for (const Case& c : cases) {
    std::vector<std::string> flags = c.flags;
    flags.insert(flags.end(), {"--evidence", "-"});
    RunResult full = CordonRun(c.cmd, flags);
    std::vector<std::string> args = {"run", "--allow-landlock-mode"};
    args.insert(args.end(), flags.begin(), flags.end());
    args.push_back("--");
    args.insert(args.end(), c.cmd.begin(), c.cmd.end());
    RunResult degraded = WithoutUserns(GetParam(), args);
    EXPECT_EQ(full.exit_code, c.code) << c.cmd[0] << full.err;
    EXPECT_EQ(degraded.exit_code, c.code) << c.cmd[0] << degraded.err;
    EXPECT_EQ(degraded.err, full.err) << c.cmd[0];
    EXPECT_EQ(JsonField(EvidenceLine(degraded), "failure_class"), JsonField(EvidenceLine(full), "failure_class"))
        << c.cmd[0];
    EXPECT_EQ(JsonField(EvidenceLine(degraded), "sandbox/mode"), "landlock") << c.cmd[0];
  }
}

INSTANTIATE_TEST_SUITE_P(TakenAway, LandlockLifetime, ::testing::Values("sysctl", "seccomp"));

}  // namespace
}  // namespace cordon::test
