#include "supervisor/seccomp/audit/record.h"

#include <algorithm>
#include <cstdio>

namespace cordon::seccomp::audit {
namespace {

using J = nlohmann::ordered_json;

constexpr uint64_t kCloneNewMask = 0x7E020000;  // CLONE_NEW* bits clone() takes (Docker's mask)

std::string Hex(uint64_t v) {
  char b[24];
  std::snprintf(b, sizeof b, "0x%llx", static_cast<unsigned long long>(v));
  return b;
}

J Arg(uint32_t index, uint64_t value, const char* op, uint64_t value_two = 0) {
  J a = {{"index", index}, {"value", value}, {"op", op}};
  if (std::string(op) == "SCMP_CMP_MASKED_EQ") a["valueTwo"] = value_two;
  return a;
}

}  // namespace

J MinimalProfile() {
  return {{"defaultAction", "SCMP_ACT_ERRNO"},
          {"defaultErrnoRet", 1},
          {"architectures", J::array({"SCMP_ARCH_X86_64"})},
          {"syscalls",
           J::array({{{"names", J::array({"execve", "execveat", "exit", "exit_group"})},
                      {"action", "SCMP_ACT_ALLOW"},
                      {"comment", "the shim execs the task after installing the filter"}},
                     {{"names", J::array({"clone3"})},
                      {"action", "SCMP_ACT_ERRNO"},
                      {"errnoRet", 38},
                      {"comment", "ENOSYS: libcs fall back to clone, whose flags can be filtered"}}})}};
}

Recorder::Recorder(J base) : profile_(std::move(base)) {
  if (!profile_.contains("syscalls") || !profile_["syscalls"].is_array()) profile_["syscalls"] = J::array();
}

size_t Recorder::Add(const std::vector<RefusedCall>& refused) {
  size_t added = 0;
  auto note = [&](const std::string& key, const std::string& text) {
    if (noted_.insert(key).second) notes_.push_back(text);
  };
  for (const auto& c : refused) {
    if (c.arch != "SCMP_ARCH_X86_64" && c.arch.find("X86_64") == std::string::npos) {
      note("arch/" + c.syscall, c.syscall + " through " + c.arch + ": foreign-ABI calls are never allowed by Cordon");
      continue;
    }
    if (c.rule != "defaultAction") {
      note("rule/" + c.syscall, c.syscall + " stays refused: the base profile's rule " + c.rule + " says so");
      continue;
    }
    // The argument classes of the calls that matter (docs/seccomp.md, "record").
    std::string key = c.syscall;
    J entry = {{"names", J::array({c.syscall})}, {"action", "SCMP_ACT_ALLOW"}};
    if (c.syscall == "socket" || c.syscall == "socketpair") {
      key += "/family=" + std::to_string(c.args[0]);
      entry["args"] = J::array({Arg(0, c.args[0], "SCMP_CMP_EQ")});
    } else if (c.syscall == "ioctl") {
      key += "/request=" + Hex(c.args[1] & 0xffffffff);
      entry["args"] = J::array({Arg(1, 0xffffffff, "SCMP_CMP_MASKED_EQ", c.args[1] & 0xffffffff)});
    } else if (c.syscall == "personality") {
      key += "/persona=" + Hex(c.args[0]);
      entry["args"] = J::array({Arg(0, c.args[0], "SCMP_CMP_EQ")});
    } else if (c.syscall == "clone" || c.syscall == "unshare") {
      if (c.args[0] & kCloneNewMask) {
        note("ns/" + c.syscall, c.syscall + " with CLONE_NEW* flags (" + Hex(c.args[0]) +
                                    ") stays refused: the sandbox does not let tasks create namespaces");
        continue;
      }
      key += "/no-namespaces";
      entry["args"] = J::array({Arg(0, kCloneNewMask, "SCMP_CMP_MASKED_EQ", 0)});
    }
    if (!keys_.insert(key).second) continue;
    ++added;
    if (!entry.contains("args")) {
      // Unconditional names share one entry, kept sorted so two recordings compare as text too.
      if (unconditional_entry_ == SIZE_MAX) {
        unconditional_entry_ = profile_["syscalls"].size();
        profile_["syscalls"].push_back({{"names", J::array()}, {"action", "SCMP_ACT_ALLOW"},
                                        {"comment", "recorded by cordon seccomp record"}});
      }
      auto& names = profile_["syscalls"][unconditional_entry_]["names"];
      names.push_back(c.syscall);
      std::sort(names.begin(), names.end());
      continue;
    }
    entry["comment"] = "recorded by cordon seccomp record: " + key;
    profile_["syscalls"].push_back(std::move(entry));
  }
  return added;
}

}  // namespace cordon::seccomp::audit
