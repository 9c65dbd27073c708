// cordond's warm pool end to end: sandboxes built ahead of their tasks must be as isolated as cold
// ones, serve one task each, count their limits from the task, and follow policy reloads. Runs
// rootful (as root) and rootless (as any other user).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "tests/support/cgroup_bases.h"
#include "tests/support/daemon_pool.h"
#include "tests/support/daemon_process.h"
#include "tests/support/run.h"

namespace cordon::test {
namespace {

std::string ReadLink(const std::string& path) {
  char buf[256];
  ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
  return n > 0 ? std::string(buf, static_cast<size_t>(n)) : "";
}

// A poolable policy (no caller, state or socket bindings) named `name`.
void WritePolicy(const DaemonProcess& d, const std::string& name, const std::string& foo, uint64_t max_wall_ms) {
  ::mkdir((d.conf() + "/policies").c_str(), 0755);
  std::ofstream(d.conf() + "/policies/" + name + ".json")
      << R"({"name": ")" << name << R"(", "version": 1, "role": "test", "seccomp_profile": "default",
      "limits": {"max_wall_ms": )" << max_wall_ms << R"(, "tmpfs_bytes": 16777216},
      "env": {"allow": ["*"], "set": {"FOO": ")" << foo << R"(", "PATH": "/usr/bin:/bin"}}})";
}

// The children of process `pid`, whichever of its threads started them (cordond's shims are
// children of its sandbox builder's thread).
std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> out;
  std::error_code ec;
  for (const auto& t : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::ifstream f(t.path() / "children");
    for (pid_t p; f >> p;) out.push_back(p);
  }
  return out;
}

TEST(DaemonPool, PooledSandboxIsIsolatedAndServesOneTaskOnly) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  const std::vector<std::string> probe = {
      "/bin/sh", "-c",
      "id -u; readlink /proc/self/ns/user /proc/self/ns/mnt /proc/self/ns/pid /proc/self/ns/net;"
      "grep -E '^(CapEff|CapBnd|NoNewPrivs)' /proc/self/status; echo /proc/[0-9]*;"
      "sed -n '3,$p' /proc/net/dev | cut -d: -f1 | tr -d ' \\n'; echo; ls /tmp; touch /tmp/left-by-first"};
  Ran a = SubmitPooled(d, probe);
  ASSERT_EQ(a.run.exit_code, 0) << a.run.err << d.Log();
  Ran b = SubmitPooled(d, probe);
  ASSERT_EQ(b.run.exit_code, 0) << b.run.err << d.Log();
  for (const Ran* r : {&a, &b}) {
    const std::string& out = r->run.out;
    EXPECT_EQ(out.rfind("1000\n", 0), 0u) << out;  // the task user, not root
    for (const char* ns : {"user:[", "mnt:[", "pid:[", "net:["}) {
      std::string host = ReadLink(std::string("/proc/self/ns/") + std::string(ns, std::strlen(ns) - 2));
      EXPECT_NE(out.find(ns), std::string::npos) << out;
      EXPECT_EQ(out.find(host), std::string::npos) << "shares " << host << " with the host:\n" << out;
    }
    EXPECT_NE(out.find("CapEff:\t0000000000000000"), std::string::npos) << out;
    EXPECT_NE(out.find("CapBnd:\t0000000000000000"), std::string::npos) << out;
    EXPECT_NE(out.find("NoNewPrivs:\t1"), std::string::npos) << out;
    EXPECT_NE(out.find("\n/proc/1 /proc/2\nlo\n"), std::string::npos) << "pids visible / interfaces:\n" << out;
    EXPECT_EQ(JsonField(r->evidence, "failure_class"), "none");
    // Built before the request, run after it.
    EXPECT_LT(std::stoll(JsonField(r->evidence, "timing/prepared_us")), 0) << r->evidence;
    EXPECT_GT(std::stoll(JsonField(r->evidence, "timing/exec_us")), 0) << r->evidence;
  }
  // Never reused: the second task saw nothing of the first, in a different sandbox.
  EXPECT_EQ(b.run.out.find("left-by-first"), std::string::npos) << b.run.out;
  EXPECT_NE(JsonField(a.evidence, "sandbox/shim_pid"), JsonField(b.evidence, "sandbox/shim_pid"));
  // (Namespace ids cannot tell: the kernel reuses a freed namespace's inode number.)
  if (IsRoot()) {
    EXPECT_NE(JsonField(a.evidence, "sandbox/host_uid"), JsonField(b.evidence, "sandbox/host_uid"));
  }
}

TEST(DaemonPool, WallClockLimitCountsFromTheTaskNotFromThePoolBuild) {
  REQUIRE_SANDBOX();
  DaemonProcess d(AnyPolicyPrincipals(), {"--pool-policies", "quick"});
  WritePolicy(d, "quick", "1", 1500);
  ASSERT_EQ(d.Reload().find("reload failed"), std::string::npos) << d.Log();
  // Let the pooled sandboxes sit for longer than the limit before they get a task.
  std::this_thread::sleep_for(std::chrono::milliseconds(2500));
  Ran ok = SubmitPooled(d, {"/bin/sleep", "0.5"}, "quick");
  EXPECT_EQ(ok.run.exit_code, 0) << ok.run.err << ok.evidence;
  EXPECT_EQ(JsonField(ok.evidence, "failure_class"), "none");
  Ran late = SubmitPooled(d, {"/bin/sleep", "10"}, "quick");
  EXPECT_EQ(JsonField(late.evidence, "failure_class"), "wall_timeout") << late.evidence;
  // done_us: the killed sandbox is gone (exit_us may be -1 when the kill took PID 1 first).
  const long long done_us = std::stoll(JsonField(late.evidence, "timing/done_us"));
  EXPECT_GE(done_us, 1'400'000) << late.evidence;
  EXPECT_LT(done_us, 5'000'000) << late.evidence;
}

TEST(DaemonPool, ReloadDiscardsSandboxesBuiltForTheOldPolicy) {
  REQUIRE_SANDBOX();
  DaemonProcess d(AnyPolicyPrincipals(), {"--pool-policies", "quick"});
  WritePolicy(d, "quick", "old", 0);
  ASSERT_EQ(d.Reload().find("reload failed"), std::string::npos) << d.Log();
  Ran before = SubmitPooled(d, {"/bin/sh", "-c", "echo $FOO"}, "quick");
  EXPECT_EQ(before.run.out, "old\n") << before.run.err;
  WritePolicy(d, "quick", "new", 0);
  ASSERT_EQ(d.Reload().find("reload failed"), std::string::npos) << d.Log();
  // Whatever runs from now on, pooled or cold, has the new policy.
  Ran right_after = SubmitAndEvidence(d, {"/bin/sh", "-c", "echo $FOO"}, "quick");
  EXPECT_EQ(right_after.run.out, "new\n") << right_after.run.err << d.Log();
  Ran pooled = SubmitPooled(d, {"/bin/sh", "-c", "echo $FOO"}, "quick");
  EXPECT_EQ(pooled.run.out, "new\n");
  EXPECT_NE(JsonField(before.evidence, "policy/sha256"), JsonField(pooled.evidence, "policy/sha256"));
  EXPECT_NE(d.Log().find("warm pool: discarded"), std::string::npos) << d.Log();
}

// The same policy file with a changed seccomp profile: a SIGHUP recompiles the filter, and no
// sandbox built with the old one serves a task afterwards.
TEST(DaemonPool, ReloadDiscardsSandboxesBuiltWithTheOldSeccompFilter) {
  REQUIRE_SANDBOX();
  DaemonProcess d(AnyPolicyPrincipals(), {"--pool-policies", "filtered"});
  std::ifstream shipped(SourcePath("seccomp-profiles/default.json"));
  const std::string profile((std::istreambuf_iterator<char>(shipped)), {});
  const std::string profile_path = d.conf() + "/filtered-profile.json";
  ASSERT_NE(profile.find("\"getpriority\", "), std::string::npos);
  std::ofstream(profile_path) << profile;
  ::mkdir((d.conf() + "/policies").c_str(), 0755);
  std::ofstream(d.conf() + "/policies/filtered.json")
      << R"({"name": "filtered", "version": 1, "role": "test", "seccomp_profile": ")" << profile_path
      << R"(", "limits": {"max_wall_ms": 0, "tmpfs_bytes": 16777216}, "env": {"allow": ["*"], "set": {}}})";
  ASSERT_EQ(d.Reload().find("reload failed"), std::string::npos) << d.Log();
  const std::vector<std::string> probe = {
      "/usr/bin/python3", "-c",
      "import os\ntry:\n print('priority', os.getpriority(os.PRIO_PROCESS, 0))\nexcept OSError:\n print('denied')"};
  Ran before = SubmitPooled(d, probe, "filtered");
  EXPECT_EQ(before.run.out, "priority 0\n") << before.run.err << d.Log();
  // The profile no longer allows getpriority; the policy file is unchanged.
  std::string changed = profile;
  changed.replace(changed.find("\"getpriority\", "), std::string("\"getpriority\", ").size(), "");
  std::ofstream(profile_path) << changed;
  ASSERT_EQ(d.Reload().find("reload failed"), std::string::npos) << d.Log();
  Ran right_after = SubmitAndEvidence(d, probe, "filtered");
  EXPECT_EQ(right_after.run.out, "denied\n") << d.Log();
  Ran pooled = SubmitPooled(d, probe, "filtered");
  EXPECT_EQ(pooled.run.out, "denied\n");
  EXPECT_EQ(JsonField(before.evidence, "policy/sha256"), JsonField(pooled.evidence, "policy/sha256"));
  EXPECT_NE(JsonField(before.evidence, "seccomp/bpf_sha256"), JsonField(pooled.evidence, "seccomp/bpf_sha256"));
  EXPECT_NE(d.Log().find("warm pool: discarded"), std::string::npos) << d.Log();
}

// A pooled sandbox's mounts and bindings are as old as the sandbox: past --pool-max-age it is
// rebuilt, so a task never gets one older than that.
TEST(DaemonPool, SandboxesPastTheirMaxAgeAreRebuilt) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()), {"--pool-max-age", "1"});
  // The pool notices its sandboxes' age and rebuilds them (a second after they were built).
  ASSERT_TRUE(d.WaitForLog("older than --pool-max-age 1 s")) << d.Log();
  Ran r = SubmitPooled(d, {"/bin/true"});
  EXPECT_EQ(r.run.exit_code, 0) << r.run.err;
  const long long prepared_us = std::stoll(JsonField(r.evidence, "timing/prepared_us"));
  EXPECT_GT(prepared_us, -1'800'000) << "the sandbox was built " << -prepared_us / 1000 << " ms before the request";
  EXPECT_NE(d.Log().find("older than --pool-max-age 1 s"), std::string::npos) << d.Log();
}

// A cold start (no ready pooled sandbox) must not exec before its admission decision is on disk,
// and its sync must not hold the loop: its sandbox is built on demand the pool's way and the task
// waits at await-go, before its exec, until the sync worker has synced the decision. With
// --decision-sync os the decision is not synced by cordond and the task is not held.
TEST(DaemonPool, ColdStartIsHeldBeforeItsExecUntilItsDecisionIsDurable) {
  REQUIRE_SANDBOX();
  auto at = [](const std::string& ev, const std::string& step) {
    return ev.find("\"step\":\"" + step + "\"");
  };
  for (const char* sync : {"each", "os"}) {
    DaemonProcess d(PrincipalsFor(::geteuid()), {"--pool-size", "0", "--decision-sync", sync});
    for (int i = 0; i < 2; ++i) {
      Ran r = SubmitAndEvidence(d, {"/bin/sh", "-c", "echo cold"});
      EXPECT_EQ(r.run.exit_code, 0) << r.run.err << d.Log();
      EXPECT_EQ(r.run.out, "cold\n");
      EXPECT_FALSE(r.pooled()) << sync << ": " << r.evidence;
      ASSERT_NE(at(r.evidence, "exec"), std::string::npos) << r.evidence;
      if (std::string(sync) == "each") {
        ASSERT_NE(at(r.evidence, "await-go"), std::string::npos) << "cold start not held before its exec: " << r.evidence;
        EXPECT_LT(at(r.evidence, "await-go"), at(r.evidence, "exec")) << r.evidence;
      } else {
        EXPECT_EQ(at(r.evidence, "await-go"), std::string::npos) << r.evidence;
      }
    }
  }
}

TEST(DaemonPool, PoolSizeZeroAndTheMemoryBoundKeepTasksCold) {
  REQUIRE_SANDBOX();
  for (const std::vector<std::string>& flags :
       {std::vector<std::string>{"--pool-size", "0"}, std::vector<std::string>{"--pool-memory-max", "1K"}}) {
    DaemonProcess d(PrincipalsFor(::geteuid()), flags);
    std::this_thread::sleep_for(std::chrono::milliseconds(500));
    for (int i = 0; i < 3; ++i) {
      Ran r = SubmitAndEvidence(d, {"/bin/true"});
      EXPECT_EQ(r.run.exit_code, 0) << r.run.err;
      EXPECT_FALSE(r.pooled()) << flags[0] << ": " << r.evidence;
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  // Bad values are refused at start with the flag's name.
  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--pool-size", "-1"},
                                             std::vector<std::string>{"--pool-memory-max", "lots"},
                                             std::vector<std::string>{"--pool-refill", "0"},
                                             std::vector<std::string>{"--pool-max-age", "soon"},
                                             std::vector<std::string>{"--decision-sync", "never"}}) {
    auto r = RunProgram({BuildPath("bin/cordond"), bad[0], bad[1]});
    EXPECT_EQ(r.exit_code, 125) << bad[0];
    EXPECT_NE(r.err.find(bad[0]), std::string::npos) << r.err;
  }
}

// utime + stime of a process so far, in ms.
double CpuMs(pid_t pid) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/stat");
  std::string stat((std::istreambuf_iterator<char>(f)), {});
  std::istringstream rest(stat.substr(stat.rfind(')') + 2));
  std::string field;
  unsigned long long utime = 0, stime = 0;
  for (int i = 0; i < 13 && rest >> field; ++i) {
    if (i == 11) utime = std::stoull(field);
    if (i == 12) stime = std::stoull(field);
  }
  return double(utime + stime) * 1000.0 / double(::sysconf(_SC_CLK_TCK));
}

// The loop sleeps in epoll_wait while a task runs, with or without a pool: a deadline left in the
// past (the pool's refill pause, say) would make it spin at 100% CPU for the task's whole life.
TEST(DaemonPool, DaemonDoesNotSpinWhileATaskRuns) {
  REQUIRE_SANDBOX();
  for (const char* pool : {"0", "2"}) {
    DaemonProcess d(PrincipalsFor(::geteuid()), {"--pool-size", pool});
    // The pool fills: its shims are the daemon's children (10 s at most).
    const size_t want = static_cast<size_t>(std::atoi(pool));
    for (int i = 0; i < 1000 && ChildrenOf(d.pid()).size() < want; ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    ASSERT_GE(ChildrenOf(d.pid()).size(), want) << d.Log();
    const double before = CpuMs(d.pid());
    auto r = d.Cli({"submit", "--", "/bin/sleep", "1.5"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    const double spent = CpuMs(d.pid()) - before;
    EXPECT_LT(spent, 300.0) << "cordond --pool-size " << pool << " used " << spent << " ms of CPU over a 1.5 s task";
  }
}

std::string StatusLine(pid_t pid, const std::string& key) {
  std::ifstream f("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(f, line);)
    if (line.rfind(key + ":", 0) == 0) return line.substr(key.size() + 1);
  return "";
}

// A pooled sandbox's task process exists before its request (the pool keeps sandboxes "blocked
// before exec"), and it waits with nothing left to drop: no capabilities in any set, no_new_privs,
// its own host uid, asleep.
TEST(DaemonPool, PooledTaskWaitsForItsRequestWithoutPrivileges) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  std::vector<pid_t> waiting;  // shim -> PID 1 -> task
  for (int i = 0; i < 200 && waiting.size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    waiting.clear();
    for (pid_t shim : ChildrenOf(d.pid()))
      for (pid_t init : ChildrenOf(shim))
        for (pid_t task : ChildrenOf(init))
          if (StatusLine(task, "State").find('S') != std::string::npos) waiting.push_back(task);
  }
  ASSERT_GE(waiting.size(), 2u) << d.Log();
  for (pid_t task : waiting) {
    for (const char* set : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
      EXPECT_EQ(StatusLine(task, set), "\t0000000000000000") << set << " of waiting task " << task;
    EXPECT_EQ(StatusLine(task, "NoNewPrivs"), "\t1") << task;
    const std::string uid = StatusLine(task, "Uid");
    if (::geteuid() == 0) {
      EXPECT_EQ(uid.find("\t0\t"), std::string::npos) << "a waiting task runs as host root: " << uid;
    } else {
      EXPECT_EQ(uid.rfind("\t" + std::to_string(::geteuid()) + "\t", 0), 0u) << uid;
    }
  }
  // And it serves its task as before.
  Ran r = SubmitPooled(d, {"/bin/sh", "-c", "grep -E '^(CapEff|NoNewPrivs)' /proc/self/status"});
  EXPECT_EQ(r.run.exit_code, 0) << r.run.err;
  EXPECT_NE(r.run.out.find("CapEff:\t0000000000000000\nNoNewPrivs:\t1"), std::string::npos) << r.run.out;
}

TEST(DaemonPool, StopKillsThePooledSandboxes) {
  REQUIRE_SANDBOX();
  DaemonProcess d(PrincipalsFor(::geteuid()));
  // The pool's shims are the daemon's children while no task runs.
  std::set<pid_t> shims;
  for (int i = 0; i < 100 && shims.size() < 2; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const std::vector<pid_t> children = ChildrenOf(d.pid());
    shims = std::set<pid_t>(children.begin(), children.end());
  }
  ASSERT_GE(shims.size(), 2u) << d.Log();
  EXPECT_EQ(d.Signal(SIGTERM), 0) << d.Log();
  for (pid_t p : shims) EXPECT_NE(::kill(p, 0), 0) << "pooled shim " << p << " outlived cordond";
  EXPECT_NE(d.Log().find("warm pool: discarded"), std::string::npos) << d.Log();
}

// cordond removes a finished task's cgroups off its loop (Task::DeferCgroupRemoval, on the chores
// thread), after the reply: they must still go while the daemon runs, not only at its stop.
TEST(DaemonPool, FinishedTaskCgroupIsRemovedWhileTheDaemonRuns) {
  REQUIRE_SANDBOX();
  if (auto why = NoTaskCgroupReason(); !why.empty()) GTEST_SKIP() << "no per-task cgroup for this user: " << why;
  DaemonProcess d(PrincipalsFor(::geteuid()));
  Ran r = SubmitPooled(d, {"/bin/true"});
  ASSERT_EQ(r.run.exit_code, 0) << r.run.err << d.Log();
  const std::string dir = "/task-" + JsonField(r.evidence, "task_id");
  ASSERT_NE(r.evidence.find(dir + "/"), std::string::npos) << "the task had no cgroup: " << r.evidence;
  auto left = [&] {
    std::string out;
    for (const std::string& base : TaskCgroupBases())
      if (std::filesystem::exists(base + dir)) out += base + dir + " ";
    return out;
  };
  for (int i = 0; i < 1000 && !left().empty(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  EXPECT_EQ(left(), "") << "still there 10 s after the task ended, cordond running";
  EXPECT_EQ(::kill(d.pid(), 0), 0) << "cordond is gone: " << d.Log();
}

}  // namespace
}  // namespace cordon::test
