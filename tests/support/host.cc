#include "tests/support/host.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <string>

#include "common/unique_fd.h"

namespace cordon::test {
namespace {

// What the probe child reports: the first stage that failed (kOk if none) and its errno.
enum Stage : int { kOk = 0, kUnshare, kForkInit, kMountPrivate, kMountProc, kNoNewPrivs, kSeccomp, kNoReport };

struct Report {
  int stage = kNoReport;
  int err = 0;
};

// Only async-signal-safe calls below fork(): the test binary may have threads by now.
[[noreturn]] void Send(int fd, Stage stage, int err) {
  Report r{stage, err};
  (void)!::write(fd, &r, sizeof r);
  _exit(0);
}

[[noreturn]] void ProbeInit(int fd) {
  // PID 1 of the new PID namespace, in the new mount namespace: what the shim's PID 1 does first.
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) Send(fd, kMountPrivate, errno);
  if (::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
    Send(fd, kMountProc, errno);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) Send(fd, kNoNewPrivs, errno);
  sock_filter allow[] = {BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW)};
  sock_fprog prog{1, allow};
  long listener = ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (listener < 0) Send(fd, kSeccomp, errno);
  Send(fd, kOk, 0);
}

[[noreturn]] void ProbeChild(int fd) {
  if (::unshare(CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS |
                CLONE_NEWCGROUP) != 0)
    Send(fd, kUnshare, errno);
  pid_t init = ::fork();
  if (init < 0) Send(fd, kForkInit, errno);
  if (init == 0) ProbeInit(fd);
  int status;
  while (::waitpid(init, &status, 0) < 0 && errno == EINTR) {
  }
  _exit(0);
}

std::string Sysctl(const char* path) {
  std::ifstream f(path);
  std::string v;
  if (!(f >> v)) return "";
  return std::string(" ") + (path + std::strlen("/proc/sys/")) + "=" + v;
}

std::string Explain(const Report& r) {
  const std::string err = r.err ? std::string(": ") + std::strerror(r.err) : "";
  const std::string uid = std::to_string(::geteuid());
  switch (r.stage) {
    case kOk:
      return "";
    case kUnshare:
      return "this host does not let uid " + uid + " create user namespaces (unshare(CLONE_NEWUSER|NEWNS|NEWPID|" +
             "NEWNET|NEWIPC|NEWUTS|NEWCGROUP)" + err + ";" + Sysctl("/proc/sys/user/max_user_namespaces") +
             Sysctl("/proc/sys/kernel/unprivileged_userns_clone") +
             Sysctl("/proc/sys/kernel/apparmor_restrict_unprivileged_userns") + ")";
    case kForkInit:
      return "fork into a new PID namespace failed on this host" + err;
    case kMountPrivate:
      return "this host does not let a new user namespace remount / private" + err;
    case kMountProc:
      return "this host does not let a new user and PID namespace mount a fresh procfs (a masked /proc, as in "
             "an unprivileged container?)" +
             err;
    case kNoNewPrivs:
      return "prctl(PR_SET_NO_NEW_PRIVS) failed on this host" + err;
    case kSeccomp:
      return "this kernel does not accept a seccomp filter with a user-notification listener "
             "(CONFIG_SECCOMP_FILTER, kernel >= 5.0)" +
             err;
    default:
      return "the host probe (fork, unshare, mount proc, seccomp) did not report";
  }
}

std::string Probe() {
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) return std::string("pipe2 for the host probe failed: ") + std::strerror(errno);
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t child = ::fork();
  if (child < 0) return std::string("fork for the host probe failed: ") + std::strerror(errno);
  if (child == 0) ProbeChild(wr.Get());
  wr.Reset();
  Report r;
  // Waits for the report (or EOF once both probe processes are gone), 30 s at most: never forever.
  pollfd pfd{rd.Get(), POLLIN, 0};
  if (::poll(&pfd, 1, 30000) == 1 && ::read(rd.Get(), &r, sizeof r) != static_cast<ssize_t>(sizeof r))
    r = Report{};
  if (pfd.revents == 0) ::kill(child, SIGKILL);
  int status;
  while (::waitpid(child, &status, 0) < 0 && errno == EINTR) {
  }
  return Explain(r);
}

}  // namespace

std::string HostSandboxMissing() {
  static const std::string missing = Probe();
  return missing;
}

int HostLandlockAbi() {
  long abi = ::syscall(SYS_landlock_create_ruleset, nullptr, 0, 1u /* LANDLOCK_CREATE_RULESET_VERSION */);
  return abi < 0 ? 0 : static_cast<int>(abi);
}

}  // namespace cordon::test
