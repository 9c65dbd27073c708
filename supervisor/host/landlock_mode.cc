#include "supervisor/host/landlock_mode.h"

#include <linux/audit.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <netinet/in.h>
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
      {"pid_namespace",
       "the task sees the host's processes in /proc; its descendants are held by a keeper process (a child "
       "subreaper) and, where one can be made, a cgroup, not by a PID namespace: without a cgroup, killing "
       "`cordon run` and its keeper both at once leaves them running"},
      {"network_namespace",
       "no network namespace: IPv6 and packet sockets, and IPv4 ones without egress, are refused by a seccomp rule; "
       "with egress the task's TCP goes through the proxy on the host's loopback, Landlock allowing connect to the "
       "proxy's port alone but on any address (its rules are per port), other local processes can reach that "
       "proxy too, and UDP (DNS included) is refused: the proxy resolves names; unix sockets reach the host's"},
      {"ipc_namespace", "System V IPC and POSIX message queues are the host's"},
      {"uts_namespace", "the host name is the host's"},
      {"cgroup", "no cgroup limits: rlimits (CPU seconds, address space, open files), pids.max only where a cgroup "
                 "can be made; no memory.peak or other cgroup figures"},
      {"output_budget", "the task writes to the caller's stdout and stderr itself: limits.output_bytes is not "
                        "enforced"},
      {"scratch_size", "the scratch is a plain directory of the host's: limits.tmpfs_bytes is not enforced"},
      {"seccomp_notify", "no seccomp listener: a denied call gets the profile's errno, unrecorded, and a killed "
                         "task's message cannot name the call"},
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

std::vector<sock_filter> ProxyOnlySocketsFilter() {
  constexpr uint32_t kDeny = SECCOMP_RET_ERRNO | (EACCES & SECCOMP_RET_DATA);
  constexpr uint32_t kFlags = SOCK_NONBLOCK | SOCK_CLOEXEC;  // or'ed into the type; not the kind
  return {
      /* 0 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, arch)),
      /* 1 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, kNativeArch, 1, 0),
      /* 2 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),  // the policy's filter decides other arches
      /* 3 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, nr)),
      /* 4 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_socket, 1, 0),
      /* 5 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      /* 6 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[0])),  // the domain
      /* 7 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET, 3, 0),                   // -> 11
      /* 8 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_INET6, 8, 0),                  // -> 17
      /* 9 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_PACKET, 7, 0),                 // -> 17
      /* 10 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
      /* 11 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[1])),  // the type
      /* 12 */ BPF_STMT(BPF_ALU | BPF_AND | BPF_K, ~kFlags),
      /* 13 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SOCK_STREAM, 0, 3),               // else -> 17
      /* 14 */ BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(seccomp_data, args[2])),  // the protocol
      /* 15 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 0, 2, 0),                         // -> 18
      /* 16 */ BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, IPPROTO_TCP, 1, 0),               // -> 18
      /* 17 */ BPF_STMT(BPF_RET | BPF_K, kDeny),
      /* 18 */ BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
}

}  // namespace cordon::host
