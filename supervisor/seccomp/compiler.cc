// supervisor/seccomp/compiler.cc: Profile -> BPF via libseccomp, and the matching evaluator.
#include "supervisor/seccomp/compiler.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <memory>

#include "common/unique_fd.h"
#include "supervisor/sha256.h"

namespace cordon::seccomp {
namespace {

// x32 syscalls arrive with AUDIT_ARCH_X86_64 and this bit set in the number (arch/x86 __X32_SYSCALL_BIT).
constexpr uint32_t kX32SyscallBit = 0x40000000;

struct FilterRelease {
  void operator()(void* ctx) const { seccomp_release(ctx); }
};
using Filter = std::unique_ptr<void, FilterRelease>;

// "SCMP_ARCH_X86_64" -> libseccomp token (== AUDIT_ARCH_*), 0 if libseccomp does not know it.
uint32_t ArchToken(std::string_view scmp_name) {
  if (!scmp_name.starts_with("SCMP_ARCH_")) return 0;
  std::string lower(scmp_name.substr(10));
  for (auto& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return seccomp_arch_resolve_name(lower.c_str());
}

// The ABIs a native process can actually use (Docker's archMap sub-architectures). Other
// architectures a multi-platform profile lists can never reach this kernel's filter, and libseccomp
// refuses to mix endiannesses (EDOM), so they are ignored.
bool SameFamily(uint32_t native, uint32_t other) {
  static constexpr std::pair<uint32_t, uint32_t> kFamilies[] = {
      {SCMP_ARCH_X86_64, SCMP_ARCH_X86},         {SCMP_ARCH_X86_64, SCMP_ARCH_X32},
      {SCMP_ARCH_AARCH64, SCMP_ARCH_ARM},        {SCMP_ARCH_MIPS64, SCMP_ARCH_MIPS},
      {SCMP_ARCH_MIPS64, SCMP_ARCH_MIPS64N32},   {SCMP_ARCH_MIPSEL64, SCMP_ARCH_MIPSEL},
      {SCMP_ARCH_MIPSEL64, SCMP_ARCH_MIPSEL64N32}, {SCMP_ARCH_S390X, SCMP_ARCH_S390},
      {SCMP_ARCH_PPC64, SCMP_ARCH_PPC},
  };
  for (const auto& [n, o] : kFamilies) {
    if (n == native && o == other) return true;
  }
  return false;
}

// Architectures the filter accepts: native always; listed sub-architectures only when allowed.
std::vector<uint32_t> AcceptedArches(const Profile& profile, const CompileOptions& options) {
  const uint32_t native = seccomp_arch_native();
  std::vector<uint32_t> out{native};
  if (!options.allow_foreign_arches) return out;
  for (const auto& name : profile.architectures) {
    uint32_t t = ArchToken(name);
    if (t != 0 && SameFamily(native, t) && std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
  }
  return out;
}

bool Accepts(const std::vector<uint32_t>& arches, uint32_t token) {
  return std::find(arches.begin(), arches.end(), token) != arches.end();
}

uint32_t ToScmpAction(Action a, int errno_ret, const CompileOptions& options) {
  switch (a) {
    // In notify mode the supervisor enforces kill rules itself, after recording the syscall: a
    // native kill leaves only "SIGSYS" in the wait status. The bad-architecture kill as well
    // (ACT_BADARCH below).
    case Action::kKillThread: return options.notify_denials ? SCMP_ACT_NOTIFY : SCMP_ACT_KILL_THREAD;
    case Action::kKillProcess: return options.notify_denials ? SCMP_ACT_NOTIFY : SCMP_ACT_KILL_PROCESS;
    // TRAP too: the supervisor records the call, then delivers the same SIGSYS (docs/seccomp.md).
    case Action::kTrap: return options.notify_denials ? SCMP_ACT_NOTIFY : SCMP_ACT_TRAP;
    case Action::kErrno:
      return options.notify_denials ? SCMP_ACT_NOTIFY : SCMP_ACT_ERRNO(static_cast<uint16_t>(errno_ret));
    case Action::kTrace: return SCMP_ACT_TRACE(static_cast<uint16_t>(errno_ret));
    case Action::kAllow: return SCMP_ACT_ALLOW;
    case Action::kLog: return SCMP_ACT_LOG;
    case Action::kNotify: return SCMP_ACT_NOTIFY;
  }
  return SCMP_ACT_KILL_PROCESS;
}

scmp_compare ToScmpOp(CmpOp op) {
  switch (op) {
    case CmpOp::kNe: return SCMP_CMP_NE;
    case CmpOp::kLt: return SCMP_CMP_LT;
    case CmpOp::kLe: return SCMP_CMP_LE;
    case CmpOp::kEq: return SCMP_CMP_EQ;
    case CmpOp::kGe: return SCMP_CMP_GE;
    case CmpOp::kGt: return SCMP_CMP_GT;
    case CmpOp::kMaskedEq: return SCMP_CMP_MASKED_EQ;
  }
  return _SCMP_CMP_MIN;
}

Result<Filter> Build(const Profile& profile, const CompileOptions& options) {
  const uint32_t def = ToScmpAction(profile.default_action, profile.default_errno, options);
  Filter f(seccomp_init(def));
  if (!f) return FailMsg(profile.name + ": defaultAction: libseccomp rejected " + std::string(ActionName(profile.default_action)));

  auto attr = [&](scmp_filter_attr a, uint32_t v, const char* what) -> Result<void> {
    if (int rc = seccomp_attr_set(f.get(), a, v); rc < 0) return Fail(-rc, std::string("seccomp_attr_set ") + what);
    return {};
  };
  // The shim sets PR_SET_NO_NEW_PRIVS itself (step 13) and is single-threaded, so neither NNP nor
  // TSYNC belongs in the filter; both only affect seccomp_load(), which we never call, but keep the
  // exported program and the attributes honest. Flags such as LOG/SPEC_ALLOW travel in
  // Compiled::filter_flags for the same reason.
  CORDON_TRY(attr(SCMP_FLTATR_CTL_NNP, 0, "CTL_NNP"));
  CORDON_TRY(attr(SCMP_FLTATR_CTL_TSYNC, 0, "CTL_TSYNC"));
  CORDON_TRY(attr(SCMP_FLTATR_ACT_BADARCH, options.notify_denials ? SCMP_ACT_NOTIFY : SCMP_ACT_KILL_PROCESS,
                  "ACT_BADARCH"));
  // Binary tree over syscall numbers: O(log n) instead of a linear scan of ~350 syscalls.
  CORDON_TRY(attr(SCMP_FLTATR_CTL_OPTIMIZE, 2, "CTL_OPTIMIZE"));

  const auto arches = AcceptedArches(profile, options);
  for (size_t i = 1; i < arches.size(); ++i) {
    if (int rc = seccomp_arch_add(f.get(), arches[i]); rc < 0 && rc != -EEXIST) {
      return Fail(-rc, profile.name + ": architectures: seccomp_arch_add");
    }
  }

  for (const auto& r : profile.rules) {
    // A name that exists only on other architectures has nothing to filter natively.
    if (r.nr < 0 && arches.size() == 1) continue;
    const uint32_t act = ToScmpAction(r.action, r.errno_ret, options);
    // In notify mode ERRNO(x) rules can collapse onto a NOTIFY default; libseccomp refuses a rule
    // equal to the default (EACCES). Skipping it is exact: the notification path asks Evaluate(),
    // which still sees the rule and its errno.
    if (act == def) continue;
    std::vector<scmp_arg_cmp> cmps;
    for (const auto& c : r.conditions) {
      cmps.push_back(scmp_arg_cmp{c.index, ToScmpOp(c.op), c.value, c.op == CmpOp::kMaskedEq ? c.value_two : 0});
    }
    int rc = seccomp_rule_add_array(f.get(), act, r.nr, static_cast<unsigned>(cmps.size()), cmps.data());
    if (rc < 0) {
      return Fail(-rc, profile.name + ": " + r.path + ": libseccomp rejected the rule for \"" + r.syscall + "\"");
    }
  }
  return f;
}

// seccomp_export_* write to an fd; a memfd keeps it in memory without a temp file.
Result<std::string> ExportVia(const Filter& f, int (*exporter)(const scmp_filter_ctx, int), const char* what) {
  UniqueFd fd(memfd_create("cordon-seccomp-export", MFD_CLOEXEC));
  if (!fd) return Fail(errno, "memfd_create for seccomp export");
  if (int rc = exporter(f.get(), fd.Get()); rc < 0) return Fail(-rc, what);
  if (lseek(fd.Get(), 0, SEEK_SET) < 0) return Fail(errno, "lseek seccomp export memfd");
  std::string out;
  char buf[8192];
  for (;;) {
    ssize_t n = read(fd.Get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Fail(errno, "read seccomp export memfd");
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  return out;
}

// Returns the name libseccomp uses for (arch, nr), or empty.
std::string ResolveNum(uint32_t arch, int nr) {
  char* n = seccomp_syscall_resolve_num_arch(arch, nr);
  if (!n) return {};
  std::string s(n);
  std::free(n);
  return s;
}

}  // namespace

Result<Compiled> Compile(const Profile& profile, const CompileOptions& options) {
  CORDON_ASSIGN_OR_RETURN(Filter f, Build(profile, options));
  CORDON_ASSIGN_OR_RETURN(std::string raw, ExportVia(f, seccomp_export_bpf, "seccomp_export_bpf"));
  if (raw.empty() || raw.size() % 8 != 0) {
    return FailMsg(profile.name + ": seccomp_export_bpf produced " + std::to_string(raw.size()) +
                   " bytes, not a whole number of sock_filter instructions");
  }
  Compiled c;
  c.name = profile.name;
  c.bpf.assign(raw.begin(), raw.end());
  c.bpf_sha256 = Sha256Hex(raw);
  c.profile_sha256 = profile.sha256;
  c.cache_key = CacheKey(profile, options);
  c.filter_flags = profile.flags;
  if (options.notify_denials) c.filter_flags |= SECCOMP_FILTER_FLAG_NEW_LISTENER;
  c.arches = AcceptedArches(profile, options);
  return c;
}

Result<std::string> ExportPfc(const Profile& profile, const CompileOptions& options) {
  CORDON_ASSIGN_OR_RETURN(Filter f, Build(profile, options));
  return ExportVia(f, seccomp_export_pfc, "seccomp_export_pfc");
}

std::string CacheKey(const Profile& profile, const CompileOptions& options) {
  std::string k = "cordon-seccomp-cache-v2\n";  // v2: TRAP and bad-arch notified too
  k += "profile=" + profile.sha256 + "\n";
  k += "strict=" + std::to_string(profile.strict) + "\n";
  k += "arch=" + profile.context.arch + "\n";
  k += "kernel=" + std::to_string(profile.context.kernel.major) + "." + std::to_string(profile.context.kernel.minor) + "\n";
  k += "caps=";
  for (const auto& c : profile.context.caps) k += c + ",";  // std::set: sorted, so canonical
  k += "\nnotify=" + std::to_string(options.notify_denials) + "\n";
  k += "foreign=" + std::to_string(options.allow_foreign_arches) + "\n";
  k += "libseccomp=" + LibseccompVersion() + "\n";
  k += "native=" + std::to_string(seccomp_arch_native()) + "\n";
  return Sha256Hex(k);
}

Decision Evaluate(const Profile& profile, uint32_t arch, int syscall_nr, const uint64_t args[6],
                  const CompileOptions& options) {
  const auto arches = AcceptedArches(profile, options);
  if (!Accepts(arches, arch)) return {Action::kKillProcess, 0, "architecture"};
  uint32_t name_arch = arch;
  // libseccomp's x86_64 filter sends every number >= 0x40000000 to the x32 branch (or the bad-arch
  // action), except -1, which ptrace uses to skip a syscall and which falls through to the default.
  if (arch == SCMP_ARCH_X86_64 && static_cast<uint32_t>(syscall_nr) >= kX32SyscallBit && syscall_nr != -1) {
    if (!Accepts(arches, SCMP_ARCH_X32)) return {Action::kKillProcess, 0, "architecture"};
    name_arch = SCMP_ARCH_X32;
  }
  const std::string name = ResolveNum(name_arch, syscall_nr);
  bool args_matter = false;
  if (!name.empty()) {
    for (const auto& r : profile.rules) args_matter = args_matter || (r.syscall == name && !r.conditions.empty());
    if (const Rule* r = FindMatchingRule(profile, name, args)) return {r->action, r->errno_ret, r->path, args_matter};
  }
  return {profile.default_action, profile.default_errno, "defaultAction", args_matter};
}

uint32_t SeccompReturnValue(const Decision& d, const CompileOptions& options) {
  const uint32_t data = static_cast<uint32_t>(d.errno_ret) & SECCOMP_RET_DATA;
  // The architecture check is libseccomp's ACT_BADARCH: notified in notify mode, a kill otherwise.
  if (d.rule_path == "architecture") return options.notify_denials ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_KILL_PROCESS;
  switch (d.action) {
    case Action::kKillThread: return options.notify_denials ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_KILL_THREAD;
    case Action::kKillProcess: return options.notify_denials ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_KILL_PROCESS;
    case Action::kTrap: return options.notify_denials ? SECCOMP_RET_USER_NOTIF : SECCOMP_RET_TRAP;
    case Action::kErrno: return options.notify_denials ? SECCOMP_RET_USER_NOTIF : (SECCOMP_RET_ERRNO | data);
    case Action::kTrace: return SECCOMP_RET_TRACE | data;
    case Action::kAllow: return SECCOMP_RET_ALLOW;
    case Action::kLog: return SECCOMP_RET_LOG;
    case Action::kNotify: return SECCOMP_RET_USER_NOTIF;
  }
  return SECCOMP_RET_KILL_PROCESS;
}

uint32_t NativeAuditArch() { return seccomp_arch_native(); }

std::optional<int> SyscallNumber(std::string_view name) {
  int nr = seccomp_syscall_resolve_name(std::string(name).c_str());
  if (nr < 0) return std::nullopt;
  return nr;
}

std::optional<std::string> SyscallNameForArch(uint32_t arch, int nr) {
  if (arch == SCMP_ARCH_X86_64 && static_cast<uint32_t>(nr) >= kX32SyscallBit && nr != -1) arch = SCMP_ARCH_X32;
  std::string n = ResolveNum(arch, nr);
  if (n.empty()) return std::nullopt;
  return n;
}

std::string ArchName(uint32_t arch, int nr) {
  if (arch == SCMP_ARCH_X86_64 && static_cast<uint32_t>(nr) >= kX32SyscallBit && nr != -1) return "SCMP_ARCH_X32";
  static constexpr std::pair<uint32_t, const char*> kNames[] = {
      {SCMP_ARCH_X86_64, "SCMP_ARCH_X86_64"}, {SCMP_ARCH_X86, "SCMP_ARCH_X86"},   {SCMP_ARCH_X32, "SCMP_ARCH_X32"},
      {SCMP_ARCH_AARCH64, "SCMP_ARCH_AARCH64"}, {SCMP_ARCH_ARM, "SCMP_ARCH_ARM"}, {SCMP_ARCH_RISCV64, "SCMP_ARCH_RISCV64"},
      {SCMP_ARCH_S390X, "SCMP_ARCH_S390X"},   {SCMP_ARCH_S390, "SCMP_ARCH_S390"}, {SCMP_ARCH_PPC64LE, "SCMP_ARCH_PPC64LE"},
  };
  for (const auto& [a, n] : kNames)
    if (a == arch) return n;
  char buf[32];
  std::snprintf(buf, sizeof buf, "0x%08x", arch);
  return buf;
}

std::optional<std::string> SyscallName(int nr) {
  std::string n = ResolveNum(SCMP_ARCH_NATIVE, nr);
  if (n.empty()) return std::nullopt;
  return n;
}

std::string LibseccompVersion() {
  const scmp_version* v = seccomp_version();
  return std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->micro);
}

}  // namespace cordon::seccomp
