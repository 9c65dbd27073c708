// The sandbox-scoped /proc files PID 1 generates (common/proc_view.h), from real-looking host text.
#include <gtest/gtest.h>

#include <string>

#include "common/proc_view.h"

namespace cordon {
namespace {

constexpr const char* kHostMeminfo =
    "MemTotal:        8136024 kB\n"
    "MemFree:         1234567 kB\n"
    "MemAvailable:    5555555 kB\n"
    "Buffers:           12345 kB\n"
    "Cached:          2222222 kB\n"
    "SwapTotal:       1048572 kB\n"
    "HugePages_Total:       7\n"
    "Hugepagesize:       2048 kB\n"
    "DirectMap4k:      123456 kB\n";

TEST(ProcView, MeminfoShowsTheBudgetAndNoHostCounter) {
  std::string m = proc_view::Meminfo(kHostMeminfo, 512ull << 20);
  EXPECT_EQ(m,
            "MemTotal:         524288 kB\n"
            "MemFree:          524288 kB\n"
            "MemAvailable:     524288 kB\n"
            "Buffers:               0 kB\n"
            "Cached:                0 kB\n"
            "SwapTotal:             0 kB\n"
            "HugePages_Total:       0\n"
            "Hugepagesize:       2048 kB\n"
            "DirectMap4k:           0 kB\n");
}

TEST(ProcView, MeminfoWithoutABudgetOrABudgetAboveTheHostShowsTheHostTotal) {
  for (uint64_t budget : {0ull, 64ull << 30}) {
    std::string m = proc_view::Meminfo(kHostMeminfo, budget);
    EXPECT_EQ(m.substr(0, m.find('\n')), "MemTotal:        8136024 kB") << budget;
    EXPECT_NE(m.find("MemFree:         8136024 kB\n"), std::string::npos) << m;
    EXPECT_EQ(m.find("1234567"), std::string::npos) << m;
  }
  EXPECT_EQ(proc_view::Meminfo("garbage\n", 1 << 20), "");
}

TEST(ProcView, StatHasOneLinePerCpuAndOnlyZeros) {
  EXPECT_EQ(proc_view::Stat(2, 1700000000),
            "cpu  0 0 0 0 0 0 0 0 0 0\n"
            "cpu0 0 0 0 0 0 0 0 0 0 0\n"
            "cpu1 0 0 0 0 0 0 0 0 0 0\n"
            "intr 0\nctxt 0\nbtime 1700000000\n"
            "processes 0\nprocs_running 1\nprocs_blocked 0\n"
            "softirq 0 0 0 0 0 0 0 0 0 0 0\n");
  EXPECT_EQ(proc_view::StatBtime("cpu  1 2 3\nintr 5 6\nbtime 1699999999\nprocesses 9\n"), 1699999999u);
  EXPECT_EQ(proc_view::StatBtime("cpu  1 2 3\n"), 0u);
}

TEST(ProcView, CpuinfoKeepsTheSandboxsCpusRenumbered) {
  const std::string host =
      "processor\t: 0\nmodel name\t: A\nflags\t\t: fpu sse\n\n"
      "processor\t: 1\nmodel name\t: B\nflags\t\t: fpu\n\n"
      "processor\t: 2\nmodel name\t: C\nflags\t\t: fpu avx\n\n";
  EXPECT_EQ(proc_view::Cpuinfo(host, {1, 2}),
            "processor\t: 0\nmodel name\t: B\nflags\t\t: fpu\n\n"
            "processor\t: 1\nmodel name\t: C\nflags\t\t: fpu avx\n\n");
  EXPECT_EQ(proc_view::Cpuinfo(host, {0, 1, 2}), host);  // all CPUs: the host's text
  EXPECT_EQ(proc_view::Cpuinfo(host, {7}), "");
}

}  // namespace
}  // namespace cordon
