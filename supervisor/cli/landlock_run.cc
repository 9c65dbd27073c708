// `cordon run --allow-landlock-mode` where namespaces are refused (landlock_run.h, docs/landlock.md).
#include "supervisor/cli/landlock_run.h"

#include <dirent.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/close_range.h>
#include <linux/seccomp.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iterator>
#include <nlohmann/json.hpp>
#include <optional>
#include <vector>

#include "common/landlock.h"
#include "common/syscalls.h"
#include "common/unique_fd.h"
#include "supervisor/cgroup/ready_layout.h"
#include "supervisor/cgroup/task_cgroup.h"
#include "supervisor/cli/landlock_keeper.h"
#include "supervisor/egress/proxy.h"
#include "supervisor/egress/record.h"
#include "supervisor/host/facts.h"
#include "supervisor/host/landlock_mode.h"
#include "supervisor/task/forwarded_signals.h"
#include "supervisor/task/outcome.h"
#include "supervisor/task/rootfs.h"

namespace cordon::cli {
namespace {

constexpr uid_t kNobody = 65534;  // a rootful task's ids: no user namespace maps root away here
constexpr const char* kDevices[] = {"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom"};

// The task's own scratch directory (its /tmp and /work), removed with everything in it at the end.
struct Scratch {
  std::string root;
  ~Scratch() {
    std::error_code ec;
    if (!root.empty()) std::filesystem::remove_all(root, ec);
  }
};

// What a task that failed before execve tells `cordon run` through the error pipe.
struct ChildError {
  int step;  // a Step
  int err;
};
enum Step { kStepFds, kStepRlimits, kStepIds, kStepChdir, kStepNoNewPrivs, kStepLandlock, kStepSocketRule, kStepSeccomp,
            kStepExec, kStepKeeper };
constexpr const char* kChildSteps[] = {"fds", "rlimits", "ids", "chdir", "no-new-privs", "landlock",
                                       "seccomp-sockets", "seccomp", "exec", "keeper"};

[[noreturn]] void ChildFail(int pipe_fd, int step, int err) {
  ChildError e{step, err};
  (void)!::write(pipe_fd, &e, sizeof e);
  ::_exit(step == kStepExec ? (err == ENOENT ? kExitNotFound : kExitNotExecutable) : kExitCordonFailure);
}

struct Rlim {
  int resource;
  uint64_t soft, hard;
};

// Everything the task's side needs, prepared by `cordon run` before the keeper forks it: after the
// fork it only makes system calls.
struct TaskSide {
  int err_fd = -1;  // ChildError on failure; CLOEXEC, so execve closes it
  int go_fd = -1;   // the keeper's go byte: the task is in its cgroup (or has none)
  const UniqueFd* bound = nullptr;  // bindings, placed at 3..3+nbind-1
  size_t nbind = 0;
  const Rlim* limits = nullptr;
  size_t nlimits = 0;
  bool rootful = false;
  uid_t uid = 0;
  gid_t gid = 0;
  const char* cwd = nullptr;
  int ruleset = -1;
  sock_fprog* net_prog = nullptr;
  sock_fprog* prog = nullptr;
  uint32_t seccomp_flags = 0;
  const char* exe = nullptr;  // "" when argv[0] is not in the task's PATH
  char* const* argv = nullptr;
  char* const* envp = nullptr;
};

// The task's side, in the keeper's child (landlock_keeper.h): up to execve.
[[noreturn]] void RunTaskSide(const void* arg) {
  const TaskSide& t = *static_cast<const TaskSide*>(arg);
  const int ew = t.err_fd;
  const pid_t keeper = ::getppid();
  char go = 0;
  ssize_t n;
  do n = ::read(t.go_fd, &go, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) ChildFail(ew, kStepKeeper, n < 0 ? errno : EPIPE);  // the keeper is gone
  // Its own session (and process group), as a full sandbox's task has: a terminal it shares with
  // the caller is then never its controlling terminal, so it cannot push input into the caller's
  // shell with TIOCSTI (bubblewrap's CVE-2017-5226).
  if (::setsid() < 0) ChildFail(ew, kStepIds, errno);
  // `cordon run` blocked the signals it forwards: the task starts with none blocked and every
  // disposition at its default, as in a full sandbox.
  struct sigaction dfl {};
  dfl.sa_handler = SIG_DFL;
  for (int sig = 1; sig < NSIG; ++sig) (void)::sigaction(sig, &dfl, nullptr);
  sigset_t none;
  sigemptyset(&none);
  (void)::sigprocmask(SIG_SETMASK, &none, nullptr);
  for (size_t i = 0; i < t.nbind; ++i)
    if (::dup2(t.bound[i].Get(), 3 + static_cast<int>(i)) < 0) ChildFail(ew, kStepFds, errno);
  if (::syscall(SYS_close_range, 3 + t.nbind, ~0u, CLOSE_RANGE_CLOEXEC) != 0) ChildFail(ew, kStepFds, errno);
  for (size_t i = 0; i < t.nlimits; ++i) {
    const Rlim& l = t.limits[i];
    if (l.soft == 0) continue;  // 0 = no limit of the policy's
    rlimit r{l.soft, l.hard};
    if (::setrlimit(l.resource, &r) != 0) ChildFail(ew, kStepRlimits, errno);
  }
  if (t.rootful &&
      (::setgroups(0, nullptr) != 0 || ::setresgid(t.gid, t.gid, t.gid) != 0 || ::setresuid(t.uid, t.uid, t.uid) != 0))
    ChildFail(ew, kStepIds, errno);
  // The task dies with its keeper (set after the id change, which clears it); its descendants are
  // the keeper's to kill (landlock_keeper.h).
  if (::prctl(PR_SET_PDEATHSIG, SIGKILL) != 0) ChildFail(ew, kStepKeeper, errno);
  if (::getppid() != keeper) ChildFail(ew, kStepKeeper, ESRCH);  // the keeper is already gone
  if (::chdir(t.cwd) != 0) ChildFail(ew, kStepChdir, errno);
  if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) ChildFail(ew, kStepNoNewPrivs, errno);
  if (int err = landlock::RestrictSelf(t.ruleset); err < 0) ChildFail(ew, kStepLandlock, -err);
  if (sys::Seccomp(SECCOMP_SET_MODE_FILTER, 0, t.net_prog) < 0) ChildFail(ew, kStepSocketRule, errno);
  if (sys::Seccomp(SECCOMP_SET_MODE_FILTER, t.seccomp_flags, t.prog) < 0) ChildFail(ew, kStepSeccomp, errno);
  if (!*t.exe) ChildFail(ew, kStepExec, ENOENT);
  ::execve(t.exe, t.argv, t.envp);
  ChildFail(ew, kStepExec, errno);
}

// The egress proxy's listening socket, on the host's loopback at a port the kernel picks.
Result<UniqueFd> ListenOnLoopback() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return Fail(errno, "landlock mode: socket for the egress proxy");
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(fd.Get(), reinterpret_cast<sockaddr*>(&a), sizeof a) < 0 || ::listen(fd.Get(), 128) < 0)
    return Fail(errno, "landlock mode: listen on 127.0.0.1 for the egress proxy");
  return fd;
}

// BuildTaskEnv points the proxy variables at the sandbox's fixed port; here the proxy listens on
// the host's loopback at `port`.
void PointProxyEnvironmentAt(uint16_t port, std::vector<std::string>* env) {
  for (const std::string& kv : egress::ProxyEnvironment(port)) {
    const std::string name = kv.substr(0, kv.find('=') + 1);
    if (name == "NO_PROXY=" || name == "no_proxy=") continue;  // BuildTaskEnv's ("localhost") stands
    for (std::string& e : *env)
      if (e.rfind(name, 0) == 0) e = kv;
  }
}

// The task's cgroup where this host and user can make one (rootful, or a delegated cgroup2
// subtree; CORDON_CGROUPS and CORDON_CGROUP_SUBTREE as for a full sandbox), with pids.max when the
// policy sets pids and the controller is ours; nullopt and the reason otherwise.
Result<std::optional<cgroup::TaskCgroup>> MakeTaskCgroup(const std::string& name, uint64_t pids, std::string* why_none,
                                                         bool* pids_held) {
  const char* m = ::getenv("CORDON_CGROUPS");
  const std::string mode = m && *m ? m : "auto";
  if (mode != "auto" && mode != "v1" && mode != "off")
    return FailMsg("CORDON_CGROUPS=" + mode + " is not auto, v1 or off", "unset it, or use one of those");
  if (mode == "off") {
    *why_none = "CORDON_CGROUPS=off";
    return std::nullopt;
  }
  cgroup::BaseOptions bo;
  bo.ignore_v2 = mode == "v1";
  if (const char* sub = ::getenv("CORDON_CGROUP_SUBTREE"); sub && *sub) {
    const std::string st = sub;
    if (st.find('/') != std::string::npos || st == "." || st == "..")
      return FailMsg("CORDON_CGROUP_SUBTREE=" + st + " must be a single directory name", "e.g. cordon.slice");
    bo.subtree = st;
  }
  const cgroup::Layout layout = cgroup::ReadyLayout(bo);
  if (!layout.no_cgroup_reason.empty()) {
    *why_none = layout.no_cgroup_reason;
    return std::nullopt;
  }
  cgroup::Limits limits;
  if (pids) {
    limits.pids = pids;
    if (auto cg = cgroup::TaskCgroup::Create(layout, name, limits)) {
      *pids_held = true;
      return std::optional<cgroup::TaskCgroup>(std::move(*cg));
    }
    limits.pids.reset();  // no pids controller of ours: a cgroup to kill with all the same
  }
  auto cg = cgroup::TaskCgroup::Create(layout, name, limits);
  if (!cg) {
    *why_none = cg.error().Message();
    return std::nullopt;
  }
  return std::optional<cgroup::TaskCgroup>(std::move(*cg));
}

Result<std::vector<uint8_t>> ReadBpf(const SeccompFilter& f) {
  std::vector<uint8_t> out(f.bpf_bytes);
  size_t got = 0;
  while (got < out.size()) {
    ssize_t n = ::pread(f.memfd.Get(), out.data() + got, out.size() - got, static_cast<off_t>(got));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return Fail(n < 0 ? errno : EIO, "read the seccomp filter's program");
    got += static_cast<size_t>(n);
  }
  if (out.empty() || out.size() % sizeof(sock_filter) != 0) return FailMsg("the seccomp filter's program is empty");
  return out;
}

// argv[0] as execvp would find it in the task's PATH; "" when no directory has it.
std::string FindCommand(const std::string& file, const std::vector<std::string>& env) {
  if (file.find('/') != std::string::npos) return file;
  std::string path = "/usr/bin:/bin";
  for (const auto& kv : env)
    if (kv.rfind("PATH=", 0) == 0) path = kv.substr(5);
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find(':', start);
    if (end == std::string::npos) end = path.size();
    std::string candidate = (end > start ? path.substr(start, end - start) : ".") + "/" + file;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    start = end + 1;
  }
  return "";
}

// /work and /tmp of the request map to the scratch's; anything else has no place here.
std::string MapCwd(const std::string& cwd, const std::string& scratch) {
  for (const char* top : {"/work", "/tmp"}) {
    const size_t n = std::strlen(top);
    if (cwd.compare(0, n, top) == 0 && (cwd.size() == n || cwd[n] == '/')) return scratch + cwd;
  }
  return "";
}

}  // namespace

std::string FullSandboxRefusal() { return host::NamespaceRefusal(host::ProbeUserns(), host::ReadFacts()); }

Result<LandlockRunResult> RunInLandlockMode(const Policy& policy, const SeccompFilter& filter, const TaskRequest& req,
                                            const std::string& refusal, const std::string& allowed_by) {
  const uint64_t t0 = sys::MonotonicNs();
  const int abi = landlock::Abi();
  if (abi < 1)
    return Fail(-abi, refusal + "; and this kernel has no Landlock for --allow-landlock-mode",
                "grant user namespaces as said above, or boot a kernel with Landlock (lsm=...,landlock)");
  // Egress goes through Cordon's proxy on the host's loopback; only Landlock's TCP rules (ABI 4)
  // keep the task from connecting past it.
  const bool egress_on = policy.outbound.mode != egress::OutboundMode::kNone;
  if (egress_on && abi < 4)
    return FailMsg("policy " + policy.name + " allows outbound traffic (" + egress::OutboundModeName(policy.outbound.mode) +
                       "), which landlock mode holds to the egress proxy only with Landlock ABI >= 4 (TCP connect "
                       "rules); this kernel has ABI " + std::to_string(abi),
                   "use a policy with outbound mode none, boot a kernel >= 6.7, or grant user namespaces (cordon doctor "
                   "says how)");
  UniqueFd proxy_listen;
  uint16_t proxy_port = 0;
  if (egress_on) {
    CORDON_ASSIGN_OR_RETURN(proxy_listen, ListenOnLoopback());
    CORDON_ASSIGN_OR_RETURN(proxy_port, egress::LocalPort(proxy_listen.Get()));
  }
  const bool rootful = ::geteuid() == 0;
  const uid_t uid = rootful ? kNobody : ::getuid();
  const gid_t gid = rootful ? kNobody : ::getgid();

  // The scratch: /tmp and /work of the task, under $TMPDIR.
  Scratch scratch;
  const char* tmpdir = ::getenv("TMPDIR");
  std::string tmpl = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/cordon-landlock-XXXXXX";
  if (!::mkdtemp(tmpl.data())) return Fail(errno, "landlock mode: create the scratch directory " + tmpl, "set TMPDIR to a writable directory");
  scratch.root = tmpl;
  for (const char* sub : {"/tmp", "/work"})
    if (::mkdir((scratch.root + sub).c_str(), 0700) != 0) return Fail(errno, "landlock mode: create " + scratch.root + sub);
  if (rootful)
    for (const char* sub : {"", "/tmp", "/work"})
      if (::chown((scratch.root + sub).c_str(), uid, gid) != 0) return Fail(errno, "landlock mode: chown " + scratch.root + sub);
  const std::string cwd = MapCwd(req.cwd, scratch.root);
  if (cwd.empty())
    return FailMsg("--cwd " + req.cwd + ": landlock mode has only /work and /tmp (its scratch directory)",
                   "use --cwd /work or a directory under it");
  if (::mkdir(cwd.c_str(), 0700) != 0 && errno != EEXIST) return Fail(errno, "landlock mode: create --cwd " + cwd);
  if (rootful && ::chown(cwd.c_str(), uid, gid) != 0) return Fail(errno, "landlock mode: chown " + cwd);

  // The ruleset: what the task may reach, everything else refused.
  const uint64_t fs = landlock::FsRights(abi);
  UniqueFd rs(landlock::CreateRuleset(abi, fs, landlock::NetRights(abi), landlock::Scopes(abi)));
  if (rs.Get() < 0) return Fail(-rs.Release(), "landlock mode: create the ruleset");
  auto allow = [&](const std::string& path, uint64_t access) -> Result<void> {
    UniqueFd fd(::open(path.c_str(), O_PATH | O_CLOEXEC));
    if (!fd) {
      if (errno == ENOENT) return {};  // not on this host: nothing to allow
      return Fail(errno, "landlock mode: open " + path);
    }
    if (int err = landlock::AllowPath(rs.Get(), fd.Get(), access); err < 0) return Fail(-err, "landlock mode: allow " + path);
    return {};
  };
  CORDON_ASSIGN_OR_RETURN(auto runtime, BuildRootfs(policy, RootfsOptions{}));
  std::vector<std::string> runtime_paths;
  for (const proto::MountEntry& m : runtime) {
    if (m.kind != proto::MountKind::kRoBind) continue;
    CORDON_TRY(allow(m.source, landlock::kFsReadOnly));
    runtime_paths.push_back(m.source);
  }
  CORDON_TRY(allow("/proc", landlock::kFsReadFile | landlock::kFsReadDir));
  for (const char* dev : kDevices)
    CORDON_TRY(allow(dev, landlock::kFsReadFile | landlock::kFsWriteFile | (fs & landlock::kFsTruncate)));
  CORDON_TRY(allow(scratch.root, fs));
  // TCP: no bind at all, connect to the proxy's port alone (or to none).
  if (egress_on)
    if (int err = landlock::AllowPort(rs.Get(), proxy_port, landlock::kNetConnectTcp); err < 0)
      return Fail(-err, "landlock mode: allow TCP connect to the egress proxy's port " + std::to_string(proxy_port));
  for (int fd : {req.stdin_fd, req.stdout_fd, req.stderr_fd})
    if (int err = landlock::AllowOpenFd(rs.Get(), fd, fs, false); err < 0) return Fail(-err, "landlock mode: allow stdio");
  const size_t nbind = req.bindings ? req.bindings->size() : 0;
  for (size_t i = 0; i < nbind; ++i) {
    const OpenBinding& ob = (*req.bindings)[i];
    const bool writable = ob.binding.writable || ob.binding.kind == Binding::Kind::kState;
    if (int err = landlock::AllowOpenFd(rs.Get(), ob.fd.Get(), fs, writable); err < 0)
      return Fail(-err, "landlock mode: allow binding " + ob.binding.name);
  }

  // Everything the task's side uses, prepared here: after fork it only makes system calls.
  CORDON_ASSIGN_OR_RETURN(std::vector<uint8_t> bpf, ReadBpf(filter));
  const std::vector<sock_filter> net = egress_on ? host::ProxyOnlySocketsFilter() : host::NoInetSocketsFilter();
  std::vector<std::string> env = BuildTaskEnv(policy, req);
  if (egress_on) PointProxyEnvironmentAt(proxy_port, &env);
  env.push_back("TMPDIR=" + scratch.root + "/tmp");
  env.push_back("HOME=" + scratch.root + "/work");
  const std::string exe = FindCommand(req.argv[0], env);
  std::vector<char*> argv, envp;
  for (const auto& a : req.argv) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  for (const auto& e : env) envp.push_back(const_cast<char*>(e.c_str()));
  envp.push_back(nullptr);
  // Fds the task's side holds while it places bindings at 3..3+n-1 must sit above them.
  const int high = 3 + static_cast<int>(nbind) + 8;
  auto high_pipe = [high](UniqueFd* r, UniqueFd* w) -> Result<void> {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) != 0) return Fail(errno, "landlock mode: pipe");
    r->Reset(::fcntl(p[0], F_DUPFD_CLOEXEC, high));
    w->Reset(::fcntl(p[1], F_DUPFD_CLOEXEC, high));
    ::close(p[0]);
    ::close(p[1]);
    if (!*r || !*w) return Fail(errno, "landlock mode: dup a pipe");
    return {};
  };
  UniqueFd err_r, err_w, go_r, go_w, ctl_r, ctl_w, rep_r, rep_w;
  CORDON_TRY(high_pipe(&err_r, &err_w));
  CORDON_TRY(high_pipe(&go_r, &go_w));
  CORDON_TRY(high_pipe(&ctl_r, &ctl_w));
  CORDON_TRY(high_pipe(&rep_r, &rep_w));
  UniqueFd ruleset(::fcntl(rs.Get(), F_DUPFD_CLOEXEC, high));
  std::vector<UniqueFd> bound;
  for (size_t i = 0; i < nbind; ++i) bound.emplace_back(::fcntl((*req.bindings)[i].fd.Get(), F_DUPFD_CLOEXEC, high));
  if (!ruleset) return Fail(errno, "landlock mode: dup");
  for (const auto& b : bound)
    if (!b) return Fail(errno, "landlock mode: dup a binding");
  const PolicyLimits& lim = policy.limits;
  const Rlim limits[] = {{RLIMIT_NOFILE, lim.nofile, lim.nofile},
                         {RLIMIT_CPU, (lim.max_cpu_ms + 999) / 1000, (lim.max_cpu_ms + 999) / 1000 + 1},
                         {RLIMIT_AS, lim.memory_bytes, lim.memory_bytes}};
  const uint32_t seccomp_flags = filter.filter_flags & ~static_cast<uint32_t>(SECCOMP_FILTER_FLAG_NEW_LISTENER);
  sock_fprog net_prog{static_cast<unsigned short>(net.size()), const_cast<sock_filter*>(net.data())};
  sock_fprog prog{static_cast<unsigned short>(bpf.size() / sizeof(sock_filter)), reinterpret_cast<sock_filter*>(bpf.data())};
  TaskSide side;
  side.err_fd = err_w.Get();
  side.go_fd = go_r.Get();
  side.bound = bound.data();
  side.nbind = nbind;
  side.limits = limits;
  side.nlimits = std::size(limits);
  side.rootful = rootful;
  side.uid = uid;
  side.gid = gid;
  side.cwd = cwd.c_str();
  side.ruleset = ruleset.Get();
  side.net_prog = &net_prog;
  side.prog = &prog;
  side.seccomp_flags = seccomp_flags;
  side.exe = exe.c_str();
  side.argv = argv.data();
  side.envp = envp.data();

  // The task's cgroup, where one can be made: the keeper kills all of it at the end.
  const std::string task_id = NewTaskId();
  std::string no_cgroup_reason;
  bool pids_held = false;
  CORDON_ASSIGN_OR_RETURN(std::optional<cgroup::TaskCgroup> cg,
                          MakeTaskCgroup("task-" + task_id, lim.pids, &no_cgroup_reason, &pids_held));

  // Signals a user sends to `cordon run` are the task's, as in full mode (task/forwarded_signals.h): collect
  // them on a signalfd and pass them to the keeper, which signals the task. Blocked before the fork
  // so none is lost in between. SIGPIPE too: a keeper gone must not kill us when we write to it.
  ForwardedSignals signals;
  if (signals.fd() < 0) return Fail(signals.errno_value(), "landlock mode: signalfd");
  const int sigfd = signals.fd();

  // We are a subreaper too: should the keeper be killed, the task's descendants come to us.
  (void)::prctl(PR_SET_CHILD_SUBREAPER, 1);
  KeeperArgs ka;
  ka.control_fd = ctl_r.Get();
  ka.report_fd = rep_w.Get();
  ka.go_fd = go_w.Get();
  ka.task_fds[0] = go_r.Get();
  ka.task_fds[1] = err_w.Get();
  ka.caller_fds[0] = ctl_w.Get();
  ka.caller_fds[1] = rep_r.Get();
  ka.caller_fds[2] = proxy_listen.Get();
  ka.cgroup = cg ? &*cg : nullptr;
  ka.run_task = RunTaskSide;
  ka.task_arg = &side;
  const pid_t keeper = ::fork();
  if (keeper < 0) return Fail(errno, "landlock mode: fork");
  if (keeper == 0) RunKeeper(ka);
  for (UniqueFd* fd : {&err_w, &go_r, &go_w, &ctl_r, &rep_w}) fd->Reset();
  const uint64_t spawned = sys::MonotonicNs();
  // The proxy, started after the fork: the keeper is forked from a single-threaded process, and the
  // proxy's resolvers are threads. Connections wait in the listen backlog until then.
  std::unique_ptr<egress::Proxy> proxy;
  if (egress_on) {
    egress::Limits el;
    el.max_calls = lim.max_calls;
    auto px = egress::Proxy::Create(std::move(proxy_listen), policy.outbound, el, egress::SystemResolver(), t0);
    if (!px) {
      const int32_t kill_sig = SIGKILL;
      (void)!::write(ctl_w.Get(), &kill_sig, sizeof kill_sig);
      ctl_w.Reset();
      (void)::waitpid(keeper, nullptr, 0);
      return FailMsg("landlock mode: the egress proxy could not start: " + px.error().Message());
    }
    proxy = std::move(*px);
  }
  // The task's side reports a failure before execve, or the pipe closes at execve (or its death).
  ChildError ce{-1, 0};
  ssize_t got;
  do got = ::read(err_r.Get(), &ce, sizeof ce);
  while (got < 0 && errno == EINTR);

  // Follow the keeper's reports until the task has ended, within the wall-clock limit, passing on
  // the signals we receive.
  LandlockRunResult out;
  TaskOutcome& o = out.outcome;
  int status = 0, keeper_err = 0;
  bool ended = false, timed_out = false, keeper_gone = false;
  std::vector<int> forwarded;
  const uint64_t deadline = lim.max_wall_ms ? spawned + lim.max_wall_ms * 1000000ull : 0;
  while (!ended && !keeper_gone && !keeper_err) {
    int timeout = -1;
    if (deadline && !timed_out) {
      const uint64_t now = sys::MonotonicNs();
      if (now >= deadline) {
        timed_out = true;
        const int32_t kill_sig = SIGKILL;
        (void)!::write(ctl_w.Get(), &kill_sig, sizeof kill_sig);
        continue;
      }
      timeout = static_cast<int>(std::min<uint64_t>((deadline - now) / 1000000 + 1, 1u << 30));
    }
    if (proxy) {
      const int pt = proxy->PollTimeoutMs();
      if (pt >= 0 && (timeout < 0 || pt < timeout)) timeout = pt;
    }
    pollfd pf[3] = {{rep_r.Get(), POLLIN, 0}, {sigfd, POLLIN, 0}, {proxy ? proxy->fd() : -1, POLLIN, 0}};
    if (::poll(pf, 3, timeout) < 0) {
      if (errno == EINTR) continue;
      return Fail(errno, "landlock mode: poll");
    }
    if (proxy) {
      if (pf[2].revents) proxy->OnReadable();
      proxy->OnTimer();
    }
    if (pf[1].revents) {
      signalfd_siginfo si;
      while (::read(sigfd, &si, sizeof si) == static_cast<ssize_t>(sizeof si)) {
        const int32_t sig = static_cast<int32_t>(si.ssi_signo);
        if (::write(ctl_w.Get(), &sig, sizeof sig) == static_cast<ssize_t>(sizeof sig)) forwarded.push_back(sig);
      }
    }
    if (pf[0].revents) {
      KeeperReport r;
      ssize_t n = ::read(rep_r.Get(), &r, sizeof r);
      if (n < 0 && errno == EINTR) continue;
      if (n != static_cast<ssize_t>(sizeof r)) {
        keeper_gone = true;
      } else if (r.kind == KeeperReport::kStarted) {
        continue;  // the task runs (its pid is the keeper's business)
      } else if (r.kind == KeeperReport::kEnded) {
        status = r.value;
        ended = true;
      } else {
        keeper_err = r.value ? r.value : EIO;
      }
    }
  }
  int keeper_status = 0;
  while (::waitpid(keeper, &keeper_status, 0) < 0 && errno == EINTR) {
  }
  std::vector<egress::EgressRecord> egress_records;
  uint64_t egress_calls = 0, egress_dropped = 0;
  if (proxy) {  // the task is gone: what it left open is closed, with its records
    proxy->CloseAll();
    egress_records = proxy->TakeRecords();
    egress_calls = proxy->calls();
    egress_dropped = proxy->dropped_records();
    proxy.reset();
  }
  const uint64_t exited = sys::MonotonicNs();
  // Whatever a killed keeper left (the task's descendants, reparented to us), and its cgroup.
  if (!ended && cg) (void)cg->Kill();
  (void)KillAndReapDescendants();
  (void)::prctl(PR_SET_CHILD_SUBREAPER, 0);
  const std::string cgroup_dir = cg ? cg->V2Dir().empty() ? cg->Dirs().front() : cg->V2Dir() : "";
  if (cg) (void)cg->Remove();

  // The outcome, in full mode's words (task/outcome.cc) wherever the cause is the same.
  if (got == static_cast<ssize_t>(sizeof ce) && ce.step >= 0 && ce.step <= kStepKeeper) {
    if (ce.step == kStepExec) {
      const std::string what = exe.empty() ? "command not found in PATH: " + req.argv[0] : "execve " + exe;
      SetExecFailed(ce.err, what + ": " + std::strerror(ce.err), &o);
    } else {
      o.failure = FailureClass::kSetupFailed;
      o.exit_code = kExitCordonFailure;
      o.message = std::string("sandbox setup failed at step ") + kChildSteps[ce.step] + " (landlock mode): " +
                  std::strerror(ce.err) + (ce.step == kStepChdir ? " (--cwd must name a directory inside the sandbox)" : "");
    }
  } else if (keeper_err || !ended) {
    o.failure = FailureClass::kSetupFailed;
    o.exit_code = kExitCordonFailure;
    o.message = keeper_err ? std::string("sandbox setup failed at step keeper (landlock mode): placing the task in its cgroup ") +
                                 cgroup_dir + ": " + std::strerror(keeper_err)
                           : "the landlock-mode keeper ended without a report (wait status " +
                                 std::to_string(keeper_status) + "); the task was killed with it";
  } else if (timed_out) {
    o.failure = FailureClass::kWallTimeout;
    o.task_signal = SIGKILL;
    o.exit_code = 128 + SIGKILL;
    o.message = "wall-clock limit of " + std::to_string(lim.max_wall_ms) +
                " ms reached (policy limits.max_wall_ms); the sandbox was killed";
  } else if (WIFEXITED(status)) {
    o.task_exit_code = WEXITSTATUS(status);
    o.exit_code = o.task_exit_code;
    o.failure = o.task_exit_code == 0 ? FailureClass::kNone : FailureClass::kExitNonzero;
  } else {
    o.task_signal = WTERMSIG(status);
    o.exit_code = 128 + o.task_signal;
    o.failure = o.task_signal == SIGSYS ? FailureClass::kSeccompViolation : FailureClass::kSignaled;
    // Full mode names the call (its listener sees it); here nobody listens.
    if (o.task_signal == SIGSYS)
      o.message = "the task was killed by SIGSYS: seccomp profile " + filter.name +
                  " kills one of its system calls (landlock mode has no listener to name which)";
  }

  using nlohmann::json;
  const json cg_dir_or_null = cgroup_dir.empty() ? json(nullptr) : json(cgroup_dir);
  json missing = json::array();
  for (const auto& g : host::LandlockModeGaps(abi, rootful)) missing.push_back({{"guarantee", g.guarantee}, {"effect", g.effect}});
  json scoped = json::array();
  if (abi >= 6) scoped = {"abstract_unix_socket", "signal"};
  json ev;
  ev["task_id"] = task_id;
  ev["command"] = req.argv;
  ev["cwd"] = req.cwd;
  ev["policy"] = {{"name", policy.name}, {"version", policy.version}, {"role", policy.role},
                  {"sha256", policy.sha256}, {"source", policy.source}};
  ev["sandbox"] = {{"mode", "landlock"},
                   {"degraded", true},
                   {"full_mode_refused", refusal},
                   {"allowed_by", allowed_by},
                   {"namespaces", json::array()},
                   {"task_uid", uid},
                   {"task_gid", gid},
                   {"host_uid", ::getuid()},
                   {"scratch", scratch.root},
                   {"runtime_read_only", runtime_paths},
                   {"landlock", {{"abi", abi}, {"layer", "only"}, {"net", abi >= 4},
                                 {"tcp_ports_allowed", egress_on ? json::array({proxy_port}) : json::array()},
                                 {"scoped", scoped}}},
                   {"inet_sockets", egress_on ? "IPv4 TCP only, connect to the egress proxy's port only (seccomp, Landlock)"
                                              : "refused (seccomp, EACCES)"},
                   {"no_new_privs", true},
                   {"lifetime", {{"keeper", "subreaper"},
                                 {"cgroup", cg_dir_or_null},
                                 {"no_cgroup_reason", no_cgroup_reason.empty() ? json(nullptr) : json(no_cgroup_reason)},
                                 {"signals_forwarded", forwarded}}},
                   {"missing", missing}};
  ev["seccomp"] = {{"profile", filter.name}, {"source", filter.source}, {"profile_sha256", filter.profile_sha256},
                   {"bpf_sha256", filter.bpf_sha256}, {"notify", false}};
  // As a full sandbox's record has them (evidence/record.cc).
  json egress_json = json::array();
  for (const auto& e : egress_records) egress_json.push_back(egress::ToJson(e));
  ev["egress"] = egress_json;
  ev["outbound"] = {{"mode", egress::OutboundModeName(policy.outbound.mode)},
                    {"calls", egress_calls},
                    {"max_calls", lim.max_calls},
                    {"records_dropped", egress_dropped}};
  ev["limits"] = {{"max_wall_ms", lim.max_wall_ms}, {"max_cpu_ms", lim.max_cpu_ms}, {"memory_bytes", lim.memory_bytes},
                  {"nofile", lim.nofile}, {"pids", lim.pids},
                  {"enforce", {{"wall", lim.max_wall_ms ? "supervisor" : "none"},
                               {"cpu", lim.max_cpu_ms ? "rlimit" : "none"},
                               {"memory", lim.memory_bytes ? "rlimit_as" : "none"},
                               {"pids", pids_held ? "cgroup" : "none"}}}};
  ev["timing"] = {{"spawned_us", (spawned - t0) / 1000}, {"exit_us", (exited - t0) / 1000}};
  ev["exit"] = {{"code", o.task_exit_code >= 0 ? json(o.task_exit_code) : json(nullptr)},
                {"signal", o.task_signal ? json(o.task_signal) : json(nullptr)},
                {"cordon_exit_code", o.exit_code}};
  ev["failure_class"] = FailureClassName(o.failure);
  if (!o.message.empty()) ev["message"] = o.message;
  out.evidence = ev.dump();
  return out;
}

}  // namespace cordon::cli
