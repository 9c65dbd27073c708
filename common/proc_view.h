// common/proc_view.h: the sandbox-scoped /proc files PID 1 generates at setup (docs/sandbox.md,
// "/proc"). Pure text in, text out: no system call, unit-tested (tests/unit/proc_view_test.cc).
// The files are static: written once when the sandbox is built and bound read-only over /proc.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace cordon::proc_view {

// /proc/meminfo with the host's keys and units, in its order. MemTotal, MemFree and MemAvailable
// are `total_bytes` (the memory budget; the host's MemTotal when 0 or larger), Hugepagesize is the
// host's, every other value is 0: no host counter shows. Returns "" when `host` has no MemTotal.
std::string Meminfo(std::string_view host, uint64_t total_bytes);

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
