// common/syscalls.h: thin wrappers for system calls glibc 2.36 does not wrap, and the clock.
#pragma once

#include <linux/sched.h>
#include <sys/types.h>

#include <cstdint>

namespace cordon::sys {

// Raw clone3(2). Without CLONE_VM and with stack 0 it returns twice, like fork().
long Clone3(clone_args* args);
int PidfdOpen(pid_t pid, unsigned flags);
int PidfdSendSignal(int pidfd, int sig);
int PidfdGetfd(int pidfd, int targetfd);
int CloseRange(unsigned first, unsigned last, unsigned flags);
int Seccomp(unsigned op, unsigned flags, void* args);

// CLOCK_MONOTONIC in nanoseconds: one clock for the supervisor and the shim (no time namespace).
uint64_t MonotonicNs();

}  // namespace cordon::sys

namespace cordon::sys {

// posix_spawn's trick: clone(CLONE_VM|CLONE_VFORK) runs `fn(arg)` in a child that shares our memory
// on a stack of its own, and returns once the child has exec'd or exited. No page tables are
// copied, which is most of a fork's cost on a paravirtualised host. `fn` may only make system
// calls and touch memory the caller prepared (no malloc, no locks): the parent is suspended, not
// gone. `flags` adds clone flags (CLONE_PIDFD stores the pidfd in *pidfd; CLONE_FILES shares the fd
// table). Returns the child's pid, or -1 with errno set.
pid_t CloneVfork(int (*fn)(void*), void* arg, int flags, int* pidfd);

}  // namespace cordon::sys
