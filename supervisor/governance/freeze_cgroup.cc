// supervisor/governance/freeze_cgroup.cc: one task's cgroup freezer (freeze_cgroup.h).
#include "supervisor/governance/freeze_cgroup.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>

#include "supervisor/cgroup/parse.h"

namespace cordon::governance {

namespace fs = cgroup::fs;

Result<FreezerFile> TaskFreezer(const cgroup::Layout& layout, const std::string& task_id) {
  if (!layout.no_cgroup_reason.empty())
    return Fail(ENOTSUP, "task " + task_id + " has no cgroup to freeze: " + layout.no_cgroup_reason,
                "run cordond where it may create cgroups (as root, or in a delegated cgroup; docs/cgroups.md)");
  const std::string name = "task-" + task_id;
  if (!layout.v2_base_dir.empty()) {
    std::string dir = fs::Join(layout.v2_base_dir, name);
    std::string file = fs::Join(dir, "cgroup.freeze");
    if (::access(file.c_str(), F_OK) == 0) return FreezerFile{file, true};
    if (::access(dir.c_str(), F_OK) != 0) return Fail(errno, "task cgroup " + dir);
    // COMPAT(kernel 5.2): cgroup.freeze; before it, only a v1 freezer hierarchy can freeze.
  }
  for (size_t i = 0; i < layout.v1.size(); ++i) {
    const auto& h = layout.v1[i];
    if (h.base_dir.empty()) continue;
    bool has = false;
    for (const auto& c : h.controllers) has = has || c == "freezer";
    if (!has) continue;
    std::string file = fs::Join(fs::Join(h.base_dir, name), "freezer.state");
    if (::access(file.c_str(), F_OK) != 0) return Fail(errno, "task freezer " + file);
    return FreezerFile{file, false};
  }
  return Fail(ENOTSUP, "task " + task_id + "'s cgroup has no freezer (no cgroup.freeze, no v1 freezer hierarchy)",
              "a kernel >= 5.2 with cgroup2 mounted, or the v1 freezer controller, is needed");
}

Result<void> SetFrozen(const FreezerFile& f, bool frozen) {
  const char* v = f.v2 ? (frozen ? "1" : "0") : (frozen ? "FROZEN" : "THAWED");
  return fs::WriteFileAt(AT_FDCWD, f.path.c_str(), v);
}

Result<bool> IsFrozen(const FreezerFile& f) {
  if (f.v2) {
    const std::string events = fs::Join(fs::Parent(f.path), "cgroup.events");
    CORDON_ASSIGN_OR_RETURN(std::string text, fs::ReadFileAt(AT_FDCWD, events.c_str()));
    CORDON_ASSIGN_OR_RETURN(cgroup::CgroupEvents ev, cgroup::ParseCgroupEvents(text, events));
    return ev.frozen;
  }
  CORDON_ASSIGN_OR_RETURN(std::string text, fs::ReadFileAt(AT_FDCWD, f.path.c_str()));
  CORDON_ASSIGN_OR_RETURN(cgroup::FreezerState st, cgroup::ParseFreezerState(text, f.path));
  return st == cgroup::FreezerState::kFrozen;
}

}  // namespace cordon::governance
