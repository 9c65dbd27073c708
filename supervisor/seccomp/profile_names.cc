// supervisor/seccomp/profile_names.cc: the profile vocabulary (action, operator and errno names)
// and rule matching, shared by the loader (profile.cc) and Evaluate() (compiler.cc).
#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <string>

#include "supervisor/seccomp/profile.h"

namespace cordon::seccomp {
namespace {

constexpr std::array<std::pair<std::string_view, Action>, 9> kActionNames = {{
    {"SCMP_ACT_KILL", Action::kKillThread},
    {"SCMP_ACT_KILL_THREAD", Action::kKillThread},
    {"SCMP_ACT_KILL_PROCESS", Action::kKillProcess},
    {"SCMP_ACT_TRAP", Action::kTrap},
    {"SCMP_ACT_ERRNO", Action::kErrno},
    {"SCMP_ACT_TRACE", Action::kTrace},
    {"SCMP_ACT_ALLOW", Action::kAllow},
    {"SCMP_ACT_LOG", Action::kLog},
    {"SCMP_ACT_NOTIFY", Action::kNotify},
}};

constexpr std::array<std::pair<std::string_view, CmpOp>, 7> kCmpNames = {{
    {"SCMP_CMP_NE", CmpOp::kNe},
    {"SCMP_CMP_LT", CmpOp::kLt},
    {"SCMP_CMP_LE", CmpOp::kLe},
    {"SCMP_CMP_EQ", CmpOp::kEq},
    {"SCMP_CMP_GE", CmpOp::kGe},
    {"SCMP_CMP_GT", CmpOp::kGt},
    {"SCMP_CMP_MASKED_EQ", CmpOp::kMaskedEq},
}};

}  // namespace

std::string_view ActionName(Action a) {
  switch (a) {
    case Action::kKillThread: return "SCMP_ACT_KILL_THREAD";
    case Action::kKillProcess: return "SCMP_ACT_KILL_PROCESS";
    case Action::kTrap: return "SCMP_ACT_TRAP";
    case Action::kErrno: return "SCMP_ACT_ERRNO";
    case Action::kTrace: return "SCMP_ACT_TRACE";
    case Action::kAllow: return "SCMP_ACT_ALLOW";
    case Action::kLog: return "SCMP_ACT_LOG";
    case Action::kNotify: return "SCMP_ACT_NOTIFY";
  }
  return "?";
}

std::optional<Action> ParseActionName(std::string_view name) {
  for (const auto& [n, a] : kActionNames) {
    if (n == name) return a;
  }
  return std::nullopt;
}

std::string_view CmpOpName(CmpOp op) {
  for (const auto& [n, o] : kCmpNames) {
    if (o == op) return n;
  }
  return "?";
}

std::optional<CmpOp> ParseCmpOpName(std::string_view name) {
  for (const auto& [n, o] : kCmpNames) {
    if (n == name) return o;
  }
  return std::nullopt;
}

std::optional<int> ParseErrnoName(std::string_view name) {
  // Built once from glibc's own table, so every name glibc knows is accepted.
  static const std::map<std::string, int, std::less<>> kTable = [] {
    std::map<std::string, int, std::less<>> t;
    for (int e = 1; e < 4096; ++e) {
      if (const char* n = strerrorname_np(e)) t.emplace(n, e);
    }
    return t;
  }();
  auto it = kTable.find(name);
  if (it == kTable.end()) return std::nullopt;
  return it->second;
}

bool ArgCondition::Matches(const uint64_t args[6]) const {
  uint64_t a = args[index];
  switch (op) {
    case CmpOp::kNe: return a != value;
    case CmpOp::kLt: return a < value;
    case CmpOp::kLe: return a <= value;
    case CmpOp::kEq: return a == value;
    case CmpOp::kGe: return a >= value;
    case CmpOp::kGt: return a > value;
    case CmpOp::kMaskedEq: return (a & value) == value_two;
  }
  return false;
}

bool Rule::Matches(const uint64_t args[6]) const {
  return std::all_of(conditions.begin(), conditions.end(), [&](const ArgCondition& c) { return c.Matches(args); });
}

const Rule* FindMatchingRule(const Profile& profile, std::string_view syscall, const uint64_t args[6]) {
  for (const auto& r : profile.rules) {
    if (r.syscall == syscall && r.Matches(args)) return &r;
  }
  return nullptr;
}

}  // namespace cordon::seccomp
