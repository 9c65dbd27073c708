#include "shim/child.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sys/capability.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/securebits.h>
#include <linux/seccomp.h>

#include <cerrno>
#include <csignal>
#include <span>
#include <new>
#include <cstring>

#include "common/init_filter.h"
#include "common/scm_rights.h"
#include "common/syscalls.h"
#include "shim/failure.h"
#include "shim/privileges.h"
#include "shim/mnt.h"
#include "shim/read_memfd.h"
#include "shim/task.h"

namespace cordon::shim {
namespace {

using proto::LaunchSpec;

// Signals PID 1 passes on to the task. PID 1 of a PID namespace only receives signals for which it
// has a handler (kernel/signal.c sig_task_ignored), so each gets an empty handler while blocked,
// and sigwaitinfo() collects them.
constexpr int kForwarded[] = {SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH, SIGCONT};
void NoopHandler(int) {}

[[noreturn]] void Die(int sync_fd, const Failure& f) {
  (void)::send(sync_fd, &f.rec, sizeof f.rec, MSG_NOSIGNAL);
  _exit(kExitCordonFailure);
}

bool WriteSelfFile(const char* path, const char* text, Failure* f) {
  int fd = ::open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) return SetFailure(f, SetupStep::kIdMaps, errno, "open %s", path);
  ssize_t n = ::write(fd, text, std::strlen(text));
  int err = errno;
  ::close(fd);
  if (n < 0) return SetFailure(f, SetupStep::kIdMaps, err, "write '%s' to %s", text, path);
  return true;
}

// "deny" on setgroups must precede an unprivileged gid_map write (user_namespaces(7)); it also means
// the task can never call setgroups(2) to pick up groups.
bool WriteIdMaps(const LaunchSpec& s, Failure* f) {
  char map[64];
  if (!WriteSelfFile("/proc/self/setgroups", "deny", f)) return false;
  snprintf(map, sizeof map, "%u %u 1\n", s.task_gid, s.host_gid);
  if (!WriteSelfFile("/proc/self/gid_map", map, f)) return false;
  snprintf(map, sizeof map, "%u %u 1\n", s.task_uid, s.host_uid);
  return WriteSelfFile("/proc/self/uid_map", map, f);
}

bool SetIds(const LaunchSpec& spec, Failure* f) {
  // The maps hold a single id each (task id -> host id). In rootful mode our real and saved ids are
  // still host root, unmapped here; this makes every id the task's. We keep all capabilities of the
  // new user namespace: the old ids are not the namespace's root (security/commoncap.c
  // cap_emulate_setxuid), and rootful mode also set SECBIT_NO_SETUID_FIXUP.
  if (::setresgid(spec.task_gid, spec.task_gid, spec.task_gid) < 0)
    return SetFailure(f, SetupStep::kSetIds, errno, "setresgid %u", spec.task_gid);
  if (::setresuid(spec.task_uid, spec.task_uid, spec.task_uid) < 0)
    return SetFailure(f, SetupStep::kSetIds, errno, "setresuid %u", spec.task_uid);
  return true;
}

bool LoopbackUp(Failure* f) {
  int s = ::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) return SetFailure(f, SetupStep::kLoopback, errno, "socket for lo");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  int rc = ::ioctl(s, SIOCGIFFLAGS, &ifr);
  if (rc == 0) {
    ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
    rc = ::ioctl(s, SIOCSIFFLAGS, &ifr);
  }
  int err = errno;
  ::close(s);
  if (rc < 0) return SetFailure(f, SetupStep::kLoopback, err, "bring lo up");
  return true;
}

// Moves `fd` to a number at or above `floor`, so the task's fd placement (0..N in the shared table)
// cannot overwrite it.
int LiftFd(int fd, int floor) {
  if (fd >= floor) return fd;
  int n = ::fcntl(fd, F_DUPFD_CLOEXEC, floor);
  if (n >= 0) ::close(fd);
  return n;
}

// PID 1 after the task started: confined at least as tightly as the task, so that nothing the task
// can reach (it runs as the same uid and may signal us) is less confined than itself. In order:
// not dumpable (the task cannot ptrace us or open our ptrace-guarded /proc files); an empty
// bounding set and locked securebits while CAP_SETPCAP is still ours (prctl(2) PR_CAPBSET_DROP,
// PR_SET_SECUREBITS); no capabilities in any set; no_new_privs (seccomp(2) requires it without
// CAP_SYS_ADMIN, which we just dropped); then the small filter of common/init_filter.h. Runs after
// the task's execve (we resume from the CLONE_VFORK clone then), before the exec-ok record.
bool LockDownInit(cap_t none, Failure* f) {
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return SetFailure(f, SetupStep::kForkTask, errno, "PID 1: PR_SET_DUMPABLE 0");
  int cap = -1;
  if (int err = DropBoundingSet(&cap))
    return SetFailure(f, SetupStep::kForkTask, err, "PID 1: drop capability %d from the bounding set", cap);
  if (int err = LockSecurebits()) return SetFailure(f, SetupStep::kForkTask, err, "PID 1: lock securebits");
  if (cap_reset_ambient() < 0 || cap_set_proc(none) < 0)
    return SetFailure(f, SetupStep::kForkTask, errno, "PID 1: clear its capabilities");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return SetFailure(f, SetupStep::kForkTask, errno, "PID 1: set no_new_privs");
  std::span<const sock_filter> prog = init_filter::Program();
  sock_fprog fprog{};
  fprog.len = static_cast<unsigned short>(prog.size());
  fprog.filter = const_cast<sock_filter*>(prog.data());
  if (sys::Seccomp(SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0)
    return SetFailure(f, SetupStep::kForkTask, errno, "PID 1: load its seccomp filter");
  return true;
}

// Close the task's stdio and bound fds in our table: readers of the task's stdout must see EOF
// when the task (not its init) closes it. close_range is in PID 1's filter for this.
void CloseAllBut(int sync_fd) {
  if (sync_fd > 0) sys::CloseRange(0, static_cast<unsigned>(sync_fd - 1), 0);
  sys::CloseRange(static_cast<unsigned>(sync_fd + 1), ~0u, 0);
}

int RunTaskEntry(void* arg) { RunTask(*static_cast<TaskArgs*>(arg)); }

[[noreturn]] void ReapUntilTaskExits(int sync_fd, pid_t task, const sigset_t& waitset) {
  proto::ExitRecord rec;
  for (;;) {
    siginfo_t si;
    int sig = ::sigwaitinfo(&waitset, &si);
    if (sig < 0) continue;
    if (sig != SIGCHLD) {
      ::kill(task, sig);
      continue;
    }
    for (;;) {
      int status = 0;
      rusage ru{};
      pid_t p = ::wait4(-1, &status, WNOHANG | __WALL, &ru);
      if (p <= 0) break;
      if (p == task) {
        rec.status = status;
        rec.task_reported = 1;
        rec.exit_ns = sys::MonotonicNs();
        // The task is done, so is its sandbox: kill whatever it left behind (kill(-1) from PID 1
        // reaches every other process of the namespace) and reap it all before reporting, so the
        // report means "nothing of this sandbox runs any more" and the usage covers everything.
        ::kill(-1, SIGKILL);
        while (::wait4(-1, nullptr, __WALL, nullptr) > 0 || errno == EINTR) {
        }
        ::getrusage(RUSAGE_CHILDREN, &rec.usage);
        (void)::send(sync_fd, &rec, sizeof rec, MSG_NOSIGNAL);
        _exit(0);
      }
    }
  }
}

}  // namespace

[[noreturn]] void RunChild(const ChildArgs& args) {
  LaunchSpec& spec = *args.spec;
  Failure f;
  int sync_fd = args.sync_fd;

  // Step 1: die with the outer shim. The re-check closes the race where it died before prctl.
  if (HookFails(spec, SetupStep::kPdeathsig, &f)) Die(sync_fd, f);
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
    SetFailure(&f, SetupStep::kPdeathsig, errno, "prctl PR_SET_PDEATHSIG");
    Die(sync_fd, f);
  }

  // Step 2: our own id maps. The namespace is owned by the ids we were cloned with (the task's host
  // ids, see shim/main.cc), so a single-id map of our own euid/egid needs no help from outside.
  if (HookFails(spec, SetupStep::kIdMaps, &f) || !WriteIdMaps(spec, &f)) Die(sync_fd, f);
  std::vector<int> bind_fds;
  if (HookFails(spec, SetupStep::kResolveBindings, &f) || !mnt::ResolveBindings(spec, &bind_fds, &f)) Die(sync_fd, f);
  if (HookFails(spec, SetupStep::kSetIds, &f) || !SetIds(spec, &f)) Die(sync_fd, f);
  // An euid change clears the parent-death signal (kernel/cred.c commit_creds); arm it again in
  // case setresuid changed one, then make sure the outer shim did not die before we armed it: its
  // end of the sync socket would show POLLHUP. (getppid() cannot tell: it is 0 in a new PID ns.)
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) {
    SetFailure(&f, SetupStep::kSetIds, errno, "prctl PR_SET_PDEATHSIG after setresuid");
    Die(sync_fd, f);
  }
  pollfd alive{sync_fd, POLLIN, 0};
  if (::poll(&alive, 1, 0) > 0 && (alive.revents & POLLHUP)) _exit(kExitCordonFailure);
  if (!mnt::BuildRoot(spec, bind_fds, args.boot_floor_s, &f)) Die(sync_fd, f);
  for (int fd : bind_fds)
    if (fd >= 0) ::close(fd);
  // A directory binding reaches the task as an O_PATH fd on its mount inside the sandbox, never on
  // the host directory itself: ".." from there stays in the sandbox.
  std::vector<int> task_fds = args.task_fds;
  for (const proto::BindEntry& b : spec.binds) {
    if (!(b.flags & proto::kBindDir)) continue;
    int fd = ::open(b.target.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
      SetFailure(&f, SetupStep::kBindMounts, errno, "open binding %s inside the sandbox", b.target.c_str());
      Die(sync_fd, f);
    }
    task_fds[3 + b.fd_index] = fd;
  }
  if (HookFails(spec, SetupStep::kLoopback, &f) || !LoopbackUp(&f)) Die(sync_fd, f);
  // The egress proxy's door: a listening socket on the sandbox's own loopback. The supervisor gets
  // it and proxies from the host side; the task's network namespace keeps nothing but lo.
  int proxy_fd = -1;
  if (spec.proxy_port != 0) {
    proxy_fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<uint16_t>(spec.proxy_port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (proxy_fd < 0 || ::bind(proxy_fd, reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(proxy_fd, 128) < 0) {
      SetFailure(&f, SetupStep::kLoopback, errno, "listen on 127.0.0.1:%u for the egress proxy", spec.proxy_port);
      Die(sync_fd, f);
    }
  }
  if (HookFails(spec, SetupStep::kHostname, &f)) Die(sync_fd, f);
  if (::sethostname(spec.hostname.data(), spec.hostname.size()) < 0) {
    SetFailure(&f, SetupStep::kHostname, errno, "sethostname");
    Die(sync_fd, f);
  }
  if (HookFails(spec, SetupStep::kCgroupNs, &f)) Die(sync_fd, f);
  if (::unshare(CLONE_NEWCGROUP) < 0) {
    SetFailure(&f, SetupStep::kCgroupNs, errno, "unshare cgroup namespace");
    Die(sync_fd, f);
  }

  // Step: start the task. Everything it needs is built here, before the clone. A pooled sandbox's
  // task is started now too, before its request: it waits at await-task (shim/task.h).
  const bool pooled = spec.flags & proto::kFlagPooled;
  if (HookFails(spec, SetupStep::kForkTask, &f)) Die(sync_fd, f);
  // The task's fds are placed at 0..N in the table it shares with us: keep ours above that.
  const int floor = static_cast<int>(task_fds.size()) + 3;
  sync_fd = LiftFd(sync_fd, floor);
  if (proxy_fd >= 0) proxy_fd = LiftFd(proxy_fd, floor);
  const int start_fd = pooled ? LiftFd(args.start_fd, floor) : -1;
  if (sync_fd < 0 || (spec.proxy_port != 0 && proxy_fd < 0) || (pooled && start_fd < 0)) {
    SetFailure(&f, SetupStep::kForkTask, errno, "move the sync, proxy and start sockets above the task's fds");
    Die(sync_fd >= 0 ? sync_fd : args.sync_fd, f);
  }
  TaskArgs ta;
  ta.spec = &spec;
  ta.fds = task_fds;
  ta.bpf = args.bpf;
  ta.start_fd = start_fd;
  ta.sync_fd = sync_fd;
  if (!pooled) BuildExecArgs(&ta);
  TaskReport report_storage;  // shared with the task: CLONE_VM below
  ta.report = &report_storage;
  sigset_t waitset;
  sigemptyset(&waitset);
  sigaddset(&waitset, SIGCHLD);
  struct sigaction sa{};
  sa.sa_handler = NoopHandler;
  for (int s : kForwarded) {
    sigaddset(&waitset, s);
    ::sigaction(s, &sa, nullptr);
    ta.handled_signals.push_back(s);
  }
  ::sigaction(SIGCHLD, &sa, nullptr);
  ta.handled_signals.push_back(SIGCHLD);
  ta.empty_caps = cap_init();
  if (ta.empty_caps == nullptr) {
    SetFailure(&f, SetupStep::kForkTask, errno, "cap_init");
    Die(sync_fd, f);
  }
  ::sigprocmask(SIG_BLOCK, &waitset, nullptr);

  const uint64_t ready_ns = sys::MonotonicNs();
  // CLONE_VM|CLONE_VFORK: the task runs on its own stack in our memory until its execve, and we
  // resume once it has exec'd or exited; no page tables are copied. CLONE_FILES: it also shares our
  // fd table until execve, so fds it opens before exec (a seccomp listener) stay ours afterwards.
  long pid = sys::CloneVfork(RunTaskEntry, &ta, CLONE_FILES, nullptr);
  if (pid < 0) {
    SetFailure(&f, SetupStep::kForkTask, errno, "clone task process");
    Die(sync_fd, f);
  }
  const uint64_t exec_ns = sys::MonotonicNs();
  TaskReport* report = ta.report;
  if (report->withdrawn) _exit(0);  // discarded before a task came: nothing ran
  if (report->error.step != SetupStep::kNone) {
    (void)::send(sync_fd, &report->error, sizeof report->error, MSG_NOSIGNAL);
    int status;
    ::waitpid(static_cast<pid_t>(pid), &status, __WALL);
    _exit(kExitCordonFailure);
  }
  siginfo_t si{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0 &&
      !report->reached_exec) {
    SetFailure(&f, SetupStep::kForkTask, 0, "task process died during setup (status %d)", si.si_status);
    Die(sync_fd, f);
  }
  proto::ExecOkRecord ok;
  ok.ready_ns = pooled ? report->started_ns : ready_ns;
  ok.exec_ns = exec_ns;
  ok.task_pid = static_cast<int32_t>(pid);
  ok.nmarks = g_step_clock.n;
  std::memcpy(ok.marks, g_step_clock.marks, sizeof ok.marks);
  int pass[2];
  size_t npass = 0;
  if (report->listener_fd >= 0) {
    pass[npass++] = report->listener_fd;
    ok.has_listener = 1;
  }
  if (proxy_fd >= 0) {
    pass[npass++] = proxy_fd;
    ok.has_proxy = 1;
  }
  if (!LockDownInit(ta.empty_caps, &f)) {
    // The task already runs: end it (and all it started) before reporting the failed setup.
    ::kill(-1, SIGKILL);
    while (::wait4(-1, nullptr, __WALL, nullptr) > 0 || errno == EINTR) {
    }
    Die(sync_fd, f);
  }
  (void)SendMsg(sync_fd, &ok, sizeof ok, pass, npass);
  CloseAllBut(sync_fd);
  ReapUntilTaskExits(sync_fd, static_cast<pid_t>(pid), waitset);
}

}  // namespace cordon::shim
