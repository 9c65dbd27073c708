// tests/integration/lean_start_shim_test.cc: the one-shot's outer shim is a fork of cordon-run
// running the shim's code, not an exec of libexec/cordon/cordon-shim (docs/performance.md "The lean
// run"), and what an operator or the task sees of it is what the exec'd shim showed: its name, its
// command line, no environment, no fd but its own. cordond and `cordon` itself still exec the shim.
#include <gtest/gtest.h>
#include <sys/prctl.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/background.h"
#include "tests/support/host.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

std::string ReadAllOf(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

// The child of `parent` (there is one: the outer shim of a `cordon run`), or -1.
pid_t ChildOf(pid_t parent) {
  for (const auto& e : std::filesystem::directory_iterator("/proc")) {
    const std::string name = e.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    const std::string status = ReadAllOf(e.path().string() + "/status");
    const auto at = status.find("\nPPid:\t");
    if (at != std::string::npos && std::stol(status.substr(at + 7)) == parent) return std::stoi(name);
  }
  return -1;
}

// What the shim of a running one-shot is, seen from the host and from inside its sandbox.
TEST(LeanStart, TheOneShotsShimIsAForkOfCordonRunThatLooksLikeTheShim) {
  REQUIRE_SANDBOX();
  // The task prints its PID 1's command line (NULs as dots), then waits on our stdin.
  Background run({BuildPath("bin/cordon"), "run", "--env", "LANG=C.marker", "--", "/bin/sh", "-c",
                  "tr '\\0' . </proc/1/cmdline; echo; echo ready; read x; exit 0"});
  ASSERT_TRUE(run.started());
  const auto pid1_cmdline = run.ReadLine();
  const auto ready = run.ReadLine();
  ASSERT_EQ(ready.value_or("<eof>"), "ready");
  const pid_t outer = ChildOf(run.pid());
  ASSERT_GT(outer, 0) << "no child of cordon-run " << run.pid();
  const std::string proc = "/proc/" + std::to_string(outer);
  std::error_code ec;
  // The program is cordon-run's (an exec'd shim's would be libexec/cordon/cordon-shim)...
  EXPECT_EQ(std::filesystem::read_symlink(proc + "/exe", ec).string(),
            std::filesystem::canonical(BuildPath("libexec/cordon/cordon-run")).string())
      << ec.message();
  // ...but its name and command line are the shim's, as after the exec, and nothing of the
  // caller's environment is left in it.
  EXPECT_EQ(ReadAllOf(proc + "/comm"), "cordon-shim\n");
  EXPECT_EQ(ReadAllOf(proc + "/cmdline"), std::string("cordon-shim", 12));
  const std::string environ = ReadAllOf(proc + "/environ");
  EXPECT_EQ(environ.find_first_not_of('\0'), std::string::npos) << environ;
  // Its fds: stdin, stdout, stderr (the caller's), the control socket, its end of PID 1's socket
  // and PID 1's pidfd; nothing else of cordon-run's (its signalfd, the evidence file, pipes).
  size_t fds = 0;
  for ([[maybe_unused]] const auto& e : std::filesystem::directory_iterator(proc + "/fd")) ++fds;
  EXPECT_EQ(fds, 6u);
  // Inside: PID 1, a clone of the outer shim, shows the shim's command line, not cordon-run's.
  EXPECT_EQ(pid1_cmdline.value_or("<eof>"), "cordon-shim.");
  run.CloseStdin();
  const auto end = run.Wait();
  EXPECT_EQ(end.exit_code, 0) << end.err;
}

// An install without libexec/cordon/cordon-shim: `cordon run` works, and what still execs the shim
// (`cordon` running the task itself, cordond) says the shim is missing.
TEST(LeanStart, TheOneShotNeedsNoShimProgramCordondDoes) {
  REQUIRE_SANDBOX();
  const std::string dir = FreshTempDir("lean-run-no-shim");
  std::filesystem::create_directories(dir + "/bin");
  std::filesystem::create_directories(dir + "/libexec/cordon");
  // Copies, not links: each program finds its prefix from /proc/self/exe.
  std::filesystem::copy_file(BuildPath("bin/cordon"), dir + "/bin/cordon");
  std::filesystem::copy_file(BuildPath("bin/cordond"), dir + "/bin/cordond");
  std::filesystem::copy_file(BuildPath("libexec/cordon/cordon-run"), dir + "/libexec/cordon/cordon-run");
  std::filesystem::create_symlink(BuildPath("share"), dir + "/share");
  auto r = RunProgram({dir + "/bin/cordon", "run", "--", "/bin/sh", "-c", "echo ran; exit 3"});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_EQ(r.out, "ran\n");
  const std::string missing = "the shim " + dir + "/libexec/cordon/cordon-shim is not executable";
  RunOptions off;
  off.env = EnvWith("CORDON_LEAN_START=off");
  auto full = RunProgram({dir + "/bin/cordon", "run", "--", "/bin/true"}, off);
  EXPECT_EQ(full.exit_code, 125);
  EXPECT_NE(full.err.find(missing), std::string::npos) << full.err;
  auto daemon = RunProgram({dir + "/bin/cordond", "--socket", dir + "/cordond.sock"});
  EXPECT_EQ(daemon.exit_code, 125);
  EXPECT_NE(daemon.err.find(missing), std::string::npos) << daemon.err;
}

// cordon-run forks its shim before admission (task/shim_process.h Prefork): a run refused there
// kills and reaps it. As a subreaper, we would inherit a shim left behind and see it here.
TEST(LeanStart, ARunRefusedAtAdmissionLeavesNoShimBehind) {
  REQUIRE_SANDBOX();
  ASSERT_EQ(::prctl(PR_SET_CHILD_SUBREAPER, 1), 0);
  auto r = RunProgram({BuildPath("bin/cordon"), "run", "--policy", "/nonexistent/lean-run.json", "--", "/bin/true"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("/nonexistent/lean-run.json"), std::string::npos) << r.err;
  siginfo_t si{};
  const int rc = ::waitid(P_ALL, 0, &si, WEXITED);
  const int err = errno;
  ::prctl(PR_SET_CHILD_SUBREAPER, 0);
  EXPECT_EQ(rc, -1) << "a process was left behind: pid " << si.si_pid << ", status " << si.si_status;
  EXPECT_EQ(err, ECHILD);
}

}  // namespace
}  // namespace cordon::test
