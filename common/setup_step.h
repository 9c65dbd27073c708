// common/setup_step.h: the ordered setup checklist shared by the shim and the supervisor.
// The enum lists every step once, in the order a cold rootful sandbox runs them; docs/setup-sequence.md
// has the same list (tests/unit/setup_step_doc_test.cc checks it), and the shim runs its steps from
// one table each in this order (shim/child.cc, shim/task.cc). The numbers travel in ErrorRecord and
// StepMark between the shim and the supervisor of the same build (common/protocol.h); nothing else
// stores them, so a new step goes where it runs and the numbers after it move.
#pragma once

#include <cstdint>

namespace cordon {

enum class SetupStep : uint32_t {
  kNone = 0,
  // Outer shim, on the host side of the clone (shim/main.cc).
  kReadSpec,         // receive and decode the launch message, reset inherited SIG_IGN
  kStageBindings,    // rootful: bind each mounted binding where PID 1 can open it
  kClone,            // drop to the task's host ids, clone3() with the new namespaces
  kOuterDrop,        // after clone3: the outer shim gives up its privileges (not stamped)
  // Child: PID 1 of the new PID namespace (shim/child.cc).
  kPdeathsig,        // PR_SET_PDEATHSIG(SIGKILL)
  kIdMaps,           // write our own setgroups ("deny"), gid_map, uid_map: task id -> host id
  kResolveBindings,  // re-open mounted bindings without symlinks: the inode the supervisor opened?
  kSetIds,           // setresgid/setresuid to the task ids, re-arm pdeathsig, outer shim alive?
  kMountPrivate,     // make every mount MS_PRIVATE; open the read-only binds' host sources
  kMountRoot,        // the scratch tmpfs (/tmp, /work, /dev/shm) and the root tmpfs
  kBindMounts,       // the spec's read-only binds, symlinks and directories
  kScratchMounts,    // /tmp and /work of the new root, from the scratch tmpfs
  kMountBindings,    // the policy's bindings, from PID 1's verified fds
  kMountProc,        // fresh procfs, read-only and masked paths, time namespace
  kMountDev,         // minimal /dev: null zero full random urandom (+tty), shm, pts links
  kEtcFiles,         // generated /etc/passwd, group, hosts, hostname, resolv.conf
  kPivotRoot,        // pivot_root(new, new) and detach the old root
  kRemountReadOnly,  // "/" read-only (mount_setattr)
  kBindingFds,       // O_PATH fd of each directory binding's mount, for the task
  kLoopback,         // bring lo up (needs CAP_NET_ADMIN in the userns)
  kProxySocket,      // the egress proxy's listening socket on the sandbox's loopback
  kHostname,         // sethostname in the new UTS namespace
  kCgroupNs,         // unshare(CLONE_NEWCGROUP) once inside the task cgroup
  kForkTask,         // clone the task process (PID 2); PID 1 stays as the reaper
  // Task process (PID 2), between clone and exec (shim/task.cc).
  kStdioFds,         // stdio to 0..2, bound fds to 3..N, everything else CLOEXEC (pooled: after kAwaitTask)
  kSession,          // setsid, umask, rlimits, signal mask and dispositions reset
  kDropBounding,     // libcap: empty the bounding set (needs CAP_SETPCAP)
  kSecurebits,       // lock securebits (NOROOT, NO_SETUID_FIXUP, KEEP_CAPS, NO_CAP_AMBIENT_RAISE)
  kDropCaps,         // clear ambient, inheritable, permitted, effective
  kNoNewPrivs,       // PR_SET_NO_NEW_PRIVS: setuid binaries cannot regain privileges
  kAwaitTask,        // pooled: built, waiting for the task's kStart (argv, envp, cwd, stdio)
  kLandlock,         // Landlock as a second layer: the task's view as a ruleset, scopes (docs/landlock.md)
  kChdir,            // chdir(cwd), without capabilities
  kAwaitGo,          // held start (kStartHold): wait for kGo (after kSeccomp with kFlagFilterBeforeGo)
  kSeccomp,          // seccomp(SET_MODE_FILTER) with the supervisor's BPF
  kExec,             // execve of the command
  // PID 1 again, once the task has exec'd (shim/child.cc).
  kInitLockdown,     // PID 1 drops everything and loads its own filter before kExecOk
  kLast = kInitLockdown,
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
