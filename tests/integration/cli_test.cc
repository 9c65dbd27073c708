// The `cordon` command line as a user meets it: help, bad input, policies, evidence, setup errors.
#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <fstream>
#include <limits>
#include <sstream>
#include <string>
#include <vector>

#include "common/setup_step.h"
#include "tests/support/failing_shim.h"
#include "tests/support/run.h"

extern char** environ;

namespace cordon::test {
namespace {

TEST(Cli, HelpExplainsEveryFlag) {
  auto top = RunProgram({BuildPath("bin/cordon"), "--help"});
  EXPECT_EQ(top.exit_code, 0);
  EXPECT_NE(top.out.find("run"), std::string::npos);
  auto run = RunProgram({BuildPath("bin/cordon"), "run", "--help"});
  EXPECT_EQ(run.exit_code, 0);
  for (const char* flag : {"--policy", "--evidence", "--cwd", "--env", "--tty", "--id-range", "--limit",
                           "--per-process-limits"})
    EXPECT_NE(run.out.find(flag), std::string::npos) << flag;
  EXPECT_EQ(RunProgram({BuildPath("bin/cordon"), "--version"}).out.rfind("cordon ", 0), 0u);
}

TEST(Cli, BadUsageExits125WithAReason) {
  auto none = RunProgram({BuildPath("bin/cordon"), "run"});
  EXPECT_EQ(none.exit_code, 125);
  EXPECT_NE(none.err.find("no command given"), std::string::npos) << none.err;
  auto unknown = RunProgram({BuildPath("bin/cordon"), "run", "--bogus", "true"});
  EXPECT_EQ(unknown.exit_code, 125);
  EXPECT_NE(unknown.err.find("unknown option '--bogus'"), std::string::npos) << unknown.err;
  auto cmd = RunProgram({BuildPath("bin/cordon"), "frobnicate"});
  EXPECT_EQ(cmd.exit_code, 125);
  EXPECT_NE(cmd.err.find("unknown command"), std::string::npos);
  auto missing = RunProgram({BuildPath("bin/cordon"), "run", "--policy"});
  EXPECT_EQ(missing.exit_code, 125);
  EXPECT_NE(missing.err.find("--policy needs a value"), std::string::npos) << missing.err;
}

TEST(Cli, InvalidPolicyNamesTheField) {
  std::string p = WriteTempFile("bad-type.json", R"({"name": "x", "version": 1, "limits": {"max_wall_ms": "soon"}})");
  auto r = CordonRun({"true"}, {"--policy", p});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("limits.max_wall_ms: expected a non-negative integer, got string"), std::string::npos) << r.err;
  std::string u = WriteTempFile("unknown.json", R"({"name": "x", "version": 1, "netwrok": "none"})");
  auto r2 = CordonRun({"true"}, {"--policy", u});
  EXPECT_EQ(r2.exit_code, 125);
  EXPECT_NE(r2.err.find("netwrok: unknown field"), std::string::npos) << r2.err;
  auto r3 = CordonRun({"true"}, {"--policy", "no-such-policy"});
  EXPECT_EQ(r3.exit_code, 125);
  EXPECT_NE(r3.err.find("policy 'no-such-policy' not found"), std::string::npos) << r3.err;
  std::string m = WriteTempFile("missing-mount.json", R"({"name": "x", "version": 1, "mounts": ["/opt/does-not-exist"]})");
  auto r4 = CordonRun({"true"}, {"--policy", m});
  EXPECT_EQ(r4.exit_code, 125);
  EXPECT_NE(r4.err.find("mounts[0] /opt/does-not-exist"), std::string::npos) << r4.err;
}

TEST(Cli, ShippedPoliciesLoadByName) {
  REQUIRE_SANDBOX();
  auto a = CordonRun({"/bin/true"}, {"--policy", "analyst", "--evidence", "-"});
  EXPECT_EQ(a.exit_code, 0) << a.err;
  EXPECT_EQ(JsonField(a.out, "policy/name"), "analyst");
  auto d = CordonRun({"/bin/true"}, {"--evidence", "-"});
  EXPECT_EQ(JsonField(d.out, "policy/name"), "default");
}

TEST(Cli, PolicyEnvAllowlistIsEnforced) {
  auto r = CordonRun({"true"}, {"--policy", "analyst", "--env", "LD_PRELOAD=/x.so"});
  EXPECT_EQ(r.exit_code, 125);
  EXPECT_NE(r.err.find("not allowed by policy 'analyst'"), std::string::npos) << r.err;
  auto forced = CordonRun({"true"}, {"--env", "HOME=/root"});
  EXPECT_EQ(forced.exit_code, 125);
  EXPECT_NE(forced.err.find("forces this variable"), std::string::npos) << forced.err;
  auto reserved = CordonRun({"true"}, {"--env", "CORDON_FD_X=3"});
  EXPECT_EQ(reserved.exit_code, 125);
}

TEST(Cli, EvidenceRecord) {
  REQUIRE_SANDBOX();
  std::string path = WriteTempFile("evidence.jsonl", "");
  auto r = CordonRun({"/bin/sh", "-c", "exit 5"}, {"--evidence", path});
  EXPECT_EQ(r.exit_code, 5);
  CordonRun({"/bin/true"}, {"--evidence", path});
  std::ifstream f(path);
  std::string first, second;
  std::getline(f, first);
  std::getline(f, second);
  EXPECT_EQ(JsonField(first, "failure_class"), "exit_nonzero");
  EXPECT_EQ(JsonField(first, "exit/code"), "5");
  EXPECT_EQ(JsonField(second, "failure_class"), "none") << "evidence is appended, one JSON line per task";
  EXPECT_EQ(JsonField(first, "command/0"), "/bin/sh");
  EXPECT_EQ(JsonField(first, "policy/sha256").size(), 64u);
  EXPECT_EQ(JsonField(first, "sandbox/namespaces"), R"(["user","mount","pid","net","ipc","uts","cgroup"])");
  EXPECT_EQ(JsonField(first, "timing/received_us"), "0");
  for (const char* t : {"ready_us", "exec_us", "exit_us"}) {
    long v = std::stol(JsonField(first, std::string("timing/") + t));
    EXPECT_GT(v, 0) << t;
  }
  EXPECT_LE(std::stol(JsonField(first, "timing/ready_us")), std::stol(JsonField(first, "timing/exec_us")));
  EXPECT_LE(std::stol(JsonField(first, "timing/exec_us")), std::stol(JsonField(first, "timing/exit_us")));
  EXPECT_NE(JsonField(first, "usage/source").find("RUSAGE_CHILDREN"), std::string::npos);
  EXPECT_EQ(JsonField(first, "seccomp/bpf_sha256").size(), 64u);
  auto bad = CordonRun({"/bin/true"}, {"--evidence", "/nonexistent-dir/e.json"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_NE(bad.err.find("--evidence /nonexistent-dir/e.json"), std::string::npos) << bad.err;
}

// Large and odd arguments and variables reach the task byte for byte. In the pooled.* run
// (PooledRun()) they travel with kStart: inline when small, in a memfd past 60 KiB; and the
// evidence must then say the sandbox was pooled.
TEST(Cli, ArgumentsAndEnvironmentArriveWhole) {
  REQUIRE_SANDBOX();
  const std::string big_arg(100000, 'a'), big_env(70000, 'b');
  const std::string odd = std::string("tab\there \xff\x01 $HOME 'q'");
  auto r = CordonRun({"/bin/sh", "-c", "printf '%s|%s|%s|%s\\n' \"${#1}\" \"$2\" \"${#BIG}\" \"$SMALL\"", "sh", big_arg, odd},
                     {"--env", "BIG=" + big_env, "--env", "SMALL=" + odd, "--evidence", "-"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), "100000|" + odd + "|70000|" + odd);
  const bool want = PooledRun();
  EXPECT_EQ(JsonField(EvidenceLine(r), "sandbox/pooled"), want ? "true" : "false");
  auto small = CordonRun({"/bin/echo", "hi"}, {"--evidence", "-"});
  EXPECT_EQ(small.out.substr(0, 3), "hi\n");
  EXPECT_EQ(JsonField(EvidenceLine(small), "sandbox/pooled"), want ? "true" : "false");
}

TEST(Cli, SignaledTaskEvidence) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"/bin/sh", "-c", "kill -SEGV $$"}, {"--evidence", "-"});
  EXPECT_EQ(r.exit_code, 128 + 11);
  EXPECT_EQ(JsonField(r.out, "failure_class"), "signaled");
  EXPECT_EQ(JsonField(r.out, "exit/signal"), "11");
}

// The steps a run reports in timing.steps, in the order it lists them.
std::vector<std::string> ReportedSteps(const std::string& evidence) {
  std::vector<std::string> out;
  for (size_t i = 0;; ++i) {
    std::string name = JsonField(evidence, "timing/steps/" + std::to_string(i) + "/step");
    if (name.empty()) return out;
    out.push_back(name);
  }
}

// Setup runs as one ordered checklist: timing.steps lists every step once, in the order the steps
// started (their start_us never go back), and the steps whose order the sandbox's safety depends on
// come in that order (docs/setup-sequence.md): ids before the filesystem, every mount before the
// pivot and the read-only remount after it, the network and hostname while PID 1 still has its
// capabilities, then in the task: capabilities dropped, no_new_privs, the filter last, then exec.
// Then every step reports itself by name when it fails: the test hook fails exactly step N, and
// the report (message and evidence) must name N.
TEST(Cli, EveryFailingSetupStepIsReportedByName) {
  REQUIRE_SANDBOX();
  const bool pooled_run = PooledRun();
  auto ok = CordonRun({"/bin/true"}, {"--evidence", "-"});
  ASSERT_EQ(ok.exit_code, 0) << ok.err;
  const std::string ev = EvidenceLine(ok);
  const std::vector<std::string> seen = ReportedSteps(ev);
  ASSERT_FALSE(seen.empty()) << ev;
  long last_us = std::numeric_limits<long>::min();  // pooled: steps before the request are negative
  for (size_t i = 0; i < seen.size(); ++i) {
    EXPECT_EQ(std::count(seen.begin(), seen.end(), seen[i]), 1) << seen[i] << " is reported more than once";
    long us = std::stol(JsonField(ev, "timing/steps/" + std::to_string(i) + "/start_us"));
    EXPECT_GE(us, last_us) << seen[i] << " is listed after a step that started later";
    last_us = us;
  }
  auto pos = [&](const char* name) {
    auto it = std::find(seen.begin(), seen.end(), name);
    return it == seen.end() ? -1 : static_cast<int>(it - seen.begin());
  };
  auto in_order = [&](std::initializer_list<const char*> chain) {
    const char* prev = nullptr;
    for (const char* step : chain) {
      EXPECT_GE(pos(step), 0) << step << " did not run: " << ev;
      if (prev) {
        EXPECT_LT(pos(prev), pos(step)) << prev << " must run before " << step << ": " << ev;
      }
      prev = step;
    }
  };
  in_order({"clone", "pdeathsig", "id-maps", "set-ids", "mount-private", "mount-root", "bind-mounts", "pivot-root",
            "remount-readonly", "fork-task"});
  for (const char* mount : {"mount-proc", "mount-dev", "etc-files"}) in_order({"mount-root", mount, "pivot-root"});
  for (const char* ns_root_step : {"loopback", "hostname", "cgroup-ns"}) in_order({"clone", ns_root_step, "fork-task"});
  in_order({"fork-task", "session", "drop-bounding", "drop-caps", "no-new-privs", "seccomp", "exec"});
  in_order({"fork-task", "stdio-fds", "seccomp"});
  in_order({"pivot-root", "chdir", "exec"});
  if (pooled_run) {
    in_order({"fork-task", "await-task", "exec"});
    in_order({"no-new-privs", "await-go", "exec"});
  }

  const SetupStep steps[] = {
      SetupStep::kClone,        SetupStep::kPdeathsig,     SetupStep::kIdMaps,    SetupStep::kResolveBindings,
      SetupStep::kSetIds,       SetupStep::kMountPrivate,  SetupStep::kMountRoot,   SetupStep::kBindMounts,
      SetupStep::kMountProc,    SetupStep::kMountDev,      SetupStep::kEtcFiles,    SetupStep::kPivotRoot,
      SetupStep::kRemountReadOnly, SetupStep::kLoopback,   SetupStep::kHostname,    SetupStep::kCgroupNs,
      SetupStep::kForkTask,     SetupStep::kStdioFds,      SetupStep::kSession,     SetupStep::kChdir,
      SetupStep::kDropBounding, SetupStep::kSecurebits,    SetupStep::kDropCaps,    SetupStep::kNoNewPrivs,
      SetupStep::kSeccomp,      SetupStep::kExec};
  std::vector<SetupStep> all(std::begin(steps), std::end(steps));
  if (IsRoot()) all.push_back(SetupStep::kStageBindings);  // the rootful outer shim's step
  // Landlock as a second layer, where this kernel has it (docs/landlock.md).
  if (::syscall(SYS_landlock_create_ruleset, nullptr, 0, 1u) > 0) all.push_back(SetupStep::kLandlock);
  if (pooled_run) {
    // Pooled runs (a held start, like cordond's) have two steps more.
    all.push_back(SetupStep::kAwaitTask);
    all.push_back(SetupStep::kAwaitGo);
  }
  FailingShim shim;
  for (SetupStep s : all) {
    EXPECT_GE(pos(SetupStepName(s)), 0) << SetupStepName(s) << " can fail but is not in timing.steps: " << ev;
    RunOptions o;
    o.env = EnvWith(shim.EnvFor(s));
    auto r = CordonRun({"/bin/true"}, {"--evidence", "-"}, o);
    const std::string name = SetupStepName(s);
    EXPECT_EQ(JsonField(r.out, "error/step"), name) << r.out << r.err;
    if (s == SetupStep::kExec) {
      EXPECT_EQ(r.exit_code, 126) << name;
      EXPECT_EQ(JsonField(r.out, "failure_class"), "exec_failed");
    } else {
      EXPECT_EQ(r.exit_code, 125) << name;
      EXPECT_EQ(JsonField(r.out, "failure_class"), "setup_failed");
      EXPECT_NE(r.err.find("setup failed at step " + name + ":"), std::string::npos) << r.err;
    }
  }
}

// Scripts reopen their output by name. The caller's stdout and stderr here are pipes (RunProgram)
// or files; the task must be able to reopen them, and get nothing else of the caller's.
const char* kReopen =
    "echo x > /dev/stdout; echo y > /dev/stderr; echo t | tee /dev/stderr; "
    "python3 -c 'open(\"/dev/stdout\", \"w\").write(\"z\\n\")'";

TEST(Stdio, TaskReopensItsOwnStdoutAndStderrPipes) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"/bin/sh", "-c", kReopen});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "x\nt\nz\n") << r.err;
  EXPECT_EQ(r.err, "y\nt\n");
}

// Into files opened for appending, with reopens that append (">>", tee -a, "a"): where the task may
// open the caller's file itself (rootless), a reopen that truncates, or writes through the caller's
// own offset, behaves as it does outside a sandbox; appends come out the same in every mode.
TEST(Stdio, TaskReopensItsOwnStdoutAndStderrFiles) {
  REQUIRE_SANDBOX();
  std::string out = WriteTempFile("stdio-out.txt", ""), err = WriteTempFile("stdio-err.txt", "");
  const char* append =
      "echo x >> /dev/stdout; echo y >> /dev/stderr; echo t | tee -a /dev/stderr; "
      "python3 -c 'open(\"/dev/stdout\", \"a\").write(\"z\\n\")'";
  auto r = RunProgram({"/bin/sh", "-c", "exec \"$0\" run -- /bin/sh -c \"$1\" >> \"$2\" 2>> \"$3\"",
                       BuildPath("bin/cordon"), append, out, err});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::stringstream o, e;
  o << std::ifstream(out).rdbuf();
  e << std::ifstream(err).rdbuf();
  EXPECT_EQ(o.str(), "x\nt\nz\n");
  EXPECT_EQ(e.str(), "y\nt\n");
}

// 2>&1 into one file: stdout and stderr keep their order, and appends stay appends.
TEST(Stdio, SharedStdoutAndStderrKeepTheirOrder) {
  REQUIRE_SANDBOX();
  std::string both = WriteTempFile("stdio-both.txt", "before\n");
  auto r = RunProgram({"/bin/sh", "-c", "exec \"$0\" run -- /bin/sh -c \"$1\" >> \"$2\" 2>&1", BuildPath("bin/cordon"),
                       "for i in 1 2 3; do echo o$i; echo e$i >&2; echo O$i >> /dev/stdout; echo E$i >> /dev/stderr; done",
                       both});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  std::stringstream b;
  b << std::ifstream(both).rdbuf();
  EXPECT_EQ(b.str(), "before\no1\ne1\nO1\nE1\no2\ne2\nO2\nE2\no3\ne3\nO3\nE3\n");
}

// The task's output fds are its own: a pipe its uid owns, and no other fd of the caller's.
TEST(Stdio, TheTaskHoldsOnlyItsOwnStdio) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"/bin/sh", "-c", "ls /proc/self/fd | tr '\\n' ' '; echo; "
                                       "[ \"$(stat -L -c %u /proc/self/fd/1)\" = \"$(id -u)\" ] && echo own-out; "
                                       "[ \"$(stat -L -c %u /proc/self/fd/2)\" = \"$(id -u)\" ] && echo own-err"});
  EXPECT_EQ(r.out, "0 1 2 3 \nown-out\nown-err\n") << r.err;
}

// A reader that goes away: the task sees EPIPE/SIGPIPE as it would on the caller's own pipe, and
// cordon does not die of it.
TEST(Stdio, AClosedReaderEndsTheWriterNotCordon) {
  REQUIRE_SANDBOX();
  std::string ev = WriteTempFile("sigpipe-ev.json", "");
  auto r = RunProgram({"/bin/sh", "-c", "\"$0\" run --evidence \"$1\" -- yes | head -n 2", BuildPath("bin/cordon"), ev});
  EXPECT_EQ(r.out, "y\ny\n") << r.err;
  std::string line;
  std::getline(std::ifstream(ev), line);
  EXPECT_EQ(JsonField(line, "exit/signal"), "13") << "cordon itself died, or the task did not get SIGPIPE: " << line;
}

}  // namespace
}  // namespace cordon::test
