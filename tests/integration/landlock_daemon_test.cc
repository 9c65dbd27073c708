// cordond on a host without user namespaces (docs/landlock.md "Left"): it has no landlock mode, so
// a submitted task is refused the way `cordon run` refuses without --allow-landlock-mode: one line
// naming the missing right and its fix, exit 125. The daemon keeps serving. cordond is started
// under take_userns_away's container-style seccomp profile (it keeps our uid, so the principals
// file admits us as usual).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include "tests/integration/landlock_support.h"
#include "tests/support/background.h"
#include "tests/support/daemon_process.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

TEST(LandlockDaemon, CordondWithoutUserNamespacesRefusesTasksInOneLine) {
  if (RunResult h = WithoutUserns("seccomp", {"--version"}); h.exit_code == 126 && h.err.rfind("take_userns_away:", 0) == 0)
    GTEST_SKIP() << h.err;
  const std::string dir = FreshTempDir("landlock-cordond");
  ::chmod(dir.c_str(), 0755);
  ::mkdir((dir + "/conf").c_str(), 0755);
  std::ofstream(dir + "/conf/principals.json") << PrincipalsFor(::getuid());
  const std::string sock = dir + "/cordond.sock";
  std::vector<std::string> argv = {BuildPath("tests/helpers/take_userns_away"), "seccomp", BuildPath("bin/cordond"),
                                   "--socket", sock, "--state-dir", dir + "/state", "--config-dir", dir + "/conf"};
  Background daemon(argv);
  bool up = false;
  for (int i = 0; i < 1000 && !(up = ClientConnection::Open(sock).has_value()); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_TRUE(up) << "cordond did not listen within 10 s";
  for (int round = 0; round < 2; ++round) {  // and again: the daemon still answers
    RunResult r = RunProgram({BuildPath("bin/cordon"), "submit", "--socket", sock, "--", "/bin/echo", "ran"});
    EXPECT_EQ(r.exit_code, 125) << r.err;
    EXPECT_EQ(r.out, "") << r.out;
    EXPECT_NE(r.err.find("(clone3: Function not implemented): a seccomp filter on this "), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  }
  ::kill(daemon.pid(), SIGTERM);  // the helper exec'd cordond
  Background::Ended e = daemon.Wait();
  EXPECT_EQ(e.exit_code, 0) << e.err;
  // Said once at start too, with the same reason.
  EXPECT_NE(e.err.find("cordond: warning: every task will be refused: cannot create the sandbox's user namespace "
                       "(clone3: Function not implemented)"),
            std::string::npos)
      << e.err;
  RunProgram({"/bin/rm", "-rf", dir});
}

}  // namespace
}  // namespace cordon::test
