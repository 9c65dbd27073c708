#include "supervisor/task.h"

#include <fcntl.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <sys/random.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cstring>
#include <nlohmann/json.hpp>

#include "common/fs_util.h"
#include "common/scm_rights.h"
#include "common/syscalls.h"
#include "supervisor/rootfs.h"
#include "supervisor/seccomp/compiler.h"
#include "supervisor/seccomp/profile.h"

namespace cordon {
namespace {

constexpr uint64_t kKillGraceNs = 2'000'000'000ull;  // SIGKILL via PID 1, then the shim itself
constexpr uint16_t kProxyPort = 3128;  // the egress proxy, on the sandbox's own 127.0.0.1

std::string NewTaskId() {
  uint8_t b[16];
  if (::getrandom(b, sizeof b, 0) != sizeof b) {
    uint64_t t = sys::MonotonicNs() ^ (static_cast<uint64_t>(::getpid()) << 32);
    std::memcpy(b, &t, 8);
    std::memcpy(b + 8, &t, 8);
  }
  static const char* hex = "0123456789abcdef";
  std::string s;
  for (uint8_t c : b) {
    s += hex[c >> 4];
    s += hex[c & 15];
  }
  return s;
}

struct ShimExec {
  const char* path;
  int ctrl_child;
};

// Runs in the spawned child, on its own stack, sharing our memory until execve: system calls only.
int ShimChild(void* p) {
  const ShimExec* a = static_cast<const ShimExec*>(p);
  const char* argv[] = {"cordon-shim", nullptr};
  const char* envp[] = {nullptr};
  ::setpgid(0, 0);
  if (a->ctrl_child == 3) {
    ::fcntl(3, F_SETFD, 0);
  } else if (::dup2(a->ctrl_child, 3) < 0) {
    _exit(kExitCordonFailure);
  }
  sys::CloseRange(4, ~0u, CLOSE_RANGE_CLOEXEC);
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  ::execve(a->path, const_cast<char* const*>(argv), const_cast<char* const*>(envp));
  _exit(kExitCordonFailure);
}

// Starts the shim with the control socket as fd 3, in its own process group so that terminal
// signals reach only the supervisor, which forwards them deliberately.
Result<std::pair<pid_t, UniqueFd>> SpawnShim(const std::string& shim, int ctrl_child) {
  int pidfd = -1;
  ShimExec args{shim.c_str(), ctrl_child};
  pid_t pid = sys::CloneVfork(ShimChild, &args, CLONE_PIDFD, &pidfd);
  if (pid < 0) return Fail(errno, "clone for the shim");
  return std::make_pair(pid, UniqueFd(pidfd));
}

std::vector<std::string> BuildEnv(const Policy& policy, const TaskRequest& req) {
  std::map<std::string, std::string> env;
  if (req.bindings) {
    // Like systemd's LISTEN_FDNAMES: the task finds each capability by name.
    for (size_t i = 0; i < req.bindings->size(); ++i) {
      std::string name = (*req.bindings)[i].binding.name;
      for (char& c : name) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      env["CORDON_FD_" + name] = std::to_string(3 + i);
    }
  }
  for (const auto& kv : req.env) {
    auto eq = kv.find('=');
    env[kv.substr(0, eq)] = eq == std::string::npos ? "" : kv.substr(eq + 1);
  }
  for (const auto& [k, v] : policy.env.set) env[k] = v;  // forced: the policy wins
  if (policy.outbound.mode != egress::OutboundMode::kNone) {
    for (const auto& kv : egress::ProxyEnvironment(kProxyPort)) {
      auto eq = kv.find('=');
      env[kv.substr(0, eq)] = kv.substr(eq + 1);
    }
    // Only the name "localhost" bypasses the proxy (for the sandbox's own services): an address
    // such as 127.0.0.1 goes through it, so the policy decides about the host's loopback too.
    env["NO_PROXY"] = env["no_proxy"] = "localhost";
  }
  if (!env.contains("PATH")) env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
  std::vector<std::string> out;
  for (const auto& [k, v] : env) out.push_back(k + "=" + v);
  return out;
}


}  // namespace

const char* FailureClassName(FailureClass c) {
  switch (c) {
    case FailureClass::kNone: return "none";
    case FailureClass::kExitNonzero: return "exit_nonzero";
    case FailureClass::kSignaled: return "signaled";
    case FailureClass::kSetupFailed: return "setup_failed";
    case FailureClass::kExecFailed: return "exec_failed";
    case FailureClass::kWallTimeout: return "wall_timeout";
    case FailureClass::kKilled: return "killed";
    case FailureClass::kSeccompViolation: return "seccomp_violation";
    case FailureClass::kOom: return "oom";
    case FailureClass::kCpuBudget: return "cpu_budget";
    case FailureClass::kPidsLimit: return "pids_limit";
    case FailureClass::kOutputLimit: return "output_limit";
    case FailureClass::kSupervisorRestart: return "supervisor_restart";
  }
  return "unknown";
}

Result<RuntimePaths> LocateRuntime() {
  RuntimePaths rt;
  char exe[4096];
  ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n < 0) return Fail(errno, "readlink /proc/self/exe");
  std::string self(exe, static_cast<size_t>(n));
  std::string prefix = self.substr(0, self.rfind('/'));
  prefix = prefix.substr(0, prefix.rfind('/'));  // .../bin/cordon -> ...
  const char* env_shim = ::getenv("CORDON_SHIM");
  rt.shim = env_shim && *env_shim ? env_shim : prefix + "/" CORDON_INSTALL_LIBEXECDIR "/cordon/cordon-shim";
  rt.data_dir = prefix + "/" CORDON_INSTALL_DATADIR "/cordon";
  if (::access(rt.shim.c_str(), X_OK) < 0)
    return Fail(errno, "the shim " + rt.shim + " is not executable",
                "reinstall Cordon (cmake --install) so that libexec/cordon/cordon-shim sits beside bin/cordon, "
                "or set CORDON_SHIM to its path");
  return rt;
}

Result<std::unique_ptr<Task>> Task::Create(std::shared_ptr<const Policy> policy_ptr,
                                           std::shared_ptr<const SeccompFilter> filter_ptr, TaskIdentity identity,
                                           const cgroup::Layout* cgroups) {
  const Policy& policy = *policy_ptr;
  std::unique_ptr<Task> t(new Task());
  t->id_ = NewTaskId();
  t->policy_ = std::move(policy_ptr);
  t->filter_ = std::move(filter_ptr);
  t->identity_ = std::move(identity);
  proto::LaunchSpec& s = t->spec_;
  s.flags = t->identity_.rootful ? proto::kFlagRootful : 0;
  s.host_uid = t->identity_.host_uid;
  s.host_gid = t->identity_.host_gid;
  s.tmpfs_bytes = policy.limits.tmpfs_bytes;
  s.seccomp_flags = t->filter_->filter_flags;
  if (policy.outbound.mode != egress::OutboundMode::kNone) s.proxy_port = kProxyPort;
  const PolicyLimits& lim = policy.limits;
  // Per-task cgroup, created and limited before anything of the task exists.
  if (cgroups != nullptr && cgroups->no_cgroup_reason.empty()) {
    cgroup::Limits cl;
    if (lim.memory_bytes) cl.memory_bytes = lim.memory_bytes;
    // On v1 the outer shim sits in the task's pids cgroup too (see Spawn below): one more.
    t->shim_in_v1_pids_ = cgroups->Of(cgroup::Controller::kPids).where == cgroup::Where::kV1;
    if (lim.pids) cl.pids = lim.pids + (t->shim_in_v1_pids_ ? 1 : 0);
    auto cg = cgroup::TaskCgroup::Create(*cgroups, "task-" + t->id_, cl);
    if (!cg) return Wrap(cg.error(), "create the task's cgroup");
    t->cgroup_.emplace(std::move(*cg));
    t->timing_.cgroup = sys::MonotonicNs();
    t->cgroup_mode_ = std::string(cgroup::ModeName(cgroups->mode));
  } else {
    t->cgroup_mode_ = cgroups ? "none: " + cgroups->no_cgroup_reason : "none: cgroups not used by this supervisor";
    // Without a cgroup the limits fall back to per-process rlimits (docs/policy.md).
    s.rlimit_nproc = lim.pids;
    s.rlimit_as = lim.memory_bytes;
  }
  if (lim.max_cpu_ms) s.rlimit_cpu_s = (lim.max_cpu_ms + 999) / 1000 + (t->cgroup_ ? 1 : 0);
  s.rlimit_nofile = lim.nofile;
  t->cpu_budget_usec_ = lim.max_cpu_ms * 1000;
  if (t->cgroup_ && t->cgroup_->V2DirFd() >= 0) s.flags |= proto::kFlagCgroupFd;
  return t;
}

// The sandbox's shape: its filesystem (policy mounts, /dev/tty, mounted bindings) and the test hook.
Result<void> Task::BuildSandbox(const TaskRequest& shape) {
  proto::LaunchSpec& s = spec_;
  if (shape.tty) s.flags |= proto::kFlagDevTty;
  s.fail_at_step = shape.fail_at_step;
  if (shape.bindings) {
    for (size_t i = 0; i < shape.bindings->size(); ++i) {
      const OpenBinding& ob = (*shape.bindings)[i];
      if (!ob.mounted) continue;
      proto::BindEntry be;
      be.fd_index = static_cast<uint32_t>(i);
      const bool dir = ob.binding.kind == Binding::Kind::kDir || ob.binding.kind == Binding::Kind::kState;
      be.flags = proto::kBindMount | (dir ? proto::kBindDir : 0) |
                 (ob.binding.writable || ob.binding.kind == Binding::Kind::kState ? proto::kBindWritable : 0);
      be.dev = ob.dev;
      be.ino = ob.ino;
      be.source = ob.host_path;
      be.target = ob.binding.target;
      s.binds.push_back(std::move(be));
    }
    if (shape.bindings->size() + 6 > static_cast<size_t>(proto::kMaxFdsPerLaunch))
      return FailMsg("too many bindings (" + std::to_string(shape.bindings->size()) + ")", "at most 240 per task");
    s.bound_fds = static_cast<uint32_t>(shape.bindings->size());
  }
  RootfsOptions ro;
  ro.task_uid = s.task_uid;
  ro.task_gid = s.task_gid;
  ro.hostname = s.hostname;
  CORDON_ASSIGN_OR_RETURN(s.mounts, BuildRootfs(*policy_, ro));
  return {};
}

// The task's own part: argv, environment, cwd, and its stdin/stdout/stderr (the caller's fds, or
// the pipes of the output pump when limits.output_bytes is set). Returns the three fds to pass;
// `keep` holds the pipes' write ends until they are sent.
Result<std::array<int, 3>> Task::BuildTaskPart(const TaskRequest& req, std::array<UniqueFd, 2>* keep) {
  proto::LaunchSpec& s = spec_;
  s.cwd = req.cwd.empty() ? "/work" : req.cwd;
  s.argv = req.argv;
  s.envp = BuildEnv(*policy_, req);
  // The task's stdio comes from the caller. A directory there would be a way out of the sandbox
  // (".." from a host directory fd walks the host's tree), so stdio must not be one.
  for (auto [fd, name] : {std::pair<int, const char*>{req.stdin_fd, "stdin"}, {req.stdout_fd, "stdout"},
                          {req.stderr_fd, "stderr"}}) {
    struct stat st;
    if (::fstat(fd, &st) < 0) return Fail(errno, std::string("the task's ") + name + " (fd " + std::to_string(fd) + ")",
                                          "give the task open stdin, stdout and stderr");
    if (S_ISDIR(st.st_mode))
      return FailMsg(std::string("the task's ") + name + " is a directory; a directory is handed over only as a binding",
                     "redirect it from a file, a pipe or /dev/null");
  }
  // With an output budget the task writes into pipes we read and forward, counting; otherwise its
  // stdout/stderr are the caller's fds themselves and nothing is copied.
  if (!policy_->limits.output_bytes) return std::array<int, 3>{req.stdin_fd, req.stdout_fd, req.stderr_fd};
  const int dests[2] = {req.stdout_fd, req.stderr_fd};
  for (int i = 0; i < 2; ++i) {
    int p[2];
    if (::pipe2(p, O_CLOEXEC) < 0) return Fail(errno, i == 0 ? "pipe for stdout" : "pipe for stderr");
    pumps_[i].read_end.Reset(p[0]);
    (*keep)[static_cast<size_t>(i)].Reset(p[1]);
    pumps_[i].dest = dests[i];
    ::fcntl(p[0], F_SETFL, O_NONBLOCK);
  }
  return std::array<int, 3>{req.stdin_fd, (*keep)[0].Get(), (*keep)[1].Get()};
}

// Spawns the shim and sends it the launch message: spec, BPF, `head` (stdio when cold, the start
// socket when pooled), the bound fds and the v2 cgroup.
Result<void> Task::Spawn(const RuntimePaths& rt, const std::vector<int>& head) {
  CORDON_ASSIGN_OR_RETURN(UniqueFd spec_fd, SealedMemfd("cordon-spec", proto::EncodeLaunchSpec(spec_)));
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) return Fail(errno, "socketpair");
  ctrl_.Reset(sp[0]);
  UniqueFd child_end(sp[1]);
  CORDON_ASSIGN_OR_RETURN(auto spawned, SpawnShim(rt.shim, child_end.Get()));
  shim_pid_ = spawned.first;
  pidfd_ = std::move(spawned.second);
  child_end.Reset();
  timing_.spawned = sys::MonotonicNs();
  auto abandon = [&](const Error& e, const std::string& what) {
    sys::PidfdSendSignal(pidfd_.Get(), SIGKILL);
    ::waitpid(shim_pid_, nullptr, 0);
    reaped_ = true;
    return Wrap(e, what);
  };
  // v1 hierarchies have no CLONE_INTO_CGROUP: place the outer shim in them now, before it gets the
  // launch message and so before it clones anything; PID 1 and the task inherit the placement.
  if (cgroup_) {
    if (auto a = cgroup_->AttachPid(shim_pid_, cgroup::V2Entry::kEnteredViaClone); !a)
      return abandon(a.error(), "place the shim in the task's v1 cgroups");
  }
  proto::MsgHeader hdr{proto::kMagic, proto::MsgType::kLaunch};
  std::vector<int> fds = {spec_fd.Get(), filter_->memfd.Get()};
  fds.insert(fds.end(), head.begin(), head.end());
  if (req_.bindings)
    for (const OpenBinding& ob : *req_.bindings) fds.push_back(ob.fd.Get());
  if (spec_.flags & proto::kFlagCgroupFd) fds.push_back(cgroup_->V2DirFd());
  if (auto sent = SendMsg(ctrl_.Get(), &hdr, sizeof hdr, fds.data(), fds.size()); !sent)
    return abandon(sent.error(), "send launch message to the shim");
  ::fcntl(ctrl_.Get(), F_SETFL, O_NONBLOCK);
  return {};
}

// The task's clocks start: wall-clock limit and CPU budget checks count from `from`.
void Task::StartClocks(uint64_t from) {
  if (policy_->limits.max_wall_ms) wall_deadline_ns_ = from + policy_->limits.max_wall_ms * 1000000ull;
  if (cpu_budget_usec_ && cgroup_) cpu_check_ns_ = from + 5'000'000ull;
}

Result<std::unique_ptr<Task>> Task::Start(const RuntimePaths& rt, std::shared_ptr<const Policy> policy,
                                          std::shared_ptr<const SeccompFilter> filter, TaskIdentity identity,
                                          const TaskRequest& req, uint64_t received_ns,
                                          const cgroup::Layout* cgroups) {
  const uint64_t admitted = sys::MonotonicNs();
  CORDON_ASSIGN_OR_RETURN(auto t, Create(std::move(policy), std::move(filter), std::move(identity), cgroups));
  t->timing_.received = received_ns;
  t->timing_.admitted = admitted;
  t->req_ = req;
  CORDON_TRY(t->BuildSandbox(req));
  std::array<UniqueFd, 2> pipes;
  CORDON_ASSIGN_OR_RETURN(auto stdio, t->BuildTaskPart(req, &pipes));
  CORDON_TRY(t->Spawn(rt, {stdio[0], stdio[1], stdio[2]}));
  t->StartClocks(t->timing_.spawned);
  return t;
}

Result<std::unique_ptr<Task>> Task::Prepare(const RuntimePaths& rt, std::shared_ptr<const Policy> policy,
                                            std::shared_ptr<const SeccompFilter> filter, TaskIdentity identity,
                                            const TaskRequest& shape, const cgroup::Layout* cgroups) {
  const uint64_t prepared = sys::MonotonicNs();
  CORDON_ASSIGN_OR_RETURN(auto t, Create(std::move(policy), std::move(filter), std::move(identity), cgroups));
  t->pooled_ = true;
  t->timing_.prepared = prepared;
  t->req_.bindings = shape.bindings;
  t->req_.tty = shape.tty;
  t->req_.fail_at_step = shape.fail_at_step;
  CORDON_TRY(t->BuildSandbox(shape));
  t->spec_.flags |= proto::kFlagPooled;
  int sp[2];
  if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) return Fail(errno, "socketpair");
  t->start_.Reset(sp[0]);
  UniqueFd peer(sp[1]);
  CORDON_TRY(t->Spawn(rt, {peer.Get()}));
  return t;
}

Result<void> Task::Launch(const TaskRequest& req, uint64_t received_ns, bool hold_exec) {
  if (!pooled_ || !ready_ || !start_)
    return FailMsg("task " + id_ + " is not a pooled sandbox waiting for its task", "take a ready one from the pool");
  timing_.received = received_ns;
  timing_.admitted = sys::MonotonicNs();
  // The sandbox's shape stays what it was built with; the request brings the rest.
  auto bindings = req_.bindings;
  const bool tty = req_.tty;
  const uint32_t hook = req_.fail_at_step;
  req_ = req;
  req_.bindings = std::move(bindings);
  req_.tty = tty;
  req_.fail_at_step = hook;
  std::array<UniqueFd, 2> pipes;
  // One task per sandbox: the socket goes with this call, or with ReleaseExec() when held.
  UniqueFd start = std::move(start_);
  launched_ = true;
  CORDON_ASSIGN_OR_RETURN(auto stdio, BuildTaskPart(req_, &pipes));
  proto::TaskPart part{spec_.cwd, spec_.argv, spec_.envp};
  const std::string encoded = proto::EncodeTaskPart(part);
  proto::MsgHeader hdr{proto::kMagic, hold_exec ? proto::MsgType::kStartHold : proto::MsgType::kStart};
  std::string msg(reinterpret_cast<const char*>(&hdr), sizeof hdr);
  std::vector<int> fds = {stdio[0], stdio[1], stdio[2]};
  UniqueFd part_fd;
  if (encoded.size() <= proto::kMaxInlineTaskPart) {
    msg += encoded;  // the common case: no memfd to create, seal and read
  } else {
    CORDON_ASSIGN_OR_RETURN(part_fd, SealedMemfd("cordon-task", encoded));
    fds.push_back(part_fd.Get());
  }
  if (auto sent = SendMsg(start.Get(), msg.data(), msg.size(), fds.data(), fds.size()); !sent)
    return Wrap(sent.error(), "send the task to its pooled sandbox");
  if (hold_exec) held_ = std::move(start);
  StartClocks(timing_.admitted);
  return {};
}

Result<void> Task::ReleaseExec() {
  if (!held_) return FailMsg("task " + id_ + " is not held before its exec", "call Launch with hold_exec");
  UniqueFd go = std::move(held_);
  proto::MsgHeader hdr{proto::kMagic, proto::MsgType::kGo};
  return SendMsg(go.Get(), &hdr, sizeof hdr, nullptr, 0);
}

std::optional<uint64_t> Task::MemoryBytes() const {
  if (!cgroup_) return std::nullopt;
  auto u = cgroup_->ReadUsage(cgroup::TaskCgroup::Psi::kSkip);
  if (!u) return std::nullopt;
  return u->memory_current_bytes.value;
}

Task::~Task() {
  if (pidfd_ && !reaped_) {
    if (!finished_ || cgroup_) {
      // Unfinished, or a cgroup still to remove: nothing of the task may survive us.
      if (cgroup_) (void)cgroup_->Kill();
      sys::PidfdSendSignal(pidfd_.Get(), SIGKILL);
      ::waitpid(shim_pid_, nullptr, 0);
    } else {
      // Finished, the sandbox is gone, the shim is on its way out: reap it if it is done already,
      // otherwise leave it to our parent-of-last-resort (it holds nothing of the task).
      siginfo_t si{};
      ::waitid(P_PIDFD, static_cast<id_t>(pidfd_.Get()), &si, WEXITED | WNOHANG);
    }
  }
  if (cgroup_) (void)cgroup_->Remove();
}

void Task::Finish() {
  if (finished_) return;
  // Every process of the sandbox is gone, so no one writes the pipes any more: forward what is
  // left in them, then read the cgroup's final figures.
  PumpOutput(0, true);
  PumpOutput(1, true);
  if (proxy_) {
    // The sandbox is gone: close what it left open, keeping the records of those connections.
    proxy_->CloseAll();
    egress_ = proxy_->TakeRecords();
    egress_calls_ = proxy_->calls();
    egress_dropped_ = proxy_->dropped_records();
    proxy_.reset();
  }
  if (cgroup_) {
    auto u = cgroup_->ReadUsage();
    if (u) cgroup_usage_ = std::move(*u);
    // On v1 the outer shim shares the task's pids cgroup (it was placed there so PID 1 would be
    // born inside): report the sandbox's own processes.
    if (cgroup_usage_ && shim_in_v1_pids_) {
      cgroup::Figure& peak = cgroup_usage_->pids_peak;
      if (peak.value && *peak.value > 0) {
        *peak.value -= 1;
        peak.source += " (minus the outer shim, which shares the v1 cgroup)";
      }
    }
  }
  if (req_.bindings) {
    for (const auto& b : *req_.bindings)
      state_bytes_after_.push_back(b.binding.kind == Binding::Kind::kState ? DirectoryBytes(b.host_path) : 0);
  }
  timing_.done = sys::MonotonicNs();
  Settle();
  finished_ = true;
}

std::vector<int> Task::Watches() const {
  std::vector<int> w;
  if (ctrl_) w.push_back(ctrl_.Get());
  if (pidfd_ && !reaped_) w.push_back(pidfd_.Get());
  if (listener_) w.push_back(listener_.Get());
  if (proxy_) w.push_back(proxy_->fd());
  for (const auto& p : pumps_)
    if (p.read_end && p.pending.empty()) w.push_back(p.read_end.Get());
  return w;
}

void Task::OnReady(int fd) {
  if (fd < 0) return;
  if (listener_ && fd == listener_.Get()) {
    OnListenerReadable();
  } else if (proxy_ && fd == proxy_->fd()) {
    proxy_->OnReadable();
  } else if (ctrl_ && fd == ctrl_.Get()) {
    if (!OnControlReadable()) ctrl_.Reset();
  } else if (pidfd_ && fd == pidfd_.Get()) {
    OnShimExited();
  } else {
    for (int i = 0; i < 2; ++i)
      if (pumps_[i].read_end && fd == pumps_[i].read_end.Get()) PumpOutput(i, false);
  }
}

uint64_t Task::NextDeadlineNs() const {
  uint64_t next = 0;
  const uint64_t proxy = proxy_ ? proxy_->NextDeadlineNs() : 0;
  for (uint64_t d : {finished_ ? 0 : wall_deadline_ns_, finished_ ? 0 : cpu_check_ns_, reaped_ ? 0 : kill_grace_ns_, proxy,
                     pumps_[0].retry_ns, pumps_[1].retry_ns})
    if (d && (next == 0 || d < next)) next = d;
  return next;
}

void Task::OnDeadline(uint64_t now) {
  if (kill_grace_ns_ && now >= kill_grace_ns_ && !reaped_) {
    // PID 1 did not go within the grace period: kill the shim; PDEATHSIG takes the rest.
    sys::PidfdSendSignal(pidfd_.Get(), SIGKILL);
    kill_grace_ns_ = 0;
  }
  if (proxy_ && proxy_->NextDeadlineNs() && now >= proxy_->NextDeadlineNs()) proxy_->OnTimer();
  for (int i = 0; i < 2; ++i)
    if (pumps_[i].retry_ns && now >= pumps_[i].retry_ns) PumpOutput(i, false);
  if (finished_) return;
  if (wall_deadline_ns_ && now >= wall_deadline_ns_) {
    wall_deadline_ns_ = 0;
    Kill(FailureClass::kWallTimeout, "wall-clock limit of " + std::to_string(policy_->limits.max_wall_ms) +
                                         " ms reached (policy limits.max_wall_ms); the sandbox was killed");
  }
  if (cpu_check_ns_ && now >= cpu_check_ns_) CheckCpuBudget(now);
}

// The budget is CPU time of the whole sandbox. It cannot be spent faster than one second per
// second per CPU, so the next check is when the rest could be gone at the earliest: cheap for long
// tasks, prompt near the end.
void Task::CheckCpuBudget(uint64_t now) {
  cpu_check_ns_ = 0;
  if (!cgroup_ || killed_) return;
  auto u = cgroup_->ReadUsage(cgroup::TaskCgroup::Psi::kSkip);
  if (!u || !u->cpu_user_usec.value || !u->cpu_system_usec.value) return;
  uint64_t used = *u->cpu_user_usec.value + *u->cpu_system_usec.value;
  if (used >= cpu_budget_usec_) {
    Kill(FailureClass::kCpuBudget, "CPU budget of " + std::to_string(policy_->limits.max_cpu_ms) +
                                       " ms spent (policy limits.max_cpu_ms); the sandbox was killed");
    return;
  }
  long ncpu = ::sysconf(_SC_NPROCESSORS_ONLN);
  uint64_t wait_ns = (cpu_budget_usec_ - used) * 1000 / static_cast<uint64_t>(ncpu > 0 ? ncpu : 1);
  cpu_check_ns_ = now + std::clamp<uint64_t>(wait_ns, 2'000'000ull, 1'000'000'000ull);
}

namespace {

// Writes as much as the caller's fd takes now, without blocking and without touching its flags
// (O_NONBLOCK would change the caller's own open file description): RWF_NOWAIT where the kernel
// supports it for this file (pipes and sockets), otherwise a zero-timeout poll first. Returns the
// bytes written; -1 when the reader is gone.
ssize_t WriteNoWait(int fd, const char* data, size_t len) {
  iovec iov{const_cast<char*>(data), len};
  ssize_t w = ::pwritev2(fd, &iov, 1, -1, RWF_NOWAIT);
  if (w >= 0) return w;
  if (errno == EAGAIN || errno == EINTR) return 0;
  if (errno != EOPNOTSUPP && errno != EINVAL && errno != ESPIPE) return -1;
  pollfd p{fd, POLLOUT, 0};
  if (::poll(&p, 1, 0) <= 0 || !(p.revents & POLLOUT)) return 0;
  w = ::write(fd, data, len);
  if (w < 0) return (errno == EAGAIN || errno == EINTR) ? 0 : -1;
  return w;
}

constexpr uint64_t kPumpRetryNs = 10'000'000ull;  // a slow reader is tried again every 10 ms

}  // namespace

// Forwards the task's output to the caller's fd, counting it against limits.output_bytes. Never
// blocks the supervisor's loop on a caller that stopped reading: what the caller's fd does not
// take stays in `pending`, the task's pipe is not read meanwhile (so the task blocks on its own
// write: backpressure), and the rest is retried on a deadline.
void Task::PumpOutput(int which, bool drain) {
  Pump& p = pumps_[which];
  const uint64_t budget = policy_->limits.output_bytes;
  const uint64_t patience = req_.output_drain_ms ? uint64_t{req_.output_drain_ms} * 1000000ull : 0;
  const uint64_t give_up = drain && patience ? sys::MonotonicNs() + patience : UINT64_MAX;
  auto flush = [&]() {
    while (!p.pending.empty()) {
      ssize_t w = WriteNoWait(p.dest, p.pending.data(), p.pending.size());
      if (w < 0) {
        p.pending.clear();  // the caller is gone: the bytes are dropped, the count stands
        return true;
      }
      p.pending.erase(0, static_cast<size_t>(w));
      if (w == 0) {
        if (!drain || sys::MonotonicNs() >= give_up) {
          p.retry_ns = sys::MonotonicNs() + kPumpRetryNs;
          if (drain) p.pending.clear();  // the task is gone and the caller does not read: give up
          return false;
        }
        pollfd pf{p.dest, POLLOUT, 0};
        ::poll(&pf, 1, 100);
      }
    }
    p.retry_ns = 0;
    return true;
  };
  if (!flush()) return;
  char buf[65536];
  while (p.read_end) {
    ssize_t n = ::read(p.read_end.Get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && !drain) return;
    if (n <= 0) {
      p.read_end.Reset();  // EOF: every writer is gone
      break;
    }
    size_t keep = static_cast<size_t>(n);
    bool over = output_total_ + keep > budget;
    if (over) keep = static_cast<size_t>(budget - output_total_);
    output_total_ += keep;
    p.pending.append(buf, keep);
    if (over) {
      // Cut: close both pipes (further writes get EPIPE/SIGPIPE) and stop the task.
      pumps_[0].read_end.Reset();
      pumps_[1].read_end.Reset();
      if (!finished_)
        Kill(FailureClass::kOutputLimit, "output limit of " + std::to_string(budget) +
                                             " bytes reached (policy limits.output_bytes); output was cut and the task stopped");
    }
    if (!flush()) return;
  }
  flush();
}

void Task::HandleRecord(const void* buf, size_t len, std::vector<UniqueFd>* fds) {
  proto::MsgHeader hdr;
  if (len < sizeof hdr) return;
  std::memcpy(&hdr, buf, sizeof hdr);
  if (hdr.magic != proto::kMagic) return;
  switch (hdr.type) {
    case proto::MsgType::kExecOk: {
      if (len != sizeof(proto::ExecOkRecord)) return;
      proto::ExecOkRecord r;
      std::memcpy(&r, buf, sizeof r);
      exec_ok_ = true;
      timing_.ready = r.ready_ns;
      timing_.exec = r.exec_ns;
      timing_.steps.assign(r.marks, r.marks + std::min<uint32_t>(r.nmarks, proto::kMaxStepMarks));
      size_t next = 0;
      if (r.has_listener && next < fds->size()) listener_ = std::move((*fds)[next++]);
      if (r.has_proxy && next < fds->size()) {
        egress::Limits el;
        el.max_calls = policy_->limits.max_calls;
        auto p = egress::Proxy::Create(std::move((*fds)[next++]), policy_->outbound, el, egress::SystemResolver(),
                                       timing_.received);
        if (p) {
          proxy_ = std::move(*p);
        } else {
          Kill(FailureClass::kSetupFailed, "egress proxy could not start: " + p.error().Message());
        }
      }
      break;
    }
    case proto::MsgType::kReady: {
      if (len != sizeof(proto::ReadyRecord)) return;
      proto::ReadyRecord r;
      std::memcpy(&r, buf, sizeof r);
      ready_ = true;
      timing_.pool_ready = r.ready_ns;
      break;
    }
    case proto::MsgType::kError: {
      if (len != sizeof(proto::ErrorRecord) || outcome_.setup_error) return;
      proto::ErrorRecord r;
      std::memcpy(&r, buf, sizeof r);
      r.msg[sizeof r.msg - 1] = '\0';
      outcome_.setup_error = r;
      break;
    }
    case proto::MsgType::kExit: {
      if (len != sizeof(proto::ExitRecord)) return;
      proto::ExitRecord r;
      std::memcpy(&r, buf, sizeof r);
      exit_ = r;
      timing_.exit = r.exit_ns;
      Finish();
      break;
    }
    default:
      break;
  }
}

bool Task::OnControlReadable() {
  for (;;) {
    alignas(8) char buf[2048];
    auto got = RecvMsg(ctrl_.Get(), buf, sizeof buf, 2, MSG_DONTWAIT);  // listener, proxy socket
    if (!got) return got.error().err == EAGAIN;
    if (got->eof) return false;
    HandleRecord(buf, got->len, &got->fds);
  }
}

void Task::OnShimExited() {
  if (reaped_) return;
  siginfo_t si{};
  if (::waitid(P_PIDFD, static_cast<id_t>(pidfd_.Get()), &si, WEXITED) == 0)
    shim_status_ = si.si_code == CLD_EXITED ? (si.si_status << 8) : si.si_status;
  reaped_ = true;
  if (ctrl_ && !OnControlReadable()) ctrl_.Reset();
  Finish();
  // The shim (which sits in the v1 task cgroups) is gone: the cgroup can go now.
  if (cgroup_) {
    (void)cgroup_->Remove();
    cgroup_.reset();
  }
}

void Task::ForwardSignal(int signo) {
  proto::SignalRecord r;
  r.signo = signo;
  (void)SendMsg(ctrl_.Get(), &r, sizeof r, nullptr, 0);
}

void Task::Kill(FailureClass why, const std::string& message) {
  if (!killed_) {
    killed_ = why;
    kill_message_ = message;
  }
  // The whole sandbox at once where a cgroup holds it (cgroup.kill, or freeze+kill on v1); PID 1
  // then reaps the task and reports as usual. SIGKILL to PID 1 is the path without a cgroup.
  if (cgroup_) (void)cgroup_->Kill();
  ForwardSignal(SIGKILL);
  if (!kill_grace_ns_) kill_grace_ns_ = sys::MonotonicNs() + kKillGraceNs;
}

// What the cgroup (or, without one, the rlimits) says about how the task ended. Only refines an
// unsuccessful end: a task that exited 0 stays "none" whatever it brushed against.
void Task::ApplyCgroupOutcome() {
  TaskOutcome& o = outcome_;
  if (o.failure != FailureClass::kExitNonzero && o.failure != FailureClass::kSignaled) return;
  const PolicyLimits& lim = policy_->limits;
  if (cgroup_usage_) {
    const auto& u = *cgroup_usage_;
    if (u.oom_kills.value && *u.oom_kills.value > 0) {
      o.failure = FailureClass::kOom;
      o.message = "out of memory: the sandbox reached limits.memory_bytes (" + std::to_string(lim.memory_bytes) +
                  " bytes) and the kernel's OOM killer killed " + std::to_string(*u.oom_kills.value) + " process(es)";
      return;
    }
    if (lim.pids && u.pids_limit_hits.value && *u.pids_limit_hits.value > 0) {
      o.failure = FailureClass::kPidsLimit;
      o.message = "process limit reached: " + std::to_string(*u.pids_limit_hits.value) +
                  " fork(s) failed against limits.pids (" + std::to_string(lim.pids) + ")";
      return;
    }
  }
  if (lim.max_cpu_ms && (o.task_signal == SIGXCPU || (!cgroup_usage_ && o.task_signal == SIGKILL &&
                                                          exit_ && exit_->usage.ru_utime.tv_sec +
                                                                           exit_->usage.ru_stime.tv_sec >=
                                                                       static_cast<time_t>(lim.max_cpu_ms / 1000)))) {
    o.failure = FailureClass::kCpuBudget;
    o.message = "CPU budget of " + std::to_string(lim.max_cpu_ms) + " ms spent (RLIMIT_CPU backstop)";
  }
}

void Task::Settle() {
  TaskOutcome& o = outcome_;
  if (exit_ && exit_->task_reported) {
    int st = exit_->status;
    if (WIFEXITED(st)) {
      o.task_exit_code = WEXITSTATUS(st);
      o.exit_code = o.task_exit_code;
      o.failure = o.task_exit_code == 0 ? FailureClass::kNone : FailureClass::kExitNonzero;
    } else if (WIFSIGNALED(st)) {
      o.task_signal = WTERMSIG(st);
      o.exit_code = 128 + o.task_signal;
      o.failure = FailureClass::kSignaled;
      if (o.task_signal == SIGSYS) {
        // Kill rules come to the supervisor as notifications and are named there; a native SIGSYS
        // death is the filter's own architecture check (x32 or i386 syscalls) or a SCMP_ACT_TRAP.
        o.failure = FailureClass::kSeccompViolation;
        o.message = "the task was killed by SIGSYS: a syscall of a foreign ABI (x32 or i386 int 0x80), "
                    "which the seccomp filter kills, or a SCMP_ACT_TRAP rule it did not handle";
      }
    }
  }
  if (o.setup_error) {
    const proto::ErrorRecord& e = *o.setup_error;
    std::string detail = e.msg;
    if (e.err != 0) detail += std::string(": ") + std::strerror(e.err);
    if (e.step == SetupStep::kExec) {
      o.failure = FailureClass::kExecFailed;
      bool missing = e.err == ENOENT || e.err == ENOTDIR;
      o.exit_code = missing ? kExitNotFound : kExitNotExecutable;
      o.message = (missing ? "command not found: " : "command cannot be executed: ") + detail +
                  (missing ? " (the sandbox sees only /usr, /bin, /lib* and the policy's mounts; "
                             "give a path inside it or install the program on the host)"
                           : " (check the file's mode and that it is a binary or a script with a #! line)");
    } else {
      o.failure = FailureClass::kSetupFailed;
      o.exit_code = kExitCordonFailure;
      o.message = std::string("sandbox setup failed at step ") + SetupStepName(e.step) + ": " + detail;
      if (e.step == SetupStep::kClone && (e.err == EPERM || e.err == ENOSPC || e.err == EINVAL))
        o.message += " (this host does not permit new user namespaces here: check "
                     "sysctl user.max_user_namespaces and kernel.unprivileged_userns_clone, and any "
                     "AppArmor/SELinux userns restriction)";
      if (e.step == SetupStep::kChdir) o.message += " (--cwd must name a directory inside the sandbox)";
    }
  } else if (!exit_ || !exit_->task_reported) {
    if (!killed_) {
      o.failure = FailureClass::kSetupFailed;
      o.exit_code = kExitCordonFailure;
      char buf[160];
      snprintf(buf, sizeof buf, "the shim ended without a report (shim wait status %d, PID 1 status %d)",
               shim_status_, exit_ ? exit_->init_status : -1);
      o.message = std::string(buf) + "; run with the same policy again, and report a bug if it repeats";
    }
  }
  ApplyCgroupOutcome();
  if (seccomp_kill_ && !killed_) {
    o.failure = FailureClass::kSeccompViolation;
    o.message = "the task called " + seccomp_kill_->name + ", which seccomp profile " + filter_->name +
                " kills (" + seccomp_kill_->rule + "); the task was killed";
    if (o.task_signal == 0 && o.task_exit_code < 0) {
      o.task_signal = SIGKILL;
      o.exit_code = 128 + SIGKILL;
    }
  }
  if (killed_) {
    o.failure = *killed_;
    o.message = kill_message_;
    if (o.task_signal == 0 && o.task_exit_code < 0) {
      o.task_signal = SIGKILL;
      o.exit_code = 128 + SIGKILL;
    }
  }
}

}  // namespace cordon
