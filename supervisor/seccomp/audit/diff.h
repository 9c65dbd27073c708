// supervisor/seccomp/audit/diff.h: `cordon seccomp diff A B`, two profiles compared by meaning.
//
// Supervisor side only, pure. For every syscall of every ABI of this machine, both profiles'
// decision functions are evaluated at the boundary values of every argument condition either
// profile uses (SamplePoints, decide.h), so every argument region where the outcome changes is
// found, whatever the rules look like in the files. ABIs are evaluated as runc/crun load the
// profiles (listed architectures accepted); Cordon itself kills every foreign-ABI call.
#pragma once

#include <string>
#include <vector>

#include "supervisor/seccomp/audit/decide.h"

namespace cordon::seccomp::audit {

struct Change {
  std::string syscall;
  std::vector<std::string> abis;   // the ABIs where this same change happens
  bool all_args = true;            // the change holds for every argument value (no region)
  std::vector<Args> examples;      // argument vectors in the changed region(s), at most 8
  size_t regions = 0;              // sample points (boundary values) in the changed region(s)
  std::vector<uint32_t> compared;  // argument indices either profile compares for this syscall
  std::string was, now;            // Outcome() in A and in B
  std::string was_rule, now_rule;  // deciding rule paths (of the first example)
  bool opens = false;              // B lets run what A did not
  bool closes = false;             // A let run what B does not
};

std::vector<Change> DiffProfiles(const Profile& a, const Profile& b);
std::string RenderDiffText(const std::string& a_name, const std::string& b_name, const std::vector<Change>& c);
std::string RenderDiffJson(const std::string& a_name, const std::string& b_name, const std::vector<Change>& c);

}  // namespace cordon::seccomp::audit
