#include "tests/support/cgroup_bases.h"

#include <cstdlib>

#include "supervisor/cgroup/layout.h"

namespace cordon::test {

std::vector<std::string> TaskCgroupBases() {
  cgroup::BaseOptions options;
  if (const char* sub = ::getenv("CORDON_CGROUP_SUBTREE"); sub && *sub) options.subtree = sub;
  std::vector<std::string> out;
  auto layout = cgroup::DetectLayout(options);
  if (!layout || !layout->no_cgroup_reason.empty()) return out;
  if (!layout->v2_base_dir.empty()) out.push_back(layout->v2_base_dir);
  for (int i : layout->UsedV1()) out.push_back(layout->v1[static_cast<size_t>(i)].base_dir);
  return out;
}

}  // namespace cordon::test
