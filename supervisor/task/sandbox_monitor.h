// supervisor/task/sandbox_monitor.h: the sandbox's memory and CPU as a whole, read from /proc, for a
// sandbox that has no cgroup (rootless without a delegated cgroup). The supervisor samples it on a
// short period and kills the sandbox when the total passes limits.memory_bytes or
// limits.max_cpu_ms (docs/cgroups.md "Without a cgroup").
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string_view>

#include "common/result.h"

namespace cordon {

struct SandboxSample {
  // Resident memory of every live process of the sandbox, summed: RSS (statm), or PSS
  // (smaps_rollup) when the RSS sum passed `pss_above`. RSS counts a page shared by N processes
  // (copy-on-write after fork, a library) N times; PSS counts it once, in shares.
  uint64_t memory_bytes = 0;
  bool proportional = false;  // memory_bytes is the PSS sum
  // CPU of every live process (utime+stime, all threads) plus what each has reaped (cutime+cstime):
  // a reaped process's time lives on in exactly one live ancestor, PID 1 at the latest.
  uint64_t cpu_usec = 0;
  uint32_t processes = 0;  // live processes found, PID 1 included
};

// Sums over the descendants of `shim_pid` (the outer shim, which is not counted: the sandbox's PID 1
// is its child). Processes are found through /proc/<pid>/task/<tid>/children; one that forks or
// exits during the walk may be missed in this sample. No capability needed: the files read are
// world-readable. Fails only when the shim's own entry cannot be read (it is gone).
// `pss_above`: when the RSS sum passes it, the sample reads every process's PSS instead (costlier:
// the kernel walks its page tables), so that a budget is judged on memory actually held; 0 = never.
// A process whose smaps_rollup cannot be read (the sandbox's PID 1 is not dumpable) counts its RSS.
Result<SandboxSample> SampleSandbox(pid_t shim_pid, uint64_t pss_above = 0);

// Whether this kernel has /proc/<pid>/task/<tid>/children (CONFIG_PROC_CHILDREN), which the walk needs.
bool SandboxMonitorAvailable();

// Pure parsers, unit-tested. From /proc/<pid>/stat: utime+stime and cutime+cstime, in clock ticks,
// the number of threads and the resident pages.
struct ProcStatTimes {
  uint64_t self_ticks = 0, children_ticks = 0;
  uint64_t threads = 0;    // num_threads (field 20)
  uint64_t rss_pages = 0;  // rss (field 24): resident pages, as statm's second field
};
std::optional<ProcStatTimes> ParseProcStatTimes(std::string_view stat);
// From /proc/<pid>/statm: resident pages (the second field).
std::optional<uint64_t> ParseStatmResidentPages(std::string_view statm);
// From /proc/<pid>/smaps_rollup: the "Pss:" line, in bytes.
std::optional<uint64_t> ParseSmapsRollupPssBytes(std::string_view rollup);

}  // namespace cordon
