// supervisor/seccomp/audit/groups.h: `cordon seccomp groups`, named syscall groups (systemd's
// SystemCallFilter= sets, table and expansion in supervisor/seccomp/groups.h) and how much of each a
// profile allows.
//
// Supervisor side only, pure.
#pragma once

#include <string>
#include <vector>

#include "supervisor/seccomp/groups.h"
#include "supervisor/seccomp/profile.h"

namespace cordon::seccomp::audit {

struct GroupCoverage {
  std::string name;
  std::vector<std::string> allowed;  // members this ABI has that run for some arguments
  std::vector<std::string> partly;   // of those, the ones allowed only for some arguments
  std::vector<std::string> denied;   // members this ABI has that never run
  size_t absent = 0;                 // members this ABI does not have
  std::string verdict;               // "full", "part", "none" (over the members this ABI has)
};
// For every group, on the native ABI, as Cordon enforces the profile.
std::vector<GroupCoverage> GroupsFor(const Profile& p);
std::string RenderGroupsText(const std::string& source, const std::vector<GroupCoverage>& g);
std::string RenderGroupsJson(const std::string& source, const std::vector<GroupCoverage>& g);

}  // namespace cordon::seccomp::audit
