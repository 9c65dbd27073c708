// supervisor/seccomp/groups.h: named syscall groups (systemd's SystemCallFilter= sets, "@basic-io")
// and their expansion. The profile loader (profile.cc) expands an `@group` in a rule's `names` into
// its members; `cordon seccomp groups` (audit/groups.h) reports a profile's coverage of each group;
// `cordon seccomp expand` writes a profile with the groups expanded, for runtimes that do not know
// them (runc and crun refuse nothing but match no syscall named "@basic-io").
//
// Supervisor side only, pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cordon::seccomp {

struct GroupDef {
  std::string name;                  // "@mount"
  std::vector<std::string> members;  // syscall names, or other groups ("@aio")
};
// The table as transcribed (groups_table.cc).
const std::vector<GroupDef>& GroupTable();
// True when `name` is a group of the table ("@mount").
bool IsKnownGroup(std::string_view name);
// "@aio @basic-io ..." : every group name, for error messages.
std::string KnownGroupNames();
// Group name -> its syscall names, nested groups expanded, sorted, unique. Empty for an unknown name.
// Members are as systemd lists them: some exist only on other architectures or kernels.
std::vector<std::string> ExpandGroup(std::string_view name);

// SHA-256 (hex) of the table's source, groups_table.cc, taken at build time: the BPF cache key
// includes it (filter.cc), so a cached filter compiled with another table's expansion is never reused.
std::string GroupTableDigest();

// Rewrites an OCI seccomp profile so that no `names` (or legacy `name`) entry is a group: each
// `@group` is replaced by its members, in place, without duplicates within the entry; everything
// else is kept as written. Errors name the source and JSON path ("p.json: syscalls[2].names[0]:
// unknown syscall group ...") for an unknown group or JSON that is not a profile object.
Result<std::string> ExpandProfileGroups(std::string_view json_text, const std::string& source_name);

}  // namespace cordon::seccomp
