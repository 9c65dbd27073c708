// Issue 13's isolation items, checked on a real sandbox: PID 1 of the sandbox is no less confined
// than the task (from inside), and the outer shim holds no host privilege once the sandbox is set
// up (from the host). Runs rootful, rootless, and pooled (ctest's `pooled.` variant).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

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
  // supervisor's. ptrace and /proc/1/mem are refused: PID 1 is not dumpable.
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
                      "except OSError as e:\n    print('mem', e.strerror)\n"});
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
  const std::string status = ReadFile("/proc/" + std::to_string(outer) + "/status");
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

}  // namespace
}  // namespace cordon::test
