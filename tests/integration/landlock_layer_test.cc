// Landlock as a second layer behind the namespaces (docs/landlock.md): where the kernel has
// Landlock, the task restricts itself to its own filesystem view and, with ABI >= 6, scopes its
// signals and abstract unix sockets; the evidence records the ABI. What the mount namespace alone
// allows and the layer refuses is shown against the same run with CORDON_LANDLOCK=off.
#include <gtest/gtest.h>
#include <unistd.h>

#include <sys/stat.h>

#include <chrono>
#include <string>
#include <thread>

#include "tests/support/daemon_process.h"
#include "tests/support/host.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

// A full sandbox with Landlock behind it.
#define REQUIRE_LANDLOCK_LAYER(min_abi) \
  do {                                  \
    REQUIRE_SANDBOX();                  \
    REQUIRE_LANDLOCK(min_abi);          \
  } while (0)

RunResult RunScript(const std::string& script, bool layer) {
  RunOptions o;
  if (!layer) o.env = EnvWith("CORDON_LANDLOCK=off");
  return CordonRun({"/bin/sh", "-c", script}, {"--evidence", "-"}, o);
}

TEST(LandlockLayer, EvidenceRecordsTheAbiUsed) {
  REQUIRE_LANDLOCK_LAYER(1);
  RunResult on = RunScript("true", true);
  ASSERT_EQ(on.exit_code, 0) << on.err;
  const std::string ev = EvidenceLine(on);
  EXPECT_EQ(JsonField(ev, "sandbox/landlock/abi"), std::to_string(HostLandlockAbi())) << ev;
  EXPECT_EQ(JsonField(ev, "sandbox/landlock/layer"), "second") << ev;
  // The step is stamped where it ran.
  EXPECT_NE(JsonField(ev, "timing/steps").find("landlock"), std::string::npos) << ev;
  RunResult off = RunScript("true", false);
  ASSERT_EQ(off.exit_code, 0) << off.err;
  EXPECT_EQ(JsonField(EvidenceLine(off), "sandbox/landlock"), "null") << off.out;
}

TEST(LandlockLayer, NoNewFilesOutsideTheScratchEvenWhereTheMountIsWritable) {
  REQUIRE_LANDLOCK_LAYER(1);
  // /dev is a tmpfs of the sandbox's own, writable by the task: only Landlock keeps it to its files.
  const std::string script =
      "touch /dev/planted 2>/dev/null && echo dev=made || echo dev=refused; "
      "touch /tmp/a /work/b /dev/shm/c && echo scratch=ok; echo x > /dev/null && echo null=ok; "
      "cat /etc/passwd >/dev/null && echo read=ok";
  RunResult on = RunScript(script, true);
  EXPECT_EQ(on.exit_code, 0) << on.err;
  EXPECT_NE(on.out.find("dev=refused\nscratch=ok\nnull=ok\nread=ok\n"), std::string::npos) << on.out;
  RunResult off = RunScript(script, false);
  EXPECT_NE(off.out.find("dev=made\n"), std::string::npos) << off.out;
}

// cordond's warm pool: a sandbox built before its task still applies the layer once the task's
// stdio has arrived, and the evidence says so.
TEST(LandlockLayer, PooledSandboxOfCordondAppliesTheLayer) {
  REQUIRE_LANDLOCK_LAYER(1);
  DaemonProcess d(PrincipalsFor(::geteuid()));
  RunResult run, ev;
  for (int i = 0; i < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
    run = d.Cli({"submit", "--", "/bin/sh", "-c", "touch /dev/planted 2>/dev/null && echo dev=made || echo dev=refused"});
    auto ps = d.Cli({"ps", "--all", "--json", "--limit", "1"});
    ev = d.Cli({"evidence", JsonField(ps.out, "0/task_id")});
    if (JsonField(ev.out, "sandbox/pooled") == "true") break;
  }
  ASSERT_EQ(JsonField(ev.out, "sandbox/pooled"), "true") << ev.out << d.Log();
  EXPECT_EQ(run.out, "dev=refused\n") << run.err;
  EXPECT_EQ(JsonField(ev.out, "sandbox/landlock/abi"), std::to_string(HostLandlockAbi())) << ev.out;
}

TEST(LandlockLayer, TaskCannotSignalOutsideItsDomain) {
  REQUIRE_LANDLOCK_LAYER(6);
  // PID 1 of the sandbox runs as the task's uid: only the signal scope keeps the task from it.
  const std::string script = "kill -0 1 2>/dev/null; echo kill=$?";
  RunResult on = RunScript(script, true);
  EXPECT_NE(on.out.find("kill=1\n"), std::string::npos) << on.out << on.err;
  RunResult off = RunScript(script, false);
  EXPECT_NE(off.out.find("kill=0\n"), std::string::npos) << off.out << off.err;
}

TEST(LandlockLayer, StdoutReopenedByNameStillWorks) {
  REQUIRE_LANDLOCK_LAYER(1);
  // The task's stdout is a file of the caller's, outside the sandbox's tree: the layer gives the
  // fd a rule of its own, so reopening it by name works as without the layer.
  const std::string out = WriteTempFile("landlock-stdout", "");
  RunResult r = RunProgram({"/bin/sh", "-c",
                            BuildPath("bin/cordon") + " run -- /bin/sh -c 'echo by-name > /dev/stdout' > " + out +
                                " && cat " + out});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "by-name\n") << r.err;
}

}  // namespace
}  // namespace cordon::test
