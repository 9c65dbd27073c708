// supervisor/cgroup/layout.h: where the cgroup controllers live on this host and where Cordon puts
// its task cgroups. Computed once at daemon start (DetectLayout + PrepareBase), then passed by const
// reference to every TaskCgroup::Create; nothing here runs per task. See docs/cgroups.md.
#pragma once

#include <sys/types.h>

#include <array>
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cordon::cgroup {

// kV2: one cgroup2 mount, no v1 controller hierarchy (a controller-less name=systemd v1 mount is
// ignored). kHybrid: cgroup2 mount plus v1 controller hierarchies (systemd "hybrid", or this kind of
// CI VM with /sys/fs/cgroup/unified). kV1: no cgroup2 mount at all.
enum class Mode { kV2, kHybrid, kV1 };
std::string_view ModeName(Mode m);

// The controllers Cordon cares about. kIo is "io" on v2 and "blkio" on v1.
enum class Controller { kMemory, kPids, kCpu, kCpuacct, kFreezer, kIo };
inline constexpr size_t kControllerCount = 6;
std::string_view ControllerName(Controller c);  // v2 spelling, "cpuacct"/"freezer" for the v1-only ones

enum class Where { kNone, kV2, kV1 };

// One v1 hierarchy (one `cgroup` mount in /proc/self/mountinfo).
struct V1Hierarchy {
  std::string mountpoint;                // "/sys/fs/cgroup/memory", "/sys/fs/cgroup/cpu,cpuacct"
  std::string mount_root;                // mountinfo field 4: which cgroup the mount shows as its root
  std::vector<std::string> controllers;  // from the super options: "memory"; "cpu","cpuacct"; "name=systemd"
  std::optional<std::string> self_path;  // our cgroup here, as /proc/self/cgroup prints it
  std::optional<std::string> self_dir;   // that cgroup as a directory, when visible through the mount
  std::string base_dir;                  // parent of task cgroups; empty = Cordon does not use this hierarchy
};

struct Placement {
  Where where = Where::kNone;
  int v1_index = -1;  // index into Layout::v1 when where == kV1
};

struct Layout {
  Mode mode = Mode::kV2;

  // cgroup2 tree (empty v2_mount = none). On hybrid hosts this tree usually has no controllers,
  // but its core files (cgroup.procs, cgroup.kill, cgroup.events, cpu.stat usage/user/system,
  // *.pressure) still work, and clone3(CLONE_INTO_CGROUP) still applies.
  std::string v2_mount;
  std::string v2_mount_root;
  std::optional<std::string> v2_self_path;
  std::optional<std::string> v2_self_dir;
  std::vector<std::string> v2_controllers;  // the v2 root's cgroup.controllers

  std::vector<V1Hierarchy> v1;
  std::array<Placement, kControllerCount> controllers{};

  // ---- filled by PlaceBase ----
  std::string v2_base_dir;   // parent of v2 task cgroups; empty = no v2 tree used
  bool rootless = false;     // euid != 0
  bool delegated = false;    // the v2 base sits in a delegated subtree (systemd Delegate= or user-owned)
  // Non-empty when there is no cgroup Cordon may write: the caller falls back to rlimits + rusage
  // and records this text in the evidence (usage.source).
  std::string no_cgroup_reason;
  // Kill strategy when v2 is unavailable: freeze the v1 freezer cgroup before signalling.
  int v1_freezer_index = -1;

  // ---- filled by PrepareBase ----
  std::vector<std::string> v2_task_controllers;  // enabled in v2_base_dir/cgroup.subtree_control
  bool v2_has_kill = false;                      // cgroup.kill exists (kernel >= 5.14)

  const Placement& Of(Controller c) const { return controllers[static_cast<size_t>(c)]; }
  bool V2TaskHas(std::string_view controller) const;
  // Indexes of the v1 hierarchies that hold task cgroups (base_dir non-empty).
  std::vector<int> UsedV1() const;
};

// Parses /proc/self/mountinfo and /proc/self/cgroup text (pure). v2_root_controllers is the text of
// <v2 mount>/cgroup.controllers (read by the caller); a controller is placed on v2 when it is listed
// there, otherwise on the v1 hierarchy that has it, otherwise kNone. Bases are not chosen here.
Result<Layout> DetectLayout(const std::string& mountinfo_text, const std::string& self_cgroup_text,
                            const std::string& v2_root_controllers_text = {});

struct BaseOptions {
  std::string subtree = "cordon.slice";  // directory name of the Cordon subtree in each hierarchy
  enum class Placement { kAuto, kHierarchyRoot, kBelowSelf } placement = Placement::kAuto;
  // v1 blkio counters cost one more mkdir/rmdir per task and stay 0 on queues without a throttle
  // rule (see docs/cgroups.md); on by default so pure-v1 hosts get an io figure.
  bool v1_io = true;
  // Treat the host as pure v1 even where a cgroup2 tree is mounted: on a hybrid host this runs the
  // v1-only paths (cpuacct, freezer, no CLONE_INTO_CGROUP). For tests and for hosts whose cgroup2
  // tree must not be used. Default off.
  bool ignore_v2 = false;
};

// What the non-pure DetectLayout learns about the host to choose the base (probed, or set by tests).
struct HostFacts {
  bool root = false;                  // geteuid() == 0
  bool v2_self_delegated = false;     // our v2 cgroup carries systemd's trusted.delegate/user.delegate xattr
  bool v2_parent_delegated = false;   // its parent does (we run in a DelegateSubgroup= leaf)
  bool v2_parent_writable = false;    // rootless: we may create directories next to our own cgroup
};

// Chooses the base directory in each hierarchy (pure). Rootful: <v2 mount>/<subtree>, or below the
// delegated cgroup when systemd delegated one to us; v1: <mountpoint>/<subtree>. Rootless: only a
// delegated v2 subtree (<parent of our cgroup>/<subtree>); otherwise no_cgroup_reason is set.
void PlaceBase(Layout& layout, const BaseOptions& options, const HostFacts& facts);

// Reads /proc/self/mountinfo, /proc/self/cgroup and the v2 root's cgroup.controllers, probes the
// HostFacts and calls PlaceBase. Call once.
Result<Layout> DetectLayout(const BaseOptions& options = {});

// Creates the base directories and, on v2, enables memory/pids (and io/cpu when available) in the
// base's cgroup.subtree_control (and in the parent's, if it is the hierarchy root or ours to
// delegate). When the base's parent is our own cgroup and holds processes ("no internal processes"
// rule), moves this process into the leaf <own cgroup>/supervisor first; if other processes remain
// there the error says to use DelegateSubgroup=. Idempotent; call once before the first task.
Result<void> PrepareBase(Layout& layout);

// cgroupfs file I/O shared by layout.cc and task_cgroup.cc. Writes are one write(2): the kernel
// applies each as one unit.
namespace fs {
// kToEof reads until read(2) returns 0. kSingleShow stops at the first short read: right for
// cgroup files printed by one seq_file show call (cpu.stat, memory.*, pids.*, io.stat, *.pressure,
// v1 stat files), where a short read means the end, and it saves a read(2) per figure. Not for
// record-per-line files (cgroup.procs, /proc/self/mountinfo): a record that does not fit in the
// buffer ends a read early there.
enum class ReadMode { kToEof, kSingleShow };
Result<std::string> ReadFileAt(int dirfd, const char* name, ReadMode mode = ReadMode::kToEof);  // dirfd may be AT_FDCWD
Result<void> WriteFileAt(int dirfd, const char* name, std::string_view text);
std::string Join(std::string_view dir, std::string_view name);  // "a" + "b" → "a/b"
std::string Parent(std::string_view dir);                      // "/a/b" → "/a"
}  // namespace fs

}  // namespace cordon::cgroup
