// supervisor/seccomp/compiler.h: Profile -> classic BPF with libseccomp, plus a user-space
// evaluator that gives the same answer as the compiled filter.
//
// Supervisor side only. The supervisor compiles; the shim receives the raw sock_filter array (in a
// sealed memfd) and only calls seccomp(SECCOMP_SET_MODE_FILTER) on it, after PR_SET_NO_NEW_PRIVS,
// as the last step before execveat(). The compiled filter therefore does not set NNP or TSYNC.
//
// Architecture rule: the filter accepts only the native architecture. Anything else (i386 via
// `int 0x80`, x32 numbers >= 0x40000000 on x86_64) hits SCMP_ACT_KILL_PROCESS, unless the profile
// lists that architecture (architectures/archMap) AND CompileOptions::allow_foreign_arches is set.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "supervisor/seccomp/profile.h"

namespace cordon::seccomp {

struct CompileOptions {
  // Compile every SCMP_ACT_ERRNO, SCMP_ACT_KILL_* and SCMP_ACT_TRAP (rules and default) and the
  // bad-architecture kill as SCMP_ACT_NOTIFY, so the supervisor sees each on the listener fd,
  // records it, and then gives the profile's action itself (docs/seccomp.md: the errno Evaluate()
  // returns, the kill, the trap). TRACE/ALLOW/LOG are unchanged. The installer must then pass
  // SECCOMP_FILTER_FLAG_NEW_LISTENER (Compiled::filter_flags includes it). Default: off.
  bool notify_denials = false;
  // Also accept the non-native architectures the profile lists (on x86_64: SCMP_ARCH_X86 and
  // SCMP_ARCH_X32). Default: off, foreign-ABI syscalls kill the process.
  bool allow_foreign_arches = false;
};

struct Compiled {
  std::string name;                 // Profile::name
  std::vector<uint8_t> bpf;         // struct sock_filter[], as seccomp_export_bpf() writes it
  std::string bpf_sha256;           // hex SHA-256 of `bpf`
  std::string profile_sha256;       // Profile::sha256
  std::string cache_key;            // CacheKey(profile, options)
  uint32_t filter_flags = 0;        // SECCOMP_FILTER_FLAG_* for seccomp(2): Profile::flags, plus
                                    // NEW_LISTENER in notify mode
  std::vector<uint32_t> arches;     // AUDIT_ARCH_* values the filter accepts, native first
  size_t InstructionCount() const { return bpf.size() / 8; }
};

// Builds the filter: default action, native arch (+ allowed foreign arches), one libseccomp rule
// per Profile rule, bad-arch action KILL_PROCESS, SCMP_FLTATR_CTL_OPTIMIZE=2 (binary tree),
// CTL_NNP=0, CTL_TSYNC=0, CTL_LOG/CTL_SSB from the profile flags. Errors carry the rule's path.
Result<Compiled> Compile(const Profile& profile, const CompileOptions& options);

// libseccomp's pseudo-C rendering of the same filter (seccomp_export_pfc), for `cordon seccomp show`.
Result<std::string> ExportPfc(const Profile& profile, const CompileOptions& options);

// The compiled result is a pure function of (profile bytes, the context and strictness the profile
// was loaded with, options, libseccomp version, native arch). This is the hex SHA-256 of all of them.
std::string CacheKey(const Profile& profile, const CompileOptions& options);

struct Decision {
  Action action = Action::kAllow;
  int errno_ret = 0;       // for kErrno (the errno to return) and kTrace (message value)
  // What decided: a rule path ("syscalls[12]"), "defaultAction", or "architecture" (bad arch /
  // x32 on x86_64 when not allowed).
  std::string rule_path;
  // Some rule for this syscall compares arguments, so another call of it may be decided
  // differently. False: every call of (arch, nr) gets this decision (it may be cached).
  bool args_matter = false;
};

// Evaluates the profile in user space, the way the compiled filter does:
//   1. arch (an AUDIT_ARCH_* value, seccomp_data.arch) not accepted -> KILL_PROCESS, "architecture";
//      on x86_64, nr with bit 0x40000000 (x32) unless X32 is accepted -> the same.
//   2. the syscall number is resolved to a name for that arch; numbers libseccomp cannot name
//      fall to the default action.
//   3. the first rule for that name (file order) whose conditions all hold decides. The loader
//      guarantees that all matching rules agree, so this is also libseccomp's answer.
//   4. otherwise the default action.
// Returns the profile's own action (kErrno, never the kNotify that notify mode compiles it to):
// that is the answer the supervisor gives to a notification.
Decision Evaluate(const Profile& profile, uint32_t arch, int syscall_nr, const uint64_t args[6],
                  const CompileOptions& options = {});

// The SECCOMP_RET_* value the compiled filter returns for a decision (action | data), taking
// notify mode into account. For tests and for `cordon seccomp check`.
uint32_t SeccompReturnValue(const Decision& d, const CompileOptions& options = {});

// Native architecture as AUDIT_ARCH_* (== libseccomp's SCMP_ARCH_* token).
uint32_t NativeAuditArch();
// Syscall name <-> number for the native architecture. nullopt for unknown names/numbers and for
// names that exist only on other architectures.
std::optional<int> SyscallNumber(std::string_view name);
std::optional<std::string> SyscallName(int nr);
// The name of syscall `nr` as a task of audit arch `arch` made it (x32 numbers on x86_64 resolve
// in the x32 table), or nullopt.
std::optional<std::string> SyscallNameForArch(uint32_t arch, int nr);
// "SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32" (x86_64 audit arch with an x32 number), or
// the audit arch in hex.
std::string ArchName(uint32_t arch, int nr);

// "2.5.4": the runtime libseccomp version (part of the cache key).
std::string LibseccompVersion();

}  // namespace cordon::seccomp
