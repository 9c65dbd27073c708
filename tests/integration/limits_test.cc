// Budgets from a real sandbox: each limit ends the task with the right failure class, enforced on
// the whole sandbox, and the per-task cgroup never outlives it. Runs rootful (cgroups on this host)
// and rootless (no delegated cgroup here: rlimit fallback, which the evidence names).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <vector>

#include "tests/support/cgroup_bases.h"
#include "tests/support/run.h"

extern char** environ;

namespace cordon::test {
namespace {

std::string Policy(const std::string& name, const std::string& limits) {
  return WriteTempFile(name + ".json", R"({"name": ")" + name + R"(", "version": 1, "limits": {)" + limits + "}}");
}

// Whether this run had a per-task cgroup: decided from the host (may this uid create one here?),
// and the run's evidence must agree; a run that silently fell back to no cgroup is a failure.
bool HasCgroup(const std::string& ev) {
  static const bool host_has = NoTaskCgroupReason().empty();
  const bool reported = JsonField(ev, "usage/cgroup/mode").rfind("none", 0) != 0;
  EXPECT_EQ(reported, host_has) << "this host " << (host_has ? "gives" : "does not give")
                                << " this uid a cgroup, the run's evidence says otherwise: " << ev;
  return host_has;
}

uint64_t Figure(const std::string& ev, const std::string& name) {
  std::string v = JsonField(ev, "usage/cgroup/" + name + "/value");
  return v.empty() || v == "null" ? 0 : std::stoull(v);
}

TEST(Limits, MemoryHogEndsOomWithPeakWithinLimit) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"python3", "-c", "x = [bytearray(1 << 20) for _ in range(256)]"},
                     {"--policy", Policy("mem", R"("memory_bytes": 67108864)"), "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(JsonField(ev, "failure_class"), "oom") << ev;
  if (!HasCgroup(ev)) {
    // No cgroup: the supervisor's monitor killed the sandbox on its total.
    EXPECT_EQ(JsonField(ev, "limits/enforcement/memory_bytes"), "monitor");
    EXPECT_EQ(r.exit_code, 128 + SIGKILL);
    return;
  }
  EXPECT_EQ(r.exit_code, 128 + SIGKILL);
  EXPECT_GE(Figure(ev, "oom_kills"), 1u);
  EXPECT_LE(Figure(ev, "memory_peak_bytes"), 67108864u);
  EXPECT_GT(Figure(ev, "memory_peak_bytes"), 32u << 20);
  EXPECT_NE(JsonField(ev, "usage/cgroup/memory_peak_bytes/source").find("memory"), std::string::npos);
}

TEST(Limits, BusyLoopEndsCpuBudgetNearTheBudget) {
  REQUIRE_SANDBOX();
  auto start = std::chrono::steady_clock::now();
  auto r = CordonRun({"python3", "-c", "while True: pass"},
                     {"--policy", Policy("cpu", R"("max_cpu_ms": 300)"), "--evidence", "-"});
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(JsonField(ev, "failure_class"), "cpu_budget") << ev;
  EXPECT_LT(ms, 5000);
  if (HasCgroup(ev)) {
    uint64_t cpu = Figure(ev, "cpu_user_usec") + Figure(ev, "cpu_system_usec");
    EXPECT_GE(cpu, 300000u);
    EXPECT_LT(cpu, 600000u) << "the budget watcher reacted late";
  }
}

TEST(Limits, SleepEndsWallTimeoutWithinASecond) {
  REQUIRE_SANDBOX();
  auto start = std::chrono::steady_clock::now();
  auto r = CordonRun({"sleep", "30"}, {"--policy", Policy("wall", R"("max_wall_ms": 500)"), "--evidence", "-"});
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(JsonField(EvidenceLine(r), "failure_class"), "wall_timeout");
  EXPECT_GE(ms, 450);
  EXPECT_LT(ms, 1500);
}

TEST(Limits, ForkLoopHitsPidsLimit) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"python3", "-c",
                      "import os, sys, time\n"
                      "n = 0\n"
                      "try:\n"
                      "    while n < 200:\n"
                      "        if os.fork() == 0:\n"
                      "            time.sleep(3); os._exit(0)\n"
                      "        n += 1\n"
                      "except OSError as e:\n"
                      "    print('EAGAIN' if e.errno == 11 else e.errno, n); sys.exit(1)\n"},
                     {"--policy", Policy("pids", R"("pids": 32)"), "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(r.out.rfind("EAGAIN ", 0), 0u) << r.out << r.err;
  int forked = std::stoi(r.out.substr(7));
  EXPECT_LE(forked, 31);  // python itself is one of the 32
  EXPECT_GE(forked, 20);
  if (HasCgroup(ev)) {
    EXPECT_EQ(JsonField(ev, "failure_class"), "pids_limit") << ev;
    EXPECT_LE(Figure(ev, "pids_peak"), 32u);
    EXPECT_GE(Figure(ev, "pids_limit_hits"), 1u);
  }
}

TEST(Limits, OutputBeyondTheBudgetIsCutAndTheTaskStopped) {
  REQUIRE_SANDBOX();
  std::string evfile = WriteTempFile("out-ev.json", "");
  auto r = CordonRun({"/bin/sh", "-c", "head -c 10485760 /dev/zero; sleep 20"},
                     {"--policy", Policy("out", R"("output_bytes": 1048576)"), "--evidence", evfile});
  std::string ev;
  std::getline(std::ifstream(evfile), ev);
  EXPECT_EQ(r.out.size(), 1048576u);
  EXPECT_EQ(JsonField(ev, "failure_class"), "output_limit") << ev;
  EXPECT_EQ(JsonField(ev, "usage/output_bytes"), "1048576");
}

// A task that writes past the budget and exits at once, before the supervisor has read its pipe,
// still ends as output_limit with exit 137: its output was cut all the same. (The supervisor reads
// the output after the task's own exit 0 in about a third of such runs; 20 runs meet that order.)
TEST(Limits, OutputPastTheBudgetFailsEvenWhenTheTaskExitedFirst) {
  REQUIRE_SANDBOX();
  const std::string policy = Policy("out3", R"("output_bytes": 5)");
  for (int i = 0; i < 20; ++i) {
    std::string evfile = WriteTempFile("out3-ev.json", "");
    auto r = CordonRun({"/bin/sh", "-c", "echo 1234567890"}, {"--policy", policy, "--evidence", evfile});
    std::string ev;
    std::getline(std::ifstream(evfile), ev);
    EXPECT_EQ(r.out, "12345");
    EXPECT_EQ(JsonField(ev, "failure_class"), "output_limit") << ev;
    ASSERT_EQ(r.exit_code, 137) << "run " << i << ": " << r.err << ev;
    EXPECT_EQ(JsonField(ev, "exit/cordon_exit_code"), "137") << ev;
  }
}

TEST(Limits, OutputWithinTheBudgetPassesUntouched) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"/bin/sh", "-c", "seq 1 1000; echo err >&2"}, {"--policy", Policy("out2", R"("output_bytes": 1048576)")});
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.out.size(), 3893u);
  EXPECT_EQ(r.err, "err\n");
}

TEST(Limits, NofileLimitsOpenFiles) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"python3", "-c", "import resource; print(resource.getrlimit(resource.RLIMIT_NOFILE))"},
                     {"--policy", Policy("nofile", R"("nofile": 64)")});
  EXPECT_EQ(r.out, "(64, 64)\n") << r.err;
}

// Where a task's cgroups were, from its evidence: the directory of every figure's source file
// ("/sys/fs/cgroup/memory/cordon.slice/task-ID/memory.max_usage_in_bytes" -> ".../task-ID"). These
// are the bases the run really used, delegated or not.
std::set<std::string> TaskCgroupDirs(const std::string& ev) {
  std::set<std::string> dirs;
  const std::string id = "/task-" + JsonField(ev, "task_id");
  std::function<void(const nlohmann::json&)> walk = [&](const nlohmann::json& j) {
    if (!j.is_object()) return;
    for (const auto& [k, v] : j.items()) {
      if (k == "source" && v.is_string()) {
        std::string path = v.get<std::string>();
        path = path.substr(0, path.find(' '));  // "... (largest value seen by ReadUsage; ...)"
        size_t at = path.find(id);
        if (at != std::string::npos) dirs.insert(path.substr(0, at + id.size()));
      } else {
        walk(v);
      }
    }
  };
  try {
    walk(nlohmann::json::parse(ev).at("usage").at("cgroup"));
  } catch (const nlohmann::json::exception&) {
  }
  return dirs;
}

TEST(Limits, NoCgroupIsLeftAfterManyTasks) {
  REQUIRE_SANDBOX();
  if (auto why = NoTaskCgroupReason(); !why.empty()) GTEST_SKIP() << "no per-task cgroup for this user: " << why;
  // Our own tasks' cgroups, by id from their evidence: other tests may create cgroups meanwhile.
  std::string evfile = WriteTempFile("many-ev.jsonl", "");
  std::string policy = Policy("many", R"("memory_bytes": 67108864, "pids": 16)");
  for (int i = 0; i < 500; ++i) {
    auto r = CordonRun({"/bin/true"}, {"--policy", policy, "--evidence", evfile});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  // Where to look: the bases each run reported (parents of its task cgroups), and the bases the
  // cgroup layout code finds for this process (every hierarchy Cordon uses here, including a
  // hierarchy no figure came from).
  std::set<std::string> bases;
  for (const auto& b : TaskCgroupBases()) bases.insert(b);
  std::ifstream f(evfile);
  std::string line;
  std::vector<std::string> ids;
  std::set<std::string> task_dirs;
  while (std::getline(f, line)) {
    ids.push_back("task-" + JsonField(line, "task_id"));
    auto dirs = TaskCgroupDirs(line);
    EXPECT_FALSE(dirs.empty()) << "a task with a cgroup names none in its evidence: " << line;
    for (const auto& d : dirs) {
      task_dirs.insert(d);
      bases.insert(std::filesystem::path(d).parent_path());
    }
  }
  ASSERT_EQ(ids.size(), 500u);
  ASSERT_FALSE(task_dirs.empty());
  std::vector<std::string> leftovers;
  for (const auto& d : task_dirs)
    if (std::filesystem::exists(d)) leftovers.push_back(d);
  for (const auto& base : bases)
    for (const auto& id : ids)
      if (std::filesystem::exists(base + "/" + id)) leftovers.push_back(base + "/" + id);
  EXPECT_TRUE(leftovers.empty()) << leftovers.size() << " task cgroups left, e.g. " << leftovers.front();
  std::string where;
  for (const auto& b : bases) where += " " + b;
  std::printf("[ info ] looked for leftovers of %zu tasks in:%s\n", ids.size(), where.c_str());
}

// On a hybrid host the default layout puts cpu accounting and kills on the cgroup2 tree; with
// CORDON_CGROUPS=v1 the same limits run on v1 only: cpuacct figures, freezer-based kill, and the
// outer shim placed in the v1 cgroups instead of CLONE_INTO_CGROUP.
TEST(Limits, V1OnlyPathsOfThisHost) {
  REQUIRE_SANDBOX();
  RunOptions v1;
  v1.env = EnvWith("CORDON_CGROUPS=v1");
  if (auto why = NoTaskCgroupReason(/*ignore_v2=*/true); !why.empty()) GTEST_SKIP() << "no v1 controllers usable here: " << why;
  auto probe = CordonRun({"/bin/true"}, {"--evidence", "-"}, v1);
  std::string pev = EvidenceLine(probe);
  ASSERT_EQ(JsonField(pev, "usage/cgroup/mode"), "v1") << "this host has v1 controllers Cordon may use: " << pev;
  auto cpu = CordonRun({"python3", "-c", "while True: pass"},
                       {"--policy", Policy("cpu-v1", R"("max_cpu_ms": 300)"), "--evidence", "-"}, v1);
  std::string ev = EvidenceLine(cpu);
  EXPECT_EQ(JsonField(ev, "failure_class"), "cpu_budget") << ev;
  EXPECT_NE(JsonField(ev, "usage/cgroup/cpu_user_usec/source").find("cpuacct"), std::string::npos) << ev;
  uint64_t used = Figure(ev, "cpu_user_usec") + Figure(ev, "cpu_system_usec");
  EXPECT_GE(used, 300000u);
  EXPECT_LT(used, 600000u);
  // The freezer kill takes the whole sandbox, background processes included.
  auto wall = CordonRun({"/bin/sh", "-c", "sleep 30 & sleep 30 & sleep 30"},
                        {"--policy", Policy("wall-v1", R"("max_wall_ms": 300)"), "--evidence", "-"}, v1);
  EXPECT_EQ(JsonField(EvidenceLine(wall), "failure_class"), "wall_timeout");
  auto mem = CordonRun({"python3", "-c", "x = [bytearray(1 << 20) for _ in range(256)]"},
                       {"--policy", Policy("mem-v1", R"("memory_bytes": 67108864)"), "--evidence", "-"}, v1);
  ev = EvidenceLine(mem);
  EXPECT_EQ(JsonField(ev, "failure_class"), "oom") << ev;
  EXPECT_LE(Figure(ev, "memory_peak_bytes"), 67108864u);
}

TEST(Limits, CgroupsOffFallsBackToRlimitsAndSaysSo) {
  REQUIRE_SANDBOX();
  RunOptions off;
  off.env = EnvWith("CORDON_CGROUPS=off");
  auto r = CordonRun({"python3", "-c", "import resource; print(resource.getrlimit(resource.RLIMIT_NPROC))"},
                     {"--policy", Policy("off", R"("pids": 40)"), "--evidence", "-"}, off);
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), "(40, 40)");
  EXPECT_EQ(JsonField(ev, "limits/enforcement/pids"), "rlimit");
  EXPECT_EQ(JsonField(ev, "limits/enforcement/memory_bytes"), "monitor");
  EXPECT_EQ(JsonField(ev, "limits/enforced_by"), "monitor");
  EXPECT_EQ(JsonField(ev, "usage/cgroup/mode").rfind("none", 0), 0u);
  RunOptions bad;
  bad.env = EnvWith("CORDON_CGROUPS=maybe");
  auto b = CordonRun({"/bin/true"}, {}, bad);
  EXPECT_EQ(b.exit_code, 125);
  EXPECT_NE(b.err.find("CORDON_CGROUPS=maybe"), std::string::npos);
}

// ---- Default budgets (policies/default.json): bounded unless asked ----

TEST(DefaultBudgets, TheBuiltInPolicyIsBoundedAndSaysHow) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"/bin/true"}, {"--evidence", "-"});
  std::string ev = EvidenceLine(r);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(JsonField(ev, "limits/max_wall_ms"), "600000");
  EXPECT_EQ(JsonField(ev, "limits/max_cpu_ms"), "300000");
  EXPECT_EQ(JsonField(ev, "limits/memory_bytes"), "1073741824");
  EXPECT_EQ(JsonField(ev, "limits/pids"), "512");
  EXPECT_EQ(JsonField(ev, "limits/nofile"), "1024");
  const std::string how = HasCgroup(ev) ? "cgroup" : "monitor";
  EXPECT_EQ(JsonField(ev, "limits/enforcement/memory_bytes"), how) << ev;
  EXPECT_EQ(JsonField(ev, "limits/enforcement/max_cpu_ms"), how) << ev;
  EXPECT_EQ(JsonField(ev, "limits/enforcement/max_wall_ms"), "supervisor");
}

const char* kForkMany =
    "import os, sys, time\n"
    "n = 0\n"
    "try:\n"
    "    while n < 600:\n"
    "        if os.fork() == 0:\n"
    "            time.sleep(4); os._exit(0)\n"
    "        n += 1\n"
    "except OSError as e:\n"
    "    print('EAGAIN' if e.errno == 11 else e.errno, n); sys.exit(1)\n"
    "print('forked', n)\n";

TEST(DefaultBudgets, AForkBombStopsAtTheDefaultPidsLimit) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"python3", "-c", kForkMany}, {"--evidence", "-"});
  ASSERT_EQ(r.out.rfind("EAGAIN ", 0), 0u) << r.out << r.err;
  int forked = std::stoi(r.out.substr(7));
  EXPECT_LE(forked, 511);
  EXPECT_GE(forked, 400);
}

TEST(DefaultBudgets, LimitNoneLiftsOneDefault) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"python3", "-c", kForkMany}, {"--limit", "pids=none", "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(r.out.substr(0, r.out.find('\n')), "forked 600") << r.err;
  EXPECT_EQ(JsonField(ev, "limits/pids"), "0");
  EXPECT_EQ(JsonField(ev, "limits/enforcement/pids"), "none");
  EXPECT_EQ(JsonField(ev, "limits/overrides/0"), "pids=0");
  EXPECT_EQ(JsonField(ev, "limits/memory_bytes"), "1073741824") << "only the named limit is lifted";
  auto bad = CordonRun({"/bin/true"}, {"--limit", "nofile=none"});
  EXPECT_EQ(bad.exit_code, 125);
  EXPECT_NE(bad.err.find("nofile cannot be lifted to none"), std::string::npos) << bad.err;
  auto unknown = CordonRun({"/bin/true"}, {"--limit", "memory=1"});
  EXPECT_EQ(unknown.exit_code, 125);
  EXPECT_NE(unknown.err.find("unknown limit 'memory'"), std::string::npos) << unknown.err;
}

TEST(DefaultBudgets, TouchingOnePointFiveGiBEndsOom) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"python3", "-c", "import time; b = b'x' * (1536 << 20); time.sleep(2); print('survived')"},
                     {"--evidence", "-"});
  std::string ev = EvidenceLine(r);
  EXPECT_NE(r.out.rfind("survived\n", 0), 0u) << "the task survived";
  EXPECT_EQ(JsonField(ev, "failure_class"), "oom") << ev;
}

bool HasCapSysResource() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("CapEff:", 0) == 0) return (std::stoull(line.substr(7), nullptr, 16) >> 24) & 1;  // CAP_SYS_RESOURCE
  return false;
}

// The task's open-file limit is the policy's, soft and hard, whatever the caller had.
TEST(DefaultBudgets, NofileComesFromThePolicyNotTheCaller) {
  REQUIRE_SANDBOX();
  const std::string cordon = BuildPath("bin/cordon");
  const std::string probe = "import resource; print(resource.getrlimit(resource.RLIMIT_NOFILE))";
  auto r = RunProgram({"/bin/sh", "-c", "ulimit -Sn 4096 && exec \"$0\" run -- python3 -c \"$1\"", cordon, probe});
  EXPECT_EQ(r.out, "(1024, 1024)\n") << r.err;
  auto p = RunProgram({"/bin/sh", "-c", "ulimit -Sn 64 && exec \"$0\" run --limit nofile=2048 -- python3 -c \"$1\"",
                       cordon, probe});
  EXPECT_EQ(p.out, "(2048, 2048)\n") << p.err;
  // Above the caller's hard limit: raised for the task where the caller may (CAP_SYS_RESOURCE),
  // otherwise refused with the reason.
  auto high = RunProgram({"/bin/sh", "-c", "ulimit -n 512 && exec \"$0\" run --limit nofile=4096 -- python3 -c \"$1\"",
                          cordon, probe});
  if (HasCapSysResource()) {
    EXPECT_EQ(high.out, "(4096, 4096)\n") << high.err;
  } else {
    EXPECT_EQ(high.exit_code, 125);
    EXPECT_NE(high.err.find("above this process's hard limit of 512"), std::string::npos) << high.err;
  }
}

// ---- The whole sandbox, not each process (rootless: the supervisor's monitor) ----

TEST(SandboxBudgets, ThreeProcessesShareOneMemoryBudget) {
  REQUIRE_SANDBOX();
  // Each process alone stays under the budget; together they pass it.
  const std::string one = "python3 -c 'import time; b = b\"x\" * (400 << 20); time.sleep(4)'";
  // A cgroup's OOM killer may take one process and leave the rest; the monitor takes the sandbox.
  auto r = CordonRun({"/bin/sh", "-c", one + " & a=$!; " + one + " & b=$!; " + one +
                                           " & c=$!; wait $a && wait $b && wait $c && echo all-survived"},
                     {"--policy", Policy("mem3", R"("memory_bytes": 1073741824)"), "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  EXPECT_NE(r.out.rfind("all-survived\n", 0), 0u) << r.out;  // stdout is this line, or only the evidence
  EXPECT_EQ(JsonField(ev, "failure_class"), "oom") << ev;
  EXPECT_EQ(JsonField(ev, "limits/enforcement/memory_bytes"), HasCgroup(ev) ? "cgroup" : "monitor") << ev;
  if (!HasCgroup(ev)) {
    uint64_t peak = std::stoull(JsonField(ev, "usage/monitor/peak_memory_bytes"));
    EXPECT_GT(peak, 1073741824u);
    EXPECT_LT(peak, 1300u << 20) << "the monitor reacted late";
  }
}

TEST(SandboxBudgets, ThreeBusyProcessesShareOneCpuBudget) {
  REQUIRE_SANDBOX();
  const std::string spin = "python3 -c 'while True: pass'";
  auto r = CordonRun({"/bin/sh", "-c", spin + " & " + spin + " & " + spin + " & wait"},
                     {"--policy", Policy("cpu3", R"("max_cpu_ms": 1500)"), "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  EXPECT_EQ(JsonField(ev, "failure_class"), "cpu_budget") << ev;
  EXPECT_EQ(JsonField(ev, "limits/enforcement/max_cpu_ms"), HasCgroup(ev) ? "cgroup" : "monitor") << ev;
  // Per process, each could spend 1.5 s and more (4.5 s together); the sandbox may spend 1.5 s.
  uint64_t cpu = HasCgroup(ev) ? Figure(ev, "cpu_user_usec") + Figure(ev, "cpu_system_usec")
                               : std::stoull(JsonField(ev, "usage/monitor/cpu_usec"));
  EXPECT_GE(cpu, 1500000u);
  EXPECT_LT(cpu, 2000000u) << ev;
}

// Neither a cgroup nor the monitor: a memory or CPU budget is refused unless the caller accepts
// per-process rlimits, and then the evidence says so.
TEST(SandboxBudgets, PerProcessLimitsOnlyWhenAccepted) {
  REQUIRE_SANDBOX();
  RunOptions none;
  none.env = EnvWith("CORDON_CGROUPS=off");
  none.env.push_back("CORDON_LIMITS_MONITOR=off");
  auto refused = CordonRun({"/bin/true"}, {"--evidence", "-"}, none);
  EXPECT_EQ(refused.exit_code, 125);
  EXPECT_NE(refused.err.find("cannot hold the whole sandbox to"), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("--per-process-limits"), std::string::npos) << refused.err;
  auto accepted = CordonRun({"python3", "-c", "import resource; print(resource.getrlimit(resource.RLIMIT_AS))"},
                            {"--per-process-limits", "--evidence", "-"}, none);
  std::string ev = EvidenceLine(accepted);
  EXPECT_EQ(accepted.out.substr(0, accepted.out.find('\n')), "(1073741824, 1073741824)") << accepted.err;
  EXPECT_EQ(JsonField(ev, "limits/enforcement/memory_bytes"), "rlimit");
  EXPECT_EQ(JsonField(ev, "limits/enforced_by"), "rlimit");
  auto lifted = CordonRun({"/bin/true"}, {"--limit", "memory_bytes=none", "--limit", "max_cpu_ms=none"}, none);
  EXPECT_EQ(lifted.exit_code, 0) << lifted.err;
}

}  // namespace
}  // namespace cordon::test
