#include "common/init_filter.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <sys/syscall.h>

#include <array>
#include <cstddef>

namespace cordon::init_filter {
namespace {

#if !defined(__x86_64__)
#error "the PID 1 filter is written for x86_64 (AUDIT_ARCH_X86_64 and its system call numbers)"
#endif

constexpr int kAllowed[] = {SYS_rt_sigtimedwait, SYS_rt_sigreturn, SYS_restart_syscall, SYS_kill,
                            SYS_wait4,           SYS_waitid,       SYS_getrusage,       SYS_sendto,
                            SYS_sendmsg,         SYS_close_range,  SYS_clock_gettime,   SYS_exit,
                            SYS_exit_group};
constexpr size_t kN = sizeof kAllowed / sizeof kAllowed[0];
constexpr unsigned kX32Bit = 0x40000000u;  // __X32_SYSCALL_BIT: x32 calls share AUDIT_ARCH_X86_64

constexpr sock_filter Stmt(unsigned short code, unsigned k) { return sock_filter{code, 0, 0, k}; }
constexpr sock_filter Jump(unsigned short code, unsigned k, unsigned char jt, unsigned char jf) {
  return sock_filter{code, jt, jf, k};
}

// 0: load arch; 1: != x86_64 -> kill; 2: load nr; 3: >= x32 bit -> kill;
// 4..4+kN-1: == allowed[i] -> allow; then kill; then allow.
constexpr std::array<sock_filter, 4 + kN + 2> Build() {
  std::array<sock_filter, 4 + kN + 2> p{};
  const unsigned char kill_at = static_cast<unsigned char>(4 + kN);  // index of the kill return
  p[0] = Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch));
  p[1] = Jump(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 0, static_cast<unsigned char>(kill_at - 2));
  p[2] = Stmt(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr));
  p[3] = Jump(BPF_JMP | BPF_JGE | BPF_K, kX32Bit, static_cast<unsigned char>(kill_at - 4), 0);
  for (size_t i = 0; i < kN; ++i) {
    const size_t at = 4 + i;
    // Jump offsets count from the next instruction: to the allow return at kill_at + 1.
    p[at] = Jump(BPF_JMP | BPF_JEQ | BPF_K, static_cast<unsigned>(kAllowed[i]),
                 static_cast<unsigned char>(kill_at + 1 - at - 1), 0);
  }
  p[kill_at] = Stmt(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  p[kill_at + 1] = Stmt(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  return p;
}

constexpr std::array<sock_filter, 4 + kN + 2> kProgram = Build();

}  // namespace

std::span<const int> AllowedSyscalls() { return kAllowed; }
std::span<const sock_filter> Program() { return kProgram; }

}  // namespace cordon::init_filter
