#include "common/landlock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_landlock_create_ruleset
#define SYS_landlock_create_ruleset 444
#define SYS_landlock_add_rule 445
#define SYS_landlock_restrict_self 446
#endif

namespace cordon::landlock {
namespace {

constexpr uint32_t kCreateRulesetVersion = 1u << 0;
constexpr int kRulePathBeneath = 1;
constexpr int kRuleNetPort = 2;

// The UAPI's struct landlock_ruleset_attr at its newest (ABI 6); older kernels take a prefix.
struct RulesetAttr {
  uint64_t handled_access_fs;
  uint64_t handled_access_net;  // ABI 4
  uint64_t scoped;              // ABI 6
};

struct __attribute__((packed)) PathBeneathAttr {
  uint64_t allowed_access;
  int32_t parent_fd;
};

struct NetPortAttr {
  uint64_t allowed_access;
  uint64_t port;
};

// What only a directory can be given beneath it.
constexpr uint64_t kDirOnly = kFsReadDir | kFsRemoveDir | kFsRemoveFile | kFsMakeChar | kFsMakeDir | kFsMakeReg |
                              kFsMakeSock | kFsMakeFifo | kFsMakeBlock | kFsMakeSym | kFsRefer;

int Fail() { return -errno; }

// One path-beneath rule for `fd`, whose type the caller knows `access` fits.
int AddPathRule(int ruleset, int fd, uint64_t access) {
  PathBeneathAttr attr{access, fd};
  return ::syscall(SYS_landlock_add_rule, ruleset, kRulePathBeneath, &attr, 0) == 0 ? 0 : Fail();
}

}  // namespace

int Abi() {
  long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, kCreateRulesetVersion);
  return abi < 0 ? Fail() : static_cast<int>(abi);
}

uint64_t FsRights(int abi) {
  if (abi < 1) return 0;
  uint64_t r = (kFsMakeSym << 1) - 1;  // ABI 1: execute .. make_sym
  if (abi >= 2) r |= kFsRefer;
  if (abi >= 3) r |= kFsTruncate;
  if (abi >= 5) r |= kFsIoctlDev;
  return r;
}

uint64_t NetRights(int abi) { return abi >= 4 ? (kNetBindTcp | kNetConnectTcp) : 0; }

uint64_t Scopes(int abi) { return abi >= 6 ? (kScopeAbstractUnixSocket | kScopeSignal) : 0; }

int CreateRuleset(int abi, uint64_t fs, uint64_t net, uint64_t scoped) {
  RulesetAttr attr{fs, net, scoped};
  size_t size = abi >= 6 ? sizeof attr : abi >= 4 ? 2 * sizeof(uint64_t) : sizeof(uint64_t);
  long fd = ::syscall(SYS_landlock_create_ruleset, &attr, size, 0);
  return fd < 0 ? Fail() : static_cast<int>(fd);
}

int AllowPath(int ruleset, int fd, uint64_t access) {
  struct stat st;
  if (::fstat(fd, &st) != 0) return Fail();
  if (!S_ISDIR(st.st_mode)) access &= ~kDirOnly;
  return AddPathRule(ruleset, fd, access);
}

int AllowOpenFd(int ruleset, int fd, uint64_t fs_rights, bool dir_writable) {
  struct stat st;
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fstat(fd, &st) != 0) return 0;  // not open: nothing to allow
  uint64_t access = 0;
  if (S_ISDIR(st.st_mode)) {
    access = dir_writable ? fs_rights : kFsReadOnly;
  } else if (S_ISREG(st.st_mode) || S_ISCHR(st.st_mode)) {
    const int mode = fl & O_ACCMODE;
    if ((fl & O_PATH) || mode == O_RDONLY || mode == O_RDWR) access |= kFsReadFile;
    if (!(fl & O_PATH) && (mode == O_WRONLY || mode == O_RDWR)) access |= kFsWriteFile | (fs_rights & kFsTruncate);
    if (S_ISCHR(st.st_mode)) access |= fs_rights & kFsIoctlDev;
  } else {
    return 0;
  }
  // The type is known from the fstat above (a file's access holds no directory-only right): no
  // second fstat, one system call less per fd on the task's way to its exec.
  return AddPathRule(ruleset, fd, access);
}

int AllowPort(int ruleset, uint64_t port, uint64_t access) {
  NetPortAttr attr{access, port};
  return ::syscall(SYS_landlock_add_rule, ruleset, kRuleNetPort, &attr, 0) == 0 ? 0 : Fail();
}

int RestrictSelf(int ruleset) { return ::syscall(SYS_landlock_restrict_self, ruleset, 0) == 0 ? 0 : Fail(); }

}  // namespace cordon::landlock
