#include "common/syscalls.h"

#include <sched.h>
#include <cerrno>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

namespace cordon::sys {

long Clone3(clone_args* args) { return ::syscall(SYS_clone3, args, sizeof(*args)); }
int PidfdOpen(pid_t pid, unsigned flags) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, flags)); }
int PidfdSendSignal(int pidfd, int sig) {
  return static_cast<int>(::syscall(SYS_pidfd_send_signal, pidfd, sig, nullptr, 0));
}
int PidfdGetfd(int pidfd, int targetfd) {
  return static_cast<int>(::syscall(SYS_pidfd_getfd, pidfd, targetfd, 0));
}
int CloseRange(unsigned first, unsigned last, unsigned flags) {
  return static_cast<int>(::syscall(SYS_close_range, first, last, flags));
}
int Seccomp(unsigned op, unsigned flags, void* args) {
  return static_cast<int>(::syscall(SYS_seccomp, op, flags, args));
}

pid_t CloneVfork(int (*fn)(void*), void* arg, int flags, int* pidfd) {
  constexpr size_t kStack = 256 * 1024;
  // One stack per calling thread, mapped on its first spawn and kept: the child runs on it only
  // while this thread is suspended (CLONE_VFORK), so the next spawn from the thread can reuse it.
  // An munmap per spawn cost a TLB shootdown on every CPU running one of the caller's threads
  // (cordond's builder spawns a shim per sandbox), and a fresh mapping page faults again in the
  // child. The mapping is never returned: one per thread that spawns, 256 KiB of address space,
  // resident only as far as a child used it.
  thread_local void* stack = nullptr;
  if (stack == nullptr) {
    void* s = ::mmap(nullptr, kStack, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_STACK, -1, 0);
    if (s == MAP_FAILED) return -1;
    stack = s;
  }
  return ::clone(fn, static_cast<char*>(stack) + kStack, CLONE_VM | CLONE_VFORK | SIGCHLD | flags, arg, pidfd,
                 nullptr, nullptr);
}

uint64_t MonotonicNs() {
  timespec ts;
  ::clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1000000000ull + static_cast<uint64_t>(ts.tv_nsec);
}

}  // namespace cordon::sys
