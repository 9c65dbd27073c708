#include "supervisor/host/landlock_mode.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/syscall.h>

#include <cerrno>
#include <cstring>

#include "supervisor/host/namespace_refusal.h"

namespace cordon::host {
namespace {
#if defined(__x86_64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_X86_64;
#elif defined(__aarch64__)
constexpr uint32_t kNativeArch = AUDIT_ARCH_AARCH64;
#else
#error "NoInetSocketsFilter: add this architecture's AUDIT_ARCH"
#endif
}  // namespace

std::string NamespaceRefusal(const UsernsProbe& probe, const Facts& facts) {
  if (probe.probe_err != 0) return std::string("the user-namespace probe could not run: ") + std::strerror(probe.probe_err);
  if (probe.clone3_err != 0) return ExplainCloneRefusal(probe.clone3_err, facts);
  if (probe.proc_tried && probe.proc_err != 0) return ExplainProcRefusal(probe.proc_err, facts);
  if (probe.proc_tried && probe.uts_err != 0) return ExplainHostnameRefusal(probe.uts_err, facts);
  return "";
}

std::vector<ModeGap> LandlockModeGaps(int abi, bool rootful) {
  std::vector<ModeGap> g = {
      {"user_namespace", rootful ? "the task runs as uid/gid 65534 (nobody) of the host, not an unmapped id of its own"
                                 : "the task runs as the caller's own uid and groups"},
      {"mount_namespace",
       "the host's tree stays where it is: paths outside the runtime, bindings and scratch are refused (EACCES) by "
       "Landlock, not absent; their names and metadata (stat) stay visible; bindings are at their host paths"},
      {"pid_namespace", "the task sees the host's processes in /proc; descendants that leave its process group are "
                        "found and killed by Cordon at the end, not by a PID namespace"},
      {"network_namespace",
       "no network namespace: IPv4, IPv6 and packet sockets are refused by a seccomp rule instead; unix sockets "
       "reach the host's"},
      {"ipc_namespace", "System V IPC and POSIX message queues are the host's"},
      {"uts_namespace", "the host name is the host's"},
      {"cgroup", "no per-task cgroup: rlimits only (CPU seconds, address space, open files); no memory.peak, no "
                 "cgroup.kill"},
      {"fresh_proc_and_dev", "the host's /proc (read-only) and a few devices (/dev/null, zero, full, random, "
                             "urandom) instead of the sandbox's own"},
  };
  if (abi < 4) g.push_back({"landlock_tcp", "Landlock ABI " + std::to_string(abi) + " (< 4) cannot restrict TCP: only the seccomp rule does"});
  if (abi < 6)
    g.push_back({"landlock_scopes", "Landlock ABI " + std::to_string(abi) +
                                        " (< 6) cannot scope signals and abstract unix sockets: the task can signal the "
                                        "caller's other processes and connect to any abstract socket"});
  return g;
}

std::vector<sock_filter> NoInetSocketsFilter() {
  constexpr uint32_t kDeny = SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA);
  return {
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kNativeArch, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),  // the policy's filter decides other arches
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),  // the domain (low half)
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 3, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 2, 0),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_PACKET, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      BPF_STMT(BPF_RET | BPF_K, kDeny),
  };
}

}  // namespace cordon::host
