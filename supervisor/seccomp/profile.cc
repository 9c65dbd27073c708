// supervisor/seccomp/profile.cc: OCI/Docker/Podman seccomp JSON -> Profile.
//
// The loader does more than type-check: libseccomp 2.5 resolves several ambiguous rule sets
// silently (first unconditional rule wins, an unconditional rule beats conditional ones whatever
// the order, overlapping conditional rules with different actions are ordered by its internal
// tree, not by the file). We decide those cases here, with a warning that names both JSON paths,
// so that the compiled filter and Evaluate() cannot disagree. docs/seccomp.md lists the rules.
#include "supervisor/seccomp/profile.h"

#include <seccomp.h>
#include <sys/utsname.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <charconv>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "supervisor/seccomp/groups.h"
#include "supervisor/seccomp/overlap.h"
#include "supervisor/sha256.h"

namespace cordon::seccomp {
namespace {

using nlohmann::json;

// SECCOMP_FILTER_FLAG_* (linux/seccomp.h). Spelled out so the table does not depend on how new the
// installed kernel headers are.
constexpr std::array<std::pair<std::string_view, uint32_t>, 6> kFilterFlags = {{
    {"SECCOMP_FILTER_FLAG_TSYNC", 1u << 0},
    {"SECCOMP_FILTER_FLAG_LOG", 1u << 1},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", 1u << 2},
    {"SECCOMP_FILTER_FLAG_NEW_LISTENER", 1u << 3},
    {"SECCOMP_FILTER_FLAG_TSYNC_ESRCH", 1u << 4},
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 1u << 5},
}};

// Docker writes Go GOARCH names in includes/excludes `arches`; OCI tools write SCMP_ARCH_*.
constexpr std::array<std::pair<std::string_view, std::string_view>, 20> kGoArchNames = {{
    {"amd64", "SCMP_ARCH_X86_64"},    {"386", "SCMP_ARCH_X86"},
    {"x86", "SCMP_ARCH_X86"},         {"x32", "SCMP_ARCH_X32"},
    {"arm", "SCMP_ARCH_ARM"},         {"arm64", "SCMP_ARCH_AARCH64"},
    {"mips", "SCMP_ARCH_MIPS"},       {"mipsle", "SCMP_ARCH_MIPSEL"},
    {"mips64", "SCMP_ARCH_MIPS64"},   {"mips64le", "SCMP_ARCH_MIPSEL64"},
    {"mips64n32", "SCMP_ARCH_MIPS64N32"}, {"mips64len32", "SCMP_ARCH_MIPSEL64N32"},
    {"ppc", "SCMP_ARCH_PPC"},         {"ppc64", "SCMP_ARCH_PPC64"},
    {"ppc64le", "SCMP_ARCH_PPC64LE"}, {"s390", "SCMP_ARCH_S390"},
    {"s390x", "SCMP_ARCH_S390X"},     {"riscv64", "SCMP_ARCH_RISCV64"},
    {"loong64", "SCMP_ARCH_LOONGARCH64"}, {"parisc64", "SCMP_ARCH_PARISC64"},
}};

std::string Quote(std::string_view s) {
  std::string q = "\"";
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == '"' || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned char>(c));
      q += buf;
    } else {
      q += c;
    }
  }
  return q + "\"";
}

std::string TypeName(const json& j) { return j.type_name(); }

std::string LibVersion() {
  const scmp_version* v = seccomp_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro);
}

// Line and column of a byte offset, for parse errors (1-based, like editors show them).
std::pair<size_t, size_t> LineColumn(std::string_view text, size_t byte) {
  size_t line = 1, col = 1;
  for (size_t i = 0; i < byte && i < text.size(); ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return {line, col};
}

// Accepts only SCMP_ARCH_<UPPER/DIGITS/_> or a known Go name; returns the SCMP_ARCH_* form.
std::optional<std::string> CanonicalArch(std::string_view s) {
  if (s.starts_with("SCMP_ARCH_") && s.size() > 10 &&
      std::all_of(s.begin() + 10, s.end(), [](char c) {
        return std::isupper(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c)) || c == '_';
      })) {
    return std::string(s);
  }
  for (const auto& [go, scmp] : kGoArchNames) {
    if (go == s) return std::string(scmp);
  }
  return std::nullopt;
}

struct Condition {  // includes/excludes
  std::vector<std::string> caps;
  std::vector<std::string> arches;  // canonical SCMP_ARCH_*
  std::optional<KernelVersion> min_kernel;
};

struct Entry {
  std::string path;
  std::vector<std::pair<std::string, std::string>> names;  // (name, JSON path of the name)
  // Parallel to names: the `@group` a name came from (groups.h), empty when written as itself.
  std::vector<std::string> groups;
  Action action = Action::kAllow;
  int errno_ret = 0;
  std::vector<ArgCondition> conditions;
  Condition includes;
  Condition excludes;
};

// Docker's semantics: a rule applies when every includes condition holds (all listed caps held,
// the arch listed, kernel >= minKernel) and no excludes condition holds (no listed cap held, the
// arch not listed, kernel < minKernel).
bool Applies(const Entry& e, const Context& ctx) {
  for (const auto& c : e.includes.caps) {
    if (!ctx.caps.contains(c)) return false;
  }
  if (!e.includes.arches.empty() &&
      std::find(e.includes.arches.begin(), e.includes.arches.end(), ctx.arch) == e.includes.arches.end()) {
    return false;
  }
  if (e.includes.min_kernel && ctx.kernel < *e.includes.min_kernel) return false;
  for (const auto& c : e.excludes.caps) {
    if (ctx.caps.contains(c)) return false;
  }
  if (std::find(e.excludes.arches.begin(), e.excludes.arches.end(), ctx.arch) != e.excludes.arches.end()) {
    return false;
  }
  if (e.excludes.min_kernel && ctx.kernel >= *e.excludes.min_kernel) return false;
  return true;
}

bool SameOutcome(Action a, int ea, Action b, int eb) {
  if (a != b) return false;
  return (a != Action::kErrno && a != Action::kTrace) || ea == eb;
}

std::string OutcomeName(Action a, int e) {
  std::string s(ActionName(a));
  if (a == Action::kErrno || a == Action::kTrace) s += "(" + std::to_string(e) + ")";
  return s;
}

// The walker: one instance per ParseProfile call. Every failure goes through Fail() so each error
// carries the source name, the JSON path and the reason.
class Loader {
 public:
  Loader(std::string_view text, const LoadOptions& options) : text_(text), options_(options) {
    source_ = options.source_name.empty() ? "<profile>" : options.source_name;
  }

  Result<Profile> Run();

 private:
  std::unexpected<Error> Bad(const std::string& path, const std::string& reason) const {
    return FailMsg(source_ + ": " + path + ": " + reason);
  }
  void Warn(const std::string& path, const std::string& what) {
    profile_.warnings.push_back(source_ + ": " + path + ": " + what);
  }
  // A warning ("<what>; <consequence>") normally, an error ("<what> (strict mode)") under
  // LoadOptions::strict.
  Result<void> WarnOrFail(const std::string& path, const std::string& what, const std::string& consequence) {
    if (options_.strict) return Bad(path, what + " (strict mode)");
    Warn(path, what + "; " + consequence);
    return {};
  }

  Result<void> CheckFields(const json& obj, const std::string& path,
                           std::initializer_list<std::string_view> known) const;
  Result<void> CheckTopLevelFields(const json& root);
  Result<uint64_t> GetU64(const json& j, const std::string& path) const;
  Result<int> GetErrno(const json& j, const std::string& path) const;
  Result<std::vector<std::string>> GetStrings(const json& j, const std::string& path) const;
  Result<Action> GetAction(const json& j, const std::string& path) const;
  Result<Condition> GetCondition(const json& j, const std::string& path);
  Result<Entry> GetEntry(const json& j, const std::string& path);
  Result<void> ExpandGroups(Entry* e) const;
  Result<void> AddArch(const std::string& name, const std::string& path);
  Result<void> AddEntryRules(const Entry& e);
  void CheckExecAllowed();

  std::string_view text_;
  const LoadOptions& options_;
  std::string source_;
  Profile profile_;
  std::vector<bool> dropped_;                                   // parallel to profile_.rules
  std::unordered_map<std::string, std::vector<size_t>> by_name_;  // indexes into profile_.rules
  std::unordered_map<size_t, std::string> name_paths_;            // rule index -> names[k] path
};

Result<void> Loader::CheckFields(const json& obj, const std::string& path,
                                 std::initializer_list<std::string_view> known) const {
  if (!obj.is_object()) return Bad(path, "expected an object, got " + TypeName(obj));
  for (const auto& [key, value] : obj.items()) {
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      std::string expected;
      for (auto k : known) expected += (expected.empty() ? "" : ", ") + std::string(k);
      return Bad(path + "." + key, "unknown field (expected one of: " + expected + ")");
    }
  }
  return {};
}

namespace {

// Edit distance, capped: enough to tell a typo of a known field from unrelated metadata.
size_t Distance(std::string_view a, std::string_view b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      char x = static_cast<char>(std::tolower(static_cast<unsigned char>(a[i - 1])));
      char y = static_cast<char>(std::tolower(static_cast<unsigned char>(b[j - 1])));
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (x == y ? 0 : 1)});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

constexpr std::string_view kTopLevelFields[] = {"defaultAction", "defaultErrnoRet", "defaultErrno", "architectures",
                                                "archMap", "syscalls", "flags", "listenerPath", "listenerMetadata",
                                                "comment"};

}  // namespace

// Top-level keys outside the format are metadata to runc and crun (Go's encoding/json and
// libocispec skip unknown keys), and real profiles carry some ("_source", "version", "name"):
// a warning, an error only in strict mode. A near-miss of a known field ("defaultActoin",
// "syscall") is still an error: it would change the filter's meaning silently.
Result<void> Loader::CheckTopLevelFields(const json& root) {
  if (!root.is_object()) return Bad("$", "expected an object, got " + TypeName(root));
  for (const auto& [key, value] : root.items()) {
    if (std::find(std::begin(kTopLevelFields), std::end(kTopLevelFields), key) != std::end(kTopLevelFields)) continue;
    std::string expected;
    for (auto k : kTopLevelFields) expected += (expected.empty() ? "" : ", ") + std::string(k);
    for (auto k : kTopLevelFields) {
      if (Distance(key, k) <= 2 && key.size() >= 4) {
        return Bad(key, "unknown field; did you mean " + std::string(k) + "? (expected one of: " + expected + ")");
      }
    }
    CORDON_TRY(WarnOrFail(key, "unknown top-level field (not part of the OCI seccomp format)",
                          "ignored, as runc and crun ignore it"));
  }
  return {};
}

Result<uint64_t> Loader::GetU64(const json& j, const std::string& path) const {
  if (j.is_number_unsigned()) return j.get<uint64_t>();
  if (j.is_number_integer()) {
    return Bad(path, "must be a non-negative integer, got " + std::to_string(j.get<int64_t>()));
  }
  return Bad(path, "must be a non-negative integer, got " + TypeName(j));
}

Result<int> Loader::GetErrno(const json& j, const std::string& path) const {
  if (j.is_string()) {
    auto e = ParseErrnoName(j.get<std::string>());
    if (!e) return Bad(path, "unknown errno name " + Quote(j.get<std::string>()));
    return *e;
  }
  if (!j.is_number_integer() && !j.is_number_unsigned()) {
    return Bad(path, "must be an errno number or name, got " + TypeName(j));
  }
  if (j.is_number_unsigned() ? j.get<uint64_t>() > 4095 : (j.get<int64_t>() < 0 || j.get<int64_t>() > 4095)) {
    return Bad(path, "errno must be in 0..4095");
  }
  return static_cast<int>(j.get<int64_t>());
}

Result<std::vector<std::string>> Loader::GetStrings(const json& j, const std::string& path) const {
  std::vector<std::string> out;
  if (j.is_null()) return out;
  if (!j.is_array()) return Bad(path, "expected an array of strings, got " + TypeName(j));
  for (size_t i = 0; i < j.size(); ++i) {
    if (!j[i].is_string()) {
      return Bad(path + "[" + std::to_string(i) + "]", "expected a string, got " + TypeName(j[i]));
    }
    out.push_back(j[i].get<std::string>());
  }
  return out;
}

Result<Action> Loader::GetAction(const json& j, const std::string& path) const {
  if (!j.is_string()) return Bad(path, "expected an action name string, got " + TypeName(j));
  auto a = ParseActionName(j.get<std::string>());
  if (!a) {
    return Bad(path, "unknown action " + Quote(j.get<std::string>()) +
                         " (expected SCMP_ACT_ALLOW, SCMP_ACT_ERRNO, SCMP_ACT_KILL, SCMP_ACT_KILL_PROCESS, "
                         "SCMP_ACT_KILL_THREAD, SCMP_ACT_TRAP, SCMP_ACT_TRACE or SCMP_ACT_LOG)");
  }
  if (*a == Action::kNotify) {
    // Under runc/crun, NOTIFY hands the decision to an outside agent at listenerPath, which may
    // let the call run. Cordon's supervisor is the only listener and has no such agent: refuse,
    // rather than turn the rule into a denial the profile's author did not write.
    return Bad(path, "SCMP_ACT_NOTIFY is not supported: it hands the call to a seccomp agent (listenerPath), "
                     "and Cordon forwards notifications to no agent; use SCMP_ACT_ERRNO to deny the call or "
                     "SCMP_ACT_ALLOW to allow it (Cordon records every denial itself)");
  }
  return *a;
}

Result<Condition> Loader::GetCondition(const json& j, const std::string& path) {
  Condition c;
  if (j.is_null()) return c;
  CORDON_TRY(CheckFields(j, path, {"caps", "arches", "minKernel", "comment"}));
  if (j.contains("caps")) {
    CORDON_ASSIGN_OR_RETURN(c.caps, GetStrings(j["caps"], path + ".caps"));
  }
  if (j.contains("arches")) {
    CORDON_ASSIGN_OR_RETURN(auto arches, GetStrings(j["arches"], path + ".arches"));
    for (size_t i = 0; i < arches.size(); ++i) {
      auto canon = CanonicalArch(arches[i]);
      if (!canon) {
        return Bad(path + ".arches[" + std::to_string(i) + "]",
                   "unknown architecture " + Quote(arches[i]) + " (expected SCMP_ARCH_* or a Go GOARCH name)");
      }
      c.arches.push_back(*canon);
    }
  }
  if (j.contains("minKernel") && !j["minKernel"].is_null()) {
    const json& k = j["minKernel"];
    if (!k.is_string()) return Bad(path + ".minKernel", "expected a \"major.minor\" string, got " + TypeName(k));
    auto v = ParseKernelRelease(k.get<std::string>());
    if (!v) return Bad(path + ".minKernel", "expected \"major.minor\", got " + Quote(k.get<std::string>()));
    c.min_kernel = *v;
  }
  return c;
}

// Replaces each `@group` name by its members (groups.h), in place. A member keeps the group's JSON
// path with the group named ("syscalls[3].names[0] (@basic-io)"); a member already named in the
// entry, or by an earlier group of it, is not added twice.
Result<void> Loader::ExpandGroups(Entry* e) const {
  std::vector<std::pair<std::string, std::string>> names;
  std::vector<std::string> groups;
  std::set<std::string> seen;
  for (const auto& [n, npath] : e->names) {
    if (!n.starts_with("@")) {  // as written, repeats included (the loader reports those)
      seen.insert(n);
      names.emplace_back(n, npath);
      groups.emplace_back();
      continue;
    }
    if (!IsKnownGroup(n)) {
      return Bad(npath, "unknown syscall group " + Quote(n) + " (known groups: " + KnownGroupNames() + ")");
    }
    for (const auto& m : ExpandGroup(n)) {
      if (seen.insert(m).second) {
        names.emplace_back(m, npath + " (" + n + ")");
        groups.push_back(n);
      }
    }
  }
  e->names = std::move(names);
  e->groups = std::move(groups);
  return {};
}

Result<Entry> Loader::GetEntry(const json& j, const std::string& path) {
  CORDON_TRY(CheckFields(j, path, {"names", "name", "action", "errnoRet", "errno", "args", "includes",
                                   "excludes", "comment"}));
  Entry e;
  e.path = path;
  if (j.contains("names")) {
    CORDON_ASSIGN_OR_RETURN(auto names, GetStrings(j["names"], path + ".names"));
    for (size_t i = 0; i < names.size(); ++i) {
      e.names.emplace_back(names[i], path + ".names[" + std::to_string(i) + "]");
    }
  }
  if (j.contains("name") && !j["name"].is_null()) {  // legacy single-name form (runtime-spec < 1.0)
    if (!j["name"].is_string()) return Bad(path + ".name", "expected a string, got " + TypeName(j["name"]));
    e.names.emplace_back(j["name"].get<std::string>(), path + ".name");
  }
  for (const auto& [n, npath] : e.names) {
    if (n.empty()) return Bad(npath, "empty syscall name");
  }
  CORDON_TRY(ExpandGroups(&e));
  if (!j.contains("action")) return Bad(path + ".action", "missing required field");
  CORDON_ASSIGN_OR_RETURN(e.action, GetAction(j["action"], path + ".action"));

  // errnoRet (runtime-spec, number; Podman also writes a name) and errno (Podman, a name) must agree.
  std::optional<int> err;
  if (j.contains("errnoRet") && !j["errnoRet"].is_null()) {
    CORDON_ASSIGN_OR_RETURN(err, GetErrno(j["errnoRet"], path + ".errnoRet"));
  }
  if (j.contains("errno") && !j["errno"].is_null() &&
      !(j["errno"].is_string() && j["errno"].get<std::string>().empty())) {
    CORDON_ASSIGN_OR_RETURN(int e2, GetErrno(j["errno"], path + ".errno"));
    if (err && *err != e2) {
      return Bad(path + ".errno", "disagrees with errnoRet (" + std::to_string(e2) + " vs " + std::to_string(*err) + ")");
    }
    err = e2;
  }
  if (err && e.action != Action::kErrno && e.action != Action::kTrace) {
    Warn(path + ".errnoRet", "ignored: only SCMP_ACT_ERRNO and SCMP_ACT_TRACE take a return value");
    err.reset();
  }
  // runtime-spec: an ERRNO rule without errnoRet returns EPERM.
  if (e.action == Action::kErrno) e.errno_ret = err.value_or(EPERM);
  if (e.action == Action::kTrace) e.errno_ret = err.value_or(0);

  if (j.contains("args") && !j["args"].is_null()) {
    const json& args = j["args"];
    if (!args.is_array()) return Bad(path + ".args", "expected an array, got " + TypeName(args));
    for (size_t i = 0; i < args.size(); ++i) {
      std::string apath = path + ".args[" + std::to_string(i) + "]";
      const json& a = args[i];
      CORDON_TRY(CheckFields(a, apath, {"index", "value", "valueTwo", "op", "comment"}));
      ArgCondition c;
      if (!a.contains("index")) return Bad(apath + ".index", "missing required field");
      CORDON_ASSIGN_OR_RETURN(uint64_t index, GetU64(a["index"], apath + ".index"));
      if (index > 5) return Bad(apath + ".index", "argument index " + std::to_string(index) + " out of range 0..5");
      c.index = static_cast<uint32_t>(index);
      if (!a.contains("op")) return Bad(apath + ".op", "missing required field");
      if (!a["op"].is_string()) return Bad(apath + ".op", "expected a string, got " + TypeName(a["op"]));
      auto op = ParseCmpOpName(a["op"].get<std::string>());
      if (!op) {
        return Bad(apath + ".op", "unknown comparison operator " + Quote(a["op"].get<std::string>()) +
                                      " (expected SCMP_CMP_NE, _LT, _LE, _EQ, _GE, _GT or _MASKED_EQ)");
      }
      c.op = *op;
      if (!a.contains("value")) return Bad(apath + ".value", "missing required field");
      CORDON_ASSIGN_OR_RETURN(c.value, GetU64(a["value"], apath + ".value"));
      if (a.contains("valueTwo") && !a["valueTwo"].is_null()) {
        CORDON_ASSIGN_OR_RETURN(c.value_two, GetU64(a["valueTwo"], apath + ".valueTwo"));
      }
      if (c.op == CmpOp::kMaskedEq && (c.value_two & ~c.value) != 0) {
        return Bad(apath + ".valueTwo", "has bits outside the mask in value; the comparison can never match");
      }
      // libseccomp 2.5 rejects (EINVAL) two comparisons on one argument in one rule, so there is
      // no AND of ranges on a single argument. Reject here, with the path, rather than at compile.
      for (const auto& prev : e.conditions) {
        if (prev.index == c.index) {
          return Bad(apath + ".index", "second comparison on argument " + std::to_string(c.index) +
                                           " in one rule (libseccomp cannot AND comparisons on the same "
                                           "argument; split the rule)");
        }
      }
      e.conditions.push_back(c);
    }
  }
  if (j.contains("includes")) {
    CORDON_ASSIGN_OR_RETURN(e.includes, GetCondition(j["includes"], path + ".includes"));
  }
  if (j.contains("excludes")) {
    CORDON_ASSIGN_OR_RETURN(e.excludes, GetCondition(j["excludes"], path + ".excludes"));
  }
  if (e.names.empty()) Warn(path, "no syscall names; entry ignored");
  return e;
}

Result<void> Loader::AddArch(const std::string& name, const std::string& path) {
  if (!name.starts_with("SCMP_ARCH_") || !CanonicalArch(name)) {
    return Bad(path, "unknown architecture " + Quote(name) + " (expected SCMP_ARCH_*)");
  }
  auto& v = profile_.architectures;
  if (std::find(v.begin(), v.end(), name) == v.end()) v.push_back(name);
  return {};
}

// Adds one rule per name of an applicable entry, resolving conflicts the way documented in
// docs/seccomp.md ("Rules for the same syscall").
Result<void> Loader::AddEntryRules(const Entry& e) {
  if (SameOutcome(e.action, e.errno_ret, profile_.default_action, profile_.default_errno)) {
    // libseccomp refuses these (EACCES); they change nothing.
    Warn(e.path, "action " + OutcomeName(e.action, e.errno_ret) + " equals defaultAction; rule skipped");
    return {};
  }
  for (size_t ni = 0; ni < e.names.size(); ++ni) {
    const auto& [name, npath] = e.names[ni];
    const std::string& group = e.groups[ni];
    int nr = seccomp_syscall_resolve_name(name.c_str());
    if (nr == __NR_SCMP_ERROR) {
      profile_.unknown_names.push_back({name, npath});
      const std::string what = "unknown syscall " + Quote(name) + " (not known to libseccomp " + std::string(LibVersion()) + ")";
      if (group.empty()) {
        CORDON_TRY(WarnOrFail(npath, what, "skipped"));
      } else {
        // A group member the author did not write: skipped with a warning, in strict mode too.
        Warn(npath, what + ", member of " + group + "; skipped");
      }
      continue;
    }
    Rule r{.syscall = name, .nr = nr, .action = e.action, .errno_ret = e.errno_ret,
           .conditions = e.conditions, .path = e.path};
    auto& kept = by_name_[name];
    bool keep = true;
    std::vector<size_t> to_drop;
    for (size_t k : kept) {
      if (dropped_[k]) continue;
      const Rule& old = profile_.rules[k];
      const std::string& opath = name_paths_[k];
      bool same = SameOutcome(old.action, old.errno_ret, r.action, r.errno_ret);
      if (old.conditions.empty()) {
        // libseccomp keeps the first unconditional rule and ignores later rules for the syscall.
        CORDON_TRY(WarnOrFail(npath, "duplicate rule for " + Quote(name) + ": shadowed by the unconditional rule " +
                                         opath + " (" + OutcomeName(old.action, old.errno_ret) + ")", "skipped"));
        keep = false;
        break;
      }
      if (r.conditions.empty()) {
        // libseccomp lets an unconditional rule replace any conditional rules, in either order.
        CORDON_TRY(WarnOrFail(opath, "duplicate rule for " + Quote(name) + ": conditional rule (" +
                                         OutcomeName(old.action, old.errno_ret) + ") overridden by the unconditional rule " +
                                         npath + " (" + OutcomeName(r.action, r.errno_ret) + ")", "dropped"));
        to_drop.push_back(k);
        continue;
      }
      if (same) {
        if (SameConditions(old, r)) {
          CORDON_TRY(WarnOrFail(npath, "duplicate rule for " + Quote(name) + ": same conditions and action as " +
                                           opath, "skipped"));
          keep = false;
          break;
        }
        continue;  // alternatives with one action: ORed, order does not matter
      }
      if (RulesMayOverlap(old, r)) {
        // Which of two overlapping rules with different actions wins is decided by libseccomp's
        // internal tree order, not by the file. Keep the first in file order, so the meaning is
        // defined and Evaluate() matches the filter.
        CORDON_TRY(WarnOrFail(npath, "conflicting rule for " + Quote(name) + ": its conditions may overlap " + opath +
                                         " which has a different action (" + OutcomeName(old.action, old.errno_ret) +
                                         " vs " + OutcomeName(r.action, r.errno_ret) + ")", "the later rule is skipped"));
        keep = false;
        break;
      }
    }
    if (!keep) continue;
    for (size_t k : to_drop) dropped_[k] = true;
    name_paths_[profile_.rules.size()] = npath;
    kept.push_back(profile_.rules.size());
    profile_.rules.push_back(std::move(r));
    dropped_.push_back(false);
  }
  return {};
}

// The shim installs the filter right before execveat(), so a profile that denies exec makes every
// task fail with a confusing error; exit/exit_group denied would hang or kill every task.
void Loader::CheckExecAllowed() {
  static constexpr uint64_t kZero[6] = {};
  for (const char* name : {"execve", "execveat", "exit", "exit_group"}) {
    if (seccomp_syscall_resolve_name(name) < 0) continue;
    const Rule* r = FindMatchingRule(profile_, name, kZero);
    Action a = r ? r->action : profile_.default_action;
    if (a == Action::kAllow || a == Action::kLog) continue;
    Warn(r ? r->path : "defaultAction",
         std::string(name) + " is not allowed (" + std::string(ActionName(a)) +
             "); the shim execs the task after installing the filter, so every task would fail");
  }
}

Result<Profile> Loader::Run() {
  profile_.name = source_;
  profile_.sha256 = Sha256Hex(text_);
  profile_.context = options_.context;
  profile_.strict = options_.strict;

  json root;
  try {
    root = json::parse(text_.begin(), text_.end());
  } catch (const json::parse_error& e) {
    auto [line, col] = LineColumn(text_, e.byte > 0 ? e.byte - 1 : 0);
    std::string what = e.what();
    // nlohmann's message starts with "[json.exception.parse_error.101] parse error at line..": keep the tail.
    if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    return FailMsg(source_ + ": line " + std::to_string(line) + ", column " + std::to_string(col) +
                   ": invalid JSON: " + what);
  } catch (const std::exception& e) {
    return FailMsg(source_ + ": invalid JSON: " + e.what());
  }

  try {
    CORDON_TRY(CheckTopLevelFields(root));
    if (!root.contains("defaultAction")) return Bad("defaultAction", "missing required field");
    CORDON_ASSIGN_OR_RETURN(profile_.default_action, GetAction(root["defaultAction"], "defaultAction"));
    std::optional<int> derr;
    if (root.contains("defaultErrnoRet") && !root["defaultErrnoRet"].is_null()) {
      CORDON_ASSIGN_OR_RETURN(derr, GetErrno(root["defaultErrnoRet"], "defaultErrnoRet"));
    }
    if (root.contains("defaultErrno") && !root["defaultErrno"].is_null()) {  // Podman
      CORDON_ASSIGN_OR_RETURN(int e2, GetErrno(root["defaultErrno"], "defaultErrno"));
      if (derr && *derr != e2) return Bad("defaultErrno", "disagrees with defaultErrnoRet");
      derr = e2;
    }
    profile_.default_errno = profile_.default_action == Action::kTrace ? derr.value_or(0) : derr.value_or(EPERM);

    if (root.contains("architectures")) {
      CORDON_ASSIGN_OR_RETURN(auto arches, GetStrings(root["architectures"], "architectures"));
      for (size_t i = 0; i < arches.size(); ++i) {
        CORDON_TRY(AddArch(arches[i], "architectures[" + std::to_string(i) + "]"));
      }
    }
    if (root.contains("archMap") && !root["archMap"].is_null()) {
      const json& m = root["archMap"];
      if (!m.is_array()) return Bad("archMap", "expected an array, got " + TypeName(m));
      for (size_t i = 0; i < m.size(); ++i) {
        std::string p = "archMap[" + std::to_string(i) + "]";
        CORDON_TRY(CheckFields(m[i], p, {"architecture", "subArchitectures", "comment"}));
        if (!m[i].contains("architecture") || !m[i]["architecture"].is_string()) {
          return Bad(p + ".architecture", "expected a string");
        }
        CORDON_TRY(AddArch(m[i]["architecture"].get<std::string>(), p + ".architecture"));
        if (m[i].contains("subArchitectures")) {
          CORDON_ASSIGN_OR_RETURN(auto subs, GetStrings(m[i]["subArchitectures"], p + ".subArchitectures"));
          for (size_t k = 0; k < subs.size(); ++k) {
            CORDON_TRY(AddArch(subs[k], p + ".subArchitectures[" + std::to_string(k) + "]"));
          }
        }
      }
    }
    if (root.contains("flags")) {
      CORDON_ASSIGN_OR_RETURN(auto flags, GetStrings(root["flags"], "flags"));
      for (size_t i = 0; i < flags.size(); ++i) {
        std::string p = "flags[" + std::to_string(i) + "]";
        auto it = std::find_if(kFilterFlags.begin(), kFilterFlags.end(),
                               [&](const auto& f) { return f.first == flags[i]; });
        if (it == kFilterFlags.end()) return Bad(p, "unknown seccomp filter flag " + Quote(flags[i]));
        if (it->second == 1u) {  // TSYNC
          Warn(p, "ignored: the shim is single-threaded when it installs the filter");
          continue;
        }
        profile_.flags |= it->second;
      }
    }
    for (const char* f : {"listenerPath", "listenerMetadata"}) {
      if (root.contains(f) && !root[f].is_null() && !root[f].is_string()) {
        return Bad(f, "expected a string, got " + TypeName(root[f]));
      }
    }
    if (root.contains("listenerPath") && root["listenerPath"].is_string() && !root["listenerPath"].get<std::string>().empty()) {
      return Bad("listenerPath", "seccomp agents are not supported: Cordon's supervisor is the only notification "
                                 "listener and forwards nothing to " + Quote(root["listenerPath"].get<std::string>()) +
                                 "; remove listenerPath (and SCMP_ACT_NOTIFY rules)");
    }
    if (root.contains("listenerMetadata") && root["listenerMetadata"].is_string()) {
      Warn("listenerMetadata", "ignored: it is only passed to a seccomp agent (listenerPath), which Cordon does not use");
    }

    if (root.contains("syscalls") && !root["syscalls"].is_null()) {
      const json& sc = root["syscalls"];
      if (!sc.is_array()) return Bad("syscalls", "expected an array, got " + TypeName(sc));
      // Validate every entry first, whatever the context, so a broken file fails everywhere.
      std::vector<Entry> entries;
      entries.reserve(sc.size());
      for (size_t i = 0; i < sc.size(); ++i) {
        CORDON_ASSIGN_OR_RETURN(Entry e, GetEntry(sc[i], "syscalls[" + std::to_string(i) + "]"));
        entries.push_back(std::move(e));
      }
      for (const auto& e : entries) {
        if (!Applies(e, options_.context)) continue;
        CORDON_TRY(AddEntryRules(e));
      }
    }
  } catch (const json::exception& e) {
    // Every access above is type-checked first; this is a backstop so nothing escapes the module.
    return FailMsg(source_ + ": unexpected JSON structure: " + e.what());
  }

  std::vector<Rule> rules;
  for (size_t i = 0; i < profile_.rules.size(); ++i) {
    if (!dropped_[i]) rules.push_back(std::move(profile_.rules[i]));
  }
  profile_.rules = std::move(rules);
  CheckExecAllowed();
  return std::move(profile_);
}

}  // namespace

Result<KernelVersion> ParseKernelRelease(std::string_view release) {
  KernelVersion v;
  const char* p = release.data();
  const char* end = p + release.size();
  auto r1 = std::from_chars(p, end, v.major);
  if (r1.ec != std::errc() || r1.ptr == end || *r1.ptr != '.') return FailMsg("bad kernel version " + Quote(release));
  auto r2 = std::from_chars(r1.ptr + 1, end, v.minor);
  if (r2.ec != std::errc() || v.major < 0 || v.minor < 0) return FailMsg("bad kernel version " + Quote(release));
  // Anything after major.minor (".0-18-amd64", ".12") is ignored, as Docker does.
  if (r2.ptr != end && *r2.ptr != '.' && *r2.ptr != '-' && *r2.ptr != '+') {
    return FailMsg("bad kernel version " + Quote(release));
  }
  return v;
}

std::string NativeArchName() {
  // libseccomp tokens are the AUDIT_ARCH_* values; map back through the SCMP names we know.
  for (const auto& [go, scmp] : kGoArchNames) {
    std::string lower(scmp.substr(10));
    for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (seccomp_arch_resolve_name(lower.c_str()) == seccomp_arch_native()) return std::string(scmp);
  }
  return "SCMP_ARCH_NATIVE";
}

Result<Profile> ParseProfile(std::string_view json_text, const LoadOptions& options) {
  try {
    Loader loader(json_text, options);
    return loader.Run();
  } catch (const std::exception& e) {  // bad_alloc and friends: nothing may escape the module
    return FailMsg((options.source_name.empty() ? "<profile>" : options.source_name) + ": " + e.what());
  }
}

Result<Profile> LoadProfileFile(const std::string& path, const LoadOptions& options) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Fail(errno, "open seccomp profile " + path);
  std::ostringstream buf;
  buf << in.rdbuf();
  if (in.bad()) return Fail(errno, "read seccomp profile " + path);
  LoadOptions o = options;
  if (o.source_name.empty()) {
    auto slash = path.rfind('/');
    o.source_name = slash == std::string::npos ? path : path.substr(slash + 1);
  }
  return ParseProfile(buf.str(), o);
}

}  // namespace cordon::seccomp
