// Unit tests for supervisor/seccomp/compiler.{h,cc}: compilation, Evaluate() against the compiled
// BPF (a small classic-BPF interpreter here, plus the real kernel in forked children), the
// native-architecture rule, notify mode, and allow/deny tables for the shipped profiles.
// No root needed: an unprivileged process may install a filter after PR_SET_NO_NEW_PRIVS.
#include "supervisor/seccomp/compiler.h"

#include <fcntl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <termios.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <random>
#include <set>

#include "supervisor/sha256.h"

namespace cordon::seccomp {
namespace {

using ::testing::HasSubstr;

const std::string kShipped = std::string(CORDON_SOURCE_DIR) + "/seccomp-profiles/";
const std::string kPublic = std::string(CORDON_SOURCE_DIR) + "/../shared/profiles/";

KernelVersion RunningKernel() {
  utsname u{};
  uname(&u);
  auto v = ParseKernelRelease(u.release);
  return v ? *v : KernelVersion{};
}

Profile Load(const std::string& path) {
  LoadOptions o;
  o.context.kernel = RunningKernel();
  auto p = LoadProfileFile(path, o);
  EXPECT_TRUE(p) << p.error().Message();
  return p ? *p : Profile{};
}

// ---- a tiny classic-BPF interpreter: struct seccomp_data in, SECCOMP_RET_* out ----

uint32_t RunBpf(const std::vector<uint8_t>& bpf, const seccomp_data& data) {
  const auto* prog = reinterpret_cast<const sock_filter*>(bpf.data());
  const size_t n = bpf.size() / sizeof(sock_filter);
  const auto* bytes = reinterpret_cast<const uint8_t*>(&data);
  uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
  for (size_t pc = 0; pc < n; ++pc) {
    const sock_filter& in = prog[pc];
    switch (BPF_CLASS(in.code)) {
      case BPF_LD:
        if (BPF_MODE(in.code) == BPF_ABS) {
          if (in.k + 4 > sizeof data) return 0xdeadbeef;
          std::memcpy(&a, bytes + in.k, 4);
        } else if (BPF_MODE(in.code) == BPF_IMM) {
          a = in.k;
        } else if (BPF_MODE(in.code) == BPF_MEM) {
          a = mem[in.k];
        } else if (BPF_MODE(in.code) == BPF_LEN) {
          a = sizeof data;
        } else {
          return 0xdeadbeef;
        }
        break;
      case BPF_LDX:
        if (BPF_MODE(in.code) == BPF_IMM) x = in.k;
        else if (BPF_MODE(in.code) == BPF_MEM) x = mem[in.k];
        else if (BPF_MODE(in.code) == BPF_LEN) x = sizeof data;
        else return 0xdeadbeef;
        break;
      case BPF_ST: mem[in.k] = a; break;
      case BPF_STX: mem[in.k] = x; break;
      case BPF_ALU: {
        uint32_t v = BPF_SRC(in.code) == BPF_X ? x : in.k;
        switch (BPF_OP(in.code)) {
          case BPF_ADD: a += v; break;
          case BPF_SUB: a -= v; break;
          case BPF_MUL: a *= v; break;
          case BPF_DIV: if (v == 0) return 0; a /= v; break;
          case BPF_AND: a &= v; break;
          case BPF_OR: a |= v; break;
          case BPF_XOR: a ^= v; break;
          case BPF_LSH: a <<= (v & 31); break;
          case BPF_RSH: a >>= (v & 31); break;
          case BPF_NEG: a = -a; break;
          default: return 0xdeadbeef;
        }
        break;
      }
      case BPF_JMP: {
        if (BPF_OP(in.code) == BPF_JA) {
          pc += in.k;
          break;
        }
        uint32_t v = BPF_SRC(in.code) == BPF_X ? x : in.k;
        bool t = false;
        switch (BPF_OP(in.code)) {
          case BPF_JEQ: t = a == v; break;
          case BPF_JGT: t = a > v; break;
          case BPF_JGE: t = a >= v; break;
          case BPF_JSET: t = (a & v) != 0; break;
          default: return 0xdeadbeef;
        }
        pc += t ? in.jt : in.jf;
        break;
      }
      case BPF_RET: return BPF_RVAL(in.code) == BPF_A ? a : in.k;
      case BPF_MISC:
        if (BPF_MISCOP(in.code) == BPF_TAX) x = a;
        else a = x;
        break;
      default: return 0xdeadbeef;
    }
  }
  return 0xdeadbeef;  // fell off the end: the kernel would reject such a program
}

seccomp_data Data(uint32_t arch, int nr, const uint64_t args[6]) {
  seccomp_data d{};
  d.nr = nr;
  d.arch = arch;
  d.instruction_pointer = 0x401000;
  for (int i = 0; i < 6; ++i) d.args[i] = args[i];
  return d;
}

// Interesting argument values: every operand in the profile, its neighbours, and the same low
// 32 bits with high bits set (the 32-bit-truncation trap).
std::vector<uint64_t> Candidates(const Profile& p) {
  std::set<uint64_t> s = {0, 1, 2, 10, 16, 0xffffffff, ~0ull, 0x5412, 0x541c, 0x5413, 0x100005412ull,
                          0xffffffff00005412ull, 0x10000000, 0x20000};
  for (const auto& r : p.rules) {
    for (const auto& c : r.conditions) {
      for (uint64_t v : {c.value, c.value_two, c.value_two | ~c.value, c.value ^ c.value_two}) {
        for (uint64_t w : {v, v - 1, v + 1, v | uint64_t{0x100000000}, v | uint64_t{0xffffffff00000000}}) s.insert(w);
      }
    }
  }
  return {s.begin(), s.end()};
}

// Evaluate() must agree with the compiled filter on every syscall number, foreign arches, x32,
// and argument vectors built from the profile's own operands.
void ExpectAgreement(const Profile& p, const CompileOptions& opts, int* checked) {
  auto c = Compile(p, opts);
  ASSERT_TRUE(c) << c.error().Message();
  const auto values = Candidates(p);
  std::mt19937_64 rng(1234);
  auto check = [&](uint32_t arch, int nr, const uint64_t args[6]) {
    Decision d = Evaluate(p, arch, nr, args, opts);
    uint32_t want = SeccompReturnValue(d, opts);
    uint32_t got = RunBpf(c->bpf, Data(arch, nr, args));
    ++*checked;
    if (want != got) {
      ADD_FAILURE() << p.name << " arch=" << std::hex << arch << std::dec << " nr=" << nr << " ("
                    << SyscallName(nr).value_or("?") << ") args=" << std::hex << args[0] << "," << args[1] << ","
                    << args[2] << " evaluate=" << want << " (" << d.rule_path << ") bpf=" << got;
      return false;
    }
    return true;
  };
  for (int nr = 0; nr < 470; ++nr) {
    uint64_t args[6] = {};
    if (!check(AUDIT_ARCH_X86_64, nr, args)) return;
    bool has_rules = std::any_of(p.rules.begin(), p.rules.end(), [&](const Rule& r) { return r.nr == nr && !r.conditions.empty(); });
    for (int k = 0; k < (has_rules ? 400 : 2); ++k) {
      for (auto& a : args) a = (rng() % 4 == 0) ? rng() : values[rng() % values.size()];
      if (!check(AUDIT_ARCH_X86_64, nr, args)) return;
    }
  }
  const uint64_t zero[6] = {};
  for (int nr : {0, 1, 39, 59, 272, 0x3ffffffe}) {
    if (!check(AUDIT_ARCH_X86_64, nr | 0x40000000, zero)) return;  // x32
    if (!check(AUDIT_ARCH_I386, nr, zero)) return;
    if (!check(AUDIT_ARCH_AARCH64, nr, zero)) return;
  }
  for (int nr : {-1, -2, 1000, 100000, 0x3fffffff, static_cast<int>(0x80000000u), 0x7fffffff}) {
    if (!check(AUDIT_ARCH_X86_64, nr, zero)) return;
  }
}

std::vector<std::string> AllProfilePaths() {
  std::vector<std::string> v = {kShipped + "default.json", kShipped + "strict.json"};
  for (const char* n : {"moby-default.json", "podman-containers-common.json"}) {
    if (std::filesystem::exists(kPublic + n)) v.push_back(kPublic + n);
  }
  return v;
}

TEST(CompilerTest, EvaluateAgreesWithBpf) {
  int checked = 0;
  for (const auto& path : AllProfilePaths()) {
    Profile p = Load(path);
    for (bool notify : {false, true}) {
      CompileOptions o;
      o.notify_denials = notify;
      ExpectAgreement(p, o, &checked);
    }
  }
  std::printf("[ info ] %d (profile, arch, nr, args) cases agree between Evaluate and BPF\n", checked);
}

TEST(CompilerTest, EvaluateAgreesWithBpfWithCapsAndForeignArches) {
  for (const auto& path : AllProfilePaths()) {
    LoadOptions lo;
    lo.context.kernel = RunningKernel();
    lo.context.caps = {"CAP_SYS_ADMIN", "CAP_SYS_PTRACE", "CAP_NET_ADMIN"};
    auto p = LoadProfileFile(path, lo);
    ASSERT_TRUE(p);
    int checked = 0;
    ExpectAgreement(*p, {}, &checked);
    CompileOptions foreign;
    foreign.allow_foreign_arches = true;
    // Only the native arch is exact for Evaluate (i386 socketcall multiplexing is not modelled),
    // so check x86_64 numbers, including x32 when listed.
    auto c = Compile(*p, foreign);
    ASSERT_TRUE(c) << path << ": " << c.error().Message();
    const uint64_t zero[6] = {};
    for (int nr = 0; nr < 460; ++nr) {
      Decision d = Evaluate(*p, AUDIT_ARCH_X86_64, nr, zero, foreign);
      EXPECT_EQ(SeccompReturnValue(d, foreign), RunBpf(c->bpf, Data(AUDIT_ARCH_X86_64, nr, zero))) << path << " nr=" << nr;
    }
  }
}

TEST(CompilerTest, NativeArchOnlyByDefault) {
  Profile p = Load(kShipped + "default.json");
  auto c = Compile(p, {});
  ASSERT_TRUE(c);
  EXPECT_EQ(c->arches, (std::vector<uint32_t>{AUDIT_ARCH_X86_64}));
  const uint64_t zero[6] = {};
  // x32 getpid (0x40000000 | 39) and i386 getpid (20) are killed by the filter itself.
  EXPECT_EQ(RunBpf(c->bpf, Data(AUDIT_ARCH_X86_64, 0x40000000 | 39, zero)), SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(RunBpf(c->bpf, Data(AUDIT_ARCH_I386, 20, zero)), SECCOMP_RET_KILL_PROCESS);
  EXPECT_EQ(RunBpf(c->bpf, Data(AUDIT_ARCH_X86_64, 39, zero)), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Evaluate(p, AUDIT_ARCH_X86_64, 0x40000000 | 39, zero).rule_path, "architecture");
  EXPECT_EQ(Evaluate(p, AUDIT_ARCH_I386, 20, zero).action, Action::kKillProcess);

  // A profile listing x86/x32 gets them only with allow_foreign_arches.
  auto podman_like = ParseProfile(R"({"defaultAction": "SCMP_ACT_ERRNO",
      "archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
      "syscalls": [{"names": ["getpid", "execve", "execveat", "exit", "exit_group"], "action": "SCMP_ACT_ALLOW"}]})", {});
  ASSERT_TRUE(podman_like);
  auto native = Compile(*podman_like, {});
  ASSERT_TRUE(native);
  EXPECT_EQ(RunBpf(native->bpf, Data(AUDIT_ARCH_I386, 20, zero)), SECCOMP_RET_KILL_PROCESS);
  CompileOptions foreign;
  foreign.allow_foreign_arches = true;
  auto both = Compile(*podman_like, foreign);
  ASSERT_TRUE(both);
  EXPECT_EQ(both->arches.size(), 3u);
  EXPECT_EQ(RunBpf(both->bpf, Data(AUDIT_ARCH_I386, 20, zero)), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Evaluate(*podman_like, AUDIT_ARCH_I386, 20, zero, foreign).action, Action::kAllow);
  int x32_getpid = seccomp_syscall_resolve_name_arch(SCMP_ARCH_X32, "getpid");
  EXPECT_EQ(RunBpf(both->bpf, Data(AUDIT_ARCH_X86_64, x32_getpid, zero)), SECCOMP_RET_ALLOW);
  EXPECT_EQ(Evaluate(*podman_like, AUDIT_ARCH_X86_64, x32_getpid, zero, foreign).action, Action::kAllow);
}

TEST(CompilerTest, CompiledMetadataAndDeterminism) {
  Profile p = Load(kShipped + "default.json");
  auto a = Compile(p, {});
  auto b = Compile(p, {});
  ASSERT_TRUE(a && b);
  EXPECT_EQ(a->bpf, b->bpf);
  EXPECT_EQ(a->bpf.size() % sizeof(sock_filter), 0u);
  EXPECT_LE(a->InstructionCount(), static_cast<size_t>(BPF_MAXINSNS));
  EXPECT_EQ(a->bpf_sha256, Sha256Hex(std::string_view(reinterpret_cast<const char*>(a->bpf.data()), a->bpf.size())));
  EXPECT_EQ(a->profile_sha256, p.sha256);
  EXPECT_EQ(a->name, "default.json");
  EXPECT_EQ(a->filter_flags, 0u);
  CompileOptions notify;
  notify.notify_denials = true;
  auto n = Compile(p, notify);
  ASSERT_TRUE(n);
  EXPECT_EQ(n->filter_flags, static_cast<uint32_t>(SECCOMP_FILTER_FLAG_NEW_LISTENER));
  EXPECT_NE(n->bpf_sha256, a->bpf_sha256);
  // Cache key: stable, and sensitive to every input.
  EXPECT_EQ(CacheKey(p, {}), a->cache_key);
  EXPECT_NE(CacheKey(p, notify), a->cache_key);
  Profile other_ctx = p;
  other_ctx.context.caps.insert("CAP_SYS_ADMIN");
  EXPECT_NE(CacheKey(other_ctx, {}), a->cache_key);
  Profile other_bytes = p;
  other_bytes.sha256 = Sha256Hex("x");
  EXPECT_NE(CacheKey(other_bytes, {}), a->cache_key);
  EXPECT_EQ(a->cache_key.size(), 64u);
}

TEST(CompilerTest, NotifyModeTurnsErrnoIntoNotify) {
  Profile p = Load(kShipped + "default.json");
  CompileOptions notify;
  notify.notify_denials = true;
  auto c = Compile(p, notify);
  ASSERT_TRUE(c);
  const uint64_t zero[6] = {};
  const int unshare = *SyscallNumber("unshare"), clone3 = *SyscallNumber("clone3"), read = *SyscallNumber("read");
  EXPECT_EQ(RunBpf(c->bpf, Data(AUDIT_ARCH_X86_64, unshare, zero)), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(RunBpf(c->bpf, Data(AUDIT_ARCH_X86_64, clone3, zero)), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(RunBpf(c->bpf, Data(AUDIT_ARCH_X86_64, read, zero)), SECCOMP_RET_ALLOW);
  // The supervisor answers from Evaluate, which keeps each rule's own errno.
  Decision d = Evaluate(p, AUDIT_ARCH_X86_64, clone3, zero, notify);
  EXPECT_EQ(d.action, Action::kErrno);
  EXPECT_EQ(d.errno_ret, ENOSYS);
  EXPECT_NE(d.rule_path, "defaultAction");
  // Kill rules are notified too, so the supervisor can name the syscall before it kills the task;
  // LOG is unchanged; a foreign-architecture call is notified too (the supervisor names it, then
  // kills), and Evaluate still calls it the architecture kill.
  auto killing = ParseProfile(R"({"defaultAction": "SCMP_ACT_ERRNO", "syscalls": [
      {"names": ["execve", "execveat", "exit", "exit_group"], "action": "SCMP_ACT_ALLOW"},
      {"names": ["ptrace"], "action": "SCMP_ACT_KILL_PROCESS"}, {"names": ["mount"], "action": "SCMP_ACT_LOG"}]})", {});
  ASSERT_TRUE(killing);
  auto k = Compile(*killing, notify);
  ASSERT_TRUE(k);
  EXPECT_EQ(RunBpf(k->bpf, Data(AUDIT_ARCH_X86_64, *SyscallNumber("ptrace"), zero)), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(Evaluate(*killing, AUDIT_ARCH_X86_64, *SyscallNumber("ptrace"), zero, notify).action, Action::kKillProcess);
  EXPECT_EQ(RunBpf(k->bpf, Data(AUDIT_ARCH_X86_64, *SyscallNumber("mount"), zero)), SECCOMP_RET_LOG);
  EXPECT_EQ(RunBpf(k->bpf, Data(AUDIT_ARCH_I386, 20, zero)), SECCOMP_RET_USER_NOTIF);
  EXPECT_EQ(Evaluate(*killing, AUDIT_ARCH_I386, 20, zero, notify).rule_path, "architecture");
  EXPECT_EQ(RunBpf(Compile(*killing, {})->bpf, Data(AUDIT_ARCH_I386, 20, zero)), SECCOMP_RET_KILL_PROCESS);
}

TEST(CompilerTest, ExportPfcAndNames) {
  Profile p = Load(kShipped + "default.json");
  auto pfc = ExportPfc(p, {});
  ASSERT_TRUE(pfc) << pfc.error().Message();
  EXPECT_THAT(*pfc, HasSubstr("x86_64"));
  EXPECT_THAT(*pfc, HasSubstr("clone3"));
  EXPECT_EQ(SyscallNumber("getpid"), 39);
  EXPECT_EQ(SyscallNumber("_llseek"), std::nullopt);
  EXPECT_EQ(SyscallNumber("nope"), std::nullopt);
  EXPECT_EQ(SyscallName(59), "execve");
  EXPECT_EQ(SyscallName(100000), std::nullopt);
  EXPECT_EQ(NativeAuditArch(), static_cast<uint32_t>(AUDIT_ARCH_X86_64));
  EXPECT_FALSE(LibseccompVersion().empty());
}

// Compiling the same profile again gives the same filter, byte for byte (the BPF cache and the
// evidence's bpf_sha256 rely on it). What parse and compile cost is measured by
// cordon-seccomp-compile-bench (bench/run.sh), not asserted here.
TEST(CompilerTest, CompileIsDeterministic) {
  Profile p = Load(kShipped + "default.json");
  auto first = Compile(p, {});
  ASSERT_TRUE(first) << first.error().Message();
  EXPECT_GT(first->InstructionCount(), 0u);
  for (int i = 0; i < 3; ++i) {
    auto again = Compile(Load(kShipped + "default.json"), {});
    ASSERT_TRUE(again) << again.error().Message();
    EXPECT_EQ(again->bpf, first->bpf);
    EXPECT_EQ(again->bpf_sha256, first->bpf_sha256);
  }
}

// ---- allow/deny tables for the shipped profiles (Evaluate) ----

struct Expect {
  const char* syscall;
  uint64_t a0, a1;
  Action action;
  int err;  // for kErrno
};

void CheckTable(const Profile& p, std::initializer_list<Expect> table) {
  for (const auto& e : table) {
    auto nr = SyscallNumber(e.syscall);
    ASSERT_TRUE(nr) << e.syscall;
    uint64_t args[6] = {e.a0, e.a1};
    Decision d = Evaluate(p, AUDIT_ARCH_X86_64, *nr, args);
    EXPECT_EQ(d.action, e.action) << p.name << ": " << e.syscall << "(" << std::hex << e.a0 << ", " << e.a1 << ") via " << d.rule_path;
    if (e.action == Action::kErrno) {
      EXPECT_EQ(d.errno_ret, e.err) << p.name << ": " << e.syscall;
    }
  }
}

constexpr Action kA = Action::kAllow;
constexpr Action kE = Action::kErrno;

TEST(ShippedProfileTableTest, Default) {
  Profile p = Load(kShipped + "default.json");
  ASSERT_TRUE(p.warnings.empty());
  CheckTable(p, {
      {"read", 0, 0, kA, 0}, {"write", 0, 0, kA, 0}, {"execve", 0, 0, kA, 0}, {"execveat", 0, 0, kA, 0},
      {"exit_group", 0, 0, kA, 0}, {"rseq", 0, 0, kA, 0}, {"futex", 0, 0, kA, 0}, {"epoll_pwait2", 0, 0, kA, 0},
      {"memfd_create", 0, 0, kA, 0}, {"getrandom", 0, 0, kA, 0}, {"statx", 0, 0, kA, 0}, {"faccessat2", 0, 0, kA, 0},
      {"close_range", 0, 0, kA, 0}, {"openat2", 0, 0, kA, 0}, {"prlimit64", 0, 0, kA, 0}, {"sched_getaffinity", 0, 0, kA, 0},
      {"seccomp", 0, 0, kA, 0}, {"wait4", 0, 0, kA, 0},
      // clone: threads and fork yes, namespaces no. clone3: ENOSYS so libcs fall back.
      {"clone", CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM | CLONE_SETTLS |
                    CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID, 0, kA, 0},
      {"clone", SIGCHLD | CLONE_CHILD_SETTID | CLONE_CHILD_CLEARTID, 0, kA, 0},
      {"clone", CLONE_NEWUSER | SIGCHLD, 0, kE, EPERM}, {"clone", CLONE_NEWNET, 0, kE, EPERM},
      {"clone", CLONE_NEWNS, 0, kE, EPERM}, {"clone3", 0, 0, kE, ENOSYS},
      {"unshare", CLONE_NEWUSER, 0, kE, EPERM}, {"setns", 0, 0, kE, EPERM},
      {"mount", 0, 0, kE, EPERM}, {"umount2", 0, 0, kE, EPERM}, {"pivot_root", 0, 0, kE, EPERM},
      {"fsopen", 0, 0, kE, EPERM}, {"fsmount", 0, 0, kE, EPERM}, {"move_mount", 0, 0, kE, EPERM},
      {"open_tree", 0, 0, kE, EPERM}, {"mount_setattr", 0, 0, kE, EPERM},
      {"ptrace", 0, 0, kE, EPERM}, {"process_vm_readv", 0, 0, kE, EPERM}, {"process_vm_writev", 0, 0, kE, EPERM},
      {"bpf", 0, 0, kE, EPERM}, {"perf_event_open", 0, 0, kE, EPERM}, {"userfaultfd", 0, 0, kE, EPERM},
      {"keyctl", 0, 0, kE, EPERM}, {"add_key", 0, 0, kE, EPERM}, {"request_key", 0, 0, kE, EPERM},
      {"io_uring_setup", 0, 0, kE, EPERM}, {"io_uring_enter", 0, 0, kE, EPERM},
      {"open_by_handle_at", 0, 0, kE, EPERM}, {"name_to_handle_at", 0, 0, kE, EPERM},
      {"kexec_load", 0, 0, kE, EPERM}, {"init_module", 0, 0, kE, EPERM}, {"finit_module", 0, 0, kE, EPERM},
      {"iopl", 0, 0, kE, EPERM}, {"ioperm", 0, 0, kE, EPERM}, {"reboot", 0, 0, kE, EPERM},
      {"settimeofday", 0, 0, kE, EPERM}, {"clock_settime", 0, 0, kE, EPERM}, {"adjtimex", 0, 0, kE, EPERM},
      {"syslog", 0, 0, kE, EPERM}, {"acct", 0, 0, kE, EPERM}, {"swapon", 0, 0, kE, EPERM},
      {"fanotify_init", 0, 0, kE, EPERM}, {"pidfd_getfd", 0, 0, kE, EPERM}, {"kcmp", 0, 0, kE, EPERM},
      {"personality", 0, 0, kA, 0}, {"personality", 0xffffffff, 0, kA, 0}, {"personality", 0x20008, 0, kA, 0},
      {"personality", 0x0040000 /* ADDR_NO_RANDOMIZE */, 0, kE, EPERM},
      {"socket", AF_UNIX, 0, kA, 0}, {"socket", AF_INET, 0, kA, 0}, {"socket", AF_INET6, 0, kA, 0},
      {"socket", AF_NETLINK, 0, kA, 0}, {"socket", AF_PACKET, 0, kE, EPERM}, {"socket", AF_ALG, 0, kE, EPERM},
      {"socket", AF_VSOCK, 0, kE, EPERM}, {"socket", 0x100000002ull, 0, kA, 0},
      {"socketpair", AF_UNIX, 0, kA, 0}, {"socketpair", AF_INET, 0, kE, EPERM},
      {"ioctl", 0, TCGETS, kA, 0}, {"ioctl", 0, TIOCGWINSZ, kA, 0}, {"ioctl", 0, TIOCSPGRP, kA, 0},
      {"ioctl", 0, FIONREAD, kA, 0}, {"ioctl", 0, 0x80045430 /* TIOCGPTN */, kA, 0},
      {"ioctl", 0, 0xffffffff80045430ull, kA, 0}, {"ioctl", 0, 0x541A, kA, 0}, {"ioctl", 0, 0x5416, kA, 0},
      {"ioctl", 0, TIOCSTI, kE, EPERM}, {"ioctl", 0, TIOCLINUX, kE, EPERM},
      {"ioctl", 0, 0x100005412ull, kE, EPERM}, {"ioctl", 0, 0xffffffff0000541cull, kE, EPERM},
  });
}

TEST(ShippedProfileTableTest, Strict) {
  Profile p = Load(kShipped + "strict.json");
  ASSERT_TRUE(p.warnings.empty());
  CheckTable(p, {
      {"read", 0, 0, kA, 0}, {"openat", 0, 0, kA, 0}, {"mmap", 0, 0, kA, 0}, {"execve", 0, 0, kA, 0},
      {"clock_gettime", 0, 0, kA, 0}, {"futex", 0, 0, kA, 0}, {"clone", SIGCHLD, 0, kA, 0}, {"rseq", 0, 0, kA, 0},
      {"recvmsg", 0, 0, kA, 0}, {"clone3", 0, 0, kE, ENOSYS},
      {"socket", AF_UNIX, 0, kE, EPERM}, {"socket", AF_INET, 0, kE, EPERM}, {"socketpair", AF_UNIX, 0, kE, EPERM},
      {"connect", 0, 0, kE, EPERM}, {"bind", 0, 0, kE, EPERM}, {"listen", 0, 0, kE, EPERM},
      {"accept", 0, 0, kE, EPERM}, {"accept4", 0, 0, kE, EPERM}, {"shmget", 0, 0, kE, EPERM},
      {"personality", 0, 0, kE, EPERM}, {"io_setup", 0, 0, kE, EPERM},
      {"unshare", 0, 0, kE, EPERM}, {"mount", 0, 0, kE, EPERM}, {"ptrace", 0, 0, kE, EPERM},
      {"ioctl", 0, TCGETS, kA, 0}, {"ioctl", 0, TIOCSTI, kE, EPERM},
  });
}

TEST(PublicProfileTableTest, MobyForATaskWithoutCapabilities) {
  if (!std::filesystem::exists(kPublic + "moby-default.json")) GTEST_SKIP() << "moby profile not present";
  Profile p = Load(kPublic + "moby-default.json");
  CheckTable(p, {
      {"read", 0, 0, kA, 0}, {"write", 0, 0, kA, 0}, {"execve", 0, 0, kA, 0},
      // Not in the allowlist without CAP_SYS_ADMIN: the default, EPERM.
      {"unshare", 0, 0, kE, EPERM}, {"mount", 0, 0, kE, EPERM}, {"setns", 0, 0, kE, EPERM},
      {"keyctl", 0, 0, kE, EPERM}, {"add_key", 0, 0, kE, EPERM}, {"bpf", 0, 0, kE, EPERM},
      {"clone", CLONE_NEWUSER, 0, kE, EPERM}, {"clone", SIGCHLD, 0, kA, 0}, {"clone3", 0, 0, kE, ENOSYS},
      {"socket", AF_INET, 0, kA, 0}, {"socket", AF_VSOCK, 0, kE, EPERM},
      {"personality", 0xffffffff, 0, kA, 0}, {"personality", 0x0040000, 0, kE, EPERM},
  });
  // ptrace: allowed for everyone on kernel >= 4.8 (includes.minKernel "4.8"), else only with CAP_SYS_PTRACE.
  CheckTable(p, {{"ptrace", 0, 0, RunningKernel() >= KernelVersion{4, 8} ? kA : kE, EPERM}});
  LoadOptions old_kernel;
  old_kernel.context.kernel = {4, 4};
  auto old = LoadProfileFile(kPublic + "moby-default.json", old_kernel);
  ASSERT_TRUE(old);
  CheckTable(*old, {{"ptrace", 0, 0, kE, EPERM}});
}

TEST(PublicProfileTableTest, PodmanForATaskWithoutCapabilities) {
  // containers/common's profile is much looser than moby's: its big unconditional allow rule
  // (syscalls[1]) lists unshare, mount, umount2, pivot_root, setns, keyctl, ptrace and clone, and
  // leaves the checks to the kernel (capabilities in the task's user namespace). What it denies
  // for a task without capabilities: bpf (EPERM rule), add_key/request_key (default ENOSYS).
  if (!std::filesystem::exists(kPublic + "podman-containers-common.json")) GTEST_SKIP() << "podman profile not present";
  Profile p = Load(kPublic + "podman-containers-common.json");
  CheckTable(p, {
      {"read", 0, 0, kA, 0}, {"write", 0, 0, kA, 0}, {"execve", 0, 0, kA, 0},
      {"unshare", 0, 0, kA, 0}, {"mount", 0, 0, kA, 0}, {"keyctl", 0, 0, kA, 0}, {"ptrace", 0, 0, kA, 0},
      {"clone", CLONE_NEWUSER, 0, kA, 0}, {"clone3", 0, 0, kA, 0},
      {"bpf", 0, 0, kE, EPERM}, {"add_key", 0, 0, kE, ENOSYS}, {"request_key", 0, 0, kE, ENOSYS},
      {"perf_event_open", 0, 0, kE, EPERM}, {"sethostname", 0, 0, kE, EPERM},
      {"socket", AF_NETLINK, 9 /* NETLINK_AUDIT in args[2], not tested here */, kA, 0},
      {"kexec_load", 0, 0, kE, EPERM}, {"vmsplice", 0, 0, kE, EPERM},
  });
  // The NETLINK_AUDIT rule (syscalls[31]): socket(AF_NETLINK, *, NETLINK_AUDIT) -> EINVAL.
  uint64_t audit[6] = {AF_NETLINK, SOCK_RAW, 9};
  Decision d = Evaluate(p, AUDIT_ARCH_X86_64, *SyscallNumber("socket"), audit);
  EXPECT_EQ(d.action, Action::kErrno);
  EXPECT_EQ(d.errno_ret, EINVAL);
  EXPECT_EQ(d.rule_path, "syscalls[31]");
}

TEST(PublicProfileTableTest, PodmanSetnsIsAllowedBecauseTheFirstRuleWins) {
  // containers/common lists setns both in its big allow rule and in an EPERM rule for tasks
  // without CAP_SYS_ADMIN. libseccomp keeps the first, so setns is allowed; we report it.
  if (!std::filesystem::exists(kPublic + "podman-containers-common.json")) GTEST_SKIP() << "podman profile not present";
  Profile p = Load(kPublic + "podman-containers-common.json");
  CheckTable(p, {{"setns", 0, 0, kA, 0}});
  EXPECT_TRUE(std::any_of(p.warnings.begin(), p.warnings.end(),
                          [](const std::string& w) { return w.find("duplicate rule for \"setns\"") != std::string::npos; }));
}

// ---- the real kernel: forked children install the filter ----

// Installs the compiled filter in the calling (child) process. Returns errno or 0.
int InstallFilter(const std::vector<uint8_t>& bpf) {
  sock_fprog prog{static_cast<unsigned short>(bpf.size() / sizeof(sock_filter)),
                  reinterpret_cast<sock_filter*>(const_cast<uint8_t*>(bpf.data()))};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return errno;
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) != 0) return errno;
  return 0;
}

struct ProbeResult {
  long ret;
  int err;
};

// Forks; the child installs `bpf`, runs each probe and writes the results to a pipe.
std::vector<ProbeResult> RunProbes(const std::vector<uint8_t>& bpf, const std::vector<long (*)()>& probes, int* install_err) {
  int fds[2];
  EXPECT_EQ(pipe2(fds, O_CLOEXEC), 0);
  pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    int e = InstallFilter(bpf);
    if (write(fds[1], &e, sizeof e) != sizeof e) _exit(2);
    if (e != 0) _exit(1);
    for (auto* probe : probes) {
      errno = 0;
      ProbeResult r{probe(), 0};
      r.err = r.ret < 0 ? errno : 0;
      if (write(fds[1], &r, sizeof r) != sizeof r) _exit(2);
    }
    _exit(0);
  }
  close(fds[1]);
  std::vector<ProbeResult> out;
  *install_err = -1;
  if (read(fds[0], install_err, sizeof *install_err) == sizeof *install_err && *install_err == 0) {
    ProbeResult r;
    while (read(fds[0], &r, sizeof r) == sizeof r) out.push_back(r);
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  return out;
}

// Forks; the child installs `bpf` (if non-empty) and runs `body`. Returns the wait status.
int RunChild(const std::vector<uint8_t>& bpf, void (*body)()) {
  pid_t pid = fork();
  if (pid == 0) {
    if (!bpf.empty() && InstallFilter(bpf) != 0) _exit(99);
    body();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

// Whether this host lets a process load a seccomp filter at all: decided with a one-instruction
// allow-all filter of our own, not with the compiler under test (a compiler that emits a filter
// the kernel refuses must fail these tests, not skip them).
bool SeccompUsable() {
  const sock_filter allow = BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  std::vector<uint8_t> bpf(sizeof allow);
  std::memcpy(bpf.data(), &allow, sizeof allow);
  int err = 0;
  RunProbes(bpf, {}, &err);
  return err == 0;
}

TEST(KernelAgreementTest, DefaultProfileInAChild) {
  if (!SeccompUsable()) GTEST_SKIP() << "seccomp(SECCOMP_SET_MODE_FILTER) not permitted here";
  Profile p = Load(kShipped + "default.json");
  auto c = Compile(p, {});
  ASSERT_TRUE(c);
  static char tty_char = 'x';
  std::vector<long (*)()> probes = {
      [] { return syscall(SYS_getpid); },
      [] { return syscall(SYS_unshare, CLONE_NEWUSER); },
      [] { return syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -3L, 0L); },
      [] { return syscall(SYS_clone3, nullptr, 0L); },
      [] {
        long fd = syscall(SYS_socket, AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0) close(static_cast<int>(fd));
        return fd >= 0 ? 0L : fd;
      },
      [] { return syscall(SYS_socket, AF_PACKET, SOCK_RAW, 0); },
      [] { return syscall(SYS_ioctl, 0, TIOCSTI, &tty_char); },
      [] { return syscall(SYS_ioctl, 0, 0x100005412ul, &tty_char); },
      [] { return syscall(SYS_ioctl, 1000, TIOCGWINSZ, nullptr); },  // allowed: EBADF from the kernel
      [] {
        long r = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
        if (r == 0) _exit(0);  // only if the filter failed to stop it
        return r;
      },
      [] { return syscall(SYS_personality, 0xffffffffUL); },
      [] { return syscall(SYS_mount, "none", "/tmp", "tmpfs", 0, nullptr); },
      [] { return syscall(SYS_bpf, 0, nullptr, 0); },
  };
  int err = 0;
  auto r = RunProbes(c->bpf, probes, &err);
  ASSERT_EQ(err, 0);
  ASSERT_EQ(r.size(), probes.size());
  EXPECT_GT(r[0].ret, 0);
  EXPECT_EQ(r[1].err, EPERM);
  EXPECT_EQ(r[2].err, EPERM);
  EXPECT_EQ(r[3].err, ENOSYS);
  EXPECT_EQ(r[4].ret, 0);
  EXPECT_EQ(r[5].err, EPERM);
  EXPECT_EQ(r[6].err, EPERM);
  EXPECT_EQ(r[7].err, EPERM);
  EXPECT_EQ(r[8].err, EBADF);
  EXPECT_EQ(r[9].err, EPERM);
  EXPECT_GE(r[10].ret, 0);
  EXPECT_EQ(r[11].err, EPERM);
  EXPECT_EQ(r[12].err, EPERM);
}

TEST(KernelAgreementTest, StrictProfileDeniesSockets) {
  if (!SeccompUsable()) GTEST_SKIP() << "seccomp(SECCOMP_SET_MODE_FILTER) not permitted here";
  Profile p = Load(kShipped + "strict.json");
  auto c = Compile(p, {});
  ASSERT_TRUE(c);
  std::vector<long (*)()> probes = {
      [] { return syscall(SYS_getpid); },
      [] { return syscall(SYS_socket, AF_INET, SOCK_STREAM, 0); },
      [] {
        int sv[2];
        return syscall(SYS_socketpair, AF_UNIX, SOCK_STREAM, 0, sv);
      },
      [] { return syscall(SYS_clone3, nullptr, 0L); },
  };
  int err = 0;
  auto r = RunProbes(c->bpf, probes, &err);
  ASSERT_EQ(r.size(), probes.size());
  EXPECT_GT(r[0].ret, 0);
  EXPECT_EQ(r[1].err, EPERM);
  EXPECT_EQ(r[2].err, EPERM);
  EXPECT_EQ(r[3].err, ENOSYS);
}

void X32Getpid() {
  long ret;
  long nr = 0x40000000L | 39;
  asm volatile("syscall" : "=a"(ret) : "a"(nr) : "rcx", "r11", "memory");
  (void)ret;
}

void Int80Getpid() {
  int ret;
  asm volatile("int $0x80" : "=a"(ret) : "a"(20) : "memory");
  (void)ret;
}

TEST(KernelAgreementTest, X32SyscallIsKilled) {
  if (!SeccompUsable()) GTEST_SKIP() << "seccomp(SECCOMP_SET_MODE_FILTER) not permitted here";
  auto c = Compile(Load(kShipped + "default.json"), {});
  ASSERT_TRUE(c);
  int st = RunChild(c->bpf, X32Getpid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) << "x32 status " << st;
}

TEST(KernelAgreementTest, Int80SyscallIsKilled) {
  if (!SeccompUsable()) GTEST_SKIP() << "seccomp(SECCOMP_SET_MODE_FILTER) not permitted here";
  // int 0x80 needs IA32 emulation; without it the CPU faults before seccomp sees anything.
  int control = RunChild({}, Int80Getpid);
  if (WIFSIGNALED(control)) GTEST_SKIP() << "int 0x80 faults without a filter (ia32 emulation disabled on this kernel)";
  auto c = Compile(Load(kShipped + "default.json"), {});
  ASSERT_TRUE(c);
  int st = RunChild(c->bpf, Int80Getpid);
  EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGSYS) << "int 0x80 status " << st;
}

// Real programs under the shipped profiles: the allowlists must cover glibc, bash, python3 and
// node (and the usual CLI tools) as the shim would run them: filter first, then execve.
int ExecUnder(const std::vector<uint8_t>& bpf, const char* script) {
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    dup2(null, 1);
    dup2(null, 2);
    if (InstallFilter(bpf) != 0) _exit(99);
    execl("/bin/bash", "bash", "-c", script, static_cast<char*>(nullptr));
    _exit(98);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(KernelAgreementTest, RealProgramsRunUnderShippedProfiles) {
  if (!SeccompUsable()) GTEST_SKIP() << "seccomp(SECCOMP_SET_MODE_FILTER) not permitted here";
  auto def = Compile(Load(kShipped + "default.json"), {});
  auto strict = Compile(Load(kShipped + "strict.json"), {});
  ASSERT_TRUE(def && strict);
  struct Case {
    const char* needs;
    const char* script;
    bool strict_too;
  };
  const Case cases[] = {
      {"sh", "sh -c 'echo hi | cat; ls / >/dev/null; date; sort </dev/null; exit 0'", true},
      {"python3", "python3 -c 'print(1)'", true},
      {"python3",
       "python3 -c 'import threading, subprocess, os, tempfile, hashlib, json; t = threading.Thread(target=print, args=(1,)); "
       "t.start(); t.join(); subprocess.run([\"true\"], check=True); os.urandom(8); tempfile.TemporaryFile().write(b\"x\")'",
       true},
      {"python3", "python3 -c 'import socket; s = socket.socket(); s.close(); import multiprocessing as m; p = m.Pool(2); p.map(abs, [1, 2]); p.close()'", false},
      {"node", "node -e 'require(\"fs\").readFileSync(\"/etc/hostname\"); setTimeout(() => console.log(1), 10)'", false},
      {"node", "node -e 'const { Worker } = require(\"worker_threads\"); new Worker(\"1\", { eval: true }).on(\"exit\", c => process.exit(c))'", false},
      {"git", "d=$(mktemp -d) && cd $d && git init -q && git -c user.email=a@b -c user.name=n commit -q --allow-empty -m x && git log --oneline && rm -rf $d", false},
      {"curl", "curl --version", false},
  };
  for (const auto& tc : cases) {
    std::string probe = std::string("command -v ") + tc.needs + " >/dev/null";
    if (system(probe.c_str()) != 0) continue;
    int st = ExecUnder(def->bpf, tc.script);
    EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "default.json: " << tc.script << " status " << st;
    if (tc.strict_too) {
      st = ExecUnder(strict->bpf, tc.script);
      EXPECT_TRUE(WIFEXITED(st) && WEXITSTATUS(st) == 0) << "strict.json: " << tc.script << " status " << st;
    }
  }
}

}  // namespace
}  // namespace cordon::seccomp
