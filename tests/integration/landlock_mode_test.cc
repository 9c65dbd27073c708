// Landlock mode (docs/landlock.md): on a host where user namespaces cannot be created, `cordon run
// --allow-landlock-mode` runs the task degraded, held by Landlock, a seccomp rule against inet
// sockets, the policy's filter and no_new_privs; the evidence says so and what is missing. The
// namespaces are taken away the way such hosts do it, by tests/helpers/take_userns_away (as
// no_userns_test.cc does): user.max_user_namespaces = 0 inside a user namespace, or a container
// runtime's seccomp answer. The seccomp way keeps our uid, so a rootful run stays rootful there.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/integration/landlock_support.h"
#include "tests/support/host.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

// What a task may reach in landlock mode, and what it may not although file permissions allow it:
// a file and a directory of the host outside the runtime, readable and writable by anyone.
const std::string kReachScript =
    "cat $SECRET 2>/dev/null || echo secret=refused; "
    "touch $OPEN_DIR/planted 2>/dev/null && echo plant=made || echo plant=refused; "
    "echo scratch > $TMPDIR/x && cat $TMPDIR/x && touch ./here && echo cwd=ok; "
    "/usr/bin/head -c0 /usr/lib/os-release && echo runtime=ok; "
    "echo x > /dev/null && echo null=ok";

std::vector<std::string> ReachArgs(const std::string& mode_flag) {
  const std::string secret = WriteTempFile("landlock-mode-secret", "s3cret\n");
  const std::string open_dir = FreshTempDir("landlock-mode-open");
  ::chmod(open_dir.c_str(), 0777);
  std::vector<std::string> a = {"run"};
  if (!mode_flag.empty()) a.push_back(mode_flag);
  a.insert(a.end(), {"--policy", "default", "--evidence", "-", "--", "/usr/bin/env", "SECRET=" + secret,
                     "OPEN_DIR=" + open_dir, "/bin/sh", "-c", kReachScript});
  return a;
}

void ExpectDegradedRun(const RunResult& r, const std::string& refusal_part) {
  EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
  EXPECT_EQ(r.out.substr(0, r.out.rfind('\n', r.out.size() - 2) + 1),
            "secret=refused\nplant=refused\nscratch\ncwd=ok\nruntime=ok\nnull=ok\n")
      << r.out << r.err;
  const std::string ev = EvidenceLine(r);
  EXPECT_EQ(JsonField(ev, "sandbox/mode"), "landlock") << ev;
  EXPECT_EQ(JsonField(ev, "sandbox/degraded"), "true") << ev;
  EXPECT_EQ(JsonField(ev, "sandbox/landlock/abi"), std::to_string(HostLandlockAbi())) << ev;
  EXPECT_EQ(JsonField(ev, "sandbox/landlock/layer"), "only") << ev;
  EXPECT_EQ(JsonField(ev, "sandbox/namespaces"), "[]") << ev;
  EXPECT_NE(JsonField(ev, "sandbox/full_mode_refused").find(refusal_part), std::string::npos) << ev;
  const std::string missing = JsonField(ev, "sandbox/missing");
  for (const char* g : {"user_namespace", "mount_namespace", "pid_namespace", "network_namespace", "ipc_namespace",
                        "uts_namespace", "cgroup"})
    EXPECT_NE(missing.find(std::string("\"") + g + "\""), std::string::npos) << g << " not in " << missing;
  EXPECT_EQ(JsonField(ev, "failure_class"), "none") << ev;
}

TEST(LandlockMode, MaxUserNamespacesZeroRunsDegradedAndSaysSo) {
  REQUIRE_LANDLOCK(1);
  RunResult r = WithoutUserns("sysctl", ReachArgs("--allow-landlock-mode"));
  SKIP_IF_HELPER_REFUSED(r);
  ExpectDegradedRun(r, "user.max_user_namespaces = 0");
  EXPECT_EQ(JsonField(EvidenceLine(r), "sandbox/task_uid"), "1000") << r.out;  // the helper's uid: the caller's
}

TEST(LandlockMode, ContainerStyleSeccompProfileRunsDegradedRootfulOrNot) {
  REQUIRE_LANDLOCK(1);
  RunResult r = WithoutUserns("seccomp", ReachArgs("--allow-landlock-mode"));
  SKIP_IF_HELPER_REFUSED(r);
  ExpectDegradedRun(r, "clone3");
  // Rootful: the task is nobody, never the host's root.
  EXPECT_EQ(JsonField(EvidenceLine(r), "sandbox/task_uid"), IsRoot() ? "65534" : std::to_string(::getuid())) << r.out;
}

TEST(LandlockMode, NeverChosenWithoutTheFlag) {
  RunResult r = WithoutUserns("sysctl", ReachArgs(""));
  SKIP_IF_HELPER_REFUSED(r);
  EXPECT_EQ(r.exit_code, 125) << r.err;
  EXPECT_EQ(r.out.find("cwd=ok\n"), std::string::npos) << r.out;  // the task never ran
  EXPECT_NE(JsonField(EvidenceLine(r), "sandbox/mode"), "landlock") << r.out;
}

TEST(LandlockMode, NoInetSocketsAndSignalsScoped) {
  REQUIRE_LANDLOCK(6);
  // IPv4/IPv6 sockets of any kind are refused (no network namespace here), unix ones are not;
  // the task cannot signal its parent, `cordon run` (outside its Landlock domain).
  const std::string py =
      "import socket\n"
      "for fam, kind in ((socket.AF_INET, socket.SOCK_DGRAM), (socket.AF_INET6, socket.SOCK_STREAM)):\n"
      "    try:\n"
      "        socket.socket(fam, kind); print('inet=open')\n"
      "    except PermissionError: print('inet=refused')\n"
      "socket.socket(socket.AF_UNIX, socket.SOCK_STREAM); print('unix=ok')\n"
      "import os\n"
      "try:\n"
      "    os.kill(os.getppid(), 0); print('kill=allowed')\n"
      "except PermissionError: print('kill=refused')\n";
  RunResult r = WithoutUserns("sysctl", {"run", "--allow-landlock-mode", "--", "/usr/bin/python3", "-c", py});
  SKIP_IF_HELPER_REFUSED(r);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "inet=refused\ninet=refused\nunix=ok\nkill=refused\n") << r.err;
}

// The task leads its own session, as in a full sandbox: the caller's terminal is never its
// controlling terminal, so TIOCSTI into the caller's shell is refused (CVE-2017-5226's class).
TEST(LandlockMode, TaskLeadsItsOwnSession) {
  REQUIRE_LANDLOCK(1);
  RunResult r = WithoutUserns("sysctl", {"run", "--allow-landlock-mode", "--", "/usr/bin/python3", "-c",
                                         "import os; p = os.getpid(); print(os.getsid(0) == p, os.getpgid(0) == p)"});
  SKIP_IF_HELPER_REFUSED(r);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "True True\n") << r.err;
}

TEST(LandlockMode, OutsideCwdIsRefusedInOneLine) {
  REQUIRE_LANDLOCK(1);
  RunResult cwd = WithoutUserns("sysctl", {"run", "--allow-landlock-mode", "--cwd", "/srv", "--", "/bin/true"});
  SKIP_IF_HELPER_REFUSED(cwd);
  EXPECT_EQ(cwd.exit_code, 125);
  EXPECT_NE(cwd.err.find("--cwd /srv: landlock mode has only /work and /tmp"), std::string::npos) << cwd.err;
}

// A policy may allow the mode as the flag does ("allow_landlock_mode": true); the evidence says
// which did. Without either, the run is refused (NeverChosenWithoutTheFlag).
TEST(LandlockMode, PolicyFieldAllowsItAsTheFlagDoes) {
  REQUIRE_LANDLOCK(1);
  const std::string pol = WriteTempFile("landlock-allowed.json", R"({"name": "degradable", "version": 1,
      "allow_landlock_mode": true})");
  RunResult r = WithoutUserns("sysctl", {"run", "--policy", pol, "--evidence", "-", "--", "/bin/echo", "ran"});
  SKIP_IF_HELPER_REFUSED(r);
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, 4), "ran\n") << r.out << r.err;
  EXPECT_EQ(JsonField(EvidenceLine(r), "sandbox/mode"), "landlock") << r.out;
  EXPECT_EQ(JsonField(EvidenceLine(r), "sandbox/allowed_by"), "policy") << r.out;
  RunResult flag = WithoutUserns("sysctl", {"run", "--allow-landlock-mode", "--evidence", "-", "--", "/bin/true"});
  EXPECT_EQ(JsonField(EvidenceLine(flag), "sandbox/allowed_by"), "flag") << flag.out << flag.err;
  // false, or a value that is not a boolean: refused / a one-line error naming the field.
  const std::string off = WriteTempFile("landlock-off.json", R"({"name": "strict", "version": 1,
      "allow_landlock_mode": false})");
  RunResult no = WithoutUserns("sysctl", {"run", "--policy", off, "--", "/bin/echo", "ran"});
  EXPECT_EQ(no.exit_code, 125) << no.err;
  EXPECT_EQ(no.out, "") << no.out;
  const std::string bad = WriteTempFile("landlock-bad.json", R"({"name": "bad", "version": 1,
      "allow_landlock_mode": "yes"})");
  RunResult b = CordonRun({"/bin/true"}, {"--policy", bad});
  EXPECT_EQ(b.exit_code, 125) << b.err;
  EXPECT_NE(b.err.find("allow_landlock_mode: expected true or false, got string"), std::string::npos) << b.err;
}

TEST(LandlockMode, FlagChangesNothingWhereNamespacesWork) {
  REQUIRE_SANDBOX();
  RunResult r = CordonRun({"/bin/true"}, {"--allow-landlock-mode", "--evidence", "-"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonField(EvidenceLine(r), "sandbox/mode"), IsRoot() ? "rootful" : "rootless") << r.out;
}

TEST(LandlockMode, DoctorSaysLandlockWhereNamespacesAreRefused) {
  REQUIRE_LANDLOCK(1);
  RunResult r = WithoutUserns("sysctl", {"doctor", "--json"});
  SKIP_IF_HELPER_REFUSED(r);
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(JsonField(r.out, "mode"), "landlock") << r.out;
  EXPECT_NE(JsonField(r.out, "why").find("--allow-landlock-mode"), std::string::npos) << r.out;
  EXPECT_NE(JsonField(r.out, "landlock_mode_missing").find("pid_namespace"), std::string::npos) << r.out;
  RunResult text = WithoutUserns("sysctl", {"doctor"});
  EXPECT_NE(text.out.find("mode:            landlock\n"), std::string::npos) << text.out;
}

}  // namespace
}  // namespace cordon::test
