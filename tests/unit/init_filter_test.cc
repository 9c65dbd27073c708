// PID 1's seccomp filter (common/init_filter.h), loaded for real in a forked child: what PID 1
// still does after its task started works, anything else and any other ABI kills the process.
#include <gtest/gtest.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>

#include "common/init_filter.h"

namespace cordon {
namespace {

void LoadFilter() {
  std::span<const sock_filter> prog = init_filter::Program();
  sock_fprog f{static_cast<unsigned short>(prog.size()), const_cast<sock_filter*>(prog.data())};
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) _exit(90);
  if (::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &f) < 0) _exit(91);
}

// Runs `body` in a child under the filter and returns its wait status.
template <class F>
int UnderFilter(F body) {
  pid_t pid = ::fork();
  if (pid == 0) {
    LoadFilter();
    body();
    ::syscall(SYS_exit_group, 0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

bool KilledBySigsys(int status) { return WIFSIGNALED(status) && WTERMSIG(status) == SIGSYS; }

TEST(InitFilter, WhatPid1DoesAfterTheTaskStartedIsAllowed) {
  int status = UnderFilter([] {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    timespec zero{0, 0};
    // Each call returns (any result): the filter let it through.
    ::syscall(SYS_rt_sigtimedwait, &set, nullptr, &zero, 8);
    ::syscall(SYS_wait4, -1, nullptr, WNOHANG | __WALL, nullptr);
    siginfo_t si;
    ::syscall(SYS_waitid, P_ALL, 0, &si, WEXITED | WNOHANG, nullptr);
    rusage ru;
    ::syscall(SYS_getrusage, RUSAGE_CHILDREN, &ru);
    ::syscall(SYS_kill, 0, 0);
    ::syscall(SYS_sendto, -1, nullptr, 0, 0, nullptr, 0);
    ::syscall(SYS_sendmsg, -1, nullptr, 0);
    ::syscall(SYS_close_range, 1000, ~0u, 0);
    ::syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &zero);
    ::syscall(SYS_exit_group, 7);
  });
  ASSERT_TRUE(WIFEXITED(status)) << "status " << status;
  EXPECT_EQ(WEXITSTATUS(status), 7);
}

TEST(InitFilter, AnythingElseKillsTheProcess) {
  for (long nr : {SYS_getpid, SYS_openat, SYS_execve, SYS_ptrace, SYS_clone, SYS_clone3, SYS_write, SYS_mmap,
                  SYS_seccomp, SYS_prctl, SYS_setuid, SYS_unshare, SYS_pidfd_open, SYS_tgkill}) {
    EXPECT_TRUE(KilledBySigsys(UnderFilter([nr] { ::syscall(nr, -1, 0, 0, 0, 0, 0); }))) << "syscall " << nr << " status " << UnderFilter([nr] { ::syscall(nr, -1, 0, 0, 0, 0, 0); });
  }
}

TEST(InitFilter, X32AndI386CallsKillTheProcess) {
  // An allowed number through the x32 ABI (same AUDIT_ARCH_X86_64, nr | __X32_SYSCALL_BIT).
  EXPECT_TRUE(KilledBySigsys(UnderFilter([] { ::syscall(SYS_kill | 0x40000000L, 0, 0); })));
  // The i386 ABI through int 0x80: AUDIT_ARCH_I386. 37 is kill there, 1 is exit. Where the kernel
  // runs no i386 code at all (ia32_emulation off), int 0x80 is a SIGSEGV before any filter runs.
  const bool ia32 = [] {
    pid_t pid = ::fork();
    if (pid == 0) {
      long r = 20;  // getpid
      __asm__ volatile("int $0x80" : "+a"(r) : : "memory");
      _exit(r > 0 ? 0 : 1);
    }
    int status = 0;
    ::waitpid(pid, &status, 0);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
  }();
  for (long nr : {37L, 1L}) {
    int status = UnderFilter([nr] {
      long r = nr;
      __asm__ volatile("int $0x80" : "+a"(r) : "b"(0), "c"(0) : "memory");
    });
    if (ia32) {
      EXPECT_TRUE(KilledBySigsys(status)) << "i386 syscall " << nr << ": status " << status;
    } else {
      EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV) << "i386 syscall " << nr << ": " << status;
    }
  }
}

TEST(InitFilter, ListIsSmall) {
  auto allowed = init_filter::AllowedSyscalls();
  EXPECT_LE(allowed.size(), 16u);
  EXPECT_EQ(init_filter::Program().size(), allowed.size() + 6);
  EXPECT_EQ(std::count(allowed.begin(), allowed.end(), SYS_execve), 0);
}

}  // namespace
}  // namespace cordon
