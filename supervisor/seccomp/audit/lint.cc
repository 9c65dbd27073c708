#include "supervisor/seccomp/audit/lint.h"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <map>
#include <set>
#include <string>

#include "supervisor/seccomp/audit/decide.h"
#include "supervisor/seccomp/audit/kernel_syscalls.h"
#include "supervisor/seccomp/compiler.h"

namespace cordon::seccomp::audit {
namespace {

// One call a dangerous-allow check tries: the arguments, and how to name them in the message.
struct Probe {
  Args args;
  const char* label;  // "AF_PACKET", or nullptr: probe every region of the profile's own conditions
};

struct DangerCheck {
  const char* rule;
  Severity severity;
  std::vector<const char*> names;
  std::vector<Probe> probes;  // empty: SamplePoints() of the profile, i.e. "for some arguments"
  const char* why;
  const char* fix;
};

constexpr uint64_t kCloneNewFlags[] = {0x10000000 /* NEWUSER */, 0x00020000 /* NEWNS */, 0x40000000 /* NEWNET */,
                                       0x20000000 /* NEWPID */,  0x08000000 /* NEWIPC */, 0x04000000 /* NEWUTS */,
                                       0x02000000 /* NEWCGROUP */, 0x00000080 /* NEWTIME */};

// clone() reads its low byte as the exit signal, so CLONE_NEWTIME (0x80) only exists for unshare/clone3.
std::vector<Probe> NamespaceProbes(bool with_time) {
  static const char* kLabels[] = {"CLONE_NEWUSER", "CLONE_NEWNS",     "CLONE_NEWNET", "CLONE_NEWPID",
                                  "CLONE_NEWIPC",  "CLONE_NEWUTS", "CLONE_NEWCGROUP", "CLONE_NEWTIME"};
  std::vector<Probe> v;
  for (size_t i = 0; i < std::size(kCloneNewFlags) - (with_time ? 0 : 1); ++i) {
    Args a{};
    a[0] = kCloneNewFlags[i];
    v.push_back({a, kLabels[i]});
  }
  return v;
}

Probe Socket(uint64_t family, uint64_t protocol, const char* label) { return {{family, 0, protocol, 0, 0, 0}, label}; }

const std::vector<DangerCheck>& Checks() {
  static const std::vector<DangerCheck> kChecks = {
      {"dangerous-allow/namespaces", Severity::kHigh, {"unshare"}, NamespaceProbes(true),
       "creates namespaces: a new user namespace gives the task every capability inside it, the door to most "
       "kernel privilege-escalation bugs",
       "mask the CLONE_NEW* bits: args[0] SCMP_CMP_MASKED_EQ value 2114060416 (0x7E020080) valueTwo 0"},
      {"dangerous-allow/namespaces", Severity::kHigh, {"clone"}, NamespaceProbes(false),
       "creates namespaces: a new user namespace gives the task every capability inside it, the door to most "
       "kernel privilege-escalation bugs",
       "mask the CLONE_NEW* bits: args[0] SCMP_CMP_MASKED_EQ value 2114060288 (0x7E020000) valueTwo 0, as "
       "Docker's default does (x86_64 argument order)"},
      {"dangerous-allow/clone3", Severity::kHigh, {"clone3"}, {},
       "clone3 takes its flags in memory, where seccomp cannot look, so it can create every namespace",
       "answer it with SCMP_ACT_ERRNO errnoRet 38 (ENOSYS): glibc and musl then fall back to clone, which can be "
       "filtered"},
      {"dangerous-allow/setns", Severity::kHigh, {"setns"}, {}, "joins other namespaces reachable by fd",
       "remove setns from the allowlist"},
      {"dangerous-allow/mount", Severity::kHigh,
       {"mount", "umount", "umount2", "fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree",
        "mount_setattr", "pivot_root"},
       {}, "changes the mount table (inside a user namespace it needs no host privilege)",
       "remove the mount API calls from the allowlist"},
      {"dangerous-allow/keyring", Severity::kMedium, {"keyctl", "add_key", "request_key"}, {},
       "the kernel keyring is not namespaced: keys can leak between tasks of one uid",
       "deny with SCMP_ACT_ERRNO (Docker's default leaves them out)"},
      {"dangerous-allow/bpf", Severity::kHigh, {"bpf"}, {},
       "loads eBPF programs and maps, a large kernel attack surface", "remove bpf from the allowlist"},
      {"dangerous-allow/perf", Severity::kMedium, {"perf_event_open"}, {},
       "reads performance counters: side channels and a history of kernel bugs", "remove perf_event_open"},
      {"dangerous-allow/io_uring", Severity::kCritical, {"io_uring_setup", "io_uring_enter", "io_uring_register"}, {},
       "io_uring performs opens, reads, connects… without making those system calls, so this profile's other "
       "rules do not apply to them",
       "deny io_uring_setup, io_uring_enter and io_uring_register"},
      {"dangerous-allow/userfaultfd", Severity::kMedium, {"userfaultfd"}, {},
       "lets a task pause the kernel on a page fault, a classic way to win kernel races",
       "remove userfaultfd, or allow it only with UFFD_USER_MODE_ONLY (args[0] & 1 == 1)"},
      {"dangerous-allow/ptrace", Severity::kHigh, {"ptrace", "process_vm_readv", "process_vm_writev"}, {},
       "reads and writes other processes' memory (of the same uid)", "remove ptrace and process_vm_*"},
      {"dangerous-allow/personality", Severity::kMedium, {"personality"},
       {{{0x0400000, 0, 0, 0, 0, 0}, "READ_IMPLIES_EXEC"}, {{0x0040000, 0, 0, 0, 0, 0}, "ADDR_NO_RANDOMIZE"}},
       "turns off ASLR or makes every readable page executable",
       "allow personality only for 0x0, 0x8, 0x20000, 0x20008 and 0xffffffff (SCMP_CMP_EQ on args[0]), as "
       "Docker's default does"},
      {"dangerous-allow/socket-family", Severity::kHigh, {"socket"}, {Socket(17, 0, "AF_PACKET")},
       "raw packet sockets see and forge link-layer traffic",
       "filter args[0] of socket: allow only the families the task needs (SCMP_CMP_EQ AF_UNIX=1, AF_INET=2, "
       "AF_INET6=10)"},
      {"dangerous-allow/socket-family", Severity::kMedium, {"socket"},
       {Socket(38, 0, "AF_ALG"), Socket(40, 0, "AF_VSOCK"), Socket(15, 0, "AF_KEY"), Socket(21, 0, "AF_RDS"),
        Socket(30, 0, "AF_TIPC"), Socket(31, 0, "AF_BLUETOOTH"), Socket(44, 0, "AF_XDP"), Socket(29, 0, "AF_CAN"),
        Socket(16, 9, "AF_NETLINK/NETLINK_AUDIT"), Socket(16, 4, "AF_NETLINK/NETLINK_SOCK_DIAG"),
        Socket(16, 12, "AF_NETLINK/NETLINK_NETFILTER"), Socket(16, 15, "AF_NETLINK/NETLINK_KOBJECT_UEVENT")},
       "a rarely needed socket family with a record of kernel bugs",
       "filter args[0] of socket (and args[2] for AF_NETLINK): allow only the families the task needs"},
      {"dangerous-allow/ioctl-tty", Severity::kHigh, {"ioctl"},
       {{{0, 0x5412, 0, 0, 0, 0}, "TIOCSTI"}, {{0, 0x541C, 0, 0, 0, 0}, "TIOCLINUX"},
        {{0, 0x100005412, 0, 0, 0, 0}, "TIOCSTI with high bits (the kernel ignores bits 32-63)"}},
       "pushes keystrokes into the controlling terminal: a task can type commands into the user's shell",
       "deny ioctl when args[1] & 0xffffffff == 0x5412 (TIOCSTI) or 0x541C (TIOCLINUX): SCMP_CMP_MASKED_EQ value "
       "4294967295"},
      {"dangerous-allow/kexec", Severity::kHigh, {"kexec_load", "kexec_file_load", "reboot"}, {},
       "replaces or reboots the running kernel", "remove kexec_load, kexec_file_load and reboot"},
      {"dangerous-allow/modules", Severity::kHigh, {"init_module", "finit_module", "delete_module"}, {},
       "loads and unloads kernel modules", "remove the module calls"},
      {"dangerous-allow/open_by_handle_at", Severity::kHigh, {"open_by_handle_at"}, {},
       "opens files by handle, bypassing the mount namespace (the 'shocker' container escape)",
       "remove open_by_handle_at"},
      {"dangerous-allow/raw-io", Severity::kHigh, {"iopl", "ioperm"}, {}, "gives direct access to I/O ports",
       "remove iopl and ioperm"},
  };
  return kChecks;
}

std::string Hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "0x%llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string ArgsText(const std::string& name, const Args& a) {
  size_t n = 6;
  while (n > 0 && a[n - 1] == 0) --n;
  std::string s = name + "(";
  for (size_t i = 0; i < n; ++i) s += (i ? ", " : "") + Hex(a[i]);
  return s + ")";
}

// The probes of `c` for `name` that run on `abi`: the deciding rule of the first, and the labels of
// all (empty labels for "some arguments" when the profile's own conditions were sampled).
std::optional<std::pair<Decision, std::string>> Running(const Profile& p, const DangerCheck& c,
                                                        const std::string& name, const Abi& abi, bool runtime) {
  if (!NumberOn(abi, name)) return std::nullopt;
  if (!c.probes.empty()) {
    std::optional<Decision> first;
    std::string labels;
    for (const auto& pr : c.probes) {
      Decision d = Decide(p, abi, name, pr.args, runtime);
      if (!Runs(d)) continue;
      if (!first) first = d;
      labels += (labels.empty() ? "" : ", ") + std::string(pr.label);
    }
    if (!first) return std::nullopt;
    return std::pair{*first, labels};
  }
  for (const Args& a : SamplePoints({&p}, name)) {
    Decision d = Decide(p, abi, name, a, runtime);
    if (Runs(d)) return std::pair{d, d.args_matter ? "for " + ArgsText(name, a) : std::string()};
  }
  return std::nullopt;
}

void CheckDangerous(const Profile& p, std::vector<Finding>* out) {
  const auto abis = KnownAbis();
  for (const auto& c : Checks()) {
    for (const char* n : c.names) {
      const std::string name = n;
      auto hit = Running(p, c, name, abis[0], false);
      if (hit) {
        std::string what = name + " is allowed" + (hit->second.empty() ? "" : " (" + hit->second + ")");
        if (hit->first.rule_path == "defaultAction") what += " by the default action";
        out->push_back({c.rule, c.severity, hit->first.rule_path, name, what + ": " + c.why, c.fix});
        continue;
      }
      // Denied natively (or not a native call): under runc/crun, a listed foreign ABI may let it through.
      const bool native = NumberOn(abis[0], name).has_value();
      for (size_t i = 1; i < abis.size(); ++i) {
        auto foreign = Running(p, c, name, abis[i], true);
        if (!foreign) continue;
        out->push_back({"abi/foreign-hole", c.severity, foreign->first.rule_path, name,
                        name + (native ? " is denied on " + abis[0].name + " but" : " is not an " + abis[0].name +
                                         " call, but it is") +
                            " allowed through the " + abis[i].name + " ABI" +
                            (foreign->second.empty() ? "" : " (" + foreign->second + ")") +
                            " by runtimes that accept the architectures this profile lists (runc, crun; Cordon "
                            "kills every foreign-ABI call): " + c.why,
                        "deny it on every listed architecture, or drop the foreign architecture from "
                        "`architectures`/`archMap`"});
        break;
      }
    }
  }
}

void CheckDefault(const Profile& p, std::vector<Finding>* out) {
  if (p.default_action == Action::kAllow || p.default_action == Action::kLog) {
    out->push_back({"default/allows", Severity::kHigh, "defaultAction", "",
                    "the default action " + std::string(ActionName(p.default_action)) +
                        " lets every syscall not listed run, including ones added to the kernel later",
                    "deny by default (\"defaultAction\": \"SCMP_ACT_ERRNO\", \"defaultErrnoRet\": 1) and list what "
                    "the workload needs; `cordon seccomp record` writes that list"});
  }
  if (p.default_action == Action::kErrno && p.default_errno == 0) {
    out->push_back({"errno/zero", Severity::kHigh, "defaultErrnoRet", "",
                    "the default action returns 0 (success) without running the call: programs believe every "
                    "denied call worked",
                    "use an errno such as 1 (EPERM) or 38 (ENOSYS)"});
  }
}

void CheckRules(const Profile& p, std::vector<Finding>* out) {
  std::map<std::string, std::vector<std::string>> foreign_only;  // path -> names
  for (const auto& r : p.rules) {
    if (r.action == Action::kErrno && r.errno_ret == 0) {
      out->push_back({"errno/zero", Severity::kMedium, r.path + ".errnoRet", r.syscall,
                      r.syscall + " returns 0 (success) without running: the program believes it worked",
                      "set errnoRet to a real errno (1 = EPERM), or allow the call"});
    }
    if (r.action == Action::kTrace) {
      out->push_back({"action/trace", Severity::kLow, r.path + ".action", r.syscall,
                      "SCMP_ACT_TRACE: without a ptrace tracer the call fails with ENOSYS; with one, the tracer "
                      "decides and may let it run",
                      "use SCMP_ACT_ERRNO or SCMP_ACT_ALLOW unless a tracer is part of the design"});
    }
    if ((r.syscall == "socketcall" || r.syscall == "ipc") && !r.conditions.empty()) {
      bool beyond_first = false;
      for (const auto& c : r.conditions) beyond_first = beyond_first || c.index > 0;
      out->push_back({"abi/multiplexer-args", beyond_first ? Severity::kMedium : Severity::kLow, r.path, r.syscall,
                      r.syscall + " multiplexes many calls: args[0] selects the call and the real arguments are "
                                  "in memory, so a condition " + (beyond_first ? "on args[1..5] compares a pointer" :
                                  "on args[0] selects whole calls, never their arguments (socket families, flags)"),
                      "filter the direct calls (socket, connect, shmget…) and deny " + r.syscall +
                          " where the kernel has them (x86 since Linux 4.3)"});
    }
    if (r.nr < 0 && r.action != Action::kAllow && r.action != Action::kLog) continue;
    if (r.nr < 0) foreign_only[r.path].push_back(r.syscall);
  }
  for (const auto& [path, names] : foreign_only) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "" : ", ") + n;
    out->push_back({"names/other-arch", Severity::kInfo, path, "",
                    "not a syscall on " + KnownAbis()[0].name + " (libseccomp knows it for other architectures): " +
                        list,
                    "none needed for a multi-architecture profile"});
  }
}

void CheckArchitectures(const Profile& p, std::vector<Finding>* out) {
  for (const auto& a : p.architectures) {
    if (a == "SCMP_ARCH_X86" || a == "SCMP_ARCH_X32") {
      out->push_back({"abi/foreign-listed", Severity::kInfo, "architectures", "",
                      a + " is listed: runc and crun accept that ABI and decide its calls by name; Cordon kills "
                          "every call of a foreign ABI whatever the profile lists",
                      "list only the architectures the workload uses"});
    }
  }
  // The classic i386 hole: socket() filtered by family while socketcall(SYS_SOCKET, ptr) is allowed.
  auto i386 = FindAbi("i386");
  bool lists_i386 = std::find(p.architectures.begin(), p.architectures.end(), "SCMP_ARCH_X86") != p.architectures.end();
  if (!i386 || !lists_i386) return;
  bool socket_filtered = false;
  for (const auto& r : p.rules) socket_filtered = socket_filtered || (r.syscall == "socket" && !r.conditions.empty());
  Decision sc = Decide(p, *i386, "socketcall", Args{1, 0, 0, 0, 0, 0}, true);
  if (socket_filtered && Runs(sc)) {
    out->push_back({"abi/socketcall-bypass", Severity::kHigh, sc.rule_path, "socketcall",
                    "socket() is filtered by its arguments, but on i386 socketcall(SYS_SOCKET, args) is allowed and "
                    "its arguments are in memory, out of seccomp's sight: the family filter can be bypassed by "
                    "runtimes that accept SCMP_ARCH_X86",
                    "deny socketcall (args[0] == 1 at least), or drop SCMP_ARCH_X86"});
  }
}

std::string VersionText(KernelVersion v) { return std::to_string(v.major) + "." + std::to_string(v.minor); }

// Names against the kernel's syscall history (kernel_syscalls.h): a rule for a call newer than the
// kernel the profile is resolved for (p.context.kernel: uname, or `lint --kernel`) has no effect
// there; a name Linux has but this libseccomp does not is skipped. Returns the JSON paths of the
// names explained here, so that the loader's plain "unknown syscall" warning is not repeated.
std::set<std::string> CheckKernelNames(const Profile& p, std::vector<Finding>* out) {
  const KernelVersion running = p.context.kernel;
  const bool known_kernel = running != KernelVersion{};
  auto too_new = [&](const std::string& name, const std::string& path) {
    auto added = KernelAdded(name);
    if (!known_kernel || !added || *added <= running) return;
    out->push_back({"names/newer-than-kernel", Severity::kLow, path, name,
                    "the running kernel " + VersionText(running) + " does not know " + name + " (added in " +
                        VersionText(*added) + "); the rule has no effect here",
                    "none needed if the profile also serves newer kernels; otherwise delete the name, and allow "
                    "the older call programs fall back to"});
  };
  std::set<std::string> seen;  // one finding per (path, name)
  for (const auto& r : p.rules) {
    if (seen.insert(r.path + "\n" + r.syscall).second) too_new(r.syscall, r.path);
  }
  std::set<std::string> explained;
  for (const auto& u : p.unknown_names) {
    auto added = KernelAdded(u.name);
    if (!added) continue;
    explained.insert(u.path);
    out->push_back({"names/unknown-to-libseccomp", Severity::kInfo, u.path, u.name,
                    u.name + " was added in Linux " + VersionText(*added) + " but this libseccomp (" +
                        LibseccompVersion() + ") does not know it: the rule is skipped here",
                    "build Cordon with a libseccomp that knows " + u.name + "; runc and crun skip it the same way"});
    too_new(u.name, u.path);
  }
  return explained;
}

// The loader's warnings, "SOURCE: PATH: WHAT", as findings; `skip_unknown` holds the paths whose
// "unknown syscall" warning CheckKernelNames already turned into a finding.
void FromWarnings(const Profile& p, const std::set<std::string>& skip_unknown, std::vector<Finding>* out) {
  struct Kind {
    const char* needle;
    const char* rule;
    Severity severity;
    const char* fix;
  };
  static const Kind kKinds[] = {
      {"unknown syscall", "names/unknown", Severity::kInfo,
       "check the spelling; a name newer than this libseccomp is skipped here (runc and crun skip it too)"},
      {"conflicting rule", "rules/contradictory", Severity::kMedium,
       "make the conditions disjoint or give both rules the same action"},
      {"duplicate rule", "rules/duplicate", Severity::kLow, "delete the redundant rule"},
      {"equals defaultAction", "rules/redundant", Severity::kInfo, "delete the rule: it changes nothing"},
      {"errnoRet", "errno/ignored", Severity::kLow, "drop errnoRet or use SCMP_ACT_ERRNO"},
      {"not allowed (", "rules/exec-denied", Severity::kHigh,
       "allow execve, execveat, exit and exit_group: the filter is installed before the task is executed"},
  };
  const std::string prefix = p.name + ": ";
  for (const auto& w : p.warnings) {
    std::string rest = w.starts_with(prefix) ? w.substr(prefix.size()) : w;
    size_t colon = rest.find(": ");
    std::string path = colon == std::string::npos ? "" : rest.substr(0, colon);
    std::string what = colon == std::string::npos ? rest : rest.substr(colon + 2);
    if (skip_unknown.contains(path) && what.starts_with("unknown syscall")) continue;
    Finding f{"loader/warning", Severity::kInfo, path, "", what, ""};
    for (const auto& k : kKinds) {
      if (what.find(k.needle) == std::string::npos && w.find(k.needle) == std::string::npos) continue;
      f.rule = k.rule;
      f.severity = k.severity;
      f.fix = k.fix;
      break;
    }
    out->push_back(std::move(f));
  }
}

}  // namespace

std::vector<Finding> LintProfile(const Profile& p) {
  std::vector<Finding> out;
  CheckDefault(p, &out);
  CheckDangerous(p, &out);
  CheckArchitectures(p, &out);
  CheckRules(p, &out);
  FromWarnings(p, CheckKernelNames(p, &out), &out);
  SortFindings(&out);
  return out;
}

}  // namespace cordon::seccomp::audit
