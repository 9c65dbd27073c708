// common/protocol.h: messages between the supervisor and the shim (docs/protocol.md; the steps
// they frame: docs/setup-sequence.md).
//
// The control socket is an AF_UNIX SOCK_SEQPACKET pair; the shim gets its end as fd 3. Every
// message starts with MsgHeader; fds ride along with SCM_RIGHTS. Order on the wire:
//   supervisor -> shim   kLaunch  + fds [spec memfd, bpf memfd, stdin, stdout, stderr, bound fds...]
//   shim -> supervisor   kExecOk  (timestamps)              | kError (ErrorRecord), then exit
//   shim -> supervisor   kExit    (ExitRecord) once the task's PID 1 is gone
//   supervisor -> shim   kSignal  (signal number to forward to the task) at any time
// A pooled sandbox (kFlagPooled, cordond's warm pool) is built before its task is known:
//   supervisor -> shim   kLaunch  + fds [spec memfd, bpf memfd, start socket, bound fds...]
//   shim -> supervisor   kReady   (ReadyRecord): built, PID 1 waits on the start socket
//   supervisor -> PID 1  kStart   on the start socket, the TaskPart after the header (up to
//                                  kMaxInlineTaskPart bytes) + fds [stdin, stdout, stderr], or, for
//                                  a larger part, fds [stdin, stdout, stderr, task-part memfd]
// and from there on as above (kExecOk or kError, then kExit). With kStartHold instead of kStart,
// the task is built up to its seccomp filter and waits for kGo on the start socket (an EOF there
// withdraws it): cordond makes the admission decision durable meanwhile, and no task execs before
// its decision is on disk.
#pragma once

#include <sys/resource.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/setup_step.h"

namespace cordon::proto {

inline constexpr uint32_t kMagic = 0x43524431;  // "CRD1"
inline constexpr uint32_t kSpecVersion = 3;  // 2: no fail_at_step (the test hook moved into the shim's test build);
                                             // 3: transparent egress listeners
// stdin, stdout, stderr and bound fds ride in one SCM_RIGHTS message with the spec and BPF memfds.
inline constexpr int kMaxFdsPerLaunch = 250;

enum class MsgType : uint32_t {
  kLaunch = 1,
  kExecOk = 2,
  kError = 3,
  kExit = 4,
  kSignal = 5,
  kReady = 6,
  kStart = 7,
  kStartHold = 8,  // kStart, but the task waits for kGo before its filter and execve
  kGo = 9,
};

struct MsgHeader {
  uint32_t magic = kMagic;
  MsgType type{};
};

// A setup step failed. Fixed size so that the child can send it with one write and no allocation.
struct ErrorRecord {
  MsgHeader hdr{kMagic, MsgType::kError};
  SetupStep step = SetupStep::kNone;
  int32_t err = 0;      // errno of the failed call, 0 if not a system call's failure
  char msg[200] = {};   // what was being done, NUL-terminated, e.g. "mount proc on /proc"
};

// When each setup step started (CLOCK_MONOTONIC), in the order the steps ran.
struct StepMark {
  SetupStep step = SetupStep::kNone;
  uint32_t pad = 0;
  uint64_t ns = 0;
};
inline constexpr int kMaxStepMarks = 40;
static_assert(kMaxStepMarks >= static_cast<int>(SetupStep::kLast), "room for every step's stamp");

// The command is running: the task's execve succeeded.
struct ExecOkRecord {
  MsgHeader hdr{kMagic, MsgType::kExecOk};
  uint64_t ready_ns = 0;  // CLOCK_MONOTONIC: sandbox built, about to start the task process
  uint64_t exec_ns = 0;   // CLOCK_MONOTONIC: execve of the command returned into the new image
  int32_t task_pid = 0;   // pid of the task in the sandbox's PID namespace (normally 2)
  uint32_t nmarks = 0;    // entries used in `marks`
  // fds riding along with this record (SCM_RIGHTS), in this order when present: the seccomp
  // listener (SECCOMP_FILTER_FLAG_NEW_LISTENER), then the egress proxy's listening socket, then
  // `transparent` listening sockets, one per LaunchSpec::transparent entry, in its order.
  uint32_t has_listener = 0;
  uint32_t has_proxy = 0;
  uint32_t transparent = 0;
  uint32_t pad = 0;
  StepMark marks[kMaxStepMarks];  // outer shim's, PID 1's and the task's steps
};

// A pooled sandbox is built and waits for its task (kFlagPooled).
struct ReadyRecord {
  MsgHeader hdr{kMagic, MsgType::kReady};
  uint64_t ready_ns = 0;  // CLOCK_MONOTONIC: PID 1 starts waiting for kStart
};

// The sandbox is gone. `status` is the wait status of the task process (PID 2) as its PID 1 saw it;
// `rusage` covers every process of the sandbox that was reaped (wait4 of PID 1 by the outer shim).
struct ExitRecord {
  MsgHeader hdr{kMagic, MsgType::kExit};
  int32_t status = 0;
  int32_t task_reported = 0;  // 1 if PID 1 reported the task's status, 0 if PID 1 itself died first
  int32_t init_status = 0;    // wait status of PID 1
  int32_t pad = 0;
  uint64_t exit_ns = 0;       // CLOCK_MONOTONIC when the task process was reaped
  struct rusage usage {};
};

struct SignalRecord {
  MsgHeader hdr{kMagic, MsgType::kSignal};
  int32_t signo = 0;
};

// Flags of LaunchSpec.
inline constexpr uint32_t kFlagRootful = 1u << 0;    // outer shim runs as host root: drop groups
inline constexpr uint32_t kFlagDevTty = 1u << 1;     // bind the caller's /dev/tty
inline constexpr uint32_t kFlagCgroupFd = 1u << 2;   // last launch fd: v2 cgroup dir for CLONE_INTO_CGROUP
inline constexpr uint32_t kFlagPooled = 1u << 3;     // built ahead of its task: argv, envp, cwd and stdio
                                                     // come later with kStart (TaskPart)
inline constexpr uint32_t kFlagFilterBeforeGo = 1u << 4;  // a held task loads its filter before it
                                                          // waits for kGo: the filter allows that wait
inline constexpr uint32_t kFlagClockAfterFilter = 1u << 5;  // the filter allows clock_gettime: the
                                                            // exec step may be stamped after it
inline constexpr uint32_t kFlagLandlock = 1u << 6;  // the task applies Landlock as a second layer (docs/landlock.md)

// One entry of the new root's filesystem, applied in order.
enum class MountKind : uint32_t {
  kRoBind = 1,   // bind `source` (host path) at `target`, then remount read-only
  kSymlink = 2,  // create symlink `target` -> `source`
  kFile = 3,     // write `source` (content) into a new file `target` with mode `mode`
  kDir = 4,      // mkdir `target` with mode `mode`
};

struct MountEntry {
  MountKind kind{};
  uint32_t mode = 0;
  std::string source;
  std::string target;  // absolute path inside the sandbox
};

// A binding (docs/bindings.md): bound fd number fd_index (the task gets it as fd 3 + fd_index).
// Mounted bindings are re-resolved by PID 1 in its own mount namespace, without following
// symlinks, and must be the same inode (dev, ino) the supervisor opened; then mounted at target.
inline constexpr uint32_t kBindMount = 1u << 0;     // mount at target
inline constexpr uint32_t kBindWritable = 1u << 1;  // rw (default ro)
inline constexpr uint32_t kBindDir = 1u << 2;       // a directory: the task's fd is O_PATH on the mount
struct BindEntry {
  uint32_t fd_index = 0;
  uint32_t flags = 0;
  uint64_t dev = 0, ino = 0;
  std::string source;  // host path, for the re-resolution
  std::string target;  // absolute path inside the sandbox
};

// One transparent egress listener: an IPv4 address (127.0.0.0/8, or a unicast address the shim
// first puts on lo) and a port; with kTransparentUdp in `port`, a bound UDP socket (the sandbox's
// DNS server) instead of a listening TCP one.
inline constexpr size_t kMaxTransparentListeners = 64;
inline constexpr uint32_t kTransparentUdp = 1u << 16;
struct TransparentListen {
  uint32_t addr = 0;  // host byte order
  uint32_t port = 0;  // 1..65535, | kTransparentUdp for UDP
};

// Everything the shim needs to build one sandbox. Built by the supervisor (which resolves names,
// NSS and policy); the shim only applies it.
struct LaunchSpec {
  uint32_t flags = 0;
  uint32_t host_uid = 0, host_gid = 0;  // outside ids the task runs as
  uint32_t task_uid = 1000, task_gid = 1000;  // inside ids (never 0 by default)
  uint64_t tmpfs_bytes = 64ull << 20;   // size limit of the scratch tmpfs (/tmp, /work, /dev/shm)
  uint32_t setup_timeout_ms = 10000;
  uint32_t bound_fds = 0;               // fds after stdio in the launch message, placed at 3..
  uint32_t seccomp_flags = 0;           // SECCOMP_FILTER_FLAG_*; NEW_LISTENER sends denials to the supervisor
  // Resource limits the task process sets on itself (0 = leave as inherited).
  uint64_t rlimit_cpu_s = 0;            // RLIMIT_CPU: per-process backstop of limits.max_cpu_ms
  uint64_t rlimit_nofile = 0;           // RLIMIT_NOFILE
  uint64_t rlimit_nproc = 0;            // RLIMIT_NPROC: limits.pids when no cgroup enforces it
  uint64_t rlimit_as = 0;               // RLIMIT_AS: limits.memory_bytes when no cgroup enforces it
  uint32_t proxy_port = 0;              // != 0: PID 1 listens on the sandbox's 127.0.0.1:proxy_port and
                                        // hands the listening socket to the supervisor (egress proxy)
  // Transparent egress (docs/network.md): PID 1 also listens on each of these addresses of the
  // sandbox's loopback and hands the sockets to the supervisor, which relays every connection to
  // the destination the address stands for. Only with proxy_port != 0.
  std::vector<TransparentListen> transparent;
  std::string hostname = "cordon";
  std::string cwd = "/work";
  std::vector<std::string> argv;        // argv[0] is resolved by the shim through PATH in envp
  std::vector<std::string> envp;
  std::vector<MountEntry> mounts;
  std::vector<BindEntry> binds;
  uint64_t memory_bytes = 0;            // the policy's limits.memory_bytes (0 = none): MemTotal of the
                                        // sandbox's generated /proc/meminfo (docs/sandbox.md)
};

std::string EncodeLaunchSpec(const LaunchSpec& spec);
// Returns false on malformed input (truncated, trailing bytes, bad version, empty argv unless
// kFlagPooled).
bool DecodeLaunchSpec(const char* data, size_t size, LaunchSpec* out);

// The per-task part of a pooled sandbox's spec, sent with kStart: it replaces the LaunchSpec's
// (empty) argv, envp and cwd.
struct TaskPart {
  std::string cwd = "/work";
  std::vector<std::string> argv;
  std::vector<std::string> envp;
};
inline constexpr size_t kMaxInlineTaskPart = 60u << 10;  // fits a SEQPACKET message with room to spare
std::string EncodeTaskPart(const TaskPart& part);
// Returns false on malformed input (truncated, trailing bytes, empty argv, relative cwd).
bool DecodeTaskPart(const char* data, size_t size, TaskPart* out);

}  // namespace cordon::proto
