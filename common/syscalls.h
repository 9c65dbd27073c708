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
