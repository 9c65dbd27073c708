#include "supervisor/host/facts.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/mount.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/syscalls.h"
#include "common/unique_fd.h"

namespace cordon::host {
namespace {

std::optional<long> ReadLong(const char* path) {
  std::ifstream f(path);
  long v = 0;
  if (!(f >> v)) return std::nullopt;
  return v;
}

std::string ReadAll(const char* path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// The value after "Key:\t" in /proc/self/status, or "".
std::string StatusField(const std::string& status, const char* key) {
  const std::string k = std::string("\n") + key + ":";
  size_t at = status.find(k);
  if (at == std::string::npos) return "";
  at += k.size();
  while (at < status.size() && (status[at] == '\t' || status[at] == ' ')) ++at;
  return status.substr(at, status.find('\n', at) - at);
}

std::string DetectContainer() {
  if (::access("/run/.containerenv", F_OK) == 0) return "podman";
  if (::access("/.dockerenv", F_OK) == 0) return "docker";
  if (std::getenv("KUBERNETES_SERVICE_HOST") != nullptr) return "kubernetes";
  if (const char* c = std::getenv("container"); c != nullptr && *c != '\0') return c;
  return "";
}

}  // namespace

Facts ReadFacts() {
  Facts f;
  f.euid = ::geteuid();
  f.max_user_namespaces = ReadLong("/proc/sys/user/max_user_namespaces");
  f.unprivileged_userns_clone = ReadLong("/proc/sys/kernel/unprivileged_userns_clone");
  f.apparmor_restrict_userns = ReadLong("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
  const std::string status = "\n" + ReadAll("/proc/self/status");
  f.seccomp_mode = std::atoi(StatusField(status, "Seccomp").c_str());
  f.no_new_privs = StatusField(status, "NoNewPrivs") == "1";
  const unsigned long long eff = std::strtoull(StatusField(status, "CapEff").c_str(), nullptr, 16);
  f.cap_sys_admin = (eff >> 21) & 1;  // CAP_SYS_ADMIN
  std::istringstream map(ReadAll("/proc/self/uid_map"));
  unsigned long long inside = 1, outside = 1, count = 0;
  map >> inside >> outside >> count;
  f.initial_user_ns = inside == 0 && outside == 0 && count == 4294967295ull;
  f.container = DetectContainer();
  return f;
}

namespace {

// Below fork() only system calls: cordond has threads.
[[noreturn]] void ProbeChild(int fd) {
  UsernsProbe r;
  clone_args ca{};
  ca.flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS;
  ca.exit_signal = SIGCHLD;
  long pid = sys::Clone3(&ca);
  if (pid == 0) _exit(0);
  if (pid < 0) {
    r.clone3_err = errno;
  } else {
    int st;
    while (::waitpid(static_cast<pid_t>(pid), &st, 0) < 0 && errno == EINTR) {
    }
  }
  if (::unshare(CLONE_NEWUSER) != 0) {
    r.unshare_err = errno;
    (void)!::write(fd, &r, sizeof r);
    _exit(0);
  }
  r.proc_tried = true;
  if (::unshare(CLONE_NEWUTS) != 0 || ::sethostname("cordon", 6) != 0) r.uts_err = errno;
  if (::unshare(CLONE_NEWNS | CLONE_NEWPID) != 0) {
    r.proc_err = errno;
  } else {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) {
      r.proc_err = errno;
    } else {
      pid_t init = ::fork();
      if (init == 0) {
        int err = 0;
        if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0 ||
            ::mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
          err = errno;
        (void)!::write(p[1], &err, sizeof err);
        _exit(0);
      }
      ::close(p[1]);
      int err = init < 0 ? errno : EPIPE;
      if (init > 0 && ::read(p[0], &err, sizeof err) != static_cast<ssize_t>(sizeof err)) err = EPIPE;
      r.proc_err = err;
      int st;
      if (init > 0) {
        while (::waitpid(init, &st, 0) < 0 && errno == EINTR) {
        }
      }
    }
  }
  (void)!::write(fd, &r, sizeof r);
  _exit(0);
}

}  // namespace

UsernsProbe ProbeUserns() {
  UsernsProbe r;
  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    r.probe_err = errno;
    return r;
  }
  UniqueFd rd(p[0]), wr(p[1]);
  pid_t child = ::fork();
  if (child < 0) {
    r.probe_err = errno;
    return r;
  }
  if (child == 0) ProbeChild(wr.Get());
  wr.Reset();
  pollfd pfd{rd.Get(), POLLIN, 0};
  if (::poll(&pfd, 1, 10000) != 1 || ::read(rd.Get(), &r, sizeof r) != static_cast<ssize_t>(sizeof r)) {
    r = UsernsProbe{};
    r.probe_err = ETIMEDOUT;
    ::kill(child, SIGKILL);
  }
  int st;
  while (::waitpid(child, &st, 0) < 0 && errno == EINTR) {
  }
  return r;
}

}  // namespace cordon::host
