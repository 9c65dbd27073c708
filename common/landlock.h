// common/landlock.h: Landlock (Documentation/userspace-api/landlock.rst) through raw system calls.
// Debian 12's <linux/landlock.h> stops at ABI 2 and there is no liblandlock package, so the later
// ABIs' structure layouts and flags are declared here, as the kernel's UAPI defines them. Used by
// `cordon doctor` (the ABI) and by the shim. Exception-free, no allocation: the shim links it.
#pragma once

#include <cstdint>

namespace cordon::landlock {

// Filesystem access rights (handled_access_fs), with the ABI that introduced each.
inline constexpr uint64_t kFsExecute = 1ull << 0;      // ABI 1
inline constexpr uint64_t kFsWriteFile = 1ull << 1;
inline constexpr uint64_t kFsReadFile = 1ull << 2;
inline constexpr uint64_t kFsReadDir = 1ull << 3;
inline constexpr uint64_t kFsRemoveDir = 1ull << 4;
inline constexpr uint64_t kFsRemoveFile = 1ull << 5;
inline constexpr uint64_t kFsMakeChar = 1ull << 6;
inline constexpr uint64_t kFsMakeDir = 1ull << 7;
inline constexpr uint64_t kFsMakeReg = 1ull << 8;
inline constexpr uint64_t kFsMakeSock = 1ull << 9;
inline constexpr uint64_t kFsMakeFifo = 1ull << 10;
inline constexpr uint64_t kFsMakeBlock = 1ull << 11;
inline constexpr uint64_t kFsMakeSym = 1ull << 12;
inline constexpr uint64_t kFsRefer = 1ull << 13;       // ABI 2
inline constexpr uint64_t kFsTruncate = 1ull << 14;    // ABI 3
inline constexpr uint64_t kFsIoctlDev = 1ull << 15;    // ABI 5
// Network access rights (handled_access_net, ABI 4): TCP bind and connect by port.
inline constexpr uint64_t kNetBindTcp = 1ull << 0;
inline constexpr uint64_t kNetConnectTcp = 1ull << 1;
// Scopes (scoped, ABI 6): abstract unix sockets and signals outside the domain.
inline constexpr uint64_t kScopeAbstractUnixSocket = 1ull << 0;
inline constexpr uint64_t kScopeSignal = 1ull << 1;

// Read-only use of a tree: read files and directories, execute.
inline constexpr uint64_t kFsReadOnly = kFsExecute | kFsReadFile | kFsReadDir;

// The kernel's Landlock ABI (>= 1), or -errno: -ENOSYS (not built in), -EOPNOTSUPP (not enabled
// at boot: lsm=).
int Abi();

// Every right the given ABI knows, per kind: what a ruleset handles (denies unless a rule allows).
uint64_t FsRights(int abi);
uint64_t NetRights(int abi);
uint64_t Scopes(int abi);

// landlock_create_ruleset with the attribute size the ABI takes. Returns an fd or -errno.
int CreateRuleset(int abi, uint64_t fs, uint64_t net, uint64_t scoped);
// Allows `access` beneath the directory (or on the file) `fd` refers to (an O_PATH fd will do).
// Access rights a non-directory cannot have are masked off for it. Returns 0 or -errno.
int AllowPath(int ruleset, int fd, uint64_t access);
// Allows what open fd `fd` already gives, so that reopening it by name (/dev/stdout,
// /proc/self/fd/N) or opening beneath it keeps working under the ruleset: a regular file or a
// device the access it was opened with (read, write and truncate; device ioctls), a directory
// read-only or, with `dir_writable`, every right of `fs_rights` beneath it. Pipes, sockets and
// fds that are not open need no rule: returns 0 for them. Returns 0 or -errno.
int AllowOpenFd(int ruleset, int fd, uint64_t fs_rights, bool dir_writable);
// Allows `access` (kNetBindTcp, kNetConnectTcp) on TCP `port`. Returns 0 or -errno.
int AllowPort(int ruleset, uint64_t port, uint64_t access);
// Enforces the ruleset on this thread and its future children (needs no_new_privs or
// CAP_SYS_ADMIN). Returns 0 or -errno.
int RestrictSelf(int ruleset);

}  // namespace cordon::landlock
