#include "tests/support/cgroup_bases.h"

#include <dirent.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "supervisor/cgroup/layout.h"
#include "supervisor/cgroup/task_cgroup.h"

namespace cordon::test {
namespace {

Result<cgroup::Layout> Layout(bool ignore_v2) {
  cgroup::BaseOptions options;
  options.ignore_v2 = ignore_v2;
  if (const char* sub = ::getenv("CORDON_CGROUP_SUBTREE"); sub && *sub) options.subtree = sub;
  return cgroup::DetectLayout(options);
}

// The base itself when it exists, else the directory it would be made in.
std::string ExistingDir(const std::string& base) {
  return ::access(base.c_str(), F_OK) == 0 ? base : cgroup::fs::Parent(base);
}

}  // namespace

std::vector<std::string> TaskCgroupBases(bool ignore_v2) {
  std::vector<std::string> out;
  auto layout = Layout(ignore_v2);
  if (!layout || !layout->no_cgroup_reason.empty()) return out;
  if (!layout->v2_base_dir.empty()) out.push_back(layout->v2_base_dir);
  for (int i : layout->UsedV1()) out.push_back(layout->v1[static_cast<size_t>(i)].base_dir);
  return out;
}

std::string NoTaskCgroupReason(bool ignore_v2) {
  auto layout = Layout(ignore_v2);
  if (!layout) return "the cgroup layout of this host cannot be read: " + layout.error().Message();
  if (!layout->no_cgroup_reason.empty()) return layout->no_cgroup_reason;
  std::vector<std::string> bases = TaskCgroupBases(ignore_v2);
  if (bases.empty()) return ignore_v2 ? "no v1 controller hierarchy on this host" : "no cgroup hierarchy on this host";
  for (const auto& b : bases) {
    const std::string dir = ExistingDir(b);
    if (::access(dir.c_str(), W_OK) != 0) return "uid " + std::to_string(::geteuid()) + " may not write " + dir;
  }
  return "";
}

std::vector<std::string> CgroupsOwnedBy(pid_t pid) {
  std::vector<std::string> out;
  for (const std::string& base : TaskCgroupBases()) {
    DIR* d = ::opendir(base.c_str());
    if (!d) continue;
    while (dirent* e = ::readdir(d)) {
      if (std::strncmp(e->d_name, "task-", 5) != 0) continue;
      const std::string dir = base + "/" + e->d_name;
      char mark[128] = {};
      if (::getxattr(dir.c_str(), "user.cordon.owner", mark, sizeof mark - 1) <= 0) continue;
      if (std::strtol(mark, nullptr, 10) == pid) out.push_back(dir);
    }
    ::closedir(d);
  }
  return out;
}

std::vector<std::string> RemoveCgroupsOwnedBy(pid_t pid) {
  std::vector<std::string> names;
  for (const std::string& dir : CgroupsOwnedBy(pid)) {
    std::string name = dir.substr(dir.rfind('/') + 1);
    if (std::find(names.begin(), names.end(), name) == names.end()) names.push_back(std::move(name));
  }
  auto layout = Layout(false);
  if (!layout) return {};
  for (const std::string& name : names) {
    auto cg = cgroup::TaskCgroup::Adopt(*layout, name);
    if (!cg) continue;
    (void)cg->Kill();
    (void)cg->Remove();
  }
  return names;
}

}  // namespace cordon::test
