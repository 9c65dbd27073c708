// Budgets from a real sandbox: each limit ends the task with the right failure class, enforced on
// the whole sandbox, and the per-task cgroup never outlives it. Runs rootful (cgroups on this host)
// and rootless (no delegated cgroup here: rlimit fallback, which the evidence names).
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "tests/support/run.h"

extern char** environ;

namespace cordon::test {
namespace {

std::string Policy(const std::string& name, const std::string& limits) {
  return WriteTempFile(name + ".json", R"({"name": ")" + name + R"(", "version": 1, "limits": {)" + limits + "}}");
}

bool HasCgroup(const std::string& ev) { return JsonField(ev, "usage/cgroup/mode").rfind("none", 0) != 0; }

uint64_t Figure(const std::string& ev, const std::string& name) {
  std::string v = JsonField(ev, "usage/cgroup/" + name + "/value");
  return v.empty() || v == "null" ? 0 : std::stoull(v);
}

TEST(Limits, MemoryHogEndsOomWithPeakWithinLimit) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"python3", "-c", "x = [bytearray(1 << 20) for _ in range(256)]"},
                     {"--policy", Policy("mem", R"("memory_bytes": 67108864)"), "--evidence", "-"});
  std::string ev = EvidenceLine(r);
  if (!HasCgroup(ev)) {
    // rlimit fallback: RLIMIT_AS makes the allocation fail inside Python.
    EXPECT_NE(r.exit_code, 0);
    EXPECT_EQ(JsonField(ev, "limits/enforced_by"), "rlimit");
    return;
  }
  EXPECT_EQ(JsonField(ev, "failure_class"), "oom") << ev;
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

TEST(Limits, NoCgroupIsLeftAfterManyTasks) {
  REQUIRE_SANDBOX();
  auto r0 = CordonRun({"/bin/true"}, {"--evidence", "-"});
  if (!HasCgroup(EvidenceLine(r0))) GTEST_SKIP() << "no per-task cgroup for this user: " << JsonField(EvidenceLine(r0), "usage/cgroup/mode");
  // Our own tasks' cgroups, by id from their evidence: other tests may create cgroups meanwhile.
  std::string evfile = WriteTempFile("many-ev.jsonl", "");
  std::string policy = Policy("many", R"("memory_bytes": 67108864, "pids": 16)");
  for (int i = 0; i < 500; ++i) {
    auto r = CordonRun({"/bin/true"}, {"--policy", policy, "--evidence", evfile});
    ASSERT_EQ(r.exit_code, 0) << r.err;
  }
  std::ifstream f(evfile);
  std::string line;
  int tasks = 0, leftovers = 0;
  while (std::getline(f, line)) {
    ++tasks;
    std::string id = "task-" + JsonField(line, "task_id");
    for (const char* base : {"/sys/fs/cgroup", "/sys/fs/cgroup/unified", "/sys/fs/cgroup/memory", "/sys/fs/cgroup/pids",
                             "/sys/fs/cgroup/blkio", "/sys/fs/cgroup/cpuacct", "/sys/fs/cgroup/freezer"}) {
      if (std::filesystem::exists(std::string(base) + "/cordon.slice/" + id)) ++leftovers;
    }
  }
  EXPECT_EQ(tasks, 500);
  EXPECT_EQ(leftovers, 0);
}

// On a hybrid host the default layout puts cpu accounting and kills on the cgroup2 tree; with
// CORDON_CGROUPS=v1 the same limits run on v1 only: cpuacct figures, freezer-based kill, and the
// outer shim placed in the v1 cgroups instead of CLONE_INTO_CGROUP.
TEST(Limits, V1OnlyPathsOfThisHost) {
  REQUIRE_SANDBOX();
  RunOptions v1;
  v1.env = EnvWith("CORDON_CGROUPS=v1");
  auto probe = CordonRun({"/bin/true"}, {"--evidence", "-"}, v1);
  std::string pev = EvidenceLine(probe);
  if (JsonField(pev, "usage/cgroup/mode") != "v1")
    GTEST_SKIP() << "no v1 controllers usable here: " << JsonField(pev, "usage/cgroup/mode");
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
  EXPECT_EQ(JsonField(ev, "limits/enforced_by"), "rlimit");
  EXPECT_EQ(JsonField(ev, "usage/cgroup/mode").rfind("none", 0), 0u);
  RunOptions bad;
  bad.env = EnvWith("CORDON_CGROUPS=maybe");
  auto b = CordonRun({"/bin/true"}, {}, bad);
  EXPECT_EQ(b.exit_code, 125);
  EXPECT_NE(b.err.find("CORDON_CGROUPS=maybe"), std::string::npos);
}

}  // namespace
}  // namespace cordon::test
