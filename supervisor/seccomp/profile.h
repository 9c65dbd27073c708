// supervisor/seccomp/profile.h: parse and validate seccomp profiles in the OCI runtime-spec
// `linux.seccomp` JSON format, including the Docker (moby) and Podman (containers/common) dialects.
//
// Supervisor side only, pure (no syscalls beyond reading a file in LoadProfileFile). The result is a
// Profile resolved for one Context: includes/excludes are evaluated, syscall names are resolved for
// the native architecture, and rules that libseccomp would silently drop or merge are removed with a
// warning, so the rule list here is exactly what the compiler hands to libseccomp and what
// Evaluate() (compiler.h) interprets. docs/seccomp.md describes every edge-case decision.
//
// A rule's `names` may hold `@group` names (groups.h, systemd's sets, e.g. "@basic-io"): the loader
// expands them into their members; an unknown group is an error. Only Cordon reads them.
//
// Errors name the source, the JSON path and the reason, e.g.
//   "default.json: syscalls[12].args[0].op: unknown comparison operator \"SCMP_CMP_XX\"".
#pragma once

#include <cstdint>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace cordon::seccomp {

// Seccomp filter actions (SCMP_ACT_*). SCMP_ACT_KILL is libseccomp's alias for KILL_THREAD.
enum class Action : uint8_t {
  kKillThread,   // SCMP_ACT_KILL, SCMP_ACT_KILL_THREAD
  kKillProcess,  // SCMP_ACT_KILL_PROCESS
  kTrap,         // SCMP_ACT_TRAP: SIGSYS to the thread
  kErrno,        // SCMP_ACT_ERRNO: fail with Rule::errno_ret / Profile::default_errno
  kTrace,        // SCMP_ACT_TRACE: notify a ptrace tracer (errno_ret is the message value)
  kAllow,        // SCMP_ACT_ALLOW
  kLog,          // SCMP_ACT_LOG: allow and audit-log
  kNotify,       // SCMP_ACT_NOTIFY: ask the user-space listener
};

// Argument comparison operators (SCMP_CMP_*). All compare the full 64-bit argument, unsigned.
enum class CmpOp : uint8_t {
  kNe,        // arg != value
  kLt,        // arg <  value
  kLe,        // arg <= value
  kEq,        // arg == value
  kGe,        // arg >= value
  kGt,        // arg >  value
  kMaskedEq,  // (arg & value) == value_two
};

// "SCMP_ACT_ERRNO" etc.; KillThread prints as "SCMP_ACT_KILL_THREAD".
std::string_view ActionName(Action a);
std::optional<Action> ParseActionName(std::string_view name);
std::string_view CmpOpName(CmpOp op);
std::optional<CmpOp> ParseCmpOpName(std::string_view name);
// "EPERM" -> 1. Knows every errno name glibc knows (strerrorname_np).
std::optional<int> ParseErrnoName(std::string_view name);

// One argument comparison of a rule.
struct ArgCondition {
  uint32_t index = 0;      // 0..5
  CmpOp op = CmpOp::kEq;
  uint64_t value = 0;      // the operand; the mask for kMaskedEq
  uint64_t value_two = 0;  // only for kMaskedEq: the expected masked value
  bool Matches(const uint64_t args[6]) const;
};

// One effective rule: one syscall name with its action and conditions. A JSON entry with N names
// becomes N rules. Conditions are ANDed; rules for the same syscall are ORed (see Evaluate).
struct Rule {
  std::string syscall;       // name as written, e.g. "clone"
  int nr = -1;               // native number; < 0 is a libseccomp pseudo number (name exists
                             // only on other architectures: compiled for those, never matches native)
  Action action = Action::kAllow;
  int errno_ret = 0;         // errno for kErrno, message value for kTrace, 0 otherwise
  std::vector<ArgCondition> conditions;  // at most one per argument index (libseccomp 2.5 limit)
  std::string path;          // JSON path of the entry, e.g. "syscalls[12]"
  bool Matches(const uint64_t args[6]) const;  // all conditions hold
};

// The task a profile is resolved for (Docker's includes/excludes inputs).
struct KernelVersion {
  int major = 0;
  int minor = 0;
  auto operator<=>(const KernelVersion&) const = default;
};
// "6.1.0-18-amd64" -> {6, 1}. Pure; the caller passes uname().release.
Result<KernelVersion> ParseKernelRelease(std::string_view release);

// libseccomp's name for the architecture this binary runs on, e.g. "SCMP_ARCH_X86_64".
std::string NativeArchName();

struct Context {
  // Capabilities the task holds, e.g. "CAP_SYS_ADMIN". Cordon tasks hold none: empty by default.
  std::set<std::string> caps;
  // Architecture as SCMP_ARCH_* name. Default: the native one.
  std::string arch = NativeArchName();
  // Running kernel. The default {0,0} means unknown: every `minKernel` include fails (the
  // conservative reading: rules gated on a kernel version are left out).
  KernelVersion kernel;
};

struct LoadOptions {
  // Errors instead of warnings for: unknown syscall names, duplicate or conflicting rules for the
  // same syscall. Redundant rules (action == default) and listener fields stay warnings.
  bool strict = false;
  Context context;
  // Name used in error and warning messages (usually the file name). ParseProfile's default: "<profile>".
  std::string source_name;
};

struct Profile {
  std::string name;             // source_name it was loaded under
  std::string sha256;           // hex SHA-256 of the raw profile bytes
  Action default_action = Action::kErrno;
  int default_errno = 1;        // for kErrno/kTrace defaults; EPERM when the profile omits it
  // SCMP_ARCH_* names the profile lists (`architectures` plus archMap architecture and
  // subArchitectures), in file order, without duplicates. The compiler uses only the native one
  // unless CompileOptions::allow_foreign_arches (compiler.h).
  std::vector<std::string> architectures;
  // SECCOMP_FILTER_FLAG_* bits from `flags`, for the installer (the shim) to pass to seccomp(2).
  uint32_t flags = 0;
  // Effective rules for `context`, in file order. For any syscall and argument values, every rule
  // that matches has the same action and errno (the loader guarantees it), so "first match" and
  // libseccomp's tree order agree.
  std::vector<Rule> rules;
  std::vector<std::string> warnings;  // human-readable, each prefixed with name and JSON path
  // Names of applicable rules that this libseccomp does not know (skipped), with their JSON paths;
  // `cordon seccomp lint` looks them up in the kernel's syscall history.
  struct UnknownName {
    std::string name;
    std::string path;
  };
  std::vector<UnknownName> unknown_names;
  Context context;                    // what the profile was resolved for
  bool strict = false;                // LoadOptions::strict it was loaded with
};

// Parses, validates and resolves `json_text`. Never throws.
Result<Profile> ParseProfile(std::string_view json_text, const LoadOptions& options);

// Reads `path` and calls ParseProfile; source_name defaults to the file's base name.
Result<Profile> LoadProfileFile(const std::string& path, const LoadOptions& options);

// First rule for `syscall` whose conditions hold, or nullptr (then the default action applies).
// Name-based, architecture-independent. Evaluate() in compiler.h adds the architecture rules.
const Rule* FindMatchingRule(const Profile& profile, std::string_view syscall,
                             const uint64_t args[6]);

}  // namespace cordon::seccomp
