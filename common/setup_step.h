// common/setup_step.h: the ordered setup checklist shared by the shim and the supervisor.
// The numbers are part of the shim<->supervisor protocol (docs/protocol.md); append only.
#pragma once

#include <cstdint>

namespace cordon {

enum class SetupStep : uint32_t {
  kNone = 0,
  // Outer shim, on the host side of the clone.
  kReadSpec = 1,        // receive and decode the launch message
  kClone = 2,           // drop to the task's host ids, clone3() with the new namespaces
  kStageBindings = 4,   // rootful: bind each mounted binding where PID 1 can open it (before kClone)
  // Child: PID 1 of the new PID namespace, in this order (shim/child.cc).
  kPdeathsig = 10,      // PR_SET_PDEATHSIG(SIGKILL) + getppid() re-check
  kIdMaps = 11,         // write our own setgroups ("deny"), gid_map, uid_map: task id -> host id
  kSetIds = 12,         // setresgid/setresuid to the task ids inside the namespace
  kMountPrivate = 13,   // make every mount MS_PRIVATE: nothing propagates to the host
  kMountRoot = 14,      // tmpfs for the new root and the scratch tmpfs (/tmp, /work)
  kBindMounts = 15,     // read-only binds of /usr, /lib*, /etc files, policy mounts
  kMountProc = 16,      // fresh procfs, /proc/sys read-only, sensitive files masked
  kMountDev = 17,       // minimal /dev: null zero full random urandom (+tty), shm, pts links
  kEtcFiles = 18,       // generated /etc/passwd, group, hosts, hostname, resolv.conf
  kPivotRoot = 19,      // pivot_root(new, new) and detach the old root
  kRemountReadOnly = 20,// MS_RDONLY takes effect on binds only through a remount
  kLoopback = 21,       // bring lo up (needs CAP_NET_ADMIN in the userns)
  kHostname = 22,       // sethostname in the new UTS namespace
  kCgroupNs = 23,       // unshare(CLONE_NEWCGROUP) once inside the task cgroup
  kForkTask = 24,       // clone the task process (PID 2); PID 1 stays as the reaper
  kResolveBindings = 25,// runs after id-maps: re-open mounted bindings without symlinks, same inode?
  kAwaitTask = 26,      // pooled sandbox (cordond's warm pool): built, waiting for the task's kStart
  // Task process (PID 2), between fork and exec.
  kStdioFds = 30,       // stdio to 0..2, bound fds to 3..N, everything else CLOEXEC
  kSession = 31,        // setsid, umask, rlimits, signal mask and dispositions reset
  kChdir = 32,          // chdir(cwd) after every mount change
  kDropBounding = 33,   // libcap: empty the bounding set (needs CAP_SETPCAP)
  kSecurebits = 34,     // lock securebits (NOROOT, NO_SETUID_FIXUP, KEEP_CAPS, NO_CAP_AMBIENT_RAISE)
  kDropCaps = 35,       // clear ambient, inheritable, permitted, effective
  kNoNewPrivs = 36,     // PR_SET_NO_NEW_PRIVS: setuid binaries cannot regain privileges
  kSeccomp = 37,        // seccomp(SET_MODE_FILTER) with the supervisor's BPF
  kExec = 38,           // execve of the command
  kAwaitGo = 39,        // pooled, held (kStartHold): wait for kGo before the filter and execve; runs
                        // between kNoNewPrivs and kSeccomp
};

// Stable lower-case name used in error messages and evidence, e.g. "mount-proc".
const char* SetupStepName(SetupStep step);

// Exit codes of `cordon run`, as docker/podman use them.
// The task ran, but the evidence record asked for with --evidence could not be written; the
// task's own outcome is printed on stderr. Below 124, the wait-timeout code of `cordon wait`.
inline constexpr int kExitEvidenceNotWritten = 123;
inline constexpr int kExitCordonFailure = 125;  // Cordon's own failure: bad policy, setup failed
inline constexpr int kExitNotExecutable = 126;  // command found but could not be executed
inline constexpr int kExitNotFound = 127;       // command not found

}  // namespace cordon
