// Issue 13's isolation items, checked on a real sandbox: PID 1 of the sandbox is no less confined
// than the task (from inside), and the outer shim holds no host privilege once the sandbox is set
// up (from the host). Runs rootful, rootless, and pooled (ctest's `pooled.` variant).
#include <gtest/gtest.h>
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>
#include <vector>

#include "tests/support/run.h"

namespace cordon::test {
namespace {

std::string StatusField(const std::string& status, const std::string& key) {
  std::istringstream in(status);
  std::string line;
  while (std::getline(in, line))
    if (line.rfind(key + ":", 0) == 0) {
      std::string v = line.substr(key.size() + 1);
      while (!v.empty() && (v.front() == '\t' || v.front() == ' ')) v.erase(0, 1);
      return v;
    }
  return "";
}

std::string ReadFile(const std::string& path) {
  std::ifstream f(path);
  return std::string(std::istreambuf_iterator<char>(f), {});
}

// PID 1 confines itself right after the task's execve; the task may read /proc/1/status before
// that, so it waits (bounded) for the filter to show, then prints the lines.
constexpr const char* kPid1Status =
    "i=0; while ! grep -q '^Seccomp:.2' /proc/1/status && [ $i -lt 500 ]; do i=$((i+1)); sleep 0.01; done; "
    "grep -E '^(CapInh|CapPrm|CapEff|CapBnd|CapAmb|NoNewPrivs|Seccomp):' /proc/1/status";

TEST(Hardening, Pid1IsNoLessConfinedThanTheTask) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"/bin/sh", "-c", kPid1Status});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  for (const char* cap : {"CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"})
    EXPECT_EQ(StatusField(r.out, cap), "0000000000000000") << cap << " of PID 1:\n" << r.out;
  EXPECT_EQ(StatusField(r.out, "NoNewPrivs"), "1") << r.out;
  EXPECT_EQ(StatusField(r.out, "Seccomp"), "2") << r.out;
}

TEST(Hardening, TaskCannotStopKillOrTracePid1) {
  REQUIRE_SANDBOX();
  // SIGKILL, SIGSTOP and signals PID 1 has no handler for are dropped by the kernel for a
  // namespace's init (kernel/signal.c sig_task_ignored), from the task and from its children
  // alike. The ones PID 1 handles come back to the task: it forwards them, as it does the
  // supervisor's. ptrace and /proc/1/mem are refused: PID 1 is not dumpable. This is PID 1's own
  // hardening, so the Landlock layer, whose signal scope (ABI >= 6) refuses every signal to PID 1
  // before it gets there (LandlockLayer.TaskCannotSignalOutsideItsDomain), is left out.
  RunOptions no_layer;
  no_layer.env = EnvWith("CORDON_LANDLOCK=off");
  auto r = CordonRun({"python3", "-c",
                      "import ctypes, os, signal, time\n"
                      "got = []\n"
                      "signal.signal(signal.SIGUSR1, lambda *a: got.append('usr1'))\n"
                      "for s in (signal.SIGKILL, signal.SIGSTOP, signal.SIGSEGV, signal.SIGSYS):\n"
                      "    os.kill(1, s)\n"
                      "if os.fork() == 0:\n"
                      "    os.kill(1, signal.SIGKILL); os.kill(1, signal.SIGSTOP); os._exit(0)\n"
                      "os.wait()\n"
                      "os.kill(1, signal.SIGUSR1)\n"
                      "for _ in range(500):\n"
                      "    if got: break\n"
                      "    time.sleep(0.01)\n"
                      "print(got)\n"
                      "state = [l for l in open('/proc/1/status') if l.startswith('State:')][0].split()[1]\n"
                      "print('pid1', state)\n"
                      "libc = ctypes.CDLL(None, use_errno=True)\n"
                      "print('ptrace', libc.ptrace(16, 1, 0, 0), os.strerror(ctypes.get_errno()))\n"  // PTRACE_ATTACH
                      "try:\n    open('/proc/1/mem', 'rb').read(1); print('mem readable')\n"
                      "except OSError as e:\n    print('mem', e.strerror)\n"},
                     {}, no_layer);
  ASSERT_EQ(r.exit_code, 0) << r.out << r.err;
  std::istringstream out(r.out);
  std::string got, state, ptrace, mem;
  std::getline(out, got);
  std::getline(out, state);
  std::getline(out, ptrace);
  std::getline(out, mem);
  EXPECT_EQ(got, "['usr1']") << r.out;
  EXPECT_TRUE(state == "pid1 S" || state == "pid1 R") << r.out;  // not stopped (T), not gone
  EXPECT_EQ(ptrace.rfind("ptrace -1 ", 0), 0u) << r.out;
  EXPECT_EQ(mem.rfind("mem ", 0), 0u) << r.out;
  EXPECT_EQ(mem.find("readable"), std::string::npos) << r.out;
}

// The host's view of a running `cordon run -- sleep <tag>`: the outer shim is the parent of the
// sandbox's PID 1, which is the parent of the task.
pid_t FindByCmdline(const std::string& cmd, const std::string& arg) {
  for (auto& e : std::filesystem::directory_iterator("/proc")) {
    std::ifstream f(e.path() / "cmdline");
    std::string c, a;
    std::getline(f, c, '\0');
    std::getline(f, a, '\0');
    if (c == cmd && a == arg) return static_cast<pid_t>(std::stol(e.path().filename().string()));
  }
  return -1;
}

pid_t ParentOf(pid_t pid) {
  std::string v = StatusField(ReadFile("/proc/" + std::to_string(pid) + "/status"), "PPid");
  return v.empty() ? -1 : static_cast<pid_t>(std::stol(v));
}

TEST(Hardening, OuterShimHoldsNoPrivilegeWhileTheTaskRuns) {
  REQUIRE_SANDBOX();
  const std::string tag = "771." + std::to_string(::getpid());
  pid_t cordon = ::fork();
  if (cordon == 0) {
    std::string bin = BuildPath("bin/cordon");
    ::execl(bin.c_str(), "cordon", "run", "--", "sleep", tag.c_str(), nullptr);
    _exit(1);
  }
  pid_t task = -1;
  for (int i = 0; i < 500 && (task = FindByCmdline("sleep", tag)) < 0; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  ASSERT_GT(task, 0) << "the task never started";
  const pid_t pid1 = ParentOf(task);
  const pid_t outer = ParentOf(pid1);
  EXPECT_EQ(ParentOf(outer), cordon) << "not the outer shim: " << outer;
  EXPECT_EQ(ReadFile("/proc/" + std::to_string(outer) + "/comm"), "cordon-shim\n");
  // The outer shim drops its privileges right after it cloned PID 1, long before the task shows
  // up; the bounded wait for the drop's last step (no_new_privs) only keeps a slow host from
  // turning an ordering assumption into a flaky failure.
  std::string status;
  for (int i = 0; i < 500; ++i) {
    status = ReadFile("/proc/" + std::to_string(outer) + "/status");
    if (StatusField(status, "NoNewPrivs") == "1") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  for (const char* cap : {"CapInh", "CapPrm", "CapEff", "CapAmb"})
    EXPECT_EQ(StatusField(status, cap), "0000000000000000") << cap << " of the outer shim:\n" << status;
  EXPECT_EQ(StatusField(status, "NoNewPrivs"), "1") << status;
  if (IsRoot()) {
    // Rootful: the bounding set is empty too, and no id is root any more: the outer shim runs as
    // the task's host uid, which is how it may still signal the sandbox's PID 1.
    EXPECT_EQ(StatusField(status, "CapBnd"), "0000000000000000") << status;
    const std::string host_uid = StatusField(ReadFile("/proc/" + std::to_string(task) + "/status"), "Uid");
    EXPECT_EQ(StatusField(status, "Uid"), host_uid) << status;
    EXPECT_NE(StatusField(status, "Uid").rfind("0\t", 0), 0u) << status;
  }
  // And it still does its job: a SIGTERM to cordon is forwarded through it to the task.
  ::kill(cordon, SIGTERM);
  int st = 0;
  ::waitpid(cordon, &st, 0);
  EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 128 + SIGTERM) << "wait status " << st;
}


// Item 11: host-wide /proc statistics. Each masked file must fail to open; the masked directories
// are empty; the sandbox-scoped files show the sandbox (docs/sandbox.md, "/proc").
TEST(Hardening, HostWideProcStatisticsAreMasked) {
  REQUIRE_SANDBOX();
  auto r = CordonRun({"/bin/sh", "-c",
                      "for f in interrupts softirqs vmstat diskstats partitions iomem ioports cmdline keys key-users "
                      "  kallsyms zoneinfo buddyinfo locks swaps schedstat modules sys/fs/file-nr sys/fs/inode-nr "
                      "  sys/fs/dentry-state sys/fs/inode-state sys/fs/aio-nr sys/kernel/pty/nr "
                      "  sys/kernel/random/boot_id "
                      // mode 0400, host root's: not masked, never readable in a sandbox
                      "  kpagecount kpageflags kpagecgroup timer_list slabinfo pagetypeinfo vmallocinfo kmsg; do "
                      "  test -e /proc/$f || continue; head -c1 /proc/$f >/dev/null 2>&1 && echo readable:$f; done; "
                      "for d in pressure fs bus irq acpi driver scsi asound; do "
                      "  test -d /proc/$d && ls -A /proc/$d | sed \"s|^|listed:$d/|\"; done; "
                      "(echo x > /proc/meminfo) 2>/dev/null && echo writable:meminfo; "
                      "head -c1 /proc/sys/kernel/ostype >/dev/null && echo sys-readable"});
  EXPECT_EQ(r.out, "sys-readable\n") << r.err;
}

// Every name PID 1 masks (shim/mnt.cc MountProc), checked against the host's own /proc, which is
// the same kernel's: each one the host has must be in the sandbox too, masked. A file is /dev/null
// on a nodev mount (opening it fails), a directory is empty, and both are read-only mounts. PID 1
// skips a name its fresh procfs does not list; a name skipped that the kernel has would show here
// as unmasked or absent.
TEST(Hardening, EveryMaskedProcPathTheHostHasIsMaskedInside) {
  REQUIRE_SANDBOX();
  const std::vector<std::string> files = {
      "kcore", "kallsyms", "keys", "key-users", "config.gz", "sched_debug", "latency_stats", "timer_stats",
      "modules", "mtrr", "interrupts", "softirqs", "vmstat", "schedstat", "diskstats", "buddyinfo", "zoneinfo",
      "locks", "swaps", "partitions", "iomem", "ioports", "cmdline", "bootconfig", "sys/fs/dentry-state",
      "sys/fs/inode-nr", "sys/fs/inode-state", "sys/fs/file-nr", "sys/fs/aio-nr", "sys/kernel/pty/nr",
      "sys/kernel/random/boot_id"};
  const std::vector<std::string> dirs = {"acpi", "asound", "bus", "driver", "fs", "irq", "pressure", "scsi"};
  std::string script;
  for (const auto& f : files) {
    if (!std::filesystem::exists("/proc/" + f)) continue;
    script += "test -e /proc/" + f + " || echo absent:" + f + "; head -c1 /proc/" + f +
              " >/dev/null 2>&1 && echo readable:" + f + "; grep -q ' /proc/" + f +
              " ro,' /proc/self/mountinfo || echo not-a-ro-mount:" + f + "; ";
  }
  for (const auto& d : dirs) {
    if (!std::filesystem::is_directory("/proc/" + d)) continue;
    script += "test -d /proc/" + d + " || echo absent:" + d + "; ls -A /proc/" + d + " | sed 's|^|listed:" + d +
              "/|'; grep -q ' /proc/" + d + " ro,' /proc/self/mountinfo || echo not-a-ro-mount:" + d + "; ";
  }
  script += "echo done";
  auto r = CordonRun({"/bin/sh", "-c", script});
  EXPECT_EQ(r.out, "done\n") << r.err;
}

TEST(Hardening, MeminfoStatCpuinfoLoadavgAndUptimeAreTheSandboxs) {
  REQUIRE_SANDBOX();
  std::string policy = WriteTempFile("mem.json", R"({"name": "mem", "version": 1,
      "limits": {"memory_bytes": 268435456}, "env": {"set": {"PATH": "/usr/bin:/bin"}}})");
  auto r = CordonRun({"python3", "-c",
                      "import os\n"
                      "mem = dict(l.split(':') for l in open('/proc/meminfo'))\n"
                      "print(mem['MemTotal'].split(), mem['MemFree'].split(), mem['Cached'].split())\n"
                      "stat = open('/proc/stat').read().split('\\n')\n"
                      "cpus = [l for l in stat if l.startswith('cpu') and l[3].isdigit()]\n"
                      "nums = [int(x) for l in stat if l and not l.startswith(('btime', 'procs_running')) "
                      "        for x in l.split()[1:]]\n"
                      "print(len(cpus), os.cpu_count(), len(os.sched_getaffinity(0)), sum(nums))\n"
                      "print(open('/proc/cpuinfo').read().count('processor\\t:'))\n"
                      "print(open('/proc/loadavg').read().strip())\n"
                      "print(float(open('/proc/uptime').read().split()[0]) < 30)\n"},
                     {"--policy", policy});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  const std::string n = std::to_string(CPU_COUNT(&set));
  EXPECT_EQ(r.out, "['262144', 'kB'] ['262144', 'kB'] ['0', 'kB']\n" + n + " " + n + " " + n + " 0\n" + n +
                       "\n0.00 0.00 0.00 0/0 0\nTrue\n");
}

TEST(Hardening, CpuViewsFollowTheAffinity) {
  REQUIRE_SANDBOX();
  cpu_set_t set;
  CPU_ZERO(&set);
  ASSERT_EQ(::sched_getaffinity(0, sizeof set, &set), 0);
  if (CPU_COUNT(&set) < 2) GTEST_SKIP() << "one CPU only: no smaller affinity to give the sandbox";
  int last = 0;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) last = c;
  // One CPU of the host's (its last one): the sandbox's cpuinfo is that CPU's block, numbered 0.
  // (posix_spawn passes our affinity on to cordon, and cordon to the sandbox)
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(last, &one);
  ASSERT_EQ(::sched_setaffinity(0, sizeof one, &one), 0);
  auto r = CordonRun({"python3", "-c",
                      "import os\n"
                      "stat = [l for l in open('/proc/stat') if l.startswith('cpu') and l[3].isdigit()]\n"
                      "info = [l for l in open('/proc/cpuinfo') if l.startswith('processor')]\n"
                      "print(len(stat), os.cpu_count(), [l.split(':')[1].strip() for l in info])\n"});
  ASSERT_EQ(::sched_setaffinity(0, sizeof set, &set), 0);
  EXPECT_EQ(r.out, "1 1 ['0']\n") << r.err;
}

TEST(Hardening, ProcfsToolsStillWork) {
  REQUIRE_SANDBOX();
  // ps reads /proc/stat (btime), /proc/uptime and /proc/<pid>/stat; free reads /proc/meminfo.
  auto r = CordonRun({"/bin/sh", "-c",
                      "ps -o pid=,comm= -p $$; ps -eo etimes= | head -1 | awk '$1 < 30 {print \"etime-ok\"}'; "
                      "free -k | awk '/^Mem:/ {print ($2 == $4) ? \"free-ok\" : $0}'; "
                      "python3 -c 'import os; print(open(\"/proc/self/stat\").read().split()[0] == str(os.getpid()))'"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "      2 sh\netime-ok\nfree-ok\nTrue\n") << r.err;
}

}  // namespace
}  // namespace cordon::test
