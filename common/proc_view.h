// common/proc_view.h: the sandbox-scoped /proc files PID 1 generates at setup (docs/sandbox.md,
// "/proc"). Pure text in, text out: no system call, unit-tested (tests/unit/proc_view_test.cc).
// The files are static: written once when the sandbox is built and bound read-only over /proc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cordon::proc_view {

// /proc/meminfo: the keys programs parse, in the kernel's order. MemTotal, MemFree and
// MemAvailable are `budget_bytes` (the memory budget; the host's total when 0 or larger),
// Hugepagesize is 2048 kB, every other value is 0: no host counter shows. Built without reading
// the host's file (its generation costs ~0.1 ms here); `host_total_bytes` comes from sysinfo(2).
std::string Meminfo(uint64_t host_total_bytes, uint64_t budget_bytes);

// /proc/stat for `ncpus` CPUs (the aggregate line, cpu0..cpuN-1), every counter 0, `btime` the
// sandbox's boot time (seconds since the epoch), procs_running 1.
std::string Stat(unsigned ncpus, uint64_t btime);

// The host's /proc/cpuinfo, only the blocks of the CPUs listed in `cpus` (host numbers), in that
// order, renumbered "processor : 0..N-1". Returns "" if none of them is found.
std::string Cpuinfo(std::string_view host, const std::vector<unsigned>& cpus);

// btime of the host's /proc/stat (0 when absent).
uint64_t StatBtime(std::string_view host_stat);

// /proc/loadavg: no load, no process counts.
inline constexpr std::string_view kLoadavg = "0.00 0.00 0.00 0/0 0\n";

}  // namespace cordon::proc_view
