// The sandbox-scoped /proc files PID 1 generates (common/proc_view.h), from real-looking host text.
#include <gtest/gtest.h>

#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "common/proc_view.h"

namespace cordon {
namespace {

constexpr uint64_t kHostTotal = 8136024ull * 1024;

// "Key: value" pairs of a meminfo text.
std::vector<std::pair<std::string, std::string>> Fields(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    size_t colon = line.find(':');
    std::string v = line.substr(colon + 1);
    v.erase(0, v.find_first_not_of(' '));
    out.emplace_back(line.substr(0, colon), v);
  }
  return out;
}

TEST(ProcView, MeminfoShowsTheBudgetAndNoHostCounter) {
  std::string m = proc_view::Meminfo(kHostTotal, 512ull << 20);
  EXPECT_EQ(m.substr(0, m.find("Buffers")),
            "MemTotal:         524288 kB\n"
            "MemFree:          524288 kB\n"
            "MemAvailable:     524288 kB\n");
  auto fields = Fields(m);
  ASSERT_GE(fields.size(), 30u);
  for (const auto& [key, value] : fields) {
    if (key == "MemTotal" || key == "MemFree" || key == "MemAvailable") continue;
    if (key == "Hugepagesize") {
      EXPECT_EQ(value, "2048 kB");
    } else if (key.rfind("HugePages_", 0) == 0) {
      EXPECT_EQ(value, "0") << key;
    } else {
      EXPECT_EQ(value, "0 kB") << key;
    }
  }
  // What procps free reads is all there.
  for (const char* key : {"Buffers", "Cached", "SReclaimable", "Shmem", "SwapTotal", "SwapFree", "Active", "Inactive"})
    EXPECT_NE(m.find(std::string("\n") + key + ":"), std::string::npos) << key;
}

TEST(ProcView, MeminfoWithoutABudgetOrABudgetAboveTheHostShowsTheHostTotal) {
  for (uint64_t budget : {0ull, 64ull << 30}) {
    std::string m = proc_view::Meminfo(kHostTotal, budget);
    EXPECT_EQ(m.substr(0, m.find('\n')), "MemTotal:        8136024 kB") << budget;
    EXPECT_NE(m.find("MemAvailable:    8136024 kB\n"), std::string::npos) << m;
  }
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
