// common/init_filter.h: the seccomp filter of the sandbox's PID 1 once its task runs.
//
// PID 1 (shim/child.cc) loads it after the task's execve, when all it has left to do is wait for
// signals, forward them, reap and report. Pure: builds classic BPF, makes no system call, so unit
// tests run it in a child of their own (tests/unit/init_filter_test.cc). Hand-written rather than
// compiled by libseccomp: the shim links no libseccomp, and the list is short enough to read.
#pragma once

#include <linux/filter.h>

#include <cstddef>
#include <span>

namespace cordon::init_filter {

// The system calls PID 1 may make after the task started (x86_64 numbers), and why:
//   rt_sigtimedwait (sigwaitinfo), rt_sigreturn, restart_syscall: the signal loop;
//   kill: forward a signal to the task, kill(-1, SIGKILL) at the end;
//   wait4, waitid: reap; getrusage: the sandbox's usage for the exit record;
//   sendto, sendmsg: the exec-ok and exit records to the outer shim;
//   close_range: drop the task's stdio and bound fds from its table after the exec-ok record;
//   clock_gettime: its timestamp (the vDSO's fallback); exit, exit_group.
std::span<const int> AllowedSyscalls();

// The program: the architecture must be AUDIT_ARCH_X86_64 and the number below the x32 bit, else
// SECCOMP_RET_KILL_PROCESS; an allowed number returns SECCOMP_RET_ALLOW; anything else
// SECCOMP_RET_KILL_PROCESS. Killing PID 1 kills the whole sandbox: a PID 1 that makes a call it
// never makes is not something to let continue.
std::span<const sock_filter> Program();

}  // namespace cordon::init_filter
