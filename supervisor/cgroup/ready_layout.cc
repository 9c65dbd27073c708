#include "supervisor/cgroup/ready_layout.h"

#include <utility>

namespace cordon::cgroup {

Layout ReadyLayout(const BaseOptions& options, const std::string& not_ours) {
  auto l = DetectLayout(options);
  if (!l) {
    Layout none;
    none.no_cgroup_reason = l.error().Message();
    return none;
  }
  if (l->no_cgroup_reason.empty() && !not_ours.empty()) l->no_cgroup_reason = not_ours;
  if (l->no_cgroup_reason.empty())
    if (auto prep = PrepareBase(*l); !prep) l->no_cgroup_reason = prep.error().Message();
  return std::move(*l);
}

}  // namespace cordon::cgroup
