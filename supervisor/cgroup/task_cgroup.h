// supervisor/cgroup/task_cgroup.h: one task's cgroup in every hierarchy the Layout uses.
// Supervisor side only. Needs write access to the Layout's base directories (root, or a delegated
// subtree; see docs/cgroups.md). Layout must have gone through PrepareBase once.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"
#include "supervisor/cgroup/layout.h"
#include "supervisor/cgroup/parse.h"

namespace cordon::cgroup {

struct Limits {
  std::optional<uint64_t> memory_bytes;  // v2 memory.max (+ memory.swap.max=0); v1 memory.limit_in_bytes (+ memsw)
  std::optional<uint64_t> pids;          // pids.max
  // v2 only: memory.oom.group=1, so an OOM kill takes the whole task rather than one process of it.
  bool oom_group = true;
  // The cpu budget is watched by the caller (ReadUsage), not enforced here.
};

// One figure and where it came from. `source` is the file path the value was read from; when the
// value is missing, `unavailable` says why (e.g. "pids.peak needs kernel >= 6.1").
struct Figure {
  std::optional<uint64_t> value;
  std::string source;
  std::string unavailable;
};

struct PressureFigure {
  std::optional<Pressure> value;
  std::string source;
  std::string unavailable;
};

struct Usage {
  Figure cpu_user_usec;
  Figure cpu_system_usec;
  Figure memory_peak_bytes;     // high-water mark of the cgroup's memory charge (see docs/cgroups.md)
  Figure memory_current_bytes;
  Figure pids_peak;
  Figure pids_limit_hits;       // forks refused because pids.max was reached (pids.events "max")
  Figure io_read_bytes;
  Figure io_write_bytes;
  Figure oom_kills;             // processes the OOM killer killed in this cgroup
  PressureFigure cpu_pressure;  // PSI, v2 tree only
  PressureFigure memory_pressure;
  PressureFigure io_pressure;
};

// How the caller started the task's first process.
enum class V2Entry {
  kWriteProcs,        // plain fork/clone: AttachPid writes cgroup.procs in the v2 cgroup too
  kEnteredViaClone,   // clone3(CLONE_INTO_CGROUP, V2DirFd()): the process is already there
};

// Every task cgroup directory Create() makes carries its creator in the extended attribute
// user.cordon.owner: "<pid> <start time> <pid namespace inode> <instance>" (start time: /proc/PID/
// stat field 22, so a reused pid is told apart; instance: which supervisor, "-" for `cordon run`,
// cordond's state dir as "sd:<dev>:<ino>"). Best effort: a filesystem without user xattrs gets none.
inline constexpr const char* kOwnerXattr = "user.cordon.owner";
// Sets this process's instance (no spaces), before its first Create().
void SetOwnerInstance(const std::string& instance);
// This process's mark.
std::string OwnerMark();
// Whether the process a mark names still runs: kAlive, kDead, or kUnknown (no mark, malformed, or
// another pid namespace's, where its pid means nothing to us). `instance`: the mark's instance.
enum class OwnerState { kAlive, kDead, kUnknown };
OwnerState CheckOwner(const std::string& mark, std::string* instance = nullptr);

// Removes the leftovers of supervisors killed with SIGKILL (`cordon run` or cordond: their
// sandboxes died with them through the parent-death chain, the directories stayed), among the task
// cgroups ("task-*" below the base in every hierarchy):
// - owner alive: left alone;
// - owner dead, and its instance is `own_instance` (an earlier run of this very cordond, e.g. its
//   warm pool): removed whatever its age;
// - owner dead, another instance: removed once older than `min_age_s` (a concurrent cordond that
//   was just killed gets that long to restart and recover its own tasks through their cgroups);
// - no usable mark (an older Cordon, or another pid namespace): removed only when it holds no
//   process and is older than `min_age_s` (a concurrent supervisor may be about to populate it).
// What a dead owner's cgroup still holds is killed first. Returns the task names removed.
std::vector<std::string> SweepStaleTaskCgroups(const Layout& layout, int min_age_s = 60,
                                               const std::string& own_instance = "");

class TaskCgroup {
 public:
  // Creates <base>/<task_id> in every hierarchy the layout uses, writes the limits (memory:
  // memory.max + memory.swap.max=0 [+ memory.oom.group] on v2, or memory.limit_in_bytes +
  // memory.memsw.limit_in_bytes when present on v1, leaving memory.oom_control's OOM killer on;
  // pids.max) and returns the owner, which removes the directories when destroyed. A limit whose
  // controller is unavailable to us is an error (the caller falls back to rlimits). task_id must be
  // a single path component. An existing directory of that name is an error (EEXIST).
  static Result<TaskCgroup> Create(const Layout& layout, const std::string& task_id, const Limits& limits);
  // Takes over a task cgroup an earlier supervisor created and did not remove (it crashed): the
  // directories that still exist, without touching limits. Then Kill() and Remove() as usual.
  static Result<TaskCgroup> Adopt(const Layout& layout, const std::string& task_id);

  TaskCgroup(TaskCgroup&& o) noexcept;
  TaskCgroup& operator=(TaskCgroup&& o) noexcept;
  TaskCgroup(const TaskCgroup&) = delete;
  TaskCgroup& operator=(const TaskCgroup&) = delete;
  ~TaskCgroup();

  // O_DIRECTORY fd of the v2 cgroup for clone3 CLONE_INTO_CGROUP (owned by this object, CLOEXEC),
  // or -1 when there is no v2 tree to use.
  int V2DirFd() const;
  const std::string& V2Dir() const { return v2_.path; }
  // Every task directory, v2 first.
  std::vector<std::string> Dirs() const;

  // Writes pid to cgroup.procs in every v1 hierarchy used, and in v2 unless entry says the process
  // was cloned into it. Call before the process runs untrusted code (it is the shim's child waiting
  // for kGo), so that its descendants are born inside.
  Result<void> AttachPid(pid_t pid, V2Entry entry = V2Entry::kWriteProcs);

  // Reads every figure it can; a figure whose file is missing is reported unavailable, not as an
  // error. Errors only for a file that exists but does not parse. Without pids.peak (v2 before 6.1,
  // older v1), pids_peak is the largest pids.current any ReadUsage call saw (best effort, marked so).
  // PSI costs three file reads (~25 us on the CI VM); kSkip leaves the pressure figures unavailable.
  enum class Psi { kInclude, kSkip };
  Result<Usage> ReadUsage(Psi psi = Psi::kInclude) const;
  // Only cpu_user_usec and cpu_system_usec (the other figures left empty): cpu.stat on v2, two
  // cpuacct files on v1, for the CPU budget's checks while the task runs (ReadUsage reads ~10
  // files). Without pids.peak it also samples pids.current for the best-effort peak, as ReadUsage.
  Result<Usage> ReadCpu() const;
  // memory.current (v2) or memory.usage_in_bytes (v1); nullopt without a memory controller.
  Result<std::optional<uint64_t>> ReadMemoryCurrent() const;

  // Kills every process in the task cgroups and waits until they are gone, at most `deadline`.
  // v2: cgroup.kill (also on hybrid hosts); v1 only: freezer FROZEN, SIGKILL each pid in
  // cgroup.procs, THAWED, repeated until empty. Then checks the v1 cgroup.procs files and signals
  // any stragglers there. ETIMEDOUT if processes remain (e.g. stuck in D state).
  Result<void> Kill(std::chrono::milliseconds deadline = std::chrono::milliseconds(2000));

  // rmdir in every hierarchy (processes must be gone; EBUSY is retried for ~100 ms because exiting
  // tasks leave the cgroup asynchronously). Idempotent; the destructor calls it and drops the error.
  Result<void> Remove();

 private:
  struct Dir {
    std::string path;  // empty = unused
    UniqueFd fd;       // O_DIRECTORY
  };
  TaskCgroup() = default;
  static Result<TaskCgroup> Open(const Layout& layout, const std::string& task_id, bool create);

  Result<void> KillV1Loop(std::chrono::steady_clock::time_point until);
  Result<void> ReadCpuInto(Usage& u) const;

  Dir v2_;
  std::vector<Dir> v1_;  // parallel to Layout::UsedV1()
  int memory_v1_ = -1;   // index into v1_, -1 when memory is on v2 or absent
  int pids_v1_ = -1;
  int io_v1_ = -1;
  int cpuacct_v1_ = -1;
  int freezer_v1_ = -1;
  bool v2_memory_ = false;
  bool v2_pids_ = false;
  bool v2_io_ = false;
  bool v2_has_kill_ = false;
  mutable uint64_t pids_seen_max_ = 0;
};

}  // namespace cordon::cgroup
