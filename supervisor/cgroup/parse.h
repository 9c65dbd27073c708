// supervisor/cgroup/parse.h: parsers for the files the kernel writes in cgroupfs (v1 and v2).
// Pure and syscall-free: every parser takes the file's text and the file's name (used only in error
// messages), so unit tests run against fixtures without root. Malformed input returns an Error
// "<file>:<line>: <what>" and never crashes. Unknown keys in keyed files are ignored: newer kernels
// add keys (memory.stat grows every release), and a figure we do not know is not an error.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cordon::cgroup {

// ---- Generic shapes (cgroup-v2.rst "Interface Files": flat keyed, nested keyed, single value) ----

// A single unsigned number ("1298432\n"): memory.current, memory.peak, pids.current, pids.peak,
// v1 memory.usage_in_bytes, memory.max_usage_in_bytes, memory.failcnt, cpuacct.usage{,_user,_sys}.
Result<uint64_t> ParseSingleValue(std::string_view text, std::string_view file);

// A limit: "max" (nullopt = unlimited) or a number. v2 memory.max, memory.swap.max, pids.max;
// v1 pids.max.
Result<std::optional<uint64_t>> ParseMax(std::string_view text, std::string_view file);

// "key value" per line. Keys in file order; a duplicate key is an error.
using FlatKeyed = std::map<std::string, uint64_t, std::less<>>;
Result<FlatKeyed> ParseFlatKeyed(std::string_view text, std::string_view file);

// ---- v2 files ----

// cpu.stat. The first three keys are core (present without the cpu controller, also on hybrid
// hosts); the others appear only when the cpu controller is enabled for the cgroup.
struct CpuStat {
  uint64_t usage_usec = 0;
  uint64_t user_usec = 0;
  uint64_t system_usec = 0;
  std::optional<uint64_t> nr_periods;
  std::optional<uint64_t> nr_throttled;
  std::optional<uint64_t> throttled_usec;
};
Result<CpuStat> ParseCpuStat(std::string_view text, std::string_view file);

// memory.events (hierarchical) or memory.events.local. oom_group_kill is kernel >= 5.16.
struct MemoryEvents {
  uint64_t low = 0;
  uint64_t high = 0;
  uint64_t max = 0;
  uint64_t oom = 0;
  uint64_t oom_kill = 0;
  std::optional<uint64_t> oom_group_kill;
};
Result<MemoryEvents> ParseMemoryEvents(std::string_view text, std::string_view file);

// memory.stat, v1 or v2: all keys, bytes for sizes and counts for events. v2 keys include anon, file,
// kernel, kernel_stack, shmem, sock, slab; v1 keys include cache, rss, shmem, mapped_file, swap and
// the hierarchical total_* copies.
using MemoryStat = FlatKeyed;
inline Result<MemoryStat> ParseMemoryStat(std::string_view text, std::string_view file) {
  return ParseFlatKeyed(text, file);
}

// pids.events: "max N" = number of times a fork failed because of pids.max (v1 and v2).
struct PidsEvents {
  uint64_t max = 0;
};
Result<PidsEvents> ParsePidsEvents(std::string_view text, std::string_view file);

// io.stat: one line per device, "MAJ:MIN rbytes=… wbytes=… rios=… wios=… dbytes=… dios=…".
// Keys other than these six (e.g. cost.* with io.cost) are ignored.
struct IoStatEntry {
  uint32_t major = 0;
  uint32_t minor = 0;
  uint64_t rbytes = 0;
  uint64_t wbytes = 0;
  uint64_t rios = 0;
  uint64_t wios = 0;
  uint64_t dbytes = 0;
  uint64_t dios = 0;
};
Result<std::vector<IoStatEntry>> ParseIoStat(std::string_view text, std::string_view file);

// PSI, *.pressure: "some avg10=0.00 avg60=0.00 avg300=0.00 total=0" and optionally "full …".
// avg* are percentages of wall time; total is cumulative stall time in microseconds.
struct PressureLine {
  double avg10 = 0;
  double avg60 = 0;
  double avg300 = 0;
  uint64_t total_usec = 0;
};
struct Pressure {
  std::optional<PressureLine> some;
  std::optional<PressureLine> full;
};
Result<Pressure> ParsePressure(std::string_view text, std::string_view file);

// cgroup.events: "populated 0|1", "frozen 0|1".
struct CgroupEvents {
  bool populated = false;
  bool frozen = false;
};
Result<CgroupEvents> ParseCgroupEvents(std::string_view text, std::string_view file);

// cgroup.controllers / cgroup.subtree_control: space-separated names.
std::vector<std::string> ParseControllerList(std::string_view text);

// cgroup.procs (v1 and v2): one pid per line.
Result<std::vector<int>> ParsePidList(std::string_view text, std::string_view file);

// ---- v1 files ----

// memory.oom_control. oom_kill is kernel >= 4.13.
struct OomControl {
  bool oom_kill_disable = false;
  bool under_oom = false;
  std::optional<uint64_t> oom_kill;
};
Result<OomControl> ParseOomControl(std::string_view text, std::string_view file);

// cpuacct.stat: "user N" / "system N" in USER_HZ ticks; converted with clk_tck (sysconf(_SC_CLK_TCK),
// passed in so this stays pure). Resolution is one tick (10 ms at 100 Hz): prefer
// cpuacct.usage_user/usage_sys (ns) when present.
struct CpuTimes {
  uint64_t user_usec = 0;
  uint64_t system_usec = 0;
};
Result<CpuTimes> ParseCpuacctStat(std::string_view text, std::string_view file, long clk_tck);

// freezer.state.
enum class FreezerState { kThawed, kFreezing, kFrozen };
Result<FreezerState> ParseFreezerState(std::string_view text, std::string_view file);

// blkio.throttle.io_service_bytes (and the bfq/_recursive variants): "MAJ:MIN Op N" lines, Op in
// Read/Write/Sync/Async/Discard/Total, then one "Total N" line. Sums Read and Write over devices.
// Note: since the blk-throttle rework the kernel only updates these counters on queues where a
// throttle rule was ever set, so an idle-looking "Total 0" is not proof of no I/O (docs/cgroups.md).
struct BlkioBytes {
  uint64_t read = 0;
  uint64_t write = 0;
  uint64_t total = 0;  // the last "Total N" line
  size_t devices = 0;  // devices listed
};
Result<BlkioBytes> ParseBlkioServiceBytes(std::string_view text, std::string_view file);

}  // namespace cordon::cgroup
