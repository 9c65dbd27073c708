// supervisor/seccomp/audit/record.h: the pure half of `cordon seccomp record`: turning the calls a
// run was refused into allow rules, with argument classes for the calls whose arguments matter.
//
// Supervisor side only, pure. The CLI (supervisor/cli/seccomp_record.cc) runs the command under
// `cordon run` with the profile built so far, reads the refused calls from the evidence
// (seccomp.denied), adds them here, and repeats until a run is refused nothing new. The sandbox is
// the policy's own in every run: only the seccomp profile grows.
#pragma once

#include <cstdint>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace cordon::seccomp::audit {

// A refused call as the evidence records it (the first occurrence's arguments).
struct RefusedCall {
  std::string syscall;
  std::string arch;   // "SCMP_ARCH_X86_64"
  std::string rule;   // "defaultAction" or the rule that refused it
  uint64_t args[6] = {};
};

// The profile a recording starts from when there is no --base: deny everything with EPERM except
// what the shim needs to start the task (execve, execveat, exit, exit_group), and clone3 answered
// ENOSYS so libcs fall back to clone, which can be filtered.
nlohmann::ordered_json MinimalProfile();

class Recorder {
 public:
  // `base`: the profile to extend (MinimalProfile() or --base). Existing rules are kept as they are.
  explicit Recorder(nlohmann::ordered_json base);
  // Adds allow rules for the calls refused by the default action. Returns how many rules were new.
  // Calls refused by an explicit rule of the base, and foreign-ABI calls, are noted, not added.
  size_t Add(const std::vector<RefusedCall>& refused);
  const nlohmann::ordered_json& Profile() const { return profile_; }
  // What was left out and why, one line each.
  const std::vector<std::string>& Notes() const { return notes_; }
  size_t RecordedCount() const { return keys_.size(); }

 private:
  nlohmann::ordered_json profile_;
  std::set<std::string> keys_;       // "name" or "name/argclass" already added
  std::set<std::string> noted_;
  std::vector<std::string> notes_;
  size_t unconditional_entry_ = SIZE_MAX;  // index in syscalls[] of the recorded names' entry
};

}  // namespace cordon::seccomp::audit
