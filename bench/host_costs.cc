// cordon-host-costs: what this machine charges for the primitives a sandbox is made of
// (docs/performance.md, "What the host charges"). Numbers for people: it never passes or fails.
//
//   cordon-host-costs [--runs N]
//
// A sandbox start is a handful of process lifecycles, namespace creations, page faults and system
// calls. Their prices differ by an order of magnitude between bare metal and a paravirtualised
// guest, and they set the floor under every contender of cordon-bench. Each row is the median of N
// runs (200 by default). Namespace rows need root, or add CLONE_NEWUSER (done automatically when
// unprivileged); their "CPU" column is the whole machine's CPU per lifecycle from /proc/stat,
// which includes the kernel's asynchronous teardown (a network namespace is cleaned up by a
// kworker after its last process exits) and whatever else runs meanwhile.
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

extern char** environ;

namespace {

uint64_t NowNs() {
  timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
}

double Median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// Busy CPU time of the whole machine, in ms (user, nice, system, irq, softirq).
double MachineCpuMs() {
  FILE* f = std::fopen("/proc/stat", "r");
  if (f == nullptr) return 0;
  unsigned long long u = 0, n = 0, s = 0, idle = 0, io = 0, irq = 0, sirq = 0;
  int got = std::fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu", &u, &n, &s, &idle, &io, &irq, &sirq);
  std::fclose(f);
  if (got != 7) return 0;
  return double(u + n + s + irq + sirq) * 1000.0 / double(sysconf(_SC_CLK_TCK));
}

void Row(const char* what, double value, const char* unit, const std::string& note = "") {
  std::printf("| %-56s | %9.2f %-2s | %s\n", what, value, unit, note.c_str());
}

// Runs `one` (which returns a duration in ns) `runs` times; the median in microseconds.
double MedianUs(int runs, const std::function<uint64_t()>& one) {
  std::vector<double> v;
  for (int i = 0; i < runs; ++i) v.push_back(double(one()) / 1000.0);
  return Median(std::move(v));
}

uint64_t SpawnWaitNs(const std::vector<const char*>& argv) {
  const uint64_t t = NowNs();
  pid_t pid;
  if (posix_spawn(&pid, argv[0], nullptr, nullptr, const_cast<char* const*>(argv.data()), environ) != 0) return 0;
  int st;
  waitpid(pid, &st, 0);
  return NowNs() - t;
}

struct Lifecycle {
  double clone_us = 0, exit_wait_us = 0, cpu_ms = 0;
  bool ok = true;
};

// clone3 with `flags` (no CLONE_VM: a fork), the child exits at once; the parent waits for it.
// The settling pause after each series, and the machine's CPU over such a pause with nothing of
// ours running (measured once, subtracted).
constexpr useconds_t kSettleUs = 500 * 1000;
double idle_cpu_ms = 0;

Lifecycle CloneLifecycle(uint64_t flags, int runs) {
  Lifecycle l;
  std::vector<double> c, w;
  const double cpu0 = MachineCpuMs();
  for (int i = 0; i < runs; ++i) {
    clone_args ca{};
    ca.flags = flags;
    ca.exit_signal = SIGCHLD;
    const uint64_t t0 = NowNs();
    long pid = syscall(SYS_clone3, &ca, sizeof ca);
    if (pid == 0) _exit(0);
    if (pid < 0) {
      l.ok = false;
      return l;
    }
    const uint64_t t1 = NowNs();
    int st;
    waitpid(static_cast<pid_t>(pid), &st, 0);
    c.push_back(double(t1 - t0) / 1000.0);
    w.push_back(double(NowNs() - t1) / 1000.0);
  }
  usleep(kSettleUs);  // let asynchronous teardown finish inside the CPU window
  l.cpu_ms = std::max(0.0, MachineCpuMs() - cpu0 - idle_cpu_ms) / runs;
  l.clone_us = Median(c);
  l.exit_wait_us = Median(w);
  return l;
}

}  // namespace

int main(int argc, char** argv) {
  // Re-executed by the "static glibc process" row: exit at once, before doing anything else.
  if (argc == 2 && std::strcmp(argv[1], "--exit-now") == 0) return 0;
  int runs = 200;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--runs") == 0 && i + 1 < argc) {
      runs = std::max(10, std::atoi(argv[++i]));
    } else {
      std::printf("usage: cordon-host-costs [--runs N]\n"
                  "Prints what this machine charges for the primitives a sandbox is made of "
                  "(docs/performance.md).\n");
      return std::strcmp(argv[i], "-h") == 0 || std::strcmp(argv[i], "--help") == 0 ? 0 : 2;
    }
  }
  const bool root = geteuid() == 0;
  std::printf("\ncordon-host-costs: medians of %d runs%s\n\n", runs,
              root ? "" : " (unprivileged: each namespace row adds CLONE_NEWUSER)");
  std::printf("| %-56s | %12s | note\n|----------------------------------------------------------|--------------|-----\n",
              "primitive", "median");

  Row("system call (getppid)", MedianUs(runs, [] {
        const uint64_t t = NowNs();
        for (int i = 0; i < 100; ++i) syscall(SYS_getppid);
        return (NowNs() - t) / 100;
      }), "us");

  {
    // First write to fresh anonymous pages: one fault each.
    constexpr size_t kPages = 256;
    const size_t page = size_t(sysconf(_SC_PAGESIZE));
    Row("page fault (first write to an anonymous page)", MedianUs(std::max(10, runs / 10), [&] {
          char* p = static_cast<char*>(mmap(nullptr, kPages * page, PROT_READ | PROT_WRITE,
                                            MAP_PRIVATE | MAP_ANONYMOUS, -1, 0));
          if (p == MAP_FAILED) return uint64_t(0);
          const uint64_t t = NowNs();
          for (size_t i = 0; i < kPages; ++i) p[i * page] = 1;
          const uint64_t d = (NowNs() - t) / kPages;
          munmap(p, kPages * page);
          return d;
        }), "us");
  }

#if defined(__x86_64__)
  Row("cpuid instruction (glibc's start-up runs dozens)", MedianUs(runs, [] {
        unsigned a, b, c, d;
        const uint64_t t = NowNs();
        for (unsigned i = 0; i < 20; ++i) __cpuid_count(0x80000000u, 0, a, b, c, d);
        return (NowNs() - t) / 20;
      }), "us", "a VM exit on most hypervisors");
#endif

  char self[4096];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  if (n > 0) {
    self[n] = '\0';
    const std::string exit_only = std::string(self, std::strrchr(self, '/') + 1) + "cordon-exit-only";
    if (access(exit_only.c_str(), X_OK) == 0)
      Row("spawn+exit+wait: a program without libc that only exits", MedianUs(runs, [&] {
            return SpawnWaitNs({exit_only.c_str(), nullptr});
          }) / 1000.0, "ms", "the floor under any exec");
    Row("spawn+exit+wait: static glibc program, empty main", MedianUs(runs, [&] {
          return SpawnWaitNs({self, "--exit-now", nullptr});
        }) / 1000.0, "ms", "this binary re-executed; cordon and cordon-shim start like it");
  }
  if (access("/bin/true", X_OK) == 0)
    Row("spawn+exit+wait: /bin/true (dynamic glibc)", MedianUs(runs, [] {
          return SpawnWaitNs({"/bin/true", nullptr});
        }) / 1000.0, "ms", "cordon-bench's bare row");

  const uint64_t base = root ? 0 : CLONE_NEWUSER;
  const struct {
    const char* name;
    uint64_t flags;
  } kinds[] = {{"fork+exit+wait (no namespace)", 0},
               {"  + new user namespace", CLONE_NEWUSER},
               {"  + new mount namespace", CLONE_NEWNS},
               {"  + new PID namespace", CLONE_NEWPID},
               {"  + new network namespace", CLONE_NEWNET},
               {"  + new IPC namespace", CLONE_NEWIPC},
               {"  + new UTS namespace", CLONE_NEWUTS},
               {"  + all six (a sandbox's set)", CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET |
                                                     CLONE_NEWIPC | CLONE_NEWUTS}};
  std::printf("\n| %-56s | %9s | %9s | %s\n|----------------------------------------------------------|-----------|"
              "-----------|------------------\n",
              "process lifecycle (clone3, child exits at once)", "clone ms", "exit ms", "machine CPU ms");
  const double idle0 = MachineCpuMs();
  usleep(kSettleUs);
  idle_cpu_ms = MachineCpuMs() - idle0;
  for (const auto& k : kinds) {
    const uint64_t flags = k.flags == 0 ? 0 : (k.flags | base);
    Lifecycle l = CloneLifecycle(flags, runs);
    if (!l.ok) {
      std::printf("| %-56s | %9s | %9s | clone3: %s\n", k.name, "-", "-", std::strerror(errno));
      continue;
    }
    std::printf("| %-56s | %9.3f | %9.3f | %.2f\n", k.name, l.clone_us / 1000.0, l.exit_wait_us / 1000.0, l.cpu_ms);
  }
  return 0;
}
