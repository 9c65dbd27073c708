#include "shim/child.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
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

#include "common/bindings/receive.h"
#include "common/init_filter.h"
#include "common/unique_fd.h"
#include "common/scm_rights.h"
#include "common/syscalls.h"
#include "shim/failure.h"
#include "shim/privileges.h"
#include "shim/mnt.h"
#include "shim/net_addr.h"
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

// PID 1's setup, handed from step to step. Every fd it owns is a UniqueFd; PID 1 never returns
// (it ends in _exit), so what it still holds then is closed by the kernel or by CloseAllBut.
struct Pid1 {
  Pid1(LaunchSpec& s, const ChildArgs& a) : spec(s), args(a) {}
  LaunchSpec& spec;
  const ChildArgs& args;
  Failure f;
  UniqueFd sync;   // SEQPACKET to the outer shim
  UniqueFd start;  // pooled: the start socket
  std::vector<UniqueFd> binding_srcs;     // resolve-bindings -> mount-bindings
  mnt::RootState root;                    // mount-private -> etc-files
  std::vector<int> task_fds;              // stdin, stdout, stderr, bound fds: the task's 0..N
  std::vector<UniqueFd> binding_dir_fds;  // binding-fds: owners of task_fds' directory entries
  UniqueFd proxy;                         // proxy-socket: the egress proxy's listening socket
  std::vector<UniqueFd> transparent;      // proxy-socket: transparent egress listeners (spec order)
  // fork-task
  TaskArgs ta;
  TaskReport report;  // shared with the task: CLONE_VM
  sigset_t waitset{};
  pid_t task = -1;
  uint64_t ready_ns = 0, exec_ns = 0;
};

[[noreturn]] void Die(int sync_fd, const Failure& f) {
  (void)::send(sync_fd, &f.rec, sizeof f.rec, MSG_NOSIGNAL);
  _exit(kExitCordonFailure);
}

bool WriteSelfFile(const char* path, const char* text, Failure* f) {
  UniqueFd fd(::open(path, O_WRONLY | O_CLOEXEC));
  if (!fd) return SetFailure(f, SetupStep::kIdMaps, errno, "open %s", path);
  if (::write(fd.Get(), text, std::strlen(text)) < 0)
    return SetFailure(f, SetupStep::kIdMaps, errno, "write '%s' to %s", text, path);
  return true;
}

// Moves `fd` to a number at or above `floor`, so the task's fd placement (0..N in the shared table)
// cannot overwrite it.
bool LiftFd(UniqueFd* fd, int floor) {
  if (fd->Get() >= floor) return true;
  UniqueFd lifted(::fcntl(fd->Get(), F_DUPFD_CLOEXEC, floor));
  if (!lifted) return false;
  *fd = std::move(lifted);
  return true;
}

// ---- The steps, in SetupStep order. Each returns false with p.f filled in. ----

// Die with the outer shim.
bool ArmPdeathsig(Pid1& p) {
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) return SetFailure(&p.f, SetupStep::kPdeathsig, errno, "prctl PR_SET_PDEATHSIG");
  return true;
}

// Our own id maps. The namespace is owned by the ids we were cloned with (the task's host ids, see
// shim/main.cc), so a single-id map of our own euid/egid needs no help from outside. "deny" on
// setgroups must precede an unprivileged gid_map write (user_namespaces(7)); it also means the
// task can never call setgroups(2) to pick up groups.
bool WriteIdMaps(Pid1& p) {
  char map[64];
  if (!WriteSelfFile("/proc/self/setgroups", "deny", &p.f)) return false;
  snprintf(map, sizeof map, "%u %u 1\n", p.spec.task_gid, p.spec.host_gid);
  if (!WriteSelfFile("/proc/self/gid_map", map, &p.f)) return false;
  snprintf(map, sizeof map, "%u %u 1\n", p.spec.task_uid, p.spec.host_uid);
  return WriteSelfFile("/proc/self/uid_map", map, &p.f);
}

bool ResolveBindings(Pid1& p) { return bindings::ResolveBindings(p.spec, &p.binding_srcs, &p.f); }

bool SetIds(Pid1& p) {
  // The maps hold a single id each (task id -> host id). In rootful mode our real and saved ids are
  // still host root, unmapped here; this makes every id the task's. We keep all capabilities of the
  // new user namespace: the old ids are not the namespace's root (security/commoncap.c
  // cap_emulate_setxuid), and rootful mode also set SECBIT_NO_SETUID_FIXUP.
  const LaunchSpec& spec = p.spec;
  if (::setresgid(spec.task_gid, spec.task_gid, spec.task_gid) < 0)
    return SetFailure(&p.f, SetupStep::kSetIds, errno, "setresgid %u", spec.task_gid);
  if (::setresuid(spec.task_uid, spec.task_uid, spec.task_uid) < 0)
    return SetFailure(&p.f, SetupStep::kSetIds, errno, "setresuid %u", spec.task_uid);
  // An euid change clears the parent-death signal (kernel/cred.c commit_creds); arm it again in
  // case setresuid changed one, then make sure the outer shim did not die before we armed it: its
  // end of the sync socket would show POLLHUP. (getppid() cannot tell: it is 0 in a new PID ns.)
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
    return SetFailure(&p.f, SetupStep::kSetIds, errno, "prctl PR_SET_PDEATHSIG after setresuid");
  pollfd alive{p.sync.Get(), POLLIN, 0};
  if (::poll(&alive, 1, 0) > 0 && (alive.revents & POLLHUP)) _exit(kExitCordonFailure);
  return true;
}

bool MakeMountsPrivate(Pid1& p) { return mnt::MakeMountsPrivate(p.spec, &p.root, &p.f); }
bool MountRoot(Pid1& p) { return mnt::MountRoot(p.spec, &p.root, &p.f); }
bool BindMounts(Pid1& p) { return mnt::BindMounts(p.spec, &p.root, &p.f); }
bool ScratchMounts(Pid1& p) { return mnt::ScratchMounts(&p.root, &p.f); }

// Bindings: mounted from PID 1's verified fds, never executable, read-only unless "rw".
bool MountBindings(Pid1& p) {
  if (!bindings::MountBindings(p.spec, mnt::NewRoot(), p.binding_srcs, &p.f)) return false;
  p.binding_srcs.clear();
  p.root.dirs.Clear();  // the bindings' mounts may hide directories made before them
  return true;
}

bool MountProc(Pid1& p) { return mnt::MountProc(p.spec, p.args.boot_floor_s, &p.root, &p.f); }
bool MountDev(Pid1& p) { return mnt::MountDev(p.spec, &p.root, &p.f); }
bool EtcFiles(Pid1& p) { return mnt::EtcFiles(p.spec, &p.root, &p.f); }
bool PivotRoot(Pid1& p) { return mnt::PivotRoot(&p.f); }
bool RemountReadOnly(Pid1& p) { return mnt::RemountReadOnly(&p.f); }
bool BindingFds(Pid1& p) { return bindings::OpenBindingFds(p.spec, &p.task_fds, &p.binding_dir_fds, &p.f); }

bool LoopbackUp(Pid1& p) {
  UniqueFd s(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!s) return SetFailure(&p.f, SetupStep::kLoopback, errno, "socket for lo");
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (::ioctl(s.Get(), SIOCGIFFLAGS, &ifr) < 0) return SetFailure(&p.f, SetupStep::kLoopback, errno, "read lo's flags");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (::ioctl(s.Get(), SIOCSIFFLAGS, &ifr) < 0) return SetFailure(&p.f, SetupStep::kLoopback, errno, "bring lo up");
  return true;
}

// The egress proxy's door: a listening socket on the sandbox's own loopback. The supervisor gets
// it and proxies from the host side; the task's network namespace keeps nothing but lo.
bool ProxySocket(Pid1& p) {
  if (p.spec.proxy_port == 0) return true;
  p.proxy.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(static_cast<uint16_t>(p.spec.proxy_port));
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (!p.proxy || ::bind(p.proxy.Get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(p.proxy.Get(), 128) < 0)
    return SetFailure(&p.f, SetupStep::kProxySocket, errno, "listen on 127.0.0.1:%u for the egress proxy", p.spec.proxy_port);
  // Transparent egress: one listener per allowed destination, on the loopback address the
  // sandbox's /etc/hosts gives its name (or the allowed loopback address itself).
  for (const proto::TransparentListen& t : p.spec.transparent) {
    // An allowed non-loopback address literal: lo takes the address first (shim/net_addr.h).
    if (int e = (t.addr >> 24) == 127 ? 0 : AddAddressToLoopback(t.addr); e != 0)
      return SetFailure(&p.f, SetupStep::kProxySocket, e, "add %u.%u.%u.%u to lo for transparent egress", t.addr >> 24,
                        (t.addr >> 16) & 255, (t.addr >> 8) & 255, t.addr & 255);
    const bool udp = t.port & proto::kTransparentUdp;  // the sandbox's DNS server: bound, not listening
    const uint32_t port = t.port & ~proto::kTransparentUdp;
    UniqueFd fd(::socket(AF_INET, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0));
    sockaddr_in ta{};
    ta.sin_family = AF_INET;
    ta.sin_port = htons(static_cast<uint16_t>(port));
    ta.sin_addr.s_addr = htonl(t.addr);
    if (!fd || ::bind(fd.Get(), reinterpret_cast<sockaddr*>(&ta), sizeof ta) < 0 || (!udp && ::listen(fd.Get(), 128) < 0))
      return SetFailure(&p.f, SetupStep::kProxySocket, errno, "listen on %u.%u.%u.%u:%u for transparent egress",
                        t.addr >> 24, (t.addr >> 16) & 255, (t.addr >> 8) & 255, t.addr & 255, port);
    p.transparent.push_back(std::move(fd));
  }
  return true;
}

bool SetHostname(Pid1& p) {
  if (::sethostname(p.spec.hostname.data(), p.spec.hostname.size()) < 0)
    return SetFailure(&p.f, SetupStep::kHostname, errno, "sethostname");
  return true;
}

bool EnterCgroupNs(Pid1& p) {
  if (::unshare(CLONE_NEWCGROUP) < 0) return SetFailure(&p.f, SetupStep::kCgroupNs, errno, "unshare cgroup namespace");
  return true;
}

int RunTaskEntry(void* arg) { RunTask(*static_cast<TaskArgs*>(arg)); }

// Start the task. Everything it needs is built here, before the clone. A pooled sandbox's task is
// started now too, before its request: it waits at await-task (shim/task.h). Returns once the task
// has exec'd or died: PID 1 is suspended in the clone (CLONE_VFORK) until then.
bool ForkTask(Pid1& p) {
  const bool pooled = p.spec.flags & proto::kFlagPooled;
  // The task's fds are placed at 0..N in the table it shares with us: keep ours above that.
  const int floor = static_cast<int>(p.task_fds.size()) + 3;
  bool lifted = LiftFd(&p.sync, floor) && (!p.proxy || LiftFd(&p.proxy, floor)) && (!pooled || LiftFd(&p.start, floor));
  for (UniqueFd& t : p.transparent) lifted = lifted && LiftFd(&t, floor);
  if (!lifted)
    return SetFailure(&p.f, SetupStep::kForkTask, errno, "move the sync, proxy and start sockets above the task's fds");
  TaskArgs& ta = p.ta;
  ta.spec = &p.spec;
  ta.fds = p.task_fds;
  ta.bpf = p.args.bpf;
  ta.start_fd = pooled ? p.start.Get() : -1;
  ta.sync_fd = p.sync.Get();
  if (!pooled) BuildExecArgs(&ta);
  ta.report = &p.report;
  sigemptyset(&p.waitset);
  sigaddset(&p.waitset, SIGCHLD);
  struct sigaction sa{};
  sa.sa_handler = NoopHandler;
  for (int s : kForwarded) {
    sigaddset(&p.waitset, s);
    if (::sigaction(s, &sa, nullptr) < 0) return SetFailure(&p.f, SetupStep::kForkTask, errno, "sigaction %d", s);
    ta.handled_signals.push_back(s);
  }
  if (::sigaction(SIGCHLD, &sa, nullptr) < 0) return SetFailure(&p.f, SetupStep::kForkTask, errno, "sigaction SIGCHLD");
  ta.handled_signals.push_back(SIGCHLD);
  // PID 1 empties its own bounding set now, once: the task inherits it empty, so its drop-bounding
  // step has nothing left to drop. PID 1 never execs, so nothing it does from here on needs it; its
  // capabilities stay until init-lockdown.
  int cap = -1;
  if (int err = DropBoundingSet(&cap))
    return SetFailure(&p.f, SetupStep::kForkTask, err, "PID 1: drop capability %d from the bounding set", cap);
  ta.bounding_empty = true;
  if (::sigprocmask(SIG_BLOCK, &p.waitset, nullptr) < 0)
    return SetFailure(&p.f, SetupStep::kForkTask, errno, "block the forwarded signals");

  p.ready_ns = sys::MonotonicNs();
  // CLONE_VM|CLONE_VFORK: the task runs on its own stack in our memory until its execve, and we
  // resume once it has exec'd or exited; no page tables are copied. CLONE_FILES: it also shares our
  // fd table until execve, so fds it opens before exec (a seccomp listener) stay ours afterwards.
  long pid = sys::CloneVfork(RunTaskEntry, &ta, CLONE_FILES, nullptr);
  if (pid < 0) return SetFailure(&p.f, SetupStep::kForkTask, errno, "clone task process");
  p.task = static_cast<pid_t>(pid);
  p.exec_ns = sys::MonotonicNs();
  TaskReport& report = p.report;
  if (report.withdrawn) _exit(0);  // discarded before a task came: nothing ran
  if (report.error.step != SetupStep::kNone) {
    // The task's own step failed: its record goes up as it is.
    (void)::send(p.sync.Get(), &report.error, sizeof report.error, MSG_NOSIGNAL);
    int status;
    ::waitpid(p.task, &status, __WALL);
    _exit(kExitCordonFailure);
  }
  siginfo_t si{};
  if (::waitid(P_PID, static_cast<id_t>(pid), &si, WEXITED | WNOHANG | WNOWAIT) == 0 && si.si_pid != 0 &&
      !report.reached_exec)
    return SetFailure(&p.f, SetupStep::kForkTask, 0, "task process died during setup (status %d)", si.si_status);
  return true;
}

// PID 1 after the task started: confined at least as tightly as the task, so that nothing the task
// can reach (it runs as the same uid and may signal us) is less confined than itself. In order:
// not dumpable (the task cannot ptrace us or open our ptrace-guarded /proc files); locked
// securebits while CAP_SETPCAP is still ours (PR_SET_SECUREBITS; the bounding set is empty since
// ForkTask); no capabilities in any set; no_new_privs (seccomp(2) requires it without
// CAP_SYS_ADMIN, which we just dropped); then the small filter of common/init_filter.h. Runs after
// the task's execve (we resume from the CLONE_VFORK clone then), before the exec-ok record.
bool LockDownInit(Pid1& p) {
  Failure* f = &p.f;
  constexpr SetupStep kStep = SetupStep::kInitLockdown;
  if (::prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) return SetFailure(f, kStep, errno, "PID 1: PR_SET_DUMPABLE 0");
  if (int err = LockSecurebits()) return SetFailure(f, kStep, err, "PID 1: lock securebits");
  if (int err = ClearCapabilities()) return SetFailure(f, kStep, err, "PID 1: clear its capabilities");
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) return SetFailure(f, kStep, errno, "PID 1: set no_new_privs");
  std::span<const sock_filter> prog = init_filter::Program();
  sock_fprog fprog{};
  fprog.len = static_cast<unsigned short>(prog.size());
  fprog.filter = const_cast<sock_filter*>(prog.data());
  if (sys::Seccomp(SECCOMP_SET_MODE_FILTER, 0, &fprog) < 0)
    return SetFailure(f, kStep, errno, "PID 1: load its seccomp filter");
  return true;
}

// PID 1's checklist, in SetupStep order: RunChild runs it from here and nowhere else.
struct Step {
  SetupStep step;
  bool (*run)(Pid1&);
};
constexpr Step kSteps[] = {
    {SetupStep::kPdeathsig, ArmPdeathsig},
    {SetupStep::kIdMaps, WriteIdMaps},
    {SetupStep::kResolveBindings, ResolveBindings},
    {SetupStep::kSetIds, SetIds},
    {SetupStep::kMountPrivate, MakeMountsPrivate},
    {SetupStep::kMountRoot, MountRoot},
    {SetupStep::kBindMounts, BindMounts},
    {SetupStep::kScratchMounts, ScratchMounts},
    {SetupStep::kMountBindings, MountBindings},
    {SetupStep::kMountProc, MountProc},
    {SetupStep::kMountDev, MountDev},
    {SetupStep::kEtcFiles, EtcFiles},
    {SetupStep::kPivotRoot, PivotRoot},
    {SetupStep::kRemountReadOnly, RemountReadOnly},
    {SetupStep::kBindingFds, BindingFds},
    {SetupStep::kLoopback, LoopbackUp},
    {SetupStep::kProxySocket, ProxySocket},
    {SetupStep::kHostname, SetHostname},
    {SetupStep::kCgroupNs, EnterCgroupNs},
    {SetupStep::kForkTask, ForkTask},
    // The task's steps (shim/task.cc) run inside ForkTask's clone.
    {SetupStep::kInitLockdown, LockDownInit},
};
constexpr bool InEnumOrder() {
  for (size_t i = 1; i < std::size(kSteps); ++i)
    if (kSteps[i - 1].step >= kSteps[i].step) return false;
  return true;
}
static_assert(InEnumOrder(), "PID 1's steps must run in SetupStep order");

// A step failed. Once the task runs (init-lockdown), it is ended first, with all it started.
[[noreturn]] void Fail(Pid1& p) {
  if (p.task > 0) {
    ::kill(-1, SIGKILL);
    while (::wait4(-1, nullptr, __WALL, nullptr) > 0 || errno == EINTR) {
    }
  }
  Die(p.sync.Get(), p.f);
}

// Close the task's stdio and bound fds in our table: readers of the task's stdout must see EOF
// when the task (not its init) closes it. close_range is in PID 1's filter for this; it fails only
// for a bad range, which these are not.
void CloseAllBut(int sync_fd) {
  if (sync_fd > 0) (void)sys::CloseRange(0, static_cast<unsigned>(sync_fd - 1), 0);
  (void)sys::CloseRange(static_cast<unsigned>(sync_fd + 1), ~0u, 0);
}

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
  Pid1 p(*args.spec, args);
  p.sync.Reset(args.sync_fd);
  p.start.Reset(args.start_fd);
  p.task_fds = args.task_fds;
  for (const Step& s : kSteps) {
    if (HookFails(p.spec, s.step, &p.f) || !s.run(p)) Fail(p);
  }
  // The steps' stamps, the task's included (it wrote them into our memory), go with exec-ok.
  proto::ExecOkRecord ok;
  ok.nmarks = g_step_clock.n;
  std::memcpy(ok.marks, g_step_clock.marks, sizeof ok.marks);
  const bool pooled = p.spec.flags & proto::kFlagPooled;
  ok.ready_ns = pooled ? p.report.started_ns : p.ready_ns;
  ok.exec_ns = p.exec_ns;
  ok.task_pid = static_cast<int32_t>(p.task);
  int pass[2 + proto::kMaxTransparentListeners];
  size_t npass = 0;
  if (p.report.listener_fd >= 0) {
    pass[npass++] = p.report.listener_fd;
    ok.has_listener = 1;
  }
  if (p.proxy) {
    pass[npass++] = p.proxy.Get();
    ok.has_proxy = 1;
    for (const UniqueFd& t : p.transparent) pass[npass++] = t.Get();
    ok.transparent = static_cast<uint32_t>(p.transparent.size());
  }
  (void)SendMsg(p.sync.Get(), &ok, sizeof ok, pass, npass);
  CloseAllBut(p.sync.Get());
  ReapUntilTaskExits(p.sync.Get(), p.task, p.waitset);
}

}  // namespace cordon::shim
